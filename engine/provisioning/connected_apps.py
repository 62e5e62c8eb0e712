"""Connected applications as a whole: testing the connection, quarantine and resuming.

A target whose recent operations mostly fail is quarantined: its jobs stay in the queue but no
worker takes them, and admins are told, until an admin resumes it. The policy is read from the
application's connector settings (`quarantine_window`, `quarantine_min_operations`,
`quarantine_failure_ratio`; a window of 0 turns quarantine off).
"""

from dataclasses import dataclass

from sqlalchemy import func, select, update

from connectors import ConnectorError, connector_for
from engine import encryption
from engine.audit import trail
from engine.db import db, utcnow
from engine.directory.authentication import require_admin
from engine.directory.lookup import find_application
from engine.errors import Conflict, Invalid, NotFound
from engine.models import Application, Incident, ProvisioningLog, User
from engine.provisioning import jobs

FAILED_OUTCOMES = ("retrying", "failed")


@dataclass(frozen=True)
class QuarantinePolicy:
    window: int = 20
    min_operations: int = 10
    failure_ratio: float = 0.8

    @classmethod
    def from_settings(cls, settings: dict | None) -> "QuarantinePolicy":
        settings = settings or {}
        return cls(
            window=int(settings.get("quarantine_window", cls.window)),
            min_operations=int(settings.get("quarantine_min_operations", cls.min_operations)),
            failure_ratio=float(settings.get("quarantine_failure_ratio", cls.failure_ratio)),
        )


def application(key: str) -> Application:
    """Any application, enabled or not, by key; NotFound when there is none."""
    app = find_application(key)
    if app is None:
        raise NotFound(f"no application {key!r}")
    return app


def test_application(key: str, admin: User | None = None) -> dict:
    """Ask the application's connector whether the target answers and accepts the token.

    `admin` None: the command line (an operator with the database); else an administrator."""
    if admin is not None:
        require_admin(admin, "test a connection")
    app = application(key)
    if app.kind != "connected" or not app.connector_settings:
        raise Invalid(f"{app.key} is not a connected application: nothing to test")
    settings = encryption.reveal(app.connector_settings, app.key)
    db.session.rollback()  # no transaction stays open while the target answers
    try:
        with connector_for(settings) as connector:
            summary = connector.test_connection()
    except ConnectorError as err:  # connectors redact their messages
        raise Invalid(f"connection to {key} failed: {err.message}") from err
    return {"application": key, **summary}


def reencrypt_secrets(only_plaintext: bool = False) -> int:
    """Re-encrypt every application's connector secrets with the newest key (or, with
    `only_plaintext`, encrypt only those still in clear); returns how many applications changed.

    One transaction: an application whose secrets no configured key opens stops it, by name."""
    changed = 0
    for app in db.session.scalars(select(Application).order_by(Application.key)):
        settings = app.connector_settings
        if only_plaintext and not encryption.has_plaintext(settings):
            continue
        resealed = encryption.reseal(settings, app.key)
        if resealed != settings:
            app.connector_settings = resealed
            changed += 1
    if changed:
        trail.record("secrets_reencrypted", None, applications=changed)
    return changed


def check_quarantine(app: Application) -> tuple[int, int] | None:
    """Quarantine `app` when its recent operations mostly failed; returns (failed, total) then.

    Runs inside the caller's transaction; a conditional UPDATE makes only one worker do it.
    """
    policy = QuarantinePolicy.from_settings(app.connector_settings)
    if policy.window <= 0 or app.quarantined_at is not None:
        return None
    since = db.session.scalar(
        select(func.max(Incident.resolved_at)).where(
            Incident.application_id == app.id, Incident.kind == "quarantine"
        )
    )
    query = select(ProvisioningLog.outcome).where(
        ProvisioningLog.application_id == app.id, ProvisioningLog.outcome != "abandoned"
    )
    if since is not None:
        query = query.where(ProvisioningLog.at > since)
    outcomes = db.session.scalars(
        query.order_by(ProvisioningLog.id.desc()).limit(policy.window)
    ).all()
    failed = sum(outcome in FAILED_OUTCOMES for outcome in outcomes)
    if len(outcomes) < policy.min_operations or failed < policy.failure_ratio * len(outcomes):
        return None
    won = db.session.execute(
        update(Application)
        .where(Application.id == app.id, Application.quarantined_at.is_(None))
        .values(quarantined_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return None
    error = f"{failed} of the last {len(outcomes)} operations failed"
    db.session.add(Incident(kind="quarantine", application_id=app.id, error=error))
    trail.record("application_quarantined", None, application=app.key, failed=failed)
    return failed, len(outcomes)


def resume_application(admin: User | None, key: str, comment: str | None = None) -> Application:
    """Lift an application's quarantine: its paused jobs run again. `admin` None: the CLI."""
    if admin is not None:
        require_admin(admin, "resume an application")
    app = application(key)
    if app.quarantined_at is None:
        raise Conflict(f"{key} is not quarantined")
    app.quarantined_at = None
    now = utcnow()
    for incident in db.session.scalars(
        select(Incident).where(
            Incident.application_id == app.id,
            Incident.kind == "quarantine",
            Incident.status == "open",
        )
    ):
        incident.close(comment or "provisioning resumed", admin.id if admin else None, at=now)
    resumed = jobs.resume_paused_jobs(app.id)
    trail.record("application_resumed", admin.id if admin else None, application=key, jobs=resumed)
    return app


def admin_addresses() -> list[str]:
    """Where quarantine notices go: every administrator with an email address."""
    from engine.models import Group
    from engine.models.directory import ADMINS_GROUP

    group = db.session.scalar(select(Group).where(Group.name == ADMINS_GROUP))
    return [m.email for m in group.members if m.email and m.active] if group else []
