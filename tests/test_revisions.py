"""Partner revisions (baltetl.revisions): load + validate the folder, apply after resolution, persons, check CLI.

Warehouses are real builds of the bundled samples (run_refresh).  The resolution (baltetl.resolve) is built by
another module: where golden organisations are needed, `stand_in_resolution` makes them with SQL in the shared
design's shape (one golden organisation per source record, golden_id 'G-<org_key>', the pairs of revs.merges
put together) — a stand-in of the other side only; the revisions code under test is the real one.
"""

from __future__ import annotations

import shutil
import textwrap

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from baltetl import revisions
from baltetl.cli.revisions import register
from baltetl.config import load_config
from helpers.common import refresh_run, run_refresh

RIGA_KEEP = "keep:LV-60eca477d6e19d"  # City of Riga (Riga City Council), keep.eu: website = a project's site
RIGA_EUROCITIES = "eurocities:LV:riga"
RIGA_PLANNING = "keep:LV-f3825d3c8746c2"  # Riga Planning Region
IWATER = "keep:2014-2020-iwater-9019b2dad1"  # a keep.eu project of the City of Riga
HEADER = "op,target,field,value,other,author,date,reason,name,role,email,phone,consent_to_publish\n"


def stand_in_resolution(con, revs) -> None:
    """Stand-in of resolve.run: golden_organisations / organisation_sources of the shared design's shape.

    The build already ran the real resolution; these tests replace it with one golden record per source
    record ('G-<org_key>') so that what they assert does not depend on the matcher's choices.
    """
    for table in ("organisation_sources", "golden_organisations", "golden_id_history"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute("CREATE TABLE organisation_sources AS SELECT org_key, 'G-' || org_key AS golden_id, source, "
                "'stand_in' AS match_rule, 1.0::DOUBLE AS score, org_id AS source_id, country AS matched_country, "
                "NULL::VARCHAR AS country_evidence, false AS name_withheld FROM organisations")  # fmt: skip
    for a, b in revs.merges:
        con.execute("UPDATE organisation_sources SET golden_id = (SELECT golden_id FROM organisation_sources WHERE "
                    "org_key = $1) WHERE golden_id = (SELECT golden_id FROM organisation_sources WHERE org_key = $2)",
                    [a, b])  # fmt: skip
    firsts = ", ".join(f"first(o.{c} ORDER BY o.org_key) AS {c}" for c in
                       ("name", "short_name", "org_type", "activity_type", "country", "city", "nuts3", "website",
                        "metropolis_id", "assigned_by"))  # fmt: skip
    con.execute(f"CREATE TABLE golden_organisations AS SELECT s.golden_id, {firsts}, list(DISTINCT o.source) AS "
                "sources, count(*)::INTEGER AS records, false AS hidden, NULL::VARCHAR AS name_en, "
                "NULL::VARCHAR AS name_local, NULL::VARCHAR AS ror_id, NULL::VARCHAR AS wikidata_id, "
                "NULL::VARCHAR AS type_from_name, NULL::DOUBLE AS type_from_name_p, false AS name_withheld "
                "FROM organisation_sources s JOIN organisations o USING (org_key) GROUP BY s.golden_id")  # fmt: skip


@pytest.fixture(scope="module")
def sample_wh(tmp_path_factory):
    """One real multi-source warehouse (CORDIS, Eurocities, networks, keep.eu samples), copied by each test."""
    cfg = load_config(warehouse=tmp_path_factory.mktemp("rev") / "wh" / "baltmet.duckdb")
    _, results, _ = refresh_run(cfg, ["cordis", "eurocities", "networks", "keep"])  # one run, one build
    assert [r.status for r in results] == ["success"] * 4, [r.message for r in results]
    return cfg.warehouse


def _with_folder(cfg, folder, files: dict[str, str]):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    cfg.raw["paths"]["revisions"] = str(folder)
    return folder


def _build(cfg, sample_wh, tmp_path, files: dict[str, str], run_id="run-1"):
    """Load the folder, copy the warehouse, stand-in resolution, apply; -> (revs, con, counts)."""
    _with_folder(cfg, tmp_path / "revisions", files)
    revs = revisions.load(cfg)
    copy = tmp_path / f"copy-{run_id}.duckdb"
    shutil.copy(sample_wh, copy)
    con = duckdb.connect(str(copy))
    stand_in_resolution(con, revs)
    return revs, con, revisions.apply(con, cfg, revs, run_id)


def _issues(con, kind):
    return con.execute("SELECT file, line, message FROM revision_issues WHERE kind = ? ORDER BY file, line", [kind]).fetchall()


def test_revision_survives_two_refreshes(cfg, tmp_path):
    _with_folder(cfg, tmp_path / "revisions", {
        "riga.csv": HEADER + f"correct,{RIGA_KEEP},website,https://www.riga.lv/,,Riga partner,2026-11-20,project site\n",
        "projects.yaml": f"""
            - op: correct
              target: {IWATER}
              field: title
              value: Integrated storm water management (iWater)
              author: Riga partner
              date: 2026-11-20
        """,
    })  # fmt: skip
    seen = []
    for _ in range(2):  # two refreshes in a row: two fresh warehouse builds, revisions applied by each
        result, _ = run_refresh(cfg, "keep", sample=True)
        assert result.status in ("success", "unchanged")  # the second time the input is the same: a rebuild only
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            # the source value stays in organisations; the golden record carries the correction
            assert con.execute("SELECT website FROM organisations WHERE org_key = ?", [RIGA_KEEP]).fetchone()[0] == "http://www.integratedstormwater.eu/"
            golden = con.execute("SELECT golden_id FROM organisation_sources WHERE org_key = ?", [RIGA_KEEP]).fetchone()[0]
            assert con.execute("SELECT website FROM golden_organisations WHERE golden_id = ?", [golden]).fetchone()[0] == "https://www.riga.lv/"
            assert con.execute("SELECT title FROM projects WHERE project_key = ?", [IWATER]).fetchone()[0] == "Integrated storm water management (iWater)"
            assert con.execute("SELECT count(*) FROM revision_issues").fetchone()[0] == 0
            seen.append(con.execute("SELECT before, after, author FROM revisions_applied WHERE field = 'website'").fetchall())
        finally:
            con.close()
    # the same correction both times, over the golden record's own value (from the matched sources)
    assert len(seen[0]) == 1 and seen[0] == seen[1]
    assert seen[0][0][1:] == ("https://www.riga.lv/", "Riga partner") and seen[0][0][0] != "https://www.riga.lv/"


def test_invalid_rows_reported_with_file_and_line_rest_applies(cfg, sample_wh, tmp_path):
    revs, con, counts = _build(cfg, sample_wh, tmp_path, {
        "a.csv": HEADER
        + "corect,keep:LV-60eca477d6e19d,website,https://www.riga.lv/,,Riga partner,2026-11-20,typo in op\n"  # 2
        + "correct,,website,https://www.riga.lv/,,Riga partner,2026-11-20,no target\n"  # 3
        + f"correct,{RIGA_KEEP},website,https://www.riga.lv/,,Riga partner,2026-13-01,no such month\n"  # 4
        + f"add_person,{RIGA_KEEP},,,,Riga partner,2026-11-20,,Anna Bad,officer,anna(at)riga.lv,,yes\n"  # 5
        + f"add_person,{RIGA_KEEP},,,,Riga partner,2026-11-20,,Ben Maybe,officer,ben@example.org,,maybe\n"  # 6
        + f"correct,{RIGA_KEEP},website,https://www.riga.lv/,,Riga partner,2026-11-20,the good row\n",  # 7
        "b.yaml": """
            - op: hide
              target: keep:LV-f3825d3c8746c2
              author: Riga partner
              date: 2026-11-20
            - op: merge
              target: eurocities:LV:riga
              author: Riga partner
              date: 20.11.2026
        """,
    })  # fmt: skip
    got = {(i.file, i.line): i.message for i in revs.invalid}
    assert set(got) == {("a.csv", 2), ("a.csv", 3), ("a.csv", 4), ("a.csv", 5), ("a.csv", 6), ("b.yaml", 5)}, got
    assert "unknown op 'corect'" in got[("a.csv", 2)]
    assert got[("a.csv", 3)] == "target is missing"
    assert "not a real day" in got[("a.csv", 4)]
    assert "not an e-mail address" in got[("a.csv", 5)]
    assert "write yes or no" in got[("a.csv", 6)]
    assert len(_issues(con, "invalid")) >= 6
    # the rest still applies: the good correction and the hide
    assert con.execute("SELECT website FROM golden_organisations WHERE golden_id = ?", ["G-" + RIGA_KEEP]).fetchone()[0] == "https://www.riga.lv/"
    assert con.execute("SELECT hidden FROM golden_organisations WHERE golden_id = ?", ["G-" + RIGA_PLANNING]).fetchone()[0] is True
    assert con.execute("SELECT count(*) FROM revisions").fetchone()[0] == 8  # every row kept, valid or not
    assert con.execute("SELECT count(*) FROM revisions WHERE NOT valid").fetchone()[0] == 6
    assert con.execute("SELECT count(*) FROM persons").fetchone()[0] == 0


def test_stale_target_reported_and_kept(cfg, sample_wh, tmp_path):
    revs, con, counts = _build(cfg, sample_wh, tmp_path, {
        "stale.csv": HEADER
        + "correct,keep:LV-000000dropped,website,https://example.org/,,Riga partner,2026-11-20,gone from keep.eu\n"
        + f"link,{RIGA_EUROCITIES},,,keep:2014-2020-nosuchproject,Riga partner,2026-11-20,\n"
        + f"link,{RIGA_EUROCITIES},,,{IWATER},Riga partner,2026-11-20,\n"
        + f"correct,{IWATER},end_date,next year,,Riga partner,2026-11-20,\n"
        + f"correct,{RIGA_KEEP},colour,red,,Riga partner,2026-11-20,\n"
        + f"hide,{IWATER},,,,Riga partner,2026-11-20,\n",
    })  # fmt: skip
    assert counts["stale_target"] == 2
    # rows valid as written, but wrong for their target: invalid at apply, with file and line
    assert [(line, m.split(":")[0]) for _, line, m in _issues(con, "invalid")] == [
        (5, "end_date 'next year' is not a valid date"), (6, "an organisation has no field 'colour' that may be corrected; the fields are")]
    assert con.execute("SELECT hidden FROM projects WHERE project_key = ?", [IWATER]).fetchone()[0] is True
    assert con.execute("SELECT count(*) FROM projects WHERE hidden").fetchone()[0] == 1
    stale = _issues(con, "stale_target")
    assert [(f, line) for f, line, _ in stale] == [("stale.csv", 2), ("stale.csv", 3)]
    assert "keep:LV-000000dropped" in stale[0][2] and "keep:2014-2020-nosuchproject" in stale[1][2]
    assert con.execute("SELECT count(*) FROM revisions WHERE target = 'keep:LV-000000dropped'").fetchone()[0] == 1
    # the valid link is added: Eurocities' Riga record now takes part in iWater
    assert con.execute("SELECT source, role FROM participations WHERE project_key = ? AND org_key = ?",
                       [IWATER, RIGA_EUROCITIES]).fetchall() == [("revisions", "participant")]  # fmt: skip
    # the check finds the same against the (read-only) warehouse
    assert [i.kind for i in revisions.check_targets(con, revs)] == ["stale_target", "stale_target"]


def test_conflicts_reported(cfg, sample_wh, tmp_path):
    revs, con, counts = _build(cfg, sample_wh, tmp_path, {
        "riga.csv": HEADER
        # the same field of the same organisation, named by source record and by golden id, the same day
        + f"correct,{RIGA_KEEP},website,https://www.riga.lv/,,Riga partner,2026-11-20,\n"
        + f"correct,G-{RIGA_KEEP},website,https://www.riga.lv/en/,,Riga partner,2026-11-20,\n"
        # a later date wins over an earlier one
        + f"correct,{RIGA_EUROCITIES},name,Rīga,,Riga partner,2026-11-01,\n"
        + f"correct,{RIGA_EUROCITIES},name,City of Riga,,Riga partner,2026-11-21,\n"
        # merge and keep_apart of one pair
        + f"merge,{RIGA_EUROCITIES},,,{RIGA_PLANNING},Riga partner,2026-11-20,\n",
        "other.yaml": f"""
            - op: keep_apart
              target: {RIGA_PLANNING}
              other: {RIGA_EUROCITIES}
              author: Another partner
              date: 2026-11-22
        """,
    })  # fmt: skip
    conflicts = _issues(con, "conflict")
    assert [(f, line) for f, line, _ in conflicts] == [("other.yaml", 1), ("riga.csv", 2), ("riga.csv", 3),
                                                        ("riga.csv", 4), ("riga.csv", 5), ("riga.csv", 6)]  # fmt: skip
    # same day, different values: neither applied, the source value stays
    assert con.execute("SELECT website FROM golden_organisations WHERE golden_id = ?", ["G-" + RIGA_KEEP]).fetchone()[0] == "http://www.integratedstormwater.eu/"
    assert con.execute("SELECT name FROM golden_organisations WHERE golden_id = ?", ["G-" + RIGA_EUROCITIES]).fetchone()[0] == "City of Riga"
    # merge vs keep_apart: not handed to the resolution as a merge, kept apart
    assert revs.merges == [] and revs.keep_apart == [(RIGA_PLANNING, RIGA_EUROCITIES)]
    assert con.execute("SELECT count(DISTINCT golden_id) FROM organisation_sources WHERE org_key IN (?, ?)",
                       [RIGA_EUROCITIES, RIGA_PLANNING]).fetchone()[0] == 2  # fmt: skip
    assert con.execute("SELECT count(*) FROM revisions").fetchone()[0] == 6  # all kept


def test_merge_and_keep_apart_exposed_for_resolution(cfg, sample_wh, tmp_path):
    revs, con, counts = _build(cfg, sample_wh, tmp_path, {
        "riga.csv": HEADER
        + f"merge,{RIGA_EUROCITIES},,,{RIGA_KEEP},Riga partner,2026-11-20,the same city\n"
        + f"merge,{RIGA_EUROCITIES},,,networks:LV:RIGA,Riga partner,2026-11-20,the same city\n"
        + f"keep_apart,{RIGA_KEEP},,,networks:LV:RIGA,Riga partner,2026-11-20,contradicts the merges\n",
    })  # fmt: skip
    assert revs.merges == [(RIGA_EUROCITIES, RIGA_KEEP), (RIGA_EUROCITIES, "networks:LV:RIGA")]
    assert revs.keep_apart == [(RIGA_KEEP, "networks:LV:RIGA")]
    # the resolution (stand-in) honoured the merges: recorded; the keep_apart it could not honour: a conflict
    assert con.execute("SELECT after FROM revisions_applied WHERE op = 'merge'").fetchall() == [("G-" + RIGA_EUROCITIES,)] * 2
    assert [(f, line) for f, line, _ in _issues(con, "conflict")] == [("riga.csv", 4)]


def test_person_without_consent_never_public(cfg, sample_wh, tmp_path):
    revs, con, counts = _build(cfg, sample_wh, tmp_path, {
        "persons.yaml": f"""
            - op: add_person
              target: {RIGA_EUROCITIES}
              name: Zelma Noconsent
              role: International relations
              email: zelma.noconsent@example.org
              phone: "+371 6700 0000"
              consent_to_publish: no
              author: Riga partner
              date: 2026-11-20
            - op: add_person
              target: G-{RIGA_KEEP}
              name: Ivars Consent
              role: Project manager
              email: ivars.consent@example.org
              consent_to_publish: yes
              author: Riga partner
              date: 2026-11-20
            - op: add_person
              target: {RIGA_PLANNING}
              name: Hidden Org Person
              email: hidden.org@example.org
              consent_to_publish: yes
              author: Riga partner
              date: 2026-11-20
            - op: hide
              target: {RIGA_PLANNING}
              author: Riga partner
              date: 2026-11-20
              reason: not a partner of the database
        """,
    })  # fmt: skip
    assert counts["invalid"] == 0
    persons = con.execute("SELECT name, consent_to_publish, golden_id FROM persons ORDER BY name").fetchall()
    assert persons == [("Hidden Org Person", True, "G-" + RIGA_PLANNING), ("Ivars Consent", True, "G-" + RIGA_KEEP),
                       ("Zelma Noconsent", False, "G-" + RIGA_EUROCITIES)]  # fmt: skip
    assert con.execute("SELECT name, email, organisation FROM public_persons").fetchall() == [
        ("Ivars Consent", "ivars.consent@example.org", "City of Riga (Riga City Council)")]
    cols = [r[0] for r in con.execute("DESCRIBE public_persons").fetchall()]
    assert "consent_to_publish" not in cols and "revision_id" not in cols and "org_key" not in cols
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal AND view_name LIKE 'public\\_%' ESCAPE '\\'").fetchall()]
    assert "public_persons" in views
    for view in views:  # nothing of the person without consent in any public view, in any column
        text = " ".join(str(v) for row in con.execute(f"SELECT * FROM {view}").fetchall() for v in row)
        for secret in ("Zelma", "Noconsent", "zelma.noconsent@example.org", "6700 0000", "Hidden Org Person"):
            assert secret not in text, (view, secret)


def test_consent_withdrawn_by_a_later_row(cfg, sample_wh, tmp_path):
    row = "add_person,{t},,,,Riga partner,{d},,Ivars Consent,officer,ivars@example.org,,{c}\n"
    revs, con, counts = _build(cfg, sample_wh, tmp_path, {
        "p.csv": HEADER + row.format(t=RIGA_KEEP, d="2026-01-10", c="yes") + row.format(t=RIGA_KEEP, d="2026-11-20", c="no"),
    })  # fmt: skip
    assert con.execute("SELECT consent_to_publish FROM persons").fetchall() == [(False,)]
    assert con.execute("SELECT count(*) FROM public_persons").fetchone()[0] == 0


def test_shipped_examples_are_valid_and_apply(sample_wh, tmp_path):
    cfg = load_config(warehouse=sample_wh)
    revs = revisions.load(cfg, cfg.project_dir / "revisions" / "examples")
    assert {o.file for o in revs.operations} == {"example-riga.csv", "example-helsinki.yaml"}
    assert revs.issues == [] and all(o.valid for o in revs.operations)
    with duckdb.connect(str(sample_wh), read_only=True) as ro:
        assert revisions.check_targets(ro, revs) == []  # every target is a real record of the samples
    copy = tmp_path / "copy.duckdb"
    shutil.copy(sample_wh, copy)
    con = duckdb.connect(str(copy))
    stand_in_resolution(con, revs)
    counts = revisions.apply(con, cfg, revs, "run-x")
    assert counts == {"operations": 11, "applied": 11, "invalid": 0, "stale_target": 0, "conflict": 0, "unmatched": 0}
    # CORDIS' "HELSINGIN" corrected: the City of Helsinki is now placed in Helsinki too
    assert con.execute("SELECT city, metropolis_id FROM golden_organisations WHERE golden_id = 'G-cordis:997664207'").fetchone() == ("Helsinki", "helsinki")
    assert con.execute("SELECT name, country, metropolis_id, sources FROM golden_organisations WHERE golden_id = 'revisions:helsinki-partners'").fetchone() == (
        "Helsinki Partners", "FI", "helsinki", ["revisions"])


def test_check_command_exit_codes(tmp_path, sample_wh):
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    good = tmp_path / "good"
    good.mkdir()
    (good / "riga.csv").write_text(HEADER + f"correct,{RIGA_KEEP},website,https://www.riga.lv/,,Riga partner,2026-11-20,\n"
                                   + "correct,keep:LV-000000dropped,website,https://example.org/,,Riga partner,2026-11-20,\n")  # fmt: skip
    nowh = ["--warehouse", str(tmp_path / "none.duckdb")]
    r = runner.invoke(app, ["revisions", "check", "--dir", str(good), *nowh])
    assert r.exit_code == 0, r.output
    assert "0 invalid" in r.output and "targets not checked" in r.output
    # against a warehouse: the stale target is reported, but the files are valid: still 0
    r = runner.invoke(app, ["revisions", "check", "--dir", str(good), "--warehouse", str(sample_wh)])
    assert r.exit_code == 0, r.output
    assert f"{good / 'riga.csv'}:3: stale_target" in r.output and "1 stale targets" in r.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("- op: add_person\n  target: eurocities:LV:riga\n  name: A B\n  consent_to_publish: perhaps\n"
                                "  author: me\n  date: 2026-11-20\n")  # fmt: skip
    r = runner.invoke(app, ["revisions", "check", "--dir", str(bad), *nowh])
    assert r.exit_code == 1, r.output
    assert f"{bad / 'x.yaml'}:1: invalid: consent_to_publish is 'perhaps'" in r.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "y.yaml").write_text("- op: hide\n  target: [unclosed\n")
    r = runner.invoke(app, ["revisions", "check", "--dir", str(broken), *nowh])
    assert r.exit_code == 1 and "not readable as YAML" in r.output


def test_spreadsheet_csv_dialects(cfg, tmp_path):
    """Semicolons (spreadsheets in many locales), a UTF-8 BOM, comment and blank rows, a misspelt column."""
    folder = tmp_path / "revisions"
    folder.mkdir()
    (folder / "excel.csv").write_bytes("\ufeffOp;Target;Field;Value;Author;Date;Reason;Emial\r\n"
                                       "# op;comment row;;;;;;\r\n"
                                       ";;;;;;;\r\n"
                                       f"correct;{RIGA_KEEP};website;https://www.riga.lv/;Rīgas partneris;2026-11-20;\"a; b\";x\r\n"
                                       .encode("utf-8"))  # fmt: skip
    revs = revisions.load(cfg, folder)
    assert [(o.op, o.target, o.value, o.author, o.reason, o.line) for o in revs.operations] == [
        ("correct", RIGA_KEEP, "https://www.riga.lv/", "Rīgas partneris", "a; b", 4)]
    assert revs.operations[0].valid
    assert [(i.kind, i.line) for i in revs.issues] == [("invalid", 1)] and "'emial'" in revs.issues[0].message
    assert revisions.load(cfg, tmp_path / "absent").operations == []  # no folder: nothing to apply
