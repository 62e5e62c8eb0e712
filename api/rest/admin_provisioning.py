"""Administrators and provisioning: incidents, the provisioning log, connections, quarantine."""

from marshmallow import Schema, fields, validate

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import Computed, Text, UtcDateTime, through
from engine.models.provisioning import LOG_OUTCOMES
from engine.provisioning import connected_apps, incidents
from engine.unit_of_work import unit_of_work

blp = resource_blueprint(
    "admin_provisioning", "/api/v1/admin", "Provisioning incidents and log (administrators)"
)


class IncidentSchema(Schema):
    id = fields.String()
    kind = fields.String(
        metadata={"description": "provisioning_failed, quarantine or workflow_failed"}
    )
    status = fields.String(metadata={"description": "open or resolved"})
    application = Computed(through("application.key"))
    item = fields.String(attribute="item_id", allow_none=True)
    job = fields.String(attribute="job_id", allow_none=True)
    error = fields.String(allow_none=True)
    created_at = UtcDateTime()
    notified_at = UtcDateTime(allow_none=True)
    resolved_at = UtcDateTime(allow_none=True)
    resolved_by = Computed(through("resolved_by.username"))
    resolution = fields.String(allow_none=True)


class LogEntrySchema(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    application = Computed(through("application.key"))
    user = Computed(through("user.username"))
    item = fields.String(attribute="item_id", allow_none=True)
    job = fields.String(attribute="job_id", allow_none=True)
    account = fields.String(attribute="external_id", allow_none=True)
    operation = fields.String()
    outcome = fields.String()
    attempt = fields.Integer()
    duration_ms = fields.Integer()
    http_status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    worker = fields.String(allow_none=True)


class IncidentList(Schema):
    items = fields.List(fields.Nested(IncidentSchema))
    next = fields.String(allow_none=True)


class LogPage(Schema):
    items = fields.List(fields.Nested(LogEntrySchema))
    next = fields.String(allow_none=True, metadata={"description": "pass back as `cursor`"})


MAX_ROW_ID = 2**31 - 1  # integer ids are 32-bit on PostgreSQL: a larger cursor is not an id


class IncidentsQuery(Schema):
    status = fields.String(
        load_default="open", validate=validate.OneOf(("open", "resolved", "all"))
    )
    application = Text(validate=validate.Length(1, 100))


class LogQuery(Schema):
    application = Text(validate=validate.Length(1, 100))
    item = fields.UUID()
    outcome = fields.String(validate=validate.OneOf(LOG_OUTCOMES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, incidents.MAX_LOG_ROWS))
    cursor = fields.Integer(validate=validate.Range(1, MAX_ROW_ID))


class CommentIn(Schema):
    comment = Text(allow_none=True, validate=validate.Length(max=4000))


class ConnectionSchema(Schema):
    application = fields.String()
    ok = fields.Boolean()
    patch = fields.Boolean()
    filter = fields.Boolean()
    bulk = fields.Boolean()
    etag = fields.Boolean()
    max_results = fields.Integer(allow_none=True)
    auth_schemes = fields.List(fields.String(allow_none=True))
    total_users = fields.Integer(allow_none=True)
    # LDAP connectors
    server = fields.String()
    tls = fields.Boolean()
    bound_as = fields.String(metadata={"description": "the identity the bind DN has (whoami)"})
    base_dn = fields.String()
    disable_strategy = fields.String()


class ResumedSchema(Schema):
    key = fields.String()
    quarantined_at = UtcDateTime(allow_none=True)


@blp.route("/incidents")
@blp.arguments(IncidentsQuery, location="query", as_kwargs=True)
@blp.response(200, IncidentList)
def list_incidents(status, application=None):
    """Provisioning incidents, newest first (`status`: open, resolved or all)."""
    rows = incidents.list_incidents(
        current_user(), None if status == "all" else status, application
    )
    return {"items": rows, "next": None}


@blp.route("/incidents/<uuid:incident_id>")
@blp.response(200, IncidentSchema)
def show_incident(incident_id):
    """One incident (admins): its kind, error and how it was resolved."""
    return incidents.get_incident(current_user(), str(incident_id))


@blp.route("/incidents/<uuid:incident_id>/retry", methods=["POST"])
@blp.arguments(CommentIn, as_kwargs=True)
@blp.response(200, IncidentSchema)
@blp.alt_response(409, response="CONFLICT")
def retry_incident(incident_id, comment=None):
    """Provision again (the failed auto-provision task is decided 'retry'), or lift a quarantine."""
    with unit_of_work():
        return incidents.retry_incident(current_user(), str(incident_id), comment)


@blp.route("/incidents/<uuid:incident_id>/resolve", methods=["POST"])
@blp.arguments(CommentIn, as_kwargs=True)
@blp.response(200, IncidentSchema)
@blp.alt_response(409, response="CONFLICT")
def resolve_incident(incident_id, comment=None):
    """Close an incident dealt with outside accessflow."""
    with unit_of_work():
        return incidents.resolve_incident(current_user(), str(incident_id), comment)


@blp.route("/provisioning-log")
@blp.arguments(LogQuery, location="query", as_kwargs=True)
@blp.response(200, LogPage)
def provisioning_log(limit, application=None, item=None, outcome=None, cursor=None):
    """One row per call to a target, newest first; never a token or a password."""
    item_id = str(item) if item else None
    rows = incidents.provisioning_log(current_user(), application, item_id, outcome, cursor, limit)
    return {"items": rows, "next": str(rows[-1].id) if len(rows) == limit else None}


@blp.route("/applications/<string:key>/test-connection", methods=["POST"])
@blp.response(200, ConnectionSchema)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def test_connection(key):
    """Ask the target whether it answers and accepts the token; 422 with the reason when not."""
    return connected_apps.test_application(key, current_user())


@blp.route("/applications/<string:key>/resume", methods=["POST"])
@blp.arguments(CommentIn, as_kwargs=True)
@blp.response(200, ResumedSchema)
@blp.alt_response(409, response="CONFLICT")
def resume_application(key, comment=None):
    """Lift a quarantine: the application's paused provisioning jobs run again."""
    with unit_of_work():
        return connected_apps.resume_application(current_user(), key, comment)
