"""Settlement rules. Commission is worked out per order line (rounded half up to the cent) when the order
is paid, on what the line sells for: its total less the vendor's own coupon; shipping carries none. Money
off from the platform's coupons and points is the platform's cost (its `promotions` account), so the vendor
is paid as if at full price. Every money movement is one posting whose entries sum to zero (pd: the
order's platform-funded discount):

    payment   gateway +total   promotions +pd   vendor -(total + pd - commission)   commission -commission
    cash      vendor +(commission - pd)   promotions +pd   commission -commission   (the vendor kept the total)
    refund    per order line (or the shipping): that line's share of the payment posting, reversed in
              proportion to the money given back for it (cumulatively, for partial refunds)
    payout    vendor +amount          gateway -amount

A refund is for named lines (after-sales) or for what is left of the order (a cancellation), and never more
than the buyer paid for what it covers: each line at most what was paid for it after its share of every
discount and points, the shipping at most its price, the order at most its total. Since each line's refund
reverses that line's own share of commission and of the platform's promotions, the vendor is debited exactly
what it was credited for what comes back, and refunding a whole order reverses its payment posting exactly.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

import asyncpg

from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.money import format_money
from marketplace.core.paging import Page, fetch_page
from marketplace.promotions.pricing import allocate
from marketplace.settlement import (
    GATEWAY,
    Part,
    cash_collected_entries,
    part_refund_entries,
    payment_entries,
    vendor_account,
)
from marketplace.settlement import queries as q
from marketplace.settlement.schemas import (
    AccountBalance,
    Balance,
    PayoutIn,
    PayoutOut,
    RateIn,
    RateOut,
    StatementLine,
    TrialBalance,
)


def commission_of(line_total: int, rate_bp: int) -> int:
    return (line_total * rate_bp + 5_000) // 10_000


async def _post(
    conn: asyncpg.Connection,
    entries: dict[str, int],
    currency: str,
    kind: str,
    order_id: int | None = None,
    payout_id: int | None = None,
    order_line_id: int | None = None,
) -> None:
    assert sum(entries.values()) == 0, entries
    entries = {account: amount for account, amount in entries.items() if amount}  # no lines for nothing
    await conn.execute(
        q.INSERT_ENTRIES, uuid.uuid4(), currency, kind, order_id, payout_id, list(entries), list(entries.values()),
        order_line_id,
    )  # fmt: skip


async def fix_commission(conn: asyncpg.Connection, order_ids: list[int]) -> None:
    """Work out each order's commission, line by line, at the rates in force now (when it is paid or
    confirmed); each line keeps its own, which its refunds reverse."""
    commission: dict[int, int] = defaultdict(int)
    lines: dict[int, int] = {}
    for line in await conn.fetch(q.LINE_RATES, order_ids):
        lines[line["id"]] = commission_of(line["line_total"], line["rate_bp"])
        commission[line["order_id"]] += lines[line["id"]]
    await conn.execute(q.SET_LINE_COMMISSIONS, list(lines), list(lines.values()))
    for order_id in order_ids:
        await conn.execute(q.SET_COMMISSION, order_id, commission[order_id])


async def post_payments(conn: asyncpg.Connection, order_ids: list[int]) -> None:
    """Paid orders: fix each one's commission and post what the vendor is now owed."""
    await fix_commission(conn, order_ids)
    for order_id in order_ids:
        order = await conn.fetchrow(q.ORDER_MONEY, order_id)
        entries = payment_entries(order["vendor_id"], order["total"], order["commission"], order["platform_discount"])
        await _post(conn, entries, order["currency"], "payment", order_id)


async def post_cash_collected(conn: asyncpg.Connection, order_id: int) -> None:
    """A cash-on-delivery order was paid to the vendor's courier: the vendor now owes the commission."""
    order = await conn.fetchrow(q.ORDER_MONEY, order_id)
    entries = cash_collected_entries(order["vendor_id"], order["commission"], order["platform_discount"])
    await _post(conn, entries, order["currency"], "cash_collected", order_id)


@dataclass(frozen=True)
class RefundPlan:
    """A refund checked against what was paid: the amount for each part (an order line id, None for the
    shipping) and whether it gives back the whole rest of the order."""

    order: asyncpg.Record
    parts: dict[int | None, Part]
    shares: dict[int | None, int]
    whole_rest: bool

    @property
    def amount(self) -> int:
        return sum(self.shares.values())


async def _parts(conn: asyncpg.Connection, order: asyncpg.Record) -> dict[int | None, Part]:
    """The order's lines and its shipping, each with what was paid for it and refunded so far."""
    lines = await conn.fetch(q.LINE_MONEY, order["id"])
    commission = {line["id"]: line["commission"] for line in lines}
    if None in commission.values():  # paid before lines kept their commission: spread the order's over them
        commission = allocate(order["commission"] or 0, {line["id"]: line["sells_for"] for line in lines})
    refunds = {r["order_line_id"]: r["refunded"] for r in await conn.fetch(q.REFUNDED_PER_LINE, order["id"])}
    parts: dict[int | None, Part] = {
        line["id"]: Part(line["paid"], line["platform_discount"], commission[line["id"]],
                         refunds.get(line["id"], 0), line["id"] in refunds)
        for line in lines
    }  # fmt: skip
    return parts | {None: Part(order["shipping_total"], refunded=refunds.get(None, 0), touched=None in refunds)}


async def plan_refund(
    conn: asyncpg.Connection, order_id: int, amount: int | None = None, lines: dict[int, int] | None = None
) -> RefundPlan:
    """Check a refund against what the buyer paid, before any money moves. `lines` (order line id → amount)
    names what the money is for, each at most what is left of what was paid for that line; without it,
    `amount` (None: all of it) is spread over what is left of the order's lines and shipping in proportion."""
    order = await conn.fetchrow(q.ORDER_MONEY, order_id)
    parts = await _parts(conn, order)
    order_left = max(0, order["total"] - order["refunded"])
    left = {key: part.left for key, part in parts.items()}
    currency = order["currency"]
    if lines is None:
        most = min(sum(left.values()), order_left)
        amount = most if amount is None else amount
        if amount > most:
            raise Conflict(f"only {format_money(most, currency)} of this order is left to refund", refundable=most)
        return RefundPlan(order, parts, dict(allocate(amount, left)), amount == most)
    for line_id, share in lines.items():
        if line_id not in parts or line_id is None:
            raise Unprocessable("that line is not part of this order", order_line_id=line_id)
        if share < 0 or share > left[line_id]:
            raise Conflict(
                f"only {format_money(left[line_id], currency)} of what was paid for that line is left to refund",
                order_line_id=line_id, refundable=left[line_id],
            )  # fmt: skip
    if sum(lines.values()) > order_left:
        raise Conflict(f"only {format_money(order_left, currency)} of this order is left to refund")
    return RefundPlan(order, parts, dict(lines), False)


async def post_refund(conn: asyncpg.Connection, plan: RefundPlan) -> None:
    """Post a planned refund: one posting per part it gives money back for, each reversing that part's own
    share of the payment posting. Giving back the whole rest of an order also reverses the lines the platform
    paid for entirely (their coupon and points left nothing to pay), so the order's payment is undone exactly."""
    order = plan.order
    for key, share in plan.shares.items():
        part = plan.parts[key]
        if share or (plan.whole_rest and part.paid == 0 and not part.touched):
            entries = part_refund_entries(order["vendor_id"], part, share)
            if any(entries.values()):
                await _post(conn, entries, order["currency"], "refund", order["id"], order_line_id=key)


async def balance(db: asyncpg.Pool | asyncpg.Connection, vendor_id: int, currency: str = "EUR") -> Balance:
    owed = -await db.fetchval(q.BALANCE, vendor_account(vendor_id), currency)
    held = await db.fetchval(q.HELD, vendor_account(vendor_id), currency)
    return Balance(vendor_id, currency, owed, min(max(owed, 0), held))


def _statement_line(row: asyncpg.Record) -> StatementLine:
    return StatementLine(**{**dict(row), "amount": -row["amount"]})


async def statement(db: asyncpg.Pool, vendor_id: int, cursor: int | None, limit: int) -> Page[StatementLine]:
    return await fetch_page(db, q.STATEMENT, vendor_account(vendor_id), cursor, limit=limit, convert=_statement_line)


async def payouts(db: asyncpg.Pool, vendor_id: int | None, cursor: int | None, limit: int) -> Page[PayoutOut]:
    """The payouts made to a shop (None: to every shop), newest first."""
    return await fetch_page(db, q.PAYOUTS, vendor_id, cursor, limit=limit,
                            convert=lambda row: PayoutOut(**dict(row)))  # fmt: skip


async def pay_out(db: asyncpg.Pool, admin_id: int, body: PayoutIn) -> PayoutOut:
    async with db.acquire() as conn, conn.transaction():
        # The vendor row lock serialises payouts, so two at once cannot both spend the same balance.
        if await conn.fetchval(q.LOCK_VENDOR, body.vendor_id) is None:
            raise NotFound("no such vendor")
        current = await balance(conn, body.vendor_id, body.currency)
        owed = current.balance
        if body.amount > owed - current.held:  # orders under risk review are not paid out until it ends
            owed_text, held_text, asked = (format_money(n, body.currency) for n in (owed, current.held, body.amount))
            held = f", {held_text} of it held by risk review" if current.held else ""
            raise Conflict(f"the vendor is owed {owed_text}{held}; cannot pay out {asked}", balance=owed,
                           held=current.held)  # fmt: skip
        payout = PayoutOut(
            **dict(await conn.fetchrow(q.INSERT_PAYOUT, body.vendor_id, body.amount, body.currency, admin_id))
        )
        entries = {vendor_account(body.vendor_id): body.amount, GATEWAY: -body.amount}
        await _post(conn, entries, body.currency, "payout", payout_id=payout.id)
        await record_audit(conn, admin_id, "payout.made", "vendor", body.vendor_id, {"balance": owed},
                           {"balance": owed - body.amount, "payout_id": payout.id})  # fmt: skip
    return payout


async def trial_balance(db: asyncpg.Pool) -> TrialBalance:
    accounts = [AccountBalance(**dict(r)) for r in await db.fetch(q.TRIAL_BALANCE)]
    return TrialBalance(accounts, sum(a.balance for a in accounts))


async def set_rate(db: asyncpg.Pool, admin_id: int, body: RateIn) -> RateOut:
    if (body.scope == "platform") != (body.scope_id == 0):
        raise Unprocessable("the platform rate has scope_id 0; vendor and category rates name their id")
    async with db.acquire() as conn, conn.transaction():
        if body.scope != "platform" and not await conn.fetchval(q.SCOPE_EXISTS[body.scope], body.scope_id):
            raise NotFound(f"no such {body.scope}")
        row = await conn.fetchrow(q.UPSERT_RATE, body.scope, body.scope_id, body.rate_bp)
        await record_audit(conn, admin_id, "commission.rate_set", body.scope, body.scope_id, None, dict(row))
    return RateOut(**dict(row))


async def rates(db: asyncpg.Pool) -> list[RateOut]:
    return [RateOut(**dict(r)) for r in await db.fetch(q.ALL_RATES)]
