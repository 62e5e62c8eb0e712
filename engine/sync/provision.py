"""The last phase of a run: people assigned the application with no account in the target get
one through the provisioning path every grant takes (an item of origin `sync`, whose workflow
queues the connector's create; the create looks the account up first, so never a duplicate)."""

from sqlalchemy import select

from engine.access.items import start_item
from engine.db import db
from engine.errors import DomainError
from engine.models import Account, Application, Assignment, RequestItem, SyncOperation, User
from engine.sync import runs
from engine.sync.apply import LeaseLost
from engine.sync.reconcile import RunContext, clean
from engine.unit_of_work import savepoint, unit_of_work

BATCH = 200
REASON = "sync: assigned, but no account in the target"


def provision_missing(ctx: RunContext, worker_id: str, after: str = "") -> None:
    """Queue the provisioning of every assigned person without an account, a batch per unit;
    the cursor keeps the last person handled, so a resumed run starts after them."""
    while True:
        with unit_of_work():
            user_ids = db.session.scalars(
                select(Assignment.user_id)
                .where(
                    Assignment.application_id == ctx.app_id,
                    Assignment.ended_at.is_(None),
                    Assignment.user_id > after,
                )  # fmt: skip
                .group_by(Assignment.user_id)
                .order_by(Assignment.user_id)
                .limit(BATCH)
            ).all()
            if not user_ids:
                return
            ctx.counts = {}
            _provision(ctx, list(user_ids))
            runs.add_counts(ctx.run_id, ctx.counts)
            after = user_ids[-1]
            if not runs.renew(ctx.run_id, worker_id, cursor={"phase": "provision", "user": after}):
                raise LeaseLost(ctx.run_id)


def _provision(ctx: RunContext, user_ids: list[str]) -> None:
    held = set(db.session.scalars(
        select(Account.user_id).where(Account.application_id == ctx.app_id,
                                      Account.user_id.in_(user_ids), Account.ended_at.is_(None))
    ))  # fmt: skip
    busy = set(db.session.scalars(
        select(RequestItem.beneficiary_id).where(RequestItem.application_id == ctx.app_id,
                                                 RequestItem.beneficiary_id.in_(user_ids),
                                                 RequestItem.open_key.is_not(None))
    ))  # fmt: skip
    todo = [u for u in user_ids if u not in held and u not in busy]
    if not todo:
        return
    app = db.session.get_one(Application, ctx.app_id)
    for person in db.session.scalars(select(User).where(User.id.in_(todo)).order_by(User.id)):
        entry = person.as_directory_entry()
        if not person.active or (ctx.in_scope is not None and not ctx.in_scope(entry)):
            continue  # out of scope (or a leaver on the way out): not provisioned
        missing = [f for f in ctx.required if clean(entry.get(f)) is None]
        if missing:
            ctx.count("skipped")
            _line(ctx, person, "skip", "reported", f"missing mandatory {', '.join(missing)}")
            continue
        ctx.count("created")
        if ctx.dry:
            _line(ctx, person, "provision", "would", REASON)
            continue
        try:
            with savepoint():
                item = start_item(person, app, origin="sync", account_mode="create",
                                  reason=REASON)  # fmt: skip
        except DomainError as err:
            ctx.count("errors")
            _line(ctx, person, "provision", "failed", REASON, error=err.detail[:500])
            continue
        _line(ctx, person, "provision", "done", REASON, item_id=item.id)


def _line(ctx: RunContext, person: User, action: str, status: str, reason: str, **extra):
    db.session.add(SyncOperation(run_id=ctx.run_id, action=action, status=status,
                                 user_id=person.id, user_name=person.username, reason=reason,
                                 **extra))  # fmt: skip
