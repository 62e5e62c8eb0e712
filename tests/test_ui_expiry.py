"""Time-bound access on the pages (Flask test client, no browser): the request form's end,
the cart and task pages showing it, "My access" with Renew, the renewal link prefilling the
form, the application settings and the admins' "Expiring soon" list."""

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from flask import g

from engine.db import db
from engine.directory.lookup import application_by_key, user_by_username
from engine.directory.passwords import set_password
from engine.requests import cart
from tests.flow import act, decide, open_task
from tests.test_ui_pages import log_in, token_of


def day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


@pytest.fixture
def client(app, people):
    for name in ("root", "bob", "mark"):
        set_password(people[name], f"{name}-pw")
    db.session.commit()
    return app.test_client()


def signed_in(app, username):
    """A client of its own, signed in as `username`."""
    g.pop("csrf_token", None)  # the token cached for another client in the fixture's context
    other = app.test_client()
    log_in(other, username, f"{username}-pw")
    return other


def post_form(client, path, form):
    token = token_of(client.get("/catalog"))
    g.pop("csrf_token", None)
    return client.post(path, data={**form, "csrf_token": token})


def bobs_time_bound_crm(people, days=10):
    """bob holds CRM until `days` from now: asked by alice, approved, fulfilled."""
    act(cart.add_to_cart, people["alice"], "crm", "bob", end_date=day(days))
    item = act(cart.submit_cart, people["alice"]).items[0]
    decide(people["mark"], item)
    decide(people["gina"], item)
    decide(people["fred"], item, account_id="CRM-7")
    return item


def test_a_requester_picks_a_length_and_the_cart_shows_the_last_day(client, people):
    log_in(client, "alice", "alice-pw")
    form = client.get("/catalog/crm").text
    assert 'name="duration"' in form and 'type="date"' in form

    added = post_form(
        client,
        "/catalog/crm",
        {
            "beneficiary": "bob",
            "account_mode": "create",
            "justification": "project",
            "duration": "30",
        },
    )
    assert added.status_code == 303
    [line] = cart.list_cart(people["alice"])
    assert line.ends_at.date().isoformat() == day(31)
    assert f"through {day(30)}" in client.get("/cart").text


def test_the_form_refuses_an_end_beyond_the_maximum_and_keeps_what_was_typed(client, people):
    application_by_key("crm").max_duration = "P30D"
    db.session.commit()
    log_in(client, "alice", "alice-pw")
    assert "At most P30D" in client.get("/catalog/crm").text
    refused = post_form(
        client,
        "/catalog/crm",
        {
            "beneficiary": "bob",
            "account_mode": "create",
            "justification": "keep me",
            "end_date": day(45),
        },
    )
    assert refused.status_code == 422
    assert "at most P30D" in refused.text and "keep me" in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert cart.list_cart(people["alice"]) == []


def test_approvers_see_the_end_on_the_task_page(client, people):
    act(cart.add_to_cart, people["alice"], "crm", "bob", end_date=day(20))
    item = act(cart.submit_cart, people["alice"]).items[0]
    log_in(client, "mark", "mark-pw")
    answer = client.get(f"/tasks/{open_task(item).id}")
    assert answer.status_code == 200, answer.text[-3000:]
    assert f"through {day(20)}" in answer.text


def test_my_access_shows_the_end_and_renew_opens_the_form_prefilled(client, people):
    bobs_time_bound_crm(people, days=10)
    log_in(client, "bob", "bob-pw")
    mine = client.get("/my-access").text
    assert f"through {day(10)}" in mine
    renew = re.search(r'href="(/access/renew/[^"]+)"[^>]*>Renew<', mine).group(1)

    answer = client.get(renew)
    assert answer.status_code == 303
    target = urlparse(answer.headers["Location"])
    args = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert target.path == "/catalog/crm"
    assert (args["beneficiary"], args["account_mode"]) == ("bob", "update")
    assert args["end_date"] > day(10)  # a new end, later than the current one
    form = client.get(answer.headers["Location"]).text
    assert f'value="{args["end_date"]}"' in form
    assert re.search(r'value="update" id="mode-update"\s+checked', form)


def test_only_the_holder_their_manager_and_admins_may_open_a_renewal(app, client, people):
    bobs_time_bound_crm(people)
    from engine.access import assignments

    [assignment] = assignments.active(user_by_username("bob").id)
    log_in(client, "alice", "alice-pw")
    assert client.get(f"/access/renew/{assignment.id}").status_code == 404
    manager = signed_in(app, "mark")
    assert manager.get(f"/access/renew/{assignment.id}").status_code == 303


def test_admins_set_the_limits_and_list_what_expires_soon(app, client, people):
    bobs_time_bound_crm(people, days=10)
    log_in(client, "alice", "alice-pw")
    assert client.get("/admin/expiring").status_code == 403
    client = signed_in(app, "root")

    saved = post_form(
        client,
        "/admin/applications/crm/settings",
        {"enabled": "on", "require_end_date": "on", "max_duration": "P90D", "roles": ""},
    )
    assert saved.status_code in (302, 303)
    crm = application_by_key("crm")
    assert (crm.max_duration, crm.require_end_date) == ("P90D", True)
    bad = post_form(
        client,
        "/admin/applications/crm/settings",
        {"enabled": "on", "max_duration": "ninety days", "roles": ""},
    )
    assert bad.status_code == 422 and "max_duration" in bad.text

    listed = client.get("/admin/expiring?within=P30D").text
    assert "Bob Baker" in listed and f"through {day(10)}" in listed
    assert "Bob Baker" not in client.get("/admin/expiring?within=P7D").text
    exported = client.get("/admin/expiring.csv?within=P30D").text.splitlines()
    assert exported[0].startswith("user,application") and exported[1].startswith("bob,crm")
