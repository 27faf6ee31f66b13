"""Check the reasons of the published top opportunities of some metropolises against the warehouse they were built in.

    python scripts/check_opportunity_reasons.py WAREHOUSE riga,helsinki,stockholm [N]

For the top N (default 10) opportunities of each metropolis: every count of common partners (and that each named
partner is one of them), each side's projects so far, in the last year and still running (at the ranking's
default date or today), every word "their projects are about" (in the titles, keywords or objectives of both
sides' projects), the coordinated projects and "no shared project yet".  Prints each false claim and a last line
claims true=... false=...  A claim of another kind is printed as UNCHECKED."""
import sys, re, duckdb, datetime as dt

from baltetl.opportunities import KNOWN_FROM as KNOWN  # when a project became known, as the ranking reads it

W, metros, N = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]) if len(sys.argv) > 3 else 10
c = duckdb.connect(W, read_only=True)
c.execute(f"""CREATE TEMP TABLE op AS SELECT DISTINCT os.golden_id, pa.project_key, bool_or(pa.role='coordinator') AS coord,
  any_value({KNOWN}) AS known_from, any_value(p.end_date) AS end_date,
  any_value(lower(concat_ws(' ', p.title, p.keywords, p.objective))) AS text
  FROM participations pa JOIN organisation_sources os USING (org_key)
  JOIN golden_organisations g ON g.golden_id = os.golden_id AND NOT coalesce(g.hidden, false)
  JOIN projects p ON p.project_key = pa.project_key AND NOT coalesce(p.hidden, false) GROUP BY ALL""")
name = dict(c.execute("select golden_id, name from golden_organisations").fetchall())
def projs(g): return {r[0]: r[1:] for r in c.execute("select project_key, coord, known_from, end_date, text from op where golden_id=?", [g]).fetchall()}
def partners(ps): 
    if not ps: return set()
    return {r[0] for r in c.execute("select distinct golden_id from op where project_key in (select unnest(?))", [list(ps)]).fetchall()}
ok = bad = 0
cuts = [dt.date(2025, 10, 1), dt.date.today()]
for m in metros:
    rows = c.execute("""select golden_a, golden_b, metro_a, metro_b, reasons from opportunities where ? in (metro_a, metro_b)
                        order by score desc, golden_a, golden_b limit ?""", [m, N]).fetchall()
    for a, b, ma, mb, reasons in rows:
        pa, pb = projs(a), projs(b)
        checks = []
        claims = [x.strip() for x in reasons.rstrip(".").split(";")]
        for cl in claims:
            if cl.startswith("no shared project"):
                checks.append((cl[:30], not (pa.keys() & pb.keys())))
            elif "common partners" in cl or "common partner:" in cl:
                n = int(cl.split()[0]); common = (partners(pa) & partners(pb)) - {a, b}
                named = [x.strip(" …") for x in cl.split(":", 1)[1].split(", ")] if ":" in cl else []
                cn = {name[g] for g in common}
                # a name with ', ' in it splits into pieces: each piece must be inside some common partner's name
                okn = all(any(x in nm for nm in cn) for x in named if x)
                checks.append((f"{n} common partners", n == len(common) and okn))
            elif cl.startswith("both active"):
                good = False
                for cut in cuts:
                    sides = {}
                    for g, ps, mm in ((a, pa, ma), (b, pb, mb)):
                        last = sum(1 for v in ps.values() if v[1] and v[1] >= cut - dt.timedelta(days=365))
                        run = sum(1 for v in ps.values() if v[2] and v[2] >= cut)
                        sides[mm] = (len(ps), last, run)
                    exp = all(re.search(fr"the {mm.capitalize() if mm != 'st_petersburg' else 'St Petersburg'} one {t[0]} projects? so far \({t[1]} in the last year(, {t[2]} still running)?\)", cl, re.I) for mm, t in sides.items())
                    good = good or exp
                checks.append(("both active", good))
            elif cl.startswith("their projects are about the same things"):
                words = [w.strip() for w in cl.split(":", 1)[1].split(",")]
                checks.append(("same things", all(any(re.search(fr"\b{re.escape(w)}\b", v[3] or "") for v in ps.values()) for w in words for ps in (pa, pb))))
            elif cl.startswith("coordinated"):
                nums = [int(x) for x in re.findall(r"one (\d+)", cl)]
                exp = sorted([sum(v[0] for v in pa.values()), sum(v[0] for v in pb.values())])
                checks.append(("coordinated", sorted(nums) == exp if len(nums) == 2 else nums[0] in exp))
            else:
                checks.append(("UNCHECKED " + cl[:40], None))
        for what, good in checks:
            if good is True: ok += 1
            elif good is False: bad += 1; print("FALSE", m, name[a], "|", name[b], "|", what)
            else: print(what)
    print(m, "checked")
print(f"claims true={ok} false={bad}")
