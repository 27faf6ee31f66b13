"""The country a record is matched in, when the record's own address says it is not the country it was given.

Resolution compares names only inside one country, so a record given the country of its project or programme
(keep.eu lists the Czech town of Český Těšín under PL for a Polish-Czech programme) never meets its
organisation.  `match_countries` sets such a record's matching country (`Rec.country`) from reference evidence
and keeps the stated one (`Rec.stated_country`) and the evidence in words (`Rec.country_evidence`); both go to
`organisation_sources`.  Two rules, conservative by design:

- **realm**: a self-governing territory of a Nordic state (reference/country_realms.csv: Greenland and the
  Faroes of Denmark, Åland of Finland, Svalbard of Norway) is matched in its state: the Technical University
  of Denmark's centre in Sisimiut is the university.  Not for a city administration (a territory's town is
  not a town of the state).
- **address**: the record's city is the name of municipalities of exactly one other country (LAU table and the
  shipped postcode lists), none of the stated country's municipality names has a word like it, and its postcode
  agrees: the postcode is not in the stated country's postcode list (when there is one) and it is in the
  other country's list at that municipality, or, for a country without a list, it has the form most of that
  country's postcodes in the data have.  A record whose VAT number carries the stated country stays.  Border
  towns with one name in two countries (Valga / Valka, Narva, Övertorneå as Ylitornio's Swedish name) and
  places named alike in two countries (Valga in Estonia and in Galicia) do not move: the name is not one
  country's only, or the stated country knows a name like it.

The placement in metropolises is not changed: it places the address as the source gives it.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from functools import lru_cache

import pandas as pd

from . import db
from .normalise import REFERENCE


@lru_cache(maxsize=1)
def realms() -> dict[str, str]:
    """territory -> the state it is matched in (reference/country_realms.csv)."""
    with open(REFERENCE / "country_realms.csv", encoding="utf-8", newline="") as f:
        return {r["territory"]: r["state"] for r in csv.DictReader(f)}


# a place name compared as norm_place compares it, in SQL (strip_accents and the letters it keeps): 'Łódź' -> 'lodz'
_KEY = """trim(regexp_replace(lower(strip_accents(replace(replace(replace(translate(split_part({0}, ',', 1),
          'łŁøØđĐıþÞðÐ', 'lLoOdDitTdD'), 'ß', 'ss'), 'æ', 'ae'), 'Æ', 'AE'))), '[^a-z0-9]+', ' ', 'g'))"""


def _inflected_like(x: str, w: str) -> bool:
    """One place word, two endings ('varena' / 'varenos')."""
    from .resolve import _inflected

    return x == w or (len(x) >= 4 and _inflected(x, w))


def _by_address(con, recs) -> list[tuple]:
    """(record, country, evidence) of the address rule (module docstring), in SQL over the warehouse's placement
    tables (lau_ref, postcode_lau)."""
    from .normalise import country_code
    from .placement import norm_pc_sql
    from .resolve import declared_with

    legal = declared_with("legal_address")  # the source gives the legal entity's registered country
    rows = [(r.key, r.country, r.post_code, r.city) for r in recs
            if r.country and r.city and not r.stated_country and r.source not in legal
            and not (r.vat and country_code(r.vat[:2]) == r.country)]
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["org_key", "country", "post_code", "city"], dtype=object)
    con.register("_country_recs", frame)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _place_names AS
        SELECT DISTINCT country, lau_code, {_KEY.format('lau_name')} AS name FROM lau_ref WHERE lau_name IS NOT NULL
        UNION SELECT DISTINCT country, lau_code, {_KEY.format('lau_name')} FROM postcode_lau WHERE lau_name IS NOT NULL""")
    try:
        found = con.execute(f"""
        WITH names AS (SELECT * FROM _place_names),
        lists AS MATERIALIZED (SELECT DISTINCT country, postcode, lau_code FROM postcode_lau),
        r AS MATERIALIZED (SELECT *, {_KEY.format('city')} AS city_key, {norm_pc_sql('post_code', 'country')} AS pc FROM _country_recs),
        -- the form most postcodes of a country have in the data, when most have it
        shapes AS (SELECT country, regexp_replace(regexp_replace(pc, '[0-9]', '9', 'g'), '[A-Z]', 'A', 'g') AS shape,
                          count(*) AS n, sum(count(*)) OVER (PARTITION BY country) AS total FROM r WHERE pc IS NOT NULL GROUP BY 1, 2),
        form AS (SELECT country, arg_max(shape, n) AS shape FROM shapes GROUP BY 1 HAVING max(n) >= 0.5 * any_value(total)),
        -- not a postcode of the stated country's list (nor with a lost leading zero)
        listed AS (SELECT DISTINCT country FROM lists),
        known AS (SELECT DISTINCT country FROM names),
        in_list AS (SELECT DISTINCT r.org_key FROM r JOIN lists l ON l.country = r.country AND l.postcode = r.pc
                    UNION SELECT DISTINCT r.org_key FROM r JOIN lists l ON l.country = r.country AND l.postcode = '0' || r.pc),
        -- not a postcode of the stated country's list (nor with a lost leading zero)
        against AS MATERIALIZED (SELECT r.*, ls.country IS NOT NULL AS listed FROM r LEFT JOIN listed ls USING (country)
                    WHERE org_key NOT IN (SELECT org_key FROM in_list)),
        -- the city is a municipality name of exactly one country, not the stated one, which has municipality names
        place AS (SELECT a.org_key, list(DISTINCT n.country) AS ds FROM against a JOIN names n ON n.name = a.city_key GROUP BY 1),
        cand AS MATERIALIZED (SELECT a.*, p.ds[1] AS d, {norm_pc_sql('a.post_code', 'p.ds[1]')} AS pc_d FROM against a JOIN place p USING (org_key)
                 WHERE len(p.ds) = 1 AND p.ds[1] <> a.country AND a.country IN (SELECT country FROM known)),
        hit AS (SELECT c.org_key, min(l.postcode) AS d_postcode FROM cand c
                JOIN lists l ON l.country = c.d AND (l.postcode = c.pc_d OR l.postcode = '0' || c.pc_d)
                JOIN names n ON n.country = l.country AND n.lau_code = l.lau_code AND n.name = c.city_key GROUP BY 1)
        SELECT c.org_key, c.d, c.listed, h.d_postcode, c.d IN (SELECT country FROM listed) AS d_listed,
               f.shape = regexp_replace(regexp_replace(c.pc_d, '[0-9]', '9', 'g'), '[A-Z]', 'A', 'g') AS d_form,
               c.city_key
        FROM cand c LEFT JOIN hit h USING (org_key) LEFT JOIN form f ON f.country = c.d""").fetchall()
        # the stated country's municipality words that could be like the city's (first four letters alike)
        words = defaultdict(set)
        rec_of = {r.key: r for r in recs}
        if found:
            heads = sorted({(rec_of[k].country, w[:4]) for k, *_x, city in found for w in city.split()})
            con.register("_country_heads", pd.DataFrame(heads, columns=["country", "head"], dtype=object))
            for c, w in con.execute(f"""
                    SELECT DISTINCT h.country, w FROM _country_heads h
                    JOIN (SELECT country, unnest(string_split(name, ' ')) AS w FROM _place_names) n
                      ON n.country = h.country AND n.w[1:4] = h.head""").fetchall():
                words[(c, w[:4])].add(w)
            con.unregister("_country_heads")
    finally:
        con.unregister("_country_recs")
        con.execute("DROP TABLE IF EXISTS _place_names")
    out, rest, proven = [], [], {}
    for key, d, listed, d_postcode, d_listed, d_form, city in found:
        r = rec_of[key]
        c = r.country
        if any(_inflected_like(x, w) for x in city.split() for w in words.get((c, x[:4]), ())):
            continue  # the stated country knows a place like it (Valga vald, Varėnos rajonas)
        against = f"postcode {r.post_code} not in {c}'s list; " if listed else ""
        if d_listed and d_postcode:
            why = f"{against}{d_postcode} is {r.city}'s postcode in {d}'s list"
        elif not d_listed and listed and d_form:
            why = f"{against}{r.city} is a municipality of {d} only (LAU), {r.post_code} has {d}'s form"
        else:
            if not r.post_code or d_form:
                rest.append((r, d, city))
            continue
        proven.setdefault((c, city, d), key)
        out.append((r, d, f"address: {why}"))
    # a record of that city without a postcode, or a postcode of the other country's form the list lacks (a
    # PO box), goes where a record of the same stated country and city went on its postcode
    for r, d, city in rest:
        if (k := proven.get((r.country, city, d))):
            out.append((r, d, f"address: {r.city} is a municipality of {d} only (LAU), as {k}'s postcode shows"))
    return out


def address_moved(r) -> bool:
    """The record's own address puts it in another country than its source (not only its territory's realm):
    its golden record is in that country too."""
    return bool(r.country_evidence) and r.country_evidence.startswith("address:")


def match_countries(con, recs) -> dict[str, int]:
    """Set the matching country of records whose stated country their address or realm contradicts (see the
    module docstring); returns how many changed, by rule."""
    out: Counter = Counter()
    realm = realms()
    for r in recs:
        if r.country in realm and not r.place:
            r.stated_country, r.country = r.country, realm[r.country]
            r.country_evidence = f"realm: {r.stated_country} is matched in {r.country} (reference/country_realms.csv)"
            out["realm"] += 1
    if {"lau_ref", "postcode_lau"} <= db.tables(con):
        for r, d, why in _by_address(con, recs):
            r.stated_country, r.country, r.country_evidence = r.country, d, why
            out["address"] += 1
    return dict(out)
