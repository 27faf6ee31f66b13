"""Publishing (baltetl.publish, baltetl.exports, warehouse/public/views.sql): what reaches the site and the open-data
exports, and what never does.  The site is published from real builds of the bundled samples with the test
revisions of site_helpers (an XSS organisation name, persons with and without consent, hidden records)."""

from __future__ import annotations

import csv
import html as html_lib
import json
import re
import shutil
import xml.etree.ElementTree as ET

import duckdb
import pytest
from typer.testing import CliRunner

import helpers.site as h
from baltetl import publish as pub
from baltetl.charts import bar_chart, network_chart
from baltetl.config import load_config, package_path
from baltetl.warehouse import create_public_views, sql_dir

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return h.published_sample(tmp_path_factory)


def published_texts(root):
    """(path, text) of every published file; Parquet read back through DuckDB, every value as text."""
    con = duckdb.connect()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            rows = con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
            yield path, "\n".join(" | ".join(str(v) for v in r) for r in rows)
        else:
            yield path, path.read_bytes().decode("utf-8")


def test_public_views_hold_only_what_may_be_published(site):
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        persons = con.execute("SELECT name, email, organisation FROM public_persons ORDER BY name").fetchall()
        names = {r[0] for r in con.execute("SELECT name FROM public_organisations").fetchall()}
        projects = {r[0] for r in con.execute("SELECT project_key FROM public_projects").fetchall()}
        hidden_orgs = con.execute("SELECT count(*) FROM golden_organisations WHERE hidden").fetchone()[0]
        # shown: not hidden, and not only from the illustrative cluster sample (test_site_content)
        in_metro = con.execute("SELECT count(*) FROM shown_organisations WHERE metropolis_id IS NOT NULL").fetchone()[0]
        published_in_metro = con.execute("SELECT count(*) FROM public_organisations WHERE metropolis_id IS NOT NULL").fetchone()[0]
        summary_orgs = con.execute("SELECT sum(organisations) FROM metropolis_summary").fetchone()[0]
        partners = con.execute("SELECT count(*) FROM public_participations WHERE project_key = ?", [h.EVIL_PROJECT]).fetchone()[0]
        cols = {r[0] for r in con.execute("DESCRIBE public_persons").fetchall()}
        no_metro_partner = con.execute("""SELECT count(*) FROM public_projects p WHERE NOT EXISTS (
            SELECT 1 FROM public_participations pa WHERE pa.project_key = p.project_key AND pa.metropolis_id IS NOT NULL)""").fetchone()[0]
    finally:
        con.close()
    # not the refusing, withdrawn or hidden ones; an organisation named with an address is shown without it
    assert persons == [(h.CONSENTED["name"], h.CONSENTED["email"], h.EVIL_NAME),
                       (h.CONSENTED_2["name"], h.CONSENTED_2["email"], h.MAILBOX_NAME)]  # fmt: skip
    assert "consent_to_publish" not in cols and "revision_id" not in cols
    assert hidden_orgs == 1 and h.HIDDEN_ORG_NAME not in names
    assert published_in_metro == in_metro  # every visible organisation of a metropolis is published
    assert summary_orgs == in_metro  # the analysts' summary does not count the hidden one either
    assert h.EVIL_NAME in names and h.MAILBOX_NAME in names  # 'Mailbox Oy kontakt.person@...' without the address
    assert h.HIDDEN_PROJECT not in projects and h.EVIL_PROJECT in projects
    assert partners > 10 and no_metro_partner == 0
    assert len(projects) == site.result["pages"]["project"]


def test_no_published_file_holds_a_person_without_consent(site):
    """Every file of the site and the exports (HTML, JS, SVG, CSV, JSON, Parquet) is scanned."""
    files = emails = 0
    found_consented = False
    for path, text in published_texts(site.site):
        files += 1
        low = text.lower()
        for secret in h.SECRETS:
            assert secret.lower() not in low, f"{secret!r} published in {path.relative_to(site.site)}"
        for addr in EMAIL.findall(text):
            emails += 1
            assert addr in (h.CONSENTED["email"], h.CONSENTED_2["email"]), f"e-mail address {addr!r} in {path.relative_to(site.site)}"
        found_consented |= h.CONSENTED["email"] in text and path.suffix == ".html"
    kinds = {p.suffix for p in site.site.rglob("*") if p.is_file()}
    assert {".html", ".js", ".svg", ".csv", ".json", ".parquet"} <= kinds
    assert files == site.result["files"]
    assert found_consented and emails >= 4  # the consented contact is published (page, CSV, Parquet, JSON)


def test_hidden_records_are_not_published(site):
    for path, text in published_texts(site.site):
        assert h.HIDDEN_PROJECT not in text, path
    assert not list((site.site / "project").glob("keep-2014-2020-iwater*"))


def test_exports_hold_every_public_row(site):
    data = site.site / "data"
    con = duckdb.connect(str(site.warehouse), read_only=True)
    dump = json.loads((data / "baltmet.json").read_text(encoding="utf-8"))
    for name in ("organisations", "projects", "participations", "metropolises", "persons", "organisation_sources",
                 "network_memberships", "metropolis_links", "sources", "project_metropolises"):  # fmt: skip
        n = con.execute(f"SELECT count(*) FROM public_{name}").fetchone()[0]
        with open(data / f"{name}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n, name
        assert duckdb.execute(f"SELECT count(*) FROM read_parquet('{data / (name + '.parquet')}')").fetchone()[0] == n
        assert len(dump[name]) == n, name
    assert n > 0
    orgs = {r["golden_id"]: r for r in csv.DictReader(open(data / "organisations.csv", encoding="utf-8"))}
    assert orgs[h.EVIL_KEY]["name"] == h.EVIL_NAME  # data is data: exported as it is, escaped only where shown
    assert json.loads(orgs[h.EVIL_KEY]["sources"]) == ["revisions"]  # lists are JSON arrays in CSV
    projects = {r["project_key"]: r for r in dump["projects"]}
    assert "helsinki" in projects[h.EVIL_PROJECT]["metropolises"]
    con.close()


def test_csv_cells_a_spreadsheet_would_run_are_guarded(site):
    persons = {r["name"]: r for r in csv.DictReader(open(site.site / "data" / "persons.csv", encoding="utf-8"))}
    assert persons[h.CONSENTED["name"]]["phone"] == "'" + h.CONSENTED["phone"]  # '+358 ...' would be read as a formula
    assert persons[h.CONSENTED["name"]]["organisation"].startswith("<script>")  # '<' is no formula: as it is
    parquet = duckdb.execute(f"SELECT phone FROM read_parquet('{site.site / 'data' / 'persons.parquet'}') "
                             "WHERE phone IS NOT NULL").fetchone()[0]  # fmt: skip
    assert parquet == h.CONSENTED["phone"]


def test_datapackage_describes_every_file_and_validates(site):
    frictionless = pytest.importorskip("frictionless", reason="frictionless is in the test extras")
    data = site.site / "data"
    pkg = json.loads((data / "datapackage.json").read_text(encoding="utf-8"))
    paths = {r["path"] for r in pkg["resources"]}
    assert paths == {p.name for p in data.iterdir()} - {"datapackage.json"}
    names = {lic.get("name") for lic in pkg["licenses"]}
    titles = " ".join(lic.get("title", "") for lic in pkg["licenses"])
    assert "CC-BY-4.0" in names and "keep.eu" in titles and "Eurostat" in titles
    by_name = {r["name"]: r for r in pkg["resources"]}
    assert [f["name"] for f in by_name["organisations"]["schema"]["fields"]][:2] == ["golden_id", "name"]
    assert by_name["organisations"]["schema"]["primaryKey"] == ["golden_id"]
    types = {f["name"]: f["type"] for f in by_name["projects"]["schema"]["fields"]}
    assert types["end_date"] == "date" and types["ongoing"] == "boolean" and types["metropolises"] == "array"
    assert any("CORDIS" in s["title"] for s in pkg["sources"])
    # the CSV files against their schemas (types, primary keys); Parquet by its columns (frictionless would
    # need pyarrow to read it)
    tabular = [r for r in pkg["resources"] if r["format"] == "csv"]
    report = frictionless.Package({**pkg, "resources": tabular}, basepath=str(data)).validate()
    errors = [(t.name, e.type, e.note) for t in report.tasks for e in t.errors][:10]
    assert report.valid and len(report.tasks) == len(tabular) >= 10, errors
    for r in pkg["resources"]:
        if r["format"] == "parquet":
            cols = [c[0] for c in duckdb.execute(f"DESCRIBE SELECT * FROM read_parquet('{data / r['path']}')").fetchall()]
            assert cols == [f["name"] for f in r["schema"]["fields"]], r["path"]


def test_footer_and_datapackage_credit_every_shipped_reference_file(site):
    """Each shipped reference file (reference/credits.json) is credited with its licence, and a postcode list
    with its country, in every page's footer and in datapackage.json."""
    folder = package_path("reference")
    credits = json.loads((folder / "credits.json").read_text(encoding="utf-8"))
    shipped = {n: c for n, c in credits.items() if (folder / n).is_file()}
    assert {c.get("country") for c in shipped.values()} >= {"DE", "DK", "EE", "FI", "LT", "LV", "NO", "PL", "SE", None}
    for page in ("index.html", "organisation/" + next((site.site / "organisation").iterdir()).name):
        html = (site.site / page).read_text(encoding="utf-8")
        footer = re.sub(r"<[^>]+>", "", html_lib.unescape(html[html.index("<footer>"):]))
        for name, c in shipped.items():
            said = f"{c['credit']} ({c['licence']})"
            assert said in footer, (page, name)
            if c.get("country"):
                countries = re.search(re.escape(said) + r" for ([A-Z ]+)", footer)
                assert countries and c["country"] in countries[1].split(), (page, name)
    pkg = json.loads((site.site / "data" / "datapackage.json").read_text(encoding="utf-8"))
    sources = " ".join(s["title"] for s in pkg["sources"])
    for res in (pkg, *pkg["resources"]):
        licences = {(lic.get("path"), lic.get("title", "")) for lic in res["licenses"]}
        for name, c in shipped.items():
            assert c["credit"] in sources, name
            assert any(path == c["url"] and c["licence"] in title for path, title in licences), (res.get("name"), name)


def test_site_pages_link_each_other_relatively(site):
    root = site.site
    index = (root / "index.html").read_text(encoding="utf-8")
    assert 'href="metropolis/helsinki.html"' in index and "<svg" in index
    for page in ("index.html", "search.html", "metropolis/helsinki.html"):
        html = (root / page).read_text(encoding="utf-8")
        assert not re.search(r'(href|src|action)="/', html), page  # no root-absolute link: works from file://
        for target in re.findall(r'(?:href|src)="((?!https?:|mailto:|#|data:)[^"]+)"', html):
            assert (root / page).parent.joinpath(target.split("?")[0]).resolve().exists(), (page, target)
    # attribution of every source in every page's footer
    for page in ("index.html", "project/cordis-101052342.html"):
        html = (root / page).read_text(encoding="utf-8")
        assert "© European Union, CORDIS" in html and "Creative Commons Attribution 4.0" in html
        assert "keep.eu" in html and "Eurostat" in html


def test_names_are_escaped_everywhere_they_are_shown(site):
    evil = site.site / "organisation" / "revisions-evil-oy.html"
    html = evil.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; Evil Oy" in html
    assert "javascript:" not in html  # its website field is not made a link
    index = (site.site / "assets" / "search-index.js").read_text(encoding="utf-8")
    assert "<" not in index and "\\u003cscript\\u003ewindow.__pwned" in index
    project = (site.site / "project" / "cordis-101052342.html").read_text(encoding="utf-8")
    assert 'href="../organisation/revisions-evil-oy.html">&lt;script&gt;' in project


def test_optional_marts_are_shown_when_present(site, tmp_path):
    """The topic and opportunity marts (baltetl.topics) in their agreed shape, as fixtures: published when
    present, with hidden organisations and projects filtered out; absent (an older warehouse), the site has no
    such sections."""
    assert (site.site / "data" / "opportunities.csv").exists()  # every build makes them
    wh = tmp_path / "marts.duckdb"
    shutil.copy(site.warehouse, wh)
    con = duckdb.connect(str(wh))
    for t in ("project_topics", "organisation_topics", "metropolis_links", "opportunities", "metropolis_opportunities"):
        con.execute(f"DROP VIEW IF EXISTS public_{t}")
        con.execute(f"DROP TABLE {t} CASCADE")
    create_public_views(con, sql_dir(site.cfg) / "public" / "views.sql")
    con.close()
    bare = tmp_path / "bare"
    pub.publish(load_config(warehouse=wh), bare, log=lambda m: None)
    assert not (bare / "data" / "opportunities.csv").exists()
    assert "Opportunities" not in (bare / "metropolis" / "helsinki.html").read_text(encoding="utf-8")
    con = duckdb.connect(str(wh))
    gid = lambda key: con.execute("SELECT golden_id FROM organisation_sources WHERE org_key = ?", [key]).fetchone()[0]  # noqa: E731
    riga, evil, hidden = gid("eurocities:LV:riga"), h.EVIL_KEY, "revisions:hidden-helsinki-org"
    con.execute("""
        CREATE TABLE project_topics (project_key VARCHAR, relevant BOOLEAN, topics VARCHAR[], reasons VARCHAR[]);
        CREATE TABLE organisation_topics (golden_id VARCHAR, topic VARCHAR, weight DOUBLE);
        CREATE TABLE metropolis_links (metro_a VARCHAR, metro_b VARCHAR, ongoing_projects BIGINT, related_projects BIGINT,
                                       organisations BIGINT, project_keys VARCHAR[]);
        CREATE TABLE opportunities (golden_a VARCHAR, golden_b VARCHAR, metro_a VARCHAR, metro_b VARCHAR, score DOUBLE,
            shared_topics VARCHAR[], shared_networks VARCHAR[], complementary VARCHAR, reasons VARCHAR, rank_in_pair INTEGER);
        CREATE TABLE metropolis_opportunities (metro_a VARCHAR, metro_b VARCHAR, opportunities BIGINT, top_score DOUBLE,
                                               top_topics VARCHAR[]);
    """)  # fmt: skip
    con.execute("INSERT INTO project_topics VALUES (?, true, ['biodiversity', 'green transition'], ['nature-based solutions <b>'])",
                [h.EVIL_PROJECT])  # fmt: skip
    con.execute("INSERT INTO project_topics VALUES (?, true, ['water'], ['storm water'])", [h.HIDDEN_PROJECT])
    con.execute("INSERT INTO organisation_topics VALUES (?, 'smart city', 0.9), (?, 'Secret topic of a hidden org', 1.0)",
                [evil, hidden])  # fmt: skip
    con.execute("INSERT INTO metropolis_links VALUES ('helsinki', 'riga', 7, 3, 12, [?, ?])", [h.EVIL_PROJECT, h.HIDDEN_PROJECT])
    con.execute("""INSERT INTO opportunities VALUES
        (?, ?, 'helsinki', 'riga', 0.87, ['smart city'], ['BaltMet'], 'research + city', 'Both work on smart city pilots', 1),
        (?, ?, 'helsinki', 'riga', 0.95, ['smart city'], [], NULL, 'Unpublishable pair', 1)""", [evil, riga, hidden, riga])
    con.execute("INSERT INTO metropolis_opportunities VALUES ('helsinki', 'riga', 1, 0.87, ['smart city'])")
    views = create_public_views(con, sql_dir(site.cfg) / "public" / "views.sql")
    assert {"public_project_topics", "public_organisation_topics", "public_opportunities",
            "public_metropolis_opportunities"} <= set(views)  # fmt: skip
    assert con.execute("SELECT project_keys FROM public_metropolis_links").fetchall() == [([h.EVIL_PROJECT],)]
    con.close()
    cfg = load_config(warehouse=wh)
    out = tmp_path / "site"
    result = pub.publish(cfg, out, log=lambda m: None)
    assert {f["path"] for f in result["exports"]} >= {"opportunities.csv", "project_topics.parquet", "metropolis_opportunities.csv"}
    helsinki = (out / "metropolis" / "helsinki.html").read_text(encoding="utf-8")
    assert "Co-operation opportunities" in helsinki and "Both work on smart city pilots" in helsinki
    assert "Unpublishable pair" not in helsinki and "Related to the topics" in helsinki
    evil_page = (out / "organisation" / "revisions-evil-oy.html").read_text(encoding="utf-8")
    assert "smart city" in evil_page and "Both work on smart city pilots" in evil_page
    project = (out / "project" / "cordis-101052342.html").read_text(encoding="utf-8")
    assert "related to the BaltMet topics" in project and "green transition" in project
    assert "nature-based solutions &lt;b&gt;" in project
    for path, text in published_texts(out):
        assert "Secret topic of a hidden org" not in text and "Unpublishable pair" not in text, path
        assert h.HIDDEN_PROJECT not in text, path


def test_publish_keeps_the_previous_site_when_it_fails(site, tmp_path, monkeypatch):
    out = tmp_path / "site"
    shutil.copytree(site.site, out)  # the previous site
    marker = (out / pub.MARKER).read_text()

    def broken(*a, **k):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(pub, "project_context", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        pub.publish(site.cfg, out, log=lambda m: None)
    assert (out / pub.MARKER).read_text() == marker  # the previous site, whole
    assert sum(1 for p in out.rglob("*.html")) == sum(site.result["pages"].values())
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.lock", "site"]  # no half-written folder beside it


def test_publish_replaces_its_own_site_but_no_other_folder(site, tmp_path):
    out = tmp_path / "site"
    shutil.copytree(site.site, out)
    (out / "stale.html").write_text("from an older publish")
    pub.publish(site.cfg, out, log=lambda m: None)
    assert not (out / "stale.html").exists() and (out / "index.html").exists()
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious")
    with pytest.raises(pub.PublishError, match="not a site published by baltetl"):
        pub.publish(site.cfg, foreign, log=lambda m: None)
    assert (foreign / "thesis.docx").read_text() == "precious"


def test_publish_needs_a_warehouse_with_public_views(site, tmp_path):
    old = tmp_path / "old.duckdb"
    shutil.copy(site.warehouse, old)
    con = duckdb.connect(str(old))
    con.execute("DROP VIEW public_metropolis_links")
    con.close()
    with pytest.raises(pub.PublishError, match="baltetl refresh"):
        pub.publish(load_config(warehouse=old), tmp_path / "b", log=lambda m: None)
    with pytest.raises(pub.PublishError, match="no warehouse"):
        pub.publish(load_config(warehouse=tmp_path / "none.duckdb"), tmp_path / "c", log=lambda m: None)


def test_cli_publish_while_an_analyst_holds_the_warehouse(site, tmp_path):
    from baltetl.cli import app

    out = tmp_path / "cli-site"
    held = duckdb.connect(str(site.warehouse), read_only=True)  # publish opens it read-only too
    try:
        res = CliRunner().invoke(app, ["publish", "--out", str(out), "--warehouse", str(site.warehouse)])
    finally:
        held.close()
    assert res.exit_code == 0, res.output
    assert "size_mb=" in res.output and "organisation" in res.output
    assert (out / "index.html").exists() and (out / "data" / "datapackage.json").exists()
    res = CliRunner().invoke(app, ["publish", "--out", str(out), "--warehouse", str(tmp_path / "missing.duckdb")])
    assert res.exit_code == 2 and "no warehouse" in res.output


def test_default_site_folder(cfg, tmp_path):
    assert pub.site_dir(cfg) == cfg.warehouse.parent / "site"
    cfg.raw["paths"]["site"] = str(tmp_path / "www")
    assert pub.site_dir(cfg) == tmp_path / "www"


def test_charts_escape_their_labels():
    label = 'Evil <b>"&amp;</b> Oy'
    for svg in (bar_chart([(label, 3, "metropolis/x.html"), ("Riga", 5, None)], "Orgs <i>"),
                network_chart([("a", label, 3, "metropolis/a.html"), ("b", "Riga", 5, None)], [("a", "b", 2)], "Net")):
        root = ET.fromstring(svg)  # well-formed XML: nothing broke out of its element
        ns = "{http://www.w3.org/2000/svg}"
        assert not list(root.iter(f"{ns}b")) and not list(root.iter(f"{ns}i"))
        texts = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
        assert label in texts


def test_values_put_into_links_and_scripts_are_safe():
    assert pub.web_url("javascript:alert(1)") is None
    assert pub.web_url("www.riga.lv") == "https://www.riga.lv"
    assert pub.web_url("www.daba.gov.lv\nwww.other.by") == "https://www.daba.gov.lv"
    assert pub.web_url('https://x.eu/" onmouseover="alert(1)') is None
    assert pub.web_url("data:text/html,<script>") is None
    text = pub.js_json({"n": "</script><script>alert(1)</script>\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"n": "</script><script>alert(1)</script>\u2028&"}


# websites a partner or a source could give: none may reach a page or an export as a link of another scheme
HOSTILE_WEBSITES = ["javascript:pwnd1()", " JaVaScRiPt:pwnd2()", "data:text/html,<script>pwnd3()</script>",
                    "\x01javascript:pwnd4()", "java\tscript:pwnd5()", "vbscript:pwnd6()"]  # fmt: skip
SAFE_WEBSITES = {"HTTPS://Example.org/seven": "https://Example.org/seven", "www.riga.lv": "https://www.riga.lv"}
# names a spreadsheet would run as a formula: the ASCII ones and those NFKC folds to them
FORMULA_NAMES = ['＝HYPERLINK("http://x.example","y")', "＋1+1", "－1+1", "＠SUM(1)", "﹦1", "\t=1+1", "\r=1+1"]


@pytest.fixture(scope="module")
def hostile(site, tmp_path_factory):
    """The sample site published again after hostile websites, a project address and formula-like names were
    written into its warehouse: (published site folder, publish result, {golden_id: website given},
    {golden_id: name given}, the project whose url was set)."""
    root = tmp_path_factory.mktemp("hostile")
    wh = root / "baltmet.duckdb"
    shutil.copy(site.warehouse, wh)
    con = duckdb.connect(str(wh))
    ids = [r[0] for r in con.execute("SELECT golden_id FROM public_organisations WHERE golden_id <> ? ORDER BY golden_id "
                                     "LIMIT 20", [h.EVIL_KEY]).fetchall()]  # fmt: skip
    sites = dict(zip(ids, HOSTILE_WEBSITES + list(SAFE_WEBSITES)))
    names = dict(zip(ids[len(sites):], FORMULA_NAMES))
    for gid, w in sites.items():
        con.execute("UPDATE golden_organisations SET website = ? WHERE golden_id = ?", [w, gid])
    for gid, n in names.items():
        con.execute("UPDATE golden_organisations SET name = ? WHERE golden_id = ?", [n, gid])
    project = con.execute("SELECT project_key FROM public_projects ORDER BY project_key LIMIT 1").fetchone()[0]
    con.execute("UPDATE projects SET url = 'javascript:pwnd7()' WHERE project_key = ?", [project])
    con.close()
    out = root / "site"
    result = pub.publish(load_config(warehouse=wh), out, log=lambda m: None)
    return out, result, sites, names, project


def test_exports_hold_no_unsafe_link_in_any_format(hostile):
    out, result, sites, _names, project = hostile
    data = out / "data"
    want = {gid: SAFE_WEBSITES.get(w) for gid, w in sites.items()}  # hostile ones empty
    csv_orgs = {r["golden_id"]: r["website"] for r in csv.DictReader(open(data / "organisations.csv", encoding="utf-8"))}
    assert {g: csv_orgs[g] or None for g in sites} == want
    assert csv_orgs[h.EVIL_KEY] == ""  # the revision's javascript:alert(1)
    pq = dict(duckdb.execute(f"SELECT golden_id, website FROM read_parquet('{data / 'organisations.parquet'}')").fetchall())
    assert {g: pq[g] for g in sites} == want and pq[h.EVIL_KEY] is None
    dump = json.loads((data / "baltmet.json").read_text(encoding="utf-8"))
    js = {r["golden_id"]: r["website"] for r in dump["organisations"]}
    assert {g: js[g] for g in sites} == want and js[h.EVIL_KEY] is None
    assert next(r for r in dump["projects"] if r["project_key"] == project)["url"] is None
    assert {r["project_key"]: r["url"] for r in csv.DictReader(open(data / "projects.csv", encoding="utf-8"))}[project] == ""
    # counted: every format of the table reports the values it emptied
    emptied = {f["path"]: f.get("links_emptied", 0) for f in result["exports"]}
    assert emptied["organisations.csv"] == emptied["organisations.parquet"] == len(HOSTILE_WEBSITES) + 1
    assert emptied["projects.csv"] == 1
    for path, text in published_texts(out):  # pages, exports, datapackage.json, the search index
        assert "pwnd" not in text.lower() and "javascript:alert" not in text.lower(), path


def test_csv_guards_formulas_written_in_fullwidth_and_other_nfkc_forms(hostile):
    out, _result, _sites, names, _project = hostile
    rows = {r["golden_id"]: r["name"] for r in csv.DictReader(open(out / "data" / "organisations.csv", encoding="utf-8",
                                                                    newline=""))}  # fmt: skip
    assert len(names) == len(FORMULA_NAMES)
    for gid, name in names.items():
        assert rows[gid] == "'" + name.strip(" "), repr(name)
    pq = dict(duckdb.execute(f"SELECT golden_id, name FROM read_parquet('{out / 'data' / 'organisations.parquet'}')").fetchall())
    assert {g: pq[g] for g in names} == {g: n.strip(" ") for g, n in names.items()}  # Parquet: as it is
