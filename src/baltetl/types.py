"""The types the core and the sources share: a landed file, a parse's result, a rejected record, what a
source is handed, and the two conditions a source may raise.

They live here, outside the plug-in package `baltetl.sources`, so that the core (http, landing, quality,
pipeline) never imports a source, and they import nothing of the core but the configuration's types (the
HTTP layer is named by the protocol it offers), so no import circle runs through them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from .config import Config, SourceConfig


@dataclass(frozen=True)
class Landed:
    """A raw file in the landing folder, with what is known of its origin."""

    path: Path
    sha256: str
    size: int
    fetched_at: str  # ISO 8601, UTC
    origin: str  # URL, "input:<path>" or "sample:<name>"
    name: str = ""  # the download's name in the config (e.g. "horizon")
    not_modified: bool = False  # the server answered 304: this is the previous download


@dataclass
class Reject:
    """A record that could not be parsed at all; it goes to quarantine with the reason."""

    table: str
    record_key: str | None
    record_ref: str  # where it was: archive member, line number
    check: str
    value: str | None
    column: str | None = None


@dataclass
class Parsed:
    tables: dict[str, pd.DataFrame]
    rejects: list[Reject] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)  # rows read after repairing a known quirk


class Fetcher(Protocol):
    """What a source asks of the HTTP layer (baltetl.http.Fetcher): fetch a page or a file and land it."""

    def get(self, url: str, source: str, name: str | None = None) -> Landed: ...

    def download(self, url: str, source: str, name: str) -> Landed: ...


@dataclass
class SourceContext:
    config: Config
    source: SourceConfig
    fetcher: Fetcher | None = None
    progress: Callable[[str, int, int | None], None] | None = None  # (label, done, total)

    def report(self, label: str, done: int, total: int | None = None) -> None:
        if self.progress:
            self.progress(label, done, total)


class NoInput(RuntimeError):
    """The source has nothing to load in this mode (no live URL configured, no bundled sample): it is
    skipped, not failed, and keeps its data."""


class StructureChanged(ValueError):
    """A fetched page or file no longer looks as the source expects (selectors gone, nothing parsed,
    a page filled by JavaScript).  The source fails with this message and keeps its last good data."""
