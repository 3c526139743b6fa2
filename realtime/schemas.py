"""What travels on the feed: events as clients receive them, the messages clients send, and the control
messages the server answers with. Every server message has a `type`; events also have `id` and `topic`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
import msgspec
from msgspec import Meta, Struct

Topic = Annotated[str, Meta(min_length=1, max_length=200)]
Topics = Annotated[list[Topic], Meta(min_length=1, max_length=100)]


class FeedEvent(Struct):
    """An event as a client receives it: `id` is its place in the feed (it only grows), `data` the
    payload exactly as stored."""

    id: int
    topic: str
    type: str
    data: msgspec.Raw
    at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record, seq: int | None = None) -> FeedEvent:
        return cls(seq or row["id"], row["topic"], row["type"], msgspec.Raw(row["data"].encode()), row["at"])


# What clients send.
class Auth(Struct, tag="auth", tag_field="op", forbid_unknown_fields=True):
    token: str


class Subscribe(Struct, tag="subscribe", tag_field="op", forbid_unknown_fields=True):
    topics: Topics
    last_id: Annotated[int, Meta(ge=0)] | None = None  # replay what came after this id, then go live


class Unsubscribe(Struct, tag="unsubscribe", tag_field="op", forbid_unknown_fields=True):
    topics: Topics


class Ping(Struct, tag="ping", tag_field="op", forbid_unknown_fields=True):
    pass


ClientMessage = Auth | Subscribe | Unsubscribe | Ping


# What the server answers.
class Authenticated(Struct, tag="authenticated", tag_field="type"):
    user_id: int
    expires_at: datetime


class Subscribed(Struct, tag="subscribed", tag_field="type"):
    topics: list[str]
    replayed: int  # events replayed from the last id given
    last_id: int  # the feed's position when the subscription went live


class Unsubscribed(Struct, tag="unsubscribed", tag_field="type"):
    topics: list[str]


class Error(Struct, tag="error", tag_field="type"):
    error: str  # bad_request, unauthorized, forbidden, too_many_topics
    detail: str
    topics: list[str] = []


class Heartbeat(Struct, tag="heartbeat", tag_field="type"):
    last_id: int
    at: datetime


class Pong(Struct, tag="pong", tag_field="type"):
    pass
