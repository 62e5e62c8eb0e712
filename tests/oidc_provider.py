"""A real OpenID Connect provider on loopback for the single sign-on tests: Canaille, started
by pytest-iam's `iam_server` fixture in a thread on a free port, with accessflow registered as
a confidential client and a few people who may sign in there."""

import pytest
import requests
from flask import g
from sqlalchemy import select, text

from engine.db import db
from engine.models import AuditEvent

CLIENT_ID = "accessflow-tests"
CLIENT_SECRET = "idp-client-secret-5f1c0e9a"  # the tests look for it in every answer and log
REDIRECT = "http://localhost/login/sso/corp/callback"
PROVIDERS = "/api/v1/admin/identity-providers"


class Provider:
    """The running provider: its issuer URL and its people, by accessflow username."""

    def __init__(self, server, people):
        self.server, self.people = server, people
        self.issuer = server.url

    def sign_in(self, client, username: str, key: str = "corp"):
        """Drive one sign-in: accessflow sends the browser to the provider, the person (already
        signed in there) is sent back with a code; returns accessflow's answer to the callback
        and the callback URL (to replay)."""
        callback = self.callback_for(client, username, key)
        return client.get(callback), callback

    def callback_for(self, client, username: str, key: str = "corp") -> str:
        """The URL the provider sends the browser back to, not yet followed."""
        self.server.login(self.people[username])
        start = client.get(f"/login/sso/{key}")
        assert start.status_code == 302, start.get_data(as_text=True)[:300]
        at_provider = requests.get(start.location, allow_redirects=False, timeout=10)
        assert at_provider.status_code == 302, at_provider.text[:300]
        return at_provider.headers["Location"]

    def forget_codes(self) -> None:
        """Drop the codes a test left unexchanged: Canaille's in-memory store may hand an old
        one back for a new code of the same client, failing that exchange's PKCE check."""
        backend, models = self.server.backend, self.server.models
        with self.server.app.app_context():
            for code in backend.query(models.AuthorizationCode):
                backend.delete(code)


@pytest.fixture(scope="session")
def oidc_provider(iam_server):
    """Canaille with accessflow's client and the people alice, bob and zoe (zoe is unknown to
    accessflow); each has already consented, so the provider answers with a code at once."""
    models, backend = iam_server.models, iam_server.backend
    client = models.Client(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_name="accessflow",
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_basic",
        scope=["openid", "profile", "email", "groups"],
    )
    backend.save(client)
    client.audience = [client]
    backend.save(client)
    people = {}
    for username in ("alice", "bob", "zoe"):
        # Canaille's preferred_username is the display name: it carries the accessflow username.
        person = iam_server.random_user(user_name=f"idp-{username}", display_name=username)
        iam_server.consent(person, client)
        people[username] = person
    yield Provider(iam_server, people)
    iam_server.logout()


@pytest.fixture
def corp(api, oidc_provider):
    """The provider configured as "Corp ID" by root, through the admin API."""
    answer = api["root"].post(
        PROVIDERS,
        {
            "key": "corp",
            "name": "Corp ID",
            "issuer": oidc_provider.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert answer.status_code == 201, answer.get_json()
    yield oidc_provider
    oidc_provider.forget_codes()


def events(name):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def signed_in_as(client):
    """The username the session shows on a page, or None when it is sent to the login page."""
    page = client.get("/catalog")
    if page.status_code == 302:
        return None
    g.pop("user", None)
    with client.session_transaction() as session:
        user_id = session.get("user_id")
    return db.session.scalar(text("SELECT username FROM users WHERE id = :id"), {"id": user_id})
