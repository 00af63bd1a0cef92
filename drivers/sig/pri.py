"""ISDN PRI on a span: LAPD (Q.921) on the D-channel, Q.931 call control above it.

``PriSpan`` is the glue between a board span and the two sans-I/O stacks. It
feeds the span's received D-channel frames into Q.921, Q.921's data into
Q.931, and sends what they produce back out as HDLC frames; it runs their
timers on the board tick; and it turns Q.931 events into the board's channel
event vocabulary (offered with ANI/DNIS, proceeding, alerting, answered,
cleared with cause) while channel commands (answer, reject with a cause,
place a call, hang up) go out as Q.931 messages.

The same class runs the user side on our board and the network side on the
simulated exchange, as ARCHITECTURE.md wants: one stack, two roles.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from drivers.board import DFrame, Event, SpanAlarm
from drivers.sig import q921, q931
from drivers.sig.q931_codec import CAUSE_TEXT
from drivers.sig.wake import LineGroup

__all__ = [
    "PriSpan", "PriSpans", "attach", "CallOffered", "CallDigits", "CallProceeding", "CallAlerting", "CallAnswered",
    "CallCleared", "DChannelUp", "DChannelDown", "ChannelsRestarted",
]


_LINE_DOWN = {"LOS", "LOF", "AIS"}


# ---- channel events of a PRI span (topics under channel.* and span.*) --------


@dataclass(frozen=True)
class CallOffered(Event):
    """An incoming call (Q.931 SETUP): ANI and DNIS, the B-channel chosen."""

    topic: ClassVar[str] = "channel.offered"
    span: int
    timeslot: int | None
    call: int
    ani: str
    dnis: str
    sending_complete: bool
    presentation: int = 0
    redirecting: str | None = None


@dataclass(frozen=True)
class CallDigits(Event):
    """More called-number digits in overlap receiving (Q.931 INFORMATION)."""

    topic: ClassVar[str] = "channel.digits"
    span: int
    timeslot: int | None
    call: int
    digits: str
    sending_complete: bool


@dataclass(frozen=True)
class CallProceeding(Event):
    topic: ClassVar[str] = "channel.proceeding"
    span: int
    timeslot: int | None
    call: int


@dataclass(frozen=True)
class CallAlerting(Event):
    topic: ClassVar[str] = "channel.alerting"
    span: int
    timeslot: int | None
    call: int


@dataclass(frozen=True)
class CallAnswered(Event):
    """The call is active (CONNECT / CONNECT ACKNOWLEDGE)."""

    topic: ClassVar[str] = "channel.answered"
    span: int
    timeslot: int | None
    call: int


@dataclass(frozen=True)
class CallCleared(Event):
    """The call is gone and its B-channel free; ``cause`` is the Q.850 value."""

    topic: ClassVar[str] = "channel.cleared"
    span: int
    timeslot: int | None
    call: int
    cause: int
    cause_text: str
    remote: bool


@dataclass(frozen=True)
class DChannelUp(Event):
    """Q.921 multiple-frame operation established on the span's D-channel."""

    topic: ClassVar[str] = "span.dchannel_up"
    span: int
    reestablished: bool


@dataclass(frozen=True)
class DChannelDown(Event):
    topic: ClassVar[str] = "span.dchannel_down"
    span: int
    reason: str


@dataclass(frozen=True)
class ChannelsRestarted(Event):
    """B-channels returned to idle by RESTART (Q.931 5.5): the peer's (``remote``, when we
    acknowledge it) or ours (when the peer's RESTART ACKNOWLEDGE comes; until then the
    channels stay out of service). ``()`` is the whole interface."""

    topic: ClassVar[str] = "span.restart"
    span: int
    timeslots: tuple[int, ...]
    remote: bool


class PriSpan:
    """Q.921 + Q.931 over one span's D-channel, in one role (``"user"`` or ``"network"``)."""

    def __init__(self, span, side: str = "user", *, q921_options: dict | None = None,
                 q931_timers: dict | None = None):
        if side not in ("user", "network"):
            raise ValueError(f"span {span.number}: PRI side must be user or network, not {side!r}")
        self.span = span
        self.side = side
        role = q921.Role.NETWORK if side == "network" else q921.Role.USER
        # the span's stack takes the frames after Q.931 has answered what came in, so
        # an answer given at once carries the acknowledgement (no RR of its own)
        self.lapd = q921.Lapd(role, **dict({"defer_ack": True}, **(q921_options or {})))
        self.q931 = q931.Q931(q931.Side.NETWORK if side == "network" else q931.Side.USER,
                              timers=q931_timers)
        self._channel: dict[int, int | None] = {}   # call -> timeslot
        self._out: list[Event] = []
        self._acknowledge: list[int] = []       # offered calls to answer with SETUP ACK
        self._dialled: dict[int, tuple[str, bool]] = {}   # call -> digits before SETUP ACK
        self._info_ready: list[int] = []        # calls whose dialled digits can go now
        self._tick = 0
        self.link_up = False
        self._group: PriSpans | None = None
        self._in_handle = False

    # ---- the board tick drives this ------------------------------------------

    def start(self, now: float) -> None:
        """Bring the D-channel up (SABME); Q.921 keeps trying while the line is down."""
        self.lapd.establish(now)
        self._pump(now)

    def handle(self, now: float, tick: int, events: list[Event]) -> list[Event]:
        """Feed this tick's board events; run due timers; return the span's call events."""
        self._tick = tick
        self._in_handle = True
        try:
            return self._handle(now, events)
        finally:
            self._in_handle = False

    def _handle(self, now: float, events: list[Event]) -> list[Event]:
        for ev in events:
            if getattr(ev, "span", None) != self.span.number:
                continue
            if isinstance(ev, DFrame):
                self.lapd.receive(now, ev.data)
            elif isinstance(ev, SpanAlarm) and set(ev.raised) & _LINE_DOWN:
                # the line is gone: tell LAPD at once (PH-DEACTIVATE) rather than wait
                # for T203 and N200 retries to find out
                self.lapd.layer1_down(now)
        for machine in (self.lapd, self.q931):
            due = machine.get_timer()
            if due is not None and due <= now:
                machine.handle_timer(now)
        self._pump(now)
        out, self._out = self._out, []
        return out

    def next_timer(self) -> float | None:
        timers = [t for t in (self.lapd.get_timer(), self.q931.get_timer()) if t is not None]
        return min(timers) if timers else None

    def _pump(self, now: float) -> None:
        """Move primitives between the layers until nothing more happens."""
        if self._group is not None and not self._in_handle:
            # a request between ticks: the span's group runs it on the next tick
            self._group.mark(self.span.number)
        for _ in range(1000):
            moved = False
            ev = self.lapd.next_event()
            while ev is not None:
                moved = True
                self._from_q921(now, ev)
                ev = self.lapd.next_event()
            for msg in self.q931.messages_to_send():
                moved = True
                self.lapd.send(now, msg)
            qev = self.q931.next_event()
            while qev is not None:
                moved = True
                self._from_q931(qev)
                qev = self.q931.next_event()
            while self._acknowledge:
                moved = True
                self.q931.setup_acknowledge(now, self._acknowledge.pop(0))
            while self._info_ready:
                moved = True
                call = self._info_ready.pop(0)
                if call in self._dialled:
                    digits, complete = self._dialled.pop(call)
                    self.q931.information(now, call, digits, sending_complete=complete)
            for frame in self.lapd.frames_to_send():
                moved = True
                self.span.send_dframe(frame)
            if not moved:
                return

    def _from_q921(self, now: float, ev) -> None:
        n = self.span.number
        if isinstance(ev, q921.Established):
            self.link_up = True
            self.q931.link_established(now, reestablished=ev.reestablished)
            self._out.append(DChannelUp(self._tick, n, ev.reestablished))
        elif isinstance(ev, q921.Released):
            was_up, self.link_up = self.link_up, False
            self.q931.link_released(now)
            if was_up:
                self._out.append(DChannelDown(self._tick, n, ev.reason))
            # the D-channel of a PRI is kept up: try again (T200 paces the retries)
            self.lapd.establish(now)
        elif isinstance(ev, q921.DataIndication):
            self.q931.receive(now, ev.data)

    def _from_q931(self, ev) -> None:
        n, t = self.span.number, self._tick
        call = getattr(ev, "call", None)
        if isinstance(ev, q931.CallOffered):
            self._channel[call] = ev.channel
            if not ev.sending_complete and self.side == "user":
                # the number may be incomplete: overlap receiving (Q.931 5.2.4), the
                # digits come in INFORMATION messages while T302 runs
                self._acknowledge.append(call)
            self._out.append(CallOffered(t, n, ev.channel, call, ev.calling or "", ev.called or "",
                                         ev.sending_complete, ev.calling_presentation,
                                         ev.redirecting))
        elif isinstance(ev, q931.DigitsReceived):
            self._out.append(CallDigits(t, n, self._channel.get(call), call, ev.digits,
                                        ev.sending_complete))
        elif isinstance(ev, (q931.CallProceeding, q931.SetupAcknowledged)):
            if getattr(ev, "channel", None):
                self._channel[call] = ev.channel
            if isinstance(ev, q931.CallProceeding):
                self._dialled.pop(call, None)    # the peer has all the number it wants
                self._out.append(CallProceeding(t, n, self._channel.get(call), call))
            elif call in self._dialled:
                self._info_ready.append(call)
        elif isinstance(ev, q931.CallAlerting):
            self._out.append(CallAlerting(t, n, self._channel.get(call), call))
        elif isinstance(ev, q931.CallAnswered):
            self._out.append(CallAnswered(t, n, self._channel.get(call), call))
        elif isinstance(ev, q931.CallCleared):
            self._dialled.pop(call, None)
            ts = self._channel.pop(call, None) or getattr(ev, "channel", None)
            self._out.append(CallCleared(t, n, ts, call, ev.cause,
                                         CAUSE_TEXT.get(ev.cause, "unknown cause"), ev.remote))
        elif isinstance(ev, q931.ChannelsRestarted):
            self._out.append(ChannelsRestarted(t, n, tuple(ev.channels), ev.remote))
        elif isinstance(ev, q931.RestartAcknowledged):
            # our RESTART (5.5.1): the channels are idle and usable again only now
            self._out.append(ChannelsRestarted(t, n, tuple(ev.channels), False))

    # ---- channel commands ------------------------------------------------------

    def place_call(self, now: float, dnis: str, ani: str = "", *, timeslot: int | None = None,
                   exclusive: bool = False, overlap: bool = False) -> int:
        """Send SETUP (en bloc, or with ``overlap`` the number follows in INFORMATION)."""
        call = self.q931.setup(now, called=dnis, calling=ani, channel=timeslot,
                               exclusive=exclusive, sending_complete=not overlap)
        self._channel[call] = timeslot
        self._pump(now)
        return call

    def send_digits(self, now: float, call: int, digits: str, complete: bool = False) -> None:
        """More of the called number of a call placed with ``overlap`` (Q.931 5.1.3):
        INFORMATION. Digits dialled before the peer's SETUP ACKNOWLEDGE wait for it (the
        user may send INFORMATION only in Overlap sending) and then go in one message;
        they are dropped if the peer answers CALL PROCEEDING (number complete) instead."""
        info = self.q931.call_info(call)
        initial = q931.CallState.CALL_INITIATED if self.side == "user" \
            else q931.CallState.CALL_PRESENT
        if info is not None and info.outgoing and info.state == initial:
            before, done = self._dialled.get(call, ("", False))
            self._dialled[call] = (before + digits, done or complete)
            return
        self.q931.information(now, call, digits, sending_complete=complete)
        self._pump(now)

    def proceeding(self, now: float, call: int) -> None:
        self.q931.proceeding(now, call)
        self._pump(now)

    def alerting(self, now: float, call: int) -> None:
        self.q931.alerting(now, call)
        self._pump(now)

    def answer(self, now: float, call: int) -> None:
        self.q931.answer(now, call)
        self._pump(now)

    def reject(self, now: float, call: int, cause: int = 21) -> None:
        self.q931.reject(now, call, cause)
        self._pump(now)

    def hangup(self, now: float, call: int, cause: int = 16) -> None:
        self.q931.hangup(now, call, cause)
        self._pump(now)

    def restart(self, now: float, timeslots: tuple[int, ...] | None = None) -> None:
        self.q931.restart(now, timeslots)
        self._pump(now)

    @property
    def restarting(self) -> bool:
        """A RESTART of ours not yet acknowledged (5.5.1): its channels are out of service."""
        return bool(self.q931._restarting)

    def calls(self) -> dict[int, dict]:
        return {c: {"call": c, "timeslot": self._channel.get(c),
                    "state": self.q931.call_state(c).name} for c in list(self.q931.calls)}

    def status(self) -> dict:
        return {"span": self.span.number, "side": self.side, "dchannel": self.lapd.state.name,
                "link_up": self.link_up, "calls": len(self.q931.calls),
                "free_channels": len(self.q931.free_channels()),
                "q921": dict(self.lapd.counters), "q931": dict(self.q931.counters)}


class PriSpans(LineGroup):
    """Every PRI span of one board (in one role) as one signalling handler.

    A tick's D-channel frames and alarms go to the span they came from; a span's stack
    runs only when it has one, when a Q.921 or Q.931 timer of it is due, or when a
    request (place, answer, hang up, ...) changed it between ticks. Nine idle spans then
    cost nothing per tick, where one handler per span would scan every event of the
    board's tick and every call's timers on every tick."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: dict[int, PriSpan] = self.lines

    def add(self, pri: PriSpan) -> None:
        n = pri.span.number
        self.add_line(n, pri, f"span {n} already runs PRI")

    def route(self, events: list[Event]) -> dict[int, list[Event]]:
        spans = self.spans
        routed: dict[int, list[Event]] = {}
        for ev in events:
            if isinstance(ev, (DFrame, SpanAlarm)) and ev.span in spans:
                routed.setdefault(ev.span, []).append(ev)
        return routed

    def next_wake(self, pri: PriSpan) -> float | None:
        return pri.next_timer()


def attach(board, side: str, spans=None) -> dict[int, PriSpan]:
    """Run PRI (in ``side``'s role) on the board's spans configured for it, all of them
    under one :class:`PriSpans` handler per board and role."""
    group = next((h for h in board._signalling if isinstance(h, PriSpans)), None)
    if group is None:
        group = PriSpans()
        board.attach_signalling(group)
    out = {}
    for number, span in board.spans.items():
        if span.signalling != "pri" or (spans is not None and number not in spans):
            continue
        pri = PriSpan(span, side)
        group.add(pri)
        pri.start(board.line_seconds)
        out[number] = pri
    return out
