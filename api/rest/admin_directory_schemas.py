"""The shapes of the administration API's people, groups, applications, assignments and
settings (api/rest/admin_directory.py serves them)."""

from marshmallow import INCLUDE, Schema, fields, pre_dump, validate

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
from engine.access import grants
from engine.directory.lookup import group_name_of, username_of
from engine.models.lifecycle import SOURCES

FORMAT = fields.String(
    load_default="json",
    validate=validate.OneOf(("json", "csv")),
    metadata={"description": "json (default) or csv"},
)


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
