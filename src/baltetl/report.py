"""The data-quality report of a run: per source what was read, loaded, quarantined or unchanged; the checks
that failed most; the sources whose data is older than their cadence; the revisions that could not be applied.

    rep = report.build(cfg, run_id)      # the run's report (default: the last run), as data
    rep.markdown()                       # the Prefect artifact 'data-quality'
    rep.rows()                           # one row per source: the table artifact and the warehouse's quality_report

Runs come from the state's run history (authoritative: a run that skipped the build is only there); unresolved
revisions from the warehouse's `revision_issues` (the one being built, or the one on disk).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .config import Config
from .state import State

TOP_CHECKS = 5


@dataclass
class SourceLine:
    source: str
    status: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0  # rows held back
    fields_nulled: int = 0  # values emptied in rows that loaded
    unchanged: bool = False
    duration_s: float | None = None
    message: str = ""
    last_good_at: str | None = None
    age_days: float | None = None
    cadence_days: float = 30.0
    stale: bool = False
    top_checks: list[dict] = field(default_factory=list)


@dataclass
class Report:
    run_id: str
    status: str
    started_at: str | None
    generated_at: str
    sources: list[SourceLine]
    revision_issues: list[dict]
    # addresses whose signals disagree (placement_conflicts): per other rule, addresses and participations
    placement_conflicts: list[dict] = field(default_factory=list)

    @property
    def stale(self) -> list[SourceLine]:
        return [s for s in self.sources if s.stale]

    @property
    def ran(self) -> list[SourceLine]:
        return [s for s in self.sources if s.status is not None]

    def top_checks(self) -> list[dict]:
        rows = [{"source": s.source, **c} for s in self.sources for c in s.top_checks]
        return sorted(rows, key=lambda r: (-r["rows"], r["source"], r["table"], r["check"]))

    def rows(self) -> list[dict]:
        out = []
        for s in self.sources:
            row = asdict(s)
            row["top_checks"] = json.dumps(s.top_checks)
            out.append({"run_id": self.run_id, **row, "generated_at": self.generated_at})
        return out

    def markdown(self) -> str:
        md = [f"# Data quality — run {self.run_id}: {self.status}", ""]
        md += _md_table(
            ["source", "status", "read", "loaded", "quarantined", "fields emptied", "unchanged", "seconds", "message"],
            [[s.source, s.status, s.rows_read, s.rows_loaded, s.rows_quarantined, s.fields_nulled, "yes" if s.unchanged else "",
              f"{s.duration_s:.1f}", s.message[:200]] for s in self.ran],
        )  # fmt: skip
        md += ["", "## Top failing checks", ""]
        checks = self.top_checks()
        md += _md_table(["source", "table", "check", "rows"], [[c["source"], c["table"], c["check"], c["rows"]]
                                                               for c in checks]) if checks else ["none"]  # fmt: skip
        md += ["", "## Stale sources", ""]
        md += _md_table(
            ["source", "last good data", "age (days)", "cadence (days)"],
            [[s.source, s.last_good_at or "never loaded", "" if s.age_days is None else f"{s.age_days:.1f}",
              f"{s.cadence_days:g}"] for s in self.stale],
        ) if self.stale else ["none"]  # fmt: skip
        md += ["", "## Unresolved revisions", ""]
        md += _md_table(
            ["kind", "file", "line", "revision", "message"],
            [[i["kind"], i["file"], i["line"], i["revision_id"], i["message"]] for i in self.revision_issues],
        ) if self.revision_issues else ["none"]  # fmt: skip
        md += ["", "## Placement conflicts (the address decided; table placement_conflicts)", ""]
        md += _md_table(
            ["decided by", "disagreeing rule", "addresses", "participations"],
            [[c["decided_by"], c["other_rule"], c["addresses"], c["participations"]] for c in self.placement_conflicts],
        ) if self.placement_conflicts else ["none"]  # fmt: skip
        return "\n".join(md) + "\n"


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v) -> str:
        return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]


def run_status(statuses: list[str]) -> str:
    """success | partial (some source failed) | failed (every source that ran failed)."""
    failed = [s for s in statuses if s == "failed"]
    ran = [s for s in statuses if s != "skipped"]
    return "success" if not failed else ("failed" if len(failed) == len(ran) else "partial")


def _when(iso: str | None) -> datetime | None:
    if not iso:
        return None
    t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _checks(row: dict | None) -> list[dict]:
    if not row:
        return []
    found = [{"table": t, "check": c, "rows": int(n), "emptied": int((rep.get("emptied_checks") or {}).get(c, 0))}
             for t, rep in (row.get("tables") or {}).items() for c, n in (rep.get("top_checks") or {}).items()]  # fmt: skip
    return sorted(found, key=lambda c: (-c["rows"], c["table"], c["check"]))[:TOP_CHECKS]


def build(cfg: Config, run_id: str | None = None, *, state: State | None = None, con=None,
          now: datetime | None = None) -> Report | None:  # fmt: skip
    """The report of `run_id` (default: the last run); None when there is no such run (or none yet).

    con: a DuckDB connection holding `revision_issues` (default: the warehouse file, read-only, if any);
    now: the time staleness is measured at (default: now)."""
    state = state or State(cfg.state)
    runs = state.runs()
    if not runs:
        return None
    run_id = run_id or runs[-1]["run_id"]
    this = {r["source"]: r for r in runs if r["run_id"] == run_id}
    if not this:
        return None
    by_key = {(r["run_id"], r["source"]): r for r in runs}
    now = now or datetime.now(UTC)
    lines = []
    for name in [*cfg.sources, *sorted(set(this) - set(cfg.sources))]:
        row = this.get(name)
        meta = state.meta(name) or {}
        # the data in use was saved with its snapshot, and confirmed by every later run that found it unchanged
        seen = [meta.get("saved_at")] + [r.get("finished_at") for r in runs if r["source"] == name and r["status"] == "unchanged"]
        last = max((t for t in map(_when, seen) if t and t <= now), default=None) if meta else None
        cadence = cfg.sources[name].cadence_days if name in cfg.sources else 30.0
        age = (now - last).total_seconds() / 86400 if last else None
        # checks: of this run's attempt if it parsed anything, else of the run that made the data in use
        loaded_by = row if row and row.get("tables") else by_key.get((meta.get("run_id"), name))
        line = SourceLine(name, row["status"] if row else None, cadence_days=cadence, top_checks=_checks(loaded_by),
                          last_good_at=last.isoformat(timespec="seconds") if last else None,
                          age_days=round(age, 2) if age is not None else None,
                          stale=age is None or age > cadence)  # fmt: skip
        if row:
            line.rows_read, line.rows_loaded = row.get("rows_read") or 0, row.get("rows_loaded") or 0
            line.rows_quarantined, line.duration_s = row.get("rows_quarantined") or 0, row.get("duration_s") or 0.0
            line.unchanged, line.message = row["status"] == "unchanged", row.get("message") or ""
            line.fields_nulled = sum(t.get("fields_nulled") or 0 for t in (row.get("tables") or {}).values())
        lines.append(line)
    started = min((r.get("started_at") or "" for r in this.values()), default=None)
    record = state.run_records().get(run_id) or {}  # how the run ended: interrupted, or a build not swapped in
    status = record["status"] if record.get("status") in ("interrupted", "failed") else None
    return Report(run_id, status or run_status([r["status"] for r in this.values()]), started,
                  now.isoformat(timespec="seconds"), lines, _revision_issues(cfg, con),
                  _warehouse_rows(cfg, con, PLACEMENT_SQL, ("decided_by", "other_rule", "addresses", "participations")))  # fmt: skip


PLACEMENT_SQL = """SELECT decided_by, other_rule, count(*), sum(participations)::BIGINT FROM placement_conflicts
                   GROUP BY ALL ORDER BY 4 DESC, 3 DESC, 1, 2"""


def _warehouse_rows(cfg: Config, con, sql: str, names: tuple[str, ...]) -> list[dict]:
    """Rows of `sql` on `con` (default: the warehouse file, read-only); none when the table is missing."""
    import duckdb

    own = con is None
    if own:
        if not Path(cfg.warehouse).exists():
            return []
        try:
            con = duckdb.connect(str(cfg.warehouse), read_only=True)
        except duckdb.Error:  # held open for writing: nothing to show now
            return []
    try:
        rows = con.execute(sql).fetchall()
    except duckdb.CatalogException:  # a warehouse built before the table existed
        rows = []
    finally:
        if own:
            con.close()
    return [dict(zip(names, r)) for r in rows]


def _revision_issues(cfg: Config, con) -> list[dict]:
    return _warehouse_rows(cfg, con, "SELECT kind, file, line, revision_id, message FROM revision_issues ORDER BY kind, file, line",
                           ("kind", "file", "line", "revision_id", "message"))  # fmt: skip


def write(con, rep: Report | None) -> None:
    """The report as rows of the warehouse's `quality_report` table (warehouse/marts/quality_report.sql)."""
    if rep is None:
        return
    cols = ["run_id", *SourceLine.__dataclass_fields__, "generated_at"]
    rows = [[r[c] for c in cols] for r in rep.rows()]
    if rows:
        con.executemany(f"INSERT INTO quality_report ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
