"""The partners' e-service: a Starlette application on the portal store and the (read-only) warehouse.

Every request is authorised on the server: a partner sees and changes only the organisations and proposals of
their metropolises (403 otherwise, whatever the URL says), a viewer only reads, a coordinator reviews.  Every
form carries the session's CSRF token; every page is rendered by autoescaping jinja2 templates and served with
a Content-Security-Policy that runs no script at all.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import jinja2
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from .. import normalise, revisions, urls
from ..config import Config
from . import auth, output, store, warehouse
from .store import proposals, users

COOKIE = "baltetl_portal"
PRE_COOKIE = "baltetl_portal_pre"  # the sign-in form's CSRF token, before there is a session
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}  # fmt: skip
MESSAGES = {
    "proposed": "Thank you: your proposal is waiting for the coordinator's review.",
    "withdrawn": "The withdrawal is recorded: the person is not published after the next refresh.",
    "decided": "The decision is recorded.",
    "password": "Your password is changed.",
}
KIND_LABELS = {"correct": "correction", "hide": "hide", "add_person": "new contact person",
               "withdraw_consent": "consent withdrawn", "add_organisation": "new organisation",
               "merge": "merge (one organisation)", "split": "split (two organisations)",
               "edit_person": "contact person edited"}  # fmt: skip
PERSON_FIELDS = ("name", "role", "email", "phone")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Redirect(Exception):
    def __init__(self, url: str):
        self.url = url


class Forbidden(HTTPException):
    """403; the refusal is audited after the request's own transaction is rolled back."""

    def __init__(self, user: str, what: str):
        super().__init__(403, "You have no access to this: it belongs to another metropolis (or needs another role).")
        self.user, self.what = user, what


class Invalid(Exception):
    """A form that does not validate: the messages, in plain words."""

    def __init__(self, *messages: str):
        self.messages = list(messages)


class Portal:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.settings = store.settings(cfg)
        self.engine = store.engine(cfg)
        env = jinja2.Environment(loader=jinja2.PackageLoader("baltetl.portal", "templates"), autoescape=True)
        env.globals.update(labels=warehouse.LABELS, kinds=KIND_LABELS, fields=warehouse.FIELDS)
        self.templates = Jinja2Templates(env=env)
        self.metro_names = {m.id: m.name for m in cfg.metropolises}

    # -- plumbing --------------------------------------------------------------------------------------------
    def render(self, request: Request, name: str, status: int = 200, **ctx) -> Response:
        ctx.setdefault("user", getattr(request.state, "user", None))
        ctx.setdefault("csrf", getattr(request.state, "csrf", ""))
        ctx.setdefault("message", MESSAGES.get(request.query_params.get("msg", "")))
        ctx.setdefault("errors", [])
        ctx["metro_names"] = self.metro_names
        return self.templates.TemplateResponse(request, name, ctx, status_code=status)

    def ip(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def begin(self, request: Request, conn: sa.Connection, *, password_ok: bool = False):
        """The signed-in user of the request (redirect to sign-in otherwise); a disabled user is signed out."""
        found = auth.session(conn, request.cookies.get(COOKIE))
        if found is None or found[1] is None:
            raise Redirect("/login")
        s, u = found
        if u.disabled:
            auth.end_session(conn, request.cookies.get(COOKIE))
            store.audit(conn, "signed_out_disabled", u.name, self.ip(request))
            raise Redirect("/login?" + urlencode({"why": "disabled"}))
        if u.must_change_password and not password_ok:
            raise Redirect("/password")
        request.state.user, request.state.csrf = u, s.csrf
        return u

    async def form(self, request: Request) -> dict:
        """The posted form, after its CSRF token is checked against the session's (403 without it)."""
        f = await request.form()
        if not auth.same(f.get("csrf"), getattr(request.state, "csrf", None)):
            raise HTTPException(403, "This form has expired or did not come from this site: reload the page and send it again.")
        limit = int(self.settings["max_text"])
        out = {}
        for k, v in f.items():
            if not isinstance(v, str):
                raise Invalid("Files are not accepted here.")
            if len(v) > limit:
                raise Invalid(f"{k.replace('_', ' ')} is too long: at most {limit} characters.")
            out[k] = v.strip()
        return out

    def can_see(self, u, metro: str | None) -> bool:
        if u.role == "coordinator":
            return True
        mine = store.metros(u)
        return (metro in mine) if (mine or u.role == "partner") else True

    def can_propose(self, u, metro: str | None) -> bool:
        return u.role == "coordinator" or (u.role == "partner" and metro in store.metros(u))

    def forbid(self, conn, request, u, what: str):
        raise Forbidden(u.name, what)

    def scope(self, u) -> list[str] | None:
        if u.role == "coordinator" or (u.role == "viewer" and not store.metros(u)):
            return None
        return store.metros(u)

    # -- signing in and out ----------------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        import secrets

        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
        status, errors = 200, []
        if request.query_params.get("why") == "disabled":
            errors.append("Your account is disabled: you were signed out.")
        if request.method == "POST":
            f = await request.form()
            name, pw = str(f.get("name", "")).strip()[:100], str(f.get("password", ""))[:1000]
            if not auth.same(f.get("csrf"), request.cookies.get(PRE_COOKIE)):
                raise HTTPException(403, "This form has expired: reload the sign-in page and try again.")
            ip = self.ip(request)
            with self.engine.begin() as conn:
                wait = auth.wait_s(conn, name, ip, self.settings)
                if wait:
                    store.audit(conn, "sign_in_throttled", name, ip, wait_s=wait)
                    resp = self.render(request, "login.html", 429, csrf=pre, errors=[
                        f"Too many failed sign-ins: wait {wait} seconds before the next try."])
                    resp.headers["Retry-After"] = str(wait)
                    return resp
                u = store.user_by_name(conn, name)
            ok = await run_in_threadpool(auth.check_password, u, pw)
            with self.engine.begin() as conn:
                if ok and not u.disabled:
                    auth.succeeded(conn, name, ip)
                    token = auth.new_session(conn, u, self.settings["session_hours"])
                    store.audit(conn, "sign_in", u.name, ip)
                    resp = RedirectResponse("/password" if u.must_change_password else "/", 303)
                    self.set_cookie(resp, COOKIE, token)
                    resp.delete_cookie(PRE_COOKIE, path="/")
                    return resp
                auth.failed(conn, name, ip)
                store.audit(conn, "sign_in_failed", name, ip, disabled=bool(u and u.disabled))
            status, errors = 401, ["The user name or the password is wrong (or the account is disabled)."]
        resp = self.render(request, "login.html", status, csrf=pre, errors=errors, user=None)
        self.set_cookie(resp, PRE_COOKIE, pre)
        return resp

    def set_cookie(self, resp: Response, name: str, value: str) -> None:
        resp.set_cookie(name, value, httponly=True, samesite="lax", secure=bool(self.settings["secure_cookies"]), path="/",
                        max_age=int(float(self.settings["session_hours"]) * 3600))  # fmt: skip

    async def logout(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn, password_ok=True)
        await self.form(request)
        with self.engine.begin() as conn:
            auth.end_session(conn, request.cookies.get(COOKIE))
            store.audit(conn, "sign_out", u.name, self.ip(request))
        resp = RedirectResponse("/login", 303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    async def password(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn, password_ok=True)
        errors = []
        if request.method == "POST":
            f = await self.form(request)
            if not await run_in_threadpool(auth.check_password, u, f.get("current", "")):
                errors.append("The current password is wrong.")
            else:
                problem = await run_in_threadpool(auth.new_password_problem, u, f.get("new", ""), f.get("repeat", ""),
                                                  int(self.settings["min_password_length"]))  # fmt: skip
                if problem:
                    errors.append(problem)
                else:
                    with self.engine.begin() as conn:
                        await run_in_threadpool(auth.set_password, conn, u, f["new"])
                        # the user's other sessions end (a password changed because it leaked)
                        conn.execute(store.sessions.delete().where(
                            store.sessions.c.user_id == u.id,
                            store.sessions.c.token_hash != auth.token_hash(request.cookies.get(COOKIE, ""))))  # fmt: skip
                        store.audit(conn, "password_changed", u.name, self.ip(request))
                    return RedirectResponse("/?msg=password", 303)
        return self.render(request, "password.html", 400 if errors else 200, errors=errors,
                           min_length=self.settings["min_password_length"])  # fmt: skip

    async def home(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
        target = "/review" if u.role == "coordinator" else "/organisations"
        return RedirectResponse(target + (f"?msg={request.query_params['msg']}" if "msg" in request.query_params else ""), 303)

    # -- organisations ---------------------------------------------------------------------------------------
    async def organisations(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
        return await self._organisations_page(request, u)

    async def _organisations_page(self, request: Request, u, status: int = 200, **ctx) -> Response:
        q = request.query_params
        args = {k: q.get(k, "")[:200] for k in ("q", "type", "source")}
        with warehouse.connect(self.cfg.warehouse) as con:
            found = warehouse.search(con, self.scope(u), args["q"], args["type"], args["source"])
            types = warehouse.org_types(con, self.scope(u))
        mine = [m for m in self.metro_names if self.can_propose(u, m)]
        return self.render(request, "organisations.html", status, found=found, args=args, types=types, mine=mine,
                           sources=[s for s in self.cfg.sources] + [revisions.ADDED_SOURCE],
                           form=ctx.pop("form", {}), **ctx)  # fmt: skip

    def org_for(self, conn, request, u, golden_id: str, *, propose: bool = False) -> dict:
        with warehouse.connect(self.cfg.warehouse) as con:
            org = warehouse.organisation(con, golden_id)
        if org is None:
            raise HTTPException(404, "No such organisation in the database (a refresh may have merged it).")
        if not self.can_see(u, org["metropolis_id"]) or (propose and not self.can_propose(u, org["metropolis_id"])):
            self.forbid(conn, request, u, golden_id)
        return org

    def org_page(self, request, conn, u, org, status=200, **ctx) -> Response:
        rows = conn.execute(sa.select(proposals, users.c.name.label("author_name"))
                            .join(users, users.c.id == proposals.c.author_id)
                            .where(proposals.c.golden_id == org["golden_id"])
                            .order_by(proposals.c.id.desc())).all()  # fmt: skip
        seen = max((p.id for p in rows), default=0)
        pending_people = [p.details.get("name") for p in rows if p.kind == "add_person" and p.state in ("pending", "approved")
                          and p.details.get("consent")]  # fmt: skip
        people = sorted({*(p["name"] for p in org["persons"] if p["consent_to_publish"]), *pending_people})
        return self.render(request, "organisation.html", status, org=org, proposals=rows, seen=seen, people=people,
                           sources_of={f: warehouse.field_sources(org, f) for f in warehouse.FIELDS},
                           may_propose=self.can_propose(u, org["metropolis_id"]), form=ctx.pop("form", {}), **ctx)  # fmt: skip

    async def organisation(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
            org = self.org_for(conn, request, u, request.path_params["golden_id"])
            return self.org_page(request, conn, u, org)

    def person_for(self, u, org, person_id: str) -> dict:
        """A contact person of the organisation, from the warehouse; 403 when it belongs to another metropolis."""
        with warehouse.connect(self.cfg.warehouse) as con:
            person = warehouse.person(con, person_id)
        if person is None:
            raise HTTPException(404, "No such contact person in the database (a refresh may have changed it).")
        if not self.can_propose(u, person["metropolis_id"]):
            raise Forbidden(u.name, person_id)
        if person["golden_id"] != org["golden_id"]:
            raise HTTPException(404, "This person is not a contact person of this organisation.")
        return person

    def person_page(self, request, conn, u, org, person, status=200, **ctx) -> Response:
        published, record = self._person_consent(conn, org["golden_id"], person)
        seen = conn.execute(sa.select(sa.func.max(proposals.c.id))).scalar() or 0
        return self.render(request, "person.html", status, org=org, person=person, published=published, record=record,
                           seen=seen, person_fields=PERSON_FIELDS, form=ctx.pop("form", {}), **ctx)  # fmt: skip

    async def edit_person_form(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
            org = self.org_for(conn, request, u, request.path_params["golden_id"], propose=True)
            person = self.person_for(u, org, request.path_params["person_id"])
            return self.person_page(request, conn, u, org, person)

    def _person_consent(self, conn, golden_id: str, person: dict, exclude: int | None = None) -> tuple[bool, dict | None]:
        """Whether the person may be published: the warehouse says so and the latest approved proposal about them
        (not yet refreshed, perhaps) does not say otherwise; and the consent record of the proposal that added them."""
        pid = person["person_id"]
        rows = conn.execute(sa.select(proposals).where(
            proposals.c.golden_id == golden_id, proposals.c.state == "approved",
            proposals.c.kind.in_(("add_person", "withdraw_consent", "edit_person")))
            .order_by(proposals.c.decided_at, proposals.c.id)).all()  # fmt: skip
        names = {normalise.caseless(person["name"])}
        for r in rows:
            if r.kind == "edit_person" and r.details.get("person_id") == pid:
                names |= {normalise.caseless(r.details.get("name")), normalise.caseless((r.details.get("before") or {}).get("name"))}
        about = [r for r in rows if r.id != exclude and (r.details.get("person_id") == pid or (
            not r.details.get("person_id") and normalise.caseless(r.details.get("name")) in names))]  # fmt: skip
        consent = bool(person["consent_to_publish"])
        if about:
            consent = consent and about[-1].kind != "withdraw_consent" and bool(about[-1].details.get("consent"))
        record = next((r.details for r in reversed(about) if r.kind == "add_person" and r.details.get("consent")), None)
        return consent, record

    async def new_organisation(self, request: Request) -> Response:
        """A missing organisation: its proposal names a new key revisions:<name-words> and a metropolis."""
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
        f = {}
        try:
            f = await self.form(request)
            metro = f.get("metropolis_id", "")
            with self.engine.begin() as conn:
                if not self.can_propose(u, metro):
                    self.forbid(conn, request, u, f"new organisation in {metro!r}")
                d = {k: f.get(k) or None for k in output.ORG_COLUMNS}
                if d["website"]:
                    d["website"] = urls.web_url(d["website"])
                    if not d["website"]:
                        raise Invalid(f"{f['website']!r} is not a web address (http:// or https://).")
                if d["country"]:
                    d["country"] = d["country"].upper()
                errors = [m for k, m in (("name", "Write the organisation's name."),
                                         ("country", "Write the country as two letters (LV, EE, FI ...).")) if not d[k]]  # fmt: skip
                if errors:
                    raise Invalid(*errors)
                key = self._new_key(conn, d["name"])
                self._check_row({"op": "add_organisation", "target": key, **d})
                pid = conn.execute(proposals.insert().values(
                    kind="add_organisation", metropolis_id=metro, golden_id=key, target=key, author_id=u.id,
                    created_at=store.now(), state="pending", reason=f.get("reason") or None, details=d,
                )).inserted_primary_key[0]  # fmt: skip
                store.audit(conn, "proposal_made", u.name, self.ip(request), f"proposal:{pid}", kind="add_organisation")
        except Invalid as exc:
            return await self._organisations_page(request, u, 400, errors=exc.messages, form=f)
        return RedirectResponse(f"/proposals/{pid}?msg=proposed", 303)

    def _new_key(self, conn, name: str) -> str:
        from anyascii import anyascii

        base = "revisions:" + ("-".join(re.findall(r"[a-z0-9]+", anyascii(name).lower()))[:60].strip("-") or "organisation")
        with warehouse.connect(self.cfg.warehouse) as con:
            taken = {r[0] for r in con.execute("SELECT golden_id FROM golden_organisations WHERE golden_id LIKE 'revisions:%'").fetchall()}
        taken |= {r[0] for r in conn.execute(sa.select(proposals.c.target).where(proposals.c.kind == "add_organisation"))}
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}-{n}"
        return key

    def _merge(self, conn, u, org, f) -> dict:
        other_id = f.get("other", "")
        with warehouse.connect(self.cfg.warehouse) as con:
            gid = con.execute("SELECT golden_id FROM organisation_sources WHERE org_key = ?", [other_id]).fetchone()
            other = warehouse.organisation(con, gid[0] if gid else other_id)
        if other is None:
            raise Invalid(f"No organisation {other_id!r}: give the id shown on its page (org_...) or a source record key.")
        if other["golden_id"] == org["golden_id"]:
            raise Invalid("That is this organisation itself: give the other one.")
        if not self.can_propose(u, other["metropolis_id"]):
            raise Forbidden(u.name, other["golden_id"])
        return {"details": {"other": warehouse.target_key(other), "other_golden": other["golden_id"],
                            "other_name": other["name"]}}  # fmt: skip

    def _split(self, conn, u, org, f) -> dict:
        keys = [r["org_key"] for r in org["records"]]
        record = f.get("record", "")
        if len(keys) < 2:
            raise Invalid("This organisation has one source record: there is nothing to split.")
        if record not in keys[1:]:
            raise Invalid("Choose the source record that is another organisation.")
        return {"details": {"other": record}}

    async def propose_route(self, request: Request) -> Response:
        if request.path_params["kind"] not in KIND_LABELS or request.path_params["kind"] == "add_organisation":
            raise HTTPException(404, "No such page.")
        return await self.propose(request)

    async def propose(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
        f = None
        try:
            f = await self.form(request)
            with self.engine.begin() as conn:
                org = self.org_for(conn, request, u, request.path_params["golden_id"], propose=True)
                values = getattr(self, f"_{kind}")(conn, u, org, f)
                auto = kind == "withdraw_consent"  # a withdrawal needs no review: it only takes data off the site
                t = store.now()
                pid = conn.execute(proposals.insert().values(
                    kind=kind, metropolis_id=org["metropolis_id"], golden_id=org["golden_id"],
                    target=warehouse.target_key(org), author_id=u.id, created_at=t,
                    state="approved" if auto else "pending", decided_by=u.id if auto else None,
                    decided_at=t if auto else None, reason=f.get("reason") or None,
                    comment="a consent withdrawal takes effect without review" if auto else None, **values,
                )).inserted_primary_key[0]  # fmt: skip
                store.audit(conn, "proposal_made", u.name, self.ip(request), f"proposal:{pid}", kind=kind,
                            golden_id=org["golden_id"], field=values.get("field"))  # fmt: skip
                if auto:
                    self.write_revisions(conn, org["metropolis_id"])
                    conn.execute(proposals.update().where(proposals.c.id == pid)
                                 .values(revision_file=output.file_name(org["metropolis_id"])))  # fmt: skip
                    store.audit(conn, "proposal_approved", u.name, self.ip(request), f"proposal:{pid}", auto=True)
        except Invalid as exc:
            with self.engine.begin() as conn:
                org = self.org_for(conn, request, u, request.path_params["golden_id"])
                if kind == "edit_person":
                    person = self.person_for(u, org, (f or {}).get("person_id", ""))
                    return self.person_page(request, conn, u, org, person, 400, errors=exc.messages, form=f or {})
                return self.org_page(request, conn, u, org, 400, errors=exc.messages, form={"kind": kind, **(f or {})},
                                     **getattr(exc, "ctx", {}))  # fmt: skip
        msg = "withdrawn" if kind == "withdraw_consent" else "proposed"
        return RedirectResponse(f"/organisations/{_q(org['golden_id'])}?msg={msg}", 303)

    def write_revisions(self, conn, metro: str) -> None:
        try:
            output.write(self.cfg, metro, output.rows(conn, metro))
        except output.RevisionRefused as exc:
            raise Invalid(f"The revision file would break a rule, so nothing was changed: {exc}") from None

    def _check_row(self, row: dict) -> None:
        """The revision contract's word on the row this proposal will become (schemas/revisions.py)."""
        row = {"author": "portal", "date": date.today().isoformat(), **row}
        if row["op"] == "correct" and row["field"] in ("country", "nuts3"):  # the contract checks these columns
            row[row["field"]] = row["value"]
        problems = output.check(self.cfg, "proposal.csv", output.render([row], list(row)))
        if problems:
            raise Invalid(*(p.split(": invalid: ", 1)[-1].split(": unmatched: ", 1)[-1] for p in problems))

    def _concurrent(self, conn, u, org, f, field: str | None, kind: str) -> None:
        """Another person proposed a change to the same field since this form was opened: say so."""
        seen = int(f.get("seen") or 0) if (f.get("seen") or "0").isdigit() else 0
        q = sa.select(proposals, users.c.name.label("author_name")).join(users, users.c.id == proposals.c.author_id) \
            .where(proposals.c.golden_id == org["golden_id"], proposals.c.id > seen, proposals.c.kind == kind,
                   proposals.c.author_id != u.id, proposals.c.state.in_(("pending", "approved")))  # fmt: skip
        if field:
            q = q.where(proposals.c.field == field)
        newer = conn.execute(q).all()
        if newer:
            what = "; ".join(f"{p.author_name} proposed {_show(p)} (#{p.id}, {p.state})" for p in newer)
            raise Invalid(f"While you were editing, {what}. Check it below; send your form again to propose yours "
                          "as well (the coordinator sees both side by side).")

    def _correct(self, conn, u, org, f) -> dict:
        field, value = f.get("field", ""), f.get("value", "")
        if field not in warehouse.FIELDS:
            raise Invalid("Choose which field to correct.")
        if not value:
            raise Invalid(f"Write the new {warehouse.LABELS[field].lower()}.")
        if field == "website":
            safe = urls.web_url(value)
            if not safe:
                raise Invalid(f"{value!r} is not a web address (http:// or https://).")
            value = safe
        current = "" if org.get(field) is None else str(org[field])
        if f.get(f"based_on_{field}", "") != current:
            exc = Invalid(f"The {warehouse.LABELS[field].lower()} changed since you opened the page: it is now "
                          f"“{current}”. Check it and send the form again.")  # fmt: skip
            raise exc
        if value == current:
            raise Invalid(f"The {warehouse.LABELS[field].lower()} is “{current}” already.")
        self._concurrent(conn, u, org, f, field, "correct")
        self._check_row({"op": "correct", "target": warehouse.target_key(org), "field": field, "value": value})
        return {"field": field, "value": value, "based_on": current, "details": {}}

    def _hide(self, conn, u, org, f) -> dict:
        if not f.get("reason"):
            raise Invalid("Say why the organisation should be hidden.")
        if org.get("hidden"):
            raise Invalid("The organisation is hidden already.")
        self._concurrent(conn, u, org, f, None, "hide")
        return {"field": "hidden", "value": "true", "based_on": "false", "details": {}}

    def _add_person(self, conn, u, org, f) -> dict:
        name = f.get("name", "")
        consent = f.get("consent") == "yes"
        d = {"name": name, "role": f.get("role") or None, "email": f.get("email") or None,
             "phone": f.get("phone") or None, "consent": consent}  # fmt: skip
        errors = []
        if not name:
            errors.append("Write the person's name.")
        if consent:
            for k, what in (("consent_by", "who gave the consent"), ("consent_date", "when the consent was given"),
                            ("consent_for", "what the consent is for")):  # fmt: skip
                if not f.get(k):
                    errors.append(f"Write {what}.")
                d[k] = f.get(k) or None
            cd = f.get("consent_date", "")
            if cd and (not DAY.match(cd) or _day(cd) is None):
                errors.append(f"The consent date {cd!r} is not a day written YYYY-MM-DD.")
            elif cd and _day(cd) > date.today():
                errors.append("The consent date is in the future.")
        if any(normalise.caseless(p["name"]) == normalise.caseless(name) for p in org["persons"]):  # as revisions compare them
            errors.append(f"{name} is already a contact person of this organisation.")
        if errors:
            raise Invalid(*errors)
        self._check_row({"op": "add_person", "target": warehouse.target_key(org), "name": name, "role": d["role"],
                         "email": d["email"], "phone": d["phone"], "consent_to_publish": "yes" if consent else "no"})  # fmt: skip
        return {"details": d}

    def _edit_person(self, conn, u, org, f) -> dict:
        """New details of a contact person; the consent stays as it is (an edit grants none)."""
        person = self.person_for(u, org, f.get("person_id", ""))
        before = {k: person[k] or "" for k in PERSON_FIELDS}
        after = {k: f.get(k, "") for k in PERSON_FIELDS}
        changed = [k for k in PERSON_FIELDS if f.get(f"based_on_{k}", "") != before[k]]
        if changed:
            raise Invalid(f"The person's {', '.join(changed)} changed since you opened the form: it is now "
                          + "; ".join(f"“{before[k]}”" for k in changed) + ". Check it and send the form again.")  # fmt: skip
        if not after["name"]:
            raise Invalid("Write the person's name.")
        if after == before:
            raise Invalid("Nothing is changed: edit a detail before sending.")
        if normalise.caseless(after["name"]) != normalise.caseless(before["name"]) and any(
                normalise.caseless(p["name"]) == normalise.caseless(after["name"]) for p in org["persons"]):  # fmt: skip
            raise Invalid(f"{after['name']} is already a contact person of this organisation.")
        self._concurrent(conn, u, org, f, person["person_id"], "edit_person")
        published, record = self._person_consent(conn, org["golden_id"], person)
        new = {k: v or None for k, v in after.items()}
        self._check_row({"op": "add_person", "target": warehouse.target_key(org), "person_id": person["person_id"], **new,
                         "consent_to_publish": "yes" if published else "no"})  # fmt: skip
        return {"field": person["person_id"], "details": {"person_id": person["person_id"], **new, "before": before,
                                                          "published_when_proposed": published, "consent_record": record}}  # fmt: skip

    def _withdraw_consent(self, conn, u, org, f) -> dict:
        name = f.get("name", "")
        errors = []
        if not name:
            errors.append("Choose the person whose consent is withdrawn.")
        if not f.get("withdrawn_by"):
            errors.append("Write who withdrew the consent.")
        wd = f.get("withdrawn_on", "")
        if not DAY.match(wd) or _day(wd) is None:
            errors.append("Write when the consent was withdrawn, as YYYY-MM-DD.")
        if errors:
            raise Invalid(*errors)
        known = next((p["person_id"] for p in org["persons"] if normalise.caseless(p["name"]) == normalise.caseless(name)), None)
        self._check_row({"op": "add_person", "target": warehouse.target_key(org), "name": name, "person_id": known,
                         "consent_to_publish": "no"})  # fmt: skip
        return {"details": {"name": name, "person_id": known, "withdrawn_by": f["withdrawn_by"], "withdrawn_on": wd}}

    # -- proposals and the review ----------------------------------------------------------------------------
    def visible(self, u):
        q = sa.select(proposals, users.c.name.label("author_name")).join(users, users.c.id == proposals.c.author_id)
        scope = self.scope(u)
        return q if scope is None else q.where(proposals.c.metropolis_id.in_(scope))

    async def proposal_list(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
            state = request.query_params.get("state", "")
            q = self.visible(u).order_by(proposals.c.id.desc()).limit(500)
            if state in store.STATES:
                q = q.where(proposals.c.state == state)
            rows = conn.execute(q).all()
        return self.render(request, "proposals.html", proposals=rows, state=state, states=store.STATES)

    async def review(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
            if u.role != "coordinator":
                self.forbid(conn, request, u, "review")
            rows = conn.execute(self.visible(u).where(proposals.c.state == "pending").order_by(proposals.c.id)).all()
        groups: dict[tuple, list] = {}
        for p in rows:
            groups.setdefault((p.golden_id, p.kind, p.field if p.kind in ("correct", "edit_person") else p.id), []).append(p)
        return self.render(request, "review.html", groups=list(groups.values()))

    def proposal_for(self, conn, request, u, pid: int):
        p = conn.execute(sa.select(proposals, users.c.name.label("author_name"))
                         .join(users, users.c.id == proposals.c.author_id).where(proposals.c.id == pid)).first()  # fmt: skip
        if p is None:
            raise HTTPException(404, "No such proposal.")
        if not self.can_see(u, p.metropolis_id):
            self.forbid(conn, request, u, f"proposal:{pid}")
        return p

    def proposal_page(self, request, conn, u, p, status=200, **ctx) -> Response:
        rivals = []
        if p.kind == "correct":
            rivals = conn.execute(self.visible(u).where(
                proposals.c.golden_id == p.golden_id, proposals.c.field == p.field, proposals.c.kind == "correct",
                proposals.c.state == "pending", proposals.c.id != p.id).order_by(proposals.c.id)).all()  # fmt: skip
        decider = store.user_by_id(conn, p.decided_by) if p.decided_by else None
        current = None
        try:
            with warehouse.connect(self.cfg.warehouse) as con:
                org = warehouse.organisation(con, p.golden_id)
            if org and p.field in warehouse.FIELDS:
                current = "" if org.get(p.field) is None else str(org[p.field])
        except warehouse.Unavailable:
            org = None
        return self.render(request, "proposal.html", status, p=p, rivals=rivals, decider=decider, org=org,
                           current=current, may_decide=u.role == "coordinator" and p.state == "pending", **ctx)  # fmt: skip

    async def proposal(self, request: Request) -> Response:
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
            p = self.proposal_for(conn, request, u, request.path_params["pid"])
            return self.proposal_page(request, conn, u, p)

    async def decide(self, request: Request) -> Response:
        pid = request.path_params["pid"]
        with self.engine.begin() as conn:
            u = self.begin(request, conn)
            self.proposal_for(conn, request, u, pid)
            if u.role != "coordinator":
                self.forbid(conn, request, u, f"decide:{pid}")
        f = await self.form(request)
        action, comment = f.get("action"), f.get("comment", "")
        try:
            with self.engine.begin() as conn:
                p = self.proposal_for(conn, request, u, pid)
                if p.state != "pending":
                    raise Invalid(f"This proposal was {p.state} already.")
                if action == "reject":
                    if not comment:
                        raise Invalid("Say why the proposal is rejected: the partner sees the comment.")
                    conn.execute(proposals.update().where(proposals.c.id == pid, proposals.c.state == "pending")
                                 .values(state="rejected", decided_by=u.id, decided_at=store.now(), comment=comment))  # fmt: skip
                    store.audit(conn, "proposal_rejected", u.name, self.ip(request), f"proposal:{pid}", comment=comment)
                elif action == "approve":
                    self._approve(conn, request, u, p, f, comment)
                else:
                    raise Invalid("Choose approve or reject.")
        except Invalid as exc:
            with self.engine.begin() as conn:
                p = self.proposal_for(conn, request, u, pid)
                return self.proposal_page(request, conn, u, p, 400, errors=exc.messages, form=f)
        return RedirectResponse(f"/proposals/{pid}?msg=decided", 303)

    def _approve(self, conn, request, u, p, f, comment: str) -> None:
        if p.kind == "correct":
            with warehouse.connect(self.cfg.warehouse) as con:
                org = warehouse.organisation(con, p.golden_id)
            current = None if org is None else ("" if org.get(p.field) is None else str(org[p.field]))
            if current is not None and current != (p.based_on or "") and f.get("confirm") != "yes":
                raise Invalid(f"The value in the database changed since the proposal was made: it was “{p.based_on}”, "
                              f"it is now “{current}”. Tick ‘approve anyway’ to approve it over the new value.")
            # an earlier approved correction of the same field is replaced by this one
            conn.execute(proposals.update().where(
                proposals.c.golden_id == p.golden_id, proposals.c.kind == "correct", proposals.c.field == p.field,
                proposals.c.state == "approved").values(state="superseded"))  # fmt: skip
        if p.kind == "edit_person":
            self._approve_edit(conn, p, f)
        conn.execute(proposals.update().where(proposals.c.id == p.id, proposals.c.state == "pending").values(
            state="approved", decided_by=u.id, decided_at=store.now(), comment=comment or None,
            revision_file=output.file_name(p.metropolis_id)))  # fmt: skip
        self.write_revisions(conn, p.metropolis_id)
        store.audit(conn, "proposal_approved", u.name, self.ip(request), f"proposal:{p.id}", comment=comment,
                    file=output.file_name(p.metropolis_id))  # fmt: skip

    def _approve_edit(self, conn, p, f) -> None:
        """The consent as it stands now goes into the row (a withdrawal since the proposal keeps the person off the
        site); an earlier approved edit of the person is replaced by this one."""
        with warehouse.connect(self.cfg.warehouse) as con:
            person = warehouse.person(con, p.field)
        if person is None:
            raise Invalid("The person is no longer in the database (a refresh changed it): reject the proposal.")
        before = p.details.get("before") or {}
        now = {k: person[k] or "" for k in PERSON_FIELDS}
        if now != before and f.get("confirm") != "yes":
            raise Invalid("The person's details changed in the database since the proposal was made: they are now "
                          + ", ".join(f"{k} “{v}”" for k, v in now.items() if v)
                          + ". Tick ‘approve anyway’ to approve it.")  # fmt: skip
        consent, _ = self._person_consent(conn, p.golden_id, person, exclude=p.id)
        today = store.now().date()
        added = conn.execute(sa.select(proposals).where(
            proposals.c.golden_id == p.golden_id, proposals.c.kind == "add_person", proposals.c.state == "approved")).all()
        same_day = [r for r in added if r.decided_at.date() == today
                    and normalise.caseless(r.details.get("name")) == normalise.caseless(before.get("name"))]  # fmt: skip
        if consent and same_day:
            raise Invalid("This person was added today: two rows about one person on one day must agree, so approve "
                          "the edit tomorrow.")  # fmt: skip
        conn.execute(proposals.update().where(
            proposals.c.kind == "edit_person", proposals.c.field == p.field, proposals.c.state == "approved",
            proposals.c.id != p.id).values(state="superseded"))  # fmt: skip
        conn.execute(proposals.update().where(proposals.c.id == p.id).values(details={**p.details, "consent": consent}))

    async def css(self, request: Request) -> Response:
        return Response((Path(__file__).parent / "templates" / "portal.css").read_text(encoding="utf-8"),
                        media_type="text/css")  # fmt: skip


def _q(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")


def _day(s: str) -> date | None:
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None


def _show(p) -> str:
    if p.kind == "correct":
        return f"{warehouse.LABELS.get(p.field, p.field).lower()} = “{p.value}”"
    return KIND_LABELS.get(p.kind, p.kind)


def create_app(cfg: Config) -> Starlette:
    portal = Portal(cfg)

    def wrap(fn):
        async def endpoint(request: Request) -> Response:
            try:
                resp = await fn(request)
            except Redirect as r:
                resp = RedirectResponse(r.url, 303)
                if r.url.startswith("/login"):
                    resp.delete_cookie(COOKIE, path="/")
            except warehouse.Unavailable as exc:
                resp = PlainTextResponse(str(exc), 503, headers={"Retry-After": "10"})
            except HTTPException as exc:
                if isinstance(exc, Forbidden):
                    with portal.engine.begin() as conn:
                        store.audit(conn, "forbidden", exc.user, portal.ip(request), exc.what, path=request.url.path,
                                    method=request.method)  # fmt: skip
                resp = portal.render(request, "error.html", exc.status_code, detail=exc.detail)
            except Invalid as exc:
                resp = portal.render(request, "error.html", 400, detail=" ".join(exc.messages))
            resp.headers.update(HEADERS)
            return resp

        return endpoint

    routes = [
        Route("/", wrap(portal.home)),
        Route("/login", wrap(portal.login), methods=["GET", "POST"]),
        Route("/logout", wrap(portal.logout), methods=["POST"]),
        Route("/password", wrap(portal.password), methods=["GET", "POST"]),
        Route("/organisations", wrap(portal.organisations)),
        Route("/organisations/new", wrap(portal.new_organisation), methods=["POST"]),
        Route("/organisations/{golden_id:str}", wrap(portal.organisation)),
        Route("/organisations/{golden_id:str}/persons/{person_id:str}", wrap(portal.edit_person_form)),
        Route("/organisations/{golden_id:str}/{kind:str}", wrap(portal.propose_route), methods=["POST"]),
        Route("/proposals", wrap(portal.proposal_list)),
        Route("/proposals/{pid:int}", wrap(portal.proposal)),
        Route("/proposals/{pid:int}/decide", wrap(portal.decide), methods=["POST"]),
        Route("/review", wrap(portal.review)),
        Route("/portal.css", wrap(portal.css)),
    ]
    app = Starlette(routes=routes)
    app.state.portal = portal
    return app
