"""What the sync stories share: accounts put straight into the SCIM target, assignments, a run."""

import requests
from sqlalchemy import select

from engine.access import assignments
from engine.db import db
from engine.directory.lookup import application_by_key
from engine.models import SyncOperation
from engine.sync import runner
from engine.sync.policy import apply as apply_settings
from tests.flow import act
from tests.scim_server import SCIM_TOKEN

HEADERS = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}


def target_account(
    base_url: str, user_name: str, *, active=True, display_name=None, like=None, **extra
):
    """An account made in the target directly (as an admin of the target would); its id.
    `like`: a person whose name and email it carries, as a provisioned account would."""
    resource = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
                "active": active}  # fmt: skip
    if like is not None:
        resource["displayName"] = like.display_name
        resource["externalId"] = like.id
        resource["emails"] = [{"value": like.email, "type": "work", "primary": True}]
        names = {"givenName": like.first_name, "familyName": like.last_name}
        resource["name"] = {k: v for k, v in names.items() if v}
    if display_name:
        resource["displayName"] = display_name
    resource.update(extra)
    answer = requests.post(base_url + "/Users", json=resource, headers=HEADERS, timeout=10)
    answer.raise_for_status()
    return answer.json()["id"]


def target_user(base_url: str, external_id: str) -> dict:
    answer = requests.get(f"{base_url}/Users/{external_id}", headers=HEADERS, timeout=10)
    answer.raise_for_status()
    return answer.json()


def assign(person, key: str = "wiki"):
    return act(assignments.grant, person, application_by_key(key), "admin", reason="test")


def unassign(person, key: str = "wiki"):
    app = application_by_key(key)
    for assignment in assignments.active(person.id, app.id):
        act(assignments.end, assignment, None, "test: ended")


def sync_settings(key: str = "wiki", **settings):
    app = application_by_key(key)
    apply_settings(app, settings)
    db.session.commit()


def sync(key: str = "wiki", dry_run: bool = False, mailer=None):
    """One sync run now, carried out here; the run as it ended."""
    run = runner.sync_now(key, dry_run, "test-worker", mailer)
    db.session.expire_all()
    return run


def report(run) -> list[tuple[str, str, str | None]]:
    """(action, status, user name in the target) of each line of a run's report."""
    rows = db.session.scalars(
        select(SyncOperation).where(SyncOperation.run_id == run.id).order_by(SyncOperation.id)
    )
    return [(r.action, r.status, r.user_name) for r in rows]
