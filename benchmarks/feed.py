"""Live feed under load: thousands of open sockets while orders are placed at a steady rate.

    .venv/bin/python -m benchmarks.feed [--sockets 2000] [--seconds 20] [--rate 50] [--workers 2] [--clients 2]
                                        [--compression deflate|none]

Seeds a small demo marketplace under .data/bench-feed, serves it with uvicorn, and opens `--sockets`
WebSockets from `--clients` processes of their own (one Python process receiving ~10k messages/s is itself
the bottleneck and would be measured instead of the server): most watch a vendor's order feed (spread over
every vendor), some a buyer's orders, some a popular product's stock. The clients offer per-message deflate,
as browsers do, and run on uvloop with their garbage collector paused, so that what they measure is the
server's latency, not their own. Then `--rate` checkouts per second run directly against PostgreSQL from
this process (each one reserves stock too, so stock topics move). Every vendor socket must receive every
order of its vendor: the script prints commit-to-receive latency for those (the producer notes the time
each transaction committed, the sockets the time each event arrived, on the same clock), the same up to
the Redis channel (where the relay's part ends), messages delivered per second, how many expected
deliveries never arrived within five seconds of the end, and the CPU each side used.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import resource
import time
from array import array
from collections import defaultdict
from collections.abc import Callable
from itertools import cycle
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import msgspec
import numpy as np
import psutil
import uvloop
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from benchmarks.checkout import SECRET, prepare
from benchmarks.report import Figure, print_figures
from loadtest.server import Server
from marketplace.accounts.tokens import access_token
from marketplace.cart.service import set_quantity
from marketplace.core import topics
from marketplace.core.db import create_pool
from marketplace.embedded import embedded_servers
from marketplace.orders.place_checkout import place_checkout
from realtime import CHANNEL

DATA_DIR = Path(".data/bench-feed")
TARGET_P99_MS = 50
DRAIN_SECONDS = 5  # after the last checkout, for the last events to arrive
NAME = "live feed"


class OrderData(msgspec.Struct):
    order_id: int | None = None


class Message(msgspec.Struct):
    """The little of a server message the clients read."""

    type: str
    id: int | None = None
    topic: str | None = None
    data: OrderData | None = None


decode_message = msgspec.json.Decoder(Message).decode
decode_batch = msgspec.json.Decoder(list[Message]).decode

# (socket number, access token, topic, vendor watched or None)
Spec = tuple[int, str, str, int | None]


# The client processes ----------------------------------------------------------------------------------------


def clients_main(url: str, specs: list[Spec], compression: str | None, pipe: Connection) -> None:
    """One client process: opens its share of the sockets, says "ready", notes arrivals between "go" and
    "stop", then sends them back. On uvloop, as the server is: the clients must not be the slower side."""
    uvloop.run(_clients(url, specs, compression, pipe))


async def _clients(url: str, specs: list[Spec], compression: str | None, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    # Socket number, order id, arrival time: in flat arrays, which the garbage collector need not walk.
    numbers, orders, times = array("q"), array("q"), array("d")
    counts = {"delivered": 0, "duplicates": 0, "closed": 0}
    ready = [asyncio.Event() for _ in specs]

    async def hold(number: int, token: str, topic: str, vendor: int | None, subscribed: asyncio.Event) -> None:
        last_id = 0
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(url, additional_headers=headers, max_queue=None, compression=compression) as ws:
            await ws.send(msgspec.json.encode({"op": "subscribe", "topics": [topic]}))
            async for raw in ws:
                message = decode_message(raw)
                if message.topic is not None:
                    counts["delivered"] += 1
                    if message.id <= last_id:  # type: ignore[operator]
                        counts["duplicates"] += 1
                    last_id = max(last_id, message.id)  # type: ignore[arg-type]
                    if vendor is not None and message.type == "order.placed":
                        numbers.append(number)
                        orders.append(message.data.order_id)  # type: ignore[union-attr]
                        times.append(time.time())
                elif message.type == "subscribed":
                    subscribed.set()
        counts["closed"] += 1

    holders = []
    for n, (spec, subscribed) in enumerate(zip(specs, ready, strict=True)):
        holders.append(asyncio.create_task(hold(*spec, subscribed)))
        if n % 100 == 99:
            await asyncio.sleep(0.05)  # don't stampede the accept queue
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 120)
    # The clients are the measuring instrument: a full collection here (200-300 ms over a thousand sockets'
    # objects) would be counted as the server's latency. Nothing of a run's length needs collecting.
    gc.collect()
    gc.freeze()
    gc.disable()
    pipe.send("ready")
    assert await loop.run_in_executor(None, pipe.recv) == "go"
    before = resource.getrusage(resource.RUSAGE_SELF)
    delivered_before = counts["delivered"]
    del numbers[:], orders[:], times[:]
    assert await loop.run_in_executor(None, pipe.recv) == "stop"
    after = resource.getrusage(resource.RUSAGE_SELF)
    gc.enable()
    for holder in holders:
        holder.cancel()
    await asyncio.gather(*holders, return_exceptions=True)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    counts["delivered"] -= delivered_before
    pipe.send(((numbers, orders, times), counts, cpu))


# The producer and the probe on the Redis channel -------------------------------------------------------------


async def produce(database_url: str, buyers: list[int], skus: list[int], addresses: dict[int, int], rate: float,
                  seconds: float) -> dict[int, tuple[int, float]]:  # fmt: skip
    """Checkouts at a steady rate; returns order id → (vendor, commit time)."""
    pool = await create_pool(database_url, 4, 10)
    committed: dict[int, tuple[int, float]] = {}
    rng = random.Random(1)
    turns = cycle(buyers)

    async def one(buyer: int) -> None:
        async with pool.acquire() as conn:
            for sku in rng.sample(skus, 2):
                await set_quantity(conn, buyer, sku, 1)
            async with conn.transaction():
                checkout = await place_checkout(conn, buyer, addresses[buyer], 15)
            at = time.time()
        for order in checkout.orders:
            committed[order.id] = (order.vendor_id, at)

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(next(turns))))
    await asyncio.gather(*tasks)
    await pool.close()
    return committed


async def probe(redis_url: str, published: dict[int, float]) -> None:
    """Notes when each order's event reaches the Redis channel: the relay's share of the latency."""
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    try:
        async for message in pubsub.listen():
            if message["type"] == "message":
                at = time.time()
                for event in decode_batch(message["data"]):
                    if event.type == "order.placed" and event.data is not None and event.data.order_id is not None:
                        published.setdefault(event.data.order_id, at)
    finally:
        await pubsub.aclose()
        await redis.aclose()


# The run ------------------------------------------------------------------------------------------------------


def socket_specs(count: int, vendors: list[tuple[int, int]], buyers: list[int], products: list[int]) -> list[Spec]:
    """Eight in ten sockets watch a vendor's orders, one a buyer's, one a popular product's stock."""
    specs: list[Spec] = []
    vendor_turns, buyer_turns, product_turns = cycle(vendors), cycle(buyers), cycle(products)
    for number in range(count):
        share = number % 10
        if share < 8:
            vendor, user = next(vendor_turns)
            specs.append((number, access_token(user, SECRET, 60), topics.vendor_orders(vendor), vendor))
        elif share == 8:
            buyer = next(buyer_turns)
            specs.append((number, access_token(buyer, SECRET, 60), topics.user_orders(buyer), None))
        else:
            token = access_token(buyers[0], SECRET, 60)
            specs.append((number, token, topics.product_stock(next(product_turns)), None))
    return specs


def cpu_times(processes: list[psutil.Process]) -> dict[int, float]:
    times = {}
    for process in processes:
        try:
            cpu = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        times[process.pid] = cpu.user + cpu.system
    return times


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings; processes started in between count from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def box_busy() -> float:
    """CPU seconds the whole machine has been busy (every process on it, this benchmark's or not)."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def postgres_processes() -> list[psutil.Process]:
    """The embedded PostgreSQL's processes (none when DATABASE_URL names a server elsewhere)."""
    data = str((DATA_DIR / "pg").resolve())
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and data in (process.info["cmdline"] or []):
            return [process, *process.children(recursive=True)]
    return []


class Contention:
    """What the rest of the machine used, half a second at a time. The box is shared: another job's burst
    shows in the tail, so the report also gives the p99 over the moments nobody else was busy."""

    def __init__(self, ours: Callable[[], list[psutil.Process]]) -> None:
        self.ours = ours
        self.others: list[tuple[float, float]] = []  # (end of the half second, cores used by others)

    async def sample(self) -> None:
        seen: dict[int, float] = {}
        busy, here = box_busy(), time.process_time()
        while True:
            await asyncio.sleep(0.5)
            now = cpu_times(self.ours())
            used = cpu_used({pid: seen.get(pid, 0.0) for pid in now}, now) if seen else 0.0
            busy_now, here_now = box_busy(), time.process_time()
            if seen:
                self.others.append((time.time(), max(0.0, busy_now - busy - used - (here_now - here)) / 0.5))
            seen, busy, here = now, busy_now, here_now

    def quiet(self, at: float, below: float = 0.25) -> bool:
        """Nobody else used `below` cores or more in the half second of `at` and the one after."""
        spans = [cores for end, cores in self.others if at - 0.5 <= end <= at + 1.0]
        return bool(spans) and max(spans) < below


def valkey_processes(redis_url: str) -> list[psutil.Process]:
    """The Redis server on this machine that `redis_url` names, if it is one (the embedded Valkey)."""
    address = f":{urlparse(redis_url).port}"
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        name = process.info["name"] or ""
        if ("valkey" in name or "redis" in name) and any(address in arg for arg in process.info["cmdline"] or []):
            found.append(process)
    return found


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    if not values:
        return (float("nan"),) * 4  # type: ignore[return-value]
    ms = np.array(values)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return float(p50), float(p95), float(p99), float(ms.max())


async def run(
    database_url: str, redis_url: str, server: Server, args: argparse.Namespace, market: tuple
) -> list[Figure]:
    buyers, skus, addresses = market
    conn = await asyncpg.connect(database_url)
    vendors = [
        (r["id"], r["user_id"]) for r in await conn.fetch("SELECT id, user_id FROM vendors WHERE status = 'active'")
    ]
    products = [r["id"] for r in await conn.fetch("SELECT id FROM products WHERE status = 'listed' LIMIT 20")]
    await conn.close()
    specs = socket_specs(args.sockets, vendors, buyers, products)
    watching: dict[int, list[int]] = defaultdict(list)  # vendor → its sockets
    for number, _, _, vendor in specs:
        if vendor is not None:
            watching[vendor].append(number)

    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    url = f"ws://127.0.0.1:{server.port}/feed"
    pipes, processes = [], []
    began = time.perf_counter()
    for n in range(args.clients):
        mine, theirs = context.Pipe()
        compression = None if args.compression == "none" else args.compression
        share = specs[n :: args.clients]
        process = context.Process(target=clients_main, args=(url, share, compression, theirs), daemon=True)
        process.start()
        pipes.append(mine)
        processes.append(process)
    for pipe in pipes:
        assert await asyncio.wait_for(loop.run_in_executor(None, pipe.recv), 180) == "ready"
    print(f"  {args.sockets} sockets open and subscribed from {args.clients} processes in "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip

    workers = psutil.Process(server.proc.pid).children(recursive=True)
    clients = [psutil.Process(process.pid) for process in processes]
    valkey = valkey_processes(redis_url)
    contention = Contention(lambda: workers + clients + valkey + postgres_processes())
    sampler = asyncio.create_task(contention.sample())
    server_cpu, postgres_cpu = cpu_times(workers), cpu_times(postgres_processes())
    here, busy = time.process_time(), box_busy()
    published: dict[int, float] = {}
    prober = asyncio.create_task(probe(redis_url, published))
    await asyncio.sleep(0.2)  # the probe is subscribed
    for pipe in pipes:
        pipe.send("go")
    began = time.perf_counter()
    committed = await produce(database_url, buyers, skus, addresses, args.rate, args.seconds)
    producing = time.perf_counter() - began
    await asyncio.sleep(DRAIN_SECONDS)
    elapsed = time.perf_counter() - began
    server_cpu = cpu_used(server_cpu, cpu_times(workers))
    postgres_cpu = cpu_used(postgres_cpu, cpu_times(postgres_processes()))
    here, busy = time.process_time() - here, box_busy() - busy
    prober.cancel()
    sampler.cancel()
    arrivals: dict[tuple[int, int], float] = {}
    delivered = duplicates = closed = 0
    client_cpu = 0.0
    for pipe, process in zip(pipes, processes, strict=True):
        pipe.send("stop")
        their_arrivals, counts, cpu = await asyncio.wait_for(loop.run_in_executor(None, pipe.recv), 120)
        arrivals.update(((number, order), at) for number, order, at in zip(*their_arrivals, strict=True))
        delivered += counts["delivered"]
        duplicates += counts["duplicates"]
        closed += counts["closed"]
        client_cpu += cpu
        process.join(30)

    latencies, quiet, lost = [], [], 0
    for order_id, (vendor, at) in committed.items():
        calm = contention.quiet(at)
        for number in watching[vendor]:
            arrived = arrivals.get((number, order_id))
            if arrived is None:
                lost += 1
            else:
                latencies.append((arrived - at) * 1000)
                if calm:
                    quiet.append(latencies[-1])
    relay = [(published[o] - at) * 1000 for o, (_, at) in committed.items() if o in published]
    p50, p95, p99, top = percentiles(latencies)
    r50, _, r99, _ = percentiles(relay)
    print(f"  orders committed        {len(committed):>8,}  ({args.rate:g} checkouts/s for {args.seconds:g} s)")
    print(f"  messages delivered      {delivered:>8,}  ({delivered / producing:,.0f}/s over the producing time)")
    print(f"  vendor order deliveries {len(latencies):>8,}  lost: {lost}  duplicates: {duplicates}  "
          f"sockets closed early: {closed}")  # fmt: skip
    print(f"  commit → Redis channel  p50 {r50:.1f} ms   p99 {r99:.1f} ms   (the relay's part)")
    print(f"  commit → vendor socket  p50 {p50:.1f} ms   p95 {p95:.1f} ms   p99 {p99:.1f} ms   max {top:.1f} ms")
    q50, _, q99, _ = percentiles(quiet)
    share = len(quiet) / max(len(latencies), 1)
    print(f"  the same while no one else used a quarter core ({share:.0%} of deliveries): p50 {q50:.1f} ms   "
          f"p99 {q99:.1f} ms")  # fmt: skip
    ours = server_cpu + client_cpu + postgres_cpu + here
    print(f"  CPU over {elapsed:.0f} s: server workers {server_cpu:.1f} s, clients {client_cpu:.1f} s, "
          f"PostgreSQL {postgres_cpu:.1f} s, producer {here:.1f} s; the machine was busy {busy:.1f} s "
          f"of {os.cpu_count() * elapsed:.0f} s, {max(0.0, busy - ours):.1f} s of it for others")  # fmt: skip
    sockets = f"{args.sockets:,} sockets, {args.rate:g} orders/s"
    return [
        Figure(NAME, f"commit → vendor socket p99 ({sockets})", p99, "ms", TARGET_P99_MS),
        Figure(NAME, "lost vendor deliveries", lost, "events", 0),
        Figure(NAME, "commit → vendor socket p50", p50, "ms"),
        Figure(NAME, f"p99 while the box was otherwise quiet ({share:.0%} of the run)", q99, "ms"),
        Figure(NAME, "commit → Redis channel p99 (relay)", r99, "ms"),
        Figure(NAME, "messages delivered", delivered / producing, "msg/s"),
        Figure(NAME, "server CPU per delivered message", server_cpu / max(delivered, 1) * 1e6, "µs"),
        Figure(NAME, "CPU used by other processes meanwhile", max(0.0, busy - ours) / elapsed, "cores"),
    ]


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=50, help="checkouts per second")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers holding the sockets")
    parser.add_argument("--clients", type=int, default=2, help="processes holding the client sockets")
    parser.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="what the clients offer: per-message deflate, as browsers do, or none (what the server would save)",
    )
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))  # children inherit it

    with embedded_servers(DATA_DIR, os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")) as urls:
        database_url, redis_url = urls
        market = asyncio.run(prepare(database_url, 100))  # migrates and seeds
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATA_DIR": str(DATA_DIR), "SECRET_KEY": SECRET}
        with Server("marketplace.app:create_app", env, factory=True, workers=args.workers) as server:
            clients = f"{args.clients} client processes offering {args.compression}"
            print(f"\nLive feed: {args.sockets} sockets, {args.workers} uvicorn worker(s), {clients}")
            figures = asyncio.run(run(database_url, redis_url, server, args, market))
    return print_figures(figures)


if __name__ == "__main__":
    main()
