"""Audit events read one way: past-tense names, each with a label on the pages, old rows renamed."""

from alembic import command
from sqlalchemy import create_engine

from engine.audit import trail
from engine.directory.tokens import issue_token
from engine.requests import items
from engine.schema import alembic_config, upgrade
from tests.flow import act, decide, submit
from ui.filters import EVENT_LABELS


def test_a_rejection_is_recorded_as_rejected_in_the_trail_and_the_api_history(app, people):
    item = submit(people["alice"], ("crm", "bob")).items[0]
    decide(people["mark"], item, "reject", comment="not in your role")
    assert [e.event for e in items.item_history(item)][-1] == "rejected"
    headers = {"Authorization": f"Bearer {act(issue_token, 'alice')}"}
    history = (
        app.test_client().get(f"/api/v1/items/{item.id}", headers=headers).get_json()["history"]
    )
    assert history[-1]["event"] == "rejected"


def test_every_event_has_a_past_tense_name_and_a_label_on_the_pages():
    assert set(EVENT_LABELS) == set(trail.EVENTS)
    for name in trail.EVENTS:  # the last word is a participle: approved, issued, resumed…
        assert name.split("_")[-1].endswith(("ed", "en")), name


def test_migration_0010_renames_the_decisions_recorded_before(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0008")
    engine = create_engine(url)
    with engine.begin() as connection:
        for event in ("reject", "retry", "approved"):
            connection.exec_driver_sql(
                "INSERT INTO audit_events (at, event) VALUES ('2026-01-01 00:00:00', ?)", (event,)
            )
    upgrade(url)
    read = "SELECT event FROM audit_events ORDER BY id"
    with engine.connect() as connection:
        assert connection.exec_driver_sql(read).scalars().all() == [
            "rejected",
            "provisioning_retried",
            "approved",
        ]
    command.downgrade(alembic_config(url), "0008")
    with engine.connect() as connection:
        assert connection.exec_driver_sql(read).scalars().all() == ["reject", "retry", "approved"]
    engine.dispose()
