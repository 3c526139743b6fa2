"""What the privacy routes take."""

from __future__ import annotations

from msgspec import Struct

from marketplace.accounts.schemas import Password


class EraseIn(Struct, forbid_unknown_fields=True):
    password: Password  # the account's, confirming that its owner asks
