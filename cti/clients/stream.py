"""Gap-free event streams for desktops and integrators that must not lose an event
(the second half of the client library, :mod:`cti.clients.client` the first).

:class:`EventStream` (blocking) and :class:`AsyncEventStream` (asyncio) deliver the
events of their topic prefixes in ``seq`` order with no gaps; the logic is
:class:`StreamState`, sans-I/O, and the two shells do the requests it yields. Every
name here is also importable from :mod:`cti.clients.client`.
"""
from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Generator, Iterable, Iterator

from cti.clients.client import (DEFAULT_TIMEOUT, AsyncRequester, CtiError, NoServer, Requester,
                                endpoints_for, event_socket, load_key)
from cti.server.bus import decode

__all__ = ["Event", "Resync", "Disconnected", "Reconnected", "StreamState", "StreamItem",
           "EventStream", "AsyncEventStream"]


# --- gap-free event streams -------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """One event of the followed topics, in seq order. ``replayed``: it came from
    ``replay`` (it was missed on the PUB socket). Unpacks as ``topic, event``."""

    topic: str
    event: dict
    replayed: bool = False

    @property
    def seq(self) -> int:
        return self.event["seq"]

    @property
    def type(self) -> str:
        return self.event.get("type", self.topic)

    def __iter__(self):
        return iter((self.topic, self.event))


@dataclass(frozen=True)
class Resync:
    """Rebuild state from ``snapshot``: events before it cannot be had. ``reason``:
    ``start`` (the stream began without ``after``), ``replay_gap`` (the missed events
    left the server's ring) or ``restart`` (a new server instance). Events that follow
    have ``seq > snapshot["seq"]``."""

    snapshot: dict
    reason: str

    @property
    def seq(self) -> int:
        return self.snapshot["seq"]

    @property
    def instance(self) -> str | None:
        return self.snapshot.get("instance")


@dataclass(frozen=True)
class Disconnected:
    """The server stopped answering ``ping``; ``last_seq``: delivered up to there."""

    reason: str
    last_seq: int | None


@dataclass(frozen=True)
class Reconnected:
    """The server answers again. ``restarted``: it is a new instance (a :class:`Resync`
    follows); otherwise the missed events follow, replayed."""

    instance: str
    restarted: bool


QUEUED_BEFORE_PING = 1000     # events taken off the SUB socket before a due ping

StreamItem = Event | Resync | Disconnected | Reconnected
# What a StreamState generator yields: (op, args) for a request, or ("drain", None) to
# throw away what the SUB socket has queued (before a snapshot).
Action = tuple[str, dict | None]
Steps = Generator[Action, Any, None]


class StreamState:
    """The gap-filling logic of a stream, sans-I/O.

    Each input is a generator method (:meth:`start`, :meth:`received`, :meth:`ping`):
    the shell runs it, doing every ``(op, args)`` it yields as a request and sending
    the result back in, or throwing the :class:`CtiError` in (a :class:`NoServer`
    that the generator lets out means the server is gone: the shell then calls
    :meth:`went_down`). What to deliver collects in :attr:`items`.

    ``horizon`` is the seq up to which every event of our topics has been delivered
    (or is covered by a snapshot): a live event at or below it is a duplicate; one
    beyond ``horizon + 1`` may mean a loss, which ``replay`` settles (with topic
    filters, jumps are usually other topics' events, and the replay says so).
    """

    def __init__(self, topics: Iterable[str] | None = None, after: int | None = None,
                 instance: str | None = None):
        self.topics = [t for t in (topics or [])] or [""]
        self.horizon: int | None = after
        self.instance = instance
        self.last_live: int | None = None    # the last seq seen on the PUB socket
        self.connected = True
        self.items: deque[StreamItem] = deque()
        self.replays = 0                     # replay requests made, for the curious
        self.resyncs = 0

    @property
    def replay_topics(self) -> list[str] | None:
        return None if "" in self.topics else list(self.topics)

    # inputs ------------------------------------------------------------------------------
    def start(self) -> Steps:
        """Begin: a snapshot (no ``after``), else what was missed since ``after``."""
        if self.horizon is None:
            yield from self._resync("start")
            return
        p = yield ("ping", {})
        if self.instance is not None and p.get("instance") != self.instance:
            yield from self._resync("restart")
            return
        self.instance = p.get("instance")
        yield from self._fill()

    def received(self, topic: str, ev: dict) -> Steps:
        """An event arrived on the PUB socket."""
        seq = ev.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or self.horizon is None:
            return      # not a numbered event, or no state to apply it to yet
        if not self.connected:
            # the stream will replay from ``horizon`` once ``ping`` answers again
            if seq == self.horizon + 1:
                self._deliver(topic, ev, False)
            return
        if self.last_live is not None and seq <= self.last_live:
            yield from self._resync("restart")      # seq went backwards
            return
        self.last_live = seq
        if seq <= self.horizon:
            return      # delivered already, from a replay or in a snapshot
        if seq > self.horizon + 1:
            yield from self._fill()
            if seq <= self.horizon:
                return
            if seq > self.horizon + 1:
                return   # the server could not tell what we missed: wait for ping
        self._deliver(topic, ev, False)

    def ping(self) -> Steps:
        """Time for a ping: notices a silent server, its return, a restart, and events
        lost at the tail (with nothing after them to show the jump)."""
        p = yield ("ping", {})
        if not self.connected:
            self.connected = True
            restarted = self.instance is not None and p.get("instance") != self.instance
            self.items.append(Reconnected(p.get("instance"), restarted))
        if self.horizon is None:
            yield from self._resync("start")
        elif self.instance is not None and p.get("instance") != self.instance:
            yield from self._resync("restart")
        elif p.get("seq", 0) < self.horizon:
            yield from self._resync("restart")
        elif p.get("seq", 0) > self.horizon:
            self.instance = p.get("instance")
            yield from self._fill()
        else:
            self.instance = p.get("instance")

    def went_down(self, reason: str) -> None:
        """The server did not answer (the shell saw :class:`NoServer`)."""
        if self.connected:
            self.connected = False
            self.items.append(Disconnected(reason, self.horizon))

    # the steps -----------------------------------------------------------------------------
    def _deliver(self, topic: str, ev: dict, replayed: bool) -> None:
        self.items.append(Event(topic, ev, replayed))
        self.horizon = ev["seq"]

    def _fill(self) -> Steps:
        """Replay what came after ``horizon``; a ``replay_gap`` means resync."""
        self.replays += 1
        try:
            res = yield ("replay", {"after": self.horizon, "topics": self.replay_topics})
        except CtiError as e:
            if e.code != "replay_gap":
                raise
            yield from self._resync("replay_gap")
            return
        if res.get("instance") not in (None, self.instance):
            yield from self._resync("restart")   # another server's events: not ours to fill
            return
        for ev in res.get("events", []):
            if ev["seq"] > self.horizon:
                self._deliver(_topic_of(ev), ev, True)
        self.horizon = max(self.horizon, res.get("last_seq", self.horizon))

    def _resync(self, reason: str) -> Steps:
        yield ("drain", None)
        snap = yield ("snapshot", {})
        if reason != "start" and self.instance is not None and \
                snap.get("instance") != self.instance:
            reason = "restart"
        self.instance = snap.get("instance")
        self.horizon = snap["seq"]
        self.last_live = None
        self.resyncs += 1
        self.items.append(Resync(snap, reason))


def _topic_of(ev: dict) -> str:
    """A replayed event's topic: replay returns events without their topic frame; the
    server publishes under the event's ``type`` unless told otherwise (cti.server.bus)."""
    return ev.get("topic") or ev.get("type", "")


class _StreamShell:
    """What both stream shells hold: the SUB socket, the state, the ping schedule."""

    def _setup(self, home, topics, after, instance, requests, events, ping_interval,
               ping_timeout, rcvhwm, zmq_mod, ctx, key=None) -> None:
        self.topics = list(topics or []) or [""]
        self.state = StreamState(self.topics, after, instance)
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.key = load_key(key)
        self.requests, self.events = endpoints_for(home, requests, events, self.key)
        self._zmq = zmq_mod
        self._ctx = ctx
        sock = event_socket(ctx, zmq_mod, self.topics, rcvhwm, self.key)
        sock.connect(self.events)     # ZeroMQ retries until the server is there
        self._sub = sock
        self._started = False
        self._next_ping = 0.0
        self._drained = None

    @property
    def last_seq(self) -> int | None:
        """Every event of the topics up to this seq has been handed to :meth:`get`'s
        queue (or is covered by a :class:`Resync`)."""
        return self.state.horizon


class EventStream(_StreamShell):
    """A gap-free, reconnecting event stream (blocking).

    ``topics``: prefixes (none: everything). ``after``: start after this seq (what was
    missed since is replayed; with ``instance``, a different server means
    :class:`Resync`); without it the stream starts with ``Resync(snapshot, "start")``.
    :meth:`get` returns the next :class:`Event`, :class:`Resync`,
    :class:`Disconnected` or :class:`Reconnected`, or None after ``timeout``.
    A ``ping`` goes out every ``ping_interval`` seconds; no reply within
    ``ping_timeout`` means the server is gone.
    """

    def __init__(self, home: str | os.PathLike | None = None,
                 topics: Iterable[str] | None = None, *, after: int | None = None,
                 instance: str | None = None, requests: str | None = None,
                 events: str | None = None, ping_interval: float = 1.0,
                 ping_timeout: float = 1.0, timeout: float = DEFAULT_TIMEOUT,
                 rcvhwm: int = 100_000, key=None):
        import zmq

        self._setup(home, topics, after, instance, requests, events, ping_interval,
                    ping_timeout, rcvhwm, zmq, zmq.Context(), key)
        self.requester = Requester(requests=self.requests, events=self.events,
                                   timeout=timeout, retries=0, context=self._ctx,
                                   key=self.key)

    def _do(self, action: Action):
        op, args = action
        if op == "drain":
            while self._sub.poll(0, self._zmq.POLLIN):
                try:
                    self._sub.recv_multipart(self._zmq.NOBLOCK)
                except self._zmq.Again:
                    pass
            return None
        args = {k: v for k, v in (args or {}).items() if v is not None}
        return self.requester.call(op, args,
                                   timeout=self.ping_timeout if op == "ping" else None)

    def _run(self, steps: Steps) -> None:
        try:
            action = next(steps)
            while True:
                try:
                    result = self._do(action)
                except CtiError as e:
                    action = steps.throw(e)
                    continue
                action = steps.send(result)
        except StopIteration:
            pass
        except NoServer as e:
            self.state.went_down(str(e))

    def get(self, timeout: float | None = None) -> StreamItem | None:
        """The next item, or None when ``timeout`` seconds pass without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        zmq = self._zmq
        while True:
            if not self._started:
                self._started = True
                self._run(self.state.start())
                self._next_ping = time.monotonic() + self.ping_interval
            if self.state.items:
                return self.state.items.popleft()
            now = time.monotonic()
            if now >= self._next_ping:
                if self._drained != self._next_ping:
                    # the events queued already go first (a bounded number, once per
                    # ping): a ping before them would replay them for nothing
                    self._drained = self._next_ping
                    for _ in range(QUEUED_BEFORE_PING):
                        if not self._sub.poll(0, zmq.POLLIN):
                            break
                        self._receive()
                    if self.state.items:
                        continue
                self._run(self.state.ping())
                self._next_ping = time.monotonic() + self.ping_interval
                continue
            if deadline is not None and now >= deadline:
                return None
            until = self._next_ping if deadline is None else min(self._next_ping, deadline)
            if self._sub.poll(max(0, int((until - now) * 1000)) + 1, zmq.POLLIN):
                self._receive()

    def _receive(self) -> None:
        zmq = self._zmq
        try:
            topic, ev = decode(self._sub.recv_multipart(zmq.NOBLOCK))
        except (ValueError, UnicodeDecodeError, zmq.Again):
            return   # not an event: dropped, as the server drops bad frames
        self._run(self.state.received(topic, ev))

    def __iter__(self) -> Iterator[StreamItem]:
        while True:
            item = self.get()
            if item is not None:
                yield item

    def close(self) -> None:
        self.requester.close()
        self._sub.close(0)
        self._ctx.term()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncEventStream(_StreamShell):
    """:class:`EventStream` for asyncio (zmq.asyncio): ``await get(timeout)`` or
    ``async for item in stream``; the same items, the same logic (:class:`StreamState`).
    """

    def __init__(self, home: str | os.PathLike | None = None,
                 topics: Iterable[str] | None = None, *, after: int | None = None,
                 instance: str | None = None, requests: str | None = None,
                 events: str | None = None, ping_interval: float = 1.0,
                 ping_timeout: float = 1.0, timeout: float = DEFAULT_TIMEOUT,
                 rcvhwm: int = 100_000, key=None):
        import zmq
        import zmq.asyncio

        self._setup(home, topics, after, instance, requests, events, ping_interval,
                    ping_timeout, rcvhwm, zmq, zmq.asyncio.Context(), key)
        self.requester = AsyncRequester(requests=self.requests, events=self.events,
                                        timeout=timeout, retries=0, context=self._ctx,
                                        key=self.key)

    async def _do(self, action: Action):
        op, args = action
        if op == "drain":
            while await self._sub.poll(0, self._zmq.POLLIN):
                try:
                    await self._sub.recv_multipart(self._zmq.NOBLOCK)
                except self._zmq.Again:
                    pass
            return None
        args = {k: v for k, v in (args or {}).items() if v is not None}
        return await self.requester.call(op, args,
                                         timeout=self.ping_timeout if op == "ping" else None)

    async def _run(self, steps: Steps) -> None:
        try:
            action = next(steps)
            while True:
                try:
                    result = await self._do(action)
                except CtiError as e:
                    action = steps.throw(e)
                    continue
                action = steps.send(result)
        except StopIteration:
            pass
        except NoServer as e:
            self.state.went_down(str(e))

    async def get(self, timeout: float | None = None) -> StreamItem | None:
        loop_time = time.monotonic
        deadline = None if timeout is None else loop_time() + timeout
        zmq = self._zmq
        while True:
            if not self._started:
                self._started = True
                await self._run(self.state.start())
                self._next_ping = loop_time() + self.ping_interval
            if self.state.items:
                return self.state.items.popleft()
            now = loop_time()
            if now >= self._next_ping:
                if self._drained != self._next_ping:
                    # the events queued already go first (a bounded number, once per
                    # ping): a ping before them would replay them for nothing
                    self._drained = self._next_ping
                    for _ in range(QUEUED_BEFORE_PING):
                        if not await self._sub.poll(0, zmq.POLLIN):
                            break
                        await self._receive()
                    if self.state.items:
                        continue
                await self._run(self.state.ping())
                self._next_ping = loop_time() + self.ping_interval
                continue
            if deadline is not None and now >= deadline:
                return None
            until = self._next_ping if deadline is None else min(self._next_ping, deadline)
            if await self._sub.poll(max(0, int((until - now) * 1000)) + 1, zmq.POLLIN):
                await self._receive()

    async def _receive(self) -> None:
        zmq = self._zmq
        try:
            topic, ev = decode(await self._sub.recv_multipart(zmq.NOBLOCK))
        except (ValueError, UnicodeDecodeError, zmq.Again):
            return
        await self._run(self.state.received(topic, ev))

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self._items()

    async def _items(self) -> AsyncIterator[StreamItem]:
        while True:
            item = await self.get()
            if item is not None:
                yield item

    def close(self) -> None:
        self.requester.close()
        self._sub.close(0)
        self._ctx.term()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()
