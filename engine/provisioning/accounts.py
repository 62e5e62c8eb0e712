"""The accounts people hold in applications: recorded once made, checked before a removal is
asked, ended after it."""

from collections.abc import Sequence

from sqlalchemy import select

from engine.audit import trail
from engine.db import db, new_id, utcnow
from engine.errors import Invalid
from engine.models import Account, Application, RequestItem, User


def active_accounts(user_id: str, application_id: str) -> Sequence[Account]:
    """The accounts a user holds in an application now, oldest first."""
    return db.session.scalars(
        select(Account)
        .where(
            Account.user_id == user_id,
            Account.application_id == application_id,
            Account.status == "active",
            Account.ended_at.is_(None),
        )
        .order_by(Account.created_at, Account.id)
    ).all()


def accounts_to_remove(item: RequestItem) -> Sequence[Account]:
    """The account the item names (when the person holds several), else all they hold; one
    named but ended meanwhile leaves nothing to act on (never another of their accounts)."""
    held = active_accounts(item.beneficiary_id, item.application_id)
    if item.account_id is not None:
        return [a for a in held if a.id == item.account_id]
    return held


def named_account(item: RequestItem) -> Account | None:
    """The account an update or a removal was asked for, active or not (None: not named)."""
    return db.session.get(Account, item.account_id) if item.account_id else None


def record_account(
    item: RequestItem, external_id: str, origin: str, actor_id: str | None = None
) -> Account:
    """The account the item made (provisioned), found (linked) or a fulfiller typed (recorded);
    one already on record for that person, app and id is reused, never recorded twice."""
    account = None
    if origin != "provisioned":  # a freshly created target account cannot be on record yet
        account = db.session.scalar(
            select(Account).where(
                Account.user_id == item.beneficiary_id,
                Account.application_id == item.application_id,
                Account.external_id == external_id,
                Account.ended_at.is_(None),
            )
        )
    if account is None:
        account = Account(
            id=new_id(),
            user_id=item.beneficiary_id,
            application_id=item.application_id,
            external_id=external_id,
            created_by_id=actor_id,
            request_item_id=item.id,
            origin=origin,
        )
        db.session.add(account)
    item.account_id = account.id
    return account


def guard_removable(person: User, application: Application) -> None:
    """A removal is only asked for someone who holds an account in the application."""
    if not active_accounts(person.id, application.id):
        raise Invalid(
            f"{person.username} has no account in {application.name} to remove",
            field="account_mode",
        )


def end_accounts(item: RequestItem, actor_id: str | None, **details) -> Sequence[Account]:
    """End the beneficiary's active accounts in the item's application (rows are kept, never
    deleted) and record `account_removed`; none left (ended meanwhile) ends nothing."""
    accounts = accounts_to_remove(item)
    now = utcnow()
    for account in accounts:
        account.status, account.ended_at = "removed", now
        account.ended_by_id = actor_id
        account.ended_reason = item.justification or f"{item.origin} removal"
    if accounts:
        item.account_id = accounts[-1].id
    trail.record(
        "account_removed",
        actor_id,
        item=item,
        external_ids=[a.external_id for a in accounts],
        **details,
    )
    return accounts
