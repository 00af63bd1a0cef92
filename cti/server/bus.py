"""The event side of the CTI contract (ARCHITECTURE.md, "The ZeroMQ protocol").

:class:`EventLog` is sans-I/O: it numbers events with a per-server, gap-free ``seq``,
stamps them with the ``ts`` the caller gives (the board's line time, never a clock read
here), and keeps a bounded ring so a client that missed events can ``replay`` them.

:class:`Publisher` is the ZeroMQ shell: a PUB socket, two frames per message, the topic
(UTF-8, dotted: ``span.alarm``, ``channel.hook``) and the event as JSON. Subscribers
filter on topic prefixes (``span.``, ``channel.``).

Bounded in bytes (ARCHITECTURE.md rule 8): the ring holds at most ``ring_size`` events
and at most ``ring_bytes`` of their JSON (the oldest go first); an event whose JSON is
over :data:`MAX_EVENT_BYTES` (attached data a client sent, say) goes out and into the
ring with its ``data`` replaced by ``{"truncated": <bytes>}``; and the PUB socket's
queue towards each subscriber holds at most :data:`PUB_HWM` messages, so at most
``PUB_HWM * MAX_EVENT_BYTES`` bytes wait for a slow subscriber.

Every event is a JSON object with ``seq``, ``ts``, ``type`` (for span and channel
events, the same dotted name as the topic) and, where they apply, ``span`` (an int),
``channel`` (``"1/16"`` for an E1 timeslot: span/timeslot; ``"fxs/3"`` or ``"fxo/9"``
for an analog port: kind/port number) and ``data`` (a dict of event specifics).
"""
from __future__ import annotations

import json
from collections import deque
from typing import Any, Iterable, NamedTuple

from cti.server.audience import concerned_agents, desk_topics, public_topic, visible

__all__ = ["ReplayGap", "EventLog", "Publisher", "encode", "decode", "MAX_EVENT_BYTES",
           "RING_BYTES", "PUB_HWM"]

#: The most one event's JSON may take; bigger events lose their ``data``.
MAX_EVENT_BYTES = 16 * 1024
#: The replay ring's byte budget (the JSON of the events it holds).
RING_BYTES = 32 * 1024 * 1024
#: Messages the PUB socket queues per subscriber before it drops for that subscriber
#: (which sees a gap in seq and mends it with replay): 4096 * 16 KiB = 64 MiB at most.
PUB_HWM = 4096


class ReplayGap(LookupError):
    """The events asked for are no longer (or not yet) in the replay ring."""

    def __init__(self, after: int, first: int, last: int, message: str):
        self.after, self.first, self.last = after, first, last
        super().__init__(message)


class Published(NamedTuple):
    """One event as recorded: its topic, its dict and its JSON (a tuple: made for every
    event; the JSON is made once, for the ring's byte count and the wire alike)."""

    topic: str
    event: dict
    body: bytes = b""
    agents: tuple = ()        # the agents it concerns (cti/server/audience.py): desk copies


class EventLog:
    """Numbers events and keeps the last ``ring_size`` of them for replay.

    ``seq`` starts at 1 and goes up by one per event; the ring holds
    ``first_seq .. last_seq``, at most ``ring_size`` events and ``ring_bytes`` of JSON.
    ``replay(after)`` returns every event with ``seq > after``, or raises
    :class:`ReplayGap` when some of those have already fallen out of the ring (the
    client must take a ``snapshot`` instead). The ring keeps each event's JSON only
    (topic, seq, bytes), so its memory is what its byte count says.
    """

    def __init__(self, ring_size: int = 10000, ring_bytes: int = RING_BYTES):
        if ring_size < 1:
            raise ValueError("ring_size must be at least 1")
        if ring_bytes < MAX_EVENT_BYTES:
            raise ValueError(f"ring_bytes must be at least {MAX_EVENT_BYTES}")
        self.ring_size = ring_size
        self.ring_bytes = ring_bytes
        self.last_seq = 0
        self.bytes = 0            # JSON bytes in the ring now
        self.truncated = 0        # events whose data was over MAX_EVENT_BYTES
        self._ring: deque[tuple[str, int, bytes, tuple]] = deque()

    @property
    def first_seq(self) -> int:
        """The oldest seq still in the ring (last_seq + 1 when the ring is empty)."""
        return self._ring[0][1] if self._ring else self.last_seq + 1

    def __len__(self) -> int:
        return len(self._ring)

    def append(self, ts: float, type: str, topic: str | None = None, *,
               span: int | None = None, channel: str | None = None,
               data: dict | None = None, **fields: Any) -> Published:
        """Record one event; returns it (topic and dict) for the publisher.

        ``topic`` defaults to ``type``. Fields that are None are left out.
        """
        self.last_seq += 1
        ev: dict[str, Any] = {"seq": self.last_seq, "ts": round(float(ts), 6), "type": type}
        if span is not None:
            ev["span"] = span
        if channel is not None:
            ev["channel"] = channel
        for k, v in fields.items():
            if v is not None:
                ev[k] = v
        if data is not None:
            ev["data"] = data
        body = json.dumps(ev, separators=(",", ":")).encode()
        if len(body) > MAX_EVENT_BYTES:
            # the fields the contract names stay; what made it big goes
            self.truncated += 1
            ev = {k: v for k, v in ev.items() if k != "data" and
                  (not isinstance(v, str) or len(v) <= 256)}
            ev["data"] = {"truncated": len(body)}
            body = json.dumps(ev, separators=(",", ":")).encode()
        pub = Published(topic or type, ev, body, concerned_agents(ev))
        ring = self._ring
        ring.append((pub.topic, self.last_seq, body, pub.agents))
        self.bytes += len(body)
        while len(ring) > self.ring_size or self.bytes > self.ring_bytes:
            self.bytes -= len(ring.popleft()[2])
        return pub

    def replay(self, after: int, topics: Iterable[str] | None = None,
               upto: int | None = None, principal=None) -> list[dict]:
        """Events with ``seq > after`` (filtered on topic prefixes when given), up to seq
        ``upto`` (the last one sent: events held until their writes are durable are not
        replayed before they go out), of those ``principal`` may see (None: all;
        cti/server/audience.py)."""
        return [json.loads(body) for body in self.replay_raw(after, topics, upto, principal)]

    def replay_raw(self, after: int, topics: Iterable[str] | None = None,
                   upto: int | None = None, principal=None) -> list[bytes]:
        """As :meth:`replay`, each event as the JSON it went out as (the server splices
        them into its reply: decoding and encoding a full ring costs a tick or more)."""
        if isinstance(after, bool) or not isinstance(after, int):
            raise TypeError("after must be an integer")
        if after < 0:
            raise ValueError("after must be 0 or more")
        if after > self.last_seq:
            raise ReplayGap(after, self.first_seq, self.last_seq,
                            f"after={after} is ahead of the last seq {self.last_seq} "
                            "(did the server restart? take a snapshot)")
        if after < self.first_seq - 1:
            raise ReplayGap(after, self.first_seq, self.last_seq,
                            f"events after seq {after} are gone: the replay ring holds "
                            f"{self.first_seq}..{self.last_seq} (take a snapshot)")
        skip = after - (self.first_seq - 1)
        prefixes = tuple(topics) if topics else None
        out = []
        for i, (topic, seq, body, agents) in enumerate(self._ring):
            if i < skip:
                continue
            if upto is not None and seq > upto:
                break
            if (prefixes is None or topic.startswith(prefixes)) and (
                    principal is None or visible(principal, topic, agents)):
                out.append(body)
        return out


def encode(pub: Published) -> list[bytes]:
    """The two frames of a message: topic and JSON."""
    body = pub.body or json.dumps(pub.event, separators=(",", ":")).encode()
    return [pub.topic.encode(), body]


def decode(frames: list[bytes]) -> tuple[str, dict]:
    """A message's topic and event; a desk copy (``desk.1001.call.delivered``) gives its
    public topic (``call.delivered``): the same event (cti/server/audience.py)."""
    if len(frames) != 2:
        raise ValueError(f"an event has 2 frames, got {len(frames)}")
    return public_topic(frames[0].decode()), json.loads(frames[1])


class Publisher:
    """The event sockets: ``sockets``, bound zmq (or zmq.asyncio) PUB or XPUB sockets
    (the ipc one and, with ``server.listen``, the TCP one), or one socket.

    Each event goes out on its topic and, when it concerns agents, once more per agent
    on ``desk.<agent>.<topic>`` (cti/server/audience.py): the XPUB sockets in manual mode
    subscribe a principal that may not see the whole namespace to its own desk's copies
    only. Sending never blocks: a PUB socket drops for subscribers that are too slow
    (their high-water mark, set here to :data:`PUB_HWM`), which they notice as a gap in
    ``seq`` and mend with ``replay``.
    """

    def __init__(self, sockets):
        import zmq          # here, not at module level: the sans-I/O EventLog needs no zmq

        self.sockets = list(sockets) if isinstance(sockets, (list, tuple)) else [sockets]
        for socket in self.sockets:
            socket.setsockopt(zmq.SNDHWM, PUB_HWM)
        self.socket = self.sockets[0]
        self._noblock = zmq.NOBLOCK
        self._again = zmq.Again

    def send(self, pub: Published) -> None:
        frames = encode(pub)
        copies = desk_topics(pub.topic, pub.agents)
        for socket in self.sockets:
            try:
                socket.send_multipart(frames, flags=self._noblock)
                for topic in copies:
                    socket.send_multipart([topic.encode(), frames[1]], flags=self._noblock)
            except self._again:  # pragma: no cover - PUB does not block, kept for safety
                pass
