"""The `networks` source's fetch path, against a real local HTTP server (never the network).

The server holds the real bytes of the bundled sample (a cut of the ETMUN members list and of the networks'
metadata) and a robots.txt; an override TOML configures [[sources.networks.lists]] there.  Then
pipeline.land -> parse -> stage, as a refresh runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from baltetl import pipeline
from baltetl.config import load_config
from baltetl.http import RobotsDisallowed
from helpers.common import local_toml

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "src" / "baltetl" / "sources" / "networks" / "sample" / "networks-etmun-2019"
MEMBERS = (SAMPLE_DIR / "etmun_network_members_geocoded_2019.csv").read_bytes()
META = (SAMPLE_DIR / "etmun_networks_metadata_2019.csv").read_bytes()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


def override(tmp_path, lists: list[tuple[str, str]]):
    body = """
[sources.networks]
hosts = ["127.0.0.1", "localhost"]
"""
    for name, url in lists:
        body += f'\n[[sources.networks.lists]]\nname = "{name}"\nurl = "{url}"\n'
    toml = local_toml(tmp_path / "override.toml", body, retries=1, read_timeout_s=10)
    return load_config(toml, warehouse=tmp_path / "wh.duckdb")


def test_fetch_without_lists_says_what_to_configure(cfg):
    with pytest.raises(pipeline.NoInput, match=r"\[\[sources\.networks\.lists\]\]"):
        pipeline.land(cfg, "networks")


def test_fetch_lands_and_parses_configured_lists(tmp_path, httpserver: HTTPServer):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    httpserver.expect_request("/etmun/members.csv").respond_with_data(MEMBERS, content_type="text/csv")
    httpserver.expect_request("/etmun/networks.csv").respond_with_data(META, content_type="text/csv")
    cfg = override(tmp_path, [("members", httpserver.url_for("/etmun/members.csv")),
                              ("metadata", httpserver.url_for("/etmun/networks.csv"))])  # fmt: skip
    files = pipeline.land(cfg, "networks")
    assert [f.name for f in files] == ["members", "metadata"]
    assert files[0].path.read_bytes() == MEMBERS and files[0].origin.endswith("/etmun/members.csv")
    parsed = pipeline.parse(cfg, "networks", files)
    nets = parsed.tables["networks"].set_index("network")  # read before stage, which empties parsed.tables
    ref = parsed.tables["network_memberships"]["record_ref"].iloc[0]
    result = pipeline.stage(cfg, "networks", parsed, files, pipeline.new_run_id(), 0.0, log=lambda m: None)
    assert result.status == "success"
    assert result.tables["network_memberships"]["loaded"] == 96
    assert result.rows_loaded + result.rows_quarantined == result.rows_read
    assert nets.loc["UBC", "full_name"] == "Union of Baltic Cities"  # metadata from the second file
    assert nets.loc["UBC", "record_ref"].startswith(files[1].path.name + ":")
    assert ref == f"{files[0].path.name}:2"  # a plain landed CSV: file:line


def test_fetch_obeys_robots(tmp_path, httpserver: HTTPServer):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    cfg = override(tmp_path, [("members", httpserver.url_for("/private/members.csv"))])
    with pytest.raises(RobotsDisallowed):
        pipeline.land(cfg, "networks")
    assert all(req.path == "/robots.txt" for req, _ in httpserver.log)
