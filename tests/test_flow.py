"""The refresh flow through the Prefect engine, and the CLI that runs it (one shared test server)."""

import duckdb
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="session")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield


def test_refresh_flow_on_the_sample(prefect_server, tmp_path):
    from baltetl.cli import _load_flow

    refresh = _load_flow()
    wh = tmp_path / "flow.duckdb"
    result = refresh(sample=True, warehouse=str(wh))
    assert result["status"] == "success", result["sources"]
    from baltetl.config import load_config

    with_sample = [n for n, s in load_config().sources.items() if s.sample]
    assert [s["source"] for s in result["sources"]] == with_sample  # --sample: every source that ships one
    assert "cordis" in with_sample and all(s["status"] == "success" for s in result["sources"])
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT count(*) FROM ongoing_projects").fetchone()[0] > 0
    con.close()


def test_cli_refresh_and_status(prefect_server, tmp_path, monkeypatch):
    from baltetl.cli import app

    wh = tmp_path / "cli.duckdb"
    monkeypatch.setenv("BALTETL_WAREHOUSE", str(wh))  # honoured by every command
    runner = CliRunner()
    res = runner.invoke(app, ["refresh", "--sample"])
    assert res.exit_code == 0, res.output
    assert "success" in res.output and "failed" not in res.output
    assert wh.exists()
    res = runner.invoke(app, ["status"])
    assert res.exit_code == 0, res.output
    assert "cordis" in res.output and "success" in res.output
    assert "helsinki" in res.output


def test_cli_rejects_missing_input(tmp_path):
    from baltetl.cli import app

    res = CliRunner().invoke(app, ["refresh", "--input", str(tmp_path / "nope.zip"), "-w", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 2
    assert "input not found" in res.output
