"""The carrier adapter: what the marketplace needs of any carrier it hands parcels to. A carrier opens a
shipment (its tracking number) when the vendor ships through it, then calls our webhook with signed tracking
events. Adding a real carrier means one more class like `sandbox.SandboxCarrier` and its webhook route; the
vendor can still ship with any other carrier by typing its tracking number (POST /vendor/orders/{id}/ship)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Protocol

import msgspec
from msgspec import Meta


class TrackingType(StrEnum):
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"  # the order moves to delivered (actor: system)
    EXCEPTION = "exception"  # a failed attempt, damage, a wrong address: the order stays shipped


# The order a parcel normally goes through (the sandbox carrier's "advance" follows it).
JOURNEY = [TrackingType.PICKED_UP, TrackingType.IN_TRANSIT, TrackingType.OUT_FOR_DELIVERY, TrackingType.DELIVERED]


class TrackingEvent(msgspec.Struct, forbid_unknown_fields=True):
    """One tracking event as a carrier posts it; `event_id` is unique per carrier and makes repeats harmless."""

    event_id: Annotated[str, Meta(min_length=1, max_length=100)]
    tracking_number: Annotated[str, Meta(min_length=4, max_length=60)]
    type: TrackingType
    occurred_at: datetime
    location: Annotated[str, Meta(max_length=120)] = ""
    description: Annotated[str, Meta(max_length=500)] = ""


class Carrier(Protocol):
    name: str  # the carrier's key in shipments and in its webhook's path
    display_name: str  # what buyers see as the order's carrier
    signature_header: str

    def open_shipment(self, order_id: int) -> str:
        """Register a parcel for `order_id` and return its tracking number."""
        ...

    def verify(self, body: bytes, header: str | None) -> bool:
        """Whether a webhook body really comes from the carrier, and recently (no replays)."""
        ...

    def parse(self, body: bytes) -> TrackingEvent:
        """The event in a verified body; msgspec.DecodeError or ValidationError if it is not one."""
        ...
