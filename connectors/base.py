"""The connector interface shared by every kind of connected application.

A connector provisions accounts for directory users in one target application.
Every failure is raised as a :class:`ConnectorError` whose ``retryable`` flag tells
the engine whether trying again later can help (target down, throttled) or not
(bad settings, invalid data, missing account).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")


class ConnectorError(Exception):
    """A connector operation failed.

    :ivar retryable: whether the same call may succeed later.
    :ivar status: the HTTP status of the target's answer, if there was one.
    :ivar retry_after: seconds the target asked us to wait (Retry-After), if any.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = self.default_retryable if retryable is None else bool(retryable)
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, retryable={self.retryable}, "
            f"status={self.status}, retry_after={self.retry_after})"
        )


class ConnectorConfigError(ConnectorError):
    """The connector settings are missing or invalid. Never retryable."""

    def __init__(self, message: str, **kwargs) -> None:
        kwargs["retryable"] = False
        super().__init__(message, **kwargs)


class MissingAttribute(ConnectorError):
    """A mandatory attribute has no value for this user. Never retryable.

    :ivar attribute: the name of the target attribute that is missing.
    """

    def __init__(self, attribute: str, message: str | None = None) -> None:
        self.attribute = attribute
        super().__init__(message or f"missing mandatory attribute {attribute!r}", retryable=False)


class Secret:
    """Holds a credential; repr/str (so vars() dumps, error reporters) show ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def redact(text: str, secret: Secret | None) -> str:
    """Remove a secret, and anything shaped like a bearer token, from a text."""
    if secret is not None:
        text = text.replace(secret.reveal(), "***")
    return _BEARER_RE.sub(r"\1***", text)


def retryable_status(status: int) -> bool:
    """Whether an HTTP error status is worth retrying (throttled, timed out, server side)."""
    return status in (408, 429) or (status >= 500 and status != 501)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date form)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


class Connector(ABC):
    """Provision accounts in one connected application.

    Account dicts returned by the methods carry at least::

        {"external_id": <id in the target>, "user_name": str, "active": bool, "linked": bool}

    ``user`` dicts are directory users with the keys ``username``, ``email``,
    ``display_name``, ``first_name``, ``last_name`` and ``id`` (our user UUID).
    """

    @abstractmethod
    def test_connection(self) -> dict:
        """Check that the target answers and accepts our credentials; return a summary."""

    @abstractmethod
    def find_account(self, user: dict) -> dict | None:
        """Return the account matching ``user`` by the configured attribute, or None."""

    @abstractmethod
    def create_account(self, user: dict) -> dict:
        """Create the account, or link the existing one (``"linked": True``)."""

    @abstractmethod
    def update_account(self, external_id: str, user: dict) -> dict:
        """Update the mapped attributes of an account."""

    @abstractmethod
    def disable_account(self, external_id: str) -> dict:
        """Deactivate an account (active=false)."""

    @abstractmethod
    def delete_account(self, external_id: str) -> None:
        """Remove an account (or only disable it, when the target must keep it)."""

    @abstractmethod
    def list_accounts(self) -> list[dict]:
        """Return every account of the target, following the pagination."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the resources held by the connector (connections, sessions)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
