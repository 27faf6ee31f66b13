"""The warehouse's SQL: warehouse/<layer>/<model>.sql in the checkout (or BALTETL_PROJECT_DIR), run by name.

Layers, in build order: staging (generic, per source snapshot: baltetl.warehouse.stage), core, marts, public."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .config import project_dir

LAYERS = ("staging", "core", "marts", "public")


def folder(project: Path | None = None) -> Path:
    """warehouse/ of the project (default: config.project_dir())."""
    d = (project or project_dir()) / "warehouse"
    if not (d / "core" / "tables.sql").exists():
        raise FileNotFoundError(f"no warehouse SQL at {d}: run baltetl from its checkout or set BALTETL_PROJECT_DIR")
    return d


def files(project: Path | None = None) -> list[Path]:
    """Every model file, layer by layer."""
    d = folder(project)
    return [p for layer in LAYERS for p in sorted((d / layer).rglob("*.sql"))]


def run(con: duckdb.DuckDBPyConnection, name: str, sql_dir: Path | None = None) -> None:
    """Run one model file, e.g. run(con, 'core/tables.sql'); sql_dir: the warehouse folder (default: folder())."""
    con.execute(((sql_dir or folder()) / name).read_text())
