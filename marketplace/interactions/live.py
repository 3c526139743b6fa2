"""Signed-in buyers' views and cart additions, announced over Redis pub/sub the moment they are recorded.

The batched COPY (recorder.py) stays the durable record; an announcement only lets the recommender worker
re-rank a browsing buyer without waiting up to half a second for the batch and another poll. Pub/sub keeps
nothing: an announcement nobody hears (no worker, Redis away) is simply lost, and the worker's poll of the
table finds the interaction instead. Both paths name an interaction the same way (`key`), so the worker
pushes once for it whichever way reaches it first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from marketplace.interactions import Kind

CHANNEL = "interactions:live"
KINDS = frozenset({Kind.VIEW, Kind.CART})  # what re-ranks a buyer's list

# (user_id, product_id, kind, occurred_at in microseconds since the epoch): the same four values the
# interactions row holds, so a row read back from PostgreSQL has the same key as its announcement.
Key = tuple[int, int, str, int]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DECODER = msgspec.json.Decoder(list[tuple[int, int, str, int]])


def stamp(at: datetime) -> int:
    """Microseconds since the epoch, exactly (PostgreSQL keeps timestamps to the microsecond)."""
    return (at - _EPOCH) // _MICROSECOND


def key(user_id: int, product_id: int, kind: str, occurred_at: datetime) -> Key:
    return (user_id, product_id, str(kind), stamp(occurred_at))


def encode(keys: list[Key]) -> bytes:
    return msgspec.json.encode(keys)


def decode(data: bytes | str) -> list[Key]:
    return _DECODER.decode(data)
