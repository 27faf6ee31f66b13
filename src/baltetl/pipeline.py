"""The refresh stages as plain functions: land -> parse -> validate + stage -> build warehouse.

The Prefect flow in flows/refresh.py wraps each in a task; tests call them directly.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import progress, quality, warehouse
from .config import Config, resolve_path
from .faults import point
from .geo import norm_place
from .http import Fetcher
from .landing import Landing, now_iso
from .sources import Landed, NoInput, Parsed, SourceContext, load_module
from .state import State

Log = Callable[[str], None]


class RefreshLocked(RuntimeError):
    """Another refresh is writing this warehouse."""


@dataclass
class SourceResult:
    source: str
    status: str  # success | failed | skipped
    message: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    tables: dict = field(default_factory=dict)
    duration_s: float = 0.0


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise): the build that follows
    a large parse then does not add to its peak."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@contextmanager
def refresh_lock(cfg: Config) -> Iterator[None]:
    """Only one refresh writes a warehouse at a time; a second one is refused at once."""
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = cfg.warehouse.with_name(cfg.warehouse.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RefreshLocked(f"another refresh is writing {cfg.warehouse} ({holder}); try again when it ends") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {now_iso()}".encode(), 0)
        warehouse.remove_stale_builds(cfg.warehouse)  # left by a refresh that was killed mid-build
        yield
    finally:
        os.close(fd)  # closing releases the lock


def selected_sources(cfg: Config, names: list[str] | None, sample: bool) -> list[str]:
    if names:
        for n in names:
            cfg.source(n)  # raises with the list of known sources
        return list(names)
    return [n for n, s in cfg.sources.items() if s.sample or not sample]


def fetcher_for(cfg: Config) -> Fetcher:
    return Fetcher(Landing(cfg.landing), cfg.http, {n: s.hosts for n, s in cfg.sources.items()})


def land(cfg: Config, source: str, *, sample: bool = False, input_path: str | None = None,
         fetcher: Fetcher | None = None) -> list[Landed]:  # fmt: skip
    """Put the raw input of a source into the landing folder: an --input file, the sample, or a download."""
    src = cfg.source(source)
    landing = Landing(cfg.landing)
    if input_path:
        p = Path(input_path).expanduser().resolve()
        return [landing.land_file(p, source, "input", f"input:{p}")]
    if sample:
        if not src.sample:
            raise NoInput(f"{source} has no bundled sample")
        p = resolve_path(src.sample, cfg.project_dir)
        return [landing.land_file(p, source, "sample", f"sample:{p.name}")]
    mod = load_module(src)
    return mod.fetch(SourceContext(cfg, src, fetcher or fetcher_for(cfg), progress.report))


def unchanged(cfg: Config, source: str, files: list[Landed]) -> bool:
    """True when the landed files are byte for byte those of the source's current snapshot (a 304, or the
    same checksum): then the source need not be parsed again; its snapshot stays."""
    meta = State(cfg.state).meta(source)
    if not meta or not files:
        return False
    return sorted(f.sha256 for f in files) == sorted(i["sha256"] for i in meta.get("input_files", []))


def keep_unchanged(cfg: Config, run_id: str, source: str, started: float, files: list[Landed]) -> SourceResult:
    """Record a run of a source whose input did not change: its snapshot (and counts) stay as they are."""
    meta = State(cfg.state).meta(source) or {}
    counts = meta.get("counts", {})
    result = SourceResult(source, "unchanged", f"input unchanged since run {meta.get('run_id')}",
                          rows_loaded=sum(counts.values()))  # fmt: skip
    result.duration_s = round(time.time() - started, 3)
    record(cfg, run_id, result, started, [_file_meta(f) for f in files])
    return result


def parse(cfg: Config, source: str, files: list[Landed]) -> Parsed:
    src = cfg.source(source)
    return load_module(src).parse(SourceContext(cfg, src, None, progress.report), files)


def stage(cfg: Config, source: str, parsed: Parsed, files: list[Landed], run_id: str, started: float,
          log: Log = print) -> SourceResult:  # fmt: skip
    """Validate against the source's contract, quarantine failures, save the snapshot, record the run.

    Raises quality.SourceRejected when the source is worse than its tolerance: then nothing of it is
    saved but the quarantine and the failed run, and its previous snapshot stays in use.
    """
    src = cfg.source(source)
    mod = load_module(src)
    state = State(cfg.state)
    contracts = quality.load_contracts(cfg.project_dir / "schemas", src.contract)
    try:
        v = quality.validate(parsed, contracts, tuple(mod.TABLES), src.max_quarantine_share, src.min_rows)
    except quality.SourceRejected as exc:
        bad = getattr(exc, "validated", None)
        if bad is not None:
            state.save_quarantine(run_id, source, _tag(bad.quarantine, run_id, source))
            exc.reports = bad.reports
        raise
    if any(not f.origin.startswith(("input:", "sample:")) for f in files):
        _drift_guard(src, state, v)
    for df in v.tables.values():
        if "city" in df.columns:
            df["city_norm"] = df["city"].map(lambda c: norm_place(c) if isinstance(c, str) else None)
    state.save_quarantine(run_id, source, _tag(v.quarantine, run_id, source))
    inputs = [_file_meta(f) for f in files]
    counts = {t: r.loaded for t, r in v.reports.items()}
    state.save_snapshot(source, run_id, v.tables, {"run_id": run_id, "source": source, "input_files": inputs,
                                                   "counts": counts, "saved_at": now_iso()})  # fmt: skip
    result = _result(source, "success", "", v.reports, started)
    record(cfg, run_id, result, started, inputs)
    for t, r in v.reports.items():
        log(f"{source}.{t}: read {r.read}, loaded {r.loaded}, quarantined {r.quarantined}"
            + (f", repaired {r.repaired}" if r.repaired else ""))  # fmt: skip
    return result


def _result(source: str, status: str, message: str, reports: dict, started: float, loaded: bool = True) -> SourceResult:
    """A source's result with its per-table counts; a failed source loaded nothing, whatever it read."""
    return SourceResult(
        source, status, message,
        rows_read=sum(r.read for r in reports.values()),
        rows_loaded=sum(r.loaded for r in reports.values()) if loaded else 0,
        rows_quarantined=sum(r.quarantined for r in reports.values()),
        tables={t: vars(r) for t, r in reports.items()},
        duration_s=round(time.time() - started, 3),
    )  # fmt: skip


def _drift_guard(src, state: State, v: quality.Validated) -> None:
    """A fetch that yields far fewer rows than the last good one is taken for a changed page or API."""
    previous = (state.meta(src.name) or {}).get("counts", {})
    floor = 1.0 - float(src.options.get("max_drop_share", 0.5))
    problems = [
        f"{t}: {r.loaded} rows, the last good run had {previous[t]}"
        for t, r in v.reports.items()
        if previous.get(t) and r.loaded < previous[t] * floor
    ]
    if problems:
        err = quality.SourceRejected(
            "far fewer rows than last time — has the source changed its structure? " + "; ".join(problems)
        )
        err.reports = v.reports
        raise err


def _tag(q: pd.DataFrame, run_id: str, source: str) -> pd.DataFrame:
    q = q.copy()
    q.insert(0, "source", source)
    q.insert(0, "run_id", run_id)
    return q


def _file_meta(f: Landed) -> dict:
    return {"file_name": f.path.name, "sha256": f.sha256, "bytes": f.size, "origin": f.origin,
            "fetched_at": f.fetched_at, "not_modified": f.not_modified}  # fmt: skip


def record(cfg: Config, run_id: str, result: SourceResult, started: float, inputs: list[dict] | None = None) -> None:
    State(cfg.state).record_run({
        "run_id": run_id, "source": result.source, "status": result.status,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(), "finished_at": now_iso(),
        "duration_s": round(time.time() - started, 3), "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded, "rows_quarantined": result.rows_quarantined,
        "tables": result.tables, "input_files": inputs or [], "message": result.message,
    })  # fmt: skip


def fail(cfg: Config, run_id: str, source: str, started: float, exc: BaseException) -> SourceResult:
    """Record a failed source (or a skipped one: NoInput); its last good snapshot stays in use."""
    status = "skipped" if isinstance(exc, NoInput) else "failed"
    reports = getattr(exc, "reports", None) or {}
    result = _result(source, status, f"{type(exc).__name__}: {exc}", reports, started, loaded=False)
    record(cfg, run_id, result, started)
    return result


def refresh_source(cfg: Config, source: str, run_id: str, *, sample: bool = False, input_path: str | None = None,
                   steps=None, log=None) -> SourceResult:  # fmt: skip
    """One source's refresh: land, then (unless the input is unchanged) parse and stage; a failure is recorded
    and the source's last good data stays.  `steps` = (land, parse, stage) callables — the flow passes its
    Prefect tasks, called as land(cfg, source, sample, input_path), parse(cfg, source, files),
    stage(cfg, source, parsed, files, run_id, started); by default the plain functions of this module."""
    land_, parse_, stage_ = steps or (
        lambda c, n, s, i: land(c, n, sample=s, input_path=i),
        parse,
        lambda c, n, p, f, r, t: stage(c, n, p, f, r, t, log=lambda m: None),
    )
    log = log or (lambda level, msg: None)
    started = time.time()
    try:
        files = land_(cfg, source, sample, input_path)
        point("source.landed")
        if unchanged(cfg, source, files):  # a 304 or the same bytes: nothing to parse
            log("info", f"{source}: input unchanged, its data stays as loaded")
            return keep_unchanged(cfg, run_id, source, started, files)
        parsed = parse_(cfg, source, files)
        result = stage_(cfg, source, parsed, files, run_id, started)
        del parsed  # the staged tables are in the snapshot now; free them before the next source
        release_memory()
        return result
    except Exception as exc:  # the source fails alone; its last good data stays
        result = fail(cfg, run_id, source, started, exc)
        if result.status == "skipped":
            log("warning", f"{source} skipped: {exc}")
        else:
            log("error", f"{source} failed, keeping its last good data: {type(exc).__name__}: {exc}")
        return result


def run_status(results: list[SourceResult]) -> tuple[str, list[str]]:
    """A run's status and, when not a success, why: each failed source with its message.  success: no
    source failed; partial: some failed (they keep their last good data) while the others refreshed;
    failed: every source that ran failed.  Skipped and unchanged sources do not make a run partial."""
    failed = [r for r in results if r.status == "failed"]
    ran = [r for r in results if r.status != "skipped"]
    status = "success" if not failed else ("failed" if len(failed) == len(ran) else "partial")
    return status, [f"{r.source}: {r.message}" for r in failed]


def refresh(cfg: Config, names: list[str], *, sample: bool = False, input_path: str | None = None,
            steps=None, build_step=None, log=None) -> dict:  # fmt: skip
    """A whole refresh run: under the refresh lock each source in turn (refresh_source), then the warehouse
    build; -> the run's summary (status, reasons, per-source results, counts).  The flow passes its Prefect
    tasks as `steps` and `build_step` (called build_step(cfg, run_id)); by default the plain functions."""
    log = log or (lambda level, msg: None)
    build_step = build_step or (lambda c, r: build(c, r, log=lambda m: None))
    run_id = new_run_id()
    results = []
    with refresh_lock(cfg):
        log("info", f"run {run_id}: sources {', '.join(names)} -> {cfg.warehouse}")
        for name in names:
            results.append(refresh_source(cfg, name, run_id, sample=sample, input_path=input_path, steps=steps, log=log))
        counts = build_step(cfg, run_id)
    status, reasons = run_status(results)
    if reasons:
        log("warning", f"run {run_id} is {status}: " + "; ".join(reasons))
    return {
        "run_id": run_id,
        "status": status,
        "reasons": reasons,
        "warehouse": str(cfg.warehouse),
        "sources": [vars(r) for r in results],
        "counts": counts,
    }


def build(cfg: Config, run_id: str, log: Log = print) -> dict:
    counts = warehouse.build(cfg, State(cfg.state), run_id, log)
    log(f"warehouse {cfg.warehouse}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
