"""CORDIS: EU research projects (Horizon Europe, H2020, FP7) and their participants.

Both published editions are read (see ../shared/data/cordis/FORMAT.md):
- XML: an archive of one <project> file each (`cordis-*projects-xml.zip`, or a tar of the same files);
- CSV: `project.csv` + `organization.csv` (`;`, every field quoted, multi-line fields, mixed decimal
  separators, values that begin and end with a quote written unescaped).
The edition is detected from the archive's members, so a fetched file, an --input file and the bundled
sample all go through the same parser.  Organisations are taken from the participation rows: one version
per organisationID, the one of the most recently updated project.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import PurePosixPath

import pandas as pd

from ... import archive
from ...procs import die_with_parent
from ...types import Landed, Parsed, Reject, SourceContext, StructureChanged
from . import xml
from .values import (
    CONVERTED_PARTICIPATION_COLUMNS, ORGANISATION_COLUMNS, PARTICIPATION_COLUMNS, PROJECT_COLUMNS,
    RAW_PARTICIPATION_COLUMNS, participation_row, project_row,
)  # fmt: skip

BATCH_BYTES = 4 << 20  # XML handed to a parse worker at a time

# CSV edition: first column of every record is a quoted number ("101116741";...)
_RECORD_START = re.compile(rb'^"\d+";', re.M)

CSV_PROJECT_MAP = {
    "id": "project_id", "acronym": "acronym", "status": "status", "title": "title", "startDate": "start_date",
    "endDate": "end_date", "totalCost": "total_cost", "ecMaxContribution": "ec_max_contribution",
    "legalBasis": "legal_basis", "topics": "topics", "ecSignatureDate": "ec_signature_date",
    "frameworkProgramme": "framework_programme", "masterCall": "master_call", "subCall": "sub_call",
    "fundingScheme": "funding_scheme", "objective": "objective", "contentUpdateDate": "content_update_date",
    "grantDoi": "grant_doi",
}  # fmt: skip
CSV_ORG_MAP = {
    "projectID": "project_id", "organisationID": "org_id", "vatNumber": "vat_number", "name": "name",
    "shortName": "short_name", "SME": "sme", "activityType": "activity_type", "street": "street",
    "postCode": "post_code", "city": "city", "country": "country_source", "nutsCode": "nuts_raw",
    "geolocation": "geolocation", "organizationURL": "website", "contentUpdateDate": "content_update_date",
    "rcn": "org_rcn", "order": "ord", "role": "role", "ecContribution": "ec_contribution",
    "netEcContribution": "net_ec_contribution", "totalCost": "total_cost", "endOfParticipation": "terminated",
}  # fmt: skip
CSV_PROJECT_REQUIRED = ("id", "status", "startDate", "endDate")
CSV_ORG_REQUIRED = ("projectID", "organisationID", "name", "role", "order", "country")


# --------------------------------------------------------------------------------------------------- fetch


def fetch(ctx: SourceContext) -> list[Landed]:
    """Download every enabled CORDIS bulk file (conditional GET: an unchanged file costs a 304)."""
    if ctx.fetcher is None:
        raise RuntimeError("cordis.fetch needs an HTTP fetcher")
    out = []
    for d in ctx.source.options.downloads:
        if d.enabled:
            out.append(ctx.fetcher.download(d.url, source=ctx.source.name, name=d.name))
    return out


# --------------------------------------------------------------------------------------------------- parse


class _Columns:
    """A table gathered column by column, in chunks (see xml.parse_batch and _column)."""

    def __init__(self, names: list[str]):
        self.names, self.cols = names, [[] for _ in names]

    def add_columns(self, cols) -> None:
        for col, values in zip(self.cols, cols):
            col.append(values)

    def add_rows(self, rows: list[tuple]) -> None:
        if rows:
            self.add_columns(zip(*rows))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(dict(zip(self.names, map(_column, self.cols))), columns=self.names)
        self.cols = [[] for _ in self.names]  # the frame holds the values now
        return df


def _column(chunks: list):
    """A column from its chunks: a string column when some chunk is an Arrow string array (or xml.Strings) and
    the others are too or hold no value, else one of Python objects (as the CSV edition's and a column with no
    value)."""
    import pyarrow as pa

    chunks = [c.to_arrow() if isinstance(c, xml.Strings) else c for c in xml.Strings.joined(chunks)]
    arrow = any(isinstance(c, pa.Array) for c in chunks)
    if arrow and all(isinstance(c, pa.Array) or all(v is None for v in c) for c in chunks):
        parts = [c if isinstance(c, pa.Array) else pa.nulls(len(c), pa.string()) for c in chunks]
        return pd.Series(pd.array(pa.chunked_array(parts, type=pa.string()), dtype="str"))
    return pd.Series([v for c in chunks for v in (c.to_pylist() if isinstance(c, pa.Array) else c)], dtype=object)


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    projects = _Columns(PROJECT_COLUMNS)
    parts = _Columns(CONVERTED_PARTICIPATION_COLUMNS)
    rejects: list[Reject] = []
    repaired = {"projects": 0, "participations": 0}
    for landed in files:
        members = archive.names(landed.path, limit=100, limits=archive.Limits.of(ctx.config, ctx.source))  # the edition
        csv_members = {PurePosixPath(n).name.lower(): n for n in members if n.lower().endswith(".csv")}
        if any(n.lower().endswith(".xml") for n in members):
            _parse_xml(ctx, landed, projects, parts, rejects)
        elif "project.csv" in csv_members or "organization.csv" in csv_members:
            _parse_csv(ctx, landed, csv_members, projects, parts, rejects, repaired)
        else:
            raise StructureChanged(
                f"{landed.path.name}: neither the CORDIS XML edition (*.xml) nor the CSV edition "
                f"(project.csv, organization.csv); members: {members[:5]}"
            )
    # the projects' frame in a thread (Arrow makes it without the GIL) while the participations' and the
    # organisations' are made here: the frames come after the workers, on the refresh's critical path
    with ThreadPoolExecutor(1) as pool:
        pj = pool.submit(projects.frame)
        raw = parts.frame()
        orgs = _organisations(raw)
        pj = pj.result()
    return Parsed(
        tables={
            "projects": pj,
            "participations": raw[PARTICIPATION_COLUMNS],
            "organisations": orgs,
        },
        rejects=rejects,
        repaired=repaired,
    )


def _organisations(raw: pd.DataFrame) -> pd.DataFrame:
    """One version per organisationID: the row of the most recently updated project."""
    if raw.empty:
        return pd.DataFrame(columns=ORGANISATION_COLUMNS)
    ok = raw[raw["org_id"].notna()]
    # ranked on the key columns alone, then the chosen rows taken whole (sorting all 27 columns took 2x longer)
    keys = ok[["content_update_date", "project_id", "record_ref", "org_id"]]
    ranked = keys.sort_values(["content_update_date", "project_id", "record_ref"], ascending=False, na_position="last")
    stats = ok.groupby("org_id").agg(name_variants=("name", "nunique"), participations=("record_key", "size"))
    orgs = ok.loc[ranked.drop_duplicates("org_id").index].set_index("org_id").join(stats).reset_index()
    orgs["record_key"] = orgs["org_id"]
    return orgs[ORGANISATION_COLUMNS].sort_values("org_id").reset_index(drop=True)


# ------------------------------------------------------------------------------------------ XML edition


def _parse_xml(ctx, landed: Landed, projects: _Columns, parts: _Columns, rejects: list) -> None:
    """Parse every <project> file; worker processes parse while this one decompresses the archive."""
    size = landed.size or landed.path.stat().st_size
    label = f"cordis {landed.name or landed.path.name}"
    workers = ctx.source.options.parse_workers or (os.cpu_count() or 1)

    def progress(done: int) -> None:
        ctx.report(label, done, size)

    def collect(result) -> None:
        p, r, bad = result
        projects.add_columns(p)
        parts.add_columns(r)
        rejects.extend(Reject("projects", *b) for b in bad)

    limits = archive.Limits.of(ctx.config, ctx.source)
    members = archive.iter_members(landed.path, lambda n: n.lower().endswith(".xml"), progress, limits)
    batches = _batches(((f"{landed.path.name}!{m}", d) for m, d in members), BATCH_BYTES)
    if workers <= 1:
        for batch in batches:
            collect(xml.parse_batch(batch))
    else:
        # bounded: at most 2 batches per worker in flight, so memory stays ~ a few MB per worker
        ctx_mp = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx_mp, initializer=die_with_parent,
                                 initargs=(os.getpid(),)) as pool:  # workers die with this process (kill -9, OOM)
            pending: deque = deque()
            for batch in batches:
                pending.append(pool.submit(xml.parse_batch, batch))
                while len(pending) >= 2 * workers or (pending and pending[0].done()):
                    collect(pending.popleft().result())
            while pending:
                collect(pending.popleft().result())
    ctx.report(label, size, size)


def _batches(items, max_bytes: int):
    batch, size = [], 0
    for item in items:
        batch.append(item)
        size += len(item[1])
        if size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# ------------------------------------------------------------------------------------------ CSV edition


def split_records(data: bytes) -> list[tuple[int, bytes]]:
    """Split a CORDIS CSV into (line number, record bytes): header first, then one entry per record.

    The header is the first line.  Every record starts at a line beginning with a quoted number; lines in
    between belong to a quoted multi-line field of the record before.  Lines after the header that start
    no record (a damaged first record) are an entry of their own, so they are rejected, not taken for
    part of the header.
    """
    head_end = data.find(b"\n") + 1 or len(data)
    starts = [m.start() for m in _RECORD_START.finditer(data, head_end)]
    if head_end < len(data) and (not starts or starts[0] != head_end):
        starts.insert(0, head_end)
    out = [(1, data[:head_end])]
    line = 2
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[s:e]
        out.append((line, chunk))
        line += chunk.count(b"\n")
    return out


def parse_record(text: str, width: int) -> tuple[list[str] | None, bool]:
    """Parse one record of `width` fields -> (fields or None, repaired).

    Strict CSV first.  CORDIS does not escape a value that itself begins and ends with a quote
    (`;""Fit for 55"" package"";`); since every field is quoted, splitting on the `";"` separators then
    recovers such records, and doubled quotes inside a value are undone.
    """
    text = text.rstrip("\r\n")
    try:
        rows = list(csv.reader([text], delimiter=";", quotechar='"', strict=True))
        if len(rows) == 1 and len(rows[0]) == width:
            return rows[0], False
    except csv.Error:
        pass
    if text.startswith('"') and text.endswith('"'):
        fields = text[1:-1].split('";"')
        if len(fields) == width:
            return [f.replace('""', '"') for f in fields], True
    return None, False


def read_table(data: bytes, member: str, table: str, rejects: list[Reject]) -> tuple[list[str], list[dict], int]:
    """Read a CORDIS CSV table -> (header, rows as dicts with '_ref', repaired count)."""
    text_records = split_records(data)
    header_line, header_bytes = text_records[0]
    try:
        header = next(csv.reader([header_bytes.decode("utf-8-sig").strip()], delimiter=";"), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise StructureChanged(f"{member}: the header is not a UTF-8 CSV line ({exc}): {header_bytes[:200]!r}") from None
    rows, repaired = [], 0
    for line, chunk in text_records[1:]:
        if not chunk.strip():
            continue  # blank lines
        ref = f"{member}:{line}"
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.append(Reject(table, _key_of(chunk), ref, "utf8", f"{exc}: {chunk[:200]!r}"))
            continue
        fields, fixed = parse_record(text, len(header))
        if fields is None:
            rejects.append(Reject(table, _key_of(chunk), ref, "malformed_csv_row", text[:1000]))
            continue
        repaired += fixed
        row = dict(zip(header, fields))
        row["_ref"] = ref
        rows.append(row)
    return header, rows, repaired


def _key_of(chunk: bytes) -> str | None:
    m = re.match(rb'^"(\d+)"', chunk)
    return m.group(1).decode() if m else None


def _parse_csv(ctx, landed, csv_members, projects, parts, rejects, repaired) -> None:
    wanted = {csv_members.get("project.csv"), csv_members.get("organization.csv")} - {None}
    label = f"cordis {landed.name or landed.path.name}"
    contents = dict(archive.iter_members(landed.path, lambda n: n in wanted, limits=archive.Limits.of(ctx.config, ctx.source)))

    def table(file: str, name: str, required: tuple[str, ...], row_of, into: _Columns) -> None:
        member = csv_members.get(file)
        if member is None:
            return
        header, rows, fixed = read_table(contents[member], f"{landed.path.name}!{member}", name, rejects)
        _require(header, required, member)
        repaired[name] += fixed
        into.add_rows([row_of(r) for r in rows])
        ctx.report(label, len(rows), None)

    def project(r: dict) -> tuple:
        g = {CSV_PROJECT_MAP[k]: (v.strip() or None) for k, v in r.items() if k in CSV_PROJECT_MAP}
        return project_row(tuple([g.get("project_id"), r["_ref"]] + [g.get(c) for c in PROJECT_COLUMNS[2:]]))

    def participation(r: dict) -> tuple:
        g = {CSV_ORG_MAP[k]: (v.strip() if k in ("SME", "endOfParticipation") else (v.strip() or None))
             for k, v in r.items() if k in CSV_ORG_MAP}  # fmt: skip
        key = f"{g.get('project_id')}/{g.get('org_id')}/{g.get('role')}/{g.get('ord')}"
        return participation_row(tuple([key, r["_ref"]] + [g.get(c) for c in RAW_PARTICIPATION_COLUMNS[2:]]))

    table("project.csv", "projects", CSV_PROJECT_REQUIRED, project, projects)
    table("organization.csv", "participations", CSV_ORG_REQUIRED, participation, parts)


def _require(header: list[str], required: tuple[str, ...], member: str) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise StructureChanged(f"{member}: not the CORDIS CSV layout, columns missing: {missing}; header: {header[:8]}")
