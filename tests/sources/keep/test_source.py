"""keep.eu: the partner exports (CSV, processed CSV.gz, XLSX) and the JSON API client.

Main behaviour on the bundled real sample (src/baltetl/sources/keep/sample/keep/, cut from the 2019 exports: see
tests/sources/keep/test_sample.py); the API client against a local server with hand-made JSON
(tests/fixtures/keep/api/, see tests/fixtures/README.md); the full real files when ../shared/data is there.
"""

from __future__ import annotations

import gzip

import duckdb
import openpyxl
import pytest

from helpers.common import ROOT, SHARED, landed, local_source, need_shared, run_refresh

from baltetl import pipeline
from baltetl.types import SourceContext
from baltetl import normalise
from baltetl.sources.keep import source as keep

SAMPLE_DIR = ROOT / "src" / "baltetl" / "sources" / "keep" / "sample" / "keep"
EXPORT_CUT = SAMPLE_DIR / "keep_closed_2014-2020_partnership_export_2019_bsr-cut.csv"
PROCESSED_CUT = SAMPLE_DIR / "keep_closed_2000-2020_partners_with_ids_2019_bsr-cut.csv.gz"
API = ROOT / "tests" / "fixtures" / "keep" / "api"
FULL_EXPORT = SHARED / "keep" / "keep_closed_2014-2020_partnership_export_2019.csv"
FULL_PROCESSED = SHARED / "keep" / "keep_closed_2000-2020_partners_with_ids_2019.csv.gz"


def ctx(cfg):
    return SourceContext(cfg, cfg.source("keep"))


# ------------------------------------------------------------------------------------------ normalisation


def test_normalisation_of_the_exports_quirks():
    assert keep.country_of("LV Latvia / LATVIJA") == ("LV", "LV")
    assert keep.country_of("UK United Kingdom / UNITED KINGDOM") == ("GB", "UK")
    assert keep.country_of("EL Greece / ΕΛΛΑΔΑ (ELLADA)") == ("GR", "EL")
    assert keep.country_of("RS  / Serbia", "Romania") == ("RS", "RS")  # the code wins over `Country`
    assert keep.country_of(" / Serbia") == ("RS", "/ Serbia")  # no code: the English name
    assert keep.country_of("", "Finland", "FI200") == ("FI", None)
    assert normalise.nuts3("LV006  / Rīga", sep="/") == "LV006"
    assert normalise.nuts3("LV00  / Latvija", sep="/") is None and normalise.nuts3("", sep="/") is None
    assert normalise.postcode("LV\u20131539", "LV", "LV") == "1539"
    assert normalise.postcode("LV- 1010", "LV", "LV") == "1010"
    assert normalise.postcode("IT-38122", "IT", "IT") == "38122"
    assert normalise.postcode("LV 1586", "LV", "LV") == "1586"
    assert normalise.postcode("LV3466", "LV", "LV") == "3466"
    assert normalise.postcode("581 86", "SE", "SE") == "581 86"
    assert normalise.postcode("9743AK", "NL", "NL") == "9743AK"
    assert normalise.postcode("05\u2013090", "PL", "PL") == "05-090"
    # en dash periods and spacing do not change a project's key; acronyms repeat across programmes
    a = keep.project_key("2007 \u2013 2013 Baltic Sea Region", "BaltMet Promo")
    assert a == keep.project_key("2007 - 2013  Baltic Sea Region", "BaltMet  Promo")
    assert a.startswith("2007-2013-baltmet-promo-")
    assert a != keep.project_key("2007 - 2013 Central Baltic (FI-SE-EE-LA)", "BaltMet Promo")
    # one organisation whatever the postcode's dash or prefix; another at another address
    o = keep.org_key("Riga City Council", "LV", normalise.postcode("LV–1539", "LV", "LV"), "Riga")
    assert o == keep.org_key("RIGA CITY COUNCIL", "LV", normalise.postcode("LV-1539", "LV", "LV"), "Rīga")
    assert o != keep.org_key("Riga City Council", "LV", "1050", "Riga") and o.startswith("LV-")


# ------------------------------------------------------------------------------------------ CSV exports


def test_parse_export_cut_byte_exact_refs_and_every_row(cfg):
    parsed = keep.parse(ctx(cfg), [landed(EXPORT_CUT)])
    pa, pj, orgs = (parsed.tables[t] for t in ("participations", "projects", "organisations"))
    assert len(pa) + len(parsed.rejects) == 417 and not parsed.rejects
    # record_ref = file:first physical line; a multi-line Department and CRLF/LF lines do not shift it
    lines = EXPORT_CUT.read_bytes().split(b"\n")
    row = pa[pa["record_ref"].str.endswith(":1")]
    assert row.empty
    lbc = pa[pa["project_id"] == keep.project_key(
        "2014 - 2020 INTERREG V-A Finland - Estonia - Latvia - Sweden (Central Baltic)", "Live Baltic Campus")]  # fmt: skip
    assert lbc["ord"].tolist() == list(range(1, len(lbc) + 1))
    for ref in lbc["record_ref"]:
        n = int(ref.rsplit(":", 1)[1])
        assert b";Live Baltic Campus;" in lines[n - 1]
    assert (lbc["role"] == "coordinator").sum() == 1
    assert set(pj["framework_programme"]) == {"INTERREG"} and set(pj["period"]) == {"2014-2020"}
    assert pj["project_id"].is_unique and orgs["org_id"].is_unique
    riga = pa[pa["post_code_source"].fillna("").str.startswith("LV")]
    assert len(riga) > 10 and not riga["post_code"].str.startswith("LV").any()
    assert {"LV", "FI", "EE", "SE"} <= set(pa["country"])
    assert pa["nuts3"].dropna().str.fullmatch(r"[A-Z]{2}[0-9A-Z]{3}").all()
    assert set(orgs["legal_status"].dropna()) <= {"public", "private"}


def test_parse_processed_cut_en_dash_and_r_names(cfg):
    parsed = keep.parse(ctx(cfg), [landed(PROCESSED_CUT)])
    pa, pj = parsed.tables["participations"], parsed.tables["projects"]
    assert len(pa) + len(parsed.rejects) == len(_processed_records()) == 1759
    assert pa["source_partner_id"].notna().mean() > 0.5  # the thesis author's ID_PARTNER is kept
    assert not pj["programme"].str.contains("\u2013").any()
    promo = pj[pj["acronym"] == "BaltMet Promo"]
    assert len(promo) == 1 and promo.iloc[0]["programme"] == "2007 - 2013 Baltic Sea Region"
    assert promo.iloc[0]["partners"] == 9


def test_a_project_in_two_inputs_is_taken_once(cfg, tmp_path):
    """The processed file repeats projects of the export: the export's rows win, the others are quarantined."""
    recs = EXPORT_CUT.read_bytes().splitlines(keepends=True)
    header = "Programme,Acronym,Project.Partner,Lead.Partner,Street,Postal.code,Town,Country,Website,Department,Legal.Status,Country.code,NUTS1..or.equivalent.,NUTS2..or.equivalent.,NUTS3..or.equivalent.,Join,ID_PARTICIPATION,ID_PARTNER\n"
    import csv
    import io

    first = next(csv.reader(io.StringIO(recs[1].decode()), delimiter=";"))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(first + ["j", "p1", "P1"])
    proc = tmp_path / "processed.csv.gz"
    proc.write_bytes(gzip.compress((header + buf.getvalue()).encode()))
    parsed = keep.parse(ctx(cfg), [landed(proc), landed(EXPORT_CUT)])
    assert [r.check for r in parsed.rejects] == ["project_in_other_input"]
    assert parsed.rejects[0].record_ref.startswith("processed.csv.gz!processed.csv:2")
    assert len(parsed.tables["participations"]) == 417


def test_xlsx_search_export_from_real_rows(cfg, tmp_path):
    """keep.eu's XLSX search export: partners on 'Search results, partners' (older) or the 3rd sheet."""
    import csv
    import io

    text = EXPORT_CUT.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header, body = rows[0], rows[1:41]
    for named in (True, False):
        wb = openpyxl.Workbook()
        wb.active.title = "Search criteria"
        wb.create_sheet("Search results, projects" if named else "Sheet2").append(["Programme", "Acronym"])
        ws = wb.create_sheet("Search results, partners" if named else "Sheet3")
        ws.append(["keep.eu search export"])  # a title row above the header
        ws.append(header)
        for r in body:  # postcodes of digits only as numbers, as a spreadsheet stores them
            ws.append([int(v) if i == 5 and v.isdigit() and not v.startswith("0") else v for i, v in enumerate(r)])
        path = tmp_path / f"keep-search-{named}.xlsx"
        wb.save(path)
        parsed = keep.parse(ctx(cfg), [landed(path)])
        pa = parsed.tables["participations"]
        assert len(pa) == 40 and not parsed.rejects
        assert pa["record_ref"].iloc[0] == f"{path.name}!{ws.title}:3"
        csv_pa = keep.parse(ctx(cfg), [landed(EXPORT_CUT)]).tables["participations"].head(40)
        assert pa["org_id"].tolist() == csv_pa["org_id"].tolist()  # same keys as from the CSV
        assert pa["post_code"].tolist() == csv_pa["post_code"].tolist()


def test_not_a_keep_file_fails_loudly(cfg, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a;b;c\n1;2;3\n")
    with pytest.raises(keep.StructureChanged, match="Project Partner"):
        keep.parse(ctx(cfg), [landed(bad)])


# ------------------------------------------------------------------------------------------ sample -> warehouse


def test_sample_refresh_baltmet_projects_in_metropolises(cfg):
    result, counts = run_refresh(cfg, "keep", sample=True)
    assert result.status == "success", result.message
    for t, rep in result.tables.items():
        assert rep["read"] == rep["loaded"] + rep["quarantined"], t
    n_records = 417 + sum(1 for _ in _processed_records())
    assert result.tables["participations"]["read"] == n_records
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM quarantine WHERE source = 'keep'").fetchone()[0] == result.rows_quarantined
        rows = con.execute(
            "SELECT p.acronym, p.programme, pa.role, pa.city, pa.metropolis_id FROM projects p "
            "JOIN participations pa USING (project_key) WHERE p.acronym IN ('BaltMet Inno', 'BaltMet Promo', 'BALTMET INVEST')"
        ).fetchall()  # fmt: skip
        by = {}
        for acr, prog, role, city, metro in rows:
            by.setdefault(acr, []).append((role, city, metro))
        assert set(by) == {"BaltMet Inno", "BaltMet Promo", "BALTMET INVEST"}
        assert [m for _, _, m in by["BaltMet Inno"]] == ["helsinki"]
        assert [m for _, _, m in by["BALTMET INVEST"]] == ["riga"]
        promo = by["BaltMet Promo"]
        assert len(promo) == 9 and all(m is not None for _, _, m in promo)
        assert {m for _, _, m in promo} == {"helsinki", "riga", "copenhagen", "berlin", "warsaw", "vilnius"}
        assert [r for r, _, _ in promo].count("coordinator") == 1
        lineage = con.execute(
            "SELECT count(*), count(source_file) FROM source_records WHERE source = 'keep'").fetchone()  # fmt: skip
        assert lineage[0] == lineage[1] > 0  # every staged record traces to the landed zip
        metros = {r[0] for r in con.execute(
            "SELECT DISTINCT metropolis_id FROM participations WHERE source = 'keep' AND metropolis_id IS NOT NULL").fetchall()}  # fmt: skip
        assert {"helsinki", "riga", "tallinn", "stockholm", "berlin", "copenhagen", "vilnius", "warsaw", "gdansk"} <= metros
    finally:
        con.close()


def _processed_records():
    import csv
    import io

    text = gzip.decompress(PROCESSED_CUT.read_bytes()).decode()
    return list(csv.reader(io.StringIO(text, newline="")))[1:]


# ------------------------------------------------------------------------------------------ full real files


@pytest.mark.parametrize(
    ("path", "read", "quarantined"),
    [(FULL_EXPORT, 8428, 2), (FULL_PROCESSED, 29931, 12)],
    ids=["export-2014-2020", "processed-2000-2020"],
)
def test_full_files_every_row_loaded_or_quarantined(cfg, path, read, quarantined):
    need_shared(path)
    result, _ = run_refresh(cfg, "keep", input_path=str(path))
    assert result.status == "success", result.message
    pa = result.tables["participations"]
    assert pa["read"] == read and pa["loaded"] + pa["quarantined"] == read
    # export: 2 partners listed twice in a project (VASAB in Baltic LINes, Rahmenpartner in MIND);
    # processed: 12 partners listed twice in a project
    assert pa["quarantined"] == quarantined


# ------------------------------------------------------------------------------------------ API fetch


def serve_api(server, *, missing=("30003",)):
    server.expect_request("/robots.txt").respond_with_data((API / "robots.txt").read_text())
    for n in (1, 2, 3):
        server.expect_request("/api/search/projects/", query_string=f"page={n}").respond_with_data(
            (API / f"search-page-{n}.json").read_bytes(), content_type="application/json")  # fmt: skip
    for p in API.glob("project-*.json"):
        keep_id = p.stem.split("-")[1]
        server.expect_request(f"/api/project/{keep_id}/").respond_with_data(p.read_bytes(), content_type="application/json")
    for keep_id in missing:
        server.expect_request(f"/api/project/{keep_id}/").respond_with_data("not found", status=404)


def api_config(tmp_path, base: str, extra: str = "") -> object:
    return local_source(tmp_path, "keep", f'api_base = "{base}"\n{extra}', warehouse=tmp_path / "wh.duckdb")


def test_api_fetch_paginates_lands_and_parses(httpserver, tmp_path):
    serve_api(httpserver)
    cfg = api_config(tmp_path, httpserver.url_for("").rstrip("/"))
    files = pipeline.land(cfg, "keep")
    paths = [q.path + ("?" + q.query_string.decode() if q.query_string else "") for q, _ in httpserver.log]
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1
    assert paths[1:] == ["/api/search/projects/?page=1", "/api/search/projects/?page=2", "/api/search/projects/?page=3",
                         "/api/project/30001/", "/api/project/30002/", "/api/project/30003/"]  # fmt: skip
    assert len(files) == 5  # 3 index pages + 2 projects (30003 answered 404)
    parsed = pipeline.parse(cfg, "keep", files)
    pj = parsed.tables["projects"].set_index("project_id")
    assert sorted(pj.index) == ["30001", "30002", "30003"]  # the keep id; 30003 from its index entry
    assert pj.loc["30001", "acronym"] == "BSR-MetroLink" and pj.loc["30001", "programme"] == "2021 - 2027 Interreg Baltic Sea Region"
    assert pj.loc["30003", "partners"] == 0 and pj.loc["30003", "title"] == "A project whose page answers 404"
    pa = parsed.tables["participations"]
    p1 = pa[pa["project_id"] == "30001"]
    assert p1["role"].tolist() == ["coordinator"] + ["participant"] * 4 and p1["ord"].tolist() == [1, 2, 3, 4, 5]
    riga = p1[p1["country"] == "LV"].iloc[0]
    assert riga["post_code"] == "1539" and riga["city"] == "Rīga"
    orgs = parsed.tables["organisations"].set_index("name")
    assert orgs.loc["Helsingin kaupunki", "name_en"] == "City of Helsinki" and orgs.loc["Helsingin kaupunki", "pic"] == "999876543"
    result = pipeline.stage(cfg, "keep", parsed, files, pipeline.new_run_id(), 0.0, log=lambda m: None)
    assert result.status == "success" and result.rows_quarantined == 0
    pipeline.build(cfg, pipeline.new_run_id(), log=lambda m: None)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        got = dict(con.execute(
            "SELECT o.name, o.metropolis_id FROM organisations o WHERE source = 'keep'").fetchall())  # fmt: skip
        assert got["Helsingin kaupunki"] == "helsinki" and got["Rīgas valstspilsētas pašvaldība"] == "riga"
        assert got["KTH Royal Institute of Technology"] == "stockholm" and got["Turun Satama Oy"] is None
        ongoing = {r[0] for r in con.execute("SELECT project_id FROM ongoing_projects WHERE source = 'keep'").fetchall()}
        assert ongoing == {"30001"}  # 30002 ended 2026-08-31; 30003 has no partner
    finally:
        con.close()


def test_api_max_pages_and_robots(httpserver, tmp_path):
    serve_api(httpserver)
    cfg = api_config(tmp_path, httpserver.url_for("").rstrip("/"), "max_pages = 1")
    files = pipeline.land(cfg, "keep")
    assert len(files) == 3  # page 1 and its two projects
    assert not any("page=2" in (q.query_string or b"").decode() for q, _ in httpserver.log)
    # robots.txt is obeyed: a disallowed base path is never requested
    cfg = api_config(tmp_path, httpserver.url_for("/api/private").rstrip("/"))
    before = len(httpserver.log)
    with pytest.raises(Exception, match="robots.txt"):
        pipeline.land(cfg, "keep")
    assert all(not q.path.startswith("/api/private") for q, _ in httpserver.log[before:])


def test_modes_switch_exports_and_api(httpserver, tmp_path):
    serve_api(httpserver)
    httpserver.expect_request("/exports/bsr.csv").respond_with_data(EXPORT_CUT.read_bytes(), content_type="text/csv")
    url = httpserver.url_for("/exports/bsr.csv")
    base = httpserver.url_for("").rstrip("/")
    cfg = api_config(tmp_path, base, f'modes = ["exports"]\nexports = [{{ name = "bsr", url = "{url}" }}]')
    files = pipeline.land(cfg, "keep")
    assert [f.name for f in files] == ["bsr"] and not any(q.path.startswith("/api/") for q, _ in httpserver.log)
    assert len(pipeline.parse(cfg, "keep", files).tables["participations"]) == 417
    (tmp_path / "b").mkdir()
    cfg = api_config(tmp_path / "b", base, f'modes = ["exports", "api"]\nexports = [{{ name = "bsr", url = "{url}" }}]')
    files = pipeline.land(cfg, "keep")
    parsed = pipeline.parse(cfg, "keep", files)
    assert len(parsed.tables["projects"]) == 3 + len(keep.parse(SourceContext(cfg, cfg.source("keep")), [landed(EXPORT_CUT)]).tables["projects"])
    (tmp_path / "c").mkdir()
    cfg = api_config(tmp_path / "c", base, 'modes = ["exports"]')
    with pytest.raises(ValueError, match="no \\[\\[sources.keep.exports\\]\\]"):
        pipeline.land(cfg, "keep")
