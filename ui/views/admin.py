"""Administration: applications (settings, assignments, accounts), the global settings, and
the audit log."""

from flask import flash, g, redirect, render_template, request, url_for

from engine import settings as product_settings
from engine.access import holdings, overview
from engine.access.grants import assign_users, unassign
from engine.audit.search import audit_event_names, search_audit
from engine.directory.admin import create_application, update_application
from engine.directory.authentication import require_admin
from engine.directory.lookup import group_name_of, username_of
from engine.errors import Invalid
from engine.models.directory import ADMINS_GROUP
from engine.provisioning.admin import check_connection, get_application, list_applications
from engine.requests.end_dates import parse_end_date
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.directory_forms import (
    MATCHING_ATTRIBUTES,
    RETRY_SETTINGS,
    RETRY_WORDS,
    application_fields,
    connector_fields,
)
from ui.errors import form_page

KINDS = (
    ("disconnected", "Disconnected: fulfillers create accounts by hand"),
    ("connected", "Connected: a connector creates accounts"),
    ("sso", "SSO only: the assignment is the access, no account"),
)


@bp.route("/admin")
@bp.route("/admin/applications")
@login_required
def admin_applications():
    return render_template("admin/applications.html", applications=list_applications(g.user))


# What a connection test found, in the order and words an admin reads it; a key a connector
# adds that is not here is shown under its own name.
CONNECTION_FACTS = {
    "total_users": "Users in the target",
    "auth_schemes": "Authentication schemes",
    "patch": "Partial updates (PATCH)",
    "filter": "Search by filter",
    "max_results": "Most results per search",
    "bulk": "Bulk operations",
    "etag": "Versioned writes (ETag)",
    "bound_as": "Bound as",
    "base_dn": "Users under",
    "tls": "Encrypted (TLS)",
    "disable_strategy": "Leavers are disabled by",
}


def connection_facts(result: dict) -> list[tuple[str, object]]:
    known = [(label, result[key]) for key, label in CONNECTION_FACTS.items() if key in result]
    others = [
        (key.replace("_", " ").capitalize(), value)
        for key, value in result.items()
        if key not in CONNECTION_FACTS and key not in ("ok", "application")
    ]
    return known + others


def _choices() -> dict:
    """What the application forms offer: kinds, groups, workflows, connector choices."""
    return {
        "kinds": KINDS,
        "group_names": [row["group"].name for row in overview.list_groups(g.user)],
        "workflows": overview.workflows(g.user),
        "matching_attributes": MATCHING_ATTRIBUTES,
        "retry_settings": [(name, RETRY_WORDS[name]) for name in RETRY_SETTINGS],
        "admins_group": ADMINS_GROUP,
    }


def application_page(key, result=None, **_):
    app = get_application(g.user, key)
    return render_template(
        "admin/application.html",
        app=app,
        settings=app.public_connector_settings(),
        facts=connection_facts(result) if result else None,
        roles_text="\n".join(f"{k}: {n}" for k, n in app.role_names.items()),
        assignments=holdings.assignments_of(app),
        accounts=holdings.accounts_of(app),
        everyone=overview.people_to_pick(g.user),
        owner=username_of(app.owner_user_id) or group_name_of(app.owner_group_id),
        lanes_text="\n".join(f"{lane}: {group}" for lane, group in (app.lanes or {}).items()),
        escalation_group=group_name_of(app.escalation_group_id),
        sync=_sync_card(app),
        **_choices(),
    )


def _sync_card(app) -> dict | None:
    """What the synchronization card shows: settings, next run, the last runs."""
    if app.kind != "connected":
        return None
    from engine.sync import policy, runs

    return {"settings": policy.public(app), "next": app.next_sync_at,
            "runs": runs.runs_of(None, app.key, 10)}  # fmt: skip


def new_application_page(**_):
    require_admin(g.user, "create applications")
    return render_template("admin/application_new.html", settings=None, **_choices())


@bp.route("/admin/applications/new")
@login_required
def admin_new_application():
    return new_application_page()


@bp.route("/admin/applications", methods=["POST"])
@login_required
@form_page(new_application_page)
def admin_create_application():
    require_admin(g.user, "create applications")
    data = application_fields(request.form, creating=True)
    if data.get("kind") == "connected":
        data["connector"] = connector_fields(request.form, None)
    with unit_of_work():
        app = create_application(g.user, data)
        key, name = app.key, app.name
    flash(f"Application {name} created.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/main", methods=["POST"])
@login_required
@form_page(application_page)
def admin_application_main(key):
    require_admin(g.user, "edit applications")
    data = application_fields(request.form, creating=False)
    with unit_of_work():
        update_application(g.user, key, data)
    flash("Main settings saved.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/connector", methods=["POST"])
@login_required
@form_page(application_page)
def admin_application_connector(key):
    require_admin(g.user, "edit applications")
    with unit_of_work():
        app = get_application(g.user, key)
        settings = connector_fields(request.form, app.public_connector_settings())
        update_application(g.user, key, {"connector": settings})
    flash("Connector settings saved; the token is kept unless a new one was typed.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>")
@login_required
def admin_application(key):
    return application_page(key)


@bp.route("/admin/applications/<key>/test", methods=["POST"])
@login_required
@form_page(application_page)
def admin_test_connection(key):
    result = check_connection(g.user, key)
    return application_page(key, result=result)


def _back(key):
    return redirect(url_for("ui.admin_application", key=key), code=303)


def parse_roles(text: str) -> list[dict]:
    """The roles editor's lines, "key: name" (the name is optional), as role entries."""
    roles = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, _, name = line.partition(":")
        if not key.strip():
            raise Invalid(f"roles line {number}: write it as key: name", field="roles")
        roles.append({"key": key.strip(), "name": name.strip() or key.strip()})
    return roles


@bp.route("/admin/applications/<key>/settings", methods=["POST"])
@login_required
@form_page(application_page)
def admin_application_settings(key):
    data: dict = {flag: request.form.get(flag) == "on" for flag in FLAGS}
    data["roles"] = parse_roles(request.form.get("roles", ""))
    data["max_duration"] = request.form.get("max_duration", "").strip() or None
    with unit_of_work():
        update_application(g.user, key, data)
    flash("Application settings saved.", "success")
    return _back(key)


FLAGS = ("enabled", "group_auto_provisioning", "allow_multiple_accounts", "require_end_date")
APPROVAL_FIELDS = ("owner", "approval_timeout", "reminder_before", "escalate_after")


def parse_lanes(text: str) -> dict:
    """The lanes editor's lines, "Lane: group", as a mapping."""
    lanes = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        lane, _, group = line.partition(":")
        if not lane.strip() or not group.strip():
            raise Invalid(f"lanes line {number}: write it as Lane: group", field="lanes")
        lanes[lane.strip()] = group.strip()
    return lanes


@bp.route("/admin/applications/<key>/approvals", methods=["POST"])
@login_required
@form_page(application_page)
def admin_application_approvals(key):
    data = {name: request.form.get(name, "").strip() or None for name in APPROVAL_FIELDS}
    data["escalation_group"] = request.form.get("escalation_group", "").strip() or None
    data["lanes"] = parse_lanes(request.form.get("lanes", "")) or None
    with unit_of_work():
        update_application(g.user, key, data)
    flash("Approval settings saved.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/assign", methods=["POST"])
@login_required
@form_page(application_page)
def admin_assign_users(key):
    usernames = request.form.getlist("users") + [
        u.strip() for u in request.form.get("usernames", "").split(",") if u.strip()
    ]
    with unit_of_work():
        made = assign_users(
            g.user,
            key,
            usernames,
            account_mode=request.form.get("account_mode", "create"),
            role=request.form.get("role") or None,
            reason=request.form.get("reason") or None,
            ends_at=parse_end_date(request.form.get("end_date")),
        )
        names = ", ".join(a.user.username for a in made)
    flash(f"Assigned to {names}.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/assignments/<assignment_id>/end", methods=["POST"])
@login_required
@form_page(application_page)
def admin_end_assignment(key, assignment_id):
    with unit_of_work():
        ended = unassign(g.user, assignment_id, request.form.get("reason") or None)
        who = ended.user.username
    flash(f"Assignment of {who} ended.", "success")
    return _back(key)


def settings_page(**_):
    require_admin(g.user, "change settings")
    return render_template("admin/settings.html", current=product_settings.current())


@bp.route("/admin/settings")
@login_required
def admin_settings():
    return settings_page()


@bp.route("/admin/settings", methods=["POST"])
@login_required
@form_page(settings_page)
def admin_change_settings():
    require_admin(g.user, "change settings")
    with unit_of_work():
        product_settings.change(
            "group_auto_provisioning", request.form.get("group_auto_provisioning"), g.user.id
        )
    flash("Settings saved.", "success")
    return redirect(url_for("ui.admin_settings"), code=303)


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


@bp.route("/admin/audit")
@login_required
def admin_audit():
    filters = {name: request.args.get(name, "").strip() for name in ("event", "actor", "item", "q")}
    result = search_audit(
        g.user,
        event=filters["event"] or None,
        actor=filters["actor"] or None,
        item_id=filters["item"] or None,
        text=filters["q"] or None,
        page=_page_number(),
    )
    return render_template(
        "admin/audit.html", result=result, filters=filters, event_names=audit_event_names()
    )
