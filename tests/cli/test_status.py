"""`baltetl status` read by a coordinator at 80 columns (issue 17, item 1): after a run with a failed source,
which source failed and why, on one line each; checks in plain words; metropolises by name; the whole
message and the checks' own names with --full; an interrupted run reads as well."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from baltetl import pipeline
from baltetl.cli import app
from baltetl.state import State
from helpers.common import refresh_run


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    """Interreg SE loaded (its sample has rows held back and dates emptied), then a run in which CORDIS got a
    text file: -> (cfg, the text file's path)."""
    from baltetl.config import load_config

    tmp = tmp_path_factory.mktemp("status")
    cfg = load_config(warehouse=tmp / "baltmet.duckdb")
    refresh_run(cfg, ["interreg_se"])
    hosts = tmp / "a-rather-long-folder-name-for-the-download" / "hosts"
    hosts.parent.mkdir()
    hosts.write_text("127.0.0.1 localhost\n")
    run_id = pipeline.new_run_id()
    with pipeline.refresh_lock(cfg):
        assert pipeline.refresh_source(cfg, "cordis", run_id, input_path=str(hosts)).status == "failed"
    return cfg, hosts


def _status(cfg, *args) -> str:
    res = CliRunner().invoke(app, ["status", "-w", str(cfg.warehouse), *args], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    return res.output


def test_status_at_80_columns_shows_which_source_failed_and_why(failed):
    cfg, hosts = failed
    out = _status(cfg)
    assert max(len(line) for line in out.splitlines()) <= 80, out
    # the data-quality table: the source and its status whole, on one line, the counts beside them
    assert re.search(r"^\s*cordis\s+failed\s+0\s+0\s+0\s+0\s", out, re.M), out
    assert re.search(r"^\s*interreg_se\s+not in run\s", out, re.M), out
    # the reason, one line, naming the user's file, cut to fit
    reason = [ln for ln in out.splitlines() if ln.startswith("cordis failed: ")]
    assert len(reason) == 1 and str(hosts)[:40] in reason[0] and reason[0].endswith("…"), out
    assert "StructureChanged" not in out
    # checks in plain words, not pandera's names
    lines = out.splitlines()
    date = [ln.rstrip() for ln in lines if "2 rows with a date that does" in ln]  # the words may wrap at 80
    assert len(date) == 1 and date[0].endswith("emptied"), out  # action field_nulled: the rows loaded
    held = [ln.rstrip() for ln in lines if re.search(r"\d+ rows? whose project was", ln)]
    assert len(held) == 1 and held[0].endswith("held back"), out  # action row_held
    assert "coerce_dtype" not in out and "parent:" not in out
    # metropolises by their names
    assert "St Petersburg" in out and "st_petersburg" not in out
    assert "baltetl status --full" in out  # where the rest is


def test_status_full_shows_whole_messages_and_check_names(failed):
    cfg, hosts = failed
    out = "".join(_status(cfg, "--full").split())  # folded at 80 columns: compared without the line breaks
    for whole in (f"StructureChanged: {hosts} (landed as", "nor the CSV edition (project.csv, organization.csv)",
                  "coerce_dtype('datetime64", "parent:projects.project_id"):  # fmt: skip
        assert "".join(whole.split()) in out, whole


def test_an_interrupted_run_reads_well(failed, tmp_path):
    cfg, _ = failed
    state = State(cfg.state)
    run_id = pipeline.new_run_id()
    state.start_run(run_id, ["keep", "networks"])
    rec = state.root / "run_records" / f"{run_id}.json"
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()  # after the failed run, whatever the clock's grain
    rec.write_text(json.dumps({**json.loads(rec.read_text()), "pid": 2**22 + 1, "started_at": later}))  # a process gone
    out = _status(cfg)
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert f"run {run_id}: interrupted" in out
    assert re.search(r"^\s*keep\s+interrupted\s", out, re.M) and "was interrupted" in out, out
    assert any(ln.startswith("keep interrupted: run interrupted") for ln in out.splitlines()), out
    rec.unlink()  # the module's other tests see the failed run last


def test_the_consoles_take_each_invocations_width(monkeypatch):
    """rich reads COLUMNS once, when a console is made: the CLI's consoles are made (tests/conftest.py) with
    COLUMNS unset, so the width is each invocation's, not that of whichever test imported the CLI first (under
    pytest-xdist `baltetl status` at 160 columns printed at 80 and wrapped its table titles)."""
    from baltetl.cli import common

    for cols in (80, 160, 100):
        monkeypatch.setenv("COLUMNS", str(cols))
        assert (common.out.width, common.console.width) == (cols, cols)
