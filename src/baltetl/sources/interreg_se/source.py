"""Interreg 2021-2027 partners in Sweden: Tillväxtverket's extract for the "Interregbarometern".

Input (see ../shared/data/interreg_se/STRUCTURE.md): a JSON array of flat objects with Swedish keys, one per
(project, Swedish partner).  The extract has no project id: `id` is a row number within a programme that
repeats (two rows share (`program`, `id`) when they belong to different projects), so
- a project is (`program`, `projekttyp`, `projektnamn`): project_id `<programme slug>-<hash>`; rows of one
  project that disagree on dates give it the earliest start and the latest end (`date_variants` counts them);
  status ONGOING when a row says `aktiv` = Ja, else CLOSED;
- an organisation is (`organisationsnamn` normalised, SE): org_id `SE-<hash>`;
- a participation is (project, row): record_key `<project_id>/<id>`, role LP/PP/AP -> coordinator /
  participant / associatedPartner, ord = row order within the project.
`projektnamn` 'Name (ACRONYM)' gives title and acronym.  `nuts3` is a county name: mapped to its NUTS3 code
with geo_name_2021 of the NUTS history (Stockholms län -> SE110).  Country is SE (`land` = Sverige).

fetch: no public URL of the extract is known; configure `url` (downloaded through the polite fetcher).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath

import pandas as pd

from ... import archive, normalise
from ...normalise import name_key
from ...types import Landed, NoInput, Parsed, Reject, SourceContext, StructureChanged

TABLES = ("projects", "organisations", "participations")

PROJECT_COLUMNS = [
    "record_key", "record_ref", "project_id", "acronym", "title", "status", "start_date", "end_date",
    "total_cost", "framework_programme", "programme", "funding_scheme", "topics", "objective", "strand",
    "policy_objective", "date_variants", "partners_se",
]  # fmt: skip
PARTICIPATION_COLUMNS = [
    "record_key", "record_ref", "project_id", "org_id", "role", "role_source", "ord", "total_cost", "city",
    "country", "country_source", "nuts3", "nuts3_name", "nuts2_name", "source_row_id",
]  # fmt: skip
ORGANISATION_COLUMNS = [
    "record_key", "record_ref", "org_id", "name", "org_type", "legal_status", "city", "country",
    "country_source", "nuts3", "nuts3_name", "participations",
]  # fmt: skip
ROLES = {"LP": "coordinator", "PP": "participant", "AP": "associatedPartner"}
REQUIRED_KEYS = ("program", "projektnamn", "organisationsnamn", "organisationsroll")
_NAME_ACRONYM = re.compile(r"^(?P<name>.+?)\s*\((?P<inner>[^()]+)\)\s*$")


# --------------------------------------------------------------------------------------------------- fetch


def fetch(ctx: SourceContext) -> list[Landed]:
    url = ctx.source.options.get("url")
    if not url:
        raise NoInput(
            "interreg_se: no public URL of the Tillväxtverket extract is known; set `url` in [sources.interreg_se] "
            "(and its host in `hosts`), or load a local copy with --input"
        )
    if ctx.fetcher is None:
        raise RuntimeError("interreg_se.fetch needs an HTTP fetcher")
    return [ctx.fetcher.download(url, source=ctx.source.name, name="partners")]


# --------------------------------------------------------------------------------------------------- parse


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    counties = county_codes(str(ctx.config.nuts_changes))
    records: list[tuple[str, dict]] = []
    rejects: list[Reject] = []
    for landed in files:
        want = lambda n: PurePosixPath(n).suffix.lower() == ".json"  # noqa: E731
        members = archive.members(landed.path, want, archive.Limits.of(ctx.config, ctx.source))
        if not members:
            raise StructureChanged(f"{landed.path.name}: no JSON file in it")
        for member, data in members:
            ref = landed.path.name if member == landed.path.name else f"{landed.path.name}!{member}"
            try:
                doc = json.loads(data.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise StructureChanged(f"{ref}: not JSON ({exc})") from None
            if not isinstance(doc, list):
                raise StructureChanged(f"{ref}: a JSON array of partner rows expected, got {type(doc).__name__}")
            if doc and isinstance(doc[0], dict) and not set(REQUIRED_KEYS) <= set(doc[0]):
                raise StructureChanged(f"{ref}: keys {sorted(set(REQUIRED_KEYS) - set(doc[0]))} missing; keys: {sorted(doc[0])[:10]}")
            for i, rec in enumerate(doc):
                rref = f"{ref}:[{i}]"
                if not isinstance(rec, dict):
                    rejects.append(Reject("participations", None, rref, "not_an_object", str(rec)[:1000]))
                    continue
                missing = [k for k in ("program", "projektnamn") if not _s(rec.get(k))]
                if missing:
                    rejects.append(Reject("participations", _s(rec.get("id")), rref, f"missing_{missing[0]}",
                                          json.dumps(rec, ensure_ascii=False)[:1000], missing[0]))  # fmt: skip
                    continue
                records.append((rref, rec))
    return _tables(records, counties, rejects)


def _tables(records: list[tuple[str, dict]], counties: dict[str, str], rejects: list[Reject]) -> Parsed:
    projects: dict[str, dict] = {}
    parts: list[dict] = []
    ords: dict[str, int] = {}
    for ref, r in records:
        program, typ, name = _s(r.get("program")), _s(r.get("projekttyp")), " ".join(str(r["projektnamn"]).split())
        pid = project_id(program, typ, name)
        start, end, active = _s(r.get("startdatum")), _s(r.get("slutdatum")), _s(r.get("aktiv"))
        p = projects.get(pid)
        if p is None:
            acronym, title = split_name(name)
            p = projects[pid] = {
                "record_key": pid, "record_ref": ref, "project_id": pid, "acronym": acronym, "title": title,
                "status": None, "start_date": start, "end_date": end, "total_cost": 0.0,
                "framework_programme": "INTERREG", "programme": program, "funding_scheme": typ,
                "topics": _s(r.get("specifiktmal")), "objective": None, "strand": _s(r.get("strand_namn")),
                "policy_objective": _s(r.get("politisktmal")), "date_variants": set(), "partners_se": 0,
                "_active": set(),
            }  # fmt: skip
        p["date_variants"].add((start, end))
        p["_active"].add(active)
        if start and (p["start_date"] is None or start < p["start_date"]):
            p["start_date"] = start
        if end and (p["end_date"] is None or end > p["end_date"]):
            p["end_date"] = end
        budget = r.get("partnerbudget")
        if isinstance(budget, (int, float)) and not isinstance(budget, bool) and p["total_cost"] is not None:
            p["total_cost"] += float(budget)
        p["partners_se"] += 1
        ords[pid] = ords.get(pid, 0) + 1
        org_name = _s(r.get("organisationsnamn"))
        country_src = _s(r.get("land"))
        country = normalise.country(country_src or "Sverige") or country_src
        nuts3_name = _s(r.get("nuts3"))
        row_id = _s(r.get("id"))
        oid = org_id(org_name, country) if org_name else f"{country}-unnamed-{pid}-{row_id}"
        role_src = _s(r.get("organisationsroll"))
        parts.append({
            "record_key": f"{pid}/{row_id}", "record_ref": ref, "project_id": pid, "org_id": oid,
            "role": ROLES.get((role_src or "").upper(), role_src), "role_source": role_src, "ord": ords[pid],
            "total_cost": budget if not isinstance(budget, str) else budget.strip().replace(",", "."),
            "city": None, "country": country, "country_source": country_src,
            "nuts3": counties.get(nuts3_name or "", None) if nuts3_name else None,
            "nuts3_name": nuts3_name, "nuts2_name": _s(r.get("nuts2")), "source_row_id": row_id,
            "_name": org_name, "_type": _s(r.get("organisationstyp")),
            "_legal": (_s(r.get("organisationsagande")) or "").lower() or None,
        })  # fmt: skip
        if nuts3_name and nuts3_name not in counties:
            parts[-1]["nuts3"] = nuts3_name  # not a county name we know: the contract quarantines it
    for p in projects.values():
        p["status"] = "ONGOING" if "Ja" in p.pop("_active") else "CLOSED"
        p["date_variants"] = len(p["date_variants"])
        if not p["total_cost"]:
            p["total_cost"] = None  # the Swedish partners' budgets only: not the project's cost
    pj = pd.DataFrame(list(projects.values()), columns=PROJECT_COLUMNS, dtype=object)
    pa_ = pd.DataFrame(parts)
    if pa_.empty:
        pa_ = pd.DataFrame(columns=PARTICIPATION_COLUMNS + ["_name", "_type", "_legal"])
    return Parsed(
        tables={"projects": pj, "organisations": _organisations(pa_), "participations": pa_[PARTICIPATION_COLUMNS].copy()},
        rejects=rejects,
    )


def _organisations(parts: pd.DataFrame) -> pd.DataFrame:
    """One row per org_id: its latest row; nuts3 = the county it is most often given."""
    if parts.empty:
        return pd.DataFrame(columns=ORGANISATION_COLUMNS)
    counts = parts.groupby("org_id").size().rename("participations")
    nuts = (parts.dropna(subset=["nuts3"]).groupby(["org_id", "nuts3", "nuts3_name"]).size().rename("n").reset_index()
            .sort_values(["org_id", "n", "nuts3"], ascending=[True, False, True]).drop_duplicates("org_id")
            .set_index("org_id")[["nuts3", "nuts3_name"]])  # fmt: skip
    o = parts.drop_duplicates("org_id", keep="last").set_index("org_id").drop(columns=["nuts3", "nuts3_name"])
    o = o.join(counts).join(nuts).reset_index()
    out = pd.DataFrame({
        "record_key": o["org_id"], "record_ref": o["record_ref"], "org_id": o["org_id"], "name": o["_name"],
        "org_type": o["_type"], "legal_status": o["_legal"], "city": None, "country": o["country"],
        "country_source": o["country_source"], "nuts3": o["nuts3"], "nuts3_name": o["nuts3_name"],
        "participations": o["participations"],
    }, dtype=object)  # fmt: skip
    return out[ORGANISATION_COLUMNS].sort_values("org_id").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------- helpers


def _s(v) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def project_id(program: str | None, typ: str | None, name: str) -> str:
    digest = hashlib.sha1(f"{name_key(program or '')}\x1f{name_key(typ or '')}\x1f{name_key(name)}".encode()).hexdigest()[:12]
    return f"{normalise.slug(program)}-{digest}"


def org_id(name: str, country: str | None) -> str:
    digest = hashlib.sha1(f"{name_key(name)}\x1f{country or ''}".encode()).hexdigest()[:14]
    return f"{country or 'XX'}-{digest}"


def split_name(name: str) -> tuple[str | None, str]:
    """-> (acronym, title).  'Bothnian Coastal Route (BCR)' -> ('BCR', 'Bothnian Coastal Route');
    'Summation - (Sustainable Autonomous ...)' -> ('Summation', 'Sustainable Autonomous ...');
    'ICCE' -> ('ICCE', 'ICCE'); 'Boost Nordic Biogas' -> (None, 'Boost Nordic Biogas')."""
    m = _NAME_ACRONYM.match(name)
    if m:
        outer, inner = m.group("name").strip(" -–"), m.group("inner").strip()
        if " " not in inner and len(inner) <= 30:
            return inner, outer
        if outer and " " not in outer and len(outer) <= 30:
            return outer, inner
    return (name, name) if " " not in name and len(name) <= 30 else (None, name)


@lru_cache(maxsize=4)
def county_codes(nuts_changes: str) -> dict[str, str]:
    """Swedish NUTS3 names of 2021 -> codes, from the NUTS history ('Stockholms län' -> 'SE110')."""
    out: dict[str, str] = {}
    with open(Path(nuts_changes), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code, name = row.get("code_2021") or "", (row.get("geo_name_2021") or "").strip()
            if row.get("typology") == "nuts_level_3" and code.startswith("SE") and code[2:].isdigit() and len(code) == 5 and name:
                out[name] = code
    if not out:
        raise ValueError(f"{nuts_changes}: no Swedish NUTS3 names (geo_name_2021) found")
    return out
