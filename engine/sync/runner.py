"""Carrying out a sync run, phase by phase, under the worker's lease.

read: stream the target's accounts a page at a time; each page is judged and recorded in one
unit with the cursor (accounts read so far), so a resumed run skips what it judged already.
Then the deletion threshold: a run that would disable too many accounts waits for an admin.
apply: the planned calls to the target (engine.sync.apply). provision: assigned people with no
account get one through the usual provisioning path (engine.sync.provision). done.
"""

import logging
from itertools import islice

from sqlalchemy.exc import OperationalError

from connectors import Connector, ConnectorConfigError, ConnectorError, connector_for
from engine import encryption
from engine.audit import trail
from engine.audit.notifications import Mailer
from engine.db import db, utcnow
from engine.errors import Conflict, Invalid
from engine.models import Application, SyncRun
from engine.sync import runs
from engine.sync.apply import LeaseLost, apply_planned
from engine.sync.policy import SyncPolicy
from engine.sync.provision import provision_missing
from engine.sync.reconcile import RunContext, plan_page
from engine.unit_of_work import after_commit, unit_of_work

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """The run stopped on purpose after a number of pages (what a killed worker leaves)."""


def run_due(worker_id: str, mailer: Mailer | None = None, **options) -> str | None:
    """Take one run (a queued or abandoned one first, else a due application's scheduled run)
    and carry it out; returns its id, or None when nothing was due."""
    try:
        with unit_of_work():
            run_id = runs.take_run(worker_id) or runs.schedule_due(worker_id)
    except (Conflict, OperationalError) as err:  # lost a race: the next poll tries again
        log.info("worker %s: no sync taken this time (%s)", worker_id, type(err).__name__)
        return None
    if run_id is not None:
        carry_out(run_id, worker_id, mailer, **options)
    return run_id


def sync_now(key: str, dry_run: bool, worker_id: str, mailer: Mailer | None = None) -> SyncRun:
    """Ask for a sync of the application and carry it out here (the command line)."""
    with unit_of_work():
        run = runs.request_sync(None, key, dry_run)
    with unit_of_work():
        runs.take_run(worker_id, run.id)
    carry_out(run.id, worker_id, mailer)
    db.session.expire_all()
    return runs.find_run(key, run.id)


def carry_out(run_id, worker_id, mailer=None, page_size=None, stop_after_pages=None) -> str:
    """Carry out a run this worker holds; returns the status it was left in."""
    db.session.expire_all()
    run = db.session.get(SyncRun, run_id)
    if run is None or run.status != "running" or run.lease_owner != worker_id:
        db.session.rollback()
        return "lost"
    app = run.application
    phase, cursor, allowed = run.phase, dict(run.cursor or {}), run.allowed_at is not None
    policy = SyncPolicy.of(app)
    try:
        connector = _connector(app)
        db.session.rollback()  # no transaction stays open while the target answers
        ctx = _context(run, policy, connector)
        if phase == "read":
            _read(ctx, connector, worker_id, int(cursor.get("accounts", 0)), page_size,
                  stop_after_pages)  # fmt: skip
            phase = _after_reading(ctx, policy, worker_id, allowed)
            if phase == "waiting_approval":
                return phase
        if phase == "apply":
            apply_planned(run_id, ctx.app_id, worker_id, connector)
            with unit_of_work():
                if not runs.renew(run_id, worker_id, phase="provision", cursor={}):
                    raise LeaseLost(run_id)
            phase, cursor = "provision", {}
        if phase == "provision":
            provision_missing(ctx, worker_id, after=cursor.get("user", ""))
        return _finish(ctx, worker_id, policy)
    except (LeaseLost, Interrupted) as err:
        log.info("sync run %s stopped (%s)", run_id, type(err).__name__)
        db.session.rollback()
        return "interrupted"
    except Exception as err:
        db.session.rollback()
        return _fail(run_id, app, worker_id, err, mailer)
    finally:
        if "connector" in locals():
            connector.close()


def _connector(app: Application) -> Connector:
    try:
        return connector_for(encryption.reveal(app.connector_settings, app.key))
    except Invalid as err:  # a wrong key
        raise ConnectorConfigError(err.detail) from err


def _context(run: SyncRun, policy: SyncPolicy, connector: Connector) -> RunContext:
    return RunContext(
        run_id=run.id,
        app_id=run.application_id,
        app_key=run.application.key,
        dry=run.dry_run or not policy.provisioning_enabled,
        orphan_policy=policy.orphan_policy,
        match_field=connector.matching_field,
        required=tuple(connector.required_attributes),
        in_scope=policy.in_scope(),
    )


def _read(ctx, connector, worker_id, skip, page_size, stop_after_pages) -> None:
    size = page_size or getattr(connector, "page_size", 100)
    accounts = islice(connector.iter_accounts(size), skip, None)
    pages, read = 0, skip
    while True:
        page = list(islice(accounts, size))
        if not page:
            return
        read += len(page)
        with unit_of_work():
            ctx.counts = {}
            plan_page(ctx, page)
            runs.add_counts(ctx.run_id, ctx.counts)
            if not runs.renew(ctx.run_id, worker_id, cursor={"accounts": read}):
                raise LeaseLost(ctx.run_id)
        pages += 1
        if stop_after_pages is not None and pages >= stop_after_pages:
            raise Interrupted(ctx.run_id)


def _after_reading(ctx: RunContext, policy: SyncPolicy, worker_id: str, allowed: bool) -> str:
    """The next phase, or waiting_approval when the deletion threshold stops the run."""
    with unit_of_work():
        counts = runs.add_counts(ctx.run_id, {})
        stops = not ctx.dry and not allowed and policy.stops(counts["disabled"], counts["read"])
        if stops:
            won = runs.renew(ctx.run_id, worker_id, status="waiting_approval",
                             lease_owner=None, lease_expires_at=None)  # fmt: skip
            trail.record("sync_finished", None, application=ctx.app_key, run=ctx.run_id,
                         status="waiting_approval", counts=counts)  # fmt: skip
            phase = "waiting_approval"
        else:
            phase = "provision" if ctx.dry else "apply"
            won = runs.renew(ctx.run_id, worker_id, phase=phase, cursor={})
        if not won:
            raise LeaseLost(ctx.run_id)
    return phase


def _finish(ctx: RunContext, worker_id: str, policy: SyncPolicy) -> str:
    with unit_of_work():
        if not ctx.dry:  # a full run, whoever asked for it: the next is one interval away
            app = db.session.get_one(Application, ctx.app_id)
            app.next_sync_at = utcnow() + policy.interval
        counts = runs.add_counts(ctx.run_id, {})
        won = runs.renew(ctx.run_id, worker_id, status="succeeded", phase="done",
                         finished_at=utcnow(), lease_owner=None,
                         lease_expires_at=None)  # fmt: skip
        if not won:
            raise LeaseLost(ctx.run_id)
        trail.record("sync_finished", None, application=ctx.app_key, run=ctx.run_id,
                     status="succeeded", counts=counts)  # fmt: skip
    log.info("sync of %s: %s", ctx.app_key, counts)
    return "succeeded"


def _fail(run_id: str, app: Application, worker_id: str, err: Exception, mailer) -> str:
    if isinstance(err, ConnectorError):
        error = err.message  # connectors redact their messages
    else:
        error = f"internal error: {type(err).__name__}"
        log.exception("sync run %s failed", run_id)
    error = _scrub(error, app)[:2000]
    key, name, address = app.key, app.name, app.notification_email
    with unit_of_work():
        won = runs.renew(run_id, worker_id, status="failed", finished_at=utcnow(), error=error,
                         lease_owner=None, lease_expires_at=None)  # fmt: skip
        if won:
            trail.record("sync_finished", None, application=key, run=run_id, status="failed",
                         error=error)  # fmt: skip
            if mailer is not None and address:
                subject = f"[accessflow] Sync of {name} failed"
                body = (f"The sync run {run_id} of {name} ({key}) failed.\n\nError: {error}\n\n"
                        "Its report is on the application's page.\n")  # fmt: skip
                after_commit(lambda: mailer.send([address], subject, body))
    log.warning("sync run %s of %s failed: %s", run_id, key, error)
    return "failed"


def _scrub(text: str, app: Application) -> str:
    """Remove every secret setting's value from a text bound for a row, a log or a mail."""
    from engine.encryption import SECRET_SETTINGS

    try:
        settings = encryption.reveal(app.connector_settings, app.key)
    except Invalid:
        return text
    for key in SECRET_SETTINGS:
        value = settings.get(key)
        if isinstance(value, str) and value:
            text = text.replace(value, "***")
    return text
