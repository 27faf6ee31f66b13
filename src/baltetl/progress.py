"""Where long steps report progress.  The CLI installs a sink (a rich display on a terminal, plain log lines
otherwise); elsewhere reports go nowhere.

    report(label, done, total)      a long step's progress (bytes, pages, rows)
    step(source, what)              a source (or 'warehouse', 'site') enters a stage: 'parsing', 'success: ...'
"""

from __future__ import annotations

from collections.abc import Callable

Sink = Callable[[str, int, "int | None"], None]  # may also have .step(source, what)
_sink: Sink | None = None


def set_sink(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def report(label: str, done: int, total: int | None = None) -> None:
    if _sink is not None:
        _sink(label, done, total)


def step(source: str, what: str) -> None:
    on_step = getattr(_sink, "step", None)
    if on_step is not None:
        on_step(source, what)
