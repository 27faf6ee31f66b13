"""A refresh killed with SIGKILL at 21 named points of its stages (src/baltetl/faults.py) and at moments
chosen by the clock.  After each kill: the warehouse file opens read-only and is the previous build or the
new one, whole; every source's current snapshot is readable; no lock or half-built file blocks the next
refresh, and that refresh yields the new build.  And two refreshes at once: the second is refused.

The refresh runs in a child forked from a process that has baltetl imported (tests/crash_child.py): two
sources (networks, clusters) from local inputs, then the build, as a refresh run does without Prefect.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import crash_child
import duckdb
import pytest
from helpers.common import ROOT

from baltetl import faults, pipeline, resolve
from baltetl.config import load_config
from baltetl.state import State

NETWORKS = ROOT / "src/baltetl/sources/networks/sample/networks-etmun-2019"
MEMBERS = "etmun_network_members_geocoded_2019.csv"
METADATA = "etmun_networks_metadata_2019.csv"
CLUSTERS = ROOT / "src/baltetl/sources/clusters/sample/clusters_handmade_registry.csv"
SOURCES = ("networks", "clusters")
# what analysts read; golden ids are derived, so they must come out the same after a crash too
CORE = ("projects", "organisations", "participations", "network_memberships", "golden_organisations",
        "organisation_sources")  # fmt: skip

# (point, nth time it is passed): every stage boundary of a two-source refresh and its build
KILL_POINTS = [
    ("landing.data", 1), ("landing.sidecar", 1), ("source.landed", 2), ("parquet.tmp", 1),
    ("snapshot.table", 1), ("snapshot.table", 3), ("snapshot.meta", 1), ("snapshot.current", 1),
    ("run.recorded", 1), ("snapshot.current", 2), ("run.recorded", 2), ("build.open", 1), ("build.staged", 1),
    ("build.core", 1), ("resolve.registry", 1), ("build.resolved", 1), ("build.marts", 1),
    ("build.closed", 1), ("swap.before", 1), ("swap.after", 1), ("build.done", 1),
]  # fmt: skip
SWAPPED = {"swap.after", "build.done"}  # killed after the rename: the new build is in place


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in crash_child.ENV:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The previous inputs (the first 30 members-list rows, the first 5 clusters) and the new (the samples)."""
    d = tmp_path_factory.mktemp("inputs")
    (d / "networks").mkdir()
    lines = (NETWORKS / MEMBERS).read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "networks" / MEMBERS).write_text("".join(lines[:31]), encoding="utf-8")
    shutil.copy(NETWORKS / METADATA, d / "networks" / METADATA)
    (d / "clusters.csv").write_text("".join(CLUSTERS.read_text(encoding="utf-8").splitlines(keepends=True)[:6]),
                                    encoding="utf-8")  # fmt: skip
    return {
        "prev": {"networks": str(d / "networks"), "clusters": str(d / "clusters.csv")},
        "new": {"networks": str(NETWORKS), "clusters": str(CLUSTERS)},
    }


def refresh_here(folder: Path, inputs: dict[str, str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for var in crash_child.ENV:
            mp.delenv(var, raising=False)
        crash_child.refresh(str(folder / "baltmet.duckdb"), inputs)


@pytest.fixture(scope="module")
def builds(tmp_path_factory, inputs) -> dict:
    """A warehouse folder holding the previous build (the starting point of every test), and the
    fingerprints of the previous and the new build."""
    base = tmp_path_factory.mktemp("base") / "wh"
    refresh_here(base, inputs["prev"])
    new = tmp_path_factory.mktemp("new") / "wh"
    shutil.copytree(base, new)
    refresh_here(new, inputs["new"])
    prev_fp, new_fp = fingerprint(base / "baltmet.duckdb"), fingerprint(new / "baltmet.duckdb")
    assert prev_fp != new_fp and new_fp["network_memberships"][0] > prev_fp["network_memberships"][0]
    return {"base": base, "prev": prev_fp, "new": new_fp}


def fingerprint(path: Path) -> dict:
    """Rows and an order-independent hash of every core table; every table and view must be readable."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        out = {}
        for t in CORE:  # valid_from (history) says when a version was built, not what the build holds
            cols = ", ".join(f'"{c}"' for (c, *_r) in con.execute(f"DESCRIBE {t}").fetchall() if c != "valid_from")
            out[t] = con.execute(f"SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0) FROM {t}").fetchone()
        return out
    finally:
        con.close()


def assert_recoverable(folder: Path, builds: dict, inputs: dict, expected: str | None) -> None:
    """After a kill: the warehouse is one whole build (`expected` if given), the state is readable, and a
    new refresh is not blocked and yields the new build, leaving no half-built file behind."""
    wh = folder / "baltmet.duckdb"
    got = fingerprint(wh)
    assert got in (builds["prev"], builds["new"])
    if expected:
        assert got == builds[expected]
    cfg = load_config(warehouse=wh)
    state = State(cfg.state)
    for source in SOURCES:
        meta = state.meta(source)
        assert meta is not None and meta["source"] == source
        for table, n in meta["counts"].items():
            pq = state.current(source) / f"{table}.parquet"
            assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{pq}')").fetchall() == [(n,)]
    assert all(r["source"] in SOURCES for r in state.runs())
    assert resolve.load_registry(state)  # the id registry reads (the previous one or the new)
    with pipeline.refresh_lock(cfg):  # a dead refresh holds no lock; what it left is removed at this start
        pass
    assert not list(state.root.rglob(".*.tmp-*"))
    assert all((snap / "meta.json").exists() for s in SOURCES for snap in state.source_dir(s).iterdir() if snap.is_dir())
    refresh_here(folder, inputs["new"])
    assert fingerprint(wh) == builds["new"]
    assert [p.name for p in folder.iterdir() if ".building-" in p.name] == []


def start(forkserver, folder: Path, inputs: dict, fault: dict | None = None):
    p = forkserver.Process(target=crash_child.child, args=(str(folder / "baltmet.duckdb"), inputs, fault))
    p.start()
    return p


def test_the_kill_points_are_the_documented_ones():
    assert {p for p, _ in KILL_POINTS} == set(faults.POINTS)
    assert len(KILL_POINTS) >= 20


@pytest.mark.parametrize(("point", "nth"), KILL_POINTS, ids=[f"{p}:{n}" for p, n in KILL_POINTS])
def test_kill_at_a_stage_boundary(point, nth, forkserver, builds, inputs, tmp_path):
    folder = tmp_path / "wh"
    shutil.copytree(builds["base"], folder)
    p = start(forkserver, folder, inputs["new"], {"BALTETL_KILL_AT": f"{point}:{nth}"})
    p.join(60)
    assert p.exitcode == -signal.SIGKILL  # the point was reached, and the refresh died there
    assert_recoverable(folder, builds, inputs, "new" if point in SWAPPED else "prev")


@pytest.mark.parametrize("after_s", [0.2, 0.5, 0.8, 1.1])
def test_kill_at_a_moment(after_s, forkserver, builds, inputs, tmp_path):
    """Killed wherever the clock says: in a write, in DuckDB, between two points."""
    folder = tmp_path / "wh"
    shutil.copytree(builds["base"], folder)
    p = start(forkserver, folder, inputs["new"])
    time.sleep(after_s)
    p.kill()
    p.join(60)
    assert p.exitcode in (-signal.SIGKILL, 0)  # 0: it finished first
    assert_recoverable(folder, builds, inputs, "new" if p.exitcode == 0 else None)


def wait_stopped(pid: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not reach its stop point")


def test_a_second_refresh_is_refused_while_one_runs(forkserver, builds, inputs, tmp_path):
    folder = tmp_path / "wh"
    shutil.copytree(builds["base"], folder)
    wh = folder / "baltmet.duckdb"
    runs_before = {r["run_id"] for r in State(load_config(warehouse=wh).state).runs()}
    first = start(forkserver, folder, inputs["new"], {"BALTETL_STOP_AT": "build.core"})  # halted mid-build
    try:
        wait_stopped(first.pid)
        report = tmp_path / "refused.txt"
        second = forkserver.Process(target=crash_child.refresh_or_refused, args=(str(wh), inputs["new"], str(report)))
        second.start()
        second.join(60)
        assert second.exitcode == 3
        message = report.read_text()
        assert f"another refresh is writing {wh} (pid {first.pid}, started" in message
        assert fingerprint(wh) == builds["prev"]  # nothing swapped in yet
    finally:
        os.kill(first.pid, signal.SIGCONT)
        first.join(60)
    assert first.exitcode == 0  # the first completes untouched
    assert fingerprint(wh) == builds["new"]
    runs = {r["run_id"] for r in State(load_config(warehouse=wh).state).runs()} - runs_before
    assert len(runs) == 1  # only the first refresh ran
