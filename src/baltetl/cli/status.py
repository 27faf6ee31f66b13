"""`baltetl status`: the data-quality report of the last run, the last runs, organisations per metropolis."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from .common import ConfigOpt, WarehouseOpt, out


def status(
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs to show.")] = 10,
    full: Annotated[bool, typer.Option("--full", "--verbose", "-v", help="Whole messages and the checks' own names (else in plain words, cut to the terminal's width).")] = False,
) -> None:
    """The data-quality report of the last run (per source: status, rows read / loaded / quarantined, the
    checks that failed most, stale sources, unresolved revisions), the last runs, organisations per metropolis."""
    from .. import report
    from ..config import load_config
    from ..state import State

    global _cut
    _cut = False
    cfg = load_config(config, warehouse=warehouse)
    runs = State(cfg.state).runs()
    if not runs:
        out.print(f"no runs yet for {cfg.warehouse} (state {cfg.state})")
        raise typer.Exit(0)
    _print_report(report.build(cfg), full)
    _runs_table(cfg, runs[-limit:][::-1], full)
    if cfg.warehouse.exists():
        import duckdb

        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            rows = con.execute("SELECT name, organisations, participations, ongoing_projects FROM metropolis_summary "
                               "ORDER BY name").fetchall()  # fmt: skip
        finally:
            con.close()
        m = Table(title="metropolises (organisations shown, participations, ongoing projects)", box=box.SIMPLE_HEAD)
        for col in ("metropolis", "organisations", "participations", "ongoing projects"):
            m.add_column(col, justify="left" if col == "metropolis" else "right", no_wrap=True)
        for row in rows:
            m.add_row(*(str(x) for x in row))
        out.print(m)
    if _cut:
        out.print("[dim]whole messages and the checks' own names: baltetl status --full[/]")


def _styled(status: str | None) -> str:
    style = {"success": "green", "unchanged": "green", "failed": "red"}.get(status or "", "yellow")
    return f"[{style}]{status or '-'}[/]"


def _why(message: str, full: bool) -> str:
    """A source's message: whole (--full), else in plain words (checkwords)."""
    from ..checkwords import message as plain

    return message if full else plain(message)


def _runs_table(cfg, runs: list[dict], full: bool) -> None:
    """The last runs, one line each, then why those that did not load did not: a line each, cut to the
    terminal's width (whole with --full)."""
    t = Table(title=f"last runs — {cfg.warehouse.name}", box=box.SIMPLE_HEAD)
    for col in ("started (UTC)", "source", "status", "read", "loaded", "held", "s"):
        t.add_column(col, no_wrap=True, justify="right" if col in ("read", "loaded", "held", "s") else "left")
    why = []
    for r in runs:
        started = (r.get("started_at") or "")[:16].replace("T", " ")
        t.add_row(started, r["source"], _styled(r["status"]), str(r.get("rows_read", "")), str(r.get("rows_loaded", "")),
                  str(r.get("rows_quarantined", "")), f"{r.get('duration_s') or 0:.0f}")  # fmt: skip
        if r.get("message") and r["status"] not in ("success", "unchanged"):
            why.append(f"{started} {r['source']} {r['status']}: {_why(r['message'], full)}")
    out.print(t)
    for line in why:
        _line(line, full)


def _line(text: str, full: bool) -> None:
    """One line of text, cut to the terminal's width (whole and wrapped with --full)."""
    from rich.text import Text

    global _cut
    if full:
        out.print(Text(text), soft_wrap=False)
    else:
        out.print(Text(text), no_wrap=True, overflow="ellipsis")
        _cut = _cut or len(text) > out.width


_cut = False  # a status line was cut to the terminal's width


def _fate(check: dict) -> str:
    """What became of a check's rows: held back, or loaded with the value emptied (quarantine `action`)."""
    n, emptied = check["rows"], check.get("emptied") or 0
    return "emptied" if emptied == n else "held back" if not emptied else f"{emptied} emptied, {n - emptied} held"


def _print_report(rep, full: bool = False) -> None:
    """The data-quality report (baltetl.report) as rich tables."""
    from ..checkwords import words

    t = Table(title=f"data quality — run {rep.run_id}: {rep.status}", box=box.SIMPLE_HEAD)
    cols = ("source", "status", "read", "loaded", "held", "emptied", *(("s",) if full else ()), "last good data (UTC)")
    for col in cols:  # seconds only with --full: the rest fits 80 columns
        t.add_column(col, justify="right" if col in ("read", "loaded", "held", "emptied", "s") else "left",
                     no_wrap=col != "last good data (UTC)")  # fmt: skip
    for s in rep.sources:
        good = (s.last_good_at or "never")[:16].replace("T", " ") + (" [red]stale[/]" if s.stale else "")
        secs = (f"{s.duration_s or 0:.1f}",) if full and s.status is not None else ("",) if full else ()
        if s.status is None:
            t.add_row(s.source, "[dim]not in run[/]", "", "", "", "", *secs, good)
        else:
            t.add_row(s.source, _styled(s.status), str(s.rows_read), str(s.rows_loaded), str(s.rows_quarantined),
                      str(s.fields_nulled), *secs, good)  # fmt: skip
    out.print(t)
    if rep.status == "interrupted":
        _line(f"run {rep.run_id} was interrupted (its process is gone): the sources it staged go into the next "
              "build, the others keep their last good data", full)  # fmt: skip
    for s in rep.ran:
        if s.status not in ("success", "unchanged") and s.message:
            _line(f"{s.source} {s.status}: {_why(s.message, full)}", full)
    checks = rep.top_checks()
    if checks:
        c = Table(title="rows held back, or loaded with a value emptied, by check (of the data in use)", box=box.SIMPLE_HEAD)
        for col in ("source", "table", *(("check", "rows") if full else ("what",)), "then"):
            c.add_column(col, justify="right" if col == "rows" else "left", overflow="fold", no_wrap=col in ("source", "then"))
        for row in checks[:15]:
            what = (row["check"], str(row["rows"])) if full else (words(row["check"], row["rows"], row["table"]),)
            c.add_row(row["source"], row["table"], *what, _fate(row))
        out.print(c)
    pc = getattr(rep, "placement_conflicts", None)
    if pc:
        out.print(f"placement conflicts (the address decided; table placement_conflicts): "
                  f"{sum(c['addresses'] for c in pc)} addresses, {sum(c['participations'] or 0 for c in pc)} participations")
    if rep.stale:
        st = Table(title="stale sources (data older than the source's cadence)", box=box.SIMPLE_HEAD)
        for col in ("source", "last good data", "age (days)", "cadence (days)"):
            st.add_column(col, justify="left" if col in ("source", "last good data") else "right")
        for s in rep.stale:
            st.add_row(s.source, s.last_good_at or "never loaded", "" if s.age_days is None else f"{s.age_days:.1f}",
                       f"{s.cadence_days:g}")  # fmt: skip
        out.print(st)
    else:
        out.print("stale sources: none")
    if rep.revision_issues:
        r = Table(title=f"unresolved revisions ({len(rep.revision_issues)})", box=box.SIMPLE_HEAD)
        for col in ("kind", "file:line", "message"):
            r.add_column(col, overflow="fold")
        for i in rep.revision_issues[:20]:
            r.add_row(i["kind"], f"{i['file']}:{i['line'] if i['line'] is not None else ''}", i["message"])
        out.print(r)
    else:
        out.print("unresolved revisions: none")


def register(app: typer.Typer) -> None:
    app.command()(status)
