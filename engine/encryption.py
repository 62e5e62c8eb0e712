"""Connector secrets at rest: Fernet-encrypted in the database, revealed only to build a connector.

Keys come from ACCESSFLOW_ENCRYPTION_KEY (comma-separated, newest first: any of them decrypts,
the first encrypts) or, when unset, from a key generated once into the instance folder. A sealed
value carries a prefix, so a legacy plaintext value is still recognised and read.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from engine.errors import Invalid

# Setting names whose values are secrets: encrypted at rest, masked for display, scrubbed from logs.
SECRET_SETTINGS = frozenset({"token", "password", "bind_password", "client_secret", "api_key"})
PREFIX = "fernet:"
_keyring: MultiFernet | None = None


def use_keys(keys: str) -> None:
    """Install the keyring from a comma-separated list of Fernet keys, newest first."""
    global _keyring
    parts = [part.strip() for part in (keys or "").split(",") if part.strip()]
    if not parts:
        raise Invalid("ACCESSFLOW_ENCRYPTION_KEY holds no key")
    fernets = []
    for position, part in enumerate(parts, start=1):
        try:
            fernets.append(Fernet(part))
        except ValueError as err:
            raise Invalid(
                f"ACCESSFLOW_ENCRYPTION_KEY: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from err
    _keyring = MultiFernet(fernets)


def new_key() -> str:
    return Fernet.generate_key().decode()


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(settings: dict | None) -> dict | None:
    """The settings with every plaintext secret encrypted with the newest key."""
    if not isinstance(settings, dict):
        return settings
    return {
        name: _encrypt(value) if _is_plain_secret(name, value) else value
        for name, value in settings.items()
    }


def reveal(settings: dict | None, application: str) -> dict:
    """The settings with their secrets decrypted, for building a connector and nothing else."""
    return {
        name: _decrypt(value, name, application) if is_sealed(value) else value
        for name, value in (settings or {}).items()
    }


def reseal(settings: dict | None, application: str) -> dict | None:
    """The settings with every secret encrypted with the newest key (key rotation)."""
    if not isinstance(settings, dict):
        return settings
    resealed = {}
    for name, value in settings.items():
        if is_sealed(value):
            try:
                value = PREFIX + _ring().rotate(value[len(PREFIX) :].encode()).decode()
            except InvalidToken as err:
                raise _unreadable(name, application) from err
        elif _is_plain_secret(name, value):
            value = _encrypt(value)
        resealed[name] = value
    return resealed


def has_plaintext(settings: dict | None) -> bool:
    return isinstance(settings, dict) and any(
        _is_plain_secret(name, value) for name, value in settings.items()
    )


def _is_plain_secret(name: str, value) -> bool:
    secret = name in SECRET_SETTINGS and isinstance(value, str) and bool(value)
    return secret and not is_sealed(value)


def _ring() -> MultiFernet:
    if _keyring is None:
        raise Invalid("no encryption key is configured (ACCESSFLOW_ENCRYPTION_KEY)")
    return _keyring


def _encrypt(value: str) -> str:
    return PREFIX + _ring().encrypt(value.encode()).decode()


def _decrypt(value: str, name: str, application: str) -> str:
    try:
        return _ring().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken as err:
        raise _unreadable(name, application) from err


def _unreadable(name: str, application: str) -> Invalid:
    return Invalid(
        f"application {application}: its connector secret {name!r} cannot be decrypted with "
        "any configured key; set ACCESSFLOW_ENCRYPTION_KEY to include the key it was stored with"
    )
