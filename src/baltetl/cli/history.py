"""`baltetl changes`: what the refreshes changed, per run and table (reads the warehouse read-only).

Registered on the main app by `register(app)` (src/baltetl/cli/__init__.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

from .common import ConfigOpt, WarehouseOpt, open_warehouse

MARK = {"added": "+", "removed": "-", "changed": "~"}


def _short(v: str | None, n: int = 60) -> str:
    if v is None:
        return "NULL"
    return v if len(v) <= n else v[: n - 1] + "…"


def register(app: typer.Typer) -> None:
    @app.command("changes")
    def changes(
        since: Annotated[Optional[datetime], typer.Option("--since", help="Changes recorded on or after this date (UTC), e.g. 2026-05-01; default: all.", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])] = None,
        source: Annotated[Optional[str], typer.Option("--source", "-s", help="Only records of this source.")] = None,
        table: Annotated[Optional[str], typer.Option("--table", "-t", help="Only this table: projects, organisations, participations.")] = None,
        examples: Annotated[int, typer.Option("--examples", "-n", help="Examples per run, table and kind of change.")] = 3,
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
    ) -> None:  # fmt: skip
        """Summary of the recorded changes per run and table: added / removed / changed, top fields, examples."""
        from ..history import TRACKED, summary

        if table and table not in TRACKED:
            typer.echo(f"error: --table must be one of {', '.join(TRACKED)}", err=True)
            raise typer.Exit(2)
        cfg, con = open_warehouse(config, warehouse, ("changes",), "history was kept")
        try:
            first = con.execute("SELECT min(changed_at) FROM changes").fetchone()[0]
            rows = summary(con, since, source, table, examples=examples)
        finally:
            con.close()
        what = " ".join(x for x in (f"source {source}" if source else "", f"table {table}" if table else "") if x)
        typer.echo(f"changes{' since ' + since.isoformat(sep=' ') if since else ''}{' — ' + what if what else ''}: "
                   f"{cfg.warehouse}")  # fmt: skip
        if not rows:
            typer.echo("  none")
            return
        run = None
        for r in rows:
            if r["run_id"] != run:
                run = r["run_id"]
                base = " (first build with history: every record is new to it)" if r["changed_at"] == first else ""
                typer.echo(f"run {run}  {r['changed_at']:%Y-%m-%d %H:%M} UTC  [{r['sources']}]{base}")
            line = f"  {r['table']:<15} added {r['added']:>6}  removed {r['removed']:>6}  changed {r['changed']:>6}"
            if r["fields"]:
                line += "   fields: " + ", ".join(f"{f} {n}" for f, n in r["fields"])
            typer.echo(line)
            for change, key, field, before, after in r["examples"]:
                detail = f"  {field}: {_short(before)} -> {_short(after)}" if field else ""
                typer.echo(f"      {MARK[change]} {key}{detail}")
