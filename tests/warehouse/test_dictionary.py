"""The data dictionary (warehouse/dictionary.yaml): every table, view and column of a built warehouse carries its
comment, the open-data datapackage.json describes its fields with the same text, and the README's dictionary
renders from the same file."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import helpers.site as h
from baltetl import dictionary
from baltetl.warehouse import sql_dir

CORE = ("projects", "organisations", "participations", "network_memberships", "golden_organisations",
        "organisation_sources", "metropolises", "runs", "quarantine", "landed_files", "changes", "build_info")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return h.published_sample(tmp_path_factory)


def _staged(name: str) -> bool:  # stg_<source>__<table>: the source's own columns, described per table only
    return name.startswith("stg_") and "__" in name


def test_every_table_view_and_column_has_a_comment(site):
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        rels = con.execute("""SELECT table_name, comment FROM duckdb_tables() WHERE NOT temporary
                              UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE NOT internal AND NOT temporary""").fetchall()
        cols = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal").fetchall()
    finally:
        con.close()
    names = {r[0] for r in rels}
    assert {f"public_{t}" for t in ("projects", "organisations", "participations", "metropolises", "sources")} <= names
    assert set(CORE) <= names and any(_staged(n) for n in names)
    assert [n for n, c in rels if not (c or "").strip()] == []  # staged tables too
    undocumented = [f"{t}.{c}" for t, c, doc in cols if not _staged(t) and not (doc or "").strip()]
    assert undocumented == []
    docs = {(t, c): doc for t, c, doc in cols}
    assert "today or later" in docs[("public_projects", "ongoing")]
    assert "visible golden organisations" in docs[("metropolis_summary", "organisations")]


def test_datapackage_fields_carry_the_dictionary(site):
    package = json.loads((site.site / "data" / "datapackage.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        missing = []
        for res in package["resources"]:
            if "schema" not in res:
                continue
            view = "public_" + res["name"].removesuffix("-parquet")
            comments = dictionary.comments(con, view)
            for f in res["schema"]["fields"]:
                if not f.get("description"):
                    missing.append(f"{res['name']}.{f['name']}")
                else:
                    assert f["description"] == comments[f["name"]], (res["name"], f["name"])
    finally:
        con.close()
    assert missing == []


def test_readme_dictionary_renders_from_the_same_file(site):
    path = sql_dir(site.cfg) / dictionary.FILE
    md = dictionary.markdown(path)
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        rels = [r[0] for r in con.execute("""SELECT table_name FROM duckdb_tables() WHERE NOT temporary
                                             UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal""").fetchall()]
        comment = con.execute("SELECT comment FROM duckdb_views() WHERE view_name = 'public_persons'").fetchone()[0]
    finally:
        con.close()
    for rel in rels:
        assert _staged(rel) or f"#### `{rel}`" in md, rel
    assert comment in md and "`stg_*__*`" in md


def test_a_column_takes_its_table_then_like_then_shared_meaning(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("""
columns: {golden_id: shared id, name: Name}
tables:
  base: {description: the base, columns: {name: base name, extra: only here}}
  derived: {description: like base, like: base, columns: {name: derived name}}
patterns: {"stg_*__*": staged}
""")
    con = duckdb.connect()
    con.execute("""CREATE TABLE base (golden_id VARCHAR, name VARCHAR, extra INT);
                   CREATE VIEW derived AS SELECT golden_id, name, extra, 1 AS unknown FROM base;
                   CREATE TABLE stg_x__y (name VARCHAR); CREATE TABLE other (a INT)""")
    assert dictionary.apply(con, path) == 9
    got = dict(((t, c), doc) for t, c, doc in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal").fetchall())
    assert got[("base", "name")] == "base name" and got[("derived", "name")] == "derived name"
    assert got[("derived", "extra")] == "only here" and got[("derived", "golden_id")] == "shared id"
    assert got[("derived", "unknown")] is None and got[("stg_x__y", "name")] is None  # a source's own column
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'stg_x__y'").fetchone()[0] == "staged"
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'other'").fetchone()[0] is None


def test_the_committed_dictionary_is_the_rendered_one():
    """warehouse/DICTIONARY.md (linked from the README) is what scripts/dictionary.py renders: it cannot drift."""
    root = Path(__file__).resolve().parents[2]
    rendered = dictionary.markdown(root / "warehouse" / dictionary.FILE)
    assert (root / "warehouse" / "DICTIONARY.md").read_text(encoding="utf-8") == rendered, (
        "warehouse/DICTIONARY.md is stale: python scripts/dictionary.py > warehouse/DICTIONARY.md")
