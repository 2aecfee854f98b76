"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from medconsult.i18n import _

MIN_LENGTH = 8
MAX_LENGTH = 128

# OWASP's minimum argon2id configuration: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

# Hash of a random password: checked when an email is unknown so both paths cost the same
# and response time does not reveal which accounts exist.
DUMMY_HASH = _hasher.hash("unused-dummy-password-for-timing")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    raw = resources.files("medconsult.accounts").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower()
        for line in raw.splitlines()
        if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _("Password must be at least {n} characters.").format(n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Password must be at most {n} characters.").format(n=MAX_LENGTH)
    if password.lower() in _common_passwords():
        return _("This password is too common. Choose one that is harder to guess.")
    if email and password.lower() == email.lower():
        return _("Password must not be the same as your email address.")
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
