"""Browsing the catalog and filling the cart, for oneself or for several colleagues at once."""

import uuid

from flask import flash, g, redirect, render_template, request, url_for

from engine.requests.cart import list_cart, remove_from_cart, submit_cart
from engine.requests.catalog import (
    add_for_beneficiaries,
    get_application,
    list_people,
    search_applications,
    update_cart_line,
)
from engine.unit_of_work import unit_of_work
from ui.blueprint import bp, login_required
from ui.errors import form_page


def catalog_page(**_):
    query = request.args.get("q", "")
    return render_template("catalog.html", query=query, applications=search_applications(query))


def request_form_page(key, **_):
    return render_template("request_form.html", app=get_application(key), people=list_people())


def cart_page(**_):
    return render_template("cart.html", lines=list_cart(g.user), idempotency_key=str(uuid.uuid4()))


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
        )
    who = ", ".join(line.beneficiary.display_name or line.beneficiary.username for line in lines)
    flash(f"{lines[0].application.name} for {who} added to your cart.", "success")
    return redirect(url_for("ui.catalog"), code=303)


@bp.route("/cart")
@login_required
def cart():
    return cart_page()


@bp.route("/cart/items/<line_id>", methods=["POST"])
@login_required
@form_page(cart_page)
def update_cart_item(line_id):
    with unit_of_work():
        line = update_cart_line(
            g.user, line_id, request.form.get("account_mode", ""), request.form.get("justification")
        )
    flash(f"Saved {line.application.name} for {line.beneficiary.username}.", "success")
    return redirect(url_for("ui.cart"), code=303)


@bp.route("/cart/items/<line_id>/remove", methods=["POST"])
@login_required
@form_page(cart_page)
def remove_cart_item(line_id):
    with unit_of_work():
        remove_from_cart(g.user, line_id)
    flash("Removed from your cart.", "success")
    return redirect(url_for("ui.cart"), code=303)


@bp.route("/cart/submit", methods=["POST"])
@login_required
@form_page(cart_page)
def submit():
    with unit_of_work():
        request_ = submit_cart(g.user, request.form.get("idempotency_key") or None)
    count = len(request_.items)
    flash(f"Request submitted: {count} item{'s' if count != 1 else ''} on their way.", "success")
    return redirect(url_for("ui.request_detail", request_id=request_.id), code=303)
