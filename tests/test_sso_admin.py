"""Configuring single sign-on: the identity-provider API (administrators only), the directory
file, and the guard that keeps local passwords on while no provider is a way in."""

import pytest
from sqlalchemy import text

from engine.db import db
from engine.directory.importer import import_directory
from engine.errors import Invalid
from tests.api_client import api  # noqa: F401
from tests.flow import act
from tests.oidc_provider import (  # noqa: F401
    CLIENT_ID,
    CLIENT_SECRET,
    PROVIDERS,
    corp,
    events,
    oidc_provider,
    signed_in_as,
)
from tests.test_web_hardening import assert_problem, sign_in


def test_passwords_cannot_be_turned_off_while_no_provider_is_enabled(app, api):  # noqa: F811
    answer = api["root"].call("PATCH", "/api/v1/admin/settings", json={"local_passwords": "off"})
    body = assert_problem(answer, 409)
    assert "no identity provider" in body["detail"]
    assert api["root"].get("/api/v1/admin/settings").get_json()["local_passwords"] == "on"
    assert sign_in(app.test_client()).status_code == 302  # alice's password still works


def test_non_admins_are_refused_on_the_identity_provider_api(api, corp):  # noqa: F811
    alice = api["alice"]
    assert_problem(alice.get(PROVIDERS), 403)
    assert_problem(alice.get(f"{PROVIDERS}/corp"), 403)
    assert_problem(alice.post(PROVIDERS, {"key": "mine", "name": "x"}), 403)
    assert_problem(alice.call("PATCH", f"{PROVIDERS}/corp", json={"enabled": False}), 403)
    assert_problem(alice.delete(f"{PROVIDERS}/corp"), 403)
    assert api["root"].get(f"{PROVIDERS}/corp").get_json()["enabled"] is True


@pytest.mark.parametrize(
    "change, field",
    [
        ({"key": "Bad Key"}, "key"),
        ({"issuer": "ftp://idp.example.com"}, "issuer"),
        ({"scopes": "profile email"}, "scopes"),
        ({"username_claim": " "}, "username_claim"),
    ],
)
def test_a_bad_provider_is_refused_naming_the_field(api, change, field):  # noqa: F811
    provider = {"key": "okta", "name": "Okta", "issuer": "https://idp.example.com"}
    provider.update(client_id="abc", **change)
    body = assert_problem(api["root"].post(PROVIDERS, provider), 422)
    assert field in str(body)
    assert api["root"].get(PROVIDERS).get_json()["items"] == []


def test_providers_are_added_changed_and_removed_with_an_audit_trail(api, corp):  # noqa: F811
    root = api["root"]
    assert_problem(root.post(PROVIDERS, {**_okta(), "key": "corp"}), 409)
    assert root.post(PROVIDERS, _okta()).status_code == 201
    changed = root.call("PATCH", f"{PROVIDERS}/okta", json={"group_claim": "groups"})
    assert changed.get_json()["group_claim"] == "groups"
    assert (
        root.call("DELETE", f"{PROVIDERS}/okta", json={"reason": "trial over"}).status_code == 204
    )
    assert_problem(root.get(f"{PROVIDERS}/okta"), 404)
    assert [p["key"] for p in root.get(PROVIDERS).get_json()["items"]] == ["corp"]
    assert events("identity_provider_changed")[0].details["fields"] == ["group_claim"]
    assert events("identity_provider_removed")[0].comment == "trial over"
    assert len(events("identity_provider_added")) == 2


def test_the_directory_file_configures_a_provider_and_turns_passwords_off(app, oidc_provider):  # noqa: F811
    corp_entry = {"key": "corp", "name": "Corp ID", "issuer": oidc_provider.issuer}
    corp_entry.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    directory = {"identity_providers": [corp_entry], "settings": {"local_passwords": "off"}}
    counts = act(import_directory, directory)
    assert counts["identity_providers"] == 1
    stored = db.session.scalar(text("SELECT client_secret FROM identity_providers"))
    assert stored.startswith("fernet:")
    client = app.test_client()
    assert 'name="password"' not in client.get("/login").text
    assert oidc_provider.sign_in(client, "alice")[0].status_code == 302
    assert signed_in_as(client) == "alice"
    oidc_provider.forget_codes()
    act(import_directory, {"identity_providers": [{**corp_entry, "name": "Corp"}]})  # again
    assert "Sign in with Corp<" in app.test_client().get("/login").text


def test_a_bad_provider_in_the_directory_file_names_the_entry_and_changes_nothing(app):
    bad = {"key": "okta", "name": "Okta", "issuer": "https://idp.example.com", "client_id": "a"}
    bad["scopes"] = "profile"
    with pytest.raises(Invalid, match=r"identity_providers\[0\] \(okta\): scopes must"):
        act(import_directory, {"identity_providers": [bad], "users": [{"username": "newbie"}]})
    assert db.session.scalar(text("SELECT count(*) FROM identity_providers")) == 0
    assert db.session.scalar(text("SELECT count(*) FROM users WHERE username='newbie'")) == 0


def _okta():
    return {"key": "okta", "name": "Okta", "issuer": "https://idp.example.com", "client_id": "a"}
