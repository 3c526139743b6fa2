"""Request and response bodies of the support desk."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from msgspec import Meta, Struct

from marketplace.accounts.schemas import UserOut
from marketplace.aftersales.schemas import RequestOut
from marketplace.audit.schemas import AuditEntry
from marketplace.disputes.schemas import DisputeOut, Reason
from marketplace.orders.read import HistoryEntry
from marketplace.orders.schemas import CheckoutOut, OrderOut
from marketplace.vendors.schemas import VendorOut


class HitKind(StrEnum):
    ORDER = "order"
    CHECKOUT = "checkout"
    PAYMENT = "payment"
    BUYER = "buyer"
    SHOP = "shop"


class Hit(Struct):
    """One thing a search found: `kind` and `id` say where to look (an order, a checkout, ...)."""

    kind: HitKind
    id: int
    label: str  # what it is called: "Order #12", an email, a shop's name
    detail: str  # a line to tell it apart: status, amount, owner
    status: str | None
    created_at: datetime


class SearchResults(Struct):
    query: str
    items: list[Hit]
    total: int
    page: int
    pages: int


class SupportNoteIn(Struct, forbid_unknown_fields=True):
    body: Reason  # an internal note is its own reason


class SupportNoteOut(Struct):
    id: int
    order_id: int
    author_id: int
    body: str
    created_at: datetime


class ExtendWindowIn(Struct, forbid_unknown_fields=True):
    days: Annotated[int, Meta(ge=1, le=90, description="Days added to the window (counted from now if closed)")]
    reason: Reason


class WindowOut(Struct):
    order_id: int
    delivered_at: datetime | None
    closes_at: datetime | None  # requests (and not-as-described disputes) may open until then
    extended: bool


class SupportCancelIn(Struct, forbid_unknown_fields=True):
    reason: Reason


class LostRemedy(StrEnum):
    REFUND = "refund"  # the buyer gets back all that is left of what they paid; the order is cancelled
    RESHIP = "reship"  # the order goes back to accepted and the shop sends it again (units leave its shelf)


class LostIn(Struct, forbid_unknown_fields=True):
    remedy: LostRemedy
    reason: Reason


class PaymentRow(Struct):
    id: int
    method: str
    provider_ref: str
    amount: int
    currency: str
    status: str
    refunded_amount: int
    created_at: datetime


class RefundRow(Struct):
    at: datetime
    amount: int
    order_line_id: int | None  # None: the shipping, or the rest of the order


class EventRow(Struct):
    id: int
    type: str
    payload: dict[str, Any]
    created_at: datetime


class OrderView(Struct):
    """Everything about one order, as customer service reads it."""

    order: OrderOut
    history: list[HistoryEntry]
    checkout_status: str
    buyer: UserOut
    shop: VendorOut
    payments: list[PaymentRow]
    refunds: list[RefundRow]
    refunded_total: int
    events: list[EventRow]  # the buyer's feed events about this order, oldest first
    aftersales: list[RequestOut]
    disputes: list[DisputeOut]
    notes: list[SupportNoteOut]
    audit: list[AuditEntry]  # what support did to this order, newest first
    window: WindowOut
    expected_by: datetime | None  # when a shipped parcel should have arrived
    actions: list[str]  # what support may do now: cancel, lost, extend_window


class CheckoutView(Struct):
    checkout: CheckoutOut
    buyer_id: int
    payments: list[PaymentRow]


class BuyerView(Struct):
    buyer: UserOut
    orders: list[OrderOut]
    next_cursor: int | None
    disputes: list[DisputeOut]


class ShopView(Struct):
    shop: VendorOut
    orders: list[OrderOut]
    next_cursor: int | None
    disputes: list[DisputeOut]
