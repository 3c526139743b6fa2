"""Response bodies of search and product pages."""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct


class ProductCard(Struct):
    id: int
    title: str
    brand: str
    vendor_id: int
    vendor_name: str
    category_id: int
    currency: str
    min_price: int
    max_price: int
    in_stock: bool
    sold_count: int
    rating_avg: float | None
    rating_count: int
    image_url: str | None
    created_at: datetime


class FacetValue(Struct):
    value: str
    label: str
    count: int


class Facets(Struct):
    categories: list[FacetValue]
    brands: list[FacetValue]
    prices: list[FacetValue]


class SearchResult(Struct):
    items: list[ProductCard]
    total: int
    page: int
    page_size: int
    facets: Facets | None = None


class PublicSku(Struct):
    id: int
    code: str
    attributes: dict[str, str]
    price: int
    available: int
    in_stock: bool


class VendorSummary(Struct):
    id: int
    shop_name: str


class RatingSummary(Struct):
    average: float | None
    count: int


class Breadcrumb(Struct):
    id: int
    name: str
    slug: str


class PublicImage(Struct):
    url: str
    width: int
    height: int


class ProductPage(Struct):
    id: int
    title: str
    brand: str
    model: str
    description: str
    attributes: dict[str, str]
    currency: str
    min_price: int
    max_price: int
    in_stock: bool
    sold_count: int
    vendor: VendorSummary
    rating: RatingSummary
    categories: list[Breadcrumb]
    skus: list[PublicSku]
    images: list[PublicImage]
