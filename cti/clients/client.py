"""A small blocking client of the board server (docs/protocol.md).

``Client(home=...)`` or ``Client(requests="ipc://...")`` sends ``{id, op, args}`` on a
DEALER socket and waits for the matching ``{id, ok, result|error}``; ``ok: false``
raises :class:`CtiError` with the server's message. :class:`Subscriber` tails the PUB
socket for ``cti watch``.

For desktops and integrators that must not lose an event:

* :class:`EventStream` (blocking) and :class:`AsyncEventStream` (asyncio) deliver the
  events of their topic prefixes in ``seq`` order with no gaps. A jump in ``seq`` is
  mended with ``replay``; events gone from the server's ring (``replay_gap``) or a
  restarted server (a new ``instance``, or ``seq`` going backwards) give a
  :class:`Resync` carrying a ``snapshot`` to rebuild state from; a server that goes
  silent (periodic ``ping`` with a timeout) gives :class:`Disconnected`, then
  :class:`Reconnected` and the missed events (or a :class:`Resync`) when it is back.
  The logic is :class:`StreamState`, sans-I/O: it never reads a socket or a clock; it
  yields the requests it needs and the two shells do them.
* :class:`Requester` / :class:`AsyncRequester`: requests with a timeout, retried (after
  ``NoServer``: no reply in time) only for idempotent ops (:func:`is_idempotent`): a
  call control op is never sent twice by the library.

The wire format is in :func:`make_request` / :func:`parse_reply`, apart from the
socket handling.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Generator, Iterable, Iterator

from cti.server.bus import decode
from cti.server.endpoints import DEFAULT_HOME, default_endpoints

__all__ = ["CtiError", "NoServer", "Client", "Subscriber", "endpoints_for",
           "Requester", "AsyncRequester", "is_idempotent", "IDEMPOTENT_OPS",
           "Event", "Resync", "Disconnected", "Reconnected", "StreamState",
           "EventStream", "AsyncEventStream"]

DEFAULT_TIMEOUT = 5.0


class CtiError(Exception):
    """The server answered ``ok: false``: ``code``, ``field`` and its message."""

    def __init__(self, message: str, code: str = "error", field: str | None = None,
                 op: str | None = None):
        self.message, self.code, self.field, self.op = message, code, field, op
        super().__init__(f"{field}: {message}" if field else message)


class NoServer(CtiError):
    """Nobody answered at the endpoint."""

    def __init__(self, message: str):
        super().__init__(message, code="no_server")


def endpoints_for(home: str | os.PathLike | None = None, requests: str | None = None,
                  events: str | None = None) -> tuple[str, str]:
    """The server's endpoints: given ones win, else ipc under ``home`` (default ./var)."""
    req, ev = default_endpoints(Path(home if home is not None else DEFAULT_HOME))
    return requests or req, events or ev


def _ipc_missing(endpoint: str) -> bool:
    return endpoint.startswith("ipc://") and not Path(endpoint[6:]).exists()


_ids = itertools.count(1)


def make_request(op: str, args: dict, rid: Any = None) -> tuple[Any, bytes]:
    rid = rid if rid is not None else f"{os.getpid()}-{next(_ids)}"
    return rid, json.dumps({"id": rid, "op": op, "args": args}).encode()


def parse_reply(body: bytes, op: str | None = None) -> dict:
    """The result of a reply, or raise :class:`CtiError`."""
    reply = json.loads(body)
    if reply.get("ok"):
        return reply.get("result") or {}
    err = reply.get("error") or {}
    if isinstance(err, str):
        raise CtiError(err, op=op)
    raise CtiError(err.get("message", "request failed"), err.get("code", "error"),
                   err.get("field"), op=op)


class Client:
    """Blocking request/reply over a DEALER socket.

    ``timeout`` (seconds) bounds every request; ``request(op, **args)`` returns the
    result dict. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, home: str | os.PathLike | None = None, *, requests: str | None = None,
                 events: str | None = None, timeout: float = DEFAULT_TIMEOUT, context=None):
        import zmq

        self.requests, self.events = endpoints_for(home, requests, events)
        self.timeout = timeout
        self._zmq = zmq
        self._own_ctx = context is None
        self._ctx = context if context is not None else zmq.Context()
        self._sock = None

    def _socket(self):
        if self._sock is None:
            zmq = self._zmq
            if _ipc_missing(self.requests):
                raise NoServer(f"no server at {self.requests} (is `cti serve` running?)")
            s = self._ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(self.requests)
            self._sock = s
        return self._sock

    def request(self, op: str, timeout: float | None = None, **args: Any) -> dict:
        """Send ``op`` with ``args`` (None values left out) and return its result."""
        args = {k: v for k, v in args.items() if v is not None}
        return self.call(op, args, timeout=timeout)

    def call(self, op: str, args: dict | None = None, timeout: float | None = None) -> dict:
        zmq = self._zmq
        s = self._socket()
        rid, body = make_request(op, args or {})
        s.send(body)
        wait_ms = int((self.timeout if timeout is None else timeout) * 1000)
        deadline = _now_ms() + wait_ms
        while True:
            left = deadline - _now_ms()
            if left <= 0 or not s.poll(left, zmq.POLLIN):
                # a reply that comes later would be taken for the next request's: start over
                self._sock.close(0)
                self._sock = None
                raise NoServer(f"no reply from {self.requests} within "
                               f"{wait_ms / 1000:g} s (is `cti serve` running?)")
            body = s.recv_multipart()[-1]
            try:
                if json.loads(body).get("id") != rid:
                    continue  # a late reply to an earlier request
            except (ValueError, AttributeError):
                continue
            return parse_reply(body, op)

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.1) -> dict:
        """Ping until the server answers and every span is in service (``starting`` empty:
        D-channels up, the start-up restart of the trunks done); the last ping's result.
        A call the exchange offers before then is cleared by that restart."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                res = self.request("ping", timeout=min(1.0, max(0.1, deadline - time.monotonic())))
                if not res.get("starting"):
                    return res
                why = f"spans {', '.join(map(str, res['starting']))} not in service yet"
            except NoServer as e:
                why = str(e)
            if time.monotonic() >= deadline:
                raise NoServer(f"not ready within {timeout:g} s: {why}")
            time.sleep(interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        if self._own_ctx:
            self._ctx.term()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _now_ms() -> int:
    import time

    return int(time.monotonic() * 1000)


class Subscriber:
    """Tails the server's PUB socket. Iterate for ``(topic, event)``.

    ``topics`` are prefixes (``span.``, ``channel.hook``); none means everything.
    ``last_seq`` is the seq of the last event received: with a topic filter, jumps in
    seq are normal (other topics); the ``replay`` op with the same topics tells whether
    any event of interest was missed (``cti watch`` does that).
    """

    def __init__(self, home: str | os.PathLike | None = None, topics: list[str] | None = None,
                 *, events: str | None = None):
        import zmq

        _, self.events = endpoints_for(home, None, events)
        if _ipc_missing(self.events):
            raise NoServer(f"no server at {self.events} (is `cti serve` running?)")
        self._zmq = zmq
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, 100_000)
        for t in topics or [""]:
            self._sock.setsockopt(zmq.SUBSCRIBE, t.encode())
        self._sock.connect(self.events)
        self.last_seq: int | None = None

    def get(self, timeout: float | None = None) -> tuple[str, dict] | None:
        """The next event, or None after ``timeout`` seconds (None: wait for ever)."""
        ms = None if timeout is None else int(timeout * 1000)
        if not self._sock.poll(ms, self._zmq.POLLIN):
            return None
        topic, ev = decode(self._sock.recv_multipart())
        seq = ev.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq
        return topic, ev

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        while True:
            got = self.get()
            if got is not None:
                yield got

    def close(self) -> None:
        self._sock.close(0)
        self._ctx.term()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- requests with retries ----------------------------------------------------------------

IDEMPOTENT_OPS = frozenset({"ping", "snapshot", "replay", "span.alarms", "sim.stats",
                            "sim.calls"})
"""Ops that change nothing at the server, so sending one twice is harmless (with the
``*.show`` and ``*.list`` ops, see :func:`is_idempotent`)."""


def is_idempotent(op: str) -> bool:
    """True for ops that may be sent again after a lost reply: ping, snapshot, replay,
    ``*.show``, ``*.list`` and a few other reads. Call control (``call.answer``,
    ``call.transfer``, ``agent.ready``...) is not: a lost reply may mean it was done."""
    return op in IDEMPOTENT_OPS or op.endswith((".show", ".list"))


class Requester(Client):
    """:class:`Client` with retries: an idempotent op whose reply does not come within
    ``timeout`` (or whose server is not there) is sent again up to ``retries`` times,
    ``retry_delay`` seconds apart (doubling). Other ops are sent once, whatever
    ``retries`` says; an error reply from the server (``ok: false``) is never retried."""

    def __init__(self, home: str | os.PathLike | None = None, *, requests: str | None = None,
                 events: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = 2, retry_delay: float = 0.1, context=None):
        super().__init__(home, requests=requests, events=events, timeout=timeout,
                         context=context)
        self.retries, self.retry_delay = retries, retry_delay

    def call(self, op: str, args: dict | None = None, timeout: float | None = None,
             retries: int | None = None) -> dict:
        n = (self.retries if retries is None else retries) if is_idempotent(op) else 0
        for attempt in range(n + 1):
            try:
                return Client.call(self, op, args, timeout=timeout)
            except NoServer:
                if attempt >= n:
                    raise
                time.sleep(self.retry_delay * (2 ** attempt))
        raise AssertionError("unreachable")  # pragma: no cover


class AsyncRequester:
    """The asyncio :class:`Requester` (zmq.asyncio DEALER): ``await call(op, args)`` or
    ``await request(op, **args)``; same timeouts, retries and errors. Calls on one
    requester are sent one at a time."""

    def __init__(self, home: str | os.PathLike | None = None, *, requests: str | None = None,
                 events: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = 2, retry_delay: float = 0.1, context=None):
        import zmq
        import zmq.asyncio

        self.requests, self.events = endpoints_for(home, requests, events)
        self.timeout, self.retries, self.retry_delay = timeout, retries, retry_delay
        self._zmq = zmq
        self._own_ctx = context is None
        self._ctx = context if context is not None else zmq.asyncio.Context()
        self._sock = None
        self._lock: asyncio.Lock | None = None

    def _socket(self):
        if self._sock is None:
            if _ipc_missing(self.requests):
                raise NoServer(f"no server at {self.requests} (is `cti serve` running?)")
            s = self._ctx.socket(self._zmq.DEALER)
            s.setsockopt(self._zmq.LINGER, 0)
            s.connect(self.requests)
            self._sock = s
        return self._sock

    async def _once(self, op: str, args: dict, timeout: float | None) -> dict:
        s = self._socket()
        rid, body = make_request(op, args)
        await s.send(body)
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not await s.poll(int(left * 1000) + 1, self._zmq.POLLIN):
                self._sock.close(0)
                self._sock = None
                raise NoServer(f"no reply from {self.requests} within {wait:g} s "
                               "(is `cti serve` running?)")
            frames = await s.recv_multipart()
            try:
                if json.loads(frames[-1]).get("id") != rid:
                    continue
            except (ValueError, AttributeError):
                continue
            return parse_reply(frames[-1], op)

    async def call(self, op: str, args: dict | None = None, timeout: float | None = None,
                   retries: int | None = None) -> dict:
        if self._lock is None:
            self._lock = asyncio.Lock()
        n = (self.retries if retries is None else retries) if is_idempotent(op) else 0
        async with self._lock:
            for attempt in range(n + 1):
                try:
                    return await self._once(op, args or {}, timeout)
                except NoServer:
                    if attempt >= n:
                        raise
                    await asyncio.sleep(self.retry_delay * (2 ** attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def request(self, op: str, timeout: float | None = None, **args: Any) -> dict:
        return await self.call(op, {k: v for k, v in args.items() if v is not None},
                               timeout=timeout)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        if self._own_ctx:
            self._ctx.term()

    async def __aenter__(self) -> "AsyncRequester":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()


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
               ping_timeout, rcvhwm, zmq_mod, ctx) -> None:
        self.topics = list(topics or []) or [""]
        self.state = StreamState(self.topics, after, instance)
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.requests, self.events = endpoints_for(home, requests, events)
        self._zmq = zmq_mod
        self._ctx = ctx
        sock = ctx.socket(zmq_mod.SUB)
        sock.setsockopt(zmq_mod.LINGER, 0)
        sock.setsockopt(zmq_mod.RCVHWM, rcvhwm)
        for t in self.topics:
            sock.setsockopt(zmq_mod.SUBSCRIBE, t.encode())
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
                 rcvhwm: int = 100_000):
        import zmq

        self._setup(home, topics, after, instance, requests, events, ping_interval,
                    ping_timeout, rcvhwm, zmq, zmq.Context())
        self.requester = Requester(requests=self.requests, events=self.events,
                                   timeout=timeout, retries=0, context=self._ctx)

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
                 rcvhwm: int = 100_000):
        import zmq
        import zmq.asyncio

        self._setup(home, topics, after, instance, requests, events, ping_interval,
                    ping_timeout, rcvhwm, zmq, zmq.asyncio.Context())
        self.requester = AsyncRequester(requests=self.requests, events=self.events,
                                        timeout=timeout, retries=0, context=self._ctx)

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
