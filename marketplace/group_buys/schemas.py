"""Request and response bodies of group buys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from marketplace.core.types import Id
from marketplace.orders.schemas import CheckoutOut

DealStatus = Literal["scheduled", "live", "ended", "cancelled"]
Instant = Annotated[datetime, Meta(tz=True)]


class DealIn(Struct, forbid_unknown_fields=True):
    sku_id: Id
    group_price: Annotated[int, Meta(ge=1, le=100_000_000, description="Minor units, below the list price")]
    group_size: Annotated[int, Meta(ge=2, le=100, description="Paid members a group needs to fill")]
    starts_at: Instant
    ends_at: Instant  # no group starts after this
    group_minutes: Annotated[int, Meta(ge=1, le=43_200, description="Time a group has to fill")] = 1440
    per_buyer_limit: Annotated[int, Meta(ge=1, le=100, description="Groups of this deal one buyer may be in")] = 1


class DealOut(Struct):
    id: int
    sku_id: int
    product_id: int
    vendor_id: int
    title: str
    sku_code: str
    currency: str
    list_price: int
    group_price: int
    group_size: int
    group_minutes: int
    per_buyer_limit: int
    starts_at: datetime
    ends_at: datetime
    open_groups: int
    status: DealStatus


class GroupOut(Struct):
    id: int
    deal_id: int
    product_id: int
    sku_id: int
    title: str
    currency: str
    group_price: int
    list_price: int
    size: int
    seats_taken: int  # held by members, paid or not yet
    paid: int
    seats_left: int
    status: str  # open, filled, expired
    expires_at: datetime
    seconds_left: float  # from the server's clock, for a countdown
    filled_at: datetime | None
    share_path: str  # the share link: anyone may open it, a buyer joins from it


class JoinIn(Struct, forbid_unknown_fields=True):
    address_id: Id


class JoinOut(Struct):
    """The group joined and the member's checkout of one unit at the group price, to pay now."""

    group: GroupOut
    checkout: CheckoutOut


class MembershipOut(Struct):
    group: GroupOut
    member_status: str  # held, paid, left, refunded
    checkout_id: int
    order_id: int
    joined_at: datetime
    paid_at: datetime | None
