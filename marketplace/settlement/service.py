"""Settlement rules. Commission is worked out per order line (rounded half up to the cent) when the order
is paid, on what the line sells for: its total less the vendor's own coupon; shipping carries none. Money
off from the platform's coupons and points is the platform's cost (its `promotions` account), so the vendor
is paid as if at full price. Every money movement is one posting whose entries sum to zero (pd: the
order's platform-funded discount):

    payment   gateway +total   promotions +pd   vendor -(total + pd - commission)   commission -commission
    cash      vendor +(commission - pd)   promotions +pd   commission -commission   (the vendor kept the total)
    refund    the payment's posting for that order, reversed in proportion (cumulatively, for partial refunds)
    payout    vendor +amount          gateway -amount
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import asyncpg

from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.settlement import (
    GATEWAY,
    cash_collected_entries,
    payment_entries,
    refund_entries,
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
) -> None:
    assert sum(entries.values()) == 0, entries
    entries = {account: amount for account, amount in entries.items() if amount}  # no lines for nothing
    await conn.execute(
        q.INSERT_ENTRIES, uuid.uuid4(), currency, kind, order_id, payout_id, list(entries), list(entries.values())
    )


async def fix_commission(conn: asyncpg.Connection, order_ids: list[int]) -> None:
    """Work out each order's commission at the rates in force now (when it is paid or confirmed)."""
    commission: dict[int, int] = defaultdict(int)
    for line in await conn.fetch(q.LINE_RATES, order_ids):
        commission[line["order_id"]] += commission_of(line["line_total"], line["rate_bp"])
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


async def post_refund(conn: asyncpg.Connection, order_id: int, amount: int | None = None) -> None:
    """Refund `amount` of a paid order (all of it by default): the order's payment posting reversed in
    proportion, the commission share rounded half up to the cent."""
    order = await conn.fetchrow(q.ORDER_MONEY, order_id)
    amount = order["total"] if amount is None else amount
    entries = refund_entries(
        order["vendor_id"], order["total"], order["commission"], amount, order["platform_discount"], order["refunded"]
    )
    await _post(conn, entries, order["currency"], "refund", order_id)


async def balance(db: asyncpg.Pool | asyncpg.Connection, vendor_id: int, currency: str = "EUR") -> Balance:
    owed = -await db.fetchval(q.BALANCE, vendor_account(vendor_id), currency)
    return Balance(vendor_id, currency, owed)


async def statement(db: asyncpg.Pool, vendor_id: int, cursor: int | None, limit: int) -> list[StatementLine]:
    rows = await db.fetch(q.STATEMENT, vendor_account(vendor_id), cursor, limit + 1)
    return [StatementLine(**{**dict(r), "amount": -r["amount"]}) for r in rows]


async def pay_out(db: asyncpg.Pool, admin_id: int, body: PayoutIn) -> PayoutOut:
    async with db.acquire() as conn, conn.transaction():
        # The vendor row lock serialises payouts, so two at once cannot both spend the same balance.
        if await conn.fetchval(q.LOCK_VENDOR, body.vendor_id) is None:
            raise NotFound("no such vendor")
        owed = (await balance(conn, body.vendor_id, body.currency)).balance
        if body.amount > owed:
            raise Conflict(f"the vendor is owed {owed}; cannot pay out {body.amount}", balance=owed)
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
