"""A record given another country than its own address's is matched in its address's country (country_evidence)."""

from __future__ import annotations

import duckdb
import pytest

from baltetl import resolve
from baltetl.country_evidence import address_moved, match_countries

# municipalities (LAU) and postcode lists, as the warehouse's placement tables hold them
LAU = [("CZ", "598933", "Český Těšín"), ("PL", "2403011", "Cieszyn"), ("CZ", "1", "Krnov"), ("DE", "14626", "Ostritz"),
       ("EE", "855", "Valga vald"), ("ES", "36056", "Valga"), ("DE", "2", "Neustadt"), ("AT", "3", "Neustadt"),
       ("PL", "4", "Gmina Testowa"), ("SE", "5", "Haparanda"), ("FI", "6", "Tornio")]
POSTCODES = [("PL", "43400", "2403011", "Cieszyn"), ("PL", "00001", "4", "Gmina Testowa"), ("DE", "02899", "14626", "Ostritz"),
             ("DE", "10115", "2", "Neustadt"), ("EE", "68203", "855", "Valga vald"), ("SE", "95331", "5", "Haparanda"),
             ("FI", "95400", "6", "Tornio")]


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE lau_ref (country VARCHAR, lau_code VARCHAR, lau_name VARCHAR)")
    c.executemany("INSERT INTO lau_ref VALUES (?, ?, ?)", LAU)
    c.execute("CREATE TABLE postcode_lau (country VARCHAR, postcode VARCHAR, lau_code VARCHAR, lau_name VARCHAR)")
    c.executemany("INSERT INTO postcode_lau VALUES (?, ?, ?, ?)", POSTCODES)
    yield c
    c.close()


def rec(key, name, country, city=None, post_code=None, **kw):
    return resolve.Rec(key, key.split(":")[0], name, country, city, post_code=post_code, **kw)


# Czech records with postcodes: five digits is the Czech form in the data
CZECH = [rec(f"keep:cz{i}", f"Obec {i}", "CZ", "Ostrava", f"7{i}000") for i in range(3)]


def test_a_town_given_the_programmes_country_is_matched_in_its_own(con):
    pl = rec("keep:pl", "Město Český Těšín", "PL", "Český Těšín", "73701")
    cz = rec("keep:cz", "Město Český Těšín", "CZ", "Český Těšín", "73701")
    recs = [pl, cz, *CZECH]
    assert resolve.cluster(recs)[0]["keep:pl"] != resolve.cluster(recs)[0]["keep:cz"]  # blocked by country
    assert match_countries(con, recs) == {"address": 1}
    assert (pl.country, pl.stated_country) == ("CZ", "PL") and address_moved(pl)
    assert "73701 not in PL's list" in pl.country_evidence and "CZ" in pl.country_evidence
    roots, best = resolve.cluster(recs)
    assert roots["keep:pl"] == roots["keep:cz"] and best["keep:pl"][0] == "name_exact"


def test_a_postcode_of_the_other_countrys_list_at_that_municipality_moves_it(con):
    ostritz = rec("keep:pl1", "Stadt Ostritz", "PL", "Ostritz", "2899")  # the lost leading zero put back
    elsewhere = rec("keep:pl2", "Stadtverwaltung Neustadt", "PL", "Ostritz", "10115")  # Neustadt's postcode, not Ostritz's
    match_countries(con, [ostritz, elsewhere])
    assert ostritz.country == "DE" and "02899 is Ostritz's postcode in DE's list" in ostritz.country_evidence
    # ... and a record of that town without a postcode follows; one with another municipality's does not
    no_pc = rec("keep:pl3", "Rathaus Ostritz", "PL", "Ostritz")
    other = rec("keep:pl4", "Firma", "PL", "Ostritz", "10115")
    ostritz = rec("keep:pl1", "Stadt Ostritz", "PL", "Ostritz", "2899")
    match_countries(con, [ostritz, no_pc, other])
    assert no_pc.country == "DE" and "as keep:pl1's postcode shows" in no_pc.country_evidence
    assert elsewhere.country == "PL" and not elsewhere.country_evidence


def test_border_towns_and_shared_names_stay(con):
    # Valga is Estonia's (Valga vald) and a Galician municipality: the stated country knows a place like it
    valga = rec("keep:ee", "Valga Municipality", "EE", "Valga", "68202")
    # Neustadt is a municipality of two other countries: no one country to move to
    neustadt = rec("keep:pl", "Gmina Neustadt", "PL", "Neustadt", "99999")
    # the postcode is in the stated country's list
    listed = rec("keep:pl2", "Firma", "PL", "Český Těšín", "43400")
    # no postcode and no other record proving the town
    bare = rec("keep:pl3", "Firma", "PL", "Český Těšín")
    recs = [valga, neustadt, listed, bare, *CZECH]
    assert match_countries(con, recs) == {}
    assert [r.country for r in (valga, neustadt, listed, bare)] == ["EE", "PL", "PL", "PL"]


def test_a_vat_number_of_the_stated_country_or_a_legal_address_keeps_it(con):
    vat = rec("keep:pl", "Firma", "PL", "Český Těšín", "73701", vat="PL1234567890")
    legal = rec("cordis:1", "FIRMA", "PL", "Český Těšín", "73701")  # CORDIS declares the legal address
    assert match_countries(con, [vat, legal, *CZECH]) == {}


def test_a_territory_is_matched_in_its_state_but_not_its_towns(con):
    gl = rec("keep:gl", "Technical University of Denmark", "GL", "Sisimiut", "3911")
    dk = rec("keep:dk", "Technical University of Denmark", "DK", "Kgs. Lyngby", "2800")
    town = rec("keep:gl2", "Qeqqata Municipality", "GL", "Sisimiut", org_type="city")
    assert match_countries(con, [gl, dk, town]) == {"realm": 1}
    assert gl.country == "DK" and gl.stated_country == "GL" and gl.country_evidence.startswith("realm:")
    assert not address_moved(gl) and town.country == "GL"
    roots = resolve.cluster([gl, dk, town])[0]
    assert roots["keep:gl"] == roots["keep:dk"] != roots["keep:gl2"]


def test_without_reference_tables_only_the_realm_applies():
    c = duckdb.connect()
    pl = rec("keep:pl", "Město Český Těšín", "PL", "Český Těšín", "73701")
    assert match_countries(c, [pl, *CZECH]) == {} and pl.country == "PL"
