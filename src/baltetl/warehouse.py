"""Build the DuckDB warehouse from the state, in a new file, and swap it in atomically.

An analyst's open read-only connection keeps reading the old file (its inode lives on until closed) and is
never blocked; a new connection sees the new build; nobody ever sees a half-built warehouse.

The build runs the layers of warehouse/ in order, raw (the state's snapshots) -> staging (generic: `stage`)
-> core -> marts -> public, each table defined by a file there (baltetl.models); the Python steps between
them (geography, resolution, revisions, history, report, topics) fill tables those files define.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from . import buildinfo, db, dictionary, history, models, report, resolve, revisions, sourcedates, topics
from .config import Config
from .db import WarehouseBusy
from .db import quote as _q
from .faults import point
from . import placement
from .geo import build_geography, insert_rows
from .state import State

# tables every source may stage under these names; they are unioned over sources into the core tables
CORE_TABLES = ("projects", "organisations", "participations", "network_memberships")
DERIVED = ("metropolis_id", "assigned_by", "assigned_from")  # computed in core/from_staging.sql


def sql_dir(cfg: Config) -> Path:
    """warehouse/ of the checkout (models.folder)."""
    return models.folder(cfg.project_dir)


def build(cfg: Config, state: State, run_id: str, log: Callable[[str], None] = print,
          fingerprint: tuple[str, dict] | None = None) -> dict:  # fmt: skip
    """Build a new warehouse file from every source's current snapshot; return counts.

    fingerprint: buildinfo.compute(cfg, state) taken before the build (default: taken here)."""
    fp, parts = fingerprint or buildinfo.compute(cfg, state)
    target = cfg.warehouse
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.building-{run_id}")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    sqld = sql_dir(cfg)
    con = db.open_build(tmp)
    pending = None  # this build's history, committed only once the new file is swapped in
    records = words = hist = base = ranked = None
    point("build.open")
    try:
        # a saved model ranks the opportunities (beside the last marts) instead of the hand-weighted ranking
        from . import opportunities

        model = opportunities.read_model(cfg, log)
        con.execute("SET preserve_insertion_order = false")
        limit = cfg.raw.get("build", {}).get("memory_limit")
        if limit:  # beyond it DuckDB drops cached blocks and spills to <build>.tmp
            con.execute("SET memory_limit = ?", [str(limit)])
        # core tables first: staging casts every source's snapshot to their columns
        models.run(con, "core/tables.sql", sqld)
        sources = state.sources()
        # staging loads on cursors of its own while the geography is built here (its TEMP tables are this
        # connection's; the staged tables and views are the database's)
        stage_con, stage_pool = db.cursor(con), ThreadPoolExecutor(1)
        try:
            staged = stage_pool.submit(stage, stage_con, state, sources)
            build_geography(con, cfg)  # core/geography.sql
            staged.result()
        finally:
            stage_pool.shutdown(wait=True)
            stage_con.close()
        point("build.staged")
        # core
        records = resolve.load_records_meanwhile(con)  # normalised while the core tables fill
        placement.place_staged(con, sqld)  # core/placement.sql: address_metropolis
        models.run(con, "core/from_staging.sql", sqld)
        models.run(con, "core/runs.sql", sqld)
        _run_records(con, state, sources)
        point("build.core")
        if model is not None:  # the projects' words, counted (DuckDB) while the organisations are resolved (Python)
            words = opportunities.count_words_meanwhile(con)
        # the history (core/changes.sql) diffs the projects, organisations and participations on a cursor of its
        # own: beside the resolution when the partners' revisions change none of them (else after the revisions),
        # beside the marts (which read none of what it writes; its valid_from columns, and the projects' hidden
        # column of the revisions, are added first, so no table changes shape meanwhile)
        revs = revisions.load(cfg)
        if not revs.change_tracked():
            hist = _history_meanwhile(con, state, run_id, target)
        # one organisation, one record: golden organisations (core/golden_organisations.sql), then the
        # partners' revisions on top (core/revisions.sql); the id registry is committed after the swap
        resolve.run(con, cfg, state, revs, run_id, log=log, commit=False, records=records.result())
        for fut in (words, hist):
            if fut is not None:
                fut.result()  # (before the revisions: words counted and history diffed as the sources made them)
        applied = revisions.apply(con, cfg, revs, run_id)
        if any(applied.get(k) for k in revisions.KINDS):
            log(f"revisions: {applied} (see revision_issues)")
        point("build.resolved")
        if hist is None:
            hist = _history_meanwhile(con, state, run_id, target)
        if model is not None:  # what the model ranks, read (in DuckDB) beside the history and the marts
            base = opportunities.read_base_meanwhile(con, cfg, counted=True)
        # the topic and opportunity marts (marts/topics.sql, project_topics.sql, organisation_topics.sql, and
        # without a model opportunities.sql)
        topics.build(con, cfg, sqld, log=log, learned=False, hand=model is None)  # (the model was read above)
        if model is not None:  # the model ranks beside the last marts
            ranked = opportunities.rank_meanwhile(con, cfg, model, base)
        # marts: the data-quality report of this run (of the last one recorded if this build is not a run's)
        models.run(con, "marts/quality_report.sql", sqld)
        rep = report.build(cfg, run_id, state=state, con=con) or report.build(cfg, state=state, con=con)
        report.write(con, rep)
        sourcedates.build(con, cfg, state)  # marts/source_data.sql: each source's data date (read by the marts)
        models.run(con, "marts/views.sql", sqld)
        (pending, changed, head), seconds = hist.result()
        log("history: " + ", ".join(f"{t} +{c.get('added', 0)} -{c.get('removed', 0)} ~{c.get('changed', 0)}"
                                     for t, c in changed.items()) + f" in {seconds:.2f} s")  # fmt: skip
        # what this build was made from
        models.run(con, "marts/build_info.sql", sqld)
        insert_rows(con, "build_info", [(run_id, datetime.now(UTC).replace(tzinfo=None), fp, json.dumps(parts), head)])
        # every table, view and column's comment (while the model ranks), then those of what is made after
        dictionary.apply(con, sqld / dictionary.FILE)
        if model is not None:  # the model's ranking is the opportunity marts (marts/opportunities_learned.sql)
            frames, seconds = ranked.result()
            opportunities.write_ranking(con, frames, model, seconds, log)
            opportunities.drop_words(con)
        # public, last: it reads the marts too
        create_public_views(con, sqld / "public" / "views.sql")
        dictionary.apply(con, sqld / dictionary.FILE, uncommented=True)
        point("build.marts")
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("projects", "organisations", "golden_organisations", "participations", "quarantine", "runs")
        }
        con.execute("CHECKPOINT build")
    except BaseException:
        for fut in (records, words, hist, base, ranked):
            if fut is not None:
                fut.exception()  # its cursor must be done before the connection closes
        if hist is not None and hist.done() and hist.exception() is None:
            pending = hist.result()[0][0]  # the history was written, the build failed beside it
        con.close()
        tmp.unlink(missing_ok=True)
        history.discard(pending)
        resolve.discard(state)
        raise
    con.close()
    point("build.closed")
    try:
        swap(tmp, target, wait_s=float(cfg.raw.get("build", {}).get("busy_wait_s", 60)), log=log)
    except BaseException:
        history.discard(pending)
        resolve.discard(state)
        raise
    point("build.done")  # swapped in, history not yet committed: the next build rolls it forward
    history.commit(pending)
    resolve.commit(state)  # (a kill before this: the next build makes the same ids from the old registry)
    buildinfo.record(cfg, state, fp, parts, run_id, counts)
    return counts


def _history_meanwhile(con: duckdb.DuckDBPyConnection, state: State, run_id: str, target: Path) -> Future:
    """history.track in a thread, on a cursor of its own (the tracked tables given their valid_from, and the
    projects their hidden column, first): -> its future, ((pending, changed, head), seconds)."""
    con.execute("ALTER TABLE projects ADD COLUMN IF NOT EXISTS hidden BOOLEAN DEFAULT false")  # (as core/revisions.sql)
    history.add_valid_from(con)
    return db.meanwhile(con, lambda cur: _timed(history.track, cur, state, run_id, target), "history")


def _timed(fn, *args):
    t0 = time.perf_counter()
    return fn(*args), time.perf_counter() - t0


def create_public_views(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Run public/views.sql: its first block always, each `-- requires: a, b` block when those tables exist.
    Returns the public_* views the warehouse now has."""
    blocks = re.split(r"^-- requires:(.*)$", path.read_text(), flags=re.M)
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.execute(blocks[0])
    for needs, sql in zip(blocks[1::2], blocks[2::2]):
        if all(t.strip() in have for t in needs.split(",")):
            con.execute(sql)
    return [r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'public\\_%' ESCAPE '\\' ORDER BY 1").fetchall()]


def stage(con: duckdb.DuckDBPyConnection, state: State, sources: list[str]) -> None:
    """The staging layer, the same for every source: stg_<source>__<table> for every table of its snapshot
    (as its contract delivered it), stg_<core table> = the union over sources cast to the core table's columns
    (core/tables.sql), stg_records = every staged record's lineage."""
    parts: dict[str, list[str]] = {t: [] for t in CORE_TABLES}
    records = []
    loads = [(source, pq.stem, pq) for source in sources for pq in sorted(state.current(source).glob("*.parquet"))]
    parallel(con, [f"CREATE TABLE stg_{source}__{table} AS SELECT * FROM read_parquet({_q(pq)})"
                   for source, table, pq in loads])  # fmt: skip
    for source, table, _pq in loads:
        stg = f"stg_{source}__{table}"
        records.append(f"SELECT '{source}' AS source, '{table}' AS table_name, record_key, record_ref FROM {stg}")
        if table in CORE_TABLES:
            parts[table].append(_core_select(con, source, stg, table))
    for table, selects in parts.items():
        if selects:
            con.execute(f"CREATE VIEW stg_{table} AS " + " UNION ALL BY NAME ".join(selects))
        else:  # no source delivers this table: an empty one of the right shape
            cols = [c for c in db.columns(con, table) if c not in DERIVED]
            if "city" in cols:
                cols.append("NULL::VARCHAR AS city_norm")
            con.execute(f"CREATE VIEW stg_{table} AS SELECT {', '.join(cols)} FROM {table} WHERE false")
    con.execute(
        "CREATE VIEW stg_records AS "
        + (" UNION ALL ".join(records) if records else "SELECT NULL::VARCHAR source, NULL::VARCHAR table_name, "
           "NULL::VARCHAR record_key, NULL::VARCHAR record_ref WHERE false")
    )  # fmt: skip


def parallel(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    """Run independent statements at once, each on a cursor of its own: most tables here are a few row groups,
    so a single statement keeps only some cores busy."""
    if len(statements) < 2:
        for sql in statements:
            con.execute(sql)
        return
    cursors = [db.cursor(con) for _ in statements]
    try:
        with ThreadPoolExecutor(max_workers=min(len(statements), os.cpu_count() or 1)) as pool:
            for fut in [pool.submit(cur.execute, sql) for cur, sql in zip(cursors, statements)]:
                fut.result()
    finally:
        for cur in cursors:
            cur.close()


def _core_select(con, source: str, stg: str, table: str) -> str:
    """SELECT the core table's columns from a staged table: missing ones are NULL, keys are built."""
    have = db.columns(con, stg)
    out = []
    for col, typ in db.columns(con, table).items():
        if col == "source":
            out.append(f"'{source}'::VARCHAR AS source")
        elif col in DERIVED:
            continue  # computed in core/from_staging.sql
        elif col == "project_key":
            out.append(f"'{source}:' || project_id AS project_key")
        elif col == "org_key":
            out.append(f"'{source}:' || org_id AS org_key")
        elif col == "ord" and "ord" in have:
            out.append("coalesce(ord, 0)::INTEGER AS ord")
        elif col in have:
            out.append(f"TRY_CAST({col} AS {typ}) AS {col}" if typ.startswith("DECIMAL") else f"{col}::{typ} AS {col}")
        else:
            out.append(f"NULL::{typ} AS {col}")
    if "city" in have:
        out.append("city_norm")
    return f"SELECT {', '.join(out)} FROM {stg}"


def _run_records(con: duckdb.DuckDBPyConnection, state: State, sources: list[str]) -> None:
    """runs, quarantine and landed_files from the state (the history of records is history.py)."""
    rows = state.runs()
    if rows:
        insert_rows(
            con,
            "runs",
            [
                (r["run_id"], r["source"], r["status"], r.get("started_at"), r.get("finished_at"), r.get("duration_s"),
                 r.get("rows_read"), r.get("rows_loaded"), r.get("rows_quarantined"), json.dumps(r.get("tables", {})),
                 json.dumps(r.get("input_files", [])), r.get("message"))
                for r in rows
            ],
        )  # fmt: skip
    files = state.quarantine_files()
    if files:
        lst = "[" + ", ".join(_q(f) for f in files) + "]"
        con.execute(f"INSERT INTO quarantine BY NAME SELECT * FROM read_parquet({lst}, union_by_name = true)")
    landed = []
    for source in sources:
        meta = state.meta(source) or {}
        for f in meta.get("input_files", []):
            landed.append((source, f["file_name"], f["sha256"], f.get("bytes"), f.get("origin"), f.get("fetched_at"), meta.get("run_id")))
    if landed:
        insert_rows(con, "landed_files", landed)


def swap(tmp: Path, target: Path, wait_s: float = 0.0, log: Callable[[str], None] = print) -> None:
    """Replace `target` by the finished build `tmp` in one rename, unless someone holds `target` open
    read-write (waiting up to `wait_s` seconds for them): their session would go on in the replaced file and
    put its WAL beside the new one.  Read-only connections never hold it up."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        held = db.wait_for_writers(target, wait_s)  # from here to the rename no read-write session can start
    except WarehouseBusy as exc:
        raise WarehouseBusy(
            f"{exc} (waited {wait_s:g} s, [build] busy_wait_s): not replaced; the new build is kept at {tmp.name}. "
            "Ask them to close it (analysts: duckdb -readonly, or for tables of your own `baltetl analyst FILE`, "
            "which attaches the warehouse READ_ONLY) and refresh again."
        ) from None
    try:
        wal = Path(str(target) + ".wal")
        if wal.exists() and not db.recover_wal(target, log):
            raise WarehouseBusy(
                f"{wal} holds writes to {target} of a read-write session that did not close; they would be lost "
                f"with the old file, so it is not replaced (the new build is kept at {tmp.name}). Open it "
                "read-write once and copy what you need into your own file, or delete the WAL; then refresh again."
            )
        point("swap.before")
        os.replace(tmp, target)
        point("swap.after")
    finally:
        if held is not None:
            os.close(held)  # (after the rename it is the old file: this process's locks on it guard nothing)
    dfd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
