"""The data dictionary (warehouse/dictionary.yaml): what each table, view and column holds.

One source of truth for three readers: the build writes it into the warehouse as COMMENT ON (`apply`), the
exports read the public views' comments back for datapackage.json, and `markdown` renders the README's
dictionary (`python scripts/dictionary.py`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

import yaml

from .db import quote as _q

FILE = "dictionary.yaml"


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {"columns": data.get("columns") or {}, "tables": data.get("tables") or {}, "patterns": data.get("patterns") or {}}


def load(path: Path) -> dict:
    path = Path(path)
    return _load(str(path), path.stat().st_mtime)


def table_doc(d: dict, name: str) -> str | None:
    t = d["tables"].get(name)
    if t and t.get("description"):
        return t["description"]
    return next((text for glob, text in d["patterns"].items() if fnmatchcase(name, glob)), None)


def column_doc(d: dict, table: str, column: str) -> str | None:
    seen, name = set(), table
    while name and name not in seen:  # the table, the tables it is like, then the shared meanings
        seen.add(name)
        t = d["tables"].get(name) or {}
        if column in (t.get("columns") or {}):
            return t["columns"][column]
        name = t.get("like")
    if any(fnmatchcase(table, glob) for glob in d["patterns"]):
        return None  # a source's staged columns are its own
    return d["columns"].get(column)


def apply(con, path: Path, uncommented: bool = False) -> int:
    """COMMENT ON every table, view and column of the warehouse the dictionary describes; returns how many.
    uncommented: only the tables and views without a comment (made or replaced since a first apply)."""
    d = load(path)
    bare = " AND coalesce(comment, '') = ''" if uncommented else ""
    views = {r[0] for r in con.execute(f"SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary{bare}").fetchall()}
    rels = [r[0] for r in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE NOT temporary{bare}").fetchall()] + sorted(views)
    columns: dict[str, list[str]] = {}
    for rel, col in con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
                                "AND schema_name = 'main' ORDER BY table_name, column_index").fetchall():  # fmt: skip
        columns.setdefault(rel, []).append(col)
    stmts = []
    for rel in rels:
        kind = "VIEW" if rel in views else "TABLE"
        doc = table_doc(d, rel)
        if doc:
            stmts.append(f'COMMENT ON {kind} "{rel}" IS {_q(doc)}')
        for col in columns.get(rel, []):
            doc = column_doc(d, rel, col)
            if doc:
                stmts.append(f'COMMENT ON COLUMN "{rel}"."{col}" IS {_q(doc)}')
    if stmts:  # one transaction: a commit per comment costs ~4 ms each
        con.execute("BEGIN TRANSACTION;\n" + ";\n".join(stmts) + ";\nCOMMIT")
    return len(stmts)


def comments(con, relation: str) -> dict[str, str]:
    """column -> its comment in the warehouse (empty when the warehouse was built without the dictionary)."""
    rows = con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ? AND comment IS NOT NULL "
                       "AND comment <> ''", [relation]).fetchall()  # fmt: skip
    return dict(rows)


def markdown(path: Path) -> str:
    """The dictionary as markdown: per table its description and a table of its columns."""
    d = load(path)
    out = ["### Data dictionary", "",
           "Every table, view and column below carries this text as its comment in the warehouse "
           "(`SELECT table_name, column_name, comment FROM duckdb_columns()`); the source is `warehouse/dictionary.yaml`.",
           ""]  # fmt: skip
    for name, t in d["tables"].items():
        out += [f"#### `{name}`", "", t.get("description", ""), ""]
        cols = dict(t.get("columns") or {})
        if t.get("like"):
            out += [f"Columns as `{t['like']}`" + (", and:" if cols else "."), ""]
        if cols:
            out += ["| column | what |", "|---|---|"] + [_row(c, text) for c, text in cols.items()] + [""]
    out += ["#### Columns of the same name", "", "A column means this wherever its table does not say otherwise.", "",
            "| column | what |", "|---|---|"]  # fmt: skip
    out += [_row(c, text) for c, text in d["columns"].items()]
    out += ["", *[f"`{glob}`: {text}." for glob, text in d["patterns"].items()], ""]
    return "\n".join(out)


def _row(column: str, text: str) -> str:
    return f"| `{column}` | " + text.replace("|", "\\|") + " |"
