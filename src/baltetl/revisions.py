"""Partner revisions: corrections that survive every refresh.

Partners keep plain files in the revisions folder (`<project>/revisions/`, or `paths.revisions` in the
configuration), one per partner, CSV (one operation per row) or YAML (a list of operations); the rules of a
row are the contract `schemas/revisions.py`, the how-to is `revisions/README.md`.  The warehouse is rebuilt
from the sources on every run and the revisions are applied on top of it every time, so a correction is never
lost to the next run:

    revs = revisions.load(cfg)                   # read + validate the folder (no warehouse needed)
    resolve.run(con, cfg, state, revs, run_id)   # golden organisations; honours revs.merges / revs.keep_apart
    revisions.apply(con, cfg, revs, run_id)      # corrections, hides, links, added organisations, persons

A row that breaks the contract is an `invalid` issue (file and line) and is not applied; a row whose
organisation or project no longer exists is `stale_target`; rows that contradict each other are `conflict`.
Every row stays in the `revisions` table, every problem is in `revision_issues`, every change made is in
`revisions_applied` (who, when, why, the value before and after).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml
from anyascii import anyascii

from . import csvtext, db, models
from .config import Config, revisions_dir
from .geo import insert_rows
from .normalise import caseless, norm_place
from .quality import ContractError, load_contracts, validate_table

SUFFIXES = (".csv", ".yaml", ".yml")
KINDS = ("invalid", "stale_target", "conflict", "unmatched")  # of revision issues
MAX_FILE_BYTES = 1_048_576  # default of revisions.max_file_bytes: thousands of rows
ADDED_SOURCE = "revisions"
# applied in this order: added organisations first (other rows may name them), persons last
ORDER = ("add_organisation", "merge", "keep_apart", "correct", "link", "hide", "add_person")
ORG_DETAILS = ("name", "short_name", "org_type", "activity_type", "country", "city", "nuts3", "website", "metropolis_id")
PERSON_DETAILS = ("name", "role", "email", "phone", "consent_to_publish")
PLACE_FIELDS = ("country", "city", "nuts3")
NOT_CORRECTED = {"golden_id", "org_key", "project_key", "source", "sources", "records", "hidden", "record_ref",
                 "project_id", "org_id", "assigned_by", "assigned_from"}  # fmt: skip

@dataclass
class Operation:
    revision_id: str
    file: str
    line: int
    op: str | None
    target: str | None
    author: str | None
    date: str | None
    field: str | None = None
    value: str | None = None
    other: str | None = None
    reason: str | None = None
    details: dict[str, str] = dc_field(default_factory=dict)  # name, country, email, consent_to_publish ...
    valid: bool = True

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Issue:
    kind: str  # invalid | stale_target | conflict | unmatched
    message: str
    file: str
    line: int | None = None
    revision_id: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.message}"


@dataclass
class Revisions:
    folder: Path
    operations: list[Operation] = dc_field(default_factory=list)
    issues: list[Issue] = dc_field(default_factory=list)  # found while loading: invalid rows, merge/keep_apart conflicts
    merges: list[tuple[str, str]] = dc_field(default_factory=list)  # for resolution: these two are one organisation
    keep_apart: list[tuple[str, str]] = dc_field(default_factory=list)  # for resolution: never one organisation
    withheld: set[str] = dc_field(default_factory=set)  # valid rows not applied (a merge contradicted by a keep_apart)

    @property
    def invalid(self) -> list[Issue]:
        return [i for i in self.issues if i.kind == "invalid"]

    def valid(self, *ops: str) -> list[Operation]:
        return [o for o in self.operations if o.valid and (not ops or o.op in ops)]

    def change_tracked(self) -> bool:
        """Whether applying them may change the projects, organisations or participations (the tables the
        history tracks): an added organisation or link, a correction or a hide (its target may be a project)."""
        return bool(self.valid("add_organisation", "link", "correct", "hide"))


# -- reading the folder ---------------------------------------------------------------------------------------
def folder(cfg: Config) -> Path:
    """The revisions folder: `paths.revisions` of the configuration, else <project>/revisions."""
    return revisions_dir(cfg)


def contract(cfg: Config):
    return load_contracts(cfg.project_dir / "schemas", "revisions")


def load(cfg: Config, path: Path | str | None = None) -> Revisions:
    """Read and validate every revision file of the folder (`path` overrides the configured folder).

    No folder = no revisions.  Nothing here needs the warehouse; targets are checked by `apply` / `check_targets`.
    """
    d = Path(path) if path else folder(cfg)
    revs = Revisions(d)
    if not d.is_dir():
        return revs
    mod = contract(cfg)
    columns = list(mod.COLUMNS)
    rows: list[tuple[str, int, dict]] = []
    limit = max_file_bytes(cfg)
    for f in sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")):
        reader = _read_csv if f.suffix.lower() == ".csv" else _read_yaml
        with open(f, "rb") as fh:
            raw = fh.read(limit + 1)  # never more than the limit, even of a file that grows meanwhile
        if len(raw) > limit:
            revs.issues.append(Issue("invalid", f"larger than {limit} bytes (revisions.max_file_bytes): not read; "
                                     "split the file or raise the limit", f.name))  # fmt: skip
            continue
        file_rows, issues = reader(f, raw, columns)
        rows += [(f.name, line, r) for line, r in file_rows]
        revs.issues += issues
    revs.operations = _operations(rows)
    _validate(revs, mod, columns)
    _pair_conflicts(revs)
    return revs


def max_file_bytes(cfg: Config) -> int:
    """The largest revision file read (`revisions.max_file_bytes`); a larger one is reported invalid."""
    return int((cfg.raw.get("revisions") or {}).get("max_file_bytes", MAX_FILE_BYTES))


def _norm_key(k: Any) -> str:
    return str(k).strip().lower().replace(" ", "_").replace("-", "_")


def _text(key: str, v: Any) -> str | None:
    """A cell as text; YAML's yes/no/dates become what a person wrote."""
    if v is None:
        return None
    if isinstance(v, bool):  # YAML 1.1 reads yes/no (and the country code NO) as booleans
        return ("NO" if not v else "YES") if key == "country" else ("yes" if v else "no")
    if isinstance(v, datetime | date):
        return v.isoformat()[:10]
    s = str(v).strip()
    return s or None


def _unknown(name: str, line: int, keys: list[str], columns: list[str]) -> list[Issue]:
    bad = [k for k in keys if k and k not in columns]
    return [Issue("invalid", f"unknown column {k!r} (ignored); the columns are: {', '.join(columns)}", name, line) for k in bad]


def _read_csv(path: Path, raw: bytes, columns: list[str]) -> tuple[list[tuple[int, dict]], list[Issue]]:
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it
    except UnicodeDecodeError as exc:
        return [], [Issue("invalid", f"not UTF-8 text ({exc.reason} at byte {exc.start}): save it as CSV UTF-8", path.name)]
    lines = text.splitlines()
    if not lines:
        return [], []
    delim = ";" if lines[0].count(";") > lines[0].count(",") else ","  # spreadsheets in many locales save with ;
    reader = csvtext.reader(text, delim)
    header = [_norm_key(h) for h in next(reader)]
    issues = _unknown(path.name, 1, header, columns)
    out = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(Issue("invalid", f"not readable as CSV: {exc}", path.name, start))
            break
        row = {k: _text(k, v) for k, v in zip(header, cells) if k in columns}
        if not any(row.values()) or (row.get("op") or "").startswith("#"):
            continue  # blank line or a comment
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            issues.append(Issue("invalid", f"{len(cells)} cells but {len(header)} columns (a value with the "
                                "separator needs quotes)", path.name, start))  # fmt: skip
        out.append((start, row))
    return out, issues


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few hundred bytes of nested aliases expand to gigabytes ('billion
    laughs'), and a list of operations never needs them."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(None, None, "anchors (&name) and aliases (*name) are not allowed: write "
                                              "each value out", event.start_mark)  # fmt: skip
        return super().compose_node(parent, index)


def _read_yaml(path: Path, raw: bytes, columns: list[str]) -> tuple[list[tuple[int, dict]], list[Issue]]:
    try:
        loader = _PlainLoader(raw.decode("utf-8"))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as exc:
        return [], [Issue("invalid", f"not UTF-8 text ({exc.reason})", path.name)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        return [], [Issue("invalid", f"not readable as YAML: {what}", path.name, mark.line + 1 if mark else None)]
    except RecursionError:
        return [], [Issue("invalid", "not readable as YAML: nested too deeply", path.name)]
    if data is None:
        return [], []
    if not isinstance(data, list):
        return [], [Issue("invalid", "the file must be a list of operations, each starting with '- op:'", path.name, 1)]
    out, issues = [], []
    for item_node, item in zip(node.value, data):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            issues.append(Issue("invalid", "an operation is a group of 'key: value' lines", path.name, line))
            continue
        keys = [_norm_key(k) for k in item]
        issues += _unknown(path.name, line, keys, columns)
        out.append((line, {k: _text(k, v) for k, v in zip(keys, item.values()) if k in columns}))
    return out, issues


def _operations(rows: list[tuple[str, int, dict]]) -> list[Operation]:
    ops, seen = [], {}
    for file, line, r in rows:
        r = dict(r)
        if r.get("op"):
            r["op"] = r["op"].lower().replace(" ", "_").replace("-", "_")
        if r.get("consent_to_publish"):
            r["consent_to_publish"] = r["consent_to_publish"].lower()
        if r.get("country"):
            r["country"] = r["country"].upper()
        if r.get("field"):
            r["field"] = r["field"].lower()
        content = "\x1f".join(str(r.get(k) or "") for k in ("op", "target", "field", "value", "other", "date", "name"))
        content += f"\x1f{r['person_id']}" if r.get("person_id") else ""
        rid = "rev-" + hashlib.sha1(f"{file}\x1f{content}".encode()).hexdigest()[:10]
        seen[rid] = seen.get(rid, 0) + 1
        if seen[rid] > 1:
            rid = f"{rid}-{seen[rid]}"
        main = ("op", "target", "author", "date", "field", "value", "other", "reason")
        ops.append(Operation(rid, file, line, *(r.get(k) for k in main),
                             details={k: v for k, v in r.items() if k not in main and v is not None}))  # fmt: skip
    return ops


def _validate(revs: Revisions, mod, columns: list[str]) -> None:
    if not revs.operations:
        return
    model = mod.CONTRACTS["revisions"]
    recs = []
    for o in revs.operations:
        rec = {c: None for c in columns}
        rec.update({k: getattr(o, k) for k in ("op", "target", "author", "date", "field", "value", "other", "reason")})
        rec.update(o.details)
        recs.append({**rec, "record_key": o.revision_id, "record_ref": o.where})
    df = pd.DataFrame(recs, columns=[*columns, "record_key", "record_ref"], dtype=object)
    try:
        _, failures = validate_table(df, model, "revisions")
    except ContractError as exc:  # cannot happen with every column present; fail every row rather than none
        failures = [("revisions", o.revision_id, o.where, None, str(exc), None) for o in revs.operations]
    row_checks = {c.name for c in model.to_schema().checks}  # checks over several columns: reported once per row
    by_id = {o.revision_id: o for o in revs.operations}
    problems: dict[str, list[str]] = {}
    for _, rid, _, column, check, value in failures:
        msg = _explain_row(by_id[rid], check, mod) if column is None or check in row_checks else _explain(column, check, value)
        if msg not in problems.setdefault(rid, []):
            problems[rid].append(msg)
    for rid, msgs in problems.items():  # one issue per row, all its problems in it
        o = by_id[rid]
        o.valid = False
        revs.issues.append(Issue("invalid", "; ".join(msgs), o.file, o.line, rid))
    revs.issues.sort(key=lambda i: (i.file, i.line or 0))


def _protected(fld: str) -> str:
    if fld == "hidden":
        return "field 'hidden' is protected: use a hide revision (op hide) to keep a record off the site"
    return f"field {fld!r} is protected (an identifier or bookkeeping): it cannot be corrected"


def _explain_row(o: Operation, check: str, mod) -> str:
    """A failed check over several columns of a row (schemas/revisions.py), in words about that row."""

    def missing(*names: str) -> str:
        gone = [n for n in names if n and not str((getattr(o, n) if hasattr(o, n) else o.details.get(n)) or "").strip()]
        return f"{' and '.join(gone)} {'is' if len(gone) == 1 else 'are'} missing" if gone else ""

    if check.startswith("correct needs"):
        return f"correct needs field and value: {missing('field', 'value')}"
    if check.startswith("field is a plain"):
        if o.field in mod.PROTECTED_FIELDS:
            return _protected(o.field)
        return f"field {o.field!r} is not a column name: lower-case words joined by _ (website, city, end_date ...)"
    if check.startswith("merge, keep_apart and link need other"):
        return f"{o.op} needs other: " + ("the project" if o.op == "link" else "the second organisation")
    if check.startswith("merge and keep_apart need two"):
        return f"{o.op} of {o.target!r} with itself: target and other must be two different organisations"
    if check.startswith("add_organisation needs"):
        what = [m for m in (missing("name", "country"),) if m]
        if not re.match(mod.NEW_ORG_KEY, o.target or ""):
            what.append(f"target {o.target!r} is not a new key revisions:<lower-case-words-with-dashes>")
        return "add_organisation: " + "; ".join(what)
    if check.startswith("add_person needs"):
        who = "" if o.details.get("person_id") else "name"
        return f"add_person needs name (or person_id) and consent_to_publish (yes or no): {missing(who, 'consent_to_publish')}"
    return check


def _explain(column: str | None, check: str, value: str | None) -> str:
    """A contract failure in words a partner understands."""
    from_schema = {
        ("op", "isin"): f"unknown op {value!r}: use correct, add_organisation, link, hide, merge, keep_apart or add_person",
        ("date", "str_matches"): f"date {value!r} is not written YYYY-MM-DD",
        ("date", "date is a real calendar day"): f"date {value!r} is not a real day",
        ("email", "str_matches"): f"{value!r} is not an e-mail address",
        ("consent_to_publish", "isin"): f"consent_to_publish is {value!r}: write yes or no",
        ("country", "isin"): f"country {value!r} is not a two-letter country code (FI, LV, SE ...)",
        ("nuts3", "str_matches"): f"nuts3 {value!r} is not a NUTS3 code such as LV006",
        ("person_id", "str_matches"): f"person_id {value!r} is not a person id such as person-0123456789",
    }
    if column is None:
        return check  # the checks over several columns are named in words
    if check == "not_nullable":
        return f"{column} is missing"
    for (col, name), msg in from_schema.items():
        if col == column and check.startswith(name):
            return msg
    return f"{column} {value!r}: {check}"


def _pair_conflicts(revs: Revisions) -> None:
    """A merge and a keep_apart of the same two organisations: both reported, they stay apart (nothing merged)."""
    merges: dict[frozenset, list[Operation]] = {}
    aparts: dict[frozenset, list[Operation]] = {}
    for o in revs.valid("merge", "keep_apart"):
        (merges if o.op == "merge" else aparts).setdefault(frozenset((o.target, o.other)), []).append(o)
    for pair in merges.keys() & aparts.keys():
        involved = merges[pair] + aparts[pair]
        for o in involved:
            others = ", ".join(f"{x.op} at {x.where}" for x in involved if x is not o)
            revs.issues.append(Issue("conflict", f"{o.op} of {o.target} and {o.other} contradicts {others}: "
                                     "they are kept apart until one of the rows is removed", o.file, o.line,
                                     o.revision_id))  # fmt: skip
        revs.withheld |= {o.revision_id for o in merges[pair]}
    revs.merges = list(dict.fromkeys((o.target, o.other) for o in revs.valid("merge") if o.revision_id not in revs.withheld))
    revs.keep_apart = list(dict.fromkeys((o.target, o.other) for o in revs.valid("keep_apart")))


# -- finding the targets in a warehouse ----------------------------------------------------------------------
class _Index:
    """Every key a revision may name, read from a warehouse (read-only use is enough)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, revs: Revisions):
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        self.has_golden = "golden_organisations" in names
        self.golden = {r[0] for r in con.execute("SELECT golden_id FROM golden_organisations").fetchall()} if self.has_golden else set()  # fmt: skip
        if "organisation_sources" in names:
            self.org_golden = dict(con.execute("SELECT org_key, golden_id FROM organisation_sources").fetchall())
        else:  # not resolved: every source record is its own organisation
            self.org_golden = {r[0]: r[0] for r in con.execute("SELECT org_key FROM organisations").fetchall()}
        self.moved: dict[str, str] = {}
        if "golden_id_history" in names:  # a golden id merged into another: its revisions follow it
            self.moved = dict(con.execute("SELECT golden_id, last(other_id ORDER BY \"at\") FROM golden_id_history "
                                          "WHERE event = 'merged_into' AND other_id IS NOT NULL GROUP BY 1").fetchall())  # fmt: skip
        self.projects = {r[0] for r in con.execute("SELECT project_key FROM projects").fetchall()}
        self.added = {o.target for o in revs.valid("add_organisation")}
        self.org_columns = db.columns(con, "golden_organisations") if self.has_golden else dict.fromkeys(ORG_DETAILS, "VARCHAR")
        self.project_columns = db.columns(con, "projects")
        self.folded: dict[str, str | None] = {}  # caseless(key) -> key; None when two keys fold alike
        for k in (*self.added, *self.org_golden, *self.golden, *self.projects):
            f = caseless(k)
            self.folded[f] = k if self.folded.get(f, k) == k else None

    def key(self, key: str | None) -> str | None:
        """A key as written, or the one key it names in another case or Unicode form ('Cordis:999...')."""
        if key is None or key in self.added or key in self.org_golden or key in self.golden or key in self.projects:
            return key
        return self.folded.get(caseless(key)) or key

    def org(self, key: str | None) -> tuple[str, str | None] | None:
        """-> (golden_id, org_key or None) of an organisation named by org_key, golden id or added key."""
        key = self.key(key)
        for _ in range(50):
            if key is None:
                return None
            if key in self.added:
                return key, key
            if key in self.org_golden:
                return self.org_golden[key], key
            if key in self.golden:
                return key, None
            key = self.moved.get(key)
        return None


@dataclass
class _Plan:
    issues: list[Issue] = dc_field(default_factory=list)
    located: dict[str, tuple] = dc_field(default_factory=dict)  # revision_id -> what it applies to
    skip: set[str] = dc_field(default_factory=set)
    person_names: dict[str, str] = dc_field(default_factory=dict)  # person_id -> the name its first row gives
    withheld_persons: set[str] = dc_field(default_factory=set)  # never published: a withdrawal may mean them


def _stale(o: Operation, key: str | None, what: str = "organisation or project") -> Issue:
    return Issue("stale_target", f"{o.op}: no {what} {key!r} in the warehouse any more (the source dropped or "
                 "renamed it): update or remove the row", o.file, o.line, o.revision_id)  # fmt: skip


def _plan(idx: _Index, revs: Revisions) -> _Plan:
    """Locate every valid row's target; find stale targets and contradicting rows."""
    plan = _Plan()
    plan.skip |= revs.withheld
    for o in revs.valid():
        loc: tuple | None = None
        if o.op == "add_organisation":
            loc = ("org", o.target, o.target)
        elif o.op in ("correct", "hide"):
            org, proj = idx.org(o.target), idx.key(o.target) in idx.projects
            if org and not (proj and o.op == "correct" and o.field not in idx.org_columns):
                loc = ("org", *org)
            elif proj:
                loc = ("project", idx.key(o.target))
            else:
                plan.issues.append(_stale(o, o.target))
        elif o.op in ("merge", "keep_apart", "link", "add_person"):
            org = idx.org(o.target)
            if org is None:
                plan.issues.append(_stale(o, o.target, "organisation"))
            elif o.op == "link":
                if idx.key(o.other) in idx.projects:
                    loc = ("link", *org, idx.key(o.other))
                else:
                    plan.issues.append(_stale(o, o.other, "project"))
            elif o.op in ("merge", "keep_apart"):
                other = idx.org(o.other)
                if other is None:
                    plan.issues.append(_stale(o, o.other, "organisation"))
                else:
                    loc = ("pair", org[0], other[0])
            else:
                loc = ("org", *org)
        if loc is None:
            plan.skip.add(o.revision_id)
        else:
            plan.located[o.revision_id] = loc
    _persons(revs, plan)
    _value_conflicts(revs, plan)
    return plan


def person_id(target: str | None, name: str | None) -> str:
    """A person's id: their organisation as their first row names it, and their name, both folded."""
    return "person-" + hashlib.sha1(f"{caseless(target)}\x1f{caseless(name)}".encode()).hexdigest()[:10]


def _loose(name: str | None) -> str:
    """A name without accents and punctuation ('Märta' ~ 'Marta'): to find what a withdrawal may have meant."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", anyascii(caseless(name))).split())


def _persons(revs: Revisions, plan: _Plan) -> None:
    """Which person each add_person row is about: the same organisation and the same folded name (or the
    person_id a row gives).  A withdrawal that matches no person exactly is `unmatched`, and whom it may mean
    (the same name but for accents and punctuation, at the same organisation) is not published meanwhile."""
    rows = [o for o in revs.valid("add_person") if o.revision_id in plan.located]
    people: dict[tuple, list[Operation]] = {}
    for o in rows:
        if not o.details.get("person_id"):
            people.setdefault((plan.located[o.revision_id][1], caseless(o.details.get("name"))), []).append(o)
    ids: dict[str, tuple] = {}
    for key, group in people.items():
        first = min(group, key=lambda x: (x.date or "", x.file, x.line))
        pid = person_id(first.target, first.details.get("name"))
        ids[pid] = key
        plan.person_names[pid] = first.details["name"]
        for o in group:
            plan.located[o.revision_id] = (*plan.located[o.revision_id][:3], pid)
    consented = {key for key, group in people.items() if any(x.details.get("consent_to_publish") == "yes" for x in group)}
    for o in rows:
        pid, golden = o.details.get("person_id"), plan.located[o.revision_id][1]
        if pid:
            if pid in ids:
                plan.located[o.revision_id] = (*plan.located[o.revision_id][:3], pid)
            else:
                plan.skip.add(o.revision_id)
                plan.issues.append(Issue("unmatched", f"add_person: no person {pid!r} (the person_id of a person "
                                         "row in these files, as published in persons.csv): check the id",
                                         o.file, o.line, o.revision_id))  # fmt: skip
            continue
        key = (golden, caseless(o.details.get("name")))
        if o.details.get("consent_to_publish") != "no" or key in consented:
            continue
        meant = [k for k in consented if k[0] == golden and _loose(k[1]) == _loose(key[1])]
        for k in meant:
            pid_meant = next(p for p, v in ids.items() if v == k)
            plan.withheld_persons.add(pid_meant)
            where = ", ".join(x.where for x in people[k])
            plan.issues.append(Issue("unmatched", f"consent withdrawn for {o.details.get('name')!r} at {o.target}, a "
                                     f"name no person has exactly; {plan.person_names[pid_meant]!r} ({where}) is not "
                                     f"published until the rows agree: write the name as there, or person_id "
                                     f"{pid_meant}", o.file, o.line, o.revision_id))  # fmt: skip


def _value_conflicts(revs: Revisions, plan: _Plan) -> None:
    """Rows setting the same thing differently: the latest date wins; the same date with different values: none.

    Same thing = one field of one organisation / project (whichever key named it), one added organisation, one
    person (name at an organisation: a later row updates the person, e.g. withdraws consent).
    """
    groups: dict[tuple, list[Operation]] = {}
    for o in revs.valid("correct", "add_organisation", "add_person"):
        loc = plan.located.get(o.revision_id)
        if loc is None or o.revision_id in plan.skip:
            continue
        if o.op == "correct":
            key = (loc[0], loc[1], o.field)
            val = (o.value or "").strip()
        elif o.op == "add_organisation":
            key, val = ("added", o.target), json.dumps(o.details, sort_keys=True)
        else:
            key = ("person", loc[3])
            val = json.dumps({k: o.details.get(k) for k in PERSON_DETAILS}, sort_keys=True)
        groups.setdefault(key, []).append((o, val))
    for key, members in groups.items():
        if len({v for _, v in members}) < 2:
            continue
        latest = max(o.date for o, _ in members)
        top = {v for o, v in members if o.date == latest}
        if key[0] == "person" and len(top) > 1:  # the same day, different details: without consent is safe
            top_no = [(o, v) for o, v in members if o.date == latest and o.details.get("consent_to_publish") == "no"]
            winner_val = top_no[-1][1] if top_no else None
        else:
            winner_val = next(iter(top)) if len(top) == 1 else None
        winners = [o for o, v in members if o.date == latest and v == winner_val]
        winner = winners[-1] if winners else None
        for o, v in members:
            others = ", ".join(x.where for x, _ in members if x is not o)
            what = f"{o.field} of {o.target}" if o.op == "correct" else o.target if o.op == "add_organisation" else \
                f"person {o.details.get('name') or plan.person_names.get(key[1])!r} at {o.target}"  # fmt: skip
            if winner is None:
                msg = f"{what}: contradicts {others} of the same date: none is applied until they agree"
            elif o is winner:
                msg = f"{what}: contradicts {others}; this one, the latest, is applied"
            else:
                msg = f"{what}: contradicts {others}; not applied: the later {winner.where} is"
            plan.issues.append(Issue("conflict", msg, o.file, o.line, o.revision_id))
            if o is not winner:
                plan.skip.add(o.revision_id)


def check_targets(con: duckdb.DuckDBPyConnection, revs: Revisions) -> list[Issue]:
    """Stale targets and contradicting rows against a warehouse (read-only): what `apply` would report."""
    return _plan(_Index(con, revs), revs).issues


# -- applying -------------------------------------------------------------------------------------------------
class _Applier:
    def __init__(self, con, idx: _Index, run_id: str, now: datetime):
        self.con, self.idx, self.run_id, self.now = con, idx, run_id, now
        self.applied: list[tuple] = []
        self.issues: list[Issue] = []
        self.persons: dict[str, tuple] = {}
        self.person_names: dict[str, str] = {}  # person_id -> name, for rows that name a person by person_id
        self.metros = {r[0] for r in con.execute("SELECT metropolis_id FROM metropolises").fetchall()}

    def record(self, o: Operation, target: str, fld: str | None, before: Any, after: Any) -> None:
        self.applied.append((o.revision_id, self.run_id, o.op, target, fld, _s(before), _s(after), o.author, o.date,
                             o.reason, self.now))  # fmt: skip

    def invalid(self, o: Operation, msg: str) -> None:
        self.issues.append(Issue("invalid", msg, o.file, o.line, o.revision_id))

    def place(self, country, city, nuts3) -> tuple[str, str, str] | None:
        """The metropolis of an address, by the rules of core/placement.sql (nuts3, then municipality names / aliases)."""
        if nuts3:
            r = self.con.execute("SELECT metropolis_id FROM metropolis_nuts3 WHERE nuts3 = ? ORDER BY 1 LIMIT 1", [nuts3]).fetchone()
            if r:
                return r[0], "nuts3", nuts3
        n = norm_place(city) if city else None
        if n and country:
            r = self.con.execute(
                "SELECT metropolis_id, kind, name FROM metropolis_places WHERE country = ? AND name_norm = ? "
                "ORDER BY CASE kind WHEN 'lau' THEN 1 WHEN 'municipality' THEN 2 ELSE 3 END, metropolis_id LIMIT 1",
                [country, n],
            ).fetchone()
            if r:
                return r[0], "city_alias" if r[1] == "alias" else r[1], r[2]
        return None

    # one method per op ----------------------------------------------------------------------------------------
    def add_organisation(self, o: Operation, loc) -> None:
        d = o.details
        if d.get("metropolis_id") and d["metropolis_id"] not in self.metros:
            return self.invalid(o, f"metropolis_id {d['metropolis_id']!r} is not a configured metropolis")
        placed = (d["metropolis_id"], "revision", o.target) if d.get("metropolis_id") else \
            self.place(d.get("country"), d.get("city"), d.get("nuts3"))  # fmt: skip
        key = o.target
        row = {k: d.get(k) for k in ORG_DETAILS}
        row.update(metropolis_id=placed[0] if placed else None, assigned_by=placed[1] if placed else None)
        golden = {"golden_id": key, **row, "sources": [ADDED_SOURCE], "records": 1, "hidden": False}
        self._insert("golden_organisations", golden)
        self._insert("organisation_sources", {"org_key": key, "golden_id": key, "source": ADDED_SOURCE,
                                              "match_rule": "revision", "score": 1.0})  # fmt: skip
        self._insert("organisations", {"org_key": key, "source": ADDED_SOURCE, "org_id": key.split(":", 1)[1], **row,
                                       "assigned_from": placed[2] if placed else None,
                                       "record_ref": f"revisions/{o.where}"})  # fmt: skip
        self.record(o, key, None, None, d.get("name"))

    def _insert(self, table: str, values: dict) -> None:
        names = {r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if table not in names:
            return
        cols = [c for c in db.columns(self.con, table) if c in values]
        self.con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                         [values[c] for c in cols])  # fmt: skip

    def merge(self, o: Operation, loc) -> None:
        _, a, b = loc
        if a == b:
            return self.record(o, a, None, f"{o.target} | {o.other}", a)
        self.issues.append(Issue("conflict", f"merge of {o.target} and {o.other}: resolution kept them apart "
                                 f"({a} and {b}); a keep_apart of organisations linked to them?", o.file, o.line,
                                 o.revision_id))  # fmt: skip

    def keep_apart(self, o: Operation, loc) -> None:
        _, a, b = loc
        if a != b:
            return self.record(o, f"{a} | {b}", None, None, None)
        self.issues.append(Issue("conflict", f"keep_apart of {o.target} and {o.other}: both are in {a} (merged by "
                                 "merge rows through other organisations?)", o.file, o.line, o.revision_id))  # fmt: skip

    def correct(self, o: Operation, loc) -> None:
        table, key_col, key = ("golden_organisations", "golden_id", loc[1]) if loc[0] == "org" else ("projects", "project_key", loc[1])
        cols = self.idx.org_columns if loc[0] == "org" else self.idx.project_columns
        if o.field in NOT_CORRECTED:
            return self.invalid(o, _protected(o.field))
        if o.field not in cols:
            usable = ", ".join(c for c in cols if c not in NOT_CORRECTED)
            return self.invalid(o, f"{'an organisation' if loc[0] == 'org' else 'a project'} has no field {o.field!r} "
                                f"that may be corrected; the fields are: {usable}")  # fmt: skip
        typ = cols[o.field]
        value = self.con.execute(f"SELECT TRY_CAST(? AS {typ})", [o.value]).fetchone()[0]
        if value is None:
            return self.invalid(o, f"{o.field} {o.value!r} is not a valid {typ.lower()}")
        if o.field == "metropolis_id" and o.value not in self.metros:
            return self.invalid(o, f"metropolis_id {o.value!r} is not a configured metropolis")
        before = self.con.execute(f"SELECT {o.field}::VARCHAR FROM {table} WHERE {key_col} = ?", [key]).fetchone()[0]
        self.con.execute(f"UPDATE {table} SET {o.field} = TRY_CAST(? AS {typ}) WHERE {key_col} = ?", [o.value, key])
        after = self.con.execute(f"SELECT {o.field}::VARCHAR FROM {table} WHERE {key_col} = ?", [key]).fetchone()[0]
        self.record(o, key, o.field, before, after)
        if loc[0] == "org" and o.field == "metropolis_id" and "assigned_by" in cols:
            self.con.execute("UPDATE golden_organisations SET assigned_by = 'revision' WHERE golden_id = ?", [key])

    def replace_after_place_change(self, keys: set[str], metro_corrected: set[str], by: dict[str, Operation]) -> None:
        """An organisation whose address was corrected is placed again (unless its metropolis was corrected too)."""
        if "metropolis_id" not in self.idx.org_columns:
            return
        for key in sorted(keys - metro_corrected):
            country, city, nuts3, metro = self.con.execute(
                "SELECT country, city, nuts3, metropolis_id FROM golden_organisations WHERE golden_id = ?", [key]
            ).fetchone()
            placed = self.place(country, city, nuts3)
            if placed and placed[0] != metro:
                self.con.execute("UPDATE golden_organisations SET metropolis_id = ?, assigned_by = ? WHERE golden_id = ?",
                                 [placed[0], placed[1], key])  # fmt: skip
                self.record(by[key], key, "metropolis_id", metro, placed[0])

    def link(self, o: Operation, loc) -> None:
        _, golden, org_key, project = loc
        keys = [org_key] if org_key else [r[0] for r in self.con.execute(
            "SELECT org_key FROM organisation_sources WHERE golden_id = ? ORDER BY source, org_key", [golden]).fetchall()]  # fmt: skip
        keys = keys or [golden]
        ph = ", ".join("?" for _ in keys)
        present = self.con.execute(f"SELECT role FROM participations WHERE project_key = ? AND org_key IN ({ph}) LIMIT 1",
                                   [project, *keys]).fetchone()  # fmt: skip
        role = o.details.get("role") or o.value or "participant"
        if present:  # the sources have it now: nothing to add
            return self.record(o, f"{golden} -> {project}", "role", present[0], present[0])
        g = self.con.execute("SELECT country, city, nuts3, metropolis_id FROM golden_organisations WHERE golden_id = ?",
                             [golden]).fetchone()  # fmt: skip
        ord_ = self.con.execute("SELECT coalesce(max(ord), 0) + 1 FROM participations WHERE project_key = ?", [project]).fetchone()[0]
        self._insert("participations", {
            "project_key": project, "org_key": keys[0], "source": ADDED_SOURCE, "role": role, "ord": ord_,
            "country": g[0], "city": g[1], "nuts3": g[2], "metropolis_id": g[3],
            "assigned_by": "revision" if g[3] else None, "record_ref": f"revisions/{o.where}",
        })  # fmt: skip
        self.record(o, f"{golden} -> {project}", "role", None, role)

    def hide(self, o: Operation, loc) -> None:
        table, key_col, key = ("golden_organisations", "golden_id", loc[1]) if loc[0] == "org" else ("projects", "project_key", loc[1])
        before = self.con.execute(f"SELECT coalesce(hidden, false) FROM {table} WHERE {key_col} = ?", [key]).fetchone()[0]
        self.con.execute(f"UPDATE {table} SET hidden = true WHERE {key_col} = ?", [key])
        self.record(o, key, "hidden", before, True)

    def add_person(self, o: Operation, loc) -> None:
        _, golden, org_key, pid = loc
        d = o.details
        name = d.get("name") or self.person_names.get(pid)
        self.persons[pid] = (pid, golden, org_key, name, d.get("role"), d.get("email"), d.get("phone"),
                             ADDED_SOURCE, d["consent_to_publish"] == "yes", o.revision_id)  # fmt: skip
        self.record(o, golden, "person", None, pid)


def _s(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def apply(con: duckdb.DuckDBPyConnection, cfg: Config, revs: Revisions, run_id: str) -> dict[str, int]:
    """Apply the revisions to a warehouse being built (after resolution, before the marts); record everything.

    Returns counts: operations, applied, invalid, stale_target, conflict.
    """
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "golden_organisations" not in names:
        raise RuntimeError("revisions.apply needs golden_organisations: run the resolution (resolve.run) first")
    models.run(con, "core/revisions.sql")
    now = datetime.now(UTC).replace(tzinfo=None)
    insert_rows(con, "revisions", [
        (o.revision_id, o.file, o.line, o.op, o.target, o.field, o.value, o.other, o.author, o.date, o.reason,
         json.dumps(o.details, ensure_ascii=False), o.valid)
        for o in revs.operations
    ])  # fmt: skip
    idx = _Index(con, revs)
    plan = _plan(idx, revs)
    ap = _Applier(con, idx, run_id, now)
    ap.person_names = plan.person_names
    place_changed: dict[str, Operation] = {}
    metro_corrected: set[str] = set()
    todo = [o for o in revs.valid() if o.revision_id not in plan.skip]
    for op in ORDER:
        for o in todo:
            if o.op != op:
                continue
            loc = plan.located[o.revision_id]
            n_before = len(ap.applied)
            getattr(ap, op)(o, loc)
            if op == "correct" and loc[0] == "org" and len(ap.applied) > n_before:
                if o.field in PLACE_FIELDS:
                    place_changed[loc[1]] = o
                elif o.field == "metropolis_id":
                    metro_corrected.add(loc[1])
        if op == "correct":
            ap.replace_after_place_change(set(place_changed), metro_corrected, place_changed)
    for pid in plan.withheld_persons & ap.persons.keys():  # a withdrawal may mean them: not published
        ap.persons[pid] = (*ap.persons[pid][:8], False, ap.persons[pid][9])
    insert_rows(con, "persons", list(ap.persons.values()))
    insert_rows(con, "revisions_applied", ap.applied)
    issues = revs.issues + plan.issues + ap.issues
    insert_rows(con, "revision_issues", [(i.revision_id, run_id, i.kind, i.message, i.file, i.line) for i in issues])
    models.run(con, "public/persons.sql")
    counts = {"operations": len(revs.operations), "applied": len({a[0] for a in ap.applied})}
    for kind in KINDS:
        counts[kind] = sum(1 for i in issues if i.kind == kind)
    return counts
