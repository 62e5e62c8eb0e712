"""The workflow designer: BPMN in a bpmn-js modeler, server-side validation, deploy as a draft,
history, and the review page where a second person approves or rejects a draft."""

from flask import Response, flash, g, jsonify, redirect, render_template, request, url_for

from api.problems import problem
from engine.errors import DomainError
from engine.unit_of_work import unit_of_work
from engine.workflow.designer import (
    approve_draft,
    deploy_workflow,
    get_workflow_version,
    list_drafts,
    list_workflow_versions,
    list_workflows,
    reject_draft,
    review_workflow_version,
    validate_workflow,
)
from ui.blueprint import bp, login_required
from ui.errors import form_page, status_of


@bp.route("/designer")
@login_required
def designer():
    return render_template(
        "designer/index.html", workflows=list_workflows(g.user), drafts=list_drafts(g.user)
    )


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
        with unit_of_work():
            version, created = deploy_workflow(g.user, _bpmn_body())
    except DomainError as err:
        return _problem(err)
    if created:
        flash(
            f"Deployed {version.key} version {version.version} as a draft: it runs once another "
            "designer or an admin approves it.",
            "success",
        )
    else:
        flash(f"No change: {version.key} version {version.version} is already this file.", "info")
    location = url_for("ui.designer_review", key=version.key, number=version.version)
    return jsonify(
        {
            "ok": True,
            "key": version.key,
            "version": version.version,
            "status": version.status,
            "created": created,
            "location": location,
        }
    ), 201 if created else 200


def review_page(key, number, **_):
    return render_template("designer/review.html", **review_workflow_version(g.user, key, number))


@bp.route("/designer/<key>/versions/<int:number>")
@login_required
def designer_review(key, number):
    return review_page(key, number)


@bp.route("/designer/<key>/versions/<int:number>/approve", methods=["POST"])
@login_required
@form_page(review_page)
def designer_approve(key, number):
    with unit_of_work():
        approve_draft(g.user, key, number, request.form.get("comment", "").strip() or None)
    flash(f"Approved {key} version {number}: new items start on it.", "success")
    return redirect(url_for("ui.designer_review", key=key, number=number), code=303)


@bp.route("/designer/<key>/versions/<int:number>/reject", methods=["POST"])
@login_required
@form_page(review_page)
def designer_reject(key, number):
    with unit_of_work():
        reject_draft(g.user, key, number, request.form.get("comment", ""))
    flash(f"Rejected {key} version {number}: it will never run.", "success")
    return redirect(url_for("ui.designer_review", key=key, number=number), code=303)
