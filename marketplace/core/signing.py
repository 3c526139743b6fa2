"""Signed webhook bodies, Stripe-style: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. A signature older
than TOLERANCE_SECONDS is refused, so a captured callback cannot be replayed later. The payment and carrier
sandboxes sign what they post with it, and our webhooks check it."""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


class WebhookSigner:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()

    def sign(self, body: bytes, at: int | None = None) -> str:
        at = int(time.time()) if at is None else at
        mac = hmac.new(self.secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={at},v1={mac}"

    def verify(self, body: bytes, header: str | None) -> bool:
        if not header:
            return False
        try:
            parts = dict(item.split("=", 1) for item in header.split(","))
            at = int(parts["t"])
        except (ValueError, KeyError):
            return False
        if abs(time.time() - at) > TOLERANCE_SECONDS:
            return False
        expected = self.sign(body, at).split("v1=", 1)[1]
        return hmac.compare_digest(expected, parts.get("v1", ""))
