"""An application's sync settings, as stored on it, with their defaults."""

from dataclasses import dataclass
from datetime import timedelta

from engine import durations
from engine.directory.file_schema import ORPHAN_POLICIES
from engine.models import Application
from engine.sync import scoping

DEFAULT_INTERVAL = "PT40M"
__all__ = ["ORPHAN_POLICIES", "SyncPolicy", "parse_duration", "public"]
# A run that would disable more accounts than this (or this share of those read) waits.
DEFAULT_THRESHOLD = {"count": 20, "percent": 10}
# The share rule applies from this many disables on: one leaver in a small app is no accident.
PERCENT_RULE_FLOOR = 5


def parse_duration(text: str) -> timedelta:
    """An ISO-8601 duration (checked by the directory schema before it is stored); a year
    counts 365 days and a month 31, as the schema's limit does."""
    try:
        return durations.parse(text or "")
    except (ValueError, OverflowError):
        return durations.parse(DEFAULT_INTERVAL)


@dataclass(frozen=True)
class SyncPolicy:
    interval: timedelta
    provisioning_enabled: bool
    orphan_policy: str
    threshold_count: int
    threshold_percent: float
    scoping_filter: str | None

    @classmethod
    def of(cls, app: Application) -> "SyncPolicy":
        stored = app.sync_settings or {}
        threshold = {**DEFAULT_THRESHOLD, **(stored.get("deletion_threshold") or {})}
        return cls(
            interval=parse_duration(app.sync_interval or DEFAULT_INTERVAL),
            provisioning_enabled=stored.get("provisioning_enabled", True) is not False,
            orphan_policy=stored.get("orphan_policy") or "report",
            threshold_count=int(threshold["count"]),
            threshold_percent=float(threshold["percent"]),
            scoping_filter=stored.get("scoping_filter"),
        )

    def in_scope(self):
        """The scoping filter as a test of a directory entry (None: everyone is in scope)."""
        return scoping.parse(self.scoping_filter)

    def stops(self, disables: int, read: int) -> bool:
        """Whether disabling (or deleting) `disables` of `read` accounts needs an admin's yes."""
        if disables > self.threshold_count:
            return True
        share = 100.0 * disables / read if read else 0.0
        return disables >= PERCENT_RULE_FLOOR and share > self.threshold_percent


def public(app: Application) -> dict:
    """The settings as the API and the admin page show them (defaults filled in)."""
    stored = app.sync_settings or {}
    return {
        "sync_interval": app.sync_interval or DEFAULT_INTERVAL,
        "provisioning_enabled": stored.get("provisioning_enabled", True) is not False,
        "orphan_policy": stored.get("orphan_policy") or "report",
        "deletion_threshold": {**DEFAULT_THRESHOLD, **(stored.get("deletion_threshold") or {})},
        "scoping_filter": stored.get("scoping_filter"),
    }


SETTING_KEYS = ("provisioning_enabled", "orphan_policy", "deletion_threshold", "scoping_filter")


def apply(app: Application, entry: dict, replace: bool = False) -> set[str]:
    """Store the sync settings a checked directory entry (or admin edit) gives; `replace`: the
    entry is the whole truth (an import), so a setting it leaves out goes back to its default.
    Returns the names of the settings that changed."""
    changed = set()
    if "sync_interval" in entry or replace:
        interval = entry.get("sync_interval")
        if interval != app.sync_interval:
            app.sync_interval = interval
            app.next_sync_at = None  # the new interval counts from the next run
            changed.add("sync_interval")
    stored = {} if replace else dict(app.sync_settings or {})
    for key in SETTING_KEYS:
        if key in entry:
            value = entry[key]
            stored[key] = dict(value) if isinstance(value, dict) else value
    stored = {k: v for k, v in stored.items() if v is not None}
    if stored != (app.sync_settings or {}):
        changed |= {k for k in SETTING_KEYS if stored.get(k) != (app.sync_settings or {}).get(k)}
        app.sync_settings = stored or None
    return changed
