"""Vendor onboarding rules. Every admin decision is written to the audit log in its own transaction; an
application's and a vendor's status are written in one place each, which asks its state machine first."""

from __future__ import annotations

import asyncpg

from marketplace.accounts import service as accounts
from marketplace.core import fields, topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import BadRequest, Conflict, Forbidden, NotFound
from marketplace.core.events import access_changed, append_event
from marketplace.core.paging import Page, fetch_page
from marketplace.core.states import Actor
from marketplace.core.types import set_fields
from marketplace.vendors import APPLICATION_TRANSITIONS, VENDOR_TRANSITIONS, ApplicationStatus, VendorStatus
from marketplace.vendors import queries as q
from marketplace.vendors.schemas import (
    ApplicationIn,
    ApplicationOut,
    PublicVendorOut,
    ShopPatch,
    VendorOut,
)


def _opened(row: asyncpg.Record) -> dict[str, object]:
    """A shop's or application's row with its sealed contact phone and licence number opened."""
    return {
        **dict(row),
        "contact_phone": fields.unseal(row["contact_phone"], fields.VENDOR_PHONE),
        "licence_number": fields.unseal(row["licence_number"], fields.LICENCE),
    }


def _masked(account: str) -> str:
    return f"•••• {account[-4:]}" if account else ""


def _application(row: asyncpg.Record) -> ApplicationOut:
    return ApplicationOut(**_opened(row))


def _vendor(row: asyncpg.Record) -> VendorOut:
    payout = fields.unseal(row["payout_account"], fields.PAYOUT_ACCOUNT) or ""
    return VendorOut(**{**_opened(row), "payout_account": _masked(payout)})


async def apply(db: asyncpg.Pool, user_id: int, body: ApplicationIn) -> ApplicationOut:
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(q.VENDOR_OF_USER, user_id):
            raise Conflict("you already have a shop")
        if await conn.fetchval(q.SHOP_NAME_TAKEN, body.shop_name):
            raise Conflict("this shop name is taken", field="shop_name")
        try:
            row = await conn.fetchrow(
                q.INSERT_APPLICATION,
                user_id,
                body.shop_name,
                body.description,
                body.contact_email,
                fields.seal(body.contact_phone or "", fields.VENDOR_PHONE),
                fields.seal(body.licence_number, fields.LICENCE),
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "vendor_applications_one_pending":
                raise Conflict("you already have a pending application") from None
            raise Conflict("another pending application uses this shop name", field="shop_name") from None
    return _application(row)


async def my_applications(db: asyncpg.Pool, user_id: int) -> list[ApplicationOut]:
    return [_application(r) for r in await db.fetch(q.APPLICATIONS_OF_USER, user_id)]


async def list_applications(
    db: asyncpg.Pool, status: ApplicationStatus | None, cursor: int | None, limit: int
) -> Page[ApplicationOut]:
    return await fetch_page(db, q.LIST_APPLICATIONS, status, cursor, limit=limit, convert=_application)


async def _decide(
    conn: asyncpg.Connection, admin_id: int, application_id: int, target: ApplicationStatus, reason: str | None
) -> tuple[ApplicationOut, ApplicationOut]:
    """The one write of an application's status, once APPLICATION_TRANSITIONS allows it (a decided application
    stays decided) and the admin is not its applicant. Returns the application before and after."""
    row = await conn.fetchrow(q.APPLICATION_FOR_UPDATE, application_id)
    if row is None:
        raise NotFound("no such application")
    before = _application(row)
    current = ApplicationStatus(before.status)
    if not APPLICATION_TRANSITIONS.targets(current, Actor.ADMIN):
        raise Conflict(f"this application was already {current}")
    APPLICATION_TRANSITIONS.check(current, target, Actor.ADMIN)
    if before.user_id == admin_id:
        raise Forbidden("you cannot review your own application")
    after = _application(await conn.fetchrow(q.DECIDE_APPLICATION, application_id, target, reason, admin_id))
    return before, after


async def approve(db: asyncpg.Pool, admin_id: int, application_id: int) -> VendorOut:
    """Approval creates the shop and grants the vendor role, all in one transaction."""
    async with db.acquire() as conn, conn.transaction():
        before, after = await _decide(conn, admin_id, application_id, ApplicationStatus.APPROVED, None)
        try:
            async with conn.transaction():  # savepoint: a name clash is a clear 409, not a broken transaction
                vendor = _vendor(await conn.fetchrow(q.INSERT_VENDOR, application_id))
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "vendors_shop_name":
                raise Conflict("a shop with this name was approved meanwhile; reject this application") from None
            raise Conflict("this user already has a shop") from None
        await accounts.grant_role(conn, before.user_id, "vendor")
        await record_audit(
            conn,
            admin_id,
            "vendor_application.approved",
            "vendor_application",
            application_id,
            before,
            after,
        )
        await append_event(
            conn,
            topics.user(before.user_id),
            "vendor.approved",
            {"vendor_id": vendor.id, "shop_name": vendor.shop_name},
        )
    return vendor


async def reject(db: asyncpg.Pool, admin_id: int, application_id: int, reason: str) -> ApplicationOut:
    async with db.acquire() as conn, conn.transaction():
        before, after = await _decide(conn, admin_id, application_id, ApplicationStatus.REJECTED, reason)
        await record_audit(
            conn,
            admin_id,
            "vendor_application.rejected",
            "vendor_application",
            application_id,
            before,
            after,
        )
        await append_event(
            conn,
            topics.user(before.user_id),
            "vendor.rejected",
            {"application_id": application_id, "reason": reason},
        )
    return after


async def list_vendors(
    db: asyncpg.Pool, status: VendorStatus | None, cursor: int | None, limit: int
) -> Page[VendorOut]:
    return await fetch_page(db, q.LIST_VENDORS, status, cursor, limit=limit, convert=_vendor)


async def get_vendor(db: asyncpg.Pool, vendor_id: int) -> VendorOut:
    row = await db.fetchrow(q.GET_VENDOR, vendor_id)
    if row is None:
        raise NotFound("no such vendor")
    return _vendor(row)


async def set_status(
    db: asyncpg.Pool, admin_id: int, vendor_id: int, status: VendorStatus, reason: str | None
) -> VendorOut:
    """Suspend or reinstate: the one write of a vendor's status, once VENDOR_TRANSITIONS allows it. A suspended
    vendor keeps its role but its tokens stop passing vendor guards, because every request reloads the
    vendor's status."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.VENDOR_FOR_UPDATE, vendor_id)
        if row is None:
            raise NotFound("no such vendor")
        before = _vendor(row)
        current = VendorStatus(before.status)
        if current == status:
            raise Conflict(f"this vendor is already {status}")
        VENDOR_TRANSITIONS.check(current, status, Actor.ADMIN)
        after = _vendor(await conn.fetchrow(q.SET_VENDOR_STATUS, vendor_id, status, reason))
        action = "vendor.suspended" if status == VendorStatus.SUSPENDED else "vendor.reinstated"
        await record_audit(conn, admin_id, action, "vendor", vendor_id, before, after)
        await append_event(conn, topics.vendor(vendor_id), action, {"vendor_id": vendor_id, "reason": reason})
        await access_changed(conn, before.user_id, action)
    return after


async def update_shop(db: asyncpg.Pool, vendor_id: int, body: ShopPatch) -> VendorOut:
    changes = set_fields(body)
    if not changes:
        raise BadRequest("nothing to change")
    row = await db.fetchrow(
        q.UPDATE_SHOP,
        vendor_id,
        changes.get("description"),
        changes.get("contact_email"),
        fields.seal(changes.get("contact_phone"), fields.VENDOR_PHONE),
        fields.seal(changes.get("payout_account"), fields.PAYOUT_ACCOUNT),
    )
    return _vendor(row)


async def public_vendor(db: asyncpg.Pool, vendor_id: int) -> PublicVendorOut:
    row = await db.fetchrow(q.PUBLIC_VENDOR, vendor_id)
    if row is None:
        raise NotFound("no such shop")
    return PublicVendorOut(**dict(row))
