"""Flow control on the request socket (ARCHITECTURE.md rule 8): requests wait in a
bounded queue and are served between ticks within a time budget; what comes beyond the
bounds is answered ``busy`` at once; replies a client does not read wait in a bounded
queue of their own, and a reply that cannot be delivered is counted and logged, never
dropped without a word.

Why: a ROUTER socket reads whatever its peers send, and a loop that serves each request
as it is read starves the tick while a client pipelines thousands (20,000 pings stalled
the tick 7.1 s); and a ROUTER without ``ROUTER_MANDATORY`` silently drops a reply when
the client's pipe is full (its high-water mark), which lost 15,026 of those replies.

:class:`Inbox` is the pending queue: at most ``max_count`` requests and ``max_bytes`` of
them, at most ``per_client`` of one client's (so one client's flood does not make every
other client's requests busy). :class:`Outbox` is the replies' side: ``send`` is
tried at once; when the client's pipe is full (``zmq.Again`` with ``ROUTER_MANDATORY``)
the reply waits in that client's queue (at most ``max_bytes``) and is tried again
between ticks; a client that is gone (``EHOSTUNREACH``), or whose queue is over budget,
has the reply dropped, counted and logged.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import deque
from typing import Any, Callable

__all__ = ["Inbox", "Outbox", "busy_reply", "request_id"]

log = logging.getLogger("cti.server")

PENDING_MAX = 2000                 # requests read and waiting to be served
PENDING_BYTES = 16 * 1024 * 1024   # their bytes
PENDING_PER_CLIENT = 1000          # of them, one client's
REPLY_QUEUE_BYTES = 32 * 1024 * 1024   # replies waiting for one client to read them

_ID = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,30})')


def request_id(body: bytes) -> Any:
    """The request's id, cheaply (a busy reply must carry it, and parsing a whole
    request of a megabyte to refuse it would cost what refusing saves): the first
    ``"id": value`` in the text, or None."""
    m = _ID.search(body[:4096])
    if m is None:
        return None
    try:
        return json.loads(m.group(1))
    except ValueError:
        return None


def busy_reply(rid: Any, message: str) -> bytes:
    return json.dumps({"id": rid, "ok": False, "error": {"code": "busy", "message": message}}
                      ).encode()


class Inbox:
    """Requests read and not yet served: ``(envelope, body)`` in arrival order."""

    def __init__(self, max_count: int = PENDING_MAX, max_bytes: int = PENDING_BYTES,
                 per_client: int = PENDING_PER_CLIENT):
        self.max_count, self.max_bytes, self.per_client = max_count, max_bytes, per_client
        self._q: deque[tuple[list[bytes], bytes]] = deque()
        self._per: dict[bytes, int] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._q)

    def offer(self, envelope: list[bytes], body: bytes) -> str | None:
        """Queue a request; or say why not (the ``busy`` message)."""
        peer = envelope[0] if envelope else b""
        n = self._per.get(peer, 0)
        if len(self._q) >= self.max_count or self.bytes + len(body) > self.max_bytes:
            return (f"the server has {len(self._q)} requests waiting ({self.bytes} bytes): "
                    "send again later")
        if n >= self.per_client:
            return (f"this client has {n} requests waiting (at most {self.per_client}): "
                    "wait for replies before sending more")
        self._q.append((envelope, body))
        self._per[peer] = n + 1
        self.bytes += len(body)
        return None

    def take(self) -> tuple[list[bytes], bytes]:
        envelope, body = self._q.popleft()
        peer = envelope[0] if envelope else b""
        n = self._per[peer] - 1
        if n:
            self._per[peer] = n
        else:
            del self._per[peer]
        self.bytes -= len(body)
        return envelope, body


class Outbox:
    """Replies on their way: ``send_now(frames)`` sends or raises ``again`` (pipe full) or
    ``unreachable`` (the peer is gone); replies that meet a full pipe wait here."""

    def __init__(self, send_now: Callable[[list[bytes]], None], again: type, unreachable:
                 Callable[[BaseException], bool], count: Callable[[str], None],
                 max_bytes: int = REPLY_QUEUE_BYTES):
        self.send_now, self.again, self.unreachable = send_now, again, unreachable
        self.count = count
        self.max_bytes = max_bytes
        self._q: dict[bytes, deque[list[bytes]]] = {}
        self._bytes: dict[bytes, int] = {}
        self.dropped = 0
        self._last_log = 0.0
        self._unlogged = 0

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._q.values())

    def _drop(self, peer: bytes, why: str, n: int = 1) -> None:
        self.dropped += n
        self.count("replies_dropped", n)
        # logged, at most once a second with the count since (a flood must not flood the log)
        now = time.monotonic()
        self._unlogged += n
        if now - self._last_log >= 1.0:
            log.warning("%d repl%s not delivered (client %s: %s); %d in all", self._unlogged,
                        "y" if self._unlogged == 1 else "ies", peer.hex()[:16], why,
                        self.dropped)
            self._last_log, self._unlogged = now, 0

    def send(self, envelope: list[bytes], body: bytes) -> None:
        peer = envelope[0] if envelope else b""
        frames = list(envelope) + [body]
        if peer in self._q:              # keep the client's replies in order
            self._queue(peer, frames)
            return
        try:
            self.send_now(frames)
        except self.again:
            self._queue(peer, frames)
        except Exception as e:
            if not self.unreachable(e):
                raise
            self._drop(peer, "gone")

    def _queue(self, peer: bytes, frames: list[bytes]) -> None:
        size = sum(len(f) for f in frames)
        if self._bytes.get(peer, 0) + size > self.max_bytes:
            self._drop(peer, f"more than {self.max_bytes} bytes of replies unread")
            return
        self._q.setdefault(peer, deque()).append(frames)
        self._bytes[peer] = self._bytes.get(peer, 0) + size

    def retry(self) -> None:
        """Try the waiting replies again (between ticks)."""
        for peer in list(self._q):
            q = self._q[peer]
            while q:
                try:
                    self.send_now(q[0])
                except self.again:
                    break
                except Exception as e:
                    if not self.unreachable(e):
                        raise
                    self._drop(peer, "gone", len(q))
                    q.clear()
                    break
                frames = q.popleft()
                self._bytes[peer] -= sum(len(f) for f in frames)
            if not q:
                del self._q[peer]
                self._bytes.pop(peer, None)
