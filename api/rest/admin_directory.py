"""Administrators: people, groups, applications, assignments and product settings.

Every route here refuses non-admins (403) before it looks anything up. Lists answer
`{"items": [...]}`; `?format=csv` on the people and assignment lists answers CSV instead."""

import csv
import io

from flask import Response
from marshmallow import INCLUDE, Schema, fields, pre_dump, validate

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import (
    AccessSchema,
    ApplicationSchema,
    Computed,
    ComputedList,
    ItemSchema,
    PageQuery,
    TaskSchema,
    Text,
    UtcDateTime,
    page_of,
    through,
)
from engine import settings
from engine.access import grants, overview, people
from engine.access import groups as group_access
from engine.directory import admin as directory
from engine.directory.authentication import require_admin
from engine.directory.lookup import group_name_of, username_of
from engine.models.lifecycle import SOURCES
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


FORMAT = fields.String(
    load_default="json",
    validate=validate.OneOf(("json", "csv")),
    metadata={"description": "json (default) or csv"},
)


# ---- schemas


def strict_bool(**kwargs) -> fields.Boolean:
    """A JSON true or false only: "no", 0 and "false" are refused (a leaver is no accident)."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class UserSchema(Schema):
    id = fields.String()
    username = fields.String()
    email = fields.String(allow_none=True)
    display_name = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    active = fields.Boolean()
    manager = Computed(through("manager.username"))
    groups = ComputedList(fields.String(), lambda user: sorted(user.group_names))
    is_admin = fields.Boolean()
    created_at = UtcDateTime()
    deactivated_at = UtcDateTime(allow_none=True)


USER_COLUMNS = [
    "username",
    "display_name",
    "email",
    "department",
    "title",
    "active",
    "manager",
    "groups",
]


class _Overview:
    """A person's overview read as the person (username, email...) plus its extra keys."""

    def __init__(self, data: dict):
        self.__dict__.update(data)

    def __getattr__(self, name):
        return getattr(self.__dict__["user"], name)


class UserDetailSchema(UserSchema):
    access = fields.List(fields.Nested(AccessSchema))
    open_items = fields.List(fields.Nested(ItemSchema))
    open_tasks = fields.List(
        fields.Nested(TaskSchema), metadata={"description": "open tasks they may decide"}
    )

    @pre_dump
    def _flatten(self, data, **_kwargs):
        return _Overview(data) if isinstance(data, dict) else data


UserPage = page_of(UserSchema)


class UsersQuery(PageQuery):
    q = Text(validate=validate.Length(1, 200), metadata={"description": "part of a name/e-mail"})
    active = fields.Boolean()
    group = Text(validate=validate.Length(1, 150))
    department = Text(validate=validate.Length(1, 200))
    format = FORMAT


class UserIn(Schema):
    username = Text(required=True, validate=validate.Length(1, 150))
    email = Text(validate=validate.Length(max=320))
    display_name = Text(validate=validate.Length(max=200))
    first_name = Text(validate=validate.Length(max=100))
    last_name = Text(validate=validate.Length(max=100))
    department = Text(validate=validate.Length(max=200))
    title = Text(validate=validate.Length(max=200))
    manager = Text(validate=validate.Length(1, 150), metadata={"description": "username"})
    password = Text(load_only=True, validate=validate.Length(max=1024))


class UserPatch(Schema):
    email = Text(validate=validate.Length(max=320))
    display_name = Text(validate=validate.Length(max=200))
    first_name = Text(validate=validate.Length(max=100))
    last_name = Text(validate=validate.Length(max=100))
    department = Text(validate=validate.Length(max=200))
    title = Text(validate=validate.Length(max=200))
    manager = Text(
        allow_none=True,
        validate=validate.Length(max=150),
        metadata={"description": "username; a new manager takes over open approvals (mover)"},
    )
    active = strict_bool(
        metadata={"description": "false: a leaver (items cancelled, access removed)"}
    )
    password = Text(load_only=True, validate=validate.Length(max=1024))
    reason = Text(validate=validate.Length(max=4000), metadata={"description": "for the audit"})


class MemberSchema(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    active = fields.Boolean()


class GroupGrantSchema(Schema):
    application = fields.String()
    name = fields.String()
    role = fields.String(allow_none=True)
    assigned = fields.Integer(metadata={"description": "members holding it through the group"})
    added_at = UtcDateTime(allow_none=True)


class AccessChangeSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    reason = fields.String(allow_none=True)
    requested_by = Computed(lambda change: username_of(change.requested_by_id))
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    counts = fields.Dict(allow_none=True, metadata={"description": "progress of the change"})
    error = fields.String(allow_none=True)


class GroupCounts(Schema):
    members = fields.Integer()
    applications = fields.Integer()


class GroupSummarySchema(Schema):
    name = fields.String(attribute="group.name")
    description = fields.String(attribute="group.description", allow_none=True)
    members = fields.Integer(metadata={"description": "how many members"})
    applications = fields.Integer(metadata={"description": "how many applications it grants"})


class GroupList(Schema):
    items = fields.List(fields.Nested(GroupSummarySchema))


class GroupSchema(Schema):
    name = fields.String(attribute="group.name")
    description = fields.String(attribute="group.description", allow_none=True)
    members = fields.List(fields.Nested(MemberSchema))
    applications = fields.List(fields.Nested(GroupGrantSchema))
    counts = fields.Nested(GroupCounts)
    changes = fields.List(
        fields.Nested(AccessChangeSchema),
        metadata={"description": "latest access changes the worker applies (big ones)"},
    )


class GroupIn(Schema):
    name = Text(required=True, validate=validate.Length(1, 150))
    description = Text(allow_none=True, validate=validate.Length(max=10_000))


class GroupGrantIn(Schema):
    role = Text(allow_none=True, validate=validate.Length(1, 100))
    reason = Text(validate=validate.Length(max=4000))


class ReasonIn(Schema):
    reason = Text(validate=validate.Length(max=4000))


class AdminApplicationSchema(ApplicationSchema):
    group_auto_provisioning = fields.Boolean()
    allow_multiple_accounts = fields.Boolean()
    notification_email = fields.String(allow_none=True)
    roles = fields.List(fields.Dict(), allow_none=True)
    owner = Computed(
        lambda app: username_of(app.owner_user_id) or group_name_of(app.owner_group_id),
        metadata={"description": "the ApplicationOwner lane: a username or a group name"},
    )
    lanes = fields.Dict(
        allow_none=True, metadata={"description": "lane name -> group name, for custom lanes"}
    )
    approval_timeout = fields.String(allow_none=True)
    reminder_before = fields.String(allow_none=True)
    escalate_after = fields.String(allow_none=True)
    escalation_group = Computed(lambda app: group_name_of(app.escalation_group_id))
    sync = fields.Method(
        "_sync",
        metadata={"description": "sync settings (defaults filled in), next_sync_at, last_run"},
    )

    def _sync(self, app):
        if app.kind != "connected":
            return None
        from engine.sync import policy, runs

        last = runs.last_run(app)
        return {
            **policy.public(app),
            "next_sync_at": UtcDateTime()._serialize(app.next_sync_at, None, None),
            "last_run": None
            if last is None
            else {"id": last.id, "status": last.status, "counts": last.counts},
        }


class ApplicationIn(Schema):
    """The fields of a directory file's application entry; others are checked there too."""

    class Meta:
        unknown = INCLUDE

    key = Text(required=True, validate=validate.Length(1, 100))
    name = Text(validate=validate.Length(1, 200))
    description = Text()
    kind = fields.String(metadata={"description": "connected, disconnected or sso"})
    enabled = strict_bool()
    group_auto_provisioning = strict_bool()
    max_duration = Text(
        allow_none=True,
        metadata={
            "description": "ISO 8601 duration (P90D): the longest end date a request may ask"
        },
    )
    require_end_date = strict_bool()
    approver_group = Text(allow_none=True)
    fulfiller_group = Text(allow_none=True)
    workflow = Text()
    roles = fields.List(fields.Dict(), metadata={"description": '[{"key", "name"}]'})
    owner = Text(
        allow_none=True, metadata={"description": "a username or a group name (ApplicationOwner)"}
    )
    reminder_before = Text(
        allow_none=True,
        metadata={"description": "ISO-8601: remind candidates this long before due"},
    )
    escalate_after = Text(
        allow_none=True, metadata={"description": "ISO-8601: escalate a task waiting this long"}
    )
    escalation_group = Text(
        allow_none=True, metadata={"description": "who an escalation adds (default admins)"}
    )
    lanes = fields.Dict(
        allow_none=True,
        metadata={"description": 'custom lanes to groups, e.g. {"SecurityTeam": "security"}'},
    )
    connector = fields.Dict(
        allow_none=True,
        metadata={"description": "write-only secrets: send ******** (or omit one) to keep it"},
    )
    sync_interval = Text(allow_none=True, metadata={"description": "ISO-8601, default PT40M"})
    provisioning_enabled = strict_bool(metadata={"description": "off: sync only reports"})
    orphan_policy = fields.String(metadata={"description": "report (default) or disable"})
    deletion_threshold = fields.Dict(metadata={"description": '{"count": 20, "percent": 10}'})
    scoping_filter = Text(allow_none=True, metadata={"description": 'department eq "Sales"'})


class ApplicationPatch(ApplicationIn):
    key = Text(validate=validate.Length(1, 100))


class AccountRowSchema(Schema):
    user = fields.String(allow_none=True, metadata={"description": "username, or null"})
    external_id = fields.String(allow_none=True)
    status = fields.String()
    origin = fields.String(allow_none=True)
    orphan = fields.Boolean()
    since = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)


class AccountList(Schema):
    items = fields.List(fields.Nested(AccountRowSchema))


class AssignmentSchema(Schema):
    id = fields.String()
    application = fields.String(attribute="application.key")
    user = fields.String(attribute="user.username")
    role = fields.String(allow_none=True)
    source = fields.String(metadata={"enum": list(SOURCES)})
    group = Computed(through("group.name"))
    since = UtcDateTime(attribute="starts_at")
    until = UtcDateTime(attribute="ends_at", allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = UtcDateTime()
    ended_at = UtcDateTime(allow_none=True)
    ended_reason = fields.String(allow_none=True)


ASSIGNMENT_COLUMNS = ["id", "user", "application", "role", "source", "group", "since", "until"]
ASSIGNMENT_COLUMNS += ["ended_at"]


class AssignmentList(Schema):
    items = fields.List(fields.Nested(AssignmentSchema))


class AssignmentsQuery(Schema):
    user = Text(validate=validate.Length(1, 150))
    source = fields.String(validate=validate.OneOf(SOURCES))
    include_ended = fields.Boolean(load_default=False)
    format = FORMAT


class AssignIn(Schema):
    users = fields.List(Text(validate=validate.Length(1, 150)), required=True)
    account_mode = fields.String(load_default="create", validate=validate.OneOf(grants.ADMIN_MODES))
    role = Text(allow_none=True, validate=validate.Length(1, 100))
    reason = Text(allow_none=True, validate=validate.Length(max=4000))
    end_date = Text(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "ISO 8601 date or date-time (UTC): the assignments end then"},
    )


class SettingsSchema(Schema):
    group_auto_provisioning = fields.String(
        validate=validate.OneOf(settings.CHOICES["group_auto_provisioning"]),
        metadata={"description": "all: every application provisions through groups"},
    )
    lanes = fields.Dict(
        metadata={"description": "custom lane name -> group name, for every application"}
    )
    local_passwords = fields.String(
        validate=validate.OneOf(settings.CHOICES["local_passwords"]),
        metadata={"description": "off: single sign-on only (409 while no provider is enabled)"},
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
