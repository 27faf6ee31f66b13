"""The data-quality report (baltetl.report) of a real sample build: counts, failing checks, stale sources,
unresolved revisions; the warehouse's quality_report; `baltetl status`."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from typer.testing import CliRunner

from baltetl import report
from baltetl.checkwords import words
from baltetl.config import load_config
from baltetl.state import State
from helpers.common import refresh_run

SOURCES = ("cordis", "keep", "interreg_se")
GONE = "keep:XX-no-such-organisation"


def config_at(wh, revisions_dir):
    cfg = load_config(warehouse=wh)
    cfg.raw["paths"]["revisions"] = str(revisions_dir)
    return cfg


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse of three real samples (keep.eu and Interreg SE carry quarantined rows) with one revision
    whose target does not exist.  Tests that change it work on a copy (`copy_of`)."""
    root = tmp_path_factory.mktemp("report")
    revs = root / "revisions"
    revs.mkdir()
    (revs / "partner.csv").write_text(
        "op,target,field,value,other,author,date,reason\n"
        f"correct,{GONE},website,https://example.org/,,Test partner,2026-11-20,a record that is gone\n"
    )
    cfg = config_at(root / "wh" / "baltmet.duckdb", revs)
    run_id, results, _ = refresh_run(cfg, SOURCES)
    assert [r.status for r in results] == ["success"] * 3, [r.message for r in results]
    return cfg, run_id


@pytest.fixture
def copy_of(built, tmp_path):
    cfg, run_id = built
    shutil.copytree(cfg.warehouse.parent, tmp_path / "wh")
    return config_at(tmp_path / "wh" / "baltmet.duckdb", cfg.raw["paths"]["revisions"]), run_id


def q(cfg, sql):
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_per_source_counts_and_failing_checks_match_the_quarantine(built):
    cfg, run_id = built
    rep = report.build(cfg)
    assert rep.run_id == run_id and rep.status == "success"
    lines = {s.source: s for s in rep.sources}
    assert [s.source for s in rep.ran] == [n for n in cfg.sources if n in SOURCES]  # in the sources' declared order
    assert set(lines) == set(cfg.sources)  # every configured source, run or not
    for name in SOURCES:
        n, nulled = q(cfg, f"SELECT count(DISTINCT (table_name, record_key)) FILTER (WHERE action = 'row_held'), "
                           f"count(*) FILTER (WHERE action = 'field_nulled') FROM quarantine "
                           f"WHERE source = '{name}' AND run_id = '{run_id}'")[0]  # a row may fail several checks
        line = lines[name]
        assert line.rows_quarantined == n and line.rows_read == line.rows_loaded + n
        assert line.fields_nulled == nulled  # values emptied in rows that loaded
        assert line.status == "success" and not line.unchanged and not line.stale
    assert lines["interreg_se"].rows_quarantined > 0
    assert lines["interreg_se"].fields_nulled == 2  # end dates 2027-02-31 and 2026-09-31: the projects load without them
    assert q(cfg, "SELECT fields_nulled FROM quality_report WHERE source = 'interreg_se'") == [(2,)]
    # the most frequent check of Interreg SE's quarantine leads its top checks, with the same count
    (check, rows), *_ = q(cfg, "SELECT check_name, count(DISTINCT (record_key, record_ref)) FROM quarantine "
                               "WHERE source = 'interreg_se' GROUP BY 1 ORDER BY 2 DESC, 1")  # rows, not values  # fmt: skip
    top = lines["interreg_se"].top_checks[0]
    assert (top["check"], top["rows"]) == (check, rows)
    assert lines["cordis"].top_checks == []  # the CORDIS sample loads whole
    md = rep.markdown()
    assert f"run {run_id}: success" in md and f"| interreg_se | {top['table']} | {check} | {rows} |" in md


def test_sources_never_loaded_are_stale(built):
    cfg, _ = built
    lines = {s.source: s for s in report.build(cfg).sources}
    assert lines["clusters"].status is None and lines["clusters"].last_good_at is None and lines["clusters"].stale


def test_a_source_older_than_its_cadence_is_stale(copy_of):
    cfg, run_id = copy_of
    state = State(cfg.state)
    meta_file = state.current("keep") / "meta.json"
    meta = json.loads(meta_file.read_text())
    old = datetime.now(UTC) - timedelta(days=40)  # keep.eu's cadence is 31 days
    meta["saved_at"] = old.isoformat()
    meta_file.write_text(json.dumps(meta))
    rep = report.build(cfg, run_id)
    lines = {s.source: s for s in rep.sources}
    assert lines["keep"].stale and 39.9 < lines["keep"].age_days < 40.1
    assert not lines["cordis"].stale and not lines["interreg_se"].stale
    assert "keep" in {s.source for s in rep.stale} and "| keep |" in rep.markdown().split("## Stale sources")[1]
    # CORDIS publishes weekly: eight days on, it is stale, the monthly sources are not
    later = {s.source: s for s in report.build(cfg, run_id, now=datetime.now(UTC) + timedelta(days=8)).sources}
    assert later["cordis"].stale and not later["interreg_se"].stale
    # a run that finds keep.eu's input unchanged confirms its data: fresh again
    _, results, _ = refresh_run(cfg, ["keep"])
    assert results[0].status == "unchanged"
    assert not {s.source: s for s in report.build(cfg).sources}["keep"].stale


def test_unresolved_revisions_are_reported(built):
    cfg, _ = built
    rep = report.build(cfg)
    issues = [i for i in rep.revision_issues if i["kind"] == "stale_target"]
    assert len(issues) == 1 and GONE in issues[0]["message"] and issues[0]["file"] == "partner.csv"
    assert "stale_target" in rep.markdown().split("## Unresolved revisions")[1]


def test_the_warehouse_holds_the_report_of_the_run_that_built_it(built):
    cfg, run_id = built
    rows = q(cfg, "SELECT run_id, source, status, rows_quarantined, stale, top_checks FROM quality_report ORDER BY source")
    rep = {s.source: s for s in report.build(cfg).sources}
    assert {r[0] for r in rows} == {run_id}
    assert [r[1] for r in rows] == sorted(cfg.sources)
    for _, source, status, quarantined, stale, checks in rows:
        assert (status, stale, json.loads(checks)) == (rep[source].status, rep[source].stale, rep[source].top_checks)
        assert quarantined == rep[source].rows_quarantined


def test_status_prints_the_report_of_the_last_run(built):
    from baltetl.cli import app

    cfg, run_id = built
    res = CliRunner().invoke(app, ["status", "-w", str(cfg.warehouse)], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    out = res.output
    assert f"data quality — run {run_id}: success" in out
    top = report.build(cfg).top_checks()[0]
    assert "by check" in out and words(top["check"], top["rows"]) in out  # in plain words; --full: the check's name
    assert "emptied" in out and re.search(r"interreg_se\s+success(\s+\d+){3}\s+2\s", out), out  # values emptied
    assert "stale sources" in out and "clusters" in out and "never loaded" in out
    # the revisions folder is the module's (cfg.raw), not the CLI's: the issue is read from the warehouse
    assert "unresolved revisions (1)" in out and "stale_target" in out
