"""Request and response bodies of coupons and loyalty."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from marketplace.core.types import Count, Id
from marketplace.promotions.pricing import Kind, Scope

Audience = Literal["code", "issued", "automatic"]
TierName = Literal["member", "silver", "gold"]
Cents = Annotated[int, Meta(ge=0, le=100_000_000)]


class CouponIn(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=2, max_length=120)]
    kind: Kind
    audience: Audience
    code: Annotated[str, Meta(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    scope: Scope = "platform"
    scope_ids: Annotated[list[Id], Meta(max_length=200)] = []
    amount_off: Cents = 0
    percent_bp: Annotated[int, Meta(ge=0, le=10_000)] = 0
    max_discount: Cents | None = None
    min_spend: Cents = 0
    buy_quantity: Annotated[int, Meta(ge=0, le=100)] = 0
    free_quantity: Annotated[int, Meta(ge=0, le=100)] = 0
    min_tier: TierName = "member"
    starts_at: Annotated[datetime, Meta(tz=True)]
    ends_at: Annotated[datetime, Meta(tz=True)]
    total_limit: Count | None = None
    per_buyer_limit: Annotated[int, Meta(ge=1, le=1_000)] = 1


class CouponOut(Struct):
    id: int
    code: str | None
    name: str
    kind: str
    audience: str
    scope: str
    scope_ids: list[int]
    amount_off: int
    percent_bp: int
    max_discount: int | None
    min_spend: int
    buy_quantity: int
    free_quantity: int
    min_tier: str
    vendor_id: int | None  # who funds it; None: the platform
    starts_at: datetime
    ends_at: datetime
    total_limit: int | None
    per_buyer_limit: int
    redeemed: int
    disabled_at: datetime | None
    created_at: datetime


class ClaimIn(Struct, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=32)]


class IssueIn(Struct, forbid_unknown_fields=True):
    buyer_ids: Annotated[list[Id], Meta(min_length=1, max_length=10_000)]


class Issued(Struct):
    coupon_id: int
    issued: int  # buyers who did not hold it yet


class WalletCoupon(Struct):
    coupon: CouponOut
    usable: bool
    why_not: str | None  # when not usable now: "not started", "ended", "used up", "needs the gold tier", ...
    times_used: int


class LoyaltyEntry(Struct):
    id: int
    delta: int
    kind: str
    checkout_id: int | None
    order_id: int | None
    created_at: datetime


class LoyaltyOut(Struct):
    balance: int  # points; one point is worth `point_value` cents at checkout
    point_value: int
    tier: str
    trailing_spend: int  # paid for items over the last 365 days, cents
    next_tier: str | None
    spend_to_next_tier: int | None
    history: list[LoyaltyEntry]
