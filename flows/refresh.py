"""The `refresh` flow: for each source land -> parse -> validate/stage, then build the warehouse and publish
the site (`baltetl publish`) from it.

Runs without a Prefect server (Prefect starts a temporary local API), from the CLI (`baltetl refresh`),
or as a deployment (prefect.yaml).  A source that fails is recorded and keeps its last good data; the
others still refresh, and the run is reported as partial.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from baltetl import pipeline
from baltetl.config import Config, load_config


def _transient(task, task_run, state) -> bool:
    """Retry a land task only when the fetch may succeed later (not: no URL, host or robots.txt refusal)."""
    from baltetl.http import worth_retrying

    return worth_retrying(state.data) if isinstance(state.data, BaseException) else True


@task(name="land", retries=2, retry_delay_seconds=[30, 120], retry_condition_fn=_transient, cache_policy=NO_CACHE)
def land(cfg: Config, source: str, sample: bool, input_path: str | None):
    return pipeline.land(cfg, source, sample=sample, input_path=input_path)


@task(name="parse", cache_policy=NO_CACHE)
def parse(cfg: Config, source: str, files):
    return pipeline.parse(cfg, source, files)


@task(name="validate-and-stage", cache_policy=NO_CACHE)
def stage(cfg: Config, source: str, parsed, files, run_id: str, started: float):
    return pipeline.stage(cfg, source, parsed, files, run_id, started, log=get_run_logger().info)


@task(name="build-warehouse", cache_policy=NO_CACHE)
def build(cfg: Config, run_id: str):
    return pipeline.build(cfg, run_id, log=get_run_logger().info)


@task(name="publish", cache_policy=NO_CACHE)
def publish_site(cfg: Config):
    from baltetl.publish import publish

    return publish(cfg, log=get_run_logger().info)


@flow(name="refresh", log_prints=True)
def refresh(
    sources: list[str] | None = None,
    sample: bool = False,
    input: str | None = None,
    warehouse: str | None = None,
    config: str | None = None,
    publish: bool = True,
) -> dict:
    """Refresh `sources` (default: all) into the warehouse, then publish the site from it.

    sample: load each source's bundled sample instead of fetching; input: a local download to load
    (one source); warehouse: the DuckDB file; config: a TOML file overriding the defaults; publish: publish
    the site and exports afterwards (also needs `[publish] after_refresh`, on by default).
    """
    log = get_run_logger()
    cfg = load_config(config, warehouse=warehouse)
    names = pipeline.selected_sources(cfg, sources, sample)
    if input and len(names) != 1:
        raise ValueError(f"--input feeds one source; name it with --source (configured: {', '.join(cfg.sources)})")
    run_id = pipeline.new_run_id()
    results = []
    with pipeline.refresh_lock(cfg):
        log.info(f"run {run_id}: sources {', '.join(names)} -> {cfg.warehouse}")
        for name in names:
            results.append(pipeline.refresh_source(
                cfg, name, run_id, sample=sample, input_path=input, steps=(land, parse, stage),
                log=lambda level, msg: getattr(log, level)(msg),
            ))  # fmt: skip
        counts = build(cfg, run_id)
    failed = [r.source for r in results if r.status == "failed"]
    ran = [r for r in results if r.status != "skipped"]
    status = "success" if not failed else ("failed" if len(failed) == len(ran) else "partial")
    published = {"status": "skipped", "message": "publish=False or [publish] after_refresh = false"}
    if publish and cfg.raw.get("publish", {}).get("after_refresh", True):
        # outside the lock: publishing reads the new warehouse read-only; a failure keeps the warehouse
        try:
            site = publish_site(cfg)
            published = {"status": "success", "out": site["out"], "pages": sum(site["pages"].values()),
                         "bytes": site["bytes"], "seconds": site["seconds"], "message": ""}  # fmt: skip
        except Exception as exc:
            log.error(f"publish failed (the warehouse is built; the previous site stays): {exc}")
            published = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
            status = "partial" if status == "success" else status
    return {
        "run_id": run_id,
        "status": status,
        "warehouse": str(cfg.warehouse),
        "sources": [vars(r) for r in results],
        "counts": counts,
        "publish": published,
    }


if __name__ == "__main__":
    refresh()
