"""R2 / China No.1 on an E1 CAS span: one :class:`~drivers.sig.r2.R2Channel` per bearer.

``R2Span`` is the glue between a board span configured for CAS (line
signalling in TS16, G.704 5.1.3) and the sans-I/O R2 channels, as
:class:`drivers.sig.pri.PriSpan` is for PRI. On the board tick it feeds each
bearer's ``CasChanged`` into ``cas_changed`` and its ``MfcSignal`` into
``mfc_signal``; it carries the channels' ``SetCas`` out with
``Channel.cas_tx`` and ``SetMfc`` with ``Channel.mfc``; it points each
channel's MFC receiver at the group the far register sends (forward
group I/II on the incoming side of a call, backward group A/B on the
outgoing side: ITU-T Q.441 clause 4.3, China No.1 GF 002-9002 inter-register
signalling); and it runs the channels' timers (Q.422 clause 2 recognition,
the compelled-cycle waits) on the tick.

It speaks the board's channel call vocabulary of :mod:`drivers.sig.pri`
(``CallOffered`` with ANI and DNIS, ``CallAlerting``, ``CallAnswered``,
``CallCleared`` with a Q.850 cause), so the CTI treats an R2 trunk like a PRI
one. R2 adds the calling party's category (KA in China No.1, group II in
Q.441) and KD: :class:`R2CallOffered` is a ``CallOffered`` with those two
fields more. Blocking (backward 11 on an idle circuit, Q.421 table 1) comes up
as :class:`ChannelBlocked` / :class:`ChannelUnblocked`.

Time granularity is the board tick (20 ms by default): a CAS change is
recognised one tick after it is seen (Q.422: 20 +- 10 ms), timers fire on the
first tick at or after they are due.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from drivers.board import CasChanged, Event, MfcSignal
from drivers.sig import r2
from drivers.sig.pri import (CallAlerting, CallAnswered, CallCleared, CallOffered,
                             ChannelsRestarted)
from drivers.sig.q931_codec import CAUSE_TEXT

__all__ = ["R2Span", "R2CallOffered", "ChannelBlocked", "ChannelUnblocked", "attach"]

_REJECT = {r2.CAUSE_BUSY: "busy", r2.CAUSE_UNALLOCATED: "vacant"}   # the rest: congestion
RESTART_HOLD = 0.2      # s backward 11 is held on every circuit by restart()


@dataclass(frozen=True)
class R2CallOffered(CallOffered):
    """An incoming R2 call: a ``CallOffered`` with the calling party's category
    (KA / group II, e.g. 1 = ordinary subscriber) and, China No.1, KD."""

    category: int = 1
    kd: int | None = None


@dataclass(frozen=True)
class ChannelBlocked(Event):
    """The far end blocked the circuit (backward 11 on the idle circuit, Q.421 table 1)."""

    topic: ClassVar[str] = "channel.blocked"
    span: int
    timeslot: int


@dataclass(frozen=True)
class ChannelUnblocked(Event):
    topic: ClassVar[str] = "channel.unblocked"
    span: int
    timeslot: int


class R2Span:
    """R2 signalling on every bearer timeslot of one CAS span (``side``: incoming,
    outgoing or both-way circuits).

    Glare on both-way circuits (both ends seize at once) is resolved by a static
    priority: this end wins on the timeslots of ``priority`` ("odd" or "even"),
    and picks free circuits for its calls from the ``pick`` end ("high" or "low")
    so the two ends meet as late as possible.

    An answer asked for while group B is still being signalled (or just after)
    goes out ``answer_guard`` seconds after the compelled cycle ended on this
    side: the far register recognises the end of the B tone later than it
    recognises a CAS change (MF receiver operate/release time against the
    Q.422 20 ms), and an answer (backward 01) seen before the B signal ceased
    would be out of sequence there."""

    def __init__(self, span, variant: str = "cn", *, side: str = "both",
                 priority: str = "even", pick: str = "high", timers: dict | None = None,
                 dnis_length: int | None = None, answer_guard: float = 0.1):
        if getattr(span, "signalling", "cas") != "cas":
            raise ValueError(f"span {span.number}: R2 needs a CAS span, not {span.signalling}")
        if priority not in ("odd", "even") or pick not in ("high", "low"):
            raise ValueError("priority must be odd or even, pick high or low")
        self.span = span
        self.variant = variant
        self.side = side
        self.pick = pick
        bearers = [ts for ts in range(1, 32) if ts != 16]
        self.channels: dict[int, r2.R2Channel] = {
            ts: r2.R2Channel(variant, side=side, timers=timers, dnis_length=dnis_length,
                             glare_priority=(ts % 2 == (0 if priority == "even" else 1)))
            for ts in bearers}
        self._group: dict[int, str | None] = {ts: None for ts in bearers}   # detector in use
        self._call_of: dict[int, int] = {}          # timeslot -> call
        self._ts_of: dict[int, int] = {}            # call -> timeslot
        self._local_clear: set[int] = set()         # calls we cleared (remote=False)
        self._answer_pending: set[int] = set()      # incoming: answer once accepted
        self._accepted_at: dict[int, float] = {}    # timeslot -> when group B free ended
        self.answer_guard = answer_guard
        self._next_call = 0
        self._tick = 0
        self._out: list[Event] = []
        self._trace_file = None
        self.traces: dict[int, list[tuple[float, str]]] = {}   # call -> signalling trace
        self._keep_traces = 32
        self._restarting: set[int] = set()          # circuits held blocked by restart()
        self._restart_until: float | None = None

    # ---- the board tick drives this ------------------------------------------

    def start(self, now: float) -> None:
        """Send idle (10, Q.421 table 1) on every circuit; take what is received."""
        for ts, ch in self.channels.items():
            self.span.channels[ts].cas_tx(ch.tx_abcd)

    def handle(self, now: float, tick: int, events: list[Event]) -> list[Event]:
        """Feed this tick's CAS and MFC events; run due timers; return call events."""
        self._tick = tick
        n = self.span.number
        for ev in events:
            if getattr(ev, "span", None) != n:
                continue
            ch = self.channels.get(getattr(ev, "timeslot", None))
            if ch is None:
                continue
            if isinstance(ev, CasChanged):
                self._trace(ev.timeslot, now, f"rx CAS {ev.abcd:04b}")
                ch.cas_changed(now, ev.abcd)
                self._pump(now, ev.timeslot)
            elif isinstance(ev, MfcSignal):
                self._trace(ev.timeslot, now, f"rx MF {'B' if ev.backward else 'F'}-{ev.digit}"
                            if ev.digit else f"rx MF {'B' if ev.backward else 'F'} off")
                ch.mfc_signal(now, ev.digit)
                self._pump(now, ev.timeslot)
        for ts, ch in self.channels.items():
            due = ch.get_timer()
            if due is not None and due <= now + 1e-9:
                ch.handle_timer(now)
                self._pump(now, ts)
        for call in list(self._answer_pending):
            self._pump(now, self._ts_of[call])
        if self._restart_until is not None and now >= self._restart_until - 1e-9:
            self._restart_done(now)
        out, self._out = self._out, []
        return out

    def next_timer(self) -> float | None:
        due = [t for t in (ch.get_timer() for ch in self.channels.values()) if t is not None]
        if self._restart_until is not None:
            due.append(self._restart_until)
        due += [self._accepted_at[self._ts_of[c]] + self.answer_guard
                for c in self._answer_pending if self._ts_of[c] in self._accepted_at]
        return min(due) if due else None

    def _pump(self, now: float, ts: int) -> None:
        """Carry one channel's commands to the board and its events up, until quiet."""
        ch = self.channels[ts]
        bch = self.span.channels[ts]
        for _ in range(100):
            moved = False
            self._point_detector(ts, ch)
            for cmd in ch.commands():
                moved = True
                if isinstance(cmd, r2.SetCas):
                    self._trace(ts, now, f"tx CAS {cmd.abcd:04b}")
                    bch.cas_tx(cmd.abcd)
                elif isinstance(cmd, r2.SetMfc):
                    g = "B" if cmd.backward else "F"
                    self._trace(ts, now, f"tx MF {g}-{cmd.digit}" if cmd.digit is not None
                                else f"tx MF {g} off")
                    bch.mfc(cmd.digit, backward=cmd.backward)
            ev = ch.next_event()
            while ev is not None:
                moved = True
                self._from_r2(now, ts, ev)
                ev = ch.next_event()
            call = self._call_of.get(ts)
            if ch.state is r2.R2State.ACCEPTED:
                self._accepted_at.setdefault(ts, now)
            else:
                self._accepted_at.pop(ts, None)
            if call in self._answer_pending and ch.state is r2.R2State.ACCEPTED \
                    and now >= self._accepted_at[ts] + self.answer_guard - 1e-9:
                self._answer_pending.discard(call)
                ch.answer(now)
                moved = True
            if not moved:
                return

    def _point_detector(self, ts: int, ch: r2.R2Channel) -> None:
        """MFC receiver on the far register's group: forward on the incoming side of a
        call, backward on the outgoing side (Q.441 4.3); off between calls."""
        want = {"incoming": "mfc_forward", "outgoing": "mfc_backward"}.get(ch.direction)
        if want != self._group[ts]:
            self._group[ts] = want
            if want is None:
                self.span.channels[ts].detect()
            else:
                self.span.channels[ts].detect(want)

    def _new_call(self, ts: int) -> int:
        self._next_call += 1
        call = self._next_call
        self._call_of[ts] = call
        self._ts_of[call] = ts
        self.traces[call] = []
        while len(self.traces) > self._keep_traces:
            old = next(iter(self.traces))
            if old in self._ts_of:
                break
            del self.traces[old]
        return call

    def _from_r2(self, now: float, ts: int, ev) -> None:
        n, t = self.span.number, self._tick
        call = self._call_of.get(ts)
        if isinstance(ev, r2.Offered):
            if call is None:
                call = self._new_call(ts)
            self._trace(ts, now, f"offered ani={ev.ani} dnis={ev.dnis} category={ev.category} "
                                 f"kd={ev.kd}")
            self._out.append(R2CallOffered(t, n, ts, call, ev.ani, ev.dnis, True,
                                           category=ev.category, kd=ev.kd))
        elif isinstance(ev, r2.Accepted):
            self._trace(ts, now, "accepted (subscriber free)")
            if call is not None:
                self._out.append(CallAlerting(t, n, ts, call))
        elif isinstance(ev, r2.Answered):
            self._trace(ts, now, "answered")
            if call is not None:
                self._out.append(CallAnswered(t, n, ts, call))
        elif isinstance(ev, r2.Cleared):
            self._trace(ts, now, f"cleared cause={ev.cause} {ev.reason}")
            if call is not None:
                del self._call_of[ts]
                del self._ts_of[call]
                self._answer_pending.discard(call)
                remote = call not in self._local_clear
                self._local_clear.discard(call)
                self._out.append(CallCleared(t, n, ts, call, ev.cause,
                                             CAUSE_TEXT.get(ev.cause, ev.reason or "unknown cause"),
                                             remote))
                self._flush()
        elif isinstance(ev, r2.Blocked):
            self._out.append(ChannelBlocked(t, n, ts))
        elif isinstance(ev, r2.Unblocked):
            self._out.append(ChannelUnblocked(t, n, ts))
        elif isinstance(ev, r2.ProtocolError):
            self._trace(ts, now, f"protocol error: {ev.text}")
        # a seizure from the far end: the call exists from now on (for the trace)
        ch = self.channels[ts]
        if ch.direction == "incoming" and ts not in self._call_of and ch._call:
            self._new_call(ts)

    # ---- signalling trace -----------------------------------------------------

    def trace_to(self, path: str | None) -> None:
        """Append every CAS change and MF tone, with its line time, to ``path``
        (one line each: time, span/timeslot, call); None stops."""
        if self._trace_file is not None:
            self._trace_file.close()
        self._trace_file = open(path, "a", encoding="utf-8") if path else None

    def _trace(self, ts: int, now: float, text: str) -> None:
        call = self._call_of.get(ts)
        if call is None:
            ch = self.channels[ts]
            if ch.direction == "incoming" and ch._call:
                call = self._new_call(ts)
        if call is not None:
            self.traces.setdefault(call, []).append((now, text))
        if self._trace_file is not None:
            self._trace_file.write(f"{now:10.3f} {self.span.number}/{ts} "
                                   f"call={call if call is not None else '-'} {text}\n")

    def _flush(self) -> None:
        if self._trace_file is not None:
            self._trace_file.flush()

    # ---- channel commands ------------------------------------------------------

    def _channel(self, call: int) -> tuple[int, r2.R2Channel]:
        try:
            ts = self._ts_of[call]
        except KeyError:
            raise LookupError(f"no call {call} on span {self.span.number}") from None
        return ts, self.channels[ts]

    def free_timeslots(self) -> list[int]:
        out = [ts for ts, ch in self.channels.items() if ch.state is r2.R2State.IDLE
               and ch._rx_pending is None and ts not in self._call_of]
        return out[::-1] if self.pick == "high" else out

    def place_call(self, now: float, dnis: str, ani: str = "", *, timeslot: int | None = None,
                   category: int | None = None, kd: int | None = None) -> int:
        """Seize a free circuit (forward 00, Q.421 table 1) and send the number by
        compelled MFC. No free circuit: the call clears at once with cause 34."""
        if timeslot is None:
            free = self.free_timeslots()
            if not free:
                self._next_call += 1
                call = self._next_call
                self._out.append(CallCleared(self._tick, self.span.number, None, call, 34,
                                             CAUSE_TEXT.get(34, "no circuit"), False))
                return call
            timeslot = free[0]
        ch = self.channels[timeslot]
        if timeslot in self._call_of:
            raise r2.R2Error(f"span {self.span.number} timeslot {timeslot} is busy")
        ch.seize(now, dnis, ani=ani, category=category, kd=kd)
        call = self._new_call(timeslot)
        self._trace(timeslot, now, f"seize dnis={dnis} ani={ani}")
        self._pump(now, timeslot)
        return call

    def proceeding(self, now: float, call: int) -> None:
        """Nothing to send in R2 (kept for the PRI command set)."""
        self._channel(call)

    def alerting(self, now: float, call: int) -> None:
        """The called party is free: group B free (KB-1 / B-6)."""
        ts, ch = self._channel(call)
        if ch.state is r2.R2State.OFFERED:
            ch.accept(now)
            self._pump(now, ts)

    def answer(self, now: float, call: int) -> None:
        """Answer (backward 01); sends group B free first if not yet done."""
        ts, ch = self._channel(call)
        if ch.state is r2.R2State.OFFERED:
            ch.accept(now)
        if ch.state is r2.R2State.ACCEPTED:
            ch.answer(now)
        else:
            self._answer_pending.add(call)
        self._pump(now, ts)

    def reject(self, now: float, call: int, cause: int = 17) -> None:
        """Refuse an offered call with group B busy (17), vacant (1) or congestion."""
        ts, ch = self._channel(call)
        self._local_clear.add(call)
        if ch.state is r2.R2State.OFFERED:
            ch.reject(now, _REJECT.get(cause, "congestion"))
        else:
            ch.hangup(now)
        self._pump(now, ts)

    def hangup(self, now: float, call: int, cause: int = 16) -> None:
        """Clear-forward (our call) or clear-back (the far end's call); a call still only
        offered is refused instead, as :meth:`reject` does."""
        self.reject(now, call, cause)

    def block(self, now: float, timeslot: int | None = None) -> None:
        """Block one circuit or all (backward 11 once idle, Q.421 table 1)."""
        for ts in ([timeslot] if timeslot is not None else list(self.channels)):
            self._restarting.discard(ts)        # the technician's block outlasts a restart
            self.channels[ts].block(now)
            self._pump(now, ts)

    def unblock(self, now: float, timeslot: int | None = None) -> None:
        for ts in ([timeslot] if timeslot is not None else list(self.channels)):
            self._restarting.discard(ts)
            self.channels[ts].unblock(now)
            self._pump(now, ts)

    def restart(self, now: float, hold: float = RESTART_HOLD) -> None:
        """Return every circuit to idle after this end restarted and forgot its calls: what
        Q.931 RESTART (5.5) does on a PRI span, done with line signals, as CAS has no
        restart message. Backward 11 goes out on every circuit for ``hold`` seconds, then
        idle 10 (Q.421 table 1, China No.1 GF 002-9002 digital line signalling).

        Whatever the far exchange held on a circuit ends: where it is the outgoing end
        (a call it offered us) it takes 11 as clear-back and sends clear-forward; where it
        is the incoming end (a call we placed) the idle 10 that follows is clear-forward
        (after an 11 it counts as an unexpected forward signal: which end held which
        circuit is unknown until the far bits are recognised, and the first signal is
        chosen for the inbound calls that make most of a call centre's); a seizure it has
        just sent takes 11 as seizure acknowledge and then meets idle during register
        signalling. An idle circuit is seen blocked, then unblocked.
        ``hold`` is well above the recognition time at each end (Q.422 clause 2: 20 +- 10
        ms). Meanwhile no call goes out on the span and the far end offers none. Meant for
        start-up, when this end holds no call; a circuit blocked by the technician stays
        blocked. ``ChannelsRestarted`` (timeslots ``()``: all) says when it is done."""
        self._restarting = {ts for ts, ch in self.channels.items() if not ch._local_block}
        for ts in sorted(self._restarting):
            self.channels[ts].block(now)
            self._pump(now, ts)
        self._restart_until = now + hold

    @property
    def restarting(self) -> bool:
        """restart() still holds circuits blocked: no call on them yet."""
        return bool(self._restarting)

    def _restart_done(self, now: float) -> None:
        self._restart_until = None
        for ts in sorted(self._restarting):
            self.channels[ts].unblock(now)
            self._pump(now, ts)
        self._restarting = set()
        self._out.append(ChannelsRestarted(self._tick, self.span.number, (), False))

    def calls(self) -> dict[int, dict]:
        return {c: {"call": c, "timeslot": ts, "state": self.channels[ts].state.name}
                for c, ts in self._ts_of.items()}

    def status(self) -> dict:
        """Per circuit: abcd sent and recognised, R2 state, direction, call."""
        chans = {}
        for ts, ch in self.channels.items():
            chans[ts] = {"tx_abcd": format(ch.tx_abcd, "04b"), "rx_abcd": format(ch.rx_abcd, "04b"),
                         "rx_pending": None if ch._rx_pending is None
                         else format(ch._rx_pending, "04b"),
                         "state": ch.state.name, "direction": ch.direction,
                         "call": self._call_of.get(ts), "mfc_tx": ch.mfc_tx, "mfc_rx": ch.mfc_rx}
        counters: dict = {}
        for ch in self.channels.values():
            for k, v in ch.counters.items():
                counters[k] = counters.get(k, 0) + v
        return {"span": self.span.number, "signalling": "r2", "variant": self.variant,
                "side": self.side, "calls": len(self._ts_of),
                "free_channels": len(self.free_timeslots()), "channels": chans,
                "counters": counters}


def attach(board, variant: str = "cn", spans=None, **options) -> dict[int, R2Span]:
    """Run R2 on the board's CAS spans (both-way circuits unless ``side`` says)."""
    out = {}
    for number, span in board.spans.items():
        if span.signalling != "cas" or (spans is not None and number not in spans):
            continue
        r = R2Span(span, variant, **options)
        board.attach_signalling(r)
        r.start(board.line_seconds)
        out[number] = r
    return out
