"""Connector settings are checked when an application is configured (admin API, admin pages,
directory import), so a bad URL or DN is refused there rather than at provisioning time."""

from connectors import ConnectorConfigError, check_settings
from engine.errors import Invalid


def check_connector(settings: dict | None, where: str = "connector") -> None:
    """Raise Invalid (field `connector`) with the connector's own message for bad settings.

    `settings` are in clear (as given, or merged with the stored secrets); nothing is called."""
    if settings is None:
        return
    try:
        check_settings(settings)
    except ConnectorConfigError as err:
        message = err.message.removeprefix("connector settings: ")
        raise Invalid(f"{where}: {message}", field="connector") from None
