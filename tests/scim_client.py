"""An identity provider's side of the inbound SCIM server, through the Flask test client."""

from engine.scim.tokens import issue_scim_token
from tests.flow import act

SCIM = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class IdentityProvider:
    """Calls /scim/v2 with its own SCIM token, as Entra ID or Okta would."""

    def __init__(self, app, name="entra"):
        self.client = app.test_client()
        self.token = act(issue_scim_token, name)

    def call(self, method, path, body=None, headers=None, **kwargs):
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if body is not None:
            kwargs["json"] = body
            sent.setdefault("Content-Type", SCIM)
        response = self.client.open("/scim/v2" + path, method=method, headers=sent, **kwargs)
        return response

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, body, **kwargs):
        return self.call("POST", path, body, **kwargs)

    def put(self, path, body, **kwargs):
        return self.call("PUT", path, body, **kwargs)

    def patch(self, path, *operations, **kwargs):
        return self.call(
            "PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, **kwargs
        )

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    def create_user(self, username, **attributes):
        body = {"schemas": [USER, ENTERPRISE], "userName": username, **attributes}
        response = self.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def create_group(self, name, members=()):
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
