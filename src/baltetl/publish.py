"""Publish the warehouse: a static website with open-data exports beside it (`baltetl publish`).

Reads only the public_* views (warehouse/public.sql) over a read-only connection (analysts may hold the
warehouse open).  Pages: the home page (counts per metropolis, each source's snapshot date, two SVG charts),
one page per metropolis, per organisation placed in a metropolis (or with a consented contact) and per
published project (a project with a partner in a metropolis); other partners are shown as text.  Search runs
in the browser over an index loaded by <script> (works from file://).  Everything is written to a temporary
folder beside the target and swapped in at the end: a failed publish leaves the previous site.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import charts, exports
from .config import Config, resolve_path
from .urls import web_url

MARKER = ".baltetl-site"  # a published site holds this file; publish replaces no other folder
REQUIRED = ("public_metropolises", "public_organisations", "public_projects", "public_participations",
            "public_organisation_sources", "public_network_memberships", "public_persons", "public_sources",
            "public_metropolis_links")  # fmt: skip
ACTIVITY = {"HES": "Universities and schools", "REC": "Research organisations", "PRC": "Companies",
            "PUB": "Public bodies", "OTH": "Other organisations"}  # fmt: skip
KIND_WORDS = (  # a source's own type -> the group it is shown in (first match)
    ("Universities and schools", ("higher education", "university", "school", "education")),
    ("Research organisations", ("research",)),
    ("Clusters", ("cluster",)),
    ("Public bodies", ("city", "municipal", "public authority", "public body", "region", "agency", "ministry",
                       "public")),
    ("Companies", ("enterprise", "sme", "company", "business")),
    ("Associations and networks", ("ngo", "association", "interest group", "network", "international")),
)  # fmt: skip
KIND_ORDER = ["Universities and schools", "Research organisations", "Public bodies", "Companies", "Clusters",
              "Associations and networks", "Other organisations", "Type not given"]  # fmt: skip
ROLE_ORDER = {"coordinator": 0, "participant": 1, "associatedPartner": 2, "thirdParty": 3}
TOP_PARTNERS = 40


class PublishError(RuntimeError):
    """The site cannot be published (no warehouse, a warehouse without public views, a foreign target)."""


def site_dir(cfg: Config) -> Path:
    """`[paths] site`, else site/ beside the warehouse file."""
    value = cfg.raw.get("paths", {}).get("site")
    return resolve_path(value, cfg.project_dir) if value else cfg.warehouse.parent / "site"


# -- small helpers the templates use ---------------------------------------------------------------------------
def slug(key: str, taken: set[str]) -> str:
    s = re.sub(r"[^a-z0-9_-]+", "-", key.lower()).strip("-")[:80] or "x"
    if s in taken:
        s = f"{s}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    taken.add(s)
    return s


def project_link(p: dict) -> str | None:
    if p["source"] == "cordis" and str(p["project_id"]).isdigit():
        return f"https://cordis.europa.eu/project/id/{p['project_id']}"
    return web_url(p.get("url"))


def org_kind(o: dict) -> str:
    if o.get("activity_type") in ACTIVITY:
        return ACTIVITY[o["activity_type"]]
    t = (o.get("org_type") or "").lower()
    if not t:
        return "Type not given"
    for kind, words in KIND_WORDS:
        if any(w in t for w in words):
            return kind
    return "Other organisations"


def eur(v) -> str:
    return "" if v is None else f"€ {float(v):,.0f}".replace(",", " ")


def js_json(obj) -> str:
    """JSON that is safe inside a <script> or .js file: no '<', '>', '&' or line separators in clear."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("baltetl", "templates"), autoescape=select_autoescape(["html", "svg", "xml"]),
                      trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    env.filters.update(eur=eur, web_url=web_url)
    return env


# -- reading the public views ---------------------------------------------------------------------------------
def _rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def public_views(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE starts_with(view_name, 'public_')").fetchall()}


class SiteData:
    """Everything the pages show, read once from the public tables, with the page address of each thing.
    tables: export name -> the relation holding it (see exports.TABLES)."""

    def __init__(self, con, tables: dict[str, str]):
        t = tables
        self.metros = {m["metropolis_id"]: m for m in _rows(con, f"SELECT * FROM {t['metropolises']} ORDER BY name")}
        self.orgs = {o["golden_id"]: o for o in _rows(con, f"SELECT * FROM {t['organisations']}")}
        self.projects = {p["project_key"]: p for p in _rows(con, f"SELECT * FROM {t['projects']}")}
        self.parts_by_project: dict[str, list[dict]] = defaultdict(list)
        self.parts_by_org: dict[str, list[dict]] = defaultdict(list)
        for pa in _rows(con, f"SELECT * FROM {t['participations']} ORDER BY project_key, ord, golden_id"):
            self.parts_by_project[pa["project_key"]].append(pa)
            self.parts_by_org[pa["golden_id"]].append(pa)
        self.sources_by_org = self._group(con, f"SELECT * FROM {t['organisation_sources']} ORDER BY source, org_key")
        self.networks_by_org = self._group(con, f"SELECT * FROM {t['network_memberships']} ORDER BY network")
        self.persons_by_org = self._group(con, f"SELECT * FROM {t['persons']} ORDER BY name")
        self.sources = _rows(con, f"SELECT * FROM {t['sources']} ORDER BY source")
        self.links = _rows(con, f"SELECT * FROM {t['metropolis_links']}")
        opt = lambda name, sql: _rows(con, sql.format(t[name])) if name in t else []  # noqa: E731
        self.project_topics = {r["project_key"]: r for r in opt("project_topics", "SELECT * FROM {}")}
        self.org_topics = defaultdict(list)
        for r in opt("organisation_topics", "SELECT * FROM {} ORDER BY weight DESC, topic"):
            self.org_topics[r["golden_id"]].append(r)
        self.opportunities = opt("opportunities", "SELECT * FROM {} ORDER BY score DESC, golden_a, golden_b")
        self.metro_opportunities = opt("metropolis_opportunities", "SELECT * FROM {} ORDER BY opportunities DESC, metro_a, metro_b")
        self.has_topics = "project_topics" in t
        self.has_opportunities = "opportunities" in t or "metropolis_opportunities" in t
        # which things get a page, and where
        taken: set[str] = set()
        self.metro_url = {m: f"metropolis/{slug(m, taken)}.html" for m in self.metros}
        taken = set()
        self.org_url = {g: f"organisation/{slug(g, taken)}.html" for g, o in sorted(self.orgs.items())
                        if o["metropolis_id"] in self.metros or g in self.persons_by_org}  # fmt: skip
        taken = set()
        self.project_url = {k: f"project/{slug(k, taken)}.html" for k in sorted(self.projects)}
        self.present = {s["source"] for s in self.sources} | {s for o in self.orgs.values() for s in (o["sources"] or [])}
        if self.persons_by_org:
            self.present.add("revisions")
        self._links: dict[tuple[str, str], Markup] = {}
        self._refs: dict[tuple[str, str], dict] = {}
        self._sort_names: dict[str, str] = {}
        self._members: dict[str, frozenset[str]] = {}

    def members(self, key: str) -> frozenset[str]:
        """The organisations taking part in a project."""
        m = self._members.get(key)
        if m is None:
            m = self._members[key] = frozenset(pa["golden_id"] for pa in self.parts_by_project[key])
        return m

    def sort_name(self, gid: str) -> str:
        n = self._sort_names.get(gid)
        if n is None:
            n = self._sort_names[gid] = (self.orgs.get(gid) or {}).get("name", "").casefold()
        return n

    @staticmethod
    def _group(con, sql: str) -> dict[str, list[dict]]:
        out = defaultdict(list)
        for r in _rows(con, sql):
            out[r["golden_id"]].append(r)
        return out

    def link(self, kind: str, key: str, name: str, url: str | None) -> Markup:
        """The link to a thing from a page one folder deep (all but the home page), or its name as text;
        made once per thing (a partner is shown on many pages)."""
        out = self._links.get((kind, key))
        if out is None:
            out = Markup('<a href="../%s">%s</a>') % (url, name) if url else Markup.escape(name)
            self._links[(kind, key)] = out
        return out

    # views of one thing, as the templates want them
    # a thing as other pages show it; made once per thing (read-only: callers copy before adding keys)
    def org_ref(self, gid: str) -> dict:
        ref = self._refs.get(("o", gid))
        if ref is None:
            o = self.orgs.get(gid) or {"name": gid}
            url = self.org_url.get(gid)
            ref = self._refs[("o", gid)] = {
                "name": o["name"], "url": url, "link": self.link("o", gid, o["name"], url), "city": o.get("city"),
                "country": o.get("country"), "metropolis": self.metro_ref(o.get("metropolis_id"))}  # fmt: skip
        return ref

    def metro_ref(self, mid: str | None) -> dict | None:
        if not mid or mid not in self.metros:
            return None
        ref = self._refs.get(("m", mid))
        if ref is None:
            name = self.metros[mid]["name"]
            ref = self._refs[("m", mid)] = {"name": name, "url": self.metro_url[mid], "id": mid,
                                            "link": self.link("m", mid, name, self.metro_url[mid])}  # fmt: skip
        return ref

    def project_ref(self, key: str) -> dict:
        ref = self._refs.get(("p", key))
        if ref is None:
            p = self.projects[key]
            name = p["acronym"] or p["title"] or p["project_id"]
            ref = self._refs[("p", key)] = {
                "name": name, "title": p["title"] if p["acronym"] else None, "url": self.project_url.get(key),
                "link": self.link("p", key, name, self.project_url.get(key)), "start": p["start_date"],
                "end": p["end_date"], "ongoing": p["ongoing"], "programme": p["programme"] or p["framework_programme"]}  # fmt: skip
        return ref


# -- pages ----------------------------------------------------------------------------------------------------
class Writer:
    def __init__(self, root: Path):
        self.root, self.files, self.bytes = root, 0, 0
        self.dirs: set[Path] = set()

    def write(self, rel: str, text: str) -> None:
        data = text.encode("utf-8")
        path = self.root / rel
        if path.parent not in self.dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dirs.add(path.parent)
        with open(path, "wb") as f:
            f.write(data)
        self.files += 1
        self.bytes += len(data)


def _source_meta(cfg: Config) -> dict[str, dict]:
    return dict(cfg.raw.get("publish", {}).get("sources", {}))


def _attribution(data: SiteData, meta: dict[str, dict]) -> list[dict]:
    fetched = {s["source"]: s["snapshot_date"] for s in data.sources}
    out = []
    for name, m in meta.items():
        if name in data.present or m.get("reference"):
            out.append({**m, "name": name, "web": web_url(m.get("path")),
                        "licence_url": web_url((m.get("licence") or {}).get("path")),
                        "snapshot": fetched.get(name)})  # fmt: skip
    for name in sorted(data.present - set(meta)):  # a source without configured terms still gets named
        out.append({"name": name, "title": name, "attribution": "", "licence": {}, "snapshot": fetched.get(name)})
    return out


class Pages:
    """Renders pages into a Writer; header and footer are rendered once per folder depth."""

    def __init__(self, data: SiteData, w: Writer, cfg: Config, now: datetime):
        self.env, self.w, self.data = environment(), w, data
        pub = cfg.raw.get("publish", {})
        self.meta = _source_meta(cfg)
        self.attribution = _attribution(data, self.meta)
        self.site = {"title": pub.get("title", "BaltMet community database"), "description": pub.get("description", ""),
                     "metros": [{"name": m["name"], "url": data.metro_url[mid]} for mid, m in data.metros.items()],
                     "attribution": self.attribution, "published": now.strftime("%Y-%m-%d %H:%M UTC")}  # fmt: skip
        self.chrome = {root: {k: Markup(self.env.get_template(f"_{k}.html").render(site=self.site, root=root))
                              for k in ("header", "footer")} for root in ("", "../")}  # fmt: skip
        self.counts: Counter = Counter()

    def page(self, rel: str, template: str, counted_as: str, **ctx) -> None:
        root = "../" if "/" in rel else ""
        self.w.write(rel, self.env.get_template(template).render(site=self.site, root=root, **self.chrome[root], **ctx))
        self.counts[counted_as] += 1


def _charts(data: SiteData, root: str) -> tuple[str, str]:
    orgs = charts.bar_chart([(m["name"], m["organisations"], root + data.metro_url[mid]) for mid, m in data.metros.items()],
                            "Organisations per metropolis", "organisations", key="orgs")  # fmt: skip
    edges = [(lk["metro_a"], lk["metro_b"], lk["ongoing_projects"] or 0) for lk in data.links]
    nodes = [(mid, m["name"], m["organisations"], root + data.metro_url[mid]) for mid, m in data.metros.items()]
    net = charts.network_chart(nodes, edges, "Co-operation: ongoing projects shared by two metropolises",
                               "shared ongoing projects")  # fmt: skip
    return orgs, net


def render_common(pg: Pages) -> None:
    """The home, search and metropolis pages, the charts, the search index and the assets."""
    data, w = pg.data, pg.w
    for name, svg in zip(("organisations-per-metropolis", "co-operation-network"), _charts(data, "../")):
        w.write(f"charts/{name}.svg", svg)
    org_chart, net_chart = _charts(data, "")  # inline in the home page, links from there
    pg.page("index.html", "index.html", "home", metros=list(data.metros.values()), metro_url=data.metro_url,
            org_chart=Markup(org_chart), net_chart=Markup(net_chart), sources=pg.attribution,
            totals={"organisations": len(data.org_url), "projects": len(data.projects),
                    "ongoing": sum(1 for p in data.projects.values() if p["ongoing"])})  # fmt: skip
    pg.page("search.html", "search.html", "search")
    for mid, m in data.metros.items():
        pg.page(data.metro_url[mid], "metropolis.html", "metropolis", **metro_context(data, mid, m))
    w.write("assets/search-index.js", "window.BALTMET_SEARCH=" + js_json(search_index(data)) + ";\n")
    for name in ("style.css", "search.js"):
        w.write(f"assets/{name}", (Path(__file__).parent / "templates" / "static" / name).read_text(encoding="utf-8"))


def render_entities(pg: Pages) -> None:
    """A page per organisation that has one, and per project."""
    data = pg.data
    for gid, rel in data.org_url.items():
        pg.page(rel, "organisation.html", "organisation", **org_context(data, gid, pg.meta))
    for key, rel in data.project_url.items():
        pg.page(rel, "project.html", "project", **project_context(data, key))


def metro_context(data: SiteData, mid: str, m: dict) -> dict:
    groups: dict[str, list] = defaultdict(list)
    for gid, o in data.orgs.items():
        if o["metropolis_id"] == mid and gid in data.org_url:
            ongoing = len({pa["project_key"] for pa in data.parts_by_org.get(gid, []) if data.projects[pa["project_key"]]["ongoing"]})
            groups[org_kind(o)].append({"name": o["name"], "short": o["short_name"], "ongoing": ongoing,
                                        "link": data.link("o", gid, o["name"], data.org_url[gid])})  # fmt: skip
    by_kind = [(k, sorted(groups[k], key=lambda x: x["name"].casefold())) for k in KIND_ORDER if groups.get(k)]
    projects = []
    for key, p in data.projects.items():
        if not p["ongoing"] or mid not in (p["metropolises"] or []):
            continue
        here = {pa["golden_id"] for pa in data.parts_by_project[key] if pa["metropolis_id"] == mid}
        topics = data.project_topics.get(key)
        projects.append({**data.project_ref(key), "here": len(here), "topics": topics,
                         "others": [data.metro_ref(x) for x in p["metropolises"] if x != mid]})  # fmt: skip
    projects.sort(key=lambda x: (not (x["topics"] or {}).get("relevant"), x["end"] or date.max, x["name"].casefold()))
    links = []
    for lk in data.links:
        if mid in (lk["metro_a"], lk["metro_b"]):
            other = lk["metro_b"] if lk["metro_a"] == mid else lk["metro_a"]
            if other in data.metros:
                links.append({**lk, "other": data.metro_ref(other)})
    links.sort(key=lambda x: (-(x["ongoing_projects"] or 0), x["other"]["name"]))
    opp_pairs = []
    for mo in data.metro_opportunities:
        if mid in (mo["metro_a"], mo["metro_b"]):
            other = mo["metro_b"] if mo["metro_a"] == mid else mo["metro_a"]
            opp_pairs.append({**mo, "other": data.metro_ref(other) or {"name": other}})
    opps = [_opportunity(data, o, mid) for o in data.opportunities
            if mid in (o["metro_a"], o["metro_b"]) and (o["rank_in_pair"] or 0) <= 3][:60]
    return {"m": m, "by_kind": by_kind, "projects": projects, "links": links, "opp_pairs": opp_pairs, "opps": opps,
            "has_topics": data.has_topics, "has_opportunities": data.has_opportunities}  # fmt: skip


def _opportunity(data: SiteData, o: dict, side: str) -> dict:
    """An opportunity seen from `side` (a metropolis id or golden id): this side's organisation first."""
    flip = side in (o["metro_b"], o["golden_b"]) and side not in (o["metro_a"], o["golden_a"])
    a, b = (o["golden_b"], o["golden_a"]) if flip else (o["golden_a"], o["golden_b"])
    return {**o, "here": data.org_ref(a), "there": data.org_ref(b)}


def org_context(data: SiteData, gid: str, meta: dict) -> dict:
    o = data.orgs[gid]
    parts = data.parts_by_org.get(gid, [])
    roles = defaultdict(set)
    for pa in parts:
        roles[pa["project_key"]].add(pa["role"])
    projects = [{**data.project_ref(k), "roles": sorted(r, key=lambda x: ROLE_ORDER.get(x, 9))} for k, r in roles.items()]
    projects.sort(key=lambda x: (not x["ongoing"], -(x["end"] or date.min).toordinal(), x["name"].casefold()))
    shared = Counter()
    for k in roles:  # each partner once per project
        shared.update(data.members(k))
    del shared[gid]
    # the most frequent partners (ties by name): only those tied with the TOP_PARTNERS-th need their name
    ranked = shared.most_common()
    cut = ranked[min(TOP_PARTNERS, len(ranked)) - 1][1] if ranked else 0
    top = sorted((t for t in ranked if t[1] >= cut), key=lambda t: (-t[1], data.sort_name(t[0])))
    partner_rows = [{**data.org_ref(g), "shared": n} for g, n in top[:TOP_PARTNERS]]
    more = len(ranked) - len(partner_rows)
    src = [{**s, "title": meta.get(s["source"], {}).get("title", s["source"])} for s in data.sources_by_org.get(gid, [])]
    opps = [_opportunity(data, x, gid) for x in data.opportunities if gid in (x["golden_a"], x["golden_b"])][:30]
    return {"o": o, "kind": org_kind(o), "metro": data.metro_ref(o["metropolis_id"]), "website": web_url(o["website"]),
            "sources": src, "networks": data.networks_by_org.get(gid, []), "persons": data.persons_by_org.get(gid, []),
            "projects": projects, "partners": partner_rows, "more_partners": more,
            "topics": data.org_topics.get(gid, [])[:15], "opps": opps, "has_opportunities": data.has_opportunities}  # fmt: skip


def project_context(data: SiteData, key: str) -> dict:
    p = data.projects[key]
    partners = sorted(data.parts_by_project[key], key=lambda pa: (ROLE_ORDER.get(pa["role"], 9), pa["ord"] or 0))
    rows = []
    for pa in partners:
        ref = data.org_ref(pa["golden_id"])
        rows.append({**ref, "role": pa["role"], "city": pa["city"] or ref["city"], "country": pa["country"] or ref["country"],
                     "metropolis": data.metro_ref(pa["metropolis_id"]), "ec": pa["ec_contribution"]})  # fmt: skip
    return {"p": p, "ref": data.project_ref(key), "link": project_link(p), "partners": rows,
            "metros": [data.metro_ref(m) for m in (p["metropolises"] or []) if m in data.metros],
            "topics": data.project_topics.get(key), "keywords": [k.strip() for k in (p["keywords"] or "").split(",") if k.strip()]}  # fmt: skip


def search_index(data: SiteData) -> dict:
    entries = []
    for gid, url in data.org_url.items():
        o = data.orgs[gid]
        m = data.metros.get(o["metropolis_id"], {}).get("name")
        short = o["short_name"] if o["short_name"] != o["name"] else None
        detail = " · ".join(x for x in (short, o["city"], o["country"], m) if x)
        entries.append(["o", o["name"], detail, url])
    for key, url in data.project_url.items():
        p = data.projects[key]
        name = " — ".join(x for x in (p["acronym"], p["title"]) if x) or p["project_id"]
        detail = " · ".join(x for x in (p["programme"] or p["framework_programme"], "ongoing" if p["ongoing"] else None) if x)
        entries.append(["p", name, detail, url])
    return {"fields": ["kind", "name", "detail", "url"], "entries": entries}


# -- the whole run --------------------------------------------------------------------------------------------
def materialise(con, views: set[str]) -> dict[str, str]:
    """Each public view once into a temporary table (the views share subqueries; a read-only connection may
    hold temporary tables).  Returns export name -> table."""
    out = {}
    for name, (view, _title, _key) in exports.TABLES.items():
        if view in views:
            con.execute(f"CREATE OR REPLACE TEMP TABLE pub_{name} AS SELECT * FROM {view}")
            out[name] = f"pub_{name}"
    return out


def publish(cfg: Config, out: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Publish the warehouse `cfg.warehouse` to `out` (default: site_dir(cfg)); return figures."""
    t0 = time.perf_counter()
    out = Path(out) if out else site_dir(cfg)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise PublishError(f"{out} exists and is not a site published by baltetl (no {MARKER}): not replaced")
    if not cfg.warehouse.exists():
        raise PublishError(f"no warehouse at {cfg.warehouse}: run baltetl refresh first")
    out.parent.mkdir(parents=True, exist_ok=True)
    for p in _leftovers(out):
        _remove_later(p)
    tmp = out.with_name(f".{out.name}.publishing-{os.getpid()}-{time.time_ns()}")
    now = datetime.now(UTC)
    pub = cfg.raw.get("publish", {})
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        views = public_views(con)
        missing = [v for v in REQUIRED if v not in views]
        if missing:
            raise PublishError(f"{cfg.warehouse} has no {', '.join(missing)}: it was built before warehouse/public.sql; "
                               "run baltetl refresh to rebuild it")  # fmt: skip
        tables = materialise(con, views)
        data = SiteData(con, tables)
        t_read = time.perf_counter()
        meta = {"title": pub.get("title", "BaltMet community database"), "description": pub.get("description", ""),
                "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "sources": _source_meta(cfg), "present": data.present}  # fmt: skip
        w = Writer(tmp)
        pg = Pages(data, w, cfg, now)
        # the exports run in DuckDB (which lets go of the GIL) while Python renders the pages
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(exports.write, con, tmp / "data", meta, tables)
            render_common(pg)
            render_entities(pg)
            t_pages = time.perf_counter()
            files = job.result()
        t_wait = time.perf_counter()
        pg.page("data.html", "data.html", "data", files=files, sources=pg.attribution)
        pages = dict(pg.counts)
        w.write(MARKER, json.dumps({"published_at": now.isoformat(), "warehouse": str(cfg.warehouse), "pages": pages},
                                   default=str) + "\n")  # fmt: skip
    except BaseException:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    con.close()
    old = _swap(tmp, out)
    if old is not None:
        _remove_later(old)
    total_bytes = w.bytes + sum(f["bytes"] for f in files)
    result = {
        "out": str(out), "pages": dict(pages), "files": w.files + len(files), "bytes": total_bytes,
        "exports": files, "seconds": round(time.perf_counter() - t0, 2), "read_s": round(t_read - t0, 2),
        "pages_s": round(t_pages - t_read, 2), "wait_s": round(t_wait - t_pages, 2),
    }  # fmt: skip
    log(f"published {sum(pages.values())} pages, {result['files']} files, {total_bytes / 1e6:.1f} MB to {out} "
        f"in {result['seconds']} s")  # fmt: skip
    return result


def _swap(tmp: Path, out: Path) -> Path | None:
    """Put the finished site in place of the previous one; return the previous one's new name, if any."""
    if not out.exists():
        os.replace(tmp, out)
        return None
    old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.time_ns()}")
    os.replace(out, old)
    os.replace(tmp, out)
    return old


def _remove_later(path: Path) -> threading.Thread:
    """Delete a previous site in the background (thousands of files take seconds on a disk that discards
    freed blocks); the interpreter waits for it before it exits."""
    t = threading.Thread(target=shutil.rmtree, args=(path,), kwargs={"ignore_errors": True}, name="baltetl-site-cleanup")
    t.start()
    return t


def _leftovers(out: Path) -> list[Path]:
    """Previous sites not yet deleted, and temporary folders of publishes that died."""
    found = list(out.parent.glob(f".{out.name}.old-*"))
    for p in out.parent.glob(f".{out.name}.publishing-*"):
        pid = p.name.rsplit(".publishing-", 1)[1].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            found.append(p)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
