"""What every SCIM resource carries: meta (created, lastModified, a version) and checked lengths."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from scim2_models import InvalidValueException


def iso(moment: datetime | None) -> str | None:
    """Our naive-UTC columns as RFC 3339."""
    return moment.replace(tzinfo=UTC).isoformat() if moment else None


def with_meta(data: dict, kind: str, created: datetime | None, modified: datetime | None) -> dict:
    """`data` with its meta; the version is a digest of the content, so it changes with it."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    data["meta"] = {
        "resourceType": kind,
        "created": iso(created),
        "lastModified": iso(modified or created),
        "version": f'W/"{digest[:20]}"',
    }
    return data


def bounded(attribute: str, value: Any, limit: int) -> str | None:
    """A string value fit for its column, or a SCIM invalidValue naming the attribute."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidValueException(detail=f"{attribute} must be a string")
    if len(value) > limit or "\x00" in value:
        raise InvalidValueException(
            detail=f"{attribute} must be at most {limit} characters, without NUL"
        )
    return value


def set_or_drop(data: dict, key: str, value: Any) -> None:
    if value is None or value == {} or value == []:
        data.pop(key, None)
    else:
        data[key] = value
