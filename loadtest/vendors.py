"""Locust: vendors holding live order sockets while shoppers check out. Each VendorWatcher opens a /feed
WebSocket with its shop's token, subscribes to `vendor:<id>:orders` and times every `order.placed` from its
commit (the event's `at`) to arrival (one machine, one clock), reported as request type WS. Shoppers put a
random listed SKU in the cart and check out. At the end each socket's received orders go to
LOADTEST_RESULTS, for the runner to check that no socket missed an order of its shop."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from datetime import datetime
from typing import Any

import websocket
from locust import User, between, task
from locust.contrib.fasthttp import FastHttpUser

from loadtest.recording import results_on_quit
from marketplace.core import topics

with open(os.environ["LOADTEST_SETUP"]) as file:
    SETUP: dict[str, Any] = json.load(file)  # vendors: [[vendor id, token]], buyers: [[id, token, address]], skus
WS_URL = os.environ["LOADTEST_WS"]
_next_vendor = itertools.count()
_next_buyer = itertools.count()
sockets: list[dict[str, Any]] = []


class VendorWatcher(User):
    fixed_count = int(os.environ.get("LOADTEST_SOCKETS", "100"))

    def on_start(self) -> None:
        self.vendor_id, token = SETUP["vendors"][next(_next_vendor) % len(SETUP["vendors"])]
        self.ws = websocket.create_connection(WS_URL, header=[f"Authorization: Bearer {token}"], timeout=30)
        self.ws.send(json.dumps({"op": "subscribe", "topics": [topics.vendor_orders(self.vendor_id)]}))
        self.seen: dict[str, Any] = {"vendor_id": self.vendor_id, "since": None, "orders": [], "last": 0}
        sockets.append(self.seen)

    @task
    def listen(self) -> None:
        while True:
            message = json.loads(self.ws.recv())
            if message["type"] == "subscribed":
                self.seen["since"] = message["last_id"]
            elif message["type"] == "order.placed":
                lag = (time.time() - datetime.fromisoformat(message["at"]).timestamp()) * 1000
                self.seen["orders"].append(message["data"]["order_id"])
                self.seen["last"] = message["id"]
                self.environment.events.request.fire(
                    request_type="WS", name="order.placed (commit to socket)", response_time=lag,
                    response_length=0, exception=None, context={},
                )  # fmt: skip

    def on_stop(self) -> None:
        self.ws.close()


class Shopper(FastHttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        _, token, self.address_id = SETUP["buyers"][next(_next_buyer) % len(SETUP["buyers"])]
        self.auth = {"Authorization": f"Bearer {token}"}

    @task
    def buy(self) -> None:
        sku = random.choice(SETUP["skus"])
        self.client.put(f"/cart/items/{sku}", json={"quantity": 1}, headers=self.auth, name="PUT /cart/items/{id}")
        self.client.post("/checkouts", json={"address_id": self.address_id}, headers=self.auth, name="POST /checkouts")


results_on_quit(lambda: {"sockets": sockets})
