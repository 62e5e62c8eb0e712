"""Separation of duties between applications: rules naming two applications nobody may hold
together. Checked when a line is put in a cart and again when an approver approves, against
what the person holds (active assignments) and has asked for (open items)."""

from collections.abc import Sequence

from sqlalchemy import or_, select

from engine.audit import trail
from engine.db import db
from engine.directory.authentication import require_admin
from engine.directory.lookup import application_by_key
from engine.errors import Conflict, Invalid, NotFound
from engine.models import Application, Assignment, RequestItem, SodRule, User


def rules() -> Sequence[SodRule]:
    return db.session.scalars(select(SodRule).order_by(SodRule.name)).all()


def add_rule(admin: User | None, name: str, applications: list[str]) -> SodRule:
    """A rule `name` forbidding the two applications together (admins; the import passes None)."""
    if admin is not None:
        require_admin(admin, "change separation-of-duties rules")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("a rule needs a name of at most 200 characters", field="name")
    if len(applications or []) != 2 or applications[0] == applications[1]:
        raise Invalid("a rule names exactly two different applications", field="applications")
    first, second = sorted(
        (application_by_key(key) for key in applications), key=lambda app: app.key
    )
    existing = db.session.scalar(select(SodRule).where(SodRule.name == name))
    pair = db.session.scalar(
        select(SodRule).where(SodRule.first_id == first.id, SodRule.second_id == second.id)
    )
    if pair is not None and pair is not existing:
        raise Conflict(f"rule {pair.name!r} already covers {first.key} and {second.key}")
    rule = existing or SodRule(name=name)
    rule.first, rule.second = first, second
    db.session.add(rule)
    db.session.flush()
    trail.record(
        "sod_rule_set", admin.id if admin else None, rule=name, applications=[first.key, second.key]
    )
    return rule


def remove_rule(admin: User, name: str) -> None:
    require_admin(admin, "change separation-of-duties rules")
    rule = db.session.scalar(select(SodRule).where(SodRule.name == name))
    if rule is None:
        raise NotFound(f"no rule {name!r}")
    db.session.delete(rule)
    trail.record("sod_rule_removed", admin.id, rule=name)


def conflict(
    person: User, app: Application, *, other_than_item: str | None = None
) -> tuple[SodRule, Application] | None:
    """The first rule `app` would break for `person`, with the application they hold or have
    asked for; None when there is none."""
    for rule in db.session.scalars(
        select(SodRule).where(or_(SodRule.first_id == app.id, SodRule.second_id == app.id))
    ):
        other = rule.second if rule.first_id == app.id else rule.first
        if _holds_or_asked(person, other, other_than_item):
            return rule, other
    return None


def _holds_or_asked(person: User, app: Application, other_than_item: str | None) -> bool:
    held = db.session.scalar(
        select(Assignment.id)
        .where(
            Assignment.user_id == person.id,
            Assignment.application_id == app.id,
            Assignment.ended_at.is_(None),
        )
        .limit(1)
    )
    if held is not None:
        return True
    asked = select(RequestItem.id).where(
        RequestItem.beneficiary_id == person.id,
        RequestItem.application_id == app.id,
        RequestItem.open_key.is_not(None),
        RequestItem.account_mode != "remove",
    )
    if other_than_item is not None:
        asked = asked.where(RequestItem.id != other_than_item)
    return db.session.scalar(asked.limit(1)) is not None


def refusal(person: User, app: Application, *, other_than_item: str | None = None) -> str | None:
    """Why `person` may not get `app` under the rules, or None."""
    found = conflict(person, app, other_than_item=other_than_item)
    if found is None:
        return None
    rule, other = found
    return (
        f"separation of duties ({rule.name}): {person.username} holds or has asked for "
        f"{other.name}, which may not go with {app.name}"
    )
