"""The partners' portal through its HTTP interface (Starlette's TestClient): roles, sign-in, CSRF, escaping,
rate limiting, proposals, the coordinator's review and the revision file an approval writes."""

from __future__ import annotations

import csv
import re

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from baltetl import revisions
from baltetl.portal import auth, store
from baltetl.portal.app import COOKIE, create_app

from helpers.portal import RIGA_ORG, RIGA_ORG_2, TALLINN_ORG, add_user, csrf, form_csrf, sign_in, tiny_warehouse, user

EVIL = '<script>window.__pwned=1</script>"><img src=x onerror=alert(1)>'


@pytest.fixture
def env(cfg, tmp_path):
    cfg.raw["paths"]["revisions"] = str(tmp_path / "revisions")
    tiny_warehouse(cfg.warehouse)
    app = create_app(cfg)
    return cfg, app, lambda: TestClient(app, follow_redirects=False)


def org_form(client, golden_id: str) -> dict:
    """The hidden fields of the correction form (csrf, seen, based_on_*) as the page gives them."""
    html = client.get(f"/organisations/{golden_id}").text
    form = html[html.index('id="form-correct"'):]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


def correct(client, golden_id: str, field: str, value: str, **extra):
    data = {**org_form(client, golden_id), "field": field, "value": value, **extra}
    return client.post(f"/organisations/{golden_id}/correct", data=data)


def person(client, golden_id: str, **extra):
    data = {"csrf": form_csrf(client, f"/organisations/{golden_id}"), "name": "Liene Example", "role": "Coordinator",
            "email": "liene@example.lv", "consent": "yes", "consent_by": "Liene Example", "consent_date": "2026-12-01",
            "consent_for": "publication in the BaltMet community database", **extra}  # fmt: skip
    return client.post(f"/organisations/{golden_id}/add_person", data=data)


def decide(client, pid: int, action: str, comment: str = "", **extra):
    data = {"csrf": form_csrf(client, f"/proposals/{pid}"), "action": action, "comment": comment, **extra}
    return client.post(f"/proposals/{pid}/decide", data=data)


def proposal_ids(cfg) -> list[int]:
    with store.engine(cfg).connect() as conn:
        return [r.id for r in conn.execute(sa.select(store.proposals).order_by(store.proposals.c.id))]


def test_users_add_prints_one_time_password_that_must_be_changed(env):
    from typer.testing import CliRunner

    from baltetl.cli import app as cli

    cfg, app, client = env
    r = CliRunner().invoke(cli, ["portal", "users", "add", "ilze", "--role", "partner", "--metropolis", "riga",
                                 "--warehouse", str(cfg.warehouse)])  # fmt: skip
    assert r.exit_code == 0, r.output
    pw = r.output.strip().rsplit(" ", 1)[-1]
    bad = CliRunner().invoke(cli, ["portal", "users", "add", "x1", "--metropolis", "atlantis", "-w", str(cfg.warehouse)])
    assert bad.exit_code == 2 and "unknown metropolis atlantis" in bad.output
    listed = CliRunner().invoke(cli, ["portal", "users", "list", "-w", str(cfg.warehouse)])
    assert "ilze\tpartner\triga\tmust change password" in listed.output
    c = client()
    r = sign_in(c, "ilze", pw)
    assert r.status_code == 303 and r.headers["location"] == "/password"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert c.get("/organisations").headers["location"] == "/password"  # nothing else before the change
    page = c.get("/password")
    r = c.post("/password", data={"csrf": csrf(page.text), "current": pw, "new": pw, "repeat": pw})
    assert r.status_code == 400 and "must differ" in r.text
    r = c.post("/password", data={"csrf": csrf(page.text), "current": pw, "new": "short", "repeat": "short"})
    assert r.status_code == 400 and "too short" in r.text
    r = c.post("/password", data={"csrf": csrf(page.text), "current": pw, "new": "a-long-new-password", "repeat": "a-long-new-password"})
    assert r.status_code == 303
    assert c.get("/organisations").status_code == 200
    other = client()  # a second session of the same user ends when the password changes again
    assert sign_in(other, "ilze", "a-long-new-password").status_code == 303
    page = c.get("/password")
    assert c.post("/password", data={"csrf": csrf(page.text), "current": "a-long-new-password", "new": "another-new-password",
                                     "repeat": "another-new-password"}).status_code == 303  # fmt: skip
    assert c.get("/organisations").status_code == 200 and other.get("/organisations").status_code == 303
    with store.engine(cfg).connect() as conn:
        u = store.user_by_name(conn, "ilze")
        assert u.password_hash.startswith("$argon2id$") and pw not in u.password_hash


def test_secure_cookie_behind_tls(cfg, tmp_path):
    tiny_warehouse(cfg.warehouse)
    cfg.raw["portal"] = {"secure_cookies": True}
    pw = add_user(cfg, "ilze")
    c = TestClient(create_app(cfg), base_url="https://portal.example", follow_redirects=False)
    r = sign_in(c, "ilze", pw)
    assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


def test_riga_partner_gets_403_on_tallinn_organisations_and_proposals(env):
    cfg, app, client = env
    riga, tallinn = user(cfg, client, "riga1"), user(cfg, client, "tallinn1", metros=("tallinn",))
    assert correct(tallinn, TALLINN_ORG, "website", "https://www.taltech.ee").status_code == 303
    (tpid,) = proposal_ids(cfg)
    assert riga.get(f"/organisations/{RIGA_ORG}").status_code == 200
    assert riga.get(f"/organisations/{TALLINN_ORG}").status_code == 403
    assert riga.get(f"/proposals/{tpid}").status_code == 403
    token = form_csrf(riga, f"/organisations/{RIGA_ORG}")
    # URL tampering: the Riga page's form and token, posted at the Tallinn organisation / proposal
    r = riga.post(f"/organisations/{TALLINN_ORG}/correct", data={"csrf": token, "field": "name", "value": "X",
                                                                  "based_on_name": "Tallinna Tehnikaülikool"})  # fmt: skip
    assert r.status_code == 403
    assert riga.post(f"/organisations/{TALLINN_ORG}/add_person", data={"csrf": token, "name": "X"}).status_code == 403
    assert riga.post(f"/proposals/{tpid}/decide", data={"csrf": token, "action": "approve"}).status_code == 403
    # nor in lists and searches
    assert "TalTech" not in riga.get("/organisations?q=tallinn").text
    assert f'href="/proposals/{tpid}"' not in riga.get("/proposals").text
    assert riga.get("/review").status_code == 403  # a partner does not review
    assert proposal_ids(cfg) == [tpid]
    with store.engine(cfg).connect() as conn:
        state = conn.execute(sa.select(store.proposals.c.state)).scalar_one()
        forbidden = conn.execute(sa.select(store.audit_log).where(store.audit_log.c.action == "forbidden")).all()
    assert state == "pending" and len(forbidden) == 6 and all(f.user_name == "riga1" for f in forbidden)


def test_viewer_reads_but_cannot_propose(env):
    cfg, app, client = env
    v = user(cfg, client, "viewer1", role="viewer", metros=())
    assert v.get(f"/organisations/{TALLINN_ORG}").status_code == 200
    assert 'id="form-correct"' not in v.get(f"/organisations/{RIGA_ORG}").text
    assert correct_raw(v, RIGA_ORG).status_code == 403


def correct_raw(client, golden_id):
    token = form_csrf(client, "/organisations")
    return client.post(f"/organisations/{golden_id}/correct", data={"csrf": token, "field": "city", "value": "Riga"})


def test_form_without_its_csrf_token_is_rejected(env):
    cfg, app, client = env
    c = user(cfg, client, "riga1")
    data = {**org_form(c, RIGA_ORG), "field": "website", "value": "https://rtu.lv"}
    for bad in (None, "", "forged-token"):
        d = {k: v for k, v in data.items() if k != "csrf"}
        if bad is not None:
            d["csrf"] = bad
        assert c.post(f"/organisations/{RIGA_ORG}/correct", data=d).status_code == 403
    assert proposal_ids(cfg) == []
    assert c.post("/logout", data={}).status_code == 403  # sign-out is a form too
    assert c.get("/organisations").status_code == 200  # still signed in
    # the sign-in form: its token lives in a cookie before there is a session
    assert TestClient(app).post("/login", data={"name": "riga1", "password": "x"}).status_code == 403
    assert c.post(f"/organisations/{RIGA_ORG}/correct", data=data).status_code == 303


def test_script_in_every_text_field_is_inert_on_every_page(env):
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    for field in ("name", "short_name", "org_type", "activity_type", "city"):
        assert correct(p, RIGA_ORG, field, EVIL + field, reason=EVIL).status_code == 303
    assert p.post(f"/organisations/{RIGA_ORG_2}/hide", data={"csrf": form_csrf(p, "/organisations"), "reason": EVIL}).status_code == 303
    r = person(p, RIGA_ORG, name=EVIL, role=EVIL, phone=EVIL, consent_by=EVIL, consent_for=EVIL, reason=EVIL)
    assert r.status_code == 303, r.text
    r = p.post(f"/organisations/{RIGA_ORG}/withdraw_consent", data={"csrf": form_csrf(p, "/organisations"), "name": EVIL,
                                                                    "withdrawn_by": EVIL, "withdrawn_on": "2026-12-02",
                                                                    "reason": EVIL})  # fmt: skip
    assert r.status_code == 303, r.text
    r = p.post("/organisations/new", data={"csrf": form_csrf(p, "/organisations"), "name": EVIL, "country": "LV",
                                           "city": EVIL, "org_type": EVIL, "metropolis_id": "riga", "reason": EVIL})  # fmt: skip
    assert r.status_code == 303, r.text
    r = p.post(f"/organisations/{RIGA_ORG}/merge", data={"csrf": form_csrf(p, "/organisations"), "other": EVIL})
    assert r.status_code == 400 and "<script>" not in r.text and "&lt;script&gt;" in r.text
    assert p.post(f"/organisations/{RIGA_ORG}/split", data={"csrf": form_csrf(p, "/organisations"), "record": "keep:LV-rtu",
                                                            "reason": EVIL}).status_code == 303  # fmt: skip
    ids = proposal_ids(cfg)
    assert decide(co, ids[0], "reject", comment=EVIL).status_code == 303
    r = correct(p, RIGA_ORG, "website", "javascript:alert(1)")
    assert r.status_code == 400 and "is not a web address" in r.text
    pages = [f"/organisations/{RIGA_ORG}", f"/organisations/{RIGA_ORG_2}", "/proposals", "/review",
             f"/organisations?q={EVIL}", *(f"/proposals/{i}" for i in ids)]  # fmt: skip
    for url in pages:
        for c in (p, co) if url != "/review" else (co,):
            r = c.get(url)
            assert r.status_code == 200, url
            assert "<script>" not in r.text and "<img" not in r.text, url
            assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in co.get(f"/proposals/{ids[-1]}").text


def test_six_wrong_passwords_are_slowed_down(env):
    cfg, app, client = env
    pw = add_user(cfg, "riga1")
    c = client()
    for _ in range(5):
        assert sign_in(c, "riga1", "wrong-password").status_code == 401
    r = sign_in(c, "riga1", "wrong-password")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 25 and "Too many failed sign-ins" in r.text
    r = sign_in(c, "riga1", pw)  # even the right password waits
    assert r.status_code == 429 and COOKIE not in r.headers.get("set-cookie", "")
    with store.engine(cfg).connect() as conn:
        actions = [a.action for a in conn.execute(sa.select(store.audit_log).order_by(store.audit_log.c.id))]
    assert actions.count("sign_in_failed") == 5 and actions.count("sign_in_throttled") == 2
    # the wait passes: failures older than the window are forgotten
    with store.engine(cfg).begin() as conn:
        conn.execute(store.login_failures.update().values(at=store.now() - __import__("datetime").timedelta(hours=1)))
    assert sign_in(c, "riga1", pw).status_code == 303


def test_disabled_user_is_signed_out_at_the_next_request(env):
    cfg, app, client = env
    c = user(cfg, client, "riga1")
    assert c.get("/organisations").status_code == 200
    with store.engine(cfg).begin() as conn:
        auth.set_disabled(conn, "riga1")
    r = c.get("/organisations")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/organisations").headers["location"] == "/login"
    assert sign_in(c, "riga1", "riga1-Secret-Pass-1").status_code == 401


def test_disabled_user_with_a_live_cookie_cannot_post(env):
    cfg, app, client = env
    c = user(cfg, client, "riga1")
    data = {**org_form(c, RIGA_ORG), "field": "website", "value": "https://rtu.lv"}
    with store.engine(cfg).begin() as conn:
        conn.execute(store.users.update().values(disabled=True))  # not through set_disabled: the session stays
    r = c.post(f"/organisations/{RIGA_ORG}/correct", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/login?why=disabled"
    assert proposal_ids(cfg) == []


def test_approved_proposals_become_a_checked_revision_file(env):
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    assert correct(p, RIGA_ORG, "website", "www.rtu.lv/en", reason="the English site").status_code == 303
    assert person(p, RIGA_ORG).status_code == 303
    assert correct(p, RIGA_ORG_2, "city", "Rīga").status_code == 303
    fix, pers, rejected = proposal_ids(cfg)
    assert "Nothing to review" not in co.get("/review").text
    assert decide(co, fix, "approve").status_code == 303
    assert decide(co, pers, "approve", comment="consent form on file").status_code == 303
    r = decide(co, rejected, "reject")
    assert r.status_code == 400 and "Say why" in r.text
    assert decide(co, rejected, "reject", comment="the region's seat is Riga as written").status_code == 303
    f = revisions.folder(cfg) / "portal-riga.csv"
    rows = list(csv.DictReader(f.open(encoding="utf-8")))[1:]  # the first row is a comment
    assert [(r["op"], r["target"], r["field"], r["value"]) for r in rows] == [
        ("correct", "cordis:999880001", "website", "https://www.rtu.lv/en"), ("add_person", "cordis:999880001", "", "")]
    assert rows[0]["author"] == "riga1" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", rows[0]["date"])
    assert f"portal proposal #{fix} by riga1, approved by coord" in rows[0]["reason"]
    assert rows[1]["name"] == "Liene Example" and rows[1]["consent_to_publish"] == "yes"
    revs = revisions.load(cfg)
    assert revs.issues == [] and len(revs.valid()) == 2
    page = p.get(f"/proposals/{rejected}").text
    assert "rejected" in page and "the region&#39;s seat is Riga as written" in page
    assert decide(co, fix, "reject", comment="too late").status_code == 400  # decided already
    with store.engine(cfg).connect() as conn:
        actions = [a.action for a in conn.execute(sa.select(store.audit_log))]
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(store.audit_log.delete())
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(store.audit_log.update().values(action="nothing"))
    assert actions.count("proposal_made") == 3 and actions.count("proposal_approved") == 2
    assert actions.count("proposal_rejected") == 1 and actions.count("sign_in") == 2


def test_a_withdrawal_is_written_at_once_and_wins_over_the_consent(env):
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    person(p, RIGA_ORG)
    decide(co, proposal_ids(cfg)[0], "approve")
    page = p.get(f"/organisations/{RIGA_ORG}").text
    assert "<option>Liene Example</option>" in page  # approved, not yet refreshed: may be withdrawn already
    r = p.post(f"/organisations/{RIGA_ORG}/withdraw_consent", data={
        "csrf": csrf(page), "name": "Liene Example", "withdrawn_by": "Liene Example (e-mail)", "withdrawn_on": "2026-12-05"})
    assert r.status_code == 303 and r.headers["location"].endswith("msg=withdrawn")
    rows = list(csv.DictReader((revisions.folder(cfg) / "portal-riga.csv").open(encoding="utf-8")))[1:]
    assert [(r["op"], r["name"], r["consent_to_publish"]) for r in rows] == [
        ("add_person", "Liene Example", "yes"), ("add_person", "Liene Example", "no")]
    assert revisions.load(cfg).issues == []


def test_forms_validate_in_plain_words(env):
    cfg, app, client = env
    p = user(cfg, client, "riga1")
    r = person(p, RIGA_ORG, email="not-an-address", consent_date="2026-13-45", consent_by="")
    assert r.status_code == 400
    assert "Write who gave the consent." in r.text and "is not a day written YYYY-MM-DD" in r.text
    r = person(p, RIGA_ORG, email="not-an-address")
    assert r.status_code == 400 and "&#39;not-an-address&#39; is not an e-mail address" in r.text  # the contract's words
    r = correct(p, RIGA_ORG, "country", "Latvia")
    assert r.status_code == 400 and "is not a two-letter country code" in r.text
    r = correct(p, RIGA_ORG, "website", "https://www.rtu.lv")
    assert r.status_code == 400 and "already" in r.text
    r = correct(p, RIGA_ORG, "name", "x" * 5000)
    assert r.status_code == 400 and "too long" in r.text
    r = p.post(f"/organisations/{RIGA_ORG}/hide", data={"csrf": form_csrf(p, "/organisations")})
    assert r.status_code == 400 and "Say why" in r.text
    assert proposal_ids(cfg) == []


def test_two_people_editing_one_organisation_are_told(env):
    cfg, app, client = env
    a, b = user(cfg, client, "riga1"), user(cfg, client, "riga2")
    co = user(cfg, client, "coord", role="coordinator", metros=())
    form_a, form_b = org_form(a, RIGA_ORG), org_form(b, RIGA_ORG)  # both open the page
    assert a.post(f"/organisations/{RIGA_ORG}/correct", data={**form_a, "field": "name", "value": "Riga Technical University"}).status_code == 303
    r = b.post(f"/organisations/{RIGA_ORG}/correct", data={**form_b, "field": "name", "value": "RTU"})
    assert r.status_code == 400 and "While you were editing, riga1 proposed name = “Riga Technical University”" in r.text
    assert len(proposal_ids(cfg)) == 1
    assert correct(b, RIGA_ORG, "name", "RTU").status_code == 303  # told, sent again: both kept
    first, second = proposal_ids(cfg)
    review = co.get("/review").text
    assert "2 proposals on the same field" in review and "Riga Technical University" in review and ">RTU<" in review
    assert 'id="rivals"' in co.get(f"/proposals/{first}").text
    # the coordinator approves one, then the other: the file keeps the later one, the first is superseded
    assert decide(co, first, "approve").status_code == 303
    assert decide(co, second, "approve").status_code == 303
    rows = list(csv.DictReader((revisions.folder(cfg) / "portal-riga.csv").open(encoding="utf-8")))[1:]
    assert [r["value"] for r in rows] == ["RTU"]
    assert "superseded" in a.get(f"/proposals/{first}").text


def test_a_value_changed_in_the_warehouse_is_not_silently_overwritten(env):
    import duckdb

    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    stale = org_form(p, RIGA_ORG)
    with duckdb.connect(str(cfg.warehouse)) as con:  # a refresh brings a new value meanwhile
        con.execute("UPDATE golden_organisations SET city = 'Riga city' WHERE golden_id = ?", [RIGA_ORG])
    r = p.post(f"/organisations/{RIGA_ORG}/correct", data={**stale, "field": "city", "value": "Rīga"})
    assert r.status_code == 400 and "changed since you opened the page: it is now “Riga city”" in r.text
    assert correct(p, RIGA_ORG, "city", "Rīga").status_code == 303
    (pid,) = proposal_ids(cfg)
    with duckdb.connect(str(cfg.warehouse)) as con:
        con.execute("UPDATE golden_organisations SET city = 'RIGA' WHERE golden_id = ?", [RIGA_ORG])
    r = decide(co, pid, "approve")
    assert r.status_code == 400 and "it was “Riga city”, it is now “RIGA”" in r.text
    assert decide(co, pid, "approve", confirm="yes").status_code == 303


def test_proposals_survive_a_restart(env):
    cfg, app, client = env
    p = user(cfg, client, "riga1")
    assert correct(p, RIGA_ORG, "website", "https://rtu.lv").status_code == 303
    app.state.portal.engine.dispose()
    c2 = TestClient(create_app(cfg), follow_redirects=False)  # a new process on the same store
    r = sign_in(c2, "riga1", "riga1-Secret-Pass-1")
    assert r.status_code == 303
    assert "https://rtu.lv" in c2.get("/proposals").text and "pending" in c2.get("/proposals").text
    assert store.database_url(cfg).endswith("baltmet.duckdb.portal.sqlite")


def test_search_finds_a_name_in_any_language_and_source(env):
    cfg, app, client = env
    p = user(cfg, client, "riga1")
    for q in ("Riga Technical", "rigas tehniska", "Rīgas Tehniskā", "RTU"):
        assert RIGA_ORG in p.get("/organisations", params={"q": q}).text, q
    r = p.get("/organisations", params={"q": "", "source": "keep", "type": "public body"}).text
    assert RIGA_ORG_2 in r and RIGA_ORG not in r
    page = p.get(f"/organisations/{RIGA_ORG}").text
    assert "cordis:999880001</span>: http://www.rtu.lv" in page and "keep:LV-rtu</span>: Riga Technical University" in page


def test_portal_keeps_working_while_a_refresh_swaps_the_warehouse(env, tmp_path):
    import os

    from baltetl import pipeline

    cfg, app, client = env
    p = user(cfg, client, "riga1")
    new = tiny_warehouse(tmp_path / "next" / "baltmet.duckdb")
    import duckdb

    with duckdb.connect(str(new)) as con:
        con.execute("UPDATE golden_organisations SET name = 'RTU after refresh' WHERE golden_id = ?", [RIGA_ORG])
    with pipeline.refresh_lock(cfg):  # a refresh holds its lock and swaps the file in
        assert p.get(f"/organisations/{RIGA_ORG}").status_code == 200
        os.replace(new, cfg.warehouse)
        assert "RTU after refresh" in p.get(f"/organisations/{RIGA_ORG}").text
        assert correct(p, RIGA_ORG, "website", "https://rtu.lv").status_code == 303


def test_add_merge_and_split_become_revision_rows(env):
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    token = form_csrf(p, "/organisations")
    r = p.post("/organisations/new", data={"csrf": token, "name": "Rīgas Inovāciju Centrs", "country": "lv",
                                           "city": "Rīga", "website": "ric.example.lv", "metropolis_id": "riga"})  # fmt: skip
    assert r.status_code == 303, r.text
    r = p.post("/organisations/new", data={"csrf": token, "name": "X", "country": "EE", "metropolis_id": "tallinn"})
    assert r.status_code == 403  # not the partner's metropolis
    r = p.post("/organisations/new", data={"csrf": token, "name": "Y", "country": "Latvia", "metropolis_id": "riga"})
    assert r.status_code == 400 and "is not a two-letter country code" in r.text
    token = form_csrf(p, f"/organisations/{RIGA_ORG}")
    r = p.post(f"/organisations/{RIGA_ORG}/merge", data={"csrf": token, "other": TALLINN_ORG})
    assert r.status_code == 403
    assert p.post(f"/organisations/{RIGA_ORG}/merge", data={"csrf": token, "other": "keep:LV-rpr"}).status_code == 303
    r = p.post(f"/organisations/{RIGA_ORG}/split", data={"csrf": token, "record": "keep:LV-rtu", "reason": "two faculties"})
    assert r.status_code == 303
    for pid in proposal_ids(cfg):
        assert decide(co, pid, "approve").status_code == 303
    rows = list(csv.DictReader((revisions.folder(cfg) / "portal-riga.csv").open(encoding="utf-8")))[1:]
    assert [(r["op"], r["target"], r["other"]) for r in rows] == [
        ("add_organisation", "revisions:rigas-inovaciju-centrs", ""), ("merge", "cordis:999880001", "keep:LV-rpr"),
        ("keep_apart", "cordis:999880001", "keep:LV-rtu")]  # fmt: skip
    assert rows[0]["website"] == "https://ric.example.lv" and rows[0]["country"] == "LV" and rows[0]["metropolis_id"] == "riga"
    assert revisions.load(cfg).issues == []


CRASH_CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from starlette.testclient import TestClient
from baltetl.config import load_config
from baltetl.portal.app import create_app
from helpers.portal import RIGA_ORG, sign_in
from portal.test_portal import correct
cfg = load_config(warehouse={wh!r})
cfg.raw["paths"]["revisions"] = {rev!r}
c = TestClient(create_app(cfg), follow_redirects=False)
assert sign_in(c, "riga1", "riga1-Secret-Pass-1").status_code == 303
assert correct(c, RIGA_ORG, "website", "https://rtu.lv/crash").status_code == 303
os.kill(os.getpid(), signal.SIGKILL)  # the portal dies right after answering
"""


@pytest.mark.slow
def test_a_proposal_survives_a_crash_of_the_portal(env):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    cfg, app, client = env
    user(cfg, client, "riga1")
    app.state.portal.engine.dispose()
    tests = str(Path(__file__).resolve().parents[1])
    code = CRASH_CHILD.format(tests=tests, wh=str(cfg.warehouse), rev=cfg.raw["paths"]["revisions"])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    with store.engine(cfg).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        rows = conn.execute(sa.select(store.proposals)).all()
    assert [(p.value, p.state) for p in rows] == [("https://rtu.lv/crash", "pending")]
    c = TestClient(create_app(cfg), follow_redirects=False)
    sign_in(c, "riga1", "riga1-Secret-Pass-1")
    assert "https://rtu.lv/crash" in c.get("/proposals").text


def refresh(cfg, tmp_path) -> None:
    """A refresh, as far as the portal can tell: the tiny warehouse built again with the revision files applied,
    swapped in with one rename."""
    import os

    import duckdb

    fresh = tiny_warehouse(tmp_path / "refresh" / "baltmet.duckdb")
    with duckdb.connect(str(fresh)) as con:
        con.execute("DROP TABLE persons; DROP TABLE revisions_applied; CREATE TABLE projects (project_key VARCHAR PRIMARY KEY)")
        revisions.apply(con, cfg, revisions.load(cfg), "test-run")
    os.replace(fresh, cfg.warehouse)


def backdate(cfg, pid: int, days: int) -> None:
    """The proposal was decided `days` ago (rows about one person on one day must agree)."""
    from datetime import timedelta

    with store.engine(cfg).begin() as conn:
        conn.execute(store.proposals.update().where(store.proposals.c.id == pid)
                     .values(decided_at=store.now() - timedelta(days=days)))  # fmt: skip


def persons_in(cfg) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        rows = con.execute("SELECT person_id, name, role, email, consent_to_publish FROM persons ORDER BY name").fetchall()
        public = [r[0] for r in con.execute("SELECT name FROM public_persons").fetchall()]
    return rows, public


def edit_form(client, golden_id: str, person_id: str) -> dict:
    """The edit form's fields as the page fills them in (hidden and shown)."""
    import html as h

    page = client.get(f"/organisations/{golden_id}/persons/{person_id}").text
    form = page[page.index('id="form-edit-person"'):]
    form = form[: form.index("</form>")]
    return {k: h.unescape(v) for k, v in re.findall(r'<input[^>]* name="([^"]+)"[^>]* value="([^"]*)"', form)}


def added_person(cfg, tmp_path, p, co) -> str:
    """Liene Example, consented, added through the portal two days ago and refreshed in: -> her person_id."""
    assert person(p, RIGA_ORG).status_code == 303
    (pid,) = proposal_ids(cfg)
    assert decide(co, pid, "approve").status_code == 303
    backdate(cfg, pid, 2)
    refresh(cfg, tmp_path)
    (row,), public = persons_in(cfg)
    assert row[1:] == ("Liene Example", "Coordinator", "liene@example.lv", True) and public == ["Liene Example"]
    return row[0]


def portal_rows(cfg) -> list[dict]:
    return list(csv.DictReader((revisions.folder(cfg) / "portal-riga.csv").open(encoding="utf-8")))[1:]


def test_edit_person_approved_becomes_a_person_id_row(env, tmp_path):
    import duckdb
    from typer.testing import CliRunner

    from baltetl.cli import app as cli

    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    person_id = added_person(cfg, tmp_path, p, co)
    other = user(cfg, client, "riga2")
    stale = {**edit_form(other, RIGA_ORG, person_id), "role": "Coordinator of projects"}  # opened at the same time
    page = p.get(f"/organisations/{RIGA_ORG}").text
    assert f'href="/organisations/{RIGA_ORG}/persons/{person_id}"' in page
    form = p.get(f"/organisations/{RIGA_ORG}/persons/{person_id}").text
    assert 'value="Coordinator"' in form and 'value="liene@example.lv"' in form and "Published: the person gave consent" in form
    data = {**edit_form(p, RIGA_ORG, person_id), "name": "Liene Ēxample", "role": "Head of international relations",
            "email": "liene.example@rtu.lv", "phone": "+371 6700 0000", "reason": "new post"}  # fmt: skip
    r = p.post(f"/organisations/{RIGA_ORG}/edit_person", data=data)
    assert r.status_code == 303, r.text
    edit = proposal_ids(cfg)[-1]
    review = co.get("/review").text  # before and after, side by side with the consent kept
    assert "role: Coordinator" in review and "role: Head of international relations" in review
    assert "published (consent kept)" in review
    assert "Coordinator → <strong>Head of international relations</strong>" in co.get(f"/proposals/{edit}").text
    r = other.post(f"/organisations/{RIGA_ORG}/edit_person", data=stale)
    assert r.status_code == 400 and "While you were editing, riga1 proposed contact person edited" in r.text, r.text[r.text.find("errors"):][:600]
    assert decide(co, edit, "approve").status_code == 303
    row = portal_rows(cfg)[-1]
    assert {k: row[k] for k in ("op", "target", "person_id", "name", "role", "email", "phone", "consent_to_publish")} == {
        "op": "add_person", "target": "cordis:999880001", "person_id": person_id, "name": "Liene Ēxample",
        "role": "Head of international relations", "email": "liene.example@rtu.lv", "phone": "+371 6700 0000",
        "consent_to_publish": "yes"}  # fmt: skip
    assert f"portal proposal #{edit} by riga1, approved by coord" in row["reason"] and row["date"] > portal_rows(cfg)[0]["date"]
    revs = revisions.load(cfg)  # what `baltetl revisions check` does, against the warehouse too
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        issues = revs.issues + revisions.check_targets(con, revs)
    # a later row about a person changes them: the two rows are a `conflict` the later one wins (no failure)
    assert [(i.kind, i.line) for i in issues] == [("conflict", 3), ("conflict", 4)]
    assert "this one, the latest, is applied" in issues[1].message
    check = CliRunner().invoke(cli, ["revisions", "check", "--dir", str(revisions.folder(cfg)), "-w", str(cfg.warehouse)])
    assert check.exit_code == 0 and "0 invalid" in check.output and "0 unmatched" in check.output, check.output
    refresh(cfg, tmp_path)
    rows, public = persons_in(cfg)
    assert rows == [(person_id, "Liene Ēxample", "Head of international relations", "liene.example@rtu.lv", True)]
    assert public == ["Liene Ēxample"]
    with store.engine(cfg).connect() as conn:
        made = conn.execute(sa.select(store.audit_log).where(store.audit_log.c.object == f"proposal:{edit}")).all()
    assert [a.action for a in made] == ["proposal_made", "proposal_approved"] and made[0].detail["kind"] == "edit_person"


def test_riga_partner_cannot_edit_a_tallinn_person(env, tmp_path):
    import duckdb

    cfg, app, client = env
    riga = user(cfg, client, "riga1")
    with duckdb.connect(str(cfg.warehouse)) as con:
        con.execute("INSERT INTO persons VALUES ('person-00000000aa', 'org_tallinn001', 'cordis:999880002', 'Mari Tamm', "
                    "'Rector office', 'mari@taltech.ee', NULL, 'revisions', true, 'rev-1')")  # fmt: skip
    assert riga.get(f"/organisations/{TALLINN_ORG}/persons/person-00000000aa").status_code == 403
    token = form_csrf(riga, f"/organisations/{RIGA_ORG}")
    data = {"csrf": token, "person_id": "person-00000000aa", "name": "Mari Tamm", "role": "X", "based_on_name": "Mari Tamm",
            "based_on_role": "Rector office", "based_on_email": "mari@taltech.ee"}  # fmt: skip
    assert riga.post(f"/organisations/{TALLINN_ORG}/edit_person", data=data).status_code == 403
    # the Tallinn person's id posted at a Riga organisation's URL, and asked for through it
    assert riga.post(f"/organisations/{RIGA_ORG}/edit_person", data=data).status_code == 403
    assert riga.get(f"/organisations/{RIGA_ORG}/persons/person-00000000aa").status_code == 403
    assert riga.post(f"/organisations/{RIGA_ORG}/edit_person", data={**data, "csrf": ""}).status_code == 403
    assert proposal_ids(cfg) == []
    viewer = user(cfg, client, "viewer1", role="viewer", metros=())
    assert viewer.get(f"/organisations/{TALLINN_ORG}/persons/person-00000000aa").status_code == 403
    assert "edit-person" not in viewer.get(f"/organisations/{TALLINN_ORG}").text
    with store.engine(cfg).connect() as conn:
        forbidden = conn.execute(sa.select(store.audit_log).where(store.audit_log.c.action == "forbidden")).all()
    assert len(forbidden) == 5


def test_an_edited_withdrawn_person_stays_unpublished(env, tmp_path):
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    person_id = added_person(cfg, tmp_path, p, co)
    page = p.get(f"/organisations/{RIGA_ORG}").text
    r = p.post(f"/organisations/{RIGA_ORG}/withdraw_consent", data={
        "csrf": csrf(page), "name": "Liene Example", "withdrawn_by": "Liene Example (e-mail)", "withdrawn_on": "2026-12-05"})
    assert r.status_code == 303
    withdrawal = proposal_ids(cfg)[-1]
    assert portal_rows(cfg)[-1]["person_id"] == person_id  # by id: still meant after a rename
    backdate(cfg, withdrawal, 1)
    # edited before the refresh (the warehouse still says published) and after it
    data = {**edit_form(p, RIGA_ORG, person_id), "role": "Senior coordinator", "email": "liene@rtu.lv"}
    assert p.post(f"/organisations/{RIGA_ORG}/edit_person", data=data).status_code == 303
    early = proposal_ids(cfg)[-1]
    assert decide(co, early, "approve").status_code == 303
    assert portal_rows(cfg)[-1]["consent_to_publish"] == "no"
    refresh(cfg, tmp_path)
    assert persons_in(cfg)[1] == []
    form = p.get(f"/organisations/{RIGA_ORG}/persons/{person_id}").text
    assert "Not published" in form
    data = {**edit_form(p, RIGA_ORG, person_id), "name": "Liene Ēxample", "role": "Head of unit", "email": "liene@rtu.lv"}
    assert p.post(f"/organisations/{RIGA_ORG}/edit_person", data=data).status_code == 303
    late = proposal_ids(cfg)[-1]
    assert "not published (no consent): stays so" in co.get("/review").text
    assert decide(co, late, "approve").status_code == 303
    rows = portal_rows(cfg)
    assert [(r["person_id"], r["consent_to_publish"]) for r in rows] == [("", "yes"), (person_id, "no"), (person_id, "no")]
    assert rows[-1]["name"] == "Liene Ēxample"  # the earlier edit is replaced by the later one
    refresh(cfg, tmp_path)
    (row,), public = persons_in(cfg)
    assert row == (person_id, "Liene Ēxample", "Head of unit", "liene@rtu.lv", False) and public == []
    assert "superseded" in p.get(f"/proposals/{early}").text


def test_script_in_an_edited_person_is_inert(env, tmp_path):
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    person_id = added_person(cfg, tmp_path, p, co)
    data = {**edit_form(p, RIGA_ORG, person_id), "name": EVIL, "role": EVIL, "phone": EVIL, "reason": EVIL}
    assert p.post(f"/organisations/{RIGA_ORG}/edit_person", data=data).status_code == 303
    edit = proposal_ids(cfg)[-1]
    pages = [co.get("/review"), co.get(f"/proposals/{edit}"), p.get("/proposals"), p.get(f"/organisations/{RIGA_ORG}")]
    for r in pages:
        assert r.status_code == 200 and "<script>window.__pwned" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in pages[1].text
    r = p.post(f"/organisations/{RIGA_ORG}/edit_person", data={**edit_form(p, RIGA_ORG, person_id), "role": EVIL, "email": EVIL})
    assert r.status_code == 400 and "<script>window.__pwned" not in r.text  # the form again, with the contract's word


def test_a_contact_person_already_there_is_found_in_any_case_or_unicode_form(env, tmp_path):
    """'ＬＩＥＮＥ Example' (fullwidth capitals, as some keyboards and copies give them) is the person the
    organisation has (revisions.fold, as the revisions compare names): the form says so instead of proposing a
    second record of her."""
    cfg, app, client = env
    p, co = user(cfg, client, "riga1"), user(cfg, client, "coord", role="coordinator", metros=())
    added_person(cfg, tmp_path, p, co)
    before = proposal_ids(cfg)
    name = "\uff2c\uff29\uff25\uff2e\uff25 Example"
    res = person(p, RIGA_ORG, name=name, consent_by=name)
    assert "already a contact person of this organisation" in res.text
    assert proposal_ids(cfg) == before
