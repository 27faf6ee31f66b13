"""CLI command `baltetl analyst FILE`: your own DuckDB file with the warehouse attached read-only.

Registered on the main app by `register(app)` (src/baltetl/cli/__init__.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from .common import ConfigOpt, WarehouseOpt


def register(app: typer.Typer) -> None:
    @app.command("analyst")
    def analyst_cmd(
        file: Annotated[Path, typer.Argument(help="Your own DuckDB file (created if need be); your tables go here.")],
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Open FILE in the duckdb shell with the warehouse attached READ_ONLY as `wh`: its tables by their
        plain names, your CREATE TABLEs in FILE.  Never holds up a refresh, and nothing you write is lost
        when the warehouse is rebuilt.  Without the duckdb shell on PATH, prints how to do the same."""
        from ..config import load_config
        from ..db import analyst_sql

        cfg = load_config(config, warehouse=warehouse)
        sql = analyst_sql(file, cfg.warehouse.resolve())
        exe = shutil.which("duckdb")
        if exe:
            os.execv(exe, [exe, str(file), "-cmd", sql])
        typer.echo(f"no duckdb shell on PATH; in the shell: duckdb {file} -cmd \"{sql.replace(chr(34), chr(92) + chr(34))}\"")
        typer.echo(f"in Python: from baltetl.db import analyst; con = analyst({str(file)!r}, {str(cfg.warehouse.resolve())!r})")
