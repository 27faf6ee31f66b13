"""The CORDIS source's live-fetch path end to end, against a real local HTTP server.

The bundled sample (a real CORDIS Horizon Europe XML cut, tar.xz) and a real .zip built from some of its
members are served from 127.0.0.1; an override TOML points [[sources.cordis.downloads]] there.  Then
pipeline.land -> parse -> stage, exactly as a refresh runs them, and a second land gets a 304.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from baltetl import pipeline
from baltetl.config import load_config
from baltetl.state import State
from helpers.common import local_toml

SAMPLE = Path(__file__).resolve().parents[3] / "src" / "baltetl" / "sources" / "cordis" / "sample" / "cordis-HORIZON-xml-baltmet-sample.tar.xz"
SAMPLE_PROJECTS = 575
SAMPLE_PARTICIPATIONS = 13983
ZIP_MEMBERS = 12


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


def serve_conditionally(server: HTTPServer, path: str, body: bytes, content_type: str) -> str:
    """Serve `body` at `path` with an ETag; a request carrying that ETag in If-None-Match gets 304."""
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=content_type,
                        headers={"ETag": etag, "Last-Modified": "Fri, 06 Nov 2026 10:00:00 GMT"})  # fmt: skip

    server.expect_request(path).respond_with_handler(handler)
    return etag


def override(tmp_path, url: str) -> object:
    """An override TOML: the one download points at the local server, which is the only allowed host."""
    toml = local_toml(
        tmp_path / "override.toml",
        f"""
[sources.cordis]
hosts = ["127.0.0.1", "localhost"]
parse_workers = 1

[[sources.cordis.downloads]]
name = "horizon"
url = "{url}"
enabled = true
""",
        retries=1,
        read_timeout_s=10,
    )
    cfg = load_config(toml, warehouse=tmp_path / "wh.duckdb")
    downloads = cfg.source("cordis").options.downloads
    # arrays of tables replace the default list: only the local URL, never cordis.europa.eu
    assert [d.url for d in downloads] == [url]
    assert cfg.source("cordis").hosts == ("127.0.0.1", "localhost")
    return cfg


def run(cfg):
    """Land, parse and stage: -> (files, the parsed project ids, the parse's rejects, the stage's result); the
    ids and rejects taken before staging, which uses the parsed tables up."""
    files = pipeline.land(cfg, "cordis")
    parsed = pipeline.parse(cfg, "cordis", files)
    ids, rejects = set(parsed.tables["projects"]["project_id"]), list(parsed.rejects)
    result = pipeline.stage(cfg, "cordis", parsed, files, pipeline.new_run_id(), time.time(), log=lambda m: None)
    assert not parsed.tables and not parsed.rejects  # used up: freed before the build
    return files, ids, rejects, result


def snapshot_count(cfg, table: str) -> int:
    snap = State(cfg.state).current("cordis")
    assert snap is not None
    con = duckdb.connect()
    try:
        return con.execute("SELECT count(*) FROM read_parquet(?)", [str(snap / f"{table}.parquet")]).fetchone()[0]
    finally:
        con.close()


def test_fetch_sample_tar_xz_end_to_end_then_304(httpserver: HTTPServer, tmp_path):
    body = SAMPLE.read_bytes()
    etag = serve_conditionally(httpserver, "/data/cordis-HORIZONprojects-xml.tar.xz", body, "application/x-xz")
    url = httpserver.url_for("/data/cordis-HORIZONprojects-xml.tar.xz")
    cfg = override(tmp_path, url)

    files, parsed_ids, rejects, result = run(cfg)

    assert len(files) == 1
    f = files[0]
    assert f.origin == url and f.name == "horizon" and not f.not_modified
    assert f.sha256 == hashlib.sha256(body).hexdigest()
    assert f.path.parent == cfg.landing / "cordis" and f.path.name.endswith(".tar.xz")
    assert f.path.read_bytes() == body
    assert not rejects
    assert result.status == "success"
    assert result.tables["projects"]["loaded"] == SAMPLE_PROJECTS
    assert result.tables["participations"]["loaded"] == SAMPLE_PARTICIPATIONS
    assert snapshot_count(cfg, "projects") == SAMPLE_PROJECTS
    assert snapshot_count(cfg, "participations") == SAMPLE_PARTICIPATIONS
    meta = State(cfg.state).meta("cordis")
    assert [(i["origin"], i["sha256"], i["not_modified"]) for i in meta["input_files"]] == [(url, f.sha256, False)]

    # second refresh: conditional GET, 304, the previous download is reused and nothing new lands
    landed_before = sorted(p.name for p in (cfg.landing / "cordis").iterdir())
    again = pipeline.land(cfg, "cordis")

    data = [(q, r) for q, r in httpserver.log if q.path != "/robots.txt"]  # robots.txt is read once per run
    assert len(data) == 2
    req, resp = data[1]
    assert req.headers.get("If-None-Match") == etag
    assert resp.status_code == 304
    assert len(again) == 1 and again[0].not_modified
    assert (again[0].path, again[0].sha256) == (f.path, f.sha256)
    assert sorted(p.name for p in (cfg.landing / "cordis").iterdir()) == landed_before


def sample_zip(n: int) -> tuple[bytes, set[str]]:
    """A real .zip of the first n project XML files of the sample, and their project ids (read here)."""
    buf, ids = io.BytesIO(), set()
    with tarfile.open(SAMPLE, "r:xz") as tar, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".xml")][:n]
        for m in members:
            data = tar.extractfile(m).read()
            ids.add(ET.fromstring(data).findtext("id").strip())
            z.writestr(m.name, data)
    assert len(ids) == n
    return buf.getvalue(), ids


def test_fetch_real_zip_end_to_end_then_304(httpserver: HTTPServer, tmp_path):
    body, ids = sample_zip(ZIP_MEMBERS)
    etag = serve_conditionally(httpserver, "/data/cordis-HORIZONprojects-xml.zip", body, "application/zip")
    url = httpserver.url_for("/data/cordis-HORIZONprojects-xml.zip")
    cfg = override(tmp_path, url)

    files, parsed_ids, rejects, result = run(cfg)

    f = files[0]
    assert f.path.suffix == ".zip" and zipfile.is_zipfile(f.path)
    assert f.sha256 == hashlib.sha256(body).hexdigest()
    side = json.loads(f.path.with_name(f.path.name + ".json").read_text())
    assert side["url"] == url and side["etag"] == etag and side["status"] == 200
    assert result.status == "success"
    assert result.tables["projects"]["loaded"] == ZIP_MEMBERS
    assert parsed_ids == ids
    assert snapshot_count(cfg, "projects") == ZIP_MEMBERS
    assert snapshot_count(cfg, "participations") == result.tables["participations"]["loaded"] > 0

    again = pipeline.land(cfg, "cordis")
    assert httpserver.log[-1][0].headers.get("If-None-Match") == etag
    assert httpserver.log[-1][1].status_code == 304
    assert again[0].not_modified and again[0].path == f.path
