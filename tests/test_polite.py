"""The polite side of the HTTP layer, against a real local server: robots.txt, per-host interval, names."""

import pytest
from pytest_httpserver import HTTPServer

from baltetl.http import FetchError, Fetcher, RobotsDisallowed, page_name
from baltetl.landing import Landing

UA = "baltetl-test/1.0 (+contact)"


def fetcher(tmp_path, **http):
    conf = {"user_agent": UA, "retries": 0, "min_interval_s": 0, **http}
    f = Fetcher(Landing(tmp_path / "landing"), conf, {"eurocities": ("127.0.0.1", "localhost")})
    waits = []
    f.sleep = waits.append
    return f, waits


ROBOTS = """User-agent: *
Disallow: /wp-admin/
Disallow: /*?s=
Disallow: /*.pdf$
"""


def test_robots_disallow_sends_no_request(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/robots.txt").respond_with_data(ROBOTS)
    httpserver.expect_request("/cities/").respond_with_data("<html>ok</html>")
    f, _ = fetcher(tmp_path)
    for path in ("/wp-admin/x", "/search?s=riga", "/files/report.pdf"):  # prefix, * and $ rules
        with pytest.raises(RobotsDisallowed):
            f.get(httpserver.url_for(path), "eurocities")
    landed = f.get(httpserver.url_for("/cities/"), "eurocities")
    assert landed.path.read_text() == "<html>ok</html>"
    paths = [req.path for req, _ in httpserver.log]
    assert paths == ["/robots.txt", "/cities/"]  # robots.txt read once; nothing disallowed was requested
    assert all(req.headers["User-Agent"] == UA for req, _ in httpserver.log)


def test_robots_404_allows_and_500_refuses(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/a").respond_with_data("a")
    f, _ = fetcher(tmp_path)
    assert f.get(httpserver.url_for("/a"), "eurocities").path.read_text() == "a"
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503)
    f2, _ = fetcher(tmp_path / "2")
    with pytest.raises(FetchError, match="RFC 9309"):
        f2.get(httpserver.url_for("/a"), "eurocities")
    assert [req.path for req, _ in httpserver.log] == ["/robots.txt"]


def test_robots_can_be_switched_off(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/a").respond_with_data("a")
    f, _ = fetcher(tmp_path, obey_robots=False)
    f.get(httpserver.url_for("/a"), "eurocities")
    assert [req.path for req, _ in httpserver.log] == ["/a"]


def test_requests_to_one_host_keep_the_interval(httpserver: HTTPServer, tmp_path):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    for p in ("/1", "/2", "/3"):
        httpserver.expect_request(p).respond_with_data(p)
    f, waits = fetcher(tmp_path, min_interval_s=5)
    for p in ("/1", "/2", "/3"):
        f.get(httpserver.url_for(p), "eurocities")
    # robots.txt, then three pages: every request after the first waited (almost) the whole interval
    assert len(waits) == 3 and all(4.5 < w <= 5 for w in waits)


def test_page_names_are_readable_and_distinct():
    a = page_name("https://eurocities.eu/cities/")
    b = page_name("https://eurocities.eu/cities/riga/")
    c = page_name("https://keep.eu/api/search/projects/?page=2")
    assert a.startswith("cities-") and b.startswith("cities-riga-") and c.startswith("api-search-projects-page-2-")
    assert len({a, b, c}) == 3


def test_only_passing_failures_are_worth_retrying():
    from baltetl.http import FetchRefused, worth_retrying
    from baltetl.types import NoInput

    assert worth_retrying(FetchError("HTTP 503 from x"))
    assert not worth_retrying(FetchRefused("HTTP 404 from x"))
    assert not worth_retrying(RobotsDisallowed("robots.txt disallows x"))
    assert not worth_retrying(NoInput("no URL configured"))
