"""The access lifecycle pages without a browser: who may open them, and what they do."""

import pytest
from flask import g

from engine import settings
from engine.access import groups, holdings
from engine.directory.admin import create_group
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key, user_by_username
from tests.flow import act
from tests.test_ui_pages import log_in, token_of

ADMIN_PAGES = (
    "/admin/people",
    "/admin/people.csv",
    "/admin/people/bob",
    "/admin/groups",
    "/admin/groups/admins",
    "/admin/settings",
    "/admin/applications/crm",
)


@pytest.fixture
def client(app):
    act(
        import_directory,
        {
            "users": [
                {"username": "root", "password": "root-pw", "department": "IT"},
                {"username": "dora", "password": "dora-pw"},
            ]
        },
    )
    return app.test_client()


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_non_admin_may_not_open_the_admin_pages(client, path):
    log_in(client, "alice", "alice-pw")
    assert client.get(path).status_code in (403, 404)


@pytest.mark.parametrize(
    "path, form",
    [
        ("/admin/people/bob/deactivate", {"confirm": "bob", "reason": "x"}),
        ("/admin/people/bob/groups", {"group": "admins"}),
        ("/admin/groups", {"name": "mine"}),
        ("/admin/groups/admins/members", {"username": "alice"}),
        ("/admin/settings", {"group_auto_provisioning": "all"}),
        ("/admin/applications/crm/assign", {"users": "alice"}),
    ],
)
def test_a_non_admin_may_not_change_anything(client, path, form):
    token = log_in(client, "alice", "alice-pw")
    assert client.post(path, data={**form, "csrf_token": token}).status_code in (403, 404)
    assert user_by_username("bob").active
    assert not user_by_username("alice").is_admin
    assert settings.group_auto_provisioning() == "per_application"


def test_an_admin_opens_every_page(client):
    log_in(client, "root", "root-pw")
    for path in (*ADMIN_PAGES, "/my-access"):
        assert client.get(path).status_code == 200, path


def test_people_filter_and_csv_export(client):
    log_in(client, "root", "root-pw")
    page = client.get("/admin/people?name=arch")
    assert "Alice Archer" in page.text and "Bob Baker" not in page.text
    assert "Rita Root" in client.get("/admin/people?department=IT").text
    csv = client.get("/admin/people.csv?group=admins")
    assert csv.mimetype == "text/csv"
    assert csv.text.splitlines()[1].startswith("root,")
    assert len(csv.text.splitlines()) == 2


def test_an_admin_changes_the_global_setting(client):
    token = log_in(client, "root", "root-pw")
    answer = client.post(
        "/admin/settings", data={"group_auto_provisioning": "all", "csrf_token": token}
    )
    assert answer.status_code == 303
    assert settings.group_auto_provisioning() == "all"
    bad = client.post("/admin/settings", data={"group_auto_provisioning": "x", "csrf_token": token})
    assert bad.status_code == 422


def test_deactivation_needs_the_username_typed(client):
    token = log_in(client, "root", "root-pw")
    page = client.post(
        "/admin/people/bob/deactivate", data={"confirm": "", "reason": "x", "csrf_token": token}
    )
    assert page.status_code == 422 and "Type bob to confirm" in page.text
    assert user_by_username("bob").active


def test_application_settings_and_roles_editor(client):
    token = log_in(client, "root", "root-pw")
    answer = client.post(
        "/admin/applications/crm/settings",
        data={
            "enabled": "on",
            "roles": "viewer: Viewer\nadmin: Administrator",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303
    app = application_by_key("crm")
    assert app.role_names == {"viewer": "Viewer", "admin": "Administrator"}
    assert app.enabled and not app.allow_multiple_accounts
    g.pop("csrf_token", None)
    page = client.get("/admin/applications/crm")
    assert "viewer: Viewer" in page.text


def test_my_access_shows_a_group_grant_without_a_removal_button(client):
    root = user_by_username("root")
    act(create_group, root, "sales")
    act(groups.add_application, root, "sales", "crm")
    act(groups.add_member, root, "sales", "alice")
    assert [a["source"] for a in holdings.access_of(user_by_username("alice"))] == ["group"]
    log_in(client, "alice", "alice-pw")
    page = client.get("/my-access")
    assert "CRM" in page.text and "membership of sales" in page.text
    assert ">Request removal</button>" not in page.text
    assert token_of(page)
