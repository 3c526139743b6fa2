"""Coupon and loyalty rules: creating, claiming and issuing coupons, pricing a checkout's promotions, and
the points ledger. The arithmetic itself is in pricing.py; this module reads and writes.

Funding (documented in docs/promotions.md): a vendor's coupon is paid for by that vendor (commission is
charged on the discounted price); platform coupons and points are paid for by the platform, whose
`promotions` ledger account carries the cost while the vendor is paid as if at full price."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.events import append_events
from marketplace.core.paging import Page, fetch_page
from marketplace.promotions import pricing
from marketplace.promotions import queries as q
from marketplace.promotions.schemas import (
    CouponIn,
    CouponOut,
    Issued,
    LoyaltyEntry,
    LoyaltyOut,
    WalletCoupon,
)

TIER_RANK = {tier.name: n for n, tier in enumerate(pricing.TIERS)}


def coupon_out(row: asyncpg.Record) -> CouponOut:
    return CouponOut(**{k: row[k] for k in CouponOut.__struct_fields__})


def rule_of(row: asyncpg.Record) -> pricing.Rule:
    return pricing.Rule(
        row["kind"], row["scope"], frozenset(row["scope_ids"]), row["amount_off"], row["percent_bp"],
        row["max_discount"], row["min_spend"], row["buy_quantity"], row["free_quantity"],
    )  # fmt: skip


def _check_rule(body: CouponIn) -> None:
    if body.ends_at <= body.starts_at or body.ends_at <= datetime.now(UTC):
        raise Unprocessable("a coupon must end after it starts, and in the future")
    if (body.audience == "code") != (body.code is not None):
        raise Unprocessable("a code is given exactly for coupons claimed with one (audience 'code')")
    needs = {
        "threshold": body.amount_off > 0 and body.min_spend >= body.amount_off,
        "percent": body.percent_bp > 0,
        "fixed": body.amount_off > 0,
        "buy_x_get_y": body.buy_quantity > 0 and body.free_quantity > 0,
    }
    if not needs[body.kind]:
        raise Unprocessable(
            "threshold needs amount_off and a min_spend at least as large; percent needs percent_bp; "
            "fixed needs amount_off; buy_x_get_y needs buy_quantity and free_quantity"
        )
    if (body.scope == "platform") != (not body.scope_ids):
        raise Unprocessable("a platform coupon names no scope ids; vendor, category and product coupons name some")


async def create(db: asyncpg.Pool, actor_id: int, body: CouponIn, vendor_id: int | None) -> CouponOut:
    """A marketer's (platform-funded, any scope) or a vendor's (vendor-funded, its shop or its products)."""
    _check_rule(body)
    ids = sorted(set(body.scope_ids))
    async with db.acquire() as conn, conn.transaction():
        if vendor_id is not None:
            if body.scope not in ("vendor", "product") or (body.scope == "vendor" and ids != [vendor_id]):
                raise Unprocessable("a shop's coupon covers the shop (scope vendor, its id) or some of its products")
            if body.scope == "product" and await conn.fetchval(q.OWNED_PRODUCTS, ids, vendor_id) != len(ids):
                raise NotFound("no such product in your shop")
        elif body.scope != "platform":
            exists = {"vendor": q.VENDORS_EXIST, "category": q.CATEGORIES_EXIST, "product": q.PRODUCTS_EXIST}
            if await conn.fetchval(exists[body.scope], ids) != len(ids):
                raise NotFound(f"no such {body.scope} among scope_ids")
        try:
            row = await conn.fetchrow(
                q.INSERT_COUPON, body.code, body.name, body.kind, body.audience, body.scope, ids, body.amount_off,
                body.percent_bp, body.max_discount, body.min_spend, body.buy_quantity, body.free_quantity,
                body.min_tier, vendor_id, body.starts_at, body.ends_at, body.total_limit, body.per_buyer_limit,
                actor_id,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise Conflict("a coupon with this code exists") from None
        coupon = coupon_out(row)
        await record_audit(conn, actor_id, "coupon.created", "coupon", coupon.id, None, coupon)
    return coupon


async def listing(db: asyncpg.Pool, vendor_id: int | None, cursor: int | None, limit: int) -> Page[CouponOut]:
    """The coupons `vendor_id` funds, or with None the platform's own (a marketer never sees a shop's)."""
    return await fetch_page(db, q.COUPONS, vendor_id, cursor, limit=limit, convert=coupon_out)


async def _owned(conn: asyncpg.Connection, coupon_id: int, vendor_id: int | None) -> asyncpg.Record:
    """The coupon if `vendor_id` funds it (None: the platform); any other coupon is not found, so marketers'
    routes cannot reach a shop's coupon nor a shop's routes the platform's or another shop's."""
    row = await conn.fetchrow(q.GET_COUPON, coupon_id)
    if row is None or row["vendor_id"] != vendor_id:
        raise NotFound("no such coupon")
    return row


async def get(db: asyncpg.Pool, coupon_id: int, vendor_id: int | None) -> CouponOut:
    async with db.acquire() as conn:
        return await owned(conn, coupon_id, vendor_id)


async def owned(conn: asyncpg.Connection, coupon_id: int, vendor_id: int | None) -> CouponOut:
    """`get` inside the caller's transaction (a campaign reads the platform's coupon it issues)."""
    return coupon_out(await _owned(conn, coupon_id, vendor_id))


async def disable(db: asyncpg.Pool, actor_id: int, coupon_id: int, vendor_id: int | None) -> CouponOut:
    """No checkout uses it from now on; checkouts that used it stand."""
    async with db.acquire() as conn, conn.transaction():
        before = coupon_out(await _owned(conn, coupon_id, vendor_id))
        row = await conn.fetchrow(q.DISABLE_COUPON, coupon_id)
        if row is None:
            raise Conflict("this coupon is disabled already")
        await record_audit(conn, actor_id, "coupon.disabled", "coupon", coupon_id, before, coupon_out(row))
    return coupon_out(row)


async def claim(db: asyncpg.Pool, buyer_id: int, code: str) -> WalletCoupon:
    """Put a coupon in the buyer's wallet by its code (claiming twice changes nothing)."""
    async with db.acquire() as conn:
        row = await conn.fetchrow(q.COUPON_BY_CODE, code)
        if row is None or row["disabled_at"] is not None:
            raise NotFound("no such coupon code")
        if row["ends_at"] <= datetime.now(UTC):
            raise Conflict("this coupon has ended")
        await conn.execute(q.GRANT, row["id"], buyer_id)
    return next(w for w in await wallet(db, buyer_id) if w.coupon.id == row["id"])


async def issue(conn: asyncpg.Connection, actor_id: int, coupon_id: int, buyer_ids: list[int]) -> Issued:
    """Give a coupon to chosen buyers (a marketer's pick, or a segment's members) and tell those online:
    `coupon.issued` on each buyer's feed. Runs in the caller's transaction; buyers holding it already, or
    unknown, are skipped. Only platform coupons are issued: a shop's coupon is not found."""
    row = await _owned(conn, coupon_id, None)
    if row["disabled_at"] is not None or row["ends_at"] <= datetime.now(UTC):
        raise Conflict("this coupon is disabled or over")
    granted = [r["buyer_id"] for r in await conn.fetch(q.GRANT_MANY, coupon_id, sorted(set(buyer_ids)))]
    payload = {"coupon_id": coupon_id, "name": row["name"], "code": row["code"], "ends_at": row["ends_at"].isoformat()}
    await append_events(conn, [(topics.user(buyer), "coupon.issued", payload) for buyer in granted])
    await record_audit(conn, actor_id, "coupon.issued", "coupon", coupon_id, None, {"buyers": len(granted)})
    return Issued(coupon_id, len(granted))


async def issue_now(db: asyncpg.Pool, actor_id: int, coupon_id: int, buyer_ids: list[int]) -> Issued:
    async with db.acquire() as conn, conn.transaction():
        return await issue(conn, actor_id, coupon_id, buyer_ids)


def _why_not(row: asyncpg.Record, tier: str, now: datetime) -> str | None:
    if row["disabled_at"] is not None:
        return "disabled"
    if now < row["starts_at"]:
        return "not started"
    if now >= row["ends_at"]:
        return "ended"
    if row["times_used"] >= row["per_buyer_limit"]:
        return "used up"
    if row["total_limit"] is not None and row["redeemed"] >= row["total_limit"]:
        return "all claimed"
    if TIER_RANK[tier] < TIER_RANK[row["min_tier"]]:
        return f"needs the {row['min_tier']} tier"
    return None


async def wallet(db: asyncpg.Pool, buyer_id: int) -> list[WalletCoupon]:
    """The buyer's coupons, usable ones first, each with why it cannot be used now if it cannot."""
    now, tier = datetime.now(UTC), pricing.tier_for(await db.fetchval(q.TRAILING_SPEND, buyer_id)).name
    coupons = [
        WalletCoupon(coupon_out(r), (why := _why_not(r, tier, now)) is None, why, r["times_used"])
        for r in await db.fetch(q.WALLET, buyer_id)
    ]
    return sorted(coupons, key=lambda w: not w.usable)


async def loyalty(db: asyncpg.Pool, buyer_id: int, cursor: int | None, limit: int) -> LoyaltyOut:
    spend = await db.fetchval(q.TRAILING_SPEND, buyer_id)
    tier = pricing.tier_for(spend)
    above = [t for t in pricing.TIERS if t.trailing_spend > spend]
    history = [LoyaltyEntry(**dict(r)) for r in await db.fetch(q.LOYALTY_HISTORY, buyer_id, cursor, limit)]
    return LoyaltyOut(
        balance=await db.fetchval(q.POINTS_BALANCE, buyer_id),
        point_value=pricing.POINT_VALUE,
        tier=tier.name,
        trailing_spend=spend,
        next_tier=above[0].name if above else None,
        spend_to_next_tier=above[0].trailing_spend - spend if above else None,
        history=history,
    )


@dataclass
class Quote:
    """A checkout's promotions: money off per SKU line, by funder, and what to record once placed."""

    vendor_discount: dict[int, int] = field(default_factory=dict)
    platform_discount: dict[int, int] = field(default_factory=dict)
    coupon_id: int | None = None
    coupon_amount: int = 0
    limited: bool = False  # the coupon has a total limit, counted on its row
    points: int = 0

    @property
    def total(self) -> int:
        return sum(self.vendor_discount.values()) + sum(self.platform_discount.values())


async def quote(
    conn: asyncpg.Connection, buyer_id: int, skus: list[Any], code: str | None, points: int, running: bool
) -> Quote:
    """Price the checkout's promotions (inside its transaction, under the cart's lock): the coupon given by
    `code`, or else the best of the automatic discounts running and the coupons in the buyer's wallet (issued
    to them or claimed), then points, leaving at least a cent to pay."""
    lines = [pricing.Line(s["sku_id"], s["vendor_id"], s["product_id"], frozenset(), s["unit_price"], s["quantity"])
             for s in skus]  # fmt: skip
    result = Quote(dict.fromkeys((x.key for x in lines), 0), dict.fromkeys((x.key for x in lines), 0))
    items = sum(x.amount for x in lines)
    if code is not None or running:
        candidates = await conn.fetch(q.CHECKOUT_COUPONS, code, buyer_id)
        if code is not None and not candidates:
            raise Unprocessable("no such coupon code, or it is not running now")
        if any(c["scope"] == "category" for c in candidates):
            rows = await conn.fetch(q.PRODUCT_CATEGORIES, [x.product_id for x in lines])
            paths = {r["id"]: frozenset(r["categories"]) for r in rows}
            lines = [replace(x, categories=paths.get(x.product_id, frozenset())) for x in lines]
        best = await _best_coupon(conn, buyer_id, candidates, lines, strict=code is not None)
        if best is not None:
            coupon, shares = best
            off = min(sum(shares.values()), items - 1)
            shares = pricing.allocate(off, shares) if off < sum(shares.values()) else shares
            funded = result.vendor_discount if coupon["vendor_id"] is not None else result.platform_discount
            funded.update(shares)
            result.coupon_id, result.coupon_amount = coupon["id"], off
            result.limited = coupon["total_limit"] is not None
    if points:
        payable = {x.key: x.amount - result.vendor_discount[x.key] - result.platform_discount[x.key] for x in lines}
        balance = await conn.fetchval(q.POINTS_BALANCE, buyer_id)
        result.points = pricing.redeemable_points(balance, points, sum(payable.values()))
        if result.points < points:
            raise Unprocessable(
                f"you may spend at most {result.points} points on this checkout (balance {balance}; points pay at "
                f"most {pricing.POINTS_MAX_SHARE_BP // 100}% of the items)",
                points_allowed=result.points,
            )
        for key, share in pricing.allocate(result.points * pricing.POINT_VALUE, payable).items():
            result.platform_discount[key] += share
    return result


async def _best_coupon(
    conn: asyncpg.Connection, buyer_id: int, candidates: list[asyncpg.Record], lines: list[pricing.Line], strict: bool
) -> tuple[asyncpg.Record, dict[int, int]] | None:
    """The usable coupon taking the most off (the one named, when `strict`: then any reason it cannot be
    used is an error)."""
    tier = None
    usable = []
    for coupon in candidates:
        reason = None
        if coupon["audience"] == "issued" and not coupon["granted"]:
            reason = "this coupon was not issued to you"
        elif coupon["times_used"] >= coupon["per_buyer_limit"]:
            reason = "you have used this coupon as often as allowed"
        elif coupon["total_limit"] is not None and coupon["redeemed"] >= coupon["total_limit"]:
            reason = "this coupon has been used up"
        elif coupon["min_tier"] != "member":
            tier = tier or pricing.tier_for(await conn.fetchval(q.TRAILING_SPEND, buyer_id)).name
            if TIER_RANK[tier] < TIER_RANK[coupon["min_tier"]]:
                reason = f"this coupon is for {coupon['min_tier']} members"
        shares = pricing.spread_coupon(rule_of(coupon), lines) if reason is None else {}
        if reason is None and not sum(shares.values()):
            reason = "nothing in your cart qualifies for this coupon"
        if reason is not None:
            if strict:
                raise Unprocessable(reason)
            continue
        usable.append((sum(shares.values()), coupon, shares))
    if not usable:
        return None
    _, coupon, shares = max(usable, key=lambda u: (u[0], -u[1]["id"]))
    return coupon, shares


async def record(conn: asyncpg.Connection, result: Quote, checkout_id: int, buyer_id: int) -> None:
    """Write what the checkout used: the coupon (counted against its total limit on its row) and the points."""
    if result.coupon_id is not None:
        if result.limited and await conn.fetchval(q.TAKE_COUPON, result.coupon_id) is None:
            raise Conflict("this coupon has just been used up")
        await conn.execute(q.INSERT_REDEMPTION, checkout_id, result.coupon_id, buyer_id, result.coupon_amount)
    if result.points:
        await conn.execute(q.POST_POINTS, buyer_id, -result.points, "spent", checkout_id, None, "")


async def release_order(conn: asyncpg.Connection, checkout_id: int, order_id: int) -> None:
    """One unpaid order of a checkout is cancelled: its share of the points spent comes back (in proportion
    to its total, cumulatively over the checkout's cancelled orders)."""
    checkout = await conn.fetchrow(q.CHECKOUT_POINTS, checkout_id, order_id)
    if checkout["points_spent"]:
        back = pricing.reversal(checkout["points_spent"], checkout["grand_total"], checkout["cancelled_before"],
                                checkout["order_total"])  # fmt: skip
        await conn.execute(q.POST_POINTS, checkout["buyer_id"], back, "returned", checkout_id, order_id, "unpaid")


async def release(conn: asyncpg.Connection, checkout_id: int) -> None:
    """An unpaid checkout expired or was cancelled whole: its coupon use and the points still held come back."""
    await conn.execute(q.RELEASE_REDEMPTION, checkout_id)
    checkout = await conn.fetchrow(q.CHECKOUT_POINTS, checkout_id, None)
    held = checkout["points_spent"] - checkout["returned"]
    if held > 0:
        await conn.execute(q.POST_POINTS, checkout["buyer_id"], held, "returned", checkout_id, None, "unpaid")


async def earn(conn: asyncpg.Connection, order_ids: list[int]) -> None:
    """Completed orders earn their buyers points on what was paid for items (less refunds so far), at the
    rate of the buyer's tier; each order earns once."""
    for order in await conn.fetch(q.ORDERS_TO_EARN, order_ids):
        tier = pricing.tier_for(await conn.fetchval(q.TRAILING_SPEND, order["buyer_id"]))
        points = pricing.points_earned(max(0, order["paid_for_items"] - order["refunded"]), tier)
        if points:
            await conn.execute(q.POST_POINTS, order["buyer_id"], points, "earned", None, order["id"], "")


async def on_refund(
    conn: asyncpg.Connection, checkout_id: int, order_id: int, paid: int, before: int, amount: int
) -> None:
    """`amount` of an order is refunded, `before` having been refunded from the checkout's payment of `paid`:
    points spent on the checkout come back and points the order earned are clawed back, in proportion and
    cumulatively, so refunding everything reverses both exactly (a balance may go below zero)."""
    checkout = await conn.fetchrow(q.CHECKOUT_POINTS, checkout_id, order_id)
    if back := pricing.reversal(checkout["points_spent"], paid, before, amount):
        ref = f"refund:{before + amount}"
        await conn.execute(q.POST_POINTS, checkout["buyer_id"], back, "returned", checkout_id, order_id, ref)
    if checkout["earned"]:
        claw = pricing.reversal(checkout["earned"], checkout["order_total"], checkout["order_refunded"], amount)
        ref = f"refund:{checkout['order_refunded'] + amount}"
        await conn.execute(q.POST_POINTS, checkout["buyer_id"], -claw, "clawed_back", None, order_id, ref)
