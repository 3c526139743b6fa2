"""Payments: a provider interface, the built-in sandbox gateway, and the webhook that confirms payments.

Payment states: pending → succeeded | failed; succeeded → refunded (fully or in part, see refunded_amount).
A cash-on-delivery payment stays pending until the first of its orders is delivered and paid in cash.
"""

from enum import StrEnum


class PaymentMethod(StrEnum):
    SANDBOX = "sandbox"  # the built-in card gateway, confirmed by signed callback
    BANK_TRANSFER = "bank_transfer"  # confirmed by an admin when the money arrives
    CASH_ON_DELIVERY = "cash_on_delivery"  # each vendor's courier collects its order's total


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
