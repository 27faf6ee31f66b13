"""Check names (pandera's and the parsers') in plain words, from the table in checks.toml.

    words("coerce_dtype('datetime64[ns]')", 12)      # '12 rows with a date that does not exist'
    message("SourceRejected: projects: ...; top checks: {'not_nullable': 3}")   # the same, in a message
"""

from __future__ import annotations

import ast
import re
import tomllib
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("checks.toml")


@cache
def _table() -> list[tuple[re.Pattern, str]]:
    with open(TABLE, "rb") as f:
        return [(re.compile(c["match"]), c["words"]) for c in tomllib.load(f)["check"]]


def words(check: str, n: int, table: str = "") -> str:
    """`n` rows failing `check` in plain words; the check's name when the table has no words for it."""
    for pattern, text in _table():
        m = pattern.match(check)
        if m:
            return text.format(n=n, rows="row" if n == 1 else "rows", table=table,
                               **{k: v.replace("_", " ") for k, v in m.groupdict().items() if v})  # fmt: skip
    return f"{n} {'row' if n == 1 else 'rows'} failing {check}"


_TOP = re.compile(r"top checks: (\{[^{}]*\})")
_TYPE = re.compile(r"^[A-Z][A-Za-z]+(Error|Changed|Rejected|Unresolved|Busy|Input|Exception): ")


def message(msg: str) -> str:
    """A source's message in plain words: without the exception's class name, its `top checks: {...}` in words."""

    def top(m: re.Match) -> str:
        try:
            checks = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            return m.group(0)
        return "; ".join(words(str(c), int(n)) for c, n in checks.items()) or "no check"

    return _TYPE.sub("", _TOP.sub(top, msg))
