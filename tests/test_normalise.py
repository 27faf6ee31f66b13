"""The shared normalisation (baltetl.normalise) on values the sources really carry."""

from __future__ import annotations

import csv

import pytest

from baltetl import normalise as n


@pytest.mark.parametrize(("value", "iso"), [
    ("EL", "GR"), ("UK", "GB"), ("RKS", "XK"),  # the EU's codes (CORDIS, KEEP), Kosovo in the ETMUN lists
    ("DE", "DE"), ("de", "DE"), ("DEU", "DE"), ("SWE", "SE"),  # ISO 2 and 3
    ("Germany", "DE"), ("Deutschland", "DE"), ("Sverige", "SE"), ("LATVIJA", "LV"), ("Lietuva", "LT"),
    ("Russia", "RU"), ("Russian Federation", "RU"), ("Kosovo", "XK"), ("Türkiye", "TR"), ("Czech Republic", "CZ"),
    ("bosnia-herzegovina", "BA"), ("the netherlands", "NL"), ("  United   Kingdom ", "GB"), ("northern ireland", "GB"),
    ("Moldova, Republic of", "MD"), ("Timor-Leste", "TL"),
    ("Atlantis", None), ("", None), (None, None),
])  # fmt: skip
def test_country_from_codes_and_names(value, iso):
    assert n.country(value) == iso


def test_country_names_only_refuses_short_words():
    """Running text on a web page: 'no' and 'de' are words, not Norway and Germany; 'uk' is a name the table has."""
    assert n.country("no", codes=False) is None
    assert n.country("de", codes=False) is None
    assert n.country("EL", codes=False) is None
    assert n.country("uk", codes=False) == "GB"
    assert n.country("finland", codes=False) == "FI"


def test_country_fuzzy_only_when_one_country_fits():
    assert n.country("Great Britain and Northern Ireland", fuzzy=True) == "GB"
    assert n.country("Bayern", fuzzy=True) == "DE"  # a subdivision names its country
    assert n.country("Bayern") is None
    assert n.country("Korea", fuzzy=True) is None  # two Koreas


def test_country_code_maps_only_the_eu_codes():
    assert [n.country_code(c) for c in ("EL", "UK", "RKS", "SE", "XX", "", None)] == ["GR", "GB", "XK", "SE", "XX", "", None]


def test_the_country_tables_are_data_with_iso_codes():
    import pycountry

    for name in ("country_codes.csv", "country_names.csv"):
        with open(n.REFERENCE / name, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows
        for r in rows:
            assert r["iso2"] == "XK" or pycountry.countries.get(alpha_2=r["iso2"]), r


@pytest.mark.parametrize(("fn", "value", "out"), [
    (n.fold, "Nice Côte d’Azur", "nice cote d azur"),
    (n.fold, "Rīgas Tehniskā universitāte", "rigas tehniska universitate"),
    (n.fold, None, ""),
    (n.name_key, "Malmö", "MALMO"),
    (n.name_key, "St. Petersburg", "ST PETERSBURG"),
    (n.name_key, "Accettura, Cirigliano, Oliveto Lucano", "ACCETTURA CIRIGLIANO OLIVETO LUCANO"),
    (n.caseless, "ＭＡＲＩＡ  Öst", "maria öst"),
    (n.caseless, "Mu\u0308nchen", "münchen"),  # NFD as typed on a Mac
    (n.norm_place, "København Ø", "KOBENHAVN O"),
    (n.norm_place, "Berlin, Stadt", "BERLIN"),
    (n.norm_place, "", None),
    (n.slug, "2007 – 2013 Baltic Sea Region", "2007-2013-baltic-sea-region"),
])  # fmt: skip
def test_names(fn, value, out):
    assert fn(value) == out


@pytest.mark.parametrize(("value", "country", "out"), [
    ("LV-1050", None, "1050"), ("SE-114 28", None, "11428"), ("00-927", "PL", "00927"), ("LV1050", "LV", "1050"),
    ("D 10115", None, "10115"), ("LT–01108", None, "01108"), ("NW1 2BE", "GB", "NW12BE"), (None, None, None),
])  # fmt: skip
def test_norm_postcode(value, country, out):
    assert n.norm_postcode(value, country) == out


@pytest.mark.parametrize(("value", "codes", "out"), [
    ("LV–1539", ("LV",), "1539"), ("IT-38122", ("IT",), "38122"), ("DK-1002", (), "1002"), ("581 86", ("SE",), "581 86"),
    ("LV 1586", ("LV",), "1586"), ("LV3466", ("LV", None), "3466"), ("", ("LV",), None),
])  # fmt: skip
def test_postcode_as_written(value, codes, out):
    assert n.postcode(value, *codes) == out


def test_nuts3_and_decimal():
    assert n.nuts3("NO084;NO") == "NO084"
    assert n.nuts3("NO;NO084") == "NO084"
    assert n.nuts3("SE1") is None and n.nuts3("") is None and n.nuts3(None) is None
    assert n.nuts3("lv006 / Rīga", sep="/") == "LV006"
    assert [n.decimal(v) for v in ("960619,95", " 528340.97 ", "", None, 12, 1.5)] == ["960619.95", "528340.97", None, None, 12, 1.5]
