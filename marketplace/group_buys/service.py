"""Group-buy rules: vendors schedule and cancel deals; buyers start and join groups, paying at join.

Joining is one transaction: a seat taken from the group with a conditional update (the group's row lock
queues a crowd, and `seats_taken < size` lets exactly as many in as there are seats), one from the buyer's
allowance in the deal, then an ordinary checkout of one unit at the group price, held for payment, which
reserves the unit on the shelf (orders/place_checkout.py). Paying is a normal payment; the payment calls
`member_paid`, and the payment that pays the last seat fills the group. Every member's unit was reserved
at join and sold at payment, so a filled group's orders can all be shipped: none can be oversold. Until the
group fills its orders wait (`check_may_proceed`: the vendor cannot accept them). A member whose payment
time runs out, or who cancels, gives the seat back (`members_left`). When the deadline passes unfilled,
the sweeper refunds every paid member in full (workflows/group_buys.py).

Every change of a group's figures writes `group_buy.changed` to the group's topic (its members and anyone
on its share page) and to the product's stock topic (the product page), in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.idempotency import Outcome, once
from marketplace.core.paging import Page, fetch_page
from marketplace.group_buys import queries as q
from marketplace.group_buys.schemas import DealIn, DealOut, GroupOut, JoinIn, JoinOut, MembershipOut
from marketplace.orders.place_checkout import place_one_line_checkout


class Refused(Conflict):
    """A join the group cannot take, with a machine-readable `reason`: full, closed, already_member,
    limit_reached, not_running."""

    def __init__(self, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason


def _deal_status(row: asyncpg.Record) -> str:
    if row["cancelled_at"] is not None:
        return "cancelled"
    if row["now"] >= row["ends_at"]:
        return "ended"
    return "scheduled" if row["now"] < row["starts_at"] else "live"


def deal_out(row: asyncpg.Record) -> DealOut:
    fields = {k: row[k] for k in DealOut.__struct_fields__ if k in row}
    return DealOut(**fields, status=_deal_status(row))  # type: ignore[arg-type]


def group_out(row: asyncpg.Record) -> GroupOut:
    fields = {k: row[k] for k in GroupOut.__struct_fields__ if k in row}
    return GroupOut(
        **fields,
        seats_left=row["size"] - row["seats_taken"],
        seconds_left=max(0.0, (row["expires_at"] - row["now"]).total_seconds()) if row["status"] == "open" else 0.0,
        share_path=f"/group-buys/{row['id']}",
    )


# The topics' names as GROUP_CHANGED builds them in SQL, taken from core/topics.py: group-buy:<id> and
# product:<id>:stock.
GROUP_TOPIC = topics.group_buy(0).removesuffix("0")
STOCK_TOPIC = topics.product_stock(0).split("0")


async def changed(conn: asyncpg.Connection, group_ids: list[int]) -> None:
    """`group_buy.changed` with each group's figures, on its own topic and its product's stock topic."""
    if not conn.is_in_transaction():
        raise RuntimeError("group_buy.changed must be written in the transaction that changes the group")
    if group_ids:
        await conn.execute(q.GROUP_CHANGED, group_ids, GROUP_TOPIC, *STOCK_TOPIC)


# Vendors' deals


async def create_deal(db: asyncpg.Pool, actor_id: int, vendor_id: int, body: DealIn) -> DealOut:
    if body.ends_at <= body.starts_at:
        raise Unprocessable("a group-buy deal ends after it starts")
    if body.ends_at <= datetime.now(UTC):
        raise Unprocessable("this deal would already be over")
    async with db.acquire() as conn, conn.transaction():
        sku = await conn.fetchrow(q.SKU_FOR_DEAL, body.sku_id)
        if sku is None or sku["vendor_id"] != vendor_id:
            raise NotFound("no such SKU")
        if not sku["visible"]:
            raise Conflict("list the product before offering it to groups")
        if body.group_price >= sku["price"]:
            raise Unprocessable(f"the group price must be below the list price ({sku['price']})")
        deal_id = await conn.fetchval(
            q.INSERT_DEAL, sku["id"], sku["product_id"], vendor_id, body.group_price, body.group_size,
            body.group_minutes, body.per_buyer_limit, body.starts_at, body.ends_at, actor_id,
        )  # fmt: skip
        deal = deal_out(await conn.fetchrow(q.GET_DEAL, deal_id))
        await record_audit(conn, actor_id, "group_buy_deal.created", "group_buy_deal", deal_id, None, deal)
    return deal


async def cancel_deal(db: asyncpg.Pool, actor_id: int, vendor_id: int, deal_id: int) -> DealOut:
    """No group starts any more; open groups close now, and the sweeper refunds their paid members."""
    async with db.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(q.GET_DEAL, deal_id)
        if before is None or before["vendor_id"] != vendor_id:
            raise NotFound("no such group-buy deal")
        if before["cancelled_at"] is not None:
            raise Conflict("this deal is already cancelled")
        closed = [r["id"] for r in await conn.fetch(q.CANCEL_DEAL, deal_id)]
        await changed(conn, closed)
        deal = deal_out(await conn.fetchrow(q.GET_DEAL, deal_id))
        old = deal_out(before)
        await record_audit(conn, actor_id, "group_buy_deal.cancelled", "group_buy_deal", deal_id, old, deal)
    return deal


async def vendor_deals(db: asyncpg.Pool, vendor_id: int, cursor: int | None, limit: int) -> Page[DealOut]:
    return await fetch_page(db, q.VENDOR_DEALS, vendor_id, cursor, limit=limit, convert=deal_out)


# What anyone sees


async def public_deals(db: asyncpg.Pool, product_id: int | None, cursor: int | None, limit: int) -> Page[DealOut]:
    return await fetch_page(db, q.PUBLIC_DEALS, product_id, cursor, limit=limit, convert=deal_out)


async def public_deal(db: asyncpg.Pool, deal_id: int) -> tuple[DealOut, list[GroupOut]]:
    """A deal and its open groups (soonest to close first), to join one or start another."""
    row = await db.fetchrow(q.GET_DEAL, deal_id)
    if row is None or not row["visible"]:
        raise NotFound("no such group-buy deal")
    return deal_out(row), [group_out(r) for r in await db.fetch(q.OPEN_GROUPS_OF_DEAL, deal_id)]


async def group(db: asyncpg.Pool | asyncpg.Connection, group_id: int) -> GroupOut:
    row = await db.fetchrow(q.PUBLIC_GROUP, group_id)
    if row is None:
        raise NotFound("no such group buy")
    return group_out(row)


async def my_groups(db: asyncpg.Pool, buyer_id: int, cursor: int | None, limit: int) -> Page[MembershipOut]:
    def convert(row: asyncpg.Record) -> MembershipOut:
        return MembershipOut(
            group_out(row), row["member_status"], row["checkout_id"], row["order_id"], row["joined_at"], row["paid_at"]
        )

    return await fetch_page(db, q.MY_GROUPS, buyer_id, cursor, limit=limit, convert=convert)


# Buyers: starting and joining


async def start(
    db: asyncpg.Pool, buyer_id: int, deal_id: int, body: JoinIn, key: str | None, hold_minutes: int
) -> Outcome:
    """Start a group of the deal and join it as its first member (one transaction: no empty group is left
    behind if the join is refused). Returns 201 with a JoinOut; a retry with the same key replays it."""
    route = f"POST /group-buys/deals/{deal_id}/groups"

    async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
        group_id = await conn.fetchval(q.START_GROUP, deal_id, buyer_id)
        if group_id is None:
            row = await conn.fetchrow(q.GET_DEAL, deal_id)
            if row is None or not row["visible"]:
                raise NotFound("no such group-buy deal")
            raise Refused("not_running", f"this deal is {_deal_status(row)}; no group can start now")
        return 201, msgspec.json.encode(await _join(conn, buyer_id, group_id, body.address_id, hold_minutes))

    return await once(db, buyer_id, route, key, msgspec.json.encode(body), work)


async def join(
    db: asyncpg.Pool, buyer_id: int, group_id: int, body: JoinIn, key: str | None, hold_minutes: int
) -> Outcome:
    """Join an open group: 201 with a JoinOut (the checkout to pay now); a retry with the same key replays it."""
    route = f"POST /group-buys/{group_id}/join"

    async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
        return 201, msgspec.json.encode(await _join(conn, buyer_id, group_id, body.address_id, hold_minutes))

    return await once(db, buyer_id, route, key, msgspec.json.encode(body), work)


async def _join(conn: asyncpg.Connection, buyer_id: int, group_id: int, address_id: int, hold_minutes: int) -> JoinOut:
    seat = await conn.fetchrow(q.TAKE_SEAT, group_id) if await conn.fetchval(q.HAS_SEAT, group_id) else None
    if seat is None:  # else TAKE_SEAT holds the group's row until commit
        raise await _seat_refusal(conn, group_id, buyer_id)
    # Under the group's lock, so a buyer's two joins at once are seen one after the other.
    if not await conn.fetchval(q.INSERT_MEMBER, group_id, buyer_id, seat["deal_id"]):
        raise Refused("already_member", "you are already in this group")
    if await conn.fetchval(q.COUNT_SEAT, seat["deal_id"], buyer_id, seat["per_buyer_limit"]) is None:
        raise Refused("limit_reached", f"one buyer may be in {seat['per_buyer_limit']} group(s) of this deal at a time")
    await changed(conn, [group_id])
    joined = await group(conn, group_id)
    # The checkout last: its reservation locks the deal's SKU row, which every join and payment of the deal
    # needs, so that row is held for one more statement only. The hold ends by the group's deadline: a
    # payment after it no longer fills the group and is refunded.
    hold_seconds = max(1, min(hold_minutes * 60, seat["seconds_left"]))
    checkout = await place_one_line_checkout(
        conn, buyer_id, address_id, seat["sku_id"], seat["group_price"], hold_seconds
    )
    await conn.execute(q.SET_MEMBER_CHECKOUT, group_id, buyer_id, checkout.id, checkout.orders[0].id)
    return JoinOut(joined, checkout)


async def _seat_refusal(conn: asyncpg.Connection, group_id: int, buyer_id: int) -> Exception:
    state = await conn.fetchrow(q.GROUP_STATE, group_id)
    if state is None:
        return NotFound("no such group buy")
    if await conn.fetchval(q.MEMBER_STATUS, group_id, buyer_id) in ("held", "paid"):  # a member's retry
        return Refused("already_member", "you are already in this group")
    if state["status"] == "filled":
        return Refused("full", "this group has filled; start a new one")
    if state["status"] == "expired" or state["past"] or state["cancelled"]:
        return Refused("closed", "this group has closed; start a new one")
    return Refused("full", "every seat in this group is taken; start a new one")


# What the other domains' moves call, inside their own transactions


async def member_paid(conn: asyncpg.Connection, checkout_id: int) -> None:
    """A checkout was paid (payments calls this before it sells the stock): if it is a member's, the group
    counts it, and fills if that was the last seat."""
    row = await conn.fetchrow(q.MEMBER_PAID, checkout_id)
    if row is not None:
        await changed(conn, [row["id"]])


async def members_left(conn: asyncpg.Connection, order_ids: list[int] | None) -> None:
    """Orders being cancelled (before any SKU is locked): their members' seats go back to open groups."""
    if order_ids:
        await changed(conn, [r["id"] for r in await conn.fetch(q.MEMBERS_LEFT, order_ids)])


async def is_member_checkout(conn: asyncpg.Connection, checkout_id: int) -> bool:
    return await conn.fetchval(q.IS_MEMBER_CHECKOUT, checkout_id)


async def check_may_proceed(conn: asyncpg.Connection, order_id: int) -> None:
    """A 409 while the order's group has not filled: its vendor ships only what a whole group bought."""
    if await conn.fetchval(q.WAITING_FOR_GROUP, order_id):
        raise Conflict("this order is part of a group buy that has not filled yet", reason="group_not_filled")


# The sweeper's side (workflows/group_buys.py refunds and cancels the orders)


async def due_groups(conn: asyncpg.Connection, batch: int) -> list[int]:
    return [r["id"] for r in await conn.fetch(q.DUE_GROUPS, batch)]


async def lock_for_expiry(conn: asyncpg.Connection, group_id: int) -> list[asyncpg.Record] | None:
    """Lock a due group's members' checkouts and orders, then the group (the lock order of queries.py): its members
    (buyer_id, checkout_id, order_id, status), or None if it is no longer due (it filled meanwhile).
    Members are read again under the group's lock, so a join that was committing is included."""
    await conn.fetch(q.LOCK_MEMBER_CHECKOUTS, group_id)
    if await conn.fetchval(q.LOCK_DUE_GROUP, group_id) is None:
        return None
    return await conn.fetch(q.LOCK_MEMBER_CHECKOUTS, group_id)


async def expire(conn: asyncpg.Connection, group_id: int) -> None:
    """Mark a locked group expired and its members refunded or gone, their allowances given back."""
    await conn.execute(q.EXPIRE_GROUP, group_id)
    await changed(conn, [group_id])
