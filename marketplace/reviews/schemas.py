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
    id: int
    product_id: int
    buyer_id: int
    buyer_name: str
    rating: int
    body: str
    reply: str | None
    replied_at: datetime | None
    created_at: datetime
