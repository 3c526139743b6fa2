"""Disputes and complaints between a buyer and a shop, with support deciding when they cannot agree.

    open → answered (the shop's first reply, within its answer window) | escalated (the system, once the
           window has passed unanswered) | resolved (support) | withdrawn (buyer)
    answered → escalated (buyer, not satisfied with the answer) | resolved (support) | withdrawn (buyer)
    escalated → resolved (support) | withdrawn (buyer)

Kinds: "not_received" (a shipped order past its expected delivery date), "not_as_described" (a delivered order,
within its after-sales window), "complaint" (against a shop, about one of the buyer's orders or the shop in
general). Support acts as `Actor.ADMIN`; its decision (refund, reship, reject, uphold) is made by
`workflows/support.py`, which moves the money and the order, then settles the dispute here.
"""

from enum import StrEnum

from marketplace.core.states import Actor, StateMachine


class DisputeKind(StrEnum):
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    COMPLAINT = "complaint"


class DisputeStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"


class DisputeOutcome(StrEnum):
    REFUNDED = "refunded"  # money back, in full or in part
    RESHIPPED = "reshipped"  # the order goes back to the shop to send again
    REJECTED = "rejected"  # the claim does not hold
    UPHELD = "upheld"  # a complaint found justified, with no money to move


D = DisputeStatus
LIVE = (D.OPEN, D.ANSWERED, D.ESCALATED)
TRANSITIONS = StateMachine[DisputeStatus](
    "dispute",
    {
        (D.OPEN, D.ANSWERED): {Actor.VENDOR},
        (D.OPEN, D.ESCALATED): {Actor.SYSTEM},  # the shop's answer window ran out
        (D.ANSWERED, D.ESCALATED): {Actor.BUYER},
        (D.OPEN, D.RESOLVED): {Actor.ADMIN},
        (D.ANSWERED, D.RESOLVED): {Actor.ADMIN},
        (D.ESCALATED, D.RESOLVED): {Actor.ADMIN},
        (D.OPEN, D.WITHDRAWN): {Actor.BUYER},
        (D.ANSWERED, D.WITHDRAWN): {Actor.BUYER},
        (D.ESCALATED, D.WITHDRAWN): {Actor.BUYER},
    },
    status_field="dispute_status",
)
