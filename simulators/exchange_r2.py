"""The simulated exchange's call handling on its R2 (China No.1) CAS spans.

As :mod:`simulators.exchange` does for PRI: it offers calls to our board
(seizure, then KA/ANI/DNIS/KD by compelled MFC) with a given calling party's
category, and plays the PSTN for the calls our board places: the number
lists say who is busy (KB-2), vacant (KB-5) or congested (KB-4), who never
answers; everyone else is free (KB-1) and answers after ``answer_after_ms``.
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers.sig.pri import CallAnswered, CallCleared, CallOffered
from drivers.sig.r2span import R2Span

from simulators.exchange import ExchangeCallsBase

__all__ = ["ExchangeR2Calls", "ExchangeR2Call"]


@dataclass
class ExchangeR2Call:
    span: int
    call: int
    direction: str          # "to_board" (the exchange offered it) or "from_board"
    ani: str
    dnis: str
    category: int = 1
    timeslot: int | None = None
    state: str = "setup"    # setup, answered, cleared
    cause: int | None = None
    hangup_after_ms: int | None = None
    answered_ms: int | None = None
    seized_ms: int | None = None
    placed_ms: int | None = None
    cleared_ms: int | None = None


class ExchangeR2Calls(ExchangeCallsBase):
    """Call logic of the exchange over its R2 spans."""

    _system = "R2"

    def __init__(self, world, r2: dict[int, R2Span], **pstn):
        """``pstn``: the numbering of :class:`ExchangeCallsBase` (busy, vacant, ...)."""
        super().__init__(world, r2, **pstn)
        self.r2 = r2
        self.calls: dict[tuple[int, int], ExchangeR2Call] = {}

    def offer_call(self, span: int, ani: str, dnis: str, category: int = 1, *,
                   timeslot: int | None = None, hangup_after_ms: int | None = None,
                   kd: int | None = None) -> ExchangeR2Call:
        """Seize a circuit towards the board and send the call's number."""
        r = self._stack(span)
        self.stats.offered += 1
        if timeslot is None and not r.free_timeslots():
            self.stats.congested += 1
            self.stats.cleared[34] = self.stats.cleared.get(34, 0) + 1
            return ExchangeR2Call(span, -1, "to_board", ani, dnis, category, state="cleared",
                                  cause=34)
        call = r.place_call(self._now(), dnis, ani, timeslot=timeslot, category=category, kd=kd)
        c = ExchangeR2Call(span, call, "to_board", ani, dnis, category,
                           timeslot=r.calls().get(call, {}).get("timeslot"),
                           hangup_after_ms=hangup_after_ms, seized_ms=self._world.now_ms)
        self._track((span, call), c)
        return c

    def block(self, span: int, timeslot: int | None = None) -> None:
        self._stack(span).block(self._now(), timeslot)

    def unblock(self, span: int, timeslot: int | None = None) -> None:
        self._stack(span).unblock(self._now(), timeslot)

    def handle(self, events) -> None:
        """The exchange board's events of one tick."""
        now_ms = self._world.now_ms
        for ev in events:
            span = getattr(ev, "span", None)
            if span not in self.r2:
                continue
            key = (span, getattr(ev, "call", None))
            r = self.r2[span]
            if isinstance(ev, CallOffered):
                self.stats.from_board += 1
                c = ExchangeR2Call(span, ev.call, "from_board", ev.ani, ev.dnis,
                                   getattr(ev, "category", 1), ev.timeslot)
                self._track(key, c)
                cause, answer_ms = self.pstn(ev.dnis)
                if cause is not None:
                    r.reject(self._now(), ev.call, cause)
                else:
                    r.alerting(self._now(), ev.call)
                    if answer_ms is not None:
                        self._world.after(answer_ms, lambda c=c: self._answer(c))
            elif isinstance(ev, CallAnswered):
                self._answered(key, now_ms)
            elif isinstance(ev, CallCleared):
                self._cleared(key, ev.cause)
