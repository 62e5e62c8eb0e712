"""My access (everyone), and the administration of people: the list, a person's page, the
joiner/mover/leaver actions."""

import csv
import io

from flask import Response, flash, g, redirect, render_template, request, url_for

from engine.access import groups, holdings, overview, people
from engine.directory.admin import create_user, update_user
from engine.directory.authentication import require_admin
from engine.requests.catalog import add_for_beneficiaries
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.directory_forms import person_fields
from ui.errors import form_page

PEOPLE_FILTERS = ("name", "active", "group", "department")
PEOPLE_PER_PAGE = 50


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


def _wanted(filters: dict) -> overview.PeopleFilter:
    """The page's filters (`active` is yes, no or empty) as the search's."""
    active = {"yes": True, "no": False}.get(filters["active"])
    return overview.PeopleFilter(
        q=filters["name"] or None,
        active=active,
        group=filters["group"] or None,
        department=filters["department"] or None,
    )


@bp.route("/admin/people")
@login_required
def admin_people():
    filters = _people_filters()
    wanted = _wanted(filters)
    page = overview.search_people(
        g.user, wanted, limit=PEOPLE_PER_PAGE, cursor=request.args.get("cursor") or None
    )
    return render_template(
        "admin/people.html",
        people=page.rows,
        next_cursor=page.next,
        first_page=not request.args.get("cursor"),
        total=overview.count_people(g.user, wanted),
        filters=filters,
        groups=[row["group"] for row in overview.list_groups(g.user)],
        departments=overview.departments(g.user),
    )


@bp.route("/admin/people.csv")
@login_required
def admin_people_csv():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "display_name", "email", "department", "manager", "active"])
    for user in overview.each_person(g.user, _wanted(_people_filters())):
        manager = user.manager.username if user.manager else ""
        row = [user.username, user.display_name, user.email, user.department, manager]
        writer.writerow([_csv_safe(v) for v in row] + ["yes" if user.active else "no"])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=people.csv"},
    )


def new_person_page(**_):
    require_admin(g.user, "create people")
    return render_template("admin/person_new.html", everyone=overview.people_to_pick(g.user))


@bp.route("/admin/people/new")
@login_required
def admin_new_person():
    return new_person_page()


@bp.route("/admin/people", methods=["POST"])
@login_required
@form_page(new_person_page)
def admin_create_person():
    require_admin(g.user, "create people")
    data = person_fields(request.form, creating=True)
    with unit_of_work():
        user = create_user(g.user, data)
        username = user.username
    flash(f"{username} added to the directory.", "success")
    return _back(username)


def _csv_safe(value) -> str:
    """No cell a spreadsheet would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def person_page(username, **_):
    seen = overview.person_overview(g.user, username)
    user = seen["user"]
    return render_template(
        "admin/person.html",
        person=user,
        access=seen["access"],
        items=seen["open_items"],
        tasks=seen["open_tasks"],
        history=overview.history(g.user, user),
        all_groups=[row["group"] for row in overview.list_groups(g.user)],
        everyone=overview.people_to_pick(g.user),
    )


@bp.route("/admin/people/<username>")
@login_required
def admin_person(username):
    return person_page(username)


def _back(username):
    return redirect(url_for("ui.admin_person", username=username), code=303)


@bp.route("/admin/people/<username>/details", methods=["POST"])
@login_required
@form_page(person_page)
def admin_edit_person(username):
    require_admin(g.user, "edit people")
    data = person_fields(request.form, creating=False)
    with unit_of_work():
        update_user(g.user, username, data)
    changed = "Details saved" + (" and the password reset" if data.get("password") else "")
    flash(f"{changed}.", "success")
    return _back(username)


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
