"""Password rules and argon2id hashing, run in a worker thread so a login never blocks the event loop.

The cost of new hashes comes from the settings (`hasher_of`) and is passed to every hash and check: no module
state, so two apps with different settings in one process (the tests) each hash at their own cost."""

from __future__ import annotations

from functools import cache
from importlib import resources

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from marketplace.core.errors import Unprocessable
from marketplace.settings import Settings

MIN_LENGTH = 10
MAX_LENGTH = 128


@cache
def password_hasher(memory_kib: int, time_cost: int) -> PasswordHasher:
    """argon2id at this cost of new hashes; existing hashes carry their own parameters and still verify."""
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)


def hasher_of(settings: Settings) -> PasswordHasher:
    """The hasher the settings ask for (PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_TIME_COST: by default the
    RFC 9106 "low memory" cost; the tests set a cheap one)."""
    return password_hasher(settings.password_hash_memory_kib, settings.password_hash_time_cost)


@cache
def _dummy_hash(memory_kib: int, time_cost: int) -> str:
    """Verified against when the account does not exist, so timing does not reveal which emails are
    registered. Made on first use, at the hasher's cost, rather than when the module is imported."""
    return password_hasher(memory_kib, time_cost).hash("not-a-real-password")


@cache
def _common_passwords() -> frozenset[str]:
    text = (resources.files("marketplace.accounts") / "common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_strength(password: str, *identifiers: str | None) -> None:
    if len(password) < MIN_LENGTH:
        raise Unprocessable(f"password must be at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise Unprocessable(f"password must be at most {MAX_LENGTH} characters", field="password")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(password)) < 4:
        raise Unprocessable("password is too common; choose another", field="password")
    for ident in identifiers:
        if ident and ident.lower().split("@")[0] in lowered and len(ident.split("@")[0]) >= 4:
            raise Unprocessable("password must not contain your email or phone", field="password")


async def hash_password(hasher: PasswordHasher, password: str) -> str:
    return await anyio.to_thread.run_sync(hasher.hash, password)


async def verify_password(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            stored = password_hash or _dummy_hash(hasher.memory_cost, hasher.time_cost)
            return hasher.verify(stored, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)
