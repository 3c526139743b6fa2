"""Which outbox events notify whom, as what: one function from an event to the notices it makes.

Buyers hear of their own orders on `user:<id>:orders` (placed, paid, shipped with tracking, delivered, refunds
and messages on their returns), of their shop application and of offers on `user:<id>`; a shop hears of a
buyer's message on `vendor:<id>:aftersales` (its owner is looked up by the notifier). Every other event is no
one's mail: stock, prices and recommendations change too often to write home about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.core import topics
from marketplace.core.money import format_money
from marketplace.notifications import Kind


@dataclass(frozen=True)
class Notice:
    kind: Kind
    title: str
    data: dict[str, Any]
    dedupe_key: str
    user_id: int | None = None  # the recipient, or
    vendor_id: int | None = None  # the owner of this shop


_ORDER_KINDS = {
    "order.placed": (Kind.ORDER_PLACED, "Your order #{order_id} was placed"),
    "order.paid": (Kind.ORDER_PAID, "Your payment for order #{order_id} arrived"),
    "order.shipped": (Kind.ORDER_SHIPPED, "Your order #{order_id} is on its way"),
    "order.delivered": (Kind.ORDER_DELIVERED, "Your order #{order_id} was delivered"),
}


_PAID = ("paid", "accepted")  # the states in which an order holds the buyer's money


def _id_in(topic: str, pattern: Any) -> tuple[int, str | None] | None:
    match = pattern.fullmatch(topic)
    return (int(match.group(1)), match.group(2)) if match else None


def _total(payload: dict[str, Any], amount: str, currency: str = "currency") -> str:
    if isinstance(payload.get(amount), int) and isinstance(payload.get(currency), str):
        return format_money(payload[amount], payload[currency])
    return ""


def notices_of(seq: int, topic: str, type_: str, payload: dict[str, Any]) -> list[Notice]:
    """The notices one event makes (usually none). `seq` is its feed number, which names it once."""
    key = f"event:{seq}"
    if (user := _id_in(topic, topics.USER_PATTERN)) is not None:
        user_id, sub = user
        if sub == ":orders":
            return _buyer_orders(user_id, type_, payload, key)
        if sub is None:
            return _buyer_notices(user_id, type_, payload, key)
        return []
    vendor = _id_in(topic, topics.VENDOR_PATTERN)
    if vendor is not None and vendor[1] == ":aftersales" and payload.get("message_from") == "buyer":
        data = {"request_id": payload.get("request_id"), "order_id": payload.get("order_id"), "to": "vendor"}
        title = f"A buyer wrote about return request #{data['request_id']}"
        return [Notice(Kind.AFTERSALES_MESSAGE, title, data, key, vendor_id=vendor[0])]
    return []


def _buyer_orders(user_id: int, type_: str, payload: dict[str, Any], key: str) -> list[Notice]:
    if type_ == "order.cancelled" and payload.get("previous") in _PAID:
        # A paid order cancelled (by the buyer, the shop, or a group buy that did not fill) is refunded what
        # was paid for it in the same transaction (less than its total when a discount paid for part of it);
        # cash on delivery ('confirmed') has taken no money to give back.
        data = {"order_id": payload.get("order_id"), "reason": payload.get("reason")}
        title = f"Your refund for order #{data['order_id']} was issued"
        return [Notice(Kind.REFUND_ISSUED, title, data, key, user_id=user_id)]
    if type_ in _ORDER_KINDS:
        kind, title = _ORDER_KINDS[type_]
        data = {
            "order_id": payload.get("order_id"),
            "total": _total(payload, "total"),
            "carrier": payload.get("carrier"),
            "tracking_number": payload.get("tracking_number"),
        }
        return [Notice(kind, title.format(order_id=data["order_id"]), data, key, user_id=user_id)]
    if not type_.startswith("aftersales."):
        return []
    data = {"request_id": payload.get("request_id"), "order_id": payload.get("order_id")}
    if "message_from" in payload:  # a message in the thread, not a move
        if payload["message_from"] == "buyer":
            return []  # the buyer's own words
        title = f"New message about your return request #{data['request_id']}"
        return [Notice(Kind.AFTERSALES_MESSAGE, title, {**data, "to": "buyer"}, key, user_id=user_id)]
    if type_ == "aftersales.refunded":
        data["amount"] = _total(payload, "refunded")
        title = f"Your refund for order #{data['order_id']} was issued"
        return [Notice(Kind.REFUND_ISSUED, title, data, key, user_id=user_id)]
    return []


def _buyer_notices(user_id: int, type_: str, payload: dict[str, Any], key: str) -> list[Notice]:
    if type_ == "vendor.approved":
        data = {"approved": True, "shop_name": payload.get("shop_name"), "reason": None}
        return [Notice(Kind.VENDOR_APPLICATION, "Your shop was approved", data, key, user_id=user_id)]
    if type_ == "vendor.rejected":
        data = {"approved": False, "shop_name": None, "reason": payload.get("reason")}
        return [Notice(Kind.VENDOR_APPLICATION, "Your shop application was declined", data, key, user_id=user_id)]
    if type_ in ("coupon.issued", "campaign.offer"):
        # A campaign issues its coupon and then makes its offer: one notice per coupon, the message merged in.
        data = {"coupon_id": payload.get("coupon_id"), "name": payload.get("name")}
        if type_ == "coupon.issued":
            data |= {"code": payload.get("code"), "ends_at": payload.get("ends_at")}
        else:
            data |= {"message": payload.get("message"), "campaign_id": payload.get("campaign_id")}
        title = f"An offer for you: {data['name']}"
        return [Notice(Kind.CAMPAIGN_OFFER, title, data, f"coupon:{data['coupon_id']}", user_id=user_id)]
    return []
