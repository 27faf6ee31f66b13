"""Benchmark: what keeping the history adds to a warehouse build on the full real data.

    python bench/history.py [--warehouse WH] [--repeat N]

Loads the bundled CORDIS sample and then the complete Horizon Europe XML (../shared/data) without Prefect, or
takes the state of an existing warehouse with --warehouse (a copy); then times whole builds, median of N:
without history, the first build of an empty history (every record added), and a rebuild of unchanged data.
Also prints the history step of the sample -> full refresh (the records it added and changed).  The history
step's CPU time is printed beside its wall time: on a shared machine it is the steadier figure.  Last line:
    build_s=... first_history_s=... unchanged_history_s=... added_s=...
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HE_XML = ROOT.parent / "shared" / "data" / "cordis" / "horizon" / "xml" / "cordis-HORIZONprojects-xml_2025-12-06.tar.xz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", type=Path, help="take this warehouse's state (copied) instead of loading the data")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import run_refresh

    from baltetl import history, warehouse
    from baltetl.config import load_config
    from baltetl.state import State

    step: list[float] = []  # wall time of the history step
    cpu: list[float] = []  # its CPU time (all threads): less shaken by other load on the machine
    track = history.track

    def timed_track(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        out = track(*a, **k)
        step.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        return out

    history.track = timed_track
    with tempfile.TemporaryDirectory() as d:
        cfg = load_config(warehouse=Path(d) / "wh" / "baltmet.duckdb")
        if args.warehouse:
            shutil.copytree(str(args.warehouse) + ".state", cfg.state)
        else:
            print("loading the sample, then the complete Horizon Europe XML ...", flush=True)
            run_refresh(cfg, sample=True)
            result, counts = run_refresh(cfg, input_path=HE_XML)
            print(f"  sample -> full: {result.status}, {counts}; history step {step[-1]:.2f} s (CPU {cpu[-1]:.2f} s)", flush=True)
        state = State(cfg.state)

        def build() -> float:
            t = time.perf_counter()
            warehouse.build(cfg, state, "bench", log=lambda m: None)
            return time.perf_counter() - t

        times: dict[str, list[float]] = {"without": [], "first": [], "unchanged": []}
        hist: dict[str, list[float]] = {"first": [], "unchanged": []}
        hcpu: dict[str, list[float]] = {"first": [], "unchanged": []}
        for _ in range(args.repeat):
            history.track = lambda con, *a, **k: (None, {}, None)  # no history at all
            times["without"].append(build())
            history.track = timed_track
            shutil.rmtree(history.root(state), ignore_errors=True)
            times["first"].append(build())
            hist["first"].append(step[-1])
            hcpu["first"].append(cpu[-1])
            times["unchanged"].append(build())
            hist["unchanged"].append(step[-1])
            hcpu["unchanged"].append(cpu[-1])
    med = {k: statistics.median(v) for k, v in times.items()}
    hmed = {k: statistics.median(v) for k, v in hist.items()}
    cmed = {k: statistics.median(v) for k, v in hcpu.items()}
    for k in times:
        print(f"{k:>10}: build {med[k]:.2f} s" + (f", history step {hmed[k]:.2f} s (CPU {cmed[k]:.2f} s)" if k in hmed else ""))
    print(f"build_s={med['without']:.2f} first_history_s={hmed['first']:.2f} "
          f"unchanged_history_s={hmed['unchanged']:.2f} added_s={med['unchanged'] - med['without']:.2f}")


if __name__ == "__main__":
    main()
