"""Request and response bodies of disputes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from marketplace.core.types import Id, NonNegative
from marketplace.disputes import DisputeKind, DisputeOutcome

Text = Annotated[str, Meta(min_length=1, max_length=2000)]
# A reason someone must give (support's actions, a buyer's claim): at least three characters, not all blank.
Reason = Annotated[
    str,
    Meta(
        min_length=3, max_length=1000, pattern=r"^[^\u0000]*[^\u0000 \t\n\r][^\u0000]*$", description="Why (not blank)"
    ),
]


class DisputeIn(Struct, forbid_unknown_fields=True):
    """A buyer opens a dispute on one of their orders; a complaint may name the shop instead of an order."""

    kind: DisputeKind
    reason: Reason
    order_id: Id | None = None
    vendor_id: Id | None = None  # a complaint about the shop in general (the buyer must have ordered from it)
    message: Text | None = None


class DisputeMessageIn(Struct, forbid_unknown_fields=True):
    body: Text


class DecisionIn(Struct, forbid_unknown_fields=True):
    """Support's decision. `refunded`: `amount` minor units (default all that is left to refund of the order);
    `reshipped`: the order goes back to the shop to send again (a parcel still in transit); `rejected`; `upheld`
    (a complaint found justified, with no money to move). The reason is written to the thread and the audit log."""

    outcome: DisputeOutcome
    reason: Reason
    amount: Annotated[int, Meta(ge=1, le=100_000_000)] | None = None


class DisputeMessageOut(Struct):
    id: int
    author_id: int | None
    author_role: str
    body: str
    created_at: datetime


class DisputeOut(Struct):
    id: int
    order_id: int | None
    vendor_id: int
    buyer_id: int
    kind: str
    status: str
    reason: str
    answer_due: datetime  # the shop's answer window closes then; unanswered, the dispute escalates to support
    escalated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    outcome: str | None
    refunded_amount: NonNegative
    decision_note: str | None
    messages: list[DisputeMessageOut]


class EscalateIn(Struct, forbid_unknown_fields=True):
    reason: Reason
