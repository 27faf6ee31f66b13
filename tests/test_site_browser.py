"""The published site in a real browser: Debian's headless Chromium driven by playwright, pages opened from
file:// (and once over a local HTTP server), every console error and page error collected.

Skipped, with the reason, when /usr/bin/chromium or playwright is absent (.ci/run installs Chromium).
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

import duckdb
import pytest

import helpers.site as h


pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with h.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return h.published_sample(tmp_path_factory)


class Tab:
    """A page that records console errors, page errors and dialogs (a dialog is dismissed at once)."""

    def __init__(self, browser):
        self.page = browser.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, url: str):
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        return self.page

    def clean(self) -> None:
        assert self.errors == [] and self.dialogs == []
        assert self.page.evaluate("typeof window.__pwned") == "undefined"


@pytest.fixture
def tab(browser):
    t = Tab(browser)
    yield t
    t.page.close()


def url(site, rel: str) -> str:
    return (site.site / rel).as_uri()


def test_home_page_loads_without_errors_from_file_and_http(site, tab):
    page = tab.open(url(site, "index.html"))
    assert page.title().startswith("Home")
    rows = page.locator("#metropolises tbody tr")
    assert rows.count() == len(site.cfg.metropolises)
    assert page.locator("svg").count() == 3 and page.locator("footer").inner_text().count("CORDIS") >= 1  # map, bars, matrix
    tab.clean()
    # the same site from a static web server
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site.site))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = tab.open(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.locator("header nav a", has_text="Riga").click()
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text().startswith("Riga")
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/search.html?q=riga")
        page.locator("#results li").first.wait_for()
        tab.clean()
    finally:
        server.shutdown()
        server.server_close()


def test_metropolis_page_lists_organisations(site, tab):
    page = tab.open(url(site, "metropolis/helsinki.html"))
    links = page.locator("ul.orgs a")
    assert links.count() >= 100
    names = links.all_inner_texts()
    assert h.KNOWN_ORG in names and h.MAILBOX_NAME in names and h.HIDDEN_ORG_NAME not in names
    assert page.locator("h3", has_text="Universities and schools").count() == 1
    links.filter(has_text=h.KNOWN_ORG).first.click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == h.KNOWN_ORG
    assert page.locator("dd a[href='../metropolis/helsinki.html']").inner_text() == "Helsinki"  # back to its metropolis
    tab.clean()


def test_search_finds_a_known_organisation_of_the_real_data(site, tab):
    page = tab.open(url(site, "index.html"))
    page.locator("header input[name=q]").fill("helsingin yliopisto")
    page.locator("header button").click()  # the header's form: search.html?q=... under file://
    page.wait_for_load_state("load")
    first = page.locator("#results li a").first
    first.wait_for()
    assert first.inner_text() == h.KNOWN_ORG
    assert "found" in page.locator("#count").inner_text()
    # typing refines the results at once; accents and case do not matter
    page.locator("#q").fill("GÉOLOGIAN tutkimus")
    assert page.locator("#results li a").first.inner_text() == "GEOLOGIAN TUTKIMUSKESKUS"
    page.locator("#q").fill("Biodiversa")
    assert "Biodiversa-plus" in page.locator("#results li a").all_inner_texts()[0]
    page.locator("#q").fill(h.KNOWN_ORG.lower())
    page.locator("#results li a").first.click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == h.KNOWN_ORG
    tab.clean()


def test_project_page_links_back_to_its_organisations(site, tab):
    page = tab.open(url(site, "project/cordis-101052342.html"))
    assert page.locator("h1").inner_text().startswith("Biodiversa-plus")
    partners = page.locator("#partners tbody tr")
    linked = page.locator("#partners tbody a[href^='../organisation/']")
    assert partners.count() > linked.count() >= 5  # partners outside the metropolises are text
    hrefs = linked.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    names = linked.all_inner_texts()
    for href, name in list(zip(hrefs, names))[:4]:
        org = tab.open(url(site, href.removeprefix("../")))
        assert org.locator("h1").inner_text() == name
        back = org.locator("a[href='../project/cordis-101052342.html']")
        assert back.count() == 1
        back.click()
        org.wait_for_load_state("load")
        assert org.locator("h1").inner_text().startswith("Biodiversa-plus")
    tab.clean()


def test_a_script_in_an_organisation_name_is_text_and_runs_nothing(site, tab):
    shown = h.EVIL_NAME
    for rel in ("organisation/revisions-evil-oy.html", "project/cordis-101052342.html", "metropolis/helsinki.html"):
        page = tab.open(url(site, rel))
        assert page.get_by_text(shown, exact=False).first.is_visible(), rel
        assert page.locator("img").count() == 0 and page.locator("script").count() == 0, rel
        tab.clean()
    page = tab.open(url(site, "organisation/revisions-evil-oy.html"))
    assert page.locator("h1").inner_text() == shown
    assert page.locator("a[href^='javascript:']").count() == 0
    assert h.CONSENTED["email"] in page.locator("ul.persons").inner_text()  # the consented contact is shown
    # in the search results too (built by search.js from the index)
    page = tab.open(url(site, "search.html"))
    page.locator("#q").fill("evil oy")
    result = page.locator("#results li a").first
    result.wait_for()
    assert result.inner_text() == shown
    assert page.locator("#results img").count() == 0 and page.locator("script").count() == 3
    result.click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == shown
    tab.clean()


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"  # MPL-2.0, see its README
TEMPLATES = {"home": "index.html", "search": "search.html?q=riga", "metropolis": "metropolis/riga.html",
             "organisation": "organisation/revisions-evil-oy.html", "project": "project/cordis-101052342.html",
             "data": "data.html"}  # fmt: skip


def _axe(page) -> list[str]:
    """axe-core's serious and critical violations of the page (WCAG 2.x A/AA and best practices)."""
    page.add_script_tag(path=str(AXE))
    # preload false: axe would fetch the stylesheets again, which file:// pages may not
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations'], preload: false})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))""")
    return found


@pytest.mark.parametrize("kind", TEMPLATES)
def test_every_page_template_fits_a_phone_and_passes_axe(site, browser, kind, tmp_path):
    """At 1366 and 390 px wide (screenshots of both in tmp_path): no sideways scroll at 390 px, no serious or
    critical axe-core violation, no console error."""
    for width, height in ((1366, 900), (390, 844)):
        ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
        t = Tab.__new__(Tab)
        t.page, t.errors, t.dialogs = ctx.new_page(), [], []
        t.page.on("console", lambda m: t.errors.append(f"console: {m.text}") if m.type == "error" else None)
        t.page.on("pageerror", lambda e: t.errors.append(f"pageerror: {e}"))
        try:
            rel, _, query = TEMPLATES[kind].partition("?")
            page = t.open(url(site, rel) + (f"?{query}" if query else ""))
            if kind == "search":
                page.locator("#results li").first.wait_for()
            page.screenshot(path=str(tmp_path / f"{kind}-{width}.png"), full_page=True)
            wide = page.evaluate("document.scrollingElement.scrollWidth")
            if width == 390:
                assert wide <= 390, f"{kind} scrolls sideways at 390 px: {wide} px wide"
            assert t.errors == []
            assert _axe(page) == [], f"{kind} at {width} px"
        finally:
            ctx.close()
    assert (tmp_path / f"{kind}-390.png").stat().st_size > 1000


def pick(page, select: str, value: str) -> None:
    """Choose a facet's value; its option reads 'value (count)'."""
    labels = page.locator(f"{select} option").all_inner_texts()
    assert any(re.fullmatch(rf"{re.escape(value)} \(\d+\)", t) for t in labels), labels
    page.locator(select).select_option(value)


def test_search_ranks_words_and_topics_and_filters_by_facets(site, tab):
    """MiniSearch (vendored): 'smart city' finds every project of the smart-city topic (plural, case), best
    first; a typo, a word's beginning and a missing accent still find; facets narrow the results."""
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        smart = {r[0] for r in con.execute("""SELECT p.acronym FROM public_project_topics t JOIN public_projects p
                 USING (project_key) WHERE list_contains(t.topics, 'smart_cities')""").fetchall()}  # fmt: skip
        riga = {r[0] for r in con.execute("""SELECT p.acronym FROM public_project_topics t JOIN public_projects p
                 USING (project_key) WHERE list_contains(t.topics, 'smart_cities') AND list_contains(p.metropolises, 'riga')""").fetchall()}  # fmt: skip
    finally:
        con.close()
    assert len(smart) >= 10 and 0 < len(riga) < len(smart)
    page = tab.open(url(site, "search.html"))
    links = page.locator("#results li a")
    page.locator("#q").fill("smart city")
    links.first.wait_for()
    names = links.all_inner_texts()
    found = {n.split(" — ")[0] for n in names}
    assert smart <= found, smart - found
    assert names[0].split(" — ")[0] in smart  # ranked: the topic's projects come first
    projects = [n.split(" — ")[0] for n in page.locator("#results li:has(.kind:text('project')) a").all_inner_texts()]
    assert sum(p in smart for p in projects[: len(smart)]) >= 0.8 * len(smart)
    # facets: metropolis, then topic; the counts are in the options
    pick(page, "#f-metropolises", "Riga")
    assert {n.split(" — ")[0] for n in links.all_inner_texts()} >= riga
    pick(page, "#f-topics", "smart cities")  # its projects, and the organisations with the topic there
    project_links = page.locator("#results li:has(.kind:text('project')) a")
    assert {n.split(" — ")[0] for n in project_links.all_inner_texts()} == riga
    assert page.locator("#count").inner_text() == f"{links.count()} found"
    page.locator("#f-metropolises").select_option("")
    page.locator("#f-topics").select_option("")
    pick(page, "#f-type", "Universities and schools")
    page.locator("#q").fill("helsingn yliopisto")  # a letter missing
    assert links.first.inner_text() == h.KNOWN_ORG
    page.locator("#f-type").select_option("")
    page.locator("#q").fill("biodiv")  # a word's beginning
    assert "Biodiversa-plus" in links.all_inner_texts()[0]
    page.locator("#q").fill("kemeri national park")  # no accent typed
    assert links.first.inner_text() == "Ķemeri National Park administration"
    # Rīga Stradiņš University, one organisation of CORDIS's and keep.eu's records, is found once (apart from
    # its Red Cross Medical College)
    page.locator("#q").fill("riga stradins")
    found = links.all_inner_texts()
    assert sum(n in ("RIGAS STRADINA UNIVERSITATE", "Rīga Stradiņš University") for n in found) == 1, found
    tab.clean()
