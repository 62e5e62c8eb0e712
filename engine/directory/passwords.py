"""Local passwords: hashing them with Argon2 and checking them."""

import logging
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from engine.models import User

log = logging.getLogger(__name__)

# Argon2's strong defaults; ACCESSFLOW_PASSWORD_HASH=fast (the test suite sets it) picks the
# cheapest parameters instead. Any hash verifies under either: its parameters are in the hash.
_HASHERS = {
    "strong": PasswordHasher(),
    "fast": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}


def _hasher() -> PasswordHasher:
    """The hasher the environment asks for, read on each use so a test run can set it late."""
    return _HASHERS["fast" if os.environ.get("ACCESSFLOW_PASSWORD_HASH") == "fast" else "strong"]


def check_password(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        _hasher().hash("timing-equaliser")  # same cost whether or not the user exists
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except VerifyMismatchError:
        return False  # the wrong password: the answer, not a failure
    except (VerificationError, InvalidHashError) as err:
        log.warning("user %s: the stored password hash cannot be verified: %r", user.username, err)
        return False


def set_password(user: User, password: str) -> None:
    """A new password also ends the user's open browser sessions; the same one changes nothing."""
    if user.password_hash and check_password(user, password):
        return
    if user.password_hash:
        user.session_version = (user.session_version or 1) + 1
    user.password_hash = _hasher().hash(password)
