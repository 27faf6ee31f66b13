"""Open-data exports beside the site: CSV and Parquet per public table, one JSON dump, datapackage.json.

Every export reads a public_* view (warehouse/public/views.sql) and nothing else.  CSV holds list columns as JSON
arrays (Table Schema type `array`) and guards text cells a spreadsheet would run as a formula (starting with
= + - @, tab or CR, or a character NFKC folds to one of them such as the fullwidth ＝) with a leading
apostrophe; Parquet and the JSON dump hold the values as they are.  Links (URL_COLUMNS) are in every format
what the site links: an http(s) address (urls.web_url) or empty, never a javascript: or data: address.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import duckdb

from . import dictionary
from .db import quote as _q
from .urls import web_url

URL_COLUMNS = ("website", "url")  # links taken from the data

# file name -> (view, title, primary key, ordering); optional views are exported when the warehouse has them
TABLES = {
    "metropolises": ("public_metropolises", "Metropolises with their published organisations and projects",
                     ["metropolis_id"]),
    "organisations": ("public_organisations", "Organisations, one record per real organisation across sources",
                      ["golden_id"]),
    "organisation_sources": ("public_organisation_sources", "The source records behind each organisation",
                             ["org_key"]),
    "projects": ("public_projects", "Projects with a partner in a metropolis", ["project_key"]),
    "participations": ("public_participations", "Which organisation takes part in which project, in which role",
                       None),
    "project_metropolises": ("public_project_metropolises", "The metropolises each project has partners in",
                             ["project_key", "metropolis_id"]),
    "network_memberships": ("public_network_memberships", "Memberships of city and cluster networks", None),
    "persons": ("public_persons", "Contact persons who consented to publication", ["person_id"]),
    "metropolis_links": ("public_metropolis_links", "Co-operation between metropolises: shared ongoing projects",
                         ["metro_a", "metro_b"]),
    "sources": ("public_sources", "The sources and the date their data was fetched", ["source"]),
    "topics": ("public_topics", "The topics of the BaltMet profile: id and label", ["topic"]),
    "project_topics": ("public_project_topics", "Topic relevance of each project", ["project_key"]),
    "organisation_topics": ("public_organisation_topics", "Topics of each organisation, weighted",
                            ["golden_id", "topic"]),
    "opportunities": ("public_opportunities", "Co-operation opportunities between organisations of two metropolises",
                      None),
    "metropolis_opportunities": ("public_metropolis_opportunities", "Co-operation opportunities per pair of metropolises",
                                 ["metro_a", "metro_b"]),
}
ORDER = {"participations": "project_key, ord, golden_id, role", "network_memberships": "golden_id, network",
         "opportunities": "metro_a, metro_b, rank_in_pair, golden_a, golden_b"}  # fmt: skip


def _field_type(duck: str) -> str:
    t = duck.upper()
    if t.endswith("[]"):
        return "array"
    if t in ("BOOLEAN",):
        return "boolean"
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return "integer"
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL")):
        return "number"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "datetime"
    return "string"


@lru_cache(maxsize=1)
def _formula_start() -> str:
    """A regular expression of the first characters a spreadsheet may run as a formula: = + - @ tab CR and
    every character whose NFKC form starts with = + - or @ (fullwidth, small, superscript ...)."""
    chars = "".join(chr(i) for i in range(0x10000) if unicodedata.normalize("NFKC", chr(i))[:1] in "=+-@")
    return "^[\\t\\r" + "".join(re.escape(c) if c in "\\]^-" else c for c in chars) + "]"


def _csv_select(view: str, cols: list[tuple[str, str]], order: str) -> str:
    out = []
    for name, typ in cols:
        c = f'"{name}"'
        if typ.endswith("[]"):
            out.append(f"to_json({c})::VARCHAR AS {c}")
        elif typ == "VARCHAR":
            out.append(f"CASE WHEN regexp_matches({c}, {_q(_formula_start())}) THEN '''' || {c} ELSE {c} END AS {c}")
        else:
            out.append(c)
    return f"SELECT {', '.join(out)} FROM {view} ORDER BY {order}"


def _linked(con, name: str, view: str, cols: list[tuple[str, str]]) -> tuple[str, int]:
    """(a temporary table of the view with its links as the site shows them, how many values were emptied for
    not being an http(s) address); the view itself when it has no links."""
    urls = [f'"{c}"' for c, t in cols if c in URL_COLUMNS and t == "VARCHAR"]
    if not urls:
        return view, 0
    safe = ", ".join(f"baltetl_web_url({c}) AS {c}" for c in urls)
    con.execute(f"CREATE OR REPLACE TEMP TABLE export_{name} AS SELECT * REPLACE ({safe}) FROM {view}")
    given, kept = (con.execute(f"SELECT {' + '.join(f'count({c})' for c in urls)} FROM {t}").fetchone()[0]
                   for t in (view, f"export_{name}"))
    emptied = given - kept
    return f"export_{name}", emptied


def write(con: duckdb.DuckDBPyConnection, dest: Path, meta: dict, tables: dict[str, str]) -> list[dict]:
    """Write every public table in `tables` (export name -> the relation holding it) as CSV and Parquet, the
    JSON dump and datapackage.json into `dest`.  meta: title, description, created, sources (name ->
    licence/attribution config), present (the sources with data), reference (geo.reference_credits(), the
    shipped reference files).  Returns the files: {path, rows, bytes}."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        con.create_function("baltetl_web_url", web_url, ["VARCHAR"], "VARCHAR", null_handling="special", side_effects=False)
    except duckdb.NotImplementedException:
        pass  # registered by an earlier export on this connection
    resources, files, dump = [], [], []
    for name, relation in tables.items():
        title, key = TABLES[name][1], TABLES[name][2]
        cols = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {relation}").fetchall()]
        view, emptied = _linked(con, name, relation, cols)
        order = ORDER.get(name) or ", ".join(key or [c for c, _ in cols[:2]])
        rows = con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
        con.execute(f"COPY ({_csv_select(view, cols, order)}) TO {_q(dest / f'{name}.csv')} (HEADER, DELIMITER ',')")
        con.execute(f"COPY (SELECT * FROM {view} ORDER BY {order}) TO {_q(dest / f'{name}.parquet')} "
                    "(FORMAT parquet, COMPRESSION zstd)")  # fmt: skip
        dump.append(f"(SELECT coalesce(list(t ORDER BY {order}), []) FROM {view} t) AS \"{name}\"")
        docs = dictionary.comments(con, TABLES[name][0])  # the data dictionary, as the build wrote it
        fields = [{"name": c, "type": _field_type(t), **({"description": docs[c]} if c in docs else {})}
                  for c, t in cols]  # fmt: skip
        schema = {"fields": fields, **({"primaryKey": key} if key else {})}
        licences = _licences(meta, _sources_of(con, view, cols) or meta["present"])
        for fmt, media in (("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")):
            res = {"name": name if fmt == "csv" else f"{name}-parquet", "path": f"{name}.{fmt}", "title": title,
                   "format": fmt, "mediatype": media, "schema": schema, "licenses": licences}
            if fmt == "csv":
                res.update(profile="tabular-data-resource", encoding="utf-8")
            resources.append(res)
            files.append({"path": f"{name}.{fmt}", "rows": rows, "bytes": (dest / f"{name}.{fmt}").stat().st_size,
                          **({"links_emptied": emptied} if emptied else {})})
    con.execute(f"COPY (SELECT {', '.join(dump)}) TO {_q(dest / 'baltmet.json')} (FORMAT json)")
    files.append({"path": "baltmet.json", "rows": None, "bytes": (dest / "baltmet.json").stat().st_size})
    resources.append({"name": "json-dump", "path": "baltmet.json", "format": "json", "mediatype": "application/json",
                      "title": "Every table above in one JSON object: table name -> list of rows",
                      "licenses": _licences(meta, meta["present"])})  # fmt: skip
    package = {
        "profile": "data-package",
        "name": "baltmet-community-database",
        "title": meta["title"],
        "description": meta["description"],
        "created": meta["created"],
        "licenses": _licences(meta, meta["present"]),
        "sources": [{"title": f"{s['title']} ({s['attribution']})", "path": s["path"]}
                    for n, s in meta["sources"].items() if n in meta["present"] or s.get("reference")]
                   + [{"title": f"Reference data, {_scope(g)}: {g['credit']}"} for g in meta.get("reference", ())],
        "resources": resources,
    }  # fmt: skip
    text = json.dumps(package, ensure_ascii=False, indent=2)
    (dest / "datapackage.json").write_text(text + "\n", encoding="utf-8")
    files.append({"path": "datapackage.json", "rows": None, "bytes": len(text.encode()) + 1})
    return files


def _sources_of(con, view: str, cols: list[tuple[str, str]]) -> list[str]:
    names = dict(cols)
    if names.get("source") == "VARCHAR":
        return [r[0] for r in con.execute(f"SELECT DISTINCT source FROM {view} ORDER BY 1").fetchall()]
    if names.get("sources") == "VARCHAR[]":
        return [r[0] for r in con.execute(f"SELECT DISTINCT unnest(sources) FROM {view} ORDER BY 1").fetchall()]
    return []


def _licences(meta: dict, sources) -> list[dict]:
    """The licences of these sources (and of the reference data), each once."""
    out, seen = [], set()
    for name, s in meta["sources"].items():
        if name not in sources and not s.get("reference"):
            continue
        lic = dict(s.get("licence") or {})
        if not lic:
            continue
        key = (lic.get("name"), lic.get("path"), lic.get("title"))
        if key not in seen:
            seen.add(key)
            out.append(lic)
    for g in meta.get("reference", ()):  # the shipped geography and postcode lists, used by every placement
        out.append({"title": f"{g['licence']} ({_scope(g)}: {g['credit']})", "path": g["url"]})
    return out


def _scope(g: dict) -> str:
    return f"postcodes {' '.join(g['countries'])}" if g["countries"] else "geography"
