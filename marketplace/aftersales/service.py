"""After-sales rules: who may do what in which state (the package's TRANSITIONS, asked by `_move`, the one write
of a request's status), the return window, claimable quantities, what a claim is worth (what the buyer paid for
those units, claims.py), exchanges for another variant of the same product, refunds through the payment
(partial allowed, never more than the request covers), restocking, and an admin overturning a rejection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from marketplace.aftersales import TRANSITIONS, Kind, Status, reaches
from marketplace.aftersales import queries as q
from marketplace.aftersales.claims import split_refund, units_paid
from marketplace.aftersales.schemas import LineOut, MessageOut, OverturnIn, RequestIn, RequestOut
from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from marketplace.core.events import append_events
from marketplace.core.money import format_money
from marketplace.core.paging import Page, fetch_page
from marketplace.core.states import Actor
from marketplace.inventory.service import move_on_hand
from marketplace.payments.service import refund


@dataclass(frozen=True)
class Party:
    """Who acts on a request: its buyer, the order's vendor, or an admin."""

    user_id: int
    role: Actor  # buyer | vendor | admin
    vendor_id: int | None = None


# action → (the state it starts from, when the action names one move of several into its state; the state it
# leads to). Who may make a move, and from where, is TRANSITIONS'; which kinds reach a state, KINDS_REACHING's.
ACTIONS: dict[str, tuple[Status | None, Status]] = {
    "approve": (Status.REQUESTED, Status.APPROVED),
    "reject": (None, Status.REJECTED),
    "withdraw": (None, Status.WITHDRAWN),
    "return_shipped": (None, Status.RETURN_SHIPPED),
    "received": (None, Status.RETURN_RECEIVED),
    "refund": (None, Status.REFUNDED),
    "ship_replacement": (None, Status.REPLACEMENT_SHIPPED),
    "overturn": (Status.REJECTED, Status.APPROVED),  # with a reason and audited: `overturn`
}


def _visible(row: asyncpg.Record, party: Party) -> bool:
    if party.role == Actor.ADMIN:
        return True
    if party.role == Actor.BUYER:
        return row["buyer_id"] == party.user_id
    return row["vendor_id"] == party.vendor_id


async def _out(conn: asyncpg.Connection | asyncpg.Pool, request_id: int) -> RequestOut:
    row = await conn.fetchrow(q.GET_REQUEST, request_id)
    lines = [LineOut(**dict(r)) for r in await conn.fetch(q.REQUEST_LINES, request_id)]
    messages = [MessageOut(**dict(r)) for r in await conn.fetch(q.REQUEST_MESSAGES, request_id)]
    return RequestOut(**dict(row), lines=lines, messages=messages)


def _events(row: asyncpg.Record, status: Status, extra: dict[str, object] | None = None) -> list:
    payload = {"request_id": row["id"], "order_id": row["order_id"], "status": status, **(extra or {})}
    return [
        (topics.vendor_aftersales(row["vendor_id"]), f"aftersales.{status}", payload),
        (topics.user_orders(row["buyer_id"]), f"aftersales.{status}", payload),
    ]


async def open_request(db: asyncpg.Pool, buyer_id: int, order_id: int, body: RequestIn, window_days: int) -> RequestOut:
    async with db.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(q.ORDER_FOR_REQUEST, order_id)
        if order is None or order["buyer_id"] != buyer_id:
            raise NotFound("no such order")
        if order["status"] not in ("delivered", "completed") or order["delivered_at"] is None:
            raise Conflict("after-sales requests open once the order has been delivered")
        extended = order["window_until"] is not None and datetime.now(UTC) <= order["window_until"]  # by support
        if datetime.now(UTC) - order["delivered_at"] > timedelta(days=window_days) and not extended:
            raise Conflict(f"the {window_days}-day window after delivery has closed")
        wanted: dict[int, int] = {}
        for line in body.lines:
            wanted[line.order_line_id] = wanted.get(line.order_line_id, 0) + line.quantity
        lines, paid = await _claim(conn, order_id, wanted)
        replacements = await _replacements(conn, body, lines)
        cap = 0 if body.kind == Kind.EXCHANGE else sum(paid.values())
        request_id = await conn.fetchval(
            q.INSERT_REQUEST, order_id, buyer_id, order["vendor_id"], body.kind, body.reason, cap
        )
        await conn.execute(
            q.INSERT_LINES, request_id, list(wanted), list(wanted.values()), [paid[i] for i in wanted],
            [replacements.get(i) for i in wanted],
        )  # fmt: skip
        if body.message:
            await conn.execute(q.INSERT_MESSAGE, request_id, buyer_id, "buyer", body.message)
        row = await conn.fetchrow(q.GET_REQUEST, request_id)
        await append_events(conn, _events(row, Status.REQUESTED, {"kind": body.kind}))
        return await _out(conn, request_id)


async def _claim(
    conn: asyncpg.Connection, order_id: int, wanted: dict[int, int], request_id: int | None = None
) -> tuple[dict[int, asyncpg.Record], dict[int, int]]:
    """Check that the units `wanted` per order line can still be claimed (besides by `request_id`), and work
    out what the buyer paid for them: the order's lines, and that amount per line wanted."""
    lines = {r["id"]: r for r in await conn.fetch(q.CLAIMABLE_LINES, order_id, request_id)}
    paid = {}
    for line_id, quantity in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise Unprocessable("that line is not part of this order", order_line_id=line_id)
        if quantity > line["claimable"]:
            raise Conflict(f"only {line['claimable']} of that line can still be claimed", order_line_id=line_id)
        paid[line_id] = units_paid(line["paid"], line["quantity"], line["claimable"], line["committed"], quantity)
    return lines, paid


async def _replacements(conn: asyncpg.Connection, body: RequestIn, lines: dict[int, asyncpg.Record]) -> dict[int, int]:
    """The variant an exchange sends instead, per order line: another SKU of the same product. Only an exchange
    names one, and it must."""
    named = [line for line in body.lines if line.replacement_sku_id is not None]
    if body.kind != Kind.EXCHANGE:
        if named:
            raise Unprocessable("only an exchange names a replacement_sku_id")
        return {}
    chosen: dict[int, int] = {}
    for line in body.lines:
        bought = lines[line.order_line_id]
        if line.replacement_sku_id is None:
            others = [r["id"] for r in await conn.fetch(q.OTHER_SKUS, bought["product_id"], bought["sku_id"])]
            if not others:
                raise Unprocessable(
                    "this product comes in one variant only, so it cannot be exchanged; ask for a return instead",
                    order_line_id=line.order_line_id,
                )
            raise Unprocessable(
                "an exchange names the variant wanted instead (replacement_sku_id)",
                order_line_id=line.order_line_id, variants=others,
            )  # fmt: skip
        if line.replacement_sku_id == bought["sku_id"]:
            raise Unprocessable(
                "an exchange is for a different variant; for the same one, ask for a return",
                order_line_id=line.order_line_id,
            )
        if await conn.fetchval(q.SKU_PRODUCT, line.replacement_sku_id) != bought["product_id"]:
            raise Unprocessable(
                "no such variant of this product", order_line_id=line.order_line_id,
                replacement_sku_id=line.replacement_sku_id,
            )  # fmt: skip
        if chosen.setdefault(line.order_line_id, line.replacement_sku_id) != line.replacement_sku_id:
            raise Unprocessable("one replacement variant per order line", order_line_id=line.order_line_id)
    return chosen


async def get(db: asyncpg.Pool, party: Party, request_id: int) -> RequestOut:
    row = await db.fetchrow(q.GET_REQUEST, request_id)
    if row is None or not _visible(row, party):
        raise NotFound("no such after-sales request")
    return await _out(db, request_id)


async def listing(
    db: asyncpg.Pool, party: Party, status: Status | None, cursor: int | None, limit: int
) -> Page[RequestOut]:
    buyer = party.user_id if party.role == Actor.BUYER else None
    vendor = party.vendor_id if party.role == Actor.VENDOR else None
    rows = await fetch_page(db, q.LIST_REQUESTS, buyer, vendor, status, cursor, limit=limit)
    return Page([await _out(db, r["id"]) for r in rows.items], rows.next_cursor)


async def post_message(db: asyncpg.Pool, party: Party, request_id: int, body: str) -> RequestOut:
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.REQUEST_FOR_UPDATE, request_id)
        if row is None or not _visible(row, party):
            raise NotFound("no such after-sales request")
        await conn.execute(q.INSERT_MESSAGE, request_id, party.user_id, party.role, body)
        await append_events(conn, _events(row, Status(row["status"]), {"message_from": party.role}))
        return await _out(conn, request_id)


async def act(
    db: asyncpg.Pool,
    party: Party,
    request_id: int,
    action: str,
    *,
    note: str | None = None,
    carrier: str | None = None,
    tracking: str | None = None,
    restock: bool = False,
    amount: int | None = None,
) -> RequestOut:
    async with db.acquire() as conn, conn.transaction():
        await _move(conn, party, request_id, action, note=note, carrier=carrier, tracking=tracking,
                    restock=restock, amount=amount)  # fmt: skip
        return await _out(conn, request_id)


async def overturn(db: asyncpg.Pool, party: Party, request_id: int, body: OverturnIn) -> RequestOut:
    """An admin overrules a rejection (the vendor's, or another admin's): the request is approved again, with
    the reason as its decision note and in its thread, and with `refund` refunded at once. Its units must
    still be free (the buyer may have asked again meanwhile: decide that request instead); what they are worth
    is worked out anew. Audit-logged with the decision."""
    async with db.acquire() as conn, conn.transaction():
        before = await _move(conn, party, request_id, "overturn", note=body.reason)
        await conn.execute(q.INSERT_MESSAGE, request_id, party.user_id, party.role,
                           f"The marketplace overturned the rejection: {body.reason}")  # fmt: skip
        if body.refund:
            await _move(conn, party, request_id, "refund", amount=body.amount)
        after = await conn.fetchrow(q.GET_REQUEST, request_id)
        await record_audit(
            conn, party.user_id, "aftersales.rejection_overturned", "aftersales_request", request_id,
            {"status": before["status"], "decision_note": before["decision_note"]},
            {"status": after["status"], "reason": body.reason, "refund_cap": after["refund_cap"],
             "refunded_amount": after["refunded_amount"]},
        )  # fmt: skip
        return await _out(conn, request_id)


async def _move(
    conn: asyncpg.Connection,
    party: Party,
    request_id: int,
    action: str,
    *,
    note: str | None = None,
    carrier: str | None = None,
    tracking: str | None = None,
    restock: bool = False,
    amount: int | None = None,
) -> asyncpg.Record:
    """Make one move of ACTIONS on a request (in the caller's transaction), with its effects: refunds, stock,
    events. The one write of a request's status: TRANSITIONS must allow the move. Returns the request as it
    was before."""
    start, target = ACTIONS[action]
    actor = Actor(party.role)
    row = await conn.fetchrow(q.REQUEST_FOR_UPDATE, request_id)
    if row is None or not _visible(row, party):
        raise NotFound("no such after-sales request")
    may_start = TRANSITIONS.sources(target, actor)
    if not (may_start if start is None else may_start & {start}):  # never this actor's move, from any state
        raise Forbidden(f"a {actor} cannot {action.replace('_', ' ')} a request")
    current, kind = Status(row["status"]), Kind(row["kind"])
    if not reaches(kind, target) or start not in (None, current):
        raise Conflict(f"a {current} {kind} request cannot be moved by '{action}'", request_status=current)
    TRANSITIONS.check(current, target, actor)
    refunded = 0
    extra: dict[str, object] = {}
    if action == "overturn":
        await _reclaim(conn, row)
    if action == "refund":
        refunded, currency = await _refund(conn, row, amount)
        extra = {"refunded": refunded, "currency": currency}
    if action == "received" and restock:
        await _move_stock(conn, row, party.user_id, +1, "return received")
    if action == "ship_replacement":
        await _move_stock(conn, row, party.user_id, -1, "exchange replacement")
    replacement = tracking if action == "ship_replacement" else None
    return_tracking = tracking if action == "return_shipped" else None
    await conn.execute(
        q.UPDATE_REQUEST, request_id, target, note, carrier if return_tracking else None, return_tracking,
        replacement, action == "received" and restock, refunded,
    )  # fmt: skip
    await append_events(conn, _events(row, target, extra))
    return row


async def _refund(conn: asyncpg.Connection, row: asyncpg.Record, amount: int | None) -> tuple[int, str]:
    """Refund `amount` (all it covers by default) of a request through the payment, spread over its lines in
    proportion to what was paid for each: the payment and the ledger check it against what the buyer paid for
    each line. A request whose units were paid for entirely by promotions is closed with nothing to refund."""
    order = await conn.fetchrow(q.ORDER_CHECKOUT, row["order_id"])
    left = row["refund_cap"] - row["refunded_amount"]
    refunded = left if amount is None else amount
    if left == 0 and amount is None:
        return 0, order["currency"]
    if refunded <= 0 or refunded > left:
        money = (format_money(n, order["currency"]) for n in (1, left))
        raise Unprocessable("refund between {} and {}".format(*money), refundable=left)
    paid = {line["order_line_id"]: line["paid"] for line in await conn.fetch(q.REQUEST_LINES, row["id"])}
    await refund(conn, order["checkout_id"], row["order_id"], lines=split_refund(refunded, paid))
    return refunded, order["currency"]


async def _reclaim(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    """A rejected request comes back: its units must still be free, and what they are worth is worked out
    again against the requests made since."""
    wanted = {line["order_line_id"]: line["quantity"] for line in await conn.fetch(q.REQUEST_LINES, row["id"])}
    _, paid = await _claim(conn, row["order_id"], wanted, row["id"])
    await conn.execute(q.SET_LINES_PAID, row["id"], list(paid), list(paid.values()))
    if row["kind"] != Kind.EXCHANGE:
        await conn.execute(q.SET_REFUND_CAP, row["id"], sum(paid.values()))


async def _move_stock(conn: asyncpg.Connection, row: asyncpg.Record, actor_id: int, sign: int, reason: str) -> None:
    """Returned units back on the shelf (+1), or an exchange's replacement variant off it (-1)."""
    for line in await conn.fetch(q.REQUEST_LINES, row["id"]):
        sku_id = line["sku_id"] if sign > 0 else line["replacement_sku_id"] or line["sku_id"]
        if not await move_on_hand(conn, sku_id, sign * line["quantity"], reason, actor_id, row["order_id"]):
            raise Conflict(f"not enough of the replacement for {line['title']} in stock", sku_id=sku_id)
