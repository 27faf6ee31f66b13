"""Approved proposals -> the revision store: one file `portal-<metropolis>.csv` per metropolis in the revisions
folder, the same format and checks as the partners' own files (revisions/README.md), applied by every refresh.

The file is written whole from the store's approved proposals (in the order they were approved), to a temporary
file first; it is checked with the revision contract (revisions.load) and only then renamed over the old one,
so a refresh reads the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa

from .. import revisions
from ..config import Config
from .store import proposals, users

COLUMNS = ["op", "target", "field", "value", "other", "author", "date", "reason", "name", "country", "city", "org_type",
           "website", "metropolis_id", "role", "email", "phone", "consent_to_publish", "person_id"]  # fmt: skip
ORG_COLUMNS = ("name", "country", "city", "org_type", "website", "metropolis_id")


class RevisionRefused(ValueError):
    """The revision file that approving would write breaks the revision contract."""


def file_name(metropolis_id: str) -> str:
    return f"portal-{metropolis_id}.csv"


def row(p, author: str, approver: str) -> dict:
    """The revision row of an approved proposal: author, day and the proposal's id with it."""
    d = p.details or {}
    note = f"portal proposal #{p.id} by {author}, approved by {approver} {p.decided_at:%Y-%m-%dT%H:%M:%SZ}"
    base = {"target": p.target, "author": author, "date": f"{p.decided_at:%Y-%m-%d}",
            "reason": f"{p.reason} ({note})" if p.reason else note}  # fmt: skip
    if p.kind == "correct":
        return {**base, "op": "correct", "field": p.field, "value": p.value}
    if p.kind == "hide":
        return {**base, "op": "hide"}
    if p.kind == "add_person":
        return {**base, "op": "add_person", "name": d.get("name"), "role": d.get("role"), "email": d.get("email"),
                "phone": d.get("phone"), "consent_to_publish": "yes" if d.get("consent") else "no"}  # fmt: skip
    if p.kind == "add_organisation":
        return {**base, "op": "add_organisation", **{k: d.get(k) for k in ORG_COLUMNS}}
    if p.kind in ("merge", "split"):  # split: the two source records are different organisations
        return {**base, "op": "merge" if p.kind == "merge" else "keep_apart", "other": d.get("other")}
    if p.kind == "withdraw_consent":  # by person_id when the person is in the warehouse: a renamed one too
        return {**base, "op": "add_person", "name": d.get("name"), "person_id": d.get("person_id"), "consent_to_publish": "no"}
    if p.kind == "edit_person":  # the person's new details; the consent as it stood when approved
        return {**base, "op": "add_person", "person_id": d.get("person_id"), "name": d.get("name"), "role": d.get("role"),
                "email": d.get("email"), "phone": d.get("phone"),
                "consent_to_publish": "yes" if d.get("consent") else "no"}  # fmt: skip
    raise ValueError(f"proposal #{p.id}: unknown kind {p.kind!r}")


def rows(conn: sa.Connection, metropolis_id: str, extra=None) -> list[dict]:
    """The file's rows: every approved proposal of the metropolis (and `extra`, one about to be approved)."""
    a, b = users.alias("a"), users.alias("b")
    q = (sa.select(proposals, a.c.name.label("author_name"), b.c.name.label("approver_name"))
         .join(a, a.c.id == proposals.c.author_id).outerjoin(b, b.c.id == proposals.c.decided_by)
         .where(proposals.c.metropolis_id == metropolis_id, proposals.c.state == "approved")
         .order_by(proposals.c.decided_at, proposals.c.id))  # fmt: skip
    found = list(conn.execute(q).all())
    if extra is not None:
        found.append(extra)
    return [row(p, p.author_name, p.approver_name) for p in found]


def render(rs: list[dict], columns: list[str] = COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerow({"op": "# written by baltetl portal from its approved proposals: change them in the portal"})
    for r in rs:
        w.writerow(r)
    return buf.getvalue()


def check(cfg: Config, name: str, text: str) -> list[str]:
    """The revision contract's complaints about the file (as `baltetl revisions check` would print them)."""
    with tempfile.TemporaryDirectory(prefix="portal-check-") as d:
        (Path(d) / name).write_text(text, encoding="utf-8")
        revs = revisions.load(cfg, d)
    return [str(i) for i in revs.issues if i.kind in ("invalid", "unmatched")]


def write(cfg: Config, metropolis_id: str, rs: list[dict]) -> Path:
    """Check and atomically (re)write the metropolis' file; RevisionRefused (nothing written) if it breaks a rule."""
    name = file_name(metropolis_id)
    text = render(rs)
    problems = check(cfg, name, text)
    if problems:
        raise RevisionRefused("; ".join(problems))
    folder = revisions.folder(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)  # hidden: revisions.load skips dot files
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / name
