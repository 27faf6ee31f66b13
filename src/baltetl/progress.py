"""Where long steps report progress.  The CLI installs a rich progress bar; elsewhere reports go nowhere."""

from __future__ import annotations

from collections.abc import Callable

Sink = Callable[[str, int, "int | None"], None]
_sink: Sink | None = None


def set_sink(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def report(label: str, done: int, total: int | None = None) -> None:
    if _sink is not None:
        _sink(label, done, total)
