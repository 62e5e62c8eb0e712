"""The caller themselves: who the token belongs to, and revoking their tokens."""

from api.auth import current_user
from api.rest.resource import resource_blueprint
from api.schemas import (
    AccessList,
    MeSchema,
    PreferencesIn,
    RevokedSchema,
    SubstitutionIn,
    SubstitutionList,
    SubstitutionSchema,
)
from engine.access import holdings
from engine.audit import digests
from engine.directory import tokens
from engine.tasks import substitutes
from engine.unit_of_work import unit_of_work

blp = resource_blueprint("me", "/api/v1/me", "The caller")


@blp.route("")
@blp.response(200, MeSchema)
def show_me():
    """Who the token belongs to: username, manager, groups."""
    return current_user()


@blp.route("/preferences", methods=["PATCH"])
@blp.arguments(PreferencesIn, as_kwargs=True)
@blp.response(200, MeSchema)
def set_my_preferences(task_notices):
    """How the caller hears of new tasks: a digest per interval, each at once, or not at all."""
    with unit_of_work():
        return digests.set_preference(current_user(), task_notices)


@blp.route("/substitutes")
@blp.response(200, SubstitutionList)
def my_substitutes():
    """The substitutions for the caller or by the caller that have not ended."""
    return {"items": substitutes.substitutions_of(current_user())}


@blp.route("/substitutes", methods=["POST"])
@blp.arguments(SubstitutionIn, as_kwargs=True)
@blp.response(201, SubstitutionSchema)
def add_substitute(substitute, ends_at, starts_at=None, comment=None, for_user=None):
    """Out of office: `substitute` may act on the caller's tasks from `starts_at` (default now)
    to `ends_at`; decisions are recorded as theirs for the caller. Admins may name one for
    someone else (`for`)."""
    with unit_of_work():
        return substitutes.set_substitute(
            current_user(), substitute, starts_at, ends_at, comment, for_user
        )


@blp.route("/substitutes/<uuid:substitution_id>", methods=["DELETE"])
@blp.response(204)
def end_substitute(substitution_id):
    """End a substitution now (the person, the substitute, or an admin)."""
    with unit_of_work():
        substitutes.end_substitution(current_user(), str(substitution_id))


@blp.route("/access")
@blp.response(200, AccessList)
def my_access():
    """The caller's current access: one entry per assignment (application, role, source,
    since, until) with their accounts in the application. Only ever the caller's own."""
    return {"items": holdings.access_of(current_user())}


@blp.route("/tokens/revoke", methods=["POST"])
@blp.response(200, RevokedSchema)
def revoke_my_tokens():
    """Revoke every token of the caller, this one included."""
    with unit_of_work():
        return {"revoked": tokens.revoke_tokens(current_user().username)}
