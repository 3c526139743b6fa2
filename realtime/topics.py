"""Who may watch which topic. Owners watch their own feeds (an active vendor its shop's, a buyer its own);
anyone, signed in or not, may watch a listed product; admins may watch any vendor or product. A suspended
vendor watches nothing of its shop, not even its own unlisted products."""

from __future__ import annotations

import re

import asyncpg

from marketplace.core.auth import CurrentUser
from marketplace.core.topics import GROUP_BUY_PATTERN, PRODUCT_PATTERN, USER_PATTERN, VENDOR_PATTERN, is_product_stock
from realtime import queries as q
from realtime.schemas import FeedEvent

SUBJECT = re.compile(rb'"(?:sale_id|group_id|sku_id)": ?(\d+)')


def coalescing_key(event: FeedEvent) -> object:
    """Where a socket's queue keeps `event`. A product's stock is a value, not a story: a socket that falls
    behind gets only the latest figures of each SKU (and each flash sale or group buy), so those events share
    a key per subject; every other event has its own (its id)."""
    if not is_product_stock(event.topic):
        return event.id
    subject = SUBJECT.search(event.data)
    return ("latest", event.topic, event.type, subject[1] if subject else None)


async def authorize(db: asyncpg.Pool, user: CurrentUser | None, topics: list[str]) -> tuple[list[str], list[str]]:
    """Split `topics` into those `user` (None when not signed in) may watch and those it may not."""
    allowed: list[str] = []
    products: dict[str, int] = {}
    admin = user is not None and user.has("admin")
    for topic in dict.fromkeys(topics):
        if GROUP_BUY_PATTERN.fullmatch(topic):  # a group's seats are public, as its share page is
            allowed.append(topic)
        elif match := PRODUCT_PATTERN.fullmatch(topic):
            products[topic] = int(match[1])
        elif match := VENDOR_PATTERN.fullmatch(topic):
            if admin or (user is not None and user.active_vendor_id == int(match[1])):
                allowed.append(topic)
        elif (match := USER_PATTERN.fullmatch(topic)) and user is not None and user.id == int(match[1]):
            allowed.append(topic)
    if products:
        if admin:
            allowed += products
        else:
            owner = user.active_vendor_id if user is not None else None
            visible = {r["id"] for r in await db.fetch(q.PRODUCTS_VISIBLE, list(set(products.values())), owner)}
            allowed += [topic for topic, product_id in products.items() if product_id in visible]
    return allowed, [topic for topic in dict.fromkeys(topics) if topic not in allowed]
