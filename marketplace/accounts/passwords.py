"""Password rules and argon2id hashing, run in a worker thread so a login never blocks the event loop."""

from __future__ import annotations

from functools import cache
from importlib import resources

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from marketplace.core.errors import Unprocessable

MIN_LENGTH = 10
MAX_LENGTH = 128

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 "low memory") parameters


def configure(memory_kib: int, time_cost: int) -> None:
    """Set the cost of new hashes (existing hashes carry their own parameters and still verify).
    The test suite uses a cheap setting; production keeps the defaults."""
    global _hasher
    if (memory_kib, time_cost) != (_hasher.memory_cost, _hasher.time_cost):
        _hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)


@cache
def _dummy_hash(memory_kib: int, time_cost: int) -> str:
    """Verified against when the account does not exist, so timing does not reveal which emails are
    registered. Made on first use, at the current cost, rather than when the module is imported."""
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost).hash("not-a-real-password")


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


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            stored = password_hash or _dummy_hash(_hasher.memory_cost, _hasher.time_cost)
            return _hasher.verify(stored, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)
