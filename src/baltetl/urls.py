"""The one test of a link taken from the data (a website field, a project page): http(s) only.

Used by the site's pages, every open-data export and the source contracts, so a `javascript:` or `data:`
address reaches no page and no file.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)
_HTTP = re.compile(r"https?://[^\s<>\"'`]+", re.I)
_DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(:\d{1,5})?(/[^\s<>\"'`]*)?", re.I)


def _first(value: str) -> str:
    """The first address of a field (several are separated by white space, ',' or ';'), without control
    characters (a browser drops them: 'java\\tscript:' is 'javascript:')."""
    head = value.strip().split()[0] if value.strip() else ""
    return _CONTROL.sub("", head.split(";")[0].rstrip(","))


def web_url(value: str | None) -> str | None:
    """An http(s) link from a source's website field, the scheme in lower case, or None: never a
    javascript:, data: or other scheme.  A bare domain ('www.riga.lv') becomes https://www.riga.lv."""
    if not value:
        return None
    v = _first(value)
    if _HTTP.fullmatch(v):
        scheme, rest = v.split(":", 1)
        return scheme.lower() + ":" + rest
    if _DOMAIN.fullmatch(v):
        return "https://" + v
    return None


def unsafe_url(value: str | None) -> bool:
    """True for an address written with a scheme that web_url does not make a link of (javascript:, data:,
    vbscript:, an http address holding quotes ...); plain text that is no address ('n/a') is not."""
    if not value or web_url(value) is not None:
        return False
    return bool(_SCHEME.match(_CONTROL.sub("", value).strip()))
