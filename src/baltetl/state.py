"""Last good data per source, and the run history, kept beside the warehouse.

Every warehouse build is made from these files alone, so a source that fails keeps its previous data,
a refresh of one source keeps the others, and the DuckDB file is always derived, never patched.

    <state>/sources/<source>/<run_id>/<table>.parquet + meta.json    a validated snapshot
    <state>/sources/<source>/CURRENT                                  run_id of the snapshot in use
    <state>/runs/<run_id>__<source>.json                              one row of `runs`
    <state>/quarantine/<run_id>__<source>.parquet                     rows that failed, with the reason
    <state>/history/<version>/                                        versions and changes per build (history.py)
Every file is written beside its place and renamed into it, so a crash leaves the old state whole.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # reading the run history needs neither
    import pandas as pd

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
        snaps = sorted(p for p in self.source_dir(source).iterdir() if p.is_dir())
        for old in snaps[:-KEEP_SNAPSHOTS]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    # -- run history ------------------------------------------------------------------------------------
    def record_run(self, row: dict) -> None:
        _atomic_write(self.root / "runs" / f"{row['run_id']}__{row['source']}.json", json.dumps(row, default=str))
        point("run.recorded")

    def save_quarantine(self, run_id: str, source: str, df: pd.DataFrame) -> None:
        if len(df):
            write_parquet(df, self.root / "quarantine" / f"{run_id}__{source}.parquet")

    def runs(self) -> list[dict]:
        d = self.root / "runs"
        if not d.exists():
            return []
        rows = [json.loads(p.read_text()) for p in d.glob("*.json")]
        return sorted(rows, key=lambda r: (r.get("started_at") or "", r["source"]))

    def quarantine_files(self) -> list[Path]:
        d = self.root / "quarantine"
        return sorted(d.glob("*.parquet")) if d.exists() else []
