"""Benchmark: a full `baltetl refresh` of a CORDIS XML archive against the floor of reading it.

    python bench/refresh_cordis.py [ARCHIVE] [--repeat N] [--no-model]
                                        (default: the complete Horizon Europe XML in ../shared/data, N = 1)

In one run it measures
  floor    decompress the archive and parse every XML member with lxml (one process, nothing else)
  refresh  `baltetl refresh --source cordis --input ARCHIVE --no-publish` as a user runs it: a new process,
           Prefect (a temporary local API unless PREFECT_API_URL names a server), parse, validate, stage, and
           the whole build (resolution, revisions, history, marts); publishing the site is timed by
           bench/publish.py
By default every timed refresh ranks the opportunities with a learned model, as a nightly refresh does once
`baltetl train-opportunities` has run: before the first floor, an untimed warm-up refresh of the same archive
into a folder of its own is followed by `baltetl train-opportunities` on it (after the first floor, before
the timed refreshes), and the model file it writes is copied into the state folder of each timed refresh
before that refresh starts (outside the timed part); --model FILE copies that model file instead.
--no-model leaves it out (the hand-weighted ranking only, as before).  The warm-up also starts the temporary
Prefect API once, so with a model the first timed run does not wait for a cold API database.

It prints as its last line
  floor_s=... refresh_s=... ratio=... peak_rss_mb=... model=yes|no
peak_rss_mb is the largest summed resident memory of the refresh's whole process tree (the CLI, its parse
workers and Prefect's temporary server), sampled every 20 ms.  With --repeat N both are measured N times,
alternately, and the last line gives the medians (and the largest peak): on a shared 2-core machine one
run of either can be off by 10-20 %.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

import psutil
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "cordis" / "horizon" / "xml" / "cordis-HORIZONprojects-xml_2025-12-06.tar.xz"


def floor(archive: Path) -> tuple[float, int]:
    t = time.perf_counter()
    n = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if info.filename.endswith(".xml"):
                    etree.fromstring(z.read(info))
                    n += 1
    else:
        with tarfile.open(archive, "r|*") as tf:
            for m in tf:
                if m.isfile() and m.name.endswith(".xml"):
                    etree.fromstring(tf.extractfile(m).read())
                    n += 1
    return time.perf_counter() - t, n


def tree_rss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def refresh(archive: Path, workdir: Path, model: Path | None = None) -> tuple[float, float, int, dict]:
    """One timed refresh into a new warehouse in `workdir`; `model` is copied into its state folder first."""
    wh = workdir / "bench.duckdb"
    if model is not None:
        state = workdir / "bench.duckdb.state"
        state.mkdir(parents=True, exist_ok=True)
        shutil.copy(model, state / model_file())  # under the name the build reads (not the given file's)
    cmd = [sys.executable, "-m", "baltetl", "refresh", "--source", "cordis", "--input", str(archive), "-w", str(wh),
           "--no-publish"]  # publishing the site has its own bench (bench/publish.py)
    t0 = time.time()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peak, procs, polls = 0, [ps], 0
    while proc.poll() is None:
        if polls % 10 == 0:  # listing the tree walks all of /proc: every 0.2 s, not every poll (that took
            procs = tree(ps)  # a tenth of a core from the refresh it measures)
        peak = max(peak, tree_rss(procs))
        polls += 1
        time.sleep(0.02)
    elapsed = time.perf_counter() - t
    output = proc.stdout.read()
    if proc.returncode != 0:
        sys.exit(f"refresh failed ({proc.returncode}):\n{output}")
    runs = sorted((workdir / "bench.duckdb.state" / "runs").glob("*.json"))
    for line in output.splitlines():  # what the build says of the opportunities (ranked by the model, seconds)
        if line.startswith("opportunities:"):
            print(" ", line)
    return t0, elapsed, peak, json.loads(runs[-1].read_text())


def args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="refresh of a CORDIS XML archive vs. the floor of reading it")
    ap.add_argument("archive", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=1, help="measure both N times, alternately; print medians")
    ap.add_argument("--no-model", action="store_true", help="no opportunity model in the state folder (hand ranking)")
    ap.add_argument("--model", type=Path, help="this opportunity model file instead of one trained on a warm-up refresh")
    return ap.parse_known_args()[0]


def start(archive: Path) -> float:
    """The archive's floor, printed."""
    if not archive.exists():
        sys.exit(f"archive not found: {archive}")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    print(f"archive {archive.name} ({archive.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} cores")
    floor_s, n = floor(archive)
    print(f"floor: {n} XML members decompressed and parsed in {floor_s:.2f} s")
    return floor_s


def model_file() -> str:
    """The file name the build reads the model from (baltetl.opportunities.MODEL_FILE of this checkout)."""
    sys.path.insert(0, str(ROOT / "src"))
    from baltetl.opportunities import MODEL_FILE

    return MODEL_FILE


def train(archive: Path, workdir: Path) -> Path:
    """The opportunity model of the archive: an untimed refresh of it, then `baltetl train-opportunities`."""
    t = time.perf_counter()
    refresh(archive, workdir)
    wh = workdir / "bench.duckdb"
    done = subprocess.run([sys.executable, "-m", "baltetl", "train-opportunities", "-w", str(wh)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"train-opportunities failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    model = workdir / "bench.duckdb.state" / model_file()
    print(f"model: {model.name} trained on a warm-up refresh in {time.perf_counter() - t:.0f} s (untimed)")
    return model


def main() -> None:
    a = args()
    n, archive = a.repeat, a.archive
    floor_s = start(archive)
    setup = tempfile.TemporaryDirectory(prefix="baltetl-bench-model-")
    model = None if a.no_model else a.model or train(archive, Path(setup.name))
    floors, walls, peaks = [floor_s], [], []
    for i in range(n):
        if i:
            floors.append(floor(archive)[0])
        with tempfile.TemporaryDirectory(prefix="baltetl-bench-") as d:
            t0, refresh_s, peak, run = refresh(archive, Path(d), model)
        walls.append(refresh_s)
        peaks.append(peak)
        tables = run["tables"]
        started = datetime.fromisoformat(run["started_at"]).timestamp()
        print(f"refresh: {refresh_s:.2f} s wall, of which {started - t0:.2f} s until the flow ran (Python and Prefect "
              f"start-up; a temporary Prefect API unless PREFECT_API_URL is set; local inputs are parsed meanwhile) "
              f"and {run['duration_s']:.2f} s for the source (land, parse, validate, stage); "
              + ", ".join(f"{t} {r['loaded']}/{r['read']}" for t, r in tables.items()))  # fmt: skip
        if n > 1:
            print(f"  run {i + 1}/{n}: floor {floors[-1]:.2f} s, refresh {refresh_s:.2f} s, peak {peak / 2**20:.0f} MB")
    floor_s, refresh_s = statistics.median(floors), statistics.median(walls)
    setup.cleanup()
    print(f"floor_s={floor_s:.2f} refresh_s={refresh_s:.2f} ratio={refresh_s / floor_s:.2f} peak_rss_mb={max(peaks) / 2**20:.0f} "
          f"model={'no' if model is None else 'yes'}")


if __name__ == "__main__":
    main()
