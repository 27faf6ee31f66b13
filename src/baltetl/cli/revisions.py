"""`baltetl revisions check`: validate the partners' revision files without a refresh.

    baltetl revisions check [--dir DIR] [--warehouse FILE] [--config FILE]

Prints every problem as file:line, exits 1 when a row is invalid (it would not be applied) or a consent
withdrawal matches no person (`unmatched`), 0 otherwise.  When the warehouse exists, the targets are checked
against it too (read-only): stale targets and contradicting rows are reported, but do not fail the check (they
depend on the data, not on the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import ConfigOpt, warehouse_option

CheckWarehouse = warehouse_option("Check targets against this DuckDB file (read-only) when it exists.")


def register(app: typer.Typer) -> None:
    """Add the `revisions` sub-command group (with `check`) to the main typer app."""
    sub = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                      help="Partner revisions: corrections applied on top of every refresh.")  # fmt: skip

    @sub.callback()
    def _group() -> None:
        """Partner revisions: corrections applied on top of every refresh."""

    @sub.command("check")
    def check(
        dir: Annotated[Optional[Path], typer.Option("--dir", "-d", help="Revisions folder (default: paths.revisions, else <project>/revisions).")] = None,
        warehouse: CheckWarehouse = None,
        config: ConfigOpt = None,
    ) -> None:  # fmt: skip
        """Validate the revision files: each problem with file:line; exit 1 if a row is invalid or unmatched."""
        from .. import revisions
        from ..config import ConfigError, load_config

        try:
            cfg = load_config(config, warehouse=warehouse)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        folder = Path(dir) if dir else revisions.folder(cfg)
        if not folder.is_dir():
            typer.echo(f"error: no revisions folder {folder}", err=True)
            raise typer.Exit(2)
        revs = revisions.load(cfg, folder)
        issues = list(revs.issues)
        against = "no warehouse: targets not checked"
        if cfg.warehouse.exists():
            import duckdb

            try:
                con = duckdb.connect(str(cfg.warehouse), read_only=True)
            except duckdb.Error as exc:
                against = f"warehouse {cfg.warehouse} not readable ({exc}): targets not checked"
            else:
                try:
                    issues += revisions.check_targets(con, revs)
                    against = f"targets checked against {cfg.warehouse}"
                finally:
                    con.close()
        for i in sorted(issues, key=lambda i: (i.file, i.line or 0, i.kind)):
            typer.echo(f"{folder / i.file}:{i.line or 1}: {i.kind}: {i.message}")
        files = len({o.file for o in revs.operations})
        n = {k: sum(1 for i in issues if i.kind == k) for k in revisions.KINDS}
        typer.echo(f"{len(revs.operations)} revisions in {files} files ({folder}): {n['invalid']} invalid, "
                   f"{n['stale_target']} stale targets, {n['conflict']} conflicts, {n['unmatched']} unmatched; "
                   f"{against}")  # fmt: skip
        raise typer.Exit(1 if n["invalid"] or n["unmatched"] else 0)

    app.add_typer(sub, name="revisions")
