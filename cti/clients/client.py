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
  yields the requests it needs and the two shells do them. They live in
  :mod:`cti.clients.stream` and are importable from here as before.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Iterator

from cti.clients.facade import Operations
from cti.server.bus import decode
from cti.server.endpoints import DEFAULT_HOME, default_endpoints
from cti.server.keyfile import KeyFile, KeyFileError, read_key_file

__all__ = ["CtiError", "NoServer", "Client", "Subscriber", "endpoints_for", "load_key",
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


def load_key(key: str | os.PathLike | KeyFile | None = None) -> KeyFile | None:
    """The client's key: ``key`` (a key file's path), else the file ``$CTI_KEY`` names,
    else None (the ipc sockets in the home need none: their owner is the administrator).
    A key file that cannot be used is a :class:`CtiError` naming it."""
    if isinstance(key, KeyFile):
        return key
    path = key if key is not None else os.environ.get("CTI_KEY") or None
    if path is None:
        return None
    try:
        kf = read_key_file(path)
    except KeyFileError as e:
        raise CtiError(str(e), code="bad_key") from None
    if kf.secret is None or kf.server is None:
        raise CtiError(f"{path}: a client key file needs its secret-key and the server-key "
                       "(write it with `cti admin key issue --out FILE`)", code="bad_key")
    return kf


def endpoints_for(home: str | os.PathLike | None = None, requests: str | None = None,
                  events: str | None = None, key: KeyFile | None = None) -> tuple[str, str]:
    """The server's endpoints: given ones win, then the key file's (TCP), else ipc under
    ``home`` (default ./var)."""
    if key is not None:
        requests, events = requests or key.requests, events or key.events
        if not requests or not events:
            raise CtiError(f"{key.path}: the key file names no TCP endpoints: give them "
                           "(requests=, events=)", code="bad_key")
    req, ev = default_endpoints(Path(home if home is not None else DEFAULT_HOME))
    return requests or req, events or ev


def secure(sock, key: KeyFile | None) -> None:
    """CurveZMQ client side (RFC 26): our key pair and the server's public key."""
    if key is not None:
        sock.curve_secretkey = key.secret.encode()
        sock.curve_publickey = key.public.encode()
        sock.curve_serverkey = key.server.encode()


def event_socket(ctx, zmq_mod, topics, rcvhwm: int, key: KeyFile | None):
    """The socket that tails the server's events: an XSUB that sends its subscriptions
    (RFC 29: 1, then the prefix) and takes what the server sends as it is. Not a SUB: a
    SUB drops what does not match its own prefixes, and an agent's subscription to
    ``call.`` is granted as ``desk.<agent>.call.`` (cti/server/audience.py), which the
    readers turn back into the public topic (:func:`public_topic`)."""
    sock = ctx.socket(zmq_mod.XSUB)
    sock.setsockopt(zmq_mod.LINGER, 0)
    sock.setsockopt(zmq_mod.RCVHWM, rcvhwm)
    secure(sock, key)
    plain = zmq_mod.Socket.shadow(sock.underlying)     # (an asyncio socket's send is awaited)
    for t in topics or [""]:
        plain.send(b"\x01" + t.encode())     # kept, and sent again on a reconnection
    return sock


def _no_reply(endpoint: str, seconds: float, key: KeyFile | None) -> str:
    if key is not None:
        return (f"no reply from {endpoint} within {seconds:g} s: no server there, or it "
                f"refused the key {key.path} (not issued, or revoked)")
    return f"no reply from {endpoint} within {seconds:g} s (is `cti serve` running?)"


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


class Client(Operations[dict]):
    """Blocking request/reply over a DEALER socket.

    ``timeout`` (seconds) bounds every request; ``request(op, **args)`` returns the
    result dict. Use as a context manager, or call :meth:`close`. The typed facade
    (cti/clients/facade.py): ``client.calls.transfer(call, to, data=...)``,
    ``client.agents.login(agent)``, one attribute per concern.
    """

    def __init__(self, home: str | os.PathLike | None = None, *, requests: str | None = None,
                 events: str | None = None, timeout: float = DEFAULT_TIMEOUT, context=None,
                 key: str | os.PathLike | KeyFile | None = None):
        import zmq

        self.key = load_key(key)
        self.requests, self.events = endpoints_for(home, requests, events, self.key)
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
            secure(s, self.key)
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
                raise NoServer(_no_reply(self.requests, wait_ms / 1000, self.key))
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
                 *, events: str | None = None, key: str | os.PathLike | KeyFile | None = None):
        import zmq

        self.key = load_key(key)
        _, self.events = endpoints_for(home, None, events, self.key)
        if _ipc_missing(self.events):
            raise NoServer(f"no server at {self.events} (is `cti serve` running?)")
        self._zmq = zmq
        self._ctx = zmq.Context()
        self._sock = event_socket(self._ctx, zmq, topics, 100_000, self.key)
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
                 retries: int = 2, retry_delay: float = 0.1, context=None,
                 key: str | os.PathLike | KeyFile | None = None):
        super().__init__(home, requests=requests, events=events, timeout=timeout,
                         context=context, key=key)
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


class AsyncRequester(Operations[Awaitable[dict]]):
    """The asyncio :class:`Requester` (zmq.asyncio DEALER): ``await call(op, args)`` or
    ``await request(op, **args)``; same timeouts, retries and errors. Calls on one
    requester are sent one at a time. The typed facade too: ``await
    requester.calls.transfer(call, to)``."""

    def __init__(self, home: str | os.PathLike | None = None, *, requests: str | None = None,
                 events: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = 2, retry_delay: float = 0.1, context=None,
                 key: str | os.PathLike | KeyFile | None = None):
        import zmq
        import zmq.asyncio

        self.key = load_key(key)
        self.requests, self.events = endpoints_for(home, requests, events, self.key)
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
            secure(s, self.key)
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
                raise NoServer(_no_reply(self.requests, wait, self.key))
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


# --- the event streams live in cti/clients/stream.py --------------------------------------

_STREAM_NAMES = frozenset({"Event", "Resync", "Disconnected", "Reconnected", "StreamState",
                           "StreamItem", "EventStream", "AsyncEventStream",
                           "QUEUED_BEFORE_PING"})

if TYPE_CHECKING:
    from cti.clients.stream import (AsyncEventStream, Disconnected, Event,  # noqa: F401
                                    EventStream, Reconnected, Resync, StreamItem, StreamState)


def __getattr__(name: str) -> Any:
    """``from cti.clients.client import EventStream`` as before the split: the stream
    module imports this one, so it is loaded on first use rather than at the top."""
    if name in _STREAM_NAMES:
        from cti.clients import stream
        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
