"""Publishes in order and in one step: a site published from a newer build is never replaced by an older
one, readers always find the site whole while publishes run (`site` is a symlink switched in one rename),
publishes at once take turns and leave nothing behind, and a warehouse held read-write is one clear line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import duckdb
import pytest
from helpers.common import run_refresh, small_archive
from test_analyst import Analyst
from typer.testing import CliRunner

from baltetl import publish as pub
from baltetl.config import load_config


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    """A small real warehouse (five CORDIS projects of the sample), and a copy of it as an older build."""
    root = tmp_path_factory.mktemp("order")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING"):
            mp.delenv(var, raising=False)
        cfg = load_config(warehouse=root / "wh" / "baltmet.duckdb")
        result, _ = run_refresh(cfg, input_path=small_archive(root, 5))
        assert result.status == "success", result.message
    older = root / "older.duckdb"
    shutil.copy(cfg.warehouse, older)
    con = duckdb.connect(str(older))
    con.execute("UPDATE build_info SET run_id = 'older-run', built_at = built_at - INTERVAL 1 DAY")
    con.close()
    return cfg, load_config(warehouse=older)


def built_from(out) -> str:
    return (json.loads((out / pub.MARKER).read_text()).get("build") or {}).get("run_id")


def wait_for_cleanup() -> None:
    for t in threading.enumerate():
        if t.name == "baltetl-site-cleanup":
            t.join(30)


def beside(out) -> list[str]:
    """What lies beside the site, but the site itself, its lock and the folder it points to."""
    keep = {out.name, f".{out.name}.lock", os.readlink(out)}
    return sorted(p.name for p in out.parent.iterdir() if p.name not in keep)


def test_an_older_build_never_replaces_a_newer_site(wh, tmp_path):
    new, old = wh
    out = tmp_path / "site"
    pub.publish(new, out, log=lambda m: None)
    marker = (out / pub.MARKER).read_text()
    result = pub.publish(old, out, log=lambda m: None)  # e.g. a slow publish of the build before
    assert (out / pub.MARKER).read_text() == marker  # the newer build's site stays
    assert result.get("skipped") and "newer build" in result["skipped"] and "older-run" in result["skipped"]
    newest = built_from(out)
    assert newest != "older-run" and out.is_symlink()
    from baltetl.cli import app

    res = CliRunner().invoke(app, ["publish", "--out", str(out), "--warehouse", str(old.warehouse)])
    assert res.exit_code == 0 and "skipped:" in res.output and "--force" in res.output, res.output
    assert built_from(out) == newest
    pub.publish(old, out, log=lambda m: None, force=True)  # a deliberate roll-back
    assert built_from(out) == "older-run"
    pub.publish(new, out, log=lambda m: None)  # the newer build replaces an older site
    assert built_from(out) == newest
    wait_for_cleanup()
    assert beside(out) == []


POLLER = textwrap.dedent("""
    import os, sys
    site, stop = sys.argv[1], sys.argv[2]
    reads = misses = 0
    while not os.path.exists(stop):
        try:
            with open(os.path.join(site, "index.html"), "rb") as f:
                reads += 1 if f.read(15) else 0
            os.stat(os.path.join(site, "assets", "style.css"))
        except OSError:
            misses += 1
    print(reads, misses, flush=True)
""")

PUBLISHER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from baltetl.config import load_config
    from baltetl.publish import publish
    cfg = load_config(warehouse=Path(sys.argv[1]))
    for _ in range(int(sys.argv[3])):
        publish(cfg, Path(sys.argv[2]), log=lambda m: None)
    print("done", flush=True)
""")


@pytest.mark.slow
def test_readers_see_the_whole_site_while_publishes_run_at_once(wh, tmp_path):
    """A reader polling the site while two processes publish to it at once, four times each: it never
    misses a page; both publishers succeed; nothing is left beside the site."""
    new, _old = wh
    out = tmp_path / "www" / "site"
    pub.publish(new, out, log=lambda m: None)
    stop = tmp_path / "stop"
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(out), str(stop)], stdout=subprocess.PIPE, text=True)
    env = {k: v for k, v in os.environ.items() if k not in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING")}
    try:
        publishers = [subprocess.Popen([sys.executable, "-c", PUBLISHER, str(new.warehouse), str(out), "4"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                      for _ in range(2)]  # fmt: skip
        outcomes = [p.communicate(timeout=120) for p in publishers]
    finally:
        stop.touch()
        reads, misses = map(int, poller.communicate(timeout=30)[0].split())
    for p, (stdout, stderr) in zip(publishers, outcomes):
        assert p.returncode == 0 and stdout.strip() == "done", stderr[-2000:]
    assert reads > 100 and misses == 0, (reads, misses)
    assert out.is_symlink() and (out / "index.html").exists()
    assert beside(out) == []


def test_a_site_folder_published_before_becomes_the_symlink_once(wh, tmp_path):
    """A site published as a plain folder (before versions) is replaced by the symlink, and deleted."""
    new, _old = wh
    first = tmp_path / "first" / "site"
    pub.publish(new, first, log=lambda m: None)
    out = tmp_path / "www" / "site"
    out.parent.mkdir()
    shutil.copytree(first, out)  # a real folder with the marker
    (out / "stale.html").write_text("from an older publish")
    pub.publish(new, out, log=lambda m: None)
    wait_for_cleanup()
    assert out.is_symlink() and (out / "index.html").exists() and not (out / "stale.html").exists()
    assert beside(out) == []
    pub.publish(new, out, log=lambda m: None)  # again: the previous version goes
    wait_for_cleanup()
    assert beside(out) == []
    link = tmp_path / "www" / "elsewhere"
    link.symlink_to(first)  # a symlink someone else made is not replaced
    with pytest.raises(pub.PublishError, match="not one made by baltetl publish"):
        pub.publish(new, link, log=lambda m: None)


@pytest.mark.slow
def test_cli_publish_while_an_analyst_holds_the_warehouse_read_write(wh, tmp_path):
    from baltetl.cli import app

    new, _old = wh
    out = tmp_path / "site"
    pub.publish(new, out, log=lambda m: None)
    before = built_from(out)
    analyst = Analyst(new.warehouse, "rw")
    try:
        t0 = time.monotonic()
        res = CliRunner().invoke(app, ["publish", "--out", str(out), "--warehouse", str(new.warehouse)])
    finally:
        analyst.close()
        analyst.kill()
    assert res.exit_code == 3, (res.output, res.exception)
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("busy: ") and "Traceback" not in res.output
    assert f"{new.warehouse} is open read-write by pid {analyst.pid}" in lines[0]
    assert time.monotonic() - t0 < 10
    assert built_from(out) == before and (out / "index.html").exists()  # the previous site stays
