"""Request and response bodies of the vendors API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from marketplace.core.types import Email, LongText, Phone, Reason
from marketplace.risk.schemas import ShopTrust

# One line that neither starts nor ends with a space, without NUL. Classes are spelled out: `\S` and `.` mean
# different things to Python's regexes and to the ECMA ones the OpenAPI document's readers use.
_NAME_END = r"[^\x00-\x20\x7f]"
ShopName = Annotated[
    str, Meta(min_length=2, max_length=60, pattern=rf"^{_NAME_END}([^\x00\n\r\u2028\u2029]*{_NAME_END})?$")
]
Licence = Annotated[str, Meta(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9/.\- ]+$")]
PayoutAccount = Annotated[
    str, Meta(min_length=8, max_length=40, pattern=r"^[A-Za-z0-9 ]+$", description="IBAN or bank account number")
]


class ApplicationIn(Struct, forbid_unknown_fields=True):
    shop_name: ShopName
    contact_email: Email
    licence_number: Licence
    description: LongText = ""
    contact_phone: Phone | None = None


class ApplicationOut(Struct):
    id: int
    user_id: int
    shop_name: str
    description: str
    contact_email: str
    contact_phone: str
    licence_number: str
    status: str
    reason: str | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    created_at: datetime


class ReasonIn(Struct, forbid_unknown_fields=True):
    reason: Reason


class VendorOut(Struct):
    id: int
    user_id: int
    shop_name: str
    description: str
    contact_email: str
    contact_phone: str
    licence_number: str
    payout_account: str  # masked: only its last four characters are shown
    status: str
    status_reason: str | None
    created_at: datetime


class PublicVendorOut(Struct):
    """What buyers see of a shop."""

    id: int
    shop_name: str
    description: str
    created_at: datetime
    trust: ShopTrust | None = None  # the shop's trust score and what it is made of (docs/risk.md)


class ShopPatch(Struct, forbid_unknown_fields=True):
    description: LongText | UnsetType = UNSET
    contact_email: Email | UnsetType = UNSET
    contact_phone: Phone | UnsetType = UNSET
    payout_account: PayoutAccount | UnsetType = UNSET
