"""Request and response bodies of segments and campaigns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from marketplace.core.types import Id

SegmentKind = Literal["rfm", "cluster"]


class SegmentRunOut(Struct):
    id: int
    status: str  # queued, running, done, failed
    trigger: str  # schedule or request
    requested_by: int | None
    customers: int | None
    summary: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SegmentOut(Struct, kw_only=True):
    id: int
    run_id: int
    kind: str
    key: str  # the same segment across runs
    name: str
    description: str
    members: int
    monetary: int  # what the members spent, cents
    average_monetary: int
    clv: int | None  # their expected spend over the next 52 weeks, cents (None: the models could not be fitted)
    computed_at: datetime
    trend: list[int]  # members in up to 8 earlier runs, then now
    change: int | None  # members now less members in the run before


class MemberOut(Struct):
    buyer_id: int
    email: str
    recency_days: float
    frequency: int
    monetary: int
    r: int
    f: int
    m: int
    clv: int | None


class CampaignIn(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=2, max_length=120)]
    segment_id: Id
    coupon_id: Id
    message: Annotated[str, Meta(min_length=1, max_length=500)]
    holdout_share: Annotated[float, Meta(ge=0.05, le=0.5)] = 0.2
    window_days: Annotated[int, Meta(ge=1, le=365)] = 14


class CampaignOut(Struct, kw_only=True):
    id: int
    name: str
    segment_id: int
    segment: str
    coupon_id: int
    message: str
    holdout_share: float
    window_days: int
    created_by: int
    launched_at: datetime
    treatment: int  # members the offer went to
    holdout: int  # members held out at random, as the control group
    excluded: int  # segment members in neither arm: they held the coupon before the launch


class Arm(Struct):
    members: int
    redeemed: int  # members who used the campaign's coupon
    converted: int  # members who bought in the window
    conversion: float
    revenue: int  # cents, in the window
    revenue_per_member: float


class Uplift(Struct):
    difference: float  # treatment less holdout
    low: float  # the confidence interval
    high: float
    relative: float | None  # difference over the holdout's figure (None when that is 0)


class SampleRatio(Struct):
    expected_holdout_share: float  # the campaign's holdout_share
    observed_holdout_share: float  # holdout members over both arms'
    chi_square: float
    p_value: float  # of the arms' sizes under the split asked for
    mismatch: bool  # p_value < 0.001: the arms are not the split asked for, so the uplifts are not to be trusted


class CampaignReport(Struct, kw_only=True):
    campaign: CampaignOut
    window_ends_at: datetime
    complete: bool  # the window has closed
    confidence: float
    treatment: Arm
    holdout: Arm
    conversion_uplift: Uplift
    revenue_per_member_uplift: Uplift  # cents
    sample_ratio: SampleRatio  # the sample ratio mismatch (SRM) check of the arms' sizes


class SalesPeriod(Struct):
    period: date  # the first day of the day or week (weeks start on Monday; UTC)
    gmv: int  # cents
    orders: int
    average_order: int  # cents
    buyers: int
    returning_buyers: int  # who had bought before this period
    repeat_rate: float  # returning buyers over buyers


class FunnelPeriod(Struct):
    period: date
    viewed: int  # visitors (signed-in users or anonymous sessions) who viewed a product
    carted: int  # visitors who put one in their cart
    ordered: int  # buyers who placed an order
    paid: int  # buyers whose order was paid (or confirmed, for cash on delivery)
    view_to_cart: float
    cart_to_order: float
    order_to_paid: float
    view_to_paid: float


class Ranked(Struct):
    id: int
    name: str
    units: int
    revenue: int  # cents, after discounts
    orders: int


class TopSellers(Struct):
    start: date
    end: date
    products: list[Ranked]
    categories: list[Ranked]


class Cohort(Struct):
    cohort: str  # the month of the first purchase, YYYY-MM
    customers: int
    retention: list[float]  # share buying in month 0, 1, 2, ... after it


class Cohorts(Struct):
    cohorts: list[Cohort]
    churn_days: int
    # Kept for existing clients, not churn: of customers active 30 days ago, the share who have not bought since.
    churn_rate_30_days: float
    churn_rate: float  # of customers active churn_days before as_of, the share with no purchase since
    as_of: datetime
