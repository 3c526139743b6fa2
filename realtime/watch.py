"""`marketplace watch`: follow a live feed from a terminal.

Logs in over HTTP (with a two-factor code when the account uses one: given up front, or asked for when
the server wants one and there is someone to ask), picks the caller's own feeds unless topics are given (a
vendor: its orders, stock and after-sales; anyone else: their orders and notifications), and prints each
event on one line, money in the currency's own decimals. After any drop it reconnects with capped, jittered
backoff, renews the access token with the refresh token when it was refused or expired (a two-factor code
works once, so logging in afresh would need another), and resumes from the highest id it has printed, so
nothing is missed and nothing printed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import msgspec
import websockets
from websockets.asyncio.client import connect

from marketplace.core import topics
from marketplace.core.money import DEFAULT_CURRENCY, amount_text, format_money
from realtime import CLOSE_POLICY

MAX_BACKOFF = 30.0


class Watcher:
    def __init__(
        self,
        url: str,
        identifier: str,
        password: str,
        topics: list[str],
        out: Callable[[str], None],
        totp_code: str | None = None,
        ask_code: Callable[[], str] | None = None,
    ):
        """`totp_code`: a two-factor code for the first login; `ask_code`: how to ask the user for one when the
        server wants one (None: nobody to ask, so a login that needs a code fails with a message)."""
        self.http_url = url.rstrip("/")
        self.feed_url = self.http_url.replace("http", "ws", 1) + "/feed"
        self.identifier, self.password = identifier, password
        self.totp_code, self.ask_code = totp_code, ask_code
        self.topics = topics
        self.out = out
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.last_id: int | None = None

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                if self.token is None:
                    await self._login()
                await self._follow()
                backoff = 0.5
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code == CLOSE_POLICY:
                    self.token = None  # expired or revoked: log in again
                self.out(f"-- connection closed ({code}: {closed.rcvd.reason if closed.rcvd else 'no reason'})")
            except (OSError, httpx.HTTPError, TimeoutError) as error:
                self.out(f"-- {type(error).__name__}: {error}")
            delay = min(MAX_BACKOFF, backoff) * random.uniform(0.5, 1.0)
            self.out(f"-- reconnecting in {delay:.1f} s, resuming after #{self.last_id or 0}")
            await asyncio.sleep(delay)
            backoff *= 2

    async def _login(self) -> None:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=10) as http:
            if not await self._renew(http):
                await self._sign_in(http)
            if not self.topics:
                self.topics = await self._own_topics(http)

    async def _renew(self, http: httpx.AsyncClient) -> bool:
        """A new access token for the refresh token (which rotates), if there is one and it still works."""
        if self.refresh_token is None:
            return False
        r = await http.post("/auth/refresh", json={"refresh_token": self.refresh_token})
        self.refresh_token = None
        if r.status_code != 200:
            return False
        self._keep(r.json())
        return True

    async def _sign_in(self, http: httpx.AsyncClient) -> None:
        while True:
            code, self.totp_code = self.totp_code, None  # each code works once
            body = {"identifier": self.identifier, "password": self.password}
            r = await http.post("/auth/login", json=body | ({"totp_code": code} if code else {}))
            if r.status_code == 200:
                self._keep(r.json())
                return
            problem = _problem(r)
            if not problem.get("totp_required"):
                raise SystemExit(f"login failed: {problem['detail']}")
            if self.ask_code is None:
                raise SystemExit(
                    f"login failed: {problem['detail']}; this account uses two-factor authentication: pass "
                    "--totp-code with a current code from your authenticator app"
                )
            if code:
                self.out(f"-- {problem['detail']}")
            self.totp_code = (await asyncio.to_thread(self.ask_code)).strip() or None

    def _keep(self, tokens: dict[str, Any]) -> None:
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    async def _own_topics(self, http: httpx.AsyncClient) -> list[str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        me = (await http.get("/me", headers=headers)).json()
        if "vendor" in me["roles"]:
            shop = await http.get("/vendor/shop", headers=headers)
            if shop.status_code == 200:
                vendor = shop.json()["id"]
                return [topics.vendor_orders(vendor), topics.vendor_stock(vendor), topics.vendor_aftersales(vendor)]
        return [topics.user_orders(me["id"]), topics.user(me["id"])]

    async def _follow(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with connect(self.feed_url, additional_headers=headers, open_timeout=10) as ws:
            await ws.send(msgspec.json.encode({"op": "subscribe", "topics": self.topics, "last_id": self.last_id}))
            async for raw in ws:
                self._show(msgspec.json.decode(raw))

    def _show(self, message: dict[str, Any]) -> None:
        if "topic" in message:
            if self.last_id is not None and message["id"] <= self.last_id:
                return  # already printed before a reconnect
            self.last_id = message["id"]
            self.out(describe(message))
        elif message["type"] == "subscribed":
            self.last_id = self.last_id if self.last_id is not None else message["last_id"]
            replayed = f", {message['replayed']} missed events replayed" if message["replayed"] else ""
            self.out(f"-- watching {', '.join(message['topics'])}{replayed}")
        elif message["type"] == "error":
            self.out(f"!! {message['error']}: {message['detail']} {' '.join(message['topics'])}".rstrip())


def _problem(r: httpx.Response) -> dict[str, Any]:
    """An error response's problem details (or as much as can be made of a body that is not one)."""
    try:
        problem = r.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return {"detail": r.text or f"HTTP {r.status_code}"}
    return problem | {"detail": problem.get("detail", f"HTTP {r.status_code}")}


def describe(event: dict[str, Any]) -> str:
    """One readable line: time, id, topic, type and the payload's telling fields."""
    at = datetime.fromisoformat(event["at"]).astimezone().strftime("%H:%M:%S")
    data = event["data"]
    parts = []
    if "order_id" in data:
        parts.append(f"order {data['order_id']}")
    if "status" in data:
        parts.append(str(data["status"]))
    if "items" in data:
        parts.append(f"{data['items']} items")
    currency = data.get("currency", DEFAULT_CURRENCY)
    if "total" in data:
        parts.append(format_money(data["total"], currency))
    if "refunded" in data:
        parts.append(f"{format_money(data['refunded'], currency)} refunded")
    if "price" in data:
        was = f"{amount_text(data['old_price'], currency, grouped=True)} → " if "old_price" in data else ""
        parts.append(f"{was}{format_money(data['price'], currency)}")
    if "sku_id" in data:
        parts.append(f"sku {data['sku_id']}")
    if "available" in data:
        parts.append(f"{data['available']} available")
    if "reason" in data:
        parts.append(f"“{data['reason']}”")
    shown = " · ".join(parts) or msgspec.json.encode(data).decode()
    return f"{at}  #{event['id']:<7} {event['topic']:<24} {event['type']:<20} {shown}"


def watch(
    url: str,
    identifier: str,
    password: str,
    topics: list[str],
    totp_code: str | None = None,
    ask_code: Callable[[], str] | None = None,
) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the feed, not every request, is the output
    watcher = Watcher(url, identifier, password, topics, lambda line: print(line, flush=True), totp_code, ask_code)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(watcher.run())
