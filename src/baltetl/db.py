"""The DuckDB connection a warehouse build writes through."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Rows per row group of the built file.  DuckDB's default (122,880) is larger than most tables here, and one
# row group is scanned by one thread; with smaller groups the build's statements and analysts' queries use
# every core, and a table of more than one group is written straight to the file at commit (no checkpoint).
ROW_GROUP_SIZE = 16_384


def quote(text: str | Path) -> str:
    """A path or text as an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def open_build(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the new file `path`.  Nothing is written to a WAL: a build that
    fails is deleted, a finished one is checkpointed once at the end.  DuckDB spills to `<path>.tmp`."""
    con = duckdb.connect()  # an in-memory instance with the file attached: ATTACH takes the storage options
    con.execute(f"SET temp_directory = {quote(str(path) + '.tmp')}")
    con.execute(f"ATTACH {quote(path)} AS build (ROW_GROUP_SIZE {ROW_GROUP_SIZE}, RECOVERY_MODE no_wal_writes)")
    con.execute("USE build")
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of `con` (for another thread) on the same default database: a new cursor starts on the
    instance's own."""
    db = con.execute("SELECT current_database()").fetchone()[0]
    cur = con.cursor()
    cur.execute(f'USE "{db}"')
    return cur
