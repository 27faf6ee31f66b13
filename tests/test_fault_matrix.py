"""What a refresh does when one live source breaks: the fault matrix of README "What happens when things fail".

A local threaded HTTP server plays every fetching source (cordis: a zip of real sample projects; eurocities:
the directory built from the real member names; keep: a cut of the real partner export; clusters: the ECCP
sitemap and profile fixtures).  A good refresh loads version A of everything; then each row refreshes
version B (more rows) with one fault on one source.  That source fails with the reason in its runs message
and keeps its last good data (snapshot and warehouse rows); the others load version B; the run is partial.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import duckdb
import pytest
from helpers.common import FIXTURES, ROOT, local_toml, sample_cut
from pytest_httpserver import HTTPServer
from helpers.eurocities import directory_html, pairs
from werkzeug import Request, Response

from baltetl import pipeline
from baltetl.config import load_config
from baltetl.state import State

SOURCES = ("cordis", "eurocities", "keep", "clusters")
KEEP_EXPORT = ROOT / "src/baltetl/sources/keep/sample/keep/keep_closed_2014-2020_partnership_export_2019_bsr-cut.csv"
ECCP = FIXTURES / "clusters"
SLUGS = ["hamburg-aviation-ev", "life-science-nord", "mobile-heights", "urban-ict-arena", "cluster-news-item"]
CORE = {"cordis": ("projects", "organisations", "participations"), "eurocities": ("organisations", "network_memberships"),
        "keep": ("projects", "organisations", "participations"), "clusters": ("organisations",)}  # fmt: skip
CORDIS = "/cordis/horizon.zip"
DIRECTORY = "/cities/"
KEEP = "/keep/partners.csv"
SITEMAP = "/sitemap.xml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


def keep_cut(n: int) -> bytes:
    rows = list(csv.reader(io.StringIO(KEEP_EXPORT.read_text(encoding="utf-8-sig"), newline=""), delimiter=";"))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows[: n + 1])
    return out.getvalue().encode("utf-8")


def sitemap(slugs: list[str]) -> bytes:
    """The ECCP sitemap fixture with only these profiles (its other <loc> lines stay)."""
    text = (ECCP / "eccp_sitemap.xml").read_text(encoding="utf-8")
    gone = [s for s in SLUGS if s not in slugs]
    return "".join(ln for ln in text.splitlines(keepends=True) if not any(f"/content/{s}<" in ln for s in gone)).encode()


class Site:
    """Serves version A or B of every source; `faults` maps a path to a handler that breaks it."""

    def __init__(self, server: HTTPServer):
        members = pairs()
        self.content = {
            CORDIS: {"A": sample_cut(3), "B": sample_cut(4)},
            DIRECTORY: {"A": directory_html(members[:30]).encode(), "B": directory_html(members[:40]).encode()},
            KEEP: {"A": keep_cut(40), "B": keep_cut(60)},
            SITEMAP: {"A": sitemap(SLUGS[:3]), "B": sitemap(SLUGS)},
        } | {f"/content/{s}": {v: (ECCP / f"eccp_{s}.html").read_bytes() for v in "AB"} for s in SLUGS}
        self.version = "A"
        self.faults: dict[str, Callable[[Request], Response]] = {}
        self.release = threading.Event()  # ends stalled responses
        server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /admin/\n")
        server.expect_request(re.compile(r"^/(?!robots\.txt).*")).respond_with_handler(self.handler)

    def handler(self, request: Request) -> Response:
        if request.path in self.faults:
            return self.faults[request.path](request)
        if request.path not in self.content:
            return Response("not found", status=404)
        return Response(self.content[request.path][self.version])


@pytest.fixture(scope="module")
def server():
    s = HTTPServer(host="127.0.0.1", port=0, threaded=True)  # a stalled answer must not hold up the others
    s.start()
    site = Site(s)
    yield s, site
    site.release.set()
    s.clear()
    s.stop()


def config(folder, server: HTTPServer):
    base = server.url_for("/").rstrip("/")
    toml = local_toml(folder / "live.toml", f"""
[sources.cordis]
hosts = ["127.0.0.1"]
parse_workers = 1
downloads = [{{ name = "horizon", url = "{base}{CORDIS}" }}]

[sources.eurocities]
hosts = ["127.0.0.1"]
directory_url = "{base}{DIRECTORY}"
member_pages = false
min_rows = {{ organisations = 10, network_memberships = 10 }}

[sources.keep]
hosts = ["127.0.0.1"]
modes = ["exports"]
exports = [{{ name = "bsr", url = "{base}{KEEP}" }}]

[sources.clusters]
hosts = ["127.0.0.1"]
sitemap_url = "{base}{SITEMAP}"
eccp_base_url = "{base}"
registries = []
max_quarantine_share = 0.5
""", retries=1, connect_timeout_s=2, read_timeout_s=1)  # fmt: skip
    return load_config(toml, warehouse=folder / "wh" / "baltmet.duckdb")


@pytest.fixture(scope="module")
def good(server, tmp_path_factory):
    """The warehouse folder after a good refresh of version A, every source loaded."""
    httpserver, site = server
    folder = tmp_path_factory.mktemp("good")
    site.version = "A"
    run = pipeline.refresh(config(folder, httpserver), list(SOURCES))
    assert run["status"] == "success", run["reasons"]
    return folder


def source_rows(cfg, source: str) -> dict:
    """Row count and an order-independent hash of the source's rows in each core table."""
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*), coalesce(sum(hash(x)::HUGEINT), 0) FROM {t} x WHERE source = ?",
                               [source]).fetchone() for t in CORE[source]}  # fmt: skip
    finally:
        con.close()


# -- the faults ------------------------------------------------------------------------------------------


def status(code: int, headers: dict | None = None):
    return lambda request: Response(f"HTTP {code}", status=code, headers=headers or {})


def stall(site: Site):
    def handler(request: Request) -> Response:
        site.release.wait(10)  # far longer than the read timeout
        return Response("too late")

    return handler


def truncated_transfer(site: Site):
    body = site.content[CORDIS]["B"]
    return lambda request: Response(iter([body[: len(body) // 2]]), headers={"Content-Length": str(len(body))},
                                    direct_passthrough=True)  # fmt: skip


def endless(request: Request) -> Response:
    """A body that does not end (256 MiB of it, so that a test without a limit ends too)."""
    return Response((b"x" * 65536 for _ in range(4096)), direct_passthrough=True)


def drip(request: Request) -> Response:
    """One byte every 0.3 s: each read is quick, the download never ends."""
    def gen():
        for _ in range(20):
            yield b"<"
            time.sleep(0.3)

    return Response(gen(), direct_passthrough=True)


def off_host(site: Site):
    """A redirect to the same server under a host the source has not configured (which would serve it)."""
    def handler(request: Request) -> Response:
        if request.host.startswith("localhost"):
            return Response(site.content[CORDIS][site.version])
        return Response(status=302, headers={"Location": f"http://localhost:{request.host.split(':')[1]}{CORDIS}"})

    return handler


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Fault:
    name: str
    source: str
    apply: Callable  # (site, cfg) -> None
    reason: str  # regex of the failed source's runs message


FAULTS = [
    Fault("http-500", "cordis", lambda site, cfg: site.faults.update({CORDIS: status(500)}),
          r"FetchError: cordis: download of \S+ failed after 2 attempts: HTTP 500"),
    Fault("http-429-retry-after", "keep", lambda site, cfg: site.faults.update({KEEP: status(429, {"Retry-After": "1"})}),
          r"FetchError: keep: download of \S+ failed after 2 attempts: HTTP 429"),
    Fault("timeout", "eurocities", lambda site, cfg: (site.faults.update({DIRECTORY: stall(site)}),
                                                      cfg.http.update(read_timeout_s=0.4)),
          r"FetchError: eurocities: download of \S+ failed after 2 attempts: .*[Rr]ead timed out"),
    Fault("truncated-archive", "cordis",
          lambda site, cfg: site.faults.update({CORDIS: lambda r: Response(site.content[CORDIS]["B"][:3000])}),
          r"ArchiveError: .*archive is truncated or corrupt"),
    Fault("truncated-transfer", "cordis", lambda site, cfg: site.faults.update({CORDIS: truncated_transfer(site)}),
          r"FetchError: cordis: download of \S+ failed after 2 attempts: .*IncompleteRead"),
    Fault("empty-page", "eurocities", lambda site, cfg: site.faults.update({DIRECTORY: lambda r: Response(b"")}),
          r"StructureChanged: eurocities: the directory page \S+ is empty"),
    Fault("changed-html", "clusters", lambda site, cfg: site.faults.update(
          {f"/content/{s}": lambda r: Response((ECCP / "eccp_changed_structure.html").read_bytes()) for s in SLUGS}),
          r"StructureChanged: ECCP profile pages have changed structure: 0 of \d+ pages parsed"),
    Fault("wrong-encoding", "keep", lambda site, cfg: site.faults.update(
          {KEEP: lambda r: Response(site.content[KEEP]["B"].decode().encode("utf-16"), content_type="text/csv; charset=utf-8")}),
          r"StructureChanged: \S+ \(landed as \S+\): not UTF-8"),  # the URL it came from, then the landing
    Fault("dead-host", "clusters", lambda site, cfg: cfg.sources.update(clusters=cfg.source("clusters").with_options(
          sitemap_url=f"http://127.0.0.1:{closed_port()}/sitemap.xml")),
          r"FetchError: \S+/robots.txt unreachable"),
    Fault("redirect-off-host", "cordis", lambda site, cfg: site.faults.update({CORDIS: off_host(site)}),
          r"FetchRefused: cordis: host 'localhost' is not in the source's configured hosts .* \(redirected from \S+\)"),
    Fault("endless-body", "keep", lambda site, cfg: (site.faults.update({KEEP: endless}),
                                                     cfg.sources.update(keep=replace(cfg.source("keep"), http={"max_mb": 1}))),
          r"FetchLimit: keep: \S+ sent more than max_mb 1 \(MiB\)"),
    Fault("slow-drip", "eurocities", lambda site, cfg: (site.faults.update({DIRECTORY: drip}),
                                                        cfg.sources.update(eurocities=replace(cfg.source("eurocities"), http={"deadline_s": 1}))),
          r"FetchLimit: eurocities: \S+ not received within deadline_s 1 "),
]  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_broken_source_keeps_its_last_good_data_while_the_others_refresh(fault, server, good, tmp_path):
    httpserver, site = server
    folder = tmp_path / "run"
    shutil.copytree(good, folder)
    cfg = config(folder, httpserver)
    state = State(cfg.state)
    before = {s: state.meta(s)["run_id"] for s in SOURCES}
    kept = source_rows(cfg, fault.source)
    loaded_a = {s: state.meta(s)["counts"] for s in SOURCES}

    site.version = "B"
    fault.apply(site, cfg)
    try:
        t0 = time.monotonic()
        run = pipeline.refresh(cfg, list(SOURCES))
        took = time.monotonic() - t0
    finally:
        site.faults.clear()
        site.version = "A"

    results = {r["source"]: r for r in run["sources"]}
    assert run["status"] == "partial"
    assert results[fault.source]["status"] == "failed"
    assert re.search(fault.reason, results[fault.source]["message"]), results[fault.source]["message"]
    assert run["reasons"] == [f"{fault.source}: {results[fault.source]['message']}"]
    # the broken source: its snapshot and its warehouse rows are the last good ones
    assert state.meta(fault.source)["run_id"] == before[fault.source]
    assert source_rows(cfg, fault.source) == kept
    # the others loaded version B (more rows than A in some table)
    for s in set(SOURCES) - {fault.source}:
        assert results[s]["status"] == "success", results[s]["message"]
        assert state.meta(s)["run_id"] == run["run_id"]
        counts = state.meta(s)["counts"]
        assert any(counts[t] > loaded_a[s][t] for t in counts), (s, counts, loaded_a[s])
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        recorded = con.execute("SELECT source, status, message FROM runs WHERE run_id = ? ORDER BY source",
                               [run["run_id"]]).fetchall()  # fmt: skip
    finally:
        con.close()
    assert [(s, st) for s, st, _ in recorded] == sorted((s, "failed" if s == fault.source else "success") for s in SOURCES)
    assert dict((s, m) for s, _, m in recorded)[fault.source] == results[fault.source]["message"]
    if fault.name == "http-429-retry-after":
        assert took >= 1.0  # the retry waited the Retry-After second


def test_run_status():
    def r(source, status):
        return pipeline.SourceResult(source, status, f"{status} message")

    assert pipeline.run_status([r("a", "success"), r("b", "unchanged"), r("c", "skipped")]) == ("success", [])
    assert pipeline.run_status([r("a", "failed"), r("b", "unchanged")]) == ("partial", ["a: failed message"])
    assert pipeline.run_status([r("a", "failed"), r("b", "failed"), r("c", "skipped")]) == (
        "failed", ["a: failed message", "b: failed message"])  # fmt: skip
    assert pipeline.run_status([r("c", "skipped")]) == ("success", [])
