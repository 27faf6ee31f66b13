"""The warehouse as layered SQL (baltetl.models): warehouse/<layer>/<model>.sql, found from the checkout, run by
name, and part of what decides whether a refresh rebuilds."""

from __future__ import annotations

import dataclasses
import re
import shutil

import duckdb
import pytest

from baltetl import buildinfo, models
from baltetl.config import project_dir
from baltetl.state import State

CREATED = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


def defined_in_sql() -> set[str]:
    """Every table and view a file of warehouse/ creates."""
    return {name.lower() for p in models.files() for name in CREATED.findall(p.read_text())}


def test_every_layer_has_its_folder_and_runs_in_order():
    layers = [p.relative_to(models.folder()).parts[0] for p in models.files()]
    assert layers == sorted(layers, key=models.LAYERS.index)  # staging, core, marts, public
    assert set(layers) == set(models.LAYERS)


def test_a_model_runs_by_name():
    con = duckdb.connect()
    models.run(con, "core/tables.sql")
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"projects", "organisations", "participations", "network_memberships"}


def test_without_a_checkout_the_sql_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="BALTETL_PROJECT_DIR"):
        models.folder(tmp_path)


def test_the_sql_in_every_layer_is_part_of_the_build_fingerprint(cfg, tmp_path):
    """A change to warehouse/core/*.sql makes the next refresh rebuild (the fingerprint once globbed only
    warehouse/*.sql, which no longer holds any)."""
    project = tmp_path / "project"
    for d in ("warehouse", "schemas"):
        shutil.copytree(project_dir() / d, project / d)
    cfg = dataclasses.replace(cfg, project_dir=project)
    state = State(tmp_path / "state")
    before = buildinfo.compute(cfg, state)[1]["code"]
    with open(project / "warehouse" / "core" / "tables.sql", "a") as f:
        f.write("-- changed\n")
    assert buildinfo.compute(cfg, state)[1]["code"] != before


def test_every_warehouse_table_and_view_is_defined_in_sql(cfg):
    """A built warehouse (the bundled samples) holds no table or view that no file of warehouse/ defines, save
    the generic staging (stg_*, one per source table) and the history's versions (one per tracked table)."""
    from baltetl import history
    from helpers.common import refresh_run

    refresh_run(cfg, list(cfg.sources))
    generated = {f"{t}_{kind}" for t in history.TRACKED for kind in ("closed_versions", "history")}
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        rels = {r[0] for r in con.execute("""SELECT table_name FROM duckdb_tables() WHERE NOT temporary
                                             UNION SELECT view_name FROM duckdb_views() WHERE NOT internal""").fetchall()}
    finally:
        con.close()
    assert {"golden_organisations", "metropolises", "opportunities", "public_projects"} <= rels
    assert sorted(r for r in rels - defined_in_sql() - generated if not r.startswith("stg_")) == []
