"""The workflow designer: BPMN in a bpmn-js modeler, server-side validation, deploy, history."""

from flask import Response, flash, g, jsonify, render_template, request, url_for

from api.problems import problem
from engine.designer import (
    deploy_workflow,
    get_workflow_version,
    list_workflow_versions,
    list_workflows,
    validate_workflow,
)
from engine.errors import DomainError
from ui.blueprint import bp, login_required
from ui.errors import status_of


@bp.route("/designer")
@login_required
def designer():
    return render_template("designer/index.html", workflows=list_workflows(g.user))


@bp.route("/designer/<key>")
@login_required
def designer_modeler(key):
    number = request.args.get("version", type=int)
    version = get_workflow_version(g.user, key, number)
    return render_template(
        "designer/modeler.html",
        version=version,
        history=list_workflow_versions(g.user, key),
    )


@bp.route("/designer/<key>/versions/<int:number>.bpmn")
@login_required
def designer_bpmn(key, number):
    version = get_workflow_version(g.user, key, number)
    return Response(version.bpmn_xml, mimetype="application/xml")


def _bpmn_body() -> str:
    """The BPMN the modeler posted (MAX_CONTENT_LENGTH refuses a larger one: a 413 problem)."""
    return request.get_data(as_text=True)


def _problem(err: DomainError):
    """problem+json with what the modeler's script shows: the message and the element to mark."""
    element = err.extra.get("element")
    return problem(
        status_of(err), err.title, err.detail, ok=False, error=err.detail, element=element
    )


@bp.route("/designer/<key>/validate", methods=["POST"])
@login_required
def designer_validate(key):
    try:
        found = validate_workflow(g.user, _bpmn_body())
    except DomainError as err:
        return _problem(err)
    return jsonify({"ok": True, "key": found, "message": f"{found} is valid and can be deployed."})


@bp.route("/designer/<key>/deploy", methods=["POST"])
@login_required
def designer_deploy(key):
    try:
        version, created = deploy_workflow(g.user, _bpmn_body())
    except DomainError as err:
        return _problem(err)
    if created:
        flash(
            f"Deployed {version.key} version {version.version}. Running items keep theirs.",
            "success",
        )
    else:
        flash(f"No change: {version.key} version {version.version} is already this file.", "info")
    location = url_for("ui.designer_modeler", key=version.key)
    return jsonify(
        {
            "ok": True,
            "key": version.key,
            "version": version.version,
            "created": created,
            "location": location,
        }
    ), 201 if created else 200
