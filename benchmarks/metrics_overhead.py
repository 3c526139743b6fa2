"""What the request-metrics middleware (marketplace/core/metrics.py) costs per request.

    .venv/bin/python -m benchmarks.metrics_overhead [--requests 10000] [--rounds 15] [--http SECONDS]

Drives a bare Litestar JSON route (a path parameter, a small dict) in-process through ASGI, with and without
`RequestMetrics` around it, in alternating rounds, so that neither the network nor the load generator hides
the difference. Time is this process's CPU time (the loop is single-threaded), so other programs sharing the
machine inflate it less than they would wall-clock time. Prints the median time per request of each and the
ratio; then the same in prometheus-client's
multiprocess mode (`serve --workers N`: observations go to memory-mapped files), run in a child process
because that mode is chosen when prometheus-client is imported. With `--http`, also both apps served by one
uvicorn worker each and loaded over HTTP in alternating rounds (benchmarks/http_load.py): requests per second
with the network stack and the load generator in the picture, noisier on a shared machine."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from litestar import Litestar, get

from marketplace.core.metrics import MULTIPROC_DIR, RequestMetrics


@get("/items/{item_id:int}")
async def item(item_id: int) -> dict[str, Any]:
    return {"id": item_id, "title": "Kettle", "price": 2999}


def bare_app(with_metrics: bool) -> Litestar:
    app = Litestar(route_handlers=[item], logging_config=None)
    if with_metrics:
        app.asgi_handler = RequestMetrics(app.asgi_handler)
    return app


def bare() -> Litestar:  # uvicorn factories for --http
    return bare_app(False)


def metered() -> Litestar:
    return bare_app(True)


def over_http(seconds: float, rounds: int) -> None:
    from benchmarks.http_load import run
    from loadtest.server import Server

    paths = [f"/items/{i}" for i in range(1, 1001)]
    rps: dict[str, list[float]] = {"bare": [], "metered": []}
    with (
        Server("benchmarks.metrics_overhead:bare", {}, factory=True) as plain,
        Server("benchmarks.metrics_overhead:metered", {}, factory=True) as timed,
    ):
        servers = {"bare": plain, "metered": timed}
        for name, server in servers.items():  # warm up
            asyncio.run(run(name, "127.0.0.1", server.port, paths, 1.0, 32))
        for _ in range(rounds):
            for name, server in servers.items():
                result = asyncio.run(run(name, "127.0.0.1", server.port, paths, seconds, 32))
                assert result.errors == 0, result.line()
                rps[name].append(result.rps)
    plain_rps, timed_rps = statistics.median(rps["bare"]), statistics.median(rps["metered"])
    print(
        f"{'over HTTP':>13}: bare {plain_rps:7.0f} req/s, with metrics {timed_rps:7.0f} req/s "
        f"(medians of {rounds} rounds of {seconds:g} s, one uvicorn worker each): ratio {timed_rps / plain_rps:.3f}"
    )


async def seconds_per_request(app: Litestar, count: int) -> float:
    """CPU seconds per request over `count` requests, one at a time."""
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"unexpected status {message['status']}")

    start = time.process_time()
    for i in range(count):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/items/{i % 1000 + 1}",
            "raw_path": b"",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"localhost")],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
    return (time.process_time() - start) / count


async def compare(count: int, rounds: int) -> tuple[float, float]:
    apps = {False: bare_app(False), True: bare_app(True)}
    for app in apps.values():  # warm up: caches, the routing trie, the observers
        await seconds_per_request(app, 2000)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for with_metrics, app in apps.items():
            times[with_metrics].append(await seconds_per_request(app, count))
    return statistics.median(times[False]), statistics.median(times[True])


def report(mode: str, bare: float, metered: float) -> None:
    print(
        f"{mode:>13}: bare {bare * 1e6:6.1f} µs/request ({1 / bare:7.0f}/s), with metrics {metered * 1e6:6.1f} µs "
        f"({1 / metered:7.0f}/s): +{(metered - bare) * 1e6:.1f} µs, ratio {metered / bare:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="per round and variant")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--http", type=float, default=0, metavar="SECONDS", help="also over HTTP, rounds this long")
    parser.add_argument("--one-mode", action="store_true", help=argparse.SUPPRESS)  # the child's run
    args = parser.parse_args()
    bare, metered = asyncio.run(compare(args.requests, args.rounds))
    report("multiprocess" if MULTIPROC_DIR else "one process", bare, metered)
    if args.one_mode:
        return
    with tempfile.TemporaryDirectory() as directory:
        child = [sys.executable, "-m", "benchmarks.metrics_overhead", "--one-mode"]
        child += ["--requests", str(args.requests), "--rounds", str(args.rounds)]
        subprocess.run(child, env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}, check=True)
    if args.http:
        over_http(args.http, max(3, args.rounds // 3))


if __name__ == "__main__":
    main()
