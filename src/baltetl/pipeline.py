"""The refresh stages as plain functions: land -> parse -> validate + stage -> build warehouse, and a run's
bookkeeping around them (Run: the lock and the run's record; SourceStep: one source's outcome).

The Prefect flow in flows/refresh.py calls them in that order, each as a task; `refresh` here runs the same
steps without Prefect, and tests call each directly.  How the process is tuned for a run (the garbage
collector, memory, the read-ahead, the temporary Prefect API) is runtime.py's.
"""

from __future__ import annotations

import fcntl
import glob
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import buildinfo, progress, report, runtime
from .config import Config, resolve_path
from .faults import point
from .http import Fetcher
from .landing import Landing, now_iso
from .sources import load_module
from .types import Landed, NoInput, Parsed, SourceContext, StructureChanged
from .state import State

if TYPE_CHECKING:  # pandas, the contracts and the warehouse are imported where used: a refresh that changes
    import pandas as pd  # nothing needs none of them

    from . import quality

Log = Callable[[str], None]


KEEPS_DATA = ("unchanged", "skipped")  # run statuses that leave a source's data as it was


class RefreshLocked(RuntimeError):
    """Another refresh is writing this warehouse."""


@dataclass
class SourceResult:
    source: str
    status: str  # success | unchanged | failed | skipped
    message: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    tables: dict = field(default_factory=dict)
    duration_s: float = 0.0


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


# lock files this process holds for a whole run (the CLI, from its first step to its last): the flow it runs
# takes the lock as held; a flow run started elsewhere (a deployment) takes it itself
_whole_run: set[str] = set()


@contextmanager
def refresh_lock(cfg: Config, whole_run: bool = False) -> Iterator[None]:
    """Only one refresh writes a warehouse at a time; a second one is refused at once.  whole_run: held for
    the whole run by its process (the CLI), and taken as held by the refresh it then runs in-process."""
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = cfg.warehouse.with_name(cfg.warehouse.name + ".lock")
    if str(path) in _whole_run:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RefreshLocked(f"another refresh is writing {cfg.warehouse} ({holder}); try again when it ends") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {now_iso()}".encode(), 0)
        remove_stale_builds(cfg.warehouse)  # left by a refresh that was killed mid-build
        State(cfg.state).remove_leftovers()  # and its half-written state files and snapshots
        if whole_run:
            _whole_run.add(str(path))
        yield
    finally:
        if whole_run:
            _whole_run.discard(str(path))
        os.close(fd)  # closing releases the lock


def remove_stale_builds(target: Path) -> list[str]:
    """Delete the half-built files a crashed build left beside the warehouse (`<name>.building-<run>`, its
    .wal and its spill folder .tmp).  Only with the refresh lock held: then no build is running."""
    gone = []
    for p in target.parent.glob(glob.escape(target.name) + ".building-*"):
        if p.is_dir():  # DuckDB's spill folder (<build>.tmp)
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        gone.append(p.name)
    return sorted(gone)


def selected_sources(cfg: Config, names: list[str] | None, sample: bool) -> list[str]:
    if names:
        for n in names:
            cfg.source(n)  # raises with the list of known sources
        return list(names)
    return [n for n, s in cfg.sources.items() if s.sample or not sample]


def fetcher_for(cfg: Config) -> Fetcher:
    return Fetcher(Landing(cfg.landing), cfg.http, {n: s.hosts for n, s in cfg.sources.items()},
                   limits={n: s.http for n, s in cfg.sources.items() if s.http is not None})  # fmt: skip


def land(cfg: Config, source: str, *, sample: bool = False, input_path: str | None = None,
         fetcher: Fetcher | None = None) -> list[Landed]:  # fmt: skip
    """Put the raw input of a source into the landing folder: an --input file, the sample, or a download."""
    src = cfg.source(source)
    if input_path:
        p = Path(input_path).expanduser().resolve()
        return [_land_local(cfg, source, p, "input", f"input:{p}")]
    if sample:
        if not src.sample:
            raise NoInput(f"{source} has no bundled sample")
        p = resolve_path(src.sample, cfg.project_dir)
        return [_land_local(cfg, source, p, "sample", f"sample:{p.name}")]
    mod = load_module(src)
    return mod.fetch(SourceContext(cfg, src, fetcher or fetcher_for(cfg), progress.report))


def _land_local(cfg: Config, source: str, path: Path, name: str, origin: str) -> Landed:
    """Land a local file or folder (the CLI's landing of a moment ago, if it made one: runtime.landed_file)."""
    return runtime.landed_file(cfg, source, path, lambda: Landing(cfg.landing).land_file(path, source, name, origin))


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


def parse(cfg: Config, source: str, files: list[Landed], log: Log | None = None) -> Parsed:
    """The source's parser on its landed files (the result of a read-ahead of the same files, if one ran)."""
    progress.step(source, "parsing")
    ahead = runtime.parsed_ahead(cfg, source, files)
    if ahead is not None:
        if log:
            log(f"{source}: parsed ahead, while Prefect started")
        return ahead.result()  # its error, if it failed: the same parser on the same bytes
    return parse_now(cfg, source, files)


def parse_now(cfg: Config, source: str, files: list[Landed]) -> Parsed:
    from .archive import ArchiveError

    src = cfg.source(source)
    try:
        return load_module(src).parse(SourceContext(cfg, src, None, progress.report), files)
    except (ArchiveError, StructureChanged) as exc:  # name the file as the user knows it: the landed copy is <name>-<sha256>
        msg = str(exc)
        for f in files:
            user = f.origin.removeprefix("input:")
            if msg.startswith(f.path.name):
                msg = f"{user} (landed as {f.path.name}){msg[len(f.path.name):].replace(f.path.name, user)}"
            else:
                msg = msg.replace(f.path.name, user)
        raise type(exc)(msg) from exc


def stage(cfg: Config, source: str, parsed: Parsed, files: list[Landed], run_id: str, started: float,
          log: Log = print, accept_shrink: bool = False) -> SourceResult:  # fmt: skip
    """Validate against the source's contract, quarantine failures, save the snapshot, record the run.

    Raises quality.SourceRejected when the source is worse than its tolerance, or has far fewer rows than
    its last good data (whatever the origin; unless accept_shrink): then nothing of it is saved but the
    quarantine and the failed run, and its previous snapshot stays in use.  `parsed` is used up: emptied
    afterwards, whatever the outcome.
    """
    progress.step(source, "validating and staging")
    try:
        result = _stage(cfg, source, parsed, files, run_id, started, log, accept_shrink)
        progress.step(source, f"loaded: {result.rows_loaded} rows, {result.rows_quarantined} held back")
        return result
    finally:
        # the staged tables are in the snapshot now: free them before the build and the next source.
        # Emptied, not just dropped: Prefect keeps every task's arguments and result until the flow ends
        parsed.tables.clear()
        parsed.rejects.clear()
        runtime.release_memory()


def _stage(cfg: Config, source: str, parsed: Parsed, files: list[Landed], run_id: str, started: float, log: Log,
           accept_shrink: bool) -> SourceResult:  # fmt: skip
    import numpy as np
    import pandas as pd

    from . import quality
    from .normalise import norm_place

    src = cfg.source(source)
    state = State(cfg.state)
    contracts = quality.load_contracts(cfg.project_dir / "schemas", src.contract, src.contract_file)
    try:
        v = quality.validate(parsed, contracts, src.tables, src.max_quarantine_share, src.min_rows, src.max_rows)
    except quality.SourceRejected as exc:
        bad = getattr(exc, "validated", None)
        if bad is not None:
            state.save_quarantine(run_id, source, _tag(bad.quarantine, run_id, source))
            exc.reports = bad.reports
        raise
    if not accept_shrink:
        _drift_guard(src, state, v)
    for df in v.tables.values():
        if "city" in df.columns:  # each city written once (a row at a time took ~0.17 s of a CORDIS staging)
            codes, cities = pd.factorize(df["city"])  # (a missing one: -1, the None at the end)
            normed = np.array([norm_place(c) if isinstance(c, str) else None for c in cities] + [None], dtype=object)
            df["city_norm"] = pd.Series(normed[codes], index=df.index, dtype="str")
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
    """An input (fetched, --input or --sample) that yields far fewer rows than the last good one is taken for
    a changed page or API, or a cut download: refused unless the shrink is accepted (--accept-shrink)."""
    from . import quality

    previous = (state.meta(src.name) or {}).get("counts", {})
    share = src.max_drop_share
    floor = 1.0 - share
    problems = [
        f"{t}: {r.loaded} rows, the last good run had {previous[t]}"
        for t, r in v.reports.items()
        if previous.get(t) and r.loaded < previous[t] * floor
    ]
    if problems:
        err = quality.SourceRejected(
            "far fewer rows than last time — has the source changed its structure, or is the input cut short? "
            + "; ".join(problems) + f" (more than max_drop_share = {share:g} fewer; "
            "if the source really shrank, refresh with --accept-shrink)"
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


class SourceStep:
    """One source's part of a run, as a `with` block around its land, parse and stage: it says what the source
    is doing, records an input that did not change (`changed`) and what stage returns (`loaded`), and records,
    logs and swallows a failure: the source keeps its last good data and the run goes on.  -> .result"""

    def __init__(self, cfg: Config, run_id: str, source: str, *, sample: bool = False, input_path: str | None = None,
                 log=None, started: float | None = None, into: list | None = None) -> None:  # fmt: skip
        self.cfg, self.run_id, self.source = cfg, run_id, source
        self.into = into  # the run's results, which this one's joins
        self.sample, self.input_path = sample, input_path
        self.log = log or _quiet
        self.started = started or time.time()
        self.result: SourceResult | None = None

    def __enter__(self) -> SourceStep:
        what = "reading its --input" if self.input_path else "reading its sample" if self.sample else "fetching"
        progress.step(self.source, what)
        return self

    def changed(self, files: list[Landed]) -> bool:
        """False when the landed files are those of the source's snapshot (a 304 or the same bytes): the run
        of the source is recorded `unchanged`, its data stays as loaded, nothing needs parsing."""
        point("source.landed")
        if not unchanged(self.cfg, self.source, files):
            return True
        self.log("info", f"{self.source}: input unchanged, its data stays as loaded")
        progress.step(self.source, "unchanged: its data stays as loaded")
        self.result = keep_unchanged(self.cfg, self.run_id, self.source, self.started, files)
        return False

    def loaded(self, result: SourceResult) -> None:
        self.result = result

    def __exit__(self, typ, exc, tb) -> bool:
        failed = isinstance(exc, Exception)  # else done, or interrupted (KeyboardInterrupt: the run ends)
        if failed:
            self.result = fail(self.cfg, self.run_id, self.source, self.started, exc)
            if self.result.status == "skipped":
                self.log("warning", f"{self.source} skipped: {exc}")
            else:
                self.log("error", f"{self.source} failed, keeping its last good data: {type(exc).__name__}: {exc}")
            progress.step(self.source, f"{self.result.status}: {exc}")
        if self.into is not None and self.result is not None:
            self.into.append(self.result)
        return failed


def _quiet(*args) -> None:
    pass


def refresh_source(cfg: Config, source: str, run_id: str, *, sample: bool = False, input_path: str | None = None,
                   log=None, started: float | None = None, accept_shrink: bool = False) -> SourceResult:  # fmt: skip
    """One source's refresh with the plain functions (the flow runs the same steps as Prefect tasks): land,
    then (unless the input is unchanged) parse and stage; a failure is recorded and the source's last good
    data stays.  started: when the source's refresh began (default: now).  accept_shrink: load the source
    even with far fewer rows than its last good data (see _drift_guard)."""
    with SourceStep(cfg, run_id, source, sample=sample, input_path=input_path, log=log, started=started) as step:
        files = land(cfg, source, sample=sample, input_path=input_path)
        if step.changed(files):
            parsed = parse(cfg, source, files)
            step.loaded(stage(cfg, source, parsed, files, run_id, step.started, log=_quiet, accept_shrink=accept_shrink))
    return step.result


class Run:
    """A refresh run, as a `with` block: it holds the refresh lock, tunes the process for the run
    (runtime.tuned) and records the run in the state: started on entry, `finish`ed with the build, or failed
    (interrupted) when the block raises.  .id, .results (each source's, in order; a SourceStep's result)."""

    def __init__(self, cfg: Config, names: list[str], log=None) -> None:
        self.cfg, self.names = cfg, names
        self.log = log or _quiet  # log(level, message)
        self.id = new_run_id()
        self.results: list[SourceResult] = []
        self.started = time.time()  # the run's fetches start at once: their time runs from here (reset on entry)
        self._held = ExitStack()

    def __enter__(self) -> Run:
        with ExitStack() as held:
            held.enter_context(refresh_lock(self.cfg))
            held.enter_context(runtime.tuned())
            self.state = State(self.cfg.state)
            self.state.start_run(self.id, self.names)  # a run killed from here on shows as interrupted
            self._held = held.pop_all()
        self.started = time.time()
        self.log("info", f"run {self.id}: sources {', '.join(self.names)} -> {self.cfg.warehouse}")
        return self

    def source(self, name: str, **kw) -> SourceStep:
        """The `with` block of one source (SourceStep); its result joins .results."""
        return SourceStep(self.cfg, self.id, name, log=self.log, into=self.results, **kw)

    def finish(self, built: dict) -> dict:
        """The run's summary from the build's outcome (build_run), recorded as the run's end."""
        out = summary(self.cfg, self.id, self.results, built["counts"], built["notes"])
        if built["busy"]:
            out.update(status="failed", busy=built["busy"])
        self.state.finish_run(self.id, out["status"], built["busy"] or "; ".join(out["reasons"]), built=not built["busy"])
        self._finished = True
        if out["reasons"]:
            self.log("warning", f"run {self.id} is {out['status']}: " + "; ".join(out["reasons"]))
        return out

    def __exit__(self, typ, exc, tb) -> bool:
        with self._held:
            if exc is not None and not getattr(self, "_finished", False):
                self.state.finish_run(self.id, "failed" if isinstance(exc, Exception) else "interrupted",
                                      f"{type(exc).__name__}: {exc}", built=False)  # fmt: skip
        return False


def run_status(results: list[SourceResult]) -> tuple[str, list[str]]:
    """A run's status (report.run_status: success, partial when some source failed while others refreshed,
    failed when every source that ran failed; skipped and unchanged sources do not make a run partial) and,
    when not a success, why: each failed source with its message."""
    failed = [r for r in results if r.status == "failed"]
    return report.run_status([r.status for r in results]), [f"{r.source}: {r.message}" for r in failed]


def refresh(cfg: Config, names: list[str], *, sample: bool = False, input_path: str | None = None,
            log=None, accept_shrink: bool = False) -> dict:  # fmt: skip
    """A whole refresh run with the plain functions, one source after the other (the flow in
    flows/refresh.py runs the same steps as Prefect tasks, its fetches at once): -> the run's summary
    (status, reasons, per-source results, counts)."""
    with Run(cfg, names, log=log) as run:
        for name in names:
            run.results.append(refresh_source(cfg, name, run.id, sample=sample, input_path=input_path, log=run.log,
                                              accept_shrink=accept_shrink))  # fmt: skip
        return run.finish(build_run(cfg, run.id, run.results, log=run.log))


def build_run(cfg: Config, run_id: str, results: list[SourceResult], log=None) -> dict:
    """A run's build: a stray WAL moved aside first (noted in the summary), then `build`.  -> {counts, notes,
    busy}: busy is the message of a warehouse held open for writing (the new build is kept beside it, not
    swapped in: expected, no traceback), else None."""
    from .warehouse import WarehouseBusy

    log = log or _quiet
    notes = recover_wal(cfg, lambda m: log("warning", m))  # before the build reads the live warehouse
    try:
        return {"counts": build(cfg, run_id, log=lambda m: log("info", m), results=results), "notes": notes, "busy": None}
    except WarehouseBusy as exc:
        return {"counts": {}, "notes": notes, "busy": str(exc)}


def build(cfg: Config, run_id: str, log: Log = print, results: list[SourceResult] | None = None) -> dict:
    """Build the warehouse from the state; return its counts.

    With the run's `results`: when no source loaded new data (each was unchanged, skipped or failed: a failed
    source keeps its snapshot), and the warehouse on disk was built from exactly the current snapshots,
    revisions, configuration and code (buildinfo), the build is skipped and the counts are those of that
    warehouse; the run is in the state's run history (`baltetl status`), and the next build takes it in."""
    state = State(cfg.state)
    fp = buildinfo.compute(cfg, state)
    recover_wal(cfg, log)  # a stray WAL would make the warehouse unopenable, kept or rebuilt
    if results is not None and all(r.status in (*KEEPS_DATA, "failed") for r in results):
        kept = buildinfo.current(cfg, state, fp[0])
        if kept:
            log(f"warehouse {cfg.warehouse} is current (built by run {kept['run_id']} from the same inputs): not rebuilt")
            progress.step("warehouse", f"not rebuilt: nothing it is made from changed since run {kept['run_id']}")
            return kept["counts"]
    from . import warehouse

    progress.step("warehouse", "building")
    counts = warehouse.build(cfg, state, run_id, log, fingerprint=fp)
    log(f"warehouse {cfg.warehouse}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    progress.step("warehouse", "built")
    return counts


def recover_wal(cfg: Config, log: Log) -> list[str]:
    """A WAL beside the warehouse that is not its own (db.recover_wal) moved aside, so that the warehouse opens
    again: -> what was done, for the run's summary (`notes`)."""
    if not Path(str(cfg.warehouse) + ".wal").exists():
        return []
    from . import db

    msg = db.recover_wal(cfg.warehouse, log)
    return [msg] if msg else []


def summary(cfg: Config, run_id: str, results: list[SourceResult], counts: dict, notes: list[str] = ()) -> dict:
    """What a refresh returns: its status, the per-source results, the warehouse's counts and the run that
    built it (an earlier one when nothing changed), and `notes` on the warehouse (a stray WAL moved aside)."""
    info = buildinfo.load(State(cfg.state)) or {}
    status, reasons = run_status(results)
    return {
        "run_id": run_id,
        "status": status,
        "reasons": reasons,
        "warehouse": str(cfg.warehouse),
        "sources": [vars(r) for r in results],
        "counts": counts,
        "built_by": info.get("run_id"),
        "notes": list(notes),
    }


def refresh_if_unchanged(cfg: Config, names: list[str], *, sample: bool = False, input_path: str | None = None,
                         landed: dict | None = None) -> dict | None:  # fmt: skip
    """A refresh of local inputs (--input, --sample) that would change nothing, done at once: every source's
    input lands with the checksum of its data in use, and the warehouse was built from exactly the current
    state.  Then each source is recorded `unchanged` and the summary returned, with no orchestrator needed;
    else None, with nothing recorded (the caller runs the refresh flow).  landed: a dict to receive each
    source's landed files (for read_ahead)."""
    landed = {} if landed is None else landed
    with refresh_lock(cfg):
        started = time.time()
        for name in names:
            try:
                landed[name] = land(cfg, name, sample=sample, input_path=input_path)
            except Exception:  # let the flow report it
                return None
        if not all(unchanged(cfg, name, files) for name, files in landed.items()):
            return None
        state = State(cfg.state)
        kept = buildinfo.current(cfg, state, buildinfo.compute(cfg, state)[0])
        if not kept:
            return None
        notes = recover_wal(cfg, lambda m: None)  # the warehouse must open, or this is no success
        run_id = new_run_id()
        state.start_run(run_id, names)
        results = [keep_unchanged(cfg, run_id, name, started, files) for name, files in landed.items()]
        out = summary(cfg, run_id, results, kept["counts"], notes)
        state.finish_run(run_id, out["status"])
        return out
