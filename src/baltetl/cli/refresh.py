"""`baltetl refresh` (fetch, validate, load, build, publish) and `baltetl serve` (the same on its nightly schedule)."""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import ConfigOpt, WarehouseOpt, console, out


def _load_flow():
    from ..config import project_dir

    path = project_dir() / "flows" / "refresh.py"
    if not path.exists():
        console.print(f"[red]no flow at {path}[/]: run baltetl from its checkout or set BALTETL_PROJECT_DIR")
        raise typer.Exit(2)
    spec = importlib.util.spec_from_file_location("baltetl_flows_refresh", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod.refresh


class _Display:
    """The progress sink of a refresh: on a terminal a rich line per source with its stage (and a bar per long
    step), else a plain log line per stage ('12:04:05 cordis: parsing'; the bars are left out)."""

    FINAL = ("loaded", "unchanged", "failed", "skipped", "built", "not rebuilt", "published")

    def __init__(self, term: Console):
        self.console, self.tasks, self.p = term, {}, None
        if term.is_terminal:
            self.p = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=term,
                              transient=True)  # fmt: skip

    def __enter__(self) -> _Display:
        if self.p is not None:
            self.p.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.p is not None:
            self.p.stop()

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if self.p is None:
            return
        desc = f"  {label}: " + (f"{done * 100 // total} %" if total else f"{done:,}")
        if label not in self.tasks:
            self.tasks[label] = self.p.add_task(desc, total=total)
        self.p.update(self.tasks[label], completed=done, total=total, description=desc)

    def step(self, source: str, what: str) -> None:
        what = " ".join(what.split())
        if self.p is None:
            self.console.print(f"{time.strftime('%H:%M:%S')} {source}: {what}", markup=False, highlight=False,
                               soft_wrap=True)  # fmt: skip
            return
        done = what.startswith(self.FINAL)
        desc = escape(f"{source}: {what}")
        if source not in self.tasks:
            self.tasks[source] = self.p.add_task(desc, total=None)
        self.p.update(self.tasks[source], description=desc, **({"total": 1, "completed": 1} if done else {}))


def refresh(
    sample: Annotated[bool, typer.Option("--sample", help="Load the bundled real sample (offline).")] = False,
    source: Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Refresh only this source (repeatable).")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="A local download (zip, tar.xz, CSV folder) fed through the same path as a fetched one.")] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log.")] = False,
    publish: Annotated[bool, typer.Option("--publish/--no-publish", help="Publish the site and exports after the build.")] = True,
    accept_shrink: Annotated[bool, typer.Option("--accept-shrink", help="Load a source even with far fewer rows than its last good data (a genuine shrink; else max_drop_share fails it).")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Tracebacks for expected failures too, and Prefect's debug log.")] = False,
) -> None:
    """Fetch (or take --input / --sample), validate and load sources, rebuild the warehouse, publish the site.

    Exit codes: 0 success; 1 a source or the publish failed (the others refreshed; failed sources keep their
    last good data); 2 refused (another refresh is writing this warehouse, or a bad option, input or
    configuration); 3 the warehouse is held open for writing: the new build is kept beside it, not swapped in.
    """
    global _debug
    _debug = debug
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "DEBUG" if debug else "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not (verbose or debug):  # a failed task's traceback goes to the Prefect log; the terminal gets the summary
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    if input is not None and not input.exists():
        _fail("input not found", input)
    from contextlib import ExitStack

    from .. import pipeline
    from ..config import ConfigError, load_config

    with ExitStack() as whole_run:
        try:  # bad options are refused before anything starts (Prefect, its temporary API)
            cfg = load_config(config, warehouse=warehouse)
            names = pipeline.selected_sources(cfg, source or None, sample)
            if input is not None and len(names) != 1:
                raise ConfigError(f"--input feeds one source; name it with --source (configured: {', '.join(cfg.sources)})")
            # one lock for the whole run, taken first: a second refresh is refused before it lands or parses
            whole_run.enter_context(pipeline.refresh_lock(cfg, whole_run=True))
        except pipeline.RefreshLocked as exc:
            _fail("refused", exc)
        except ConfigError as exc:
            _fail("error", exc)
        input_path = str(input.resolve()) if input else None
        landed: dict = {}  # local inputs land first: a refresh that would change nothing is recorded at once,
        result = None  # with no orchestrator (Prefect would start a temporary API for nothing)
        if sample or input is not None:
            result = pipeline.refresh_if_unchanged(cfg, names, sample=sample, input_path=input_path, landed=landed)
        if result is None:
            result = _run_flow(cfg, landed, input, dict(sources=source or None, sample=sample, input=input_path,
                               warehouse=str(warehouse) if warehouse else None, config=str(config) if config else None,
                               publish=publish, accept_shrink=accept_shrink))  # fmt: skip
    _print_result(result)
    # the process ends here: spare the collector's last pass over everything the run left (~0.7 s at exit)
    gc.freeze()
    raise typer.Exit(0 if result["status"] == "success" else 3 if result.get("busy") else 1)


_debug = False  # --debug: expected failures raise (a traceback) instead of one line


def _fail(label: str, what: object, code: int = 2) -> NoReturn:
    """One line on stderr, `label: what` (never wrapped: a path stays whole), then exit `code`; with --debug
    the exception propagates with its traceback."""
    if _debug and isinstance(what, BaseException):
        raise what
    console.print(f"[red]{label}:[/] {escape(str(what))}", soft_wrap=True)
    raise typer.Exit(code)


class _Named(ValueError):
    """An error restated with the user's file name (the original is its cause)."""

    def __init__(self, msg: str, cause: BaseException):
        super().__init__(msg)
        self.__cause__ = cause


def _run_flow(cfg, landed: dict, input: Path | None, params: dict) -> dict:
    """The refresh flow with `params`, beside its run-time tuning (runtime.for_cli: a temporary API, the
    landed inputs read ahead): -> its result."""
    from .. import progress as prog
    from .. import runtime
    from ..config import ConfigError
    from ..pipeline import RefreshLocked

    with runtime.for_cli(cfg, landed, _load_flow) as rt:
        bad = rt.read_ahead_error() if input is not None else None  # a wrong file changes nothing: said first
        if bad is not None:
            _fail("bad input", bad if str(input) in str(bad) or str(input.resolve()) in str(bad) else
                  _Named(f"{input}: {type(bad).__name__}: {bad}", bad))  # fmt: skip
        try:
            with _Display(console) as display:
                prog.set_sink(display)
                return rt.flow(**params)
        except RefreshLocked as exc:
            _fail("refused", exc)
        except (ConfigError, ValueError, FileNotFoundError) as exc:
            _fail("error", exc)
        finally:
            prog.set_sink(None)


def deployment(cfg, name: str | None = None):
    """The refresh flow as a Prefect deployment with the configured nightly schedule (cron + time zone)."""
    from prefect.schedules import Cron

    sch = cfg.raw.get("schedule", {})
    flow = _load_flow()
    return flow.to_deployment(
        name=name or sch.get("name", "nightly"),
        schedules=[Cron(sch.get("cron", "30 2 * * *"), timezone=sch.get("timezone", "Europe/Riga"))],
        parameters={"warehouse": str(cfg.warehouse)},
        description="Nightly refresh of every source into the BaltMet warehouse",
    )


def serve(
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Deployment name (default from [schedule]).")] = None,
) -> None:
    """Serve the refresh flow on its nightly schedule (needs a Prefect server: PREFECT_API_URL).

    Manual runs of all or some sources: `prefect deployment run 'refresh/nightly' --param sources='["cordis"]'`.
    """
    from prefect import serve as prefect_serve

    from ..config import load_config

    cfg = load_config(config, warehouse=warehouse)
    dep = deployment(cfg, name)
    sch = cfg.raw.get("schedule", {})
    console.print(f"serving refresh/{dep.name}: {sch.get('cron')} ({sch.get('timezone')}) -> {cfg.warehouse}")
    prefect_serve(dep)


def _print_result(result: dict) -> None:
    from ..checkwords import message as plain

    t = Table(title=f"run {result['run_id']}: {result['status']}")
    for col in ("source", "status", "read", "loaded", "quarantined", "seconds"):  # why below, whole: fits 80 columns
        t.add_column(col, justify="right" if col in ("read", "loaded", "quarantined", "seconds") else "left", no_wrap=True)
    for r in result["sources"]:
        style = {"success": "green", "unchanged": "green", "skipped": "yellow"}.get(r["status"], "red")
        t.add_row(r["source"], f"[{style}]{r['status']}[/]", str(r["rows_read"]), str(r["rows_loaded"]),
                  str(r["rows_quarantined"]), f"{r['duration_s']:.1f}")  # fmt: skip
    out.print(t)
    for r in result["sources"]:
        if r["status"] in ("failed", "skipped") and r["message"]:
            out.print(f"[{'red' if r['status'] == 'failed' else 'yellow'}]{r['source']} {r['status']}:[/] "
                      f"{escape(plain(r['message']))}")  # fmt: skip
    if result.get("reasons"):
        out.print(f"[yellow]run {result['status']}[/]: the failed sources keep their last good data "
                  "(the whole messages: baltetl status --full)")  # fmt: skip
    if result.get("busy"):  # one line: the warehouse stays the previous build
        console.print(f"[red]not swapped in:[/] {escape(result['busy'])}", soft_wrap=True)
    else:
        out.print(f"warehouse {result['warehouse']}: " + ", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    for note in result.get("notes") or ():
        out.print(f"[yellow]warehouse:[/] {note}")
    if result.get("built_by") and result["built_by"] != result["run_id"] and not result.get("busy"):
        out.print(f"not rebuilt: nothing it is made from changed since run {result['built_by']}")
    out.print("data-quality report: baltetl status")
    pub = result.get("publish") or {}
    if pub.get("status") == "success":
        out.print(f"site {pub['out']}: {pub['pages']} pages, {pub['bytes'] / 1e6:.1f} MB in {pub['seconds']} s")
    elif pub.get("status") == "failed":
        out.print(f"[red]publish failed[/] (the warehouse is built, the previous site stays): {pub['message'][:300]}")


def register(app: typer.Typer) -> None:
    app.command()(refresh)
    app.command()(serve)
