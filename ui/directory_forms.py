"""The directory forms' fields read into what `engine.directory.admin` takes: a person, an
application's main settings and its connector settings (the token write-only)."""

import math
import re

from werkzeug.datastructures import MultiDict

from connectors import CONNECTOR_TYPES, ConnectorConfigError, connector_for
from engine.errors import Invalid
from engine.models.directory import SECRET_SETTINGS

MASK = "********"
PERSON_TEXT = ("email", "display_name", "first_name", "last_name", "department", "title")
APP_TEXT = ("name", "description", "notification_email")
MATCHING_ATTRIBUTES = ("userName", "externalId", "emails")
# Retry settings a connected application reads from its connector settings
# (engine.provisioning.jobs.RetryPolicy): form field, how it is read, the smallest value.
RETRY_SETTINGS = {
    "max_attempts": (int, 1),
    "backoff_base_seconds": (float, 0),
    "backoff_max_seconds": (float, 0),
}
RETRY_WORDS = {
    "max_attempts": "Most attempts",
    "backoff_base_seconds": "First retry delay (seconds)",
    "backoff_max_seconds": "Longest retry delay (seconds)",
}


def _text(form: MultiDict, name: str) -> str:
    return (form.get(name) or "").strip()


def person_fields(form: MultiDict, creating: bool) -> dict:
    """A person's fields: a blank one clears the attribute when editing and is left out when
    creating; a blank password is never a change."""
    data: dict = {}
    if creating:
        data["username"] = _text(form, "username")
        manager = _text(form, "manager")
        if manager:
            data["manager"] = manager
    for name in PERSON_TEXT:
        if name not in form:
            continue
        value = _text(form, name)
        if value or not creating:
            data[name] = value or None
    password = form.get("password") or ""
    if password:
        if password != (form.get("password_again") or ""):
            raise Invalid("The two passwords differ: type the same one twice", field="password")
        data["password"] = password
    return data


def application_fields(form: MultiDict, creating: bool) -> dict:
    """An application's main settings; blank approver or fulfiller group means admins."""
    data: dict = {}
    if creating:
        data["key"] = _text(form, "key")
    for name in APP_TEXT:
        value = _text(form, name)
        if value:
            data[name] = value
        elif name in form and name != "name" and not creating:
            data[name] = None  # cleared; a blank name keeps the current one (or the key)
    for name in ("kind", "workflow"):
        if _text(form, name):
            data[name] = _text(form, name)
    for name in ("approver_group", "fulfiller_group"):
        if name in form:
            data[name] = _text(form, name) or None
    return data


def connector_fields(form: MultiDict, stored: dict | None) -> dict:
    """Connector settings from the form laid over the stored ones (as shown: secrets masked, so
    a masked or blank token keeps the stored one); keys the form has no field for are kept."""
    settings = dict(stored or {})
    if settings.get("type") not in (None, "scim"):  # the form has SCIM fields only
        raise Invalid(
            f"This form edits SCIM settings; change {settings['type']} connector settings through "
            "the API (PATCH /api/v1/admin/applications/KEY) or the directory file",
            field="connector_type",
        )
    kind = _text(form, "connector_type") or settings.get("type") or "scim"
    if kind not in CONNECTOR_TYPES:
        raise Invalid(
            f"the connector type must be one of {', '.join(CONNECTOR_TYPES)}",
            field="connector_type",
        )
    settings["type"] = kind
    settings["base_url"] = _text(form, "base_url")
    token = (form.get("token") or "").strip()
    for name in SECRET_SETTINGS:
        if name == "token" and token and token != MASK:
            settings[name] = token
        elif settings.get(name):
            settings[name] = MASK  # kept: engine.directory.admin merges the stored secret
    matching = _text(form, "matching_attribute")
    if matching:
        if matching not in MATCHING_ATTRIBUTES:
            raise Invalid(
                f"the matching attribute must be one of {', '.join(MATCHING_ATTRIBUTES)}",
                field="matching_attribute",
            )
        settings["matching_attribute"] = matching
    for name, (read, least) in RETRY_SETTINGS.items():
        text = _text(form, name)
        if not text:
            settings.pop(name, None)  # the default applies
            continue
        try:
            value = read(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < least:
            kind_words = "a whole number" if read is int else "a number"
            raise Invalid(
                f"{RETRY_WORDS[name]} must be {kind_words} of at least {least}", field=name
            )
        settings[name] = value
    _check(settings)
    return settings


def _check(settings: dict) -> None:
    """The connector's own checks, so a bad URL is refused here rather than at provisioning."""
    try:
        connector = connector_for(settings)
    except ConnectorConfigError as err:
        message = str(getattr(err, "message", err)).removeprefix("connector settings: ")
        quoted = re.search(r"'(\w+)'", message)
        field = quoted.group(1) if quoted else "connector"
        raise Invalid(f"Connector: {message}", field=field) from None
    close = getattr(connector, "close", None)
    if close:
        close()
