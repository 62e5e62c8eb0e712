"""Running provisioning jobs: the calls to the target, batching the lookups they need.

The calls happen with no database transaction open; `engine.provisioning.outcomes` then records
their results in one transaction. Calls are at-least-once: every attempt lets the connector look
the account up first, so a retry after a lost answer links, never duplicates.
"""

import json
import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from connectors import ConnectorConfigError, ConnectorError, connector_for
from engine import encryption
from engine.audit.notifications import Mailer
from engine.db import db
from engine.encryption import SECRET_SETTINGS
from engine.errors import Invalid
from engine.models import ProvisioningJob
from engine.provisioning import accounts, jobs, outcomes
from engine.provisioning.attempt import Attempt

log = logging.getLogger(__name__)


def run_job(job_id: str, worker_id: str, mailer: Mailer | None = None) -> str:
    """Run a job this worker holds; returns the outcome (created, linked, retrying, ...)."""
    results = run_jobs([job_id], worker_id, mailer)
    return results[0] if results else "lost"


def run_jobs(job_ids, worker_id: str, mailer: Mailer | None = None, pool=None) -> list[str]:
    """Run jobs this worker holds: one lookup per application for all of them, the calls
    (in `pool`, an executor, when given), then their results in one transaction."""
    attempts = _read(job_ids, worker_id)
    _call_targets(attempts, pool)
    outcomes.record_results(attempts, mailer)
    for attempt in attempts:
        log.info(
            "job %s (%s, attempt %d): %s%s",
            attempt.job_id,
            attempt.app_key,
            attempt.number,
            attempt.outcome,
            f": {attempt.error}" if attempt.error else "",
        )
    return [attempt.outcome for attempt in attempts]


def _read(job_ids, worker_id: str) -> list[Attempt]:
    """The jobs still leased to this worker, read in one query; no transaction stays open."""
    db.session.expire_all()  # objects outlive commits here: read what the rows hold now
    rows = db.session.scalars(
        select(ProvisioningJob)
        .where(
            ProvisioningJob.id.in_(list(job_ids)),
            ProvisioningJob.status == "running",
            ProvisioningJob.lease_owner == worker_id,
        )
        .options(joinedload(ProvisioningJob.item))
        .order_by(ProvisioningJob.next_run_at, ProvisioningJob.id)
    ).all()
    attempts = [_attempt(job, worker_id) for job in rows]
    db.session.rollback()
    return attempts


def _attempt(job: ProvisioningJob, worker_id: str) -> Attempt:
    item = job.item
    app = item.application
    operation = (job.params or {}).get("operation") or "create"
    on_record = None
    named = accounts.named_account(item) if operation in ("remove", "update") else None
    if named is not None:  # the one of several accounts the requester chose
        on_record = named.external_id
    elif operation == "remove":
        held = accounts.accounts_to_remove(item)
        on_record = held[-1].external_id if held else None
    return Attempt(
        job_id=job.id,
        worker_id=worker_id,
        number=job.attempts,
        operation=operation,
        on_record=on_record,
        instance_id=job.instance_id,
        spiff_task_id=job.spiff_task_id,
        item_id=item.id,
        app_id=app.id,
        app_key=app.key,
        app_name=app.name,
        settings=dict(app.connector_settings or {}),
        user=item.beneficiary.as_directory_entry(),
        notification_email=app.notification_email,
    )


# One connector per thread and application: its HTTP session keeps the connection alive.
_local = threading.local()


def _connector(attempt: Attempt):
    key = (attempt.app_id, json.dumps(attempt.settings, sort_keys=True, default=str))
    cache = _local.__dict__.setdefault("connectors", {})
    if key not in cache:
        for old in [k for k in cache if k[0] == attempt.app_id]:
            cache.pop(old).close()
        cache[key] = connector_for(_revealed(attempt))
    return cache[key]


def _revealed(attempt: Attempt) -> dict:
    """The settings with their secrets decrypted: only here, where the connector is built."""
    try:
        return encryption.reveal(attempt.settings, attempt.app_key)
    except Invalid as err:  # a wrong key: the job fails for people to see, never retried
        raise ConnectorConfigError(err.detail) from err


def _call_targets(attempts: list[Attempt], pool=None) -> None:
    """Look every `create` up with one query per application, then make the calls."""
    creates: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        if attempt.operation == "create":
            creates.setdefault(attempt.app_id, []).append(attempt)
    for group in creates.values():
        if len(group) < 2:
            continue
        try:
            found = _connector(group[0]).find_accounts([a.user for a in group])
        except Exception as err:  # each attempt then looks its own account up
            log.warning("%s: batch lookup failed: %s", group[0].app_key, _scrub(str(err), group[0]))
            continue
        for attempt, account in zip(group, found, strict=True):
            attempt.looked_up, attempt.found = True, account
    if pool is None or len(attempts) < 2:
        for attempt in attempts:
            _call_target(attempt)
    else:
        list(pool.map(_call_target, attempts))


def _call_target(attempt: Attempt) -> None:
    attempt.started = time.perf_counter()
    try:
        connector = _connector(attempt)
        if attempt.operation == "create" and attempt.found is not None:
            account = {**attempt.found, "linked": True}
        elif attempt.operation == "create":
            account = connector.create_account(attempt.user, looked_up=attempt.looked_up)
        elif attempt.operation == "link":  # an admin asked to link what the target holds
            found = connector.find_account(attempt.user)
            if found is None:
                raise ConnectorError("no account in the target matches the user: nothing to link")
            account = {**found, "linked": True}
        elif attempt.operation == "update":
            if attempt.on_record is not None:  # the account the requester chose
                found = {"external_id": attempt.on_record}
            else:
                found = connector.find_account(attempt.user)
            if found is None:
                raise ConnectorError("no account in the target matches the user: nothing to update")
            account = {**connector.update_account(found["external_id"], attempt.user)}
            account["linked"] = True
        elif attempt.operation == "remove":
            account = _remove(connector, attempt)
        else:
            raise ConnectorError(f"unknown provisioning operation {attempt.operation[:50]!r}")
    except ConnectorError as err:
        attempt.error = _scrub(err.message, attempt)
        attempt.retryable, attempt.retry_after = err.retryable, err.retry_after
        attempt.http_status = err.status
    except Exception as err:  # a bug or an unforeseen failure: retried, and logged scrubbed
        attempt.error = _scrub(f"internal error: {type(err).__name__}: {err}", attempt)
        attempt.retryable = True
        log.warning("job %s: %s", attempt.job_id, attempt.error)
    else:
        attempt.external_id = account["external_id"]
        attempt.linked = bool(account.get("linked"))
        names = {
            "create": "linked" if attempt.linked else "created",
            "link": "linked",
            "remove": "removed",
        }
        attempt.outcome = names.get(attempt.operation, "updated")
    attempt.duration_ms = int((time.perf_counter() - attempt.started) * 1000)
    if attempt.error is not None:
        attempt.error = attempt.error[:500]
        policy = jobs.RetryPolicy.from_settings(attempt.settings)
        give_up = not attempt.retryable or attempt.number >= policy.max_attempts
        attempt.outcome = "failed" if give_up else "retrying"


def _remove(connector, attempt: Attempt) -> dict:
    """Delete (or disable, per the app's settings) the account; one already gone is removed."""
    external_id = attempt.on_record
    if external_id is None:
        found = connector.find_account(attempt.user)
        if found is None:
            return {"external_id": None}
        external_id = found["external_id"]
    try:
        connector.delete_account(external_id)  # disables, unless the app allows hard deletes
    except ConnectorError as err:
        if err.status != 404:
            raise
        log.info("job %s: account %s was already gone: removed", attempt.job_id, external_id)
    return {"external_id": external_id}


def _scrub(text: str, attempt: Attempt) -> str:
    """Remove every secret setting's value from a text bound for a log, a row or an email."""
    try:
        settings = _revealed(attempt)
    except ConnectorConfigError as err:  # undecryptable: no plaintext was ever at hand to leak
        log.debug("%s: nothing to scrub, the settings are unreadable: %s", attempt.app_key, err)
        return text
    for key in SECRET_SETTINGS:
        value = settings.get(key)
        if isinstance(value, str) and value:
            text = text.replace(value, "***")
    return text
