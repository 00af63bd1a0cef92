"""When each line of a group next needs its stack run: one entry per line that counts.

A board's group handler (:class:`drivers.sig.pri.PriSpans`, :class:`drivers.sig.analog.
AnalogPorts`) runs a line's stack only when it has events, a request, or a timer due.
After each run the line's next deadline is set again; an entry left in the heap by a
deadline that moved is skipped when it comes up, rather than running the line for
nothing (a busy span re-arms its timers on nearly every tick)."""
from __future__ import annotations

import heapq


class WakeSchedule:
    """Line numbers by the line time they are next due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, float] = {}

    def due(self, now: float) -> set[int]:
        """The lines due at ``now``; they are off the schedule until set again."""
        heap, due, out = self._heap, self._due, set()
        while heap and heap[0][0] <= now:
            when, n = heapq.heappop(heap)
            if due.get(n) == when:
                del due[n]
                out.add(n)
        return out

    def set(self, n: int, when: float | None) -> None:
        """Line ``n`` is next due at ``when`` (None: nothing pending)."""
        if when is None:
            self._due.pop(n, None)
        elif self._due.get(n) != when:
            self._due[n] = when
            heapq.heappush(self._heap, (when, n))
