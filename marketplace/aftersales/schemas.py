"""Request and response bodies of after-sales."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from marketplace.aftersales import Kind
from marketplace.core.types import Price

Text = Annotated[str, Meta(min_length=1, max_length=2000)]
Tracking = Annotated[str, Meta(min_length=4, max_length=60, pattern=r"^[A-Za-z0-9\-]+$")]
SkuId = Annotated[int, Meta(ge=1, description="An exchange's: another SKU (variant) of the same product, sent instead")]


class LineIn(Struct, forbid_unknown_fields=True):
    order_line_id: Annotated[int, Meta(ge=1)]
    quantity: Annotated[int, Meta(ge=1, le=999)]
    replacement_sku_id: SkuId | None = None


class RequestIn(Struct, forbid_unknown_fields=True):
    kind: Kind
    reason: Annotated[str, Meta(min_length=3, max_length=1000)]
    lines: Annotated[list[LineIn], Meta(min_length=1, max_length=50)]
    message: Text | None = None


class MessageIn(Struct, forbid_unknown_fields=True):
    body: Text


class NoteIn(Struct, forbid_unknown_fields=True):
    note: Annotated[str, Meta(min_length=3, max_length=1000)]


class ShipmentIn(Struct, forbid_unknown_fields=True):
    carrier: Annotated[str, Meta(min_length=2, max_length=60)]
    tracking_number: Tracking


class ReceivedIn(Struct, forbid_unknown_fields=True):
    restock: bool = True


class RefundIn(Struct, forbid_unknown_fields=True):
    """Omit `amount` to refund everything the request covers; a smaller amount is a partial refund."""

    amount: Price | None = None


class OverturnIn(Struct, forbid_unknown_fields=True):
    """An admin overrules a rejection: the request is approved again, and with `refund` refunded at once
    (`amount` as for a refund; a return or refund-only request)."""

    reason: Annotated[str, Meta(min_length=3, max_length=1000)]
    refund: bool = False
    amount: Price | None = None


class LineOut(Struct):
    order_line_id: int
    sku_id: int
    title: str
    unit_price: int
    quantity: int
    paid: int  # what the buyer paid for these units, after their share of discounts and points
    replacement_sku_id: int | None  # an exchange's variant sent instead


class MessageOut(Struct):
    id: int
    author_id: int
    author_role: str
    body: str
    created_at: datetime


class RequestOut(Struct):
    id: int
    order_id: int
    buyer_id: int
    vendor_id: int
    kind: str
    status: str
    reason: str
    refund_cap: int  # at most what the buyer paid for the units claimed (0 for an exchange)
    refunded_amount: int
    decision_note: str | None
    return_carrier: str | None
    return_tracking: str | None
    replacement_tracking: str | None
    restocked: bool
    created_at: datetime
    updated_at: datetime
    lines: list[LineOut]
    messages: list[MessageOut]
