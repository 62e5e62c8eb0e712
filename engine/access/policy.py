"""Which process an item runs, and whether a connector or a person does the work."""

from engine import settings
from engine.models import Application

DEFAULT_WORKFLOWS = {"grant": "grant", "update": "grant", "remove": "removal"}


def workflow_for(app: Application, origin: str, kind: str) -> str:
    """The process key an item of this origin and kind runs (cart items: the app's workflow);
    `workflows` on the application may name one per "origin:kind" or per origin."""
    if origin == "cart":
        return app.workflow_key
    chosen = app.workflows or {}
    return chosen.get(f"{origin}:{kind}") or chosen.get(origin) or DEFAULT_WORKFLOWS[kind]


def auto_provision(app: Application, origin: str) -> bool:
    """Whether a connector creates the account: always, except for group grants, which follow
    the product-wide setting or the application's own toggle."""
    if origin != "group":
        return True
    return settings.group_auto_provisioning() == "all" or bool(app.group_auto_provisioning)
