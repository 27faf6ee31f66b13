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
committed version of every record, in SQL; the diff compares the fields themselves (no hash, so no
collision can hide a change).  `record_ref` is lineage (it names the landed file, which changes with every
download) and is not compared; every other column is, including the derived ones (metropolis, revisions).

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

# tracked tables and their keys
TRACKED = {
    "projects": ("project_key",),
    "organisations": ("org_key",),
    "participations": ("project_key", "org_key", "role", "ord"),
}
NOT_COMPARED = {"record_ref"}  # lineage, not data
PENDING = ".pending-"

CHANGES_DDL = """
CREATE TABLE changes (
    run_id      VARCHAR NOT NULL,      -- the run whose build recorded the change
    changed_at  TIMESTAMP NOT NULL,    -- when (UTC); = valid_from of the new version
    table_name  VARCHAR NOT NULL,      -- projects | organisations | participations
    record_key  VARCHAR NOT NULL,      -- project_key, org_key, or project_key|org_key|role|ord
    source      VARCHAR,
    change      VARCHAR NOT NULL,      -- added | removed | changed
    field       VARCHAR,               -- changed: the column; NULL for added / removed
    before      VARCHAR,
    after       VARCHAR
);
CREATE TABLE build_info (run_id VARCHAR, built_at TIMESTAMP, history_head VARCHAR);
"""


def root(state) -> Path:
    return Path(state.root) / "history"


def committed(state) -> list[Path]:
    d = root(state)
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")) if d.exists() else []


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


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


def _columns(con, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _key(keys: tuple[str, ...], alias: str = "") -> str:
    cols = [f'{alias}"{k}"::VARCHAR' for k in keys]
    return cols[0] if len(cols) == 1 else f"concat_ws('|', {', '.join(cols)})"


def _previous(con, table: str, cols: dict[str, str], files: list[Path]) -> None:
    """_old: the latest committed version of every record that was not removed since, typed as `table`."""
    if not files:
        sel = ", ".join(f'"{c}"' for c in cols)
        con.execute(f"CREATE TEMP TABLE _old AS SELECT NULL::VARCHAR AS record_key, {sel} FROM {table} WHERE false")
        return
    src = f"read_parquet({_files(files)}, union_by_name = true)"
    have = _columns(con, f"SELECT * FROM {src}")
    sel = ", ".join(f'"{c}"::{t} AS "{c}"' if c in have else f'NULL::{t} AS "{c}"' for c, t in cols.items())
    con.execute(f"""
        CREATE TEMP TABLE _old AS
        SELECT record_key, {sel} FROM (
            SELECT * FROM {src}
            QUALIFY row_number() OVER (PARTITION BY record_key ORDER BY valid_from DESC) = 1
        ) WHERE change <> 'removed'
    """)  # fmt: skip


def _diff(con, table: str, keys: tuple[str, ...], run_id: str, now: datetime) -> int:
    """Diff `table` against _old: append to _changes, create _versions; return the number of records changed."""
    cols = _columns(con, table)
    compared = [c for c in cols if c not in NOT_COMPARED]
    con.execute(f"CREATE TEMP TABLE _new AS SELECT {_key(keys)} AS record_key, * FROM {table}")
    differs = " OR ".join(f'n."{c}" IS DISTINCT FROM o."{c}"' for c in compared)
    con.execute(f"""
        CREATE TEMP TABLE _diff AS
        SELECT coalesce(n.record_key, o.record_key) AS record_key,
               CASE WHEN o.record_key IS NULL THEN 'added' WHEN n.record_key IS NULL THEN 'removed'
                    ELSE 'changed' END AS change
        FROM _new n FULL JOIN _old o ON n.record_key = o.record_key
        WHERE n.record_key IS NULL OR o.record_key IS NULL OR {differs}
    """)  # fmt: skip
    n_changed = con.execute("SELECT count(*) FROM _diff").fetchone()[0]
    params = [run_id, now, table]
    # one row per added / removed record, one per changed field
    con.execute("""
        INSERT INTO _changes
        SELECT ?, ?, ?, d.record_key, coalesce(n.source, o.source), d.change, NULL, NULL, NULL
        FROM _diff d LEFT JOIN _new n ON n.record_key = d.record_key LEFT JOIN _old o ON o.record_key = d.record_key
        WHERE d.change <> 'changed'
    """, params)  # fmt: skip
    fields = ", ".join(
        f"{{'field': '{c}', 'before': o.\"{c}\"::VARCHAR, 'after': n.\"{c}\"::VARCHAR, "
        f"'differs': o.\"{c}\" IS DISTINCT FROM n.\"{c}\"}}"
        for c in compared
    )
    con.execute(f"""
        INSERT INTO _changes
        SELECT ?, ?, ?, record_key, source, 'changed', f.field, f.before, f.after
        FROM (SELECT d.record_key, n.source, unnest([{fields}]) AS f
              FROM _diff d JOIN _new n ON n.record_key = d.record_key JOIN _old o ON o.record_key = d.record_key
              WHERE d.change = 'changed')
        WHERE f.differs
    """, params)  # fmt: skip
    # the versions that begin now: new rows in full, removed ones as tombstones (key columns and source)
    keep = ", ".join(f'o."{c}"' for c in dict.fromkeys((*keys, "source")))
    con.execute(f"""
        CREATE TEMP TABLE _versions AS
        SELECT ?::VARCHAR AS run_id, ?::TIMESTAMP AS valid_from, d.change, n.*
        FROM _diff d JOIN _new n ON n.record_key = d.record_key WHERE d.change <> 'removed'
        UNION ALL BY NAME
        SELECT ?::VARCHAR AS run_id, ?::TIMESTAMP AS valid_from, 'removed' AS change, o.record_key, {keep}
        FROM _diff d JOIN _old o ON o.record_key = d.record_key WHERE d.change = 'removed'
    """, [run_id, now, run_id, now])  # fmt: skip
    return n_changed


def _load_history(con, table: str, keys: tuple[str, ...], cols: dict[str, str], files: list[Path]) -> None:
    """<table>_history: every version with valid_from / valid_to (NULL = current); `table` gets valid_from."""
    parts = [f"SELECT * FROM read_parquet({_files(files)}, union_by_name = true)"] if files else []
    parts.append("SELECT * FROM _versions")
    have = _columns(con, "SELECT * FROM (" + " UNION ALL BY NAME ".join(parts) + ")")
    sel = ", ".join(f'"{c}"::{t} AS "{c}"' if c in have else f'NULL::{t} AS "{c}"' for c, t in cols.items())
    con.execute(f"""
        CREATE TABLE {table}_history AS
        SELECT {sel}, valid_from, valid_to, run_id FROM (
            SELECT *, lead(valid_from) OVER (PARTITION BY record_key ORDER BY valid_from) AS valid_to
            FROM ({" UNION ALL BY NAME ".join(parts)})
        ) WHERE change <> 'removed'
        ORDER BY {", ".join(f'"{k}"' for k in keys)}, valid_from
    """)  # fmt: skip
    con.execute(f"ALTER TABLE {table} ADD COLUMN valid_from TIMESTAMP")
    on = " AND ".join(f'h."{k}" = {table}."{k}"' for k in keys)
    con.execute(f"UPDATE {table} SET valid_from = h.valid_from FROM {table}_history h WHERE h.valid_to IS NULL AND {on}")


def track(con: duckdb.DuckDBPyConnection, state, run_id: str, warehouse: Path) -> tuple[Path | None, dict]:
    """Diff the built core tables against the history; write the changes to a pending folder (commit it with
    `commit` after the swap); load `changes`, `<table>_history` and `build_info` into the build.

    Returns (pending folder or None when nothing changed, {table: records added/removed/changed})."""
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
    con.execute(CHANGES_DDL)
    con.execute("CREATE TEMP TABLE _changes AS SELECT * FROM changes WHERE false")
    counts, versions = {}, {}
    for table, keys in TRACKED.items():
        cols = _columns(con, table)
        files = [d / f"{table}.parquet" for d in done if (d / f"{table}.parquet").exists()]
        _previous(con, table, cols, files)
        counts[table] = _diff(con, table, keys, run_id, now)
        if counts[table]:
            pending.mkdir(parents=True, exist_ok=True)
            versions[table] = pending / f"{table}.parquet"
            con.execute(f"COPY _versions TO {_q(versions[table])} (FORMAT parquet, COMPRESSION zstd)")
        _load_history(con, table, keys, cols, files)
        con.execute("DROP TABLE _old; DROP TABLE _new; DROP TABLE _diff; DROP TABLE _versions")
    if changes_files:
        con.execute(f"INSERT INTO changes BY NAME SELECT * FROM read_parquet({_files(changes_files)}, union_by_name = true)")
    con.execute("INSERT INTO changes BY NAME SELECT * FROM _changes")
    head = done[-1].name if done else None
    if any(counts.values()):
        con.execute(f"COPY _changes TO {_q(pending / 'changes.parquet')} (FORMAT parquet, COMPRESSION zstd)")
        for f in [*versions.values(), pending / "changes.parquet"]:
            _fsync(f)
        _fsync(pending)
        head = version
    else:
        pending = None
    con.execute("DROP TABLE _changes")
    con.execute("INSERT INTO build_info VALUES (?, ?, ?)", [run_id, now, head])
    return pending, counts
