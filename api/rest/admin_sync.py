"""Administrators and sync: ask for a run (or a dry run), read runs and their report, allow a
run the deletion threshold stopped."""

from marshmallow import Schema, fields, validate

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import Text, UtcDateTime
from engine.directory.authentication import require_admin
from engine.models.sync import COUNTS
from engine.sync import runs
from engine.unit_of_work import unit_of_work

blp = resource_blueprint(
    "admin_sync", "/api/v1/admin", "Sync of connected applications (administrators)"
)


@blp.before_request
def _admins_only() -> None:
    require_admin(current_user(), "use the administration API")


class SyncIn(Schema):
    dry_run = fields.Boolean(
        truthy={True}, falsy={False}, load_default=False,
        metadata={"description": "report what would change, change nothing"},
    )  # fmt: skip


class AllowIn(Schema):
    comment = Text(allow_none=True, validate=validate.Length(max=4000))


class RunStarted(Schema):
    id = fields.String()
    status = fields.String()


class OperationSchema(Schema):
    id = fields.Integer()
    action = fields.String(metadata={"description": "link, update, enable, disable, delete, "
                                     "provision, orphan, unassigned or skip"})  # fmt: skip
    status = fields.String(metadata={"description": "done, failed, planned, would or reported"})
    external_id = fields.String(allow_none=True)
    user_name = fields.String(allow_none=True, metadata={"description": "as the target has it"})
    reason = fields.String()
    changes = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)
    log_id = fields.Integer(allow_none=True, metadata={"description": "provisioning log row"})
    item = fields.String(attribute="item_id", allow_none=True)
    at = UtcDateTime()


class RunSchema(Schema):
    id = fields.String()
    application = fields.String(attribute="application.key")
    trigger = fields.String(metadata={"description": "scheduled or manual"})
    dry_run = fields.Boolean()
    status = fields.String(
        metadata={"description": "queued, running, succeeded, failed or waiting_approval"}
    )
    phase = fields.String(metadata={"description": "read, apply, provision or done"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": ", ".join(COUNTS)})  # fmt: skip
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    allowed_at = UtcDateTime(allow_none=True)
    error = fields.String(allow_none=True)


class RunDetail(RunSchema):
    report = fields.Method("_report")

    def _report(self, run):
        return OperationSchema(many=True).dump(runs.report_of(run))


class RunList(Schema):
    items = fields.List(fields.Nested(RunSchema))


@blp.route("/applications/<string:key>/sync", methods=["POST"])
@blp.arguments(SyncIn, as_kwargs=True)
@blp.response(202, RunStarted)
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def request_sync(key, dry_run=False):
    """Queue a sync of a connected application now; a worker carries it out."""
    with unit_of_work():
        return runs.request_sync(current_user(), key, dry_run)


@blp.route("/applications/<string:key>/sync-runs")
@blp.response(200, RunList)
def list_runs(key):
    """The application's sync runs, newest first (the last 20)."""
    return {"items": runs.runs_of(current_user(), key)}


@blp.route("/applications/<string:key>/sync-runs/<uuid:run_id>")
@blp.response(200, RunDetail)
def show_run(key, run_id):
    """One run with its counts and its report (what was done, or would be, and why)."""
    return runs.show_run(current_user(), key, str(run_id))


@blp.route("/applications/<string:key>/sync-runs/<uuid:run_id>/allow", methods=["POST"])
@blp.arguments(AllowIn, as_kwargs=True)
@blp.response(200, RunSchema)
@blp.alt_response(409, response="CONFLICT")
def allow_run(key, run_id, comment=None):
    """Let a run the deletion threshold stopped go on; a worker carries it out."""
    with unit_of_work():
        return runs.allow_run(current_user(), key, str(run_id), comment)
