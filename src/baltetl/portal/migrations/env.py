"""Alembic environment of the portal store: run by store.migrate() with the connection in config.attributes,
or by `alembic -x url=... upgrade head` from this folder's alembic.ini-less setup (script_location given)."""

from alembic import context
from sqlalchemy import create_engine

config = context.config


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).begin() as c:
        context.configure(connection=c, render_as_batch=c.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run()
