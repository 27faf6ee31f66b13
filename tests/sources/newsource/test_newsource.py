"""A source added from a folder alone: this folder holds its declaration (source.toml), fetch/parse
(source.py), options (options.py), contract (contract.py) and fixture (hubs.json); no other file names it.
The configuration points [paths] source_folders here; the source is then fetched from a local server,
validated against its contract (a nameless hub quarantined), staged, resolved into golden organisations
(one hub is a CORDIS participant: it joins that organisation) and published with its credit."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from baltetl import publish as pub
from baltetl.config import ConfigError, load_config
from helpers.common import local_toml, run_refresh

HERE = Path(__file__).resolve().parent
TITLE = "Baltic innovation hubs (test registry)"
TKTK = "cordis:995737981"  # TALLINNA TEHNIKAKORGKOOL in the bundled CORDIS sample


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


def config(tmp_path: Path, body: str = ""):
    toml = local_toml(tmp_path / "my.toml", f'[paths]\nsource_folders = ["{HERE}"]\n{body}')
    return load_config(toml, warehouse=tmp_path / "wh" / "baltmet.duckdb")


def test_the_folder_is_a_source(tmp_path):
    cfg = config(tmp_path)
    src = cfg.source("newsource")
    assert src.tables == ("organisations",) and src.min_rows == {"organisations": 2} and src.max_rows == {"organisations": 100}
    assert src.contract_file == HERE / "contract.py" and src.module == str(HERE / "source.py")
    assert src.sample == str(HERE / "hubs.json") and src.options.url == ""
    assert cfg.raw["publish"]["sources"]["newsource"]["title"] == TITLE
    with pytest.raises(ConfigError, match=r"my.toml: \[sources.newsource\] url: Input should be a valid string"):
        config(tmp_path, "[sources.newsource]\nurl = 5\n")


def test_fetched_validated_staged_resolved_and_published(tmp_path, httpserver: HTTPServer):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/hubs.json").respond_with_data((HERE / "hubs.json").read_bytes(), content_type="application/json")
    cfg = config(tmp_path, f'[sources.newsource]\nurl = "{httpserver.url_for("/hubs.json")}"\n')
    assert run_refresh(cfg, "cordis", sample=True)[0].status == "success"

    result, counts = run_refresh(cfg, "newsource")  # fetched from the server
    assert result.status == "success", result.message
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)

    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    q = con.execute("SELECT check_name FROM quarantine WHERE source = 'newsource'").fetchall()
    assert q == [("name_missing",)]
    hubs = dict(con.execute("SELECT org_key, golden_id FROM organisation_sources WHERE source = 'newsource'").fetchall())
    assert set(hubs) == {"newsource:hub-1", "newsource:hub-2"}
    tktk = con.execute("SELECT golden_id FROM organisation_sources WHERE org_key = ?", [TKTK]).fetchone()[0]
    assert hubs["newsource:hub-1"] == tktk  # the hub is that CORDIS participant
    name, sources = con.execute("SELECT name, sources FROM golden_organisations WHERE golden_id = ?", [tktk]).fetchone()
    # CORDIS ranks first; its capitals take the writing of a member or ROR that gives the same name
    assert sorted(sources) == ["cordis", "newsource"] and name == "Tallinna Tehnikakõrgkool"
    riga = con.execute("SELECT name, metropolis_id FROM golden_organisations WHERE golden_id = ?", [hubs["newsource:hub-2"]]).fetchone()
    assert riga == ("Riga Harbour Innovation Hub", "riga")
    con.close()

    out = tmp_path / "site"
    pub.publish(cfg, out, log=lambda m: None)
    package = json.loads((out / "data" / "datapackage.json").read_text(encoding="utf-8"))
    assert any(s["title"].startswith(TITLE) for s in package["sources"])
    assert TITLE in (out / "index.html").read_text(encoding="utf-8")
    published = (out / "data" / "organisation_sources.csv").read_text(encoding="utf-8")
    assert "newsource:hub-2" in published
