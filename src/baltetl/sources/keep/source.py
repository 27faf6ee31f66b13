"""keep.eu: Interreg (and ENI / IPA CBC) projects and their partners.

Inputs (see ../shared/data/keep/STRUCTURE.md), told apart by their content, not their origin:
- the keep.eu partner export (`;` CSV: multi-line quoted fields, mixed CRLF/LF; columns `Programme`,
  `Acronym`, `Project Partner`, `Lead Partner`, ... `NUTS3 (or equivalent)`), and the same layout as XLSX
  (keep.eu's search export: sheet `Search results, partners`, else the 3rd sheet);
- the thesis-processed 2000-2020 file (`,` CSV, usually gzipped, R-mangled names `Project.Partner`, ...,
  plus `Join`, `ID_PARTICIPATION`, `ID_PARTNER`; periods sometimes written `2007 – 2013`);
- the JSON of keep.eu's own front end: `/api/project/<keepId>/` (a project with its partnerships) and
  `/api/search/projects/?page=N` (the paginated index).
A landed file may be one of these, a .gz of one, or a zip / folder of several (the bundled sample).

Keys
- project: the keep id when the input has it (API); else `<period>-<slug of acronym>-<hash>`, the hash over
  the normalised programme (en dashes -> '-', spaces collapsed, case folded) and acronym, since the exports
  have no id and acronyms repeat across programmes.  A project met in several inputs of one parse is taken
  from one only (API > export > processed file); the other input's rows go to quarantine
  (`project_in_other_input`), so no row disappears and no partner is counted twice.
- organisation: `<ISO country>-<hash>` over the normalised name (ASCII, upper case, punctuation removed),
  the ISO country and the normalised postcode (country prefix, spaces and dashes removed), or the
  normalised town when the postcode is empty.  The same partner written with `LV-1539` and `LV–1539` is one
  organisation; the same name at another address is another.  One row per organisation: the version of its
  most recent programme period.
- participation: `<project_id>/<org_id>` (a partner appears once per project); role coordinator for
  `Lead Partner` = Yes (API type `lead`), participant otherwise; ord = row order within the project.

Normalisation (the raw values stay in extra columns): country from the ISO prefix of `Country code`
(`UK` -> GB, `EL` -> GR; the code as written in country_source; when the prefix is empty, as in
`RS  / Serbia`, from the English name), NUTS3 from `LV006  / Rīga` (older NUTS versions kept: the warehouse
knows them), postcodes with en dashes -> '-', country prefixes stripped (`LV–1539` -> `1539`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pandas as pd

from ... import archive, normalise
from ...http import FetchError
from ...types import Landed, Parsed, Reject, SourceContext, StructureChanged

TABLES = ("projects", "organisations", "participations")  # parents first: schemas/keep.py PARENTS

PROJECT_COLUMNS = [
    "record_key", "record_ref", "project_id", "keep_id", "acronym", "title", "status", "start_date",
    "end_date", "total_cost", "eu_funding", "framework_programme", "programme", "period", "topics", "objective",
    "url", "input_kind", "partners",
]  # fmt: skip
PARTICIPATION_COLUMNS = [
    "record_key", "record_ref", "project_id", "org_id", "role", "ord", "total_cost", "lead_partner",
    "city", "post_code", "post_code_source", "country", "country_source", "nuts3", "nuts_raw", "department",
    "website_source", "source_partner_id",
]  # fmt: skip
ORGANISATION_COLUMNS = [
    "record_key", "record_ref", "org_id", "name", "name_en", "org_type", "legal_status", "street",
    "post_code", "post_code_source", "city", "country", "country_source", "country_name", "nuts3",
    "nuts_raw", "website", "pic", "participations",
]  # fmt: skip

MAX_ACRONYM = 200  # the core contract's limit; longer "acronyms" are titles
KIND_PRIORITY = {"api": 0, "export": 1, "processed": 2}
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
_PERIOD = re.compile(r"^\s*(\d{4})\s*-\s*(\d{4})\s+")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_API_PROJECT = re.compile(r"/api/project/(\d+)/?")

# the partner export's columns -> ours; the processed file's R-mangled names map to the same
EXPORT_COLUMNS = {
    "Programme": "programme", "Acronym": "acronym", "Project Partner": "partner", "Lead Partner": "lead",
    "Street": "street", "Postal code": "postcode", "Town": "town", "Country": "country_name",
    "Website": "website", "Department": "department", "Legal Status": "legal_status",
    "Country code": "country_code", "NUTS1 (or equivalent)": "nuts1", "NUTS2 (or equivalent)": "nuts2",
    "NUTS3 (or equivalent)": "nuts3",
}  # fmt: skip
PROCESSED_COLUMNS = {re.sub(r"[^A-Za-z0-9]", ".", k): v for k, v in EXPORT_COLUMNS.items()} | {
    "ID_PARTNER": "source_partner_id", "ID_PARTICIPATION": "source_participation_id",
}
REQUIRED = ("programme", "acronym", "partner")


# --------------------------------------------------------------------------------------------------- fetch


def fetch(ctx: SourceContext) -> list[Landed]:
    """Land what the configured modes name: `api` (index pages, then every project's JSON) and/or
    `exports` (configured partner export files: [[sources.keep.exports]] name, url)."""
    if ctx.fetcher is None:
        raise RuntimeError("keep.fetch needs an HTTP fetcher")
    opts = ctx.source.options
    modes = opts.get("modes", ["api"])
    unknown = set(modes) - {"api", "exports"}
    if unknown or not modes:
        raise ValueError(f"keep: modes must be a non-empty list of 'api' and/or 'exports', not {modes!r}")
    out: list[Landed] = []
    if "exports" in modes:
        exports = [e for e in opts.get("exports", []) if e.get("enabled", True)]
        if not exports:
            raise ValueError("keep: mode 'exports' but no [[sources.keep.exports]] with a url is configured")
        for e in exports:
            out.append(ctx.fetcher.download(e["url"], source=ctx.source.name, name=e["name"]))
    if "api" in modes:
        out.extend(_fetch_api(ctx))
    return out


def _fetch_api(ctx: SourceContext) -> list[Landed]:
    opts = ctx.source.options
    base = opts.get("api_base", "https://keep.eu").rstrip("/")
    max_pages = int(opts.get("max_pages", 20))
    src = ctx.source.name
    landed: list[Landed] = []
    ids: list[str] = []
    for page in range(1, max_pages + 1):
        url = f"{base}/api/search/projects/?page={page}"
        try:
            f = ctx.fetcher.get(url, src, name=f"search-projects-page-{page}")
        except FetchError as exc:
            if page > 1 and "HTTP 404" in str(exc):  # past the last page (a paginated API's answer)
                break
            raise
        landed.append(f)
        doc = _load_json(f.path.read_bytes(), url)
        items, has_next = _index_items(doc, url)
        if not items:
            break
        ids.extend(str(i) for i in (_keep_id_of(it) for it in items) if i)
        ctx.report("keep index pages", page, max_pages)
        if has_next is False:
            break
    if landed and not ids:
        raise StructureChanged(f"keep: {len(landed)} index page(s) at {base}/api/search/projects/ held no project ids")
    failed: list[str] = []
    seen = set()
    for n, keep_id in enumerate(ids, 1):
        if keep_id in seen:
            continue
        seen.add(keep_id)
        url = f"{base}/api/project/{keep_id}/"
        try:
            landed.append(ctx.fetcher.get(url, src, name=f"project-{keep_id}"))
        except FetchError as exc:  # one project gone must not lose the others; its index entry remains
            failed.append(f"{keep_id}: {exc}")
        ctx.report("keep projects", n, len(ids))
    if seen and len(failed) == len(seen):
        raise FetchError(f"keep: every project request failed, e.g. {failed[0]}")
    return landed


def _load_json(data: bytes, where: str):
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StructureChanged(f"{where}: not JSON ({exc}); first bytes: {data[:120]!r}") from None


def _index_items(doc, where: str) -> tuple[list[dict], bool | None]:
    """An index page -> (its project entries, whether a next page exists if the page says so)."""
    if isinstance(doc, list):
        return [d for d in doc if isinstance(d, dict)], None
    if isinstance(doc, dict):
        for key in ("results", "projects", "data", "items"):
            if isinstance(doc.get(key), list):
                nxt = doc.get("next") if "next" in doc else None
                return [d for d in doc[key] if isinstance(d, dict)], (None if "next" not in doc else bool(nxt))
    raise StructureChanged(f"{where}: an index page without a list of projects (keys: {_keys(doc)})")


def _keys(doc) -> list:
    return sorted(doc)[:12] if isinstance(doc, dict) else [type(doc).__name__]


def _keep_id_of(item: dict) -> str | None:
    for key in ("id", "keep_id", "pk"):
        v = item.get(key)
        if isinstance(v, (int, str)) and str(v).strip().isdigit():
            return str(v).strip()
    return None


# --------------------------------------------------------------------------------------------------- parse


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    rows: list[dict] = []  # one per partner row read, normalised
    index_entries: list[dict] = []  # projects seen in API index pages
    rejects: list[Reject] = []
    for landed in files:
        limits = archive.Limits.of(ctx.config, ctx.source)
        read = 0
        for member, data in _members(landed, limits):
            ref = landed.path.name if member == landed.path.name else f"{landed.path.name}!{member}"
            _read_member(member, data, ref, landed, rows, index_entries, rejects)
            read += 1
        if not read:  # e.g. a CORDIS archive given to keep: say so, not "0 rows loaded"
            members = archive.names(landed.path, limit=20, limits=limits)
            cordis = " it looks like a CORDIS archive;" if any(m.lower().endswith(".xml") for m in members) else ""
            raise StructureChanged(f"{landed.path.name}: no keep.eu partner CSV/XLSX (or keep.eu JSON) found:{cordis} "
                                   f"members: {members[:5]}")  # fmt: skip
    return _tables(rows, index_entries, rejects)


def _members(landed: Landed, limits: archive.Limits | None = None) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of the inputs in a landed file: itself, its gunzipped content, or its members
    (a zip, tar or folder; an .xlsx is a zip too, but one input)."""
    path = landed.path
    kind = archive.kind(path)
    if kind == "file" or (kind == "zip" and _is_xlsx(path)):
        yield path.name, path.read_bytes()
        return
    if kind == "tar":
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"\x1f\x8b":  # a gzip: a .csv.gz (one input), or a .tar.gz
            data = archive.gunzip(path, path.name, limits)
            if data[257:262] != b"ustar":
                yield path.name.removesuffix(".gz"), data
                return
    want = lambda n: PurePosixPath(n).suffix.lower() in (".csv", ".gz", ".xlsx", ".json", ".txt")  # noqa: E731
    for name, data in archive.iter_members(path, want, limits=limits):
        if PurePosixPath(name).name.startswith((".", "~$")):
            continue
        if data[:2] == b"\x1f\x8b":
            data = archive.gunzip(data, f"{path.name}!{name}", limits)
            name = name.removesuffix(".gz")
        yield name, data


def _is_xlsx(path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def _read_member(member, data, ref, landed, rows, index_entries, rejects) -> None:
    if data[:4] == b"PK\x03\x04":
        _read_xlsx(data, ref, rows, rejects)
        return
    head = data[:2000].lstrip(b"\xef\xbb\xbf \r\n\t")
    if head[:1] in (b"{", b"["):
        doc = _load_json(data, ref)
        if isinstance(doc, dict) and ("partnerships" in doc or "programme" in doc):
            _read_api_project(doc, ref, landed.origin, rows, rejects)
        else:
            items, _ = _index_items(doc, ref)
            for i, it in enumerate(items):
                index_entries.append({**it, "_ref": f"{ref}:{i}"})
        return
    _read_csv(data, ref, rows, rejects)


# -- CSV (export and processed) --------------------------------------------------------------------------


def _read_csv(data: bytes, ref: str, rows: list[dict], rejects: list[Reject]) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StructureChanged(f"{ref}: not UTF-8 ({exc})") from None
    first = text.split("\n", 1)[0]
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise StructureChanged(f"{ref}: empty file") from None
    if "Project Partner" in header:
        colmap, kind = EXPORT_COLUMNS, "export"
    elif "Project.Partner" in header:
        colmap, kind = PROCESSED_COLUMNS, "processed"
    else:
        raise StructureChanged(f"{ref}: not a keep.eu partner export (no 'Project Partner' column); header: {header[:8]}")
    _require(header, colmap, ref)
    line = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejects.append(Reject("participations", None, f"{ref}:{line}", "malformed_csv_row", str(exc)))
            line = reader.line_num + 1
            continue
        rec_ref = f"{ref}:{line}"
        line = reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue  # a blank line is not a row
        if len(fields) != len(header):
            rejects.append(Reject("participations", None, rec_ref, "malformed_csv_row",
                                  f"{len(fields)} fields, {len(header)} expected: " + delim.join(fields)[:1000]))  # fmt: skip
            continue
        _add_row(dict(zip(header, fields)), colmap, kind, rec_ref, rows, rejects)


def _require(header: list[str], colmap: dict, ref: str) -> None:
    have = {colmap[h] for h in header if h in colmap}
    missing = [c for c in REQUIRED + ("lead", "country_code") if c not in have]
    if missing:
        raise StructureChanged(f"{ref}: keep.eu partner columns missing: {missing}; header: {header[:8]}")


def _add_row(raw: dict, colmap: dict, kind: str, ref: str, rows: list[dict], rejects: list[Reject]) -> None:
    r = {colmap[k]: _clean(v) for k, v in raw.items() if k in colmap}
    r["_ref"], r["_kind"] = ref, kind
    missing = [c for c in REQUIRED if not r.get(c)]
    if missing:
        key = f"{r.get('programme')}/{r.get('acronym')}/{r.get('partner')}"
        rejects.append(Reject("participations", key[:200], ref, f"missing_{missing[0]}", json.dumps(raw, ensure_ascii=False)[:1000], missing[0]))
        return
    rows.append(r)


def _clean(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).replace("\r\n", "\n").strip()
    return s or None


# -- XLSX (keep.eu search export) ------------------------------------------------------------------------


def _read_xlsx(data: bytes, ref: str, rows: list[dict], rejects: list[Reject]) -> None:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise StructureChanged(f"{ref}: not a readable XLSX ({type(exc).__name__}: {exc})") from None
    try:
        names = wb.sheetnames
        sheet = next((n for n in names if n.strip().lower() == "search results, partners"), None)
        if sheet is None:
            if len(names) < 3:
                raise StructureChanged(f"{ref}: no sheet 'Search results, partners' and no 3rd sheet; sheets: {names}")
            sheet = names[2]
        header, colmap = None, EXPORT_COLUMNS
        for n, values in enumerate(wb[sheet].iter_rows(values_only=True), 1):
            cells = ["" if v is None else str(v) for v in values]
            if header is None:
                if "Project Partner" in [c.strip() for c in cells]:
                    header = [c.strip() for c in cells]
                    _require(header, colmap, f"{ref}!{sheet}")
                continue
            if not any(c.strip() for c in cells):
                continue
            raw = {h: v for h, v in zip(header, values) if h}
            _add_row(raw, colmap, "export", f"{ref}!{sheet}:{n}", rows, rejects)
        if header is None:
            raise StructureChanged(f"{ref}!{sheet}: no header row with 'Project Partner'")
    finally:
        wb.close()


# -- API JSON ------------------------------------------------------------------------------------------


def _read_api_project(doc: dict, ref: str, origin: str, rows: list[dict], rejects: list[Reject]) -> None:
    keep_id = _keep_id_of(doc)
    if keep_id is None:
        m = _API_PROJECT.search(urlsplit(origin).path) if origin else None
        keep_id = m.group(1) if m else None
    prog = doc.get("programme") if isinstance(doc.get("programme"), dict) else {}
    tr = _translation(doc)
    project = {
        "keep_id": keep_id,
        "programme": _clean(prog.get("title") or prog.get("name")),
        "period": _clean(prog.get("period")),
        "acronym": _clean(doc.get("acronym") or tr.get("acronym")),
        "title": _clean(doc.get("title") or tr.get("title") or tr.get("name_translated")),
        "status": _clean(doc.get("status")),
        "start_date": _clean(doc.get("start_date")),
        "end_date": _clean(doc.get("end_date")),
        "total_cost": normalise.decimal(doc.get("total_budget")),
        "eu_funding": normalise.decimal(doc.get("eu_funding")),
        "topics": _themes(doc.get("themes")),
        "url": f"https://keep.eu/projects/{keep_id}/" if keep_id else None,
    }
    partnerships = doc.get("partnerships")
    if partnerships is None:
        partnerships = []
    if not isinstance(partnerships, list):
        raise StructureChanged(f"{ref}: 'partnerships' is not a list")
    if not partnerships:
        rows.append({"_ref": ref, "_kind": "api", "_project": project, "_no_partner": True,
                     "programme": project["programme"], "acronym": project["acronym"]})  # fmt: skip
        return
    for i, p in enumerate(partnerships):
        pref = f"{ref}:partnerships[{i}]"
        if not isinstance(p, dict):
            rejects.append(Reject("participations", keep_id, pref, "not_an_object", str(p)[:1000]))
            continue
        partner = p.get("partner") if isinstance(p.get("partner"), dict) else {}
        ptr = partner.get("translations") if isinstance(partner.get("translations"), dict) else {}
        en = ptr.get("en") if isinstance(ptr.get("en"), dict) else {}
        country = p.get("country")
        if isinstance(country, dict):
            country = country.get("code") or country.get("iso") or country.get("name")
        typ = (_clean(p.get("type")) or "").lower()
        r = {
            "_ref": pref, "_kind": "api", "_project": project,
            "programme": project["programme"], "acronym": project["acronym"],
            "partner": _clean(partner.get("name") or p.get("name")),
            "name_en": _clean(en.get("name_translated")),
            "lead": "Yes" if typ == "lead" else ("No" if typ else None),
            "api_type": typ or None,
            "street": _clean(p.get("street")), "postcode": _clean(p.get("postcode")),
            "town": _clean(p.get("town")), "department": _clean(p.get("town_department")),
            "country_code": _clean(country), "legal_status": _clean(p.get("legal_status")),
            "org_type": _clean(p.get("organisation_type")), "total_cost": normalise.decimal(p.get("total_budget")),
            "pic": _clean(p.get("pic")),
            "nuts3": _clean(p.get("nuts3") or p.get("nuts_3") or p.get("nuts")),
        }  # fmt: skip
        if not r["partner"]:
            rejects.append(Reject("participations", keep_id, pref, "missing_partner", json.dumps(p, ensure_ascii=False)[:1000], "partner"))
            continue
        rows.append(r)


def _translation(doc: dict) -> dict:
    tr = doc.get("translations")
    if isinstance(tr, dict):
        en = tr.get("en")
        if isinstance(en, dict):
            return en
        for v in tr.values():
            if isinstance(v, dict):
                return v
    if isinstance(tr, list):
        for v in tr:
            if isinstance(v, dict) and v.get("language", v.get("lang", "en")) == "en":
                return v
    return {}


def _themes(v) -> str | None:
    if isinstance(v, list):
        names = [str(t.get("name") or t.get("title") or t.get("id")) if isinstance(t, dict) else str(t) for t in v]
        return ";".join(n for n in names if n and n != "None") or None
    return _clean(v)


# -- normalisation -------------------------------------------------------------------------------------


def norm_programme(programme: str | None) -> str:
    """'2007 – 2013 Baltic Sea Region' -> '2007 - 2013 Baltic Sea Region' (dashes, spaces)."""
    if not programme:
        return ""
    return " ".join(_DASHES.sub("-", programme).split())


def period_of(programme: str | None) -> str | None:
    m = _PERIOD.match(norm_programme(programme))
    return f"{m.group(1)}-{m.group(2)}" if m else None


def project_key(programme: str | None, acronym: str | None) -> str:
    """A stable id from programme + acronym: '2007-2013-baltmet-promo-1a2b3c4d'."""
    prog, acr = norm_programme(programme).casefold(), " ".join((acronym or "").split()).casefold()
    digest = hashlib.sha1(f"{prog}\x1f{acr}".encode()).hexdigest()[:10]
    return "-".join(p for p in (period_of(programme), normalise.slug(acr)[:40].strip("-"), digest) if p)


def org_key(name: str | None, country: str | None, postcode: str | None, town: str | None) -> str:
    place = _NON_ALNUM.sub("", (postcode or "").upper()) or normalise.name_key(town)
    digest = hashlib.sha1(f"{normalise.name_key(name)}\x1f{country or ''}\x1f{place}".encode()).hexdigest()[:14]
    return f"{country or 'XX'}-{digest}"


def country_of(code_field: str | None, country_name: str | None = None, nuts: str | None = None) -> tuple[str | None, str | None]:
    """'LV Latvia / LATVIJA' -> ('LV', 'LV'); 'UK United Kingdom / ...' -> ('GB', 'UK');
    'RS  / Serbia' -> ('RS', 'RS  / Serbia') from the name; 'DE' (API) -> ('DE', 'DE')."""
    raw = (code_field or "").strip()
    m = re.match(r"^([A-Z]{2})(?:\s|$)", raw)
    if m:
        code = m.group(1)
        return normalise.country_code(code), code
    for name in ([raw.split("/", 1)[1]] if "/" in raw else []) + [raw, country_name or ""]:
        iso = normalise.country(name, fuzzy=True)
        if iso:
            return iso, raw or None
    if nuts and re.match(r"^[A-Z]{2}", nuts):
        return normalise.country_code(nuts[:2]), raw or None
    return None, raw or None


def _role(r: dict) -> str | None:
    if r.get("api_type") and r["api_type"] not in ("lead", "partner"):
        return "associatedPartner" if "associat" in r["api_type"] else r["api_type"]
    lead = (r.get("lead") or "").strip().lower()
    return {"yes": "coordinator", "no": "participant"}.get(lead, r.get("lead"))


def _legal(v: str | None) -> str | None:
    s = (v or "").strip().lower()
    return None if s in ("", "n/a", "na", "-") else s


# -- tables --------------------------------------------------------------------------------------------


def _tables(rows: list[dict], index_entries: list[dict], rejects: list[Reject]) -> Parsed:
    # which input each project is taken from: API > export > processed, then the first one read
    chosen: dict[str, tuple[int, str]] = {}
    for r in rows:
        pid = r["_project"]["keep_id"] if r["_kind"] == "api" and r["_project"].get("keep_id") else project_key(r["programme"], r["acronym"])
        r["_pid"] = pid
        r["_input"] = r["_ref"].rsplit(":", 1)[0] if r["_kind"] != "api" else r["_ref"].split(":partnerships", 1)[0]
        cand = (KIND_PRIORITY[r["_kind"]], r["_input"])
        if pid not in chosen or cand < chosen[pid]:
            chosen[pid] = cand
    # an API project is also known by programme + acronym: the exports' rows of it yield to it
    api_alias = {project_key(r["programme"], r["acronym"]): r["_pid"] for r in rows if r["_kind"] == "api" and r.get("acronym")}

    projects: dict[str, dict] = {}
    parts: list[dict] = []
    ords: dict[str, int] = {}
    for r in rows:
        pid = r["_pid"]
        alias = api_alias.get(pid) if r["_kind"] != "api" else None
        if alias or chosen[pid][1] != r["_input"]:
            taken = alias or chosen[pid][1]
            rejects.append(Reject("participations", f"{pid}/{r.get('partner')}"[:200], r["_ref"],
                                  "project_in_other_input", f"project {r.get('programme')} / {r.get('acronym')} taken from {taken}"))  # fmt: skip
            continue
        if pid not in projects:
            projects[pid] = _project_row(pid, r)
        if r.get("_no_partner"):
            continue
        projects[pid]["partners"] += 1
        ords[pid] = ords.get(pid, 0) + 1
        parts.append(_participation(pid, ords[pid], r))
    for it in index_entries:  # projects of the index whose own JSON did not land: the index entry stands
        keep_id = _keep_id_of(it)
        if keep_id is None:
            rejects.append(Reject("projects", None, it["_ref"], "index_entry_without_id", json.dumps(it, ensure_ascii=False, default=str)[:1000]))
            continue
        if keep_id in projects:
            continue
        prog = it.get("programme") if isinstance(it.get("programme"), dict) else {}
        tr = _translation(it)
        proj = {"keep_id": keep_id, "programme": _clean(prog.get("title") or it.get("programme_title")),
                "period": _clean(prog.get("period")), "acronym": _clean(it.get("acronym") or tr.get("acronym")),
                "title": _clean(it.get("title") or tr.get("title")), "status": _clean(it.get("status")),
                "start_date": _clean(it.get("start_date")), "end_date": _clean(it.get("end_date")),
                "total_cost": normalise.decimal(it.get("total_budget")), "eu_funding": normalise.decimal(it.get("eu_funding")),
                "topics": None, "url": f"https://keep.eu/projects/{keep_id}/"}  # fmt: skip
        projects[keep_id] = _project_row(keep_id, {"_ref": it["_ref"], "_kind": "api", "_project": proj, **proj})

    pj = pd.DataFrame(list(projects.values()), columns=PROJECT_COLUMNS, dtype=object)
    pa_ = pd.DataFrame(parts, columns=PARTICIPATION_COLUMNS + ["_name", "_name_en", "_street", "_country_name",
                                                                "_website", "_legal", "_org_type", "_pic", "_period", "_prio"])  # fmt: skip
    orgs = _organisations(pa_)
    return Parsed(
        tables={"projects": pj, "organisations": orgs, "participations": pa_[PARTICIPATION_COLUMNS].copy()},
        rejects=rejects,
    )


def _project_row(pid: str, r: dict) -> dict:
    p = r.get("_project") or {}
    programme = norm_programme(p.get("programme") or r.get("programme")) or None
    acronym, title = p.get("acronym") or r.get("acronym"), p.get("title")
    if acronym and len(acronym.split()) > 5:  # 2000-2013 exports often hold the title in `Acronym`
        title = title or acronym
        acronym = acronym if len(acronym) <= MAX_ACRONYM else None
    return {
        "record_key": pid, "record_ref": r["_ref"], "project_id": pid, "keep_id": p.get("keep_id"),
        "acronym": acronym, "title": title, "status": p.get("status"),
        "start_date": p.get("start_date"), "end_date": p.get("end_date"), "total_cost": p.get("total_cost"),
        "eu_funding": p.get("eu_funding"), "framework_programme": "INTERREG", "programme": programme,
        "period": p.get("period") or period_of(programme), "topics": p.get("topics"),
        "objective": p.get("objective"), "url": p.get("url"),
        "input_kind": r["_kind"], "partners": 0,
    }  # fmt: skip


def _participation(pid: str, ord_: int, r: dict) -> dict:
    iso, csrc = country_of(r.get("country_code"), r.get("country_name"), normalise.nuts3(r.get("nuts3"), sep="/"))
    name = r.get("partner")
    post = normalise.postcode(r.get("postcode"), csrc, iso)
    oid = org_key(name, iso, post, r.get("town"))
    return {
        "record_key": f"{pid}/{oid}", "record_ref": r["_ref"], "project_id": pid, "org_id": oid,
        "role": _role(r), "ord": ord_, "total_cost": r.get("total_cost"), "lead_partner": r.get("lead"),
        "city": r.get("town"), "post_code": post, "post_code_source": r.get("postcode"), "country": iso,
        "country_source": csrc, "nuts3": normalise.nuts3(r.get("nuts3"), sep="/"), "nuts_raw": r.get("nuts3"),
        "department": r.get("department"), "website_source": r.get("website"),
        "source_partner_id": r.get("source_partner_id"),
        "_name": name, "_name_en": r.get("name_en"), "_street": r.get("street"), "_country_name": r.get("country_name"),
        "_website": r.get("website"), "_legal": _legal(r.get("legal_status")), "_org_type": r.get("org_type"),
        "_pic": r.get("pic"), "_period": period_of(r.get("programme")) or "", "_prio": KIND_PRIORITY[r["_kind"]],
    }  # fmt: skip


def _organisations(parts: pd.DataFrame) -> pd.DataFrame:
    """One row per org_id: the version of the most recent programme period (API before exports)."""
    if parts.empty:
        return pd.DataFrame(columns=ORGANISATION_COLUMNS)
    df = parts.reset_index(drop=True).assign(_row=range(len(parts)))
    # a URL given for partners of several projects is the programme's site, not the partner's
    sites = df.dropna(subset=["_website"]).groupby("_website")["project_id"].nunique()
    programme_sites = set(sites[sites > 1].index)
    counts = df.groupby("org_id").size().rename("participations")
    ranked = df.sort_values(["_period", "_prio", "_row"], ascending=[False, True, True])
    o = ranked.drop_duplicates("org_id").set_index("org_id").join(counts).reset_index()
    out = pd.DataFrame({
        "record_key": o["org_id"], "record_ref": o["record_ref"], "org_id": o["org_id"], "name": o["_name"],
        "name_en": o["_name_en"], "org_type": o["_org_type"], "legal_status": o["_legal"], "street": o["_street"],
        "post_code": o["post_code"], "post_code_source": o["post_code_source"], "city": o["city"],
        "country": o["country"], "country_source": o["country_source"], "country_name": o["_country_name"],
        "nuts3": o["nuts3"], "nuts_raw": o["nuts_raw"],
        "website": o["_website"].map(lambda w: None if w in programme_sites else w), "pic": o["_pic"],
        "participations": o["participations"],
    }, dtype=object)  # fmt: skip
    return out[ORGANISATION_COLUMNS].sort_values("org_id").reset_index(drop=True)
