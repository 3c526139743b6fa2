"""The sandbox gateway: behaves like an external card gateway, without the money.

`create` registers a payment and returns where the buyer would approve it; approving makes the gateway
send a signed callback to our webhook, as a real gateway does. Callbacks are signed Stripe-style:
`Sandbox-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, and a signature older than
five minutes is refused, so a captured callback cannot be replayed later.

Its payment page approves without money or login, so the app mounts it only with SANDBOX_GATEWAY=true (the demo,
the tests and the load test); without it, card payments are refused and its routes do not exist."""

from __future__ import annotations

import secrets
import uuid

import msgspec

from marketplace.core.signing import WebhookSigner

SIGNATURE_HEADER = "Sandbox-Signature"


class Callback(msgspec.Struct, forbid_unknown_fields=True):
    event_id: str
    type: str  # payment.succeeded | payment.failed
    ref: str
    amount: int
    currency: str


class SandboxGateway(WebhookSigner):
    name = "sandbox"

    def create(self) -> str:
        return "sbx_" + secrets.token_urlsafe(18)

    def callback(self, ref: str, amount: int, currency: str, succeeded: bool = True) -> tuple[bytes, str]:
        """The body and signature header the gateway sends when the buyer approves (or declines)."""
        body = msgspec.json.encode(
            Callback(
                event_id="evt_" + uuid.uuid4().hex,
                type="payment.succeeded" if succeeded else "payment.failed",
                ref=ref,
                amount=amount,
                currency=currency,
            )
        )
        return body, self.sign(body)
