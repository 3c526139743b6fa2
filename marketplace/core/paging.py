"""Keyset pagination shared by every list endpoint: `?limit=&cursor=`, newest first.

A cursor is the last id of the previous page, so pages stay stable while rows are being added."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from marketplace.core.types import MAX_BIGINT

T = TypeVar("T")

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[int | None, QueryParameter(ge=1, le=MAX_BIGINT, description="`next_cursor` of the previous page.")]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: int | None


def page_of(items: list[T], limit: int, key: str = "id") -> Page[T]:
    """Queries fetch limit + 1 rows; the extra row only tells whether another page exists."""
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=getattr(items[-1], key) if has_more and items else None)
