"""Signing people in to the web pages with their local password."""

from sqlalchemy import select

from engine.db import db
from engine.directory import check_password
from engine.models import User


def authenticate(username: str, password: str) -> User | None:
    """The active user whose password matches, or None (same cost whether the user exists)."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if not check_password(user, password or "") or not user.active:
        return None
    return user


def session_user(user_id: str | None) -> User | None:
    """The user a browser session names, while that user is still active."""
    user = db.session.get(User, user_id) if user_id else None
    return user if user is not None and user.active else None
