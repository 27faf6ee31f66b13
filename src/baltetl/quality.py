"""Validate staged tables against their contracts: rows that fail go to quarantine, never silently away.

A bad value in a field that may be empty (nullable in the contract) and is no part of the record's identity
(the contract's Config metadata `identity`: its keys and required identity fields) is emptied: the record
loads without it and the value goes to quarantine with action `field_nulled`.  A record whose identity
fails, that breaks a table-wide check (end before start, a duplicate) or a required field, is held back
whole (`row_held`), and the rows that refer to it with it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from .types import Parsed

QUARANTINE_COLUMNS = ["table_name", "record_key", "record_ref", "column_name", "check_name", "failure_value", "action"]
HELD, NULLED = "row_held", "field_nulled"
SCHEMAS_PACKAGE = "baltetl_schemas"
MAX_ROUNDS = 5


class ContractError(ValueError):
    """A table cannot be validated at all (a column missing, a whole column of the wrong type)."""


class SourceRejected(RuntimeError):
    """A source's data is worse than its tolerance allows: the source fails, its last good data stays."""


@dataclass
class TableReport:
    table: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0  # rows held back
    fields_nulled: int = 0  # values emptied in rows that loaded
    rows_nulled: int = 0  # rows that loaded with a value emptied
    repaired: int = 0
    top_checks: dict[str, int] = field(default_factory=dict)
    emptied_checks: dict[str, int] = field(default_factory=dict)  # of top_checks: rows that loaded, the value emptied
    notes: list[str] = field(default_factory=list)


@dataclass
class Validated:
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reports: dict[str, TableReport]


def load_contracts(schemas_dir: Path, name: str, path: Path | None = None) -> ModuleType:
    """Import schemas/<name>.py (or the file `path`, a contract in a source's folder) as a module of the
    `baltetl_schemas` package (so it can import .core)."""
    if SCHEMAS_PACKAGE not in sys.modules:
        init = schemas_dir / "__init__.py"
        if not init.exists():
            raise FileNotFoundError(
                f"no contracts at {schemas_dir}: run baltetl from its checkout or set BALTETL_PROJECT_DIR"
            )
        spec = importlib.util.spec_from_file_location(
            SCHEMAS_PACKAGE, init, submodule_search_locations=[str(schemas_dir)]
        )
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[SCHEMAS_PACKAGE] = pkg
        spec.loader.exec_module(pkg)
    if path is None:
        mod = importlib.import_module(f"{SCHEMAS_PACKAGE}.{name}")
    elif (mod := sys.modules.get(f"{SCHEMAS_PACKAGE}.{name}")) is None:
        spec = importlib.util.spec_from_file_location(f"{SCHEMAS_PACKAGE}.{name}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    if not hasattr(mod, "CONTRACTS"):
        raise ContractError(f"{path or f'schemas/{name}.py'} defines no CONTRACTS")
    return mod


def _schema(model) -> pa.DataFrameSchema:
    schema = model.to_schema()
    # of duplicated keys the first row loads, the others are quarantined
    schema.report_duplicates = "exclude_first"
    for col in schema.columns.values():
        if col.unique:
            col.report_duplicates = "exclude_first"
    return schema


def validate_table(df: pd.DataFrame, model, table: str) -> tuple[pd.DataFrame, list[tuple]]:
    """-> (rows that pass, coerced; failures as quarantine tuples, those of emptied fields included)."""
    good, held, nulled = check_table(df, model, table)
    return good, held + nulled


def nullable_fields(model) -> set[str]:
    """The columns whose bad value is emptied rather than holding the record back: nullable in the contract
    and not in its `identity` (none when the contract declares no identity)."""
    identity = (model.__config__.metadata or {}).get("identity")
    if identity is None:
        return set()
    return {name for name, col in _schema(model).columns.items() if col.nullable and name not in identity}


def _isin(values: pd.Series, keys: pd.Series):
    """values.isin(keys) (a missing value is in no keys), in Arrow where both are strings (pandas lists an Arrow
    string column's keys in Python first: ~0.2 s of a CORDIS staging)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = (pa.string(), pa.large_string())
    try:
        a, k = pa.array(values, from_pandas=True), pa.array(keys.dropna(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        a = k = None
    if a is None or a.type not in text or k.type not in text:
        return values.isin(set(keys.dropna()))
    return pc.fill_null(pc.is_in(a, value_set=k.cast(a.type)), False).to_numpy(zero_copy_only=False)


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    """df with the index 0..n-1: itself when it has it already (reset_index copies every column)."""
    if df.index.equals(pd.RangeIndex(len(df))):
        return df
    return df.reset_index(drop=True)


def check_table(df: pd.DataFrame, model, table: str) -> tuple[pd.DataFrame, list[tuple], list[tuple]]:
    """-> (rows that pass, coerced; failures of rows held back; failures of values emptied in rows that pass),
    failures as quarantine tuples.  Lazy: every failing row is found.

    A column whose type coercion fails for some rows cannot run its other checks in the same pass, so
    validation repeats on the remaining rows (bad fields emptied) until they pass.
    """
    schema = _schema(model)
    may_empty = nullable_fields(model)
    df = _numbered(df)
    held: list[tuple] = []
    nulled: dict[int, list[tuple]] = {}  # row -> its emptied values
    remaining = df
    for _ in range(MAX_ROUNDS):
        try:
            return schema.validate(remaining, lazy=True), held, [f for fs in nulled.values() for f in fs]
        except SchemaErrors as exc:
            fc = exc.failure_cases
            rows = fc[fc["index"].notna()]
            uncoercible = _uncoercible(remaining, schema, fc)
            if rows.empty and not uncoercible:
                raise ContractError(f"{table}: {_describe(fc)}") from None
            found: dict[int, list[tuple]] = {}  # row -> [(column, check, value, reported)]
            whole: set[int] = set()  # rows a table-wide check failed
            for idx, col, check, value in uncoercible:
                found.setdefault(idx, []).append((col, check, value, True))
            seen = set()
            for r in rows.itertuples(index=False):
                idx = int(r.index)
                check = _short(str(r.check))
                if r.schema_context == "DataFrameSchema":
                    whole.add(idx)
                k = (idx, r.column, check)
                if k in seen:
                    continue
                seen.add(k)
                # a dtype failure is reported with the coercion failure of the same value
                found.setdefault(idx, []).append((r.column, check, r.failure_case, not check.startswith("dtype(")))
            empty: list[tuple[int, str]] = []
            bad: set[int] = set()
            for idx, fails in found.items():
                rec = df.loc[idx]
                keep = idx not in whole and all(isinstance(c, str) and c in may_empty for c, *_ in fails)
                out = nulled.setdefault(idx, []) if keep else held
                for col, check, value, reported in fails:
                    if reported:
                        out.append((table, _s(rec.get("record_key")), _s(rec.get("record_ref")), _s(col), check, _s(value)))
                    if keep:
                        empty.append((idx, col))
                if not keep:
                    bad.add(idx)
                    held.extend(nulled.pop(idx, []))  # emptied in an earlier round: now held with its row
            remaining = remaining.drop(index=[i for i in remaining.index if i in bad])
            if empty:
                remaining = remaining.copy()
                for idx, col in empty:
                    remaining.loc[idx, col] = None
    raise ContractError(f"{table}: validation did not settle after {MAX_ROUNDS} rounds")


def _uncoercible(df: pd.DataFrame, schema: pa.DataFrameSchema, fc: pd.DataFrame) -> list[tuple]:
    """(row, column, check, value) of the values their column's type cannot take, found value by value.

    pandera reports a coercion that fails for the column as a whole without the rows: an out-of-range date
    ('9999-12-31', '1500-01-01', '-1' read as the year -1), or a date in another format than the column's
    first (pandas parses a column in the format of its first value) would make the whole table uncheckable.
    A value is tried alone and after the column's first value.
    """
    cols = fc.loc[fc["index"].isna() & fc["check"].astype(str).str.startswith("coerce_dtype"), "column"]
    out = []
    for col in cols.dropna().unique():
        dtype = schema.columns[col].dtype

        def coerces(*values) -> bool:
            try:
                dtype.coerce(pd.Series(list(values), dtype=object))
                return True
            except Exception:  # noqa: BLE001 - whatever the type's coercion raises, the value cannot be it
                return False

        present = [(i, v) for i, v in df[col].items() if not (v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)))]
        first = present[0][1] if present else None
        first_ok = bool(present) and coerces(first)
        ok: dict = {}
        for idx, v in present:
            key = (type(v), v) if isinstance(v, (str, int, float)) else (type(v), repr(v))  # lists, dicts
            if key not in ok:
                ok[key] = coerces(v) and (not first_ok or coerces(first, v))
            if not ok[key]:
                out.append((idx, col, f"coerce_dtype('{dtype}')", v))
    return out


def _short(check: str) -> str:
    """'isin(['AD', 'AE', ... 250 codes])' -> 'isin([250 values])'."""
    if len(check) <= 120 or "[" not in check:
        return check
    head, _, rest = check.partition("[")
    body, _, tail = rest.rpartition("]")
    return f"{head}[{body.count(',') + 1} values]{tail}"


def _describe(fc: pd.DataFrame) -> str:
    parts = [f"{r.column or '(table)'}: {r.check} ({r.failure_case})" for r in fc.head(5).itertuples()]
    return "; ".join(parts)


def _s(v) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA or v is pd.NaT:
        return None
    return str(v)[:1000]


def validate(parsed: Parsed, contracts: ModuleType, order: tuple[str, ...], max_share: float,
             min_rows: dict[str, int], max_rows: dict[str, int] | None = None) -> Validated:  # fmt: skip
    """Validate every staged table (parents first), cascade to children of quarantined rows, apply tolerance
    (the source's checks: max_share quarantined, min_rows / max_rows loaded per table)."""
    parents = getattr(contracts, "PARENTS", {})
    reports: dict[str, TableReport] = {}
    tables: dict[str, pd.DataFrame] = {}
    q = [(r.table, r.record_key, r.record_ref, r.column, r.check, r.value, HELD) for r in parsed.rejects]
    rejected_per_table = Counter(r.table for r in parsed.rejects)
    for table in order:
        df = parsed.tables.get(table)
        if df is None:
            raise ContractError(f"the source staged no {table!r} table")
        model = contracts.CONTRACTS.get(table)
        if model is None:
            raise ContractError(f"no contract for table {table!r}")
        rep = TableReport(table, read=len(df) + rejected_per_table.get(table, 0), repaired=parsed.repaired.get(table, 0))
        good, failures, nulled = check_table(df, model, table)
        # rows whose parent row did not load are quarantined with it
        for col, parent, pcol in parents.get(table, []):
            if parent not in tables:
                continue
            if reports[parent].read == 0:  # e.g. organization.csv alone: nothing to check against
                rep.notes.append(f"{parent} not in this input: {col} not checked")
                continue
            orphan = ~_isin(good[col], tables[parent][pcol])
            for rec in good[orphan].itertuples(index=False):
                failures.append((table, _s(rec.record_key), _s(rec.record_ref), col, f"parent:{parent}.{pcol}", _s(getattr(rec, col))))
            good = good[~orphan]
        if nulled:
            kept = set(good["record_key"].map(_s))
            failures += [f for f in nulled if f[1] not in kept]  # of a row held back as an orphan: held with it
            nulled = [f for f in nulled if f[1] in kept]
        q.extend(f + (HELD,) for f in failures)
        q.extend(f + (NULLED,) for f in nulled)
        rep.loaded = len(good)
        rep.quarantined = rep.read - rep.loaded
        rep.fields_nulled, rep.rows_nulled = len(nulled), len({f[1] for f in nulled})
        rows_of: dict[str, set] = {}  # per check the rows it failed (a table-wide check fails every column)
        emptied: dict[str, set] = {}
        for i, f in enumerate(q):
            if f[0] == table:
                row = (f[1], f[2]) if f[1] is not None or f[2] is not None else i
                rows_of.setdefault(f[4], set()).add(row)
                if f[6] == NULLED:
                    emptied.setdefault(f[4], set()).add(row)
        rep.top_checks = dict(sorted(((c, len(r)) for c, r in rows_of.items()), key=lambda kv: (-kv[1], kv[0]))[:5])
        rep.emptied_checks = {c: len(emptied[c]) for c in rep.top_checks if c in emptied}
        reports[table] = rep
        tables[table] = _numbered(good)
    quarantine = pd.DataFrame(q, columns=QUARANTINE_COLUMNS, dtype=object)
    problems = []
    for rep in reports.values():
        # a row that loaded with a value emptied counts too: a source whose values broke en masse fails loudly
        share = (rep.quarantined + rep.rows_nulled) / rep.read if rep.read else 0.0
        if share > max_share:
            nulled = f" and {rep.rows_nulled} loaded with a value emptied" if rep.rows_nulled else ""
            problems.append(
                f"{rep.table}: {rep.quarantined} of {rep.read} rows quarantined{nulled} ({share:.1%} > {max_share:.1%}); "
                f"top checks: {rep.top_checks}"
            )
        need = min_rows.get(rep.table, 0)
        if rep.loaded < need:
            problems.append(f"{rep.table}: {rep.loaded} rows loaded, at least {need} expected")
        most = (max_rows or {}).get(rep.table)
        if most is not None and rep.loaded > most:
            problems.append(f"{rep.table}: {rep.loaded} rows loaded, at most {most} expected")
    result = Validated(tables, quarantine, reports)
    if problems:
        err = SourceRejected("; ".join(problems))
        err.validated = result  # the quarantine is still recorded
        raise err
    return result
