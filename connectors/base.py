"""The connector interface, error types and HTTP plumbing shared by connectors.

A connector provisions accounts for directory users in one target application.
Every failure is raised as a :class:`ConnectorError` whose ``retryable`` flag tells
the engine whether trying again later can help (target down, throttled) or not
(bad settings, invalid data, missing account).
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)
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

    def find_accounts(self, users: list[dict]) -> list[dict | None]:
        """Look several users up at once; the answer for each is what find_account gives."""
        return [self.find_account(user) for user in users]

    @abstractmethod
    def create_account(self, user: dict, *, looked_up: bool = False) -> dict:
        """Create the account, or link the existing one (``"linked": True``).

        ``looked_up``: the caller has just looked the user up and found no account, so the
        lookup before the create is skipped (a 409 still finds and links the account)."""

    @abstractmethod
    def update_account(self, external_id: str, user: dict) -> dict:
        """Update the mapped attributes of an account."""

    @abstractmethod
    def disable_account(self, external_id: str) -> dict:
        """Deactivate an account (active=false)."""

    def enable_account(self, external_id: str) -> dict:
        """Reactivate an account (active=true); connectors that can, override this."""
        raise ConnectorError(f"{type(self).__name__} cannot enable an account", retryable=False)

    @abstractmethod
    def delete_account(self, external_id: str) -> None:
        """Remove an account (or only disable it, when the target must keep it)."""

    @abstractmethod
    def list_accounts(self) -> list[dict]:
        """Return every account of the target, following the pagination."""

    # The directory field the matching attribute carries ("username", "email", "id"): sync
    # matches a target account to a person by it.
    matching_field = "username"
    # Directory fields a person must have before an account is made or updated for them.
    required_attributes: tuple[str, ...] = ()

    def iter_accounts(self, page_size: int | None = None) -> Iterator[dict]:
        """Yield every account of the target, one page at a time (memory stays flat).

        Each account carries ``external_id``, ``user_name``, ``active`` and ``attributes``:
        the account seen as directory fields (``username``, ``email``, ``first_name``,
        ``last_name``, ``display_name``, ...) mapped back through the attribute map, so that
        drift can be compared with the directory user. This default reads ``list_accounts``
        at once; connectors that page stream it."""
        yield from self.list_accounts()

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the resources held by the connector (connections, sessions)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_setting(ok: bool, message: str) -> None:
    """Raise ConnectorConfigError(message) unless ok."""
    if not ok:
        raise ConnectorConfigError(f"connector settings: {message}")


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header on each request; its repr never shows the token."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth token=***>"


class HttpConnector(Connector):
    """Plumbing for connectors speaking HTTP(S) with an optional bearer token.

    Settings: ``base_url`` (required, http/https, no credentials in it), ``token``
    (optional) and ``timeout`` (seconds, default 10). The token is kept in a
    :class:`Secret`, only revealed by the auth hook; error messages are redacted;
    redirects are not followed (the token must never go to another host).
    """

    label = "HTTP"  # prefix of error messages

    def __init__(self, settings: dict, session=None, headers: dict | None = None) -> None:
        check_setting(isinstance(settings, dict), "must be a dict")
        base_url = settings.get("base_url")
        check_setting(
            isinstance(base_url, str) and bool(base_url.strip()), "'base_url' is required"
        )
        parts = urlsplit(base_url.strip())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        check_setting(ok, "'base_url' must be an http(s) URL")
        ok = not (parts.username or parts.password)
        check_setting(ok, "'base_url' must not embed credentials; use 'token'")
        self.base_url = base_url.strip().rstrip("/")
        token = settings.get("token")
        ok = token is None or (isinstance(token, str) and bool(token.strip()))
        check_setting(ok, "'token' must be a non-empty string")
        self._token = Secret(token.strip()) if token else None
        self.timeout = self.positive_setting(settings, "timeout", 10.0)
        self._session = session or requests.Session()
        self._session.headers.update(headers or {})
        if self._token:
            self._session.auth = _BearerAuth(self._token)

    @staticmethod
    def positive_setting(settings: dict, key: str, default: float) -> float:
        value = settings.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        check_setting(ok, f"{key!r} must be a positive number")
        return float(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, token={self._token!r})"

    def close(self) -> None:
        self._session.close()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send a request; raise a classified, redacted ConnectorError unless 2xx."""
        what = f"{self.label} {method} {path}"
        try:
            response = self._session.request(
                method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(redact(f"{what}: TLS error: {exc}", self._token)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            message = redact(f"{what}: {kind} ({type(exc).__name__}: {exc})", self._token)
            raise ConnectorError(message, retryable=True) from None
        except requests.RequestException as exc:
            message = redact(f"{what}: request failed ({type(exc).__name__}: {exc})", self._token)
            raise ConnectorError(message) from None
        log.debug("%s -> %s", what, response.status_code)
        status = response.status_code
        if status < 300:
            return response
        message = f"{what} failed: HTTP {status} {response.reason or ''}".rstrip()
        message += self.describe_error(self.json_object(response) or {})
        if status < 400:
            message += " (redirects are not followed: check base_url)"
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ConnectorError(
            redact(message, self._token),
            retryable=retryable_status(status),
            status=status,
            retry_after=retry_after,
        )

    def describe_error(self, body: dict) -> str:
        """Details of an error answer worth putting in the message (SCIM-style by default)."""
        text = f" [scimType={body['scimType']}]" if body.get("scimType") else ""
        detail = body.get("detail") or body.get("message")
        return text + (f": {str(detail)[:500]}" if detail else "")

    @staticmethod
    def json_object(response: requests.Response) -> dict | None:
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def request_json(self, method: str, path: str, **kwargs) -> dict:
        """Send a request whose answer must be a JSON object."""
        body = self.json_object(self.request(method, path, **kwargs))
        if body is None:
            raise ConnectorError(f"{self.label} {method} {path}: answer is not a JSON object")
        return body
