"""Connectors provision accounts in connected applications: SCIM 2.0 and LDAP."""

from __future__ import annotations

from .base import Connector, ConnectorConfigError, ConnectorError, MissingAttribute

__all__ = [
    "Connector",
    "ConnectorConfigError",
    "ConnectorError",
    "MissingAttribute",
    "CONNECTOR_TYPES",
    "connector_for",
    "check_settings",
]

CONNECTOR_TYPES = ("scim", "ldap")


def connector_for(settings: dict) -> Connector:
    """Build the connector named by ``settings["type"]``.

    :raises ConnectorConfigError: unknown type or invalid settings.
    """
    if not isinstance(settings, dict):
        raise ConnectorConfigError("connector settings must be a dict")
    kind = settings.get("type")
    if kind == "scim":
        from .scim import ScimConnector

        return ScimConnector(settings)
    if kind == "ldap":
        from .ldap import LdapConnector

        return LdapConnector(settings)
    if not isinstance(kind, str):
        raise ConnectorConfigError("connector setting 'type' is required")
    raise ConnectorConfigError(
        f"unknown connector type {kind[:50]!r}; expected one of {list(CONNECTOR_TYPES)}"
    )


def check_settings(settings: dict) -> None:
    """Build (and close) the connector the settings describe, without calling the target.

    :raises ConnectorConfigError: unknown type or invalid settings, with a clear message.
    """
    connector_for(settings).close()
