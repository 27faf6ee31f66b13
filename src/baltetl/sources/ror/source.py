"""ROR, the Research Organization Registry (https://ror.org, CC0 1.0): a reference registry, not a source of
project partners.  It stages no `organisations` (its 12.8k Baltic records are no participants), but

    registry        one row per ROR id: display, English and national-language name, types, status,
                    country, city, website, registrable domain, Wikidata id, successor
    registry_names  one row per name of a record: label (national or English), alias, acronym, former name

which resolution (src/baltetl/resolve.py) reads to link source records to ROR ids within a country and the
golden record to its English and national names, type, website and Wikidata id.

Two forms go through one parser, told from the content:
- the official data dump (Zenodo community `ror-data`, `vX.Y-YYYY-MM-DD-ror-data.zip`): one JSON array of
  schema v2 records (`id`, `names[{value, types, lang}]`, `locations[{geonames_details}]`, `links`,
  `external_ids`, `relationships`); `fetch` asks Zenodo's API for the newest record and lands its dump;
- the shipped cut (sample/ror/ror_bsr_slim.zip, scripts/make_ror_sample.py): JSONL of the same records in the
  flat form of ../shared/data/registries/ror (`ror_id`, `country_code`, `city`, `websites`, `wikidata`).
Only records of the configured `countries` are kept (the dump holds ~120k of the world).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pandas as pd

from ... import archive
from ...http import FetchError
from ...types import Landed, Parsed, Reject, SourceContext, StructureChanged

TABLES = ("registry", "registry_names")
REGISTRY_COLUMNS = ["record_key", "record_ref", "ror_id", "name", "name_en", "name_local", "acronym", "types",
                    "status", "country", "city", "website", "domain", "wikidata_id", "successor"]  # fmt: skip
NAME_COLUMNS = ["record_key", "record_ref", "ror_id", "country", "name", "name_type", "lang"]
NAME_TYPES = {"ror_display": "label", "label": "label", "alias": "alias", "acronym": "acronym"}
# the languages of a country's own names (name_local): a Lithuanian label of a Latvian university is not it
NATIONAL_LANGS = {"DE": ("de",), "DK": ("da",), "EE": ("et",), "FI": ("fi", "sv"), "LV": ("lv",), "LT": ("lt",),
                  "NO": ("nb", "nn", "no"), "PL": ("pl",), "SE": ("sv",), "AT": ("de",), "NL": ("nl",), "FR": ("fr",),
                  "IT": ("it",), "ES": ("es",), "PT": ("pt",), "CZ": ("cs",), "SK": ("sk",), "HU": ("hu",),
                  "RO": ("ro",), "BG": ("bg",), "GR": ("el",), "HR": ("hr",), "SI": ("sl",), "IS": ("is",)}  # fmt: skip


def fetch(ctx: SourceContext) -> list[Landed]:
    """The newest data dump: Zenodo's list of the community's records (newest first), then the first file of
    the newest record whose name ends in 'ror-data.zip'."""
    if ctx.fetcher is None:
        raise RuntimeError("ror.fetch needs an HTTP fetcher")
    src = ctx.source.name
    listing = ctx.fetcher.get(ctx.source.options["url"], src, name="zenodo-records")
    try:
        hits = json.loads(listing.path.read_text(encoding="utf-8"))["hits"]["hits"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StructureChanged(f"{listing.path.name}: not Zenodo's list of records ({exc})") from None
    for hit in hits:
        for f in hit.get("files") or []:
            key = f.get("key") or f.get("filename") or ""
            link = (f.get("links") or {}).get("self") or (f.get("links") or {}).get("download")
            if key.endswith("ror-data.zip") and link:
                return [ctx.fetcher.download(link, src, "ror-data")]
    raise FetchError(f"{listing.path.name}: no file *ror-data.zip in Zenodo's newest records")


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    countries = {c.upper() for c in ctx.source.options.get("countries") or []}
    regs: dict[str, dict] = {}
    names: list[dict] = []
    rejects: list[Reject] = []
    for landed in files:
        want = lambda n: PurePosixPath(n).suffix.lower() in (".json", ".jsonl")  # noqa: E731
        members = archive.members(landed.path, want, archive.Limits.of(ctx.config, ctx.source))
        if not members:
            raise StructureChanged(f"{landed.path.name}: no JSON file in it")
        for member, data in members:
            ref = f"{landed.path.name}!{member}"
            for i, rec in _records(ref, data):
                rref = f"{ref}:{i}"
                row = _flat(rec) if isinstance(rec, dict) else None
                if row is None:
                    rejects.append(Reject("registry", None, rref, "not_a_ror_record", json.dumps(rec)[:1000]))
                    continue
                if countries and row["country"] not in countries:
                    continue
                row["record_ref"] = rref
                regs[row["ror_id"]] = row  # a record given twice: the later one
    for row in regs.values():
        for j, (value, kind, lang) in enumerate(row.pop("_names")):
            names.append({"record_key": f"{row['ror_id']}#{j}", "record_ref": row["record_ref"], "ror_id": row["ror_id"],
                          "country": row["country"], "name": value, "name_type": kind, "lang": lang})  # fmt: skip
    reg = pd.DataFrame(list(regs.values()), columns=REGISTRY_COLUMNS, dtype=object)
    return Parsed(tables={"registry": reg.sort_values("record_key").reset_index(drop=True),
                          "registry_names": pd.DataFrame(names, columns=NAME_COLUMNS, dtype=object)}, rejects=rejects)  # fmt: skip


def _records(ref: str, data: bytes) -> Iterable[tuple[int, object]]:
    text = data.decode("utf-8-sig")
    head = text.lstrip()[:1]
    if head == "[":  # the official dump: one JSON array
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise StructureChanged(f"{ref}: not JSON ({exc})") from None
        yield from enumerate(doc)
        return
    for i, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                yield i, json.loads(line)
            except ValueError:
                yield i, line


def _flat(r: dict) -> dict | None:
    """A record of either form -> the registry row (with its names under _names), or None."""
    rid = r.get("ror_id") or r.get("id")
    if not isinstance(rid, str) or not rid.startswith("https://ror.org/"):
        return None
    loc = (r.get("locations") or [{}])[0] or {}
    geo = loc.get("geonames_details") or loc
    country = (r.get("country_code") or geo.get("country_code") or "").upper() or None
    city = r.get("city") or geo.get("name") or geo.get("city")
    websites = r.get("websites") or [x.get("value") for x in r.get("links") or [] if x.get("type") == "website"]
    wikidata = r.get("wikidata")
    if wikidata is None:
        wd = next((x for x in r.get("external_ids") or [] if x.get("type") == "wikidata"), {})
        wikidata = [wd.get("preferred")] if wd.get("preferred") else wd.get("all") or []
    out, display, en, local, acronym = [], None, None, None, None
    for n in r.get("names") or []:
        value, types, lang = (n.get("value") or "").strip(), n.get("types") or [], n.get("lang")
        if not value:
            continue
        kind = next((NAME_TYPES[t] for t in ("ror_display", "label", "alias", "acronym") if t in types), "alias")
        out.append((value, kind, lang))
        if "ror_display" in types:
            display = value
        if kind == "label" and lang == "en" and en is None:
            en = value
        langs = NATIONAL_LANGS.get(country or "", ())
        if kind == "label" and lang in langs and (local is None or langs.index(lang) < langs.index(local[1])):
            local = (value, lang)  # the country's first language first: Finnish before Swedish in Finland
        if kind == "acronym" and acronym is None:
            acronym = value
    display = display or (out[0][0] if out else None)
    if not display:
        return None
    succ = next((x.get("id") for x in r.get("relationships") or [] if x.get("type") == "successor"), None)
    website = websites[0] if websites else None
    host = (urlsplit(website).hostname or "") if website else ""
    return {
        "record_key": rid, "ror_id": rid, "name": display, "name_en": en or display, "name_local": local[0] if local else None,
        "acronym": acronym, "types": ",".join(r.get("types") or []) or None, "status": r.get("status"),
        "country": country, "city": city, "website": website,
        "domain": host[4:] if host.startswith("www.") else (host or None),
        "wikidata_id": wikidata[0] if wikidata else None, "successor": succ, "_names": out,
    }  # fmt: skip
