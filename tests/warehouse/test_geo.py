"""Metropolis geography from the real Eurostat tables bundled with the package."""

import duckdb
import pytest

from baltetl.config import load_config
from baltetl.geo import build_geography
from baltetl.normalise import norm_place


@pytest.fixture(scope="module")
def geo():
    con = duckdb.connect()
    build_geography(con, load_config())
    return con


def nuts(con, metro):
    return {r[0] for r in con.execute("SELECT nuts3 FROM metropolis_nuts3 WHERE metropolis_id = ?", [metro]).fetchall()}


def test_norm_place_folds_diacritics_and_suffixes():
    assert norm_place("København Ø") == "KOBENHAVN O"
    assert norm_place("Gdańsk") == "GDANSK"
    assert norm_place("Rīga") == "RIGA"
    assert norm_place("Malmö") == "MALMO"
    assert norm_place("Berlin, Stadt") == "BERLIN"
    assert norm_place("Sankt-Peterburg") == "SANKT PETERBURG"
    assert norm_place("  ") is None and norm_place(None) is None


def test_every_default_metropolis_is_defined(geo):
    ids = {r[0] for r in geo.execute("SELECT metropolis_id FROM metropolises").fetchall()}
    assert ids == {"berlin", "copenhagen", "helsinki", "malmo", "oslo", "riga", "st_petersburg", "stockholm",
                   "tallinn", "vilnius", "warsaw", "hamburg", "gdansk"}


def test_nuts3_from_fua_population_and_revisions(geo):
    # majority of the population inside the FUA: Warsaw city and its two ring regions, not the outer ones
    assert {"PL911", "PL912", "PL913"} <= nuts(geo, "warsaw")
    assert "PL922" not in nuts(geo, "warsaw")
    # the same regions under their NUTS 2013 codes, from the NUTS history table
    assert {"PL127", "PL129", "PL12A"} <= nuts(geo, "warsaw")
    # Riga: LV006 (2016) and LV00A (NUTS 2024, from the configuration)
    assert {"LV006", "LV00A"} <= nuts(geo, "riga")
    # Norway is not in Eurostat's LAU table: configured codes of every revision
    assert {"NO011", "NO081"} <= nuts(geo, "oslo")
    assert nuts(geo, "helsinki") == {"FI1B1"}
    # only NUTS3-level codes
    assert all(len(c) == 5 for m in ("berlin", "hamburg") for c in nuts(geo, m))


def test_places_from_lau_names(geo):
    rows = geo.execute(
        "SELECT metropolis_id, kind FROM metropolis_places WHERE country = 'FI' AND name_norm = 'ESPOO'"
    ).fetchall()
    assert ("helsinki", "lau") in rows
    rows = geo.execute("SELECT metropolis_id FROM metropolis_places WHERE name_norm = 'LUND' AND kind = 'lau'").fetchall()
    assert rows == [("malmo",)]


def test_adding_a_metropolis_is_a_config_edit(tmp_path):
    extra = tmp_path / "extra.toml"
    extra.write_text('[metropolises.turku]\nname = "Turku"\ncountry = "FI"\nfua = "FI003L4"\naliases = ["TURKU", "ABO"]\n')
    cfg = load_config(extra)
    con = duckdb.connect()
    build_geography(con, cfg)
    assert con.execute("SELECT count(*) FROM metropolis_places WHERE metropolis_id = 'turku'").fetchone()[0] > 0


def test_unknown_fua_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[metropolises.nowhere]\nname = "Nowhere"\ncountry = "FI"\nfua = "FI999L9"\n')
    with pytest.raises(ValueError, match="FI999L9"):
        build_geography(duckdb.connect(), load_config(bad))
