"""The only code that changes an order's or a checkout's status.

`ORDER_MOVES` and `CHECKOUT_MOVES` are the two state machines (who may make which move); `move` checks a
move against the table and writes the new status, the history entry and the two feed events (the vendor's
and the buyer's, one payload shape for every move) in one statement. Payments, the sweeper, cancellations
and deliveries (`marketplace/workflows/`) all come through here; placing a checkout (place_checkout.py)
writes each order's first status and history entry. What a move sets off in other packages (refunds,
restocking, promotions, flash-sale units, cash collected) is the workflows' business, not this module's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from marketplace.core import topics
from marketplace.core.states import Actor, StateMachine
from marketplace.orders import CheckoutStatus, OrderStatus
from marketplace.orders import queries as q

S = OrderStatus
A = Actor
ORDER_MOVES = StateMachine[OrderStatus](
    "order",
    {
        (S.PENDING_PAYMENT, S.PAID): {A.SYSTEM},  # the payment arrived
        (S.PENDING_PAYMENT, S.CONFIRMED): {A.BUYER},  # the buyer chose cash on delivery
        (S.PENDING_PAYMENT, S.CANCELLED): {A.BUYER, A.SYSTEM},  # the system: payment time ran out
        (S.PAID, S.ACCEPTED): {A.VENDOR},
        (S.CONFIRMED, S.ACCEPTED): {A.VENDOR},
        (S.ACCEPTED, S.SHIPPED): {A.VENDOR},
        (S.SHIPPED, S.DELIVERED): {A.VENDOR, A.SYSTEM},  # the system: an integrated carrier's delivered event
        (S.DELIVERED, S.COMPLETED): {A.BUYER, A.SYSTEM},  # the system: the buyer never confirmed
        (S.CONFIRMED, S.CANCELLED): {A.BUYER, A.VENDOR, A.ADMIN},
        # The vendor: rejecting the order; the system: its group buy did not fill in time; admin: customer service.
        (S.PAID, S.CANCELLED): {A.BUYER, A.VENDOR, A.SYSTEM, A.ADMIN},
        (S.ACCEPTED, S.CANCELLED): {A.BUYER, A.VENDOR, A.ADMIN},
        # Customer service (support staff act as admin) and a parcel the carrier lost: refunded, or sent again.
        (S.SHIPPED, S.CANCELLED): {A.ADMIN},
        (S.SHIPPED, S.ACCEPTED): {A.ADMIN},
    },
    status_field="order_status",
)
# Why the system cancels an unpaid order (the sweeper writes it; the seed's expired checkouts say the same).
EXPIRY_REASON = "payment not received in time"

C = CheckoutStatus
CHECKOUT_MOVES = StateMachine[CheckoutStatus](
    "checkout",
    {
        (C.PENDING_PAYMENT, C.PAID): {A.SYSTEM},
        (C.PENDING_PAYMENT, C.CASH_ON_DELIVERY): {A.BUYER},
        (C.PENDING_PAYMENT, C.EXPIRED): {A.SYSTEM},
        (C.PENDING_PAYMENT, C.CANCELLED): {A.BUYER},  # its last open order was cancelled before payment
    },
)


@dataclass(frozen=True)
class Shipment:
    carrier: str
    tracking_number: str
    estimated_arrival: date | None


async def lock_order(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record | None:
    """The order, locked until the caller's transaction ends (None if there is no such order)."""
    return await conn.fetchrow(q.ORDER_FOR_UPDATE, order_id)


async def lock_open_orders(conn: asyncpg.Connection, checkout_id: int, status: OrderStatus) -> list[asyncpg.Record]:
    """The checkout's orders in `status`, locked in id order."""
    return await conn.fetch(q.ORDERS_OF_CHECKOUT_IN_STATUS_FOR_UPDATE, checkout_id, status)


async def lock_expired_checkouts(conn: asyncpg.Connection, batch: int) -> list[asyncpg.Record]:
    """Up to `batch` unpaid checkouts past their payment time, locked; those another worker holds are skipped."""
    return await conn.fetch(q.EXPIRED_CHECKOUTS, batch)


async def lock_due_for_completion(conn: asyncpg.Connection, after_days: int, batch: int) -> list[asyncpg.Record]:
    """Up to `batch` orders delivered more than `after_days` ago and never confirmed, locked (skipping held ones)."""
    return await conn.fetch(q.DUE_FOR_COMPLETION, after_days, batch)


async def move(
    conn: asyncpg.Connection,
    orders: Sequence[asyncpg.Record],
    target: OrderStatus,
    actor: Actor,
    *,
    actor_id: int | None = None,
    note: str | None = None,
    shipment: Shipment | None = None,
) -> None:
    """Move `orders` (rows locked by the caller) to `target` as `actor`: a 409 unless the table allows it for
    every one of them; then status, history (with `note`, which is also a cancellation's reason) and events.

    Every event is `order.<target>` with the same payload: order_id, checkout_id, status, previous, total,
    currency, reason (a cancellation's), carrier and tracking_number (once shipped)."""
    if not orders:
        return
    for order in orders:
        ORDER_MOVES.check(OrderStatus(order["status"]), target, actor)
    await conn.execute(
        q.MOVE_ORDERS,
        [o["id"] for o in orders],
        [o["status"] for o in orders],
        target,
        shipment.carrier if shipment else None,
        shipment.tracking_number if shipment else None,
        shipment.estimated_arrival if shipment else None,
        note if target == S.CANCELLED else None,
        actor_id,
        note,
        [topics.vendor_orders(o["vendor_id"]) for o in orders],
        [topics.user_orders(o["buyer_id"]) for o in orders],
    )


async def move_checkout(
    conn: asyncpg.Connection, checkout_id: int, current: CheckoutStatus, target: CheckoutStatus, actor: Actor
) -> None:
    """Move a checkout the caller has locked (or whose orders it has locked) from `current` to `target`."""
    CHECKOUT_MOVES.check(current, target, actor)
    await conn.execute(q.SET_CHECKOUT_STATUS, checkout_id, target)
