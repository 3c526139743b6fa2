"""Keyset pagination shared by every list endpoint: `?limit=&cursor=`, newest first.

A cursor is the last id of the previous page, so pages stay stable while rows are being added. A list
service runs its query through `fetch_page`, which asks for one row more than the page holds (the extra row
only tells whether another page exists) and returns the `Page` the route sends as it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar, overload

import asyncpg
import msgspec
from litestar.params import QueryParameter

from marketplace.core.types import MAX_BIGINT

T = TypeVar("T")

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[int | None, QueryParameter(ge=1, le=MAX_BIGINT, description="`next_cursor` of the previous page.")]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: int | None


@overload
async def fetch_page(
    db: asyncpg.Pool | asyncpg.Connection, query: str, *args: Any, limit: int, key: str = "id"
) -> Page[asyncpg.Record]: ...


@overload
async def fetch_page(
    db: asyncpg.Pool | asyncpg.Connection,
    query: str,
    *args: Any,
    limit: int,
    convert: Callable[[asyncpg.Record], T],
    key: str = "id",
) -> Page[T]: ...


async def fetch_page(
    db: asyncpg.Pool | asyncpg.Connection,
    query: str,
    *args: Any,
    limit: int,
    convert: Callable[[asyncpg.Record], Any] | None = None,
    key: str = "id",
) -> Page[Any]:
    """One page of a list `query` whose last parameter is its LIMIT (the others are `args`): it runs with
    `limit + 1`, keeps `limit` rows, each through `convert`, and the next page starts after the last row's
    `key` column if there is more. Without `convert` the page holds the rows themselves, for a service that
    builds its items from all of them at once: `Page(await items_of(rows.items), rows.next_cursor)`."""
    rows = await db.fetch(query, *args, limit + 1)
    kept = rows[:limit]
    cursor = kept[-1][key] if len(rows) > limit and kept else None
    return Page(items=kept if convert is None else [convert(r) for r in kept], next_cursor=cursor)
