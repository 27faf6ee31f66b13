"""The `ror` source (Research Organization Registry): the shipped Baltic cut, the official dump's form fetched
from a local Zenodo-like server, and what resolution takes from it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from pytest_httpserver import HTTPServer

from baltetl import pipeline, resolve
from baltetl.config import load_config
from helpers.common import local_toml, refresh_run, run_refresh

# one record of the official dump (schema v2), as ROR publishes it
V2 = {
    "id": "https://ror.org/026vcq606", "status": "active", "types": ["education", "funder"],
    "names": [{"value": "KTH", "types": ["acronym"], "lang": None},
              {"value": "KTH Royal Institute of Technology", "types": ["ror_display", "label"], "lang": "en"},
              {"value": "Kungliga Tekniska högskolan", "types": ["label"], "lang": "sv"}],
    "locations": [{"geonames_id": 2673730, "geonames_details": {"country_code": "SE", "name": "Stockholm"}}],
    "links": [{"type": "website", "value": "https://www.kth.se"}],
    "external_ids": [{"type": "wikidata", "all": ["Q854280"], "preferred": "Q854280"}],
    "relationships": [], "domains": ["kth.se"],
}  # fmt: skip
ABROAD = {**V2, "id": "https://ror.org/05qwgg493", "names": [{"value": "Boston University", "types": ["ror_display", "label"], "lang": "en"}],
          "locations": [{"geonames_details": {"country_code": "US", "name": "Boston"}}]}  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def ror_wh(tmp_path_factory):
    cfg = load_config(warehouse=tmp_path_factory.mktemp("ror") / "wh.duckdb")
    result, _ = run_refresh(cfg, "ror", sample=True)
    assert result.status == "success", result.message
    return cfg, result


def test_the_shipped_cut_loads_every_record_with_its_names(ror_wh):
    import duckdb

    cfg, result = ror_wh
    assert result.tables["registry"]["loaded"] == 12762 and result.rows_quarantined == 0
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    kth = con.execute("SELECT name_en, name_local, acronym, country, website, wikidata_id FROM stg_ror__registry "
                      "WHERE ror_id = 'https://ror.org/026vcq606'").fetchone()  # fmt: skip
    assert kth == ("KTH Royal Institute of Technology", "Kungliga Tekniska högskolan", "KTH", "SE", "https://www.kth.se", "Q854280")
    names = {r[0]: r[1] for r in con.execute(
        "SELECT name, name_type FROM stg_ror__registry_names WHERE ror_id = 'https://ror.org/026vcq606'").fetchall()}  # fmt: skip
    assert names["KTH"] == "acronym" and names["Royal Institute of Technology"] == "alias"
    # records link within their country, never on an acronym alone
    index = resolve.registry_index(con)
    con.close()
    recs = [resolve.Rec("cordis:1", "cordis", "KUNGLIGA TEKNISKA HOEGSKOLAN", "SE", "STOCKHOLM"),
            resolve.Rec("keep:a", "keep", "KTH Royal Institute of Technology", "SE", "Stockholm"),
            resolve.Rec("keep:b", "keep", "KTH", "SE", "Stockholm"),
            resolve.Rec("keep:c", "keep", "Kungliga Tekniska högskolan", "FI", "Helsinki")]  # fmt: skip
    assert resolve.link_ror(recs, index) == 2
    assert recs[0].ror == recs[1].ror == "https://ror.org/026vcq606" and recs[2].ror is None and recs[3].ror is None
    # a name that is only a city, or one word left of a longer name, links nothing: 'TU Dresden' and 'MTU
    # München' (TÜ, MTÜ are Estonian legal forms) once pulled the networks' Dresden and München into them
    assert ("DE", "dresden") not in index and ("DE", "munchen") not in index
    city = [resolve.Rec("networks:DE:DRESDEN", "networks", "Dresden", "DE", "Dresden", "City")]
    assert resolve.link_ror(city, index) == 0 and city[0].ror is None
    roots, best = resolve.cluster(recs)
    assert roots["keep:a"] == roots["cordis:1"] != roots["keep:b"]
    assert best["keep:a"] == best["cordis:1"] == ("ror", 1.0)


def test_two_ror_ids_keep_two_organisations_apart():
    a = resolve.Rec("x:1", "cordis", "Tallinn University", "EE", "Tallinn")
    b = resolve.Rec("y:1", "keep", "Tallinn University", "EE", "Tallinn")
    assert resolve.decide(a, b)[0]
    a.ror, b.ror = "https://ror.org/0443cwa12", "https://ror.org/05yt3d853"
    assert resolve.decide(a, b) == (False, None, 0.0)
    roots, _ = resolve.cluster([a, b])
    assert roots["x:1"] != roots["y:1"]  # the exact name join is refused


def test_the_official_dump_is_fetched_from_zenodo_and_parsed(tmp_path, httpserver: HTTPServer):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("v9.9-2026-11-30-ror-data.json", json.dumps([V2, ABROAD]))
    dump = buf.getvalue()
    listing = {"hits": {"hits": [{"files": [
        {"key": "v9.9-2026-11-30-ror-data.zip", "links": {"self": httpserver.url_for("/files/ror-data.zip")}}]}]}}
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/api/communities/ror-data/records").respond_with_json(listing)
    httpserver.expect_request("/files/ror-data.zip").respond_with_data(dump, content_type="application/zip")
    body = f'[sources.ror]\nhosts = ["127.0.0.1", "localhost"]\nurl = "{httpserver.url_for("/api/communities/ror-data/records")}"\nmin_rows = {{ registry = 1, registry_names = 1 }}\n'
    cfg = load_config(local_toml(tmp_path / "o.toml", body, retries=1), warehouse=tmp_path / "wh.duckdb")
    files = pipeline.land(cfg, "ror")
    assert len(files) == 1 and files[0].path.read_bytes() == dump
    parsed = pipeline.parse(cfg, "ror", files)
    reg = parsed.tables["registry"]
    assert list(reg["ror_id"]) == ["https://ror.org/026vcq606"]  # Boston is no country of the region
    row = reg.iloc[0]
    assert (row["name_local"], row["city"], row["domain"], row["wikidata_id"]) == ("Kungliga Tekniska högskolan", "Stockholm", "kth.se", "Q854280")
    result = pipeline.stage(cfg, "ror", parsed, files, pipeline.new_run_id(), 0.0, log=lambda m: None)
    assert result.status == "success", result.message


def test_a_listing_without_a_dump_is_a_clear_failure(tmp_path, httpserver: HTTPServer):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/api/records").respond_with_json({"hits": {"hits": [{"files": [{"key": "readme.txt", "links": {"self": "x"}}]}]}})
    body = f'[sources.ror]\nhosts = ["127.0.0.1", "localhost"]\nurl = "{httpserver.url_for("/api/records")}"\n'
    cfg = load_config(local_toml(tmp_path / "o.toml", body, retries=1), warehouse=tmp_path / "wh.duckdb")
    with pytest.raises(Exception, match="no file \\*ror-data.zip"):
        pipeline.land(cfg, "ror")


def test_the_golden_record_carries_ror_names_and_ids(tmp_path):
    """CORDIS and keep.eu samples with ROR: the University of Helsinki's golden record has its ROR id, its English
    and its national name (Finnish or Swedish, never another country's language) and its Wikidata id."""
    import duckdb

    cfg = load_config(warehouse=tmp_path / "wh.duckdb")
    _, results, _ = refresh_run(cfg, ["ror", "keep", "cordis"])  # one run, one build
    assert [r.status for r in results] == ["success"] * 3, [r.message for r in results]
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    g = con.execute("""SELECT g.ror_id, g.name_en, g.name_local, g.wikidata_id, g.org_type FROM golden_organisations g
                       JOIN organisation_sources s USING (golden_id) JOIN organisations o USING (org_key)
                       WHERE o.name = 'HELSINGIN YLIOPISTO'""").fetchone()  # fmt: skip
    assert g[:4] == ("https://ror.org/040af2s02", "University of Helsinki", "Helsingin Yliopisto", "Q28695")
    rtu = con.execute("SELECT name_local FROM stg_ror__registry WHERE ror_id = 'https://ror.org/00twb6c09'").fetchone()[0]
    assert rtu != "Rygos technikos universitetas"  # the Lithuanian label of Riga Technical University
    n, with_ror = con.execute("SELECT count(*), count(ror_id) FROM golden_organisations").fetchone()
    pub = {r[0] for r in con.execute("DESCRIBE public_organisations").fetchall()}
    con.close()
    assert 0 < with_ror < n and {"name_en", "name_local", "ror_id", "wikidata_id"} <= pub
