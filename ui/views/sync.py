"""The synchronization card of a connected application's admin page: its settings, its runs
and their activity reports, "Sync now", "Dry run", and allowing a run the threshold stopped."""

from flask import flash, g, redirect, render_template, request, url_for

from engine.directory.admin import update_application
from engine.sync import runs
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page
from ui.views.admin import application_page


def _back(key):
    return redirect(url_for("ui.admin_application", key=key) + "#app-sync", code=303)


@bp.route("/admin/applications/<key>/sync", methods=["POST"])
@login_required
@form_page(application_page)
def admin_sync_now(key):
    dry_run = request.form.get("dry_run") == "1"
    with unit_of_work():
        runs.request_sync(g.user, key, dry_run)
    flash(("Dry run" if dry_run else "Sync") + " queued: a worker carries it out.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/sync-settings", methods=["POST"])
@login_required
@form_page(application_page)
def admin_sync_settings(key):
    form = request.form
    data: dict = {
        "sync_interval": form.get("sync_interval") or None,
        "provisioning_enabled": form.get("provisioning_enabled") == "on",
        "orphan_policy": form.get("orphan_policy") or "report",
        "scoping_filter": form.get("scoping_filter") or None,
    }
    try:
        data["deletion_threshold"] = {
            "count": int(form.get("threshold_count") or 20),
            "percent": float(form.get("threshold_percent") or 10),
        }
    except ValueError:
        data["deletion_threshold"] = "not a number"  # the schema names the field
    with unit_of_work():
        update_application(g.user, key, data)
    flash("Sync settings saved.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/sync-runs/<run_id>/allow", methods=["POST"])
@login_required
@form_page(application_page)
def admin_allow_sync(key, run_id):
    with unit_of_work():
        runs.allow_run(g.user, key, run_id, request.form.get("comment") or None)
    flash("Run allowed: a worker carries it on.", "success")
    return _back(key)


@bp.route("/admin/applications/<key>/sync-runs/<run_id>")
@login_required
def admin_sync_run(key, run_id):
    run = runs.show_run(g.user, key, run_id)
    return render_template("admin/sync_run.html", run=run, app=run.application,
                           report=runs.report_of(run))  # fmt: skip
