"""Request and response bodies of settlement."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from marketplace.core.types import Currency, Id, NonNegative, Price


class RateIn(Struct, forbid_unknown_fields=True):
    scope: Literal["platform", "vendor", "category"]
    rate_bp: Annotated[int, Meta(ge=0, le=10_000, description="Basis points: 1000 = 10%")]
    scope_id: NonNegative = 0


class RateOut(Struct):
    scope: str
    scope_id: int
    rate_bp: int


class PayoutIn(Struct, forbid_unknown_fields=True):
    vendor_id: Id
    amount: Price
    currency: Currency = "EUR"


class PayoutOut(Struct):
    id: int
    vendor_id: int
    amount: int
    currency: str
    admin_id: int
    created_at: datetime


class Balance(Struct):
    vendor_id: int
    currency: str
    balance: int  # what the platform owes the vendor now
    held: int = 0  # of it, what risk review holds back from payout (orders named by a live alert: docs/risk.md)


class StatementLine(Struct):
    id: int
    amount: int  # positive: owed to the vendor (a credit to its account)
    currency: str
    kind: str
    order_id: int | None
    payout_id: int | None
    created_at: datetime


class AccountBalance(Struct):
    account: str
    currency: str
    balance: int


class TrialBalance(Struct):
    accounts: list[AccountBalance]
    total: int  # always zero
