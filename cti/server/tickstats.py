"""The server's own measure of its tick (ARCHITECTURE.md rule 8: "the server measures its
own tick lateness"), and the counters of what it refused or could not deliver.

Sans-I/O: the shell hands in each tick's lateness (how late the tick started against its
deadline, in seconds) and counts what happened; :meth:`ServerStats.as_dict` is what
``server.stats`` answers and ``snapshot`` carries under ``server``.

Lateness goes into a histogram of fixed buckets (0.5 ms wide up to 10 ms, then coarser up to
10 s), so a server running for months keeps a few hundred integers, and the percentiles come
from the buckets (each given as its bucket's upper edge: never better than it was).
"""
from __future__ import annotations

import bisect
from typing import Any

__all__ = ["ServerStats", "BUCKETS_MS", "OVERRUN_MS"]

#: A tick later than this is an overrun: two 20 ms ticks, the buffer a card holds.
OVERRUN_MS = 40.0

#: Upper edges of the lateness buckets, in ms (the last bucket is everything above).
BUCKETS_MS: tuple[float, ...] = tuple(
    [0.5 * i for i in range(1, 21)]                  # 0.5 .. 10 ms
    + [12.5, 15, 17.5, 20, 25, 30, 35, 40, 50, 60, 80, 100, 150, 200, 300, 500,
       1000, 2000, 5000, 10000])


class ServerStats:
    """Tick lateness (histogram, max, overruns) and the shell's counters."""

    def __init__(self, overrun_ms: float = OVERRUN_MS):
        self.overrun_ms = overrun_ms
        self.hist = [0] * (len(BUCKETS_MS) + 1)
        self.ticks = 0
        self.overruns = 0
        self.max_ms = 0.0
        self.max_at = 0
        self.sum_ms = 0.0
        self.counters: dict[str, int] = {
            "requests": 0,          # requests answered (results and errors)
            "busy": 0,              # requests answered `busy` (pending queue full)
            "replies_dropped": 0,   # replies that could not be sent (client gone, or
                                    # its reply queue over budget), each logged
            "listens_refused": 0,   # channel.listen over the cap
            "reports_done": 0,      # long reports finished off the tick
        }
        self.gauges: dict[str, Any] = {}   # the shell's current figures (pending, ...)

    def tick(self, lateness_s: float) -> None:
        """One tick started ``lateness_s`` after its deadline (negative: early)."""
        ms = max(0.0, lateness_s * 1000.0)
        self.ticks += 1
        self.sum_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms
            self.max_at = self.ticks          # which tick (1 = the first): start-up or later
        if ms > self.overrun_ms:
            self.overruns += 1
        self.hist[bisect.bisect_left(BUCKETS_MS, ms)] += 1

    def took(self, what: str, seconds: float) -> None:
        """How long one tick (``tick``) or one slice of requests (``requests``) ran: the
        most is kept, as ``<what>_max_ms``."""
        key = what + "_max_ms"
        ms = seconds * 1000.0
        if ms > self.gauges.get(key, 0.0):
            self.gauges[key] = round(ms, 3)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def percentile(self, p: float) -> float | None:
        """The ``p`` percentile (0..100) of lateness in ms, as its bucket's upper edge
        (the largest lateness seen, for the open last bucket); None before any tick."""
        if not self.ticks:
            return None
        want = max(1, -(-self.ticks * p // 100))       # rank, rounded up
        seen = 0
        for i, n in enumerate(self.hist):
            seen += n
            if seen >= want:
                return min(BUCKETS_MS[i], self.max_ms) if i < len(BUCKETS_MS) else self.max_ms
        return self.max_ms  # pragma: no cover

    def as_dict(self) -> dict:
        hist = {("le_%g" % BUCKETS_MS[i]) if i < len(BUCKETS_MS) else "more": n
                for i, n in enumerate(self.hist) if n}
        return {
            "ticks": self.ticks,
            "lateness_ms": {"p50": self.percentile(50), "p99": self.percentile(99),
                            "max": round(self.max_ms, 3), "max_at_tick": self.max_at,
                            "mean": round(self.sum_ms / self.ticks, 3) if self.ticks else None,
                            "histogram": hist},
            "overrun_ms": self.overrun_ms,
            "overruns": self.overruns,
            **self.counters,
            **self.gauges,
        }
