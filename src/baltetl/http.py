"""HTTP downloads for the sources: timeouts, retries with backoff (tenacity), conditional GET, landing.

Only hosts a source lists in its configuration are fetched.  Every response body lands in the landing
folder with its checksum; a 304 Not Modified returns the previous download, marked not_modified.
"""

from __future__ import annotations

import email.utils
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

from .landing import Landing, _suffix
from .sources import Landed

RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 300
# ChunkedEncodingError: urllib3 raises IncompleteRead when a body is shorter than its Content-Length
# (a truncated transfer); requests wraps it as ChunkedEncodingError, neither a ConnectionError nor a Timeout.
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class FetchError(RuntimeError):
    """A download failed for good (after retries), or was not allowed."""


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

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_S)
        return self.backoff * (2 ** (state.attempt_number - 1))

    def download(self, url: str, source: str, name: str) -> Landed:
        host = urlsplit(url).hostname or ""
        if host not in self.allowed.get(source, ()):
            raise FetchError(f"{source}: host {host!r} is not in the source's configured hosts {self.allowed.get(source, ())}")
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
            tmp = folder / f".{name}.{os.getpid()}.part"
            with self.session.get(url, headers=headers, timeout=self.timeout, stream=True) as r:
                if r.status_code in RETRY_STATUS:
                    raise _Retryable(f"HTTP {r.status_code} from {url}", _retry_after(r.headers.get("Retry-After")))
                if r.status_code == 304 and previous:
                    landed, _ = previous
                    return Landed(landed.path, landed.sha256, landed.size, landed.fetched_at, landed.origin, name, True)
                if r.status_code != 200:
                    raise FetchError(f"HTTP {r.status_code} from {url}")
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
                }  # fmt: skip
            return self.landing.place(tmp, source, name, url, _suffix(Path(urlsplit(url).path).name), extra)

        try:
            return attempt()
        except (_Retryable, requests.RequestException) as exc:
            tries = attempt.statistics.get("attempt_number", 1)
            raise FetchError(f"{source}: download of {url} failed after {tries} attempt{'s' if tries > 1 else ''}: {exc}") from exc
