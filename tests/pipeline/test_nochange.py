"""A refresh that changes nothing is cheap: unchanged inputs are not parsed, a warehouse built from exactly
the same inputs is not built again, and an unchanged local refresh from the CLI needs no Prefect."""

from __future__ import annotations

import os

import duckdb
import pytest
from typer.testing import CliRunner

from baltetl import buildinfo, pipeline
from baltetl.state import State
from helpers.common import copy_built, refresh_run

SOURCES = ["networks", "clusters"]  # two small real samples


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One run of SOURCES, built once for the module: -> (cfg, run_id, counts).  Tests start from a copy."""
    from baltetl.config import load_config

    with pytest.MonkeyPatch.context() as mp:
        for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING"):
            mp.delenv(var, raising=False)
        cfg = load_config(warehouse=tmp_path_factory.mktemp("nochange") / "wh" / "baltmet.duckdb")
        run_id, results, counts = refresh_run(cfg, SOURCES)
    assert [r.status for r in results] == ["success"] * len(SOURCES)
    return cfg, run_id, counts


def first_run(built, cfg):
    """`cfg`'s warehouse folder as after one run of SOURCES (a copy of the module's): -> (run_id, counts)."""
    copy_built(built[0], cfg)
    return built[1], built[2]


def identity(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_a_run_of_unchanged_inputs_keeps_the_warehouse(built, cfg):
    first, counts = first_run(built, cfg)
    built = identity(cfg.warehouse)
    second, results, again = refresh_run(cfg, SOURCES)
    assert [r.status for r in results] == ["unchanged", "unchanged"]
    assert identity(cfg.warehouse) == built and again == counts  # the same file, not rebuilt
    state = State(cfg.state)
    assert buildinfo.load(state)["run_id"] == first
    assert {r["run_id"] for r in state.runs()} == {first, second}  # the run is recorded all the same
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    (fp,) = con.execute("SELECT fingerprint FROM build_info").fetchone()
    runs = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
    con.close()
    assert fp == buildinfo.load(state)["fingerprint"] == buildinfo.compute(cfg, state)[0]
    assert runs == {first}  # the warehouse's run history ends with the run that built it


def test_what_the_build_reads_changing_rebuilds_it(built, cfg, tmp_path):
    first_run(built, cfg)
    built = identity(cfg.warehouse)
    # a partner's new revision file: same source inputs, but a new build
    revs = tmp_path / "revisions"
    revs.mkdir()
    (revs / "partner.csv").write_text("op,target,field,value,other,author,date,reason\n")
    cfg.raw["paths"]["revisions"] = str(revs)
    run_id, results, _ = refresh_run(cfg, SOURCES)
    assert {r.status for r in results} == {"unchanged"}
    assert identity(cfg.warehouse) != built and buildinfo.load(State(cfg.state))["run_id"] == run_id
    # the warehouse file gone: built again
    cfg.warehouse.unlink()
    run_id, _, _ = refresh_run(cfg, SOURCES)
    assert cfg.warehouse.exists() and buildinfo.load(State(cfg.state))["run_id"] == run_id


def test_a_failed_source_alone_does_not_rebuild(built, cfg, tmp_path):
    """Issue 17, item 3: every failed attempt rebuilt the warehouse (and re-published the site) although
    nothing it is made from changed; the failed run is in the state's history, which status reads."""
    first, _ = first_run(built, cfg)
    built = identity(cfg.warehouse)
    bad = tmp_path / "empty.csv"
    bad.write_text("Cluster,City,Country\n")  # no rows: below min_rows
    run_id = pipeline.new_run_id()
    with pipeline.refresh_lock(cfg):
        results = [pipeline.refresh_source(cfg, "clusters", run_id, input_path=str(bad))]
        pipeline.build(cfg, run_id, log=lambda m: None, results=results)
        summary = pipeline.summary(cfg, run_id, results, {})
    assert results[0].status == "failed"
    assert identity(cfg.warehouse) == built  # the failed source kept its snapshot: nothing to build
    assert buildinfo.load(State(cfg.state))["run_id"] == summary["built_by"] == first
    assert any(r["run_id"] == run_id and r["status"] == "failed" for r in State(cfg.state).runs())


def test_refresh_if_unchanged_records_only_a_run_that_changes_nothing(cfg, tmp_path):
    assert pipeline.refresh_if_unchanged(cfg, SOURCES, sample=True) is None  # nothing loaded yet
    assert State(cfg.state).runs() == []
    first, _, counts = refresh_run(cfg, SOURCES)
    summary = pipeline.refresh_if_unchanged(cfg, SOURCES, sample=True)
    assert summary["status"] == "success" and summary["counts"] == counts and summary["built_by"] == first
    assert [s["status"] for s in summary["sources"]] == ["unchanged", "unchanged"]
    runs = State(cfg.state).runs()
    assert {r["run_id"] for r in runs} == {first, summary["run_id"]}
    # a new input for one source: nothing recorded, the flow has to run
    other = tmp_path / "registry.csv"
    other.write_text("Cluster,City,Country,Website,Sectors\nBaltic Test Cluster,Riga,LV,https://example.lv,ICT\n")
    assert pipeline.refresh_if_unchanged(cfg, ["clusters"], input_path=str(other)) is None
    assert State(cfg.state).runs() == runs


def test_cli_unchanged_local_refresh_starts_no_prefect(built, cfg, monkeypatch):
    from baltetl import runtime
    from baltetl.cli import app
    from baltetl.cli import refresh as cli_refresh

    first_run(built, cfg)

    def no_prefect(*a, **k):
        raise AssertionError("Prefect started for a refresh that changes nothing")

    monkeypatch.setattr(cli_refresh, "_load_flow", no_prefect)
    monkeypatch.setattr(runtime, "start_if_needed", no_prefect)
    args = ["refresh", "--sample", "-w", str(cfg.warehouse)] + [a for s in SOURCES for a in ("--source", s)]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "unchanged" in res.output and "not rebuilt" in res.output
    last = State(cfg.state).runs()[-1]
    assert last["status"] == "unchanged" and last["source"] in SOURCES


def test_a_new_opportunity_model_or_reference_table_rebuilds(built, cfg, tmp_path, monkeypatch):
    """`baltetl train-opportunities` says the next build ranks with its model, but a refresh of unchanged
    inputs skipped the build: the model file was not part of the fingerprint, nor were the package's reference
    tables (a new word table or postcode list shipped alone)."""
    first, _ = first_run(built, cfg)
    before = identity(cfg.warehouse)
    (cfg.state / "opportunity_model.v1.json").write_text('{"format": 1}')  # any bytes: the build reports a bad one
    run_id, results, _ = refresh_run(cfg, SOURCES)
    assert {r.status for r in results} == {"unchanged"}
    assert identity(cfg.warehouse) != before and buildinfo.load(State(cfg.state))["run_id"] == run_id
    package = tmp_path / "package"
    (package / "reference").mkdir(parents=True)
    (package / "reference" / "translations.csv").write_text("national,english,probability,records\n")
    monkeypatch.setattr(buildinfo, "PACKAGE", package)
    state = State(cfg.state)
    code = buildinfo.compute(cfg, state)[1]["code"]
    (package / "reference" / "translations.csv").write_text("national,english,probability,records\nx,y,1,2\n")
    assert buildinfo.compute(cfg, state)[1]["code"] != code
