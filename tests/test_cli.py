"""The command line as an operator uses it: init, import, token, deploy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from engine.db import db
from engine.schema import alembic_config, upgrade
from tests.conftest import DIRECTORY

ACCESSFLOW = str(Path(sys.executable).with_name("accessflow"))
SHIPPED = Path(__file__).parent.parent / "workflows" / "access_request.bpmn"


@pytest.fixture
def run(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "ACCESSFLOW_HOME": str(tmp_path),
    }

    def run(*args):
        return subprocess.run(
            [ACCESSFLOW, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )

    return run


@pytest.mark.processes
def test_operator_sets_up_a_database_and_gets_a_token(run, tmp_path):
    assert run("init").returncode == 0
    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps(DIRECTORY))
    imported = run("import", str(directory))
    assert imported.returncode == 0, imported.stderr
    assert "9 users" in imported.stdout
    token = run("token", "alice")
    assert token.returncode == 0
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("af_") and len(lines[0]) > 30
    assert run("token", "alice").stdout != token.stdout  # a new token each time


@pytest.mark.processes
def test_an_admin_issues_lists_and_revokes_a_scim_token_for_an_identity_provider(run):
    assert run("init").returncode == 0
    issued = run("scim-token", "entra")
    assert issued.returncode == 0, issued.stderr
    lines = issued.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("afscim_") and len(lines[0]) > 40
    again = run("scim-token", "entra")
    assert again.returncode == 2 and "exists already" in again.stderr
    listed = run("scim-token", "--list")
    assert listed.stdout.strip() == "entra\tlive" and lines[0] not in listed.stdout
    assert run("scim-token", "--revoke", "entra").stdout.strip() == "revoked"
    assert "revoked" in run("scim-token", "--list").stdout


@pytest.mark.processes
def test_a_command_before_init_says_to_run_init_not_a_traceback(run):
    result = run("token", "alice")
    assert result.returncode == 2 and result.stdout == ""
    assert "run init" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.processes
def test_token_for_an_unknown_user_fails(run):
    run("init")
    result = run("token", "nobody")
    assert result.returncode != 0 and result.stdout == "" and "nobody" in result.stderr


@pytest.mark.processes
def test_a_broken_directory_file_is_refused_by_name(run, tmp_path):
    run("init")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"users": [{"username": "x", "manager": "ghost"}]}))
    result = run("import", str(broken))
    assert result.returncode != 0 and "ghost" in result.stderr


@pytest.mark.processes
def test_deploy_refuses_an_unsafe_file_and_names_the_element(run, tmp_path):
    run("init")
    unsafe = tmp_path / "unsafe.bpmn"
    unsafe.write_text(SHIPPED.read_text().replace('decision == "approve"', "__import__('os')", 1))
    result = run("deploy", str(unsafe))
    assert result.returncode != 0 and "f_manager_yes" in result.stderr
    changed = tmp_path / "changed.bpmn"
    changed.write_text(SHIPPED.read_text().replace("Manager approval", "Line manager approval"))
    deployed = run("deploy", str(changed))
    assert deployed.returncode == 0 and "version 2" in deployed.stdout


@pytest.mark.processes
def test_cli_deploy_is_active_at_once(run, tmp_path):
    assert run("init").returncode == 0
    changed = tmp_path / "changed.bpmn"
    changed.write_text(SHIPPED.read_text().replace("Manager approval", "Line manager approval"))
    assert run("deploy", str(changed)).returncode == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as connection:
        versions = connection.exec_driver_sql(
            "SELECT version, status, reviewed_by_id FROM workflow_versions "
            "WHERE key = 'access_request' ORDER BY version"
        ).all()
        audit = connection.exec_driver_sql(
            "SELECT event, actor_id FROM audit_events WHERE event LIKE 'workflow%'"
        ).all()
    engine.dispose()
    # `init` deploys the shipped file active, `deploy` the operator's file: no review needed.
    assert [tuple(v) for v in versions] == [(1, "active", None), (2, "active", None)]
    assert [tuple(a) for a in audit] == [("workflow_deployed", None)]


def test_migration_0006_makes_existing_versions_active(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0005")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO workflow_versions (id, key, version, content_hash, bpmn_xml, deployed_at)"
            " VALUES ('v1', 'access_request', 1, 'h', '<x/>', '2026-01-01 00:00:00')"
        )
    upgrade(url)
    with engine.connect() as connection:
        status = connection.exec_driver_sql("SELECT status FROM workflow_versions").scalar()
    engine.dispose()
    assert status == "active"


def test_migrations_build_exactly_the_schema_the_models_describe(database_url, app):
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(database_url)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.processes
def test_an_operator_turns_local_passwords_back_on_from_the_shell(run):
    assert run("init").returncode == 0
    refused = run("local-passwords", "off")  # no identity provider: it would lock everyone out
    assert refused.returncode == 2 and "no identity provider" in refused.stderr
    turned_on = run("local-passwords", "on")
    assert turned_on.returncode == 0 and turned_on.stdout.strip() == "local passwords on"
