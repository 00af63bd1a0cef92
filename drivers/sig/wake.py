"""A board's lines of one kind under one signalling handler, each line's stack run only
when it is due.

:class:`LineGroup` is what :class:`drivers.sig.pri.PriSpans` and :class:`drivers.sig.analog.
AnalogPorts` share: a line runs on a tick when the tick has events for it, when a request
changed it between ticks (``mark``), or when a timer of it is due (:class:`WakeSchedule`).
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

    def due_by(self, now: float) -> bool:
        """Whether an entry (maybe one left behind by a deadline that moved) is due."""
        heap = self._heap
        return bool(heap) and heap[0][0] <= now

    def set(self, n: int, when: float | None) -> None:
        """Line ``n`` is next due at ``when`` (None: nothing pending)."""
        if when is None:
            self._due.pop(n, None)
        elif self._due.get(n) != when:
            self._due[n] = when
            heapq.heappush(self._heap, (when, n))


class LineGroup:
    """Lines by number, run on the board's tick only when due. A subclass says which of
    a tick's events are for which line (:meth:`route`) and when a line next needs to
    run (:meth:`next_wake`); a line has ``handle(now, tick, events)`` and a ``_group``
    it marks when a request changes it between ticks."""

    #: added to ``now`` when looking for due lines (a float clock's rounding)
    slack = 0.0

    def __init__(self) -> None:
        self.lines: dict = {}
        self._wake = WakeSchedule()
        self._marked: set[int] = set()

    def add_line(self, n: int, line, taken: str) -> None:
        """Line ``n`` joins (``taken``: the error when it is already here)."""
        if n in self.lines:
            raise ValueError(taken)
        self.lines[n] = line
        line._group = self
        self._marked.add(n)

    def mark(self, number: int) -> None:
        """Run this line on the next tick (a request changed it between ticks)."""
        self._marked.add(number)

    def route(self, events: list) -> dict[int, list]:
        raise NotImplementedError

    def next_wake(self, line) -> float | None:
        raise NotImplementedError

    def handle(self, now: float, tick: int, events: list) -> list:
        routed = self.route(events) if events else {}
        if not routed and not self._marked and not self._wake.due_by(now + self.slack):
            return []               # the usual tick of a quiet group: nothing to run
        run = self._marked
        self._marked = set()
        run |= self._wake.due(now + self.slack)
        run.update(routed)
        out: list = []
        for n in sorted(run):
            line = self.lines[n]
            out += line.handle(now, tick, routed.get(n, ()))
            self._wake.set(n, self.next_wake(line))
        return out
