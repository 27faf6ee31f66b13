"""Passwords, sessions, CSRF tokens and the sign-in rate limit of the portal.

Passwords are argon2id hashes (argon2-cffi).  A session is a random token in an HttpOnly, SameSite=Lax cookie
(Secure behind TLS); the store keeps only its SHA-256, with the session's CSRF token that every form carries.
After `login_max_failures` failed sign-ins for one user name from one address within `login_window_s`, further
attempts are refused (HTTP 429) for `login_delay_s`, doubled for each further failure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import store
from .store import login_failures, sessions, users

HASHER = PasswordHasher()
_DUMMY = HASHER.hash("not a password of anyone")  # an unknown user costs as much time as a wrong password
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")


class AuthError(ValueError):
    """A refused user-admin action or sign-in, in plain words."""


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(conn: sa.Connection, name: str, role: str, metropolises: list[str], known_metros: set[str]) -> str:
    """Create a user; -> the one-time password they must change at first sign-in."""
    if not NAME.match(name):
        raise AuthError(f"user name {name!r}: 2-100 letters, digits, . _ @ - (no spaces)")
    if role not in store.ROLES:
        raise AuthError(f"role {role!r}: use one of {', '.join(store.ROLES)}")
    unknown = [m for m in metropolises if m not in known_metros]
    if unknown:
        raise AuthError(f"unknown metropolis {', '.join(unknown)}; configured: {', '.join(sorted(known_metros))}")
    if role == "partner" and not metropolises:
        raise AuthError("a partner needs at least one --metropolis")
    if store.user_by_name(conn, name):
        raise AuthError(f"user {name!r} exists already")
    pw = one_time_password()
    conn.execute(users.insert().values(name=name, role=role, metropolises=",".join(metropolises),
                                       password_hash=HASHER.hash(pw), must_change_password=True, disabled=False,
                                       created_at=store.now()))  # fmt: skip
    store.audit(conn, "user_added", "cli", None, name, role=role, metropolises=metropolises)
    return pw


def reset_password(conn: sa.Connection, name: str) -> str:
    u = store.user_by_name(conn, name)
    if not u:
        raise AuthError(f"no user {name!r}")
    pw = one_time_password()
    conn.execute(users.update().where(users.c.id == u.id).values(password_hash=HASHER.hash(pw), must_change_password=True))
    conn.execute(sessions.delete().where(sessions.c.user_id == u.id))
    store.audit(conn, "password_reset", "cli", None, name)
    return pw


def set_disabled(conn: sa.Connection, name: str, disabled: bool = True) -> None:
    u = store.user_by_name(conn, name)
    if not u:
        raise AuthError(f"no user {name!r}")
    conn.execute(users.update().where(users.c.id == u.id).values(disabled=disabled))
    conn.execute(sessions.delete().where(sessions.c.user_id == u.id))
    store.audit(conn, "user_disabled" if disabled else "user_enabled", "cli", None, name)


def check_password(u, password: str) -> bool:
    try:
        return HASHER.verify(u.password_hash if u else _DUMMY, password) and u is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password_problem(u, password: str, repeat: str, min_length: int) -> str | None:
    if password != repeat:
        return "The two new passwords are not the same."
    if len(password) < min_length:
        return f"The new password is too short: at least {min_length} characters."
    if password.lower() == u.name.lower():
        return "The new password must not be your user name."
    if check_password(u, password):
        return "The new password must differ from the one you were given."
    return None


def set_password(conn: sa.Connection, u, password: str) -> None:
    conn.execute(users.update().where(users.c.id == u.id).values(password_hash=HASHER.hash(password),
                                                                 must_change_password=False))  # fmt: skip


# -- the sign-in rate limit -----------------------------------------------------------------------------------
def wait_s(conn: sa.Connection, name: str, ip: str, settings: dict) -> int:
    """Seconds this user name from this address must wait before the next attempt (0: may try now)."""
    since = store.now() - timedelta(seconds=settings["login_window_s"])
    rows = conn.execute(sa.select(login_failures.c.at).where(login_failures.c.name == name.lower(),
                                                             login_failures.c.ip == ip,
                                                             login_failures.c.at >= since)).all()  # fmt: skip
    over = len(rows) - int(settings["login_max_failures"]) + 1
    if over <= 0:
        return 0
    delay = min(settings["login_delay_s"] * 2 ** (over - 1), settings["login_max_delay_s"])
    left = delay - (store.now() - max(r.at for r in rows)).total_seconds()
    return max(0, int(left + 0.999))


def failed(conn: sa.Connection, name: str, ip: str) -> None:
    conn.execute(login_failures.insert().values(name=name.lower(), ip=ip, at=store.now()))


def succeeded(conn: sa.Connection, name: str, ip: str) -> None:
    conn.execute(login_failures.delete().where(login_failures.c.name == name.lower(), login_failures.c.ip == ip))


# -- sessions and CSRF ----------------------------------------------------------------------------------------
def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(conn: sa.Connection, u, hours: float) -> str:
    token = secrets.token_urlsafe(32)
    t = store.now()
    conn.execute(sessions.insert().values(token_hash=token_hash(token), user_id=u.id, csrf=secrets.token_urlsafe(32),
                                          created_at=t, expires_at=t + timedelta(hours=hours)))  # fmt: skip
    return token


def session(conn: sa.Connection, token: str | None):
    """-> (session, user) of a live session token, else None (expired sessions are dropped)."""
    if not token:
        return None
    s = conn.execute(sa.select(sessions).where(sessions.c.token_hash == token_hash(token))).first()
    if s is None:
        return None
    if s.expires_at < store.now():
        conn.execute(sessions.delete().where(sessions.c.token_hash == s.token_hash))
        return None
    return s, store.user_by_id(conn, s.user_id)


def end_session(conn: sa.Connection, token: str | None) -> None:
    if token:
        conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash(token)))


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
