"""The `refresh` flow: for each source land -> parse -> validate/stage, then build the warehouse (resolve,
revisions, history, marts, opportunities), the data-quality report, and publish the site from it.  Each step
is a Prefect task over a plain function of baltetl.pipeline (report, publish); the run's bookkeeping (the
lock, the run's record, a failed source's) is pipeline.Run's, the process's tuning for it baltetl.runtime's.

Every source's fetch starts at once (the task runner's threads; one polite HTTP layer keeps its per-host
limits across them); parse and stage take one source at a time, in order, so memory stays that of the
largest source.  Runs without a Prefect server (Prefect starts a temporary local API), from the CLI
(`baltetl refresh`), or as a deployment (prefect.yaml, `baltetl serve`).  A source that fails is recorded and
keeps its last good data; the others still refresh, and the run is reported as partial.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from baltetl import pipeline, progress, report
from baltetl.config import Config, load_config
from baltetl.http import Fetcher
from baltetl.state import State


def _transient(task, task_run, state) -> bool:
    """Retry a land task only when the fetch may succeed later (not: no URL, host or robots.txt refusal)."""
    from baltetl.http import worth_retrying

    return worth_retrying(state.data) if isinstance(state.data, BaseException) else True


@task(name="land", retries=2, retry_delay_seconds=[30, 120], retry_condition_fn=_transient, cache_policy=NO_CACHE)
def land(cfg: Config, source: str, sample: bool, input_path: str | None, fetcher: Fetcher | None = None):
    return pipeline.land(cfg, source, sample=sample, input_path=input_path, fetcher=fetcher)


@task(name="parse", cache_policy=NO_CACHE)
def parse(cfg: Config, source: str, files):
    return pipeline.parse(cfg, source, files, log=get_run_logger().info)


@task(name="validate-and-stage", cache_policy=NO_CACHE)
def stage(cfg: Config, source: str, parsed, files, run_id: str, started: float, accept_shrink: bool = False):
    return pipeline.stage(cfg, source, parsed, files, run_id, started, log=get_run_logger().info,
                          accept_shrink=accept_shrink)  # fmt: skip


@task(name="build-warehouse", cache_policy=NO_CACHE)
def build(cfg: Config, run_id: str, results: list) -> dict:
    """The warehouse from every source's snapshot: resolution, revisions, history, marts, opportunities (see
    warehouse.build).  A warehouse held open for writing is no crash: the outcome says so (exit 3 in the CLI)."""
    log = get_run_logger()
    return pipeline.build_run(cfg, run_id, results, log=lambda level, msg: getattr(log, level)(msg))


@task(name="data-quality-report", cache_policy=NO_CACHE)
def quality_report(cfg: Config, run_id: str) -> str:
    """The run's data-quality report as Prefect artifacts: markdown ('data-quality') and a table per source."""
    rep = report.build(cfg, run_id)
    create_markdown_artifact(markdown=rep.markdown(), key="data-quality", description=f"data quality of run {run_id}")
    create_table_artifact(table=rep.rows(), key="data-quality-sources", description=f"per source, run {run_id}")
    return rep.markdown()


@task(name="publish", cache_policy=NO_CACHE)
def publish_site(cfg: Config):
    from baltetl.publish import publish

    return publish(cfg, log=get_run_logger().info)


def _site_current(cfg: Config, out: dict) -> bool:
    """The warehouse was not rebuilt by this run and a site published from it is in place."""
    from baltetl.publish import MARKER, site_dir

    return out.get("built_by") not in (None, out["run_id"]) and (site_dir(cfg) / MARKER).exists()


@flow(name="refresh", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=8))
def refresh(
    sources: list[str] | None = None,
    sample: bool = False,
    input: str | None = None,
    warehouse: str | None = None,
    config: str | None = None,
    publish: bool = True,
    accept_shrink: bool = False,
) -> dict:
    """Refresh `sources` (default: all) into the warehouse, then publish the site from it.

    sample: load each source's bundled sample instead of fetching; input: a local download to load
    (one source); warehouse: the DuckDB file; config: a TOML file overriding the defaults; publish: publish
    the site and exports afterwards (also needs `[publish] after_refresh`, on by default); accept_shrink: load
    a source even when it has far fewer rows than its last good data (else its max_drop_share fails it).
    """
    log = get_run_logger()
    cfg = load_config(config, warehouse=warehouse)
    names = pipeline.selected_sources(cfg, sources, sample)
    if input and len(names) != 1:
        raise ValueError(f"--input feeds one source; name it with --source (configured: {', '.join(cfg.sources)})")

    with pipeline.Run(cfg, names, log=lambda level, msg: getattr(log, level)(msg)) as run:
        fetcher = pipeline.fetcher_for(cfg)  # every fetch starts at once; one polite HTTP layer keeps its per-host limits
        landing = {n: land.submit(cfg, n, sample, input, fetcher) for n in names}
        for name in names:  # then one source at a time, so memory stays that of the largest
            with run.source(name, sample=sample, input_path=input, started=run.started) as step:
                files = landing[name].result()
                if step.changed(files):  # else its data stays as loaded
                    parsed = parse(cfg, name, files)
                    step.loaded(stage(cfg, name, parsed, files, run.id, step.started, accept_shrink))
        built = build(cfg, run.id, run.results)
        if not built["busy"]:
            quality_report(cfg, run.id)
        out = run.finish(built)

    if not (publish and cfg.raw.get("publish", {}).get("after_refresh", True)):
        out["publish"] = {"status": "skipped", "message": "publish=False or [publish] after_refresh = false"}
    elif out.get("busy"):
        out["publish"] = {"status": "skipped", "message": "the new build was not swapped in: the site stays as published"}
    elif _site_current(cfg, out):
        out["publish"] = {"status": "skipped", "message": "the warehouse was not rebuilt: the site stays as published"}
    else:
        # outside the refresh lock: publishes take turns on a lock of their own and never replace a site of a
        # newer build; publishing reads the new warehouse read-only; a failure keeps the warehouse
        try:
            progress.step("site", "publishing")
            site = publish_site(cfg)
            progress.step("site", "published")
            if site.get("skipped"):  # a newer build's site is in place (published by a later refresh)
                log.warning(site["skipped"])
                out["publish"] = {"status": "skipped", "message": site["skipped"]}
                return out
            out["publish"] = {"status": "success", "out": site["out"], "pages": sum(site["pages"].values()),
                              "bytes": site["bytes"], "seconds": site["seconds"], "message": ""}  # fmt: skip
        except Exception as exc:
            log.error(f"publish failed (the warehouse is built; the previous site stays): {exc}")
            out["publish"] = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
            if out["status"] == "success":
                out["status"] = "partial"
                out["reasons"].append(f"publish: {type(exc).__name__}: {exc}")
                State(cfg.state).finish_run(out["run_id"], out["status"], "; ".join(out["reasons"]))
    return out


if __name__ == "__main__":
    refresh()
