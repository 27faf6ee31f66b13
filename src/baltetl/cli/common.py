"""What the CLI's commands share: the options every command takes (declared once, as typer `Annotated`
aliases), the two consoles, and the warehouse opened for reading, or a clear refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)
out = Console()

WAREHOUSE_HELP = "DuckDB file (default warehouse/baltmet.duckdb)."


def warehouse_option(help: str = WAREHOUSE_HELP, envvar: str | None = "BALTETL_WAREHOUSE"):
    """`--warehouse/-w FILE`, with a command's own help text where it means more than the default file."""
    return Annotated[Optional[Path], typer.Option("--warehouse", "-w", envvar=envvar, help=help)]


WarehouseOpt = warehouse_option()
ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", "-c", envvar="BALTETL_CONFIG", help="TOML overriding the defaults.")
]


def open_warehouse(config: Path | None, warehouse: Path | None, needs: tuple[str, ...] = (), built_before: str = ""):
    """(cfg, read-only connection) of the configured warehouse; exit 2 with the reason when it is missing
    or lacks one of the tables `needs` (it was `built_before` they existed: refresh it)."""
    import duckdb

    from ..config import load_config

    cfg = load_config(config, warehouse=warehouse)
    if not cfg.warehouse.exists():
        typer.echo(f"no warehouse at {cfg.warehouse}", err=True)
        raise typer.Exit(2)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)  # analysts and refreshes may hold it too
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    missing = [t for t in needs if t not in have]
    if missing:
        con.close()
        typer.echo(f"{cfg.warehouse} has no {', '.join(missing)} (built before {built_before}): refresh it", err=True)
        raise typer.Exit(2)
    return cfg, con
