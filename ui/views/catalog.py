"""Browsing the catalog and filling the cart, for oneself or for several colleagues at once."""

import uuid
from datetime import date, timedelta

from flask import flash, g, redirect, render_template, request, url_for

from engine.access.renewal import renewal_of
from engine.requests import end_dates
from engine.requests.cart import list_cart, open_items_in_cart, remove_from_cart, submit_cart
from engine.requests.catalog import (
    LineEdit,
    add_for_beneficiaries,
    cart_line_accounts,
    default_account_mode,
    get_application,
    list_people,
    search_applications,
    update_cart,
)
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page
from ui.filters import person


def catalog_page(**_):
    query = request.args.get("q", "")
    return render_template("catalog.html", query=query, applications=search_applications(query))


def request_form_page(key, **_):
    app = get_application(key)
    latest = end_dates.latest_end(app)
    last = end_dates.last_day(latest) if latest else None
    today = date.today()
    return render_template(
        "request_form.html",
        app=app,
        people=list_people(),
        # For the requester, checked by default; for colleagues the server refuses a "create"
        # the app does not allow (they hold an account already), with the message to update.
        default_mode=default_account_mode(g.user, app),
        # A renewal link (or any link) may prefill the form: /catalog/wiki?beneficiary=...
        prefill=request.args if request.args.get("beneficiary") else None,
        durations=[
            (days, (today + timedelta(days=days)).isoformat())
            for days in end_dates.OFFERED_DAYS
            if last is None or today + timedelta(days=days) <= last
        ],
        first_day=(today + timedelta(days=1)).isoformat(),
        last_day=last.isoformat() if last else None,
    )


def _end_date_asked() -> str | None:
    """The form's end: the date picked, else the length chosen (days from today), else none."""
    picked = request.form.get("end_date", "").strip()
    if picked:
        return picked
    days = request.form.get("duration", "").strip()
    if days.isdigit():
        return (date.today() + timedelta(days=int(days))).isoformat()
    return None


def cart_page(**_):
    lines = list_cart(g.user)
    return render_template(
        "cart.html",
        lines=lines,
        line_accounts=cart_line_accounts(lines),
        blocked=open_items_in_cart(g.user),
        idempotency_key=str(uuid.uuid4()),
    )


def _cart_edits(skip: str | None = None) -> dict[str, LineEdit]:
    """The cart form's fields for each of its lines (but `skip`), so that whichever of its
    buttons is pressed, nothing typed into the cart is dropped."""
    return {
        line_id: LineEdit(
            account_mode=request.form.get(f"account_mode-{line_id}", ""),
            justification=request.form.get(f"justification-{line_id}"),
            role=request.form.get(f"role-{line_id}"),
            account_id=request.form.get(f"account_id-{line_id}"),
        )
        for line_id in request.form.getlist("line")
        if line_id != skip
    }


@bp.route("/catalog")
@login_required
def catalog():
    return catalog_page()


@bp.route("/catalog/<key>")
@login_required
def request_form(key):
    return request_form_page(key)


@bp.route("/catalog/<key>", methods=["POST"])
@login_required
@form_page(request_form_page)
def add_to_cart(key):
    with unit_of_work():
        lines = add_for_beneficiaries(
            g.user,
            get_application(key).key,
            request.form.getlist("beneficiary"),
            request.form.get("account_mode", "create"),
            request.form.get("justification"),
            request.form.get("role"),
            end_date=_end_date_asked(),
        )
    who = ", ".join(line.beneficiary.display_name or line.beneficiary.username for line in lines)
    flash(f"{lines[0].application.name} for {who} added to your cart.", "success")
    if _warn_about_open_requests(lines) or _ask_which_account(lines):
        return redirect(url_for("ui.cart"), code=303)
    return redirect(url_for("ui.catalog"), code=303)


def _warn_about_open_requests(lines) -> bool:
    """Say at once which of the new lines an open request already holds (a submit would be
    refused): True when there is one, and the cart, which links to it, should be shown."""
    blocked = open_items_in_cart(g.user)
    taken = [person(line.beneficiary) for line in lines if line.id in blocked]
    if not taken:
        return False
    has = "has" if len(taken) == 1 else "have"
    flash(
        f"{', '.join(taken)} already {has} an open request for {lines[0].application.name}: "
        "remove that line from your cart before you submit.",
        "warning",
    )
    return True


def _ask_which_account(lines) -> bool:
    """Lines whose person holds several accounts wait in the cart for the account to be
    chosen: True when there is one, and the cart, where it is chosen, should be shown."""
    several = cart_line_accounts([line for line in lines if line.account_mode != "create"])
    taken = [person(line.beneficiary) for line in lines if line.id in several]
    if not taken:
        return False
    flash(
        f"{', '.join(taken)} {'holds' if len(taken) == 1 else 'hold'} several accounts in "
        f"{lines[0].application.name}: choose which one in your cart before you submit.",
        "warning",
    )
    return True


@bp.route("/access/renew/<assignment_id>")
@login_required
def renew(assignment_id):
    """The link in an expiry reminder: the request form, prefilled to extend the access."""
    line = renewal_of(g.user, assignment_id)
    args = {k: v for k, v in line.items() if v is not None and k != "application"}
    args["justification"] = "renewal"
    return redirect(url_for("ui.request_form", key=line["application"], **args), code=303)


@bp.route("/cart")
@login_required
def cart():
    return cart_page()


@bp.route("/cart", methods=["POST"])
@login_required
@form_page(cart_page)
def save_cart():
    with unit_of_work():
        update_cart(g.user, _cart_edits())
    flash("Your changes to the cart are saved.", "success")
    return redirect(url_for("ui.cart"), code=303)


@bp.route("/cart/items/<line_id>/remove", methods=["POST"])
@login_required
@form_page(cart_page)
def remove_cart_item(line_id):
    with unit_of_work():
        update_cart(g.user, _cart_edits(skip=line_id))
        remove_from_cart(g.user, line_id)
    flash("Removed from your cart.", "success")
    return redirect(url_for("ui.cart"), code=303)


@bp.route("/cart/submit", methods=["POST"])
@login_required
@form_page(cart_page)
def submit():
    with unit_of_work():  # the edits and the submit commit together, or neither does
        update_cart(g.user, _cart_edits())
        request_ = submit_cart(g.user, request.form.get("idempotency_key") or None)
    count = len(request_.items)
    flash(f"Request submitted: {count} item{'s' if count != 1 else ''} on their way.", "success")
    return redirect(url_for("ui.request_detail", request_id=request_.id), code=303)
