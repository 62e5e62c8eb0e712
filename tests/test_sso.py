"""Signing in through a real OpenID Connect provider (Canaille on loopback, tests/oidc_provider.py).

Stories: people sign in with the provider an administrator configured; what the provider says
is checked (state, code, nonce, signature) and only existing, active people get in; sign-out
ends the session here and at the provider; with local passwords off the form is gone."""

import logging

import requests
from sqlalchemy import text

from engine.db import db
from tests.api_client import api  # noqa: F401
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


def test_alice_signs_in_with_the_provider_and_gets_a_fresh_session(app, corp):  # noqa: F811
    client = app.test_client()
    page = client.get("/login")
    assert "Sign in with Corp ID" in page.text and 'href="/login/sso/corp"' in page.text
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"  # a session fixed before sign-in must not survive
    answer, _ = corp.sign_in(client, "alice")
    assert answer.status_code == 302 and answer.location == "/"
    assert signed_in_as(client) == "alice"
    with client.session_transaction() as session:
        assert "planted" not in session and session["sso_provider"] == "corp"
    (event,) = events("sso_sign_in_succeeded")
    assert event.details["provider"] == "corp" and event.details["username"] == "alice"
    assert event.actor_id == db.session.scalar(text("SELECT id FROM users WHERE username='alice'"))


def test_sign_in_returns_to_the_page_asked_for(app, corp):  # noqa: F811
    client = app.test_client()
    corp.server.login(corp.people["alice"])
    start = client.get("/login/sso/corp", query_string={"next": "/requests"})
    back = requests.get(start.location, allow_redirects=False, timeout=10).headers["Location"]
    assert client.get(back).location == "/requests"


def test_sign_in_never_returns_to_another_site(app, corp):  # noqa: F811
    client = app.test_client()
    corp.server.login(corp.people["alice"])
    start = client.get("/login/sso/corp", query_string={"next": "//evil.example/x"})
    back = requests.get(start.location, allow_redirects=False, timeout=10).headers["Location"]
    assert client.get(back).location == "/"


def test_a_disabled_or_unreachable_provider_is_not_a_way_in(app, api, corp):  # noqa: F811
    root = api["root"]
    assert root.call("PATCH", f"{PROVIDERS}/corp", json={"enabled": False}).status_code == 200
    client = app.test_client()
    assert "Sign in with" not in client.get("/login").text
    assert client.get("/login/sso/corp").status_code == 404
    assert client.get("/login/sso/nobody").status_code == 404
    down = {"key": "down", "name": "Down", "issuer": "http://127.0.0.1:9", "client_id": "x"}
    assert root.post(PROVIDERS, down).status_code == 201
    answer = client.get("/login/sso/down")
    assert answer.status_code == 502 and "could not be reached" in answer.text


def test_a_callback_with_a_forged_state_is_refused(app, corp):  # noqa: F811
    client = app.test_client()
    callback = corp.callback_for(client, "alice")
    forged = callback.replace("state=", "state=forged")
    answer = client.get(forged)
    assert answer.status_code == 400 and "could not be verified" in answer.text
    assert signed_in_as(client) is None


def test_a_person_who_cancels_at_the_provider_is_told_so(app, corp):  # noqa: F811
    client = app.test_client()
    answer = client.get("/login/sso/corp/callback?error=access_denied&state=whatever")
    assert answer.status_code == 403 and "did not sign you in (access_denied)" in answer.text
    assert signed_in_as(client) is None


def test_a_replayed_code_signs_nobody_in(app, corp):  # noqa: F811
    client = app.test_client()
    answer, callback = corp.sign_in(client, "alice")
    assert answer.status_code == 302
    assert client.post("/logout", data={"csrf_token": _csrf(client)}).status_code == 302
    assert signed_in_as(client) is None
    assert client.get(callback).status_code == 400  # the same browser, state already used
    stranger = app.test_client()
    assert stranger.get(callback).status_code == 400  # another browser: no state of its own
    assert signed_in_as(client) is None and signed_in_as(stranger) is None


def test_an_id_token_with_a_broken_signature_is_refused(app, corp, monkeypatch):  # noqa: F811
    from authlib.integrations.flask_client import FlaskOAuth2App

    real = FlaskOAuth2App.fetch_access_token

    def tampered(self, *args, **kwargs):  # what a man in the middle would hand back
        token = real(self, *args, **kwargs)
        header, claims, signature = token["id_token"].split(".")
        token["id_token"] = ".".join((header, claims, signature[::-1]))
        return token

    monkeypatch.setattr(FlaskOAuth2App, "fetch_access_token", tampered)
    client = app.test_client()
    answer, _ = corp.sign_in(client, "alice")
    assert answer.status_code == 400 and "could not be verified" in answer.text
    assert signed_in_as(client) is None and events("sso_sign_in_succeeded") == []


def test_someone_unknown_here_is_refused_and_no_account_is_made(app, corp):  # noqa: F811
    client = app.test_client()
    answer, _ = corp.sign_in(client, "zoe")
    assert answer.status_code == 403 and "no such person in accessflow" in answer.text
    assert signed_in_as(client) is None
    assert db.session.scalar(text("SELECT count(*) FROM users WHERE username='zoe'")) == 0
    (event,) = events("sso_sign_in_refused")
    assert event.details["reason"] == "unknown username" and event.details["username"] == "zoe"


def test_a_deactivated_person_is_refused(app, api, corp):  # noqa: F811
    answer = api["root"].call(
        "PATCH", "/api/v1/admin/users/bob", json={"active": False, "reason": "left"}
    )
    assert answer.status_code == 200, answer.get_json()
    client = app.test_client()
    answer, _ = corp.sign_in(client, "bob")
    assert answer.status_code == 403 and "deactivated" in answer.text
    assert signed_in_as(client) is None
    assert events("sso_sign_in_refused")[0].details["reason"] == "deactivated account"


def test_logout_ends_the_session_here_and_at_the_provider(app, corp):  # noqa: F811
    client = app.test_client()
    corp.sign_in(client, "alice")
    with client.session_transaction() as session:
        captured = dict(session)
    out = client.post("/logout", data={"csrf_token": _csrf(client)})
    ends_at = requests.get(corp.issuer + ".well-known/openid-configuration", timeout=10).json()
    assert out.status_code == 302
    assert out.location.startswith(ends_at["end_session_endpoint"] + "?")
    assert f"client_id={CLIENT_ID}" in out.location
    assert "post_logout_redirect_uri=http%3A%2F%2Flocalhost%2Flogin" in out.location
    with client.session_transaction() as session:
        session.update(captured)  # the old cookie, replayed
    assert signed_in_as(client) is None


def test_the_client_secret_never_shows_in_answers_rows_audit_or_logs(app, api, corp, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    root = api["root"]
    shown = [root.get(PROVIDERS), root.get(f"{PROVIDERS}/corp")]
    shown.append(root.call("PATCH", f"{PROVIDERS}/corp", json={"client_secret": "********"}))
    client = app.test_client()
    shown.append(corp.sign_in(client, "alice")[0])
    for answer in shown:
        assert answer.status_code in (200, 302)
        assert CLIENT_SECRET not in answer.get_data(as_text=True)
    assert root.get(f"{PROVIDERS}/corp").get_json()["client_secret"] == "********"
    stored = db.session.scalar(text("SELECT client_secret FROM identity_providers"))
    assert stored.startswith("fernet:") and CLIENT_SECRET not in stored
    audit = db.session.scalars(text("SELECT details FROM audit_events")).all()
    assert CLIENT_SECRET not in str(audit)
    assert CLIENT_SECRET not in caplog.text
    assert signed_in_as(client) == "alice"  # the kept secret still works at the provider


def test_a_wrong_client_secret_is_refused_by_the_provider(app, api, corp):  # noqa: F811
    answer = api["root"].call("PATCH", f"{PROVIDERS}/corp", json={"client_secret": "wrong"})
    assert answer.status_code == 200
    client = app.test_client()
    answer, _ = corp.sign_in(client, "alice")
    assert answer.status_code == 400 and signed_in_as(client) is None


def test_with_local_passwords_off_the_password_form_is_gone_and_refused(app, api, corp):  # noqa: F811
    answer = api["root"].call("PATCH", "/api/v1/admin/settings", json={"local_passwords": "off"})
    assert answer.status_code == 200 and answer.get_json()["local_passwords"] == "off"
    client = app.test_client()
    page = client.get("/login")
    assert "Sign in with Corp ID" in page.text and 'name="password"' not in page.text
    refused = sign_in(client, "alice", "alice-pw")
    assert refused.status_code == 403 and "Local passwords are turned off" in refused.text
    assert signed_in_as(client) is None
    assert corp.sign_in(client, "alice")[0].status_code == 302  # single sign-on still works
    # The only way in cannot be taken away while passwords are off.
    assert_problem(api["root"].call("DELETE", f"{PROVIDERS}/corp"), 409)
    disabled = api["root"].call("PATCH", f"{PROVIDERS}/corp", json={"enabled": False})
    assert_problem(disabled, 409)


def _csrf(client):
    from tests.test_web_hardening import token_of

    return token_of(client, "/catalog")
