"""Fixtures: a small directory on a fresh database, SQLite and PostgreSQL alike.

The schema, the shipped workflows and the directory are built once per session per database
kind; each test gets its own copy (tests/databases.py). Tests are marked for the slow tiers here
too, from the fixtures they use (see pyproject.toml).
"""

import os
import shutil

import pytest

from api.app import create_app
from engine.db import db
from engine.directory.lookup import user_by_username
from engine.workflow import runtime
from tests import databases
from tests.databases import PG_ADMIN_URL  # noqa: F401  (other test modules import it from here)

# One connector-secret key for the test process and the CLI, servers and workers it starts.
TEST_ENCRYPTION_KEY = "l4pZ0mM6d1lQ1n2PZk3p1r3c8Yq8m3r1V0Jx3hYpG2s="
os.environ.setdefault("ACCESSFLOW_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
# The cheapest argon2 parameters, here and in every process the tests start (production: strong).
os.environ["ACCESSFLOW_PASSWORD_HASH"] = "fast"

DIRECTORY = {
    "users": [
        {"username": "root", "email": "root@example.com", "display_name": "Rita Root"},
        {"username": "mark", "email": "mark@example.com", "display_name": "Mark Manager"},
        {
            "username": "alice",
            "email": "alice@example.com",
            "display_name": "Alice Archer",
            "manager": "mark",
            "first_name": "Alice",
            "last_name": "Archer",
            "password": "alice-pw",
        },
        {
            "username": "bob",
            "email": "bob@example.com",
            "display_name": "Bob Baker",
            "manager": "mark",
            "first_name": "Bob",
            "last_name": "Baker",
        },
        {"username": "gina", "email": "gina@example.com", "manager": "mark"},
        {"username": "fred", "email": "fred@example.com", "manager": "mark"},
        {"username": "fiona", "email": "fiona@example.com", "manager": "mark"},
        {"username": "stan", "email": "stan@example.com", "manager": "mark"},
        {"username": "dora", "email": "dora@example.com", "manager": "mark"},
    ],
    "groups": [
        {"name": "admins", "members": ["root"]},
        {"name": "designers", "members": ["dora"]},
        {"name": "crm-approvers", "members": ["gina"]},
        {"name": "it-fulfillers", "members": ["fred", "fiona"]},
    ],
    "applications": [
        {
            "key": "crm",
            "name": "CRM",
            "kind": "disconnected",
            "approver_group": "crm-approvers",
            "fulfiller_group": "it-fulfillers",
        },
        {
            "key": "wiki",
            "name": "Wiki",
            "kind": "connected",
            "approver_group": "crm-approvers",
            "fulfiller_group": "it-fulfillers",
            "notification_email": "it@example.com",
            "connector": {
                "type": "scim",
                "base_url": "http://127.0.0.1:9/wiki/v2",
                "token": "wiki-secret-token",
                "matching_attribute": "userName",
            },
        },
    ],
}


def _postgres_database():
    """A throwaway PostgreSQL database for this test session, or None when there is no server."""
    admin = databases.admin_connection()
    if admin is None:
        return None, None
    name = databases.new_database_name()
    admin.execute(f'CREATE DATABASE "{name}"')
    return admin, (name, databases.postgres_url(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A folder holding the prepared SQLite file; each test copies it."""
    folder = tmp_path_factory.mktemp("template")
    databases.build(f"sqlite:///{folder / 'accessflow.db'}", DIRECTORY)
    return folder


@pytest.fixture(scope="session")
def postgres_copies():
    """The prepared PostgreSQL template and the working database each test starts from."""
    admin = databases.admin_connection()
    if admin is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    copies = databases.PostgresCopies(admin, DIRECTORY)
    yield copies
    copies.close()
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A database of this test's own, with the schema, workflows and directory in it."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_copies").fresh()
    for path in request.getfixturevalue("sqlite_template").glob("accessflow.db*"):
        shutil.copy(path, tmp_path / path.name)
    return f"sqlite:///{tmp_path / 'accessflow.db'}"


@pytest.fixture
def app(database_url):
    """An app on this test's own database: shipped workflows deployed, small directory loaded."""
    runtime._live.clear()  # instance ids are new per test; no workflow from another test lingers
    application = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "SECRET_KEY": "test-secret"}
    )
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def people(app):
    """Look directory users up by name: people['alice']."""

    class People:
        def __getitem__(self, name):
            return user_by_username(name)

    return People()


# ---- tiers: `pytest -m "not browser and not processes and not postgresql"` is the fast one

TIER_FIXTURES = {
    "browser": {"chromium", "seeded_database"},
    "processes": {
        "served_sqlite",
        "served_postgres",
        "scim_server_process",
        "limited_scim_server",
        "seeded_database",
        "slapd_server",
        "ldap_directory",
        "iam_server",
        "oidc_provider",
    },
    "postgresql": {"postgres_copies", "served_postgres", "fresh_postgres"},
}
POSTGRESQL_PARAMS = {"postgresql", "postgres"}


def pytest_collection_modifyitems(items):
    """Mark each test by what it uses, so nobody has to mark hundreds of tests by hand."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        for marker, fixtures in TIER_FIXTURES.items():
            if used & fixtures:
                item.add_marker(marker)
        if params.get("database_url") in POSTGRESQL_PARAMS or params.get("served") in (
            POSTGRESQL_PARAMS
        ):
            item.add_marker("postgresql")
        if params.get("served") is not None:
            item.add_marker("processes")
