"""Who has what: a person's access, an application's assignments and accounts."""

from collections.abc import Sequence

from sqlalchemy import select

from engine.db import db
from engine.models import Account, Application, Assignment, Group, User


def access_of(user: User) -> list[dict]:
    """A person's current access, one entry per assignment, with their accounts in the app."""
    rows = db.session.scalars(
        select(Assignment)
        .where(Assignment.user_id == user.id, Assignment.ended_at.is_(None))
        .order_by(Assignment.created_at, Assignment.id)
    ).all()
    held = _accounts(user.id)
    groups = _group_names({a.source_id for a in rows if a.source == "group"})
    return [
        {
            "assignment_id": a.id,
            "application": a.application.key,
            "application_name": a.application.name,
            "kind": a.application.kind,
            "role": a.role,
            "role_name": a.application.role_names.get(a.role) if a.role else None,
            "source": a.source,
            "group": groups.get(a.source_id or "") if a.source == "group" else None,
            "since": a.starts_at,
            "until": a.ends_at,
            "accounts": [
                {"external_id": acc.external_id, "status": acc.status, "origin": acc.origin}
                for acc in held.get(a.application_id, [])
            ],
        }
        for a in rows
    ]


def _accounts(user_id: str) -> dict[str, list[Account]]:
    found: dict[str, list[Account]] = {}
    for account in db.session.scalars(
        select(Account)
        .where(Account.user_id == user_id, Account.ended_at.is_(None))
        .order_by(Account.created_at)
    ):
        found.setdefault(account.application_id, []).append(account)
    return found


def _group_names(ids) -> dict[str, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Group.id, Group.name).where(Group.id.in_(ids))).all())


def assignments_of(app: Application, include_ended: bool = False) -> Sequence[Assignment]:
    """An application's assignments (active only by default), newest first."""
    query = select(Assignment).where(Assignment.application_id == app.id)
    if not include_ended:
        query = query.where(Assignment.ended_at.is_(None))
    return db.session.scalars(query.order_by(Assignment.created_at.desc(), Assignment.id)).all()


def accounts_of(app: Application) -> list[dict]:
    """The accounts on record in an application, with their holder, then the accounts the last
    finished sync found in the target that no person matches (`orphan`, status `orphan`)."""
    return _on_record(app) + _orphans(app)


def _orphans(app: Application) -> list[dict]:
    from engine.models import SyncOperation, SyncRun

    last = db.session.scalar(
        select(SyncRun.id)
        .where(SyncRun.application_id == app.id, SyncRun.status == "succeeded")
        .order_by(SyncRun.finished_at.desc(), SyncRun.id)
        .limit(1)
    )
    if last is None:
        return []
    rows = db.session.scalars(
        select(SyncOperation)
        .where(SyncOperation.run_id == last, SyncOperation.action == "orphan")
        .order_by(SyncOperation.id)
    )
    return [
        {
            "user": None,
            "external_id": row.external_id,
            "status": "orphan",
            "origin": "target",
            "orphan": True,
            "since": row.at,
            "ended_at": None,
        }  # fmt: skip
        for row in rows
    ]


def _on_record(app: Application) -> list[dict]:
    rows = db.session.execute(
        select(Account, User.username)
        .outerjoin(User, User.id == Account.user_id)
        .where(Account.application_id == app.id)
        .order_by(Account.created_at, Account.id)
    ).all()
    return [
        {
            "user": username,
            "external_id": account.external_id,
            "status": account.status,
            "origin": account.origin,
            "orphan": username is None,
            "since": account.created_at,
            "ended_at": account.ended_at,
        }
        for account, username in rows
    ]
