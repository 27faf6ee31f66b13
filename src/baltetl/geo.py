"""Metropolis geography: NUTS3 regions and place names of each configured metropolis.

A metropolis is its Eurostat functional urban area (FUA): the FUA's municipalities (LAU) give place names,
and every NUTS3 region with at least `nuts3_min_population_share` of its population inside the FUA belongs
to it.  NUTS3 codes of other NUTS revisions follow from the NUTS history table; codes and names the tables
lack (NUTS 2024, Norway, Russia) come from the configuration.
"""

from __future__ import annotations

import re
from functools import lru_cache

import duckdb
from anyascii import anyascii

from .config import Config

_PUNCT = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
NUTS_VERSIONS = ("1999", "2003", "2006", "2010", "2013", "2016", "2021")


@lru_cache(maxsize=200_000)
def norm_place(value: str | None) -> str | None:
    """Upper-case ASCII form of a place name: 'København Ø' -> 'KOBENHAVN O', 'Berlin, Stadt' -> 'BERLIN'."""
    if value is None:
        return None
    s = anyascii(value).upper()
    s = s.split(",")[0]  # German LAU names: 'Berlin, Stadt', 'Hamburg, Freie und Hansestadt'
    s = _SPACES.sub(" ", _PUNCT.sub(" ", s)).strip()
    return s or None


def build_geography(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Create `metropolises`, `metropolis_nuts3` and `metropolis_places` in `con`."""
    con.execute(
        f"CREATE TEMP TABLE lau AS SELECT * FROM read_csv('{cfg.lau}', all_varchar=true, header=true)"
    )
    con.execute(
        f"CREATE TEMP TABLE nuts_history AS SELECT * FROM read_csv('{cfg.nuts_changes}', all_varchar=true, header=true)"
        " WHERE typology = 'nuts_level_3'"
    )
    metro_rows, nuts_rows, place_rows = [], [], []
    share = cfg.nuts3_min_population_share
    for m in cfg.metropolises:
        pop, lau_count = None, 0
        codes: dict[str, tuple[str, float | None]] = {}
        if m.fua:
            shares = con.execute(
                """
                WITH f AS (SELECT code_2016, sum(population::DOUBLE) p FROM lau WHERE fua_id = ? GROUP BY 1),
                     n AS (SELECT code_2016, sum(population::DOUBLE) p FROM lau GROUP BY 1)
                SELECT f.code_2016, f.p / n.p FROM f JOIN n USING (code_2016) ORDER BY 1
                """,
                [m.fua],
            ).fetchall()
            if not shares:
                raise ValueError(f"metropolis {m.id}: FUA {m.fua} is not in the LAU table {cfg.lau}")
            for code, s in shares:
                if s >= share and code not in m.nuts3_exclude:
                    codes[code] = ("fua", round(s, 3))
            for code, (_, code_share) in list(codes.items()):
                # the same region under the codes of the other NUTS revisions
                cols = ", ".join(f"code_{v}" for v in NUTS_VERSIONS)
                for row in con.execute(f"SELECT {cols} FROM nuts_history WHERE code_2016 = ?", [code]).fetchall():
                    for other in row:
                        if other and len(other) == 5 and other not in codes and other not in m.nuts3_exclude:
                            codes[other] = ("nuts_history", code_share)
            for name_nat, name_lat, lau_code in con.execute(
                "SELECT lau_name_national, lau_name_latin, lau_code FROM lau WHERE fua_id = ?", [m.fua]
            ).fetchall():
                lau_count += 1
                for name in {name_nat, name_lat} - {None}:
                    place_rows.append((m.id, m.country, norm_place(name), name, "lau", lau_code))
            pop = con.execute("SELECT sum(population::DOUBLE)::BIGINT FROM lau WHERE fua_id = ?", [m.fua]).fetchone()[0]
        for code in m.nuts3:
            codes.setdefault(code, ("config", None))
        for code, (reason, s) in sorted(codes.items()):
            nuts_rows.append((m.id, code, reason, s))
        for name in m.municipalities:
            place_rows.append((m.id, m.country, norm_place(name), name, "municipality", None))
        for name in m.aliases:
            place_rows.append((m.id, m.country, norm_place(name), name, "alias", None))
        metro_rows.append((m.id, m.name, m.country, m.fua, lau_count, pop, sorted(codes)))
    con.execute(
        """CREATE OR REPLACE TABLE metropolises (metropolis_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
           country VARCHAR NOT NULL, fua_id VARCHAR, lau_count INTEGER, fua_population BIGINT, nuts3_codes VARCHAR[])"""
    )
    con.executemany("INSERT INTO metropolises VALUES (?, ?, ?, ?, ?, ?, ?)", metro_rows)
    con.execute(
        """CREATE OR REPLACE TABLE metropolis_nuts3 (metropolis_id VARCHAR NOT NULL, nuts3 VARCHAR NOT NULL,
           reason VARCHAR NOT NULL, fua_population_share DOUBLE, PRIMARY KEY (metropolis_id, nuts3))"""
    )
    con.executemany("INSERT INTO metropolis_nuts3 VALUES (?, ?, ?, ?)", nuts_rows)
    con.execute(
        """CREATE OR REPLACE TABLE metropolis_places (metropolis_id VARCHAR NOT NULL, country VARCHAR NOT NULL,
           name_norm VARCHAR NOT NULL, name VARCHAR NOT NULL, kind VARCHAR NOT NULL, lau_code VARCHAR)"""
    )
    con.executemany("INSERT INTO metropolis_places VALUES (?, ?, ?, ?, ?, ?)", sorted(set(place_rows), key=str))
    dup = con.execute(
        "SELECT nuts3, list(metropolis_id) FROM metropolis_nuts3 GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    if dup:
        raise ValueError(f"NUTS3 codes claimed by more than one metropolis: {dup}")
    con.execute("DROP TABLE lau")
    con.execute("DROP TABLE nuts_history")
