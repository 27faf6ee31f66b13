"""Shared fixtures.  Tests that need ../shared/data skip with the reason when it is absent."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from helpers.common import FULL_INPUTS, need_shared

# Prefect keeps its database and settings here, never in the developer's ~/.prefect (a folder of the session's,
# removed when it ends: made only when none is given, as CI gives one)
if not os.environ.get("PREFECT_HOME"):
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="baltetl-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# rich reads COLUMNS once, when a console is made.  The CLI's two consoles are made here, before any test,
# with COLUMNS unset, so each test's own COLUMNS (CliRunner's env) sets their width when they print, whichever
# test first imported the CLI in this process (under pytest-xdist, another one than in a serial run).
_columns = os.environ.pop("COLUMNS", None)
import baltetl.cli.common  # noqa: E402, F401

if _columns is not None:
    os.environ["COLUMNS"] = _columns


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for every flow test of the session (given two minutes to start: on a busy
    2-core machine its 30 s default ran out)."""
    from prefect.testing.utilities import prefect_test_harness

    from prefect.settings import PREFECT_API_URL

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture
def prefect_api(prefect_server, monkeypatch):
    """The session's Prefect API as PREFECT_API_URL: a CLI refresh (in this process or a child) uses it instead
    of starting a temporary API of its own (seconds of a busy core each).  Tests of that temporary API's
    lifecycle leave this fixture out."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    return prefect_server


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    """A configuration whose warehouse, state and landing live in tmp_path."""
    from baltetl.config import load_config

    monkeypatch.delenv("BALTETL_CONFIG", raising=False)
    for var in ("BALTETL_STATE", "BALTETL_LANDING"):
        monkeypatch.delenv(var, raising=False)
    return load_config(warehouse=tmp_path / "wh" / "baltmet.duckdb")


@pytest.fixture
def ctx(cfg):
    from baltetl.types import SourceContext

    return SourceContext(cfg, cfg.source("cordis"))


@pytest.fixture(scope="session")
def cordis_sample(tmp_path_factory):
    """One refresh and build of the bundled CORDIS sample alone, for tests that only read it (copy it to change
    it): -> (cfg, SourceResult, build counts)."""
    from baltetl.config import load_config
    from helpers.common import run_refresh

    with pytest.MonkeyPatch.context() as mp:  # as the `cfg` fixture: the warehouse's own state and landing
        for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING"):
            mp.delenv(var, raising=False)
        cfg = load_config(warehouse=tmp_path_factory.mktemp("cordis-sample") / "wh" / "baltmet.duckdb")
        result, counts = run_refresh(cfg, sample=True)
    return cfg, result, counts


@pytest.fixture(scope="session")
def full_warehouse(tmp_path_factory):
    """One warehouse of the full real data for the session: every source refreshed, then one build.
    Returns (cfg, {source: SourceResult}, build counts).  Tests must not change it (copy it first)."""
    for path in FULL_INPUTS.values():
        if path is not None:
            need_shared(path)
    from baltetl import pipeline
    from baltetl.config import load_config

    cfg = load_config(warehouse=tmp_path_factory.mktemp("full") / "baltmet.duckdb")
    run_id = pipeline.new_run_id()
    results = {}
    with pipeline.refresh_lock(cfg):
        for source, path in FULL_INPUTS.items():
            results[source] = pipeline.refresh_source(cfg, source, run_id, sample=path is None, input_path=path)
            assert results[source].status == "success", (source, results[source].message)
        counts = pipeline.build(cfg, run_id, log=lambda m: None)
    return cfg, results, counts
