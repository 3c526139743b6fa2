"""What every scenario's Locust process records besides Locust's own statistics: the status code of every
request (so the runner counts server errors exactly, not from failure messages) and the scenario's results,
written per process to LOADTEST_RESULTS/results-<pid>.json when Locust quits. The runner merges the files
(`merged`), without importing Locust: importing it patches the standard library for gevent."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

statuses: Counter[str] = Counter()  # "<request name> <status code>"; 0 is no answer at all


def results_on_quit(results: Callable[[], dict[str, Any]]) -> None:
    """Record status codes, and write `results()` (JSON-able) with them when this Locust process quits."""
    from locust import events

    @events.request.add_listener
    def _count_status(name: str, response: Any = None, **_: Any) -> None:
        if response is not None:  # None: an event the scenario timed itself, such as a socket's message
            statuses[f"{name} {getattr(response, 'status_code', 0) or 0}"] += 1

    @events.quitting.add_listener
    def _write(environment: Any, **_: Any) -> None:
        out = Path(os.environ["LOADTEST_RESULTS"]) / f"results-{os.getpid()}.json"
        out.write_text(json.dumps(results() | {"statuses": statuses}))


def merged(directory: Path) -> dict[str, Any]:
    """The results of every Locust process: lists concatenated, counters added, windows widened."""
    total: dict[str, Any] = {}
    for path in sorted(directory.glob("results-*.json")):
        for name, value in json.loads(path.read_text()).items():
            if name == "window":
                first, last = total.get(name, [float("inf"), 0.0])
                total[name] = [min(first, value[0]), max(last, value[1])]
            elif isinstance(value, dict):
                counter = total.setdefault(name, Counter())
                counter.update(value)
            else:
                total.setdefault(name, []).extend(value)
    return total


def server_errors(statuses: dict[str, int]) -> dict[str, int]:
    """The requests answered 5xx or not at all, by name and status."""
    return {key: n for key, n in statuses.items() if int(key.rsplit(" ", 1)[1]) >= 500 or key.endswith(" 0")}
