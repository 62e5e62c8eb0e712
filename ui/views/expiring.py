"""Admins' "Expiring soon": time-bound access ending within a window, soonest first (CSV too)."""

import csv
import io

from flask import Response, g, render_template, request

from engine.access import expiring
from ui.blueprint import bp, login_required
from ui.views.people import _csv_safe

WINDOWS = (("P7D", "7 days"), ("P30D", "30 days"), ("P90D", "90 days"))
PER_PAGE = 50


def _window() -> str:
    chosen = request.args.get("within", expiring.DEFAULT_WINDOW)
    return chosen if chosen in dict(WINDOWS) else expiring.DEFAULT_WINDOW


@bp.route("/admin/expiring")
@login_required
def admin_expiring():
    within = _window()
    page = expiring.expiring_soon(
        g.user,
        expiring.window(within),
        limit=PER_PAGE,
        cursor=request.args.get("cursor") or None,
    )
    return render_template(
        "admin/expiring.html",
        rows=page.rows,
        next_cursor=page.next,
        within=within,
        windows=WINDOWS,
    )


@bp.route("/admin/expiring.csv")
@login_required
def admin_expiring_csv():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user", "application", "role", "source", "since", "ends_at"])
    for a in expiring.each_expiring(g.user, expiring.window(_window())):
        row = [a.user.username, a.application.key, a.role or "", a.source]
        writer.writerow([_csv_safe(v) for v in row] + [a.starts_at.isoformat(), a.ends_at])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=expiring.csv"},
    )
