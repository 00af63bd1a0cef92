"""The simulated exchange's call handling on its PRI spans (network side).

It offers calls to our board (en bloc or overlap), plays the PSTN for the
calls our board places, clears calls after a given time, and counts what only
an exchange can see: calls that found every B-channel busy (congestion, cause
34), the first of the call centre's four loss points.

The PSTN behind it (:class:`ExchangeCallsBase`, shared with the R2 exchange):
numbers that are busy (Q.850 cause 17), vacant (cause 1, unallocated number),
congested (cause 34, no circuit/channel available), ring and never answer, or
answer after their own delay; everyone else answers after ``answer_after_ms``.
``log`` keeps every call the exchange saw, in order, with how it ended: the
exchange's own record, to check the centre's against.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from drivers.sig.pri import CallAnswered, CallCleared, CallOffered, PriSpan

__all__ = ["ExchangeCalls", "ExchangeCall", "ExchangeCallsBase"]


LOG_CALLS = 2_000


@dataclass
class ExchangeCall:
    span: int
    call: int
    direction: str          # "to_board" (the exchange offered it) or "from_board"
    ani: str
    dnis: str
    timeslot: int | None = None
    state: str = "setup"    # setup, answered, cleared
    cause: int | None = None
    hangup_after_ms: int | None = None
    pending_digits: str = ""
    answered_ms: int | None = None
    placed_ms: int | None = None
    cleared_ms: int | None = None


@dataclass
class ExchangeStats:
    offered: int = 0          # calls the exchange tried to offer to the board
    congested: int = 0        # ... that found no free B-channel (cause 34)
    answered: int = 0
    cleared: dict = field(default_factory=dict)   # cause -> count
    from_board: int = 0       # calls the board placed out through the exchange


class ExchangeCallsBase:
    """What the exchange's call logic does alike on every signalling system: answer a call
    the board placed, clear it after its holding time, count answers and clearing causes.

    Subclasses set ``_spans`` (span -> signalling stack with ``answer``/``hangup``) and
    ``_system`` (its name, for errors), and feed board-placed calls to :meth:`_answered`
    and :meth:`_cleared` from their ``handle``.
    """

    _system = ""

    def __init__(self, world, spans: dict, *, answer_after_ms: int = 2000, busy_numbers=(),
                 vacant_numbers=(), congested_numbers=(), no_answer_numbers=(),
                 answer_after: dict | None = None) -> None:
        self._world = world
        self.stats = ExchangeStats()
        self._spans = spans
        self.answer_after_ms = answer_after_ms
        self.busy_numbers = set(busy_numbers)
        self.vacant_numbers = set(vacant_numbers)
        self.congested_numbers = set(congested_numbers)
        self.no_answer_numbers = set(no_answer_numbers)
        self.answer_after: dict[str, int] = dict(answer_after or {})   # number -> ms
        self.calls: dict = {}
        # the calls seen, in order (kept after they clear): the last LOG_CALLS, so a world
        # that runs for hours (bench/soak.py) does not grow with every call
        self.log: deque = deque(maxlen=LOG_CALLS)
        # told of every call answered or cleared, as it happens: fn(call)
        self.listeners: list = []

    def pstn(self, dnis: str) -> tuple[int | None, int | None]:
        """What the network does with a call the board placed to ``dnis``: ``(cause,
        None)`` to refuse it with that Q.850 cause (17 user busy, 1 unallocated number,
        34 no circuit/channel available), ``(None, ms)`` to ring and answer after ``ms``,
        ``(None, None)`` to ring for ever (no answer)."""
        if dnis in self.busy_numbers:
            return 17, None
        if dnis in self.vacant_numbers:
            return 1, None
        if dnis in self.congested_numbers:
            return 34, None
        if dnis in self.no_answer_numbers:
            return None, None
        return None, self.answer_after.get(dnis, self.answer_after_ms)

    def _track(self, key, c) -> None:
        c.placed_ms = self._world.now_ms
        self.calls[key] = c
        self.log.append(c)

    def _now(self) -> float:
        return self._world.exchange.line_seconds

    def _stack(self, span: int):
        try:
            return self._spans[span]
        except KeyError:
            raise LookupError(f"span {span} of the exchange does not run {self._system}") \
                from None

    def hangup(self, span: int, call: int, cause: int = 16) -> None:
        c = self.calls.get((span, call))
        if c is None or c.state == "cleared":
            raise LookupError(f"no call {call} on span {span} of the exchange")
        self._stack(span).hangup(self._now(), call, cause)

    def _answered(self, key, now_ms: int) -> None:
        c = self.calls.get(key)
        if c is not None:
            c.state, c.answered_ms = "answered", now_ms
            self.stats.answered += 1
            for fn in self.listeners:
                fn(c)
            if c.hangup_after_ms is not None:
                self._world.after(c.hangup_after_ms, lambda c=c: self._timed_hangup(c))

    def _cleared(self, key, cause: int) -> None:
        c = self.calls.pop(key, None)
        if c is not None:
            c.state, c.cause, c.cleared_ms = "cleared", cause, self._world.now_ms
            self.stats.cleared[cause] = self.stats.cleared.get(cause, 0) + 1
            for fn in self.listeners:
                fn(c)

    def _answer(self, c) -> None:
        if c.state == "setup" and (c.span, c.call) in self.calls:
            self._stack(c.span).answer(self._now(), c.call)

    def _timed_hangup(self, c) -> None:
        if c.state == "answered" and (c.span, c.call) in self.calls:
            self._stack(c.span).hangup(self._now(), c.call, 16)

    def status(self) -> dict:
        s = self.stats
        return {"offered": s.offered, "congested": s.congested, "answered": s.answered,
                "from_board": s.from_board, "cleared": dict(s.cleared),
                "calls": [vars(c) for c in self.calls.values()]}


class ExchangeCalls(ExchangeCallsBase):
    """Call logic of the exchange over its network-side PRI spans."""

    _system = "PRI"

    def __init__(self, world, pri: dict[int, PriSpan], **pstn):
        """``pstn``: the numbering of :class:`ExchangeCallsBase` (busy, vacant, ...)."""
        super().__init__(world, pri, **pstn)
        self.pri = pri
        self.calls: dict[tuple[int, int], ExchangeCall] = {}

    def offer_call(self, span: int, ani: str, dnis: str, *, overlap: bool = False,
                   timeslot: int | None = None, hangup_after_ms: int | None = None) -> ExchangeCall:
        """Offer a call to the board. With ``overlap`` the DNIS follows digit by digit."""
        pri = self._stack(span)
        self.stats.offered += 1
        now = self._now()
        if not pri.q931.free_channels() and timeslot is None:
            # every B-channel busy: the caller hears congestion, the board never knows
            self.stats.congested += 1
            self.stats.cleared[34] = self.stats.cleared.get(34, 0) + 1
            c = ExchangeCall(span, -1, "to_board", ani, dnis, state="cleared", cause=34)
            return c
        first = dnis[:1] if overlap else dnis
        call = pri.place_call(now, first, ani, timeslot=timeslot, exclusive=timeslot is not None,
                              overlap=overlap)
        c = ExchangeCall(span, call, "to_board", ani, dnis, timeslot=timeslot,
                         hangup_after_ms=hangup_after_ms,
                         pending_digits=dnis[1:] if overlap else "")
        self._track((span, call), c)
        for i, digit in enumerate(c.pending_digits):
            last = i == len(c.pending_digits) - 1
            self._world.after(200 * (i + 1), lambda d=digit, l=last, c=c: self._digit(c, d, l))
        return c

    def _digit(self, c: ExchangeCall, digit: str, last: bool) -> None:
        if c.state != "setup" or (c.span, c.call) not in self.calls:
            return
        pri = self._stack(c.span)
        if pri.q931.call_state(c.call).name not in ("OVERLAP_SENDING", "OVERLAP_RECEIVING"):
            # no SETUP ACKNOWLEDGE yet: the digit waits (the caller keeps it in mind)
            self._world.after(100, lambda: self._digit(c, digit, last))
            return
        pri.send_digits(self._now(), c.call, digit, complete=last)

    def handle(self, events) -> None:
        """The exchange board's events of one tick."""
        now_ms = self._world.now_ms
        for ev in events:
            key = (getattr(ev, "span", None), getattr(ev, "call", None))
            if isinstance(ev, CallOffered):
                # our board calls out: the PSTN rings the number, or refuses it (Q.931
                # 5.2.5: RELEASE COMPLETE with the cause, before any progress)
                self.stats.from_board += 1
                c = ExchangeCall(ev.span, ev.call, "from_board", ev.ani, ev.dnis, ev.timeslot)
                self._track(key, c)
                pri = self._stack(ev.span)
                cause, answer_ms = self.pstn(ev.dnis)
                if cause is not None:
                    pri.reject(self._now(), ev.call, cause)
                    continue
                pri.proceeding(self._now(), ev.call)
                pri.alerting(self._now(), ev.call)
                if answer_ms is not None:
                    self._world.after(answer_ms, lambda c=c: self._answer(c))
            elif isinstance(ev, CallAnswered):
                self._answered(key, now_ms)
            elif isinstance(ev, CallCleared):
                self._cleared(key, ev.cause)
