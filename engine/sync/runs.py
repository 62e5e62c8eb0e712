"""Sync runs as rows: asked for (by an admin, the CLI or the schedule), taken under a lease,
allowed past the deletion threshold, read back with their report.

Any number of workers share the runs: one run in flight per application (a partial unique
index), a run is taken by a conditional UPDATE (after FOR UPDATE SKIP LOCKED on PostgreSQL),
and a run whose lease expired (its worker died) is taken again and resumed from its cursor.
"""

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import and_, exists, func, or_, select, update

from engine.audit import trail
from engine.db import db, new_id, utcnow
from engine.directory.authentication import require_admin
from engine.errors import Conflict, Invalid, NotFound
from engine.models import Application, SyncOperation, SyncRun, User
from engine.models.sync import ACTIVE_STATUSES, COUNTS
from engine.provisioning.connected_apps import application
from engine.sync.policy import SyncPolicy

LEASE_SECONDS = 120.0
MAX_REPORT_ROWS = 1000


def syncable(app: Application) -> None:
    """Only a connected application with a connector can be synced."""
    if app.kind != "connected" or not app.connector_settings:
        raise Invalid(f"{app.key} is not a connected application: nothing to sync")


def request_sync(actor: User | None, key: str, dry_run: bool = False) -> SyncRun:
    """Queue a sync of the application now (`actor` None: the command line); a run already
    in flight for it is a Conflict."""
    if actor is not None:
        require_admin(actor, "sync an application")
    app = application(key)
    syncable(app)
    if _in_flight(app.id) is not None:
        raise Conflict(f"a sync of {key} is already queued, running or waiting for approval")
    run = SyncRun(
        id=new_id(),
        application_id=app.id,
        application=app,
        trigger="manual",
        dry_run=bool(dry_run),
        status="queued",
        phase="read",
        requested_by_id=actor.id if actor else None,
        counts=dict.fromkeys(COUNTS, 0),
        cursor={},
    )
    db.session.add(run)
    db.session.flush()  # the one-run-in-flight index refuses a concurrent twin now
    trail.record("sync_requested", actor.id if actor else None, application=key, run=run.id,
                 dry_run=run.dry_run)  # fmt: skip
    return run


def allow_run(admin: User | None, key: str, run_id: str, comment: str | None = None) -> SyncRun:
    """Let a run that stopped at the deletion threshold go on (`admin` None: the CLI)."""
    if admin is not None:
        require_admin(admin, "allow a sync")
    run = find_run(key, run_id)
    if run.status != "waiting_approval":
        raise Conflict(f"the run is {run.status}, not waiting for approval")
    won = db.session.execute(
        update(SyncRun)
        .where(SyncRun.id == run.id, SyncRun.status == "waiting_approval")
        .values(status="queued", allowed_by_id=admin.id if admin else None, allowed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise Conflict("the run changed meanwhile; reload and try again")
    db.session.refresh(run)
    trail.record("sync_allowed", admin.id if admin else None, comment=comment,
                 application=key, run=run.id, disables=run.counts.get("disabled"))  # fmt: skip
    return run


def find_run(key: str, run_id: str) -> SyncRun:
    app = application(key)
    run = db.session.get(SyncRun, str(run_id))
    if run is None or run.application_id != app.id:
        raise NotFound(f"no sync run {run_id} of {key}")
    return run


def show_run(admin: User, key: str, run_id: str) -> SyncRun:
    require_admin(admin, "read sync runs")
    return find_run(key, run_id)


def runs_of(admin: User | None, key: str, limit: int = 20) -> Sequence[SyncRun]:
    """An application's runs, newest first."""
    if admin is not None:
        require_admin(admin, "read sync runs")
    app = application(key)
    return db.session.scalars(
        select(SyncRun)
        .where(SyncRun.application_id == app.id)
        .order_by(SyncRun.created_at.desc(), SyncRun.id)
        .limit(limit)
    ).all()


def report_of(run: SyncRun, limit: int = MAX_REPORT_ROWS) -> Sequence[SyncOperation]:
    """The run's report lines, in the order they were written."""
    return db.session.scalars(
        select(SyncOperation)
        .where(SyncOperation.run_id == run.id)
        .order_by(SyncOperation.id)
        .limit(limit)
    ).all()


def _in_flight(application_id: str) -> SyncRun | None:
    return db.session.scalar(
        select(SyncRun).where(
            SyncRun.application_id == application_id, SyncRun.status.in_(ACTIVE_STATUSES)
        )
    )


def last_run(app: Application) -> SyncRun | None:
    return db.session.scalar(
        select(SyncRun)
        .where(SyncRun.application_id == app.id)
        .order_by(SyncRun.created_at.desc(), SyncRun.id)
        .limit(1)
    )


# ---- leases


def _takeable(now):
    """Queued (asked for, or allowed), or running under a lease that expired."""
    return or_(
        SyncRun.status == "queued",
        and_(SyncRun.status == "running", SyncRun.lease_expires_at < now),
    )


def take_run(worker_id: str, run_id: str | None = None, lease_seconds: float = LEASE_SECONDS):
    """Lease one takeable run (that one, when `run_id` is given) to the worker; its id or None.
    Runs inside the caller's unit."""
    now = utcnow()
    query = select(SyncRun.id).where(_takeable(now)).order_by(SyncRun.created_at).limit(1)
    if run_id is not None:
        query = query.where(SyncRun.id == run_id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = db.session.scalar(query)
    if found is None:
        return None
    won = db.session.execute(
        update(SyncRun)
        .where(SyncRun.id == found, _takeable(now))
        .values(
            status="running",
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=func.coalesce(SyncRun.started_at, now),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return found if won else None


def schedule_due(worker_id: str, lease_seconds: float = LEASE_SECONDS) -> str | None:
    """Start a scheduled run of one application whose next sync is due (the first one at once:
    the initial full sync), leased to the worker; its id or None. In the caller's unit."""
    now = utcnow()
    busy = exists().where(
        SyncRun.application_id == Application.id, SyncRun.status.in_(ACTIVE_STATUSES)
    )
    query = (
        select(Application)
        .where(
            Application.kind == "connected",
            Application.enabled.is_(True),
            Application.connector_settings.is_not(None),
            Application.quarantined_at.is_(None),
            or_(Application.next_sync_at.is_(None), Application.next_sync_at <= now),
            ~busy,
        )
        .order_by(Application.next_sync_at.is_not(None), Application.next_sync_at, Application.id)
        .limit(1)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=Application, skip_locked=True)
    app = db.session.scalar(query)
    if app is None:
        return None
    due = or_(Application.next_sync_at.is_(None), Application.next_sync_at <= now)
    won = db.session.execute(
        update(Application)
        .where(Application.id == app.id, due)
        .values(next_sync_at=now + SyncPolicy.of(app).interval)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return None
    run = SyncRun(
        id=new_id(),
        application_id=app.id,
        trigger="scheduled",
        dry_run=False,
        status="running",
        phase="read",
        lease_owner=worker_id,
        lease_expires_at=now + timedelta(seconds=lease_seconds),
        started_at=now,
        counts=dict.fromkeys(COUNTS, 0),
        cursor={},
    )
    db.session.add(run)
    db.session.flush()
    return run.id


def renew(run_id: str, worker_id: str, lease_seconds: float = LEASE_SECONDS, **values) -> bool:
    """Extend the worker's lease on a run (writing `values` too); False when it was lost."""
    values.setdefault("lease_expires_at", utcnow() + timedelta(seconds=lease_seconds))
    return bool(
        db.session.execute(
            update(SyncRun)
            .where(
                SyncRun.id == run_id, SyncRun.status == "running", SyncRun.lease_owner == worker_id
            )  # fmt: skip
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def add_counts(run_id: str, deltas: dict) -> dict:
    """Add to a run's counts (read fresh from the row); returns the new counts."""
    current = db.session.scalar(select(SyncRun.counts).where(SyncRun.id == run_id)) or {}
    counts = {name: int(current.get(name, 0)) + int(deltas.get(name, 0)) for name in COUNTS}
    db.session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(counts=counts)
        .execution_options(synchronize_session=False)
    )
    return counts
