"""Faults under load: `marketplace serve --workers 2` on its own embedded servers, a buyer checking out
steadily, visitors searching, and the shop's live feed open; then Valkey is killed, and later PostgreSQL.

Prints, per phase, the requests by status, how long until the next successful checkout after each kill, and
the live feed's account: orders placed against order events received (lost, repeated).

    python -m benchmarks.faults [--seconds-between 8]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec
import websockets

from marketplace.core import topics
from marketplace.seed.loader import DEMO_PASSWORD
from tests.test_realtime import free_port


class Run:
    def __init__(self) -> None:
        self.phase = "before"
        self.statuses: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.placed: list[int] = []
        self.received: list[int] = []
        self.event_ids: list[int] = []  # the feed's id of each order event received
        self.last_success = 0.0
        self.stop = False

    def count(self, outcome: str) -> None:
        self.statuses[self.phase][outcome] += 1


async def sign_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await http.post("/auth/login", json={"identifier": email, "password": DEMO_PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def buyer_loop(http: httpx.AsyncClient, run: Run, headers: dict[str, str], sku: int, address: int) -> None:
    while not run.stop:
        try:
            r = await http.put(f"/cart/items/{sku}", json={"quantity": 1}, headers=headers)
            if r.status_code == 200:
                r = await http.post("/checkouts", json={"address_id": address}, headers=headers)
            run.count(str(r.status_code))
            if r.status_code == 201:
                run.placed.extend(o["id"] for o in r.json()["orders"])
                run.last_success = time.monotonic()
        except httpx.HTTPError as error:
            run.count(type(error).__name__)
        await asyncio.sleep(0.2)


async def visitor_loop(http: httpx.AsyncClient, run: Run) -> None:
    words = ["kettle", "lamp", "shoes", "tea", "chair"]
    n = 0
    while not run.stop:
        n += 1
        try:
            r = await http.get("/products", params={"q": words[n % len(words)], "page": 1 + n % 3})
            run.count(str(r.status_code))
        except httpx.HTTPError as error:
            run.count(type(error).__name__)
        await asyncio.sleep(0.05)


async def feed_loop(url: str, run: Run, headers: dict[str, str], topic: str) -> None:
    """The shop's socket, resuming with its last id after any drop, as the page's script does."""
    last_id: int | None = None
    while not run.stop:
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                await ws.send(msgspec.json.encode({"op": "subscribe", "topics": [topic], "last_id": last_id}))
                while not run.stop:
                    message = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 1.0))
                    if "topic" in message and message["type"] == "order.placed":
                        run.received.append(message["data"]["order_id"])
                        run.event_ids.append(message["id"])
                    if "topic" in message:
                        last_id = message["id"]
                    elif message.get("type") == "subscribed" and last_id is None:
                        last_id = message["last_id"]
        except (TimeoutError, OSError, websockets.WebSocketException):
            await asyncio.sleep(0.2)


def pid_of(path: Path) -> int:
    return int(path.read_text().split()[0])


async def main(seconds_between: float) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="marketplace-faults-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    cli = [sys.executable, "-m", "marketplace", "--data-dir", str(data_dir)]
    print("seeding a tiny demo ...", flush=True)
    await asyncio.to_thread(subprocess.run, [*cli, "seed", "--size", "tiny"], env=env, check=True, capture_output=True)
    log = (data_dir / "serve.log").open("wb")
    serve = await asyncio.to_thread(
        subprocess.Popen, [*cli, "serve", "--port", str(port), "--workers", "2"],
        env={**env, "SANDBOX_GATEWAY": "true"}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    run = Run()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            for _ in range(600):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            buyer = await sign_in(http, "buyer1@demo.test")
            vendor = await sign_in(http, "vendor1@demo.test")
            shop = (await http.get("/vendor/shop", headers=vendor)).json()
            listing = (await http.get("/products", params={"vendor": shop["id"], "in_stock": "true"})).json()
            product = (await http.get(f"/products/{listing['items'][0]['id']}")).json()
            assert product["vendor"]["id"] == shop["id"], (product["vendor"], shop["id"])
            sku = product["skus"][0]["id"]
            addresses = (await http.get("/me/addresses", headers=buyer)).json()
            address = (addresses["items"] if isinstance(addresses, dict) else addresses)[0]["id"]
            # Enough stock for the whole run.
            await http.post(f"/vendor/inventory/{sku}", json={"set": 100000}, headers=vendor)

            tasks = [
                asyncio.create_task(buyer_loop(http, run, buyer, sku, address)),
                asyncio.create_task(visitor_loop(http, run)),
                asyncio.create_task(
                    feed_loop(f"ws://127.0.0.1:{port}/feed", run, vendor, topics.vendor_orders(shop["id"]))
                ),
            ]
            recovery: dict[str, float] = {}
            await asyncio.sleep(seconds_between)
            for name, pidfile in (
                ("valkey", data_dir / "valkey" / "valkey.pid"),
                ("postgres", data_dir / "pg" / "postmaster.pid"),
            ):
                run.phase = f"{name} killed"
                killed_at = time.monotonic()
                os.kill(pid_of(pidfile), signal.SIGKILL)
                for _ in range(1200):  # until the next checkout succeeds (a minute at most)
                    if run.last_success > killed_at:
                        break
                    await asyncio.sleep(0.05)
                recovery[name] = time.monotonic() - killed_at
                await asyncio.sleep(seconds_between)
            run.phase = "after"
            await asyncio.sleep(seconds_between)
            run.stop = True
            await asyncio.sleep(2.0)  # the last events arrive
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        serve.send_signal(signal.SIGTERM)
        await asyncio.to_thread(serve.wait, 60)
        log.close()
    errors = [line for line in (data_dir / "serve.log").read_text().splitlines() if "unhandled error" in line]
    if not errors:
        shutil.rmtree(data_dir, ignore_errors=True)  # kept otherwise, for the server's log

    print("\nrequests by phase and status (checkouts and searches):")
    for phase, counter in run.statuses.items():
        print(f"  {phase:16s} " + ", ".join(f"{status}: {n}" for status, n in sorted(counter.items())))
    for name, seconds in recovery.items():
        print(f"next successful checkout after {name} was killed: {seconds:.1f} s")
    placed, received = set(run.placed), run.received
    mine = [r for r in received if r in placed]
    lost = placed - set(received)
    print(f"orders placed: {len(placed)}; order events on the shop's socket: {len(mine)}; "
          f"lost: {len(lost)}; repeated: {len(mine) - len(set(mine))}")  # fmt: skip
    repeats = [(o, e) for o, e in zip(received, run.event_ids, strict=True) if received.count(o) > 1]
    if repeats:
        print("repeated (order, event id):", repeats)
    print(f"server errors logged: {len(errors)}", *errors[:5], sep="\n  ")
    if errors:
        print(f"the server's log: {data_dir / 'serve.log'}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds-between", type=float, default=8.0, help="steady load before, between and after")
    args = parser.parse_args()
    asyncio.run(main(args.seconds_between))


if __name__ == "__main__":
    cli()
