"""Cluster registries: ECCP cluster profiles and national registries published as CSV or XLSX.

No real cluster data could be obtained for this project (../shared/data/clusters/PROVENANCE.md); what the
pages look like is in STRUCTURE.md there.  Two kinds of input, one staged table (`organisations`,
org_type 'cluster'):

- ECCP (clustercollaboration.eu, Drupal): fetch reads the sitemap (`sitemap_url`; leading junk such as
  THEME DEBUG comments before `<?xml` is skipped; the placeholder host `http://default/` of its `<loc>`
  values is rewritten to `eccp_base_url`), keeps `/content/<slug>` URLs (at most `max_profiles`) and lands
  each profile politely.  parse reads per profile the node id (`<article data-history-node-id>`: the stable
  key, org_id 'eccp:<id>'), the name (page title without the site suffix), the address block and the
  labelled fields (members, label, sectors, establishment date); THEME DEBUG comments are dropped first.
  A profile without node id or title is rejected; when no profile (or far fewer than `min_parsed_share` of
  them) parses, the page structure has changed: StructureChanged, and the last good data stays.
- Tabular registries (`[[sources.clusters.registries]]`: name, url, format csv|xlsx, country, columns =
  {field = "header in the file"}): fetch downloads each one with a url; parse maps the columns (a mapped
  column missing from the file is a StructureChanged naming it).  org_id '<registry>:<normalised name>'.
  A CSV/XLSX landed from --input or --sample is read with the registry whose mapped headers it has.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from bs4 import BeautifulSoup, Comment
from lxml import etree

from ... import csvtext, normalise
from ...http import FetchError
from ...types import Landed, Parsed, Reject, SourceContext, StructureChanged
from .options import ECCP_BASE, PROFILE_TYPES

log = logging.getLogger(__name__)

TITLE_SUFFIX = re.compile(r"\s*\|\s*European Cluster Collaboration Platform\s*$", re.I)
SITEMAP_NAME = "sitemap"
PROFILE_PREFIX = "eccp-"
REGISTRY_PREFIX = "registry-"

COLUMNS = [
    "record_key", "record_ref", "org_id", "name", "short_name", "org_type", "street", "post_code", "city",
    "region", "country", "country_source", "nuts3", "website", "sectors", "technology_fields",
    "members_total", "members_sme", "members_large", "members_research", "members_startups", "label",
    "label_source", "label_text", "established", "coordinator", "source_registry", "source_url",
]  # fmt: skip
MEMBER_FIELDS = ("members_total", "members_sme", "members_large", "members_research", "members_startups")
REGISTRY_FIELDS = {
    "name", "short_name", "street", "post_code", "city", "region", "country", "nuts3", "website", "sectors",
    "members_total", "members_sme", "members_large", "members_research", "label", "label_source",
    "established", "coordinator",
}  # fmt: skip

# ECCP field labels (normalised: lower case, single spaces, no trailing colon) -> column; first prefix wins
PROFILE_LABELS = [
    ("total number of members", "members_total"),
    ("number of sme members", "members_sme"),
    ("number of start-ups", "members_startups"),
    ("number of startups", "members_startups"),
    ("number of larger company members", "members_large"),
    ("number of large company members", "members_large"),
    ("number of large companies", "members_large"),
    ("number of research", "members_research"),
    ("cluster excellence label", "label_text"),
    ("cluster management excellence label", "label_text"),
    ("date the cluster organisation was established", "established"),
    ("date of establishment", "established"),
    ("year of establishment", "established"),
    ("established", "established"),
    ("industrial ecosystems", "sectors"),
    ("sectoral industries", "sectors"),
    ("sectors", "sectors"),
    ("technology fields", "technology_fields"),
    ("website", "website"),
    ("web site", "website"),
    ("city", "city"),
    ("region", "region"),
    ("country", "country"),
]
ADDRESS_CLASSES = {"address-line1": "street", "postal-code": "post_code", "locality": "city",
                   "administrative-area": "region", "country": "country"}  # fmt: skip

NONE_VALUES = {"", "-", "–", "—", "n/a", "na", "none", "not available", "unknown"}
MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], 1)}  # fmt: skip


# --------------------------------------------------------------------------------------------------- fetch


def fetch(ctx: SourceContext) -> list[Landed]:
    """Land the ECCP sitemap and profiles, and every configured registry that has a url."""
    if ctx.fetcher is None:
        raise RuntimeError("clusters.fetch needs an HTTP fetcher")
    opts = ctx.source.options
    out: list[Landed] = []
    for reg in opts.registries:
        if reg.url and reg.enabled:
            out.append(ctx.fetcher.download(reg.url, source=ctx.source.name, name=REGISTRY_PREFIX + _slug(reg.name)))
    if opts.sitemap_url and opts.eccp:
        out.extend(_fetch_eccp(ctx, opts))
    return out


def _fetch_eccp(ctx: SourceContext, opts) -> list[Landed]:
    base = opts.eccp_base_url
    limit = opts.max_profiles or None
    landed: list[Landed] = []
    urls: list[str] = []
    todo, seen = [opts.sitemap_url], set()
    while todo and len(seen) < 50:  # a sitemap index points to more sitemaps (?page=2 ...)
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        sm = ctx.fetcher.get(url, ctx.source.name, name=f"{SITEMAP_NAME}-{len(seen)}")
        landed.append(sm)
        locs, children = sitemap_locs(sm.path.read_bytes(), url)
        todo.extend(rewrite_default_host(c, base) for c in children)
        urls.extend(rewrite_default_host(u, base) for u in locs)
    profiles = list(dict.fromkeys(u for u in urls if is_profile_url(u)))
    if not profiles:
        raise StructureChanged(f"ECCP sitemap {opts.sitemap_url}: no /content/<slug> URL among {len(urls)} <loc> values")
    profiles = profiles[:limit]
    failed: list[str] = []
    for i, url in enumerate(profiles, 1):
        try:
            landed.append(ctx.fetcher.get(url, ctx.source.name, name=PROFILE_PREFIX + _slug(urlsplit(url).path.rsplit("/", 1)[-1])))
        except FetchError as exc:  # a page gone (404) or disallowed by robots.txt: the others still load
            log.warning("clusters: %s", exc)
            failed.append(f"{url}: {exc}")
        ctx.report("clusters eccp profiles", i, len(profiles))
    max_failed = opts.max_failed_share
    if failed and len(failed) > max_failed * len(profiles):
        raise StructureChanged(
            f"ECCP: {len(failed)} of {len(profiles)} profile pages could not be fetched "
            f"(> {max_failed:.0%}); first: {failed[0]}"
        )
    return landed


def sitemap_locs(data: bytes, where: str = "sitemap") -> tuple[list[str], list[str]]:
    """-> (page URLs of a <urlset>, sitemap URLs of a <sitemapindex>).  Leading junk before the XML is skipped."""
    start = _xml_start(data)
    if start is None:
        raise StructureChanged(f"{where}: not a sitemap (no <?xml, <urlset or <sitemapindex>): {data[:120]!r}")
    try:
        root = etree.fromstring(data[start:], etree.XMLParser(recover=True, resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise StructureChanged(f"{where}: sitemap is not XML ({exc})") from None
    if root is None:
        raise StructureChanged(f"{where}: sitemap is empty")
    tag = etree.QName(root).localname
    locs = [(e.text or "").strip() for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "loc"]
    locs = [u for u in locs if u]
    if tag == "sitemapindex":
        return [], locs
    if tag != "urlset":
        raise StructureChanged(f"{where}: root element <{tag}>, not <urlset> or <sitemapindex>")
    return locs, []


def _xml_start(data: bytes) -> int | None:
    positions = [p for p in (data.find(b"<?xml"), data.find(b"<urlset"), data.find(b"<sitemapindex")) if p >= 0]
    return min(positions) if positions else None


def rewrite_default_host(url: str, base: str = ECCP_BASE) -> str:
    """'http://default/content/x' (Drupal's placeholder host) -> '<base>/content/x'; other URLs unchanged."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() != "default":
        return url
    b = urlsplit(base.rstrip("/"))
    return urlunsplit((b.scheme, b.netloc, b.path + parts.path, parts.query, parts.fragment))


def is_profile_url(url: str) -> bool:
    return re.search(r"/content/[^/?#]+/?$", urlsplit(url).path) is not None


def _slug(s: str) -> str:
    return normalise.slug(s)[:80] or "x"


# --------------------------------------------------------------------------------------------------- parse


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    opts = ctx.source.options
    registries = {r.name: r.model_dump() for r in opts.registries}
    rows: list[dict] = []
    rejects: list[Reject] = []
    pages = skipped = 0
    for landed in files:
        kind, reg = _kind(landed, registries)
        if kind == "sitemap":
            continue
        if kind == "registry":
            rows.extend(_parse_registry(landed, reg or _registry_for(landed, registries), rejects))
        elif kind == "profile":
            pages += 1
            row = parse_profile(landed.path.read_bytes(), landed.path.name, rejects, tuple(opts.profile_node_types))
            if row is None:
                continue
            if row == "skip":
                skipped += 1
                continue
            row["source_url"] = landed.origin if landed.origin.startswith("http") else None
            rows.append(row)
        else:
            raise StructureChanged(f"{landed.path.name}: neither an ECCP profile page, a sitemap, CSV nor XLSX")
    if pages:
        parsed = pages - skipped - sum(1 for r in rejects if r.check.startswith("eccp_"))
        share = opts.min_parsed_share
        considered = pages - skipped
        if considered and parsed < share * considered:
            checks = sorted({r.check for r in rejects if r.check.startswith("eccp_")})
            raise StructureChanged(
                f"ECCP profile pages have changed structure: {parsed} of {considered} pages parsed "
                f"(< {share:.0%}); failing checks: {checks}"
            )
    df = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    df["org_type"] = "cluster"
    return Parsed(tables={"organisations": df}, rejects=rejects)


def _kind(landed: Landed, registries: dict) -> tuple[str, dict | None]:
    name = landed.name or ""
    if name.startswith(SITEMAP_NAME):
        return "sitemap", None
    if name.startswith(PROFILE_PREFIX):
        return "profile", None
    if name.startswith(REGISTRY_PREFIX):
        for reg in registries.values():
            if REGISTRY_PREFIX + _slug(reg["name"]) == name:
                return "registry", reg
    head = landed.path.read_bytes()[:4096]
    if head.startswith(b"PK"):
        return "registry", None
    low = head.lower()
    if b"<urlset" in low or b"<sitemapindex" in low:
        return "sitemap", None
    if b"<html" in low or b"<!doctype html" in low or b"<article" in low:
        return "profile", None
    return "registry", None  # text: a CSV


# ---------------------------------------------------------------------------------------------- ECCP pages


def parse_profile(data: bytes, ref: str, rejects: list[Reject], types: tuple[str, ...] = PROFILE_TYPES):
    """One ECCP profile page -> a row (dict), 'skip' (a node that is no cluster profile) or None (rejected);
    `types`: the Drupal node types that are cluster profiles."""
    soup = BeautifulSoup(data, "lxml")
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()  # Drupal THEME DEBUG comments are everywhere
    title = _text(soup.title) if soup.title else ""
    name = TITLE_SUFFIX.sub("", title).strip()
    article = soup.find("article", attrs={"data-history-node-id": True})
    if article is None:
        seen = title or (_text(soup.body)[:200] if soup.body else "") or data[:200].decode("utf-8", "replace")
        rejects.append(Reject("organisations", None, ref, "eccp_profile_structure: no <article data-history-node-id>", seen))
        return None
    nid = article["data-history-node-id"].strip()
    if not name:
        span = article.select_one(".field--name-title") or soup.select_one("h1")
        name = _text(span) if span else ""
    if not re.fullmatch(r"\d+", nid) or not name:
        check = "eccp_profile_structure: " + ("node id not a number" if name else "no title")
        rejects.append(Reject("organisations", nid or None, ref, check, title or nid or None))
        return None
    classes = " ".join(article.get("class", []))
    m = re.search(r"node--type-([\w-]+)", classes)
    if m and m.group(1) not in types:
        return "skip"
    fields = _labelled_fields(article)
    for cls, col in ADDRESS_CLASSES.items():
        el = article.select_one(f".address .{cls}, [class~={cls}]")
        if el is not None and _text(el) and col not in fields:
            fields[col] = [_text(el)]
    website = fields.get("website_href") or fields.get("website")
    if not website:
        a = article.select_one(".field--name-field-website a[href], .field--name-field-url a[href]")
        website = [a["href"]] if a else None
    label_text = _one(fields.get("label_text"))
    row = {
        "record_key": f"eccp:{nid}", "record_ref": ref, "org_id": f"eccp:{nid}", "name": name,
        "street": _one(fields.get("street")), "post_code": _one(fields.get("post_code")),
        "city": _one(fields.get("city")), "region": _one(fields.get("region")),
        "website": _one(website), "sectors": _list(fields.get("sectors")),
        "technology_fields": _list(fields.get("technology_fields")),
        "label_text": label_text, "label": label_level(label_text), "label_source": label_body(label_text),
        "established": norm_date(_one(fields.get("established"))), "source_registry": "eccp",
    }  # fmt: skip
    for col in MEMBER_FIELDS:
        row[col] = norm_int(_one(fields.get(col)))
    row["country_source"] = _one(fields.get("country"))
    row["country"] = norm_country(row["country_source"])
    return row


def _labelled_fields(article) -> dict[str, list[str]]:
    """Drupal fields (`.field__label` + `.field__item`s), and dt/dd or th/td pairs -> {column: [values]}."""
    out: dict[str, list[str]] = {}
    for lab in article.select(".field__label"):
        col = _label_column(_text(lab))
        if not col or col in out:
            continue
        field = lab.parent
        items = field.select(".field__item") if field is not None else []
        if items:
            values = [_text(i) for i in items]
        else:
            rest = _text(field).removeprefix(_text(lab)).strip() if field is not None else ""
            values = [rest]
        out[col] = [v for v in values if v]
        if col == "website":
            hrefs = [a["href"] for i in items for a in i.select("a[href]")]
            if hrefs:
                out["website_href"] = hrefs
    for key, val in (("dt", "dd"), ("th", "td")):
        for lab in article.find_all(key):
            col = _label_column(_text(lab))
            sib = lab.find_next_sibling(val)
            if col and col not in out and sib is not None:
                items = sib.find_all("li") or [sib]
                out[col] = [v for v in (_text(i) for i in items) if v]
    return out


def _label_column(label: str) -> str | None:
    norm = re.sub(r"\s+", " ", label).strip().rstrip(":").strip().lower()
    for prefix, col in PROFILE_LABELS:
        if norm.startswith(prefix):
            return col
    return None


def _text(el) -> str:
    return re.sub(r"\s+", " ", el.get_text(" ")).strip() if el is not None else ""


def _one(values):
    if not values:
        return None
    v = values[0].strip() if isinstance(values[0], str) else values[0]
    return None if isinstance(v, str) and v.lower() in NONE_VALUES else v


def _list(values) -> str | None:
    vals = list(dict.fromkeys(v.strip() for v in values or [] if v and v.strip()))
    return ";".join(vals) or None


# --------------------------------------------------------------------------------------- value normalising


def norm_int(v):
    """'1,200' / '1 200' / '120' -> '1200'; '' and 'n/a' -> None; anything else stays for the contract."""
    if v is None:
        return None
    s = str(v).strip()
    if s.lower() in NONE_VALUES:
        return None
    t = re.sub(r"(?<=\d)[\s\u00a0\u202f,.'’](?=\d{3}\b)", "", s)
    if re.fullmatch(r"\d+(\.0+)?", t):  # XLSX numbers come as 120.0
        return t.split(".")[0]
    return s


def norm_date(v):
    """'2011' -> '2011-01-01'; '15/03/2011', '15.03.2011', '2011-03-15', '15 March 2011' -> ISO; else unchanged."""
    if v is None:
        return None
    s = str(v).strip()
    if s.lower() in NONE_VALUES:
        return None
    if m := re.fullmatch(r"(\d{4})", s):
        return f"{m[1]}-01-01"
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?", s):
        return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    if m := re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", s):
        return f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    if m := re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", s):
        if m[2].lower() in MONTHS:
            return f"{m[3]}-{MONTHS[m[2].lower()]:02d}-{int(m[1]):02d}"
    if m := re.fullmatch(r"([A-Za-z]+)\s+(\d{4})", s):
        if m[1].lower() in MONTHS:
            return f"{m[2]}-{MONTHS[m[1].lower()]:02d}-01"
    return s


def label_level(text):
    """'Gold Label', 'Cluster Management Excellence Label GOLD', 'silver' -> gold|silver|bronze; else None."""
    if not text:
        return None
    m = re.search(r"\b(gold|silver|bronze)\b", text, re.I)
    return m[1].lower() if m else None


def label_body(text):
    if not text:
        return None
    m = re.search(r"\b(ESCA|EUCLES)\b", text, re.I)
    return m[1].upper() if m else None


def norm_country(v):
    """'DE', 'Germany', 'Deutschland', 'UK' -> ISO 3166 alpha-2; unknown values stay for the contract."""
    if v is None:
        return None
    return normalise.country(v) or str(v).strip() or None


def norm_name(name: str) -> str:
    return normalise.slug(name)


# ------------------------------------------------------------------------------------- tabular registries


def _registry_for(landed: Landed, registries: dict) -> dict:
    """The configured registry whose mapped headers this (--input / --sample) file has."""
    if not registries:
        raise StructureChanged(f"{landed.path.name}: a table, but no [[sources.clusters.registries]] mapping is configured")
    table, _ = _read_table(landed, None)
    problems = []
    for reg in registries.values():
        try:
            _header_row(table, reg, landed.path.name)
            return reg
        except StructureChanged as exc:
            problems.append(str(exc))
    raise StructureChanged("no configured registry mapping fits: " + " | ".join(problems))


def _read_table(landed: Landed, reg: dict | None) -> tuple[list[tuple[str, list[str]]], str]:
    """-> ([(record_ref, cells)], format).  XLSX: first sheet (or reg['sheet']); CSV: sniffed delimiter."""
    data = landed.path.read_bytes()
    fmt = (reg or {}).get("format") or ("xlsx" if data[:2] == b"PK" else "csv")
    name = landed.path.name
    if fmt == "xlsx":
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise StructureChanged(f"{name}: configured as xlsx but not an XLSX (zip) file: {data[:60]!r}")
        import openpyxl

        # read_only=False: sheets declaring <dimension ref="A1"/> would yield only A1 in read-only mode
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=True)
        ws = wb[reg["sheet"]] if reg and reg.get("sheet") else wb.worksheets[0]
        rows = []
        for i, r in enumerate(ws.iter_rows(values_only=True), 1):
            rows.append((f"{name}!{ws.title}:{i}", ["" if c is None else _cell(c) for c in r]))
        wb.close()
        return rows, fmt
    enc = (reg or {}).get("encoding")
    text = None
    for e in ([enc] if enc else ["utf-8-sig", "cp1250"]):
        try:
            text = data.decode(e)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise StructureChanged(f"{name}: not decodable as {enc}")
    delim = (reg or {}).get("delimiter")
    if not delim:
        head = "\n".join(text.split("\n", 20)[:20])  # title lines above the header may hold none
        delim = max([";", ",", "\t"], key=head.count)
    reader = csvtext.reader(text, delim)
    rows, line = [], 1
    try:
        for cells in reader:
            rows.append((f"{name}:{line}", cells))
            line = reader.line_num + 1
    except csv.Error as exc:  # a quote never closed: a field past the csv module's size limit
        raise StructureChanged(f"{name}: not a readable CSV from line {line}: {exc}") from None
    return rows, fmt


def _cell(c) -> str:
    if isinstance(c, float) and c.is_integer():
        return str(int(c))
    if hasattr(c, "date") and hasattr(c, "isoformat"):
        return c.date().isoformat() if hasattr(c, "hour") else c.isoformat()
    return str(c)


def _header_row(rows, reg: dict, fname: str) -> tuple[int, dict[str, int]]:
    """Find the header row (within the first 20) holding every mapped column -> (row index, field -> position)."""
    mapping = dict(reg.get("columns", {}))
    if "name" not in mapping:
        raise StructureChanged(f"registry {reg.get('name')}: its columns mapping has no 'name'")
    unknown = set(mapping) - REGISTRY_FIELDS
    if unknown:
        raise StructureChanged(f"registry {reg.get('name')}: unknown fields in columns mapping: {sorted(unknown)}")
    best_missing = None
    for i, (_, cells) in enumerate(rows[:20]):
        header = [_hnorm(c) for c in cells]
        missing = [h for h in mapping.values() if _hnorm(h) not in header]
        if not missing:
            return i, {f: header.index(_hnorm(h)) for f, h in mapping.items()}
        if best_missing is None or len(missing) < len(best_missing[0]):
            best_missing = (missing, cells)
    missing, cells = best_missing or (list(mapping.values()), [])
    raise StructureChanged(
        f"{fname}: registry {reg.get('name')!r}: column{'s' if len(missing) > 1 else ''} "
        f"{', '.join(repr(m) for m in missing)} missing; header: {[c for c in cells if c][:12]}"
    )


def _hnorm(h) -> str:
    return re.sub(r"\s+", " ", str(h or "")).strip().lower()


def _parse_registry(landed: Landed, reg: dict, rejects: list[Reject]) -> list[dict]:
    rows, _ = _read_table(landed, reg)
    hi, pos = _header_row(rows, reg, landed.path.name)
    rname = reg["name"]
    out = []
    for ref, cells in rows[hi + 1 :]:
        if not any(str(c).strip() for c in cells):
            continue  # blank line
        g = {f: (cells[p].strip() if p < len(cells) and isinstance(cells[p], str) else None) for f, p in pos.items()}
        g = {f: (v or None) for f, v in g.items()}
        if not g.get("name"):
            rejects.append(Reject("organisations", None, ref, "registry_row_without_name", " | ".join(map(str, cells))[:1000], "name"))
            continue
        oid = f"{_slug(rname)}:{norm_name(g['name'])}"
        country_source = g.get("country") or reg.get("country")
        label_text = g.get("label")
        row = {
            "record_key": oid, "record_ref": ref, "org_id": oid, "name": g["name"],
            "short_name": g.get("short_name"), "street": g.get("street"), "post_code": g.get("post_code"),
            "city": g.get("city"), "region": g.get("region"), "country_source": country_source,
            "country": norm_country(country_source), "nuts3": (g.get("nuts3") or "").upper() or None,
            "website": g.get("website"), "sectors": _list(re.split(r"\s*[;|\n]\s*", g["sectors"])) if g.get("sectors") else None,
            "label_text": label_text, "label": label_level(label_text),
            "label_source": (g.get("label_source") or "").upper() or label_body(label_text),
            "established": norm_date(g.get("established")), "coordinator": g.get("coordinator"),
            "source_registry": rname, "source_url": reg.get("url"),
        }  # fmt: skip
        for col in MEMBER_FIELDS:
            row[col] = norm_int(g.get(col))
        out.append(row)
    return out

