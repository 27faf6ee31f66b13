"""The one polite HTTP layer every fetching source uses.

- a clear User-Agent with contact; only hosts the source lists in its configuration;
- robots.txt obeyed (protego, which understands `*` and `$`; RFC 9309: a 4xx robots.txt allows all, an
  unreachable one disallows all);
- per host at most one request at a time and a minimum interval between requests;
- timeouts; retries with exponential backoff on 429/5xx, connection errors and truncated bodies, honouring
  Retry-After (tenacity);
- conditional GET (ETag / Last-Modified): an unchanged resource costs a 304 and returns the previous copy;
- redirects followed here, not by requests: every hop is checked (http/https, configured host, robots.txt);
- limits on what comes in, per source ([http], [sources.NAME.http]): bytes, announced size, expansion of a
  Content-Encoding, wall time of a download; robots.txt read up to robots_max_kb (RFC 9309);
- every response body landed raw with its final URL (and the redirects), status, headers, fetch time and checksum.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.utils import requote_uri
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

from .config import ConfigError
from .landing import Landing, _suffix
from .types import Landed

RETRY_STATUS = {429, 500, 502, 503, 504}
KEPT_HEADERS = {"content-type", "content-length", "etag", "last-modified", "date", "server", "content-encoding"}
MAX_RETRY_AFTER_S = 300
# ChunkedEncodingError: urllib3 raises IncompleteRead when a body is shorter than its Content-Length
# (a truncated transfer); requests wraps it as ChunkedEncodingError, neither a ConnectionError nor a Timeout.
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
# Limits on what comes in: [http] defaults, each overridable in a source's `http` table.
LIMITS = {
    "max_mb": 2048.0,  # MiB of a body (decoded); a larger announced Content-Length is refused unread
    "max_encoding_ratio": 100.0,  # decoded / received bytes of a Content-Encoding (gzip ...) body
    "deadline_s": 1800.0,  # wall time of a download, redirects and body included (a slow drip fails)
    "max_redirects": 5,
}
ROBOTS_MAX_KB = 500  # RFC 9309: a parsing limit of at least 500 KiB; the rest of a robots.txt is ignored
MIB = 1 << 20
CHUNK = 1 << 16  # bytes read (and decoded) at a time: bounds the memory a compressed body can take
RATIO_FLOOR = 1 << 20  # the expansion ratio is judged once this much is decoded


class FetchError(RuntimeError):
    """A download failed for good (after retries), or was not allowed."""


class FetchRefused(FetchError):
    """Not fetched, and asking again will not help: a host not configured, robots.txt, a 4xx answer."""


class RobotsDisallowed(FetchRefused):
    """robots.txt of the host does not allow our user agent to fetch this URL (no request was sent)."""


class FetchLimit(FetchRefused):
    """A response broke a configured limit (size, expansion, time): it would again; nothing was landed."""


class HostUnresolved(FetchRefused):
    """The host name does not resolve (DNS): asking again in a minute will not help."""


def _unresolved(exc: BaseException | None) -> urllib3.exceptions.NameResolutionError | None:
    """The name-resolution failure behind a connection error, if that is what it is."""
    for _ in range(5):  # requests' ConnectionError -> urllib3's MaxRetryError -> its reason
        if exc is None or isinstance(exc, urllib3.exceptions.NameResolutionError):
            return exc
        exc = getattr(exc, "reason", None) or next((a for a in exc.args if isinstance(a, BaseException)), None)
    return None


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
    def __init__(self, landing: Landing, http: dict, allowed_hosts: dict[str, tuple[str, ...]], session=None,
                 limits: dict[str, dict] | None = None):  # fmt: skip
        """`limits`: per source, the limits of its `http` table (over those of `http`)."""
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
        self.robots_max_bytes = int(float(http.get("robots_max_kb", ROBOTS_MAX_KB)) * 1024)
        self._defaults = _limits({k: v for k, v in http.items() if k in LIMITS}, LIMITS, "[http]")
        self._limits = {src: _limits(t, self._defaults, f"[sources.{src}.http]") for src, t in (limits or {}).items()}
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

    def limits(self, source: str) -> dict:
        """The limits on what `source` may receive: [http], then its own `http` table."""
        return self._limits.get(source, self._defaults)

    def _robots_for(self, scheme: str, netloc: str, source: str) -> Protego | None:
        key = f"{scheme}://{netloc}"
        if key not in self._robots:
            url = f"{key}/robots.txt"
            lim = self.limits(source)
            deadline = time.monotonic() + lim["deadline_s"]
            try:
                r, chain = self._open(url, source, lim, deadline, robots=False)
                with r:
                    if r.status_code >= 500:
                        raise FetchError(f"{url} answered HTTP {r.status_code}: not fetching from {netloc} (RFC 9309)")
                    text = bytearray()
                    cap = dict(lim, max_mb=(self.robots_max_bytes + CHUNK) / MIB)
                    if r.status_code == 200:  # only the first robots_max_kb are read (RFC 9309)
                        for chunk in self._body(r, chain[-1], source, cap, deadline):
                            text += chunk
                            if len(text) >= self.robots_max_bytes:
                                break
            except requests.RequestException as exc:
                _raise_if_unresolved(exc, source, url)
                raise FetchError(f"{url} unreachable ({exc}): not fetching from {netloc} (RFC 9309)") from exc
            text = bytes(text[: self.robots_max_bytes]).decode("utf-8", "replace")
            self._robots[key] = Protego.parse(text) if r.status_code == 200 else None  # 4xx: no rules
        return self._robots[key]

    def _check_host(self, url: str, source: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"{source}: {url}: scheme {parts.scheme!r} is not http or https")
        host = parts.hostname or ""
        if host not in self.allowed.get(source, ()):
            raise FetchRefused(f"{source}: host {host!r} is not in the source's configured hosts {self.allowed.get(source, ())}")

    def check(self, url: str, source: str) -> None:
        """Raise unless `source` may fetch `url`: http(s), its host is configured and robots.txt allows it."""
        self._check_host(url, source)
        if self.obey_robots:
            parts = urlsplit(url)
            rules = self._robots_for(parts.scheme, parts.netloc, source)
            if rules is not None and not rules.can_fetch(url, self.user_agent):
                raise RobotsDisallowed(f"{source}: robots.txt of {parts.netloc} disallows {url}")

    def _open(self, url: str, source: str, lim: dict, deadline: float,
              validators: tuple[str, dict] | None = None, robots: bool = True) -> tuple[requests.Response, list[str]]:  # fmt: skip
        """GET `url` streamed, following redirects here: every hop after the first (checked by the caller) is
        checked like it (robots.txt too unless `robots` is false).  Returns the response and the URLs
        visited.  `validators`: (the URL they came from, their headers), sent to that URL only."""
        chain = [url]
        while True:
            netloc = urlsplit(url).netloc
            headers = validators[1] if validators and validators[0] == url else {}
            with self._host_lock(netloc):
                self._throttle(netloc)
                r = self.session.get(url, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False)
            if not r.is_redirect:
                return r, chain
            r.close()
            target = requote_uri(urljoin(url, self.session.get_redirect_target(r) or ""))
            if target in chain:
                raise FetchRefused(f"{source}: redirect loop: {' -> '.join([*chain, target])}")
            if len(chain) > lim["max_redirects"]:
                raise FetchRefused(f"{source}: more than {lim['max_redirects']} redirects from {chain[0]} (max_redirects)")
            if time.monotonic() > deadline:
                raise FetchLimit(f"{source}: {chain[0]} not received within deadline_s {lim['deadline_s']:g}")
            try:
                self.check(target, source) if robots else self._check_host(target, source)
            except FetchRefused as exc:
                raise type(exc)(f"{exc} (redirected from {url})") from None
            chain.append(target)
            url = target

    def _body(self, r: requests.Response, url: str, source: str, lim: dict, deadline: float) -> Iterator[bytes]:
        """The decoded body as it arrives, within the limits on bytes, expansion and time.  read1 returns
        what has come (a drip cannot hold a read for long) and decodes at most CHUNK bytes at a time."""
        encoded = r.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        got = 0
        while True:
            try:  # urllib3's errors as requests' iter_content raises them
                chunk = r.raw.read1(CHUNK, decode_content=True)
            except urllib3.exceptions.ProtocolError as exc:
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            except urllib3.exceptions.DecodeError as exc:
                raise requests.exceptions.ContentDecodingError(exc) from exc
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise requests.ConnectionError(exc) from exc
            except urllib3.exceptions.SSLError as exc:
                raise requests.exceptions.SSLError(exc) from exc
            if not chunk:
                return
            got += len(chunk)
            if got > lim["max_mb"] * MIB:
                raise FetchLimit(f"{source}: {url} sent more than max_mb {lim['max_mb']:g} (MiB)")
            if encoded and got > RATIO_FLOOR and got > lim["max_encoding_ratio"] * max(r.raw.tell(), 1):
                raise FetchLimit(f"{source}: {url} expands {r.raw.tell()} bytes received to over {got} (Content-Encoding "
                                 f"{r.headers['Content-Encoding']}, max_encoding_ratio {lim['max_encoding_ratio']:g})")  # fmt: skip
            if time.monotonic() > deadline:
                raise FetchLimit(f"{source}: {url} not received within deadline_s {lim['deadline_s']:g} ({got} bytes so far)")
            yield chunk

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
        lim = self.limits(source)
        previous = self.landing.latest(source, name)
        validators = None
        if previous and previous[1].get("requested_url", previous[1].get("url")) != url:
            previous = None  # validators belong to the URL they came from
        if previous:
            meta, headers = previous[1], {}
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
            validators = (meta.get("url"), headers)  # the final URL of that download

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
            deadline = time.monotonic() + lim["deadline_s"]
            try:
                resp, chain = self._open(url, source, lim, deadline, validators)
            except requests.ConnectionError as exc:
                _raise_if_unresolved(exc, source, url)
                raise
            return _receive(resp, chain, tmp, deadline)

        def _receive(resp, chain: list[str], tmp: Path, deadline: float) -> Landed:
            final = chain[-1]
            with resp as r:
                if r.status_code in RETRY_STATUS:
                    raise _Retryable(f"HTTP {r.status_code} from {final}", _retry_after(r.headers.get("Retry-After")))
                if r.status_code == 304 and previous and validators[0] == final:
                    landed, _ = previous
                    return Landed(landed.path, landed.sha256, landed.size, landed.fetched_at, landed.origin, name, True)
                if r.status_code != 200:
                    cls = FetchRefused if 400 <= r.status_code < 500 else FetchError
                    raise cls(f"HTTP {r.status_code} from {final}")
                expected = r.headers.get("Content-Length")
                if expected and expected.isdigit() and int(expected) > lim["max_mb"] * MIB:
                    raise FetchLimit(f"{source}: {final} announces {expected} bytes, over max_mb {lim['max_mb']:g} (MiB)")
                try:
                    with open(tmp, "wb") as f:
                        for chunk in self._body(r, final, source, lim, deadline):
                            f.write(chunk)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
                if expected and "Content-Encoding" not in r.headers and int(expected) != tmp.stat().st_size:
                    tmp.unlink(missing_ok=True)
                    raise _Retryable(f"{final}: got {tmp.stat().st_size} of {expected} bytes")
                extra = {
                    "url": final, "requested_url": url, "status": r.status_code, "etag": r.headers.get("ETag"),
                    "last_modified": r.headers.get("Last-Modified"),
                    "content_type": r.headers.get("Content-Type"),
                    "headers": {k: v for k, v in r.headers.items() if k.lower() in KEPT_HEADERS},
                }  # fmt: skip
                if len(chain) > 1:
                    extra["redirects"] = chain
            suffix = _suffix(Path(urlsplit(url).path).name) or _suffix(Path(urlsplit(final).path).name)
            return self.landing.place(tmp, source, name, final, suffix, extra)

        try:
            return attempt()
        except (_Retryable, requests.RequestException) as exc:
            tries = attempt.statistics.get("attempt_number", 1)
            raise FetchError(f"{source}: download of {url} failed after {tries} attempt{'s' if tries > 1 else ''}: {exc}") from exc


def _limits(table: dict, base: dict, where: str) -> dict:
    """`base` with the limits set in `table` (a config table); a misspelt or non-numeric one is an error."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of limits ({', '.join(LIMITS)})")
    out = dict(base)
    for key, value in table.items():
        if key not in LIMITS:
            raise ConfigError(f"{where}: unknown limit {key!r}; the limits are {', '.join(LIMITS)}")
        try:
            out[key] = type(LIMITS[key])(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {key} = {value!r} is not a number") from None
        if out[key] < 0:
            raise ConfigError(f"{where}: {key} = {value!r} is negative")
    return out


def _raise_if_unresolved(exc: BaseException, source: str, url: str) -> None:
    if err := _unresolved(exc):
        host = getattr(getattr(err, "conn", None), "host", None) or urlsplit(url).hostname  # a redirect's host
        raise HostUnresolved(f"{source}: host {host!r} does not resolve (DNS lookup failed): not fetched, not retried") from None


def page_name(url: str) -> str:
    """A landing name for a page URL: readable slug + short hash ('cities-3f2a9c1b')."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", (parts.path + ("?" + parts.query if parts.query else "")).strip("/"))[-60:].strip("-")
    return f"{slug or 'index'}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def worth_retrying(exc: BaseException) -> bool:
    """A fetch that failed for a reason that may pass (server errors, time-outs, lost connections)."""
    return isinstance(exc, FetchError) and not isinstance(exc, FetchRefused)
