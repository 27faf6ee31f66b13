"""The HTTP layer against a hostile server (issue 19, items 5 and 6): redirects off the allow-list or into
robots.txt-disallowed paths, loops, endless bodies, gzip bombs, a huge robots.txt, a slow drip, and a host
name that does not resolve.  A real local server (pytest-httpserver), nothing of baltetl mocked.
"""

from __future__ import annotations

import gzip
import json
import resource
import socket
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from baltetl.config import ConfigError, load_config
from baltetl.http import Fetcher, FetchRefused, RobotsDisallowed, worth_retrying
from baltetl.landing import Landing

SOURCE = "keep"
NAME = "export"
UA = "baltetl-test/1.0"
BODY = b"partner;city\n" * 200


def make_fetcher(tmp_path, hosts=("127.0.0.1",), limits=None, **http) -> tuple[Fetcher, list[float]]:
    conf = {"user_agent": UA, "connect_timeout_s": 2, "read_timeout_s": 5, "retries": 2, "backoff_s": 0.5,
            "obey_robots": False, "min_interval_s": 0, **http}
    kwargs = {"limits": limits} if limits is not None else {}
    f = Fetcher(Landing(tmp_path / "landing"), conf, {SOURCE: tuple(hosts)}, **kwargs)
    waits: list[float] = []
    f.sleep = waits.append
    return f, waits


def landed_files(tmp_path) -> list[str]:
    folder = tmp_path / "landing" / SOURCE
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, headers={"Location": location})


@pytest.fixture
def server():
    """A threaded server: a streaming handler must not block the next request."""
    s = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    s.start()
    yield s
    s.clear()
    s.stop()


# ------------------------------------------------------------------------------------------ redirects (5)


def test_redirect_to_an_unconfigured_host_is_refused(server, tmp_path):
    # "localhost" reaches the same server, but only 127.0.0.1 is configured for the source
    server.expect_request("/d.csv").respond_with_response(redirect(f"http://localhost:{server.port}/evil.csv"))
    server.expect_request("/evil.csv").respond_with_data(b"evil")
    fetcher, _ = make_fetcher(tmp_path)

    with pytest.raises(FetchRefused, match="'localhost' is not in the source's configured hosts"):
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)

    assert [req.path for req, _ in server.log] == ["/d.csv"]  # the other host was never asked
    assert landed_files(tmp_path) == []


def test_redirect_to_a_path_robots_disallows_is_refused(server, tmp_path):
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    server.expect_request("/open.csv").respond_with_response(redirect("/private/list.csv"))
    server.expect_request("/private/list.csv").respond_with_data(b"secret")
    fetcher, waits = make_fetcher(tmp_path, obey_robots=True)

    with pytest.raises(RobotsDisallowed, match="disallows .*/private/list.csv"):
        fetcher.download(server.url_for("/open.csv"), SOURCE, NAME)

    assert [req.path for req, _ in server.log] == ["/robots.txt", "/open.csv"]
    assert landed_files(tmp_path) == [] and waits == []


def test_robots_txt_redirecting_to_an_unconfigured_host_is_refused(server, tmp_path):
    def robots(request: Request) -> Response:
        if request.host.startswith("localhost"):
            return Response("User-agent: *\nAllow: /\n")
        return redirect(f"http://localhost:{server.port}/robots.txt", 301)

    server.expect_request("/robots.txt").respond_with_handler(robots)
    server.expect_request("/d.csv").respond_with_data(BODY)
    fetcher, _ = make_fetcher(tmp_path, obey_robots=True)

    with pytest.raises(FetchRefused, match="'localhost' is not in the source's configured hosts"):
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)
    assert [(req.host.split(":")[0], req.path) for req, _ in server.log] == [("127.0.0.1", "/robots.txt")]
    assert landed_files(tmp_path) == []


def test_redirect_to_another_scheme_is_refused(server, tmp_path):
    server.expect_request("/d.csv").respond_with_response(redirect("file:///etc/passwd"))
    fetcher, waits = make_fetcher(tmp_path)

    with pytest.raises(FetchRefused, match="scheme 'file'"):
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)
    assert len(server.log) == 1 and waits == [] and landed_files(tmp_path) == []


def test_a_good_redirect_lands_with_the_final_url_and_stays_conditional(server, tmp_path):
    etag = '"v1"'

    def new(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(BODY, headers={"ETag": etag})

    server.expect_request("/old.csv").respond_with_response(redirect("/moved.csv", 301))
    server.expect_request("/moved.csv").respond_with_response(redirect("/new.csv", 307))
    server.expect_request("/new.csv").respond_with_handler(new)
    fetcher, _ = make_fetcher(tmp_path)
    old, final = server.url_for("/old.csv"), server.url_for("/new.csv")

    got = fetcher.download(old, SOURCE, NAME)

    assert got.path.read_bytes() == BODY and got.origin == final
    side = json.loads(got.path.with_name(got.path.name + ".json").read_text())
    assert side["url"] == final and side["origin"] == final and side["requested_url"] == old
    assert side["redirects"] == [old, server.url_for("/moved.csv"), final]

    again = fetcher.download(old, SOURCE, NAME)  # the same chain; the validators go to the URL they came from

    assert again.not_modified and again.path == got.path
    second = [(req.path, req.headers.get("If-None-Match")) for req, _ in server.log[3:]]
    assert second == [("/old.csv", None), ("/moved.csv", None), ("/new.csv", etag)]


def test_a_redirect_loop_stops(server, tmp_path):
    server.expect_request("/a").respond_with_response(redirect("/b"))
    server.expect_request("/b").respond_with_response(redirect("/a"))
    fetcher, waits = make_fetcher(tmp_path)

    with pytest.raises(FetchRefused, match="redirect loop"):
        fetcher.download(server.url_for("/a"), SOURCE, NAME)
    assert [req.path for req, _ in server.log] == ["/a", "/b"] and waits == []


def test_too_many_redirects_stop(server, tmp_path):
    for i in range(10):
        server.expect_request(f"/{i}").respond_with_response(redirect(f"/{i + 1}"))
    fetcher, waits = make_fetcher(tmp_path, max_redirects=3)

    with pytest.raises(FetchRefused, match="more than 3 redirects"):
        fetcher.download(server.url_for("/0"), SOURCE, NAME)
    assert len(server.log) == 4 and waits == [] and landed_files(tmp_path) == []


# ------------------------------------------------------------------------------------------ limits (6)


def _stream(chunk: bytes, times: int, pause: float = 0.0, sent: list | None = None):
    def handler(request: Request) -> Response:
        def gen():
            for _ in range(times):
                if sent is not None:
                    sent.append(len(chunk))
                yield chunk
                if pause:
                    time.sleep(pause)

        return Response(gen(), direct_passthrough=True)

    return handler


@pytest.mark.slow
def test_an_endless_body_fails_at_max_mb(server, tmp_path):
    # "endless": 256 MiB in 64 KiB pieces, far past a 1 MiB limit
    server.expect_request("/d.csv").respond_with_handler(_stream(b"x" * 65536, 4096))
    fetcher, waits = make_fetcher(tmp_path, max_mb=1)

    t0 = time.monotonic()
    with pytest.raises(FetchRefused, match=r"max_mb 1 ") as err:
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)

    assert time.monotonic() - t0 < 5
    assert "\n" not in str(err.value) and not worth_retrying(err.value)
    assert len(server.log) == 1 and waits == []  # not retried: the same body would come again
    assert landed_files(tmp_path) == []  # no file, no .part


def test_an_announced_size_over_the_limit_is_refused_before_reading(server, tmp_path):
    server.expect_request("/d.csv").respond_with_data(b"y" * (2 << 20))
    fetcher, waits = make_fetcher(tmp_path, max_mb=1)

    with pytest.raises(FetchRefused, match=r"announces 2097152 bytes, over max_mb 1 "):
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)
    assert waits == [] and landed_files(tmp_path) == []


def _gzip_bomb(total_mib: int) -> bytes:
    """A gzip body of `total_mib` MiB of zeros, as concatenated members (valid gzip, ~1 KiB a MiB)."""
    return gzip.compress(b"\0" * (1 << 20), 9) * total_mib


@pytest.mark.slow
def test_a_gzip_bomb_fails_at_the_ratio_limit_without_large_memory(server, tmp_path):
    bomb = _gzip_bomb(1024)  # ~1 MB on the wire, 1 GiB decoded
    server.expect_request("/d.csv").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    fetcher, waits = make_fetcher(tmp_path)  # the defaults: max_mb 2048 would let 1 GiB in; the ratio not

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(FetchRefused, match=r"max_encoding_ratio"):
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)

    assert time.monotonic() - t0 < 10
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100
    assert len(server.log) == 1 and waits == [] and landed_files(tmp_path) == []


def test_a_small_gzip_body_lands_decoded(server, tmp_path):
    server.expect_request("/d.csv").respond_with_data(gzip.compress(BODY), headers={"Content-Encoding": "gzip"})
    fetcher, _ = make_fetcher(tmp_path)
    assert fetcher.download(server.url_for("/d.csv"), SOURCE, NAME).path.read_bytes() == BODY


@pytest.mark.slow
def test_a_huge_robots_txt_is_read_only_up_to_the_cap(server, tmp_path):
    sent: list[int] = []
    head = b"User-agent: *\nDisallow: /private/\n"
    padding = b"# " + b"." * 1021 + b"\n"  # 1 KiB lines; 64 MiB of them, then a rule nobody should read

    def robots(request: Request) -> Response:
        def gen():
            sent.append(len(head))
            yield head
            for _ in range(64):
                sent.append(1 << 20)
                yield padding * 1024
            yield b"Disallow: /late/\n"

        return Response(gen(), direct_passthrough=True)

    server.expect_request("/robots.txt").respond_with_handler(robots)
    server.expect_request("/late/d.csv").respond_with_data(BODY)
    fetcher, _ = make_fetcher(tmp_path, obey_robots=True)

    with pytest.raises(RobotsDisallowed):
        fetcher.download(server.url_for("/private/d.csv"), SOURCE, NAME)  # the rules in the first 500 KiB hold
    got = fetcher.download(server.url_for("/late/d.csv"), SOURCE, "late")  # the rule past the cap is not read

    assert got.path.read_bytes() == BODY
    assert sum(sent) < 16 << 20  # the server was not drained (socket buffers hold a few MiB at most)


@pytest.mark.slow
def test_a_slow_drip_fails_at_the_deadline(server, tmp_path):
    # one byte every 0.4 s never trips the 5 s read timeout; the 1.5 s deadline of the download does
    server.expect_request("/d.csv").respond_with_handler(_stream(b"z", 12, pause=0.4))
    fetcher, waits = make_fetcher(tmp_path, deadline_s=1.5)

    t0 = time.monotonic()
    with pytest.raises(FetchRefused, match=r"deadline_s 1.5"):
        fetcher.download(server.url_for("/d.csv"), SOURCE, NAME)

    assert time.monotonic() - t0 < 3
    assert len(server.log) <= 1 and waits == [] and landed_files(tmp_path) == []


def test_limits_come_from_http_and_each_source_may_tighten_them(tmp_path, monkeypatch):
    from baltetl.pipeline import fetcher_for

    monkeypatch.delenv("BALTETL_CONFIG", raising=False)
    cfg = load_config(warehouse=tmp_path / "w.duckdb")
    f = fetcher_for(cfg)
    assert f.limits("cordis")["max_mb"] == cfg.http["max_mb"] >= 1024  # CORDIS archives: hundreds of MB
    assert f.limits("eurocities")["max_mb"] < cfg.http["max_mb"]
    assert f.limits("eurocities")["deadline_s"] < f.limits("cordis")["deadline_s"]
    with pytest.raises(ConfigError, match=r"\[sources.keep.http\].*'max_bytes'"):
        Fetcher(Landing(tmp_path), cfg.http, {}, limits={"keep": {"max_bytes": 1}})


# -------------------------------------------------------------------------------- a name that does not resolve


@pytest.fixture
def no_dns_for_invalid(monkeypatch):
    """The resolver answers for `.invalid` as RFC 6761 asks (no such name) without asking the network."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".invalid"):
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("robots", [True, False])
def test_an_unresolvable_host_fails_fast_and_is_not_retried(tmp_path, no_dns_for_invalid, robots):
    fetcher, waits = make_fetcher(tmp_path, hosts=("nonexistent.invalid",), retries=4, obey_robots=robots)

    t0 = time.monotonic()
    with pytest.raises(FetchRefused, match=r"host 'nonexistent.invalid' does not resolve") as err:
        fetcher.download("https://nonexistent.invalid/data.csv", SOURCE, NAME)

    assert time.monotonic() - t0 < 2
    assert waits == [] and not worth_retrying(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200
    assert no_dns_for_invalid  # the name was looked up (and refused) by the resolver
    assert landed_files(tmp_path) == []
