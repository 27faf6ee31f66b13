"""Processes: whether the one that wrote something is still alive, and children that die with their parent.

A refresh killed with SIGKILL (the OOM killer kills only the largest process) cannot clean up after itself:
its temporary Prefect API and its parse workers are told by the kernel (Linux: PR_SET_PDEATHSIG), and what
it left on disk is recognised by its pid at the next start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal
from collections.abc import Iterable
from pathlib import Path

PR_SET_PDEATHSIG = 1

try:  # looked up before any fork: a preexec_fn runs between fork and exec, where little is safe
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    _prctl = _libc.prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22): a pid and its start
    time name one process, even after the pid is reused; None when there is no such process (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def alive(pid: int, started: str | None = None) -> bool:
    """Process `pid` is running (and is the one that started at `started`, when given)."""
    if pid <= 0:
        return False
    if os.path.isdir("/proc"):
        now = start_time(pid)
        return now is not None and (started is None or now == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_parent(parent: int | None = None, sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux; elsewhere nothing).  Called
    in the child: a Popen preexec_fn, a process pool's initializer.  `parent`: the parent's pid, to catch a
    parent that died before this call."""
    if _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)


def remove_orphans(paths: Iterable[Path], name: re.Pattern) -> list[Path]:
    """Delete the files among `paths` whose name matches `name` (its first group: the writer's pid) and whose
    writer is no longer running: what a killed process left half-written.  -> the files removed."""
    gone = []
    for p in paths:
        m = name.fullmatch(p.name)
        if m and p.is_file() and not alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone
