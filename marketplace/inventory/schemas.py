"""Request and response bodies of the inventory API."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from marketplace.core.types import Quantity


class StockAdjustment(Struct, forbid_unknown_fields=True):
    """Give exactly one of `set` (the new on-hand count) or `delta` (units received or written off)."""

    set: Quantity | None = None
    delta: Annotated[int, Meta(ge=-1_000_000, le=1_000_000)] | None = None
    reason: Annotated[str, Meta(min_length=1, max_length=200)] = "adjustment"
    low_stock_threshold: Quantity | None = None


class StockLevel(Struct):
    sku_id: int
    product_id: int
    code: str
    title: str
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int
    low: bool
