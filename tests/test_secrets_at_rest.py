"""Connector secrets at rest: encrypted in the database, rotated, and files only the owner reads."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from api.app import create_app
from engine import encryption
from engine.db import db
from engine.directory.lookup import application_by_key
from engine.errors import Invalid
from engine.provisioning import connected_apps
from engine.provisioning.connected_apps import reencrypt_secrets
from engine.schema import alembic_config
from tests.conftest import DIRECTORY, TEST_ENCRYPTION_KEY
from tests.flow import act

ACCESSFLOW = str(Path(sys.executable).with_name("accessflow"))
TOKEN = "wiki-secret-token"
NEW_KEY = encryption.new_key()


@pytest.fixture(autouse=True)
def session_key_back():
    """Tests here swap keys; every other test expects the session's key back."""
    yield
    encryption.use_keys(TEST_ENCRYPTION_KEY)


def _stored_wiki_settings() -> str:
    raw = db.session.execute(
        text("SELECT connector_settings FROM applications WHERE key = 'wiki'")
    ).scalar()
    db.session.rollback()
    return raw if isinstance(raw, str) else json.dumps(raw)


def _store_in_clear(settings: dict) -> None:
    db.session.execute(
        text("UPDATE applications SET connector_settings = :s WHERE key = 'wiki'"),
        {"s": json.dumps(settings)},
    )
    db.session.commit()
    db.session.expire_all()


def test_the_scim_token_is_not_in_the_database_in_clear(app):
    stored = _stored_wiki_settings()
    assert TOKEN not in stored and encryption.PREFIX in stored
    wiki = application_by_key("wiki")
    assert encryption.reveal(wiki.connector_settings, "wiki")["token"] == TOKEN
    assert wiki.public_connector_settings()["token"] == "********"


def test_a_legacy_plaintext_secret_is_read_then_encrypted_by_init(app):
    _store_in_clear({**DIRECTORY["applications"][1]["connector"]})
    wiki = application_by_key("wiki")
    assert encryption.reveal(wiki.connector_settings, "wiki")["token"] == TOKEN
    assert act(reencrypt_secrets, only_plaintext=True) == 1
    assert TOKEN not in _stored_wiki_settings()


def test_the_migration_encrypts_secrets_left_in_clear(app, database_url):
    _store_in_clear({**DIRECTORY["applications"][1]["connector"]})
    config = alembic_config(database_url)
    command.stamp(config, "0004")
    command.upgrade(config, "0005")
    assert TOKEN not in _stored_wiki_settings()
    command.downgrade(config, "0004")  # 0004's code reads the token in clear again
    assert TOKEN in _stored_wiki_settings()


def test_rotation_re_encrypts_so_the_old_key_is_no_longer_needed(app):
    before = _stored_wiki_settings()
    encryption.use_keys(f"{NEW_KEY},{TEST_ENCRYPTION_KEY}")
    assert act(reencrypt_secrets) == 1
    assert _stored_wiki_settings() != before
    encryption.use_keys(NEW_KEY)
    db.session.expire_all()
    assert encryption.reveal(application_by_key("wiki").connector_settings, "wiki")["token"] == (
        TOKEN
    )


def test_a_wrong_key_is_a_clear_error_naming_the_application(app):
    encryption.use_keys(NEW_KEY)
    with pytest.raises(Invalid, match="application wiki: .*cannot be decrypted"):
        connected_apps.test_application("wiki")
    with pytest.raises(Invalid, match="application wiki"):
        act(reencrypt_secrets)


def test_a_key_that_is_not_a_fernet_key_is_refused_by_position():
    with pytest.raises(Invalid, match="key 2 is not a Fernet key"):
        encryption.use_keys(f"{NEW_KEY},not-a-key")


def test_the_instance_folder_its_keys_and_the_sqlite_file_are_owner_only(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ACCESSFLOW_HOME", str(home))
    monkeypatch.delenv("ACCESSFLOW_ENCRYPTION_KEY")
    database = home / "accessflow.db"
    # Building the URL creates the folder, as the default configuration does.
    from api.config import instance_home

    url = f"sqlite:///{instance_home() / 'accessflow.db'}"
    made = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with made.app_context():
        db.create_all()
        db.session.execute(text("CREATE TABLE touched (x INTEGER)"))
        db.session.commit()
        db.engine.dispose()

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700
    assert mode(database) == 0o600
    assert mode(home / "encryption_key") == 0o600 and mode(home / "secret_key") == 0o600
    assert all(mode(p) == 0o600 for p in home.glob("accessflow.db-*"))
    key = (home / "encryption_key").read_text().strip()
    create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})  # the same key, not a new one
    assert (home / "encryption_key").read_text().strip() == key


def test_an_existing_world_readable_sqlite_file_is_tightened(tmp_path):
    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "t"})
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


@pytest.mark.processes
def test_an_operator_rotates_the_key_from_the_command_line(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "ACCESSFLOW_HOME": str(tmp_path),
    }

    def run(*args, key):
        return subprocess.run(
            [ACCESSFLOW, *args],
            env={**env, "ACCESSFLOW_ENCRYPTION_KEY": key},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps(DIRECTORY))
    assert run("init", key=TEST_ENCRYPTION_KEY).returncode == 0
    assert run("import", str(directory), key=TEST_ENCRYPTION_KEY).returncode == 0
    rotated = run("rotate-secrets", key=f"{NEW_KEY},{TEST_ENCRYPTION_KEY}")
    assert rotated.returncode == 0 and "1 applications" in rotated.stdout, rotated.stderr
    stale = run("app", "test", "wiki", key=TEST_ENCRYPTION_KEY)
    assert stale.returncode == 2 and "application wiki" in stale.stderr
    assert "Traceback" not in stale.stderr
    fresh = run("app", "test", "wiki", key=NEW_KEY)  # decrypts; only the target is unreachable
    assert "cannot be decrypted" not in fresh.stderr and "connection to wiki" in fresh.stderr
