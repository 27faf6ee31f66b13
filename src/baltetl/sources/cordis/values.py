"""CORDIS values: the columns of a parsed row and the rules that clean its values.

Free of pandas: the XML parse workers apply them to each row (rows arrive clean, so the main process only
builds the frames); the CSV edition applies the same rules to its rows.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ...normalise import country_code, decimal, nuts3

PROJECT_COLUMNS = [
    "record_key", "record_ref", "project_id", "acronym", "title", "status", "start_date", "end_date",
    "total_cost", "ec_max_contribution", "ec_signature_date", "framework_programme", "funding_scheme",
    "legal_basis", "topics", "master_call", "sub_call", "keywords", "euroscivoc", "objective", "grant_doi",
    "content_update_date",
]  # fmt: skip
RAW_PARTICIPATION_COLUMNS = [
    "record_key", "record_ref", "project_id", "org_id", "role", "ord", "ec_contribution",
    "net_ec_contribution", "total_cost", "sme", "terminated", "name", "short_name", "vat_number",
    "activity_type", "street", "post_code", "city", "country_source", "nuts_raw", "geolocation", "website",
    "department", "content_update_date", "org_rcn",
]  # fmt: skip
PARTICIPATION_COLUMNS = [
    "record_key", "record_ref", "project_id", "org_id", "role", "ord", "ec_contribution",
    "net_ec_contribution", "total_cost", "sme", "terminated", "city", "post_code", "country",
    "country_source", "nuts_raw", "nuts3",
]  # fmt: skip
ORGANISATION_COLUMNS = [
    "record_key", "record_ref", "org_id", "name", "short_name", "vat_number", "activity_type", "sme",
    "street", "post_code", "city", "country", "country_source", "nuts_raw", "nuts3", "geolocation",
    "website", "name_variants", "participations",
]  # fmt: skip

BOOLS = {"true": True, "false": False, "": None}
_ZERO = re.compile(r"^0+([.,]0*)?$")
CONVERTED_PARTICIPATION_COLUMNS = [*RAW_PARTICIPATION_COLUMNS, "country", "nuts3"]


def project_row(row: tuple) -> tuple:
    """A project row (PROJECT_COLUMNS) with its money and title cleaned."""
    r = list(row)
    r[_P_TOTAL] = decimal(_not_reported(r[_P_TOTAL]))
    r[_P_MAX] = decimal(r[_P_MAX])
    r[_P_TITLE] = _unquote(r[_P_TITLE])
    return tuple(r)


def participation_row(row: tuple) -> tuple:
    """A raw participation row (RAW_PARTICIPATION_COLUMNS) cleaned, + ISO country and NUTS3 (in the order of
    CONVERTED_PARTICIPATION_COLUMNS).  Unpacked into names: a row is made once (the XML parse cleans ~120,000)."""
    (key, ref, pid, org, role, order, ec, net, total, sme, terminated, name, short, vat, activity, street, post,
     city, country, nuts, geo, url, department, updated, rcn) = row  # fmt: skip
    return (
        key, ref, pid, org, role, order, decimal(ec), decimal(net), decimal(total), _bool(sme), _bool(terminated),
        _unquote(name), _unquote(short), vat, _activity(activity), street, post, city, country, nuts, geo, url,
        department, updated, rcn,
        country_code(country),  # EU codes -> ISO; the code as written stays in country_source
        _nuts3(nuts),
    )  # fmt: skip


def _bool(v):
    """'true'/'false'/'' -> True/False/None; anything else stays, for the contract to reject."""
    return BOOLS.get(v.strip().lower(), v) if isinstance(v, str) else v


def _not_reported(v):
    """Project totalCost 0 means 'not reported' (lump-sum and unit-cost actions): unknown, not zero."""
    return None if isinstance(v, str) and _ZERO.match(v.strip()) else v


def _unquote(v):
    """Values written already CSV-escaped ('RESEARCH ""DEMOKRITOS""') -> 'RESEARCH "DEMOKRITOS"'.

    When the whole value is also enclosed in quotes (the XML legalName of DEMOKRITOS is, with its quotes,
    the CSV field of its name), the enclosing quotes go too.
    """
    if not isinstance(v, str) or '""' not in v:
        return v
    if len(v) > 2 and v[0] == v[-1] == '"':  # the whole value is one quoted CSV field: drop its quotes
        v = v[1:-1]
    return v.replace('""', '"')


@lru_cache(maxsize=4096, typed=True)  # a few codes, over and over
def _activity(v):
    """'/HES' (XML) -> 'HES'; 'PRC;PRC' (JSON/CSV) -> 'PRC'; '' -> None."""
    if not isinstance(v, str):
        return v
    codes = {c.strip().lstrip("/") for c in v.split(";") if c.strip().lstrip("/")}
    if not codes:
        return None
    return codes.pop() if len(codes) == 1 else ";".join(sorted(codes))


_P_TOTAL, _P_MAX, _P_TITLE = (PROJECT_COLUMNS.index(c) for c in ("total_cost", "ec_max_contribution", "title"))
_nuts3 = lru_cache(maxsize=4096, typed=True)(nuts3)  # an organisation's NUTS codes, once per participation
