"""Connectors provision accounts in connected applications (SCIM 2.0 first)."""

from __future__ import annotations

from .base import Connector, ConnectorConfigError, ConnectorError, MissingAttribute

__all__ = [
    "Connector",
    "ConnectorConfigError",
    "ConnectorError",
    "MissingAttribute",
    "CONNECTOR_TYPES",
    "connector_for",
]

CONNECTOR_TYPES = ("scim",)


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
    if not isinstance(kind, str):
        raise ConnectorConfigError("connector setting 'type' is required")
    raise ConnectorConfigError(
        f"unknown connector type {kind[:50]!r}; expected one of {list(CONNECTOR_TYPES)}"
    )
