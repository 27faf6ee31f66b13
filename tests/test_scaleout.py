"""Scale-out: the refresh flow on a real Prefect server with a process work pool and a worker.

Starts `prefect server start` on a free port (its own PREFECT_HOME), creates the work pool, deploys
'refresh/nightly' from prefect.yaml, starts a worker, triggers a run through the API and waits for it to
complete.  Every process it starts is stopped at the end.  Skips when the server does not come up in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from baltetl.runtime import _free_port, healthy
from helpers.common import ROOT

pytestmark = pytest.mark.prefect

SERVER_START_S = 45
RUN_S = 90


def _start(args, env, log):
    """A prefect CLI process in its own process group (its children stop with it)."""
    return subprocess.Popen([sys.executable, "-m", "prefect", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _stop(proc, sig=signal.SIGTERM, wait=10.0) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _cli(args, env, log, timeout=60) -> None:
    proc = _start(args, env, log)
    try:
        assert proc.wait(timeout=timeout) == 0, f"prefect {' '.join(args)} failed: see {log.name}"
    finally:
        _stop(proc)


def test_a_worker_runs_the_deployed_refresh(tmp_path):
    t0 = time.monotonic()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BALTETL_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO"}  # fmt: skip
    logs = {n: open(tmp_path / f"{n}.log", "w") for n in ("server", "pool", "deploy", "worker")}
    procs = []
    try:
        # the server: no UI; no scheduler, so the nightly schedule adds no runs while the test runs
        procs.append(server := _start(["server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui",
                                       "--analytics-off", "--no-scheduler"], env, logs["server"]))  # fmt: skip
        if not healthy(url, server, SERVER_START_S, poll=0.2):
            pytest.skip(f"the Prefect server did not answer within {SERVER_START_S} s (busy machine?)")
        _cli(["work-pool", "create", "baltetl", "--type", "process"], env, logs["pool"])
        # deploy as prefect.yaml says; the worker says where the checkout is (BALTETL_PROJECT_DIR)
        procs.append(deploy := _start(["--no-prompt", "deploy", "--prefect-file", "prefect.yaml", "--name", "nightly"],
                                      env, logs["deploy"]))  # fmt: skip
        worker_env = env | {"BALTETL_PROJECT_DIR": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "1"}
        procs.append(_start(["worker", "start", "--pool", "baltetl"], worker_env, logs["worker"]))
        assert deploy.wait(timeout=60) == 0, (tmp_path / "deploy.log").read_text()[-2000:]

        from prefect.client.orchestration import get_client
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        wh = tmp_path / "scaleout.duckdb"
        with temporary_settings(updates={PREFECT_API_URL: url}):
            run = run_deployment("refresh/nightly", timeout=0,
                                 parameters={"sources": ["cordis"], "sample": True, "warehouse": str(wh)})  # fmt: skip
            deadline = time.monotonic() + RUN_S
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run.id).state
                while not state.is_final() and time.monotonic() < deadline:
                    time.sleep(0.5)
                    state = client.read_flow_run(run.id).state
        worker_log = (tmp_path / "worker.log").read_text()
        assert state.is_completed(), f"{state.type}: {state.message}\n{worker_log[-3000:]}"
        con = duckdb.connect(str(wh), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 575
            assert con.execute("SELECT source, status FROM runs").fetchall() == [("cordis", "success")]
        finally:
            con.close()
        print(f"scale-out test: {time.monotonic() - t0:.1f} s")
    finally:
        for proc in reversed(procs):  # the worker (and any flow run it started) first, then the server
            _stop(proc, signal.SIGINT if proc is not procs[0] else signal.SIGTERM)
        for f in logs.values():
            f.close()
