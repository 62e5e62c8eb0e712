"""Administrators: people, groups, applications, assignments and product settings.

Every route here refuses non-admins (403) before it looks anything up. Lists answer
`{"items": [...]}`; `?format=csv` on the people and assignment lists answers CSV instead."""

import csv
import io

from flask import Response

from api.auth import current_user
from api.rest.admin_directory_schemas import (
    ASSIGNMENT_COLUMNS,
    USER_COLUMNS,
    AccountList,
    AdminApplicationSchema,
    ApplicationIn,
    ApplicationPatch,
    AssignIn,
    AssignmentList,
    AssignmentSchema,
    AssignmentsQuery,
    GroupGrantIn,
    GroupIn,
    GroupList,
    GroupSchema,
    ReasonIn,
    SettingsSchema,
    UserDetailSchema,
    UserIn,
    UserPage,
    UserPatch,
    UserSchema,
    UsersQuery,
)
from api.rest.resource import resource_blueprint
from engine import settings
from engine.access import grants, overview, people
from engine.access import groups as group_access
from engine.directory import admin as directory
from engine.directory.authentication import require_admin
from engine.requests.end_dates import parse_end_date
from engine.unit_of_work import unit_of_work

blp = resource_blueprint(
    "admin_directory",
    "/api/v1/admin",
    "People, groups, applications, assignments and settings (administrators)",
)


@blp.before_request
def _admins_only() -> None:
    require_admin(current_user(), "use the administration API")


def csv_answer(rows: list[dict], columns: list[str], filename: str) -> Response:
    """Dumped rows as CSV (lists joined by ';'), one column per name in `columns`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                ";".join(str(v) for v in value) if isinstance(value, list) else value
                for value in (row.get(column) for column in columns)
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---- people


@blp.route("/users")
@blp.arguments(UsersQuery, location="query", as_kwargs=True)
@blp.response(200, UserPage)
@blp.alt_response(200, content_type="text/csv", description="with format=csv")
def list_users(format, limit, cursor=None, **filters):
    """People by username, page by page (`limit`, `cursor`: the previous page's `next`); filter
    by `q`, `active`, `group`, `department`. `format=csv` exports every match (no paging)."""
    wanted = overview.PeopleFilter(**filters)
    if format == "csv":
        rows = UserSchema(many=True).dump(list(overview.each_person(current_user(), wanted)))
        return csv_answer(rows, USER_COLUMNS, "users.csv")
    return overview.search_people(current_user(), wanted, limit=limit, cursor=cursor)


@blp.route("/users", methods=["POST"])
@blp.arguments(UserIn)
@blp.response(201, UserSchema)
@blp.alt_response(409, response="CONFLICT")
def create_user(data):
    """Add a person to the directory (409 when the username is taken)."""
    with unit_of_work():
        return directory.create_user(current_user(), data)


@blp.route("/users/<string:username>")
@blp.response(200, UserDetailSchema)
def show_user(username):
    """A person with their groups, manager, access, open items and open tasks."""
    return overview.person_overview(current_user(), username)


@blp.route("/users/<string:username>", methods=["PATCH"])
@blp.arguments(UserPatch)
@blp.response(200, UserSchema)
def update_user(data, username):
    """Change a person. `active: false` is a leaver (open items cancelled, assignments ended,
    accounts removed); a new `manager` is a mover (open manager approvals move)."""
    with unit_of_work():
        people.person(username)  # 404 before the input is checked
        return directory.update_user(current_user(), username, data)


# ---- groups


@blp.route("/groups")
@blp.response(200, GroupList)
def list_groups():
    """Every group with its member and application counts."""
    return {"items": overview.list_groups(current_user())}


@blp.route("/groups", methods=["POST"])
@blp.arguments(GroupIn, as_kwargs=True)
@blp.response(201, GroupSchema)
@blp.alt_response(409, response="CONFLICT")
def create_group(name, description=None):
    """Make an empty group (409 when the name is taken)."""
    with unit_of_work():
        group = directory.create_group(current_user(), name, description)
        name = group.name
    return overview.group_overview(current_user(), name)


@blp.route("/groups/<string:name>")
@blp.response(200, GroupSchema)
def show_group(name):
    """A group: members, applications with roles, counts, and its latest access changes
    (status and counts show the progress of a big change)."""
    return overview.group_overview(current_user(), name)


@blp.route("/groups/<string:name>/members/<string:username>", methods=["PUT"])
@blp.arguments(ReasonIn, as_kwargs=True)
@blp.response(200, GroupSchema)
def add_member(name, username, reason=None):
    """Put a person in a group (a joiner): the group's applications are assigned to them and
    their items start. Idempotent."""
    with unit_of_work():
        group_access.group_by_name(name)
        people.person(username)
        group_access.add_member(current_user(), name, username, reason)
    return overview.group_overview(current_user(), name)


@blp.route("/groups/<string:name>/members/<string:username>", methods=["DELETE"])
@blp.arguments(ReasonIn, as_kwargs=True)
@blp.response(204)
def remove_member(name, username, reason=None):
    """Take a person out of a group: what it granted them (alone) is removed."""
    with unit_of_work():
        group_access.remove_member(current_user(), name, username, reason)


@blp.route("/groups/<string:name>/applications/<string:key>", methods=["PUT"])
@blp.arguments(GroupGrantIn, as_kwargs=True)
@blp.response(200, GroupSchema)
def add_group_application(name, key, role=None, reason=None):
    """Grant an application (optionally one of its roles) to every member of the group."""
    with unit_of_work():
        group_access.group_by_name(name)
        overview.application(current_user(), key)
        group_access.add_application(current_user(), name, key, role, reason)
    return overview.group_overview(current_user(), name)


@blp.route("/groups/<string:name>/applications/<string:key>", methods=["DELETE"])
@blp.arguments(ReasonIn, as_kwargs=True)
@blp.response(204)
def remove_group_application(name, key, reason=None):
    """Stop granting an application through the group; members keep other sources' access."""
    with unit_of_work():
        group_access.group_by_name(name)
        overview.application(current_user(), key)
        group_access.remove_application(current_user(), name, key, reason)


# ---- applications


@blp.route("/applications", methods=["POST"])
@blp.arguments(ApplicationIn)
@blp.response(201, AdminApplicationSchema)
@blp.alt_response(409, response="CONFLICT")
def create_application(data):
    """Add an application; connector secrets are stored encrypted and never shown again."""
    with unit_of_work():
        return directory.create_application(current_user(), data)


@blp.route("/applications/<string:key>")
@blp.response(200, AdminApplicationSchema)
def show_application(key):
    """One application with its settings (connector secrets shown as ********)."""
    return overview.application(current_user(), key)


@blp.route("/applications/<string:key>", methods=["PATCH"])
@blp.arguments(ApplicationPatch)
@blp.response(200, AdminApplicationSchema)
def update_application(data, key):
    """Edit an application (enabled, group_auto_provisioning, roles, connector...). A connector
    secret is write-only: sent as ******** or left out, the stored one is kept."""
    data.pop("key", None)
    with unit_of_work():
        overview.application(current_user(), key)
        return directory.update_application(current_user(), key, data)


@blp.route("/applications/<string:key>/accounts")
@blp.response(200, AccountList)
def list_accounts(key):
    """The accounts on record in the application; `orphan` when no person holds one."""
    from engine.access import holdings

    return {"items": holdings.accounts_of(overview.application(current_user(), key))}


@blp.route("/applications/<string:key>/assignments")
@blp.arguments(AssignmentsQuery, location="query", as_kwargs=True)
@blp.response(200, AssignmentList)
@blp.alt_response(200, content_type="text/csv", description="with format=csv")
def list_assignments(key, format, **filters):
    """Who is assigned the application (active ones unless `include_ended`), newest first."""
    rows = overview.assignments(current_user(), key, **filters)
    if format == "csv":
        return csv_answer(
            AssignmentSchema(many=True).dump(rows), ASSIGNMENT_COLUMNS, f"{key}-assignments.csv"
        )
    return {"items": rows}


@blp.route("/applications/<string:key>/assignments", methods=["POST"])
@blp.arguments(AssignIn, as_kwargs=True)
@blp.response(201, AssignmentList)
def assign_users(key, users, account_mode, role=None, reason=None, end_date=None):
    """Assign the application to people (no approval): an account is created, or an existing
    one linked (`account_mode: link`), for each who does not hold it yet; with `end_date` the
    assignments end then by themselves."""
    with unit_of_work():
        overview.application(current_user(), key)
        made = grants.assign_users(
            current_user(),
            key,
            users,
            account_mode=account_mode,
            role=role,
            reason=reason,
            ends_at=parse_end_date(end_date),
        )
        return {"items": made}


@blp.route("/assignments/<uuid:assignment_id>", methods=["DELETE"])
@blp.arguments(ReasonIn, as_kwargs=True)
@blp.response(200, AssignmentSchema)
def end_assignment(assignment_id, reason=None):
    """End one assignment; when it was the person's last for the app, their access is removed."""
    with unit_of_work():
        return grants.unassign(current_user(), str(assignment_id), reason)


# ---- settings


@blp.route("/settings")
@blp.response(200, SettingsSchema)
def show_settings():
    """Product-wide settings."""
    return settings.current()


@blp.route("/settings", methods=["PATCH"])
@blp.arguments(SettingsSchema)
@blp.response(200, SettingsSchema)
def change_settings(data):
    """Change product-wide settings (`group_auto_provisioning`: all or per_application)."""
    with unit_of_work():
        for key, value in data.items():
            settings.change(key, value, current_user().id)
    return settings.current()
