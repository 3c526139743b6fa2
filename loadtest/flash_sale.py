"""Locust: a flash-sale crowd. Every simulated buyer (one of the buyers the runner prepared, taken in turn)
arrives before the sale opens and looks at its countdown page, waits for the start (as a countdown page makes
people do), tries to buy one unit within the first LOADTEST_SPREAD seconds with an Idempotency-Key, and if
admitted pays at once: starts a sandbox card payment and has the gateway's signed callback delivered to the
webhook, as tests/test_payments.py does. Then it leaves; the last buyer to leave ends the run.

A share of the crowd (LOADTEST_GREEDY) is greedy: once admitted, it sends the same request again, as a client
retrying after a lost answer does, and must get the same checkout back; then it keeps buying with new keys
until refused, one attempt past its limit at most, and must be refused.

Each Locust process writes its outcomes, the accepted checkouts and the status codes it saw to
LOADTEST_RESULTS/results-<pid>.json at the end, for the runner to check against the database."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter

import gevent
from locust import task
from locust.exception import StopUser

from loadtest.crowd import CrowdBuyer, pay
from loadtest.recording import results_on_quit

SALE = int(os.environ["LOADTEST_SALE"])
LIMIT = int(os.environ.get("LOADTEST_LIMIT", "1"))
STARTS_AT = float(os.environ["LOADTEST_STARTS_AT"])  # epoch seconds
SPREAD = float(os.environ.get("LOADTEST_SPREAD", "1"))
GREEDY = float(os.environ.get("LOADTEST_GREEDY", "0"))
PURCHASE = "POST /flash-sales/{id}/purchase"

outcomes: Counter[str] = Counter()
accepted: list[list[int]] = []  # [buyer id, checkout id, paid (0/1)]
window = [float("inf"), 0.0]  # first purchase attempt sent, last one answered (epoch seconds)


class FlashBuyer(CrowdBuyer):
    greedy_share = GREEDY

    @task
    def buy(self) -> None:
        self.client.get(f"/flash-sales/{SALE}", headers=self.auth, name="GET /flash-sales/{id}")
        gevent.sleep(max(0.0, STARTS_AT - time.time()) + random.uniform(0, SPREAD))
        for attempt in range(LIMIT + 1 if self.greedy else 1):
            key = str(uuid.uuid4())
            checkout_id = self._purchase(key, past_limit=attempt == LIMIT)
            if checkout_id is None:
                break
            if self.greedy and attempt == 0:
                self._replay(key, checkout_id)
            accepted.append([self.buyer_id, checkout_id, int(pay(self.client, self.auth, checkout_id))])
        raise StopUser

    def _purchase(self, key: str, past_limit: bool) -> int | None:
        """One attempt; the checkout's id when admitted. Refusals are right answers, except a buyer admitted
        past the limit."""
        body = {"address_id": self.address_id, "quantity": 1}
        window[0] = min(window[0], time.time())
        headers = self.auth | {"Idempotency-Key": key}
        with self.client.post(
            f"/flash-sales/{SALE}/purchase", json=body, headers=headers, name=PURCHASE, catch_response=True
        ) as r:
            window[1] = max(window[1], time.time())
            checkout_id = None
            if r.status_code == 201:
                outcome, checkout_id = "admitted past the limit" if past_limit else "admitted", r.json()["id"]
            elif r.status_code in (409, 429):
                outcome = (r.json() if r.text else {}).get("reason") or f"http {r.status_code}"
            else:
                outcome = f"http {r.status_code}"
            if outcome in ("admitted", "sold_out", "limit_reached", "rate_limited", "http 429"):
                r.success()
            else:
                r.failure(f"{outcome}: {(r.text or str(r.error))[:200]}")
        outcomes[outcome] += 1
        return checkout_id

    def _replay(self, key: str, checkout_id: int) -> None:
        body = {"address_id": self.address_id, "quantity": 1}
        headers = self.auth | {"Idempotency-Key": key}
        with self.client.post(
            f"/flash-sales/{SALE}/purchase", json=body, headers=headers, name=f"{PURCHASE} (retry)", catch_response=True
        ) as r:
            same = r.status_code == 201 and r.json()["id"] == checkout_id
            outcomes["retry answered with the same checkout" if same else "retry answered otherwise"] += 1
            if not same:
                r.failure(f"a retry got {r.status_code} {(r.text or '')[:200]}, not checkout {checkout_id}")


results_on_quit(lambda: {"outcomes": outcomes, "accepted": accepted, "window": window})
