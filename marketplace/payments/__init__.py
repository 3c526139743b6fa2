"""Payments: a provider interface, the built-in sandbox gateway, and the webhook that confirms payments.

Payment states: pending → succeeded | failed; succeeded → refunded (fully or in part, see refunded_amount).
"""

from enum import StrEnum


class PaymentMethod(StrEnum):
    SANDBOX = "sandbox"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
