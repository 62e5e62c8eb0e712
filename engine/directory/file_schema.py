"""The directory file's shape (docs/directory.md), checked strictly before any change.

Every field has a strict type (a string "false" is not a boolean), names and keys hold no control
characters and fit their columns, durations are ISO-8601 and capped, and names are unique within
the file. Fields planned but not built yet are type-checked and ignored.
"""

import unicodedata
from datetime import timedelta

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema
from marshmallow.validate import OneOf, Range

from engine import durations
from engine.errors import Invalid
from engine.sync import scoping

APP_KINDS = ("connected", "disconnected", "sso")
# What a sync does with an account nobody should hold: only report it, or disable it too.
ORPHAN_POLICIES = ("report", "disable")
# Longest approval_timeout accepted: a longer one is a typo, and an absurd one overflows dates.
MAX_APPROVAL_TIMEOUT_DAYS = 365
ENTRY_NAMES = {"users": "username", "groups": "name", "applications": "key"}
ENTRY_NAMES |= {"identity_providers": "key"}
# marshmallow's own messages, reworded to follow the field's name.
MESSAGES = {
    "Missing data for required field.": "is required",
    "Field may not be null.": "must not be null",
    "Unknown field.": "is not a field the directory file knows",
    "Invalid input type.": "must be an object",
    "Not a valid mapping type.": "must be an object",
    "Not a valid list.": "must be a list",
    "Not a valid string.": "must be a string",
}


class Text(fields.String):
    """A string of at most `length` characters (a column's), without NUL or control characters
    (`lines`: tabs and line breaks allowed; `name`: invisible format characters refused too)."""

    def __init__(self, length: int, lines: bool = False, name: bool = False, **kwargs):
        kwargs.setdefault("allow_none", not kwargs.get("required", False))
        super().__init__(**kwargs)
        # not `self.name`: marshmallow sets that to the field's key when the schema binds it
        self.length, self.lines, self.is_name = length, lines, name

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.is_name:
            text = text.strip()
            if not text:
                raise ValidationError("must not be empty")
        if len(text) > self.length:
            raise ValidationError(f"must be at most {self.length} characters")
        refused = {"Cc", "Cf"} if self.is_name else {"Cc"}
        allowed = "\t\n\r" if self.lines else ""
        if any(unicodedata.category(c) in refused and c not in allowed for c in text):
            raise ValidationError("must not contain control characters")
        return text


class Name(Text):
    """A username, group name or key: trimmed, non-empty, no invisible characters."""

    def __init__(self, length: int, **kwargs):
        super().__init__(length, name=True, **kwargs)


class Flag(fields.Field):
    """A JSON boolean and nothing else: "false", 0 and null are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class Duration(fields.String):
    """An ISO-8601 duration such as "P14D" or "PT12H", at most `max_days` long."""

    def __init__(self, max_days: int, **kwargs):
        super().__init__(allow_none=True, **kwargs)
        self.max_days = max_days

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            length = durations.parse(text)
        except ValueError:
            example = "such as P14D or PT12H"
            raise ValidationError(f"{text[:40]!r} is not an ISO-8601 duration {example}") from None
        except OverflowError:
            length = timedelta.max
        if length > timedelta(days=self.max_days):
            raise ValidationError(f"must be at most {self.max_days} days (P{self.max_days}D)")
        return text


def duration_of(text: str) -> timedelta | None:
    """The length of an ISO-8601 duration ("P90D", "P1Y", "PT12H"), a year counted as 365 days
    and a month as 31 (the longer reading: a limit is never shorter than it says); None when
    `text` is not one, or is longer than any date reaches."""
    try:
        return durations.parse(text)
    except (ValueError, OverflowError):
        return None


class Connector(fields.Dict):
    """Connector settings: an object with a `type`; the connector checks the rest when built."""

    def __init__(self, **kwargs):
        super().__init__(keys=Text(100), allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        settings = super()._deserialize(value, attr, data, **kwargs)
        if not isinstance(settings.get("type"), str) or not settings["type"].strip():
            raise ValidationError("must have a type")
        for name, setting in settings.items():
            if isinstance(setting, str) and "\x00" in setting:
                raise ValidationError(f"{name} must not contain NUL characters")
        return settings


class UserEntry(Schema):
    username = Name(150, required=True)
    email = Text(320)
    display_name = Text(200)
    first_name = Text(100)
    last_name = Text(100)
    manager = Name(150)
    password = Text(1024, lines=True)
    active = Flag()
    department = Text(200)  # not stored yet
    title = Text(200)  # not stored yet


class GroupGrant(Schema):
    class Meta:
        unknown = EXCLUDE

    application = Name(100, required=True)
    role = Name(100)


class GroupEntry(Schema):
    name = Name(150, required=True)
    members = fields.List(Name(150, required=True))
    applications = fields.List(fields.Nested(GroupGrant))  # not built yet


class Role(Schema):
    class Meta:
        unknown = EXCLUDE

    key = Name(100, required=True)
    name = Text(200)
    description = Text(2000)


class Question(Schema):
    class Meta:
        unknown = EXCLUDE

    key = Name(100, required=True)
    label = Text(500)
    type = Name(40)
    choices = fields.List(Text(200, required=True))
    required = Flag()


class DeletionThreshold(Schema):
    class Meta:
        unknown = EXCLUDE

    count = fields.Integer(strict=True, validate=Range(0, 1_000_000))
    percent = fields.Float(validate=Range(0, 100))


class ScopingFilter(fields.String):
    """Attribute rules such as `department eq "Sales"` (engine.sync.scoping), checked now."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            scoping.parse(text)
        except Invalid as err:
            raise ValidationError(err.detail) from err
        return text.strip() or None


class ApplicationEntry(Schema):
    key = Name(100, required=True)
    name = Text(200)
    description = Text(10_000, lines=True)
    kind = fields.String(validate=OneOf(APP_KINDS, error=f"must be one of {', '.join(APP_KINDS)}"))
    approver_group = Name(150)
    fulfiller_group = Name(150)
    workflow = Name(100)
    connector = Connector()
    notification_email = Text(320)
    approval_timeout = Duration(MAX_APPROVAL_TIMEOUT_DAYS)
    enabled = Flag()
    group_auto_provisioning = Flag()
    allow_multiple_accounts = Flag()
    owner = Name(150)
    lanes = fields.Dict(keys=Name(100), values=Name(150, required=True))
    roles = fields.List(fields.Nested(Role))
    questions = fields.List(fields.Nested(Question))
    reminder_before = Duration(365)
    escalate_after = Duration(365)
    escalation_group = Name(150)
    max_duration = Duration(3650)
    require_end_date = Flag()
    sync_interval = Duration(365)
    provisioning_enabled = Flag()
    orphan_policy = fields.String(
        validate=OneOf(ORPHAN_POLICIES, error=f"must be one of {', '.join(ORPHAN_POLICIES)}")
    )
    deletion_threshold = fields.Nested(DeletionThreshold)
    scoping_filter = ScopingFilter()

    @validates_schema
    def _connected_needs_a_connector(self, entry, **_kwargs):
        if entry.get("kind") == "connected" and not entry.get("connector"):
            raise ValidationError("a connected application needs connector settings", "connector")


class Settings(Schema):
    class Meta:
        unknown = EXCLUDE

    group_auto_provisioning = fields.String(
        validate=OneOf(("all", "per_application"), error="must be all or per_application")
    )
    lanes = fields.Dict(keys=Name(100), values=Name(150, required=True))
    local_passwords = fields.String(validate=OneOf(("on", "off"), error="must be on or off"))


class IdentityProviderEntry(Schema):
    """An OpenID Connect provider for single sign-on (docs/sso.md)."""

    key = Name(50, required=True)
    name = Text(100, name=True, required=True)
    issuer = Text(500, required=True)
    client_id = Text(300, required=True)
    client_secret = Text(2000)
    scopes = Text(500)
    username_claim = Text(100)
    group_claim = Text(100)
    enabled = Flag()


class SodRuleEntry(Schema):
    name = Text(200, required=True)
    applications = fields.List(Name(100, required=True), required=True)


class DirectoryFile(Schema):
    settings = fields.Nested(Settings)
    sod_rules = fields.List(fields.Nested(SodRuleEntry))
    identity_providers = fields.List(fields.Nested(IdentityProviderEntry))
    users = fields.List(fields.Nested(UserEntry))
    groups = fields.List(fields.Nested(GroupEntry))
    applications = fields.List(fields.Nested(ApplicationEntry))

    @validates_schema
    def _unique_within_the_file(self, data, **_kwargs):
        errors: dict[str, dict] = {}
        for section, name_field in ENTRY_NAMES.items():
            first_seen: dict[str, int] = {}
            for index, entry in enumerate(data.get(section, [])):
                name = entry[name_field]
                if name in first_seen:
                    problem = f"is also the {name_field} of {section}[{first_seen[name]}]"
                    errors.setdefault(section, {})[index] = {name_field: [problem]}
                first_seen.setdefault(name, index)
        for index, entry in enumerate(data.get("users", [])):
            if entry.get("manager") == entry["username"]:
                errors.setdefault("users", {})[index] = {
                    "manager": ["cannot be the user themselves: a user cannot manage themselves"]
                }
        if errors:
            raise ValidationError(errors)


def load(raw) -> dict:
    """The checked file; Invalid naming each refused entry (the first few) otherwise."""
    if not isinstance(raw, dict):
        raise Invalid("the directory file must be a JSON object with users, groups, applications")
    try:
        return DirectoryFile().load(raw)
    except ValidationError as err:
        problems = list(_problems(err.messages, raw))
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise Invalid(f"{shown}{more}") from err


def _problems(messages, raw, path=()):
    for key, value in messages.items():
        if isinstance(value, dict):
            yield from _problems(value, raw, (*path, key))
            continue
        for message in value if isinstance(value, list) else [value]:
            yield _describe((*path, key), MESSAGES.get(message) or message, raw)


def _describe(path: tuple, message: str, raw: dict) -> str:
    section, rest = path[0], list(path[1:])
    where = str(section)
    if rest and isinstance(rest[0], int):
        index = rest.pop(0)
        where = f"{section}[{index}]{_label(raw, section, index)}"
    field = ""
    for part in rest:
        if part == "_schema":
            continue
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return f"{where}: {field} {message}" if field else f"{where}: {message}"


def _label(raw: dict, section: str, index: int) -> str:
    """` (carol)`: the entry's name as written, escaped when it is not printable."""
    entries = raw.get(section)
    entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
    name = entry.get(ENTRY_NAMES.get(section, "")) if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name.strip():
        return ""
    shown = name.strip()[:60]
    return f" ({shown if shown.isprintable() else repr(shown)})"
