"""Logistics rules: a shop's shipping templates (one of them its default whenever it has any), each product's
template and weight, carrier shipments and their tracking events (stored once each, pushed to the buyer's and
the shop's feeds), and late shipments (flagged to the shop once, listed for support)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import msgspec

from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.paging import Page, fetch_page
from marketplace.logistics import queries as q
from marketplace.logistics.carriers import TrackingEvent
from marketplace.logistics.schemas import (
    LateShipmentOut,
    ProductShippingIn,
    ProductShippingOut,
    Rate,
    RegionRate,
    TemplateIn,
    TemplateOut,
    TrackingEventOut,
    TrackingOut,
)

MAX_TEMPLATES = 50  # per shop
log = logging.getLogger(__name__)


def _template_out(row: asyncpg.Record) -> TemplateOut:
    return TemplateOut(
        **{
            k: row[k]
            for k in ("id", "vendor_id", "name", "basis", "is_default", "products", "created_at", "updated_at")
        },
        default_rate=msgspec.convert(row["default_rate"], Rate),
        regions=msgspec.convert(row["regions"], list[RegionRate]),
    )


def _check_regions(data: TemplateIn) -> None:
    seen: set[tuple[str, str]] = set()
    for rate in data.regions:
        key = (rate.country, rate.region.strip().casefold())
        if key in seen:
            where = f"{rate.country} {rate.region}".strip()
            raise Unprocessable(f"the template names {where} twice; give each region one rate", region=where)
        seen.add(key)


def _rates(data: TemplateIn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return msgspec.to_builtins(data.default_rate), [msgspec.to_builtins(r) for r in data.regions]


async def templates_of(db: asyncpg.Pool, vendor_id: int) -> list[TemplateOut]:
    return [_template_out(r) for r in await db.fetch(q.TEMPLATES_OF_VENDOR, vendor_id)]


async def template_of(db: asyncpg.Pool | asyncpg.Connection, vendor_id: int, template_id: int) -> TemplateOut:
    row = await db.fetchrow(q.TEMPLATE_OF_VENDOR, template_id, vendor_id)
    if row is None:
        raise NotFound("no such shipping template")  # another shop's is "no such" too
    return _template_out(row)


async def create_template(db: asyncpg.Pool, vendor_id: int, actor_id: int, data: TemplateIn) -> TemplateOut:
    """A new template; the shop's first is its default, and a new default replaces the old one."""
    _check_regions(data)
    default_rate, regions = _rates(data)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_VENDOR, vendor_id)
        count = await conn.fetchval(q.COUNT_TEMPLATES, vendor_id)
        if count >= MAX_TEMPLATES:
            raise Conflict(f"a shop has at most {MAX_TEMPLATES} shipping templates; edit or delete one")
        is_default = data.is_default or count == 0
        if is_default:  # first, for the index that allows one default per shop
            await conn.execute(q.CLEAR_DEFAULT, vendor_id, 0)
        try:
            async with conn.transaction():
                template_id = await conn.fetchval(
                    q.INSERT_TEMPLATE, vendor_id, data.name, data.basis, is_default, default_rate, regions
                )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"this shop already has a template named {data.name!r}") from None
        created = await template_of(conn, vendor_id, template_id)
        await record_audit(conn, actor_id, "shipping_template.created", "shipping_template", template_id, None, created)
    return created


async def update_template(
    db: asyncpg.Pool, vendor_id: int, actor_id: int, template_id: int, data: TemplateIn
) -> TemplateOut:
    """Replace a template's name, basis and rates; making it the default unmakes the old one. The default
    stays one until another template is made the default (a shop with templates always has one)."""
    _check_regions(data)
    default_rate, regions = _rates(data)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_VENDOR, vendor_id)
        before = await template_of(conn, vendor_id, template_id)
        if before.is_default and not data.is_default:
            raise Conflict("this is the shop's default template; make another one the default instead")
        if data.is_default:
            await conn.execute(q.CLEAR_DEFAULT, vendor_id, template_id)
        try:
            async with conn.transaction():
                await conn.execute(q.UPDATE_TEMPLATE, template_id, vendor_id, data.name, data.basis, data.is_default,
                                   default_rate, regions)  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise Conflict(f"this shop already has a template named {data.name!r}") from None
        after = await template_of(conn, vendor_id, template_id)
        await record_audit(conn, actor_id, "shipping_template.updated", "shipping_template", template_id, before, after)
    return after


async def delete_template(db: asyncpg.Pool, vendor_id: int, actor_id: int, template_id: int) -> None:
    """Products that named it use the default again. The default goes only as the shop's last template (the
    shop then charges the flat fee again)."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_VENDOR, vendor_id)
        before = await template_of(conn, vendor_id, template_id)
        if before.is_default and await conn.fetchval(q.COUNT_TEMPLATES, vendor_id) > 1:
            raise Conflict("this is the shop's default template; make another one the default before deleting it")
        await conn.execute(q.DELETE_TEMPLATE, template_id, vendor_id)
        await record_audit(conn, actor_id, "shipping_template.deleted", "shipping_template", template_id, before)


async def product_shipping(db: asyncpg.Pool, vendor_id: int, product_id: int) -> ProductShippingOut:
    if await db.fetchval(q.PRODUCT_OF_VENDOR, product_id, vendor_id) is None:
        raise NotFound("no such product")
    row = await db.fetchrow(q.PRODUCT_SHIPPING, product_id)
    return ProductShippingOut(**dict(row)) if row else ProductShippingOut(product_id, None, 0)


async def set_product_shipping(
    db: asyncpg.Pool, vendor_id: int, product_id: int, data: ProductShippingIn
) -> ProductShippingOut:
    """The template a product ships under (None: its shop's default) and its weight, for weight templates."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_VENDOR, vendor_id)  # the template cannot be deleted meanwhile
        if await conn.fetchval(q.PRODUCT_OF_VENDOR, product_id, vendor_id) is None:
            raise NotFound("no such product")
        if (
            data.template_id is not None
            and await conn.fetchrow(q.TEMPLATE_OF_VENDOR, data.template_id, vendor_id) is None
        ):
            raise Unprocessable("no such shipping template in your shop", template_id=data.template_id)
        row = await conn.fetchrow(q.SET_PRODUCT_SHIPPING, product_id, data.template_id, data.weight_grams)
    return ProductShippingOut(**dict(row))


# Shipments (called by workflows/shipments.py inside the transaction that moves the order).


async def open_shipment(conn: asyncpg.Connection, order_id: int, vendor_id: int, carrier: str, tracking: str) -> None:
    """Record a parcel handed to `carrier`; an order sent again after a lost parcel has a new one."""
    await conn.execute(q.INSERT_SHIPMENT, order_id, vendor_id, carrier, tracking)


async def shipment_for_tracking(conn: asyncpg.Connection, carrier: str, tracking_number: str) -> asyncpg.Record | None:
    """The shipment (with its order's buyer and vendor) a carrier's tracking number names, if any."""
    return await conn.fetchrow(q.SHIPMENT_BY_TRACKING, carrier, tracking_number)


async def record_event(conn: asyncpg.Connection, shipment: asyncpg.Record, carrier: str, event: TrackingEvent) -> bool:
    """Store a tracking event and push it to the buyer's and the shop's feeds; False (and nothing changed)
    if the carrier sent this event before."""
    stored = await conn.fetchval(
        q.RECORD_EVENT,
        shipment["id"],
        event.event_id,
        event.type,
        event.occurred_at,
        event.location,
        event.description,
        shipment["order_id"],
        carrier,
        event.tracking_number,
        topics.user_orders(shipment["buyer_id"]),
        topics.vendor_orders(shipment["vendor_id"]),
    )
    return stored is not None


async def tracking_of(
    db: asyncpg.Pool, order_id: int, *, buyer_id: int | None = None, vendor_id: int | None = None
) -> TrackingOut:
    """An order's shipment and its timeline, for its buyer or its vendor (anyone else: no such order)."""
    order = await db.fetchrow(q.ORDER_PARTIES, order_id)
    if order is None or (buyer_id is not None and order["buyer_id"] != buyer_id):
        raise NotFound("no such order")
    if vendor_id is not None and order["vendor_id"] != vendor_id:
        raise NotFound("no such order")
    shipment = await db.fetchrow(q.SHIPMENT_OF_ORDER, order_id)
    events = [] if shipment is None else await db.fetch(q.EVENTS_OF_SHIPMENT, shipment["id"])
    return TrackingOut(
        order_id=order_id,
        carrier=order["carrier"],
        tracking_number=order["tracking_number"],
        integrated=shipment is not None,
        status=shipment["status"] if shipment else None,
        events=[TrackingEventOut(**dict(e)) for e in events],
    )


async def is_carrier_tracked(conn: asyncpg.Connection, order_id: int, tracking_number: str | None) -> bool:
    """Whether the order's current parcel travels with an integrated carrier, which confirms its delivery."""
    return tracking_number is not None and await conn.fetchval(q.TRACKED_PARCEL, order_id, tracking_number)


# Late shipments.


async def flag_late_shipments(db: asyncpg.Pool | asyncpg.Connection, ship_within_hours: int) -> int:
    """Flag every order newly past its ship-by time to its shop (an event on the shop's orders feed), once;
    returns how many were flagged."""
    return await db.fetchval(q.FLAG_LATE, ship_within_hours)


async def late_shipments(
    db: asyncpg.Pool,
    ship_within_hours: int,
    vendor_id: int | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> Page[LateShipmentOut]:
    """Orders past their ship-by time and still not shipped, newest first (one shop's, or every shop's for
    support), with when their shop was flagged."""
    return await fetch_page(
        db, q.LATE_SHIPMENTS, ship_within_hours, vendor_id, cursor, limit=limit, key="order_id",
        convert=lambda r: LateShipmentOut(**{**dict(r), "hours_late": float(r["hours_late"])}),
    )  # fmt: skip


async def watch_late_shipments(db: asyncpg.Pool, ship_within_hours: int, every_seconds: float) -> None:
    """Flag late shipments every `every_seconds`, for ever; every worker may run it (each order is flagged once).
    An outage is logged once and waited out."""
    failing = False
    while True:
        try:
            flagged = await flag_late_shipments(db, ship_within_hours)
            if flagged:
                log.info("flagged %d late shipments to their shops", flagged)
            if failing:
                log.info("late-shipment watch: database back")
                failing = False
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if not failing:
                log.warning("late-shipment watch: database unavailable (%s); retrying", exc)
                failing = True
        await asyncio.sleep(every_seconds)
