"""Sources: one folder each, sources/<name>/ (baltetl/declaration.py reads what is in it).

A source's module (source.py in its folder) provides
    fetch(ctx) -> list[Landed]   download its raw files into the landing folder (real HTTP)
    parse(ctx, files) -> Parsed  turn landed files into staged tables (the same code for any origin)
Its source.toml declares the tables it delivers (parents first) and names its contract in schemas/, which
validates every staged table.  The types they share with the core (Landed, Parsed, Reject, SourceContext ...)
are baltetl.types; the values every source normalises alike (countries, names, postcodes, NUTS codes,
decimals) are baltetl.normalise.  Adding a source is adding such a folder and its contract: no core file
changes.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import SourceConfig


def load_module(source: SourceConfig) -> ModuleType:
    """The source's fetch/parse module: an importable name, or the path of a .py file (a folder outside the
    package)."""
    if source.module.endswith(".py"):
        name = f"baltetl_source_{source.name}"
        mod = sys.modules.get(name)
        if mod is None:
            spec = importlib.util.spec_from_file_location(name, source.module)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
    else:
        mod = importlib.import_module(source.module)
    for attr in ("fetch", "parse"):
        if not hasattr(mod, attr):
            raise TypeError(f"source module {source.module} has no {attr}")
    return mod
