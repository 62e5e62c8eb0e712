"""Loading the directory file: upserts, and a bad file that changes nothing and names the entry."""

import copy

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.directory import import_directory
from engine.errors import Invalid
from engine.models import Application, User
from tests.conftest import DIRECTORY


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_importing_the_same_file_twice_changes_nothing(app):
    before = (_count(User), _count(Application))
    import_directory(DIRECTORY)
    assert (_count(User), _count(Application)) == before


def test_import_updates_by_username_and_key(app):
    changed = copy.deepcopy(DIRECTORY)
    changed["users"][2]["display_name"] = "Alice A. Archer"
    changed["applications"][0]["name"] = "CRM (new)"
    import_directory(changed)
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
    ],
)
def test_a_broken_file_changes_nothing_and_names_the_entry(app, breakage, named):
    broken = copy.deepcopy(DIRECTORY)
    broken["users"][0]["display_name"] = "Should Not Stick"
    breakage(broken)
    before = (_count(User), _count(Application))
    with pytest.raises(Invalid) as raised:
        import_directory(broken)
    assert named in raised.value.detail
    root = db.session.scalar(select(User).where(User.username == "root"))
    assert root.display_name == "Rita Root"
    assert (_count(User), _count(Application)) == before


def test_malformed_json_is_refused_with_its_line(app):
    with pytest.raises(Invalid, match="line 2"):
        import_directory('{"users": [\n  {"username": "x",,}]}')


def test_connector_secrets_are_masked_for_display(app):
    wiki = db.session.scalar(select(Application).where(Application.key == "wiki"))
    shown = wiki.public_connector_settings()
    assert shown["token"] == "********" and shown["base_url"].startswith("http://")
