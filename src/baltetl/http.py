"""The one polite HTTP layer every fetching source uses.

- a clear User-Agent with contact; only hosts the source lists in its configuration;
- robots.txt obeyed (protego, which understands `*` and `$`; RFC 9309: a 4xx robots.txt allows all, an
  unreachable one disallows all);
- per host at most one request at a time and a minimum interval between requests;
- timeouts; retries with exponential backoff on 429/5xx, connection errors and truncated bodies, honouring
  Retry-After (tenacity);
- conditional GET (ETag / Last-Modified): an unchanged resource costs a 304 and returns the previous copy;
- every response body landed raw with URL, status, headers, fetch time and checksum.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from protego import Protego
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

from .landing import Landing, _suffix
from .sources import Landed

RETRY_STATUS = {429, 500, 502, 503, 504}
KEPT_HEADERS = {"content-type", "content-length", "etag", "last-modified", "date", "server", "content-encoding"}
MAX_RETRY_AFTER_S = 300
# ChunkedEncodingError: urllib3 raises IncompleteRead when a body is shorter than its Content-Length
# (a truncated transfer); requests wraps it as ChunkedEncodingError, neither a ConnectionError nor a Timeout.
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class FetchError(RuntimeError):
    """A download failed for good (after retries), or was not allowed."""


class FetchRefused(FetchError):
    """Not fetched, and asking again will not help: a host not configured, robots.txt, a 4xx answer."""


class RobotsDisallowed(FetchRefused):
    """robots.txt of the host does not allow our user agent to fetch this URL (no request was sent)."""


class _Retryable(Exception):
    def __init__(self, msg: str, retry_after: float | None = None):
        super().__init__(msg)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class Fetcher:
    def __init__(self, landing: Landing, http: dict, allowed_hosts: dict[str, tuple[str, ...]], session=None):
        self.landing = landing
        self.user_agent = http.get("user_agent", "baltetl")
        self.timeout = (float(http.get("connect_timeout_s", 15)), float(http.get("read_timeout_s", 120)))
        self.attempts = int(http.get("retries", 4)) + 1
        self.backoff = float(http.get("backoff_s", 2.0))
        self.allowed = allowed_hosts
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = self.user_agent
        self.sleep = time.sleep
        self.min_interval = float(http.get("min_interval_s", 1.0))
        self.obey_robots = bool(http.get("obey_robots", True))
        self._robots: dict[str, Protego | None] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._last_request: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- politeness ---------------------------------------------------------------------------------------
    def _host_lock(self, netloc: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(netloc, threading.Lock())

    def _throttle(self, netloc: str) -> None:
        """Called with the host's lock held: keep min_interval between two requests to one host."""
        last = self._last_request.get(netloc)
        if last is not None:
            wait = self.min_interval - (time.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_request[netloc] = time.monotonic()

    def _robots_for(self, scheme: str, netloc: str) -> Protego | None:
        key = f"{scheme}://{netloc}"
        if key not in self._robots:
            url = f"{key}/robots.txt"
            try:
                with self._host_lock(netloc):
                    self._throttle(netloc)
                    r = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                raise FetchError(f"{url} unreachable ({exc}): not fetching from {netloc} (RFC 9309)") from exc
            if r.status_code >= 500:
                raise FetchError(f"{url} answered HTTP {r.status_code}: not fetching from {netloc} (RFC 9309)")
            self._robots[key] = Protego.parse(r.text) if r.status_code == 200 else None  # 4xx: no rules
        return self._robots[key]

    def check(self, url: str, source: str) -> None:
        """Raise unless `source` may fetch `url`: its host is configured and robots.txt allows it."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in self.allowed.get(source, ()):
            raise FetchRefused(f"{source}: host {host!r} is not in the source's configured hosts {self.allowed.get(source, ())}")
        if self.obey_robots:
            rules = self._robots_for(parts.scheme, parts.netloc)
            if rules is not None and not rules.can_fetch(url, self.user_agent):
                raise RobotsDisallowed(f"{source}: robots.txt of {parts.netloc} disallows {url}")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_S)
        return self.backoff * (2 ** (state.attempt_number - 1))

    def get(self, url: str, source: str, name: str | None = None) -> Landed:
        """Fetch a page (HTML, JSON, XML ...) and land it; `name` defaults to one derived from the URL."""
        return self.download(url, source, name or page_name(url))

    def download(self, url: str, source: str, name: str) -> Landed:
        self.check(url, source)
        netloc = urlsplit(url).netloc
        previous = self.landing.latest(source, name)
        headers = {}
        if previous and previous[1].get("url") != url:
            previous = None  # validators belong to the URL they came from
        if previous:
            meta = previous[1]
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]

        @retry(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, (_Retryable, *RETRY_EXCEPTIONS))),
            sleep=lambda s: self.sleep(s),
            reraise=True,
        )
        def attempt() -> Landed:
            folder = self.landing.root / source
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
            with self._host_lock(netloc):
                self._throttle(netloc)
                return _receive(self.session.get(url, headers=headers, timeout=self.timeout, stream=True), tmp)

        def _receive(resp, tmp: Path) -> Landed:
            with resp as r:
                if r.status_code in RETRY_STATUS:
                    raise _Retryable(f"HTTP {r.status_code} from {url}", _retry_after(r.headers.get("Retry-After")))
                if r.status_code == 304 and previous:
                    landed, _ = previous
                    return Landed(landed.path, landed.sha256, landed.size, landed.fetched_at, landed.origin, name, True)
                if r.status_code != 200:
                    cls = FetchRefused if 400 <= r.status_code < 500 else FetchError
                    raise cls(f"HTTP {r.status_code} from {url}")
                try:
                    with open(tmp, "wb") as f:
                        for chunk in r.iter_content(1 << 20):
                            f.write(chunk)
                except requests.RequestException:
                    tmp.unlink(missing_ok=True)
                    raise
                expected = r.headers.get("Content-Length")
                if expected and "Content-Encoding" not in r.headers and int(expected) != tmp.stat().st_size:
                    tmp.unlink(missing_ok=True)
                    raise _Retryable(f"{url}: got {tmp.stat().st_size} of {expected} bytes")
                extra = {
                    "url": url, "status": r.status_code, "etag": r.headers.get("ETag"),
                    "last_modified": r.headers.get("Last-Modified"),
                    "content_type": r.headers.get("Content-Type"),
                    "headers": {k: v for k, v in r.headers.items() if k.lower() in KEPT_HEADERS},
                }  # fmt: skip
            return self.landing.place(tmp, source, name, url, _suffix(Path(urlsplit(url).path).name), extra)

        try:
            return attempt()
        except (_Retryable, requests.RequestException) as exc:
            tries = attempt.statistics.get("attempt_number", 1)
            raise FetchError(f"{source}: download of {url} failed after {tries} attempt{'s' if tries > 1 else ''}: {exc}") from exc


def page_name(url: str) -> str:
    """A landing name for a page URL: readable slug + short hash ('cities-3f2a9c1b')."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", (parts.path + ("?" + parts.query if parts.query else "")).strip("/"))[-60:].strip("-")
    return f"{slug or 'index'}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def worth_retrying(exc: BaseException) -> bool:
    """A fetch that failed for a reason that may pass (server errors, time-outs, lost connections)."""
    return isinstance(exc, FetchError) and not isinstance(exc, FetchRefused)
