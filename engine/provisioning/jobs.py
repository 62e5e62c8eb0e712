"""Taking due provisioning jobs under a lease, and putting them back to retry later.

Any number of workers on any number of machines share the queue: on PostgreSQL the due rows
are locked with FOR UPDATE SKIP LOCKED, on SQLite (one writer at a time) a conditional UPDATE
wins or loses each row. A claimed job holds a lease; a worker that dies lets it expire and the
job is due again. A partial unique index keeps one running job per process instance.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from engine.db import db, utcnow
from engine.errors import Conflict
from engine.models import Application, ProvisioningJob
from engine.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """Per-application retry settings, read from its connector settings (documented keys)."""

    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: dict | None) -> "RetryPolicy":
        settings = settings or {}
        return cls(
            max_attempts=max(1, int(settings.get("max_attempts", cls.max_attempts))),
            backoff_base_seconds=max(
                0.0, float(settings.get("backoff_base_seconds", cls.backoff_base_seconds))
            ),
            backoff_max_seconds=max(
                0.0, float(settings.get("backoff_max_seconds", cls.backoff_max_seconds))
            ),
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt: exponential, half of it jittered; Retry-After wins."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


def _due(job, now):
    """Pending and due, or running under a lease that has expired (its worker died)."""
    return or_(
        and_(job.status == "pending", job.next_run_at <= now),
        and_(job.status == "running", job.lease_expires_at < now),
    )


def _instance_busy(job, now):
    """Another job of the same instance is running under a live lease."""
    other = aliased(ProvisioningJob)
    return exists().where(
        other.instance_id == job.instance_id,
        other.id != job.id,
        other.status == "running",
        other.lease_expires_at >= now,
    )


def _not_paused(job):
    """The job's application is not quarantined."""
    return ~exists().where(
        Application.id == job.application_id, Application.quarantined_at.is_not(None)
    )


def claim_due_jobs(
    worker_id: str, limit: int = 10, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> list[str]:
    """Lease up to `limit` due jobs to `worker_id` (attempts counted now); returns their ids.

    The job loop's first step, in a unit of its own: the leases are taken once it returns."""
    try:
        with unit_of_work():
            return _claim(worker_id, limit, lease_seconds)
    except (Conflict, OperationalError) as err:
        # Lost a race on the one-running-job-per-instance index, or SQLite was busy:
        # nothing was taken, and the next poll tries again.
        log.info("worker %s: no job taken this time (%s)", worker_id, type(err).__name__)
        return []


def _claim(worker_id: str, limit: int, lease_seconds: float) -> list[str]:
    now = utcnow()
    job = ProvisioningJob
    query = (
        select(job.id, job.instance_id)
        .where(_due(job, now), ~_instance_busy(job, now), _not_paused(job))
        .order_by(job.next_run_at, job.id)
        .limit(limit * 2)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=job, skip_locked=True)
    rows = db.session.execute(query).all()
    picked: list[str] = []
    instances: set[str] = set()
    for job_id, instance_id in rows:
        if instance_id not in instances and len(picked) < limit:
            picked.append(job_id)
            instances.add(instance_id)
    if not picked:
        return []
    claimed = db.session.scalars(
        update(job)
        .where(job.id.in_(picked), _due(job, now), ~_instance_busy(job, now))
        .values(
            status="running",
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=job.attempts + 1,
            updated_at=now,
        )
        .returning(job.id)
        .execution_options(synchronize_session=False)
    ).all()
    return list(claimed)


def release(job_id: str, worker_id: str, **values) -> bool:
    """Write `values` on a job this worker still holds; False when its lease was lost."""
    values.setdefault("lease_owner", None)
    values.setdefault("lease_expires_at", None)
    values["updated_at"] = utcnow()
    job = ProvisioningJob
    return bool(
        db.session.execute(
            update(job)
            .where(job.id == job_id, job.status == "running", job.lease_owner == worker_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def retry_later(job_id: str, worker_id: str, delay: float, error: str | None) -> bool:
    """Put a held job back in the queue to run again after `delay` seconds."""
    return release(
        job_id,
        worker_id,
        status="pending",
        next_run_at=utcnow() + timedelta(seconds=delay),
        last_error=error,
    )


def next_due_in() -> float | None:
    """Seconds until the next pending (not paused) job is due; None when the queue is empty."""
    now = utcnow()
    job = ProvisioningJob
    due_at = case((job.status == "running", job.lease_expires_at), else_=job.next_run_at)
    soonest = db.session.scalar(
        select(func.min(due_at)).where(job.status.in_(("pending", "running")), _not_paused(job))
    )
    db.session.rollback()
    if soonest is None:
        return None
    return max(0.0, (soonest - now).total_seconds())


def resume_paused_jobs(application_id: str) -> int:
    """Make an application's waiting jobs due now (after its quarantine is lifted)."""
    job = ProvisioningJob
    return db.session.execute(
        update(job)
        .where(job.application_id == application_id, job.status == "pending")
        .values(next_run_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
