"""Analysts around the swap: a read-write session on the warehouse refuses the swap (its writes are not lost
and no WAL lands beside the new build), a WAL that is not the warehouse's own is moved aside and reported,
read-only analysts and analysts writing their own file (the warehouse ATTACHed READ_ONLY) never block a
refresh.  The analysts are real processes holding DuckDB connections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import duckdb
import pytest
from helpers.common import q, run_refresh, small_archive

from baltetl import db, pipeline
from baltetl.warehouse import WarehouseBusy

ANALYST = textwrap.dedent("""
    import duckdb, sys
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
    for sql in sys.argv[3:]:
        con.execute(sql)
    print("open", flush=True)
    for line in sys.stdin:
        if line.strip() == "close":
            con.close()
            print("closed", flush=True)
            break
        print(con.execute(line).fetchall(), flush=True)
""")


class Analyst:
    """A DuckDB session in its own process: `sql()` runs a statement there, `close()` ends it normally."""

    def __init__(self, path, mode: str, *setup: str):
        self.p = subprocess.Popen([sys.executable, "-c", ANALYST, str(path), mode, *setup], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.p.stdout.readline().strip() == "open"
        self.pid = self.p.pid

    def sql(self, statement: str) -> str:
        self.p.stdin.write(statement + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self) -> None:
        assert self.sql("close") == "closed"
        self.p.wait(10)

    def kill(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(10)


def foreign_wal(folder) -> bytes:
    """The WAL of another database: a session that wrote and died before its checkpoint."""
    other = folder / "other.duckdb"
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, os
        con = duckdb.connect({str(other)!r})
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("INSERT INTO t VALUES (1), (2)")
        os._exit(0)
    """)], check=True)  # fmt: skip
    return (folder / "other.duckdb.wal").read_bytes()


@pytest.mark.slow
def test_a_read_write_session_refuses_the_swap_and_keeps_its_writes(cfg, tmp_path):
    """An analyst's read-write connection that has not written yet (the DuckDB CLI's default): the swap is
    refused with the file and the holder named, the warehouse stays whole, the analyst's later writes are in
    it; once they closed, the next refresh swaps."""
    archive = small_archive(tmp_path, 3)
    run_refresh(cfg, input_path=archive)
    cfg.raw["build"]["busy_wait_s"] = 0.5
    analyst = Analyst(cfg.warehouse, "rw")
    try:
        with pytest.raises(WarehouseBusy) as exc:
            run_refresh(cfg, sample=True)
        msg = str(exc.value)
        assert f"{cfg.warehouse} is open read-write by pid {analyst.pid}" in msg and "\n" not in msg
        assert "busy_wait_s" in msg and "READ_ONLY" in msg
        assert analyst.sql("CREATE TABLE my_notes AS SELECT 42 AS answer") == "[(1,)]"
        assert analyst.sql("SELECT count(*) FROM projects") == "[(3,)]"
        analyst.close()
    finally:
        analyst.kill()
    assert not os.path.exists(str(cfg.warehouse) + ".wal")
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(3,)]
    assert q(cfg.warehouse, "SELECT answer FROM my_notes") == [(42,)]  # the analyst's writes, not lost
    result, counts = run_refresh(cfg, sample=True)  # the analyst gone: swapped in
    assert counts["projects"] == 575 and q(cfg.warehouse, "SELECT count(*) FROM projects") == [(575,)]


@pytest.mark.slow
def test_a_session_that_wrote_and_died_keeps_the_old_file(cfg, tmp_path):
    """A read-write session that wrote and was killed leaves a WAL that belongs to the file: swapping would
    lose its writes, so the refresh is refused and the writes can still be read."""
    run_refresh(cfg, input_path=small_archive(tmp_path, 3))
    cfg.raw["build"]["busy_wait_s"] = 0
    analyst = Analyst(cfg.warehouse, "rw")
    assert analyst.sql("CREATE TABLE my_notes AS SELECT 42 AS answer") == "[(1,)]"
    analyst.kill()
    with pytest.raises(WarehouseBusy, match="holds writes to .* of a read-write session that did not close"):
        run_refresh(cfg, sample=True)
    assert q(cfg.warehouse, "SELECT answer FROM my_notes") == [(42,)]
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(3,)]


def test_a_wal_that_is_not_the_warehouses_is_moved_aside_and_reported(cfg, tmp_path):
    """A WAL written for another file (left by a session on an earlier build) makes every open fail: an
    unchanged refresh moves it aside, says so, and the warehouse opens again."""
    archive = small_archive(tmp_path, 3)
    run_refresh(cfg, input_path=archive)
    wal = cfg.warehouse.with_name(cfg.warehouse.name + ".wal")
    stray = foreign_wal(tmp_path)
    wal.write_bytes(stray)
    with pytest.raises(duckdb.IOException, match="WAL does not match"):
        q(cfg.warehouse, "SELECT 1")
    out = pipeline.refresh_if_unchanged(cfg, ["cordis"], input_path=str(archive))  # the CLI's fast path
    assert out is not None and out["status"] == "success"
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(3,)]  # a success: the warehouse opens
    assert len(out["notes"]) == 1 and "did not belong to" in out["notes"][0] and str(wal) in out["notes"][0]
    aside = sorted(cfg.warehouse.parent.glob(cfg.warehouse.name + ".wal.orphan-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == stray and not wal.exists()
    # the same through a whole refresh run
    wal.write_bytes(stray)
    out = pipeline.refresh(cfg, ["cordis"], input_path=str(archive))
    assert out["status"] == "success" and "did not belong to" in out["notes"][0]
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(3,)] and not wal.exists()


@pytest.mark.slow
def test_read_only_analysts_and_their_own_files_never_block_a_refresh(cfg, tmp_path):
    """A read-only session, and an analyst writing tables in their own file with the warehouse ATTACHed
    READ_ONLY (the README's recipe), while a refresh swaps: not blocked, and the analyst's own table, made
    after the swap from the snapshot they opened, survives."""
    run_refresh(cfg, input_path=small_archive(tmp_path, 3))
    cfg.raw["build"]["busy_wait_s"] = 0
    mine = tmp_path / "mine.duckdb"
    reader = Analyst(cfg.warehouse, "ro")
    own = Analyst(mine, "rw", *db.analyst_sql(mine, cfg.warehouse).split("; "))  # as `baltetl analyst` does
    try:
        result, counts = run_refresh(cfg, sample=True)
        assert counts["projects"] == 575
        assert reader.sql("SELECT count(*) FROM projects") == "[(3,)]"  # its snapshot
        assert own.sql("CREATE TABLE my_projects AS SELECT project_key FROM projects") == "[(3,)]"
        own.close()
        reader.close()
    finally:
        own.kill()
        reader.kill()
    assert q(mine, "SELECT count(*) FROM my_projects") == [(3,)]
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(575,)]


def test_baltetl_analyst_gives_a_file_of_ones_own(cfg, tmp_path, monkeypatch):
    """`baltetl analyst FILE` (here without the duckdb shell: it says how) and db.analyst: the warehouse's
    tables by their plain names, read-only; new tables in the analyst's file."""
    from typer.testing import CliRunner

    from baltetl.cli import app

    run_refresh(cfg, input_path=small_archive(tmp_path, 3))
    mine = tmp_path / "my notes.duckdb"
    monkeypatch.setenv("PATH", str(tmp_path))  # no duckdb shell
    res = CliRunner().invoke(app, ["analyst", str(mine), "--warehouse", str(cfg.warehouse)])
    assert res.exit_code == 0 and "READ_ONLY" in res.output and "baltetl.db import analyst" in res.output
    con = db.analyst(mine, cfg.warehouse)
    con.execute("CREATE TABLE my_projects AS SELECT project_key FROM projects")
    with pytest.raises(duckdb.Error, match="read-only|READ_ONLY|attached in read-only"):
        con.execute("DROP TABLE wh.projects")
    con.close()
    assert q(mine, "SELECT count(*) FROM my_projects") == [(3,)]
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(3,)]
