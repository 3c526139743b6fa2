"""Locust: a flash-sale crowd. Every simulated buyer (one of the buyers the runner prepared) arrives before
the sale opens and looks at its countdown page, waits for the start (as a countdown page makes people do),
tries to buy one unit within the first LOADTEST_SPREAD seconds, and if admitted pays at once through the
sandbox gateway, then leaves. The last buyer to leave ends the run. Outcomes and accepted checkouts go to
LOADTEST_RESULTS at the end, for the runner to check against the database."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from collections import Counter
from typing import Any

import gevent
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

with open(os.environ["LOADTEST_BUYERS"]) as file:
    BUYERS: list[list[Any]] = json.load(file)  # [buyer id, access token, address id]
SALE = int(os.environ["LOADTEST_SALE"])
STARTS_AT = float(os.environ["LOADTEST_STARTS_AT"])  # epoch seconds
SPREAD = float(os.environ.get("LOADTEST_SPREAD", "1"))
_next_buyer = itertools.count()
_finished = itertools.count(1)
outcomes: Counter[str] = Counter()
accepted: list[list[int]] = []  # [buyer id, checkout id, paid (0/1)]


class FlashBuyer(FastHttpUser):
    wait_time = constant(0)
    connection_timeout = 60.0
    network_timeout = 60.0

    def on_start(self) -> None:
        index = next(_next_buyer)
        if index >= len(BUYERS):
            raise StopUser
        self.buyer_id, token, self.address_id = BUYERS[index]
        self.auth = {"Authorization": f"Bearer {token}"}

    @task
    def buy(self) -> None:
        self.client.get(f"/flash-sales/{SALE}", headers=self.auth, name="GET /flash-sales/{id}")
        gevent.sleep(max(0.0, STARTS_AT - time.time()) + random.uniform(0, SPREAD))
        body = {"address_id": self.address_id, "quantity": 1}
        headers = self.auth | {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            f"/flash-sales/{SALE}/purchase", json=body, headers=headers, name="POST purchase", catch_response=True
        ) as r:
            if r.status_code == 201:
                outcome, checkout_id = "admitted", r.json()["id"]
            elif r.status_code in (409, 429):  # a refusal is the right answer for most of the crowd
                outcome, checkout_id = r.json().get("reason", "rate_limited"), None
            else:
                outcome, checkout_id = f"http {r.status_code}", None
                r.failure(f"unexpected {r.status_code}: {(r.text or str(r.error))[:200]}")
            if not outcome.startswith("http"):
                r.success()
        outcomes[outcome] += 1
        if checkout_id is not None:
            accepted.append([self.buyer_id, checkout_id, int(self._pay(checkout_id))])
        raise StopUser

    def _pay(self, checkout_id: int) -> bool:
        r = self.client.post(
            f"/checkouts/{checkout_id}/payments", json={}, headers=self.auth, name="POST /checkouts/{id}/payments"
        )
        if r.status_code != 201:
            return False
        ref = r.json()["payment"]["provider_ref"]
        r = self.client.post(f"/sandbox-gateway/{ref}/approve", name="POST gateway approve")
        return r.status_code == 200 and r.json().get("outcome") == "applied"

    def on_stop(self) -> None:
        if next(_finished) >= len(BUYERS):  # everyone has had their turn: end the run now
            gevent.spawn_later(2, self.environment.runner.quit)


@events.quitting.add_listener
def _write_results(environment: Any, **_: Any) -> None:
    with open(os.environ["LOADTEST_RESULTS"], "w") as file:
        json.dump({"outcomes": outcomes, "accepted": accepted}, file)
