"""Orders: one checkout (one payment) split into one order per vendor, and each order's lifecycle.

Order states: pending_payment → paid → accepted → shipped → delivered → completed; cancelled from
pending_payment (buyer, or the sweeper when payment times out) or from paid/accepted (buyer before shipment,
or vendor rejecting). Checkout states: pending_payment → paid | expired | cancelled.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CheckoutStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
