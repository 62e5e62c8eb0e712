"""Admin pages over provisioning: incidents (retry, resolve) and the provisioning log."""

import re

import pytest
from flask import g

from engine.db import db
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.models import Incident, ProvisioningLog


@pytest.fixture
def admin(app, people):
    import_directory({"users": [{"username": "root", "password": "root-pw"}]})
    wiki = application_by_key("wiki")
    db.session.add(
        Incident(kind="provisioning_failed", application_id=wiki.id, error="SCIM POST /Users: 500")
    )
    db.session.add(
        ProvisioningLog(
            application_id=wiki.id,
            operation="create",
            outcome="failed",
            http_status=500,
            error="SCIM POST /Users: 500",
            user_id=people["bob"].id,
        )
    )
    db.session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "root", "password": "root-pw", "csrf_token": token})
    g.pop("csrf_token", None)  # the fixture's app context outlives requests
    return client


def token_of(page) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_an_admin_resolves_an_incident_and_it_leaves_the_open_list(admin):
    page = admin.get("/admin/incidents")
    assert page.status_code == 200 and "SCIM POST /Users: 500" in page.text
    incident = re.search(r"/admin/incidents/([^/]+)/resolve", page.text).group(1)
    answer = admin.post(
        f"/admin/incidents/{incident}/resolve",
        data={"csrf_token": token_of(page), "comment": "created by hand"},
    )
    assert answer.status_code == 303
    assert "No open incident." in admin.get("/admin/incidents").text
    assert "created by hand" in admin.get("/admin/incidents?status=resolved").text


def test_a_retry_that_cannot_happen_says_why(admin):
    page = admin.get("/admin/incidents")
    incident = re.search(r"/admin/incidents/([^/]+)/retry", page.text).group(1)
    answer = admin.post(f"/admin/incidents/{incident}/retry", data={"csrf_token": token_of(page)})
    assert answer.status_code == 409
    assert "no longer waits on a failed auto-provision task" in answer.text


def test_the_provisioning_log_filters_by_outcome(admin):
    failed = admin.get("/admin/provisioning?application=wiki&outcome=failed")
    assert failed.status_code == 200 and "HTTP 500" in failed.text and "bob" in failed.text
    created = admin.get("/admin/provisioning?outcome=created")
    assert "No provisioning operation yet." in created.text
