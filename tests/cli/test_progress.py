"""Progress during a refresh (issue 17, item 4): nothing showed until the summary table.  On a terminal the
CLI draws a line per source and stage; elsewhere (a log, a pipe) it writes a plain line per stage."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

from baltetl import pipeline, progress
from baltetl.cli.refresh import _Display

TIME = r"\d\d:\d\d:\d\d"


def _lines(cfg, sources, **kw) -> list[str]:
    buf = io.StringIO()
    with _Display(Console(file=buf, width=80)) as display:  # a StringIO is no terminal
        progress.set_sink(display)
        try:
            pipeline.refresh(cfg, sources, **kw)
        finally:
            progress.set_sink(None)
    return buf.getvalue().splitlines()


def test_plain_lines_per_source_and_stage_when_not_a_terminal(cfg, tmp_path):
    lines = _lines(cfg, ["clusters", "networks"], sample=True)
    assert all(re.match(TIME + " ", ln) for ln in lines), lines
    said = [ln[9:] for ln in lines]
    for source in ("clusters", "networks"):
        mine = [ln for ln in said if ln.startswith(f"{source}: ")]
        assert mine[:3] == [f"{source}: reading its sample", f"{source}: parsing", f"{source}: validating and staging"], said
        assert re.fullmatch(rf"{source}: loaded: \d+ rows, \d+ held back", mine[3]), said
    assert said.index("clusters: parsing") < said.index("networks: reading its sample")  # one source after another
    assert said[-2:] == ["warehouse: building", "warehouse: built"]
    # the same again: unchanged, not rebuilt; a failed source says why, in one line
    bad = tmp_path / "empty.csv"
    bad.write_text("Cluster,City,Country\n")
    lines = [ln[9:] for ln in _lines(cfg, ["clusters"], input_path=str(bad))]
    assert lines[0] == "clusters: reading its --input" and lines[-1].startswith("warehouse: not rebuilt"), lines
    assert len([ln for ln in lines if ln.startswith("clusters: failed: ")]) == 1, lines
    lines = [ln[9:] for ln in _lines(cfg, ["networks"], sample=True)]
    assert lines[1].startswith("networks: unchanged") and lines[-1].startswith("warehouse: not rebuilt"), lines


@pytest.mark.slow
def test_the_cli_writes_plain_progress_lines_to_a_pipe(prefect_api, tmp_path):
    env = {**os.environ, "BALTETL_WAREHOUSE": str(tmp_path / "baltmet.duckdb"), "COLUMNS": "80"}

    def refresh(*args):
        return subprocess.run([sys.executable, "-m", "baltetl", "refresh", "--no-publish", "--source", "clusters", *args],
                              capture_output=True, text=True, env=env, timeout=300)  # fmt: skip

    res = refresh("--sample")
    assert res.returncode == 0, res.stderr
    said = [ln[9:] for ln in res.stderr.splitlines() if re.match(TIME + " ", ln)]
    assert "clusters: parsing" in said and "warehouse: built" in said, res.stderr
    assert "\x1b[" not in res.stderr  # no terminal codes in a pipe
    # a source failing in the flow (far fewer rows): its reason once, no Prefect traceback, nothing rebuilt
    two = tmp_path / "two.csv"
    two.write_text("Cluster,City,Country,Website,Sectors\nBaltic Test Cluster,Riga,LV,https://example.lv,ICT\n"
                   "Other Cluster,Tallinn,EE,https://example.ee,ICT\n")  # fmt: skip
    res = refresh("--input", str(two))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "ERROR" not in res.stderr, res.stderr
    assert "clusters failed: far fewer rows than last time" in " ".join(res.stdout.split()), res.stdout
    said = [ln[9:] for ln in res.stderr.splitlines() if re.match(TIME + " ", ln)]
    assert said[-1].startswith("warehouse: not rebuilt") and "not rebuilt" in res.stdout, res.stderr
