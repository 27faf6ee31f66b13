"""The portal's main story in a real browser (Debian's headless Chromium driven by playwright): a Riga partner
signs in, finds the city of Riga, proposes a correction of its website and a new contact person with consent; the
coordinator approves both; a refresh applies them and the published site shows them; the partner records the
person's withdrawal of consent and after the next refresh and publish the person is gone.

The warehouse is a copy of the one the site tests build from the bundled samples (site_helpers), rebuilt here
with the portal's revision file.  Skipped, with the reason, when /usr/bin/chromium or playwright is absent.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import duckdb
import pytest

import helpers.site as h
from helpers.common import refresh_run

pytestmark = pytest.mark.browser

RIGA_CITY = "eurocities:LV:riga"  # the city of Riga in the samples (keep.eu gives it a project's website)
WEBSITE = "https://www.riga.lv/en"
PERSON = {"name": "Liene Kalniņa", "role": "International relations", "email": "liene.kalnina@example.lv"}


@pytest.fixture(scope="module")
def browser():
    with h.chromium() as b:
        yield b


@pytest.fixture
def portal(tmp_path_factory, tmp_path):
    """(cfg, base url): the portal served by uvicorn on a free port, on a copy of the sample warehouse."""
    import uvicorn

    from baltetl.config import load_config
    from baltetl.portal.app import create_app

    built = h.published_sample(tmp_path_factory)
    shutil.copytree(built.warehouse.parent, tmp_path / "wh", ignore=shutil.ignore_patterns("*.lock", "*.portal.sqlite*"))
    cfg = load_config(warehouse=tmp_path / "wh" / built.warehouse.name)
    cfg.raw["paths"]["revisions"] = str(tmp_path / "revisions")
    cfg.raw["paths"]["site"] = str(tmp_path / "site")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield cfg, f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(10)


def sign_in(page, base: str, name: str, password: str, new_password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/password")  # the one-time password must be changed first
    page.fill("input[name=current]", password)
    page.fill("input[name=new]", new_password)
    page.fill("input[name=repeat]", new_password)
    page.click("#change-password")
    page.wait_for_load_state("load")
    assert "Your password is changed." in page.inner_text("main")


def refresh_and_publish(cfg):
    from baltetl.publish import publish

    _, results, counts = refresh_run(cfg, h.SOURCES)  # unchanged sources; the revision file changed: rebuilt
    assert all(r.status in ("success", "unchanged") for r in results), [(r.source, r.message) for r in results]
    return publish(cfg, log=lambda m: None)


def site_text(cfg) -> str:
    site = h.Path(cfg.raw["paths"]["site"])
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in site.rglob("*") if p.is_file()
                     and p.suffix in (".html", ".csv", ".json"))  # fmt: skip


def test_partner_proposes_coordinator_approves_refresh_publishes_withdrawal_removes(portal, browser):
    from baltetl.portal import auth, store

    cfg, base = portal
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        golden, name = con.execute("SELECT g.golden_id, g.name FROM organisation_sources s JOIN golden_organisations g "
                                   "USING (golden_id) WHERE s.org_key = ?", [RIGA_CITY]).fetchone()  # fmt: skip
    with store.engine(cfg).begin() as conn:
        metros = {m.id for m in cfg.metropolises}
        partner_pw = auth.add_user(conn, "riga.partner", "partner", ["riga"], metros)
        coord_pw = auth.add_user(conn, "coordinator", "coordinator", [], metros)
    errors: list[str] = []

    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base, "riga.partner", partner_pw, "riga-partner-password-1")
    # find the city of Riga by its name in Latvian, without the accents
    page.fill("#q", "rigas pilsetas")
    page.click("#search")
    page.click(f"a[href='/organisations/{golden}']")
    assert page.inner_text("#org-name") == name
    assert "eurocities:LV:riga" in page.inner_text("table.fields")  # where each field comes from
    page.select_option("#correct-field", "website")
    page.fill("#correct-value", WEBSITE)
    page.fill("#form-correct input[name=reason]", "the city's own site, not a project's")
    page.click("#send-correct")
    assert "waiting for the coordinator's review" in page.inner_text("main")
    page.fill("#person-name", PERSON["name"])
    page.fill("#person-role", PERSON["role"])
    page.fill("#person-email", PERSON["email"])
    page.check("#person-consent")
    page.fill("#consent-by", PERSON["name"])
    page.fill("#consent-date", "2026-12-01")
    page.fill("#consent-for", "publication as Riga's contact in the BaltMet community database")
    page.click("#send-person")
    assert "waiting for the coordinator's review" in page.inner_text("main")
    assert page.locator("#org-proposals td.state").all_inner_texts() == ["pending", "pending"]
    ctx.close()

    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base, "coordinator", coord_pw, "coordinator-password-1")
    page.goto(f"{base}/review")
    links = page.locator("table.side-by-side a[href^='/proposals/']")
    ids = sorted({links.nth(i).get_attribute("href") for i in range(links.count())})
    assert len(ids) == 2
    for href in ids:
        page.goto(base + href)
        page.fill("#comment", "checked with the partner")
        page.click("#approve")
        assert page.inner_text("#state") == "approved"
    ctx.close()

    refresh_and_publish(cfg)
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        applied = con.execute("SELECT field, after, author, reason FROM revisions_applied WHERE target = ? ORDER BY field",
                              [golden]).fetchall()  # fmt: skip
        assert con.execute("SELECT count(*) FROM revision_issues").fetchone()[0] == 0
    assert [(a[0], a[2]) for a in applied] == [("person", "riga.partner"), ("website", "riga.partner")]
    assert applied[1][1] == WEBSITE and "portal proposal #1 by riga.partner, approved by coordinator" in applied[1][3]
    site = h.Path(cfg.raw["paths"]["site"])
    org_page = (site / "organisation" / f"{golden.lower()}.html").read_text(encoding="utf-8")
    assert WEBSITE in org_page and PERSON["name"] in org_page and PERSON["email"] in org_page

    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/login")
    page.fill("input[name=name]", "riga.partner")
    page.fill("input[name=password]", "riga-partner-password-1")
    page.click("#sign-in")
    page.goto(f"{base}/organisations/{golden}")
    assert PERSON["name"] in page.inner_text("#persons")  # now in the warehouse, published
    page.select_option("#withdraw-name", PERSON["name"])
    page.fill("#withdrawn-by", PERSON["name"] + " (by e-mail)")
    page.fill("#withdrawn-on", "2026-12-06")
    page.click("#send-withdraw")
    assert "not published after the next refresh" in page.inner_text("main")
    ctx.close()

    refresh_and_publish(cfg)
    text = site_text(cfg)
    assert PERSON["name"] not in text and PERSON["email"] not in text
    assert WEBSITE in (site / "organisation" / f"{golden.lower()}.html").read_text(encoding="utf-8")
    assert errors == []
