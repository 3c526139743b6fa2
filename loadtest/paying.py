"""Paying a checkout as the load tests' buyers do: by card in the sandbox, whose signed callback then
reaches the webhook, as the gateway's would."""

from __future__ import annotations

import os
import uuid
from typing import Any

from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway

GATEWAY = SandboxGateway(os.environ["LOADTEST_WEBHOOK_SECRET"])


def pay(client: Any, auth: dict[str, str], checkout_id: int) -> bool:
    """True once the payment is applied; `client` is a Locust user's HTTP client."""
    r = client.post(
        f"/checkouts/{checkout_id}/payments",
        json={"method": "sandbox"},
        headers=auth | {"Idempotency-Key": str(uuid.uuid4())},
        name="POST /checkouts/{id}/payments",
    )
    if r.status_code != 201:
        return False
    payment = r.json()["payment"]
    body, signature = GATEWAY.callback(payment["provider_ref"], payment["amount"], payment["currency"])
    r = client.post(
        "/payments/webhooks/sandbox",
        data=body,
        headers={SIGNATURE_HEADER: signature, "content-type": "application/json"},
        name="POST /payments/webhooks/sandbox",
    )
    return r.status_code == 200 and r.json().get("outcome") == "applied"
