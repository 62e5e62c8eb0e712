"""The API's edge: what requests may carry and what answers look like (marshmallow)."""

from datetime import UTC

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing

from engine.directory.lookup import username_of
from engine.models.access import ACCOUNT_MODES, STATUSES
from engine.models.lifecycle import SOURCES as ASSIGNMENT_SOURCES
from engine.requests.items import account_external_id, item_history
from engine.requests.listing import DEFAULT_LIMIT, INBOX_SCOPES, MAX_LIMIT
from engine.tasks.actions import DECISIONS

DECISION_NAMES = sorted({d for names in DECISIONS.values() for d in names})


class Text(fields.String):
    """A string a database can store: no NUL characters (PostgreSQL refuses them) and no lone
    UTF-16 surrogates such as JSON's "\\ud800" (no encoding can write them); neither is ever
    meaningful."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("must not contain NUL characters")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValidationError("must not contain lone surrogates (invalid Unicode)") from err
        return text


class UtcDateTime(fields.DateTime):
    """Stored as naive UTC; shown as RFC 3339 with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class Computed(fields.String):
    """A read-only string worked out from the object by `compute` (documented as a string)."""

    def __init__(self, compute, **kwargs):
        super().__init__(dump_only=True, allow_none=True, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.compute(obj)


class ComputedList(fields.List):
    """A read-only list worked out from the object by `compute`."""

    def __init__(self, inner, compute, **kwargs):
        super().__init__(inner, dump_only=True, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.compute(obj)


def through(path: str):
    """obj.a.b, or None when a step on the way is None (marshmallow would drop the field)."""

    def follow(obj):
        for name in path.split("."):
            obj = getattr(obj, name) if obj is not None else None
        return obj

    return follow


# ---- what callers send


class PageQuery(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": "rows per page"},
    )
    cursor = Text(
        validate=validate.Length(1, 1000),
        metadata={"description": "the `next` value of the previous page"},
    )


class ItemsQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))


class TasksQuery(PageQuery):
    scope = fields.String(
        load_default="all",
        validate=validate.OneOf(INBOX_SCOPES),
        metadata={"description": "all; claimable (unclaimed or mine); mine (claimed by me)"},
    )
    application = Text(
        validate=validate.Length(1, 100), metadata={"description": "only this application's"}
    )
    beneficiary = Text(
        validate=validate.Length(1, 150), metadata={"description": "only for this person"}
    )
    lane = Text(validate=validate.Length(1, 100), metadata={"description": "only this lane's"})
    overdue = fields.Boolean(
        load_default=False, metadata={"description": "only tasks past their due date"}
    )
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(("open", "completed")),
        metadata={
            "description": "open: the inbox (by scope); completed: the tasks the caller "
            "decided, newest first (scope does not apply)"
        },
    )


class CartLineIn(Schema):
    application = Text(required=True, validate=validate.Length(1, 100), metadata={"example": "crm"})
    beneficiary = Text(
        allow_none=True,
        validate=validate.Length(1, 150),
        metadata={"description": "username; default: the caller"},
    )
    account_mode = fields.String(load_default="create", validate=validate.OneOf(ACCOUNT_MODES))
    justification = Text(allow_none=True, validate=validate.Length(max=4000))
    role = Text(
        allow_none=True,
        validate=validate.Length(1, 100),
        metadata={"description": "one of the application's roles; required when it has some"},
    )
    account_id = Text(
        allow_none=True,
        validate=validate.Length(1, 255),
        metadata={
            "description": "update and remove: which of the beneficiary's active accounts in "
            "the application, by the id the target knows it by (an item's `account_id`) or "
            "its accessflow id; required when they hold several"
        },
    )
    end_date = Text(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={
            "description": "when the access ends: an ISO 8601 date (through that day, UTC) or "
            "date-time (UTC unless it has an offset); within the application's max_duration, "
            "required when it has require_end_date",
            "example": "2026-12-31",
        },
    )


class SubmitHeaders(Schema):
    idempotency_key = Text(
        data_key="Idempotency-Key",
        validate=validate.Length(1, 200),
        metadata={"description": "a retry with the same key returns the first answer (200)"},
    )


class CancelIn(Schema):
    reason = Text(allow_none=True, validate=validate.Length(max=4000))


class CompleteIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISION_NAMES))
    comment = Text(allow_none=True, validate=validate.Length(max=4000))
    account_id = Text(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"description": "the account created; required to approve a fulfillment task"},
    )


class ReassignIn(Schema):
    to = Text(
        required=True,
        validate=validate.Length(1, 150),
        metadata={"description": "the username of the person who gets the task"},
    )
    comment = Text(allow_none=True, validate=validate.Length(max=4000))


# ---- what the API answers


class ProblemSchema(Schema):
    class Meta:
        unknown = INCLUDE  # a domain error may carry further members

    type = fields.String()
    status = fields.Integer(required=True)
    title = fields.String(required=True)
    detail = fields.String()
    field = fields.String(metadata={"description": "the input field at fault"})
    item = fields.String(metadata={"description": "the open item a duplicate request hits"})
    errors = fields.Dict(metadata={"description": "every invalid field with its messages"})


def _connector_for_admins(app):
    from api.auth import current_user

    return app.public_connector_settings() if current_user().is_admin else None


class ApplicationSchema(Schema):
    key = fields.String()
    name = fields.String()
    kind = fields.String()
    description = fields.String(allow_none=True)
    enabled = fields.Boolean()
    workflow = fields.String(attribute="workflow_key")
    max_duration = fields.String(
        allow_none=True,
        metadata={"description": "ISO 8601 duration: the longest access a request may ask for"},
    )
    require_end_date = fields.Boolean(metadata={"description": "every request needs end_date"})
    approver_group = Computed(through("approver_group.name"))
    fulfiller_group = Computed(through("fulfiller_group.name"))
    connector = fields.Function(
        _connector_for_admins,
        allow_none=True,
        metadata={"type": "object", "description": "admins only; secrets masked"},
    )


class HistoryEventSchema(Schema):
    at = UtcDateTime()
    event = fields.String()
    actor = Computed(through("actor.username"))
    comment = fields.String(allow_none=True)
    task = fields.String(attribute="task_id", allow_none=True)


class ItemSchema(Schema):
    id = fields.String()
    # None for an item no cart asked for (a group grant, an admin's assignment, a leaver).
    request = fields.String(attribute="request_id", allow_none=True)
    application = fields.String(attribute="application.key")
    beneficiary = fields.String(attribute="beneficiary.username")
    requester = fields.String(attribute="requester.username")
    account_mode = fields.String()
    origin = fields.String(
        metadata={"description": "cart, group, admin, leaver, ...: where it came from"}
    )
    kind = fields.String(metadata={"description": "grant, update or remove"})
    role = fields.String(allow_none=True)
    justification = fields.String(allow_none=True)
    end_date = UtcDateTime(
        attribute="ends_at", allow_none=True, metadata={"description": "when the access ends"}
    )
    status = fields.String(metadata={"enum": list(STATUSES)})
    outcome_reason = fields.String(allow_none=True)
    account_id = Computed(account_external_id)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)


class ItemDetailSchema(ItemSchema):
    history = ComputedList(fields.Nested(HistoryEventSchema), item_history)


class RequestSchema(Schema):
    id = fields.String()
    requester = fields.String(attribute="requester.username")
    submitted_at = UtcDateTime()
    items = fields.List(fields.Nested(ItemSchema))


class CartLineSchema(Schema):
    id = fields.String()
    application = fields.String(attribute="application.key")
    beneficiary = fields.String(attribute="beneficiary.username")
    account_mode = fields.String()
    role = fields.String(allow_none=True)
    account_id = Computed(
        account_external_id,
        metadata={"description": "the account an update or a removal names, when it names one"},
    )
    justification = fields.String(allow_none=True)
    end_date = UtcDateTime(
        attribute="ends_at", allow_none=True, metadata={"description": "when the access ends"}
    )
    created_at = UtcDateTime()


class CartSchema(Schema):
    items = fields.List(fields.Nested(CartLineSchema))


class TaskSchema(Schema):
    id = fields.String()
    name = fields.String(attribute="title")
    lane = fields.String(allow_none=True)
    kind = fields.String()
    status = fields.String()
    item = fields.String(attribute="item_id")
    application = fields.String(attribute="item.application.key")
    beneficiary = fields.String(attribute="item.beneficiary.username")
    requester = fields.String(attribute="item.requester.username")
    claimed_by = Computed(lambda task: username_of(task.claimed_by_id))
    claimed_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    due_at = UtcDateTime(allow_none=True)
    assigned_to = Computed(
        lambda task: username_of(task.candidate_user_id),
        metadata={"description": "the person the task waits on by name, if any"},
    )
    decision = fields.String(allow_none=True)
    completed_by = Computed(lambda task: username_of(task.completed_by_id))
    completed_at = UtcDateTime(allow_none=True)


class AccountHeldSchema(Schema):
    external_id = fields.String(allow_none=True)
    status = fields.String()
    origin = fields.String(allow_none=True)


class AccessSchema(Schema):
    """One assignment a person holds (the shape of `GET /me/access`)."""

    id = fields.String(attribute="assignment_id")
    application = fields.String()
    application_name = fields.String()
    kind = fields.String()
    role = fields.String(allow_none=True)
    role_name = fields.String(allow_none=True)
    source = fields.String(metadata={"enum": list(ASSIGNMENT_SOURCES)})
    group = fields.String(allow_none=True, metadata={"description": "when source is group"})
    since = UtcDateTime()
    until = UtcDateTime(allow_none=True)
    accounts = fields.List(fields.Nested(AccountHeldSchema))


class AccessList(Schema):
    items = fields.List(fields.Nested(AccessSchema))


class MeSchema(Schema):
    id = fields.String()
    username = fields.String()
    email = fields.String(allow_none=True)
    display_name = fields.String(allow_none=True)
    manager = Computed(through("manager.username"))
    groups = ComputedList(fields.String(), lambda user: sorted(user.group_names))
    is_admin = fields.Boolean()
    task_notices = fields.String(
        metadata={"description": "how new tasks are told: digest, immediate or none"}
    )


class PreferencesIn(Schema):
    task_notices = fields.String(
        required=True,
        validate=validate.OneOf(("digest", "immediate", "none")),
        metadata={"description": "digest (one mail per interval), immediate, or none"},
    )


class SubstitutionIn(Schema):
    substitute = Text(required=True, validate=validate.Length(1, 150))
    starts_at = fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "ISO 8601; default now"}
    )
    ends_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    comment = Text(allow_none=True, validate=validate.Length(max=4000))
    for_user = Text(
        data_key="for",
        validate=validate.Length(1, 150),
        metadata={"description": "admins only: the person who is away (default: the caller)"},
    )


class SubstitutionSchema(Schema):
    id = fields.String()
    user = Computed(lambda row: username_of(row.user_id))
    substitute = Computed(lambda row: username_of(row.substitute_id))
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    comment = fields.String(allow_none=True)


class SubstitutionList(Schema):
    items = fields.List(fields.Nested(SubstitutionSchema))


class RevokedSchema(Schema):
    revoked = fields.Integer(metadata={"description": "how many tokens were revoked"})


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()


def page_of(row_schema) -> type[Schema]:
    """{"items": [...], "next": cursor or null} around `row_schema`."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(row_schema), attribute="rows"),
            "next": fields.String(allow_none=True),
        },
        name=f"{row_schema.__name__.removesuffix('Schema')}Page",
    )


ApplicationPage = page_of(ApplicationSchema)
ItemPage = page_of(ItemSchema)
RequestPage = page_of(RequestSchema)
TaskPage = page_of(TaskSchema)
