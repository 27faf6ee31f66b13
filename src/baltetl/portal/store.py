"""The portal's own store: users, sessions, failed sign-ins, proposals and the append-only audit log.

SQLite next to the warehouse by default (`<warehouse>.portal.sqlite`), any SQLAlchemy URL by `[portal]
database_url` (PostgreSQL for a shared deployment).  The schema is made and changed by the Alembic migrations in
migrations/ (`migrate`, run at every start).  The store never touches the warehouse file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from ..config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("partner", "coordinator", "viewer")
STATES = ("pending", "approved", "rejected", "superseded")

meta = sa.MetaData()
users = sa.Table(
    "users", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("metropolises", sa.String(500), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("must_change_password", sa.Boolean, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)  # fmt: skip
sessions = sa.Table(
    "sessions", meta,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)  # fmt: skip
login_failures = sa.Table(
    "login_failures", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)  # fmt: skip
proposals = sa.Table(
    "proposals", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),       # correct | hide | add_person | withdraw_consent
    sa.Column("metropolis_id", sa.String(50), nullable=False),
    sa.Column("golden_id", sa.String(300), nullable=False),  # the organisation as the portal showed it
    sa.Column("target", sa.String(300), nullable=False),     # the key the revision row names (a source record)
    sa.Column("field", sa.String(50)),
    sa.Column("value", sa.Text),
    sa.Column("based_on", sa.Text),                          # the warehouse value the proposal was made against
    sa.Column("reason", sa.Text),
    sa.Column("details", sa.JSON, nullable=False),           # a person and their consent record
    sa.Column("author_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("decided_by", sa.Integer),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("comment", sa.Text),
    sa.Column("revision_file", sa.String(200)),
)  # fmt: skip
audit_log = sa.Table(
    "audit_log", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("user_name", sa.String(100)),
    sa.Column("ip", sa.String(64)),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("object", sa.String(300)),
    sa.Column("detail", sa.JSON),
)  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def settings(cfg: Config) -> dict[str, Any]:
    """The `[portal]` table of the configuration over the defaults."""
    return {**DEFAULTS, **(cfg.raw.get("portal") or {})}


DEFAULTS: dict[str, Any] = {
    "database_url": "",          # empty: sqlite:///<warehouse>.portal.sqlite
    "host": "127.0.0.1",
    "port": 8400,
    "trusted_proxies": "127.0.0.1",  # whose X-Forwarded-For / -Proto are believed (the reverse proxy)
    "secure_cookies": False,     # true behind TLS: the session cookie is sent over https only
    "session_hours": 12,
    "login_max_failures": 5,     # failed sign-ins per user and address before they are slowed down
    "login_window_s": 900,       # failures older than this are forgotten
    "login_delay_s": 30,         # the wait after max failures, doubled for each further failure
    "login_max_delay_s": 3600,
    "min_password_length": 12,
    "max_text": 2000,            # the longest text a form field takes
}  # fmt: skip


def database_url(cfg: Config) -> str:
    url = settings(cfg)["database_url"]
    return url or f"sqlite:///{cfg.warehouse.with_name(cfg.warehouse.name + '.portal.sqlite')}"


def engine(cfg: Config) -> sa.Engine:
    """An engine on the store, migrated to the latest schema."""
    url = database_url(cfg)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    eng = sa.create_engine(url, future=True)
    if eng.dialect.name == "sqlite":

        @event.listens_for(eng, "connect")
        def _sqlite(dbapi_con, _):  # durable, and readers never wait for a writer
            dbapi_con.execute("PRAGMA journal_mode=WAL")
            dbapi_con.execute("PRAGMA synchronous=FULL")
            dbapi_con.execute("PRAGMA busy_timeout=10000")
            dbapi_con.execute("PRAGMA foreign_keys=ON")

    migrate(eng)
    return eng


def migrate(eng: sa.Engine) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    ac = AlembicConfig()
    ac.set_main_option("script_location", str(MIGRATIONS))
    with eng.begin() as conn:
        ac.attributes["connection"] = conn
        command.upgrade(ac, "head")


def audit(conn: sa.Connection, action: str, user: str | None = None, ip: str | None = None, obj: Any = None,
          **detail: Any) -> None:
    """One row of the audit log (it is never changed or deleted: the store refuses it)."""
    conn.execute(audit_log.insert().values(at=now(), user_name=user, ip=ip, action=action,
                                           object=None if obj is None else str(obj), detail=detail or None))  # fmt: skip


def user_by_name(conn: sa.Connection, name: str):
    return conn.execute(sa.select(users).where(users.c.name == name)).first()


def user_by_id(conn: sa.Connection, uid: int):
    return conn.execute(sa.select(users).where(users.c.id == uid)).first()


def metros(user) -> list[str]:
    return [m for m in (user.metropolises or "").split(",") if m]
