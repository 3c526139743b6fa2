"""Request and response bodies of flash sales."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from marketplace.core.types import Id

Status = Literal["scheduled", "live", "sold_out", "ended", "cancelled"]
Instant = Annotated[datetime, Meta(tz=True)]


class FlashSaleIn(Struct, forbid_unknown_fields=True):
    sku_id: Id
    sale_price: Annotated[int, Meta(ge=1, le=100_000_000, description="Minor units, below the list price")]
    units: Annotated[int, Meta(ge=1, le=1_000_000)]
    starts_at: Instant
    ends_at: Instant
    per_buyer_limit: Annotated[int, Meta(ge=1, le=1_000)] = 1


class FlashSaleOut(Struct):
    id: int
    sku_id: int
    product_id: int
    vendor_id: int
    title: str
    sku_code: str
    currency: str
    list_price: int
    sale_price: int
    units: int
    sold: int  # held by orders not cancelled, unpaid ones included until they expire
    remaining: int
    per_buyer_limit: int
    starts_at: datetime
    ends_at: datetime
    status: Status
    # For a countdown that does not trust the buyer's clock: both from the server's now.
    seconds_to_start: float
    seconds_to_end: float


class PurchaseIn(Struct, forbid_unknown_fields=True):
    address_id: Id
    quantity: Annotated[int, Meta(ge=1, le=1_000)] = 1
