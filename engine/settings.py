"""Product-wide settings an admin changes at run time (stored, so every process agrees)."""

from engine.audit import trail
from engine.db import db
from engine.errors import Invalid
from engine.models import Setting

CHOICES = {"group_auto_provisioning": ("per_application", "all")}
DEFAULTS = {"group_auto_provisioning": "per_application"}


def get(key: str):
    row = db.session.get(Setting, key)
    return DEFAULTS.get(key) if row is None else row.value


def group_auto_provisioning() -> str:
    return get("group_auto_provisioning")


def current() -> dict:
    return {key: get(key) for key in DEFAULTS}


def change(key: str, value, actor_id: str | None = None) -> None:
    """Set one setting; an unknown key or value is refused, naming the choices."""
    if key not in CHOICES:
        raise Invalid(f"unknown setting {key!r}", field=key)
    if value not in CHOICES[key]:
        raise Invalid(f"{key} must be one of {', '.join(CHOICES[key])}", field=key)
    row = db.session.get(Setting, key)
    if row is None:
        row = Setting(key=key)
        db.session.add(row)
    if row.value == value:
        return
    before, row.value, row.updated_by_id = row.value, value, actor_id
    trail.record("setting_changed", actor_id, setting=key, before=before, after=value)
