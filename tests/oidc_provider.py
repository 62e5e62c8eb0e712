"""A real OpenID Connect provider on loopback for the single sign-on tests: Canaille, started
by pytest-iam's `iam_server` fixture in a thread on a free port, with accessflow registered as
a confidential client and a few people who may sign in there."""

import pytest
import requests

CLIENT_ID = "accessflow-tests"
CLIENT_SECRET = "idp-client-secret-5f1c0e9a"  # the tests look for it in every answer and log
REDIRECT = "http://localhost/login/sso/corp/callback"


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
