"""Looking people and applications up in the directory."""

from sqlalchemy import select

from engine.db import db
from engine.errors import Invalid
from engine.models import Application, Group, User


def user_by_username(username: str, field: str = "username") -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise Invalid(f"unknown user {username!r}", field=field)
    return user


def find_application(key: str) -> Application | None:
    """The application with this key, enabled or not; the one lookup every other goes through."""
    return db.session.scalar(select(Application).where(Application.key == key))


def application_by_key(key: str) -> Application:
    app = find_application(key)
    if app is None:
        raise Invalid(f"unknown application {key!r}", field="application")
    return app


def group_name_of(group_id: str | None) -> str | None:
    """The name behind a group id (from the session's identity map when already loaded)."""
    group = db.session.get(Group, group_id) if group_id is not None else None
    return group.name if group is not None else None


def username_of(user_id: str | None) -> str | None:
    """The username behind an id (from the session's identity map when already loaded)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.username if user is not None else None
