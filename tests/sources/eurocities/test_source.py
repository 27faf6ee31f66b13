"""Eurocities member directory: the bundled real text copy, the HTML directory and member pages from a local
HTTP server, the JavaScript-empty directory (StructureChanged, last good data stays).

The directory HTML is generated here from the REAL 227 name/country pairs of the bundled sample, in an
assumed WordPress card markup (no saved HTML of eurocities.eu exists: tests/fixtures/README.md).
"""

from __future__ import annotations

import hashlib
import re
import time
from html import escape
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from baltetl import pipeline, quality
from baltetl.config import load_config
from baltetl.declaration import declared
from baltetl.sources.eurocities import source as ec
from baltetl.types import Landed, SourceContext, StructureChanged

from helpers.common import FIXTURES, SHARED, local_source, need_shared, run_refresh, warehouse_rows
from helpers.eurocities import SAMPLE_DIR, TEXT, directory_html, pairs, slug

TABLES = tuple(declared()["eurocities"].tables)  # the staged tables, parents first

FIX = FIXTURES / "eurocities"
N = 227
BALTMET = {
    "Berlin": "berlin", "Copenhagen": "copenhagen", "Helsinki": "helsinki", "Malmo": "malmo", "Oslo": "oslo",
    "Riga": "riga", "Stockholm": "stockholm", "Tallinn": "tallinn", "Vilnius": "vilnius", "Warsaw": "warsaw",
    "Hamburg": "hamburg", "Gdansk": "gdansk",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


def landed(path: Path, origin: str | None = None) -> Landed:
    return Landed(path, "", path.stat().st_size, "2026-11-24T00:00:00Z", origin or f"test:{path}", "test")


def override(tmp_path, url: str, extra: str = "") -> object:
    return local_source(tmp_path, "eurocities", f'directory_url = "{url}"\n{extra}', read_timeout_s=10)


def serve_site(server: HTTPServer, directory: str, member_pages: dict[str, bytes | int]) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /wp-admin/\n")
    server.expect_request("/cities/").respond_with_data(directory, content_type="text/html; charset=UTF-8")
    for s, page in member_pages.items():
        if isinstance(page, int):
            server.expect_request(f"/cities/{s}/").respond_with_data("server error", status=page)
        else:
            server.expect_request(f"/cities/{s}/").respond_with_data(page, content_type="text/html; charset=UTF-8")
    server.expect_request(re.compile(r"^/cities/[^/]+/$")).respond_with_data("not found", status=404)


def cordis_cut(tmp_path: Path, n: int) -> Path:
    """A zip of the first n project files of the bundled CORDIS sample (a fast second source)."""
    from helpers.common import sample_cut

    out = tmp_path / "cordis-cut.zip"
    out.write_bytes(sample_cut(n))
    return out


# ------------------------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample_wh(tmp_path_factory):
    cfg = load_config(warehouse=tmp_path_factory.mktemp("euro") / "wh" / "baltmet.duckdb")
    result, counts = run_refresh(cfg, "eurocities", sample=True)
    return cfg, result


def test_sample_loads_every_member(sample_wh):
    cfg, result = sample_wh
    assert result.status == "success", result.message
    assert len(pairs()) == N
    for t in ("organisations", "network_memberships"):
        rep = result.tables[t]
        assert (rep["read"], rep["loaded"], rep["quarantined"]) == (N, N, 0)
    assert warehouse_rows(cfg, "SELECT count(*) FROM organisations WHERE source = 'eurocities'") == [(N,)]
    assert warehouse_rows(cfg, "SELECT count(*), count(DISTINCT org_key), min(network), max(network), count(category) "
                               "FROM network_memberships WHERE source = 'eurocities'") == [(N, N, "Eurocities", "Eurocities", 0)]  # fmt: skip
    assert warehouse_rows(cfg, "SELECT count(*) FROM quarantine WHERE source = 'eurocities'") == [(0,)]
    # every membership's org is an organisation of the same source
    assert warehouse_rows(cfg, "SELECT count(*) FROM network_memberships m LEFT JOIN organisations o USING (org_key) "
                               "WHERE o.org_key IS NULL") == [(0,)]  # fmt: skip
    # the two spellings of one member stay two rows, with one Wikidata id (not a key: it repeats)
    rows = warehouse_rows(cfg, "SELECT name, org_id, wikidata_id FROM stg_eurocities__organisations "
                               "WHERE name LIKE 'Amb%Menemeni' OR name LIKE 'Amp%Menemeni' ORDER BY name")  # fmt: skip
    assert rows == [("Ambelokipi-Menemeni", "GR:ambelokipi-menemeni", "Q302020"),
                    ("Ampelokipoi-Menemeni", "GR:ampelokipoi-menemeni", "Q302020")]  # fmt: skip
    # 209 Wikidata entries, one name not in the directory (Odense), Nice's apostrophe differs
    assert warehouse_rows(cfg, "SELECT count(wikidata_id) FROM stg_eurocities__organisations") == [(208,)]
    assert warehouse_rows(cfg, "SELECT wikidata_id FROM stg_eurocities__organisations WHERE name = 'Nice Côte d’Azur'") == [("Q33959",)]


def test_sample_baltmet_members_in_their_metropolis(sample_wh):
    cfg, _ = sample_wh
    got = dict(warehouse_rows(cfg, "SELECT name, metropolis_id FROM organisations WHERE source = 'eurocities' "
                                   f"AND name IN ({', '.join(repr(n) for n in BALTMET)})"))  # fmt: skip
    assert got == BALTMET
    # the diacritic-folded spellings matched the real names of the municipalities
    assert warehouse_rows(cfg, "SELECT name, city, country, assigned_from FROM organisations WHERE name IN ('Gdansk', 'Malmo') "
                               "ORDER BY name") == [("Gdansk", "Gdansk", "PL", "PL633"), ("Malmo", "Malmo", "SE", "Malmö")]  # fmt: skip
    # suburbs that are members of their own
    assert dict(warehouse_rows(cfg, "SELECT name, metropolis_id FROM organisations WHERE name IN ('Espoo', 'Vantaa', 'Solna')")) == {
        "Espoo": "helsinki", "Vantaa": "helsinki", "Solna": "stockholm"}  # fmt: skip
    assert warehouse_rows(cfg, "SELECT metropolis_id FROM organisations WHERE name IN ('Aarhus', 'Turku', 'Kiel', 'Paris')") == [(None,)] * 4


def test_sample_hagen_is_not_hamburg(sample_wh):
    """Hagen (Ruhr, DEA53) is not the village Hagen in Hamburg's FUA: a known NUTS3 code overrules a name."""
    cfg, _ = sample_wh
    assert warehouse_rows(cfg, "SELECT nuts3, metropolis_id FROM organisations WHERE name = 'Hagen'") == [("DEA53", None)]


def test_sample_types_and_cities(sample_wh):
    cfg, _ = sample_wh
    got = {r[0]: r[1:] for r in warehouse_rows(cfg, "SELECT name, org_type, city, country, country_source FROM organisations "
                                                     "WHERE source = 'eurocities'")}  # fmt: skip
    assert got["Lyon Metropole"] == ("metropolitan authority", "Lyon", "FR", "france")
    assert got["Brussels Capital Region"] == ("metropolitan authority", "Brussels", "BE", "belgium")
    assert got["Rome Metropolitan Area"] == ("metropolitan authority", "Rome", "IT", "italy")
    assert got["Angers Loire Metropole"][1] == "Angers"
    assert got["Aix-Marseille-Provence Metropole"][1] == "Marseille"
    assert got["Brabantstad"] == ("city network", None, "NL", "netherlands")
    assert got["Mariupol (city government in exile)"][:3] == ("city", "Mariupol", "UA")
    assert got["Sarajevo"][2] == "BA" and got["Istanbul"][2] == "TR" and got["Chisinau"][2] == "MD"
    assert got["Brno"][2] == "CZ" and got["London"][2] == "GB"
    assert sum(1 for v in got.values() if v[0] == "metropolitan authority") == 18


def test_countries_of_the_directory_all_resolve():
    for _, country in pairs():
        assert ec.country_code(country), country
    assert ec.country_code("bosnia-herzegovina") == "BA" and ec.country_code("turkey") == "TR"
    assert ec.country_code("united kingdom") == "GB" and ec.country_code("czech republic") == "CZ"
    assert ec.country_code("narnia") is None and ec.country_code("no") is None


def test_unknown_country_is_quarantined_not_a_crash(cfg, tmp_path):
    text = tmp_path / "members.txt"
    text.write_text("# copy pasted from website\nGdansk\npoland\nNarnia City\nnarnia\nOrphan\n", encoding="utf-8")
    ctx = SourceContext(cfg, cfg.source("eurocities"))
    parsed = ec.parse(ctx, [landed(text)])
    assert [(r.check, r.value) for r in parsed.rejects] == [("missing_country", "Orphan")]
    contracts = quality.load_contracts(cfg.project_dir / "schemas", "eurocities")
    v = quality.validate(parsed, contracts, TABLES, 1.0, {})
    assert list(v.tables["organisations"]["org_id"]) == ["PL:gdansk"]
    assert list(v.tables["network_memberships"]["org_id"]) == ["PL:gdansk"]
    q = v.quarantine
    narnia = {(r.table_name, r.column_name, r.check_name.split("(")[0]) for r in q.itertuples() if "narnia" in (r.record_key or "")}
    assert ("organisations", "country", "isin") in narnia
    assert ("network_memberships", "country", "isin") in narnia  # the membership goes with its member
    assert v.reports["organisations"].read == 3 and v.reports["organisations"].loaded == 1


# ------------------------------------------------------------------------------------ HTML, live fetch


def test_fetch_directory_and_member_pages(httpserver: HTTPServer, tmp_path):
    members = pairs()
    serve_site(httpserver, directory_html(members, base=""), {
        "copenhagen": (FIX / "member_copenhagen.html").read_bytes(),
        "oslo": (FIX / "member_oslo.html").read_bytes(),
        "kungsbacka": (FIX / "member_kungsbacka.html").read_bytes(),
        "gdansk": 500,
    })  # fmt: skip
    cfg = override(tmp_path, httpserver.url_for("/cities/"))

    files = pipeline.land(cfg, "eurocities")
    assert files[0].origin == httpserver.url_for("/cities/") and files[0].name == "directory"
    assert len(files) == 4  # the directory + the 3 member pages that answered
    requested = [r.path for r, _ in httpserver.log]
    assert requested.count("/cities/gdansk/") == 1 and len(requested) == 2 + N  # robots.txt, directory, members

    parsed = pipeline.parse(cfg, "eurocities", files)
    m = parsed.tables["network_memberships"].set_index("member_name")  # read before stage, which empties them
    o = parsed.tables["organisations"].set_index("name")
    result = pipeline.stage(cfg, "eurocities", parsed, files, pipeline.new_run_id(), time.time(), log=lambda m: None)
    assert result.status == "success"
    assert result.tables["organisations"]["loaded"] == N and result.tables["network_memberships"]["loaded"] == N
    assert m.loc["Copenhagen", "category"] == "full member"
    assert m.loc["Oslo", "category"] == "associate member"
    assert m.loc["Kungsbacka", "category"] == "partner"
    assert m["category"].isna().sum() == N - 3  # Gdansk (HTTP 500) and the 404s: NULL, not a failure
    assert o.loc["Gdansk", "country"] == "PL" and o.loc["Gdansk", "nuts3"] == "PL633"
    assert o.loc["Nice Côte d’Azur", "country"] == "FR"
    assert o.loc["Copenhagen", "profile_url"] == httpserver.url_for("/cities/copenhagen/")
    # the same rows as the text copy: one parser, whatever the origin
    assert set(o["org_id"]) == set(ec.parse(SourceContext(cfg, cfg.source("eurocities")), [landed(TEXT)]).tables["organisations"]["org_id"])


def test_paged_directory_in_other_markup_without_member_pages(httpserver: HTTPServer, tmp_path):
    """Relative links, the name as the link text, the country in a plain sibling element; two pages."""
    members = pairs()
    half = len(members) // 2

    def plain(ms, next_page=None):
        items = "\n".join(f'<div class="entry"><a href="/cities/{slug(n)}/">{escape(n)}</a><p>{escape(c)}</p></div>' for n, c in ms)
        nxt = f'<a href="{next_page}">2</a>' if next_page else ""
        return f"<html><body><header><a href='/cities/'>Cities</a></header><main>{items}{nxt}</main></body></html>"

    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/cities/").respond_with_data(plain(members[:half], "/cities/page/2/"), content_type="text/html")
    httpserver.expect_request("/cities/page/2/").respond_with_data(plain(members[half:]), content_type="text/html")
    cfg = override(tmp_path, httpserver.url_for("/cities/"), "member_pages = false")

    files = pipeline.land(cfg, "eurocities")
    assert [f.name for f in files] == ["directory", "directory-page-2"]
    parsed = pipeline.parse(cfg, "eurocities", files)
    o = parsed.tables["organisations"]
    assert len(o) == N and o["country"].notna().all()
    assert dict(zip(o["name"], o["country_source"]))["Donostia – San Sebastian"] == "spain"


def test_js_rendered_directory_fails_and_last_good_data_stays(httpserver: HTTPServer, tmp_path):
    serve_site(httpserver, (FIX / "directory_js_empty.html").read_text(encoding="utf-8"), {})
    cfg = override(tmp_path, httpserver.url_for("/cities/"))
    good, _ = run_refresh(cfg, "eurocities", sample=True)
    assert good.status == "success"

    failed, _ = run_refresh(cfg, "eurocities")  # live fetch from the local server
    assert failed.status == "failed"
    assert "StructureChanged" in failed.message and "JavaScript" in failed.message
    assert [r.path for r, _ in httpserver.log] == ["/robots.txt", "/cities/"]  # no member pages tried
    assert warehouse_rows(cfg, "SELECT count(*) FROM organisations WHERE source = 'eurocities'") == [(N,)]

    # a refresh of another source keeps the last good eurocities data too (CORDIS: 3 real project files)
    other, _ = run_refresh(cfg, "cordis", input_path=str(cordis_cut(tmp_path, 3)))
    assert other.status == "success"
    assert warehouse_rows(cfg, "SELECT count(*) FROM organisations WHERE source = 'eurocities'") == [(N,)]
    assert warehouse_rows(cfg, "SELECT count(*) FROM network_memberships WHERE source = 'eurocities'") == [(N,)]
    assert warehouse_rows(cfg, "SELECT status FROM last_runs WHERE source = 'eurocities'") == [("failed",)]


def test_js_rendered_page_as_input_raises_structure_changed(cfg):
    ctx = SourceContext(cfg, cfg.source("eurocities"))
    with pytest.raises(StructureChanged, match="JavaScript"):
        ec.parse(ctx, [landed(FIX / "directory_js_empty.html")])


def test_member_page_categories():
    from bs4 import BeautifulSoup

    for name, want in (("copenhagen", "full member"), ("oslo", "associate member"), ("kungsbacka", "partner")):
        soup = BeautifulSoup((FIX / f"member_{name}.html").read_text(encoding="utf-8"), "lxml")
        assert ec._page_category(soup) == want
    assert ec.normalise_category("Associated business partners") == "associated business partner"
    assert ec.normalise_category("Full members") == "full member"
    assert ec.normalise_category("Observer") == "observer"  # unknown: kept for the contract to quarantine


def test_bundled_sample_is_the_real_copy():
    shared = need_shared(SHARED / "eurocities" / "members_from_website_2025-05-18.txt")
    for p in SAMPLE_DIR.iterdir():
        assert hashlib.sha256(p.read_bytes()).digest() == hashlib.sha256((shared.parent / p.name).read_bytes()).digest()
