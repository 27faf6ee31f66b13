"""Placement by address: postcode -> municipality (LAU) -> FUA -> metropolis, on the shipped real lists."""

import csv
import gzip
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from baltetl.cli import app
from baltetl.config import ConfigError, load_config
from baltetl.geo import build_geography
from baltetl.normalise import norm_place, norm_postcode, nuts3
from baltetl.placement import norm_pc_sql, place
from baltetl.warehouse import sql_dir

FIXTURES = Path(__file__).parents[1] / "fixtures" / "placement"


def placed(cfg, rows):
    """[(country, post_code, city, nuts3)] -> {address: (metropolis_id, assigned_by, assigned_from)}, conflicts."""
    con = duckdb.connect()
    build_geography(con, cfg)
    con.execute("CREATE TEMP TABLE a (country VARCHAR, post_code VARCHAR, city_norm VARCHAR, nuts3 VARCHAR)")
    if rows:
        con.executemany("INSERT INTO a VALUES (?, ?, ?, ?)", [(c, p, norm_place(city), n) for c, p, city, n in rows])
    con.execute(f"CREATE TEMP TABLE addresses AS SELECT DISTINCT *, {norm_pc_sql('post_code', 'country')} AS pc FROM a")
    place(con, sql_dir(cfg))
    got = {(c, p, n3): (m, by, frm) for c, p, n3, m, by, frm in con.execute(
        "SELECT country, post_code, nuts3, metropolis_id, assigned_by, assigned_from FROM address_metropolis").fetchall()}
    conflicts = con.execute("SELECT country, post_code, metropolis_id, decided_by, other_rule, other_metropolis_id "
                            "FROM placement_conflicts").fetchall()
    return got, conflicts, con


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def test_postcode_forms_python_and_sql_agree():
    cases = [("LV-1050", "LV"), ("SE-114 28", "SE"), ("00-927", "PL"), ("LV1050", "LV"), ("NW1 2BE", "GB"),
             ("LT–01108", "LT"), (" 10115 ", "DE"), ("D 10115", "DE"), ("", "DE")]
    con = duckdb.connect()
    sql = [r[0] for r in con.execute(
        f"SELECT {norm_pc_sql('x', 'c')} FROM (VALUES {', '.join(f'({i}, ?, ?)' for i in range(len(cases)))}) t(i, x, c) ORDER BY i",
        [v for pair in cases for v in pair]).fetchall()]
    assert sql == [norm_postcode(x, c) for x, c in cases]
    assert sql[:5] == ["1050", "11428", "00927", "1050", "NW12BE"]


def test_address_decides_and_conflicts_are_kept(cfg):
    got, conflicts, _ = placed(cfg, [
        ("DE", "53111", "Berlin", "DEA22"),     # the city says Berlin, the postcode Bonn: Bonn wins
        ("FI", "02150", "Espoo", "FI1B1"),      # suburb, by postcode (FI1B1 is wider than the FUA: no NUTS3 rule)
        ("FI", "13300", "Hameenlinna", "FI1B1"),  # the source's NUTS3 is Helsinki-Uusimaa, the postcode Hämeenlinna
        ("SE", "45492", "Brastad", "SE110"),    # a wrong NUTS3 (Stockholm county) on a Lysekil address
        ("SE", "1000", "Bruxelles", None),      # a Swedish organisation's Brussels office: no prefix of '1000'
        ("SE", "622 58", "Romakloster", "SE110"),  # Gotland (no kommun code in GeoNames), wrong NUTS3
    ])
    assert got["SE", "1000", None][0] is None
    assert got["SE", "622 58", "SE110"][0] is None
    assert got["DE", "53111", "DEA22"][0] is None
    assert got["FI", "02150", "FI1B1"][:2] == ("helsinki", "postcode")
    assert "049" in got["FI", "02150", "FI1B1"][2]
    assert got["FI", "13300", "FI1B1"][0] is None
    assert got["SE", "45492", "SE110"][0] is None
    assert ("DE", "53111", None, "postcode", "city_alias", "berlin") in conflicts
    assert ("SE", "45492", None, "postcode", "nuts3", "stockholm") in conflicts


def test_po_box_codes_lost_zeros_and_prefixes(cfg):
    _, _, con = placed(cfg, [])
    # a Vilnius postcode with a leading zero, as sources write it without
    lt = con.execute("SELECT postcode FROM postcode_lau WHERE country = 'LT' AND outcome = 'vilnius' "
                     "AND postcode LIKE '0%' ORDER BY 1 LIMIT 1").fetchone()[0]
    got, _, _ = placed(cfg, [
        ("PL", "00-927", "WARSZAWA", None),       # Warsaw University's own code: not in the PRG list
        ("DE", "20549", "Hamburg", None),         # a large-customer code the OSM list lacks
        ("LV", "LV-1050", "Riga", None),          # prefix and dash
        ("LT", lt.lstrip("0"), "Vilnius", None),  # lost leading zero
        ("SE", "114 28", "Stockholm", None),
    ])
    assert got["PL", "00-927", None][0] == "warsaw"
    assert got["DE", "20549", None][:2] == ("hamburg", "postcode_prefix")
    assert got["LV", "LV-1050", None][0] == "riga"
    assert got["LT", lt.lstrip("0"), None][:2] == ("vilnius", "postcode")
    assert got["SE", "114 28", None][:2] == ("stockholm", "postcode")


def test_old_nuts_codes_recoded_original_kept(cfg):
    got, _, con = placed(cfg, [
        ("PL", None, None, "PL127"),   # Warsaw city under NUTS 2013
        ("LT", None, None, "LT003"),   # keep.eu's Klaipėda county (NUTS 2013): wholly outside
        ("FI", None, "Helsinki", "FI1B1"),  # Helsinki-Uusimaa is partly in the FUA: the name decides
    ])
    assert got["PL", None, "PL127"] == ("warsaw", "nuts3", "PL127 -> PL911")
    assert got["LT", None, "LT003"][0] is None
    assert con.execute("SELECT nuts3_2016, decided_by FROM address_metropolis WHERE nuts3 = 'LT003'").fetchone() == ("LT023", "nuts3")
    assert got["FI", None, "FI1B1"][:2] == ("helsinki", "lau")


def test_user_postcode_list_layers_on_top(tmp_path):
    extra = tmp_path / "my_postcodes.csv"
    extra.write_text("country,postcode,lau_code\nFI,02150,091\nES,08001,08019\n", encoding="utf-8")
    toml = tmp_path / "c.toml"
    toml.write_text(f'[geo]\nextra_postcodes = ["{extra}"]\n[metropolises.barcelona]\nname = "Barcelona"\n'
                    'country = "ES"\nfua = "ES002L2"\n')
    got, _, _ = placed(load_config(toml), [("FI", "02150", "Espoo", None), ("ES", "08001", None, None)])
    assert "091" in got["FI", "02150", None][2]  # the user's row replaced the shipped one
    assert got["ES", "08001", None][:2] == ("barcelona", "postcode")
    bad = tmp_path / "bad.csv"
    bad.write_text("land,plz\nDE,10115\n", encoding="utf-8")
    toml.write_text(f'[geo]\nextra_postcodes = ["{bad}"]\n')
    with pytest.raises(ConfigError, match="bad.csv"):
        build_geography(duckdb.connect(), load_config(toml))


def test_barcelona_by_configuration_alone(tmp_path):
    """A metropolis outside the Baltic: its FUA id in one [metropolises.NAME] entry; real CORDIS Spanish
    participations placed, none outside its urban area."""
    toml = tmp_path / "bcn.toml"
    toml.write_text('[metropolises.barcelona]\nname = "Barcelona"\ncountry = "ES"\nfua = "ES002L2"\n')
    cfg = load_config(toml)
    with open(FIXTURES / "es_participations.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    _, _, con = placed(cfg, [("ES", r["post_code"] or None, r["city"] or None, nuts3(r["nuts_code"])) for r in rows])
    got = {(c, p, n, n3): m for c, p, n, n3, m in con.execute(
        "SELECT country, post_code, city_norm, nuts3, metropolis_id FROM address_metropolis").fetchall()}
    at = lambda r: got["ES", r["post_code"] or None, norm_place(r["city"]), nuts3(r["nuts_code"])]  # noqa: E731
    # the FUA's municipalities, read independently from Eurostat's table
    with gzip.open(cfg.lau, "rt", encoding="utf-8") as f:
        lau = [r for r in csv.DictReader(f) if r["country"] == "ES"]
    fua = {norm_place(r["lau_name_national"]) for r in lau if r["fua_id"] == "ES002L2"}
    inside = [r for r in rows if at(r) == "barcelona"]
    city = [r for r in rows if norm_place(r["city"] or "") == "BARCELONA"]
    assert len(city) >= 50 and all(r in inside for r in city)
    assert len(inside) > len(city)  # and its other municipalities (Bellaterra's Cerdanyola, Castelldefels ...)
    for r in inside:  # each placed one names a municipality of the FUA, with a Barcelona-province postcode
        assert norm_place(r["city"]).split(" ")[0] in {n.split(" ")[0] for n in fua} or norm_place(r["city"]) in fua, r
        assert (r["post_code"] or "08").startswith("08"), r
    outside = [r for r in rows if norm_place(r["city"] or "") in {"MANRESA", "GIRONA", "VIC", "MADRID", "VALENCIA"}]
    assert outside and all(at(r) is None for r in outside)


def test_eval_placement_prints_both_halves_and_the_last_line():
    res = CliRunner().invoke(app, ["eval-placement"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("tuning: ") and lines[1].startswith("heldout: ")
    last = dict(kv.split("=") for kv in lines[-1].split())
    assert set(last) == {"accuracy", "false", "missed", "rows"} and int(last["rows"]) >= 150
    tuning = dict(kv.split("=") for kv in lines[0].removeprefix("tuning: ").split())
    assert tuning["false"] == "0" and float(tuning["accuracy"].rstrip("%")) >= 99.5
    # the target, on the held-out half
    assert last["false"] == "0" and float(last["accuracy"].rstrip("%")) >= 99.5


def test_eval_placement_fresh_heldout_set():
    """labels_heldout2.csv: a second held-out set, drawn and labelled after the rules were tuned and scored once
    (fixtures/placement/README.md).  Its one measured miss (a company's own postcode missing from the shipped FI
    list) is within the issue's bar, which is asserted here."""
    path = FIXTURES / "labels_heldout2.csv"
    with open(path, encoding="utf-8") as f:
        fresh = list(csv.DictReader(f))
    with open(FIXTURES / "labels.csv", encoding="utf-8") as f:
        first = {(r["project_id"], r["organisation_id"]) for r in csv.DictReader(f)}
    assert len(fresh) >= 300 and {r["split"] for r in fresh} == {"heldout2"}
    assert not first & {(r["project_id"], r["organisation_id"]) for r in fresh}
    assert not [r for r in fresh if r["evidence"].startswith("REVIEW")]
    res = CliRunner().invoke(app, ["eval-placement", str(path)])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("heldout2: ") and len(lines) == 2  # no empty tuning/heldout halves
    last = dict(kv.split("=") for kv in lines[-1].split())
    assert int(last["rows"]) == len(fresh)
    assert last["false"] == "0" and float(last["accuracy"].rstrip("%")) >= 99.5


def test_eval_placement_reports_the_halves_the_split_column_names(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("project_id,organisation_id,expected_metro,country,post_code,city,split\n"
                      "1,2,berlin,DE,10117,Berlin,heldout2\n3,4,,DE,80333,München,heldout2\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["eval-placement", str(labels)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines() == ["heldout2: accuracy=100.00% false=0 missed=0 rows=2",
                                               "accuracy=100.00% false=0 missed=0 rows=2"]


def test_eval_placement_bad_labels_one_line(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("project_id,expected\n1,riga\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["eval-placement", str(bad)])
    assert res.exit_code == 2 and "labels.csv" in res.output and "Traceback" not in res.output


def test_golden_organisation_is_placed_at_its_seat_not_a_branch():
    """University of Tartu: its CORDIS address is in Tartu; two keep.eu rows name its Tallinn office."""
    from baltetl import models, resolve

    con = duckdb.connect()
    models.run(con, "core/tables.sql")
    rows = [
        ("cordis:999894334", "cordis", "TARTU ULIKOOL", "50090", "Tartu", None, None),
        ("keep:ut-tallinn-1", "keep", "University of Tartu", "10119", "Tallinn", "tallinn", "postcode"),
        ("keep:ut-tallinn-2", "keep", "University of Tartu", "10119", "Tallinn", "tallinn", "postcode"),
        # no CORDIS record: the address most records share (two in Helsinki, one branch in Stockholm)
        ("keep:a1", "keep", "Nordic Org", "00100", "Helsinki", "helsinki", "postcode"),
        ("interreg_se:a2", "interreg_se", "Nordic Org", "00100", "HELSINKI", "helsinki", "postcode"),
        ("keep:a3", "keep", "Nordic Org", "111 22", "Stockholm", "stockholm", "postcode"),
    ]
    for key, src, name, post, city, metro, by in rows:
        con.execute("INSERT INTO organisations (org_key, source, org_id, name, post_code, city, country, metropolis_id,"
                    " assigned_by, record_ref) VALUES (?, ?, ?, ?, ?, ?, 'EE', ?, ?, 'x')",
                    [key, src, key, name, post, city, metro, by])
    g = resolve._golden_of_many(con, {"g1": [r[0] for r in rows[:3]], "g2": [r[0] for r in rows[3:]]}, set())
    got = dict(zip(g["golden_id"], g["metropolis_id"]))
    assert not isinstance(got["g1"], str)  # Tartu (in no metropolis), not Tallinn
    assert got["g2"] == "helsinki"


def test_conflicts_counted_in_the_quality_report(cfg):
    from baltetl import report

    _, conflicts, con = placed(cfg, [("DE", "53111", "Berlin", "DEA22"), ("SE", "45492", "Brastad", "SE110")])
    con.execute("CREATE TABLE placement_conflicts_n AS SELECT *, 2 AS participations FROM placement_conflicts")
    con.execute("DROP TABLE placement_conflicts")
    con.execute("ALTER TABLE placement_conflicts_n RENAME TO placement_conflicts")
    rows = report._warehouse_rows(cfg, con, report.PLACEMENT_SQL, ("decided_by", "other_rule", "addresses", "participations"))
    assert {(r["decided_by"], r["other_rule"]) for r in rows} >= {("postcode", "city_alias"), ("postcode", "nuts3")}
    rep = report.Report("r1", "success", None, "now", [], [], rows)
    md = rep.markdown()
    assert "## Placement conflicts" in md and "| postcode | city_alias | 1 | 2 |" in md


def test_a_build_places_by_postcode_and_keeps_conflicts(cfg_tmp):
    """The warehouse build: the sample's participations placed by address, the rule recorded, conflicts kept."""
    from helpers.common import run_refresh

    result, _ = run_refresh(cfg_tmp, sample=True)
    assert result.status == "success", result.message
    con = duckdb.connect(str(cfg_tmp.warehouse), read_only=True)
    by = dict(con.execute("SELECT assigned_by, count(*) FROM participations WHERE metropolis_id IS NOT NULL GROUP BY 1").fetchall())
    assert by.get("postcode", 0) > sum(by.values()) / 2, by
    frm = con.execute("SELECT post_code, assigned_from FROM participations WHERE assigned_by = 'postcode' LIMIT 1").fetchone()
    assert frm[1].startswith(f"{frm[0]} -> ")
    cols = {r[0] for r in con.execute("DESCRIBE placement_conflicts").fetchall()}
    assert {"decided_by", "other_rule", "other_metropolis_id", "participations"} <= cols
    # no organisation or participation without its metropolis where the address has one
    assert con.execute("SELECT count(*) FROM participations WHERE assigned_by IS NOT NULL AND metropolis_id IS NULL").fetchone()[0] == 0


@pytest.fixture
def cfg_tmp(tmp_path, monkeypatch):
    """Warehouse, state and landing in tmp_path (conftest's cfg; this module's cfg is the packaged one)."""
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING"):
        monkeypatch.delenv(var, raising=False)
    return load_config(warehouse=tmp_path / "wh" / "baltmet.duckdb")


def test_user_lau_table_layers_on_top(tmp_path):
    """Norway is not in Eurostat's LAU 2019 table: a user's rows give Oslo its FUA, by configuration alone."""
    lau = tmp_path / "my_lau.csv"
    lau.write_text("country,lau_code,lau_name_national,code_2016,fua_id,population\n"
                   "NO,0301,Oslo,NO011,NO001L1,697010\nNO,3201,Bærum,NO012,NO001L1,128000\n", encoding="utf-8")
    toml = tmp_path / "c.toml"
    toml.write_text(f'[geo]\nextra_lau = ["{lau}"]\n[metropolises.oslo]\nname = "Oslo"\ncountry = "NO"\n'
                    'fua = "NO001L1"\nnuts3 = []\nmunicipalities = []\naliases = []\n')
    got, _, con = placed(load_config(toml), [("NO", "1300", "Sandvika", None), ("NO", "7037", "Oslo", "NO060")])
    assert got["NO", "1300", None][:2] == ("oslo", "postcode")  # Sandvika, Bærum (GeoNames NO 3201)
    assert got["NO", "7037", "NO060"][0] is None  # Trondheim
    assert con.execute("SELECT lau_count FROM metropolises WHERE metropolis_id = 'oslo'").fetchone() == (2,)
    bad = tmp_path / "bad_lau.csv"
    bad.write_text("country,code\nNO,0301\n", encoding="utf-8")
    toml.write_text(f'[geo]\nextra_lau = ["{bad}"]\n')
    with pytest.raises(ConfigError, match="bad_lau.csv"):
        build_geography(duckdb.connect(), load_config(toml))
