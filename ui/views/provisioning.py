"""Administration of provisioning: incidents with retry, and the provisioning log."""

from flask import flash, g, redirect, render_template, request, url_for

from engine.models.provisioning import LOG_OUTCOMES
from engine.provisioning.admin import list_applications
from engine.provisioning.incidents import (
    list_incidents,
    provisioning_log,
    resolve_incident,
    retry_incident,
)
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page

INCIDENT_FILTERS = {"open": "Open", "resolved": "Resolved", "all": "All"}


def incidents_page(**_):
    shown = request.args.get("status", "open")
    shown = shown if shown in INCIDENT_FILTERS else "open"
    return render_template(
        "admin/incidents.html",
        incidents=list_incidents(g.user, None if shown == "all" else shown),
        shown=shown,
        filters=INCIDENT_FILTERS,
    )


@bp.route("/admin/incidents")
@login_required
def admin_incidents():
    return incidents_page()


@bp.route("/admin/incidents/<incident_id>/retry", methods=["POST"])
@login_required
@form_page(incidents_page)
def admin_retry_incident(incident_id):
    with unit_of_work():
        incident = retry_incident(g.user, incident_id, request.form.get("comment") or None)
    if incident.kind == "workflow_failed":
        flash("Retrying: the item's workflow resumes where it was last saved.", "success")
    else:
        flash(f"Retrying: {incident.application.name} goes back to provisioning.", "success")
    return redirect(url_for("ui.admin_incidents"), code=303)


@bp.route("/admin/incidents/<incident_id>/resolve", methods=["POST"])
@login_required
@form_page(incidents_page)
def admin_resolve_incident(incident_id):
    with unit_of_work():
        resolve_incident(g.user, incident_id, request.form.get("comment") or None)
    flash("Incident marked resolved.", "success")
    return redirect(url_for("ui.admin_incidents"), code=303)


@bp.route("/admin/provisioning")
@login_required
def admin_provisioning_log():
    filters = {
        name: request.args.get(name, "").strip() for name in ("application", "outcome", "item")
    }
    rows = provisioning_log(
        g.user,
        application=filters["application"] or None,
        item_id=filters["item"] or None,
        outcome=filters["outcome"] or None,
        limit=200,
    )
    return render_template(
        "admin/provisioning_log.html",
        rows=rows,
        filters=filters,
        applications=list_applications(g.user),
        outcomes=LOG_OUTCOMES,
    )
