"""The directory administration forms without a browser: people and applications created and
edited, connector secrets write-only, refusals in words, non-admins kept out."""

import json

import pytest
from flask import g
from sqlalchemy import select

from engine import encryption
from engine.access import groups
from engine.db import db
from engine.directory.admin import create_group, update_application
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key, find_application
from engine.directory.passwords import check_password
from engine.models import AuditEvent, User
from tests.flow import act
from tests.test_ui_pages import log_in

SECRET = "s3cr3t-hr-token"
WIKI_SECRET = "wiki-secret-token"


@pytest.fixture
def client(app):
    act(
        import_directory,
        {
            "users": [
                {"username": "root", "password": "root-pw"},
                {"username": "alice", "password": "alice-pw"},
            ]
        },
    )
    return app.test_client()


@pytest.fixture
def root(client):
    return log_in(client, "root", "root-pw")


def post(client, csrf, path, **form):
    g.pop("csrf_token", None)
    return client.post(path, data={**form, "csrf_token": csrf})


def person(username):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def audit_dump() -> str:
    events = db.session.scalars(select(AuditEvent)).all()
    return json.dumps([(e.event, e.comment, e.details) for e in events], default=str)


HR_FORM = {
    "key": "hr",
    "name": "HR",
    "description": "People records",
    "kind": "connected",
    "approver_group": "crm-approvers",
    "fulfiller_group": "it-fulfillers",
    "workflow": "access_request",
    "connector_type": "scim",
    "base_url": "http://127.0.0.1:9/hr/v2",
    "token": SECRET,
    "matching_attribute": "emails",
    "max_attempts": "3",
    "backoff_base_seconds": "1.5",
    "backoff_max_seconds": "",
}


# ---- people


def test_an_admin_creates_a_person(client, root):
    assert client.get("/admin/people/new").status_code == 200
    answer = post(
        client,
        root,
        "/admin/people",
        username="zoe",
        email="zoe@example.com",
        first_name="Zoe",
        last_name="Zed",
        department="Ops",
        title="Analyst",
        manager="mark",
        password="zoe-pw-123",
        password_again="zoe-pw-123",
    )
    assert answer.status_code == 303 and answer.location.endswith("/admin/people/zoe")
    zoe = person("zoe")
    assert (zoe.email, zoe.department, zoe.title, zoe.manager.username) == (
        "zoe@example.com",
        "Ops",
        "Analyst",
        "mark",
    )
    assert check_password(zoe, "zoe-pw-123")
    page = client.get("/admin/people/zoe")
    assert "zoe added to the directory" in page.text
    assert "zoe-pw-123" not in page.text and "zoe-pw-123" not in audit_dump()


def test_creating_a_person_explains_what_is_wrong(client, root):
    empty = post(client, root, "/admin/people", username="  ", email="x@example.com")
    assert empty.status_code == 422
    assert "Username must not be empty" in empty.text
    assert 'id="f-username"' in empty.text and 'aria-invalid="true"' in empty.text
    assert 'value="x@example.com"' in empty.text  # the form keeps what was typed

    taken = post(
        client,
        root,
        "/admin/people",
        username="alice",
        password="pw-that-stays-out",
        password_again="pw-that-stays-out",
    )
    assert taken.status_code == 409 and "a user &#39;alice&#39; exists already" in taken.text
    assert "pw-that-stays-out" not in taken.text

    differ = post(client, root, "/admin/people", username="yan", password="a", password_again="b")
    assert differ.status_code == 422 and "The two passwords differ" in differ.text
    assert person("yan") is None

    nobody = post(client, root, "/admin/people", username="yan", manager="nobody")
    assert nobody.status_code in (404, 422) and "nobody" in nobody.text
    assert person("yan") is None


def test_an_admin_edits_a_person_and_resets_the_password(client, root):
    page = client.get("/admin/people/bob")
    assert 'value="bob@example.com"' in page.text and "Edit details" in page.text
    answer = post(
        client,
        root,
        "/admin/people/bob/details",
        email="bobby@example.com",
        first_name="Bobby",
        last_name="Baker",
        display_name="Bobby Baker",
        department="",
        title="Lead",
        password="new-bob-pw-1",
        password_again="new-bob-pw-1",
    )
    assert answer.status_code == 303
    bob = person("bob")
    assert (bob.email, bob.display_name, bob.department, bob.title) == (
        "bobby@example.com",
        "Bobby Baker",
        None,
        "Lead",
    )
    assert check_password(bob, "new-bob-pw-1")
    shown = client.get("/admin/people/bob")
    assert "Details saved and the password reset" in shown.text
    assert "new-bob-pw-1" not in shown.text
    dumped = audit_dump()
    assert "password_set" in dumped and "new-bob-pw-1" not in dumped

    kept = post(client, root, "/admin/people/bob/details", email="bob2@example.com")
    assert kept.status_code == 303 and check_password(person("bob"), "new-bob-pw-1")
    too_long = post(client, root, "/admin/people/bob/details", title="x" * 201)
    assert too_long.status_code == 422 and "Title must be at most 200 characters" in too_long.text
    assert person("bob").title == "Lead"


# ---- applications


def test_an_admin_creates_a_connected_application_whose_token_never_shows(client, root):
    form_page = client.get("/admin/applications/new")
    assert form_page.status_code == 200 and "access_request" in form_page.text
    answer = post(client, root, "/admin/applications", **HR_FORM)
    assert answer.status_code == 303, answer.text
    assert answer.location.endswith("/admin/applications/hr")
    app = application_by_key("hr")
    assert (app.kind, app.approver_group.name, app.fulfiller_group.name) == (
        "connected",
        "crm-approvers",
        "it-fulfillers",
    )
    settings = encryption.reveal(app.connector_settings, "hr")
    assert settings == {
        "type": "scim",
        "base_url": "http://127.0.0.1:9/hr/v2",
        "token": SECRET,
        "matching_attribute": "emails",
        "max_attempts": 3,
        "backoff_base_seconds": 1.5,
    }
    page = client.get("/admin/applications/hr")
    assert page.status_code == 200 and "Application HR created" in page.text
    assert SECRET not in page.text and "******** (set)" in page.text
    assert SECRET not in audit_dump()


def test_creating_an_application_explains_what_is_wrong(client, root):
    no_key = post(client, root, "/admin/applications", **{**HR_FORM, "key": ""})
    assert no_key.status_code == 422 and "Key must not be empty" in no_key.text
    assert SECRET not in no_key.text  # the token typed is not sent back
    bad_url = post(client, root, "/admin/applications", **{**HR_FORM, "base_url": "ftp://x"})
    assert bad_url.status_code == 422 and "must be an http(s) URL" in bad_url.text
    bad_retry = post(client, root, "/admin/applications", **{**HR_FORM, "max_attempts": "0"})
    assert bad_retry.status_code == 422
    assert "Most attempts must be a whole number of at least 1" in bad_retry.text
    taken = post(client, root, "/admin/applications", **{**HR_FORM, "key": "crm"})
    assert taken.status_code == 409 and "exists already" in taken.text
    assert find_application("hr") is None

    sso = post(client, root, "/admin/applications", key="portal", name="Portal", kind="sso")
    assert sso.status_code == 303
    portal = application_by_key("portal")
    assert (portal.kind, portal.connector_settings, portal.approver_group) == ("sso", None, None)


def test_an_admin_edits_main_settings(client, root):
    answer = post(
        client,
        root,
        "/admin/applications/crm/main",
        name="CRM Online",
        description="Sales",
        kind="sso",
        approver_group="",
        fulfiller_group="it-fulfillers",
        workflow="access_request",
        notification_email="",
    )
    assert answer.status_code == 303, answer.text
    app = application_by_key("crm")
    assert (app.name, app.kind, app.approver_group, app.description) == (
        "CRM Online",
        "sso",
        None,
        "Sales",
    )
    needs_connector = post(client, root, "/admin/applications/crm/main", kind="connected")
    assert needs_connector.status_code == 422
    assert "a connected application needs connector settings" in needs_connector.text
    unknown_group = post(client, root, "/admin/applications/crm/main", approver_group="ghosts")
    assert unknown_group.status_code == 404 and "ghosts" in unknown_group.text


def test_connector_settings_keep_the_stored_token_when_left_blank(client, root):
    page = client.get("/admin/applications/wiki")
    assert WIKI_SECRET not in page.text and "A token is set and is never shown" in page.text
    answer = post(
        client,
        root,
        "/admin/applications/wiki/connector",
        connector_type="scim",
        base_url="http://127.0.0.1:9/wiki/v3",
        token="",
        matching_attribute="externalId",
        max_attempts="7",
    )
    assert answer.status_code == 303, answer.text
    stored = encryption.reveal(application_by_key("wiki").connector_settings, "wiki")
    assert stored["token"] == WIKI_SECRET
    assert (stored["base_url"], stored["matching_attribute"], stored["max_attempts"]) == (
        "http://127.0.0.1:9/wiki/v3",
        "externalId",
        7,
    )
    masked = post(
        client,
        root,
        "/admin/applications/wiki/connector",
        base_url="http://127.0.0.1:9/wiki/v3",
        token="********",
    )
    assert masked.status_code == 303
    stored = encryption.reveal(application_by_key("wiki").connector_settings, "wiki")
    assert stored["token"] == WIKI_SECRET and "max_attempts" not in stored

    replaced = post(
        client,
        root,
        "/admin/applications/wiki/connector",
        base_url="http://127.0.0.1:9/wiki/v3",
        token="brand-new-token",
    )
    assert replaced.status_code == 303
    stored = encryption.reveal(application_by_key("wiki").connector_settings, "wiki")
    assert stored["token"] == "brand-new-token"
    assert "brand-new-token" not in client.get("/admin/applications/wiki").text
    dumped = audit_dump()
    assert "brand-new-token" not in dumped and WIKI_SECRET not in dumped

    bad = post(client, root, "/admin/applications/wiki/connector", base_url="", token="leak-me")
    assert bad.status_code == 422 and "base_url" in bad.text and "is required" in bad.text
    assert "leak-me" not in bad.text
    assert encryption.reveal(application_by_key("wiki").connector_settings, "wiki")["token"] == (
        "brand-new-token"
    )


# ---- groups: roles are picked, deactivated people are named


def test_the_group_page_offers_the_apps_declared_roles(client, root):
    roles = [{"key": "viewer", "name": "Viewer"}]
    act(update_application, person("root"), "crm", {"roles": roles})
    act(create_group, person("root"), "sales")
    page = client.get("/admin/groups/sales")
    assert '<select id="grant-role" name="role"' in page.text
    assert '<option value="viewer" data-application="crm">CRM: Viewer</option>' in page.text
    answer = post(
        client, root, "/admin/groups/sales/applications", application="crm", role="viewer"
    )
    assert answer.status_code == 303
    wrong = post(
        client, root, "/admin/groups/sales/applications", application="wiki", role="viewer"
    )
    assert wrong.status_code == 422 and "Wiki has no role" in wrong.text


def test_a_deactivated_person_joining_a_group_is_named(client, root):
    act(create_group, person("root"), "sales")
    post(client, root, "/admin/people/bob/deactivate", confirm="bob", reason="left")
    answer = post(client, root, "/admin/groups/sales/members", username="bob")
    assert answer.status_code == 422
    assert "bob is deactivated: reactivate them first" in answer.text
    with pytest.raises(Exception, match="bob is deactivated"):
        act(groups.add_member, person("root"), "sales", "bob")


# ---- non-admins


@pytest.mark.parametrize(
    "path, form",
    [
        ("/admin/people", {"username": "mallory"}),
        ("/admin/people/bob/details", {"email": "evil@example.com", "password": "x"}),
        ("/admin/applications", {**HR_FORM, "key": "evil"}),
        ("/admin/applications/crm/main", {"name": "Evil"}),
        ("/admin/applications/wiki/connector", {"base_url": "http://evil.example/"}),
    ],
)
def test_a_non_admin_may_not_use_the_forms(client, path, form):
    token = log_in(client, "alice", "alice-pw")
    assert post(client, token, path, **form).status_code in (403, 404)
    assert person("mallory") is None and person("bob").email == "bob@example.com"
    assert find_application("evil") is None and application_by_key("crm").name == "CRM"
    stored = encryption.reveal(application_by_key("wiki").connector_settings, "wiki")
    assert stored["base_url"] == "http://127.0.0.1:9/wiki/v2"


@pytest.mark.parametrize("path", ["/admin/people/new", "/admin/applications/new"])
def test_a_non_admin_may_not_open_the_new_forms(client, path):
    log_in(client, "alice", "alice-pw")
    assert client.get(path).status_code in (403, 404)


def test_the_people_list_has_pages(client, root):
    act(
        import_directory,
        {"users": [{"username": f"temp{n:03}", "department": "Temp"} for n in range(60)]},
    )
    first = client.get("/admin/people?department=Temp")
    assert "60 people" in first.text and "50 on this page" in first.text
    assert "temp049" in first.text and "temp050" not in first.text
    link = first.text.split('rel="first"')[0] if 'rel="first"' in first.text else first.text
    assert 'rel="next"' in link
    next_href = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(next_href.replace("&amp;", "&"))
    assert "temp050" in second.text and "temp059" in second.text and "temp049" not in second.text
    assert 'rel="first"' in second.text and 'rel="next"' not in second.text
    assert "10 on this page" in second.text
    csv = client.get("/admin/people.csv?department=Temp")
    assert len(csv.text.splitlines()) == 61
