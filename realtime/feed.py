"""The WebSocket endpoint: authenticate, subscribe to topics, replay what was missed, then stream.

Only the sender task writes to the socket; everything else queues on the socket's `Subscriber`. The
protocol, with examples, is in docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from litestar.security.jwt import Token

from marketplace.accounts.tokens import decode_access
from marketplace.core import topics
from marketplace.core.auth import CurrentUser, load_caller
from marketplace.core.metrics import FEED_SOCKETS
from marketplace.web.session import ACCESS_COOKIE, from_this_site
from realtime import CLOSE_POLICY, CLOSE_RESUME
from realtime import queries as q
from realtime.schemas import (
    Auth,
    Authenticated,
    ClientMessage,
    Error,
    FeedEvent,
    Heartbeat,
    Ping,
    Pong,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)
from realtime.subscriber import Frame, Subscriber, text_frame
from realtime.topics import authorize, coalescing_key

if TYPE_CHECKING:
    from marketplace.core.deps import AppState
    from realtime.hub import Hub

log = logging.getLogger(__name__)
MAX_TOPICS = 100
REPLAY_PAGE = 500
decode_message = msgspec.json.Decoder(ClientMessage).decode
encode = msgspec.json.Encoder().encode


class AccessWatcher:
    """Stands in the hub's topic map for a socket's user: an `access.changed` event (logout, a revoked
    session, a suspension, a role change; `core.events.access_changed`) makes the socket check again."""

    stock_topics: frozenset[str] = frozenset()

    def __init__(self, poke: asyncio.Event) -> None:
        self.poke = poke
        self.changed = False

    def offer(self, event_id: int, topic: str, frame: Frame, key: object) -> None:
        self.changed = True
        self.poke.set()


class FeedSession:
    def __init__(self, socket: WebSocket[Any, Any, Any], state: AppState) -> None:
        self.socket = socket
        self.state = state
        self.hub: Hub = state.hub
        self.subscriber = Subscriber(state.settings.feed_max_pending)
        self.user: CurrentUser | None = None
        self.token: Token | None = None
        self.expires_at: datetime | None = None
        self.topics: set[str] = set()
        self.closing: tuple[int, str] | None = None
        self.poke = asyncio.Event()  # the watchman's clock changed: new token, access changed
        self.access = AccessWatcher(self.poke)

    async def run(self) -> None:
        await self.socket.accept()
        header = self.socket.headers.get("authorization", "")
        # A browser page cannot set headers on a WebSocket: its session cookie (HttpOnly, marketplace/web) stands
        # in for the header, believed only when the handshake comes from a page of this site.
        cookie = None if header else self.socket.cookies.get(ACCESS_COOKIE)
        if cookie and not from_this_site(self.socket, self.state.settings.public_url):
            cookie = None
        token = header[7:].strip() if header.lower().startswith("bearer ") else cookie
        if token and not await self._authenticate(token):
            await self.socket.close(CLOSE_POLICY, "invalid or expired token")
            return
        sender = asyncio.create_task(self._send())
        watchman = asyncio.create_task(self._keep_watch())
        FEED_SOCKETS.inc()
        try:
            while self.closing is None:
                event = await self.socket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                await self._handle(event.get("text") or event.get("bytes") or b"")  # text or binary frames
        except WebSocketDisconnect:
            pass
        finally:
            FEED_SOCKETS.dec()
            self.hub.unwatch(self.subscriber, list(self.topics))
            if self.user is not None:
                self.hub.unwatch(self.access, [topics.user_access(self.user.id)])
            watchman.cancel()
            if self.closing is not None:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(sender, 5)  # let it send what is queued, then close
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender  # a send to a socket that went away fails; the socket is gone either way

    async def _handle(self, raw: str | bytes) -> None:
        try:
            message = decode_message(raw)
        except msgspec.DecodeError as error:
            self._say(Error("bad_request", str(error)))
            return
        match message:
            case Auth(token=token):
                if not await self._authenticate(token):
                    self._close(CLOSE_POLICY, "invalid or expired token")
            case Subscribe(topics=topics, last_id=last_id):
                await self._subscribe(topics, last_id)
            case Unsubscribe(topics=topics):
                gone = [t for t in topics if t in self.topics]
                self.hub.unwatch(self.subscriber, gone)
                self.subscriber.forget(gone)
                self.topics.difference_update(gone)
                self._say(Unsubscribed(gone))
            case Ping():
                self._say(Pong())

    async def _authenticate(self, encoded: str) -> bool:
        """Check a token and load its user fresh; a later `auth` message with a new token extends the
        session before the old one expires (and re-checks what the socket watches)."""
        try:
            token = decode_access(encoded, self.state.settings.secret_key)
        except NotAuthorizedException:
            return False
        user = await load_caller(token, self.socket)
        if user is None or (self.user is not None and user.id != self.user.id):
            return False
        if self.user is None:
            self.hub.watch(self.access, [topics.user_access(user.id)])
        self.user, self.token, self.expires_at = user, token, token.exp
        self.poke.set()  # the watchman times the new expiry
        await self._drop_refused_topics()
        self._say(Authenticated(user.id, token.exp))
        return True

    async def _drop_refused_topics(self) -> None:
        assert self.user is not None
        _, refused = await authorize(self.state.db, self.user, list(self.topics))
        if refused:  # e.g. a vendor suspended or a product taken down since subscribing
            self.hub.unwatch(self.subscriber, refused)
            self.subscriber.forget(refused)
            self.topics.difference_update(refused)
            self._say(Error("forbidden", "you may no longer watch these topics", refused))

    async def _keep_watch(self) -> None:
        """What runs on a clock, kept off the sender's path (which then needs no timer per message): a heartbeat
        after `feed_heartbeat_seconds` with nothing sent, the close when the token expires, and, within moments of a
        logout, a revoked session or a suspension in whichever worker it happened, the re-check: a socket whose
        session ended is closed, one whose rights shrank stops watching what it may not."""
        loop = asyncio.get_running_loop()
        heartbeat = self.state.settings.feed_heartbeat_seconds
        beat_at = loop.time()
        while self.closing is None:
            timeout = max(self.subscriber.active_at, beat_at) + heartbeat - loop.time()
            if self.expires_at is not None:
                timeout = min(timeout, (self.expires_at - datetime.now(UTC)).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.poke.wait(), max(0.0, timeout))
            self.poke.clear()
            if self.expires_at is not None and datetime.now(UTC) >= self.expires_at:
                self._close(CLOSE_POLICY, "token expired; reconnect with a fresh token and your last id")
            elif self.access.changed:
                self.access.changed = False
                if self.token is None:
                    continue
                user = await load_caller(self.token, self.socket)
                if user is None:
                    self._close(CLOSE_POLICY, "the session has ended; sign in again")
                    continue
                self.user = user
                await self._drop_refused_topics()
            elif loop.time() >= max(self.subscriber.active_at, beat_at) + heartbeat:
                beat_at = loop.time()
                self._say(Heartbeat(self.hub.position, datetime.now(UTC)))

    async def _subscribe(self, topics: list[str], last_id: int | None) -> None:
        allowed, refused = await authorize(self.state.db, self.user, topics)
        if refused:
            detail = "sign in to watch these topics" if self.user is None else "you may not watch these topics"
            self._say(Error("unauthorized" if self.user is None else "forbidden", detail, refused))
        new = [t for t in allowed if t not in self.topics]
        if len(self.topics) + len(new) > MAX_TOPICS:
            self._say(Error("too_many_topics", f"a socket may watch at most {MAX_TOPICS} topics", new))
            return
        if not allowed:
            return
        replayed = 0
        if last_id is None:
            self.hub.watch(self.subscriber, new)
        else:
            # Live events are held from the moment the topics are watched, so together with the replay
            # they leave no gap; whatever both deliver is dropped by id. The client has everything up to
            # `last_id`: a hub behind it (one still catching up after an outage) must not send that again.
            self.subscriber.hold()
            self.subscriber.seen_up_to(new, last_id)
            self.hub.watch(self.subscriber, new)
            replayed = await self._replay(new, last_id)
        self.topics.update(new)
        self._say(Subscribed(allowed, replayed, self.hub.position))
        self.subscriber.release()

    async def _replay(self, topics: list[str], after: int) -> int:
        replayed = 0
        while rows := await self.state.db.fetch(q.REPLAY, topics, after, REPLAY_PAGE):
            for row in rows:
                event = FeedEvent.of(row)
                self.subscriber.queue(event.id, event.topic, text_frame(encode(event).decode()), coalescing_key(event))
            replayed += len(rows)
            after = rows[-1]["id"]
            if len(self.subscriber.pending) > REPLAY_PAGE:
                await self.subscriber.drained.wait()  # let the sender catch up before reading more
        return replayed

    def _say(self, message: msgspec.Struct) -> None:
        self.subscriber.say(encode(message).decode())

    def _close(self, code: int, reason: str) -> None:
        self.closing = (code, reason)
        self.subscriber.wake.set()

    async def _send(self) -> None:
        """The only writer: everything queued, in order, as one run of sends per wake-up, then the close. Each
        frame is the hub's, shared by every socket of the topic, handed to the server as it is."""
        subscriber, pending, send = self.subscriber, self.subscriber.pending, self.socket.send
        loop = asyncio.get_running_loop()
        while True:
            await subscriber.wake.wait()
            subscriber.wake.clear()
            if subscriber.overflowed:
                self.closing = (CLOSE_RESUME, "too far behind; reconnect with your last id")
            while pending and not subscriber.overflowed:
                await send(pending.popitem(last=False)[1])
            subscriber.active_at = loop.time()
            subscriber.drained.set()
            if self.closing is not None:
                await self.socket.close(*self.closing)
                return


@websocket("/feed", opt={"exclude_from_auth": True})
async def feed(socket: WebSocket[Any, Any, Any]) -> None:
    """Live events. Authenticate with `Authorization: Bearer <token>`, an `auth` message, or from a page of this
    site its session cookie, then `subscribe`; see docs/realtime.md."""
    try:
        await FeedSession(socket, socket.app.state).run()
    except Exception:
        log.exception("feed socket failed")  # the app logs nothing else; Litestar closes with 4500
        raise
