"""Request and response bodies of risk control."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct

from marketplace.core.types import Reason


class AlertOut(Struct):
    """An alert with its evidence: the accounts (user_ids) and orders it names, and what they share."""

    id: int
    status: str
    rule: str
    subject: str
    vendor_id: int | None
    score: int  # 0-100, higher is more suspicious (docs/risk.md)
    evidence: dict[str, Any]
    order_ids: list[int]
    user_ids: list[int]
    held_orders: int  # orders whose payout this alert holds
    latest_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_reason: str | None
    created_at: datetime
    updated_at: datetime


class AlertDecisionIn(Struct, forbid_unknown_fields=True):
    reason: Reason


class RuleResult(Struct):
    rule: str
    matched: int  # patterns found in the window
    raised: int  # new alerts
    updated: int  # live alerts whose evidence was refreshed


class ScanOut(Struct):
    ran: bool  # False: another process was scanning
    rules: list[RuleResult]
    shops_scored: int


class ShopTrust(Struct):
    """A shop's trust score, 0-100 (the formula is in docs/risk.md), with what it is made of."""

    score: int
    rating: float | None  # average review in the window
    reviews: int
    orders: int
    refund_rate: float
    late_shipment_rate: float
    dispute_rate: float
    computed_at: datetime
