"""Out of office: a person names a substitute for a period; the substitute's candidacy is added
to theirs for new and open tasks, and what the substitute decides is recorded "X for Y".

Self-approval and separation of duties still hold for the substitute themselves: they never
decide an item they requested or that is for them, nor two approval stages of one item.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from engine.audit import trail
from engine.db import db, utcnow
from engine.directory.authentication import require_admin
from engine.directory.lookup import user_by_username
from engine.errors import Invalid, NotFound
from engine.models import Substitution, User

MAX_DAYS = 366


def set_substitute(
    actor: User,
    substitute: str,
    starts_at: datetime | None,
    ends_at: datetime,
    comment: str | None = None,
    for_user: str | None = None,
) -> Substitution:
    """`substitute` acts for the actor (or, for an admin, for `for_user`) from `starts_at`
    (default now) until `ends_at`."""
    person = actor
    if for_user and for_user != actor.username:
        require_admin(actor, "name a substitute for someone else")
        person = user_by_username(for_user, field="for")
    stand_in = user_by_username((substitute or "").strip()[:150], field="substitute")
    if stand_in.id == person.id:
        raise Invalid("a person cannot be their own substitute", field="substitute")
    starts_at = _naive(starts_at) or utcnow()
    ends_at = _naive(ends_at) or starts_at
    if ends_at <= max(starts_at, utcnow()):
        raise Invalid("ends_at must be in the future and after starts_at", field="ends_at")
    if (ends_at - starts_at).days > MAX_DAYS:
        raise Invalid(f"a substitution lasts at most {MAX_DAYS} days", field="ends_at")
    row = Substitution(
        user_id=person.id,
        substitute_id=stand_in.id,
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment,
        created_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    trail.record(
        "substitute_named",
        actor.id,
        comment=comment,
        user=person.username,
        substitute=stand_in.username,
        until=ends_at.isoformat(),
    )
    return row


def end_substitution(actor: User, substitution_id: str) -> Substitution:
    """End it now (the person it is for, the substitute, or an admin)."""
    row = db.session.get(Substitution, substitution_id)
    if row is None or not (actor.id in (row.user_id, row.substitute_id) or actor.is_admin):
        raise NotFound("no such substitution")
    if row.ended_at is None:
        row.ended_at, row.ended_by_id = utcnow(), actor.id
        trail.record("substitute_ended", actor.id, substitution=row.id)
    return row


def substitutions_of(user: User) -> Sequence[Substitution]:
    """The substitutions for or by `user` that have not ended, soonest end first."""
    return db.session.scalars(
        select(Substitution)
        .where(
            (Substitution.user_id == user.id) | (Substitution.substitute_id == user.id),
            Substitution.ended_at.is_(None),
            Substitution.ends_at > utcnow(),
        )
        .order_by(Substitution.ends_at)
    ).all()


def principals(user: User) -> list[User]:
    """The active people `user` stands in for right now."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(User)
            .join(Substitution, Substitution.user_id == User.id)
            .where(
                Substitution.substitute_id == user.id,
                Substitution.ended_at.is_(None),
                Substitution.starts_at <= now,
                Substitution.ends_at > now,
                User.active.is_(True),
            )
        ).unique()
    )


def _naive(moment: datetime | None) -> datetime | None:
    """UTC without tzinfo, as the database keeps it."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
