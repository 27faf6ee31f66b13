"""interreg_se: Tillväxtverket's extract of the Swedish partners in Interreg 2021-2027.

Main behaviour on the bundled real sample (src/baltetl/sources/interreg_se/sample/interreg_se/: the rows of the Baltic Sea Region
and South Baltic programmes, unchanged); the full extract when present.

The sample is a folder (landed as a zip) and the full extract is given as a folder too, because landing a
bare `.json` file trips the landing folder's sidecar lookup (see test_input_of_a_bare_json_file).
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from helpers.common import ROOT, SHARED, landed, local_toml, need_shared, run_refresh

from baltetl.declaration import declared
from baltetl.sources.interreg_se import source as interreg_se
from baltetl.types import NoInput, SourceContext

TABLES = tuple(declared()["interreg_se"].tables)  # the staged tables, parents first

SAMPLE_DIR = ROOT / "src" / "baltetl" / "sources" / "interreg_se" / "sample" / "interreg_se"  # a folder: it lands as a zip (see below)
SAMPLE = SAMPLE_DIR / "interreg_se_bsr-southbaltic_2026-06-09.json"
FULL = SHARED / "interreg_se" / "tillvaxtverket_interreg_se_partners_2021-2027_extract-2026-06-09.json"
SAMPLE_PROGRAMMES = ("Baltic Sea Region", "South Baltic Programme")


def cut(full: bytes) -> bytes:
    """The sample: the records of SAMPLE_PROGRAMMES, in order, serialised as the shared file is."""
    rows = [r for r in json.loads(full) if r["program"] in SAMPLE_PROGRAMMES]
    return json.dumps(rows, ensure_ascii=False).encode()


def test_sample_is_the_documented_cut():
    full = need_shared(FULL).read_bytes()
    assert json.dumps(json.loads(full), ensure_ascii=False).encode() == full  # same serialisation as the source
    assert cut(full) == SAMPLE.read_bytes()
    assert SAMPLE.stat().st_size < 300_000


def test_helpers():
    assert interreg_se.split_name("Bothnian Coastal Route (BCR)") == ("BCR", "Bothnian Coastal Route")
    assert interreg_se.split_name("Summation - (Sustainable Autonomous Systems and Solutions)") == (
        "Summation", "Sustainable Autonomous Systems and Solutions")  # fmt: skip
    assert interreg_se.split_name("ICCE") == ("ICCE", "ICCE")
    assert interreg_se.split_name("Boost Nordic Biogas") == (None, "Boost Nordic Biogas")
    codes = interreg_se.county_codes(str(ROOT / "src" / "baltetl" / "reference" / "nuts_changes_1999-2021.csv"))
    assert codes["Stockholms län"] == "SE110" and codes["Skåne län"] == "SE224" and len(codes) == 21


def parse_sample(cfg):
    return interreg_se.parse(SourceContext(cfg, cfg.source("interreg_se")), [landed(SAMPLE)])


def test_parse_sample(cfg):
    rows = json.loads(SAMPLE.read_bytes())
    parsed = parse_sample(cfg)
    pa = parsed.tables["participations"]
    assert len(pa) + len(parsed.rejects) == len(rows) == 387
    assert pa["record_key"].is_unique  # (program, id) repeats in the extract; (project, id) does not
    assert set(pa["role"]) == {"coordinator", "participant", "associatedPartner"}
    assert (pa["role_source"].map(interreg_se.ROLES) == pa["role"]).all()
    assert set(pa["country"]) == {"SE"}
    sthlm = pa[pa["nuts3_name"] == "Stockholms län"]
    assert len(sthlm) == 66 and set(sthlm["nuts3"]) == {"SE110"}
    pj = parsed.tables["projects"].set_index("project_id")
    # a project = (program, type, name); its budget here = the Swedish partners' budgets only
    assert pj["partners_se"].sum() == len(pa)
    for (prog, name), grp in pd_groups(rows):
        pid = interreg_se.project_id(prog, grp[0]["projekttyp"], name)
        assert pj.loc[pid, "status"] == ("ONGOING" if any(r["aktiv"] == "Ja" for r in grp) else "CLOSED")


def pd_groups(rows):
    out: dict = {}
    for r in rows:
        out.setdefault((r["program"], " ".join(r["projektnamn"].split()), r["projekttyp"]), []).append(r)
    return [((k[0], k[1]), v) for k, v in out.items()]


def test_sample_refresh_stockholm_and_ongoing(cfg):
    result, counts = run_refresh(cfg, "interreg_se", sample=True)
    assert result.status == "success", result.message
    for t, rep in result.tables.items():
        assert rep["read"] == rep["loaded"] + rep["quarantined"], t
    assert result.tables["participations"]["read"] == 387
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        q = con.execute("SELECT count(*) FROM quarantine WHERE source = 'interreg_se'").fetchone()[0]
        assert q >= result.rows_quarantined > 0  # the real extract's own errors: 2027-02-31, end < start, no name
        sthlm = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE metropolis_id = 'stockholm'), any_value(assigned_by) "
            "FROM participations WHERE source = 'interreg_se' AND nuts3 = 'SE110'"
        ).fetchone()
        assert sthlm[0] > 50 and sthlm[0] == sthlm[1] and sthlm[2] == "nuts3"
        assert con.execute(
            "SELECT count(*) FROM participations WHERE source = 'interreg_se' AND metropolis_id = 'stockholm' "
            "AND coalesce(nuts3, '') <> 'SE110'").fetchone()[0] == 0  # fmt: skip
        # ongoing: projects ending today or later with a Stockholm partner are in the view, the others not
        expect = {r[0] for r in con.execute(
            "SELECT DISTINCT p.project_key FROM projects p JOIN participations pa USING (project_key) "
            "WHERE p.source = 'interreg_se' AND pa.metropolis_id = 'stockholm' AND p.end_date >= current_date"
        ).fetchall()}  # fmt: skip
        got = {r[0] for r in con.execute(
            "SELECT project_key FROM ongoing_projects WHERE source = 'interreg_se' AND list_contains(metropolises, 'stockholm')"
        ).fetchall()}  # fmt: skip
        assert got == expect and len(got) >= 10
        statuses = {r[0] for r in con.execute(
            f"SELECT DISTINCT status FROM projects WHERE project_key IN ({','.join(repr(k) for k in got)})").fetchall()}  # fmt: skip
        assert statuses <= {"ONGOING", "CLOSED"} and "ONGOING" in statuses
        closed_past = con.execute(
            "SELECT count(*) FROM ongoing_projects WHERE source = 'interreg_se' AND end_date < current_date"
        ).fetchone()[0]
        assert closed_past == 0
    finally:
        con.close()


def test_full_extract_every_row_loaded_or_quarantined(cfg, tmp_path):
    need_shared(FULL)
    folder = tmp_path / "extract"
    folder.mkdir()
    (folder / FULL.name).write_bytes(FULL.read_bytes())
    result, _ = run_refresh(cfg, "interreg_se", input_path=str(folder))
    assert result.status == "success", result.message
    pa = result.tables["participations"]
    assert pa["read"] == 1135 and pa["loaded"] + pa["quarantined"] == 1135
    assert pa["quarantined"] == 13  # 11 without organisation name, 2 of the project that ends before it starts
    assert result.tables["projects"]["quarantined"] == 1
    assert result.tables["projects"]["fields_nulled"] == 2  # end dates 2027-02-31, 2026-09-31: the projects load


def test_fetch_needs_a_url(cfg):
    with pytest.raises(NoInput, match="no public URL"):
        interreg_se.fetch(SourceContext(cfg, cfg.source("interreg_se"), fetcher=object()))


def test_fetch_downloads_the_configured_url(httpserver, tmp_path):
    from baltetl import pipeline
    from baltetl.config import load_config

    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/data/rawdata").respond_with_data(SAMPLE.read_bytes(), content_type="application/json")
    toml = local_toml(
        tmp_path / "o.toml",
        f'[sources.interreg_se]\nhosts = ["127.0.0.1", "localhost"]\nurl = "{httpserver.url_for("/data/rawdata")}"\n',
    )
    cfg = load_config(toml, warehouse=tmp_path / "wh.duckdb")
    files = pipeline.land(cfg, "interreg_se")
    assert len(files) == 1 and files[0].path.read_bytes() == SAMPLE.read_bytes()
    assert files[0].origin == httpserver.url_for("/data/rawdata")
    parsed = pipeline.parse(cfg, "interreg_se", files)
    assert len(parsed.tables["participations"]) == 387


def test_input_of_a_bare_json_file(cfg):
    """A landed .json data file is not mistaken for a sidecar (landing keeps working for JSON inputs)."""
    result, _ = run_refresh(cfg, "interreg_se", input_path=str(SAMPLE))
    assert result.status == "success", result.message


def _extract_rows() -> list[dict]:
    """Real rows of the sample: APRIORA's two partners (the extract's end date 2027-02-31) and the three partners
    of another project, the first of them written without its organisation's name (the extract has such rows)."""
    rows = json.loads(SAMPLE.read_bytes())
    apriora = [r for r in rows if r["projektnamn"] == "APRIORA"]
    assert len(apriora) == 2 and {r["slutdatum"] for r in apriora} == {"2027-02-31"}
    named = lambda n: [bool(r["organisationsnamn"]) for r in rows if r["projektnamn"] == n]  # noqa: E731
    name = next(r["projektnamn"] for r in rows if named(r["projektnamn"]) == [True] * 3)
    other = [dict(r) for r in rows if r["projektnamn"] == name]
    other[0]["organisationsnamn"] = None
    return apriora + other


def _tolerant(cfg):
    """cfg whose interreg_se loads a handful of rows with failures (the real tolerance is 5 % of a table)."""
    import dataclasses

    cfg.sources["interreg_se"] = dataclasses.replace(cfg.source("interreg_se"), max_quarantine_share=1.0)
    return cfg


def test_an_impossible_end_date_empties_the_field_and_keeps_the_project(cfg, tmp_path):
    """Before: APRIORA (end date 2027-02-31) was quarantined with both its partners, who vanished.  Now the
    project loads without an end date, its partners load, and the value is in quarantine once, as a field
    emptied; the data-quality report counts it.  A partner without a name (its organisation's identity)
    is still held back with its participation."""
    rows = _extract_rows()
    folder = tmp_path / "extract"
    folder.mkdir()
    (folder / "partners.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    result, _ = run_refresh(_tolerant(cfg), "interreg_se", input_path=str(folder))
    assert result.status == "success", result.message
    apriora = interreg_se.project_id("Baltic Sea Region", "Regular", "APRIORA")
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        project = con.execute("SELECT title, start_date::VARCHAR, end_date FROM projects WHERE project_id = ?",
                              [apriora]).fetchall()  # fmt: skip
        partners = {r[0] for r in con.execute(
            "SELECT o.name FROM participations pa JOIN organisations o USING (org_key) WHERE pa.project_key = ?",
            [f"interreg_se:{apriora}"]).fetchall()}  # fmt: skip
        q = con.execute("SELECT table_name, record_key, column_name, failure_value, action FROM quarantine "
                        "ORDER BY table_name, action").fetchall()  # fmt: skip
        report = con.execute("SELECT rows_quarantined, fields_nulled FROM quality_report WHERE source = 'interreg_se'").fetchone()
        loaded = con.execute("SELECT count(*) FROM participations").fetchone()[0]
    finally:
        con.close()
    assert project == [("APRIORA", "2023-06-21", None)]
    assert partners == {"Högskolan Kristianstad", "Länsstyrelsen Skåne"}
    nulled = [r for r in q if r[4] == "field_nulled"]
    assert nulled == [("projects", apriora, "end_date", "2027-02-31", "field_nulled")]
    # the nameless partner: its organisation (identity: name) and its participation are held back
    held = [r for r in q if r[4] == "row_held"]
    assert [(r[0], r[2]) for r in held] == [("organisations", "name"), ("participations", "org_id")]
    assert loaded == len(rows) - 1
    assert report == (2, 1)
    tables = result.tables
    assert tables["projects"]["quarantined"] == 0 and tables["projects"]["fields_nulled"] == 1


def test_held_and_emptied_rows_count_against_the_tolerance(cfg):
    """max_quarantine_share counts the rows held back and the rows loaded with a value emptied: a source whose
    values broke en masse (say, a new date format) fails loudly instead of loading without them."""
    from baltetl import quality

    rows = _extract_rows()[:2]  # APRIORA alone: one project, its end date emptied
    parsed = interreg_se._tables([(f"t:[{i}]", r) for i, r in enumerate(rows)],
                                 interreg_se.county_codes(str(cfg.nuts_changes)), [])  # fmt: skip
    contracts = quality.load_contracts(ROOT / "schemas", "interreg_se")
    with pytest.raises(quality.SourceRejected, match=r"projects: 0 of 1 rows quarantined and 1 loaded with a value emptied"):
        quality.validate(parsed, contracts, TABLES, 0.5, {})
    v = quality.validate(parsed, contracts, TABLES, 1.0, {})
    assert len(v.tables["projects"]) == 1 and pd.isna(v.tables["projects"]["end_date"][0])
    assert len(v.tables["participations"]) == 2
    assert list(v.quarantine["action"]) == ["field_nulled"]
