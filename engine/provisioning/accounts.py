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


def record_account(
    item: RequestItem,
    external_id: str | None,
    created_by_id: str | None = None,
    may_exist: bool = False,
) -> Account:
    """Record the beneficiary's account in the item's application and point the item at it.

    `created_by_id`: the fulfiller who made it by hand (None: a connector made it).
    `may_exist`: a connector linked an account the target already had, which may then be on
    record (active, same external id) and is reused; a freshly created one cannot be."""
    account = None
    if may_exist:
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
            created_by_id=created_by_id,
            request_item_id=item.id,
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
    accounts = active_accounts(item.beneficiary_id, item.application_id)
    now = utcnow()
    for account in accounts:
        account.status, account.ended_at = "removed", now
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
