"""Locust: a crowd joining group buys. The runner started LOADTEST_GROUPS groups of one deal (their leaders
paid); every simulated buyer (one of the buyers the runner prepared, taken in turn) opens a group's share page,
picks a group (some groups are much more popular than others, so the popular ones are raced for their last
seats), and joins it with an Idempotency-Key; refused as full or closed, it looks at the deal's open groups
and tries one with a seat left, up to LOADTEST_ATTEMPTS groups in all. Once in, it pays at once (a sandbox
card payment and the gateway's signed callback) unless it is one of the LOADTEST_UNPAID share who walk away,
leaving their group short.

A share of the crowd (LOADTEST_GREEDY) retries its join with the same key, as a client that lost the answer
does, and must get the same checkout back; then joins the same group again with a new key, and must be
refused as already a member.

Each Locust process writes its outcomes and accepted joins ([buyer, group, checkout, paid]) to
LOADTEST_RESULTS/results-<pid>.json when it quits, for the runner to check against the database."""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter

from locust import task
from locust.exception import StopUser

from loadtest.crowd import CrowdBuyer, pay
from loadtest.recording import results_on_quit

GROUPS: list[int] = json.loads(os.environ["LOADTEST_GROUPS"])
DEAL = int(os.environ["LOADTEST_DEAL"])
ATTEMPTS = int(os.environ.get("LOADTEST_ATTEMPTS", "5"))
UNPAID = float(os.environ.get("LOADTEST_UNPAID", "0.03"))
GREEDY = float(os.environ.get("LOADTEST_GREEDY", "0.1"))
JOIN = "POST /group-buys/{id}/join"
# Popularity falls with a group's rank, so the first groups are raced for while the last ones wait.
WEIGHTS = [1 / (rank + 1) ** 0.7 for rank in range(len(GROUPS))]

outcomes: Counter[str] = Counter()
accepted: list[list[int]] = []  # [buyer id, group id, checkout id, paid (0/1)]


class GroupBuyer(CrowdBuyer):
    greedy_share = GREEDY

    def on_start(self) -> None:
        super().on_start()
        self.walks_away = random.Random(-self.index - 1).random() < UNPAID
        self.rng = random.Random(self.index)

    @task
    def join(self) -> None:
        tried: set[int] = set()
        candidates = GROUPS
        for attempt in range(ATTEMPTS):
            if attempt:  # refused: which groups still have a seat, as the deal's page shows them
                r = self.client.get(f"/group-buys/deals/{DEAL}", name="GET /group-buys/deals/{id}")
                seats = (
                    {g["id"] for g in r.json()["open_groups"] if g["seats_left"] > 0} if r.status_code == 200 else set()
                )
                candidates = [g for g in GROUPS if g in seats and g not in tried]
            if not candidates:
                outcomes["no seat left"] += 1
                break
            group_id = self.rng.choices(candidates, [WEIGHTS[GROUPS.index(g)] for g in candidates])[0]
            tried.add(group_id)
            self.client.get(f"/group-buys/{group_id}", name="GET /group-buys/{id}")
            key = str(uuid.uuid4())
            checkout_id = self._join(group_id, key)
            if checkout_id is None:
                continue
            if self.greedy:
                self._replay(group_id, key, checkout_id)
                self._join_again(group_id)
            paid = not self.walks_away and pay(self.client, self.auth, checkout_id)
            accepted.append([self.buyer_id, group_id, checkout_id, int(paid)])
            break
        raise StopUser

    def _join(self, group_id: int, key: str) -> int | None:
        headers = self.auth | {"Idempotency-Key": key}
        body = {"address_id": self.address_id}
        with self.client.post(
            f"/group-buys/{group_id}/join", json=body, headers=headers, name=JOIN, catch_response=True
        ) as r:
            checkout_id = None
            if r.status_code == 201:
                outcome, checkout_id = "joined", r.json()["checkout"]["id"]
            elif r.status_code == 409:
                outcome = (r.json() if r.text else {}).get("reason") or "http 409"
            else:
                outcome = f"http {r.status_code}"
            if outcome in ("joined", "full", "closed"):
                r.success()
            else:
                r.failure(f"{outcome}: {(r.text or str(r.error))[:200]}")
        outcomes[outcome] += 1
        return checkout_id

    def _replay(self, group_id: int, key: str, checkout_id: int) -> None:
        headers = self.auth | {"Idempotency-Key": key}
        with self.client.post(
            f"/group-buys/{group_id}/join", json={"address_id": self.address_id}, headers=headers,
            name=f"{JOIN} (retry)", catch_response=True,
        ) as r:  # fmt: skip
            same = r.status_code == 201 and r.json()["checkout"]["id"] == checkout_id
            outcomes["retry answered with the same checkout" if same else "retry answered otherwise"] += 1
            if not same:
                r.failure(f"a retry got {r.status_code} {(r.text or '')[:200]}, not checkout {checkout_id}")

    def _join_again(self, group_id: int) -> None:
        headers = self.auth | {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            f"/group-buys/{group_id}/join", json={"address_id": self.address_id}, headers=headers,
            name=f"{JOIN} (again)", catch_response=True,
        ) as r:  # fmt: skip
            refused = r.status_code == 409 and (r.json() if r.text else {}).get("reason") == "already_member"
            outcomes["second join refused" if refused else "second join answered otherwise"] += 1
            if refused:
                r.success()
            else:
                r.failure(f"a second join got {r.status_code} {(r.text or '')[:200]}")


results_on_quit(lambda: {"outcomes": outcomes, "accepted": accepted})
