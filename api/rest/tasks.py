"""Human tasks: the caller's inbox, claiming, releasing and deciding."""

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import CompleteIn, ReassignIn, TaskPage, TaskSchema, TasksQuery
from engine.requests import listing
from engine.tasks import actions, delegation, inbox
from engine.unit_of_work import unit_of_work

blp = resource_blueprint("tasks", "/api/v1/tasks", "Human tasks")


@blp.route("")
@blp.arguments(TasksQuery, location="query", as_kwargs=True)
@blp.response(200, TaskPage)
@blp.doc(
    responses={
        200: {
            "links": {
                name: {"operationId": op, "parameters": {"task_id": "$response.body#/items/0/id"}}
                for name, op in (
                    ("ShowTask", "showTask"),
                    ("ClaimTask", "claimTask"),
                    ("ReleaseTask", "releaseTask"),
                    ("CompleteTask", "completeTask"),
                )
            }
        }
    }
)
def list_tasks(scope, status, limit, cursor=None, overdue=False, **narrowing):
    """Open tasks the caller may act on, oldest first, narrowed by application, beneficiary,
    lane, overdue; or (status=completed) the tasks the caller decided, newest first."""
    if status == "completed":
        return listing.completed_page(current_user(), limit, cursor)
    filters = inbox.Filters(overdue=overdue, **narrowing)
    return listing.inbox_page(current_user(), scope, limit, cursor, filters)


@blp.route("/<uuid:task_id>")
@blp.response(200, TaskSchema)
@blp.doc(operationId="showTask")
def show_task(task_id):
    """One task the caller may see: its item, who holds it, when it is due."""
    return actions.get_task(current_user(), str(task_id))


@blp.route("/<uuid:task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
@blp.doc(operationId="claimTask")
@blp.alt_response(409, response="CONFLICT")
def claim_task(task_id):
    """Take the task; 409 when someone else holds it."""
    with unit_of_work():
        return actions.claim_task(current_user(), str(task_id))


@blp.route("/<uuid:task_id>/release", methods=["POST"])
@blp.response(200, TaskSchema)
@blp.doc(operationId="releaseTask")
@blp.alt_response(409, response="CONFLICT")
def release_task(task_id):
    """Give a claimed task back to its group; 409 unless the caller (or an admin) holds it."""
    with unit_of_work():
        return actions.release_task(current_user(), str(task_id))


@blp.route("/<uuid:task_id>/complete", methods=["POST"])
@blp.arguments(CompleteIn, as_kwargs=True)
@blp.response(200, TaskSchema)
@blp.doc(operationId="completeTask")
@blp.alt_response(409, response="CONFLICT")
def complete_task(task_id, decision, comment=None, account_id=None):
    """Decide the task, claiming it when unclaimed; 409 when another holds it or it is done."""
    with unit_of_work():
        return actions.complete_task(current_user(), str(task_id), decision, comment, account_id)


@blp.route("/<uuid:task_id>/reassign", methods=["POST"])
@blp.arguments(ReassignIn, as_kwargs=True)
@blp.response(200, TaskSchema)
@blp.doc(operationId="reassignTask")
@blp.alt_response(403, response="FORBIDDEN")
@blp.alt_response(409, response="CONFLICT")
def reassign_task(task_id, to, comment=None):
    """Give the task to a named person; 403 when the caller may not, 422 when that person may
    not decide it (the requester, the beneficiary, a decider of another stage, deactivated)."""
    with unit_of_work():
        return delegation.reassign_task(current_user(), str(task_id), to, comment)
