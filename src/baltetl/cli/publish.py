"""CLI command `baltetl publish`: the static website and open-data exports from the warehouse.

Registered on the main app by `register(app)` (src/baltetl/cli/__init__.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import ConfigOpt, WarehouseOpt


def register(app: typer.Typer) -> None:
    @app.command("publish")
    def publish_cmd(
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder of the site (default [paths] site, else site/ beside the warehouse).")] = None,
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
        force: Annotated[bool, typer.Option("--force", help="Replace the site even when it was published from a newer build (a deliberate roll-back).")] = False,
    ) -> None:
        """Publish the warehouse as a static website (works from any static host or file://) with CSV,
        Parquet, JSON and datapackage.json exports in its data/ folder.

        The site folder is a symlink to the published version (copy it with `cp -rL` or `rsync -aL`).
        Exit codes: 0 published, or skipped because the site in place was published from a newer build;
        2 not published (no warehouse, a folder that is not a published site, configuration); 3 the warehouse
        is held open read-write by another process (the previous site stays)."""
        from ..config import ConfigError, load_config
        from ..db import WarehouseBusy
        from ..publish import PublishError, publish

        try:
            cfg = load_config(config, warehouse=warehouse)
            result = publish(cfg, out, log=lambda m: None, force=force)
        except (PublishError, ConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except WarehouseBusy as exc:
            typer.echo(f"busy: {exc}", err=True)
            raise typer.Exit(3) from None
        if result.get("skipped"):
            typer.echo(f"skipped: {result['skipped']} (--force replaces it)")
            return
        pages = result["pages"]
        typer.echo(f"site: {result['out']}")
        typer.echo("pages: " + ", ".join(f"{k} {v}" for k, v in pages.items()) + f" (total {sum(pages.values())})")
        typer.echo(f"exports: {', '.join(f['path'] for f in result['exports'])}")
        typer.echo(f"files={result['files']} size_mb={result['bytes'] / 1e6:.1f} seconds={result['seconds']}")
