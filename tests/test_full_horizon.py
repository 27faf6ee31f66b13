"""The complete Horizon Europe XML edition and the real CSV rows (../shared/data; skipped when absent)."""

import duckdb
import pytest

from helpers.common import CSV_EXCERPT, SHARED, need_shared, run_refresh

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def full(full_warehouse):
    """The session's full real warehouse; CORDIS rows are those of source 'cordis'."""
    cfg, results, counts = full_warehouse
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    yield cfg, results["cordis"], counts, con
    con.close()


def test_all_projects_and_participations_accounted_for(full):
    _, result, counts, _ = full
    assert result.status == "success", result.message
    t = result.tables
    assert t["projects"]["read"] == 19189
    assert t["participations"]["read"] == 119242
    for name, rep in t.items():
        assert rep["loaded"] + rep["quarantined"] == rep["read"], name
    con = full[3]
    for table in ("projects", "participations", "organisations"):
        n = con.execute(f"SELECT count(*) FROM {table} WHERE source = 'cordis'").fetchone()[0]
        assert n == t[table]["loaded"], table
    assert t["projects"]["loaded"] == 19189  # nothing in the real export breaks the contract
    assert t["participations"]["loaded"] == 119242
    assert t["organisations"]["read"] == 30721


def test_values_as_format_md_counts_them(full):
    con = full[3]
    assert con.execute("SELECT count(*) FROM projects WHERE source = 'cordis' AND total_cost IS NULL").fetchone()[0] == 9382  # 0 = not reported
    roles = dict(con.execute("SELECT role, count(*) FROM participations WHERE source = 'cordis' GROUP BY 1").fetchall())
    assert roles == {"participant": 74877, "associatedPartner": 20052, "coordinator": 19189, "thirdParty": 5124}
    countries = dict(con.execute("SELECT country_source, count(*) FROM participations WHERE source = 'cordis' AND country_source IN ('EL','UK') GROUP BY 1").fetchall())
    assert countries == {"EL": 5224, "UK": 5855}
    assert con.execute("SELECT count(*) FROM participations WHERE source = 'cordis' AND country IN ('EL', 'UK')").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM organisations WHERE source = 'cordis' AND name LIKE '%\"\"%'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM organisations WHERE name LIKE '%\"DEMOKRITOS\"%'").fetchone()[0] >= 1


def test_participations_in_a_metropolis_fua_are_assigned(full):
    """≥ 98.5 % of participations whose NUTS3 region lies wholly in a metropolis' FUA are assigned to it (the
    rest carry a postcode elsewhere: Norrköping, Lysekil with Stockholm's SE110; the address decides).

    Independent of the pipeline's geography: from Eurostat's full LAU table, a NUTS3 region lies in a FUA when
    every municipality of it does.  (A region only mostly inside, such as Helsinki-Uusimaa, decides nothing:
    its towns outside the urban area are not the metropolis.)
    """
    lau = need_shared(SHARED / "geo" / "eurostat_lau2019_nuts2016_city_fua.csv.gz")
    cfg, _, _, con = full
    fuas = {m.fua: m.id for m in cfg.metropolises if m.fua}
    ref = duckdb.connect()
    rows = ref.execute(f"""
        WITH l AS (SELECT * FROM read_csv('{lau}', all_varchar=true)),
             r AS (SELECT code_2016, count(*) n, count(*) FILTER (WHERE fua_id IN {tuple(fuas)}) k,
                          any_value(fua_id) FILTER (WHERE fua_id IN {tuple(fuas)}) f FROM l GROUP BY 1)
        SELECT f, code_2016 FROM r WHERE n = k""").fetchall()
    expected = {code: fuas[fua] for fua, code in rows}
    got = con.execute("SELECT nuts3, metropolis_id FROM participations WHERE source = 'cordis' AND nuts3 IS NOT NULL").fetchall()
    inside = [(n, m) for n, m in got if n in expected]
    assert len(inside) > 3500
    ok = sum(1 for n, m in inside if m == expected[n])
    assert ok / len(inside) >= 0.985, (ok, len(inside))
    # and the placement's own account: most by postcode, every disagreement kept
    by = dict(con.execute("SELECT assigned_by, count(*) FROM participations WHERE source = 'cordis' AND metropolis_id IS NOT NULL GROUP BY 1").fetchall())
    assert by["postcode"] / sum(by.values()) > 0.9
    assert con.execute("SELECT count(*) FROM placement_conflicts").fetchone()[0] > 0


def test_organisations_in_at_least_ten_metropolises(full):
    con = full[3]
    n = con.execute("SELECT count(DISTINCT metropolis_id) FROM organisations_by_metropolis WHERE source = 'cordis'").fetchone()[0]
    assert n >= 12  # every configured metropolis but St Petersburg (no Russian partner in Horizon Europe)


def test_real_csv_rows_load_through_the_csv_path(cfg, tmp_path):
    src = need_shared(CSV_EXCERPT)
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "organization.csv").write_bytes(src.read_bytes())
    result, counts = run_refresh(cfg, input_path=folder)
    assert result.status == "success", result.message
    assert result.tables["participations"]["read"] == 11
    assert result.tables["participations"]["loaded"] == 11
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    rows = dict(con.execute("SELECT org_key, total_cost FROM participations").fetchall())
    assert float(rows["cordis:999643007"]) == 960619.95  # decimal comma in the real row
    assert con.execute("SELECT country, country_source FROM organisations WHERE org_key = 'cordis:999643007'").fetchone() == ("GR", "EL")


def test_the_full_data_publishes(full, tmp_path):
    """The complete Horizon Europe data as a site: a page per organisation of a metropolis and per project with
    a partner there, the real University of Helsinki findable, no e-mail address anywhere (no person consented)."""
    import re

    from baltetl.publish import publish

    cfg, _, _, con = full
    result = publish(cfg, tmp_path / "site", log=lambda m: None)
    pages = result["pages"]
    in_metro = con.execute("SELECT count(*) FROM golden_organisations WHERE metropolis_id IS NOT NULL AND NOT hidden").fetchone()[0]
    assert pages["organisation"] == in_metro > 2000
    assert pages["project"] == con.execute("SELECT count(*) FROM public_projects").fetchone()[0] > 4000
    index = (tmp_path / "site" / "assets" / "search-index.js").read_text(encoding="utf-8")
    helsinki = con.execute("""SELECT g.name FROM golden_organisations g JOIN organisation_sources s USING (golden_id)
                              JOIN organisations o USING (org_key) WHERE o.source = 'cordis' AND o.name = 'HELSINGIN YLIOPISTO'""").fetchone()[0]
    assert helsinki.upper() == "HELSINGIN YLIOPISTO" and f'"{helsinki}"' in index
    for page in (tmp_path / "site").rglob("*.html"):
        assert not re.search(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}", page.read_text(encoding="utf-8")), page


def test_tables_are_stored_in_row_groups_every_core_can_scan(full):
    """The build writes row groups of db.ROW_GROUP_SIZE rows (DuckDB's default, 122,880, would leave the
    participations in one group, scanned by one thread), and leaves nothing beside the warehouse."""
    from baltetl.db import ROW_GROUP_SIZE

    cfg, _, _, con = full
    groups = con.execute("SELECT count(DISTINCT row_group_id), max(count) FROM pragma_storage_info('participations')").fetchone()
    n = con.execute("SELECT count(*) FROM participations").fetchone()[0]
    assert groups[0] >= n // ROW_GROUP_SIZE > 1
    assert groups[1] <= ROW_GROUP_SIZE
    beside = sorted(p.name for p in cfg.warehouse.parent.iterdir() if p.name.startswith(cfg.warehouse.name))
    assert beside == [cfg.warehouse.name, cfg.warehouse.name + ".lock", cfg.warehouse.name + ".state"]
