"""`baltetl portal`: the partners' e-service and its users.

    baltetl portal serve [--host H] [--port P]
    baltetl portal users add NAME --role partner --metropolis riga   # prints a one-time password
    baltetl portal users list
    baltetl portal users disable NAME  (enable NAME, reset NAME)
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import ConfigOpt, warehouse_option

Warehouse = warehouse_option("The warehouse the portal reads (read-only).")


def _cfg(config, warehouse):
    from ..config import ConfigError, load_config

    try:
        return load_config(config, warehouse=warehouse)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add the `portal` sub-command group to the main typer app."""
    sub = typer.Typer(no_args_is_help=True, add_completion=False, help="The partners' e-service (web portal).")
    usr = typer.Typer(no_args_is_help=True, add_completion=False, help="Portal users: add, list, disable.")

    @sub.command("serve")
    def serve(
        host: Annotated[Optional[str], typer.Option(help="Address to listen on (default [portal] host, 127.0.0.1).")] = None,
        port: Annotated[Optional[int], typer.Option(help="Port (default [portal] port, 8400).")] = None,
        config: ConfigOpt = None,
        warehouse: Warehouse = None,
    ) -> None:  # fmt: skip
        """Start the portal (behind a reverse proxy with TLS for anything but a try-out)."""
        import uvicorn

        from ..portal import store
        from ..portal.app import create_app

        cfg = _cfg(config, warehouse)
        s = store.settings(cfg)
        app_ = create_app(cfg)
        typer.echo(f"portal store {store.database_url(cfg)}; warehouse {cfg.warehouse} (read-only)")
        uvicorn.run(app_, host=host or s["host"], port=port or int(s["port"]), proxy_headers=True,
                    forwarded_allow_ips=s.get("trusted_proxies", "127.0.0.1"), server_header=False)  # fmt: skip

    def _conn(config, warehouse):
        from ..portal import store

        cfg = _cfg(config, warehouse)
        return cfg, store.engine(cfg)

    @usr.command("add")
    def add(
        name: str,
        role: Annotated[str, typer.Option(help="partner, coordinator or viewer.")] = "partner",
        metropolis: Annotated[Optional[list[str]], typer.Option("--metropolis", "-m", help="A metropolis of the user (repeatable).")] = None,
        config: ConfigOpt = None,
        warehouse: Warehouse = None,
    ) -> None:  # fmt: skip
        """Add a user; prints a one-time password that must be changed at the first sign-in."""
        from ..portal.auth import AuthError, add_user

        cfg, eng = _conn(config, warehouse)
        try:
            with eng.begin() as conn:
                pw = add_user(conn, name, role, list(metropolis or []), {m.id for m in cfg.metropolises})
        except AuthError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"user {name} ({role}) added; one-time password (to be changed at first sign-in): {pw}")

    @usr.command("list")
    def list_(config: ConfigOpt = None, warehouse: Warehouse = None) -> None:
        """The users, their roles and metropolises."""
        import sqlalchemy as sa

        from ..portal.store import users

        _, eng = _conn(config, warehouse)
        with eng.connect() as conn:
            for u in conn.execute(sa.select(users).order_by(users.c.name)):
                state = "disabled" if u.disabled else ("must change password" if u.must_change_password else "active")
                typer.echo(f"{u.name}\t{u.role}\t{u.metropolises or '-'}\t{state}")

    def _toggle(name, config, warehouse, what: str):
        from ..portal.auth import AuthError, reset_password, set_disabled

        _, eng = _conn(config, warehouse)
        try:
            with eng.begin() as conn:
                if what == "reset":
                    return reset_password(conn, name)
                set_disabled(conn, name, what == "disable")
        except AuthError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    @usr.command("disable")
    def disable(name: str, config: ConfigOpt = None, warehouse: Warehouse = None) -> None:
        """Disable a user: signed out at their next request, and no sign-in any more."""
        _toggle(name, config, warehouse, "disable")
        typer.echo(f"user {name} disabled")

    @usr.command("enable")
    def enable(name: str, config: ConfigOpt = None, warehouse: Warehouse = None) -> None:
        """Enable a disabled user again."""
        _toggle(name, config, warehouse, "enable")
        typer.echo(f"user {name} enabled")

    @usr.command("reset")
    def reset(name: str, config: ConfigOpt = None, warehouse: Warehouse = None) -> None:
        """A new one-time password for a user (their sessions end)."""
        pw = _toggle(name, config, warehouse, "reset")
        typer.echo(f"one-time password of {name} (to be changed at first sign-in): {pw}")

    sub.add_typer(usr, name="users")
    app.add_typer(sub, name="portal")
