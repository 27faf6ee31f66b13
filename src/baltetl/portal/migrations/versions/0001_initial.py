"""The portal store: users, sessions, failed sign-ins, proposals and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("metropolises", sa.String(500), nullable=False, server_default=""),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failures_name_ip", "login_failures", ["name", "ip", "at"])
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("metropolis_id", sa.String(50), nullable=False, index=True),
        sa.Column("golden_id", sa.String(300), nullable=False, index=True),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("field", sa.String(50)),
        sa.Column("value", sa.Text),
        sa.Column("based_on", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(20), nullable=False, server_default="pending", index=True),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("comment", sa.Text),
        sa.Column("revision_file", sa.String(200)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user_name", sa.String(100)),
        sa.Column("ip", sa.String(64)),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("object", sa.String(300)),
        sa.Column("detail", sa.JSON),
    )
    # append-only: the store itself refuses to change or delete an audit row
    if op.get_bind().dialect.name == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
                       "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")


def downgrade() -> None:
    for t in ("audit_log", "proposals", "login_failures", "sessions", "users"):
        op.drop_table(t)
