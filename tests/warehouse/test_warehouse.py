"""Warehouse builds: what the sample gives, atomic swap under a reader, failures keep the last good data."""

import subprocess
import sys
import tarfile
import textwrap

import pytest

from baltetl import pipeline
from baltetl.pipeline import RefreshLocked
from helpers.common import SAMPLE, copy_built, q, run_refresh, small_archive, truncated_sample


def test_sample_builds_the_warehouse(cordis_sample):
    cfg, result, counts = cordis_sample
    assert result.status == "success", result.message
    assert counts["projects"] == 575
    wh = cfg.warehouse
    assert q(wh, "SELECT count(*) FROM ongoing_projects")[0][0] > 0
    metros = q(wh, "SELECT count(DISTINCT metropolis_id) FROM organisations_by_metropolis")[0][0]
    assert metros >= 10
    # every organisation placed in a metropolis says how
    assert q(wh, "SELECT count(*) FROM organisations WHERE metropolis_id IS NOT NULL AND assigned_by IS NULL")[0][0] == 0
    # lineage: every project row goes back to its landed file and member
    rows = q(wh, "SELECT count(*), count(source_file), count(file_sha256) FROM source_records WHERE table_name = 'projects'")
    assert rows == [(575, 575, 575)]
    run = q(wh, "SELECT source, status, rows_read, rows_loaded, rows_quarantined FROM runs")
    assert run[0][:2] == ("cordis", "success") and run[0][2] == run[0][3] + run[0][4]


def test_city_spellings_reach_their_metropolis(cordis_sample):
    cfg = cordis_sample[0]
    rows = dict(q(cfg.warehouse, """
        SELECT upper(city), any_value(metropolis_id) FROM participations
        WHERE upper(city) IN ('HELSINGIN YLIOPISTO', 'ESPOO', 'KOBENHAVN', 'KOBENHAVN K', 'COPENHAGEN', 'RIGA', 'WARSZAWA')
        GROUP BY 1"""))
    expected = {"HELSINGIN YLIOPISTO": "helsinki", "ESPOO": "helsinki", "KOBENHAVN": "copenhagen",
                "KOBENHAVN K": "copenhagen", "COPENHAGEN": "copenhagen", "RIGA": "riga", "WARSZAWA": "warsaw"}
    present = {k: v for k, v in expected.items() if k in rows}
    assert len(present) >= 4, rows
    assert {k: rows[k] for k in present} == present


def test_reader_keeps_its_snapshot_during_a_refresh(cfg, tmp_path):
    """An analyst's read-only connection, opened before a refresh and queried all through it, sees the old
    build whole; the refresh is not blocked; a connection opened afterwards sees the new build."""
    run_refresh(cfg, input_path=small_archive(tmp_path, 3))
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(3,)]
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, os, time
            con = duckdb.connect({str(cfg.warehouse)!r}, read_only=True)
            sql = "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM participations), " \
                  "(SELECT count(*) FROM golden_organisations), (SELECT count(*) FROM runs)"
            print(con.execute(sql).fetchone(), flush=True)
            seen, n = set(), 0
            while not os.path.exists({str(stop)!r}):
                seen.add(con.execute(sql).fetchone())
                n += 1
                time.sleep(0.01)
            print(n, sorted(seen), flush=True)
            print(con.execute(sql).fetchone(), flush=True)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        before = reader.stdout.readline().strip()
        assert before.startswith("(3, ")
        result, counts = run_refresh(cfg, sample=True)  # not blocked by the open reader
        assert result.status == "success" and counts["projects"] == 575
        stop.touch()
        queries, seen = reader.stdout.readline().strip().split(" ", 1)
        assert int(queries) > 0 and seen == f"[{before}]"  # during the refresh: the old build, whole
        assert reader.stdout.readline().strip() == before  # after it, until reconnecting: the same
    finally:
        reader.kill()
        reader.wait()
    assert q(cfg.warehouse, "SELECT count(*) FROM projects") == [(575,)]  # new readers see the new build
    leftovers = [p.name for p in cfg.warehouse.parent.iterdir() if ".building" in p.name]
    assert leftovers == []


def test_failed_source_keeps_last_good_data(cordis_sample, cfg, tmp_path):
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    result, counts = run_refresh(cfg, input_path=truncated_sample(tmp_path))
    assert result.status == "failed"
    assert "truncated or corrupt" in result.message
    assert counts["projects"] == 575
    runs = q(cfg.warehouse, "SELECT status, message FROM runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["success", "failed"]


def test_tolerance_exceeded_fails_the_source_and_records_quarantine(cfg, tmp_path):
    run_refresh(cfg, input_path=small_archive(tmp_path, 3))
    bad = tmp_path / "bad.tar.xz"
    with tarfile.open(SAMPLE, "r:xz") as src, tarfile.open(bad, "w:xz") as dst:
        for i, m in enumerate([m for m in src.getmembers() if m.isfile()][:4]):
            data = src.extractfile(m).read()
            if i < 2:  # break two of four projects' dates: 50 % > the 2 % tolerance
                data = data.replace(b"<startDate>", b"<startDate>20X", 1)
            import io
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    result, counts = run_refresh(cfg, input_path=bad)
    assert result.status == "failed" and "quarantined" in result.message
    assert counts["projects"] == 3  # the previous data
    qrows = q(cfg.warehouse, "SELECT table_name, column_name, check_name FROM quarantine WHERE table_name = 'projects'")
    assert len(qrows) == 2 and all(r[1] == "start_date" for r in qrows)


def test_second_refresh_is_refused_while_one_runs(cfg):
    with pipeline.refresh_lock(cfg):
        with pytest.raises(RefreshLocked, match="another refresh"):
            with pipeline.refresh_lock(cfg):
                pass
    with pipeline.refresh_lock(cfg):  # released
        pass


def test_a_source_without_live_input_is_skipped_not_failed(cfg):
    from baltetl import pipeline

    with pytest.raises(pipeline.NoInput):
        pipeline.land(cfg, "interreg_se")  # no URL configured: nothing to fetch
    result = pipeline.fail(cfg, pipeline.new_run_id(), "interreg_se", 0.0, pipeline.NoInput("no url"))
    assert result.status == "skipped"
