"""Place an address in a metropolis: postcode -> municipality (LAU) -> functional urban area -> metropolis.

Rules, first that decides (recorded as assigned_by / assigned_from):
  postcode         the postcode is in a postcode list (shipped in reference/postcodes_<CC>.csv.gz, or a
                   user's, [geo] extra_postcodes): its municipality is in a metropolis or in none.  A postcode
                   of municipalities in and out of metropolises goes to the one the city names, else to the
                   one holding [geo] postcode_min_share of its weight (address points, else population), else
                   the next rule decides.  A lost leading zero ('1108' for LT 01108) is put back.
  postcode_prefix  a postcode the list lacks (PO boxes, large customers: PL 00-927, DE 20549): the listed
                   postcodes sharing its longest prefix (at least [geo] postcode_min_prefix characters, shared
                   by at least postcode_prefix_min_codes listed postcodes), if they all lie in the same
                   metropolis, or all in none
  nuts3            its NUTS3 region (any revision, recoded through the NUTS history to the LAU table's NUTS
                   2016) lies wholly inside one metropolis' municipalities, or wholly outside every one;
                   a region partly inside decides nothing.  Configured nuts3 codes are taken as whole.
  lau / municipality / city_alias   the city names a municipality of the metropolis or a configured
                   spelling (as before: a LAU name must not contradict a known NUTS3 code)
A rule that disagrees with the one that decided (city says Berlin, postcode says Bonn) is kept in
`placement_conflicts`.  Everything is set-based SQL (warehouse/core/placement.sql), no Python per row.

The reference tables (postcode_lau, metropolis_laus, nuts3_placement, nuts_recode, postcode_prefixes) are
made by `load_reference`, from the LAU table ([paths] lau, plus [geo] extra_lau files on top) and the
postcode lists ([paths] postcodes, plus [geo] extra_postcodes on top).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import duckdb

from . import models
from .config import Config, ConfigError, resolve_path
from .db import quote


def norm_pc_sql(col: str, country: str) -> str:
    """The SQL form of normalise.norm_postcode: {col} normalised, a country prefix ({country}) dropped."""
    s = f"regexp_replace(upper(trim({col})), '^[A-Z]{{1,3}}(?:[ ]*[-–][ ]*|[ ]+)([0-9])', '\\1')"
    return (f"nullif(regexp_replace(CASE WHEN regexp_matches({s}, '^' || {country} || '[0-9]') "
            f"THEN ({s})[length({country}) + 1:] ELSE {s} END, '[^A-Z0-9]', '', 'g'), '')")


def geo_options(cfg: Config) -> dict:
    g = cfg.raw.get("geo", {})
    paths = cfg.raw.get("paths", {})
    base = cfg.project_dir
    return {
        "postcodes": resolve_path(paths.get("postcodes", "package:reference"), base),
        "extra_postcodes": [resolve_path(p, base) for p in g.get("extra_postcodes", [])],
        "extra_lau": [resolve_path(p, base) for p in g.get("extra_lau", [])],
        "min_prefix": int(g.get("postcode_min_prefix", 3)),
        "prefix_min_codes": int(g.get("postcode_prefix_min_codes", 3)),
        "min_share": float(g.get("postcode_min_share", 0.9)),
    }


def _read_user_csv(con, path: Path, need: tuple[str, ...], what: str) -> str:
    """A user's reference CSV as a SELECT; a clear one-line error naming the file when it is unusable."""
    if not path.exists():
        raise ConfigError(f"{what} file not found: {path}")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc})") from None
    missing = [c for c in need if c not in header]
    if missing:
        raise ConfigError(f"{path}: a {what} file needs the columns {', '.join(need)} (missing {', '.join(missing)})")
    return f"SELECT * FROM read_csv({quote(str(path))}, all_varchar=true, header=true)"


def load_lau(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """TEMP table lau: the shipped LAU table with the user's [geo] extra_lau rows on top (same country and
    lau_code: the user's row wins)."""
    opts = geo_options(cfg)
    con.execute(f"CREATE OR REPLACE TEMP TABLE lau AS SELECT * FROM read_csv({quote(str(cfg.lau))}, all_varchar=true, header=true)")
    for p in opts["extra_lau"]:
        sql = _read_user_csv(con, p, ("country", "lau_code", "code_2016", "fua_id"), "LAU")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE lau_extra AS {sql}")
            con.execute("DELETE FROM lau WHERE (country, lau_code) IN (SELECT country, lau_code FROM lau_extra)")
            con.execute("INSERT INTO lau BY NAME SELECT * FROM lau_extra")
        except duckdb.Error as exc:
            raise ConfigError(f"{p}: not a usable LAU table ({str(exc).splitlines()[0]})") from None
        con.execute("DROP TABLE lau_extra")


def load_reference(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """The placement's reference tables (see the module docstring; core/placement_reference.sql); needs TEMP
    tables lau and nuts_history and the tables metropolises and lau_ref (geo.build_geography makes them)."""
    from .normalise import norm_place

    opts = geo_options(cfg)
    # municipalities, ISO country codes, names folded like city_norm
    # (only where a postcode list or a metropolis is: the names serve the city-names-its-municipality check)
    src = opts["postcodes"]
    files = sorted(src.glob("postcodes_*.csv*")) if src.is_dir() else [src]
    wanted = {m.country for m in cfg.metropolises} | {f.name[10:12].upper() for f in files if f.name.startswith("postcodes_")}
    every = bool(opts["extra_postcodes"]) or not src.is_dir()  # a user's list may be of any country
    where = "" if every else f"WHERE iso_country(country) IN ({', '.join(repr(c) for c in sorted(wanted))})"
    rows = con.execute(f"SELECT DISTINCT iso_country(country), lau_code, lau_name_national, lau_name_latin FROM lau {where}").fetchall()
    names = [(c, code, norm_place(n)) for c, code, nat, lat in rows for n in {nat, lat} - {None}]
    con.execute("CREATE OR REPLACE TEMP TABLE lau_names (country VARCHAR, lau_code VARCHAR, name_norm VARCHAR)")
    _insert(con, "lau_names", names)
    # postcode lists: shipped, then the user's on top (a postcode the user lists is theirs alone)
    con.execute("""CREATE OR REPLACE TEMP TABLE postcode_raw (country VARCHAR, postcode VARCHAR, lau_code VARCHAR,
                   lau_name VARCHAR, weight DOUBLE, list VARCHAR)""")
    for f in files:
        con.execute(f"""INSERT INTO postcode_raw SELECT country, postcode, lau_code, lau_name, TRY_CAST(weight AS DOUBLE),
                        {quote(f.name)} FROM read_csv({quote(str(f))}, all_varchar=true, header=true)""")
    for p in opts["extra_postcodes"]:
        sql = _read_user_csv(con, p, ("country", "postcode", "lau_code"), "postcode")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE pc_extra AS {sql}")
            cols = {r[0] for r in con.execute("DESCRIBE pc_extra").fetchall()}
            name = "lau_name" if "lau_name" in cols else "NULL"
            weight = "TRY_CAST(weight AS DOUBLE)" if "weight" in cols else "NULL"
            con.execute(f"""CREATE OR REPLACE TEMP TABLE pc_extra AS
                SELECT upper(country) AS country, {norm_pc_sql('postcode', 'upper(country)')} AS postcode, lau_code,
                       {name} AS lau_name, {weight} AS weight FROM pc_extra WHERE postcode IS NOT NULL""")
        except duckdb.Error as exc:
            raise ConfigError(f"{p}: not a usable postcode list ({str(exc).splitlines()[0]})") from None
        con.execute("DELETE FROM postcode_raw WHERE (country, postcode) IN (SELECT country, postcode FROM pc_extra)")
        con.execute(f"""INSERT INTO postcode_raw SELECT e.country, e.postcode, e.lau_code, coalesce(e.lau_name, l.lau_name),
                        coalesce(e.weight, l.population, 1), {quote(p.name)}
                        FROM pc_extra e LEFT JOIN lau_ref l ON l.country = e.country AND l.lau_code = e.lau_code""")
        con.execute("DROP TABLE pc_extra")
    # the lists' municipality names too (Norway's are in no LAU table)
    listed = con.execute("SELECT DISTINCT country, lau_code, lau_name FROM postcode_raw WHERE lau_name IS NOT NULL").fetchall()
    _insert(con, "lau_names", [(c, code, norm_place(n)) for c, code, n in listed if norm_place(n)])
    # each metropolis' configured municipalities (core/placement_reference.sql adds those of its FUA)
    ml = []
    for m in cfg.metropolises:
        for code in m.laus:
            ml.append((m.id, m.country, code, "config"))
        for code in m.nuts3:
            ml.append((m.id, m.country, code, "nuts3"))
        for n in m.municipalities:
            ml.append((m.id, m.country, norm_place(n), "municipality_name"))
    con.execute("CREATE OR REPLACE TEMP TABLE metro_cfg (metropolis_id VARCHAR, country VARCHAR, value VARCHAR, kind VARCHAR)")
    _insert(con, "metro_cfg", ml)
    for key in ("min_share", "min_prefix", "prefix_min_codes"):
        con.execute(f"SET VARIABLE postcode_{key} = ?", [opts[key]])
    models.run(con, "core/placement_reference.sql")
    dup = con.execute("""SELECT country, lau_code, list(metropolis_id) FROM (SELECT DISTINCT metropolis_id, country, lau_code
                         FROM metropolis_laus) GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 3""").fetchall()
    if dup:
        raise ConfigError(f"municipalities claimed by more than one metropolis: {dup}")
    for t in ("lau_names", "metro_cfg", "postcode_raw"):
        con.execute(f"DROP TABLE {t}")


def _insert(con, table: str, rows: list[tuple]) -> None:
    from .geo import insert_rows

    insert_rows(con, table, rows)


def place(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> None:
    """TEMP table addresses (country, post_code, city_norm, nuts3, pc = the normalised postcode) ->
    address_metropolis, placement_conflicts."""
    models.run(con, "core/placement.sql", sql_dir)


def place_staged(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> None:
    """Place every distinct address of the staged participations and organisations."""
    con.execute(f"CREATE OR REPLACE TEMP MACRO norm_postcode(post_code, country) AS {norm_pc_sql('post_code', 'country')}")
    models.run(con, "staging/addresses.sql", sql_dir)
    place(con, sql_dir)
    models.run(con, "core/placement_conflicts.sql", sql_dir)  # how many participations each conflict touches


def held_out(project_id: str, organisation_id: str) -> bool:
    """The label set's fixed split: sha256 of 'project|organisation', even = held out."""
    return int(hashlib.sha256(f"{project_id}|{organisation_id}".encode()).hexdigest(), 16) % 2 == 0


DEFAULT_LABELS = "tests/fixtures/placement/labels.csv"
LABEL_COLUMNS = ("project_id", "organisation_id", "expected_metro", "country", "post_code", "city")


def evaluate(cfg: Config, labels: Path) -> dict[str, dict]:
    """Place every labelled address by the rules here; per half ('tuning', 'heldout', or whatever the file's
    `split` column names, e.g. 'heldout2'; only halves with rows): rows, correct, false (placed in a
    metropolis other than the label's), missed (the label's metropolis, placed in none) and the wrong rows.
    The split is the file's `split` column, else held_out()."""
    from .geo import build_geography
    from .normalise import country_code, norm_place, nuts3
    from .warehouse import sql_dir

    try:
        with open(labels, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{labels}: cannot read the labels ({exc})") from None
    missing = [c for c in LABEL_COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise ConfigError(f"{labels}: a labels file needs the columns {', '.join(LABEL_COLUMNS)}"
                          + (f" (missing {', '.join(missing)})" if missing else " and rows"))
    metros = {m.id for m in cfg.metropolises}
    unknown = sorted({r["expected_metro"] for r in rows if r["expected_metro"] and r["expected_metro"] not in metros})
    if unknown:
        raise ConfigError(f"{labels}: expected_metro names no configured metropolis: {', '.join(unknown[:5])}")
    con = duckdb.connect()
    build_geography(con, cfg)
    addr = [(i, country_code(r["country"]) or None, r["post_code"] or None, norm_place(r["city"]),
             nuts3(r.get("nuts_code") or r.get("nuts3") or "")) for i, r in enumerate(rows)]
    con.execute("CREATE TEMP TABLE labelled (i INTEGER, country VARCHAR, post_code VARCHAR, city_norm VARCHAR, nuts3 VARCHAR)")
    _insert(con, "labelled", addr)
    con.execute(f"""CREATE TEMP TABLE addresses AS SELECT *, {norm_pc_sql('post_code', 'country')} AS pc
                    FROM (SELECT DISTINCT country, post_code, city_norm, nuts3 FROM labelled)""")
    place(con, sql_dir(cfg))
    placed = dict(con.execute("""
        SELECT l.i, coalesce(a.metropolis_id, '') || '|' || coalesce(a.decided_by, '') FROM labelled l
        LEFT JOIN address_metropolis a ON a.country IS NOT DISTINCT FROM l.country
         AND a.post_code IS NOT DISTINCT FROM l.post_code AND a.city_norm IS NOT DISTINCT FROM l.city_norm
         AND a.nuts3 IS NOT DISTINCT FROM l.nuts3""").fetchall())
    out: dict[str, dict] = {}
    for i, r in enumerate(rows):
        half = r.get("split") or ("heldout" if held_out(r["project_id"], r["organisation_id"]) else "tuning")
        s = out.setdefault(half, {"rows": 0, "correct": 0, "false": 0, "missed": 0, "wrong": []})
        got, rule = placed.get(i, "|").split("|")
        want = r["expected_metro"] or ""
        s["rows"] += 1
        if got == want:
            s["correct"] += 1
            continue
        s["false" if got else "missed"] += 1
        s["wrong"].append({**r, "placed": got, "decided_by": rule})
    return out
