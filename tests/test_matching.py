"""Registry evidence for resolution (src/baltetl/matching.py): records linked to ROR by word set, website and
near name in the registry's city; the registry's names compared at one street address."""

from __future__ import annotations

import duckdb
import pytest

from baltetl import matching, resolve

# real ROR records (v2.9), as stg_ror__registry / stg_ror__registry_names hold them
REGISTRY = [
    ("https://ror.org/02h2x0161", "DE", "Kiel", "geomar.de",
     [("GEOMAR Helmholtz-Zentrum für Ozeanforschung Kiel", "label"), ("GEOMAR Helmholtz Centre for Ocean Research Kiel", "label")]),
    ("https://ror.org/03ycvrj88", "DE", "Hamburg", "bsh.de",
     [("Bundesamt für Seeschifffahrt und Hydrographie", "label"), ("Federal Maritime and Hydrographic Agency of Germany", "label"), ("BSH", "acronym")]),
    ("https://ror.org/02s12gd46", "SE", "Norrköping", "sjofartsverket.se",
     [("Swedish Maritime Administration", "label"), ("SMA", "acronym")]),
    ("https://ror.org/014xsev03", "DK", None, "agropark.dk", [("Agro Business Park", "label")]),
    ("https://ror.org/0041k0688", "LV", "Riga", "bior.lv",
     [("Institute of Food Safety, Animal Health and Environment “BIOR”", "label")]),
    ("https://ror.org/002pjp005", "FI", "Helsinki", None,
     [("Baltic Marine Environment Protection Commission", "label"), ("Helsinki Commission", "alias"), ("HELCOM", "acronym")]),
    ("https://ror.org/013sm1c65", "PL", "Wroclaw", "ue.wroc.pl",
     [("Uniwersytet Ekonomiczny we Wrocławiu", "label"), ("Wroclaw University of Economics and Business", "label")]),
]


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE stg_ror__registry (ror_id VARCHAR, country VARCHAR, city VARCHAR, domain VARCHAR)")
    c.execute("CREATE TABLE stg_ror__registry_names (record_key VARCHAR, ror_id VARCHAR, country VARCHAR, name VARCHAR, name_type VARCHAR)")
    for rid, country, city, domain, names in REGISTRY:
        c.execute("INSERT INTO stg_ror__registry VALUES (?, ?, ?, ?)", [rid, country, city, domain])
        for i, (name, kind) in enumerate(names):
            c.execute("INSERT INTO stg_ror__registry_names VALUES (?, ?, ?, ?, ?)", [f"{rid}#{i}", rid, country, name, kind])
    yield c
    c.close()


def rec(key, name, country, city=None, website=None, **kw):
    return resolve.Rec(key, key.split(":")[0], name, country, city, website=website, **kw)


def link(con, recs):
    resolve.link_ror(recs, resolve.registry_index(con))
    return matching.link_more(con, recs)


def test_word_set_links_what_the_exact_name_does_not(con):
    a = rec("cordis:1", "HELMHOLTZ-ZENTRUM FUR OZEANFORSCHUNG KIEL (GEOMAR)", "DE", "Kiel")
    b = rec("keep:1", "Federal Maritime and Hydrographic Agency", "DE", "Hamburg")
    c = rec("keep:2", "Federal Maritime and Hydrographic Agency", "SE", "Hamburg")  # another country: never
    assert resolve.link_ror([a, b, c], resolve.registry_index(con)) == 0
    assert matching.link_more(con, [a, b, c]) == 2
    assert (a.ror, b.ror, c.ror) == ("https://ror.org/02h2x0161", "https://ror.org/03ycvrj88", None)
    # the linked record carries the registry's names, in every language
    assert "bundesamt seeschifffahrt hydrographie" in b.alt and "BSH" in b.alt_acronyms
    assert matching.name_key("Leibniz-Zentrum für Agrarlandschaftsforschung", "DE") == matching.name_key("LEIBNIZ-ZENTRUM FUER AGRARLANDSCHAFTSFORSCHUNG (ZALF)", "DE")


def test_a_website_links_only_when_it_is_the_records_own_name(con):
    a = rec("cordis:1", "SJOFARTSVERKET", "SE", "NORRKOPING", "http://www.sjofartsverket.se")
    b = rec("cordis:2", "FBCD AS", "DK", "Tjele", "http://www.agropark.dk")  # another body listing that site
    assert link(con, [a, b]) == 1
    assert a.ror == "https://ror.org/02s12gd46" and b.ror is None
    assert matching.site_names("bsh.de", "Bundesamt für Seeschifffahrt und Hydrographie")  # initials
    assert matching.site_names("zalf.de", "Leibniz-Zentrum (ZALF)") and not matching.site_names("agropark.dk", "FBCD AS")


def test_a_near_name_links_only_in_the_registrys_city(con):
    a = rec("keep:1", "Institute of Food Safety, Animal Health and Environment", "LV", "Riga")
    b = rec("keep:2", "Institute of Food Safety, Animal Health and Environment", "LV", "Daugavpils")
    c = rec("keep:3", "Institute of Food Safety and Animal Health", "LV", "Riga")  # too far
    d = rec("keep:4", "Institute of Food Safety, Animal Health and Environments", "LV", "Riga")  # inflected
    e = rec("keep:5", "Institute of Feed Safety, Animal Health and Environment", "LV", "Riga")  # a word of its own
    f = rec("keep:6", "Institute of Food Safety, Animal Health and Environment BIOR Riga", "LV", "Riga")  # more words
    g = rec("keep:7", "Institute of Food Safety, Animal Health and Environment BIOR Riga", "LV", "Daugavpils")  # elsewhere
    link(con, [a, b, c, d, e, f, g])
    assert (a.ror, c.ror, d.ror, e.ror, f.ror, g.ror) == ("https://ror.org/0041k0688", None, a.ror, None, a.ror, None)
    # the registry's name without the acronym in quotes beside it is its name, in the whole country
    assert b.ror == a.ror


def test_never_an_acronym_alone(con):
    a = rec("keep:1", "HELCOM", "FI", "Helsinki")
    assert link(con, [a]) == 0 and a.ror is None


def test_at_one_address_the_registrys_names_meet_the_other_language(con):
    at = dict(street="Komandorska 118/120", post_code="53-345")
    u = rec("cordis:3", "UNIWERSYTET EKONOMICZNY WE WROCLAWIU", "PL", "WROCLAW", **at)
    v = rec("keep:4", "University of Economics", "PL", "Wroclaw", **at)
    w = rec("keep:5", "University of Economics", "PL", "Wroclaw", street="Komandorska 1", post_code="53-345")
    assert resolve.decide(u, v)[0] is False  # before linking: two names in two languages
    link(con, [u, v, w])
    assert u.ror and not v.ror  # v's name is no ROR name, nor near one
    assert resolve.decide(u, v)[:2] == (True, "address") and not resolve.decide(u, w)[0]
    # an acronym of the registry record at its address; the same acronym elsewhere is no evidence
    h = rec("cordis:2", "THE BALTIC MARINE ENVIRONMENT PROTECTION COMMISSION", "FI", "Helsinki", street="Katajanokanlaituri 6 B", post_code="00160")
    k = rec("keep:2", "HELCOM", "FI", "Helsinki", street="Katajanokanlaituri 6 B", post_code="00160")
    far = rec("keep:3", "HELCOM", "FI", "Helsinki", street="Mannerheimintie 1", post_code="00100")
    assert resolve.decide(h, k)[0] is False
    link(con, [h, k, far])
    assert resolve.decide(h, k)[:2] == (True, "address") and not resolve.decide(h, far)[0]
    # records linked to two different ROR ids stay apart, whatever the address
    x = rec("keep:6", "GEOMAR Helmholtz Centre for Ocean Research Kiel", "DE", "Kiel", street="Wischhofstr. 1", post_code="24148")
    y = rec("keep:7", "Bundesamt für Seeschifffahrt und Hydrographie", "DE", "Kiel", street="Wischhofstr. 1", post_code="24148")
    link(con, [x, y])
    assert x.ror != y.ror and resolve.decide(x, y)[0] is False


def test_a_street_written_with_oe_is_the_street_with_o():
    assert resolve.address_key("THEODOR-KOERNER-ALLEE 16", "02763") == resolve.address_key("Theodor-Körner-Allee 16", "02763")


def test_without_a_registry_nothing_changes():
    c = duckdb.connect()
    a = rec("keep:1", "Swedish Maritime Administration", "SE")
    assert matching.link_more(c, [a]) == 0 and a.ror is None and a.alt == ()


def test_a_website_links_only_on_the_registrys_own_host(con):
    """ROR's Riga Energy Agency is at rea.riga.lv; Riga's education department, at www.iksd.riga.lv, is on the same
    registrable domain (riga.lv) and named after Riga: it was linked to the agency (full data)."""
    con.execute("INSERT INTO stg_ror__registry VALUES ('https://ror.org/035qztk95', 'LV', NULL, 'rea.riga.lv')")
    con.execute("INSERT INTO stg_ror__registry_names VALUES ('y#0', 'https://ror.org/035qztk95', 'LV', 'Riga Energy Agency', 'label')")
    a = rec("keep:1", "Education, Culture and Sports Department of Riga City Council", "LV", "Riga", "http://www.iksd.riga.lv")
    link(con, [a])
    assert a.ror is None
    b = rec("keep:2", "RIGAS ENERGETIKAS AGENTURA", "LV", "Riga", "https://www.rea.riga.lv/en/")
    link(con, [b])
    assert b.ror == "https://ror.org/035qztk95"
    assert matching.on_site("http://www.llh.hessen.de/x", "llh.hessen.de") and matching.on_site("bior.lv/en", "www.bior.lv")
    assert not matching.on_site("http://notrea.riga.lv", "rea.riga.lv") and not matching.on_site(None, "rea.riga.lv")


def test_the_same_site_under_another_suffix_links(con):
    a = rec("cordis:1", "PARTIKAS DROSIBAS, DZIVNIEKU VESELIBAS UN VIDES ZINATNISKAIS INSTITUTSBIOR", "LV", "Riga", "http://www.bior.gov.lv")
    b = rec("keep:2", "Latvian Food Centre", "LV", "Riga", "http://www.bior.gov.lv")  # the site is not its name
    link(con, [a, b])
    assert a.ror == "https://ror.org/0041k0688" and b.ror is None


def test_a_name_in_another_language_whose_words_are_cognates_links(con):
    con.execute("INSERT INTO stg_ror__registry VALUES ('https://ror.org/01a92vw29', 'LV', NULL, 'osi.lv')")
    con.execute("INSERT INTO stg_ror__registry_names VALUES ('x#0', 'https://ror.org/01a92vw29', 'LV', 'Latvian Institute of Organic Synthesis', 'label')")
    a = rec("cordis:1", "LATVIJAS ORGANISKAS SINTEZES INSTITUTS", "LV", "Riga")
    b = rec("cordis:2", "LATVIJAS ORGANISKAS SINTEZES INSTITUTS", "LT", "Vilnius")  # another country
    c = rec("cordis:3", "LATVIJAS ORGANISKAS KIMIJAS INSTITUTS", "LV", "Riga")  # a word of its own
    link(con, [a, b, c])
    assert (a.ror, b.ror, c.ror) == ("https://ror.org/01a92vw29", None, None)


def test_the_short_name_a_source_gives_links(con):
    a = rec("cordis:1", "STATENS SJOFARTSVERK", "SE", "Norrkoping", short_name="SWEDISH MARITIME ADMINISTRATION")
    b = rec("cordis:2", "STATENS SJOFARTSVERK", "SE", "Norrkoping", short_name="SMA")  # an acronym alone: never
    link(con, [a, b])
    assert a.ror == "https://ror.org/02s12gd46" and b.ror is None
