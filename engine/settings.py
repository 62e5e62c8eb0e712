"""Product-wide settings an admin changes at run time (stored, so every process agrees)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from engine.audit import trail
from engine.db import db
from engine.errors import Conflict, Invalid
from engine.models import Setting

CHOICES = {"group_auto_provisioning": ("per_application", "all"), "local_passwords": ("on", "off")}
# Free-form settings, each checked by its own function (set in `check`).
DEFAULTS: dict = {
    "group_auto_provisioning": "per_application",
    "lanes": {},
    "local_passwords": "on",
}


# Within `cached()`: the values read so far (a batch reads each setting once, not per item).
_cache: ContextVar[dict | None] = ContextVar("settings_cache", default=None)


@contextmanager
def cached() -> Iterator[None]:
    """Read each setting once inside the block (a batch of thousands of items); a change made
    inside it is seen. Nested blocks share the outer cache."""
    if _cache.get() is not None:
        yield
        return
    token = _cache.set({})
    try:
        yield
    finally:
        _cache.reset(token)


def get(key: str):
    cache = _cache.get()
    if cache is not None and key in cache:
        return cache[key]
    row = db.session.get(Setting, key)
    value = DEFAULTS.get(key) if row is None else row.value
    if cache is not None:
        cache[key] = value
    return value


def group_auto_provisioning() -> str:
    return get("group_auto_provisioning")


def current() -> dict:
    return {key: get(key) for key in DEFAULTS}


def change(key: str, value, actor_id: str | None = None) -> None:
    """Set one setting; an unknown key or value is refused, naming the choices."""
    if key == "lanes":  # lane name -> group name, product-wide
        from engine.workflow.lanes import checked_mapping

        value = checked_mapping(value, "lanes") or {}
    elif key not in CHOICES:
        raise Invalid(f"unknown setting {key!r}", field=key)
    elif value not in CHOICES[key]:
        raise Invalid(f"{key} must be one of {', '.join(CHOICES[key])}", field=key)
    elif key == "local_passwords" and value == "off":
        _refuse_a_lockout()
    row = db.session.get(Setting, key)
    if row is None:
        row = Setting(key=key)
        db.session.add(row)
    if row.value == value:
        return
    before, row.value, row.updated_by_id = row.value, value, actor_id
    cache = _cache.get()
    if cache is not None:
        cache[key] = value
    trail.record("setting_changed", actor_id, setting=key, before=before, after=value)


def _refuse_a_lockout() -> None:
    """Local passwords go off only while single sign-on offers another way in."""
    from engine.directory.identity_providers import count_enabled

    if count_enabled() == 0:
        raise Conflict(
            "local passwords cannot be turned off while no identity provider is enabled: "
            "nobody, administrators included, could sign in",
            field="local_passwords",
        )
