"""baltetl command line: refresh the warehouse, show the last runs."""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# rich_markup_mode=None: help texts name config tables like [paths] and [schedule]; rich markup would eat them
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None, help="BaltMet community database ETL.")
console = Console(stderr=True)
out = Console()

WarehouseOpt = Annotated[
    Optional[Path],
    typer.Option("--warehouse", "-w", envvar="BALTETL_WAREHOUSE", help="DuckDB file (default warehouse/baltmet.duckdb)."),
]
ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", "-c", envvar="BALTETL_CONFIG", help="TOML overriding the defaults.")
]


def _load_flow():
    from .config import project_dir

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


@app.command()
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

    from . import pipeline, runtime
    from .config import ConfigError, load_config

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
        landed: dict = {}
        if sample or input is not None:  # local inputs: when nothing changed, no orchestrator is needed
            kept = _refresh_if_unchanged(source, sample, input, warehouse, config, landed)
            if kept is not None:
                _print_result(kept)
                raise typer.Exit(0)
        with runtime.tuned():  # from the read-ahead on (the run sets it too)
            result = _run_flow(source, sample, input, warehouse, config, publish, landed, accept_shrink)
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


def _run_flow(source, sample, input, warehouse, config, publish, landed: dict, accept_shrink: bool = False) -> dict:
    """Start the temporary API, read the local inputs ahead, run the refresh flow: -> its result."""
    from contextlib import nullcontext

    from . import runtime
    from . import progress as prog
    from .config import ConfigError, load_config
    from .pipeline import RefreshLocked

    api = runtime.start_if_needed()  # comes up while the inputs are parsed and the flow is imported
    cfg = load_config(config, warehouse=warehouse) if landed else None
    if landed:  # parse the local inputs while Prefect starts (and its API); the flow's parse takes the result
        runtime.read_ahead(cfg, landed)
    api = runtime.unless_profile_api(api)

    flow = _load_flow()
    settings = nullcontext()
    if api is not None:
        from prefect.settings import temporary_settings

        if api.wait():
            # a temporary API dies with this run: nobody would watch heartbeats (they cost ~1 s at the end)
            settings = temporary_settings(updates={"api.url": api.url, "flows.heartbeat_frequency": None})
        else:
            api = None  # Prefect starts its own
    if input is not None and landed:  # a wrong file changes nothing: its parse, under way since the start, first
        # with a temporary API ready, a parse still running is not waited for: the flow starts beside it, and an
        # error it finds later (a cut-off end) fails the source in the run (exit 1) instead
        bad = runtime.read_ahead_error(cfg, landed, wait=api is None)
        if bad is not None:
            runtime.drop_read_ahead()
            if api is not None:
                api.stop()
            _fail("bad input", bad if str(input) in str(bad) or str(input.resolve()) in str(bad) else
                  _Named(f"{input}: {type(bad).__name__}: {bad}", bad))  # fmt: skip
    try:
        with settings, _Display(console) as display:
            prog.set_sink(display)
            result = flow(
                sources=source or None,
                sample=sample,
                input=str(input.resolve()) if input else None,
                warehouse=str(warehouse) if warehouse else None,
                config=str(config) if config else None,
                publish=publish,
                accept_shrink=accept_shrink,
            )
    except RefreshLocked as exc:
        _fail("refused", exc)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        _fail("error", exc)
    finally:
        prog.set_sink(None)
        runtime.drop_read_ahead()
        if api is not None:
            _drain_prefect()  # send what Prefect still holds (logs, events) while its API is up
            api.stop()
    return result


def _refresh_if_unchanged(source, sample, input, warehouse, config, landed: dict) -> dict | None:
    """The run's summary when every local input is as last time and the warehouse is current (recorded, no
    Prefect needed: it would start a temporary API for nothing); None to run the flow (`landed` then holds
    the inputs that landed, by source)."""
    from .config import ConfigError, load_config
    from .pipeline import RefreshLocked, refresh_if_unchanged, selected_sources

    try:
        cfg = load_config(config, warehouse=warehouse)
        names = selected_sources(cfg, source or None, sample)
    except ConfigError as exc:
        _fail("error", exc)
    if input is not None and len(names) != 1:
        return None  # the flow explains
    try:
        return refresh_if_unchanged(cfg, names, sample=sample, input_path=str(input.resolve()) if input else None,
                                    landed=landed)  # fmt: skip
    except RefreshLocked as exc:
        _fail("refused", exc)


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


@app.command()
def serve(
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Deployment name (default from [schedule]).")] = None,
) -> None:
    """Serve the refresh flow on its nightly schedule (needs a Prefect server: PREFECT_API_URL).

    Manual runs of all or some sources: `prefect deployment run 'refresh/nightly' --param sources='["cordis"]'`.
    """
    from prefect import serve as prefect_serve

    from .config import load_config

    cfg = load_config(config, warehouse=warehouse)
    dep = deployment(cfg, name)
    sch = cfg.raw.get("schedule", {})
    console.print(f"serving refresh/{dep.name}: {sch.get('cron')} ({sch.get('timezone')}) -> {cfg.warehouse}")
    prefect_serve(dep)


def _drain_prefect(timeout: float = 10.0) -> None:
    """Flush Prefect's log and event workers (they would otherwise retry against a stopped API at exit)."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            worker.drain_all(timeout=timeout)
    except Exception:  # pragma: no cover - best effort; the run's result is already known
        pass


def _print_result(result: dict) -> None:
    from .checkwords import message as plain

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


@app.command()
def status(
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs to show.")] = 10,
    full: Annotated[bool, typer.Option("--full", "--verbose", "-v", help="Whole messages and the checks' own names (else in plain words, cut to the terminal's width).")] = False,
) -> None:
    """The data-quality report of the last run (per source: status, rows read / loaded / quarantined, the
    checks that failed most, stale sources, unresolved revisions), the last runs, organisations per metropolis."""
    from . import report
    from .config import load_config
    from .state import State

    global _cut
    _cut = False
    cfg = load_config(config, warehouse=warehouse)
    runs = State(cfg.state).runs()
    if not runs:
        out.print(f"no runs yet for {cfg.warehouse} (state {cfg.state})")
        raise typer.Exit(0)
    _print_report(report.build(cfg), full)
    _runs_table(cfg, runs[-limit:][::-1], full)
    if cfg.warehouse.exists():
        import duckdb

        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            rows = con.execute("SELECT name, organisations, participations, ongoing_projects FROM metropolis_summary "
                               "ORDER BY name").fetchall()  # fmt: skip
        finally:
            con.close()
        m = Table(title="metropolises (organisations shown, participations, ongoing projects)", box=box.SIMPLE_HEAD)
        for col in ("metropolis", "organisations", "participations", "ongoing projects"):
            m.add_column(col, justify="left" if col == "metropolis" else "right", no_wrap=True)
        for row in rows:
            m.add_row(*(str(x) for x in row))
        out.print(m)
    if _cut:
        out.print("[dim]whole messages and the checks' own names: baltetl status --full[/]")


def _styled(status: str | None) -> str:
    style = {"success": "green", "unchanged": "green", "failed": "red"}.get(status or "", "yellow")
    return f"[{style}]{status or '-'}[/]"


def _why(message: str, full: bool) -> str:
    """A source's message: whole (--full), else in plain words (checkwords)."""
    from .checkwords import message as plain

    return message if full else plain(message)


def _runs_table(cfg, runs: list[dict], full: bool) -> None:
    """The last runs, one line each, then why those that did not load did not: a line each, cut to the
    terminal's width (whole with --full)."""
    t = Table(title=f"last runs — {cfg.warehouse.name}", box=box.SIMPLE_HEAD)
    for col in ("started (UTC)", "source", "status", "read", "loaded", "held", "s"):
        t.add_column(col, no_wrap=True, justify="right" if col in ("read", "loaded", "held", "s") else "left")
    why = []
    for r in runs:
        started = (r.get("started_at") or "")[:16].replace("T", " ")
        t.add_row(started, r["source"], _styled(r["status"]), str(r.get("rows_read", "")), str(r.get("rows_loaded", "")),
                  str(r.get("rows_quarantined", "")), f"{r.get('duration_s') or 0:.0f}")  # fmt: skip
        if r.get("message") and r["status"] not in ("success", "unchanged"):
            why.append(f"{started} {r['source']} {r['status']}: {_why(r['message'], full)}")
    out.print(t)
    for line in why:
        _line(line, full)


def _line(text: str, full: bool) -> None:
    """One line of text, cut to the terminal's width (whole and wrapped with --full)."""
    from rich.text import Text

    global _cut
    if full:
        out.print(Text(text), soft_wrap=False)
    else:
        out.print(Text(text), no_wrap=True, overflow="ellipsis")
        _cut = _cut or len(text) > out.width


_cut = False  # a status line was cut to the terminal's width


def _fate(check: dict) -> str:
    """What became of a check's rows: held back, or loaded with the value emptied (quarantine `action`)."""
    n, emptied = check["rows"], check.get("emptied") or 0
    return "emptied" if emptied == n else "held back" if not emptied else f"{emptied} emptied, {n - emptied} held"


def _print_report(rep, full: bool = False) -> None:
    """The data-quality report (baltetl.report) as rich tables."""
    from .checkwords import words

    t = Table(title=f"data quality — run {rep.run_id}: {rep.status}", box=box.SIMPLE_HEAD)
    cols = ("source", "status", "read", "loaded", "held", "emptied", *(("s",) if full else ()), "last good data (UTC)")
    for col in cols:  # seconds only with --full: the rest fits 80 columns
        t.add_column(col, justify="right" if col in ("read", "loaded", "held", "emptied", "s") else "left",
                     no_wrap=col != "last good data (UTC)")  # fmt: skip
    for s in rep.sources:
        good = (s.last_good_at or "never")[:16].replace("T", " ") + (" [red]stale[/]" if s.stale else "")
        secs = (f"{s.duration_s or 0:.1f}",) if full and s.status is not None else ("",) if full else ()
        if s.status is None:
            t.add_row(s.source, "[dim]not in run[/]", "", "", "", "", *secs, good)
        else:
            t.add_row(s.source, _styled(s.status), str(s.rows_read), str(s.rows_loaded), str(s.rows_quarantined),
                      str(s.fields_nulled), *secs, good)  # fmt: skip
    out.print(t)
    if rep.status == "interrupted":
        _line(f"run {rep.run_id} was interrupted (its process is gone): the sources it staged go into the next "
              "build, the others keep their last good data", full)  # fmt: skip
    for s in rep.ran:
        if s.status not in ("success", "unchanged") and s.message:
            _line(f"{s.source} {s.status}: {_why(s.message, full)}", full)
    checks = rep.top_checks()
    if checks:
        c = Table(title="rows held back, or loaded with a value emptied, by check (of the data in use)", box=box.SIMPLE_HEAD)
        for col in ("source", "table", *(("check", "rows") if full else ("what",)), "then"):
            c.add_column(col, justify="right" if col == "rows" else "left", overflow="fold", no_wrap=col in ("source", "then"))
        for row in checks[:15]:
            what = (row["check"], str(row["rows"])) if full else (words(row["check"], row["rows"], row["table"]),)
            c.add_row(row["source"], row["table"], *what, _fate(row))
        out.print(c)
    pc = getattr(rep, "placement_conflicts", None)
    if pc:
        out.print(f"placement conflicts (the address decided; table placement_conflicts): "
                  f"{sum(c['addresses'] for c in pc)} addresses, {sum(c['participations'] or 0 for c in pc)} participations")
    if rep.stale:
        st = Table(title="stale sources (data older than the source's cadence)", box=box.SIMPLE_HEAD)
        for col in ("source", "last good data", "age (days)", "cadence (days)"):
            st.add_column(col, justify="left" if col in ("source", "last good data") else "right")
        for s in rep.stale:
            st.add_row(s.source, s.last_good_at or "never loaded", "" if s.age_days is None else f"{s.age_days:.1f}",
                       f"{s.cadence_days:g}")  # fmt: skip
        out.print(st)
    else:
        out.print("stale sources: none")
    if rep.revision_issues:
        r = Table(title=f"unresolved revisions ({len(rep.revision_issues)})", box=box.SIMPLE_HEAD)
        for col in ("kind", "file:line", "message"):
            r.add_column(col, overflow="fold")
        for i in rep.revision_issues[:20]:
            r.add_row(i["kind"], f"{i['file']}:{i['line'] if i['line'] is not None else ''}", i["message"])
        out.print(r)
    else:
        out.print("unresolved revisions: none")


from .cli_analyst import register as _register_analyst  # noqa: E402
from .cli_opportunities import register as _register_opportunities  # noqa: E402
from .cli_placement import register as _register_placement  # noqa: E402
from .cli_history import register as _register_history  # noqa: E402
from .cli_publish import register as _register_publish  # noqa: E402
from .cli_resolution import register as _register_resolution  # noqa: E402
from .cli_revisions import register as _register_revisions  # noqa: E402
from .portal.cli import register as _register_portal  # noqa: E402

_register_resolution(app)
_register_history(app)
_register_revisions(app)
_register_opportunities(app)
_register_publish(app)
_register_analyst(app)
_register_placement(app)
_register_portal(app)


def main() -> None:  # pragma: no cover
    app()
