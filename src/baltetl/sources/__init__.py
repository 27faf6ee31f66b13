"""Sources: one folder each (sources/<name>/), its module named in the configuration.

A source's module (sources/<name>/source.py) provides
    TABLES                       the staged tables it delivers, parents first
    fetch(ctx) -> list[Landed]   download its raw files into the landing folder (real HTTP)
    parse(ctx, files) -> Parsed  turn landed files into staged tables (the same code for any origin)
and has a contract module in schemas/ (configured as `contract`) that validates every staged table.  The
types they share with the core (Landed, Parsed, Reject, SourceContext ...) are baltetl.types; the values
every source normalises alike (countries, names, postcodes, NUTS codes, decimals) are baltetl.normalise.
Adding a source is adding such a module, its contract and a [sources.NAME] table: no core file changes.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import SourceConfig


def load_module(source: SourceConfig) -> ModuleType:
    mod = importlib.import_module(source.module)
    for attr in ("TABLES", "fetch", "parse"):
        if not hasattr(mod, attr):
            raise TypeError(f"source module {source.module} has no {attr}")
    return mod
