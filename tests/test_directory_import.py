"""Loading the directory file: upserts, and a bad file that changes nothing and names the entry."""

import copy

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.directory.importer import import_directory
from engine.directory.lookup import application_by_key
from engine.errors import Conflict, Invalid
from engine.models import Application, Group, User
from engine.requests import cart
from tests.api_client import api  # noqa: F401
from tests.conftest import DIRECTORY
from tests.flow import act, decide, submit


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_importing_the_same_file_twice_changes_nothing(app):
    before = (_count(User), _count(Application))
    act(import_directory, DIRECTORY)
    assert (_count(User), _count(Application)) == before


def test_import_updates_by_username_and_key(app):
    changed = copy.deepcopy(DIRECTORY)
    changed["users"][2]["display_name"] = "Alice A. Archer"
    changed["applications"][0]["name"] = "CRM (new)"
    act(import_directory, changed)
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    crm = db.session.scalar(select(Application).where(Application.key == "crm"))
    assert (alice.display_name, crm.name) == ("Alice A. Archer", "CRM (new)")


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (lambda d: d["users"].append({"username": "zed", "manager": "ghost"}), "ghost"),
        (lambda d: d["groups"].append({"name": "g", "members": ["nobody"]}), "groups[4] (g)"),
        (
            lambda d: d["applications"].append({"key": "x", "kind": "teleporter"}),
            "applications[2] (x)",
        ),
        (lambda d: d["applications"].append({"key": "y", "kind": "connected"}), "connector"),
        (lambda d: d["users"].append({"email": "no-name@example.com"}), "users[9]"),
        (lambda d: d["users"].append({"username": "root"}), "users[9] (root): username"),
        (lambda d: d["users"][2].update(active="false"), "users[2] (alice): active"),
        (lambda d: d["users"][1].update(manager="alice"), "manager cycle"),
        (lambda d: d["applications"][0].update(approval_timeout="P999999999D"), "P365D"),
        (lambda d: d["applications"][0].update(enabled="no"), "applications[0] (crm): enabled"),
    ],
)
def test_a_broken_file_changes_nothing_and_names_the_entry(app, breakage, named):
    broken = copy.deepcopy(DIRECTORY)
    broken["users"][0]["display_name"] = "Should Not Stick"
    breakage(broken)
    before = (_count(User), _count(Application))
    with pytest.raises(Invalid) as raised:
        act(import_directory, broken)
    assert named in raised.value.detail
    root = db.session.scalar(select(User).where(User.username == "root"))
    assert root.display_name == "Rita Root"
    assert (_count(User), _count(Application)) == before


def test_malformed_json_is_refused_with_its_line(app):
    with pytest.raises(Invalid, match="line 2"):
        act(import_directory, '{"users": [\n  {"username": "x",,}]}')


def test_connector_secrets_are_masked_for_display(app):
    wiki = db.session.scalar(select(Application).where(Application.key == "wiki"))
    shown = wiki.public_connector_settings()
    assert shown["token"] == "********" and shown["base_url"].startswith("http://")


def _import_with(change):
    changed = copy.deepcopy(DIRECTORY)
    change(changed)
    with pytest.raises(Invalid) as raised:
        act(import_directory, changed)
    return raised.value.detail


def test_manager_cycle_is_refused_naming_the_people(app):
    def cycle(d):
        d["users"] += [
            {"username": "ann", "manager": "ben"},
            {"username": "ben", "manager": "ann"},
        ]

    assert _import_with(cycle) == "users[9] (ann): manager cycle: ann manages ben manages ann"


def test_a_cycle_through_people_already_stored_is_refused(app):
    # alice's manager is mark in the database; a file making alice mark's manager closes a loop.
    with pytest.raises(Invalid) as raised:
        act(import_directory, {"users": [{"username": "mark", "manager": "alice"}]})
    detail = raised.value.detail
    assert detail == "users[0] (mark): manager cycle: mark manages alice manages mark"


def test_a_user_who_manages_themselves_is_refused(app):
    detail = _import_with(lambda d: d["users"][1].update(manager="mark"))
    assert detail.startswith("users[1] (mark): manager") and "themselves" in detail


@pytest.mark.parametrize(
    ("duplicate", "named"),
    [
        (
            lambda d: d["users"].append({"username": " alice "}),
            "users[9] (alice): username is also the username of users[2]",
        ),
        (
            lambda d: d["groups"].append({"name": "admins", "members": []}),
            "groups[4] (admins): name is also the name of groups[0]",
        ),
        (
            lambda d: d["applications"].append({"key": "crm", "name": "Second CRM"}),
            "applications[2] (crm): key is also the key of applications[0]",
        ),
    ],
)
def test_duplicate_names_within_the_file_are_refused_not_merged(app, duplicate, named):
    assert _import_with(duplicate) == named


def test_active_must_be_true_or_false_not_a_string(app):
    detail = _import_with(lambda d: d["users"].append({"username": "carol", "active": "false"}))
    assert detail == "users[9] (carol): active must be true or false"
    assert db.session.scalar(select(User).where(User.username == "carol")) is None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["users"].append({"username": 7}), "users[9]: username must be a string"),
        (lambda d: d["users"][2].update(email=["a@b"]), "users[2] (alice): email must be a string"),
        (lambda d: d["users"][2].update(password=True), "(alice): password must be a string"),
        (lambda d: d["users"][2].update(active=1), "(alice): active must be true or false"),
        (lambda d: d["users"].append("dave"), "users[9]: must be an object"),
        (lambda d: d["groups"][0].update(members="root"), "groups[0] (admins): members must be"),
        (lambda d: d["groups"][0].update(members=[None]), "groups[0] (admins): members[0] must"),
        (lambda d: d["applications"][1].update(connector=["scim"]), "(wiki): connector must"),
        (lambda d: d["applications"][0].update(approval_timeout=5), "approval_timeout must"),
        (lambda d: d["applications"][0].update(name={"x": 1}), "(crm): name must be a string"),
        (lambda d: d["users"][2].update(manger="mark"), "(alice): manger is not a field"),
        (lambda d: d.update(users={"alice": {}}), "users: must be a list"),
        (lambda d: d.update(settings={"group_auto_provisioning": "some"}), "settings:"),
        (lambda d: d["applications"][0].update(roles=[{"name": "No key"}]), "roles[0].key is"),
        (lambda d: d["applications"][0].update(lanes={"Security": 3}), "(crm): lanes.Security"),
    ],
)
def test_wrong_types_are_refused_naming_the_entry_and_field(app, change, named):
    assert named in _import_with(change)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda d: d["users"].append({"username": "eve\x00admin"}),
            "users[9] ('eve\\x00admin'): username must not contain control characters",
        ),
        (
            lambda d: d["groups"].append({"name": "ops\x1b[31m", "members": []}),
            "groups[4] ('ops\\x1b[31m'): name must not contain control characters",
        ),
        (
            lambda d: d["applications"].append({"key": "crm\u202e", "name": "CRM"}),
            "applications[2] ('crm\\u202e'): key must not contain control characters",
        ),
        (
            lambda d: d["users"][2].update(display_name="Alice\x00"),
            "users[2] (alice): display_name must not contain control characters",
        ),
    ],
)
def test_control_characters_in_names_and_keys_are_refused(app, change, named):
    assert _import_with(change) == named


def test_a_display_name_keeps_its_joiners_and_spaces_a_username_may_not_have_them(app, people):
    # A zero-width joiner is how some scripts and emoji are written: fine in a display name.
    import_directory({"users": [{"username": "kim", "display_name": " Kim क्‍ "}]})
    assert people["kim"].display_name == " Kim क्‍ "
    assert "must not contain control characters" in _import_with(
        lambda d: d["users"].append({"username": "k‍im"})
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda d: d["users"].append({"username": "u" * 151}),
            "username must be at most 150 characters",
        ),
        (lambda d: d["groups"][0].update(name="g" * 151), "name must be at most 150 characters"),
        (
            lambda d: d["applications"][0].update(key="k" * 101),
            "key must be at most 100 characters",
        ),
        (
            lambda d: d["users"][2].update(email="e" * 321),
            "users[2] (alice): email must be at most 320 characters",
        ),
    ],
)
def test_strings_longer_than_their_columns_are_refused(app, change, named):
    assert named in _import_with(change)


@pytest.mark.parametrize("timeout", ["P999999999D", "P366D", "P2Y", "2 days", "P", "PT", "p2d"])
def test_an_approval_timeout_must_be_a_duration_of_at_most_a_year(app, timeout):
    detail = _import_with(lambda d: d["applications"][0].update(approval_timeout=timeout))
    assert detail.startswith("applications[0] (crm): approval_timeout ")


def test_an_approval_timeout_of_a_year_or_less_is_kept(app):
    changed = copy.deepcopy(DIRECTORY)
    changed["applications"][0]["approval_timeout"] = "P365D"
    changed["applications"][1]["approval_timeout"] = "P1W"
    act(import_directory, changed)
    assert application_by_key("crm").approval_timeout == "P365D"


def test_a_disabled_application_leaves_the_catalog_and_its_open_items_finish(
    app,
    people,
    api,  # noqa: F811
):
    item = submit(people["alice"], ("crm", "bob")).items[0]
    disabled = copy.deepcopy(DIRECTORY)
    disabled["applications"][0]["enabled"] = False
    act(import_directory, disabled)

    alice = api["alice"]
    listed = [a["key"] for a in alice.get("/api/v1/applications").get_json()["items"]]
    assert listed == ["wiki"]
    refused = alice.post("/api/v1/cart/items", {"application": "crm", "beneficiary": "stan"})
    assert refused.status_code == 409 and "CRM (crm) is disabled" in refused.get_json()["detail"]

    decide(people["mark"], item)
    decide(people["gina"], item)
    decide(people["fred"], item, account_id="bob-crm")
    db.session.refresh(item)
    assert item.status == "fulfilled"

    act(import_directory, DIRECTORY)  # enabled again when the file no longer says otherwise
    assert application_by_key("crm").enabled is True


def test_a_cart_line_for_an_application_disabled_since_is_refused_at_submit(app, people):
    act(cart.add_to_cart, people["alice"], "crm", "bob")
    disabled = copy.deepcopy(DIRECTORY)
    disabled["applications"][0]["enabled"] = False
    act(import_directory, disabled)
    with pytest.raises(Conflict, match="CRM \\(crm\\) is disabled"):
        act(cart.submit_cart, people["alice"])


def test_the_lifecycle_fields_of_design_section_7_are_accepted(app):
    extended = copy.deepcopy(DIRECTORY)
    extended["settings"] = {"group_auto_provisioning": "per_application"}
    extended["users"].append(
        {"username": "carol", "active": False, "department": "Sales", "title": "Rep"}
    )
    extended["groups"].append(
        {
            "name": "sales",
            "members": ["alice"],
            "applications": [{"application": "wiki", "role": "editor"}],
        }
    )
    extended["applications"][1].update(
        enabled=True,
        group_auto_provisioning=True,
        owner="root",
        lanes={"SecurityTeam": "admins"},
        roles=[{"key": "editor", "name": "Editor"}],
        questions=[
            {
                "key": "reason_code",
                "label": "Why",
                "type": "choice",
                "choices": ["project", "support"],
                "required": True,
            }
        ],
        max_duration="P90D",
        sync_interval="PT40M",
    )
    extended["applications"].append(
        {"key": "portal", "name": "Portal", "kind": "sso", "approver_group": "crm-approvers"}
    )
    counts = act(import_directory, extended)
    assert counts == {"users": 10, "groups": 5, "applications": 3}
    carol = db.session.scalar(select(User).where(User.username == "carol"))
    assert carol.active is False
    assert db.session.scalar(select(Group).where(Group.name == "sales")) is not None
