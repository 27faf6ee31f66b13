"""A refresh run from start to end: one lock for the whole run (a second refresh is refused at once), a run
recorded as started and then finished (one killed shows as interrupted), what a killed run leaves behind
(cleaned at the next start), children that die with the CLI, and expected failures as one line, not a traceback.

The CLI cases run `baltetl refresh` as a real process (its temporary Prefect API, its parse workers)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import crash_child
import duckdb
import psutil
import pytest
from helpers.common import ROOT
from typer.testing import CliRunner

from baltetl import buildinfo, pipeline, report
from baltetl.cli import app
from baltetl.config import load_config
from baltetl.state import KEEP_SNAPSHOTS, State

CLUSTERS = ROOT / "src/baltetl/sources/clusters/sample/clusters_handmade_registry.csv"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in crash_child.ENV:
        monkeypatch.delenv(var, raising=False)


def cli(tmp_path: Path, *args: str, api: str | None = None) -> subprocess.Popen:
    """`baltetl refresh <args>` as its own process (its own temporary Prefect API, or the API at `api`); the nth
    one started in `tmp_path` writes its stdout and stderr to cli<n>.out and cli<n>.err there."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BALTETL_", "PREFECT_API_URL"))}
    clean.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    if api:
        clean["PREFECT_API_URL"] = api
    n = len(list(tmp_path.glob("cli*.out")))
    with open(tmp_path / f"cli{n}.out", "w") as out, open(tmp_path / f"cli{n}.err", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "baltetl", "refresh", *args], cwd=ROOT, env=clean, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL)  # fmt: skip


def outputs(tmp_path: Path, n: int) -> tuple[str, str]:
    """(stdout, stderr) of the nth `cli` process."""
    return (tmp_path / f"cli{n}.out").read_text(), (tmp_path / f"cli{n}.err").read_text()


def dead(p: psutil.Process) -> bool:
    """Gone, or a zombie (killed, waiting for whoever adopted it to reap it: it runs nothing)."""
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def children_of(pid: int, want: tuple[str, ...], timeout: float = 90) -> list[psutil.Process]:
    """Wait until process `pid` has a descendant for each word of `want` in its command line: -> all of them."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            kids = psutil.Process(pid).children(recursive=True)
            lines = [" ".join(k.cmdline()) for k in kids]
        except psutil.Error:
            kids, lines = [], []
        if all(any(w in line for line in lines) for w in want):
            return kids
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not start {want} in {timeout} s")


def one_line(text: str, *words: str) -> None:
    """`text` (a refresh's stderr) has no traceback and exactly one line holding all `words`."""
    assert "Traceback" not in text and "ERROR" not in text, text
    assert len([ln for ln in text.splitlines() if all(w in ln for w in words)]) == 1, text


@pytest.mark.slow
def test_a_second_cli_refresh_is_refused_at_once_and_the_first_completes(tmp_path):
    """The second starts while the first, past its landing, starts Prefect: the moment the old CLI had let
    go of the lock (it landed, released it, and took it again in the flow)."""
    wh = tmp_path / "wh" / "baltmet.duckdb"
    first = cli(tmp_path, "--sample", "--source", "clusters", "--no-publish", "-w", str(wh))
    try:
        children_of(first.pid, ("uvicorn",))  # its temporary Prefect API is starting
        t0 = time.monotonic()
        second = cli(tmp_path, "--sample", "--source", "clusters", "--no-publish", "-w", str(wh))
        assert second.wait(30) == 2
        took = time.monotonic() - t0
        assert took < 4, f"refused after {took:.1f} s"  # at once: before landing, parsing or starting Prefect
        _, err = outputs(tmp_path, 1)
        one_line(err, "refused:", f"another refresh is writing {wh} (pid {first.pid}")
    finally:
        assert first.wait(120) == 0, outputs(tmp_path, 0)
    out, _ = outputs(tmp_path, 0)
    assert "success" in out
    runs = State(load_config(warehouse=wh).state).runs()
    assert len({r["run_id"] for r in runs}) == 1 and runs[0]["status"] == "success"  # only the first ran


@pytest.mark.slow
def test_children_die_with_the_cli(tmp_path):
    """kill -9 of the CLI alone (as the OOM killer does) mid-parse: its temporary Prefect API and its parse
    workers go with it."""
    wh = tmp_path / "wh" / "baltmet.duckdb"
    main = cli(tmp_path, "--sample", "--source", "cordis", "--no-publish", "-w", str(wh))
    kids: list[psutil.Process] = []
    try:
        kids = children_of(main.pid, ("uvicorn", "multiprocessing"))
        main.kill()
        main.wait(10)
        gone, alive = psutil.wait_procs(kids, timeout=5)
        assert not [p for p in alive if not dead(p)], [p.pid for p in alive]
    finally:
        main.kill()
        for p in kids:  # only the CLI's own children: the session's other processes (zombies too) are not ours
            try:
                p.kill()
            except psutil.Error:
                pass


@pytest.mark.slow
def test_a_busy_warehouse_is_one_line_and_exit_3(prefect_server, tmp_path):
    """An analyst holds the warehouse open read-write (and has written): the refresh builds, keeps the new
    build beside it, says so in one line naming the file, and exits 3; no traceback, no Prefect ERROR."""
    wh = tmp_path / "wh" / "baltmet.duckdb"
    toml = tmp_path / "busy.toml"
    toml.write_text("[build]\nbusy_wait_s = 0\n")
    cfg = load_config(toml, warehouse=wh)
    pipeline.refresh(cfg, ["clusters"], sample=True)
    built_by = buildinfo.load(State(cfg.state))["run_id"]
    analyst = duckdb.connect(str(wh))
    try:
        analyst.execute("CREATE TABLE mine AS SELECT 1 AS x")  # a WAL beside the file, the lock held
        p = cli(tmp_path, "--sample", "--source", "networks", "--no-publish", "-w", str(wh), "-c", str(toml),
                api=prefect_server)  # the session's API: this test is not about the temporary one
        assert p.wait(120) == 3, outputs(tmp_path, 0)
    finally:
        analyst.close()
    out, err = outputs(tmp_path, 0)
    one_line(err, "not swapped in:", str(wh))
    assert "Traceback" not in out
    assert buildinfo.load(State(cfg.state))["run_id"] == built_by  # the warehouse is the previous build
    rep = report.build(cfg)
    assert rep.status == "failed"
    assert [(s.status, s.rows_loaded) for s in rep.ran] == [("staged", 0)]  # not reported as loaded


def test_the_cli_holds_the_lock_for_the_whole_run(tmp_path):
    """The CLI's flow runs under the lock the CLI took; the lock taken anew (another process, a deployment)
    is still refused while the CLI holds it, and free after."""
    cfg = load_config(warehouse=tmp_path / "wh" / "baltmet.duckdb")
    with pipeline.refresh_lock(cfg, whole_run=True):
        with pipeline.refresh_lock(cfg):  # the refresh this process runs
            pass
    with pipeline.refresh_lock(cfg):
        with pytest.raises(pipeline.RefreshLocked):
            with pipeline.refresh_lock(cfg):
                pass


def test_a_refused_refresh_is_one_line_and_a_traceback_only_with_debug(tmp_path):
    wh = tmp_path / "wh" / "baltmet.duckdb"
    with pipeline.refresh_lock(load_config(warehouse=wh)):  # as another process's refresh holds it
        res = CliRunner().invoke(app, ["refresh", "--sample", "--source", "clusters", "-w", str(wh)])
        assert res.exit_code == 2
        one_line(res.output, "refused:", f"another refresh is writing {wh} (pid {os.getpid()}")
        res = CliRunner().invoke(app, ["refresh", "--sample", "--source", "clusters", "-w", str(wh), "--debug"])
        assert isinstance(res.exception, pipeline.RefreshLocked)
    assert not wh.exists()


# ------------------------------------------------------------------------------------------ killed runs


@pytest.mark.slow
@pytest.mark.parametrize("point", ["source.landed:1", "build.core:1"], ids=["before-staging", "mid-build"])
def test_a_killed_run_shows_as_interrupted(point, forkserver, tmp_path):  # noqa: F811
    wh = tmp_path / "wh" / "baltmet.duckdb"
    cfg = load_config(warehouse=wh)
    before = pipeline.refresh(cfg, ["clusters"], sample=True)
    p = forkserver.Process(target=crash_child.refresh_run, args=(str(wh), ["networks", "clusters"],
                                                                 {"BALTETL_KILL_AT": point}))  # fmt: skip
    p.start()
    p.join(60)
    assert p.exitcode == -signal.SIGKILL
    state = State(cfg.state)
    killed = [r for r in state.run_records().values() if r["run_id"] != before["run_id"]]
    assert [(r["status"], r["pid"], r["sources"]) for r in killed] == [("interrupted", p.pid, ["networks", "clusters"])]
    assert buildinfo.load(state)["run_id"] == before["run_id"]  # the warehouse is the old build
    rows = [r for r in state.runs() if r["run_id"] == killed[0]["run_id"]]
    assert {r["source"] for r in rows} == {"networks", "clusters"}  # each source of the run is shown
    status = {r["source"]: (r["status"], r["rows_loaded"]) for r in rows}
    # not loaded into the warehouse: networks staged at most; clusters' data (unchanged) is the old build's
    assert status["networks"] in (("interrupted", 0), ("staged", 0)) and status["clusters"][0] != "success", status
    rep = report.build(cfg)
    assert rep.run_id == killed[0]["run_id"] and rep.status == "interrupted"
    res = CliRunner().invoke(app, ["status", "-w", str(wh)])
    assert res.exit_code == 0, res.output
    assert f"run {killed[0]['run_id']}: interrupted" in res.output
    # the next refresh builds what the killed one staged
    again = pipeline.refresh(cfg, ["networks", "clusters"], sample=True)
    assert again["status"] == "success" and buildinfo.load(state)["run_id"] == again["run_id"]
    assert state.run_records()[again["run_id"]]["status"] == "success"


def test_a_finished_run_is_recorded_started_then_finished(tmp_path):
    cfg = load_config(warehouse=tmp_path / "wh" / "baltmet.duckdb")
    out = pipeline.refresh(cfg, ["clusters"], sample=True)
    rec = State(cfg.state).run_records()[out["run_id"]]
    assert rec["status"] == "success" and rec["pid"] == os.getpid() and rec["sources"] == ["clusters"]
    assert rec["built"] is True and rec["finished_at"] >= rec["started_at"]
    assert report.build(cfg).status == "success"


def test_leftovers_of_a_killed_run_are_removed_and_never_count_as_kept(tmp_path):
    """An orphan snapshot (0-byte `.parquet.tmp-<pid>` of a dead pid, no meta.json) and stray temporary files
    are removed at the next start; the snapshots kept are whole ones."""
    cfg = load_config(warehouse=tmp_path / "wh" / "baltmet.duckdb")
    cut = tmp_path / "clusters.csv"
    cut.write_text("".join(CLUSTERS.read_text(encoding="utf-8").splitlines(keepends=True)[:6]), encoding="utf-8")
    first = pipeline.refresh(cfg, ["clusters"], input_path=str(cut))
    state = State(cfg.state)
    src = state.source_dir("clusters")
    for old in ("20000101T000000Z-000001", "20000101T000000Z-000002"):  # two older whole snapshots
        shutil.copytree(src / first["run_id"], src / old)
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = src / "20260101T000000Z-0dead0"  # newer than those, older than the next run's
    orphan.mkdir()
    (orphan / f".organisations.parquet.tmp-{dead.pid}").touch()
    stray = state.root / "runs" / f".x__clusters.json.tmp-{dead.pid}"
    stray.touch()
    mine = state.root / "runs" / f".y__clusters.json.tmp-{os.getpid()}"  # a living writer's: kept
    mine.touch()
    with pipeline.refresh_lock(cfg):  # the next start
        assert not orphan.exists() and not stray.exists() and mine.exists()
    second = pipeline.refresh(cfg, ["clusters"], sample=True)
    kept = sorted(p.name for p in src.iterdir() if p.is_dir())
    assert kept == ["20000101T000000Z-000002", first["run_id"], second["run_id"]]
    assert len(kept) == KEEP_SNAPSHOTS and all((src / k / "meta.json").exists() for k in kept)
