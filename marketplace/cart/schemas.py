"""Request and response bodies of the cart API."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct


class QuantityIn(Struct, forbid_unknown_fields=True):
    quantity: Annotated[int, Meta(ge=1, le=999)]


class CartLine(Struct):
    sku_id: int
    product_id: int
    vendor_id: int
    vendor_name: str
    title: str
    sku_code: str
    attributes: dict[str, str]
    unit_price: int
    quantity: int
    line_total: int
    available: int
    purchasable: bool  # listed, from an active vendor, and enough stock for the quantity


class Cart(Struct):
    lines: list[CartLine]
    currency: str | None
    items_total: int
    item_count: int
