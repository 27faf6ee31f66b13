"""The clusters source offline: ECCP profile pages, the sitemap, CSV/XLSX registries, the bundled sample.

No real cluster data exists (../shared/data/clusters/PROVENANCE.md): every fixture in tests/fixtures/clusters/
and the bundled sample are hand-made (see tests/fixtures/README.md and src/baltetl/sources/<name>/sample/README.md).
"""

from __future__ import annotations

import io
import shutil

import duckdb
import openpyxl
import pandas as pd
import pytest
from helpers.common import FIXTURES, landed, run_refresh

from baltetl import quality
from baltetl.types import SourceContext, StructureChanged
from baltetl.sources.clusters import source as clusters

FIX = FIXTURES / "clusters"
PROFILES = ["hamburg-aviation-ev", "life-science-nord", "mobile-heights", "urban-ict-arena", "cluster-news-item"]
KKK = {"name": "kkk-pl", "format": "csv", "country": "PL",
       "columns": {"name": "Nazwa klastra", "city": "Miasto", "website": "WWW", "coordinator": "Koordynator",
                   "members_total": "Liczba członków"}}  # fmt: skip
DK = {"name": "dk-klynger", "format": "xlsx", "country": "DK",
      "columns": {"name": "Klynge", "city": "By", "country": "Land", "website": "Hjemmeside",
                  "members_total": "Medlemmer i alt"}}  # fmt: skip


def ctx_with(cfg, **options) -> SourceContext:
    src = cfg.source("clusters")
    return SourceContext(cfg, src.with_options(**options))


def profile_files(tmp_path, slugs, changed=()):
    """Landed profile pages named as fetch names them; `changed` slugs get the relaunched (JS) page instead."""
    out = []
    for slug in slugs:
        src = FIX / ("eccp_changed_structure.html" if slug in changed else f"eccp_{slug}.html")
        p = tmp_path / f"eccp-{slug}-0123456789abcdef"
        shutil.copyfile(src, p)
        out.append(landed(p, f"eccp-{slug}"))
    return out


def validated(cfg, parsed):
    contracts = quality.load_contracts(cfg.project_dir / "schemas", "clusters")
    return quality.validate(parsed, contracts, cfg.source("clusters").tables, 1.0, {})


def by_id(df: pd.DataFrame) -> dict:
    return {r["org_id"]: r for r in df.to_dict("records")}


# ------------------------------------------------------------------------------------------------ ECCP


def test_profiles_parse_despite_theme_debug_comments(cfg, tmp_path):
    assert (FIX / "eccp_hamburg-aviation-ev.html").read_text().count("<!-- THEME DEBUG -->") > 10
    parsed = clusters.parse(ctx_with(cfg), profile_files(tmp_path, PROFILES))
    assert not parsed.rejects
    rows = by_id(parsed.tables["organisations"])
    assert sorted(rows) == ["eccp:900101", "eccp:900102", "eccp:900103", "eccp:900104"]  # the news node is skipped
    ha = rows["eccp:900101"]
    assert ha["name"] == "Hamburg Aviation e.V."  # title without ' | European Cluster Collaboration Platform'
    assert (ha["city"], ha["country"], ha["country_source"], ha["post_code"]) == ("Hamburg", "DE", "Germany", "20000")
    assert ha["sectors"] == "Aerospace Vehicles and Defence;Metalworking Technology"
    assert ha["website"] == "https://www.example.org/hamburg-aviation"
    assert (ha["label"], ha["label_text"], ha["established"]) == ("gold", "Gold Label", "2011-06-01")
    assert [ha[c] for c in ("members_total", "members_sme", "members_startups", "members_large", "members_research")] == [
        "1200", "100", "10", "40", "20"]  # fmt: skip
    assert ha["org_type"] == "cluster" and ha["source_registry"] == "eccp"
    assert ha["record_ref"].startswith("eccp-hamburg-aviation-ev-")
    mh = rows["eccp:900103"]  # city and country as labelled fields, no address block
    assert (mh["city"], mh["region"], mh["country"]) == ("Malmö", "Skåne", "SE")
    assert (mh["label"], mh["label_source"], mh["established"]) == ("silver", "ESCA", "2006-01-01")
    assert mh["sectors"] == "Digital;Electronics"  # listed twice on the page, once here


def test_empty_numeric_fields_become_missing(cfg, tmp_path):
    parsed = clusters.parse(ctx_with(cfg), profile_files(tmp_path, PROFILES))
    v = validated(cfg, parsed)
    assert v.quarantine.empty
    df = v.tables["organisations"].set_index("org_id")
    lsn = df.loc["eccp:900102"]  # labels shown, values empty, 'n/a' or absent
    for col in ("members_total", "members_sme", "members_large", "members_research", "members_startups"):
        assert pd.isna(lsn[col]), col
    assert pd.isna(lsn["label"]) and pd.isna(lsn["established"])
    assert str(df["members_total"].dtype) == "Int64" and df.loc["eccp:900101", "members_total"] == 1200
    assert df.loc["eccp:900101", "established"] == pd.Timestamp("2011-06-01")


def test_a_changed_profile_is_rejected_with_a_clear_check(cfg, tmp_path):
    parsed = clusters.parse(ctx_with(cfg), profile_files(tmp_path, PROFILES + ["renamed"], changed={"renamed"}))
    assert len(parsed.tables["organisations"]) == 4
    [rej] = parsed.rejects
    assert rej.check == "eccp_profile_structure: no <article data-history-node-id>"
    assert rej.table == "organisations" and rej.record_ref.startswith("eccp-renamed-")
    assert rej.value == "Hamburg Aviation e.V. | European Cluster Collaboration Platform"


def test_far_fewer_profiles_parsing_is_a_structure_change(cfg, tmp_path):
    slugs = ["hamburg-aviation-ev", "life-science-nord", "mobile-heights", "urban-ict-arena"]
    with pytest.raises(StructureChanged, match=r"changed structure: 1 of 4 pages parsed.*data-history-node-id"):
        clusters.parse(ctx_with(cfg), profile_files(tmp_path, slugs, changed=set(slugs[1:])))
    (tmp_path / "all").mkdir()
    with pytest.raises(StructureChanged, match="0 of 4 pages parsed"):
        clusters.parse(ctx_with(cfg), profile_files(tmp_path / "all", slugs, changed=set(slugs)))


def test_sitemap_leading_junk_and_default_host():
    data = (FIX / "eccp_sitemap.xml").read_bytes()
    assert data.startswith(b"<!-- THEME DEBUG -->")  # junk before <?xml: a strict XML parser fails here
    locs, children = clusters.sitemap_locs(data)
    assert children == [] and len(locs) == 8 and all(u.startswith("http://default/") for u in locs)
    urls = [clusters.rewrite_default_host(u) for u in locs]
    profiles = [u for u in urls if clusters.is_profile_url(u)]
    assert profiles[0] == "https://www.clustercollaboration.eu/content/hamburg-aviation-ev"
    assert len(profiles) == 5 and not any("/news/" in u or "/cluster-networks/" in u for u in profiles)
    assert clusters.rewrite_default_host("http://default/content/x?a=1", "http://127.0.0.1:8080") == "http://127.0.0.1:8080/content/x?a=1"
    assert clusters.rewrite_default_host("https://clustercollaboration.eu/content/x") == "https://clustercollaboration.eu/content/x"
    index = b'<!-- x --><?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' \
            b"<sitemap><loc>http://default/sitemap.xml?page=2</loc></sitemap></sitemapindex>"  # fmt: skip
    assert clusters.sitemap_locs(index) == ([], ["http://default/sitemap.xml?page=2"])
    with pytest.raises(StructureChanged, match="not a sitemap"):
        clusters.sitemap_locs(b"<html><body>Maintenance</body></html>")


@pytest.mark.parametrize("fn,value,expected", [
    (clusters.norm_int, "1,200", "1200"), (clusters.norm_int, "1 050", "1050"), (clusters.norm_int, "", None),
    (clusters.norm_int, "n/a", None), (clusters.norm_int, "40.0", "40"), (clusters.norm_int, "około 50", "około 50"),
    (clusters.norm_date, "15.03.2011", "2011-03-15"), (clusters.norm_date, "05 April 2023", "2023-04-05"),
    (clusters.norm_date, "2011", "2011-01-01"), (clusters.norm_date, "soon", "soon"),
    (clusters.label_level, "Cluster Management Excellence Label GOLD", "gold"), (clusters.label_level, "Other", None),
    (clusters.norm_country, "Danmark", "DK"), (clusters.norm_country, "Germany", "DE"),
    (clusters.norm_country, "UK", "GB"), (clusters.norm_country, "Atlantis", "Atlantis"),
])  # fmt: skip
def test_value_normalising(fn, value, expected):
    assert fn(value) == expected


# ------------------------------------------------------------------------------------------ registries


def test_registry_csv_mapping(cfg, tmp_path):
    p = tmp_path / "registry-kkk-pl-0123.csv"
    shutil.copyfile(FIX / "registry_kkk.csv", p)
    parsed = clusters.parse(ctx_with(cfg, registries=[KKK]), [landed(p, "registry-kkk-pl")])
    [rej] = parsed.rejects  # the row without a cluster name
    assert (rej.check, rej.column, rej.record_ref) == ("registry_row_without_name", "name", f"{p.name}:7")
    df = parsed.tables["organisations"]
    assert len(df) == 4  # the title line, the blank lines and the header are no rows
    first = df.iloc[0]
    assert first["org_id"] == "kkk-pl:pomorski-klaster-ict-interizon" and first["record_ref"] == f"{p.name}:4"
    assert (first["city"], first["country"], first["coordinator"], first["members_total"]) == (
        "Gdańsk", "PL", "Przykładowa Fundacja A", "120")  # fmt: skip
    assert df.iloc[1]["members_total"] == "1050"
    v = validated(cfg, parsed)
    q = v.quarantine
    assert set(zip(q["record_key"], q["column_name"], q["check_name"])) == {
        (None, "name", "registry_row_without_name"),
        ("kkk-pl:klaster-bez-liczby", "members_total", "coerce_dtype('Int64')"),  # 'około 50' is no number
        ("kkk-pl:pomorski-klaster-ict-interizon", "org_id", "field_uniqueness"),  # listed twice: the first loads
        ("kkk-pl:pomorski-klaster-ict-interizon", "record_key", "field_uniqueness"),
    }
    assert v.reports["organisations"].read == 5 and v.reports["organisations"].quarantined == 2
    assert v.reports["organisations"].fields_nulled == 1  # the cluster loads without its member count
    loaded = v.tables["organisations"]
    assert sorted(loaded["name"]) == ["Klaster Bez Liczby", "Mazowiecki Klaster Testowy", "Pomorski Klaster ICT Interizon"]
    assert pd.isna(loaded.set_index("name").loc["Klaster Bez Liczby", "members_total"])
    assert loaded.set_index("name").loc["Pomorski Klaster ICT Interizon", "city"] == "Gdańsk"  # the first one


def test_registry_xlsx_with_dimension_a1(cfg, tmp_path):
    path = FIX / "registry_dk_dimension_a1.xlsx"
    ro = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    assert list(ro.active.iter_rows(values_only=True)) == [("Klynge",)]  # the quirk: read-only sees only A1
    p = tmp_path / "registry-dk-klynger-0123.xlsx"
    shutil.copyfile(path, p)
    parsed = clusters.parse(ctx_with(cfg, registries=[DK]), [landed(p, "registry-dk-klynger")])
    rows = by_id(parsed.tables["organisations"])
    assert sorted(rows) == ["dk-klynger:danish-life-science-cluster", "dk-klynger:energy-cluster-denmark",
                            "dk-klynger:food-bio-cluster-denmark"]  # fmt: skip
    dlsc = rows["dk-klynger:danish-life-science-cluster"]
    assert (dlsc["city"], dlsc["country"], dlsc["country_source"], dlsc["members_total"]) == ("København", "DK", "Danmark", "100")
    assert dlsc["record_ref"] == f"{p.name}!Klynger:2"
    assert rows["dk-klynger:food-bio-cluster-denmark"]["members_total"] == "40"  # 40.0 in the sheet
    assert rows["dk-klynger:energy-cluster-denmark"]["members_total"] is None


def test_missing_mapped_column_names_it(cfg, tmp_path):
    p = tmp_path / "registry-kkk-pl-0123.csv"
    shutil.copyfile(FIX / "registry_kkk.csv", p)
    reg = {**KKK, "columns": {**KKK["columns"], "region": "Województwo"}}
    with pytest.raises(StructureChanged, match="'Województwo' missing"):
        clusters.parse(ctx_with(cfg, registries=[reg]), [landed(p, "registry-kkk-pl")])


def test_input_file_uses_the_registry_whose_headers_it_has(cfg, tmp_path):
    p = tmp_path / "input-0123.xlsx"
    shutil.copyfile(FIX / "registry_dk_dimension_a1.xlsx", p)
    parsed = clusters.parse(ctx_with(cfg, registries=[KKK, DK]), [landed(p, "input")])
    assert set(parsed.tables["organisations"]["source_registry"]) == {"dk-klynger"}
    with pytest.raises(StructureChanged, match="no configured registry mapping fits.*'Nazwa klastra'"):
        clusters.parse(ctx_with(cfg, registries=[KKK]), [landed(p, "input")])


# --------------------------------------------------------------------------------------- bundled sample


def test_sample_loads_and_clusters_land_in_their_metropolises(cfg):
    result, counts = run_refresh(cfg, "clusters", sample=True)
    assert result.status == "success", result.message
    assert result.rows_loaded == 11 and result.rows_quarantined == 0
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        rows = dict(con.execute(
            "SELECT name, metropolis_id FROM organisations WHERE source = 'clusters' AND org_type = 'cluster'"
        ).fetchall())  # fmt: skip
        stg = con.execute("SELECT count(*), count(DISTINCT source_registry) FROM stg_clusters__organisations").fetchone()
    finally:
        con.close()
    assert rows["Hamburg Aviation"] == "hamburg" and rows["Life Science Nord"] == "hamburg"
    assert rows["Urban ICT Arena"] == "stockholm"
    assert rows["Danish Life Science Cluster"] == "copenhagen"  # 'København'
    assert rows["Pomorski Klaster ICT Interizon"] == "gdansk"  # 'Gdańsk'
    assert rows["Energy Cluster Denmark"] is None  # Odense is in no configured metropolis
    assert stg == (11, 1)
