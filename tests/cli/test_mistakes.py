"""Ordinary mistakes on the command line (issue 17, item 2): one line naming the user's file, the documented
exit code (2: a bad option, input or configuration), no traceback (only with --debug), the warehouse as it
was and not rebuilt, nothing recorded.  Each fails before Prefect or its temporary API starts."""

from __future__ import annotations

import os
import time

import pytest
from typer.testing import CliRunner

from baltetl.cli import app
from helpers.common import SAMPLE, refresh_run


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A warehouse built from one small source: -> its configuration."""
    from baltetl.config import load_config

    cfg = load_config(warehouse=tmp_path_factory.mktemp("mistakes") / "baltmet.duckdb")
    refresh_run(cfg, ["eurocities"])
    assert cfg.warehouse.exists()
    return cfg


def _files(cfg) -> dict:
    """What a refresh could change: the warehouse file (identity), the build record, the recorded runs."""
    from baltetl.state import State

    st = os.stat(cfg.warehouse)
    build = (cfg.state / "build.json").read_text()
    return {"warehouse": (st.st_ino, st.st_size, st.st_mtime_ns), "build": build, "runs": len(State(cfg.state).runs())}


def _refresh(cfg, *args):
    env = {"BALTETL_WAREHOUSE": str(cfg.warehouse), "COLUMNS": "80", "BALTETL_PREFECT_TEMP_API": "0"}
    t = time.monotonic()
    res = CliRunner().invoke(app, ["refresh", "--no-publish", *args], env=env)
    return res, time.monotonic() - t


def _one_line(res, *words: str) -> str:
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert "Traceback" not in res.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def test_unknown_source_is_refused_at_once(base):
    before = _files(base)
    res, took = _refresh(base, "--source", "nope")
    assert res.exit_code == 2, res.output
    _one_line(res, "unknown source 'nope'", "cordis")
    assert took < 6, took  # no flow, no Prefect: it took 6-14 s when the flow found the mistake
    assert _files(base) == before


def test_input_without_source_is_refused(base, tmp_path):
    f = tmp_path / "download.zip"
    f.write_bytes(b"PK\x05\x06" + bytes(18))
    res, _ = _refresh(base, "--input", str(f))
    assert res.exit_code == 2, res.output
    _one_line(res, "--input feeds one source", "--source")


def _mistake(cfg, source: str, path, *words: str) -> None:
    before = _files(cfg)
    res, _ = _refresh(cfg, "--source", source, "--input", str(path))
    assert res.exit_code == 2, res.output
    line = _one_line(res, "bad input:", str(path), *words)
    assert "input-" not in line.split("(landed as")[0]  # the user's name first, not the landing file's
    assert _files(cfg) == before  # not rebuilt, no run recorded


def test_a_text_file_given_as_cordis_download(base, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    _mistake(base, "cordis", hosts, "neither the CORDIS XML edition", "nor the CSV edition")


def test_a_truncated_archive(base, tmp_path):
    cut = tmp_path / "cordis-HORIZONprojects-xml.tar.xz"
    cut.write_bytes(SAMPLE.read_bytes()[:200_000])
    _mistake(base, "cordis", cut, "truncated or corrupt")


def test_a_cordis_archive_given_to_keep(base):
    _mistake(base, "keep", SAMPLE, "no keep.eu partner CSV/XLSX", "it looks like a CORDIS archive")


def test_debug_shows_the_traceback(base, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    res, _ = _refresh(base, "--source", "cordis", "--input", str(hosts), "--debug")
    from baltetl.types import StructureChanged

    assert isinstance(res.exception, StructureChanged), res.output
    assert str(hosts) in str(res.exception)


def test_a_csv_with_other_columns_given_to_clusters(base, tmp_path):
    csv = tmp_path / "clusters-export.csv"
    csv.write_text("Cluster,City,Country\nBaltic Test Cluster,Riga,LV\n")
    _mistake(base, "clusters", csv, "columns 'Website', 'Sectors' missing")
