"""The `networks` source (ETMUN city-network membership lists) on the bundled real sample and real rows.

- the bundled sample (all BaltMet and UBC rows of the real list + their metadata rows), refreshed into a
  warehouse: every BaltMet member is placed in its metropolis;
- real rows carrying the list's quirks (tests/fixtures/networks/etmun_members_quirk_rows.csv, lines copied
  verbatim): NBSP in CountryCode and X, NA, comma-decimal lon/lat, CIVITAS phases as joining year, a
  member listed twice, invalid country codes;
- the whole real list when ../shared/data is present.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers.common import FIXTURES, SHARED, landed, need_shared, run_refresh

from baltetl import pipeline, quality
from baltetl.config import load_config
from baltetl.types import SourceContext, StructureChanged
from baltetl.sources.networks import source as networks

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_DIR = ROOT / "src" / "baltetl" / "sources" / "networks" / "sample" / "networks-etmun-2019"
SAMPLE_MEMBERS = SAMPLE_DIR / "etmun_network_members_geocoded_2019.csv"
QUIRKS = FIXTURES / "networks" / "etmun_members_quirk_rows.csv"
REAL = SHARED / "city_networks"

# the BaltMet members of the 2019 list and the metropolis each must be placed in
BALTMET = {
    "Berlin": "berlin", "Helsinki": "helsinki", "Malmö": "malmo", "Oslo": "oslo", "Riga": "riga",
    "St. Petersburg": "st_petersburg", "Stockholm": "stockholm", "Tallinn": "tallinn", "Vilnius": "vilnius",
    "Warsaw": "warsaw",
}  # fmt: skip


@pytest.fixture(scope="module")
def sample_wh(tmp_path_factory):
    """One refresh of the bundled sample (the warehouse build costs ~2 s: shared by the sample tests)."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
            mp.delenv(var, raising=False)
        cfg = load_config(warehouse=tmp_path_factory.mktemp("networks") / "wh" / "baltmet.duckdb")
        result, counts = run_refresh(cfg, "networks", sample=True)
    return cfg, result


def _parse(cfg, path: Path, **options):
    src = cfg.source("networks")
    if options:
        src = src.with_options(**options)
    return networks.parse(SourceContext(cfg, src), [landed(path)])


def _validate(cfg, parsed):
    contracts = quality.load_contracts(cfg.project_dir / "schemas", "networks")
    return quality.validate(parsed, contracts, cfg.source("networks").tables, 1.0, {})


# ------------------------------------------------------------------------------------------- the sample


def test_sample_loads_baltmet_and_ubc(sample_wh):
    cfg, result = sample_wh
    assert result.status == "success", result.message
    t = result.tables
    assert t["network_memberships"]["read"] == 96 and t["network_memberships"]["loaded"] == 96
    for rep in t.values():
        assert rep["loaded"] + rep["quarantined"] == rep["read"]
    assert result.rows_loaded + result.rows_quarantined == result.rows_read
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        per_network = dict(con.execute("SELECT network, count(*) FROM network_memberships GROUP BY ALL").fetchall())
        assert per_network == {"BaltMet": 10, "UBC": 86}
        # the network rows carry the metadata
        nets = con.execute("SELECT network, full_name, url, founded, members_listed FROM stg_networks__networks "
                           "ORDER BY network").fetchall()  # fmt: skip
        assert nets == [("BaltMet", "Baltic Metropoles", "http://www.baltmet.org/", 2002, 10),
                        ("UBC", "Union of Baltic Cities", "www.ubc.net", 1991, 86)]  # fmt: skip
        # UBC gives the joining year, BaltMet none
        years = dict(con.execute("SELECT network, count(joined_year) FROM network_memberships GROUP BY ALL").fetchall())
        assert years["BaltMet"] == 0 and years["UBC"] == 86
        assert con.execute("SELECT joined_year FROM network_memberships WHERE network = 'UBC' "
                           "AND member_name = 'Aarhus'").fetchone() == (1991,)  # fmt: skip


def test_sample_places_baltmet_members_in_their_metropolis(sample_wh):
    cfg, _ = sample_wh
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        rows = con.execute(
            """SELECT n.member_name, o.metropolis_id, o.assigned_by, o.country
               FROM network_memberships n JOIN organisations o USING (org_key)
               WHERE n.network = 'BaltMet'"""
        ).fetchall()
        assert {r[0].strip(): r[1] for r in rows} == BALTMET
        assert all(r[2] in ("lau", "municipality", "city_alias") for r in rows)
        # the analyst's question: which metropolises are in BaltMet (and UBC)?
        per_metro = con.execute(
            """SELECT m.name, string_agg(DISTINCT n.network, ', ' ORDER BY n.network) AS networks
               FROM network_memberships n JOIN organisations o USING (org_key)
               JOIN metropolises m USING (metropolis_id)
               GROUP BY m.name ORDER BY m.name"""
        ).fetchall()
        got = dict(per_metro)
        assert got["Berlin"] == "BaltMet"  # Berlin is not in UBC
        assert got["Riga"] == "BaltMet, UBC" and got["Tallinn"] == "BaltMet, UBC"
        assert "Gdańsk" in got and got["Gdańsk"] == "UBC"  # Gdańsk, Gdynia, Sopot... via UBC
        assert len([m for m, n in got.items() if "BaltMet" in n]) == 10
        # members in several networks are one organisation
        assert con.execute("SELECT count(*) FROM organisations WHERE source = 'networks' AND org_id = 'LV:RIGA'"
                           ).fetchone() == (1,)  # fmt: skip
        # lineage: every membership goes back to the landed sample zip
        refs = con.execute("SELECT DISTINCT split_part(record_ref, '!', 2) FROM network_memberships").fetchall()
        assert {r[0].split(":")[0] for r in refs} == {"etmun_network_members_geocoded_2019.csv"}


def test_sample_rows_parse_comma_decimals_and_na(cfg):
    parsed = _parse(cfg, SAMPLE_DIR)
    ms = parsed.tables["network_memberships"].set_index("record_key")
    berlin = ms.loc["A17309"]  # "Berlin";...;NA;NA;NA;"Member";"City";NA;NA;"BaltMet";"W5";...;13,404954;52,5200066
    assert (berlin["lon"], berlin["lat"]) == ("13.404954", "52.5200066")
    assert berlin["x"] is None and berlin["y"] is None and berlin["population"] is None
    assert berlin["joined_year"] is None and berlin["note"] is None
    assert berlin["org_id"] == "DE:BERLIN" and berlin["category"] == "Member"
    warsaw = ms.loc["A17318"]  # "Warsaw " with its blank
    assert warsaw["member_name"] == "Warsaw" and warsaw["org_id"] == "PL:WARSAW"
    v = _validate(cfg, parsed)
    orgs = v.tables["organisations"].set_index("org_id")
    assert orgs.loc["DE:BERLIN", "lon"] == pytest.approx(13.404954)
    assert orgs.loc["SE:MALMO", "name"] == "Malmö" and orgs.loc["SE:MALMO", "city"] == "Malmö"
    assert orgs.loc["RU:ST PETERSBURG", "networks"] == "BaltMet;UBC"
    assert orgs.loc["DK:AARHUS", "population"] == 315000.0 and orgs.loc["DK:AARHUS", "org_type"] == "Municipality"


def test_network_selection_is_configurable(cfg):
    parsed = _parse(cfg, SAMPLE_DIR, networks=["baltmet"])
    assert set(parsed.tables["network_memberships"]["network"]) == {"BaltMet"}
    assert len(parsed.tables["network_memberships"]) == 10
    assert list(parsed.tables["networks"]["network"]) == ["BaltMet"]
    assert len(parsed.tables["organisations"]) == 10
    with pytest.raises(StructureChanged, match="no membership rows"):
        _parse(cfg, SAMPLE_DIR, networks=["NoSuchNetwork"])


# ---------------------------------------------------------------------------------------- real quirks


def test_quirk_rows(cfg):
    """Real rows, verbatim: each quirk parses right or ends in quarantine with its reason."""
    parsed = _parse(cfg, QUIRKS)
    ms = parsed.tables["network_memberships"].set_index("record_key")
    assert len(ms) == 12
    madrid = ms.loc["A17175"]  # CountryCode "ES\u00a0"
    assert madrid["country"] == "ES" and madrid["country_source"] == "ES\u00a0"
    assert madrid["lon"] == "-3.6883445"
    mediana = ms.loc["A13"]  # X = "\u00a021.948889"
    assert mediana["x"] == "21.948889" and mediana["y"] == "43.310278"
    tournai = ms.loc["A29"]  # Full_Name with a trailing NBSP
    assert tournai["member_name"] == "Intercommunal Development Agency (Tournai)"
    assert ms.loc["A623", "country"] == "XK" and ms.loc["A623", "country_source"] == "RKS"
    assert ms.loc["A967", "joined_year"] == "2008" and ms.loc["A967", "joined_raw"] == "2008-2012 - CIVITAS PLUS"
    assert parsed.repaired == {"network_memberships": 2}
    assert ms.loc["A5496", "population"] == "6e+05"
    port_said = ms.loc["A240"]  # CountryCode "NA" (the list's missing value, read as Namibia by R)
    assert port_said["country"] is None and port_said["org_id"] == "-:PORT SAID"

    v = _validate(cfg, parsed)
    q = v.quarantine
    by_key = q.groupby("record_key")["check_name"].agg(set).to_dict()
    # a member listed twice in one network: the repeat is quarantined, the first loads
    assert "multiple_fields_uniqueness" in by_key["A968"] and "A967" not in by_key
    assert by_key["-:PORT SAID"] == {"not_nullable"}  # organisation without a country
    assert by_key["A240"] == {"parent:organisations.org_id"}  # its membership follows it
    assert any(c.startswith("isin") for c in by_key["ZZ:UNIONE DEI COMUNI DELLA BASSA REGGIANA"])
    assert any(c.startswith("isin") for c in by_key["VZ:PRAGUE"])
    assert by_key["A3457"] == {"not_nullable"}  # Full_Name NA: no member to key
    loaded = set(v.tables["network_memberships"]["record_key"])
    assert loaded == {"A13", "A29", "A623", "A967", "A5496", "A17175"}
    rep = v.reports["network_memberships"]
    assert rep.read == 12 and rep.loaded + rep.quarantined == rep.read and rep.quarantined == 6
    orgs = v.tables["organisations"].set_index("org_id")
    assert orgs.loc["AT:GRAN", "population"] == 600000.0  # '6e+05' as written
    assert orgs.loc["ES:MADRID", "country"] == "ES"


def test_malformed_row_is_rejected_not_dropped(cfg, tmp_path):
    lines = SAMPLE_MEMBERS.read_text(encoding="utf-8").splitlines()
    broken = lines[1].rsplit(";", 1)[0]  # a real row cut short: 19 fields instead of 20
    f = tmp_path / "members.csv"
    f.write_text("\n".join([lines[0], broken, *lines[2:5]]) + "\n", encoding="utf-8")
    parsed = _parse(cfg, f)
    assert len(parsed.tables["network_memberships"]) == 3
    [rej] = parsed.rejects
    assert (rej.check, rej.record_ref) == ("malformed_csv_row", "members.csv:2")
    v = _validate(cfg, parsed)
    assert v.reports["network_memberships"].read == 4 and v.reports["network_memberships"].quarantined == 1


def test_unknown_file_is_a_structure_change(cfg, tmp_path):
    f = tmp_path / "members.csv"
    f.write_text("<html><body>Our members</body></html>\n")
    with pytest.raises(StructureChanged, match="no ETMUN members list"):
        _parse(cfg, f)


# ------------------------------------------------------------------------------------ the real material


def test_sample_is_a_verbatim_cut_of_the_real_list():
    real = need_shared(REAL / "etmun_network_members_geocoded_2019.csv").read_bytes().split(b"\n")
    cut = SAMPLE_MEMBERS.read_bytes().split(b"\n")
    assert cut[0] == real[0]
    want = [line for line in real[1:] if b';"UBC";' in line or b';"BaltMet";' in line]
    assert cut[1:-1] == want and len(want) == 96
    quirks = QUIRKS.read_bytes().split(b"\n")
    assert set(quirks[:-1]) <= set(real)


def test_full_real_list(cfg):
    need_shared(REAL / "etmun_network_members_geocoded_2019.csv")
    files = pipeline.land(cfg, "networks", input_path=str(REAL))
    parsed = pipeline.parse(cfg, "networks", files)
    v = _validate(cfg, parsed)
    ms = v.reports["network_memberships"]
    assert ms.read == 17221 and ms.loaded + ms.quarantined == ms.read
    assert ms.quarantined < 100 and ms.repaired == 69  # CIVITAS phases as joining year
    assert v.reports["networks"].loaded == 59  # 58 lists + Eurocities (metadata only: its rows were removed)
    per = v.tables["network_memberships"]["network"].value_counts()
    assert per["BaltMet"] == 10 and per["UBC"] == 86 and per["Covenant of Mayors"] > 9900
    assert isinstance(v.tables["network_memberships"]["joined_year"].dtype, pd.Int64Dtype)
