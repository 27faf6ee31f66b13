"""CLI commands of cross-source resolution: `baltetl eval-matching`, `baltetl organisations`.

Registered on the main app by `register(app)` (src/baltetl/cli.py: `from .cli_resolution import register;
register(app)`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Optional

import typer

DEFAULT_PAIRS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "matching" / "pairs.csv"
SIDES = ("left", "right")


def _rec(row: dict, side: str):
    from .resolve import Rec

    g = lambda c: (row.get(f"{side}_{c}") or None)  # noqa: E731
    source, oid = g("source"), g("id")
    return Rec(f"{source}:{oid}", source, g("name") or "", g("country"), g("city"), g("org_type"), g("vat"),
               g("website"), oid if source == "cordis" else g("pic"), g("wikidata"))  # fmt: skip


def score_pairs(rows: list[dict]) -> dict:
    """Run the matcher's pairwise decision (resolve.decide) on labelled pairs; counts per split and overall.
    Domains are trusted as resolve trusts them, judged over every record in the file."""
    from .resolve import decide, trusted_domains

    recs = [(_rec(r, "left"), _rec(r, "right")) for r in rows]
    trusted = trusted_domains([x for pair in recs for x in pair])
    res: dict = {}
    errors = []
    for row, (a, b) in zip(rows, recs):
        pred, rule, score = decide(a, b, trusted)
        label = str(row["label"]).strip() in ("1", "true", "True", "match")
        for split in {"all", row.get("split") or "all"}:
            c = res.setdefault(split, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
            c[("tp" if label else "fp") if pred else ("fn" if label else "tn")] += 1
        if pred != label:
            errors.append(("FP" if pred else "FN", a.name, a.country, b.name, b.country, rule, round(score, 2)))
    for c in res.values():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        c.update(precision=p, recall=r, f1=2 * p * r / (p + r) if p + r else 0.0)
    return {"splits": res, "errors": errors}


def _line(c: dict) -> str:
    return f"precision={c['precision']:.3f} recall={c['recall']:.3f} f1={c['f1']:.3f}"


def register(app: typer.Typer) -> None:
    @app.command("eval-matching")
    def eval_matching(
        pairs_file: Annotated[Optional[Path], typer.Argument(help="Labelled pairs CSV (default: tests/fixtures/matching/pairs.csv).")] = None,
        errors: Annotated[bool, typer.Option("--errors", help="List the pairs the matcher gets wrong.")] = False,
    ) -> None:
        """Score the matcher's pairwise decision on labelled real pairs; last line: precision= recall= f1=."""
        path = pairs_file or DEFAULT_PAIRS
        if not path.exists():
            typer.echo(f"no pairs file at {path}", err=True)
            raise typer.Exit(2)
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        result = score_pairs(rows)
        if errors:
            for e in result["errors"]:
                typer.echo("  ".join(str(x) for x in e))
        for split in sorted(k for k in result["splits"] if k != "all"):
            c = result["splits"][split]
            typer.echo(f"{split}: pairs={sum(c[k] for k in ('tp', 'fp', 'fn', 'tn'))} tp={c['tp']} fp={c['fp']} fn={c['fn']} {_line(c)}")
        c = result["splits"]["all"]
        typer.echo(f"all: pairs={len(rows)} tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']}")
        typer.echo(_line(c))

    @app.command("organisations")
    def organisations(
        warehouse: Annotated[Optional[Path], typer.Option("--warehouse", "-w", envvar="BALTETL_WAREHOUSE", help="DuckDB file (default warehouse/baltmet.duckdb).")] = None,
        config: Annotated[Optional[Path], typer.Option("--config", "-c", envvar="BALTETL_CONFIG", help="TOML overriding the defaults.")] = None,
        top: Annotated[int, typer.Option("--top", "-n", help="How many of the largest clusters to show.")] = 15,
    ) -> None:
        """Golden organisations: how many, how many from several sources, the largest clusters."""
        from .cli_common import open_warehouse

        cfg, con = open_warehouse(config, warehouse, ("golden_organisations",), "resolution")
        try:
            n, multi, recs = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE len(sources) > 1), sum(records) FROM golden_organisations WHERE NOT hidden"
            ).fetchone()
            rules = con.execute("SELECT match_rule, count(*) FROM organisation_sources GROUP BY 1 ORDER BY 2 DESC").fetchall()
            largest = con.execute(
                """SELECT name, country, array_to_string(sources, ','), records FROM golden_organisations
                   WHERE NOT hidden ORDER BY records DESC, name LIMIT ?""", [top]).fetchall()  # fmt: skip
        finally:
            con.close()
        typer.echo(f"golden organisations: {n} (from {recs or 0} source records)")
        typer.echo(f"multi-source: {multi}")
        typer.echo("match rules: " + ", ".join(f"{r} {c}" for r, c in rules))
        typer.echo("largest clusters:")
        for name, country, sources, records in largest:
            typer.echo(f"  {records:>5}  {country or '--'}  {name}  [{sources}]")
