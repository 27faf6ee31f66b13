"""Run-time tuning of a refresh, apart from what the refresh does (pipeline.py, flows/refresh.py).

None of it changes a result; each part saves time or memory:
  tuned()          the garbage collector tuned for a run (batch_gc); switched on by every run (pipeline.Run)
  release_memory   freed heap handed back to the OS after a source is staged
  landed cache     a local file the CLI landed a moment ago is taken by the flow's land step, not landed again
  read-ahead       the CLI parses local inputs in a thread while Prefect starts; the flow's parse takes them
  TemporaryAPI     the temporary local Prefect API, started by the CLI as its first act
The CLI switches on the last three for one run with `for_cli` (see cli refresh).
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING

from .procs import die_with_parent

if TYPE_CHECKING:
    from pathlib import Path

    from .config import Config
    from .types import Landed, Parsed


# -- memory and the garbage collector ------------------------------------------------------------------------

_tuned = 0  # how many tuned() are open in this process (the CLI's and its run's)


GC_THRESHOLDS = (50_000, 20, 20)  # the collector's thresholds in a run (tuned) and in its temporary API


@contextmanager
def tuned() -> Iterator[None]:
    """Python's cyclic garbage collector tuned for a run: a parse makes millions of row tuples that live to
    the end, and with the default thresholds (700, 10, 10) the collector scans them again ~1,700 times
    (2 s of a CORDIS refresh).  Everything already alive (modules, Prefect) is frozen out of its scans, at
    every entry: the CLI's comes before Prefect is imported, its run's after (unfrozen, Prefect's objects made
    each full collection of the run ~0.1 s longer); cycles are still collected, every 50,000 allocations.
    Restored when the outermost one ends."""
    global _tuned
    before = gc.get_threshold()
    gc.freeze()
    if not _tuned:
        gc.set_threshold(*GC_THRESHOLDS)
    _tuned += 1
    try:
        yield
    finally:
        _tuned -= 1
        if not _tuned:
            gc.set_threshold(*before)
            gc.unfreeze()


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise): the build that follows
    a large parse then does not add to its peak."""
    import ctypes

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


# -- the landed cache -------------------------------------------------------------------------------------------

# local files this process landed and nobody took yet: the CLI lands its inputs before the flow starts (to see
# whether anything changed, and to parse them ahead); the flow's land step takes them instead of landing again
_landed_here: dict[tuple, tuple[tuple, float, Landed]] = {}
LANDED_HERE_S = 300  # "a moment ago": the flow starts seconds after the CLI landed its inputs


def landed_file(cfg: Config, source: str, path: Path, land) -> Landed:
    """`land()` -> the landing of the local file or folder `path`; a file this process landed a moment ago,
    unchanged since, is taken once as it was landed (a folder is always landed again: its own time stamp
    does not tell a changed file)."""
    key = (str(cfg.landing), source, str(path))
    st = path.stat() if path.is_file() else None
    sig = (st.st_size, st.st_mtime_ns) if st else None
    hit = _landed_here.pop(key, None)
    if (sig is not None and hit is not None and hit[0] == sig and time.monotonic() - hit[1] < LANDED_HERE_S
            and hit[2].path.exists()):  # fmt: skip
        return hit[2]
    landed = land()
    if sig is not None:
        _landed_here[key] = (sig, time.monotonic(), landed)
    return landed


# -- the read-ahead ---------------------------------------------------------------------------------------------

_read_ahead: dict[tuple, Future] = {}


def _ahead_key(cfg: Config, source: str, files: list[Landed]) -> tuple:
    return str(cfg.warehouse), source, tuple(sorted(f.sha256 for f in files))


def read_ahead(cfg: Config, landed: dict[str, list[Landed]]) -> None:
    """Start parsing landed local inputs in a background thread, one source after the other, while the CLI
    starts Prefect (imports, the flow run, a temporary API: seconds of one idle core).  The flow's parse of
    the same files takes the result (`parsed_ahead`).  Sources whose input is unchanged are not parsed (the
    flow keeps their data)."""
    from .pipeline import parse_now, unchanged

    todo = {n: fs for n, fs in landed.items() if fs and not unchanged(cfg, n, fs)}
    futures = {n: Future() for n in todo}

    def run() -> None:
        for name, fs in todo.items():
            fut = futures[name]
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(parse_now(cfg, name, fs))
            except BaseException as exc:  # handed to the flow's parse
                fut.set_exception(exc)

    for name, fs in todo.items():
        _read_ahead[_ahead_key(cfg, name, fs)] = futures[name]
    threading.Thread(target=run, name="read-ahead", daemon=True).start()


def parsed_ahead(cfg: Config, source: str, files: list[Landed]) -> Future[Parsed] | None:
    """The read-ahead of these files (taken: once), or None."""
    return _read_ahead.pop(_ahead_key(cfg, source, files), None)


def read_ahead_error(cfg: Config, landed: dict[str, list[Landed]], wait: bool = True) -> BaseException | None:
    """The error of the first read-ahead of `landed` that failed, else None.  wait: for every parse to end
    (else only those already ended count)."""
    for name, fs in landed.items():
        fut = _read_ahead.get(_ahead_key(cfg, name, fs))
        if fut is None or fut.cancelled() or not (wait or fut.done()):
            continue
        if fut.exception() is not None:
            return fut.exception()
    return None


def drop_read_ahead() -> None:
    """Forget read-aheads the flow did not take (a parse under way finishes on its own)."""
    for fut in _read_ahead.values():
        fut.cancel()
    _read_ahead.clear()


# -- the temporary Prefect API ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, proc: subprocess.Popen, timeout: float, poll: float = 0.05) -> bool:
    """Wait until the Prefect API at `url` (served by `proc`) answers its health check: True; False when the
    process ends or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(poll)
    return False


class TemporaryAPI:
    """The server Prefect itself starts when no API is configured (`prefect.server.api.server`'s
    SubprocessASGIServer): the API and the services that record runs (task runs, events), no UI or
    maintenance loops, served by uvicorn on a free port.  Started here rather than by Prefect so that it comes
    up while the CLI works.  It lives as long as one run, so it runs no automations (their triggers and
    actions) and streams no events out (nobody subscribes): ENV."""

    ENV = {"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1", "PREFECT_UI_ENABLED": "0",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
           "PREFECT_API_EVENTS_STREAM_OUT_ENABLED": "false"}  # fmt: skip
    # `python -m uvicorn` with a run's collector thresholds: importing the server makes many objects that live
    # on, and the default thresholds scan them again and again (~0.4 s of its ~3 s start, beside the parse)
    SERVE = (f"import gc, runpy, sys; gc.set_threshold{GC_THRESHOLDS}; sys.argv[0] = 'uvicorn'; "
             "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)")

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {**os.environ, **self.ENV}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.SERVE, "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            preexec_fn=partial(die_with_parent, os.getpid()),  # killed with the CLI (kill -9, OOM): not left listening
        )  # fmt: skip

    def wait(self, timeout: float = 60.0) -> bool:
        """True once the API answers its health check; False if it died or timed out (then it is stopped)."""
        if healthy(self.url, self.proc, timeout):
            return True
        self.stop(wait=10)
        return False

    def stop(self, wait: float = 0.0) -> None:
        """Ask the server to shut down; it finishes on its own (wait > 0: wait that long, then kill)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if wait > 0:
                try:
                    self.proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


def start_if_needed() -> TemporaryAPI | None:
    """Start a temporary API unless PREFECT_API_URL is set (or BALTETL_PREFECT_TEMP_API=0).  It is started
    before Prefect is imported (a second and more while a read-ahead runs): pass it to `unless_profile_api` after."""
    if os.environ.get("PREFECT_API_URL") or os.environ.get("BALTETL_PREFECT_TEMP_API", "1") == "0":
        return None
    return TemporaryAPI()


def unless_profile_api(api: TemporaryAPI | None) -> TemporaryAPI | None:
    """`api`, or None (it is stopped) when the active Prefect profile names an API: that one is used."""
    if api is None:
        return None
    try:
        from prefect.settings import get_current_settings

        if not get_current_settings().api.url:
            return api
    except Exception:  # pragma: no cover - let Prefect decide later
        pass
    api.stop()
    return None


def drain_prefect(timeout: float = 10.0) -> None:
    """Flush Prefect's log and event workers (they would otherwise retry against a stopped API at exit)."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            worker.drain_all(timeout=timeout)
    except Exception:  # pragma: no cover - best effort; the run's result is already known
        pass


# -- switched on for a CLI refresh ------------------------------------------------------------------------------


class ForCli:
    """What runs beside a CLI refresh: `flow` (loaded while the API starts and the inputs are read ahead),
    `api` (the temporary API, or None: a configured one, or Prefect's own if it did not come up)."""

    def __init__(self, cfg: Config, landed: dict[str, list[Landed]], flow, api: TemporaryAPI | None) -> None:
        self.cfg, self.landed, self.flow, self.api = cfg, landed, flow, api

    def read_ahead_error(self) -> BaseException | None:
        """The error a read-ahead found, before the flow starts.  With a temporary API ready, a parse still
        running is not waited for: the flow starts beside it, and an error it finds later (a cut-off end)
        fails the source in the run instead."""
        return read_ahead_error(self.cfg, self.landed, wait=self.api is None) if self.landed else None


@contextmanager
def for_cli(cfg: Config, landed: dict[str, list[Landed]], load_flow) -> Iterator[ForCli]:
    """Switch on the run-time tuning for one CLI refresh: the tuned collector; a temporary Prefect API started
    first (unless one is configured), so that it comes up while the landed local inputs are parsed ahead
    and `load_flow()` imports the flow; Prefect pointed at that API.  Afterwards what Prefect still holds is
    sent, the API stopped and read-aheads the flow did not take are dropped."""
    with tuned():
        api = start_if_needed()
        if landed:
            read_ahead(cfg, landed)
        api = unless_profile_api(api)
        try:
            flow = load_flow()
            from . import quality  # noqa: F401  (pandera, for the stage's validation: imported while the API starts)

            settings = None
            if api is not None:
                from prefect.settings import temporary_settings

                if api.wait():
                    # a temporary API dies with this run: nobody would watch heartbeats (they cost ~1 s at the end)
                    settings = temporary_settings(updates={"api.url": api.url, "flows.heartbeat_frequency": None})
                else:
                    api = None  # Prefect starts its own
            with settings if settings is not None else nullcontext():
                yield ForCli(cfg, landed, flow, api)
        finally:
            drop_read_ahead()
            if api is not None:
                drain_prefect()  # send what Prefect still holds (logs, events) while its API is up
                api.stop()
