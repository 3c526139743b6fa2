"""Payments: a provider interface, the built-in sandbox gateway, and the webhook that confirms payments.

Payment states: pending → succeeded | failed; succeeded → refunded (fully or in part, see refunded_amount).
"""

from enum import StrEnum


class PaymentMethod(StrEnum):
    SANDBOX = "sandbox"  # the built-in card gateway, confirmed by signed callback
    BANK_TRANSFER = "bank_transfer"  # confirmed by an admin when the money arrives


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
