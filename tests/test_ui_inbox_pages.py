"""The inbox page reads one page at a time and counts no further than its cap."""

import re
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import update

import engine.tasks.inbox
import ui.views.inbox
from engine.db import db, utcnow
from engine.directory.importer import import_directory
from engine.models import HumanTask
from tests.flow import submit


@pytest.fixture
def mark_signed_in(app, people, monkeypatch):
    """Mark, manager of everyone, with five approvals waiting; pages of 2, a count cap of 3."""
    monkeypatch.setattr(ui.views.inbox, "PAGE_SIZE", 2)
    monkeypatch.setattr(engine.tasks.inbox, "COUNT_CAP", 3)
    submit(
        people["alice"],
        ("crm", "bob"),
        ("wiki", "bob"),
        ("crm", "stan"),
        ("wiki", "stan"),
        ("crm", "gina"),
    )
    import_directory({"users": [{"username": "mark", "password": "mark-pw"}]})
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    answer = client.post(
        "/login", data={"username": "mark", "password": "mark-pw", "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302
    g.pop("csrf_token", None)
    return client


def task_links(page) -> list[str]:
    return re.findall(r'href="/tasks/([0-9a-f-]{36})"', page.text)


def test_a_manager_walks_the_inbox_page_by_page_and_sees_a_capped_count(mark_signed_in):
    seen, path, first = [], "/inbox", None
    while path:
        page = mark_signed_in.get(path)
        assert page.status_code == 200
        first = first or page
        seen.append(task_links(page))
        following = re.search(r'href="(/inbox\?after=[^"]+)"', page.text)
        path = following.group(1).replace("&amp;", "&") if following else None
    assert [len(ids) for ids in seen] == [2, 2, 1]
    assert len(set(sum(seen, []))) == 5
    assert "3+ tasks in this tab" in first.text  # counted no further than the cap
    assert '<span class="count" aria-label="(3+)">3+</span>' in first.text


def test_an_empty_tab_shows_no_count_and_no_pager(mark_signed_in):
    page = mark_signed_in.get("/inbox?tab=claimed")
    assert task_links(page) == []
    assert "tasks in this tab" not in page.text and "Next page" not in page.text


def csrf(client, path) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


def test_a_manager_hands_a_task_on_and_finds_his_decisions_in_completed(mark_signed_in):
    first, second = task_links(mark_signed_in.get("/inbox"))
    path = f"/tasks/{first}"
    assert "Hand this task to someone else" in mark_signed_in.get(path).text

    refused = mark_signed_in.post(
        f"{path}/reassign", data={"to": "bob", "csrf_token": csrf(mark_signed_in, path)}
    )
    assert refused.status_code == 422 and "for themselves" in refused.text
    assert 'aria-invalid="true"' in refused.text and 'value="bob"' in refused.text

    handed = mark_signed_in.post(
        f"{path}/reassign", data={"to": "stan", "csrf_token": csrf(mark_signed_in, path)}
    )
    assert handed.status_code == 303
    assert first not in task_links(mark_signed_in.get("/inbox"))

    decided = mark_signed_in.post(
        f"/tasks/{second}/complete",
        data={"decision": "approve", "csrf_token": csrf(mark_signed_in, f"/tasks/{second}")},
    )
    assert decided.status_code == 303
    done = mark_signed_in.get("/inbox?tab=completed")
    assert task_links(done) == [second] and "approve" in done.text


def test_the_inbox_filters_by_application_person_and_overdue_and_shows_due_dates(
    mark_signed_in,
):
    crm = task_links(mark_signed_in.get("/inbox?application=crm"))
    assert len(crm) == 2  # a page of 2 of the 3 CRM tasks, pages carry the filter
    following = mark_signed_in.get("/inbox?application=crm")
    assert "application=crm" in re.search(r'href="(/inbox\?[^"]*after=[^"]+)"', following.text)[1]
    for_stan = task_links(mark_signed_in.get("/inbox?beneficiary=stan"))
    assert len(for_stan) == 2
    assert task_links(mark_signed_in.get("/inbox?beneficiary=stan&application=wiki")) != []
    assert task_links(mark_signed_in.get("/inbox?overdue=1")) == []  # P14D: none is late

    db.session.execute(update(HumanTask).values(due_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    late = mark_signed_in.get("/inbox?overdue=1")
    assert len(task_links(late)) == 2 and "overdue" in late.text
    assert "overdue" in mark_signed_in.get(f"/tasks/{task_links(late)[0]}").text
    unknown = mark_signed_in.get("/inbox?application=nope")
    assert unknown.status_code == 422 and "nope" in unknown.text.split("<main")[1]


def test_a_manager_names_a_substitute_from_the_inbox_and_ends_it(mark_signed_in):
    page = mark_signed_in.get("/inbox")
    until = (utcnow() + timedelta(days=2)).date().isoformat()
    named = mark_signed_in.post(
        "/inbox/substitutes",
        data={"substitute": "stan", "until": until, "csrf_token": csrf(mark_signed_in, "/inbox")},
    )
    assert named.status_code == 303
    page = mark_signed_in.get("/inbox")
    assert "stands in for you until" in page.text
    bad = mark_signed_in.post(
        "/inbox/substitutes",
        data={"substitute": "stan", "until": "soon", "csrf_token": csrf(mark_signed_in, "/inbox")},
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    end = re.search(r'action="(/inbox/substitutes/[0-9a-f-]+/end)"', page.text)[1]
    ended = mark_signed_in.post(end, data={"csrf_token": csrf(mark_signed_in, "/inbox")})
    assert ended.status_code == 303
    assert "stands in for you" not in mark_signed_in.get("/inbox").text
