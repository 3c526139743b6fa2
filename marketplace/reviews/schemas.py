"""Request and response bodies of reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct


class ReviewIn(Struct, forbid_unknown_fields=True):
    rating: Annotated[int, Meta(ge=1, le=5)]
    body: Annotated[str, Meta(min_length=1, max_length=4000)]


class ReplyIn(Struct, forbid_unknown_fields=True):
    body: Annotated[str, Meta(min_length=1, max_length=4000)]


class ReviewOut(Struct):
    """A review as anyone reads it: the buyer shows by display name only."""

    id: int
    product_id: int
    buyer_name: str  # the buyer's display name, or "Verified buyer" if they chose none
    rating: int
    body: str
    reply: str | None
    replied_at: datetime | None
    created_at: datetime


class VendorReviewOut(ReviewOut):
    """A review as the shop it is about sees it: also who wrote it, as the shop sees on its orders."""

    buyer_id: int
