"""Calling the REST API through Flask's test client as one person or another."""

import pytest

from engine.directory.tokens import issue_token
from tests.flow import act


class Caller:
    """One person's bearer token on a test client: caller.get("/api/v1/tasks")."""

    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def call(self, method, path, json=None, headers=None):
        return self.client.open(
            path, method=method, json=json, headers={**self.headers, **(headers or {})}
        )

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.call("POST", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    def submit(self, *lines, key=None):
        """Put (application, beneficiary) lines in the cart and submit; returns the response."""
        for application, beneficiary in lines:
            answer = self.post(
                "/api/v1/cart/items",
                {"application": application, "beneficiary": beneficiary, "justification": "work"},
            )
            assert answer.status_code == 201, answer.get_json()
        return self.post("/api/v1/cart/submit", headers={"Idempotency-Key": key} if key else None)

    def open_task(self, item_id):
        """The caller's open task on an item (from their inbox), or None."""
        tasks = self.get("/api/v1/tasks").get_json()["items"]
        return next((t for t in tasks if t["item"] == item_id), None)


@pytest.fixture
def api(app, people):
    """api["alice"] is a Caller holding a fresh token of alice's."""
    client = app.test_client()

    class Callers:
        def __getitem__(self, username):
            return Caller(client, act(issue_token, username))

    return Callers()
