"""Read-only look-ups in the warehouse for the portal: one short DuckDB connection per request.

A refresh builds a new file and swaps it in with one rename; a read-only connection opened before keeps its
snapshot and one opened after sees the new file, so the portal never waits for a refresh and never blocks one.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import duckdb

FIELDS = ("name", "short_name", "org_type", "activity_type", "city", "country", "nuts3", "website")
LABELS = {"name": "Name", "short_name": "Short or English name", "org_type": "Type", "activity_type": "Activity type",
          "city": "City (address)", "country": "Country", "nuts3": "NUTS3 region", "website": "Website"}  # fmt: skip


class Unavailable(RuntimeError):
    """The warehouse cannot be read just now (not built yet, or being replaced)."""


@contextmanager
def connect(path: Path):
    if not path.exists():
        raise Unavailable(f"no warehouse at {path} yet: run baltetl refresh")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise Unavailable(f"the warehouse cannot be read just now ({exc.__class__.__name__}); try again") from exc
    try:
        yield con
    finally:
        con.close()


def _dicts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def metropolises(con) -> dict[str, str]:
    return dict(con.execute("SELECT metropolis_id, name FROM metropolises ORDER BY name").fetchall())


def org_types(con, metros: list[str] | None) -> list[str]:
    where, args = _in("metropolis_id", metros)
    return [r[0] for r in con.execute(f"SELECT DISTINCT org_type FROM golden_organisations WHERE org_type IS NOT NULL "
                                      f"AND {where} ORDER BY 1", args).fetchall()]  # fmt: skip


def _in(col: str, values: list[str] | None) -> tuple[str, list]:
    if values is None:
        return "true", []
    if not values:
        return "false", []
    return f"{col} IN ({', '.join('?' for _ in values)})", list(values)


def search(con, metros: list[str] | None, q: str = "", org_type: str = "", source: str = "", limit: int = 100) -> list[dict]:
    """Organisations of the metropolises (None: all) whose name, in any of their source records and any
    language, contains q (case and accents ignored)."""
    where, args = _in("g.metropolis_id", metros)
    sql = f"""
        SELECT g.golden_id, g.name, g.org_type, g.city, g.metropolis_id, g.sources, g.hidden
        FROM golden_organisations g
        WHERE {where}
          AND (? = '' OR g.org_type = ?)
          AND (? = '' OR list_contains(g.sources, ?))
          AND (? = '' OR strip_accents(lower(g.name || ' ' || coalesce(g.short_name, ''))) LIKE ? OR EXISTS (
                SELECT 1 FROM organisation_sources s JOIN organisations o USING (org_key)
                WHERE s.golden_id = g.golden_id
                  AND strip_accents(lower(o.name || ' ' || coalesce(o.short_name, ''))) LIKE ?))
        ORDER BY g.name LIMIT {int(limit)}"""
    like = "%" + _plain(q) + "%"
    return _dicts(con.execute(sql, [*args, org_type, org_type, source, source, q.strip(), like, like]))


def _plain(q: str) -> str:
    import unicodedata

    s = "".join(c for c in unicodedata.normalize("NFKD", q.strip().lower()) if not unicodedata.combining(c))
    return s.replace("\\", "").replace("%", "").replace("_", " ").strip()


def organisation(con, golden_id: str) -> dict | None:
    """One organisation: its published values, each source record's values, the revisions applied to it and
    its persons (with their consent)."""
    rows = _dicts(con.execute("SELECT * FROM golden_organisations WHERE golden_id = ?", [golden_id]))
    if not rows:
        return None
    org = rows[0]
    org["records"] = _dicts(con.execute(
        "SELECT o.*, s.match_rule FROM organisation_sources s JOIN organisations o USING (org_key) "
        "WHERE s.golden_id = ? ORDER BY o.source, o.org_key", [golden_id]))  # fmt: skip
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    org["revisions"] = _dicts(con.execute(
        "SELECT field, before, after, author, date, reason FROM revisions_applied WHERE target = ? ORDER BY applied_at",
        [golden_id])) if "revisions_applied" in names else []  # fmt: skip
    org["persons"] = _dicts(con.execute(
        "SELECT person_id, name, role, email, phone, consent_to_publish FROM persons WHERE golden_id = ? ORDER BY name",
        [golden_id])) if "persons" in names else []  # fmt: skip
    return org


def person(con, person_id: str) -> dict | None:
    """One contact person (any consent) with their organisation's metropolis; None when there is none."""
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "persons" not in names:
        return None
    rows = _dicts(con.execute(
        "SELECT p.person_id, p.golden_id, p.name, p.role, p.email, p.phone, p.consent_to_publish, g.metropolis_id "
        "FROM persons p LEFT JOIN golden_organisations g USING (golden_id) WHERE p.person_id = ?", [person_id]))  # fmt: skip
    return rows[0] if rows else None


def target_key(org: dict) -> str:
    """The key a revision row names the organisation by: its first source record (a golden id may change when
    the resolution changes; a source record keeps naming the organisation it belongs to)."""
    return org["records"][0]["org_key"] if org["records"] else org["golden_id"]


def field_sources(org: dict, field: str) -> list[tuple[str, str]]:
    """Where a field's value comes from: (source record, its value) for each record, then the revisions."""
    out = [(r["org_key"], r.get(field)) for r in org["records"] if r.get(field) not in (None, "")]
    out += [(f"revision by {r['author']} ({r['date']})", r["after"]) for r in org["revisions"] if r["field"] == field]
    return out
