"""Eurocities: the member directory of eurocities.eu (https://eurocities.eu/cities/).

Two forms of the same directory go through one parser (see ../shared/data/eurocities/STRUCTURE.md):
- the live site (WordPress): the directory page, one card per member linking to `/cities/<slug>/` with the
  member's name and country, and optionally the members' own pages, which give the membership category
  (full member, associate member, partner, associated business partner);
- the text copy of the directory (`members_from_website_<date>.txt`: a `#` comment line, then pairs of
  lines: the name as displayed, the country in lower-case English), optionally with the Wikidata mapping of
  the names (`members_wikidata*.json`), landed alone or together as a folder (-> zip).
What a landed file is, is told from its content, never from its origin.

Staged: `organisations` (one per member: the city administration or the metropolitan body) and
`network_memberships` (network 'Eurocities').  The key is the member's folded name + ISO country, so the
same member spelled twice by the site (Ambelokipi-Menemeni / Ampelokipoi-Menemeni) stays two rows: the
directory shows two cards and nothing in the source says they are one; both carry the same wikidata_id.
The Wikidata id is an extra column only: it repeats (a metropolitan body is mapped to its core city), so
resolution reads it as the city's id (declared `wikidata_is_place`): a key for the member that is the city only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

import pandas as pd
from anyascii import anyascii
from bs4 import BeautifulSoup

from ... import archive, normalise
from ...http import FetchError
from ...normalise import norm_place
from ...types import Landed, Parsed, Reject, SourceContext, StructureChanged

NETWORK = "Eurocities"

ORGANISATION_COLUMNS = [
    "record_key", "record_ref", "org_id", "name", "org_type", "legal_status", "city", "country",
    "country_source", "nuts3", "lau_code", "website", "wikidata_id", "profile_url",
]  # fmt: skip
MEMBERSHIP_COLUMNS = [
    "record_key", "record_ref", "network", "org_id", "member_name", "country", "country_source", "category",
    "joined_year",
]  # fmt: skip

# Membership categories as the site words them -> the staged value (schemas/eurocities.py CATEGORIES)
_CATEGORY_PATTERNS = [
    (re.compile(r"\bassociated?\s+business\s+partners?\b|\bbusiness\s+partners?\b"), "associated business partner"),
    (re.compile(r"\bassociated?\s+members?\b"), "associate member"),
    (re.compile(r"\bfull\s+members?\b"), "full member"),
    (re.compile(r"^\s*(?:eurocities\s+)?partners?(?:\s+cit(?:y|ies))?\s*$"), "partner"),
]
# 'Membership', 'Member type: Full member', 'Category:' ... (the value after a colon, or in the next element)
_CATEGORY_LABEL = re.compile(
    r"^\s*(?:membership(?:\s+(?:type|category|status))?|member\s+(?:type|category|status)|(?:membership\s+)?category)"
    r"(?:\s*:\s*(.*)|\s*)$",
    re.I,
)
_CATEGORY_IN_TEXT = re.compile(r"\b(full member|associate member|associated business partner)\b", re.I)

# Member links: /cities/<slug>/ (absolute or relative); /cities/ itself and WordPress paging are not members
_MEMBER_HREF = re.compile(r"^(?:https?://[^/]+)?/cities/([^/?#]+)/?(?:[?#].*)?$", re.I)
_PAGE_HREF = re.compile(r"^(?:https?://[^/]+)?/cities/page/(\d+)/?(?:[?#].*)?$", re.I)
_NOT_MEMBER_SLUGS = {"page", "feed", "embed", "amp"}

# Names that are not one city: (org_type, city); the rest go by _METRO_WORDS below
KNOWN_BODIES = {
    "AIX MARSEILLE PROVENCE METROPOLE": ("metropolitan authority", "Marseille"),
    "GREATER PARIS METROPOLE": ("metropolitan authority", "Paris"),
    "GRAND PARIS SUD": ("metropolitan authority", None),  # an agglomeration of 23 communes, no core city
    "NICE COTE D AZUR": ("metropolitan authority", "Nice"),  # Métropole Nice Côte d'Azur
    "BRABANTSTAD": ("city network", None),  # Breda, Eindhoven, Helmond, 's-Hertogenbosch, Tilburg
    "NETWERKSTAD TWENTE": ("city network", None),  # Enschede, Hengelo, Almelo, Borne, Oldenzaal
}
_METRO_WORDS = re.compile(
    r"\s*\b(?:metropole|metropolitan\s+(?:area|city|region|authority)|metropolitan|metropolis|"
    r"capital\s+region|region|agglomeration|communaute\s+urbaine)\b\s*",
    re.I,
)
_QUALIFIER = re.compile(r"\s*\((?:city government in exile|[^)]*)\)\s*$")


# --------------------------------------------------------------------------------------------------- fetch


def fetch(ctx: SourceContext) -> list[Landed]:
    """The directory page (and its further pages, if paged), then each member's page for its category.

    A member page that cannot be fetched (HTTP error, robots.txt) is skipped: that member's category stays
    NULL.  A directory without member cards is landed as it is; parse then fails the source.
    """
    if ctx.fetcher is None:
        raise RuntimeError("eurocities.fetch needs an HTTP fetcher")
    opts = ctx.source.options
    url = opts.directory_url
    src = ctx.source.name
    first = ctx.fetcher.get(url, src, name="directory")
    out = [first]
    html = first.path.read_text(encoding="utf-8", errors="replace")
    members = dict(member_links(html, url))
    seen_pages = {url}
    todo = [p for p in page_links(html, url) if p not in seen_pages]
    max_pages = opts.max_directory_pages
    while todo and len(seen_pages) < max_pages:
        page = todo.pop(0)
        if page in seen_pages:
            continue
        seen_pages.add(page)
        n = _PAGE_HREF.match(urlsplit(page).path)
        landed = ctx.fetcher.get(page, src, name=f"directory-page-{n.group(1) if n else len(seen_pages)}")
        out.append(landed)
        text = landed.path.read_text(encoding="utf-8", errors="replace")
        members.update(member_links(text, page))
        todo.extend(p for p in page_links(text, page) if p not in seen_pages)
    if not opts.member_pages:
        return out
    limit = opts.max_member_pages
    slugs = sorted(members)[: int(limit)] if limit is not None else sorted(members)
    failed = 0
    for i, slug in enumerate(slugs, 1):
        try:
            out.append(ctx.fetcher.get(members[slug], src, name=f"member-{_file_slug(slug)}"))
        except FetchError:
            failed += 1  # optional: the category of this member stays NULL
        ctx.report("eurocities member pages", i, len(slugs))
    return out


def _file_slug(value: str) -> str:
    return normalise.slug(value)[:60] or "member"


def member_links(html: str, base: str) -> list[tuple[str, str]]:
    """(slug, absolute URL) of every member link of a directory page."""
    soup = BeautifulSoup(html, "lxml")
    out = {}
    for a in soup.find_all("a", href=True):
        slug = _member_slug(a["href"])
        if slug and slug not in out:
            out[slug] = urljoin(base, a["href"])
    return list(out.items())


def page_links(html: str, base: str) -> list[str]:
    """Further pages of a paged directory (/cities/page/2/ ...)."""
    soup = BeautifulSoup(html, "lxml")
    return sorted({urljoin(base, a["href"]).split("#")[0] for a in soup.find_all("a", href=True) if _PAGE_HREF.match(a["href"])})


def _member_slug(href: str) -> str | None:
    m = _MEMBER_HREF.match(href.strip())
    if not m or _PAGE_HREF.match(href.strip()):
        return None
    slug = m.group(1).lower()
    return None if slug in _NOT_MEMBER_SLUGS else slug


# --------------------------------------------------------------------------------------------------- parse


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    members: list[dict] = []  # name, country_source, category, slug, ref (in directory order)
    categories: dict[str, str | None] = {}  # slug -> category from its member page
    wikidata: list[dict] = []
    rejects: list[Reject] = []
    empty_pages: list[str] = []
    for landed in files:
        for member, data in _contents(landed, archive.Limits.of(ctx.config, ctx.source)):
            ref = f"{landed.path.name}!{member}" if member != landed.path.name else landed.path.name
            if member == landed.path.name and not data.strip():
                raise StructureChanged(f"eurocities: the directory page {ref} is empty ({len(data)} bytes)"
                                       + (f" as fetched from {landed.origin}" if "://" in landed.origin else ""))
            kind = _kind(member, data)
            if kind == "json":
                wikidata.extend(_wikidata(data, ref))
            elif kind == "html":
                text = data.decode("utf-8", errors="replace")
                page_url = landed.origin if member == landed.path.name and "://" in landed.origin else None
                _parse_html(text, page_url, ref, members, categories, empty_pages)
            elif _is_text_copy(data):
                _parse_text(data, ref, members, rejects)
            elif member == landed.path.name:
                raise StructureChanged(f"eurocities: {ref} is neither a directory page nor the text copy of the directory "
                                       "(name / country line pairs)")
            # else: another file of a folder or zip (README, a statement's signatories): not the directory
    if not members and not rejects:
        if empty_pages:
            raise StructureChanged(
                f"eurocities: the member list is empty in the static page ({', '.join(empty_pages[:3])}); "
                "the site may now fill it with JavaScript — no member links to /cities/<slug>/ were found"
            )
        raise StructureChanged("eurocities: no members found in the landed files (neither a directory page nor the text copy)")
    orgs, memberships = _tables(members, categories, wikidata, _lau_index(ctx))
    return Parsed(tables={"organisations": orgs, "network_memberships": memberships}, rejects=rejects)


def _contents(landed: Landed, limits: archive.Limits | None = None):
    k = archive.kind(landed.path)
    if k == "file":
        yield landed.path.name, landed.path.read_bytes()
    else:
        yield from archive.iter_members(landed.path, lambda n: not PurePosixPath(n).name.startswith("."), limits=limits)


def _kind(member: str, data: bytes) -> str:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"{") or head.startswith(b"["):
        return "json"
    if head.startswith(b"<") or b"<html" in head or member.lower().endswith((".html", ".htm")):
        return "html"
    return "text"


def _is_text_copy(data: bytes) -> bool:
    """Name / country line pairs: most second lines are country names."""
    lines = [ln.strip() for ln in data.decode("utf-8-sig", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    countries = lines[1::2]
    return bool(countries) and sum(1 for c in countries if country_code(c)) >= 0.5 * len(countries)


def _parse_text(data: bytes, ref: str, members: list[dict], rejects: list[Reject]) -> None:
    """The text copy: '#' comment lines, then name / country line pairs (blank lines ignored)."""
    lines = [(i, ln.strip()) for i, ln in enumerate(data.decode("utf-8-sig", errors="replace").splitlines(), 1)]
    lines = [(i, ln) for i, ln in lines if ln and not ln.startswith("#")]
    for j in range(0, len(lines), 2):
        line, name = lines[j]
        if j + 1 >= len(lines):
            rejects.append(Reject("organisations", _key(name, None), f"{ref}:{line}", "missing_country", name, "country"))
            continue
        members.append({"name": name, "country_source": lines[j + 1][1], "category": None, "slug": None,
                        "ref": f"{ref}:{line}"})  # fmt: skip


def _parse_html(text: str, page_url: str | None, ref: str, members: list[dict], categories: dict, empty_pages: list) -> None:
    soup = BeautifulSoup(text, "lxml")
    url = page_url or _canonical(soup)
    slug = _member_slug(urlsplit(url).path) if url else None
    if slug:  # a member's own page
        categories[slug] = _page_category(soup)
        return
    cards = _cards(soup, url)
    if cards:
        for c in cards:
            c["ref"] = f"{ref}#{c['slug']}"
            members.append(c)
    elif url is None and _page_category(soup) is not None:
        pass  # a member page without a known address: its category cannot be attached to a member
    elif url is None or _is_directory_url(url):
        empty_pages.append(ref)


def _is_directory_url(url: str | None) -> bool:
    return bool(url) and (urlsplit(url).path.rstrip("/").endswith("/cities") or bool(_PAGE_HREF.match(urlsplit(url).path)))


def _canonical(soup) -> str | None:
    for sel in ('link[rel="canonical"]', 'meta[property="og:url"]'):
        el = soup.select_one(sel)
        if el and (el.get("href") or el.get("content")):
            return el.get("href") or el.get("content")
    return None


def _cards(soup, base: str | None) -> list[dict]:
    """One dict per member card: any <a href="/cities/<slug>/"> with the name; the country nearby."""
    root = soup.find("main") or soup.body or soup
    if not any(_member_slug(a["href"]) for a in root.find_all("a", href=True)):
        root = soup.body or soup
    by_slug: dict[str, dict] = {}
    for a in root.find_all("a", href=True):
        slug = _member_slug(a["href"])
        if not slug:
            continue
        card = _card_of(a, slug)
        name = _card_name(a, card)
        country = _card_country(card, a, name)
        category = _card_category(card)
        found = by_slug.get(slug)
        if found is None:
            by_slug[slug] = {"name": name, "country_source": country, "category": category, "slug": slug,
                             "url": urljoin(base, a["href"]) if base else a["href"]}
        else:  # a second link of the same member (image + title): fill what is missing
            for k, v in (("name", name), ("country_source", country), ("category", category)):
                if not found[k] and v:
                    found[k] = v
    return [c for c in by_slug.values() if c["name"]]


def _card_of(a, slug: str):
    """The largest ancestor of the link that holds links to this member only."""
    card = a
    for parent in a.parents:
        if parent.name in ("body", "html", "[document]", "main"):
            break
        slugs = {_member_slug(x["href"]) for x in parent.find_all("a", href=True)} - {None}
        if slugs != {slug}:
            break
        card = parent
    return card


def _clean(s: str | None) -> str | None:
    if s is None:
        return None
    s = re.sub(r"[\s\u00a0\u2060\u200b]+", " ", s).strip()
    return s or None


def _card_name(a, card) -> str | None:
    for el in [*a.find_all(["h1", "h2", "h3", "h4", "h5"]), *card.find_all(["h1", "h2", "h3", "h4", "h5"])]:
        if t := _clean(el.get_text(" ")):
            return t
    for el in card.find_all(class_=re.compile(r"(title|name)", re.I)):
        if t := _clean(el.get_text(" ")):
            return t
    return _clean(a.get_text(" ")) or _clean(a.get("title")) or _clean(a.get("aria-label"))


def _card_country(card, a, name: str | None) -> str | None:
    for el in (card, a):
        if el.get("data-country"):
            return _clean(el["data-country"])
    for el in card.find_all(attrs={"data-country": True}):
        return _clean(el["data-country"])
    for el in card.find_all(class_=re.compile(r"country", re.I)):
        if t := _clean(el.get_text(" ")):
            return t
    rest = [_clean(s) for s in card.stripped_strings]
    rest = [s for s in rest if s and s != name]
    for s in rest:
        if country_code(s):
            return s
    return rest[0] if rest else None


def _card_category(card) -> str | None:
    for el in card.find_all(class_=re.compile(r"(categor|member-?type|membership)", re.I)):
        if t := _clean(el.get_text(" ")):
            return normalise_category(t)
    return None


def _page_category(soup) -> str | None:
    """The membership category on a member's page, or None when the page does not say."""
    root = soup.find("main") or soup.body or soup
    # 1. an element marked as the membership / category
    for el in root.find_all(class_=re.compile(r"(categor|member-?type|membership|member-?status)", re.I)):
        t = _clean(el.get_text(" "))
        if t and (m := _CATEGORY_LABEL.match(t)) and m.group(1):
            t = m.group(1)
        if t and (cat := normalise_category(t)) in CATEGORIES:
            return cat
    # 2. a label ('Membership', 'Member type', 'Category') followed by the value
    for s in root.find_all(string=_CATEGORY_LABEL):
        m = _CATEGORY_LABEL.match(str(s))
        value = _clean(m.group(1)) if m else None
        if not value:
            nxt = s.parent.find_next_sibling() if s.parent is not None else None
            value = _clean(nxt.get_text(" ")) if nxt is not None else None
        if value:
            return normalise_category(value)
    # 3. one category phrase in the page's text
    found = {normalise_category(m.group(1)) for m in _CATEGORY_IN_TEXT.finditer(root.get_text(" "))}
    return found.pop() if len(found) == 1 else None


CATEGORIES = ("full member", "associate member", "partner", "associated business partner")


def normalise_category(value: str | None) -> str | None:
    """'Full member' / 'Full members' -> 'full member' ...; an unknown wording stays (lower case) for the contract."""
    v = _clean(value)
    if not v:
        return None
    low = anyascii(v).lower()
    for pat, cat in _CATEGORY_PATTERNS:
        if pat.search(low):
            return cat
    return low


def _wikidata(data: bytes, ref: str) -> list[dict]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StructureChanged(f"eurocities: {ref} looks like the Wikidata mapping but is not JSON ({exc})") from None
    rows = doc.get("members", []) if isinstance(doc, dict) else doc
    return [r for r in rows if isinstance(r, dict) and r.get("name_on_website") and r.get("wikidata_id")]


# --------------------------------------------------------------------------------------------------- tables


def country_code(value: str | None) -> str | None:
    """Lower-case English country name (as the site writes it) -> ISO 3166 alpha-2, None if unknown.

    Two or three letters are no name here ('no', 'de' in a card's text); the names pycountry lacks are in
    reference/country_names.csv."""
    return normalise.country(_clean(value), codes=False)


def _key(name: str | None, country: str | None) -> str:
    return f"{country or '?'}:{normalise.name_key(name).lower().replace(' ', '-')}"


def org_type_and_city(name: str) -> tuple[str, str | None]:
    """'Lyon Metropole' -> ('metropolitan authority', 'Lyon'); 'Gdansk' -> ('city', 'Gdansk')."""
    known = KNOWN_BODIES.get(normalise.name_key(name))
    if known:
        return known
    base = _QUALIFIER.sub("", name).strip()  # 'Mariupol (city government in exile)' -> 'Mariupol'
    if _METRO_WORDS.search(anyascii(base)):
        core = _METRO_WORDS.sub(" ", anyascii(base))
        # 'Angers Loire Metropole' -> 'Angers', 'Grenoble Alpes Metropole' -> 'Grenoble'
        core = re.sub(r"\s+(?:loire|alpes)\s*$", "", core.strip(), flags=re.I).strip(" -")
        return "metropolitan authority", (core.strip() or None)
    return "city", base


def _lau_index(ctx: SourceContext) -> dict[tuple[str, str], tuple[str, str]]:
    """(country, folded municipality name) -> (NUTS3 2016, LAU code) of the most populous municipality of
    that name, from the configured Eurostat LAU table (the Baltic Sea countries).  Members are cities of
    50 000+ inhabitants, so 'Hagen' is Hagen (DEA58), not the village of Hagen near Hamburg."""
    path = getattr(ctx.config, "lau", None)
    if path is None or not path.exists():
        return {}
    st = path.stat()
    return _lau_table(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=2)
def _lau_table(path: str, mtime_ns: int, size: int) -> dict[tuple[str, str], tuple[str, str]]:
    """The index of `_lau_index`, read once per version of the file (a second of pandas; the caller only reads it)."""
    cols = ["code_2016", "lau_code", "lau_name_national", "lau_name_latin", "population", "country"]
    lau = pd.read_csv(path, dtype=str, usecols=cols, keep_default_na=False)
    lau["pop"] = pd.to_numeric(lau["population"], errors="coerce").fillna(0)
    out: dict[tuple[str, str], tuple[str, str, float]] = {}
    for r in lau.itertuples(index=False):
        for name in {r.lau_name_national, r.lau_name_latin}:
            key = (r.country, norm_place(name))
            if key[1] and (key not in out or r.pop > out[key][2]):
                out[key] = (r.code_2016, r.lau_code, r.pop)
    return {k: v[:2] for k, v in out.items()}


def _lau_of(lau: dict, country: str | None, city: str | None) -> tuple[str | None, str | None]:
    if not country or not city:
        return None, None
    name = norm_place(city)
    hit = lau.get((country, name))
    if hit is None and country == "DE":  # the site writes 'Muenster' for Münster
        hit = lau.get((country, name.replace("UE", "U").replace("OE", "O").replace("AE", "A")))
    return hit or (None, None)


def _tables(members: list[dict], categories: dict, wikidata: list[dict], lau: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_name_country: dict[tuple[str, str | None], str] = {}
    by_name: dict[str, set[str]] = {}
    for w in wikidata:
        cc = country_code(w.get("country_name"))
        by_name_country.setdefault((normalise.name_key(w["name_on_website"]), cc), w["wikidata_id"])
        by_name.setdefault(normalise.name_key(w["name_on_website"]), set()).add(w["wikidata_id"])
    orgs, mems = [], []
    for m in members:
        name = _clean(m["name"])
        cc = country_code(m["country_source"])
        key = _key(name, cc or normalise.name_key(m["country_source"]).lower() or None)
        country = cc or m["country_source"]  # an unknown name stays as written: the contract quarantines it
        org_type, city = org_type_and_city(name)
        folded = normalise.name_key(name)
        qid = by_name_country.get((folded, cc))
        if qid is None and len(by_name.get(folded, ())) == 1:
            qid = next(iter(by_name[folded]))
        category = categories.get(m["slug"]) if m.get("slug") in categories else None
        category = category or m.get("category")
        nuts3, lau_code = _lau_of(lau, cc, city)
        orgs.append((key, m["ref"], key, name, org_type, "public" if org_type != "city network" else None, city, country,
                     m["country_source"], nuts3, lau_code, None, qid, m.get("url")))  # fmt: skip
        mems.append((key, m["ref"], NETWORK, key, name, country, m["country_source"], category, None))
    return (
        pd.DataFrame(orgs, columns=ORGANISATION_COLUMNS, dtype=object),
        pd.DataFrame(mems, columns=MEMBERSHIP_COLUMNS, dtype=object),
    )
