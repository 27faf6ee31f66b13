"""The `refresh` flow: for each source land -> parse -> validate/stage, then build the warehouse.

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


@flow(name="refresh", log_prints=True)
def refresh(
    sources: list[str] | None = None,
    sample: bool = False,
    input: str | None = None,
    warehouse: str | None = None,
    config: str | None = None,
) -> dict:
    """Refresh `sources` (default: all) into the warehouse.

    sample: load each source's bundled sample instead of fetching; input: a local download to load
    (one source); warehouse: the DuckDB file; config: a TOML file overriding the defaults.
    """
    log = get_run_logger()
    cfg = load_config(config, warehouse=warehouse)
    names = pipeline.selected_sources(cfg, sources, sample)
    if input and len(names) != 1:
        raise ValueError(f"--input feeds one source; name it with --source (configured: {', '.join(cfg.sources)})")
    return pipeline.refresh(
        cfg, names, sample=sample, input_path=input, steps=(land, parse, stage), build_step=build,
        log=lambda level, msg: getattr(log, level)(msg),
    )


if __name__ == "__main__":
    refresh()
