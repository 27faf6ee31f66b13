"""The refresh flow through the Prefect engine, and the CLI that runs it (one shared test server)."""

import json

import duckdb
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.prefect


def test_refresh_flow_on_the_sample(prefect_server, tmp_path):
    from baltetl.cli.refresh import _load_flow

    refresh = _load_flow()
    wh = tmp_path / "flow.duckdb"
    result = refresh(sample=True, warehouse=str(wh))
    assert result["status"] == "success", result["sources"]
    from baltetl.config import load_config

    with_sample = [n for n, s in load_config().sources.items() if s.sample]
    assert [s["source"] for s in result["sources"]] == with_sample  # --sample: every source that ships one
    assert "cordis" in with_sample and all(s["status"] == "success" for s in result["sources"])
    con = duckdb.connect(str(wh), read_only=True)
    ongoing = con.execute("SELECT count(*) FROM ongoing_projects").fetchone()[0]
    con.close()
    assert ongoing > 0
    # the site is published at the end of the run, beside the warehouse
    assert result["publish"]["status"] == "success" and result["publish"]["pages"] > 1000
    assert (tmp_path / "site" / "index.html").exists() and (tmp_path / "site" / "data" / "datapackage.json").exists()
    # the data-quality report of the run, as Prefect artifacts
    from prefect.artifacts import Artifact

    md, table = Artifact.get("data-quality"), Artifact.get("data-quality-sources")
    assert f"run {result['run_id']}: success" in md.data and "## Stale sources" in md.data
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {r["source"] for r in rows} == set(load_config().sources)
    assert {r["run_id"] for r in rows} == {result["run_id"]}
    # the same inputs again: nothing is parsed again, every source keeps its data, the run is a success, and
    # the warehouse, made from exactly the same inputs, is not built again (the run is in the state's history)
    again = refresh(sample=True, warehouse=str(wh))
    assert again["status"] == "success"
    assert {s["status"] for s in again["sources"]} == {"unchanged"}
    assert again["counts"] == result["counts"] and again["built_by"] == result["run_id"]
    from baltetl.state import State

    assert {r["run_id"] for r in State(load_config(warehouse=str(wh)).state).runs()} == {result["run_id"], again["run_id"]}
    assert f"run {again['run_id']}: success" in Artifact.get("data-quality").data
    assert again["publish"]["status"] == "skipped"  # nothing changed: the site stays as published
    # a source that fails changes nothing either: not rebuilt, not published again (issue 17, item 3)
    empty = tmp_path / "empty.csv"
    empty.write_text("Cluster,City,Country\n")
    failed = refresh(sources=["clusters"], input=str(empty), warehouse=str(wh))
    assert failed["status"] == "failed" and failed["built_by"] == result["run_id"]
    assert failed["publish"]["status"] == "skipped"


def test_cli_refresh_and_status(prefect_server, tmp_path, monkeypatch):
    from baltetl.cli import app

    wh = tmp_path / "cli.duckdb"
    monkeypatch.setenv("BALTETL_WAREHOUSE", str(wh))  # honoured by every command
    runner = CliRunner()
    res = runner.invoke(app, ["refresh", "--sample"])
    assert res.exit_code == 0, res.output
    assert "success" in res.output and "failed" not in res.output
    assert wh.exists()
    assert "pages" in res.output and (tmp_path / "site" / "index.html").exists()  # published after the build
    res = runner.invoke(app, ["status"])
    assert res.exit_code == 0, res.output
    assert "cordis" in res.output and "success" in res.output
    assert "Helsinki" in res.output  # metropolises by name


def test_a_failed_publish_marks_the_run_and_keeps_the_warehouse(prefect_server, tmp_path):
    """The site folder is someone else's (publish refuses to replace it): the warehouse is built all the same,
    the run is partial and says why; `publish=False` skips publishing."""
    from baltetl.cli.refresh import _load_flow

    refresh = _load_flow()
    foreign = tmp_path / "www"
    foreign.mkdir()
    (foreign / "index.html").write_text("the city's own site")
    override = tmp_path / "site.toml"
    override.write_text(f'[paths]\nsite = "{foreign}"\n')
    wh = tmp_path / "pub.duckdb"
    result = refresh(sample=True, sources=["networks"], warehouse=str(wh), config=str(override))
    assert [s["status"] for s in result["sources"]] == ["success"]
    assert result["status"] == "partial"
    assert result["publish"]["status"] == "failed" and "not a site published by baltetl" in result["publish"]["message"]
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT count(*) FROM network_memberships").fetchone()[0] > 0
    con.close()
    assert (foreign / "index.html").read_text() == "the city's own site"
    skipped = refresh(sample=True, sources=["networks"], warehouse=str(wh), config=str(override), publish=False)
    assert skipped["status"] == "success" and skipped["publish"]["status"] == "skipped"


def test_cli_refresh_is_refused_while_another_runs(prefect_server, tmp_path):
    """The lock is held here as a running refresh holds it (tests/pipeline/test_crash.py: by another process)."""
    from baltetl import pipeline
    from baltetl.cli import app
    from baltetl.config import load_config

    wh = tmp_path / "locked.duckdb"
    with pipeline.refresh_lock(load_config(warehouse=wh)):
        res = CliRunner().invoke(app, ["refresh", "--sample", "--source", "networks", "-w", str(wh)])
    assert res.exit_code == 2, res.output
    assert "refused" in res.output and "another refresh is writing" in res.output
    assert not wh.exists()


def test_cli_rejects_missing_input(tmp_path):
    from baltetl.cli import app

    res = CliRunner().invoke(app, ["refresh", "--input", str(tmp_path / "nope.zip"), "-w", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 2
    assert "input not found" in res.output


def test_a_failing_source_keeps_its_data_while_the_others_refresh(prefect_server, tmp_path, httpserver):
    """Live refresh of two sources: Eurocities' page changed (filled by JavaScript), the networks list is fine."""
    from baltetl.cli.refresh import _load_flow
    from helpers.common import FIXTURES, ROOT, local_toml

    refresh = _load_flow()
    wh = tmp_path / "partial.duckdb"
    first = refresh(sample=True, sources=["eurocities", "networks"], warehouse=str(wh))
    assert first["status"] == "success"

    members = ROOT / "src/baltetl/sources/networks/sample/networks-etmun-2019/etmun_network_members_geocoded_2019.csv"
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/cities/").respond_with_data(
        (FIXTURES / "eurocities" / "directory_js_empty.html").read_text(), content_type="text/html")
    httpserver.expect_request("/members.csv").respond_with_data(members.read_bytes(), content_type="text/csv")
    override = local_toml(tmp_path / "live.toml", f"""
[sources.eurocities]
hosts = ["localhost", "127.0.0.1"]
directory_url = "{httpserver.url_for('/cities/')}"

[sources.networks]
hosts = ["localhost", "127.0.0.1"]
lists = [{{ name = "etmun", url = "{httpserver.url_for('/members.csv')}" }}]
""")
    second = refresh(sources=["eurocities", "networks"], warehouse=str(wh), config=str(override))
    by_source = {s["source"]: s for s in second["sources"]}
    assert second["status"] == "partial"
    assert [r.split(":")[0] for r in second["reasons"]] == ["eurocities"] and "JavaScript" in second["reasons"][0]
    assert by_source["networks"]["status"] == "success"
    assert by_source["eurocities"]["status"] == "failed" and "JavaScript" in by_source["eurocities"]["message"]
    con = duckdb.connect(str(wh), read_only=True)
    kept = con.execute("SELECT count(*) FROM organisations WHERE source = 'eurocities'").fetchone()[0]
    runs = con.execute("SELECT source, status FROM last_runs ORDER BY source").fetchall()
    con.close()
    assert kept == 227  # the last good Eurocities data
    assert runs == [("eurocities", "failed"), ("networks", "success")]


def test_a_source_with_nothing_to_fetch_is_skipped_at_once(prefect_server, tmp_path):
    """No live URL for the networks lists: skipped, not failed, and its land task is not retried (a retry
    waits 30 s, then 120 s: for transient fetch failures only)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from baltetl.cli.refresh import _load_flow

    state = _load_flow()(sources=["networks"], warehouse=str(tmp_path / "skip.duckdb"), return_state=True)
    result = state.result()
    assert result["status"] == "success"
    assert [(s["source"], s["status"]) for s in result["sources"]] == [("networks", "skipped")]
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    land = [r for r in runs if r.name.startswith("land")]
    assert len(land) == 1 and land[0].run_count == 1 and land[0].state.is_failed()


def test_nightly_deployment_has_the_configured_schedule(tmp_path):
    from baltetl.cli.refresh import deployment
    from baltetl.config import load_config

    cfg = load_config(warehouse=tmp_path / "n.duckdb")
    dep = deployment(cfg)
    assert dep.name == "nightly" and dep.parameters == {"warehouse": str(cfg.warehouse)}
    (sched,) = dep.schedules
    assert sched.schedule.cron == "30 2 * * *" and sched.schedule.timezone == "Europe/Riga"


def test_fetches_of_different_sources_overlap(prefect_server, tmp_path):
    """Two sources on two hosts: each server holds its answer until the other one has been asked too (a
    barrier), so both load only when the flow fetches them at the same time; one after the other, the
    first would wait out the barrier and both would be refused (404, not retried)."""
    import threading

    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    from baltetl.cli.refresh import _load_flow
    from helpers.common import local_toml, sample_dir

    payloads = {
        "networks": ((sample_dir("networks") / "networks-etmun-2019/etmun_network_members_geocoded_2019.csv").read_bytes(), "text/csv"),
        "interreg_se": ((sample_dir("interreg_se") / "interreg_se/interreg_se_bsr-southbaltic_2026-06-09.json").read_bytes(), "application/json"),
    }
    together = threading.Barrier(2, timeout=30)
    met = []

    def answer(body, content_type):
        def respond(request):
            try:
                together.wait()
            except threading.BrokenBarrierError:
                return Response("asked alone", status=404)
            met.append(request.path)
            return Response(body, content_type=content_type)

        return respond

    servers = {name: HTTPServer(host="127.0.0.1", port=0) for name in payloads}
    try:
        for name, server in servers.items():
            server.start()
            server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
            server.expect_request(f"/{name}").respond_with_handler(answer(*payloads[name]))
        override = local_toml(tmp_path / "live.toml", f"""
[sources.networks]
hosts = ["127.0.0.1"]
lists = [{{ name = "etmun", url = "{servers['networks'].url_for('/networks')}" }}]

[sources.interreg_se]
hosts = ["127.0.0.1"]
url = "{servers['interreg_se'].url_for('/interreg_se')}"
""")
        result = _load_flow()(sources=["networks", "interreg_se"], warehouse=str(tmp_path / "c.duckdb"), config=str(override))
    finally:
        for server in servers.values():
            server.clear()
            if server.is_running():
                server.stop()
    assert sorted(met) == ["/interreg_se", "/networks"]
    assert [(s["source"], s["status"]) for s in result["sources"]] == [("networks", "success"), ("interreg_se", "success")]
