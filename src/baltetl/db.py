"""The DuckDB connection a warehouse build writes through, and who else holds the warehouse file."""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
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


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the tables `con` sees (its TEMP tables too)."""
    return {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """A table's (or a query's: `SELECT ...`) columns and their DuckDB types, in order."""
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of `con` (for another thread) on the same default database: a new cursor starts on the
    instance's own."""
    db = con.execute("SELECT current_database()").fetchone()[0]
    cur = con.cursor()
    cur.execute(f'USE "{db}"')
    return cur


def meanwhile(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], object], name: str) -> Future:
    """work(a cursor of `con`) in a thread named `name`, the cursor closed after: its future.  Wait for it before
    closing `con`."""
    cur = cursor(con)
    fut: Future = Future()
    fut.set_running_or_notify_cancel()

    def run() -> None:
        try:
            fut.set_result(work(cur))
        except BaseException as exc:
            fut.set_exception(exc)
        finally:
            cur.close()

    threading.Thread(target=run, name=name, daemon=True).start()
    return fut


class WarehouseBusy(RuntimeError):
    """Someone holds the warehouse open for writing: the new build is kept beside it, not swapped in."""


def _flock(kind: int) -> bytes:
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 0, 0)  # struct flock: the whole file, l_pid 0


def hold_against_writers(path: Path) -> int | None:
    """An fd holding a read lock on `path` (an open file description lock, F_OFD_SETLK) or None when there is
    no such file; raises WarehouseBusy naming the holder when a process holds it open read-write.

    DuckDB takes an fcntl write lock on its file for a read-write connection and a read lock for a read-only
    one: the read lock taken here conflicts with the first (and, while held, keeps new read-write sessions
    out) but not with analysts' read-only connections.  An OFD lock belongs to this fd alone, but closing any
    fd of a file drops this process's own DuckDB (POSIX) locks on it: close it only once the file is
    replaced.  Without OFD locks (not Linux) nothing is checked: None."""
    if not hasattr(fcntl, "F_OFD_SETLK"):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_RDLCK))
    except OSError:
        pid = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _flock(fcntl.F_RDLCK)))[4]
        if pid != os.getpid():  # (this very process holding it read-write: keep its lock, leave the fd open)
            os.close(fd)
        who = "this process" if pid == os.getpid() else f"pid {pid}" if pid > 0 else "another process"
        raise WarehouseBusy(f"{path} is open read-write by {who}") from None
    return fd


def wait_for_writers(path: Path, wait_s: float, poll_s: float = 0.5) -> int | None:
    """hold_against_writers, retried for up to `wait_s` seconds while a writer holds the file."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return hold_against_writers(path)
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.01)))


def recover_wal(path: Path, log: Callable[[str], None] = print) -> str | None:
    """Move aside a WAL beside `path` that is not its own, so that the file opens again; -> the message (also
    logged), or None when there is nothing to recover.

    DuckDB writes a read-write session's changes to `<file>.wal` and refuses to open a file whose WAL was
    written for another file ("WAL does not match database file"): such a WAL is left by a session that
    held the previous build, open when it was replaced, and died.  A WAL that belongs to the file (a
    session that wrote and did not close) is not touched: it holds that session's writes."""
    wal = Path(str(path) + ".wal")
    if not wal.exists():
        return None
    if path.exists():
        try:
            duckdb.connect(str(path), read_only=True).close()
            return None  # no WAL, or the file's own (replayed in memory, the file unchanged)
        except duckdb.Error as exc:
            if "WAL does not match" not in str(exc):
                return None  # e.g. a writer holds it: its WAL
    aside = wal.with_name(f"{wal.name}.orphan-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}")
    os.replace(wal, aside)
    msg = (f"{wal} did not belong to {path} (left by a read-write session of an earlier build that did not "
           f"close): moved aside to {aside.name}, the warehouse opens again")  # fmt: skip
    log(msg)
    return msg


def analyst_sql(own: str | Path, warehouse: str | Path) -> str:
    """What makes an analyst's own DuckDB file `own` safe to write beside the warehouse: the warehouse
    ATTACHed READ_ONLY as `wh`, its tables found by their plain names, new tables written to `own`."""
    name = Path(own).stem.replace('"', '""').replace("'", "''")
    return f"ATTACH {quote(warehouse)} AS wh (READ_ONLY); SET search_path = '\"{name}\",wh'"


def analyst(own: str | Path, warehouse: str | Path) -> duckdb.DuckDBPyConnection:
    """A connection to the analyst's own file `own` (created if need be) with the warehouse attached read-only
    (analyst_sql).  Like a read-only connection it never holds up a refresh, and it keeps the build it
    attached until it reconnects; what it writes lives in `own` and survives every refresh."""
    con = duckdb.connect(str(own))
    con.execute(analyst_sql(own, warehouse))
    return con
