"""The refresh a crash test kills: run in a child forked from a process that has baltetl imported already
(multiprocessing's forkserver), so a kill costs no Python start-up.  Imported by the forkserver: keep the
heavy imports at module level."""

from __future__ import annotations

import os

from baltetl import pipeline, quality
from baltetl.config import load_config
from helpers.common import ROOT

for _name in ("networks", "clusters"):
    quality.load_contracts(ROOT / "schemas", _name)  # pandera and the contracts, imported before any fork

ENV = ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE", "BALTETL_KILL_AT", "BALTETL_STOP_AT")


def child(warehouse: str, inputs: dict[str, str], fault: dict[str, str] | None = None) -> None:
    """refresh() in a forked child; `fault` sets BALTETL_KILL_AT or BALTETL_STOP_AT for it."""
    for var in ENV:
        os.environ.pop(var, None)
    os.environ.update(fault or {})
    refresh(warehouse, inputs)


def refresh(warehouse: str, inputs: dict[str, str]) -> None:
    """One refresh of the given sources from local inputs (source -> path), then the build, under the
    refresh lock: what a refresh run does, without the Prefect engine."""
    cfg = load_config(warehouse=warehouse)
    run_id = pipeline.new_run_id()
    with pipeline.refresh_lock(cfg):
        for source, path in inputs.items():
            result = pipeline.refresh_source(cfg, source, run_id, input_path=path)
            if result.status not in ("success", "unchanged"):
                raise RuntimeError(f"{source}: {result.status}: {result.message}")
        pipeline.build(cfg, run_id, log=lambda m: None)


def refresh_or_refused(warehouse: str, inputs: dict[str, str], report: str) -> None:
    """refresh(); when another refresh holds the lock, its message goes to the file `report`, exit code 3."""
    try:
        child(warehouse, inputs)
    except pipeline.RefreshLocked as exc:
        with open(report, "w") as f:
            f.write(str(exc))
        os._exit(3)


def refresh_run(warehouse: str, names: list[str], fault: dict[str, str] | None = None) -> None:
    """pipeline.refresh of `names` from their samples (a whole run: lock, run record, sources, build) in a
    forked child; `fault` sets BALTETL_KILL_AT or BALTETL_STOP_AT for it."""
    for var in ENV:
        os.environ.pop(var, None)
    os.environ.update(fault or {})
    pipeline.refresh(load_config(warehouse=warehouse), names, sample=True)
