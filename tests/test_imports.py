"""The package's import structure: no import circle among its modules, the core never imports the plug-in
package `baltetl.sources` (the shared types are in baltetl.types), and every module imports on its own in a
fresh interpreter."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import baltetl

PACKAGE = Path(baltetl.__file__).parent
# the one core module that loads the configured source modules (by name, importlib)
LOADS_SOURCES = {"baltetl.pipeline"}


def _module_name(path: Path) -> str:
    parts = ("baltetl", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, top_level_only: bool, typing: bool = True) -> set[str]:
    """The baltetl modules `name` imports (with `from . import x`, x when it is a module); at top level only,
    or anywhere (in functions too).  Imports under `if TYPE_CHECKING:` count with `typing=True` (a circle of
    type names is a circle a reader follows, and one a type checker has to break)."""
    modules = _modules()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if not typing and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for c in child.orelse:
                    visit(c, top)
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)) and (inner or not top_level_only):
                targets = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                else:
                    base = child.module or ""
                    if child.level:
                        anchor = package.split(".")
                        anchor = anchor[: len(anchor) - (child.level - 1)]
                        base = ".".join(anchor + ([child.module] if child.module else []))
                    # `from .pkg import mod` imports the module; `from .pkg import name`, the package
                    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in child.names]
                out.update(t for t in targets if t in modules and t != name)
            if not top_level_only or inner:
                visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return out


def test_no_import_circle():
    graph = {name: _imports(name, path, top_level_only=True) for name, path in _modules().items()}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the circle


def test_core_does_not_import_the_sources():
    offenders = {}
    for name, path in _modules().items():
        if name.startswith("baltetl.sources") or name in LOADS_SOURCES:
            continue
        hits = {m for m in _imports(name, path, top_level_only=False) if m.startswith("baltetl.sources")}
        if hits:
            offenders[name] = sorted(hits)
    assert offenders == {}
    # the shared types are imported from baltetl.types by the modules that use them
    for core in ("http", "landing", "quality", "pipeline"):
        assert "baltetl.types" in _imports(f"baltetl.{core}", PACKAGE / f"{core}.py", top_level_only=True)


def test_the_circle_check_finds_a_circle(tmp_path):
    """The check above can fail: two modules importing each other are a CycleError."""
    import pytest

    graph = {"a": {"b"}, "b": {"a"}}
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()


def test_every_module_imports_in_a_fresh_interpreter():
    """Each module is the first baltetl module imported (the others dropped from sys.modules before it), so
    an order that only works because another module was imported first shows."""
    # (not __main__, which runs the CLI, nor the Alembic scripts, which run inside Alembic)
    names = sorted(n for n in _modules() if n != "baltetl.__main__" and ".migrations." not in n)
    code = (
        "import importlib, sys, traceback\n"
        f"names = {names!r}\n"
        "failed = []\n"
        "for n in names:\n"
        "    for m in [m for m in sys.modules if m == 'baltetl' or m.startswith('baltetl.')]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(n)\n"
        "    except Exception:\n"
        "        failed.append(n + ': ' + traceback.format_exc(limit=1).strip().splitlines()[-1])\n"
        "print('\\n'.join(failed))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
