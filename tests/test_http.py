"""The Fetcher against a real local HTTP server (pytest-httpserver): landing, conditional GET, retries.

Nothing of baltetl is mocked; the only injection is the Fetcher's own `sleep`, replaced by a recorder so
that backoff and Retry-After waits are asserted instead of slept.  Loopback only.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from baltetl.http import MAX_RETRY_AFTER_S, FetchError, Fetcher
from baltetl.landing import Landing

SOURCE = "cordis"
NAME = "horizon"
BODY = b"PK\x03\x04 not really a zip, but bytes to checksum " * 100
ETAG = '"v1-abc"'
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"
UA = "baltetl-test/1.0"
HOSTS = ("127.0.0.1", "localhost")


def make_fetcher(tmp_path, hosts=HOSTS, **http) -> tuple[Fetcher, list[float]]:
    """A Fetcher landing in tmp_path, with small retries; its waits are recorded, not slept."""
    # robots.txt and the per-host interval have their own tests (test_polite.py); here they stay out of the way
    conf = {"user_agent": UA, "connect_timeout_s": 2, "read_timeout_s": 5, "retries": 2, "backoff_s": 0.5,
            "obey_robots": False, "min_interval_s": 0, **http}
    f = Fetcher(Landing(tmp_path / "landing"), conf, {SOURCE: tuple(hosts)})
    waits: list[float] = []
    f.sleep = waits.append
    return f, waits


def sequence(*responses: Response):
    """A handler answering the i-th request with the i-th response or handler (the last one repeats)."""
    it = list(responses)
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        i = min(calls["n"], len(it) - 1)
        calls["n"] += 1
        r = it[i]
        return r if isinstance(r, Response) else r(request)

    return handler


def truncated(body: bytes, claimed: int) -> Response:
    """A 200 whose Content-Length promises more bytes than are sent (the server then closes)."""
    return Response(iter([body]), headers={"Content-Length": str(claimed)}, direct_passthrough=True)


def landed_files(tmp_path) -> list:
    folder = tmp_path / "landing" / SOURCE
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------------------------- 200 / 304


def test_200_lands_file_with_checksum_and_sidecar(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/data/horizon.zip").respond_with_data(
        BODY, headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED}, content_type="application/zip"
    )
    url = httpserver.url_for("/data/horizon.zip")
    fetcher, waits = make_fetcher(tmp_path)

    got = fetcher.download(url, SOURCE, NAME)

    digest = hashlib.sha256(BODY).hexdigest()
    assert got.sha256 == digest and got.size == len(BODY) and not got.not_modified
    assert got.path == tmp_path / "landing" / SOURCE / f"{NAME}-{digest[:16]}.zip"
    assert got.path.read_bytes() == BODY
    assert got.origin == url and got.name == NAME
    side = json.loads(got.path.with_name(got.path.name + ".json").read_text())
    assert side["url"] == url
    assert side["status"] == 200
    assert side["etag"] == ETAG
    assert side["last_modified"] == LAST_MODIFIED
    assert side["sha256"] == digest and side["bytes"] == len(BODY)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", side["fetched_at"])
    assert side["fetched_at"] == got.fetched_at
    # exactly the file and its sidecar: no .part left behind
    assert landed_files(tmp_path) == sorted([got.path.name, got.path.name + ".json"])
    assert waits == []
    assert len(httpserver.log) == 1
    first_request = httpserver.log[0][0]
    assert first_request.headers.get("User-Agent") == UA
    assert "If-None-Match" not in first_request.headers and "If-Modified-Since" not in first_request.headers


def test_second_download_is_conditional_and_304_returns_previous(httpserver: HTTPServer, tmp_path):
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == ETAG:
            return Response(status=304, headers={"ETag": ETAG})
        return Response(BODY, headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})

    httpserver.expect_request("/data/horizon.zip").respond_with_handler(handler)
    url = httpserver.url_for("/data/horizon.zip")
    fetcher, _ = make_fetcher(tmp_path)

    first = fetcher.download(url, SOURCE, NAME)
    files_after_first = landed_files(tmp_path)
    second = fetcher.download(url, SOURCE, NAME)

    assert len(httpserver.log) == 2
    req2, resp2 = httpserver.log[1]
    assert req2.headers.get("If-None-Match") == ETAG
    assert req2.headers.get("If-Modified-Since") == LAST_MODIFIED
    assert resp2.status_code == 304
    assert second.not_modified is True and first.not_modified is False
    assert (second.path, second.sha256, second.size, second.fetched_at) == (
        first.path, first.sha256, first.size, first.fetched_at,
    )  # fmt: skip
    assert landed_files(tmp_path) == files_after_first  # no new file, no new sidecar


def test_changed_content_lands_a_new_file(httpserver: HTTPServer, tmp_path):
    new_body = BODY + b"changed"
    httpserver.expect_request("/d.zip").respond_with_handler(
        sequence(
            Response(BODY, headers={"ETag": ETAG}),
            Response(new_body, headers={"ETag": '"v2"'}),
        )
    )
    url = httpserver.url_for("/d.zip")
    fetcher, _ = make_fetcher(tmp_path)

    first = fetcher.download(url, SOURCE, NAME)
    second = fetcher.download(url, SOURCE, NAME)

    assert httpserver.log[1][0].headers.get("If-None-Match") == ETAG
    assert not second.not_modified
    assert second.sha256 == hashlib.sha256(new_body).hexdigest() != first.sha256
    assert second.path != first.path and first.path.exists() and second.path.read_bytes() == new_body
    assert len([n for n in landed_files(tmp_path) if n.endswith(".json")]) == 2


def test_304_without_a_previous_download_is_an_error(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_data(b"", status=304)
    fetcher, _ = make_fetcher(tmp_path)
    with pytest.raises(FetchError, match="304"):
        fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)
    assert not [n for n in landed_files(tmp_path) if not n.startswith(".")]


# ----------------------------------------------------------------------------------------------- retries


def test_429_retry_after_is_honoured(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_handler(
        sequence(Response("slow down", status=429, headers={"Retry-After": "7"}), Response(BODY))
    )
    fetcher, waits = make_fetcher(tmp_path, backoff_s=0.5)

    got = fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)

    assert got.path.read_bytes() == BODY
    assert waits == [7.0]  # the server's Retry-After, not the 0.5 s backoff
    assert [r.status_code for _, r in httpserver.log] == [429, 200]


def test_retry_after_is_capped(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_handler(
        sequence(Response(status=503, headers={"Retry-After": "86400"}), Response(BODY))
    )
    fetcher, waits = make_fetcher(tmp_path)
    fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)
    assert waits == [MAX_RETRY_AFTER_S]


def test_500_500_then_200_succeeds_with_backoff(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_handler(
        sequence(Response("oops", status=500), Response("oops", status=500), Response(BODY))
    )
    fetcher, waits = make_fetcher(tmp_path, retries=2, backoff_s=0.5)

    got = fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)

    assert got.sha256 == hashlib.sha256(BODY).hexdigest()
    assert [r.status_code for _, r in httpserver.log] == [500, 500, 200]
    assert waits == [0.5, 1.0]  # exponential backoff


def test_500_forever_fails_after_configured_attempts(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_data("oops", status=500)
    fetcher, waits = make_fetcher(tmp_path, retries=3)

    with pytest.raises(FetchError, match="HTTP 500"):
        fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)

    assert len(httpserver.log) == 4  # 1 + 3 retries
    assert len(waits) == 3
    assert landed_files(tmp_path) == []


def test_404_is_not_retried(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_data("gone", status=404)
    fetcher, waits = make_fetcher(tmp_path, retries=3)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)
    assert len(httpserver.log) == 1 and waits == []


# ---------------------------------------------------------------------------------------------- timeouts


@pytest.fixture
def slow_server():
    """A threaded server (a stalled handler must not block the retry); stalls end at teardown."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    release = threading.Event()
    server.release = release
    yield server
    release.set()
    server.clear()
    server.stop()


def stall(release: threading.Event):
    def handler(request: Request) -> Response:
        release.wait(5)  # far longer than the fetcher's read timeout
        return Response(BODY)

    return handler


def test_read_timeout_is_retried(slow_server, tmp_path):
    slow_server.expect_request("/d.zip").respond_with_handler(sequence(stall(slow_server.release), Response(BODY)))
    fetcher, waits = make_fetcher(tmp_path, read_timeout_s=0.3, retries=2)

    got = fetcher.download(slow_server.url_for("/d.zip"), SOURCE, NAME)

    assert got.path.read_bytes() == BODY
    assert len(waits) == 1  # one failed attempt, then success


def test_read_timeout_forever_fails(slow_server, tmp_path):
    slow_server.expect_request("/d.zip").respond_with_handler(stall(slow_server.release))
    fetcher, waits = make_fetcher(tmp_path, read_timeout_s=0.3, retries=1)

    with pytest.raises(FetchError, match="2 attempts"):
        fetcher.download(slow_server.url_for("/d.zip"), SOURCE, NAME)

    assert len(waits) == 1
    assert landed_files(tmp_path) == []


def test_body_stalling_mid_transfer_is_retried(slow_server, tmp_path):
    release = slow_server.release

    def stalled_body(request: Request) -> Response:
        def gen():
            yield BODY[:100]
            release.wait(5)
            yield BODY[100:]

        return Response(gen(), headers={"Content-Length": str(len(BODY))}, direct_passthrough=True)

    slow_server.expect_request("/d.zip").respond_with_handler(sequence(stalled_body, Response(BODY)))
    fetcher, waits = make_fetcher(tmp_path, read_timeout_s=0.3)

    got = fetcher.download(slow_server.url_for("/d.zip"), SOURCE, NAME)

    assert got.path.read_bytes() == BODY and len(waits) == 1
    assert landed_files(tmp_path) == sorted([got.path.name, got.path.name + ".json"])  # partial file removed


# ----------------------------------------------------------------------------------- hosts, truncation


def test_host_not_configured_is_refused_before_any_request(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_data(BODY)
    fetcher, _ = make_fetcher(tmp_path, hosts=("cordis.europa.eu",))

    with pytest.raises(FetchError, match="not in the source's configured hosts"):
        fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)
    with pytest.raises(FetchError, match="configured hosts"):  # another source's hosts do not count
        fetcher.download(httpserver.url_for("/d.zip"), "other", NAME)

    assert httpserver.log == []
    assert landed_files(tmp_path) == []


def test_truncated_body_is_retried_and_never_landed(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_handler(
        sequence(lambda request: truncated(BODY[:50], len(BODY)), Response(BODY))
    )
    fetcher, waits = make_fetcher(tmp_path, retries=2)

    got = fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)

    assert len(httpserver.log) == 2 and len(waits) == 1
    assert got.sha256 == hashlib.sha256(BODY).hexdigest()
    assert landed_files(tmp_path) == sorted([got.path.name, got.path.name + ".json"])


def test_truncated_body_forever_fails(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/d.zip").respond_with_handler(lambda request: truncated(BODY[:50], len(BODY)))
    fetcher, waits = make_fetcher(tmp_path, retries=2)

    with pytest.raises(FetchError, match="3 attempts"):
        fetcher.download(httpserver.url_for("/d.zip"), SOURCE, NAME)

    assert len(httpserver.log) == 3 and len(waits) == 2
    assert landed_files(tmp_path) == []  # no partial file, no .part, no sidecar
