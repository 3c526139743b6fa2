"""Request and response bodies of logistics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from marketplace.core.types import CountryCode, Id

Fee = Annotated[int, Meta(ge=0, le=10_000_000, description="Minor units (cents)")]
Units = Annotated[int, Meta(ge=0, le=1_000_000, description="Items, or grams for a weight template")]
Step = Annotated[int, Meta(ge=1, le=1_000_000, description="Items, or grams for a weight template")]
Threshold = Annotated[int, Meta(ge=0, le=1_000_000_000, description="Minor units: free from this order value")]


class Rate(Struct, forbid_unknown_fields=True, kw_only=True):
    """`first_fee` covers up to `first_units`; each further `extra_units` begun adds `extra_fee`; free from
    `free_from` (the value of the lines shipped under the template, before discounts), if set."""

    first_units: Units = 1
    first_fee: Fee
    extra_units: Step = 1
    extra_fee: Fee = 0
    free_from: Threshold | None = None


class RegionRate(Rate, kw_only=True):
    """A rate for one country, or one region of it (the address's `region`, compared without case)."""

    country: CountryCode
    region: Annotated[str, Meta(max_length=80)] = ""


class TemplateIn(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=80)]
    default_rate: Rate
    basis: Literal["count", "weight"] = "count"
    regions: Annotated[list[RegionRate], Meta(max_length=300)] = []
    is_default: bool = False  # a shop's first template is its default whatever this says


class TemplateOut(Struct):
    id: int
    vendor_id: int
    name: str
    basis: str
    is_default: bool
    default_rate: Rate
    regions: list[RegionRate]
    products: int  # products naming this template
    created_at: datetime
    updated_at: datetime


class ProductShippingIn(Struct, forbid_unknown_fields=True):
    template_id: Id | None = None  # None: the shop's default template
    weight_grams: Annotated[int, Meta(ge=0, le=1_000_000)] = 0


class ProductShippingOut(Struct):
    product_id: int
    template_id: int | None
    weight_grams: int


class TrackingEventOut(Struct):
    type: str
    occurred_at: datetime
    location: str
    description: str


class TrackingOut(Struct):
    """An order's shipment: typed tracking numbers have no events; carrier shipments have their timeline."""

    order_id: int
    carrier: str | None
    tracking_number: str | None
    integrated: bool  # shipped through a carrier that reports tracking events (delivery confirmed by it)
    status: str | None  # the latest event's type (`created` before the first)
    events: list[TrackingEventOut]


class LateShipmentOut(Struct):
    order_id: int
    vendor_id: int
    buyer_id: int
    status: str
    paid_at: datetime
    due_at: datetime
    hours_late: float
    flagged_at: datetime | None  # when the shop was told (None: not yet)


class ShipWithCarrierIn(Struct, forbid_unknown_fields=True):
    carrier: Literal["sandbox"] = "sandbox"
    estimated_arrival: date | None = None


class SandboxEventIn(Struct, forbid_unknown_fields=True):
    """An event the sandbox carrier posts; with no type, the parcel's next step on its way."""

    type: Literal["picked_up", "in_transit", "out_for_delivery", "delivered", "exception"] | None = None
    location: Annotated[str, Meta(max_length=120)] = ""
    description: Annotated[str, Meta(max_length=500)] = ""


class TrackingResult(Struct):
    outcome: str  # applied | delivered | duplicate
