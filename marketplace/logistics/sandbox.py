"""The sandbox carrier: behaves like an external carrier's API, without parcels. Shipping through it issues a
tracking number; its own routes (mounted, like the sandbox payment gateway, only with SANDBOX_GATEWAY on)
then post tracking events to our webhook over HTTP, as a carrier would. Events are signed like the payment
sandbox's callbacks: `Carrier-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with a secret
from settings; a signature older than five minutes is refused, so a captured event cannot be replayed later."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import msgspec

from marketplace.core.signing import WebhookSigner
from marketplace.logistics.carriers import TrackingEvent, TrackingType

SIGNATURE_HEADER = "Carrier-Signature"
_DECODER = msgspec.json.Decoder(TrackingEvent)


class SandboxCarrier(WebhookSigner):
    name = "sandbox"
    display_name = "Sandbox Carrier"
    signature_header = SIGNATURE_HEADER

    def open_shipment(self, order_id: int) -> str:
        return f"SBX{order_id}{secrets.token_hex(5).upper()}"

    def parse(self, body: bytes) -> TrackingEvent:
        return _DECODER.decode(body)

    def event(
        self, tracking_number: str, type_: TrackingType, location: str = "", description: str = ""
    ) -> tuple[bytes, str]:
        """The body and signature header the carrier posts for a new event on a parcel."""
        body = msgspec.json.encode(
            TrackingEvent(
                event_id="trk_" + uuid.uuid4().hex,
                tracking_number=tracking_number,
                type=type_,
                occurred_at=datetime.now(UTC),
                location=location,
                description=description,
            )
        )
        return body, self.sign(body)
