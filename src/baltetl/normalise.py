"""What every source normalises alike: countries, names, places, postcodes, NUTS codes, decimal numbers.

Value mappings are data: the country codes and names that ISO 3166 (pycountry) does not know as such are
`reference/country_codes.csv` and `reference/country_names.csv`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from anyascii import anyascii

REFERENCE = Path(__file__).parent / "reference"

_NONWORD = re.compile(r"[^a-z0-9]+")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_TWO_LETTERS = re.compile(r"[A-Z]{2}")
_NUTS3 = re.compile(r"^[A-Z]{2}[0-9A-Z]{3}$")
# a country prefix before a numeric postcode: 'LV-1050', 'SE-114 28', 'D 10115', 'LT–01108' (not 'NW1 2BE')
POSTCODE_PREFIX = r"^[A-Z]{1,3}(?:[ ]*[-–][ ]*|[ ]+)([0-9])"
_POSTCODE_PREFIX = re.compile(POSTCODE_PREFIX)
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
_PREFIX_DASH = re.compile(r"^([A-Z]{1,3})\s*-\s*(?=\d)")


# --------------------------------------------------------------------------------------------------- names


def fold(text: str | None) -> str:
    """ASCII (anyascii), lower case, punctuation to spaces, spaces collapsed: 'Nice Côte d’Azur' -> 'nice cote d azur'."""
    return _NONWORD.sub(" ", anyascii(text or "").lower()).strip()


def name_key(text: str | None) -> str:
    """`fold` in upper case, the form sources key names by: 'Malmö' -> 'MALMO', 'St. Petersburg' -> 'ST PETERSBURG'."""
    return fold(text).upper()


def caseless(text: str | None) -> str:
    """A name as written, compared without case or width (NFKC, casefold), spaces collapsed: 'ＭＡＲＩＡ  Öst'
    -> 'maria öst'.  Letters stay letters (no transliteration): for names that must not merge with others."""
    s = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(unicodedata.normalize("NFKC", s).split())


@lru_cache(maxsize=200_000)
def norm_place(value: str | None) -> str | None:
    """Upper-case ASCII form of a place name: 'København Ø' -> 'KOBENHAVN O', 'Berlin, Stadt' -> 'BERLIN'."""
    if value is None:
        return None
    # German LAU names: 'Berlin, Stadt', 'Hamburg, Freie und Hansestadt'
    return name_key(anyascii(value).split(",")[0]) or None


def slug(text: str | None) -> str:
    """Lower-case ASCII words joined by '-': 'Baltic Sea Region 2007–2013' -> 'baltic-sea-region-2007-2013'."""
    return "-".join(fold(text).split())


# ----------------------------------------------------------------------------------------------- countries


def _table(name: str, key: str) -> dict[str, str]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as f:
        return {name_key(r[key]): r["iso2"] for r in csv.DictReader(f)}


COUNTRY_CODES = _table("country_codes.csv", "code")  # 'EL' -> 'GR', 'UK' -> 'GB', 'RKS' -> 'XK'
COUNTRY_NAMES = _table("country_names.csv", "name")  # folded (name_key) -> ISO 3166-1 alpha-2


def country_code(code: str | None) -> str | None:
    """A country code as sources write it -> ISO 3166-1 alpha-2: the EU's 'EL' -> 'GR', 'UK' -> 'GB', 'RKS' ->
    'XK'; any other value unchanged (an ISO code already, or one the contract rejects)."""
    return COUNTRY_CODES.get(code, code)  # type: ignore[arg-type]


def country(value: str | None, *, codes: bool = True, fuzzy: bool = False) -> str | None:
    """A country's name or code -> ISO 3166-1 alpha-2, None if unknown.

    Names: those of `reference/country_names.csv` ('Deutschland', 'Russia', 'Kosovo'), then any pycountry knows
    (name, official or common name, also with '-' as a space); with `fuzzy`, pycountry's fuzzy search when it
    finds exactly one country.  Codes (`codes=True`): the EU's ('EL', 'UK'), any two letters as they are ('de'
    -> 'DE'), ISO alpha-3 ('DEU' -> 'DE').  With `codes=False` a value of three letters or fewer is no name
    ('no', 'de' in running text) unless the names table has it ('UK').
    """
    s = " ".join(str(value).split()) if value is not None else ""
    if not s:
        return None
    key = name_key(s)
    if key in COUNTRY_NAMES:
        return COUNTRY_NAMES[key]
    if codes:
        if key in COUNTRY_CODES:
            return COUNTRY_CODES[key]
        if _TWO_LETTERS.fullmatch(key):
            return key
    elif len(key) <= 3:
        return None
    import pycountry  # here: the CORDIS parse workers import this module, and never need it

    for candidate in dict.fromkeys((s, s.replace("-", " "))):
        try:
            return pycountry.countries.lookup(candidate).alpha_2
        except LookupError:
            pass
    if fuzzy:
        try:
            found = pycountry.countries.search_fuzzy(s)
        except LookupError:
            return None
        return found[0].alpha_2 if len(found) == 1 else None
    return None


# ------------------------------------------------------------------------------------- postcodes and NUTS


def norm_postcode(value: str | None, country: str | None = None) -> str | None:
    """Postcode as the reference lists key it: upper case, a country prefix dropped, only letters and digits
    ('LV-1050' -> '1050', 'SE-114 28' -> '11428', '00-927' -> '00927', 'LV1050' with country LV -> '1050').
    The SQL form is placement.norm_pc_sql."""
    if value is None:
        return None
    s = _POSTCODE_PREFIX.sub(r"\1", str(value).strip().upper())
    if country and s.startswith(country) and s[len(country):len(country) + 1].isdigit():
        s = s[len(country):]
    s = _NON_ALNUM.sub("", s)
    return s or None


def postcode(value: str | None, *countries: str | None) -> str | None:
    """A postcode as written, without a country prefix (the given country codes, or any 1-3 capitals before a
    dash): 'LV–1539' -> '1539', 'IT-38122' -> '38122', 'LV 1586' (LV) -> '1586', '581 86' -> '581 86'."""
    if not value:
        return None
    s = " ".join(_DASHES.sub("-", value).split())
    m = _PREFIX_DASH.match(s)
    if m:
        s = s[m.end():]
    else:  # 'LV 1586', 'LV3466': the country's own code glued or spaced
        for code in sorted(set(countries) - {None}):
            if re.match(rf"^{re.escape(code)}\s*\d", s):
                s = s[len(code):].strip()
                break
    return s or None


def nuts3(value: str | None, sep: str = ";") -> str | None:
    """The first NUTS 3 code in a list: 'NO084;NO' -> 'NO084'; a bare country code, another level or '' -> None."""
    if not isinstance(value, str):
        return None
    for code in value.split(sep):
        code = code.strip().upper()
        if _NUTS3.match(code):
            return code
    return None


# ------------------------------------------------------------------------------------------------- numbers


def decimal(value):
    """A decimal number as text with a point: '960619,95' and '528340.97' alike; '' -> None; numbers (and
    None) unchanged.  Whether it is a number is the contract's to check."""
    if value is None or isinstance(value, (int, float)):
        return value
    return str(value).strip().replace(",", ".") or None
