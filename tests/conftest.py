"""Fixtures: a small directory on a fresh database, SQLite and PostgreSQL alike."""

import os
import uuid

import psycopg
import pytest

from api.app import create_app, deploy_shipped_workflows
from engine.db import db
from engine.directory import import_directory, user_by_username
from engine.unit_of_work import unit_of_work

# One connector-secret key for the test process and the CLI, servers and workers it starts.
TEST_ENCRYPTION_KEY = "l4pZ0mM6d1lQ1n2PZk3p1r3c8Yq8m3r1V0Jx3hYpG2s="
os.environ.setdefault("ACCESSFLOW_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)

PG_ADMIN_URL = os.environ.get("ACCESSFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

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
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise  # in CI a missing PostgreSQL is a failure, not a skip
        return None, None
    name = f"accessflow_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return admin, (name, f"{base}/{name}")


@pytest.fixture(scope="session")
def postgres_url():
    admin, created = _postgres_database()
    if admin is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    name, url = created
    yield url
    from sqlalchemy.pool import NullPool  # noqa: F401  (pools are disposed by the app fixture)

    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accessflow.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app(database_url):
    """A fresh schema with the shipped workflows deployed and the small directory loaded."""
    application = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "SECRET_KEY": "test-secret"}
    )
    with application.app_context():
        db.drop_all()
        db.create_all()
        deploy_shipped_workflows()
        with unit_of_work():
            import_directory(DIRECTORY)
        yield application
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def people(app):
    """Look directory users up by name: people['alice']."""

    class People:
        def __getitem__(self, name):
            return user_by_username(name)

    return People()
