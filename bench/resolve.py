"""Benchmark: cross-source resolution over the full real data.

    python bench/resolve.py [--warehouse WH]      (default: build one in a temp folder)

Builds a warehouse (without Prefect) from the complete Horizon Europe XML in ../shared/data (--input) plus
keep.eu's full exports, Eurocities, the city networks and Interreg SE (shared files where present, else the
bundled samples), or takes an existing one with --warehouse; then runs `resolve.run` on a copy and prints
the record count, the golden organisations and, as its last line,
    records=... resolve_s=...
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb

ROOT = Path(__file__).resolve().parents[1]
def build(wh: Path) -> None:
    """The full real data (tests/conftest.py FULL_INPUTS) into `wh`: every source, then one build."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import FULL_INPUTS

    from baltetl import pipeline
    from baltetl.config import load_config

    cfg = load_config(warehouse=wh)
    run_id = pipeline.new_run_id()
    with pipeline.refresh_lock(cfg):
        for source, path in FULL_INPUTS.items():
            t = time.perf_counter()
            if path is not None and path.exists():
                result = pipeline.refresh_source(cfg, source, run_id, input_path=path)
                if result.status != "success":  # a shared file the source cannot read as given: its sample
                    print(f"  {source}: --input failed ({result.message[:120]}); using the sample", flush=True)
                    result = pipeline.refresh_source(cfg, source, run_id, sample=True)
            else:
                result = pipeline.refresh_source(cfg, source, run_id, sample=True)
            print(f"  {source}: {result.status} {result.rows_loaded} rows in {time.perf_counter() - t:.0f} s", flush=True)
        pipeline.build(cfg, run_id, log=lambda m: None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", type=Path, help="an existing warehouse to resolve (read; a copy is resolved)")
    args = ap.parse_args()
    from baltetl import resolve
    from baltetl.state import State

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        wh = args.warehouse
        if wh is None:
            wh = d / "wh" / "baltmet.duckdb"
            print("building a warehouse from the full real data ...", flush=True)
            build(wh)
        copy = d / "resolve.duckdb"
        shutil.copy(wh, copy)
        con = duckdb.connect(str(copy))
        con.execute("SET threads = 2")
        t = time.perf_counter()
        out = resolve.run(con, None, State(d / "state"), SimpleNamespace(merges=[], keep_apart=[], issues=[]), "bench")
        elapsed = time.perf_counter() - t
        by_source = con.execute("SELECT source, count(*) FROM organisations GROUP BY 1 ORDER BY 1").fetchall()
        con.close()
    print("records per source: " + ", ".join(f"{s} {n}" for s, n in by_source))
    print(f"golden organisations: {out['golden']} (multi-source {out['multi_source']}); fuzzy pairs scored "
          f"{out.get('fuzzy_pairs_scored')}")
    print(f"records={out['records']} resolve_s={elapsed:.2f}")


if __name__ == "__main__":
    main()
