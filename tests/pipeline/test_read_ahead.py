"""Read-ahead: the CLI parses local inputs while its temporary Prefect API starts; the flow's parse takes the
result.  Tested on the bundled sample, without the Prefect engine, and once through the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.request

import duckdb
import pytest

from baltetl import pipeline, runtime
from baltetl.archive import ArchiveError
from helpers.common import ROOT, SAMPLE, run_refresh, truncated_sample


def test_parse_takes_the_read_ahead_of_the_same_files(cfg):
    files = pipeline.land(cfg, "cordis", sample=True)
    runtime.read_ahead(cfg, {"cordis": files})
    notes = []
    first = pipeline.parse(cfg, "cordis", files, log=notes.append)
    assert notes == ["cordis: parsed ahead, while Prefect started"]
    assert len(first.tables["projects"]) > 100
    again = pipeline.parse(cfg, "cordis", files, log=notes.append)  # taken once: this one parses itself
    assert len(notes) == 1
    for table, df in first.tables.items():
        assert df.equals(again.tables[table]), table


def test_a_read_ahead_that_fails_fails_the_parse_with_its_error(cfg, tmp_path):
    files = pipeline.land(cfg, "cordis", input_path=str(truncated_sample(tmp_path)))
    runtime.read_ahead(cfg, {"cordis": files})
    try:
        pipeline.parse(cfg, "cordis", files)
    except ArchiveError as exc:
        assert "truncated or corrupt" in str(exc)
    else:
        raise AssertionError("a truncated archive parsed")
    assert not runtime._read_ahead


def test_an_unchanged_input_is_not_read_ahead(cfg):
    run_refresh(cfg, "cordis", sample=True)
    files = pipeline.land(cfg, "cordis", sample=True)
    runtime.read_ahead(cfg, {"cordis": files})
    assert not runtime._read_ahead


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory):
    """A Prefect home of this module's own (its database is made once: a temporary API then starts faster)."""
    return tmp_path_factory.mktemp("prefect")


def test_cli_refresh_with_a_temporary_api_uses_the_read_ahead(tmp_path, prefect_home):
    """The README's first command, as a user runs it: no Prefect server configured, so the CLI starts a
    temporary API and parses the sample while it comes up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PREFECT_LOGGING", "BALTETL_"))}
    env.update(PREFECT_HOME=str(prefect_home), COLUMNS="200")
    wh = tmp_path / "wh.duckdb"
    res = subprocess.run(
        [sys.executable, "-m", "baltetl", "refresh", "--sample", "--source", "cordis", "-w", str(wh), "--no-publish", "-v"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cordis: parsed ahead, while Prefect started" in res.stdout + res.stderr
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ongoing_projects").fetchone()[0] > 0
    # the temporary API recorded the run and its tasks (in PREFECT_HOME's database, there for a later server)
    with sqlite3.connect(prefect_home / "prefect.db") as db:
        assert db.execute("SELECT state_type FROM flow_run").fetchall() == [("COMPLETED",)]
        tasks = dict(db.execute("SELECT state_type, count(*) FROM task_run GROUP BY 1").fetchall())
    assert tasks.get("COMPLETED", 0) >= 3 and set(tasks) == {"COMPLETED"}, tasks


def test_the_temporary_api_records_runs_but_runs_no_automations(prefect_home, monkeypatch):
    """A temporary API lives as long as one run: it runs the services that record runs, not automations
    (triggers, actions) or the event stream out (nobody subscribes); they cost CPU while the sources parse."""
    monkeypatch.setenv("PREFECT_HOME", str(prefect_home))
    api = runtime.TemporaryAPI()
    try:
        assert api.wait(timeout=120)
        with urllib.request.urlopen(f"{api.url}/admin/settings", timeout=10) as r:
            settings = json.load(r)
    finally:
        api.stop(wait=10)
    services = settings["server"]["services"]
    assert services["task_run_recorder"]["enabled"] and services["event_persister"]["enabled"]
    assert not services["triggers"]["enabled"]
    assert not settings["server"]["events"]["stream_out_enabled"]
    assert not settings["server"]["ui"]["enabled"] and not settings["server"]["analytics_enabled"]


def test_a_file_landed_a_moment_ago_is_taken_once_not_landed_again(cfg, tmp_path):
    """The CLI lands its input (to see whether it changed); the flow's land task takes that landing."""
    src = tmp_path / "cordis.tar.xz"
    src.write_bytes(SAMPLE.read_bytes())
    first = pipeline.land(cfg, "cordis", input_path=str(src))
    assert pipeline.land(cfg, "cordis", input_path=str(src)) == first  # the same landing, fetched_at and all
    third = pipeline.land(cfg, "cordis", input_path=str(src))  # taken once: this one lands again
    assert third[0].sha256 == first[0].sha256 and third[0].fetched_at != first[0].fetched_at
    src.write_bytes(truncated_sample(tmp_path).read_bytes())  # changed since it landed
    changed = pipeline.land(cfg, "cordis", input_path=str(src))
    assert changed[0].sha256 != first[0].sha256 and changed[0].path.read_bytes() == src.read_bytes()


def test_a_landing_of_long_ago_is_not_taken(cfg, tmp_path, monkeypatch):
    src = tmp_path / "cordis.tar.xz"
    src.write_bytes(SAMPLE.read_bytes())
    first = pipeline.land(cfg, "cordis", input_path=str(src))
    monkeypatch.setattr(runtime, "LANDED_HERE_S", 0)  # every landing is long ago
    assert pipeline.land(cfg, "cordis", input_path=str(src))[0].fetched_at != first[0].fetched_at
