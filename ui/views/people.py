"""My access (everyone), and the administration of people: the list, a person's page, the
joiner/mover/leaver actions."""

import csv
import io

from flask import Response, flash, g, redirect, render_template, request, url_for

from engine.access import admin_pages, groups, holdings, people
from engine.access.admin_pages import departments
from engine.directory.authentication import require_admin
from engine.requests.catalog import add_for_beneficiaries
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page

PEOPLE_FILTERS = ("name", "active", "group", "department")


def my_access_page(**_):
    return render_template("my_access.html", access=holdings.access_of(g.user))


@bp.route("/my-access")
@login_required
def my_access():
    return my_access_page()


@bp.route("/my-access/<key>/remove", methods=["POST"])
@login_required
@form_page(my_access_page)
def request_removal(key):
    with unit_of_work():
        lines = add_for_beneficiaries(
            g.user, key, [g.user.username], "remove", request.form.get("justification") or None
        )
    flash(f"Removal of {lines[0].application.name} added to your cart: submit it there.", "success")
    return redirect(url_for("ui.cart"), code=303)


def _people_filters() -> dict:
    return {name: request.args.get(name, "").strip() for name in PEOPLE_FILTERS}


@bp.route("/admin/people")
@login_required
def admin_people():
    filters = _people_filters()
    return render_template(
        "admin/people.html",
        people=admin_pages.search_people(g.user, **filters),
        filters=filters,
        groups=[group for group, _ in admin_pages.list_groups(g.user)],
        departments=departments(),
    )


@bp.route("/admin/people.csv")
@login_required
def admin_people_csv():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "display_name", "email", "department", "manager", "active"])
    for user in admin_pages.search_people(g.user, **_people_filters()):
        manager = user.manager.username if user.manager else ""
        row = [user.username, user.display_name, user.email, user.department, manager]
        writer.writerow([_csv_safe(v) for v in row] + ["yes" if user.active else "no"])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=people.csv"},
    )


def _csv_safe(value) -> str:
    """No cell a spreadsheet would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def person_page(username, **_):
    require_admin(g.user, "see people")
    user = people.person(username)
    return render_template(
        "admin/person.html",
        person=user,
        access=holdings.access_of(user),
        items=admin_pages.open_items_for(g.user, user),
        tasks=admin_pages.open_tasks_of(g.user, user),
        history=admin_pages.history_of(g.user, user),
        all_groups=[group for group, _ in admin_pages.list_groups(g.user)],
        everyone=admin_pages.search_people(g.user, active="yes"),
    )


@bp.route("/admin/people/<username>")
@login_required
def admin_person(username):
    return person_page(username)


def _back(username):
    return redirect(url_for("ui.admin_person", username=username), code=303)


@bp.route("/admin/people/<username>/manager", methods=["POST"])
@login_required
@form_page(person_page)
def admin_set_manager(username):
    require_admin(g.user, "change managers")
    with unit_of_work():
        people.set_manager(g.user, username, request.form.get("manager") or None)
    flash("Manager changed: their open manager approvals moved along.", "success")
    return _back(username)


@bp.route("/admin/people/<username>/groups", methods=["POST"])
@login_required
@form_page(person_page)
def admin_person_join(username):
    require_admin(g.user, "change groups")
    group = request.form.get("group", "")
    with unit_of_work():
        added = groups.add_member(g.user, group, username, request.form.get("reason") or None)
    flash(f"{username} {'joined' if added else 'was already in'} {group}.", "success")
    return _back(username)


@bp.route("/admin/people/<username>/groups/<group>/remove", methods=["POST"])
@login_required
@form_page(person_page)
def admin_person_leave(username, group):
    require_admin(g.user, "change groups")
    with unit_of_work():
        groups.remove_member(g.user, group, username, request.form.get("reason") or None)
    flash(f"{username} left {group}: what the group granted them ends.", "success")
    return _back(username)


@bp.route("/admin/people/<username>/deactivate", methods=["POST"])
@login_required
@form_page(person_page)
def admin_deactivate(username):
    require_admin(g.user, "deactivate people")
    if request.form.get("confirm") != username:
        flash(f"Type {username} to confirm the deactivation.", "error")
        return person_page(username), 422
    with unit_of_work():
        people.deactivate(g.user, username, request.form.get("reason") or None)
    flash(f"{username} is deactivated: their access is being removed.", "success")
    return _back(username)


@bp.route("/admin/people/<username>/reactivate", methods=["POST"])
@login_required
@form_page(person_page)
def admin_reactivate(username):
    require_admin(g.user, "reactivate people")
    with unit_of_work():
        people.reactivate(g.user, username, request.form.get("reason") or None)
    flash(f"{username} may sign in again; no access came back by itself.", "success")
    return _back(username)
