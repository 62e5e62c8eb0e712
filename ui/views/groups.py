"""Administration of groups: their members and the applications they grant."""

from flask import flash, g, redirect, render_template, request, url_for

from engine.access import groups, overview
from engine.directory.admin import create_group
from engine.directory.authentication import require_admin
from engine.provisioning.admin import list_applications
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page


def groups_page(**_):
    return render_template("admin/groups.html", groups=overview.list_groups(g.user))


@bp.route("/admin/groups")
@login_required
def admin_groups():
    return groups_page()


@bp.route("/admin/groups", methods=["POST"])
@login_required
@form_page(groups_page)
def admin_create_group():
    with unit_of_work():
        group = create_group(g.user, request.form.get("name", ""), request.form.get("description"))
    flash(f"Group {group.name} created.", "success")
    return redirect(url_for("ui.admin_group", name=group.name), code=303)


def group_page(name, **_):
    seen = overview.group_overview(g.user, name)
    return render_template(
        "admin/group.html",
        group=seen["group"],
        members=seen["members"],
        grants=seen["applications"],
        changes=seen["changes"],
        applications=list_applications(g.user),
        everyone=overview.people_to_pick(g.user),
    )


@bp.route("/admin/groups/<name>")
@login_required
def admin_group(name):
    return group_page(name)


def _back(name):
    return redirect(url_for("ui.admin_group", name=name), code=303)


@bp.route("/admin/groups/<name>/members", methods=["POST"])
@login_required
@form_page(group_page)
def admin_group_add_member(name):
    require_admin(g.user, "change groups")
    usernames = [u.strip() for u in request.form.get("username", "").split(",") if u.strip()]
    reason = request.form.get("reason") or None
    with unit_of_work():
        added = [u for u in usernames if groups.add_member(g.user, name, u, reason)]
    flash(f"Added to {name}: {', '.join(added) or 'nobody new'}.", "success")
    return _back(name)


@bp.route("/admin/groups/<name>/members/<username>/remove", methods=["POST"])
@login_required
@form_page(group_page)
def admin_group_remove_member(name, username):
    require_admin(g.user, "change groups")
    with unit_of_work():
        groups.remove_member(g.user, name, username, request.form.get("reason") or None)
    flash(f"{username} left {name}: what the group granted them ends.", "success")
    return _back(name)


@bp.route("/admin/groups/<name>/applications", methods=["POST"])
@login_required
@form_page(group_page)
def admin_group_add_application(name):
    require_admin(g.user, "change groups")
    key = request.form.get("application", "")
    with unit_of_work():
        row = groups.add_application(
            g.user, name, key, request.form.get("role") or None, request.form.get("reason") or None
        )
        app_name = row.application.name
    flash(f"{name} grants {app_name} to its members.", "success")
    return _back(name)


@bp.route("/admin/groups/<name>/applications/<key>/remove", methods=["POST"])
@login_required
@form_page(group_page)
def admin_group_remove_application(name, key):
    require_admin(g.user, "change groups")
    with unit_of_work():
        groups.remove_application(g.user, name, key, request.form.get("reason") or None)
    flash(f"{name} no longer grants {key}.", "success")
    return _back(name)
