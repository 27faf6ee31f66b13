"""Make the bundled reference geography from ../shared/data/geo (real data, each credited in credits.json).

- lau2019_nuts2016_fua.csv.gz: Eurostat's LAU 2019 <-> NUTS 2016 <-> city/FUA table, every country it holds
- nuts_changes_1999-2021.csv: Eurostat's NUTS history, whole
- postcodes_<CC>.csv.gz: postcode -> municipality (LAU 2019 code; Norway: 2024 kommunenummer, not in the
  LAU table) with a weight (address points, or the municipality's population), from the lists whose
  licence lets us ship them (see LISTS).  Posti's (FI) and Posten's (NO) own files are not shipped; a
  user may layer them on top ([geo] extra_postcodes).
Run from the repository root:
    python scripts/make_reference.py [--geo ../shared/data/geo]
"""

import argparse
import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

import duckdb

from baltetl.normalise import norm_place, norm_postcode  # the installed package (pip install -e .)


GEONAMES = ("GeoNames postal code data (geonames.org), mirrored by symerio/postal-codes-data", "CC BY 4.0",
            "https://creativecommons.org/licenses/by/4.0/")
# country -> (file under postcodes/, reader, credit, licence, licence url)
LISTS = {
    "DE": ("DE/zuordnung_plz_ort.csv", "de_osm", "© OpenStreetMap contributors (suche-postleitzahl.org "
           "zuordnung_plz_ort.csv)", "ODbL 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "DK": ("DK/DK.txt", "geonames_admin2", *GEONAMES),
    "EE": ("EE/EE.txt", "geonames_admin2", *GEONAMES),
    "FI": ("FI/geonames_FI.txt", "geonames_admin3", *GEONAMES),
    "LT": ("LT/LT.txt", "geonames_admin2", *GEONAMES),
    "LV": ("LV/LV.txt", "geonames_lv", *GEONAMES),
    "NO": ("NO/geonames_NO.txt", "geonames_admin2", *GEONAMES),
    "PL": ("PL/*_ALL_PC_2180.dbf", "pl_prg", "GUGiK, Państwowy Rejestr Granic address points (dane.gov.pl), "
           "aggregated by GML22/PostCodesMaps", "MIT (aggregation), Polish public open data",
           "https://github.com/GML22/PostCodesMaps"),
    "SE": ("SE/geonames_SE.txt", "geonames_admin2", *GEONAMES),
}
EUROSTAT = ("© European Union, Eurostat (LAU 2019 / NUTS 2016 correspondence; NUTS history), as imported by "
            "rOpenGov/regions", "reuse authorised with acknowledgement of the source (Commission Decision "
            "2011/833/EU)", "https://ec.europa.eu/eurostat/about-us/policies/copyright")


def geonames(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def read_list(country: str, geo: Path, laus: dict) -> tuple[list[tuple], int]:
    """[(postcode, lau_code, lau_name, weight)] of one country's list, and the rows left out (no municipality)."""
    pattern, kind = LISTS[country][:2]
    codes, names = laus.get(country, ({}, {}))
    out, lost = [], 0

    def lau(code, *places):
        if code in codes:
            return code
        for p in places:
            hit = names.get(norm_place(p) or "")
            if hit and len(hit) == 1:
                return next(iter(hit))
        return None

    if kind == "de_osm":
        with open(geo / "postcodes" / pattern, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                code = lau(r["ags"], r["ort"])  # AGS changed after 2019 (mergers): the place's name in LAU 2019
                out.append((r["plz"], code, r["ort"], None)) if code else None
                lost += not code
    elif kind == "pl_prg":
        from dbfread import DBF

        for p in sorted((geo / "postcodes").glob(pattern)):
            for r in DBF(p, encoding="utf-8"):
                t = r["TERYT"]
                # LAU 2019 code: 13 digits whose 5-6, 10-11 and 12-13 are TERYT's first six
                cands = codes_by_teryt.get(t[:6], [])
                code = cands[0] if len(cands) == 1 else lau(None, r["Gmina"])
                out.append((r["Name"], code, r["Gmina"], float(r["PC_NUM"]))) if code else None
                lost += not code
    else:
        for r in geonames(geo / "postcodes" / pattern):
            r += [""] * (12 - len(r))
            if kind == "geonames_admin3":
                code, name = r[8], r[7]
            elif kind == "geonames_lv":
                # pagasts/novads ATVK code; LAU 2019 has the novads (first five digits + 00)
                c = r[6]
                same = [k for k in codes if c and k[:5] == c[:5]]
                code = c if c in codes else (same[0] if len(same) == 1 else None)
                code = code or lau(None, r[3], r[2])
                name = r[5] or r[3]
            else:
                code, name = r[6], r[5]
                if country == "EE" and code:
                    code = code.lstrip("0").zfill(3)
            if country != "NO" and kind != "geonames_lv":
                # no municipality code: the place's name, else the region's when it is one municipality (Gotland)
                code = lau(code, name.removesuffix(" kommun").removesuffix(" Kommune"), r[2], r[3])
                # a place named like a town of another municipality ('00101 Helsinki' filed under Pieksämäki):
                # the town's, when the place is a town (DEGURBA city) of that name
                town = names.get(norm_place(r[2]) or "")
                if town and len(town) == 1 and code not in town and next(iter(town)) in cities.get(country, ()):
                    fixed.append((country, r[1], r[2], code, next(iter(town))))
                    code = next(iter(town))
            out.append((r[1], code, name, None)) if code else None
            lost += not code
    return out, lost


codes_by_teryt: dict[str, list[str]] = {}
cities: dict[str, set[str]] = {}  # LAU codes of DEGURBA 1 (cities), per country
fixed: list[tuple] = []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--geo", default="../shared/data/geo")
    ap.add_argument("--out", default="src/baltetl/reference")
    a = ap.parse_args()
    geo, out = Path(a.geo), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE lau AS SELECT * FROM read_csv('{geo}/eurostat_lau2019_nuts2016_city_fua.csv.gz',"
        " all_varchar=true, header=true) ORDER BY gisco_id"
    )
    target = out / "lau2019_nuts2016_fua.csv.gz"
    tmp = out / "lau.csv"
    con.sql("SELECT * FROM lau").write_csv(str(tmp))
    with open(tmp, "rb") as f, gzip.GzipFile(target, "wb", mtime=0, compresslevel=9) as g:
        g.write(f.read())
    tmp.unlink()
    changes = con.sql(f"SELECT * FROM read_csv('{geo}/nuts_changes_1999-2021.csv', all_varchar=true, header=true)")
    changes.write_csv(str(out / "nuts_changes_1999-2021.csv"))

    laus: dict = defaultdict(lambda: ({}, defaultdict(set)))
    pops = {}
    for country, code, nat, lat, pop, degurba in con.execute(
        "SELECT country, lau_code, lau_name_national, lau_name_latin, population, degurba FROM lau"
    ).fetchall():
        if degurba in ("1", "1.0"):
            cities.setdefault(country, set()).add(code)
        codes, names = laus[country]
        codes[code] = nat
        pops[(country, code)] = float(pop or 0)
        for n in {nat, lat, (nat or "").split(",")[0]} - {None, ""}:
            names[norm_place(n)].add(code)
        if country == "PL" and len(code) == 13:
            codes_by_teryt.setdefault(code[4:6] + code[9:11] + code[11:13], []).append(code)
    credits = {"lau2019_nuts2016_fua.csv.gz": dict(zip(("credit", "licence", "url"), EUROSTAT)),
               "nuts_changes_1999-2021.csv": dict(zip(("credit", "licence", "url"), EUROSTAT))}
    for country in LISTS:
        rows, lost = read_list(country, geo, laus)
        seen: dict = {}
        for pc, code, name, w in rows:
            key = (norm_postcode(pc), code)
            if not key[0]:
                continue
            # weight: address points where the list has them, else the municipality's population
            weight = w if w is not None else pops.get((country, code), 1.0)
            if key in seen:
                seen[key][1] += w if w is not None else 0.0
            else:
                seen[key] = [name, weight]
        path = out / f"postcodes_{country}.csv.gz"
        with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as g:
            body = "country,postcode,lau_code,lau_name,weight\n" + "".join(
                f'{country},{pc},{code},"{name.replace(chr(34), "")}",{w:g}\n' for (pc, code), (name, w) in sorted(seen.items())
            )
            g.write(body.encode("utf-8"))
        file, _, credit, licence, url = LISTS[country]
        credits[path.name] = {"credit": credit, "licence": licence, "url": url, "country": country,
                              "source_file": f"geo/postcodes/{file}"}
        print(f"{country}: {len({k[0] for k in seen})} postcodes, {len(seen)} pairs, {lost} rows without a municipality")
    print(len(fixed), "GeoNames rows filed under another municipality than the town they name:", fixed[:8])
    (out / "credits.json").write_text(json.dumps(credits, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(target.stat().st_size, "bytes LAU;", changes.shape[0], "NUTS history rows")


if __name__ == "__main__":
    main()
