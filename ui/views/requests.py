"""Following one's requests: each item's status, the tasks it waits on, and its timeline."""

from flask import flash, g, redirect, render_template, request, url_for

from engine.requests.items import (
    account_external_id,
    cancel_item,
    get_item,
    get_request,
    item_history,
    list_requests,
)
from engine.requests.tracking import item_tasks, item_workflow_version, names_for
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page


def timeline(item) -> dict:
    """What the templates need to show an item's progress."""
    tasks = item_tasks(item)
    users, groups = names_for(
        [t.candidate_user_id for t in tasks] + [t.claimed_by_id for t in tasks],
        [t.candidate_group_id for t in tasks],
    )
    return {
        "item": item,
        "events": item_history(item),
        "tasks": {t.id: t for t in tasks},
        "open_tasks": [t for t in tasks if t.status == "open"],
        "users": users,
        "groups": groups,
        "workflow": item_workflow_version(item),
    }


@bp.route("/requests")
@login_required
def requests_list():
    return render_template("requests.html", requests=list_requests(g.user))


@bp.route("/requests/<request_id>")
@login_required
def request_detail(request_id):
    request_ = get_request(g.user, request_id)
    return render_template(
        "request.html", request_=request_, timelines=[timeline(i) for i in request_.items]
    )


def item_page(item_id, **_):
    item = get_item(g.user, item_id)
    return render_template("item.html", account_id=account_external_id(item), **timeline(item))


@bp.route("/items/<item_id>")
@login_required
def item_detail(item_id):
    return item_page(item_id)


@bp.route("/items/<item_id>/cancel", methods=["POST"])
@login_required
@form_page(item_page)
def cancel(item_id):
    with unit_of_work():
        item = cancel_item(g.user, item_id, request.form.get("reason") or None)
    flash(f"{item.application.name} for {item.beneficiary.username} cancelled.", "success")
    return redirect(url_for("ui.item_detail", item_id=item.id), code=303)
