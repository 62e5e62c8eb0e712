"""Lists come a page at a time with a `next` cursor, and filter by status or claim."""

from tests.api_client import api  # noqa: F401


def pages(caller, path):
    """Follow `next` cursors to the end; returns the pages' id lists."""
    seen, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        answer = caller.get(path + (f"{sep}cursor={cursor}" if cursor else "")).get_json()
        seen.append([row["id"] for row in answer["items"]])
        cursor = answer["next"]
        if cursor is None:
            return seen


def test_a_managers_inbox_pages_through_every_task_once(api):  # noqa: F811
    alice = api["alice"]
    alice.submit(
        ("crm", "bob"), ("wiki", "bob"), ("crm", "stan"), ("wiki", "stan"), ("crm", "gina")
    )
    mark = api["mark"]
    got = pages(mark, "/api/v1/tasks?limit=2")
    assert [len(p) for p in got] == [2, 2, 1]
    everything = [t["id"] for t in mark.get("/api/v1/tasks").get_json()["items"]]
    assert sum(got, []) == everything and len(set(everything)) == 5


def test_requests_come_newest_first_page_by_page(api):  # noqa: F811
    alice = api["alice"]
    ids = [
        alice.submit((app, who)).get_json()["id"]
        for app, who in (("crm", "bob"), ("wiki", "bob"), ("crm", "stan"))
    ]
    assert pages(alice, "/api/v1/requests?limit=2") == [ids[::-1][:2], ids[::-1][2:]]


def test_items_filter_by_status(api):  # noqa: F811
    alice = api["alice"]
    crm, wiki = alice.submit(("crm", "bob"), ("wiki", "bob")).get_json()["items"]
    alice.post(f"/api/v1/items/{wiki['id']}/cancel")
    cancelled = alice.get("/api/v1/items?status=cancelled").get_json()
    pending = alice.get("/api/v1/items?status=pending_approval").get_json()
    assert [i["id"] for i in cancelled["items"]] == [wiki["id"]]
    assert [i["id"] for i in pending["items"]] == [crm["id"]]
    assert pending["next"] is None


def test_tasks_filter_claimable_and_claimed_by_me(api):  # noqa: F811
    first, second = api["alice"].submit(("crm", "bob"), ("wiki", "bob")).get_json()["items"]
    mark = api["mark"]
    task = mark.open_task(first["id"])["id"]
    mark.post(f"/api/v1/tasks/{task}/claim")
    mine = mark.get("/api/v1/tasks?scope=mine").get_json()["items"]
    assert [(t["id"], t["claimed_by"], t["lane"], t["name"]) for t in mine] == [
        (task, "mark", "Manager", "Manager approval")
    ]
    assert len(mark.get("/api/v1/tasks?scope=claimable").get_json()["items"]) == 2
    assert (
        api["root"].get("/api/v1/tasks?scope=claimable").get_json()["items"][0]["item"]
        == (second["id"])
    )
