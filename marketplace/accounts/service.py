"""Account rules: registration (with its verification mail), login (with rate limits and TOTP), profile, addresses,
roles and moderation (disable, enable)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
import pyotp
from redis.asyncio import Redis

from marketplace.accounts import queries as q
from marketplace.accounts import recovery, tokens
from marketplace.accounts.passwords import check_strength, hash_password, hasher_of, verify_password
from marketplace.accounts.schemas import (
    AddressIn,
    AddressOut,
    AddressPatch,
    LoginIn,
    RegisterIn,
    TokenPair,
    TotpEnrolment,
    UserOut,
)
from marketplace.core import fields, topics
from marketplace.core.audit import record_audit
from marketplace.core.db import contains_pattern
from marketplace.core.errors import BadRequest, Conflict, NotFound, Unauthorized, Unprocessable
from marketplace.core.events import access_changed
from marketplace.core.paging import Page, fetch_page
from marketplace.core.ratelimit import attempt, forget, hit
from marketplace.core.types import set_fields
from marketplace.risk import service as risk
from marketplace.settings import Settings

MAX_ADDRESSES = 20
ADDRESS_FIELDS = ("recipient", "phone", "line1", "line2", "city", "region", "postal_code", "country")
ERASED_DOMAIN = "@erased.invalid"  # an erased account's stand-in address (privacy/queries.py ERASE)
TOTP_ISSUER = "Marketplace"


def user_out(row: asyncpg.Record) -> UserOut:
    return UserOut(**{**dict(row), "phone": fields.unseal(row["phone"], fields.USER_PHONE)})


def address_out(row: asyncpg.Record) -> AddressOut:
    return AddressOut(**fields.open_address(dict(row)))


def phone_digest(phone: str | None) -> bytes | None:
    """The keyed hash a phone number is found and kept unique by (the number itself is sealed)."""
    return fields.digest(phone, fields.USER_PHONE)


async def register(db: asyncpg.Pool, redis: Redis, settings: Settings, body: RegisterIn, client_ip: str) -> UserOut:
    await hit(redis, f"register:ip:{client_ip}", settings.auth_rate_limit, settings.auth_rate_window_seconds)
    if body.email is None and body.phone is None:
        raise Unprocessable("give an email or a phone number")
    check_strength(body.password, body.email, body.phone)
    password_hash = await hash_password(hasher_of(settings), body.password)
    async with db.acquire() as conn, conn.transaction():
        user = await create_user(conn, body.email, body.phone, password_hash, body.display_name, ["buyer"])
        if user.email is not None:  # the mail exists exactly when the account does
            await recovery.send_verification(conn, settings, user.id, user.email)
    return user


async def resend_verification(db: asyncpg.Pool, redis: Redis, settings: Settings, user_id: int) -> None:
    await hit(
        redis, f"verify:user:{user_id}", settings.password_reset_per_email, settings.password_reset_window_seconds
    )
    async with db.acquire() as conn, conn.transaction():
        user = user_out(await conn.fetchrow(q.USER_BY_ID, user_id))
        if user.email is None:
            raise Unprocessable("this account has no email address to verify")
        if user.email_verified_at is not None:
            raise Conflict("this email address is verified already")
        await recovery.send_verification(conn, settings, user.id, user.email)


async def create_user(
    db: asyncpg.Pool | asyncpg.Connection,
    email: str | None,
    phone: str | None,
    password_hash: str,
    display_name: str,
    roles: list[str],
) -> UserOut:
    try:
        sealed = fields.seal(phone, fields.USER_PHONE)
        row = await db.fetchrow(q.INSERT_USER, email, sealed, phone_digest(phone), password_hash, display_name, roles)
    except asyncpg.UniqueViolationError as exc:
        what = "email" if "email" in (exc.constraint_name or "") else "phone number"
        raise Conflict(f"an account with this {what} already exists") from None
    return user_out(row)


async def _attempt(redis: Redis, settings: Settings, account: str, client_ip: str) -> str:
    """Count an attempt at the account's password or two-factor code from this IP, refused with 429 while
    this IP's failures on this account make it wait (core.ratelimit.attempt); the key to forget on success."""
    key = f"auth:{account}:{client_ip}"
    free, delay, longest = settings.login_free_failures, settings.login_delay_seconds, settings.login_max_delay_seconds
    await attempt(redis, key, free, delay, longest)
    return key


async def login(db: asyncpg.Pool, redis: Redis, settings: Settings, body: LoginIn, client_ip: str) -> TokenPair:
    """Limits: attempts per IP across accounts, and failures per account *and* IP with doubling delays. No
    limit counts an account's failures from everywhere, so a stranger's guesses slow only the stranger."""
    await hit(redis, f"login:ip:{client_ip}", settings.auth_rate_limit, settings.auth_rate_window_seconds)
    row = await db.fetchrow(q.CREDENTIALS_BY_IDENTIFIER, body.identifier, phone_digest(body.identifier))
    account = topics.user(row["id"]) if row else f"name:{body.identifier.lower()}"
    attempts = await _attempt(redis, settings, account, client_ip)
    ok = await verify_password(hasher_of(settings), row["password_hash"] if row else None, body.password)
    if not ok or row is None or row["status"] != "active":
        await risk.record_login_failure(db, row["id"] if row else None, client_ip)  # risk's failed-login rule
        raise Unauthorized("wrong email, phone or password")
    if row["totp_enabled"]:
        if body.totp_code is None:  # counted too, or asking without a code would reset wrong codes' count
            raise Unauthorized("two-factor code required", totp_required=True)
        await _check_totp(redis, row["id"], _totp_secret(row), body.totp_code)
    await forget(redis, attempts)
    async with db.acquire() as conn:
        return await tokens.issue_pair(
            conn, row["id"], settings.secret_key, settings.access_token_minutes, settings.refresh_token_days
        )


def _totp_secret(row: asyncpg.Record) -> str:
    return fields.unseal(row["totp_secret"], fields.TOTP_SECRET) or ""


async def _check_totp(redis: Redis, user_id: int, secret: str, code: str) -> None:
    totp = pyotp.TOTP(secret)
    if not totp.verify(code, valid_window=1):
        raise Unauthorized("wrong two-factor code", totp_required=True)
    # A code may be used once: remember it for as long as it could still verify.
    if not await redis.set(f"totp:used:{user_id}:{code}", 1, nx=True, ex=totp.interval * 3):
        raise Unauthorized("this two-factor code was already used; wait for the next one", totp_required=True)


async def refresh(db: asyncpg.Pool, settings: Settings, refresh_token: str) -> TokenPair:
    async with db.acquire() as conn:
        return await tokens.rotate(
            conn,
            refresh_token,
            settings.secret_key,
            settings.access_token_minutes,
            settings.refresh_token_days,
        )


async def logout(db: asyncpg.Pool, user_id: int, family: uuid.UUID | None, refresh_token: str | None) -> None:
    async with db.acquire() as conn:
        await tokens.end_session(conn, user_id, family, refresh_token)


async def get_user(db: asyncpg.Pool, user_id: int) -> UserOut:
    row = await db.fetchrow(q.USER_BY_ID, user_id)
    if row is None:
        raise NotFound("no such user")
    return user_out(row)


async def update_profile(db: asyncpg.Pool, user_id: int, display_name: str | None) -> UserOut:
    if display_name is None:
        raise BadRequest("nothing to change")
    return user_out(await db.fetchrow(q.UPDATE_PROFILE, user_id, display_name))


# Two-factor authentication


async def _totp_limits(redis: Redis, settings: Settings, user_id: int, client_ip: str) -> None:
    """The two-factor routes' windows, per IP and per account (they need the account's token, so only its
    holder counts against the account)."""
    limit, window = settings.auth_rate_limit, settings.auth_rate_window_seconds
    await hit(redis, f"totp:ip:{client_ip}", limit, window)
    await hit(redis, f"totp:user:{user_id}", limit, window)


async def _check_own_code(
    redis: Redis, settings: Settings, user_id: int, secret: str, code: str, client_ip: str
) -> None:
    """A signed-in user's code, to turn two-factor on or off: a wrong one counts like a failed login."""
    attempts = await _attempt(redis, settings, topics.user(user_id), client_ip)
    await _check_totp(redis, user_id, secret, code)
    await forget(redis, attempts)


async def enrol_totp(db: asyncpg.Pool, redis: Redis, settings: Settings, user_id: int, client_ip: str) -> TotpEnrolment:
    await _totp_limits(redis, settings, user_id, client_ip)
    row = await db.fetchrow(q.USER_BY_ID, user_id)
    if row["totp_enabled"]:
        raise Conflict("two-factor authentication is already on; disable it first")
    secret = pyotp.random_base32()
    await db.execute(q.SET_TOTP_SECRET, user_id, fields.seal(secret, fields.TOTP_SECRET))
    label = row["email"] or fields.unseal(row["phone"], fields.USER_PHONE)
    uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret=secret, otpauth_uri=uri)


async def confirm_totp(
    db: asyncpg.Pool, redis: Redis, settings: Settings, user_id: int, code: str, client_ip: str
) -> UserOut:
    await _totp_limits(redis, settings, user_id, client_ip)
    row = await db.fetchrow(q.CREDENTIALS_BY_ID, user_id)
    if row["totp_secret"] is None:
        raise Conflict("start two-factor enrolment first")
    if row["totp_enabled"]:
        raise Conflict("two-factor authentication is already on")
    await _check_own_code(redis, settings, user_id, _totp_secret(row), code, client_ip)
    await db.execute(q.ENABLE_TOTP, user_id)
    return await get_user(db, user_id)


async def disable_totp(
    db: asyncpg.Pool, redis: Redis, settings: Settings, user_id: int, code: str, client_ip: str
) -> UserOut:
    await _totp_limits(redis, settings, user_id, client_ip)
    row = await db.fetchrow(q.CREDENTIALS_BY_ID, user_id)
    if not row["totp_enabled"]:
        raise Conflict("two-factor authentication is not on")
    await _check_own_code(redis, settings, user_id, _totp_secret(row), code, client_ip)
    await db.execute(q.DISABLE_TOTP, user_id)
    return await get_user(db, user_id)


# Addresses


async def list_addresses(db: asyncpg.Pool, user_id: int) -> list[AddressOut]:
    return [address_out(r) for r in await db.fetch(q.LIST_ADDRESSES, user_id)]


async def get_address(db: asyncpg.Pool, user_id: int, address_id: int) -> AddressOut:
    row = await db.fetchrow(q.GET_ADDRESS, address_id, user_id)
    if row is None:
        raise NotFound("no such address")
    return address_out(row)


async def add_address(db: asyncpg.Pool, user_id: int, body: AddressIn) -> AddressOut:
    async with db.acquire() as conn, conn.transaction():
        # Serialises one user's address changes, so "exactly one default" holds under concurrent requests.
        await conn.execute(q.LOCK_USER, user_id)
        count = await conn.fetchval(q.COUNT_ADDRESSES, user_id)
        if count >= MAX_ADDRESSES:
            raise Unprocessable(f"at most {MAX_ADDRESSES} addresses per account")
        is_default = body.is_default or count == 0
        if is_default:
            await conn.execute(q.CLEAR_DEFAULT, user_id)
        given = msgspec.structs.asdict(body)
        sealed = fields.seal_address(given)
        row = await conn.fetchrow(
            q.INSERT_ADDRESS, user_id, *(sealed[k] for k in ADDRESS_FIELDS), is_default, fields.address_match(given)
        )
    return address_out(row)


async def update_address(db: asyncpg.Pool, user_id: int, address_id: int, body: AddressPatch) -> AddressOut:
    changes: dict[str, Any] = fields.seal_address(set_fields(body))
    if not changes:
        raise BadRequest("nothing to change")
    if changes.get("is_default") is False:
        raise Unprocessable("make another address the default instead")
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_USER, user_id)
        if changes.get("is_default"):
            await conn.execute(q.CLEAR_DEFAULT, user_id)
        row = await conn.fetchrow(
            q.UPDATE_ADDRESS, address_id, user_id, *(changes.get(k) for k in (*ADDRESS_FIELDS, "is_default"))
        )
        if row is None:
            raise NotFound("no such address")
        address = address_out(row)
        await conn.execute(q.SET_ADDRESS_MATCH, address_id, fields.address_match(msgspec.structs.asdict(address)))
    return address


async def delete_address(db: asyncpg.Pool, user_id: int, address_id: int) -> None:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_USER, user_id)
        was_default = await conn.fetchval(q.DELETE_ADDRESS, address_id, user_id)
        if was_default is None:
            raise NotFound("no such address")
        if was_default:
            await conn.execute(q.PROMOTE_OLDEST_ADDRESS, user_id)


# Roles (admins)


async def upsert_admin(
    db: asyncpg.Pool | asyncpg.Connection, settings: Settings, email: str, password: str, display_name: str
) -> int:
    """`marketplace create-admin` and the demo's admin: a new admin account, or the existing account with this
    email given the admin role and this password (its strength is the caller's to check). Returns its id."""
    password_hash = await hash_password(hasher_of(settings), password)
    return await db.fetchval(q.UPSERT_ADMIN, email, password_hash, display_name)


async def grant_role(conn: asyncpg.Connection, user_id: int, role: str) -> None:
    """Add `role` to the user's roles (no change if held), in the caller's transaction: vendor approval grants
    "vendor" together with creating the shop."""
    await conn.execute(q.ADD_ROLE, user_id, role)


async def list_users(
    db: asyncpg.Pool, role: str | None, search: str | None, cursor: int | None, limit: int
) -> Page[UserOut]:
    pattern = contains_pattern(search) if search else None
    digest = phone_digest(search) if search else None  # a phone is found whole (it is sealed)
    return await fetch_page(db, q.LIST_USERS, cursor, role, pattern, digest, limit=limit, convert=user_out)


async def set_roles(db: asyncpg.Pool, admin_id: int, user_id: int, roles: list[str]) -> UserOut:
    wanted = sorted(set(roles) | {"buyer"})
    async with db.acquire() as conn, conn.transaction():
        current = await conn.fetchval(q.ROLES_FOR_UPDATE, user_id)
        if current is None:
            raise NotFound("no such user")
        if ("vendor" in wanted) != ("vendor" in current):
            raise Unprocessable("the vendor role follows vendor approval and suspension, not role edits")
        if user_id == admin_id and "admin" not in wanted:
            raise Unprocessable("an admin cannot remove their own admin role")
        row = await conn.fetchrow(q.SET_ROLES, user_id, wanted)
        await access_changed(conn, user_id, "roles changed")
        await record_audit(conn, admin_id, "user.roles_changed", "user", user_id, {"roles": current}, {"roles": wanted})
    return user_out(row)


# Moderation (admins)


async def set_status(db: asyncpg.Pool, admin_id: int, user_id: int, status: str, reason: str | None) -> UserOut:
    """Disable or enable an account. Disabling ends every session at once: its refresh tokens are revoked (so
    its access tokens stop passing, core.auth.LOAD_CALLER) and its open sockets are told to re-check."""
    if status == "disabled" and user_id == admin_id:
        raise Unprocessable("an admin cannot disable their own account")
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.USER_FOR_UPDATE, user_id)
        if row is None:
            raise NotFound("no such user")
        before = user_out(row)
        if before.status == status:
            raise Conflict(f"this account is already {status}")
        if status == "active" and row["email"] and row["email"].endswith(ERASED_DOMAIN):
            raise Conflict("this account was erased by its owner; it cannot be enabled again")
        after = user_out(await conn.fetchrow(q.SET_STATUS, user_id, status, reason if status == "disabled" else None))
        if status == "disabled":
            await conn.execute(q.REVOKE_ALL_OF_USER, user_id)
        action = "user.disabled" if status == "disabled" else "user.enabled"
        audit_before = {"status": before.status, "status_reason": before.status_reason}
        audit_after = {"status": after.status, "reason": reason}
        await record_audit(conn, admin_id, action, "user", user_id, audit_before, audit_after)
        await access_changed(conn, user_id, action)
    return after
