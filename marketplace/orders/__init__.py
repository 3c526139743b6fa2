"""Orders: one checkout (one payment) split into one order per vendor, and each order's lifecycle.

Order states: pending_payment → paid → accepted → shipped → delivered → completed; cancelled from
pending_payment (buyer, or the sweeper when payment times out) or from paid/accepted (buyer before shipment,
or vendor rejecting). Cash on delivery: pending_payment → confirmed → accepted → ..., the cash changing hands
on delivery. Checkout states: pending_payment → paid | cash_on_delivery | expired | cancelled.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"  # to be paid in cash on delivery
    PAID = "paid"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CheckoutStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    CASH_ON_DELIVERY = "cash_on_delivery"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
