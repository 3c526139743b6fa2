"""Request and response bodies of checkout and orders."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from msgspec import Meta, Struct

from marketplace.core.types import Id


class CheckoutIn(Struct, forbid_unknown_fields=True):
    address_id: Id
    coupon_code: Annotated[str, Meta(min_length=1, max_length=32)] | None = (
        None  # else the best automatic or wallet one
    )
    points: Annotated[int, Meta(ge=0, le=10_000_000)] = 0  # loyalty points to spend as money off


class OrderLineOut(Struct):
    id: int
    sku_id: int
    product_id: int
    title: str
    sku_code: str
    unit_price: int
    quantity: int
    line_total: int
    flash_sale_id: int | None = None  # bought in this flash sale, at its price
    discount: int = 0  # coupon and points money off this line


class OrderOut(Struct):
    id: int
    checkout_id: int
    buyer_id: int
    vendor_id: int
    status: str
    currency: str
    items_total: int
    shipping_total: int
    total: int
    cash_on_delivery: bool  # the courier collects `total` in cash on delivery
    discount: int  # coupon and points money off: total = items_total + shipping_total - discount
    carrier: str | None
    tracking_number: str | None
    estimated_arrival: date | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]


class CheckoutOut(Struct):
    id: int
    status: str
    currency: str
    items_total: int
    shipping_total: int
    grand_total: int
    discount_total: int
    coupon_id: int | None
    points_spent: int
    shipping_address: dict[str, object]
    expires_at: datetime
    created_at: datetime
    orders: list[OrderOut]


class ShipIn(Struct, forbid_unknown_fields=True):
    carrier: Annotated[str, Meta(min_length=2, max_length=60)]
    tracking_number: Annotated[str, Meta(min_length=4, max_length=60, pattern=r"^[A-Za-z0-9\-]+$")]
    estimated_arrival: date | None = None


class CancelIn(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=3, max_length=500)]
