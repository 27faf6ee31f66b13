"""What a visitor reads on the published site (issue 17, items 5-8): each source's data date apart from its
fetch date, no illustrative sample published as real data, one definition per figure shared with `baltetl
status` (metropolis_summary), labels instead of ids, no empty headings, no stray links.  The site is the
shared real sample of site_helpers (with the hand-made cluster registry loaded)."""

from __future__ import annotations

import csv
import re
from datetime import date
from html import unescape

import duckdb
import pytest

import helpers.site as h
from baltetl.sourcedates import name_date
from test_publish import published_texts


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return h.published_sample(tmp_path_factory)


def _q(site, sql, *args):
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        return con.execute(sql, list(args)).fetchall()
    finally:
        con.close()


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _pages(site):
    for path in sorted(site.site.rglob("*.html")):
        yield path, path.read_text(encoding="utf-8")


def test_file_names_give_the_export_date():
    assert name_date("keep_closed_2014-2020_partnership_export_2019_bsr-cut.csv") == "2019"
    assert name_date("members_wikidata_enriched_2025-05-18.json") == "2025-05-18"
    assert name_date("interreg_se_bsr-southbaltic_2026-06-09.json") == "2026-06-09"
    assert name_date("cordis-HORIZON-xml-baltmet-sample.tar.xz") is None
    assert name_date("project-101052342.xml") is None


def test_each_source_shows_the_date_of_its_data_apart_from_the_fetch_date(site):
    dates = {s: (d, f) for s, d, f in _q(site, "SELECT source, data_date, snapshot_date FROM public_sources")}
    today = date.today()
    assert dates["keep"] == ("2019", today) and dates["networks"] == ("2019", today)
    assert dates["eurocities"] == ("2025-05-18", today)
    assert dates["cordis"][0].startswith("2025-") and dates["cordis"][1] == today  # CORDIS's own update dates
    index = (site.site / "index.html").read_text(encoding="utf-8")
    rows = [_text(r) for r in re.findall(r"<tr>.*?</tr>", index.split('id="sources"')[1])]
    keep = next(r for r in rows if r.strip().startswith("keep.eu"))
    assert "2019" in keep and today.isoformat() in keep and "export" in keep
    footer = (site.site / "project" / "cordis-101052342.html").read_text(encoding="utf-8").split("<footer>")[1]
    assert f"data of 2019, fetched {today.isoformat()}" in footer
    assert f"(fetched {today.isoformat()})" not in footer  # no source shows only its fetch date as if it were the data's


def test_the_illustrative_cluster_sample_is_never_published_as_real_data(site):
    assert _q(site, "SELECT illustrative FROM source_data WHERE source = 'clusters'") == [(True,)]
    loaded = {r[0] for r in _q(site, "SELECT name FROM stg_clusters__organisations")}
    assert len(loaded) >= 10  # it was loaded into the warehouse ...
    alone = {r[0] for r in _q(site, """SELECT g.name FROM golden_organisations g WHERE NOT EXISTS (
        SELECT 1 FROM organisation_sources os WHERE os.golden_id = g.golden_id AND os.source <> 'clusters')""")}
    assert alone and alone <= loaded
    assert _q(site, "SELECT count(*) FROM public_organisation_sources WHERE source = 'clusters'") == [(0,)]
    assert _q(site, "SELECT count(*) FROM public_organisations WHERE list_contains(sources, 'clusters')") == [(0,)]
    for path, text in published_texts(site.site):  # ... and reaches no page, chart, index or export
        for name in alone:
            assert not re.search(rf"(?<![\w ]){re.escape(name)}(?![\w ])", text), (name, path.relative_to(site.site))
        if path.suffix == ".html":
            assert "ECCP and national registries" not in text.split("<main>")[-1].split("</main>")[-1], path  # footer
    index = (site.site / "index.html").read_text(encoding="utf-8")
    assert "Not published: Cluster registries" in index and "illustrative sample made by hand" in index
    with open(site.site / "data" / "sources.csv", encoding="utf-8") as f:
        assert {r["source"]: r["illustrative"] for r in csv.DictReader(f)}["clusters"] == "true"


def test_figures_are_defined_once_for_status_and_site(site):
    summary = {r[0]: r[1:] for r in _q(site, "SELECT metropolis_id, organisations, projects, ongoing_projects FROM metropolis_summary")}
    public = {r[0]: r[1:] for r in _q(site, "SELECT metropolis_id, organisations, projects, ongoing_projects FROM public_metropolises")}
    assert summary == public and sum(v[2] for v in summary.values()) > 100
    # the analyst's ongoing_projects view and the published projects count the same
    ongoing = dict(_q(site, "SELECT m, count(*) FROM ongoing_projects, unnest(metropolises) AS u(m) GROUP BY m"))
    published = dict(_q(site, """SELECT pm.metropolis_id, count(*) FROM public_project_metropolises pm
                                 JOIN public_projects p USING (project_key) WHERE p.ongoing GROUP BY 1"""))
    assert ongoing == published == {m: v[2] for m, v in summary.items() if v[2]}
    index = (site.site / "index.html").read_text(encoding="utf-8")
    for mid, (orgs, projects, now) in summary.items():
        row = re.search(rf'<tr><td><a href="metropolis/{mid}.html">.*?</tr>', index).group(0)
        assert re.findall(r'class="num">(\d+)<', row) == [str(orgs), str(projects), str(now)], mid
        page = (site.site / "metropolis" / f"{mid}.html").read_text(encoding="utf-8")
        assert f"{orgs} organisation" in page and f"{now} ongoing" in page, mid
        listed = len(re.findall(r'<tr[^>]*><td><a href="\.\./project/', page.split('id="projects"')[1].split("<h2")[0]))
        assert listed == now, mid  # the ongoing projects listed are the ones counted
    # each figure says what it counts
    assert "each real organisation counted once" in index and "ending today or later" in index


def test_pages_show_words_not_ids_and_no_empty_headings(site):
    topics = {r[0]: r[1] for r in _q(site, "SELECT topic, label FROM public_topics")}
    ids = [t for t, label in topics.items() if t != label]
    assert "smart_cities" in ids
    shown_topic_pages = 0
    for path, html in _pages(site):
        rel = str(path.relative_to(site.site))
        main = html.split("<main>")[1].split("</main>")[0]
        text = _text(main)
        for t in ids:
            assert not re.search(rf"\b{t}\b", text), (t, rel)
        assert "associatedPartner" not in text and "thirdParty" not in text, rel
        assert not re.search(r"\b(keyword|euroscivoc|call|priority):\S", text), rel  # why a topic matched, in words
        assert not re.search(r"(?<![\d\u202f])1 (projects|organisations|partners)\b", text), rel
        assert not re.search(r">\s*SVG\s*</a>", html), rel
        for m in re.finditer(r"<h2[^>]*>(.*?)</h2>(.*?)(?=<h2|$)", main, flags=re.S):  # a heading has content
            assert _text(m.group(2)).strip(), (rel, m.group(1))
        if "<h2>Topics</h2>" in main:
            shown_topic_pages += 1
    assert shown_topic_pages > 10
    project = (site.site / "project" / "cordis-101052342.html").read_text(encoding="utf-8")
    assert ">Associated partner<" in project or ">Partner<" in project


def test_the_co_operation_chart_shows_its_numbers(site):
    index = (site.site / "index.html").read_text(encoding="utf-8")
    svg = re.search(r'<svg[^>]*aria-labelledby="chart-links".*?</svg>', index, flags=re.S).group(0)
    links = _q(site, "SELECT metro_a, metro_b, ongoing_projects FROM public_metropolis_links WHERE ongoing_projects > 0")
    numbers = re.findall(r'text-anchor="middle"[^>]*>(\d+)</text>', svg)
    assert len(numbers) == 2 * len(links) and sorted(map(int, numbers)) == sorted([n for *_, n in links] * 2)


def test_the_map_places_each_metropolis_offline(site):
    """The home page's map: a circle per metropolis at its configured coordinates, linked to its page, its
    number as text; nothing fetched from anywhere (works from file:// and offline)."""
    index = (site.site / "index.html").read_text(encoding="utf-8")
    svg = re.search(r'<svg[^>]*aria-labelledby="chart-map".*?</svg>', index, flags=re.S).group(0)
    assert not re.search(r'(?:href|src)="https?:', svg) and "url(" not in svg and "<image" not in svg
    where = {}
    for href, cx, cy, text in re.findall(r'<a href="metropolis/([a-z_]+)\.html"><circle cx="([\d.]+)" cy="([\d.]+)".*?<text[^>]*>(.*?)</text>',
                                         svg, flags=re.S):  # fmt: skip
        where[href] = (float(cx), float(cy), _text(text))
    orgs = dict(_q(site, "SELECT metropolis_id, organisations FROM public_metropolises"))
    assert set(where) == set(orgs) == set(site.cfg.raw["publish"]["map"])
    for mid, (_, _, text) in where.items():
        assert text.split()[-1] == str(orgs[mid]), mid
    x, y = {m: v[0] for m, v in where.items()}, {m: v[1] for m, v in where.items()}
    assert x["oslo"] < x["stockholm"] < x["helsinki"] < x["st_petersburg"]  # west to east
    assert y["helsinki"] < y["tallinn"] < y["riga"] < y["vilnius"] < y["warsaw"]  # north to south
    riga = (site.site / "metropolis" / "riga.html").read_text(encoding="utf-8")
    places = re.search(r'<svg[^>]*aria-labelledby="chart-places".*?</svg>', riga, flags=re.S).group(0)
    counted = [int(n) for n in re.findall(r'font-size="12"[^>]*>(\d+)</text>', places)]
    assert sum(counted) == orgs["riga"] and "Riga" in _text(places)


def test_the_published_source_records_carry_their_lineage(site):
    """public_organisation_sources (and its open-data export) names each record's own id in its source and the
    country it was matched in, with the evidence when that is not the source's."""
    rows = _q(site, """SELECT p.source_id, os.source_id, p.matched_country, o.country, p.country_evidence
                       FROM public_organisation_sources p JOIN organisation_sources os USING (org_key)
                       JOIN organisations o USING (org_key) WHERE p.source <> 'revisions' AND NOT p.name_withheld""")
    assert len(rows) > 100
    assert all(pub and pub == " ".join(own.split()) for pub, own, *_ in rows)  # (published text: spaces folded)
    assert all(why is None or (matched and matched != stated) for _, _, matched, stated, why in rows)
    assert sum(matched is not None for _, _, matched, _, _ in rows) > 0.9 * len(rows)
    exported = (site.site / "data" / "organisation_sources.csv").read_text(encoding="utf-8").splitlines()[0]
    assert {"source_id", "matched_country", "country_evidence"} <= set(exported.split(","))


def test_no_name_of_a_person_among_the_organisations_is_published(site):
    """The real CORDIS sample lists sole traders under their own names (baltetl.personal): no page, chart,
    search index or export holds such a name; their organisations are published under their short names or as
    withheld."""
    withheld = _q(site, """SELECT o.name, os.source_id, os.golden_id, g.name FROM organisation_sources os
                           JOIN organisations o USING (org_key) JOIN golden_organisations g USING (golden_id)
                           WHERE os.name_withheld""")
    assert len(withheld) >= 5
    assert all(g != name for name, _sid, _gid, g in withheld)
    shown = {gid for (gid,) in _q(site, "SELECT golden_id FROM public_organisations")}
    assert {gid for _n, _s, gid, _g in withheld} & shown  # (some are published, under another name)
    names = [" ".join(name.split()) for name, *_ in withheld]
    ids = [sid for _n, sid, _g, _gn in withheld if sid]
    assert ids
    for path, text in published_texts(site.site):
        flat = " ".join(text.split())
        for name in names:
            assert name not in flat and name.upper() not in flat.upper(), (name, path.relative_to(site.site))
        for sid in ids:  # nor the record's id in its source (CORDIS: the id of her record there), nor its key
            assert not re.search(rf"(?<![\w-]){re.escape(sid)}(?![\w-])", text), (sid, path.relative_to(site.site))
    exported = _q(site, "SELECT count(*) FROM public_organisation_sources WHERE name_withheld AND source_name IS NULL")
    assert exported[0][0] >= 5  # published as records whose name is withheld


def test_a_type_read_from_the_name_is_only_where_no_source_gives_one_and_says_so(site):
    """keep.eu gives no type: such an organisation's type is read from its name (baltetl.orgtypes) where the
    model is sure enough, shown as such on its page; an organisation a source types keeps the source's."""
    from baltetl import orgtypes

    rows = _q(site, "SELECT activity_type, org_type, type_from_name, type_from_name_p FROM golden_organisations")
    inferred = [r for r in rows if r[2]]
    assert inferred and all(a is None and o is None and p >= orgtypes.load()["threshold"] for a, o, _t, p in inferred)
    assert not [r for r in rows if r[2] is None and r[3] is not None]
    shown = _q(site, """SELECT count(*) FROM public_organisations WHERE metropolis_id IS NOT NULL
                        AND type_from_name IS NOT NULL AND activity_type IS NULL AND org_type IS NULL""")[0][0]
    said = sum("read from its name by a model" in html for path, html in _pages(site) if path.parent.name == "organisation")
    assert said == shown > 0
