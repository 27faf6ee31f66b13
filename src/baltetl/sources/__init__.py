"""Sources: one folder each (sources/<name>/), its module named in the configuration.

A source's module (sources/<name>/source.py) provides
    TABLES                       the staged tables it delivers, parents first
    fetch(ctx) -> list[Landed]   download its raw files into the landing folder (real HTTP)
    parse(ctx, files) -> Parsed  turn landed files into staged tables (the same code for any origin)
and has a contract module in schemas/ (configured as `contract`) that validates every staged table.
Adding a source is adding such a module, its contract and a [sources.NAME] table: no core file changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING



if TYPE_CHECKING:
    import pandas as pd

    from ..config import Config, SourceConfig
    from ..http import Fetcher


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


@dataclass
class SourceContext:
    config: Config
    source: SourceConfig
    fetcher: Fetcher | None = None
    progress: Callable[[str, int, int | None], None] | None = None  # (label, done, total)

    def report(self, label: str, done: int, total: int | None = None) -> None:
        if self.progress:
            self.progress(label, done, total)


def load_module(source: SourceConfig) -> ModuleType:
    mod = importlib.import_module(source.module)
    for attr in ("TABLES", "fetch", "parse"):
        if not hasattr(mod, attr):
            raise TypeError(f"source module {source.module} has no {attr}")
    return mod


class NoInput(RuntimeError):
    """The source has nothing to load in this mode (no live URL configured, no bundled sample): it is
    skipped, not failed, and keeps its data."""


class StructureChanged(ValueError):
    """A fetched page or file no longer looks as the source expects (selectors gone, nothing parsed,
    a page filled by JavaScript).  The source fails with this message and keeps its last good data."""
