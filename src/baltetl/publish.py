"""Publish the warehouse: a static website with open-data exports beside it (`baltetl publish`).

Reads only the public_* views (warehouse/public/views.sql) over a read-only connection (analysts may hold the
warehouse open).  Pages: the home page (counts per metropolis, each source's snapshot date, two SVG charts),
one page per metropolis, per organisation placed in a metropolis (or with a consented contact) and per
published project (a project with a partner in a metropolis); other partners are shown as text.  Search runs
in the browser over an index loaded by <script> (works from file://).  Everything is written to a folder of
its own beside the target, `.site.build-<run>-<n>`, and `site` is a symlink switched to it in one rename: a
reader sees the previous site or the new one, whole; a failed publish leaves the previous site.  Publishes
to one site take turns (a lock beside it), and a site published from a newer build is never replaced.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from glob import escape as glob_escape
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import charts, exports
from .config import Config, resolve_path
from .declaration import declared
from .geo import reference_credits
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
ROLE_LABELS = {"coordinator": "Coordinator (lead partner)", "participant": "Partner", "associatedPartner": "Associated partner",
               "thirdParty": "Third party", "partner": "Partner", "lead_partner": "Lead partner"}  # fmt: skip
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
    """The project's page at its source (the source's declared project_url), else the project's own site."""
    d = declared().get(p["source"])
    return (d and d.project_link(str(p["project_id"]))) or web_url(p.get("url"))


def org_kind(o: dict) -> str:
    if o.get("activity_type") in ACTIVITY:
        return ACTIVITY[o["activity_type"]]
    t = (o.get("org_type") or "").lower()
    if not t:
        return ACTIVITY.get(o.get("type_from_name"), "Type not given")  # a model's reading of the name, or nothing
    for kind, words in KIND_WORDS:
        if any(w in t for w in words):
            return kind
    return "Other organisations"


def eur(v) -> str:
    return "" if v is None else f"€ {float(v):,.0f}".replace(",", " ")


def role_label(role: str | None) -> str:
    """A role in words: 'associatedPartner' -> 'Associated partner'."""
    if not role:
        return ""
    if role in ROLE_LABELS:
        return ROLE_LABELS[role]
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", role).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()


REASON_WORDS = {"keyword": "words in its description", "title_keyword": "a word in its title", "euroscivoc": "its field of science",
                "call": "its call topic", "priority": "its programme priority", "programme": "its programme"}  # fmt: skip


def reason_text(reason: str | None) -> str:
    """Why a project is on a topic, in words: 'keyword:living labs' -> 'words in its description: living labs'."""
    kind, _, what = (reason or "").partition(":")
    return f"{REASON_WORDS[kind]}: {what}" if kind in REASON_WORDS and what else reason or ""


def plural(n, one: str, many: str | None = None) -> str:
    """'1 project', '2 projects' (numbers grouped by thin spaces)."""
    n = n or 0
    return f"{n:,}".replace(",", "\u202f") + " " + (one if n == 1 else many or one + "s")


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
    env.filters.update(eur=eur, web_url=web_url, role=role_label, plural=plural, reason=reason_text)
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
        self.topic_labels = {r["topic"]: r["label"] or r["topic"] for r in opt("topics", "SELECT * FROM {}")}
        self.has_opportunities = "opportunities" in t or "metropolis_opportunities" in t
        # which things get a page, and where
        taken: set[str] = set()
        self.metro_url = {m: f"metropolis/{slug(m, taken)}.html" for m in self.metros}
        taken = set()
        self.org_url = {g: f"organisation/{slug(g, taken)}.html" for g, o in sorted(self.orgs.items())
                        if o["metropolis_id"] in self.metros or g in self.persons_by_org}  # fmt: skip
        taken = set()
        self.project_url = {k: f"project/{slug(k, taken)}.html" for k in sorted(self.projects)}
        self.illustrative = {s["source"] for s in self.sources if s.get("illustrative")}  # none of it is published
        self.present = ({s["source"] for s in self.sources} | {s for o in self.orgs.values() for s in (o["sources"] or [])}) - self.illustrative
        if self.persons_by_org:
            self.present.add("revisions")
        self._links: dict[tuple[str, str], Markup] = {}
        self._refs: dict[tuple[str, str], dict] = {}
        self._sort_names: dict[str, str] = {}
        self._members: dict[str, frozenset[str]] = {}

    def topic_names(self, topics) -> list[str]:
        """Topic ids as their labels."""
        return [self.topic_labels.get(t, t.replace("_", " ")) for t in topics or []]

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
    """The sources whose data is published (and the reference data), each with the date of its data and,
    apart, when it was fetched."""
    known = {s["source"]: s for s in data.sources}
    out = []
    for name in [*(n for n in meta if n in data.present or meta[n].get("reference")), *sorted(data.present - set(meta))]:
        m = meta.get(name) or {"title": name, "attribution": "", "licence": {}}  # a source without configured terms
        s = known.get(name) or {}
        out.append({**m, "name": name, "web": web_url(m.get("path")), "licence_url": web_url((m.get("licence") or {}).get("path")),
                    "snapshot": s.get("snapshot_date"), "data_date": s.get("data_date"), "data_basis": s.get("data_date_basis")})  # fmt: skip
    return out


def _left_out(data: SiteData, meta: dict[str, dict]) -> list[dict]:
    """Sources loaded but not published: their data is an illustrative sample."""
    return [{"name": n, "title": (meta.get(n) or {}).get("title", n)} for n in sorted(data.illustrative)]


class Pages:
    """Renders pages into a Writer; header and footer are rendered once per folder depth."""

    def __init__(self, data: SiteData, w: Writer, cfg: Config, now: datetime):
        self.env, self.w, self.data = environment(), w, data
        pub = cfg.raw.get("publish", {})
        self.meta = _source_meta(cfg)
        self.attribution = _attribution(data, self.meta)
        self.site = {"title": pub.get("title", "BaltMet community database"), "description": pub.get("description", ""),
                     "metros": [{"name": m["name"], "url": data.metro_url[mid]} for mid, m in data.metros.items()],
                     "attribution": self.attribution, "published": now.strftime("%Y-%m-%d %H:%M UTC"),
                     "reference": [{**g, "web": web_url(g["url"])} for g in reference_credits()]}  # fmt: skip
        self.chrome = {root: {k: Markup(self.env.get_template(f"_{k}.html").render(site=self.site, root=root))
                              for k in ("header", "footer")} for root in ("", "../")}  # fmt: skip
        self.counts: Counter = Counter()
        self.map = dict(pub.get("map", {}))  # metropolis id -> [lat, lon]

    def page(self, rel: str, template: str, counted_as: str, **ctx) -> None:
        root = "../" if "/" in rel else ""
        self.w.write(rel, self.env.get_template(template).render(site=self.site, root=root, **self.chrome[root], **ctx))
        self.counts[counted_as] += 1


def _map(data: SiteData, coords: dict, root: str) -> tuple[str, list[str]]:
    """The map of the metropolises (their configured coordinates), and the names of those without any."""
    points, missing = [], []
    for mid, m in data.metros.items():
        c = coords.get(mid)
        if isinstance(c, list) and len(c) == 2 and all(isinstance(v, (int, float)) for v in c):
            points.append((mid, m["name"], float(c[0]), float(c[1]), m["organisations"] or 0, root + data.metro_url[mid]))
        else:
            missing.append(m["name"])
    return charts.map_chart(points, "Organisations placed in each metropolis, on the map", key="map"), missing


def _places(data: SiteData, mid: str) -> str:
    """A metropolis' organisations per municipality (the city their address gives), the most first."""
    counts: Counter = Counter()
    spellings: dict[str, Counter] = defaultdict(Counter)
    for gid, o in data.orgs.items():
        if o["metropolis_id"] == mid and gid in data.org_url:
            name = " ".join((o["city"] or "place not given").split()).title()
            key = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()  # Rīga = Riga
            counts[key] += 1
            spellings[key][name] += 1
    named = [(spellings[k].most_common(1)[0][0], n) for k, n in counts.most_common(15)]
    rows = [(name if len(name) <= 16 else name[:15] + "…", n, None) for name, n in named]
    rest = sum(counts.values()) - sum(n for _, n, _ in rows)
    if rest:
        rows.append((f"{len(counts) - len(rows)} other places", rest, None))
    return charts.bar_chart(rows, "Organisations per municipality", "organisations", key="places")


def _charts(data: SiteData, root: str) -> tuple[str, str]:
    orgs = charts.bar_chart([(m["name"], m["organisations"], root + data.metro_url[mid]) for mid, m in data.metros.items()],
                            "Organisations placed in each metropolis", "organisations", key="orgs")  # fmt: skip
    edges = [(lk["metro_a"], lk["metro_b"], lk["ongoing_projects"] or 0) for lk in data.links]
    nodes = [(mid, m["name"], root + data.metro_url[mid]) for mid, m in data.metros.items()]
    net = charts.matrix_chart(nodes, edges, "Ongoing projects shared by two metropolises", "shared ongoing projects",
                              key="links")  # fmt: skip
    return orgs, net


def render_common(pg: Pages) -> None:
    """The home, search and metropolis pages, the charts, the search index and the assets."""
    data, w = pg.data, pg.w
    for name, svg in zip(("organisations-per-metropolis", "co-operation-network"), _charts(data, "../")):
        w.write(f"charts/{name}.svg", svg)
    org_chart, net_chart = _charts(data, "")  # inline in the home page, links from there
    map_chart, unmapped = _map(data, pg.map, "")
    placed = sum(m["organisations"] or 0 for m in data.metros.values())
    pg.page("index.html", "index.html", "home", metros=list(data.metros.values()), metro_url=data.metro_url,
            org_chart=Markup(org_chart), net_chart=Markup(net_chart), map_chart=Markup(map_chart), unmapped=unmapped,
            sources=pg.attribution,
            left_out=_left_out(data, pg.meta),
            totals={"placed": placed, "outside": len(data.orgs) - placed, "projects": len(data.projects),
                    "ongoing": sum(1 for p in data.projects.values() if p["ongoing"])})  # fmt: skip
    pg.page("search.html", "search.html", "search")
    for mid, m in data.metros.items():
        pg.page(data.metro_url[mid], "metropolis.html", "metropolis", **metro_context(data, mid, m))
    w.write("assets/search-index.js", "window.BALTMET_SEARCH=" + js_json(search_index(data)) + ";\n")
    for name in ("style.css", "search.js", "minisearch.js", "minisearch.LICENSE.txt"):
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
                         "topic_names": data.topic_names((topics or {}).get("topics")),
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
            opp_pairs.append({**mo, "other": data.metro_ref(other) or {"name": other},
                              "topic_names": data.topic_names(mo["top_topics"])})  # fmt: skip
    opps = [_opportunity(data, o, mid) for o in data.opportunities
            if mid in (o["metro_a"], o["metro_b"]) and (o["rank_in_pair"] or 0) <= 3][:60]
    return {"m": m, "by_kind": by_kind, "projects": projects, "links": links, "opp_pairs": opp_pairs, "opps": opps,
            "places": Markup(_places(data, mid)) if m["organisations"] else None,
            "has_topics": data.has_topics, "has_opportunities": data.has_opportunities}  # fmt: skip


def _opportunity(data: SiteData, o: dict, side: str) -> dict:
    """An opportunity seen from `side` (a metropolis id or golden id): this side's organisation first."""
    flip = side in (o["metro_b"], o["golden_b"]) and side not in (o["metro_a"], o["golden_a"])
    a, b = (o["golden_b"], o["golden_a"]) if flip else (o["golden_a"], o["golden_b"])
    return {**o, "here": data.org_ref(a), "there": data.org_ref(b), "topic_names": data.topic_names(o["shared_topics"])}


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
            "topics": [{**t, "label": data.topic_names([t["topic"]])[0]} for t in data.org_topics.get(gid, [])[:15]], "opps": opps, "has_opportunities": data.has_opportunities}  # fmt: skip


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
            "topics": data.project_topics.get(key), "topic_names": data.topic_names((data.project_topics.get(key) or {}).get("topics")),
            "keywords": [k.strip() for k in (p["keywords"] or "").split(",") if k.strip()]}  # fmt: skip


def search_index(data: SiteData) -> dict:
    """The documents search.js indexes (MiniSearch): what is shown (name, detail, url), the facets (metropolises,
    type, topic labels) and more words to find it by (text: short name, city, the project's keywords)."""
    entries = []
    for gid, url in data.org_url.items():
        o = data.orgs[gid]
        m = data.metros.get(o["metropolis_id"], {}).get("name")
        short = o["short_name"] if o["short_name"] != o["name"] else None
        detail = " · ".join(x for x in (short, o["city"], o["country"], m) if x)
        topics = sorted({t for t in data.topic_names(r["topic"] for r in data.org_topics.get(gid, []))})
        text = " ".join(x for x in (o["org_type"], o.get("name_en"), o.get("name_local")) if x and x != o["name"])
        entries.append(["o", o["name"], detail, url, [m] if m else [], org_kind(o), topics, text])  # English and national names found too
    for key, url in data.project_url.items():
        p = data.projects[key]
        name = " — ".join(x for x in (p["acronym"], p["title"]) if x) or p["project_id"]
        detail = " · ".join(x for x in (p["programme"] or p["framework_programme"], "ongoing" if p["ongoing"] else None) if x)
        metros = [data.metros[m]["name"] for m in p["metropolises"] or [] if m in data.metros]
        topics = data.topic_names((data.project_topics.get(key) or {}).get("topics"))
        kind = "Ongoing projects" if p["ongoing"] else "Past projects"
        entries.append(["p", name, detail, url, metros, kind, topics, (p["keywords"] or "")[:300]])
    return {"fields": ["kind", "name", "detail", "url", "metropolises", "type", "topics", "text"], "entries": entries}


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


def publish(cfg: Config, out: Path | None = None, log: Callable[[str], None] = print, force: bool = False) -> dict:
    """Publish the warehouse `cfg.warehouse` to `out` (default: site_dir(cfg)); return figures.

    One publish to `out` at a time (a lock beside it, waited for up to `[publish] lock_wait_s`).  A site
    published from a newer build than the warehouse holds is not replaced (the result's `skipped` says why)
    unless `force`.  The site is written into a folder of its own, `.<out>.build-<run>-<n>`, and `out` is a
    symlink to it, switched in one rename: a reader sees the previous site or the new one, whole."""
    t0 = time.perf_counter()
    out = Path(out) if out else site_dir(cfg)
    _check_target(out)
    if not cfg.warehouse.exists():
        raise PublishError(f"no warehouse at {cfg.warehouse}: run baltetl refresh first")
    out.parent.mkdir(parents=True, exist_ok=True)
    pub = cfg.raw.get("publish", {})
    with _publish_lock(out, float(pub.get("lock_wait_s", 600))):
        _check_target(out)
        for p in _old_versions(out):  # of publishes that died, or not yet deleted
            _remove_later(p)
        con = _open_warehouse(cfg.warehouse, log)
        dest = None
        try:
            build = _build_of(con)
            site = site_build(out)
            if not force and _newer(site, build):
                msg = (f"{out} was published from a newer build (run {site.get('run_id')}, built {site.get('built_at')}) "
                       f"than {cfg.warehouse} holds (run {(build or {}).get('run_id', 'unknown')}, built "
                       f"{(build or {}).get('built_at', 'unknown')}): not replaced")  # fmt: skip
                log(msg)
                return {"out": str(out), "skipped": msg, "build": build, "pages": {}, "files": 0, "bytes": 0,
                        "exports": [], "seconds": round(time.perf_counter() - t0, 2)}  # fmt: skip
            run = re.sub(r"[^A-Za-z0-9_-]", "_", (build or {}).get("run_id") or "unknown")
            dest = out.with_name(f".{out.name}.build-{run}-{time.time_ns()}")
            result = _write_site(cfg, con, dest, build)
        except BaseException:
            if dest is not None:
                shutil.rmtree(dest, ignore_errors=True)
            raise
        finally:
            con.close()
        old = _switch(dest, out)
        for p in [*old, *_old_versions(out)]:
            _remove_later(p)
    pages, total_bytes = result["pages"], result["bytes"]
    result.update(out=str(out), seconds=round(time.perf_counter() - t0, 2))
    result["read_s"] = round(result.pop("t_read") - t0, 2)
    log(f"published {sum(pages.values())} pages, {result['files']} files, {total_bytes / 1e6:.1f} MB to {out} "
        f"in {result['seconds']} s")  # fmt: skip
    return result


def _write_site(cfg: Config, con, tmp: Path, build: dict | None) -> dict:
    """Render the pages and write the exports into the new folder `tmp`: -> figures."""
    now = datetime.now(UTC)
    pub = cfg.raw.get("publish", {})
    views = public_views(con)
    missing = [v for v in REQUIRED if v not in views]
    if missing:
        raise PublishError(f"{cfg.warehouse} has no {', '.join(missing)}: it was built before warehouse/public/views.sql; "
                           "run baltetl refresh to rebuild it")  # fmt: skip
    tables = materialise(con, views)
    data = SiteData(con, tables)
    t_read = time.perf_counter()
    meta = {"title": pub.get("title", "BaltMet community database"), "description": pub.get("description", ""),
            "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "sources": _source_meta(cfg), "present": data.present,
            "reference": reference_credits()}  # fmt: skip
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
    w.write(MARKER, json.dumps({"published_at": now.isoformat(), "warehouse": str(cfg.warehouse), "build": build,
                                "pages": pages}, default=str) + "\n")  # fmt: skip
    return {"pages": pages, "files": w.files + len(files), "bytes": w.bytes + sum(f["bytes"] for f in files),
            "exports": files, "build": build, "t_read": t_read, "pages_s": round(t_pages - t_read, 2),
            "wait_s": round(t_wait - t_pages, 2)}  # fmt: skip


def _check_target(out: Path) -> None:
    """Publish replaces only a site it published: its own symlink, or a folder holding MARKER (or empty)."""
    if out.is_symlink():
        if not _ours(out, os.readlink(out)):
            raise PublishError(f"{out} is a symlink to {os.readlink(out)}, not one made by baltetl publish: not replaced")
    elif out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise PublishError(f"{out} exists and is not a site published by baltetl (no {MARKER}): not replaced")


def _ours(out: Path, name: str) -> bool:
    """`name` (beside `out`) is one of its site folders or a temporary folder or link of a publish."""
    return "/" not in name and name.startswith(tuple(f".{out.name}.{k}-" for k in ("build", "publishing", "old", "link")))


def _open_warehouse(path: Path, log: Callable[[str], None]):
    """A read-only connection; a writer holding the file is WarehouseBusy (one line), a WAL that is not the
    file's own is moved aside (db.recover_wal) and the file opened again."""
    from .db import WarehouseBusy, recover_wal

    for attempt in (1, 2):
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            text = str(exc)
            if "Could not set lock" in text or "Conflicting lock" in text:
                pid = re.search(r"\(PID (\d+)\)", text)
                raise WarehouseBusy(
                    f"{path} is open read-write by {'pid ' + pid.group(1) if pid else 'another process'}: publish reads "
                    "it read-only and cannot while a writer holds it; not published (the previous site stays). Ask "
                    "them to close it (analysts: open it read-only) and publish again."
                ) from None
            if attempt == 1 and "WAL does not match" in text and recover_wal(path, log):
                continue
            raise PublishError(f"cannot open {path}: {text.splitlines()[0]}") from None


def _build_of(con) -> dict | None:
    """The build the warehouse holds (its build_info): {run_id, built_at}; None for one built without it."""
    try:
        row = con.execute("SELECT run_id, built_at FROM build_info ORDER BY built_at DESC LIMIT 1").fetchone()
    except duckdb.Error:
        return None
    return {"run_id": row[0], "built_at": row[1].isoformat()} if row else None


def site_build(out: Path) -> dict | None:
    """The build the site at `out` was published from (its MARKER), or None (none there, or published before
    builds were recorded)."""
    try:
        build = json.loads((out / MARKER).read_text()).get("build")
    except (OSError, ValueError, AttributeError):
        return None
    return build if isinstance(build, dict) and build.get("built_at") else None


def _newer(site: dict | None, ours: dict | None) -> bool:
    """The site was published from a build newer than ours (a warehouse without build_info is the oldest)."""
    if site is None:
        return False
    if ours is None:
        return True
    try:
        return datetime.fromisoformat(site["built_at"]) > datetime.fromisoformat(ours["built_at"])
    except (TypeError, ValueError):
        return False


@contextmanager
def _publish_lock(out: Path, wait_s: float) -> Iterator[None]:
    """Held while a publish to `out` runs (`.<out>.lock` beside it); waits up to `wait_s` for another one."""
    path = out.with_name(f".{out.name}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                    raise PublishError(f"another publish to {out} ({holder}) still runs after {wait_s:g} s "
                                       "([publish] lock_wait_s): not published") from None  # fmt: skip
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _switch(dest: Path, out: Path) -> list[Path]:
    """Make `out` a symlink to the finished site `dest` with one rename; return what it replaced that is to
    be deleted (a site folder published before the symlink)."""
    link = out.with_name(f".{out.name}.link-{os.getpid()}-{time.time_ns()}")
    os.symlink(dest.name, link)  # relative: the site and its folders move together
    old = []
    if out.is_dir() and not out.is_symlink():  # a site published as a plain folder: replaced once
        legacy = out.with_name(f".{out.name}.old-{os.getpid()}-{time.time_ns()}")
        try:
            _exchange(link, out)  # atomic: `out` the symlink, `link` the old folder
            os.rename(link, legacy)
        except OSError:  # no renameat2 here: a moment without `out`, once
            os.rename(out, legacy)
            os.replace(link, out)
        old.append(legacy)
    else:
        os.replace(link, out)
    dfd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return old


def _exchange(a: Path, b: Path) -> None:
    """Swap two names atomically (Linux renameat2 RENAME_EXCHANGE)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        raise OSError("renameat2 is not available")
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def _remove_later(path: Path) -> threading.Thread:
    """Delete a previous site in the background (thousands of files take seconds on a disk that discards
    freed blocks); the interpreter waits for it before it exits."""
    t = threading.Thread(target=shutil.rmtree, args=(path,), kwargs={"ignore_errors": True}, name="baltetl-site-cleanup")
    t.start()
    return t


def _old_versions(out: Path) -> list[Path]:
    """The site folders beside `out` that it does not point to: previous sites, and the folders and links
    of publishes that died (with the publish lock held no other publish is writing one)."""
    current = os.readlink(out) if out.is_symlink() else None
    found = []
    for p in out.parent.glob(f".{glob_escape(out.name)}.*"):
        if _ours(out, p.name) and p.name != current:
            if p.is_symlink():
                p.unlink(missing_ok=True)
            else:
                found.append(p)
    return found
