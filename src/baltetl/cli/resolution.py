"""CLI commands of cross-source resolution: `baltetl eval-matching`, `baltetl organisations`.

Registered on the main app by `register(app)` (src/baltetl/cli/__init__.py).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import ConfigOpt, WarehouseOpt, open_warehouse, warehouse_option

DEFAULT_PAIRS = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "matching" / "pairs.csv"
SIDES = ("left", "right")
PairsWarehouse = warehouse_option("Score the golden ids of this built warehouse instead of the pairwise decision.", envvar=None)


def _rec(row: dict, side: str):
    from ..resolve import Rec, declared_with

    g = lambda c: (row.get(f"{side}_{c}") or None)  # noqa: E731
    source, oid = g("source"), g("id")
    return Rec(f"{source}:{oid}", source, g("name") or "", g("country"), g("city"), g("org_type"), g("vat"),
               g("website"), oid if source in declared_with("org_id_is_pic") else g("pic"), g("wikidata"))  # fmt: skip


def score_pairs(rows: list[dict]) -> dict:
    """Run the matcher's pairwise decision (resolve.decide) on labelled pairs; counts per split and overall.
    Domains are trusted as resolve trusts them, judged over every record in the file."""
    from ..resolve import decide, trusted_domains

    recs = [(_rec(r, "left"), _rec(r, "right")) for r in rows]
    trusted = trusted_domains([x for pair in recs for x in pair])
    errors, preds = [], []
    for row, (a, b) in zip(rows, recs):
        pred, rule, score = decide(a, b, trusted)
        preds.append(pred)
        label = str(row["label"]).strip() in ("1", "true", "True", "match")
        if pred != label:
            errors.append(("FP" if pred else "FN", a.name, a.country, b.name, b.country, rule, round(score, 2)))
    res = _tally(rows, preds)
    return {"splits": res, "errors": errors}


def _line(c: dict) -> str:
    n = sum(c[k] for k in ("tp", "fp", "fn", "tn"))
    return f"precision={c['precision']:.3f} recall={c['recall']:.3f} f1={c['f1']:.3f} pairs={n}"


def _tally(rows: list[dict], preds: list[bool]) -> dict:
    res: dict = {}
    for row, pred in zip(rows, preds):
        label = str(row["label"]).strip() in ("1", "true", "True", "match")
        for split in {"all", row.get("split") or "all"}:
            c = res.setdefault(split, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
            c[("tp" if label else "fp") if pred else ("fn" if label else "tn")] += 1
    for c in res.values():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        c.update(precision=p, recall=r, f1=2 * p * r / (p + r) if p + r else 0.0)
    return res


def score_warehouse(rows: list[dict], con) -> dict:
    """Score labelled pairs on the golden ids of a built warehouse: a pair is predicted one organisation when
    both records sit in one golden organisation.  Records are found by (source, source_id), the source's own
    id (organisation_sources.source_id), else by (source, org_id); pairs with a record the warehouse lacks are
    left out and counted as `missing`."""
    cols = {r[0] for r in con.execute("DESCRIBE organisation_sources").fetchall()}
    by_key = dict(con.execute("SELECT org_key, golden_id FROM organisation_sources").fetchall())
    by_sid = {}
    if "source_id" in cols:
        for src, sid, gid in con.execute("SELECT source, source_id, golden_id FROM organisation_sources WHERE source_id IS NOT NULL").fetchall():
            by_sid.setdefault((src, sid), set()).add(gid)

    def golden(row, side):
        src, sid, oid = (row.get(f"{side}_{c}") or None for c in ("source", "source_id", "id"))
        gids = by_sid.get((src, sid), set()) if sid else set()
        if len(gids) == 1:
            return next(iter(gids))
        return by_key.get(f"{src}:{oid}")

    kept, preds, missing, errors = [], [], [], []
    for row in rows:
        ga, gb = golden(row, "left"), golden(row, "right")
        if ga is None or gb is None:
            missing.append(row)
            continue
        kept.append(row)
        preds.append(ga == gb)
        label = str(row["label"]).strip() in ("1", "true", "True", "match")
        if (ga == gb) != label and row.get("split") != "holdout":
            errors.append(("FP" if ga == gb else "FN", row.get("left_name"), row.get("left_country"),
                           row.get("right_name"), row.get("right_country"), ga, gb))  # fmt: skip
    return {"splits": _tally(kept, preds), "errors": errors, "missing": len(missing)}


def register(app: typer.Typer) -> None:
    @app.command("eval-matching")
    def eval_matching(
        pairs_file: Annotated[Optional[Path], typer.Argument(help="Labelled pairs CSV (default: tests/fixtures/matching/pairs.csv).")] = None,
        errors: Annotated[bool, typer.Option("--errors", help="List the pairs the matcher gets wrong (with --warehouse: of the dev half only).")] = False,
        warehouse: PairsWarehouse = None,
        split: Annotated[Optional[str], typer.Option("--split", help="The split whose figures are the last line (default: all pairs).")] = None,
    ) -> None:
        """Score the matcher on labelled real pairs (its pairwise decision, or with --warehouse the golden ids of
        a built warehouse); each split's figures, last line: precision= recall= f1= pairs=."""
        path = pairs_file or DEFAULT_PAIRS
        if not path.exists():
            typer.echo(f"no pairs file at {path}", err=True)
            raise typer.Exit(2)
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if warehouse is not None:
            import duckdb

            if not warehouse.exists():
                typer.echo(f"no warehouse at {warehouse}", err=True)
                raise typer.Exit(2)
            con = duckdb.connect(str(warehouse), read_only=True)
            try:
                result = score_warehouse(rows, con)
            finally:
                con.close()
            typer.echo(f"pairs whose records the warehouse lacks: {result['missing']}")
        else:
            result = score_pairs(rows)
        if errors:
            for e in result["errors"]:
                typer.echo("  ".join(str(x) for x in e))
        for name in sorted(k for k in result["splits"] if k != "all"):
            c = result["splits"][name]
            typer.echo(f"{name}: tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']} {_line(c)}")
        c = result["splits"].get("all", {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0})
        typer.echo(f"all: tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']}")
        if split and split not in result["splits"]:
            typer.echo(f"no pairs of split {split!r} in {path}", err=True)
            raise typer.Exit(2)
        typer.echo(_line(result["splits"][split] if split else c))

    @app.command("organisations")
    def organisations(
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
        top: Annotated[int, typer.Option("--top", "-n", help="How many of the largest clusters to show.")] = 15,
    ) -> None:
        """Golden organisations: how many, how many from several sources, the largest clusters."""

        cfg, con = open_warehouse(config, warehouse, ("golden_organisations",), "resolution")
        try:
            n, multi, recs = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE len(sources) > 1), sum(records) FROM golden_organisations WHERE NOT hidden"
            ).fetchone()
            rules = con.execute("SELECT match_rule, count(*) FROM organisation_sources GROUP BY 1 ORDER BY 2 DESC").fetchall()
            cols = {r[0] for r in con.execute("DESCRIBE organisation_sources").fetchall()}
            withheld = con.execute(  # (a warehouse built before session 13 has no such column)
                "SELECT count(*), count(DISTINCT golden_id) FROM organisation_sources WHERE name_withheld"
            ).fetchone() if "name_withheld" in cols else None
            largest = con.execute(
                """SELECT name, country, array_to_string(sources, ','), records FROM golden_organisations
                   WHERE NOT hidden ORDER BY records DESC, name LIMIT ?""", [top]).fetchall()  # fmt: skip
        finally:
            con.close()
        typer.echo(f"golden organisations: {n} (from {recs or 0} source records)")
        typer.echo(f"multi-source: {multi}")
        typer.echo("match rules: " + ", ".join(f"{r} {c}" for r, c in rules))
        if withheld:
            typer.echo(f"names withheld (a person's name, never published): {withheld[0]} source records in {withheld[1]} "
                       "organisations (organisation_sources.name_withheld; correct a wrong one with a revision)")
        typer.echo("largest clusters:")
        for name, country, sources, records in largest:
            typer.echo(f"  {records:>5}  {country or '--'}  {name}  [{sources}]")
