"""What every load-test crowd shares: the buyers the runner prepared (LOADTEST_BUYERS), each simulated user
taking the next one in turn, the run ending when the last has left, and paying a checkout as they do: by card
in the sandbox, whose signed callback then reaches the webhook, as the gateway's would."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from typing import Any

import gevent
from locust import constant
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from loadtest.plan import is_greedy
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway

GATEWAY = SandboxGateway(os.environ["LOADTEST_WEBHOOK_SECRET"])
with open(os.environ["LOADTEST_BUYERS"]) as file:
    BUYERS: list[list[Any]] = json.load(file)  # [buyer id, access token, address id]
_next_buyer = itertools.count()
_finished = itertools.count(1)


class CrowdBuyer(FastHttpUser):
    """One prepared buyer (`index`, `buyer_id`, `auth`, `address_id`); `greedy_share` of them are greedy."""

    abstract = True
    wait_time = constant(0)
    connection_timeout = 60.0
    network_timeout = 60.0
    greedy_share = 0.0

    def on_start(self) -> None:
        self.index = next(_next_buyer)
        if self.index >= len(BUYERS):
            raise StopUser
        self.buyer_id, token, self.address_id = BUYERS[self.index]
        self.auth = {"Authorization": f"Bearer {token}"}
        self.greedy = is_greedy(self.index, self.greedy_share)

    def on_stop(self) -> None:
        if next(_finished) >= len(BUYERS):  # everyone has had their turn: end the run now
            gevent.spawn_later(1, self.environment.runner.quit)


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
