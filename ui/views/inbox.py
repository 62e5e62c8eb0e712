"""The inbox: tasks assigned to me, to my groups, claimed by me; deciding one or several."""

from datetime import date, datetime, time

from flask import flash, g, redirect, render_template, request, url_for

from engine.audit.digests import set_preference
from engine.db import utcnow
from engine.errors import DomainError, Invalid
from engine.provisioning.accounts import accounts_to_remove, named_account
from engine.requests.listing import completed_page
from engine.requests.listing import inbox_page as tasks_page
from engine.requests.tracking import names_for, open_incident, provisioning_attempts
from engine.tasks.actions import claim_task, complete_task, get_task, release_task
from engine.tasks.delegation import reassign_task
from engine.tasks.inbox import Filters
from engine.tasks.substitutes import end_substitution, set_substitute, substitutions_of
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, inbox_total, login_required
from ui.errors import form_page, readable
from ui.views.requests import timeline

TABS = {
    "all": "All",
    "assigned": "Assigned to me",
    "groups": "My groups",
    "claimed": "Claimed by me",
    "completed": "Completed by me",
}

VIEWS = {"all": "all", "assigned": "assigned", "groups": "groups", "claimed": "mine"}
PAGE_SIZE = 50


def inbox_page(narrow: bool = True, **_):
    """One page of the tab's tasks (keyset: `after` is the cursor of the previous page's end)
    and how many the tab holds, counted no further than the inbox's cap; narrowed by the
    filters in the query unless `narrow` is false."""
    tab = request.args.get("tab", "all")
    tab = tab if tab in TABS else "all"
    after = request.args.get("after") or None
    done = tab == "completed"
    narrowing = {
        key: (request.args.get(key, "").strip()[:150] if narrow else "") or None
        for key in ("application", "beneficiary", "lane")
    }
    filters = Filters(overdue=narrow and request.args.get("overdue") == "1", **narrowing)
    page = (
        completed_page(g.user, PAGE_SIZE, after)
        if done
        else tasks_page(g.user, VIEWS[tab], PAGE_SIZE, after, filters)
    )
    # The filters as query arguments, carried by the tabs' and the pager's links.
    kept = {k: v for k, v in narrowing.items() if v}
    if filters.overdue:
        kept["overdue"] = "1"
    away = substitutions_of(g.user)
    tasks = page.rows
    users, groups = names_for(
        [t.candidate_user_id for t in tasks] + [t.claimed_by_id for t in tasks],
        [t.candidate_group_id for t in tasks],
    )
    return render_template(
        "inbox.html",
        tab=tab,
        tabs=TABS,
        tasks=tasks,
        users=users,
        groups=groups,
        next_page=page.next,
        paged=bool(request.args.get("after")),
        total=None if done else inbox_total(g.user, VIEWS[tab], filters),
        completed=done,
        filters=kept,
        now=utcnow(),
        substitutions=away,
        away_people=names_for([r.user_id for r in away] + [r.substitute_id for r in away])[0],
    )


@bp.route("/inbox")
@login_required
def inbox():
    try:
        return inbox_page()
    except Invalid as err:  # a filter naming no application or person: said, then unfiltered
        flash(readable(err), "error")
        return inbox_page(narrow=False), 422


@bp.route("/inbox/notices", methods=["POST"])
@login_required
@form_page(inbox_page)
def task_notices():
    """How the signed-in person hears of new tasks (digest, immediate, none)."""
    with unit_of_work():
        set_preference(g.user, request.form.get("task_notices", ""))
    flash("Saved: how you hear of new tasks.", "success")
    return redirect(url_for("ui.inbox"), code=303)


@bp.route("/inbox/substitutes", methods=["POST"])
@login_required
@form_page(inbox_page)
def add_substitute():
    """Out of office: a substitute acts on my tasks until the end of the day chosen."""
    until = request.form.get("until", "")
    try:
        ends_at = datetime.combine(date.fromisoformat(until), time.max)
    except ValueError:
        raise Invalid("until: choose the last day you are away", field="until") from None
    with unit_of_work():
        set_substitute(g.user, request.form.get("substitute", ""), None, ends_at)
    flash(
        f"{request.form.get('substitute', '').strip()} stands in for you until {until}.", "success"
    )
    return redirect(url_for("ui.inbox"), code=303)


@bp.route("/inbox/substitutes/<substitution_id>/end", methods=["POST"])
@login_required
@form_page(inbox_page)
def end_substitute(substitution_id):
    with unit_of_work():
        end_substitution(g.user, substitution_id)
    flash("The substitution has ended.", "success")
    return redirect(url_for("ui.inbox"), code=303)


@bp.route("/inbox/decide", methods=["POST"])
@login_required
def decide_many():
    """Bulk approve or reject: each task is decided on its own; failures are reported by name."""
    decision = request.form.get("decision")
    ids = request.form.getlist("task_id")
    back = redirect(url_for("ui.inbox", tab=request.form.get("tab") or None), code=303)
    if not ids:
        flash("Select at least one task first.", "error")
        return back
    done = 0
    for task_id in ids:
        try:
            with unit_of_work():  # each task in its own unit: one refusal undoes only itself
                complete_task(g.user, task_id, decision, request.form.get("comment") or None)
            done += 1
        except DomainError as err:
            flash(f"Task {task_id[:8]}: {readable(err)}", "error")
    if done:
        verb = {"approve": "approved", "reject": "rejected"}.get(decision, decision)
        flash(f"{done} task{'s' if done != 1 else ''} {verb}.", "success")
    return back


def task_page(task_id, **_):
    task = get_task(g.user, task_id)
    item = task.item
    users, groups = names_for(
        [task.candidate_user_id, task.claimed_by_id], [task.candidate_group_id]
    )
    failed = task.kind == "failed_provisioning"
    return render_template(
        "task.html",
        task=task,
        who=timeline(item),
        candidate_user=users.get(task.candidate_user_id),
        candidate_group=groups.get(task.candidate_group_id),
        claimer=users.get(task.claimed_by_id),
        # The accounts an update or a removal acts on, by the id the target knows them by.
        # The one the requester chose when the person holds several, ended or not.
        accounts=accounts_to_remove(item) or [a for a in [named_account(item)] if a],
        incident=open_incident(item) if failed else None,
        now=utcnow(),
        attempts=provisioning_attempts(item) if failed else [],
    )


@bp.route("/tasks/<task_id>")
@login_required
def task_detail(task_id):
    return task_page(task_id)


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@login_required
@form_page(task_page)
def claim(task_id):
    with unit_of_work():
        claim_task(g.user, task_id)
    flash("You claimed this task: others now see it as taken.", "success")
    return redirect(url_for("ui.task_detail", task_id=task_id), code=303)


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@login_required
@form_page(task_page)
def release(task_id):
    with unit_of_work():
        release_task(g.user, task_id)
    flash("You released this task: anyone in the group may claim it.", "success")
    return redirect(url_for("ui.task_detail", task_id=task_id), code=303)


@bp.route("/tasks/<task_id>/reassign", methods=["POST"])
@login_required
@form_page(task_page)
def reassign(task_id):
    with unit_of_work():
        task = reassign_task(
            g.user, task_id, request.form.get("to", ""), request.form.get("comment") or None
        )
    flash(f"“{task.title}” is now assigned to {request.form.get('to', '').strip()}.", "success")
    return redirect(url_for("ui.inbox"), code=303)


@bp.route("/tasks/<task_id>/complete", methods=["POST"])
@login_required
@form_page(task_page)
def complete(task_id):
    with unit_of_work():
        task = complete_task(
            g.user,
            task_id,
            request.form.get("decision", ""),
            request.form.get("comment") or None,
            request.form.get("account_id") or None,
        )
    flash(f"“{task.title}” done: {task.decision}.", "success")
    return redirect(url_for("ui.inbox"), code=303)
