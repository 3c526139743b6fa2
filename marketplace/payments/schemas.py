"""Request and response bodies of payments."""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct

from marketplace.core.types import BigInt
from marketplace.payments import PaymentMethod


class PaymentIn(Struct, forbid_unknown_fields=True):
    method: PaymentMethod = PaymentMethod.SANDBOX


class PaymentOut(Struct):
    id: int
    checkout_id: int
    method: str
    provider_ref: str
    amount: int
    currency: str
    status: str
    refunded_amount: int
    created_at: datetime
    confirmed_at: datetime | None


class NextAction(Struct):
    """What the buyer does next: approve at the gateway (`redirect`, `url`), transfer the money
    (`bank_transfer`, instructions in `url`) or pay the couriers (`cash_on_delivery`, instructions in `url`)."""

    type: str
    url: str


class TransferReceived(Struct, forbid_unknown_fields=True):
    amount_received: BigInt  # minor units


class PaymentStarted(Struct):
    payment: PaymentOut
    next_action: NextAction


class CallbackResult(Struct):
    outcome: str
