"""Last good data per source, and the run history, kept beside the warehouse.

Every warehouse build is made from these files alone, so a source that fails keeps its previous data,
a refresh of one source keeps the others, and the DuckDB file is always derived, never patched.

    <state>/sources/<source>/<run_id>/<table>.parquet + meta.json    a validated snapshot
    <state>/sources/<source>/CURRENT                                  run_id of the snapshot in use
    <state>/runs/<run_id>__<source>.json                              one row of `runs`
    <state>/run_records/<run_id>.json                                 a run: started (pid, sources), then finished
    <state>/quarantine/<run_id>__<source>.parquet                     rows that failed, with the reason
    <state>/history/<version>/                                        versions and changes per build (history.py)
Every file is written beside its place and renamed into it, so a crash leaves the old state whole.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # reading the run history needs neither
    import pandas as pd

from . import procs
from .db import quote
from .faults import point

KEEP_SNAPSHOTS = 3


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    import duckdb

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    con = duckdb.connect()
    try:
        con.register("frame", df)
        con.execute(f"COPY (SELECT * FROM frame) TO {quote(tmp)} (FORMAT parquet, COMPRESSION snappy)")
    finally:
        con.close()
    point("parquet.tmp")
    os.replace(tmp, path)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _unbuilt(rows: list[dict], state: State) -> list[dict]:
    """The per-source rows as they stand in the warehouse: a run interrupted (or whose build was not swapped in)
    loaded nothing into it: its staged sources say `staged` (their snapshots go into the next build), and a
    source it never reached says `interrupted`."""
    records = state.run_records()
    unbuilt = {i for i, r in records.items() if r["status"] == "interrupted" or r.get("built") is False}
    if not unbuilt:
        return rows
    from . import buildinfo

    unbuilt.discard((buildinfo.load(state) or {}).get("run_id"))  # killed after its build was recorded
    for row in rows:
        if row["run_id"] in unbuilt and row["status"] == "success":
            why = records[row["run_id"]].get("message") or "the run was interrupted"
            row.update(status="staged", rows_loaded=0,
                       message=f"staged {row.get('rows_loaded', 0)} rows, not in the warehouse ({why}): the next refresh builds them")  # fmt: skip
    seen = {(r["run_id"], r["source"]) for r in rows}
    for run_id in sorted(unbuilt):
        rec = records[run_id]
        if rec["status"] != "interrupted":
            continue
        rows += [{"run_id": run_id, "source": s, "status": "interrupted", "started_at": rec.get("started_at"),
                  "finished_at": None, "duration_s": None, "rows_read": 0, "rows_loaded": 0, "rows_quarantined": 0,
                  "tables": {}, "input_files": [],
                  "message": f"run interrupted (pid {rec.get('pid')} is gone) before this source was staged"}
                 for s in rec.get("sources", []) if (run_id, s) not in seen]  # fmt: skip
    return rows


TEMP = re.compile(r"\..+\.tmp-(\d+)")  # a file written beside its place by pid: .<name>.tmp-<pid>


class State:
    def __init__(self, root: Path):
        self.root = Path(root)

    # -- snapshots ------------------------------------------------------------------------------------
    def source_dir(self, source: str) -> Path:
        return self.root / "sources" / source

    def current(self, source: str) -> Path | None:
        pointer = self.source_dir(source) / "CURRENT"
        if not pointer.exists():
            return None
        snap = self.source_dir(source) / pointer.read_text().strip()
        return snap if (snap / "meta.json").exists() else None

    def meta(self, source: str) -> dict | None:
        snap = self.current(source)
        return json.loads((snap / "meta.json").read_text()) if snap else None

    def sources(self) -> list[str]:
        d = self.root / "sources"
        return sorted(p.name for p in d.iterdir() if p.is_dir() and self.current(p.name)) if d.exists() else []

    def save_snapshot(self, source: str, run_id: str, tables: dict[str, pd.DataFrame], meta: dict) -> Path:
        snap = self.source_dir(source) / run_id
        if snap.exists():
            shutil.rmtree(snap)

        def write(item: tuple[str, pd.DataFrame]) -> None:
            write_parquet(item[1], snap / f"{item[0]}.parquet")
            point("snapshot.table")

        with ThreadPoolExecutor(max_workers=max(1, len(tables))) as pool:  # DuckDB writes without the GIL
            list(pool.map(write, tables.items()))
        _atomic_write(snap / "meta.json", json.dumps({**meta, "tables": sorted(tables)}, indent=2, default=str))
        point("snapshot.meta")
        _atomic_write(self.source_dir(source) / "CURRENT", run_id)
        point("snapshot.current")
        self._prune(source, keep=run_id)
        return snap

    def _prune(self, source: str, keep: str) -> None:
        # only whole snapshots count as kept: one a killed run left half-written is a leftover
        snaps = sorted(p for p in self.source_dir(source).iterdir() if p.is_dir() and (p / "meta.json").exists())
        for old in snaps[:-KEEP_SNAPSHOTS]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def remove_leftovers(self) -> list[str]:
        """Delete what killed processes left: files written beside their place (`.<name>.tmp-<pid>`) by a pid
        that is gone, and snapshots never finished (no meta.json; not CURRENT).  Only with the refresh lock
        held: then no snapshot is being written.  -> the paths removed, relative to the state folder."""
        if not self.root.exists():
            return []
        gone = [str(p.relative_to(self.root)) for p in procs.remove_orphans(self.root.rglob(".*.tmp-*"), TEMP)]
        d = self.root / "sources"
        for src in d.iterdir() if d.exists() else ():
            current = self.current(src.name)
            for snap in (p for p in src.iterdir() if p.is_dir()) if src.is_dir() else ():
                if not (snap / "meta.json").exists() and snap != current:
                    shutil.rmtree(snap, ignore_errors=True)
                    gone.append(str(snap.relative_to(self.root)))
        return sorted(gone)

    # -- run history ------------------------------------------------------------------------------------
    def record_run(self, row: dict) -> None:
        _atomic_write(self.root / "runs" / f"{row['run_id']}__{row['source']}.json", json.dumps(row, default=str))
        point("run.recorded")

    def start_run(self, run_id: str, sources: list[str]) -> None:
        """Record a run as started, by this process: until finish_run, `baltetl status` shows it running, or
        `interrupted` once its process is gone (killed, the machine stopped)."""
        pid = os.getpid()
        _atomic_write(self._record_path(run_id), json.dumps({
            "run_id": run_id, "status": "started", "pid": pid, "pid_started": procs.start_time(pid),
            "sources": sources, "started_at": _now(), "finished_at": None, "message": "", "built": None,
        }))  # fmt: skip

    def finish_run(self, run_id: str, status: str, message: str = "", built: bool | None = True) -> None:
        """Record how a started run ended: success | partial | failed (built: whether its warehouse build is
        the one in place, or was current already; False when the build failed or was not swapped in)."""
        path = self._record_path(run_id)
        rec = json.loads(path.read_text()) if path.exists() else {"run_id": run_id}
        rec.update(status=status, message=message, built=built, finished_at=_now())
        _atomic_write(path, json.dumps(rec))

    def run_records(self) -> dict[str, dict]:
        """Every recorded run by id; one that never finished and whose process is gone is `interrupted`."""
        d = self.root / "run_records"
        out = {}
        for p in d.glob("*.json") if d.exists() else ():
            rec = json.loads(p.read_text())
            if rec.get("status") == "started" and not procs.alive(rec.get("pid") or 0, rec.get("pid_started")):
                rec["status"] = "interrupted"
            out[rec["run_id"]] = rec
        return out

    def _record_path(self, run_id: str) -> Path:
        return self.root / "run_records" / f"{run_id}.json"

    def save_quarantine(self, run_id: str, source: str, df: pd.DataFrame) -> None:
        if len(df):
            write_parquet(df, self.root / "quarantine" / f"{run_id}__{source}.parquet")

    def runs(self) -> list[dict]:
        d = self.root / "runs"
        if not d.exists():
            return []
        rows = [json.loads(p.read_text()) for p in d.glob("*.json")]
        return sorted(_unbuilt(rows, self), key=lambda r: (r.get("started_at") or "", r["source"]))

    def quarantine_files(self) -> list[Path]:
        d = self.root / "quarantine"
        return sorted(d.glob("*.parquet")) if d.exists() else []
