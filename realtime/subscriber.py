"""One socket's side of the hub: a bounded queue of what is still to be sent.

Events reach the queue in id order and at most once per topic (`seen`). A product's stock keeps only the
latest value of each SKU in the queue (moved to the back, so ids still only grow on the wire). While a subscription
replays the past, live events wait in `held` and follow the replay; duplicates fall out by id. When the
queue outgrows its bound the socket is marked `overflowed` and gets closed with the resume code: the
client reconnects with its last id and loses nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from typing import Any

_control_keys = itertools.count()

Frame = dict[str, Any]  # an ASGI `websocket.send` message, built once and sent as it is by every socket


def text_frame(wire: str) -> Frame:
    return {"type": "websocket.send", "bytes": None, "text": wire}


class Subscriber:
    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.pending: OrderedDict[object, Frame] = OrderedDict()
        self.seen: dict[str, int] = {}  # topic → the highest id queued for it
        self.held: list[tuple[int, str, Frame, object]] | None = None  # live events waiting out a replay
        self.stock_topics: set[str] = set()  # the products' stock topics watched (the hub keeps it)
        self.overflowed = False
        self.active_at = 0.0  # loop time of the last send (heartbeats go to idle sockets)
        self.wake = asyncio.Event()  # something to send
        self.drained = asyncio.Event()  # the queue was emptied (or abandoned)

    def offer(self, event_id: int, topic: str, frame: Frame, key: object) -> None:
        """A live event from the hub (never blocks: the hub serves every socket of the process)."""
        if self.overflowed:
            return
        if self.held is not None:
            self.held.append((event_id, topic, frame, key))
            if len(self.held) > self.max_pending:
                self._overflow()
        else:
            self.queue(event_id, topic, frame, key)

    def queue(self, event_id: int, topic: str, frame: Frame, key: object) -> None:
        """`key` is the event's place in the queue: its id, or a key it shares with the events it replaces
        (`topics.coalescing_key`)."""
        if event_id <= self.seen.get(topic, 0):
            return
        self.seen[topic] = event_id
        self.pending.pop(key, None)
        self.pending[key] = frame
        self.drained.clear()
        if len(self.pending) > self.max_pending:
            self._overflow()
        self.wake.set()

    def say(self, wire: str) -> None:
        """A control message (an answer, an error, a heartbeat): sent in turn with the events."""
        self.pending[("control", next(_control_keys))] = text_frame(wire)
        self.wake.set()

    def hold(self) -> None:
        self.held = []

    def release(self) -> None:
        held, self.held = self.held or [], None
        for event in held:
            self.queue(*event)

    def seen_up_to(self, topics: list[str], event_id: int) -> None:
        """The client already has every event of `topics` up to `event_id` (it resumed from there)."""
        for topic in topics:
            self.seen[topic] = max(self.seen.get(topic, 0), event_id)

    def forget(self, topics: list[str]) -> None:
        for topic in topics:
            self.seen.pop(topic, None)

    def _overflow(self) -> None:
        self.overflowed = True
        self.pending.clear()
        self.held = None
        self.wake.set()
        self.drained.set()
