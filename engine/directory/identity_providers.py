"""OpenID Connect providers an administrator configures for single sign-on.

The client secret is write-only: sealed at rest (engine/encryption), shown as ******** and
never written to the audit trail; only the sign-in flow reveals it, to call the provider."""

import re
from urllib.parse import urlsplit

from sqlalchemy import func, select

from engine import encryption, settings
from engine.audit import trail
from engine.db import db, utcnow
from engine.directory.authentication import require_admin
from engine.errors import Conflict, Invalid, NotFound
from engine.models import IdentityProvider, User

MASK = "********"
KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
FIELDS: tuple[str, ...] = ("name", "issuer", "client_id", "client_secret", "scopes")
FIELDS += ("username_claim", "group_claim", "enabled")
DEFAULTS = {"scopes": "openid profile email", "username_claim": "preferred_username"}


def list_providers(actor: User) -> list[IdentityProvider]:
    require_admin(actor, "see identity providers")
    return list(db.session.scalars(select(IdentityProvider).order_by(IdentityProvider.key)))


def enabled_providers() -> list[IdentityProvider]:
    """The providers the login page offers, by name."""
    query = select(IdentityProvider).where(IdentityProvider.enabled.is_(True))
    return list(db.session.scalars(query.order_by(IdentityProvider.name)))


def provider(key: str) -> IdentityProvider:
    """The provider named by `key` (NotFound when there is none)."""
    found = db.session.scalar(select(IdentityProvider).where(IdentityProvider.key == key))
    if found is None:
        raise NotFound(f"no identity provider {key!r}")
    return found


def client_secret_of(found: IdentityProvider) -> str | None:
    """The plaintext client secret, for calling the provider's token endpoint and nothing else."""
    sealed = {"client_secret": found.client_secret}
    return encryption.reveal(sealed, f"identity provider {found.key}")["client_secret"]


def add_provider(actor: User, data: dict) -> IdentityProvider:
    require_admin(actor, "configure identity providers")
    return _create(data, actor.id)


def change_provider(actor: User, key: str, data: dict) -> IdentityProvider:
    """Edit a provider; a secret sent as ******** (or left out) keeps the stored one."""
    require_admin(actor, "configure identity providers")
    return _change(provider(key), data, actor.id)


def put_providers(entries: list[dict]) -> int:
    """The directory file's providers, created or changed by key (no null overwrites a value)."""
    for index, entry in enumerate(entries):
        entry = {name: value for name, value in entry.items() if value is not None}
        found = db.session.scalar(
            select(IdentityProvider).where(IdentityProvider.key == entry["key"])
        )
        try:
            if found is None:
                _create(entry, None)
            else:
                _change(found, entry, None)
        except Invalid as err:
            where = f"identity_providers[{index}] ({entry['key']})"
            raise Invalid(f"{where}: {err.detail}", **err.extra) from err
    return len(entries)


def _create(data: dict, actor_id: str | None) -> IdentityProvider:
    key = (data.get("key") or "").strip()
    if not KEY.match(key):
        raise Invalid("key: lower-case letters, digits and dashes, at most 50", field="key")
    if db.session.scalar(select(IdentityProvider).where(IdentityProvider.key == key)):
        raise Conflict(f"identity provider {key!r} already exists", field="key")
    values = {**DEFAULTS, **{name: data[name] for name in FIELDS if name in data}}
    _check(values)
    row = IdentityProvider(key=key, created_by_id=actor_id, **values)
    row.client_secret = _sealed(values.get("client_secret"))
    db.session.add(row)
    db.session.flush()
    trail.record("identity_provider_added", actor_id, provider=key, issuer=row.issuer)
    return row


def _change(row: IdentityProvider, data: dict, actor_id: str | None) -> IdentityProvider:
    if data.get("client_secret") in (MASK, None, ""):
        data = {name: value for name, value in data.items() if name != "client_secret"}
    current = {name: getattr(row, name) for name in FIELDS}
    wanted = {**current, **{name: data[name] for name in FIELDS if name in data}}
    _check(wanted)
    changed = sorted(name for name in FIELDS if name in data and data[name] != current[name])
    if not changed:
        return row
    if "enabled" in changed and not wanted["enabled"]:
        _keep_a_way_in(row)
    for name in changed:
        value = wanted[name]
        setattr(row, name, _sealed(value) if name == "client_secret" else value)
    row.updated_at = utcnow()
    trail.record("identity_provider_changed", actor_id, provider=row.key, fields=changed)
    return row


def remove_provider(actor: User, key: str, reason: str | None = None) -> None:
    require_admin(actor, "configure identity providers")
    row = provider(key)
    if row.enabled:
        _keep_a_way_in(row)
    db.session.delete(row)
    trail.record("identity_provider_removed", actor.id, provider=key, comment=reason)


def masked(row: IdentityProvider) -> dict:
    """The provider as the API shows it: the secret as ******** when one is stored."""
    shown = {name: getattr(row, name) for name in FIELDS}
    shown.update(key=row.key, client_secret=MASK if row.client_secret else None)
    shown.update(created_at=row.created_at, updated_at=row.updated_at)
    return shown


def count_enabled() -> int:
    query = select(func.count()).select_from(IdentityProvider)
    return db.session.scalar(query.where(IdentityProvider.enabled.is_(True))) or 0


def _keep_a_way_in(row: IdentityProvider) -> None:
    """Refuse to take away the last provider while local passwords are off: nobody could sign in."""
    if settings.get("local_passwords") == "off" and count_enabled() <= 1:
        raise Conflict(
            f"identity provider {row.key!r} is the only way to sign in while local passwords are "
            "off: turn local passwords on first, or add another provider"
        )


def _sealed(secret: str | None) -> str | None:
    if not secret:
        return None
    return (encryption.seal({"client_secret": secret}) or {})["client_secret"]


def _check(values: dict) -> None:
    for name in ("name", "issuer", "client_id", "scopes", "username_claim"):
        if not str(values.get(name) or "").strip():
            raise Invalid(f"{name} is required", field=name)
    issuer = urlsplit(values["issuer"])
    if issuer.scheme not in ("https", "http") or not issuer.netloc or issuer.query:
        raise Invalid("issuer: an https URL (discovery is read below it)", field="issuer")
    if "openid" not in str(values["scopes"]).split():
        raise Invalid("scopes must include openid", field="scopes")
