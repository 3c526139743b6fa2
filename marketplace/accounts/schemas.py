"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from marketplace.core.types import CountryCode, Email, OptionalShortText, Phone, Reason, ShortText

Role = Literal["buyer", "vendor", "marketer", "support", "admin"]
Password = Annotated[str, Meta(min_length=1, max_length=128)]
TotpCode = Annotated[str, Meta(pattern=r"^[0-9]{6}$")]


class RegisterIn(Struct, forbid_unknown_fields=True):
    password: Password
    email: Email | None = None
    phone: Phone | None = None
    display_name: OptionalShortText = ""


class LoginIn(Struct, forbid_unknown_fields=True):
    identifier: Annotated[str, Meta(min_length=3, max_length=254, description="Email or phone")]
    password: Password
    totp_code: TotpCode | None = None


class TokenPair(Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class RefreshIn(Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, Meta(min_length=10, max_length=200)]


class LogoutIn(Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, Meta(min_length=10, max_length=200)] | None = None


class UserOut(Struct):
    id: int
    email: str | None
    phone: str | None
    display_name: str
    roles: list[str]
    status: str
    status_reason: str | None
    totp_enabled: bool
    email_verified_at: datetime | None
    created_at: datetime


class ProfileUpdate(Struct, forbid_unknown_fields=True):
    display_name: OptionalShortText | UnsetType = UNSET


class AddressIn(Struct, forbid_unknown_fields=True):
    recipient: ShortText
    phone: Phone
    line1: ShortText
    city: ShortText
    postal_code: Annotated[str, Meta(min_length=2, max_length=16, pattern=r"^[A-Za-z0-9 -]+$")]
    country: CountryCode
    line2: OptionalShortText = ""
    region: OptionalShortText = ""
    is_default: bool = False


class AddressPatch(Struct, forbid_unknown_fields=True):
    recipient: ShortText | UnsetType = UNSET
    phone: Phone | UnsetType = UNSET
    line1: ShortText | UnsetType = UNSET
    line2: OptionalShortText | UnsetType = UNSET
    city: ShortText | UnsetType = UNSET
    region: OptionalShortText | UnsetType = UNSET
    postal_code: Annotated[str, Meta(min_length=2, max_length=16, pattern=r"^[A-Za-z0-9 -]+$")] | UnsetType = UNSET
    country: CountryCode | UnsetType = UNSET
    is_default: bool | UnsetType = UNSET


class AddressOut(Struct):
    id: int
    recipient: str
    phone: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    is_default: bool


class TotpEnrolment(Struct):
    secret: str
    otpauth_uri: str


class TotpCodeIn(Struct, forbid_unknown_fields=True):
    code: TotpCode


class RolesIn(Struct, forbid_unknown_fields=True):
    roles: Annotated[list[Role], Meta(min_length=1, max_length=4)]


class ModerationIn(Struct, forbid_unknown_fields=True):
    reason: Reason


AccountToken = Annotated[str, Meta(min_length=20, max_length=200, description="The token from the email")]


class PasswordResetIn(Struct, forbid_unknown_fields=True):
    email: Email


class PasswordResetConfirmIn(Struct, forbid_unknown_fields=True):
    token: AccountToken
    password: Password


class VerifyEmailIn(Struct, forbid_unknown_fields=True):
    token: AccountToken


# Account self-service (sessions.py, email_change.py)


class PasswordChangeIn(Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class SessionOut(Struct):
    """A login session (a refresh-token family): when it began, when its tokens were last renewed, and the
    client that signed in, as recorded at sign-in (empty when unknown)."""

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str
    current: bool


class SessionsEnded(Struct):
    ended: int


class EmailChangeIn(Struct, forbid_unknown_fields=True):
    new_email: Email
    password: Password


class EmailChangeConfirmIn(Struct, forbid_unknown_fields=True):
    token: AccountToken
