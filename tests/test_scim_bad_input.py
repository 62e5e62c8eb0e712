"""Whatever an identity provider sends, the answer is a SCIM error naming what is wrong (a
`scimType` where RFC 7644 has one), never a 500, and nothing is half-changed."""

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.models import User
from engine.scim.protocol import MAX_BODY_BYTES, MAX_FILTER_CHARS
from tests.scim_client import ENTERPRISE, ERROR, USER, IdentityProvider


@pytest.fixture
def idp(app):
    return IdentityProvider(app, "okta")


def assert_scim_error(response, status, scim_type=None):
    body = response.get_json(force=True)
    assert response.status_code == status, body
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    if scim_type:
        assert body["scimType"] == scim_type, body
    return body


def alice_id():
    return db.session.scalar(select(User.id).where(User.username == "alice"))


@pytest.mark.parametrize(
    "scim_filter",
    [
        'userName eq "unterminated',
        "userName xx 1",
        'userName eq "a" and',
        "((((userName pr)",
        'nickName eq "x"',  # a SCIM attribute we keep but cannot search
        'bogusAttribute eq "x"',  # no such attribute at all
        "active gt true",
    ],
)
def test_a_malformed_or_unsupported_filter_is_an_invalid_filter(idp, scim_filter):
    assert_scim_error(idp.get("/Users", query_string={"filter": scim_filter}), 400, "invalidFilter")


def test_a_filter_too_long_or_nested_too_deep_is_refused_before_parsing(idp):
    long = " or ".join(['userName eq "x"'] * (MAX_FILTER_CHARS // 10))
    assert_scim_error(idp.get("/Users", query_string={"filter": long}), 400, "invalidFilter")
    deep = "(" * 40 + 'userName eq "x"' + ")" * 40
    body = assert_scim_error(idp.get("/Users", query_string={"filter": deep}), 400, "invalidFilter")
    assert "deeper" in body["detail"]


def test_malformed_json_is_invalid_syntax_and_creates_nobody(idp):
    before = db.session.scalar(select(func.count()).select_from(User))
    response = idp.call(
        "POST",
        "/Users",
        data=b'{"userName": "x",',
        headers={"Content-Type": "application/scim+json"},
    )
    assert_scim_error(response, 400, "invalidSyntax")
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_an_oversized_body_is_413(idp):
    padding = "x" * (MAX_BODY_BYTES + 10)
    response = idp.post("/Users", {"schemas": [USER], "userName": "big", "nickName": padding})
    assert_scim_error(response, 413)


def test_a_taken_user_name_is_a_uniqueness_conflict(idp):
    assert_scim_error(
        idp.post("/Users", {"schemas": [USER], "userName": "alice"}), 409, "uniqueness"
    )
    nora = idp.create_user("nora")
    renamed = idp.patch(
        f"/Users/{nora['id']}", {"op": "replace", "path": "userName", "value": "bob"}
    )
    assert_scim_error(renamed, 409, "uniqueness")


def test_unknown_attributes_and_paths_are_named(idp):
    unknown = idp.patch(f"/Users/{alice_id()}", {"op": "replace", "path": "shoeSize", "value": "9"})
    assert_scim_error(unknown, 400, "invalidPath")
    no_op = idp.patch(f"/Users/{alice_id()}", {"op": "explode", "path": "title", "value": "x"})
    assert_scim_error(no_op, 400)
    read_only = idp.patch(f"/Users/{alice_id()}", {"op": "replace", "path": "id", "value": "x"})
    assert_scim_error(read_only, 400, "mutability")


@pytest.mark.parametrize(
    "body, scim_type",
    [
        ({"schemas": [USER]}, None),  # no userName
        ({"schemas": [USER], "userName": "x" * 200}, "invalidValue"),
        ({"schemas": [USER], "userName": "ok", "title": "t" * 300}, "invalidValue"),
        ({"schemas": [USER], "userName": "ok", "active": "perhaps"}, None),
        ({"schemas": [USER], "userName": "ok", "emails": "not-a-list"}, None),
        ([1, 2, 3], None),
    ],
)
def test_a_bad_user_is_refused_with_a_scim_error(idp, body, scim_type):
    response = idp.post("/Users", body)
    assert response.status_code == 400, response.get_json()
    assert_scim_error(response, 400, scim_type)
    assert db.session.scalar(select(User.id).where(User.username == "ok")) is None


def test_a_member_that_is_no_user_changes_nothing(idp):
    created = idp.create_group("sales", members=[alice_id()])
    bad = idp.patch(
        f"/Groups/{created['id']}", {"op": "add", "path": "members", "value": [{"value": "nope"}]}
    )
    assert_scim_error(bad, 400, "invalidValue")
    members = idp.get(f"/Groups/{created['id']}").get_json()["members"]
    assert [m["value"] for m in members] == [alice_id()]


def test_unknown_resources_and_paths_are_404_in_scim_shape(idp):
    assert_scim_error(idp.get("/Users/no-such-id"), 404)
    assert_scim_error(idp.get("/Widgets"), 404)
    assert_scim_error(idp.delete("/Groups/no-such-id"), 404)


def test_a_missing_token_is_401_with_a_challenge(app):
    response = app.test_client().get("/scim/v2/Users")
    assert_scim_error(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_a_nul_character_in_the_query_is_a_scim_error_not_a_500(idp):
    response = idp.get("/Users", query_string={"filter": 'userName eq "a\x00"'})
    assert_scim_error(response, 400)


@pytest.mark.parametrize(
    "raw", [b"[" * 50000 + b"]" * 50000, b"null", b'"a string"', b"", b"\xff\xfe"]
)
def test_json_nested_past_any_decoder_or_not_an_object_is_a_scim_error(idp, raw):
    for method, path in (
        ("POST", "/Users"),
        ("POST", "/Users/.search"),
        ("PATCH", f"/Users/{alice_id()}"),
        ("PUT", f"/Users/{alice_id()}"),
    ):
        response = idp.call(
            method, path, data=raw, headers={"Content-Type": "application/scim+json"}
        )
        assert_scim_error(response, 400)


@pytest.mark.parametrize(
    "query, status",
    [
        ({"count": "-1"}, 200),  # RFC 7644: a negative count is 0
        ({"count": "abc"}, 400),
        ({"startIndex": "0"}, 200),  # below 1 is 1
        ({"count": str(10**12)}, 200),  # bounded by maxResults
        ({"sortBy": "shoeSize"}, 400),
        ({"sortBy": "emails"}, 200),
        ({"attributes": "shoeSize"}, 200),  # an unknown attribute is simply not returned
        ({"filter": 'meta.lastModified gt "2020-01-01T00:00:00Z"'}, 200),
        ({"filter": 'meta.created lt "yesterday"'}, 400),
        ({"filter": "id eq 5"}, 400),
        ({"filter": "userName eq null"}, 200),
        ({"filter": 'userName co "%" and userName sw "_"'}, 200),  # LIKE wildcards are text
        ({"filter": f"{ENTERPRISE}:department pr"}, 200),
    ],
)
def test_odd_list_parameters_answer_a_page_or_a_scim_error(idp, query, status):
    response = idp.get("/Users", query_string=query)
    if status == 400:
        assert_scim_error(response, 400)
    else:
        assert response.status_code == 200, response.get_json()
        assert len(response.get_json().get("Resources", [])) <= 200
