"""Every live-feed topic's name, in one place: who publishes an event and who subscribes to it use the same
function, and `realtime/topics.py` authorizes subscriptions with the patterns below.

    user:<id>                  a buyer's own notices (coupons issued, campaign offers, shop decisions)
    user:<id>:orders           a buyer's orders and returns
    user:<id>:recommendations  a buyer's recommendation list, re-ranked as they browse
    user:<id>:access           internal: that user's sockets check their token again (never subscribable)
    vendor:<id>                a shop's own notices (suspended, reinstated)
    vendor:<id>:orders         a shop's orders
    vendor:<id>:stock          a shop's low-stock alerts
    vendor:<id>:aftersales     a shop's returns, exchanges and refunds
    product:<id>               a product's status
    product:<id>:stock         a product's stock, flash-sale units and group-buy seats (coalesced for crowds)
    group-buy:<id>             a group buy's seats and status (public, like its share page)
"""

from __future__ import annotations

import re

_ID = r"(\d{1,18})"
USER_PATTERN = re.compile(rf"user:{_ID}(:orders|:recommendations)?")
VENDOR_PATTERN = re.compile(rf"vendor:{_ID}(:orders|:stock|:aftersales)?")
PRODUCT_PATTERN = re.compile(rf"product:{_ID}(:stock)?")
GROUP_BUY_PATTERN = re.compile(rf"group-buy:{_ID}")


def user(user_id: int) -> str:
    return f"user:{user_id}"


def user_orders(user_id: int) -> str:
    return f"user:{user_id}:orders"


def user_recommendations(user_id: int) -> str:
    return f"user:{user_id}:recommendations"


def user_access(user_id: int) -> str:
    return f"user:{user_id}:access"


def vendor(vendor_id: int) -> str:
    return f"vendor:{vendor_id}"


def vendor_orders(vendor_id: int) -> str:
    return f"vendor:{vendor_id}:orders"


def vendor_stock(vendor_id: int) -> str:
    return f"vendor:{vendor_id}:stock"


def vendor_aftersales(vendor_id: int) -> str:
    return f"vendor:{vendor_id}:aftersales"


def product(product_id: int) -> str:
    return f"product:{product_id}"


def product_stock(product_id: int) -> str:
    return f"product:{product_id}:stock"


def group_buy(group_id: int) -> str:
    return f"group-buy:{group_id}"


def is_product_stock(topic: str) -> bool:
    return topic.startswith("product:") and topic.endswith(":stock")
