"""Carrying out a run's planned operations: the calls to the target with no transaction open,
then their results (the operation, the provisioning log, the accounts on record) in one unit.

An operation is marked done in the unit that records its call, so a worker that takes over
an expired lease redoes at most the calls whose result was never recorded; every call is
idempotent (set these attributes, set active), so that does no harm.
"""

import logging
import time

from sqlalchemy import select, update

from connectors import Connector, ConnectorError
from engine.audit import trail
from engine.db import db, utcnow
from engine.models import Account, ProvisioningLog, SyncOperation, User
from engine.sync import runs
from engine.sync.reconcile import WRITES
from engine.unit_of_work import unit_of_work

log = logging.getLogger(__name__)
BATCH = 50
OUTCOMES = {"update": "updated", "enable": "updated", "disable": "removed", "delete": "removed"}


class LeaseLost(Exception):
    """Another worker took the run over: this one stops without writing."""


def apply_planned(run_id: str, app_id: str, worker_id: str, connector: Connector) -> int:
    """Carry out every planned operation of the run; returns how many were carried out."""
    done = 0
    while True:
        batch = db.session.execute(
            select(
                SyncOperation.id,
                SyncOperation.action,
                SyncOperation.external_id,
                SyncOperation.user_id,
                SyncOperation.changes,
            )  # fmt: skip
            .where(
                SyncOperation.run_id == run_id,
                SyncOperation.status == "planned",
                SyncOperation.action.in_(WRITES),
            )  # fmt: skip
            .order_by(SyncOperation.id)
            .limit(BATCH)
        ).all()
        users = _directory_entries({row.user_id for row in batch if row.action == "update"})
        db.session.rollback()  # no transaction stays open while the target answers
        if not batch:
            return done
        results = [_call(connector, row, users.get(row.user_id)) for row in batch]
        with unit_of_work():
            if not runs.renew(run_id, worker_id):
                raise LeaseLost(run_id)
            for row, (error, status, duration) in zip(batch, results, strict=True):
                _record(run_id, app_id, row, error, status, duration)
            failed = sum(error is not None for error, _, _ in results)
            if failed:
                runs.add_counts(run_id, {"errors": failed})
        done += len(batch)


def _directory_entries(user_ids: set) -> dict:
    if not user_ids:
        return {}
    people = db.session.scalars(select(User).where(User.id.in_(list(user_ids))))
    return {person.id: person.as_directory_entry() for person in people}


def _call(connector: Connector, row, entry: dict | None):
    """(error or None, HTTP status, duration in ms) of one call to the target."""
    started = time.perf_counter()
    error, status = None, None
    try:
        if row.action == "update":
            if entry is None:
                raise ConnectorError("the person is no longer in the directory")
            connector.update_account(row.external_id, entry)
        elif row.action == "enable":
            connector.enable_account(row.external_id)
        elif row.action == "disable":
            connector.disable_account(row.external_id)
        else:  # delete: the connector disables unless the app allows hard deletes
            try:
                connector.delete_account(row.external_id)
            except ConnectorError as err:
                if err.status != 404:
                    raise
    except ConnectorError as err:  # connectors redact their messages
        error, status = err.message[:500], err.status
    except Exception as err:  # a bug or an unforeseen failure: recorded, the run goes on
        error = f"internal error: {type(err).__name__}"
        log.warning("sync operation %s failed: %s", row.id, error)
    return error, status, int((time.perf_counter() - started) * 1000)


def _record(run_id: str, app_id: str, row, error, status, duration) -> None:
    entry = ProvisioningLog(
        application_id=app_id,
        user_id=row.user_id,
        external_id=row.external_id,
        operation=f"sync_{row.action}",
        outcome="failed" if error else OUTCOMES[row.action],
        duration_ms=duration,
        http_status=status,
        error=error,
        worker="sync",
    )
    db.session.add(entry)
    db.session.flush()
    won = db.session.execute(
        update(SyncOperation)
        .where(SyncOperation.id == row.id, SyncOperation.status == "planned")
        .values(status="failed" if error else "done", error=error, log_id=entry.id, at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return
    held = (row.changes or {}).get("account")
    if not error and held and row.action in ("disable", "delete"):
        account = db.session.get(Account, held)
        if account is not None and account.ended_at is None:
            account.status, account.ended_at = "removed", utcnow()
            account.ended_reason = f"sync: {row.action}d in the target"
    trail.record("account_reconciled", None, run=run_id, action=row.action,
                 external_id=row.external_id, outcome=entry.outcome)  # fmt: skip
