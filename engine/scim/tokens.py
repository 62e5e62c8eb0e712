"""SCIM bearer tokens: admin-issued per identity provider, stored hashed, only for /scim/v2."""

import hashlib
import secrets

from sqlalchemy import select, update

from engine.audit import trail
from engine.db import db, utcnow
from engine.directory.authentication import require_admin
from engine.errors import Conflict, Invalid, NotFound
from engine.models import ScimToken, User
from engine.unit_of_work import unit_of_work

PREFIX = "afscim_"  # distinct from API tokens ("af_"), so a leaked one is recognisable


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_scim_token(name: str) -> str:
    """A new token named `name` (the actor the audit shows); the clear text exists only here."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("a SCIM token needs a name of at most 100 characters", field="name")
    if db.session.scalar(select(ScimToken.id).where(ScimToken.name == name)):
        raise Conflict(f"a SCIM token {name!r} exists already", field="name")
    token = PREFIX + secrets.token_urlsafe(32)
    db.session.add(ScimToken(name=name, token_hash=_digest(token)))
    trail.record("scim_token_issued", None, name=name)
    return token


def scim_token_for(token: str) -> ScimToken | None:
    """The live SCIM token matching `token`, or None (unknown, revoked, or an API token)."""
    if not token.startswith(PREFIX):
        return None
    row = db.session.scalar(select(ScimToken).where(ScimToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def touch_scim_token(token_id: str) -> None:
    """Note when a token was last used, in a unit of its own."""
    with unit_of_work():
        db.session.execute(
            update(ScimToken).where(ScimToken.id == token_id).values(last_used_at=utcnow())
        )


def list_scim_tokens(actor: User | None = None) -> list[dict]:
    """Every SCIM token by name, with when it was made, last used and revoked: never the token."""
    if actor is not None:
        require_admin(actor, "see SCIM tokens")
    rows = db.session.scalars(select(ScimToken).order_by(ScimToken.name))
    return [
        {
            "name": row.name,
            "created_at": row.created_at,
            "last_used_at": row.last_used_at,
            "revoked_at": row.revoked_at,
        }
        for row in rows
    ]


def revoke_scim_token(name: str, actor: User | None = None) -> bool:
    """Revoke the token named `name` (an admin's act, when `actor` is given); False when it
    was revoked already."""
    if actor is not None:
        require_admin(actor, "revoke SCIM tokens")
    row = db.session.scalar(select(ScimToken).where(ScimToken.name == name))
    if row is None:
        raise NotFound(f"no SCIM token {name!r}")
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    trail.record("scim_token_revoked", actor.id if actor else None, name=name)
    return True
