"""After-sales: returns, exchanges and refund-only requests on delivered order lines.

    requested → approved | rejected | withdrawn (buyer)
    rejected → approved (an admin overturning the rejection)
    approved → withdrawn (buyer) | return_shipped (buyer; return, exchange) | refunded (return, refund_only)
    return_shipped → return_received (return, exchange) → refunded (return) | replacement_shipped (exchange)

A move not marked as the buyer's is the vendor's, or an admin's in its place. Who may make which move is
TRANSITIONS; which kinds of request ever reach a state is KINDS_REACHING.
A refund is at most what the buyer paid for the units claimed (after discounts and points); an exchange
sends another variant (SKU) of the same product. Buyer and vendor talk in the request's message thread;
admins can read every request, write in it, decide in the vendor's place and overturn a rejection.
"""

from enum import StrEnum

from marketplace.core.states import Actor, StateMachine


class Kind(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"
    REFUND_ONLY = "refund_only"


class Status(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    RETURN_SHIPPED = "return_shipped"
    RETURN_RECEIVED = "return_received"
    REFUNDED = "refunded"
    REPLACEMENT_SHIPPED = "replacement_shipped"


_DECIDING = {Actor.VENDOR, Actor.ADMIN}  # the order's vendor, or an admin in its place
TRANSITIONS = StateMachine(
    "after-sales request",
    {
        (Status.REQUESTED, Status.APPROVED): _DECIDING,
        (Status.REQUESTED, Status.REJECTED): _DECIDING,
        (Status.REQUESTED, Status.WITHDRAWN): {Actor.BUYER},
        (Status.REJECTED, Status.APPROVED): {Actor.ADMIN},  # overturning the rejection
        (Status.APPROVED, Status.WITHDRAWN): {Actor.BUYER},
        (Status.APPROVED, Status.RETURN_SHIPPED): {Actor.BUYER},
        (Status.APPROVED, Status.REFUNDED): _DECIDING,
        (Status.RETURN_SHIPPED, Status.RETURN_RECEIVED): _DECIDING,
        (Status.RETURN_RECEIVED, Status.REFUNDED): _DECIDING,
        (Status.RETURN_RECEIVED, Status.REPLACEMENT_SHIPPED): _DECIDING,
    },
)

# The states only some kinds of request ever reach (every kind may reach the others): a refund-only request is
# never shipped back, an exchange is never refunded, and only an exchange ships a replacement.
KINDS_REACHING: dict[Status, frozenset[Kind]] = {
    Status.RETURN_SHIPPED: frozenset({Kind.RETURN, Kind.EXCHANGE}),
    Status.RETURN_RECEIVED: frozenset({Kind.RETURN, Kind.EXCHANGE}),
    Status.REFUNDED: frozenset({Kind.RETURN, Kind.REFUND_ONLY}),
    Status.REPLACEMENT_SHIPPED: frozenset({Kind.EXCHANGE}),
}


def reaches(kind: Kind, status: Status) -> bool:
    """Whether a request of this kind ever moves to `status`."""
    return status not in KINDS_REACHING or kind in KINDS_REACHING[status]
