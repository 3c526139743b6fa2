"""Flash-sale rules: scheduling and cancelling sales, and the purchase path built for a crowd.

A purchase passes the Redis gate first (see gate.py); only admitted buyers reach PostgreSQL, where an
ordinary checkout of one line at the sale price is placed, held `flash_sale_hold_minutes` for payment; its
writing statement also takes the units from the sale and from the buyer's allowance with conditional
updates. Admitted purchases are written in batches (batch.py), so the crowd's hot rows are locked once per
batch, not once per buyer.
Paying is a normal payment. An unpaid checkout that expires, or any cancelled order, gives its units back
to the sale (`return_units`); the gate keeper copies that into Redis once the sale is quiet."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from redis.exceptions import RedisError

from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)
from marketplace.core.events import append_events
from marketplace.core.idempotency import Outcome, replay
from marketplace.core.metrics import count_flash_sale
from marketplace.core.paging import Page, fetch_page
from marketplace.flash_sales import queries as q
from marketplace.flash_sales.batch import PurchaseBatches
from marketplace.flash_sales.gate import Gate, Verdict
from marketplace.flash_sales.schemas import FlashSaleIn, FlashSaleOut, PurchaseIn, Status
from marketplace.orders.place_checkout import SaleRefused
from marketplace.settings import Settings

log = logging.getLogger(__name__)

# Refusals after which a retry with an Idempotency-Key may still be owed its first purchase's checkout (one
# indexed read, only for refusals carrying a key).
REPLAYABLE = frozenset({"limit_reached", "sold_out", "ended"})
GATE_ATTEMPTS = 40  # times a purchase waits (50 ms each) for another request to rebuild a missing gate


class Rejected(Conflict):
    """A purchase the sale cannot take, with a machine-readable `reason` (and its problem `code`)."""

    CODES = {"sold_out": "sold-out", "limit_reached": "limit-reached", "not_started": "sale-not-started",
             "ended": "sale-ended"}  # fmt: skip

    def __init__(self, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, code=self.CODES.get(reason), reason=reason, **extra)
        self.reason = reason


def _status(row: asyncpg.Record) -> Status:
    if row["cancelled_at"] is not None:
        return "cancelled"
    if row["now"] >= row["ends_at"]:
        return "ended"
    if row["now"] < row["starts_at"]:
        return "scheduled"
    return "sold_out" if row["sold"] >= row["units"] else "live"


def sale_out(row: asyncpg.Record) -> FlashSaleOut:
    fields = {k: row[k] for k in FlashSaleOut.__struct_fields__ if k in row}
    return FlashSaleOut(
        **fields,
        remaining=row["units"] - row["sold"],
        status=_status(row),
        seconds_to_start=max(0.0, (row["starts_at"] - row["now"]).total_seconds()),
        seconds_to_end=max(0.0, (row["ends_at"] - row["now"]).total_seconds()),
    )


def changed_event(sale: asyncpg.Record) -> tuple[str, str, dict[str, int]]:
    """`flash_sale.changed` on the product's stock topic: what a countdown page shows as units left."""
    figures = {"sale_id": sale["id"], "sku_id": sale["sku_id"], "units": sale["units"], "sold": sale["sold"]}
    return (
        topics.product_stock(sale["product_id"]),
        "flash_sale.changed",
        figures | {"remaining": sale["units"] - sale["sold"]},
    )


async def get(db: asyncpg.Pool, sale_id: int) -> FlashSaleOut:
    """A sale as anyone sees it: not found while its product is not listed or its shop not active."""
    row = await db.fetchrow(q.PUBLIC_SALE, sale_id)
    if row is None:
        raise NotFound("no such flash sale")
    return sale_out(row)


async def listing(
    db: asyncpg.Pool, status: str | None, product_id: int | None, cursor: int | None, limit: int
) -> Page[FlashSaleOut]:
    return await fetch_page(db, q.PUBLIC_SALES, status, product_id, cursor, limit=limit, convert=sale_out)


async def vendor_listing(db: asyncpg.Pool, vendor_id: int, cursor: int | None, limit: int) -> Page[FlashSaleOut]:
    return await fetch_page(db, q.VENDOR_SALES, vendor_id, cursor, limit=limit, convert=sale_out)


async def create(db: asyncpg.Pool, gate: Gate, actor_id: int, body: FlashSaleIn, vendor_id: int | None) -> FlashSaleOut:
    """Schedule a sale: a vendor for its own SKUs (`vendor_id`), a marketer or admin for any (None)."""
    if body.ends_at <= body.starts_at:
        raise Unprocessable("a flash sale ends after it starts")
    if body.ends_at <= datetime.now(UTC):
        raise Unprocessable("this flash sale would already be over")
    if body.per_buyer_limit > body.units:
        raise Unprocessable("the per-buyer limit cannot exceed the units on sale")
    async with db.acquire() as conn, conn.transaction():
        sku = await conn.fetchrow(q.SKU_FOR_SALE, body.sku_id)
        if sku is None or (vendor_id is not None and sku["vendor_id"] != vendor_id):
            raise NotFound("no such SKU")
        if not sku["visible"]:
            raise Conflict("list the product before putting it on sale")
        if body.sale_price >= sku["price"]:
            raise Unprocessable(f"the sale price must be below the list price ({sku['price']})")
        if body.units > sku["available"]:
            raise Conflict(f"only {sku['available']} available to put on sale", available=sku["available"])
        try:
            async with conn.transaction():
                sale_id = await conn.fetchval(
                    q.INSERT_SALE, sku["id"], sku["product_id"], sku["vendor_id"], body.sale_price, body.units,
                    body.per_buyer_limit, body.starts_at, body.ends_at, actor_id,
                )  # fmt: skip
        except asyncpg.ExclusionViolationError:
            raise Conflict("this SKU already has a flash sale at that time") from None
        sale = sale_out(await conn.fetchrow(q.GET_SALE, sale_id))
        await record_audit(conn, actor_id, "flash_sale.created", "flash_sale", sale_id, None, sale)
    await _rebuild_quietly(db, gate, sale_id)
    return sale


async def cancel(db: asyncpg.Pool, gate: Gate, actor_id: int, sale_id: int, vendor_id: int | None) -> FlashSaleOut:
    """Stop a sale that has not ended; orders already placed stand."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.GET_SALE, sale_id)
        if row is None or (vendor_id is not None and row["vendor_id"] != vendor_id):
            raise NotFound("no such flash sale")
        if await conn.fetchval(q.CANCEL_SALE, sale_id) is None:
            raise Conflict(f"this flash sale is {_status(row)} and cannot be cancelled")
        sale = sale_out(await conn.fetchrow(q.GET_SALE, sale_id))
        await record_audit(conn, actor_id, "flash_sale.cancelled", "flash_sale", sale_id, sale_out(row), sale)
    await _rebuild_quietly(db, gate, sale_id)
    return sale


async def _rebuild_quietly(db: asyncpg.Pool, gate: Gate, sale_id: int) -> None:
    try:
        await gate.rebuild(db, sale_id)
    except RedisError as exc:  # the keeper builds it once Redis answers again
        log.warning("flash sale %d: gate not rebuilt now: %s", sale_id, exc)


async def purchase(
    db: asyncpg.Pool,
    gate: Gate,
    batches: PurchaseBatches,
    settings: Settings,
    sale_id: int,
    buyer_id: int,
    ip: str,
    body: PurchaseIn,
    key: str | None,
    confirm_buyer: Callable[[], Awaitable[object]],
) -> Outcome:
    """Buy in a flash sale: the gate, then a batched transaction (batch.py); see the module docstring. A
    retry with the same Idempotency-Key gets the same checkout back (a replayed outcome), even once the
    buyer's limit is reached or the sale has sold out. Returns the checkout's outcome: status 201 and its JSON.

    The gate needs only the buyer's id (`buyer_id`, read from the signed token); `confirm_buyer` loads the
    caller (and checks the token against logouts, raising Unauthorized) and is awaited only for buyers the
    gate lets through, so turning the crowd away costs no database read (one indexed read of the key when a
    refused request carries one). An account disabled since its token was signed is therefore refused as
    sold out, not 401, once the sale is over: it learns nothing it could not read on the sale's page."""
    route, request_body = f"POST /flash-sales/{sale_id}/purchase", msgspec.json.encode(body)
    verdict = await _admit(db, gate, settings, sale_id, buyer_id, ip, body.quantity)
    if verdict.outcome != "admitted":
        if key is not None and verdict.outcome in REPLAYABLE:  # a retry of a purchase that went through?
            stored = await replay(db, buyer_id, route, key, request_body)
            if stored is not None:
                await confirm_buyer()
                return stored
        raise _verdict_error(verdict.outcome)
    try:
        await confirm_buyer()
        try:
            outcome = await batches.purchase(
                sale_id, buyer_id, body.address_id, body.quantity, route, key, request_body
            )
        except SaleRefused as exc:
            raise _verdict_error(exc.reason) from None
        except Conflict as exc:
            if "available" in exc.extra:  # the shelf ran out before the sale did
                raise Rejected("sold_out", "sold out") from exc
            raise
    except Rejected as exc:
        if exc.reason != "sold_out":  # a unit PostgreSQL refused as sold out is gone for the gate too
            await _release_quietly(gate, sale_id, buyer_id, body.quantity)
        raise
    except BaseException:
        await _release_quietly(gate, sale_id, buyer_id, body.quantity)
        raise
    if outcome.replayed:  # the units were taken by the first request
        await _release_quietly(gate, sale_id, buyer_id, body.quantity)
    return outcome


async def _admit(
    db: asyncpg.Pool, gate: Gate, settings: Settings, sale_id: int, buyer_id: int, ip: str, quantity: int
) -> Verdict:
    per_ip, per_buyer = settings.flash_sale_rate_per_ip, settings.flash_sale_rate_per_buyer
    try:
        for _ in range(GATE_ATTEMPTS):
            verdict = await gate.admit(sale_id, buyer_id, ip, quantity, per_ip, per_buyer)
            if verdict.outcome != "missing":
                count_flash_sale(verdict.outcome)
                return verdict
            per_ip = per_buyer = 0  # the same attempt, counted once
            if not await gate.build_once(db, sale_id):
                raise NotFound("no such flash sale")
    except RedisError as exc:
        log.warning("flash sale gate unavailable: %s", exc)
        count_flash_sale("unavailable")
        raise ServiceUnavailable("flash sales are catching their breath; try again in a moment", 1) from None
    count_flash_sale("unavailable")
    raise ServiceUnavailable("this flash sale is opening; try again in a moment", 1)


async def _release_quietly(gate: Gate, sale_id: int, buyer_id: int, quantity: int) -> None:
    try:
        await gate.release(sale_id, buyer_id, quantity)
    except RedisError as exc:  # the keeper finds gate and database disagreeing and rebuilds the gate
        log.warning("flash sale %d: admission not given back: %s", sale_id, exc)


def _verdict_error(outcome: str) -> Exception:
    match outcome:
        case "rate_limited":
            return TooManyRequests("too many attempts; slow down", retry_after=1)
        case "limit_reached":
            return Rejected("limit_reached", "limit reached: you hold as many units of this sale as one buyer may")
        case "not_started":
            return Rejected("not_started", "this flash sale has not started yet")
        case "ended":
            return Rejected("ended", "this flash sale has ended")
        case _:
            return Rejected("sold_out", "sold out")


async def return_units(conn: asyncpg.Connection, order_ids: list[int]) -> None:
    """Cancelled orders give their flash-sale units back (in the cancelling transaction, before any SKU is
    locked: purchases lock the sale first, then the SKU)."""
    sales = await conn.fetch(q.RETURN_UNITS, order_ids)
    await append_events(conn, [changed_event(sale) for sale in sales])
