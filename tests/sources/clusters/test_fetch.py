"""The clusters source's live path against a local HTTP server: robots.txt, the ECCP sitemap (debug junk
before <?xml, placeholder host http://default/ rewritten to the configured base), the profile pages and two
registries (CSV, XLSX), then land -> parse -> stage -> build as a refresh runs them.  All fixtures hand-made.
"""

from __future__ import annotations

import pytest
from helpers.common import FIXTURES, local_toml, run_refresh, warehouse_rows
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from baltetl import pipeline
from baltetl.config import load_config
from baltetl.types import StructureChanged

FIX = FIXTURES / "clusters"
SLUGS = ["hamburg-aviation-ev", "life-science-nord", "mobile-heights", "urban-ict-arena", "cluster-news-item"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


class Site:
    """A fake clustercollaboration.eu: pages can be swapped between refreshes."""

    def __init__(self, server: HTTPServer):
        self.pages = {f"/content/{s}": (FIX / f"eccp_{s}.html").read_bytes() for s in SLUGS}
        server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /admin/\n")
        server.expect_request("/sitemap.xml").respond_with_data((FIX / "eccp_sitemap.xml").read_bytes(), content_type="application/xml")
        server.expect_request("/files/kkk.csv").respond_with_data((FIX / "registry_kkk.csv").read_bytes(), content_type="text/csv")
        server.expect_request("/files/klynger.xlsx").respond_with_data((FIX / "registry_dk_dimension_a1.xlsx").read_bytes(),
                                                                       content_type="application/octet-stream")  # fmt: skip
        for path in self.pages:
            server.expect_request(path).respond_with_handler(self.handler)

    def handler(self, request: Request) -> Response:
        if request.path not in self.pages:
            return Response("Page not found", status=404)
        return Response(self.pages[request.path], content_type="text/html; charset=UTF-8")


def override(tmp_path, server: HTTPServer, *, registries: bool = True, extra: str = "") -> object:
    base = server.url_for("/").rstrip("/")
    text = f"""
[sources.clusters]
hosts = ["127.0.0.1", "localhost"]
sitemap_url = "{base}/sitemap.xml"
eccp_base_url = "{base}"
max_quarantine_share = 0.3
{extra}
"""
    if registries:
        text += f"""
[[sources.clusters.registries]]
name = "kkk-pl"
url = "{base}/files/kkk.csv"
format = "csv"
country = "PL"
columns = {{ name = "Nazwa klastra", city = "Miasto", website = "WWW", coordinator = "Koordynator", members_total = "Liczba członków" }}

[[sources.clusters.registries]]
name = "dk-klynger"
url = "{base}/files/klynger.xlsx"
format = "xlsx"
country = "DK"
columns = {{ name = "Klynge", city = "By", country = "Land", website = "Hjemmeside", members_total = "Medlemmer i alt" }}
"""
    else:
        text = text.replace("max_quarantine_share = 0.3", "max_quarantine_share = 0.3\nregistries = []")
    toml = local_toml(tmp_path / "override.toml", text, read_timeout_s=10)
    return load_config(toml, warehouse=tmp_path / "wh" / "baltmet.duckdb")


def test_fetch_parse_stage_from_local_server(httpserver: HTTPServer, tmp_path):
    Site(httpserver)
    cfg = override(tmp_path, httpserver)

    result, counts = run_refresh(cfg, "clusters")

    assert result.status == "success", result.message
    # 4 ECCP profiles (the news node is skipped) + 5 KKK rows (2 held: no name, a duplicate; 'około 50' members
    # is emptied and its cluster loads) + 3 Danish rows
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (12, 10, 2)
    paths = [req.path for req, _ in httpserver.log]
    # the sitemap's http://default/ URLs were rewritten to the configured base: they hit this server
    assert {f"/content/{s}" for s in SLUGS} <= set(paths)
    assert not any(p.startswith(("/news/", "/cluster-networks/")) for p in paths)  # only /content/<slug>
    assert paths.count("/robots.txt") == 1
    orgs = {r[0]: r[1:] for r in warehouse_rows(cfg, "SELECT org_key, name, city, country, metropolis_id, org_type FROM organisations")}
    assert orgs["clusters:eccp:900101"] == ("Hamburg Aviation e.V.", "Hamburg", "DE", "hamburg", "cluster")
    assert orgs["clusters:eccp:900103"][3] == "malmo"
    assert orgs["clusters:eccp:900104"] == ("Urban ICT Arena", "Stockholm", "SE", "stockholm", "cluster")
    assert orgs["clusters:kkk-pl:pomorski-klaster-ict-interizon"][1:4] == ("Gdańsk", "PL", "gdansk")
    assert orgs["clusters:dk-klynger:danish-life-science-cluster"][3] == "copenhagen"
    stg = dict(warehouse_rows(cfg, "SELECT org_id, members_total FROM stg_clusters__organisations"))
    assert stg["eccp:900101"] == 1200 and stg["eccp:900102"] is None and stg["kkk-pl:mazowiecki-klaster-testowy"] == 1050
    assert stg["kkk-pl:klaster-bez-liczby"] is None  # the value is in quarantine, the record is not
    src = dict(warehouse_rows(cfg, "SELECT org_id, source_url FROM stg_clusters__organisations"))
    assert src["eccp:900101"] == httpserver.url_for("/content/hamburg-aviation-ev")
    q = {r[0] for r in warehouse_rows(cfg, "SELECT check_name FROM quarantine WHERE source = 'clusters'")}
    assert {"registry_row_without_name", "field_uniqueness", "coerce_dtype('Int64')"} <= q
    landed = {r[0] for r in warehouse_rows(cfg, "SELECT origin FROM landed_files WHERE source = 'clusters'")}
    assert httpserver.url_for("/sitemap.xml") in landed and httpserver.url_for("/files/klynger.xlsx") in landed


def test_changed_page_structure_fails_and_last_good_data_stays(httpserver: HTTPServer, tmp_path):
    site = Site(httpserver)
    cfg = override(tmp_path, httpserver, registries=False)
    first, _ = run_refresh(cfg, "clusters")
    assert first.status == "success" and first.rows_loaded == 4

    changed = (FIX / "eccp_changed_structure.html").read_bytes()  # the site relaunched: a JavaScript shell
    site.pages = {p: changed for p in site.pages}
    second, counts = run_refresh(cfg, "clusters")

    assert second.status == "failed"
    assert "StructureChanged" in second.message and "changed structure: 0 of 5 pages parsed" in second.message
    assert "data-history-node-id" in second.message
    # the last good data is still in the warehouse
    assert sorted(r[0] for r in warehouse_rows(cfg, "SELECT org_id FROM organisations WHERE source = 'clusters'")) == [
        "eccp:900101", "eccp:900102", "eccp:900103", "eccp:900104"]  # fmt: skip
    runs = warehouse_rows(cfg, "SELECT status, message FROM runs WHERE source = 'clusters' ORDER BY started_at")
    assert [r[0] for r in runs] == ["success", "failed"] and "changed structure" in runs[1][1]


def test_max_profiles_bounds_the_crawl_and_a_missing_page_is_tolerated(httpserver: HTTPServer, tmp_path):
    site = Site(httpserver)
    del site.pages["/content/life-science-nord"]
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /content/mobile-heights\n")
    httpserver.expect_request("/sitemap.xml").respond_with_data((FIX / "eccp_sitemap.xml").read_bytes())
    for path in site.pages:
        httpserver.expect_request(path).respond_with_handler(site.handler)
    # life-science-nord: 404; mobile-heights: disallowed by robots.txt; 2 of 4 fetched profiles fail
    cfg = override(tmp_path, httpserver, registries=False, extra="max_profiles = 4\nmax_failed_share = 0.5")

    result, _ = run_refresh(cfg, "clusters")

    assert result.status == "success", result.message
    assert result.rows_loaded == 2  # hamburg-aviation-ev, urban-ict-arena (the 5th URL is beyond max_profiles)
    paths = [req.path for req, _ in httpserver.log]
    assert "/content/mobile-heights" not in paths and "/content/cluster-news-item" not in paths
    assert "/content/life-science-nord" in paths

    (tmp_path / "strict").mkdir()
    strict = override(tmp_path / "strict", httpserver, registries=False, extra="max_profiles = 4")
    with pytest.raises(StructureChanged, match="2 of 4 profile pages could not be fetched"):
        pipeline.land(strict, "clusters")
