"""City-network memberships: the ETMUN membership lists (BaltMet, UBC and 56 other networks, 2015-2019).

Input (see ../shared/data/city_networks/STRUCTURE.md), as one CSV, a zip/tar of both, or a folder:
- the members list (`etmun_network_members_geocoded_2019.csv`): `;`, quoted fields, `NA` = missing (quoted
  or not: `"NA"` in CountryCode is also missing, which the thesis' tools read as Namibia), CountryCode
  and X may carry a non-breaking space, lon/lat with decimal commas, Y/X with points, Year_of_Joining
  sometimes a CIVITAS phase (`2008-2012 - CIVITAS PLUS`: the phase's first year, raw value kept),
  Kosovo as `RKS` (-> `XK`, the source value kept in country_source);
- the networks' metadata (`etmun_networks_metadata_2019.csv`, optional): full name, URL, founding year,
  joined on Code = Code_Network.
Files are told apart by their header, so a fetched list, an --input file and the bundled sample all
parse alike.

Staged: `organisations` (one per normalised Full_Name and ISO country, key `<CC>:<NAME>`),
`network_memberships` (one per list row, key = the row id MembershipCode; (network, org_id) must be
unique: a member listed twice is quarantined by the contract) and `networks` (one per network loaded).
The networks to load are configured by short name (`networks = ["BaltMet", "UBC"]`; `["*"]` = all).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

import pandas as pd

from ... import archive, csvtext, normalise
from ...types import Landed, NoInput, Parsed, Reject, SourceContext, StructureChanged


MEMBER_HEADER = (
    "Full_Name", "Locality_Siege", "CountryCode", "Continent", "Region", "Y", "X", "Pop_collect", "Statut",
    "Entity", "Year_of_Joining", "Note", "Network_Name", "Code_Network", "EntitySimplified", "CountryName",
    "MembershipCode", "Adress", "lon", "lat",
)  # fmt: skip
META_REQUIRED = ("Name", "Acronym", "Code", "Url")
MISSING = {"", "NA"}

MEMBERSHIP_COLUMNS = [
    "record_key", "record_ref", "network", "network_code", "org_id", "member_name", "country",
    "country_source", "category", "joined_year", "joined_raw", "entity", "org_type", "locality", "lat", "lon",
    "y", "x", "population", "note", "region",
]  # fmt: skip
ORGANISATION_COLUMNS = [
    "record_key", "record_ref", "org_id", "name", "org_type", "entity", "city", "country", "country_source",
    "nuts3", "lat", "lon", "population", "networks", "memberships", "name_variants",
]  # fmt: skip
NETWORK_COLUMNS = [
    "record_key", "record_ref", "network", "code", "acronym", "full_name", "url", "founded",
    "secretariat_country", "member_kind", "list_source", "list_years", "members_listed",
]  # fmt: skip

_PERIOD = re.compile(r"^(\d{4})\s*-\s*\d{4}\b")  # '2008-2012 - CIVITAS PLUS' (a CIVITAS phase)


# --------------------------------------------------------------------------------------------------- fetch


def fetch(ctx: SourceContext) -> list[Landed]:
    """Download the configured membership lists ([[sources.networks.lists]] name, url).

    The networks publish no machine-readable member list that could be checked here, so nothing is
    fetched by default: without configured lists the source fails with this explanation (use --input
    with a local copy, or --sample).
    """
    lists = ctx.source.options.lists
    if not lists:
        raise NoInput(
            f"{ctx.source.name}: no membership lists configured: add [[sources.{ctx.source.name}.lists]] "
            f'tables (name = "...", url = "...") and their hosts to [sources.{ctx.source.name}].hosts, '
            "or load a local copy with --input (or the bundled --sample)"
        )
    if ctx.fetcher is None:
        raise RuntimeError(f"{ctx.source.name}.fetch needs an HTTP fetcher")
    out = []
    for i, item in enumerate(lists):
        if item.enabled:
            out.append(ctx.fetcher.download(item.url, source=ctx.source.name, name=item.name or f"list{i + 1}"))
    return out


# --------------------------------------------------------------------------------------------------- parse


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    wanted = _wanted(ctx.source.options.networks)
    members: list[dict] = []
    meta: list[dict] = []
    rejects: list[Reject] = []
    for landed in files:
        found = False
        limits = archive.Limits.of(ctx.config, ctx.source)
        for member, data in archive.iter_members(landed.path, lambda n: not PurePosixPath(n).name.startswith("."),
                                                 limits=limits):  # fmt: skip
            where = landed.path.name if member == landed.path.name else f"{landed.path.name}!{member}"
            text = _text(data, where)
            try:
                head = next(csvtext.reader(text[:4000], ";"), [])
            except csv.Error:  # not a CSV header: neither of the two files
                head = []
            head = [h.strip().lstrip("\ufeff") for h in head]
            if tuple(head[: len(MEMBER_HEADER)]) == MEMBER_HEADER:
                _read_members(text, where, wanted, members, rejects)
                found = True
            elif all(c in head for c in META_REQUIRED):
                meta.extend(_read_meta(text, where))
                found = True
        if not found:
            raise StructureChanged(
                f"{landed.path.name}: no ETMUN members list (header {';'.join(MEMBER_HEADER[:3])};...) "
                "and no networks metadata (Name;Acronym;Code;...) in it"
            )
    if not members and not rejects:
        raise StructureChanged(f"no membership rows for the configured networks {sorted(wanted) or 'all'}")
    ms = pd.DataFrame(members, columns=MEMBERSHIP_COLUMNS + ["_name_key"], dtype=object)
    repaired = int(ms["joined_raw"].map(lambda v: isinstance(v, str) and bool(_PERIOD.match(v))).sum())
    orgs = _organisations(ms)
    nets = _networks(ms, meta, wanted)
    return Parsed(
        tables={
            "organisations": orgs,
            "network_memberships": ms[MEMBERSHIP_COLUMNS].reset_index(drop=True),
            "networks": nets,
        },
        rejects=rejects,
        repaired={"network_memberships": repaired} if repaired else {},
    )


def _wanted(value) -> set[str]:
    """The configured networks, case-folded; an empty set means all."""
    if isinstance(value, str):
        value = [value]
    names = {str(v).strip().casefold() for v in value or []}
    return set() if not names or "*" in names else names


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StructureChanged(f"{where}: not UTF-8 ({exc}); the ETMUN lists are UTF-8") from None


def _read_members(text: str, where: str, wanted: set[str], out: list[dict], rejects: list[Reject]) -> None:
    reader = csvtext.reader(text, ";")
    header = next(reader)
    n = len(header)
    idx = {h.strip().lstrip("\ufeff"): i for i, h in enumerate(header)}
    line = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a quote never closed: a field past the csv module's size limit
            rejects.append(Reject("network_memberships", None, f"{where}:{line + 1}", "malformed_csv_row", str(exc)))
            line = reader.line_num
            continue
        first, line = line + 1, reader.line_num
        ref = f"{where}:{first}"
        if not any(f.strip() for f in fields):
            continue  # a blank line
        if len(fields) != n:
            rejects.append(Reject("network_memberships", None, ref, "malformed_csv_row",
                                  ";".join(fields)[:1000]))  # fmt: skip
            continue
        raw = {k: fields[i] for k, i in idx.items()}
        network = clean(raw["Network_Name"])
        if wanted and (network or "").casefold() not in wanted:
            continue
        out.append(membership(raw, ref))


def membership(raw: dict[str, str], ref: str) -> dict:
    """One members-list row (column name -> raw string) -> a staged membership row (plus _name_key)."""
    name = clean(raw["Full_Name"])
    country_source = raw["CountryCode"] if clean(raw["CountryCode"]) else None
    country = country_code(raw["CountryCode"])
    key = name_key(name)
    org_id = f"{country or '-'}:{key}" if key else None
    joined_raw = clean(raw["Year_of_Joining"])
    return {
        "record_key": clean(raw["MembershipCode"]) or ref,
        "record_ref": ref,
        "network": clean(raw["Network_Name"]),
        "network_code": clean(raw["Code_Network"]),
        "org_id": org_id,
        "member_name": name,
        "country": country,
        "country_source": country_source,
        "category": clean(raw["Statut"]),
        "joined_year": joined_year(joined_raw),
        "joined_raw": joined_raw,
        "entity": clean(raw["Entity"]),
        "org_type": clean(raw["EntitySimplified"]),
        "locality": clean(raw["Locality_Siege"]),
        "lat": decimal(raw["lat"]),
        "lon": decimal(raw["lon"]),
        "y": decimal(raw["Y"]),
        "x": decimal(raw["X"]),
        "population": decimal(raw["Pop_collect"]),
        "note": clean(raw["Note"]),
        "region": clean(raw["Region"]),
        "_name_key": key,
    }


def clean(v: str | None) -> str | None:
    """Strip blanks (also non-breaking spaces: 'ES\\u00a0', '\\u00a021.9033'); 'NA' and '' -> missing."""
    if v is None:
        return None
    v = v.replace("\u00a0", " ").strip()
    return None if v in MISSING else v


def country_code(v: str | None) -> str | None:
    """ISO 3166 alpha-2 as written, upper case ('RKS' -> 'XK', the source's value stays in country_source);
    anything else stays, for the contract to reject."""
    v = clean(v)
    return normalise.country_code(v.upper()) if v else None


def decimal(v: str | None) -> str | None:
    """'13,404954' (lon/lat) and '52.52' (X/Y) alike -> '13.404954'; '6e+05' stays (a float)."""
    return normalise.decimal(clean(v))


def joined_year(v: str | None) -> str | None:
    """'2012' -> '2012'; a CIVITAS phase '2008-2012 - CIVITAS PLUS' -> its first year '2008'."""
    if v is None:
        return None
    m = _PERIOD.match(v)
    return m.group(1) if m else v


def name_key(name: str | None) -> str | None:
    """'Malmö' -> 'MALMO', 'St. Petersburg' -> 'ST PETERSBURG', 'Warsaw ' -> 'WARSAW'.

    Not normalise.norm_place: that keeps only what precedes a comma, and member names such as
    'Accettura, Cirigliano, Oliveto Lucano' (a group of municipalities) must not fold into one of them.
    """
    if not name:
        return None
    return normalise.name_key(name) or None


def _organisations(ms: pd.DataFrame) -> pd.DataFrame:
    """One organisation per org_id: per column the first value given (file order), city = seat or name."""
    ok = ms[ms["org_id"].notna()].copy()
    if ok.empty:
        return pd.DataFrame(columns=ORGANISATION_COLUMNS, dtype=object)
    ok["name"] = ok["member_name"]
    ok["city"] = ok["locality"].where(ok["locality"].notna(), ok["member_name"])
    first = ok.groupby("org_id", sort=True).agg(
        record_ref=("record_ref", "first"),
        name=("name", "first"),
        org_type=("org_type", "first"),
        entity=("entity", "first"),
        city=("city", "first"),
        country=("country", "first"),
        country_source=("country_source", "first"),
        lat=("lat", "first"),
        lon=("lon", "first"),
        population=("population", "first"),
        memberships=("record_key", "size"),
        name_variants=("member_name", "nunique"),
    )
    first["networks"] = ok.groupby("org_id")["network"].agg(lambda s: ";".join(sorted(set(s.dropna()))))
    orgs = first.reset_index()
    orgs["record_key"] = orgs["org_id"]
    orgs["nuts3"] = None  # the lists give no NUTS code; the warehouse places members by city
    return orgs[ORGANISATION_COLUMNS].astype(object).where(orgs[ORGANISATION_COLUMNS].notna(), None)


def _read_meta(text: str, where: str) -> list[dict]:
    reader = csvtext.dict_reader(text, ";")
    out = []
    line = reader.line_num
    try:
        for row in reader:
            first, line = line + 1, reader.line_num
            out.append({(k or "").strip(): v for k, v in row.items()} | {"_ref": f"{where}:{first}"})
    except csv.Error as exc:
        raise StructureChanged(f"{where}: the networks metadata is not a readable CSV after line {line}: {exc}") from None
    return out


def _networks(ms: pd.DataFrame, meta: list[dict], wanted: set[str]) -> pd.DataFrame:
    """One row per network loaded (and per metadata row of a wanted network without members here)."""
    by_code = {clean(m.get("Code")): m for m in meta if clean(m.get("Code"))}
    rows = []
    seen_codes = set()
    for network, grp in ms.groupby("network", sort=True, dropna=True):
        code = grp["network_code"].dropna().iloc[0] if grp["network_code"].notna().any() else None
        seen_codes.add(code)
        m = by_code.get(code, {})
        rows.append(_network_row(network, code, m, m.get("_ref") or grp["record_ref"].iloc[0], len(grp)))
    for code, m in by_code.items():
        acronym = clean(m.get("Acronym"))
        if code in seen_codes or not acronym:
            continue
        if not wanted or acronym.casefold() in wanted:
            rows.append(_network_row(acronym, code, m, m["_ref"], 0))
    return pd.DataFrame(rows, columns=NETWORK_COLUMNS, dtype=object)


def _network_row(network: str, code: str | None, m: dict, ref: str, members: int) -> dict:
    return {
        "record_key": network, "record_ref": ref, "network": network, "code": code,
        "acronym": clean(m.get("Acronym")), "full_name": clean(m.get("Name")), "url": clean(m.get("Url")),
        "founded": clean(m.get("Date")), "secretariat_country": clean(m.get("Country (secretariat)")),
        "member_kind": clean(m.get("Members")), "list_source": clean(m.get("Sources")),
        "list_years": clean(m.get("Years")), "members_listed": members,
    }  # fmt: skip
