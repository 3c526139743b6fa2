"""A small keep-alive HTTP/1.1 load generator for the benchmarks.

Written here rather than taken from a library because the load generator shares this 2-core machine with
the server: a client that spends little CPU per request (raw asyncio streams, no parsing beyond the status
line and Content-Length) leaves the server as much of the machine as possible, and the figures that
matter are ratios measured with the same client in the same run."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rps:>9,.0f} req/s   p50 {self.pct(50):6.1f} ms   p99 {self.pct(99):6.1f} ms"
            f"   errors {self.errors}"
        )


async def _worker(
    host: str, port: int, paths: Iterable[str], deadline: float, latencies: list[float], counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for path in paths:
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            counts[0 if status_line[9:10] == b"2" else 1] += 1
    finally:
        writer.close()


class Client:
    """One keep-alive connection that sends any request and reads the status and body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def __aenter__(self) -> Client:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.writer.close()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return int(status_line[9:12]), await self.reader.readexactly(length)


def _cycle_from(paths: list[str], start: int) -> Iterable[str]:
    return itertools.islice(itertools.cycle(paths), start, None)


async def run(
    name: str, host: str, port: int, paths: list[str], seconds: float, connections: int, once: bool = False
) -> Result:
    """Send GETs for `paths` (cycled, each connection starting elsewhere) for `seconds`; with `once`,
    each path exactly once, spread over the connections."""
    latencies: list[float] = []
    counts = [0, 0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _worker(host, port, paths[i::connections] if once else _cycle_from(paths, i), deadline, latencies, counts)
            for i in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    return Result(name, counts[0], counts[1], elapsed, np.array(latencies))
