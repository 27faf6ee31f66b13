"""Named points in the refresh where crash tests stop this process (tests/pipeline/test_crash.py).

    BALTETL_KILL_AT=<point>[:<nth>]   SIGKILL at the nth time the point is passed (default the first)
    BALTETL_STOP_AT=<point>[:<nth>]   SIGSTOP there instead (the test continues it with SIGCONT)

Unset, a point costs two dictionary look-ups.  The points are listed in POINTS.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "landing.data",        # a landed file is in place, its sidecar not yet
    "landing.sidecar",     # the sidecar too
    "source.landed",       # a source's input is landed, not parsed
    "parquet.tmp",         # a Parquet file written beside its place, not yet renamed into it
    "snapshot.table",      # one table of a snapshot saved, the next not yet
    "snapshot.meta",       # the snapshot's tables and meta.json saved, CURRENT not yet moved
    "snapshot.current",    # CURRENT points to the new snapshot, old ones not yet pruned
    "run.recorded",        # a source's runs JSON written
    "build.open",          # the new warehouse file created beside the old one
    "build.staged",        # schema, geography and staged tables in the new file
    "build.core",          # core tables built
    "resolve.registry",    # the resolution registry written, its history not yet
    "build.resolved",      # golden organisations and revisions done
    "build.marts",         # marts built, not yet checkpointed
    "build.closed",        # the new file complete and closed, not yet swapped in
    "swap.before",         # fsynced, just before the rename
    "swap.after",          # just after the rename, the folder not yet fsynced
    "build.done",          # swapped in
)

_passed: dict[str, int] = {}


def point(name: str) -> None:
    kill, stop = os.environ.get("BALTETL_KILL_AT"), os.environ.get("BALTETL_STOP_AT")
    if not (kill or stop):
        return
    n = _passed[name] = _passed.get(name, 0) + 1
    for spec, sig in ((kill, signal.SIGKILL), (stop, signal.SIGSTOP)):
        where, _, nth = (spec or "").partition(":")
        if where == name and n == int(nth or 1):
            os.kill(os.getpid(), sig)
