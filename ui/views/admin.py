"""Administration: applications and their connectors, and the audit log."""

from flask import g, render_template, request

from engine.audit.search import audit_event_names, search_audit
from engine.provisioning.admin import check_connection, get_application, list_applications
from ui.blueprint import bp, login_required
from ui.errors import form_page


@bp.route("/admin")
@bp.route("/admin/applications")
@login_required
def admin_applications():
    return render_template("admin/applications.html", applications=list_applications(g.user))


# What a connection test found, in the order and words an admin reads it; a key a connector
# adds that is not here is shown under its own name.
CONNECTION_FACTS = {
    "total_users": "Users in the target",
    "auth_schemes": "Authentication schemes",
    "patch": "Partial updates (PATCH)",
    "filter": "Search by filter",
    "max_results": "Most results per search",
    "bulk": "Bulk operations",
    "etag": "Versioned writes (ETag)",
}


def connection_facts(result: dict) -> list[tuple[str, object]]:
    known = [(label, result[key]) for key, label in CONNECTION_FACTS.items() if key in result]
    others = [
        (key.replace("_", " ").capitalize(), value)
        for key, value in result.items()
        if key not in CONNECTION_FACTS and key not in ("ok", "application")
    ]
    return known + others


def application_page(key, result=None, **_):
    app = get_application(g.user, key)
    return render_template(
        "admin/application.html",
        app=app,
        settings=app.public_connector_settings(),
        facts=connection_facts(result) if result else None,
    )


@bp.route("/admin/applications/<key>")
@login_required
def admin_application(key):
    return application_page(key)


@bp.route("/admin/applications/<key>/test", methods=["POST"])
@login_required
@form_page(application_page)
def admin_test_connection(key):
    result = check_connection(g.user, key)
    return application_page(key, result=result)


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


@bp.route("/admin/audit")
@login_required
def admin_audit():
    filters = {name: request.args.get(name, "").strip() for name in ("event", "actor", "item", "q")}
    result = search_audit(
        g.user,
        event=filters["event"] or None,
        actor=filters["actor"] or None,
        item_id=filters["item"] or None,
        text=filters["q"] or None,
        page=_page_number(),
    )
    return render_template(
        "admin/audit.html", result=result, filters=filters, event_names=audit_event_names()
    )
