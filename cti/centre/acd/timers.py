"""The ACD's timers, in the aioquic shape: ``get_timer()`` says when ``handle_timer(now)``
must next run; nothing here reads a clock (ARCHITECTURE.md rule 2: they run on the board
tick). The kinds: an agent's wrap-up ending, ring-no-answer, the retry of agents that
failed, the queue timeout (overflow) and the position announcement.

Entries are never removed from the heap when cancelled: each is checked against the
object it belongs to when it comes due (:meth:`_Timers._timer_valid`).
"""
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from cti.centre.acd.agents import RNA_REASON
from cti.centre.acd.events import Announce, Overflow, RingNoAnswer, StopRinging, _s

if TYPE_CHECKING:
    from cti.centre.acd.queues import _Call

# timer kinds, in the order they run when due at the same time
_T_WRAPUP, _T_RING, _T_RETRY, _T_TIMEOUT, _T_ANNOUNCE = range(5)


class _Timers:
    """The ACD's timer heap and what each timer does when due, a part of
    :class:`~cti.centre.acd.Acd`."""

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next run, or None."""
        h = self._timers
        while h and not self._timer_valid(h[0]):
            heapq.heappop(h)
        return h[0][0] if h else None

    def handle_timer(self, now: float) -> None:
        """Run every timer due at or before ``now``, each at its own due time."""
        self._tick(now)
        h = self._timers
        while h:
            entry = h[0]
            if not self._timer_valid(entry):
                heapq.heappop(h)
                continue
            t, kind, _, obj = entry
            if t > now + 1e-9:
                break
            heapq.heappop(h)
            self._fire(t, kind, obj)
            self._dispatch(t)

    def _add_timer(self, t: float, kind: int, obj: Any) -> None:
        self._tseq += 1
        heapq.heappush(self._timers, (t, kind, self._tseq, obj))

    def _timer_valid(self, entry: tuple) -> bool:
        t, kind, _, obj = entry
        if kind == _T_WRAPUP:
            return obj.wrapup_until == t and obj.state == "wrapup"
        if self._calls.get(obj.id) is not obj:
            return False
        if kind == _T_RING:
            return obj.ring_deadline == t and bool(obj.ringing)
        if kind == _T_RETRY:
            return obj.retry_at == t
        if kind == _T_TIMEOUT:
            return obj.timeout_at == t and obj.agent is None
        return obj.announce_at == t and obj.agent is None

    # ---- what a timer does when due ------------------------------------------------

    def _fire(self, t: float, kind: int, obj: Any) -> None:
        if kind == _T_WRAPUP:
            self._after_wrapup(t, obj)
        elif kind == _T_RING:
            self._ring_timeout(t, obj)
        elif kind == _T_RETRY:
            obj.retry_at = None
            obj.tried.clear()
            self._dirty = True
        elif kind == _T_TIMEOUT:
            self._queue_timeout(t, obj)
        else:
            self._announce(t, obj)

    def _ring_timeout(self, t: float, c: _Call) -> None:
        q = self._queues[c.queue]
        ring_time = t - (c.ring_started if c.ring_started is not None else t)
        agents = c.ringing
        for aid in agents:
            q.counters["ring_no_answer"] += 1
            self._events.append(RingNoAnswer(c.id, c.queue, aid, ring_time))
            self._log(t, c.id, c.queue, aid, "RINGNOANSWER", (int(round(ring_time * 1000)),))
        self._events.append(StopRinging(c.id, agents))
        for aid in agents:
            a = self._agents[aid]
            c.tried.add(aid)
            if a.call is c:
                a.call = None
                self._sync(a)
            if a.state != "ringing":
                continue
            if q.cfg.pause_on_no_answer:
                a.after_call = None
                self._pause(t, a, RNA_REASON)
            elif a.after_call is not None:
                reason, a.after_call = a.after_call, None
                self._pause(t, a, reason)
            else:
                self._set_state(a, "ready")
        c.ringing = ()
        c.ring_deadline = c.ring_started = None
        self._dirty = True

    def _queue_timeout(self, t: float, c: _Call) -> None:
        q = self._queues[c.queue]
        action, target = q.cfg.overflow_action()
        position = self._leave(t, c)
        waited = t - c.enqueued_at
        q.counters["timeout"] += 1
        self._log(t, c.id, c.queue, "NONE", "EXITWITHTIMEOUT",
                  (position, c.origposition, _s(waited)))
        self._events.append(Overflow(c.id, c.queue, action, target, "timeout", waited))

    def _announce(self, t: float, c: _Call) -> None:
        q = self._queues[c.queue]
        position = self._position(c)
        self._events.append(Announce(c.id, c.queue, position,
                                     self.estimated_wait(c.queue, position)))
        if q.cfg.announce_every is not None:
            c.announce_at = t + q.cfg.announce_every
            self._add_timer(c.announce_at, _T_ANNOUNCE, c)
