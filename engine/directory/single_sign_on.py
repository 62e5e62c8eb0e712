"""Who a provider's verified claims name here: an existing, active accessflow user, never a new one.

Matching is on the username: the provider's `username_claim` (default `preferred_username`)
must equal the accessflow username exactly. E-mail is not used, because many providers let
people edit their address or do not verify it, and one address may belong to two accounts."""

from sqlalchemy import select

from engine.audit import trail
from engine.db import db
from engine.models import IdentityProvider, User


def sso_user(found: IdentityProvider, claims: dict) -> tuple[User | None, str]:
    """The active user the claims name, or None and why not (for the refusal page). Either way
    the audit trail records it, so the refusal is kept when the caller commits."""
    name = claims.get(found.username_claim)
    name = name.strip() if isinstance(name, str) else ""
    user = db.session.scalar(select(User).where(User.username == name)) if name else None
    details = {"provider": found.key, "username": name or None, "subject": claims.get("sub")}
    if found.group_claim and isinstance(claims.get(found.group_claim), list):
        details["groups"] = [str(group) for group in claims[found.group_claim]][:50]
    if user is None or not user.active:
        why = "no claim naming a username" if not name else "unknown username"
        if user is not None:
            why = "deactivated account"
        trail.record("sso_sign_in_refused", None, reason=why, **details)
        shown = name or "someone without a username"
        if user is not None:
            return None, f"{found.name} signed you in as {shown}, but that account is deactivated."
        return None, (
            f"{found.name} signed you in as {shown}, but there is no such person in accessflow. "
            "Ask an administrator to add you."
        )
    trail.record("sso_sign_in_succeeded", user.id, **details)
    return user, ""
