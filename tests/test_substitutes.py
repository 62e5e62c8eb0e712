"""Out of office: a substitute acts on the absent person's tasks, recorded "X for Y"."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.db import db, utcnow
from engine.errors import Invalid, NotAllowed, NotFound
from engine.models import AuditEvent, Substitution
from engine.tasks import actions, substitutes
from tests.api_client import api  # noqa: F401
from tests.flow import act, decide, open_task, submit


def away(person, substitute, days=7, **kwargs):
    return act(
        substitutes.set_substitute,
        person,
        substitute,
        None,
        utcnow() + timedelta(days=days),
        **kwargs,
    )


def test_a_substitute_decides_the_absent_manager_s_task_recorded_for_him(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    assert actions.list_inbox(people["stan"]) == []
    away(people["mark"], "stan", comment="holidays")

    assert [t.item_id for t in actions.list_inbox(people["stan"])] == [item.id]
    assert [t.item_id for t in actions.list_inbox(people["mark"])] == [item.id]  # still his
    decide(people["stan"], item)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.item_id == item.id, AuditEvent.event == "approved")
    )
    assert event.actor_id == people["stan"].id and event.details["on_behalf_of"] == "mark"


def test_a_substitution_covers_the_person_s_groups_and_new_tasks(people):
    away(people["gina"], "dora")
    item = submit(people["alice"], ("crm", "alice")).items[0]  # opened after it started
    decide(people["mark"], item)
    assert [t.id for t in actions.list_inbox(people["dora"], "groups")] == [open_task(item).id]


def test_a_substitute_still_never_decides_their_own_item(people):
    away(people["mark"], "bob")
    item = submit(people["alice"], ("crm", "bob")).items[0]
    assert actions.list_inbox(people["bob"]) == []
    with pytest.raises(NotAllowed, match="for themselves"):
        act(actions.complete_task, people["bob"], open_task(item).id, "approve")


def test_an_ended_or_expired_substitution_gives_nothing(people):
    item = submit(people["alice"], ("crm", "alice")).items[0]
    row = away(people["mark"], "stan")
    act(substitutes.end_substitution, people["mark"], row.id)
    assert actions.list_inbox(people["stan"]) == []
    with pytest.raises(NotFound):
        act(actions.complete_task, people["stan"], open_task(item).id, "approve")

    other = away(people["mark"], "fred")
    db.session.execute(
        update(Substitution)
        .where(Substitution.id == other.id)
        .values(ends_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    assert actions.list_inbox(people["fred"]) == []


def test_bad_substitutions_are_refused(people):
    with pytest.raises(Invalid, match="own substitute"):
        away(people["mark"], "mark")
    with pytest.raises(Invalid, match="unknown user"):
        away(people["mark"], "nobody-here")
    with pytest.raises(Invalid, match="in the future"):
        away(people["mark"], "stan", days=-1)
    with pytest.raises(Invalid, match="at most 366 days"):
        away(people["mark"], "stan", days=400)
    with pytest.raises(NotAllowed):
        away(people["stan"], "fred", for_user="mark")  # only admins name one for others
    assert away(people["root"], "stan", for_user="mark").user_id == people["mark"].id
    with pytest.raises(NotFound):  # nor can a third person end it
        act(substitutes.end_substitution, people["fred"], away(people["mark"], "stan").id)


def test_substitutes_over_the_api(api, people):  # noqa: F811
    mark = api["mark"]
    until = (utcnow() + timedelta(days=3)).isoformat() + "Z"
    made = mark.post("/api/v1/me/substitutes", {"substitute": "stan", "ends_at": until})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["substitute"] == "stan" and made.get_json()["user"] == "mark"
    listed = api["stan"].get("/api/v1/me/substitutes").get_json()["items"]
    assert [row["id"] for row in listed] == [made.get_json()["id"]]
    assert mark.post("/api/v1/me/substitutes", {"substitute": "stan"}).status_code == 422
    gone = api["fred"].delete(f"/api/v1/me/substitutes/{made.get_json()['id']}")
    assert gone.status_code == 404
    assert mark.delete(f"/api/v1/me/substitutes/{made.get_json()['id']}").status_code == 204
    assert api["stan"].get("/api/v1/me/substitutes").get_json()["items"] == []
