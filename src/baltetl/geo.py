"""Metropolis geography: NUTS3 regions and place names of each configured metropolis (the postcode and
municipality tables of the placement are placement.py's).

A metropolis is its Eurostat functional urban area (FUA): the FUA's municipalities (LAU) give place names,
and every NUTS3 region with at least `nuts3_min_population_share` of its population inside the FUA belongs
to it.  NUTS3 codes of other NUTS revisions follow from the NUTS history table; codes and names the tables
lack (NUTS 2024, Norway, Russia) come from the configuration.
"""

from __future__ import annotations

import json
from functools import lru_cache

import duckdb
import pandas as pd

from . import models
from .config import Config, package_path
from .db import quote
from .normalise import norm_place

NUTS_VERSIONS = ("1999", "2003", "2006", "2010", "2013", "2016", "2021")


@lru_cache(maxsize=1)
def reference_credits() -> tuple[dict, ...]:
    """The credits of the shipped reference files (reference/credits.json), files sharing a credit and licence
    together: {credit, licence, url, files, countries}; geography first, then the postcode lists.  Only files
    that are shipped count."""
    folder = package_path("reference")
    groups: dict[tuple, dict] = {}
    for name, c in json.loads((folder / "credits.json").read_text(encoding="utf-8")).items():
        if not (folder / name).is_file():
            continue
        key = (c["credit"], c["licence"], c["url"])
        g = groups.setdefault(key, {**dict(zip(("credit", "licence", "url"), key)), "files": [], "countries": []})
        g["files"].append(name)
        if c.get("country"):
            g["countries"].append(c["country"])
    return tuple(sorted(groups.values(), key=lambda g: (bool(g["countries"]), g["countries"][:1])))


def build_geography(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Create `metropolises`, `metropolis_nuts3` and `metropolis_places` in `con`."""
    from .placement import load_lau, load_reference

    load_lau(con, cfg)
    con.execute(
        f"CREATE TEMP TABLE nuts_history AS SELECT * FROM read_csv({quote(cfg.nuts_changes)}, all_varchar=true, header=true)"
        " WHERE typology = 'nuts_level_3'"
    )
    metro_rows, nuts_rows, place_rows = [], [], []
    share = cfg.nuts3_min_population_share
    fuas = sorted({m.fua for m in cfg.metropolises if m.fua})
    shares: dict[str, list[tuple[str, float]]] = {}
    laus: dict[str, list[tuple]] = {}
    pops: dict[str, tuple[int, int]] = {}
    history: dict[str, set[str]] = {}
    if fuas:
        con.execute("CREATE TEMP TABLE fuas AS SELECT unnest(?::VARCHAR[]) AS fua_id", [fuas])
        for fua, code, s in con.execute(
            """
            WITH f AS (SELECT fua_id, code_2016, sum(population::DOUBLE) p FROM lau JOIN fuas USING (fua_id) GROUP BY ALL),
                 n AS (SELECT code_2016, sum(population::DOUBLE) p FROM lau GROUP BY 1)
            SELECT f.fua_id, f.code_2016, f.p / n.p FROM f JOIN n USING (code_2016) ORDER BY 1, 2
            """
        ).fetchall():
            shares.setdefault(fua, []).append((code, s))
        for fua, nat, lat, code, nuts in con.execute(
            "SELECT fua_id, lau_name_national, lau_name_latin, lau_code, code_2016 FROM lau JOIN fuas USING (fua_id)"
        ).fetchall():
            laus.setdefault(fua, []).append((nat, lat, code, nuts))
        for fua, n, pop in con.execute(
            "SELECT fua_id, count(*), sum(population::DOUBLE)::BIGINT FROM lau JOIN fuas USING (fua_id) GROUP BY 1"
        ).fetchall():
            pops[fua] = (n, pop)
        cols = ", ".join(f"code_{v}" for v in NUTS_VERSIONS)
        for row in con.execute(f"SELECT {cols} FROM nuts_history WHERE code_2016 IS NOT NULL").fetchall():
            history.setdefault(row[NUTS_VERSIONS.index("2016")], set()).update(c for c in row if c and len(c) == 5)
        con.execute("DROP TABLE fuas")
    for m in cfg.metropolises:
        codes: dict[str, tuple[str, float | None]] = {}
        lau_count, pop = 0, None
        if m.fua:
            if m.fua not in shares:
                raise ValueError(f"metropolis {m.id}: FUA {m.fua} is not in the LAU table {cfg.lau}")
            for code, s in shares[m.fua]:
                if s >= share and code not in m.nuts3_exclude:
                    codes[code] = ("fua", round(s, 3))
            for code, (_, code_share) in list(codes.items()):
                # the same region under the codes of the other NUTS revisions
                for other in sorted(history.get(code, ())):
                    if other not in codes and other not in m.nuts3_exclude:
                        codes[other] = ("nuts_history", code_share)
            for name_nat, name_lat, lau_code, nuts in laus[m.fua]:
                nuts_codes = sorted({nuts} | history.get(nuts, set())) if nuts else None
                for name in {name_nat, name_lat} - {None}:
                    place_rows.append((m.id, m.country, norm_place(name), name, "lau", lau_code, nuts_codes))
            lau_count, pop = pops[m.fua]
        for code in m.nuts3:
            codes.setdefault(code, ("config", None))
        for code, (reason, s) in sorted(codes.items()):
            nuts_rows.append((m.id, code, reason, s))
        for name in m.municipalities:
            place_rows.append((m.id, m.country, norm_place(name), name, "municipality", None, None))
        for name in m.aliases:
            place_rows.append((m.id, m.country, norm_place(name), name, "alias", None, None))
        metro_rows.append((m.id, m.name, m.country, m.fua, lau_count, pop, sorted(codes)))
    models.run(con, "core/geography.sql")
    insert_rows(con, "metropolises", metro_rows)
    insert_rows(con, "metropolis_nuts3", nuts_rows)
    unique_places = {r[:6]: r for r in place_rows}.values()
    insert_rows(con, "metropolis_places", sorted(unique_places, key=str))
    dup = con.execute(
        "SELECT nuts3, list(metropolis_id) FROM metropolis_nuts3 GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    if dup:
        raise ValueError(f"NUTS3 codes claimed by more than one metropolis: {dup}")
    load_reference(con, cfg)
    con.execute("DROP TABLE lau")
    con.execute("DROP TABLE nuts_history")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Insert rows in one statement (executemany is a statement per row: slow on a database file)."""
    if not rows:
        return
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    frame = pd.DataFrame(rows, columns=cols, dtype=object)
    con.register("_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    finally:
        con.unregister("_rows")
