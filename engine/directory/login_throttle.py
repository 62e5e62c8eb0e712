"""Limits on sign-in attempts per account name and per client address, kept in the database.

Web processes are stateless and several may share one database, so the counters live in the
`login_failures` table. An attempt is counted before its password is checked: a refused attempt
costs no password hashing, and parallel attempts cannot all slip under the limit.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.audit import trail
from engine.db import db, utcnow
from engine.errors import DomainError
from engine.models import LoginFailure

KEY_LENGTH = 150  # usernames are no longer; a longer name is a name nobody has


@dataclass(frozen=True)
class LoginLimits:
    """Failed sign-ins allowed per account and per address within one window."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


class TooManySignIns(DomainError):
    status = 429
    title = "Too many requests"


def note_attempt(username: str, address: str, limits: LoginLimits, now=None) -> None:
    """Count one sign-in attempt; raises TooManySignIns (with `retry_after` seconds) when the
    account or the address has used up its attempts in the current window."""
    now = now or utcnow()
    _forget_expired(now, limits.window)
    for scope, key, limit, whose in (
        ("account", username, limits.per_account, "for this account"),
        ("address", address, limits.per_address, "from your address"),
    ):
        attempts, window_start = _count(scope, key, now, limits.window)
        if attempts <= limit:
            continue
        retry_after = max(1, math.ceil((window_start + limits.window - now).total_seconds()))
        if attempts == limit + 1:  # the first refusal of this window: audit the lockout once
            trail.record("sign_in_throttled", None, scope=scope, username=username, address=address)
        minutes = math.ceil(retry_after / 60)
        raise TooManySignIns(
            f"Too many failed sign-ins {whose}; try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            retry_after=retry_after,
        )


def note_success(username: str, address: str) -> None:
    """A right password: the account starts afresh and the attempt no longer counts as failed."""
    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.scope == "account", LoginFailure.key == _key(username)
        )
    )
    db.session.execute(
        update(LoginFailure)
        .where(LoginFailure.scope == "address", LoginFailure.key == _key(address))
        .where(LoginFailure.attempts > 0)
        .values(attempts=LoginFailure.attempts - 1)
    )


def _key(value: str) -> str:
    return (value or "")[:KEY_LENGTH]


def _count(scope: str, key: str, now: datetime, window: timedelta) -> tuple[int, datetime]:
    """One atomic upsert: +1 in the running window, or a new window starting now."""
    table = LoginFailure.__table__
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(scope=scope, key=_key(key), window_start=now, attempts=1)
    running = table.c.window_start > now - window
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.key],
        set_={
            "attempts": case((running, table.c.attempts + 1), else_=1),
            "window_start": case((running, table.c.window_start), else_=now),
        },
    ).returning(table.c.attempts, table.c.window_start)
    return tuple(db.session.execute(statement).one())


def _forget_expired(now: datetime, window: timedelta) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.window_start <= now - window))
