"""Request and response bodies of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from msgspec import Struct

# The kinds a user may turn off (account mails cannot be).
OptionalKind = Literal[
    "order_placed",
    "order_paid",
    "order_shipped",
    "order_delivered",
    "refund_issued",
    "aftersales_message",
    "vendor_application",
    "campaign_offer",
]


class NotificationOut(Struct):
    id: int
    kind: str
    title: str
    data: dict[str, Any]
    read_at: datetime | None
    created_at: datetime


class ReadAll(Struct):
    marked: int


class Preferences(Struct, forbid_unknown_fields=True):
    """Per kind, whether to email it; kinds left out of a change keep their setting."""

    email: dict[OptionalKind, bool]


class Unsubscribed(Struct):
    kind: str
    email: bool
