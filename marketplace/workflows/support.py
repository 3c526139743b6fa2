"""What customer service does to orders and money, each in one transaction with its internal note and its audit
entry (reason included):

    cancel_with_refund  a paid, confirmed or accepted order cancelled as any cancellation is (order_moves.give_back:
                        units back on the shelf, promotions, the refund), by support (`Actor.ADMIN`)
    mark_lost           a shipped parcel the carrier lost: refunded (all that is left of what was paid, through the
                        payment and the ledger; the order is cancelled, its units are not restocked: they are gone)
                        or shipped again (the order goes back to accepted and the replacement units leave the shelf)
    decide_dispute      support's decision on a dispute: refund (capped by the payment's refund path at what is left
                        to refund), reship (as a lost parcel), reject or uphold; then disputes.settle records it

Order status is written only by `orders.actions.move`, after ORDER_MOVES allows the move."""

from __future__ import annotations

import asyncpg

from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound
from marketplace.core.states import Actor
from marketplace.disputes import DisputeKind, DisputeOutcome
from marketplace.disputes import service as disputes
from marketplace.disputes.schemas import DecisionIn, DisputeOut
from marketplace.inventory.service import move_on_hand
from marketplace.orders import OrderStatus, actions, read
from marketplace.orders.actions import ORDER_MOVES
from marketplace.orders.read import OrderDetail
from marketplace.payments.service import cancel_cash_order, refund
from marketplace.support import service as support
from marketplace.support.schemas import LostRemedy
from marketplace.workflows.order_moves import give_back

S = OrderStatus
STAFF = Actor.ADMIN


async def _lock(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record:
    order = await actions.lock_order(conn, order_id)
    if order is None:
        raise NotFound("no such order")
    return order


async def cancel_with_refund(db: asyncpg.Pool, support_id: int, order_id: int, reason: str) -> OrderDetail:
    """Cancel an order before shipment on the buyer's or the shop's behalf: what cancelling gives back (stock,
    promotions, the money of a paid order) as for any cancellation."""
    async with db.acquire() as conn, conn.transaction():
        order = await _lock(conn, order_id)
        current = S(order["status"])
        if current == S.SHIPPED:
            raise Conflict("this order is on its way: mark it lost in transit instead", order_status=current)
        ORDER_MOVES.check(current, S.CANCELLED, STAFF)
        refunded_before = await _refunded(conn, order)
        await give_back(conn, order, STAFF, support_id)
        await actions.move(conn, [order], S.CANCELLED, STAFF, actor_id=support_id, note=f"customer service: {reason}")
        refunded = await _refunded(conn, order) - refunded_before
        await support.write_note(conn, support_id, order_id, f"Cancelled: {reason}")
        await record_audit(conn, support_id, "support.order_cancelled", "order", order_id, {"status": current},
                           {"status": S.CANCELLED, "refunded": refunded, "reason": reason})  # fmt: skip
    return await read.order_for(db, order_id)


async def _refunded(conn: asyncpg.Connection, order: asyncpg.Record) -> int:
    payments = await support.payments_of(conn, order["checkout_id"])
    return sum(p.refunded_amount for p in payments)


async def _lost(conn: asyncpg.Connection, order: asyncpg.Record, support_id: int, remedy: LostRemedy, note: str) -> int:
    """A shipped order's parcel is lost: refund it and cancel it, or send it again. Returns the amount refunded."""
    current = S(order["status"])
    if current != S.SHIPPED:
        raise Conflict(f"only a shipped order can be lost in transit; this one is {current}", order_status=current)
    if remedy == LostRemedy.RESHIP:
        ORDER_MOVES.check(current, S.ACCEPTED, STAFF)
        for line in await read.lines_of_order(conn, order["id"]):  # SKU order, as checkouts lock them
            if not await move_on_hand(conn, line["sku_id"], -line["quantity"], "reshipped: lost in transit",
                                      support_id, order["id"]):  # fmt: skip
                raise Conflict("the shop has too few in stock to send the order again; refund it instead",
                               sku_id=line["sku_id"])  # fmt: skip
        await actions.move(
            conn, [order], S.ACCEPTED, STAFF, actor_id=support_id, note=f"lost in transit, reship: {note}"
        )
        return 0
    ORDER_MOVES.check(current, S.CANCELLED, STAFF)
    refunded = 0
    if order["cash_on_delivery"]:
        await cancel_cash_order(conn, order)  # no cash changed hands
    else:
        refunded = await refund(conn, order["checkout_id"], order["id"])  # all that is left of what was paid
    await actions.move(conn, [order], S.CANCELLED, STAFF, actor_id=support_id, note=f"lost in transit: {note}")
    return refunded


async def mark_lost(db: asyncpg.Pool, support_id: int, order_id: int, remedy: LostRemedy, reason: str) -> OrderDetail:
    async with db.acquire() as conn, conn.transaction():
        order = await _lock(conn, order_id)
        refunded = await _lost(conn, order, support_id, remedy, reason)
        done = "refunded and cancelled" if remedy == LostRemedy.REFUND else "sent back to the shop to ship again"
        await support.write_note(conn, support_id, order_id, f"Lost in transit, {done}: {reason}")
        await record_audit(conn, support_id, "support.lost_in_transit", "order", order_id,
                           {"status": order["status"], "tracking_number": order["tracking_number"]},
                           {"remedy": remedy, "refunded": refunded, "reason": reason})  # fmt: skip
    return await read.order_for(db, order_id)


async def decide_dispute(db: asyncpg.Pool, support_id: int, dispute_id: int, body: DecisionIn) -> DisputeOut:
    """Support decides a dispute. A refund is `amount` (default: all that is left of the order), refused if it
    exceeds what is left; refunding a not-received parcel in full treats it as lost (the order is cancelled)."""
    async with db.acquire() as conn, conn.transaction():
        row = await disputes.lock_for_decision(conn, dispute_id)
        disputes.check_outcome(row, body.outcome)
        if body.amount is not None and body.outcome != DisputeOutcome.REFUNDED:
            raise Conflict("an amount goes with a refund only")
        refunded, currency = 0, None
        if body.outcome in (DisputeOutcome.REFUNDED, DisputeOutcome.RESHIPPED):
            order = await _lock(conn, row["order_id"])
            currency = order["currency"]
            lost = row["kind"] == DisputeKind.NOT_RECEIVED and order["status"] == S.SHIPPED
            if body.outcome == DisputeOutcome.RESHIPPED:
                await _lost(conn, order, support_id, LostRemedy.RESHIP, f"dispute #{dispute_id}: {body.reason}")
            elif lost and body.amount is None:
                refunded = await _lost(
                    conn, order, support_id, LostRemedy.REFUND, f"dispute #{dispute_id}: {body.reason}"
                )
            else:  # through the payment, capped at what is left of what was paid (a 409 beyond it)
                refunded = await refund(conn, order["checkout_id"], order["id"], body.amount)
                if refunded == 0:
                    raise Conflict("nothing is left to refund on this order; reject or reship instead")
            await support.write_note(
                conn, support_id, order["id"], f"Dispute #{dispute_id} {body.outcome}: {body.reason}"
            )
        decided = await disputes.settle(conn, row, support_id, body.outcome, body.reason, refunded, currency)
        await record_audit(conn, support_id, "dispute.decided", "dispute", dispute_id, {"status": row["status"]},
                           {"outcome": body.outcome, "refunded": refunded, "reason": body.reason,
                            "order_id": row["order_id"]})  # fmt: skip
        return decided
