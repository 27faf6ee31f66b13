"""CLI command `baltetl eval-placement [LABELS.csv]`: score the placement against labelled addresses.

Registered on the main app by `register(app)` (src/baltetl/cli/__init__.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import ConfigOpt


def register(app: typer.Typer) -> None:
    @app.command("eval-placement")
    def eval_placement_cmd(
        labels: Annotated[Optional[Path], typer.Argument(help="CSV: project_id, organisation_id, expected_metro, country, post_code, city[, nuts_code, split] (default: the project's labels).")] = None,
        config: ConfigOpt = None,
        show: Annotated[str, typer.Option("--show", help="List the wrong rows of this half (tuning; never look at heldout while tuning).")] = "",
    ) -> None:
        """Place each labelled address by the pipeline's rules and print, per half, accuracy, false placements
        (in a metropolis the address is not in) and misses; the last line is the held-out half's."""
        from ..config import ConfigError, load_config
        from ..placement import DEFAULT_LABELS, evaluate

        try:
            cfg = load_config(config)
            path = labels or cfg.project_dir / DEFAULT_LABELS
            result = evaluate(cfg, path)
        except (ConfigError, ValueError, FileNotFoundError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for half in sorted(result, key=lambda h: h == "heldout"):
            s = result[half]
            acc = s["correct"] / s["rows"] if s["rows"] else 0.0
            typer.echo(f"{half}: accuracy={acc:.2%} false={s['false']} missed={s['missed']} rows={s['rows']}")
        for w in result.get(show, {}).get("wrong", []):
            typer.echo(f"  {w['project_id']}/{w['organisation_id']} {w['country']} {w['post_code']!r} {w['city']!r} "
                       f"{w.get('nuts_code', '')}: expected {w['expected_metro'] or '-'}, placed {w['placed'] or '-'}"
                       f" by {w['decided_by'] or '-'}")
        s = result.get("heldout") or next(iter(result.values()))
        acc = s["correct"] / s["rows"] if s["rows"] else 0.0
        typer.echo(f"accuracy={acc:.2%} false={s['false']} missed={s['missed']} rows={s['rows']}")
