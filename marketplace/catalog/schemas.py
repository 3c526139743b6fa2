"""Request and response bodies of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from marketplace.core.types import Attributes, Currency, Id, LongText, Price, Quantity, Reason

Title = Annotated[str, Meta(min_length=2, max_length=200)]
Label = Annotated[str, Meta(max_length=80)]
SkuCode = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]
Slug = Annotated[str, Meta(min_length=1, max_length=80, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]


class CategoryIn(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=80)]
    slug: Slug | None = None
    parent_id: Id | None = None
    position: Annotated[int, Meta(ge=0, le=10_000)] = 0


class CategoryPatch(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=80)] | UnsetType = UNSET
    position: Annotated[int, Meta(ge=0, le=10_000)] | UnsetType = UNSET


class CategoryOut(Struct):
    id: int
    parent_id: int | None
    name: str
    slug: str
    path: list[int]
    position: int


class CategoryNode(Struct):
    id: int
    name: str
    slug: str
    children: list[CategoryNode]


class SkuIn(Struct, forbid_unknown_fields=True):
    code: SkuCode
    price: Price
    attributes: Attributes = {}
    stock: Quantity = 0
    low_stock_threshold: Quantity = 5


class SkuPatch(Struct, forbid_unknown_fields=True):
    price: Price | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET
    low_stock_threshold: Quantity | UnsetType = UNSET


class SkuOut(Struct):
    id: int
    code: str
    attributes: dict[str, str]
    price: int
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int


class ProductIn(Struct, forbid_unknown_fields=True):
    category_id: Id
    title: Title
    skus: Annotated[list[SkuIn], Meta(min_length=1, max_length=100)]
    currency: Currency = "EUR"
    brand: Label = ""
    model: Label = ""
    description: LongText = ""
    attributes: Attributes = {}


class ProductPatch(Struct, forbid_unknown_fields=True):
    category_id: Id | UnsetType = UNSET
    title: Title | UnsetType = UNSET
    brand: Label | UnsetType = UNSET
    model: Label | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET


class ImageOut(Struct):
    id: int
    url: str
    content_type: str
    width: int
    height: int


class ProductOut(Struct):
    """A product as its vendor (or an admin) sees it: any status, stock figures included."""

    id: int
    vendor_id: int
    category_id: int
    title: str
    brand: str
    model: str
    description: str
    attributes: dict[str, str]
    status: str
    takedown_reason: str | None
    currency: str
    min_price: int | None
    max_price: int | None
    created_at: datetime
    updated_at: datetime
    skus: list[SkuOut]
    images: list[ImageOut]


class TakeDownIn(Struct, forbid_unknown_fields=True):
    reason: Reason


class ReviewNoteIn(Struct, forbid_unknown_fields=True):
    reason: Reason | None = None  # why it was approved, for the audit log
