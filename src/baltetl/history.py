"""History of the core records: what each build changed (`changes`) and every version (`<table>_history`).

The warehouse file is rebuilt from the state on every run, so the history lives in the state folder too,
as one folder per build that changed something (written once, never rewritten):

    <state>/history/<version>/<table>.parquet   versions that begin with this build: the added and changed
                                                rows (all fields) and a tombstone ('removed') per removed row
    <state>/history/<version>/changes.parquet   the build's changes: one row per added or removed record, one
                                                row per changed field (before / after as text)
    <state>/history/.pending-<version>/         the same while the build runs; renamed to <version> only once
                                                the new warehouse was swapped in

<version> is '<changed_at>-<run_id>'.  Each build diffs its freshly built tables against the latest
committed version of every record, in SQL: each version is stored with an md5 of its fields, so finding the
changed records reads only keys and hashes; only the versions being replaced are read in full, and for them
the fields themselves are compared (one `changes` row per field that differs).  `record_ref` is lineage (it
names the landed file, which changes with every download) and is not compared; every other column is,
including the derived ones (metropolis assignment, revisions).  The warehouse gets `changes`,
`<table>_closed_versions` (versions no longer current), the view `<table>_history` (those + the current rows,
with valid_from / valid_to) and `valid_from` on the current rows.

Crash safety: the pending folder is committed by one rename after the swap.  A crash before the swap
leaves the old warehouse and an uncommitted folder: the next build discards it and diffs against the same
committed history again, so nothing is lost or counted twice.  A crash between the swap and the rename
leaves a live warehouse that shows the pending changes: the next build sees in its `build_info` that it
was built with them and commits the folder (rolls forward) before diffing.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from . import db, models
from .db import quote as _q

# tracked tables and their keys
TRACKED = {
    "projects": ("project_key",),
    "organisations": ("org_key",),
    "participations": ("project_key", "org_key", "role", "ord"),
}
NOT_COMPARED = {"record_ref"}  # lineage, not data
PENDING = ".pending-"
PARQUET = "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"  # level 1: a third faster, ~15 % larger

def root(state) -> Path:
    return Path(state.root) / "history"


def committed(state) -> list[Path]:
    d = root(state)
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")) if d.exists() else []


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(_q(p) for p in paths) + "]"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def live_head(warehouse: Path) -> str | None:
    """The history version the live warehouse was built with (None when unknown)."""
    if not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("SELECT history_head FROM build_info").fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()


def recover(state, warehouse: Path) -> None:
    """Commit the pending folder the live warehouse was built with; discard any other."""
    d = root(state)
    pending = sorted(d.glob(PENDING + "*")) if d.exists() else []
    if not pending:
        return
    head = live_head(warehouse)
    for p in pending:
        if p.name.removeprefix(PENDING) == head:
            commit(p)
        else:
            shutil.rmtree(p, ignore_errors=True)


def commit(pending: Path | None) -> None:
    """Make a build's history part of the state: one atomic rename."""
    if pending is None:
        return
    os.rename(pending, pending.with_name(pending.name.removeprefix(PENDING)))
    _fsync(pending.parent)


def discard(pending: Path | None) -> None:
    if pending is not None:
        shutil.rmtree(pending, ignore_errors=True)


def _key(keys: tuple[str, ...], alias: str = "") -> str:
    cols = [f'{alias}"{k}"::VARCHAR' for k in keys]
    return cols[0] if len(cols) == 1 else f"concat_ws('|', {', '.join(cols)})"


def _hash(cols: list[str]) -> str:
    """md5 of the row's non-NULL fields as 'name=value' text: a new column that is NULL (or a dropped one that
    was) leaves the hash as it was."""
    return "md5(concat_ws(chr(31), " + ", ".join(f"""'{c}=' || "{c}"::VARCHAR""" for c in cols) + "))"


def _typed(cols: dict[str, str], have: dict[str, str], alias: str = "") -> str:
    """The columns of `cols` from a relation with columns `have`: cast to today's type, NULL when absent."""
    return ", ".join(f'{alias}"{c}"::{t} AS "{c}"' if c in have else f'NULL::{t} AS "{c}"' for c, t in cols.items())


def _diff(con, table: str, keys: tuple[str, ...], files: list[Path], run_id: str, now: datetime) -> dict:
    """Diff `table` against the latest committed version of each record; fill _changes and _versions (the
    versions that begin now), give `table` its valid_from, build <table>_closed_versions and <table>_history."""
    cols = {c: t for c, t in db.columns(con, table).items() if c != "valid_from"}
    compared = [c for c in cols if c not in NOT_COMPARED]
    src = f"read_parquet({_files(files)}, union_by_name = true)" if files else None
    have = db.columns(con, f"SELECT * FROM {src}") if files else {}
    # every committed version of every record: its key, hash and span (a tombstone closes the last one)
    if files:
        con.execute(f"""
            CREATE TEMP TABLE _idx AS
            SELECT record_key, valid_from, change, row_hash,
                   lead(valid_from) OVER (PARTITION BY record_key ORDER BY valid_from) AS valid_to
            FROM {src}
        """)  # fmt: skip
    else:
        con.execute("CREATE TEMP TABLE _idx (record_key VARCHAR, valid_from TIMESTAMP, change VARCHAR, "
                    "row_hash VARCHAR, valid_to TIMESTAMP)")  # fmt: skip
    # records whose hash differs from their current version, or that are new or gone
    con.execute(f"""
        CREATE TEMP TABLE _diff AS
        SELECT coalesce(n.record_key, c.record_key) AS record_key, n.source, n.row_hash, c.valid_from AS old_from,
               CASE WHEN c.record_key IS NULL THEN 'added' WHEN n.record_key IS NULL THEN 'removed'
                    ELSE 'changed' END AS change
        FROM (SELECT {_key(keys)} AS record_key, source, {_hash(compared)} AS row_hash FROM {table}) n
        FULL JOIN (SELECT * FROM _idx WHERE valid_to IS NULL AND change <> 'removed') c
          ON n.record_key = c.record_key
        WHERE n.record_key IS NULL OR c.record_key IS NULL OR n.row_hash <> c.row_hash
    """)  # fmt: skip
    # the versions they replace, in full
    replaced = files and con.execute("SELECT count(*) FROM _diff WHERE change <> 'added'").fetchone()[0]
    con.execute(f"""
        CREATE TEMP TABLE _oldrows AS
        SELECT f.record_key, f.valid_from, {_typed(cols, have, "f.")} FROM {src} f
        JOIN _diff d ON d.record_key = f.record_key AND d.old_from = f.valid_from
    """ if replaced else f"""
        CREATE TEMP TABLE _oldrows AS SELECT NULL::VARCHAR AS record_key, NULL::TIMESTAMP AS valid_from,
        {", ".join(f'"{c}"' for c in cols)} FROM {table} WHERE false
    """)  # fmt: skip
    # the current rows of the changed records (an added one is read from `table` where needed: after a first
    # build or a large change, most rows are added, and copying them here cost more than the rest of the diff)
    con.execute(f"CREATE TEMP TABLE _cur AS SELECT {_key(keys)} AS record_key, * FROM {table} "
                f"WHERE {_key(keys)} IN (SELECT record_key FROM _diff WHERE change = 'changed')")  # fmt: skip
    # changed: one row per field that differs
    fields = ", ".join(
        f"""{{'field': '{c}', 'before': o."{c}"::VARCHAR, 'after': n."{c}"::VARCHAR, """
        f"""'differs': o."{c}" IS DISTINCT FROM n."{c}"}}"""
        for c in compared
    )
    con.execute(f"""
        CREATE TEMP TABLE _fields AS
        SELECT record_key, source, f.field, f.before, f.after FROM (
            SELECT d.record_key, n.source, unnest([{fields}]) AS f
            FROM _diff d JOIN _cur n ON n.record_key = d.record_key JOIN _oldrows o ON o.record_key = d.record_key
            WHERE d.change = 'changed')
        WHERE f.differs
    """)  # fmt: skip
    # a hash that differs with no field that does (the text form of a type changed): not a change
    con.execute("DELETE FROM _diff WHERE change = 'changed' AND record_key NOT IN (SELECT record_key FROM _fields)")
    con.execute("""
        INSERT INTO _changes
        SELECT ?, ?, ?, d.record_key, coalesce(d.source, o.source), d.change, NULL, NULL, NULL
        FROM _diff d LEFT JOIN _oldrows o ON o.record_key = d.record_key
        WHERE d.change <> 'changed'
        UNION ALL
        SELECT ?, ?, ?, record_key, source, 'changed', field, before, after FROM _fields
    """, [run_id, now, table] * 2)  # fmt: skip
    # the versions that begin now: new rows in full, removed ones as tombstones (key columns and source)
    keep = ", ".join(f'o."{c}"' for c in dict.fromkeys((*keys, "source")))
    stamp = f"'{run_id.replace(chr(39), chr(39) * 2)}'::VARCHAR AS run_id, TIMESTAMP '{now.isoformat(sep=' ')}' AS valid_from"
    con.execute(f"""
        CREATE TEMP VIEW _versions AS
        SELECT {stamp}, d.change, d.record_key, d.row_hash, {", ".join(f'n."{c}"' for c in cols)}
        FROM _diff d JOIN (SELECT {_key(keys)} AS record_key, * FROM {table}) n ON n.record_key = d.record_key
        WHERE d.change <> 'removed'
        UNION ALL BY NAME
        SELECT {stamp}, 'removed' AS change, o.record_key, {keep}
        FROM _diff d JOIN _oldrows o ON o.record_key = d.record_key WHERE d.change = 'removed'
    """)  # fmt: skip
    # valid_from of the current rows: now for the new versions, else their committed version's
    con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS valid_from TIMESTAMP")
    con.execute(f"""
        UPDATE {table} SET valid_from = v.valid_from FROM (
            SELECT record_key, valid_from FROM _idx
            WHERE valid_to IS NULL AND change <> 'removed' AND record_key NOT IN (SELECT record_key FROM _diff)
            UNION ALL SELECT record_key, ?::TIMESTAMP FROM _diff WHERE change <> 'removed'
        ) v WHERE v.record_key = {_key(keys, f"{table}.")}
    """, [now])  # fmt: skip
    # the versions no longer current: closed earlier, or closed by this build
    closed = con.execute("SELECT count(*) FROM _idx WHERE valid_to IS NOT NULL AND change <> 'removed'").fetchone()[0]
    parts = [f"SELECT {_typed(cols, cols, 'o.')}, o.valid_from, ?::TIMESTAMP AS valid_to FROM _oldrows o"]
    if closed:
        parts.append(f"""
            SELECT {_typed(cols, have, "f.")}, f.valid_from, i.valid_to FROM {src} f
            JOIN _idx i ON i.record_key = f.record_key AND i.valid_from = f.valid_from
            WHERE i.valid_to IS NOT NULL AND i.change <> 'removed'
        """)  # fmt: skip
    con.execute(f"CREATE TABLE {table}_closed_versions AS {' UNION ALL '.join(parts)}", [now])
    names = ", ".join(f'"{c}"' for c in cols)
    con.execute(f"""
        CREATE VIEW {table}_history AS
        SELECT {names}, valid_from, NULL::TIMESTAMP AS valid_to FROM {table}
        UNION ALL
        SELECT {names}, valid_from, valid_to FROM {table}_closed_versions
    """)  # fmt: skip
    return dict(con.execute("SELECT change, count(*) FROM _diff GROUP BY 1").fetchall())


def add_valid_from(con: duckdb.DuckDBPyConnection) -> None:
    """Give the tracked tables their valid_from column (NULL until `track` fills it)."""
    for table in TRACKED:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS valid_from TIMESTAMP")


def track(con: duckdb.DuckDBPyConnection, state, run_id: str, warehouse: Path) -> tuple[Path | None, dict, str | None]:
    """Diff the built core tables against the history; write the changes to a pending folder (commit it with
    `commit` after the swap); load `changes` and `<table>_history` into the build.

    Returns (pending folder or None when nothing changed, {table: {added, removed, changed: records}}, the
    history version the build holds: the caller records it in `build_info.history_head`)."""
    recover(state, warehouse)
    done = committed(state)
    now = datetime.now(UTC).replace(tzinfo=None)
    changes_files = [d / "changes.parquet" for d in done if (d / "changes.parquet").exists()]
    if changes_files:  # valid_from must grow from build to build, whatever the clock does
        last = con.execute(f"SELECT max(changed_at) FROM read_parquet({_files(changes_files)})").fetchone()[0]
        if last is not None and now <= last:
            now = last + timedelta(microseconds=1)
    version = f"{now:%Y%m%dT%H%M%S%f}-{run_id}"
    pending = root(state) / (PENDING + version)
    try:
        counts, head = _record(con, done, pending, version, run_id, now)
    except BaseException:
        discard(pending)
        raise
    return (pending if head == version else None), counts, head


def _record(con, done: list[Path], pending: Path, version: str, run_id: str, now: datetime) -> tuple[dict, str | None]:
    """Diff every tracked table, write the changes to `pending`, load the history tables; return the counts and
    the history version the build holds."""
    models.run(con, "core/changes.sql")
    con.execute("CREATE TEMP TABLE _changes AS SELECT * FROM changes WHERE false")
    changes_files = [d / "changes.parquet" for d in done if (d / "changes.parquet").exists()]
    counts, written = {}, []
    for table, keys in TRACKED.items():
        files = [d / f"{table}.parquet" for d in done if (d / f"{table}.parquet").exists()]
        counts[table] = _diff(con, table, keys, files, run_id, now)
        if counts[table]:
            pending.mkdir(parents=True, exist_ok=True)
            written.append(pending / f"{table}.parquet")
            con.execute(f"COPY (SELECT * FROM _versions) TO {_q(written[-1])} {PARQUET}")
        con.execute("DROP VIEW _versions")
        for t in ("_idx", "_diff", "_oldrows", "_cur", "_fields"):
            con.execute(f"DROP TABLE {t}")
    if changes_files:
        con.execute(f"INSERT INTO changes BY NAME SELECT * FROM read_parquet({_files(changes_files)}, union_by_name = true)")
    con.execute("INSERT INTO changes BY NAME SELECT * FROM _changes")
    head = done[-1].name if done else None
    if written:
        written.append(pending / "changes.parquet")
        con.execute(f"COPY _changes TO {_q(written[-1])} {PARQUET}")
        for f in [*written, pending]:
            _fsync(f)
        head = version
    con.execute("DROP TABLE _changes")
    return counts, head


def summary(con: duckdb.DuckDBPyConnection, since: datetime | None = None, source: str | None = None,
            table: str | None = None, examples: int = 3, top_fields: int = 5) -> list[dict]:  # fmt: skip
    """Per run and table: records added / removed / changed, the most changed fields, a few examples."""
    where, params = ["true"], []
    if since is not None:
        where.append("changed_at >= ?")
        params.append(since)
    if source:
        where.append("source = ?")
        params.append(source)
    if table:
        where.append("table_name = ?")
        params.append(table)
    sel = f"(SELECT * FROM changes WHERE {' AND '.join(where)})"
    rows = con.execute(f"""
        SELECT run_id, min(changed_at), table_name, count(*) FILTER (WHERE change = 'added'),
               count(*) FILTER (WHERE change = 'removed'), count(DISTINCT record_key) FILTER (WHERE change = 'changed')
        FROM {sel} GROUP BY run_id, table_name ORDER BY 2, 1, 3
    """, params).fetchall()  # fmt: skip
    fields = con.execute(f"""
        SELECT run_id, table_name, field, count(*) AS n FROM {sel} WHERE change = 'changed'
        GROUP BY run_id, table_name, field
        QUALIFY row_number() OVER (PARTITION BY run_id, table_name ORDER BY n DESC, field) <= ?
        ORDER BY run_id, table_name, n DESC, field
    """, [*params, top_fields]).fetchall()  # fmt: skip
    shown = con.execute(f"""
        SELECT run_id, table_name, change, record_key, field, before, after FROM {sel}
        QUALIFY row_number() OVER (PARTITION BY run_id, table_name, change ORDER BY record_key, field) <= ?
        ORDER BY run_id, table_name, change, record_key, field
    """, [*params, examples]).fetchall()  # fmt: skip
    try:
        sources = dict(con.execute(
            "SELECT run_id, string_agg(source || ' ' || status, ', ' ORDER BY source) FROM runs GROUP BY run_id"
        ).fetchall())  # fmt: skip
    except duckdb.Error:
        sources = {}
    out = []
    for run_id, at, tbl, added, removed, changed in rows:
        out.append({
            "run_id": run_id, "changed_at": at, "table": tbl, "added": added, "removed": removed, "changed": changed,
            "sources": sources.get(run_id, ""),
            "fields": [(f, n) for r, t, f, n in fields if r == run_id and t == tbl],
            "examples": [(c, k, f, b, a) for r, t, c, k, f, b, a in shown if r == run_id and t == tbl],
        })  # fmt: skip
    return out
