"""API tokens: issued once in clear, stored only as a hash, revocable."""

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.audit import trail
from engine.db import db, utcnow
from engine.directory.lookup import user_by_username
from engine.models import ApiToken, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(username: str) -> str:
    """A new bearer token for the user; the clear text exists only in this return value."""
    user = user_by_username(username)
    token = "af_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token)))
    trail.record("token_issued", user.id, username=user.username)
    return token


def user_for_token(token: str) -> User | None:
    """The active user a live token belongs to, or None."""
    # One round trip per API call: the user's groups (for is_admin and inboxes) come along.
    row = (
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.token_hash == _digest(token))
            .options(joinedload(ApiToken.user).joinedload(User.groups))
        )
        .unique()
        .one_or_none()
    )
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row.user


def revoke_tokens(username: str) -> int:
    user = user_by_username(username)
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = utcnow()
    return len(rows)
