"""Signing people in to the web pages with their local password, signing them out, and the
one check that refuses whoever is not an administrator."""

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from engine.db import db
from engine.directory.passwords import check_password
from engine.errors import NotAllowed
from engine.models import User


def authenticate(username: str, password: str) -> User | None:
    """The active user whose password matches, or None (same cost whether the user exists)."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if not check_password(user, password or "") or not user.active:
        return None
    return user


def session_user(user_id: str | None, session_version: int | None) -> User | None:
    """The user a browser session names, while that user is active and has not signed out (or
    changed password) since the session began."""
    # The user's groups come along (every page asks is_admin for its menu): one round trip.
    user = db.session.get(User, user_id, options=[joinedload(User.groups)]) if user_id else None
    if user is None or not user.active or user.session_version != session_version:
        return None
    return user


def end_sessions(user: User) -> None:
    """Every session cookie issued to `user` so far stops working, on every device."""
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session="fetch")
    )


def require_admin(user: User, action: str = "do this") -> None:
    """Refuse (NotAllowed) anyone who is not an administrator: "only administrators may ..."."""
    if not user.is_admin:
        raise NotAllowed(f"only administrators may {action}")
