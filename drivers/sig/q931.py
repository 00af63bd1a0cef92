"""Q.931 / ETSI DSS1 (EN 300 403) basic call control for circuit-switched calls on a
primary rate interface, user side and network side, as a sans-I/O state machine.

Shape (STYLE.md, after aioquic): Q.921 hands us DL-DATA indications through
:meth:`Q931.receive`, DL-ESTABLISH / DL-RELEASE through :meth:`Q931.link_established`
and :meth:`Q931.link_released`; the application places and answers calls with the
request methods (:meth:`Q931.setup`, :meth:`Q931.answer`, :meth:`Q931.hangup` ...);
what comes out is events (:meth:`Q931.next_event`) and encoded messages
(:meth:`Q931.messages_to_send`, each one I-frame). Time only enters as ``now``:
:meth:`Q931.get_timer` says when the earliest timer (T301..T322) is due and
:meth:`Q931.handle_timer` runs the due ones.

The call states are the numbers of Q.931 Annex A. They are direction-consistent:
a call the user originates goes U1..U4 / N1..N4, a call the network originates
goes N6..N9, N25 / U6..U9, U25, and both meet in 10 (Active) and part in 11, 12,
19. State 12 (Disconnect indication) is transient here: on DISCONNECT the stack
answers RELEASE at once (5.3.3, 5.3.4), since the application learns of the
clearing from the single :class:`CallCleared` it gets when the call is gone.

What the peer sends wrong never raises: it is answered as clause 5.8 says (STATUS
with cause 96..101, RELEASE COMPLETE with cause 81 ...), counted and reported as a
:class:`ProtocolError` event. What the application asks wrongly (answering a call
that is not offered) raises :class:`Q931Error`; a request about a call that has
already gone (a race with the peer's clearing) is ignored and counted.

Simplifications (documented, not hidden): no inband tones in Disconnect
indication (T306), no call abort state N22 (the network clears straight to N0),
B-channels are freed (not placed in maintenance) after a second T308 expiry,
T302 expiry clears with cause 28 (the application decides when the number is
complete by answering CALL PROCEEDING), no supplementary services, no
SUSPEND/RESUME, no NFAS (one interface, channels 1..31 except 16).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from drivers.sig import q931_codec as codec
from drivers.sig.q931_codec import Action, MessageType as MT

__all__ = [
    "Side", "CallState", "Q931", "Q931Error", "CallInfo", "DEFAULT_TIMERS",
    "CallOffered", "DigitsReceived", "SetupAcknowledged", "CallProceeding", "CallAlerting",
    "CallProgress", "CallAnswered", "CallCleared", "ChannelsRestarted", "RestartAcknowledged",
    "ProtocolError",
]


class Side(enum.Enum):
    NETWORK = "network"
    USER = "user"


class CallState(enum.IntEnum):
    """Call states of Q.931 Annex A / 2.1 (U0..U25 on the user side, N0..N25 on the network side)."""

    NULL = 0
    CALL_INITIATED = 1
    OVERLAP_SENDING = 2
    OUTGOING_CALL_PROCEEDING = 3
    CALL_DELIVERED = 4
    CALL_PRESENT = 6
    CALL_RECEIVED = 7
    CONNECT_REQUEST = 8
    INCOMING_CALL_PROCEEDING = 9
    ACTIVE = 10
    DISCONNECT_REQUEST = 11
    DISCONNECT_INDICATION = 12
    RELEASE_REQUEST = 19
    OVERLAP_RECEIVING = 25


S = CallState
_UP = frozenset({S.CALL_INITIATED, S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED})
_DOWN = frozenset({S.CALL_PRESENT, S.CALL_RECEIVED, S.CONNECT_REQUEST, S.INCOMING_CALL_PROCEEDING,
                   S.OVERLAP_RECEIVING})
_CLEARING = frozenset({S.DISCONNECT_REQUEST, S.DISCONNECT_INDICATION, S.RELEASE_REQUEST})
_ESTABLISHING = _UP | _DOWN

# Q.850 2.2.6 location of the cause: the side that clears says where it is.
LOCATION_USER = 0
LOCATION_LOCAL_PUBLIC_NETWORK = 2

# Default timer values in seconds: Q.931 table 9-1 (network side) and 9-2 (user side).
DEFAULT_TIMERS = {
    Side.NETWORK: {"T301": 180.0, "T302": 15.0, "T303": 4.0, "T304": 20.0, "T305": 30.0,
                   "T308": 4.0, "T309": 90.0, "T310": 10.0, "T313": 4.0, "T316": 120.0,
                   "T322": 4.0},
    Side.USER: {"T301": 180.0, "T302": 15.0, "T303": 4.0, "T304": 30.0, "T305": 30.0,
                "T308": 4.0, "T309": 90.0, "T310": 30.0, "T313": 4.0, "T316": 120.0,
                "T322": 4.0},
}

_MAX_CALL_REF = 0x7FFF       # 4.3: two octets on a primary rate interface, 15-bit value
_PI_INBAND = 8               # Q.931 4.5.23: progress description 8, in-band information available


class Q931Error(Exception):
    """A request the application made that Q.931 does not allow in the call's state."""


# ---- events ------------------------------------------------------------------


@dataclass(frozen=True)
class CallOffered:
    """An incoming SETUP was accepted on ``channel`` (5.2.1 user side, 5.1.1 network side)."""

    call: int
    channel: int | None
    called: str
    calling: str
    calling_presentation: int
    sending_complete: bool
    bearer: Any = None
    redirecting: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class DigitsReceived:
    """INFORMATION in overlap receiving (5.1.3 network side, 5.2.4 user side)."""

    call: int
    digits: str
    sending_complete: bool


@dataclass(frozen=True)
class SetupAcknowledged:
    """SETUP ACKNOWLEDGE: the peer wants the rest of the number (overlap sending, 5.1.3)."""

    call: int
    channel: int | None


@dataclass(frozen=True)
class CallProceeding:
    """CALL PROCEEDING: the number is complete and the call is being routed (5.1.5)."""

    call: int
    channel: int | None


@dataclass(frozen=True)
class CallAlerting:
    """ALERTING: the called party is being rung (5.1.7); ``inband`` with progress description 8."""

    call: int
    inband: bool


@dataclass(frozen=True)
class CallProgress:
    """PROGRESS with a progress indicator description (5.1.6, Q.931 4.5.23)."""

    call: int
    description: int


@dataclass(frozen=True)
class CallAnswered:
    """The call entered the Active state: CONNECT received by the caller, CONNECT
    ACKNOWLEDGE received by the answering user, CONNECT sent by the answering network."""

    call: int


@dataclass(frozen=True)
class CallCleared:
    """The call is gone (Null state) and its B-channel is free; ``remote`` when the peer cleared."""

    call: int
    cause: int
    location: int
    remote: bool
    channel: int | None


@dataclass(frozen=True)
class ChannelsRestarted:
    """B-channels returned to idle by a RESTART (5.5); ``()`` means the whole interface."""

    channels: tuple[int, ...]
    remote: bool


@dataclass(frozen=True)
class RestartAcknowledged:
    """Our RESTART was acknowledged (5.5.1); ``()`` means the whole interface."""

    channels: tuple[int, ...]


@dataclass(frozen=True)
class ProtocolError:
    """What clause 5.8 made us answer (or give up on), for counters and logs."""

    call: int | None
    cause: int
    text: str


@dataclass(frozen=True)
class CallInfo:
    """A snapshot of one call for diagnostics."""

    call: int
    call_ref: int
    outgoing: bool
    state: CallState
    channel: int | None
    called: str
    calling: str


# ---- internal records ----------------------------------------------------------


class _Call:
    __slots__ = ("id", "cr", "outgoing", "state", "channel", "channel_confirmed", "exclusive",
                 "called", "calling", "timers", "expiries", "setup_bytes", "release_bytes",
                 "clearing", "answered")

    def __init__(self, call_id: int, cr: int, outgoing: bool):
        self.id = call_id
        self.cr = cr
        self.outgoing = outgoing            # we allocated the call reference (we placed the call)
        self.state = S.NULL
        self.channel: int | None = None
        self.channel_confirmed = False      # the peer has agreed to the channel
        self.exclusive = False
        self.called = ""
        self.calling = ""
        self.timers: dict[str, float] = {}  # name -> absolute deadline
        self.expiries: dict[str, int] = {}  # name -> how many times it has expired
        self.setup_bytes = b""              # for the retransmission on T303 expiry
        self.release_bytes = b""            # for the retransmission on T308 expiry
        self.clearing: tuple[int, int, bool] | None = None   # cause, location, remote
        self.answered = False


class _Restart:
    __slots__ = ("channels", "deadline", "attempts", "data")

    def __init__(self, channels: tuple[int, ...], deadline: float, data: bytes):
        self.channels = channels
        self.deadline = deadline
        self.attempts = 1
        self.data = data


def _digits(ie) -> str:
    return "" if ie is None else str(getattr(ie, "digits", "") or "")


class Q931:
    """Q.931 call control for one primary rate interface, on one side of it."""

    def __init__(self, side: Side, *, channels: tuple[int, ...] = tuple(c for c in range(1, 32) if c != 16),
                 timers: dict | None = None):
        if not isinstance(side, Side):
            side = Side(side)
        self.side = side
        self.channels = tuple(channels)
        self.timers = dict(DEFAULT_TIMERS[side])
        for name, value in (timers or {}).items():
            if name not in self.timers:
                raise ValueError(f"unknown Q.931 timer {name!r} (known: {', '.join(sorted(self.timers))})")
            self.timers[name] = float(value)
        self.link_up = False
        self._calls: dict[int, _Call] = {}
        # the calls that started a timer since get_timer last found them without one:
        # an active call usually runs none, and a span has up to 30 calls to look at
        self._timed: dict[int, _Call] = {}
        self._by_ref: dict[tuple[bool, int], _Call] = {}
        self._owner: dict[int, int] = {}          # channel -> call id
        self._restarting: dict[tuple[int, ...], _Restart] = {}   # () = whole interface
        self._next_call = 1
        self._next_cr = 1
        self._events: list = []
        self._out: list[bytes] = []
        self.counters: dict = {
            "messages_in": 0, "messages_out": 0, "dropped": 0, "calls_offered": 0,
            "calls_placed": 0, "congestion": 0, "channel_unavailable": 0, "restarts_sent": 0,
            "restarts_received": 0, "timer_expiries": 0, "stale_requests": 0,
            "internal_errors": 0, "protocol_errors": {},
        }
        self._location = LOCATION_LOCAL_PUBLIC_NETWORK if side is Side.NETWORK else LOCATION_USER
        self._rx_answer = None

    # ---- outputs ----------------------------------------------------------------

    def next_event(self):
        return self._events.pop(0) if self._events else None

    def messages_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        best = None
        idle = []
        for cid, c in self._timed.items():
            if c.timers:
                d = min(c.timers.values())
                if best is None or d < best:
                    best = d
            else:
                idle.append(cid)
        for cid in idle:
            # its timers ran out or were stopped since: looked at again when one starts
            del self._timed[cid]
        for r in self._restarting.values():
            if best is None or r.deadline < best:
                best = r.deadline
        return best

    def call_state(self, call: int) -> CallState:
        c = self._calls.get(call)
        return c.state if c is not None else S.NULL

    def call_info(self, call: int) -> CallInfo | None:
        """What :attr:`calls` says of one call (None when it has none), without the rest."""
        c = self._calls.get(call)
        if c is None:
            return None
        return CallInfo(c.id, c.cr, c.outgoing, c.state, c.channel, c.called, c.calling)

    @property
    def calls(self) -> dict[int, CallInfo]:
        return {cid: self.call_info(cid) for cid in self._calls}

    def busy_count(self) -> int:
        """B-channels a call holds or a RESTART has taken, without listing the free ones."""
        if not self._restarting:
            return len(self._owner)
        return len(self.channels) - len(self.free_channels())

    def free_channels(self) -> tuple[int, ...]:
        busy = set(self._owner)
        for r in self._restarting.values():
            busy.update(r.channels or self.channels)
        return tuple(ch for ch in self.channels if ch not in busy)

    # ---- data link primitives ---------------------------------------------------

    def link_established(self, now: float, reestablished: bool = False) -> None:
        """DL-ESTABLISH indication/confirm. After a failure (5.8.9) the calls kept under
        T309 are re-synchronised with STATUS ENQUIRY; after a spontaneous reset (5.8.8)
        calls in overlap sending/receiving are cleared with cause 41 and active calls are
        checked with STATUS ENQUIRY.

        A DISCONNECT we sent is sent again after a reset: Q.921 discards its unacknowledged
        I frames when the link is re-established (5.7.1), and 5.8.8 b) takes no action for
        calls being cleared, so the peer would learn of the clearing only from our T305
        (30 s later) or, meanwhile asking with STATUS ENQUIRY, would find our Disconnect
        request state incompatible and clear with cause 101 instead of the cause given. A
        duplicate harms nothing: the peer in Release request drops it (5.3.5), one that
        has already forgotten the call answers RELEASE COMPLETE (5.8.3.2)."""
        self.link_up = True
        for c in list(self._calls.values()):
            # A STATUS ENQUIRY still under T322 went out before the failure or reset and
            # Q.921 may have discarded it with its I queue (5.7.1): none is outstanding any
            # more (5.8.10 keeps one at a time), so it is asked again at once, T322 anew.
            if "T309" in c.timers:
                self._stop(c, "T309", "T322")
                self._send_status_enquiry(now, c)
            elif reestablished:
                if c.state in (S.OVERLAP_SENDING, S.OVERLAP_RECEIVING):
                    self._disconnect(now, c, 41)
                elif c.state == S.DISCONNECT_REQUEST and c.clearing is not None \
                        and not c.clearing[2]:
                    self._disconnect(now, c, c.clearing[0])       # the cause first given
                elif c.state == S.ACTIVE:
                    self._stop(c, "T322")
                    self._send_status_enquiry(now, c)

    def link_released(self, now: float) -> None:
        """DL-RELEASE indication (5.8.9): calls not in the Active state are cleared
        internally (cause 41, temporary failure); active calls are kept and T309 started."""
        self.link_up = False
        for c in list(self._calls.values()):
            if c.state == S.ACTIVE:
                if "T309" not in c.timers:
                    self._start(now, c, "T309")
            else:
                self._to_null(c, 41, self._location, False)

    # ---- requests: placing a call (5.1 user side, 5.2 network side) ---------------

    def setup(self, now: float, *, called: str, calling: str = "", channel: int | None = None,
              exclusive: bool = False, sending_complete: bool = True, calling_presentation: int = 0,
              bearer=None, display: str | None = None) -> int:
        """Send SETUP (en bloc with ``sending_complete``, else the number continues in
        INFORMATION after SETUP ACKNOWLEDGE). Returns the call id. When no B-channel can be
        had the call is refused at once: CallCleared with cause 34 (or 44 for an exclusive
        channel that is busy), counted as congestion."""
        if channel is not None and channel not in self.channels:
            raise Q931Error(f"channel {channel} is not a B-channel of this interface")
        c = _Call(self._new_call_id(), self._new_call_ref(), True)
        c.called, c.calling = called, calling
        self._calls[c.id] = c
        self._by_ref[(True, c.cr)] = c
        self.counters["calls_placed"] += 1
        free = self.free_channels()
        if self.side is Side.NETWORK:
            # 5.2.3.1: the network always indicates a channel; it picks the first free one
            # when none was asked for, and then indicates it exclusive.
            if channel is None or channel not in free:
                if channel is not None and exclusive:
                    self.counters["channel_unavailable"] += 1
                    self._to_null(c, 44, self._location, False)
                    return c.id
                if channel is None:
                    exclusive = True
                channel = free[0] if free else None
            if channel is None:
                self.counters["congestion"] += 1
                self._to_null(c, 34, self._location, False)
                return c.id
            self._take(c, channel)
            c.exclusive = exclusive
        else:
            # 5.1.2: the user may indicate a channel (preferred or exclusive) or any channel.
            if channel is not None and channel not in free:
                if exclusive:
                    self.counters["channel_unavailable"] += 1
                    self._to_null(c, 44, self._location, False)
                    return c.id
                channel = None
            if channel is None and not free:
                self.counters["congestion"] += 1
                self._to_null(c, 34, self._location, False)
                return c.id
            if channel is not None:
                self._take(c, channel)
            c.exclusive = exclusive
        ies: list = []
        if sending_complete:
            ies.append(codec.SendingComplete())
        ies.append(bearer if bearer is not None else self._default_bearer())
        ies.append(self._channel_ie(c.channel, c.exclusive))
        if display is not None:
            ies.append(codec.Display(display))
        if calling:
            ies.append(codec.CallingPartyNumber(
                digits=calling, type_of_number=0, numbering_plan=1, presentation=calling_presentation,
                screening=3 if self.side is Side.NETWORK else 0))
        if called or sending_complete:
            ies.append(codec.CalledPartyNumber(digits=called, type_of_number=0, numbering_plan=1))
        c.setup_bytes = self._send(c, MT.SETUP, ies)
        c.state = S.CALL_INITIATED if self.side is Side.USER else S.CALL_PRESENT
        self._start(now, c, "T303")
        return c.id

    def information(self, now: float, call: int, digits: str, sending_complete: bool = False) -> None:
        """Overlap sending (5.1.3 user side, 5.2.4 network side): more called-number digits
        in INFORMATION; T304 restarts."""
        c = self._request_call(call)
        if c is None:
            return
        if c.state not in (S.OVERLAP_SENDING, S.OVERLAP_RECEIVING) or not c.outgoing:
            raise Q931Error(f"call {call}: INFORMATION for overlap sending not allowed in {c.state.name}")
        ies: list = []
        if sending_complete:
            ies.append(codec.SendingComplete())
        if digits:
            ies.append(codec.CalledPartyNumber(digits=digits, type_of_number=0, numbering_plan=1))
        c.called += digits
        self._send(c, MT.INFORMATION, ies)
        self._start(now, c, "T304")

    # ---- requests: answering a call (5.2 user side, 5.1 network side) ------------

    def setup_acknowledge(self, now: float, call: int) -> None:
        """SETUP ACKNOWLEDGE: ask for the rest of the number (overlap receiving); T302 starts."""
        c = self._request_call(call)
        if c is None:
            return
        self._require_incoming(c, (self._initial_incoming(),), "SETUP ACKNOWLEDGE")
        self._send(c, MT.SETUP_ACKNOWLEDGE, [self._channel_ie(c.channel, True)])
        c.channel_confirmed = True
        c.state = S.OVERLAP_RECEIVING if self.side is Side.USER else S.OVERLAP_SENDING
        self._start(now, c, "T302")

    def proceeding(self, now: float, call: int) -> None:
        """CALL PROCEEDING: the number is complete, the call is being handled."""
        c = self._request_call(call)
        if c is None:
            return
        self._require_incoming(c, (self._initial_incoming(), self._overlap_incoming()), "CALL PROCEEDING")
        self._send(c, MT.CALL_PROCEEDING, self._first_response_ies(c))
        self._stop(c, "T302")
        c.state = S.INCOMING_CALL_PROCEEDING if self.side is Side.USER else S.OUTGOING_CALL_PROCEEDING

    def alerting(self, now: float, call: int, inband: bool = False) -> None:
        """ALERTING: the called party is being rung (``inband``: ring-back tone on the B-channel)."""
        c = self._request_call(call)
        if c is None:
            return
        self._require_incoming(c, (self._initial_incoming(), self._overlap_incoming(), self._proceeding_incoming()),
                               "ALERTING")
        ies = self._first_response_ies(c)
        if inband:
            ies.append(codec.ProgressIndicator(description=_PI_INBAND, location=self._location))
        self._send(c, MT.ALERTING, ies)
        self._stop(c, "T302")
        c.state = S.CALL_RECEIVED if self.side is Side.USER else S.CALL_DELIVERED

    def progress(self, now: float, call: int, description: int) -> None:
        """PROGRESS with a progress indicator (5.1.6 / 5.2.6), no change of state."""
        c = self._request_call(call)
        if c is None:
            return
        if c.state not in _ESTABLISHING and c.state != S.ACTIVE:
            raise Q931Error(f"call {call}: PROGRESS not allowed in {c.state.name}")
        self._send(c, MT.PROGRESS, [codec.ProgressIndicator(description=description, location=self._location)])

    def answer(self, now: float, call: int) -> None:
        """CONNECT. The user waits for CONNECT ACKNOWLEDGE under T313 (5.2.8); the network
        enters Active at once (5.1.8)."""
        c = self._request_call(call)
        if c is None:
            return
        self._require_incoming(c, (self._initial_incoming(), self._overlap_incoming(),
                                   self._proceeding_incoming(), self._alerting_incoming()), "CONNECT")
        self._send(c, MT.CONNECT, self._first_response_ies(c))
        self._stop(c, "T302")
        if self.side is Side.USER:
            c.state = S.CONNECT_REQUEST
            self._start(now, c, "T313")
        else:
            self._active(c)

    # ---- requests: clearing (5.3) ---------------------------------------------------

    def reject(self, now: float, call: int, cause: int) -> None:
        """Refuse an offered call: RELEASE COMPLETE with ``cause`` in Call Present (5.2.5.1
        user side) or Call Initiated (5.1.1 network side); later it is ordinary clearing."""
        c = self._request_call(call)
        if c is None:
            return
        if not c.outgoing and c.state == self._initial_incoming():
            self._send(c, MT.RELEASE_COMPLETE, [self._cause(cause)])
            self._to_null(c, cause, self._location, False)
        else:
            self.hangup(now, call, cause)

    def hangup(self, now: float, call: int, cause: int = 16) -> None:
        """Clear the call: DISCONNECT and T305 (5.3.2, 5.3.3); RELEASE COMPLETE for a call
        not yet answered in its first state; nothing when clearing is already under way."""
        c = self._request_call(call)
        if c is None:
            return
        if c.state in (S.DISCONNECT_REQUEST, S.RELEASE_REQUEST):
            return
        if c.state == S.DISCONNECT_INDICATION:
            self._release(now, c, cause)
        elif not c.outgoing and c.state == self._initial_incoming():
            self.reject(now, call, cause)
        else:
            self._disconnect(now, c, cause)

    def status_enquiry(self, now: float, call: int) -> None:
        """STATUS ENQUIRY under T322 (5.8.10)."""
        c = self._request_call(call)
        if c is None:
            return
        self._send_status_enquiry(now, c)

    # ---- requests: restart (5.5) ----------------------------------------------------

    def restart(self, now: float, channels: tuple[int, ...] | None = None) -> None:
        """RESTART with the global call reference (5.5.1): the given B-channels (class 0,
        one RESTART per channel, which every peer understands) or the whole interface
        (class 7). Calls on them are cleared internally (cause 41); the channels stay out of
        service until RESTART ACKNOWLEDGE, under T316."""
        if channels is not None:
            channels = tuple(channels)
            bad = [ch for ch in channels if ch not in self.channels]
            if bad or not channels:
                raise Q931Error(f"RESTART: no such B-channel(s) {bad or channels}")
        self.counters["restarts_sent"] += 1
        groups = [(ch,) for ch in channels] if channels is not None else [()]
        for group in groups:
            self._clear_channels(group, 41, False)
            if group:
                ies = [self._channel_ie(group[0], True), codec.RestartIndicator(restart_class=0)]
            else:
                ies = [codec.RestartIndicator(restart_class=7)]
            data = self._emit(codec.Message(MT.RESTART, 0, 0, tuple(ies)))
            self._restarting[group] = _Restart(group, now + self.timers["T316"], data)

    # ---- received messages ----------------------------------------------------------

    def receive(self, now: float, data: bytes) -> None:
        """One DL-DATA indication. Never raises: what is wrong is answered per 5.8 and counted."""
        self.counters["messages_in"] += 1
        try:
            self._receive(now, bytes(data))
        except Exception as exc:  # the last line of defence; tests assert this stays at 0
            self.counters["internal_errors"] += 1
            self._events.append(ProtocolError(None, 111, f"internal error on a received message: {exc!r}"))

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now`` (table 9-1 / 9-2 'at first expiry', 'at second expiry')."""
        for _ in range(10000):
            due = self._earliest_due(now)
            if due is None:
                return
            kind, owner, name = due
            self.counters["timer_expiries"] += 1
            if kind == "restart":
                self._t316_expired(now, owner)
            else:
                del owner.timers[name]
                owner.expiries[name] = owner.expiries.get(name, 0) + 1
                getattr(self, f"_{name.lower()}_expired")(now, owner)

    # ---- internals: receiving ---------------------------------------------------------

    def _receive(self, now: float, data: bytes) -> None:
        direction = "u2n" if self.side is Side.NETWORK else "n2u"
        decoded = codec.decode(data, direction=direction)
        msg = decoded.message
        for p in decoded.problems:
            self._count_error(p.cause)
        if msg is None or decoded.action == Action.IGNORE or msg.call_ref_len == 0:
            # 5.8.1 protocol discriminator, 5.8.2 too short, 5.8.3.1 call reference format
            # (and the dummy call reference, not used on a PRI): the message is ignored.
            self.counters["dropped"] += 1
            return
        action = decoded.action
        answer = decoded.answer_cause(self._location)
        text = decoded.problems[0].text if decoded.problems else ""
        mtype = msg.type if isinstance(msg.type, MT) else None
        if msg.is_global:
            self._receive_global(now, msg, mtype, action, answer, text)
            return
        ours = bool(msg.call_ref_flag)      # 4.3: flag 1 = sent to the side that allocated it
        c = self._by_ref.get((ours, msg.call_ref))
        if mtype == MT.SETUP:
            if ours:                         # 5.8.3.2 d
                self.counters["dropped"] += 1
                return
            if c is not None:                # 5.8.3.2 e: a duplicate
                self.counters["dropped"] += 1
                return
            if action == Action.RELEASE_COMPLETE:   # 5.8.6.1 / 5.8.6.2: no call is made
                self._reply(msg.call_ref, 1, MT.RELEASE_COMPLETE, [answer], answer.value, text)
                return
            c = self._on_setup(now, msg)
            if c is not None and action == Action.STATUS:   # 5.8.7: act, then say what was wrong
                self._status(c, answer.value, text, answer)
            return
        if c is None:
            self._unknown_call_ref(now, msg, ours, mtype)
            return
        if mtype in (MT.RESTART, MT.RESTART_ACKNOWLEDGE):   # 5.8.3.2: global call reference only
            self._status(c, 81, f"{mtype.name} without the global call reference")
            return
        if action == Action.DROP_STATUS or mtype is None:
            # 5.8.4 (cause 97), 5.8.6 (96/100 in a non-clearing message), 5.8.3.2 (81)
            self._status(c, answer.value if answer else 97, text, answer)
            return
        self._rx_answer = answer if action in (Action.RELEASE, Action.RELEASE_COMPLETE) else None
        getattr(self, f"_on_{mtype.name.lower()}")(now, c, msg)
        self._rx_answer = None
        if action == Action.STATUS and c.id in self._calls:
            self._status(c, answer.value, text, answer)

    def _receive_global(self, now: float, msg, mtype, action, answer, text) -> None:
        """Global call reference (5.8.3.2 f): RESTART, RESTART ACKNOWLEDGE and STATUS only;
        anything else is answered with a STATUS on the global call reference, cause 81."""
        if action == Action.DROP_STATUS or mtype not in (MT.RESTART, MT.RESTART_ACKNOWLEDGE, MT.STATUS):
            cause = answer or self._cause(81)
            self._emit(codec.Message(MT.STATUS, 0, 1, (cause, codec.CallState(0))))
            self._events.append(ProtocolError(None, cause.value, text or "message on the global call reference"))
            return
        if mtype == MT.RESTART:
            self._on_restart(now, msg)
        elif mtype == MT.RESTART_ACKNOWLEDGE:
            self._on_restart_acknowledge(now, msg)

    def _unknown_call_ref(self, now: float, msg, ours: bool, mtype) -> None:
        """5.8.3.2 a, b, c, g: messages for a call reference we do not know."""
        flag = 0 if ours else 1
        name = mtype.name if mtype is not None else f"message type 0x{int(msg.type):02X}"
        if mtype == MT.RELEASE_COMPLETE:
            self.counters["dropped"] += 1
            return
        if mtype == MT.STATUS:
            st = msg.get(codec.CallState)
            if st is not None and st.value != 0:        # 5.8.11 a) 2)
                self._reply(msg.call_ref, flag, MT.RELEASE_COMPLETE, [self._cause(101)], 101,
                            "STATUS for an unknown call reference in a state other than Null")
            else:
                self.counters["dropped"] += 1
            return
        if mtype == MT.STATUS_ENQUIRY:                   # answer: we are in the Null state
            self._reply(msg.call_ref, flag, MT.STATUS, [self._cause(30), codec.CallState(0)], None, "")
            return
        # a) (alternative): RELEASE COMPLETE with cause 81 and stay in Null; b) for RELEASE
        self._reply(msg.call_ref, flag, MT.RELEASE_COMPLETE, [self._cause(81)], 81,
                    f"{name} for unknown call reference {msg.call_ref}")

    def _on_setup(self, now: float, msg) -> _Call | None:
        """Incoming SETUP: network side 5.1.1/5.1.2 (channel selection, congestion),
        user side 5.2.1/5.2.3 (the network's channel wins a glare)."""
        cr = msg.call_ref
        chan_ie = msg.get(codec.ChannelIdentification)
        channel, cause = self._select_incoming_channel(chan_ie)
        if channel is None:
            if cause == 34:
                self.counters["congestion"] += 1
            else:
                self.counters["channel_unavailable"] += 1
            self._reply(cr, 1, MT.RELEASE_COMPLETE, [self._cause(cause)], None, "")
            return None
        c = _Call(self._new_call_id(), cr, False)
        self._calls[c.id] = c
        self._by_ref[(False, cr)] = c
        self._yield_glare(channel)
        self._take(c, channel)
        c.channel_confirmed = False
        c.state = self._initial_incoming()
        called = msg.get(codec.CalledPartyNumber)
        calling = msg.get(codec.CallingPartyNumber)
        redirecting = msg.get(codec.RedirectingNumber)
        display = msg.get(codec.Display)
        c.called = _digits(called)
        c.calling = _digits(calling)
        self.counters["calls_offered"] += 1
        self._events.append(CallOffered(
            c.id, channel, c.called, c.calling,
            int(getattr(calling, "presentation", 0) or 0) if calling is not None else 0,
            msg.get(codec.SendingComplete) is not None, msg.get(codec.BearerCapability),
            _digits(redirecting) if redirecting is not None else None,
            getattr(display, "text", None) if display is not None else None))
        return c

    def _select_incoming_channel(self, ie) -> tuple[int | None, int]:
        """The B-channel for an incoming call, or the cause to refuse it with.

        Network side (5.1.2): the user's exclusive choice if free (else 44), its preferred
        one if free, else the first free (none: 34). User side (5.2.3.1): the network's
        channel if free or only held by our own outgoing call not yet confirmed (the glare
        rule: the network wins); a preferred channel that is busy is replaced by a free one."""
        free = set(self.free_channels())
        wanted = None
        exclusive = False
        if ie is not None and not getattr(ie, "any_channel", False) and not getattr(ie, "no_channel", False):
            chans = tuple(getattr(ie, "channels", ()) or ())
            if chans:
                wanted = chans[0]
                exclusive = bool(getattr(ie, "exclusive", False))
        if wanted is not None:
            if wanted not in self.channels:
                if exclusive:
                    return None, 82
                wanted = None
            elif wanted in free:
                return wanted, 0
            elif self.side is Side.USER and self._glare_yieldable(wanted):
                return wanted, 0
            elif exclusive:
                return None, 44
        ordered = [ch for ch in self.channels if ch in free]
        if not ordered:
            return None, 34
        return ordered[0], 0

    def _glare_yieldable(self, channel: int) -> bool:
        owner = self._owner.get(channel)
        if owner is None:
            return False
        c = self._calls.get(owner)
        return c is not None and c.outgoing and not c.channel_confirmed and c.state in _UP

    def _yield_glare(self, channel: int) -> None:
        """5.2.3.1 / 5.1.2 glare on a PRI: our outgoing call gives the channel up; the
        network's response will name another one (preferred) or clear it with 44 (exclusive)."""
        owner = self._owner.get(channel)
        if owner is not None and self.side is Side.USER:
            c = self._calls[owner]
            del self._owner[channel]
            c.channel = None

    # ---- caller side: responses to our SETUP ---------------------------------------

    def _caller_states(self) -> dict[str, CallState]:
        if self.side is Side.USER:
            return {"initial": S.CALL_INITIATED, "overlap": S.OVERLAP_SENDING,
                    "proceeding": S.OUTGOING_CALL_PROCEEDING, "alerting": S.CALL_DELIVERED}
        return {"initial": S.CALL_PRESENT, "overlap": S.OVERLAP_RECEIVING,
                "proceeding": S.INCOMING_CALL_PROCEEDING, "alerting": S.CALL_RECEIVED}

    def _first_response(self, now: float, c: _Call, msg) -> bool:
        """Channel indicated in a response to our SETUP (5.1.2 / 5.2.3.1). Returns False
        when the call had to be cleared because the channel cannot be used."""
        ie = msg.get(codec.ChannelIdentification)
        chans = tuple(getattr(ie, "channels", ()) or ()) if ie is not None else ()
        if not chans:
            if c.channel is not None:
                c.channel_confirmed = True
            return True
        ch = chans[0]
        if ch == c.channel:
            c.channel_confirmed = True
            return True
        if c.channel_confirmed and c.channel is not None:
            return True                      # settled by an earlier message of this call
        owner = self._owner.get(ch)
        usable = (ch in self.channels and (c.channel is None or not c.exclusive)
                  and (owner == c.id or (owner is None and ch in self.free_channels())))
        if not usable:
            self._disconnect(now, c, 6)      # 5.1.2 / 5.2.3.2: channel unacceptable
            return False
        self._free(c)
        self._take(c, ch)
        c.channel_confirmed = True
        return True

    def _on_setup_acknowledge(self, now: float, c: _Call, msg) -> None:
        st = self._caller_states()
        if not c.outgoing or c.state != st["initial"]:
            return self._unexpected(c, msg)
        self._stop(c, "T303")
        c.state = st["overlap"]
        if not self._first_response(now, c, msg):
            return
        self._start(now, c, "T304")
        self._events.append(SetupAcknowledged(c.id, c.channel))

    def _on_call_proceeding(self, now: float, c: _Call, msg) -> None:
        st = self._caller_states()
        if not c.outgoing or c.state not in (st["initial"], st["overlap"]):
            return self._unexpected(c, msg)
        self._stop(c, "T303", "T304")
        c.state = st["proceeding"]
        if not self._first_response(now, c, msg):
            return
        self._start(now, c, "T310")
        self._events.append(CallProceeding(c.id, c.channel))

    def _on_alerting(self, now: float, c: _Call, msg) -> None:
        st = self._caller_states()
        if not c.outgoing or c.state not in (st["initial"], st["overlap"], st["proceeding"]):
            return self._unexpected(c, msg)
        self._stop(c, "T303", "T304", "T310")
        c.state = st["alerting"]
        if not self._first_response(now, c, msg):
            return
        self._start(now, c, "T301")
        pis = msg.get_all(codec.ProgressIndicator)
        self._events.append(CallAlerting(c.id, any(p.description in (1, _PI_INBAND) for p in pis)))

    def _on_progress(self, now: float, c: _Call, msg) -> None:
        if c.state not in _ESTABLISHING and c.state != S.ACTIVE:
            return self._unexpected(c, msg)
        self._stop(c, "T310")
        for pi in msg.get_all(codec.ProgressIndicator):
            self._events.append(CallProgress(c.id, pi.description))

    def _on_connect(self, now: float, c: _Call, msg) -> None:
        st = self._caller_states()
        if not c.outgoing or c.state not in (st["initial"], st["overlap"], st["proceeding"], st["alerting"]):
            return self._unexpected(c, msg)
        self._stop(c, "T301", "T303", "T304", "T310")
        if not self._first_response(now, c, msg):
            return
        self._send(c, MT.CONNECT_ACKNOWLEDGE, [])
        self._active(c)

    def _on_connect_acknowledge(self, now: float, c: _Call, msg) -> None:
        if c.state == S.CONNECT_REQUEST and not c.outgoing:
            self._stop(c, "T313")
            self._active(c)
        elif c.state == S.ACTIVE:
            pass                              # the user's CONNECT ACKNOWLEDGE after our CONNECT
        else:
            self._unexpected(c, msg)

    # ---- callee side -----------------------------------------------------------

    def _on_information(self, now: float, c: _Call, msg) -> None:
        """INFORMATION: digits in overlap receiving (T302 restarts); elsewhere it carries
        nothing we act on and is accepted silently (it is allowed in most states)."""
        if not c.outgoing and c.state == self._overlap_incoming():
            called = msg.get(codec.CalledPartyNumber)
            digits = _digits(called)
            complete = msg.get(codec.SendingComplete) is not None
            c.called += digits
            if complete:
                self._stop(c, "T302")
            else:
                self._start(now, c, "T302")
            self._events.append(DigitsReceived(c.id, digits, complete))

    def _on_notify(self, now: float, c: _Call, msg) -> None:
        pass

    # ---- clearing (5.3) ------------------------------------------------------------

    def _clear_cause_of(self, msg):
        """Cause value and location of a clearing message (31 when it has none or a bad one,
        5.8.6.1), and the Cause IE our answer carries when the message had an error."""
        cause = msg.get(codec.Cause)
        if cause is None:
            return 31, 0, self._rx_answer
        return int(cause.value), int(cause.location), self._rx_answer

    def _on_disconnect(self, now: float, c: _Call, msg) -> None:
        value, location, error = self._clear_cause_of(msg)
        if c.state == S.RELEASE_REQUEST:
            return
        if c.clearing is None:
            c.clearing = (value, location, True)
        # 5.3.3 / 5.3.4 (and 5.3.5 clear collision in Disconnect request): RELEASE, T308
        self._release(now, c, error.value if error else None, error)

    def _on_release(self, now: float, c: _Call, msg) -> None:
        value, location, error = self._clear_cause_of(msg)
        if c.clearing is None:
            c.clearing = (value, location, True)
        if c.state == S.RELEASE_REQUEST:
            # 5.3.5 clear collision: both sent RELEASE; no RELEASE COMPLETE
            self._to_null(c, *c.clearing)
            return
        self._send(c, MT.RELEASE_COMPLETE, [error] if error else [])
        self._to_null(c, *c.clearing)

    def _on_release_complete(self, now: float, c: _Call, msg) -> None:
        value, location, _ = self._clear_cause_of(msg)
        if c.clearing is None:
            c.clearing = (value, location, True)
        self._to_null(c, *c.clearing)

    # ---- status (5.8.10, 5.8.11) -----------------------------------------------------

    def _on_status_enquiry(self, now: float, c: _Call, msg) -> None:
        self._send(c, MT.STATUS, [self._cause(30), codec.CallState(int(c.state))])

    def _on_status(self, now: float, c: _Call, msg) -> None:
        self._stop(c, "T322")
        st = msg.get(codec.CallState)
        if st is None:
            return
        theirs = int(st.value)
        if theirs == 0:                      # 5.8.11 c): release everything
            self._to_null(c, 41, self._peer_location(), True)
            return
        if c.state == S.RELEASE_REQUEST:     # 5.8.11 b)
            return
        if not self._compatible(c.state, theirs):
            self._count_error(101)
            self._events.append(ProtocolError(c.id, 101, f"peer reports state {theirs} while we are in "
                                                         f"{c.state.name} ({int(c.state)})"))
            self._stop_all(c)
            c.clearing = c.clearing or (101, self._location, False)
            self._release(now, c, 101)

    def _compatible(self, ours: CallState, theirs: int) -> bool:
        """Implementation choice left open by 5.8.11: with messages delivered in order, the
        peer's state may lag ours only by the messages we sent after it reported."""
        if theirs == ours or ours in _CLEARING:
            return True
        if theirs in _CLEARING or theirs not in set(int(s) for s in CallState):
            return False
        if (ours in _UP and theirs in _DOWN) or (ours in _DOWN and theirs in _UP):
            return False
        if ours == S.ACTIVE:
            if self.side is Side.NETWORK:
                return theirs in (1, 2, 3, 4, 8)
            return False
        if theirs == S.ACTIVE:
            return self.side is Side.USER and ours == S.CONNECT_REQUEST
        return True

    # ---- restart (5.5) -----------------------------------------------------------------

    def _on_restart(self, now: float, msg) -> None:
        """5.5.2: clear the calls on the indicated channels (or all), answer RESTART ACKNOWLEDGE."""
        self.counters["restarts_received"] += 1
        ri = msg.get(codec.RestartIndicator)
        ci = msg.get(codec.ChannelIdentification)
        if ri is None:                       # the codec answers this (96) before we get here
            return
        if ri.restart_class == 0:
            chans = tuple(getattr(ci, "channels", ()) or ()) if ci is not None else ()
            unknown = [ch for ch in chans if ch not in self.channels]
            if not chans or unknown:
                cause = 82 if unknown else 96
                self._count_error(cause)
                self._emit(codec.Message(MT.STATUS, 0, 1, (self._cause(cause), codec.CallState(0))))
                self._events.append(ProtocolError(None, cause, f"RESTART of channels {chans}"))
                return
        else:
            chans = ()
        self._clear_channels(chans, 41, True)
        for key in list(self._restarting):   # a crossing RESTART of the same channels settles ours
            if not chans or key == chans or (key and set(key) <= set(chans)):
                del self._restarting[key]
        ies = [] if ci is None else [ci]
        ies.append(ri)
        self._emit(codec.Message(MT.RESTART_ACKNOWLEDGE, 0, 1, tuple(ies)))
        self._events.append(ChannelsRestarted(chans, True))

    def _on_restart_acknowledge(self, now: float, msg) -> None:
        ci = msg.get(codec.ChannelIdentification)
        chans = tuple(getattr(ci, "channels", ()) or ()) if ci is not None else ()
        r = self._restarting.pop(chans, None)
        if r is None:
            self._drop(f"RESTART ACKNOWLEDGE for channels {chans} not restarting")
            return
        self._events.append(RestartAcknowledged(chans))

    def _clear_channels(self, chans: tuple[int, ...], cause: int, remote: bool) -> None:
        for c in list(self._calls.values()):
            if not chans or (c.channel is not None and c.channel in chans):
                self._to_null(c, cause, self._peer_location() if remote else self._location, remote)

    # ---- timers -------------------------------------------------------------------------

    def _earliest_due(self, now: float):
        best = None
        for c in self._calls.values():
            for name, d in c.timers.items():
                if d <= now and (best is None or d < best[0]):
                    best = (d, "call", c, name)
        for r in self._restarting.values():
            if r.deadline <= now and (best is None or r.deadline < best[0]):
                best = (r.deadline, "restart", r, "T316")
        return None if best is None else best[1:]

    def _t301_expired(self, now: float, c: _Call) -> None:
        self._disconnect(now, c, 19)          # no answer from user (user alerted)

    def _t302_expired(self, now: float, c: _Call) -> None:
        self._disconnect(now, c, 28)          # invalid number format (address incomplete)

    def _t303_expired(self, now: float, c: _Call) -> None:
        if c.expiries.get("T303", 0) < 2:     # 5.1.1 / 5.2.1: SETUP once more
            self._out.append(c.setup_bytes)
            self.counters["messages_out"] += 1
            self._start(now, c, "T303", reset_count=False)
            return
        self._send(c, MT.RELEASE_COMPLETE, [self._cause(102)])
        self._to_null(c, 18 if self.side is Side.NETWORK else 102, self._location, False)

    def _t304_expired(self, now: float, c: _Call) -> None:
        self._disconnect(now, c, 102)

    def _t305_expired(self, now: float, c: _Call) -> None:
        cause = c.clearing[0] if c.clearing else 102
        self._release(now, c, cause)

    def _t308_expired(self, now: float, c: _Call) -> None:
        if c.expiries.get("T308", 0) < 2:     # RELEASE once more
            self._out.append(c.release_bytes)
            self.counters["messages_out"] += 1
            self._start(now, c, "T308", reset_count=False)
            return
        # second expiry: the channel would go to maintenance; we free it (see module doc)
        self._to_null(c, *(c.clearing or (102, self._location, False)))

    def _t309_expired(self, now: float, c: _Call) -> None:
        self._to_null(c, 27, self._location, False)   # 5.8.9: destination out of order

    def _t310_expired(self, now: float, c: _Call) -> None:
        self._disconnect(now, c, 102)

    def _t313_expired(self, now: float, c: _Call) -> None:
        self._disconnect(now, c, 102)

    def _t322_expired(self, now: float, c: _Call) -> None:
        if c.expiries.get("T322", 0) < 2:
            self._send(c, MT.STATUS_ENQUIRY, [])
            self._start(now, c, "T322", reset_count=False)
            return
        # 5.8.10: after the retransmissions, clear to the Null state with cause 41
        self._send(c, MT.RELEASE_COMPLETE, [self._cause(41)])
        self._to_null(c, 41, self._location, False)

    def _t316_expired(self, now: float, r: _Restart) -> None:
        if r.attempts < 2:
            r.attempts += 1
            r.deadline = now + self.timers["T316"]
            self._out.append(r.data)
            self.counters["messages_out"] += 1
            return
        del self._restarting[r.channels]
        self._count_error(102)
        self._events.append(ProtocolError(None, 102, f"RESTART of {r.channels or 'the interface'} "
                                                     "not acknowledged"))

    # ---- helpers --------------------------------------------------------------------------

    def _start(self, now: float, c: _Call, name: str, reset_count: bool = True) -> None:
        c.timers[name] = now + self.timers[name]
        self._timed[c.id] = c
        if reset_count:
            c.expiries[name] = 0

    def _stop(self, c: _Call, *names: str) -> None:
        for n in names:
            c.timers.pop(n, None)

    def _stop_all(self, c: _Call) -> None:
        c.timers.clear()

    def _disconnect(self, now: float, c: _Call, cause: int) -> None:
        """5.3.2 / 5.3.3: DISCONNECT, T305, Disconnect request."""
        self._stop_all(c)
        if c.clearing is None:
            c.clearing = (cause, self._location, False)
        self._send(c, MT.DISCONNECT, [self._cause(cause)])
        c.state = S.DISCONNECT_REQUEST
        self._start(now, c, "T305")

    def _release(self, now: float, c: _Call, cause: int | None, cause_ie=None) -> None:
        """RELEASE, T308, Release request (5.3.3, 5.3.4)."""
        self._stop_all(c)
        if c.clearing is None:
            c.clearing = (cause or 16, self._location, False)
        if cause_ie is None and cause:
            cause_ie = self._cause(cause)
        c.release_bytes = self._send(c, MT.RELEASE, [cause_ie] if cause_ie is not None else [])
        c.state = S.RELEASE_REQUEST
        self._start(now, c, "T308")

    def _to_null(self, c: _Call, cause: int, location: int, remote: bool) -> None:
        """Release the call reference and the B-channel; tell the application once."""
        if self._calls.pop(c.id, None) is None:
            return
        self._by_ref.pop((c.outgoing, c.cr), None)
        channel = c.channel
        self._free(c)
        c.timers.clear()
        c.state = S.NULL
        self._events.append(CallCleared(c.id, int(cause), int(location), bool(remote), channel))

    def _active(self, c: _Call) -> None:
        self._stop_all(c)
        c.state = S.ACTIVE
        c.channel_confirmed = True
        if not c.answered:
            c.answered = True
            self._events.append(CallAnswered(c.id))

    def _take(self, c: _Call, channel: int) -> None:
        self._owner[channel] = c.id
        c.channel = channel

    def _free(self, c: _Call) -> None:
        if c.channel is not None and self._owner.get(c.channel) == c.id:
            del self._owner[c.channel]
        c.channel = None

    def _send_status_enquiry(self, now: float, c: _Call) -> None:
        if "T322" in c.timers:
            return
        self._send(c, MT.STATUS_ENQUIRY, [])
        self._start(now, c, "T322")

    def _unexpected(self, c: _Call, msg) -> None:
        """5.8.4: an unexpected message: STATUS with cause 98, no change of state. In
        Release request the call is already going; late establishment messages are dropped
        (answering them would only make the peer clear a call that is clearing)."""
        if c.state == S.RELEASE_REQUEST:
            self.counters["dropped"] += 1
            return
        self._status(c, 98, f"{msg.type.name} not expected in {c.state.name}")

    def _status(self, c: _Call, cause: int, text: str, cause_ie=None) -> None:
        if cause_ie is None:
            self._count_error(cause)
        self._send(c, MT.STATUS, [cause_ie or self._cause(cause), codec.CallState(int(c.state))])
        self._events.append(ProtocolError(c.id, cause, text))

    def _drop(self, text: str) -> None:
        self.counters["dropped"] += 1

    def _reply(self, cr: int, flag: int, mtype, ies: list, cause: int | None, text: str) -> None:
        self._emit(codec.Message(mtype, cr, flag, tuple(ies)))
        if cause is not None:
            self._count_error(cause)
            self._events.append(ProtocolError(None, cause, text))

    def _count_error(self, cause: int) -> None:
        pe = self.counters["protocol_errors"]
        pe[cause] = pe.get(cause, 0) + 1

    def _send(self, c: _Call, mtype, ies: list) -> bytes:
        # 4.3: flag 0 when we allocated the call reference, 1 when the peer did
        return self._emit(codec.Message(mtype, c.cr, 0 if c.outgoing else 1, tuple(ies)))

    def _emit(self, msg) -> bytes:
        data = codec.encode(msg)
        self._out.append(data)
        self.counters["messages_out"] += 1
        return data

    def _cause(self, value: int):
        return codec.Cause(value=value, location=self._location)

    def _channel_ie(self, channel: int | None, exclusive: bool):
        if channel is None:
            return codec.ChannelIdentification(interface_type="primary", exclusive=False, any_channel=True)
        return codec.ChannelIdentification(interface_type="primary", exclusive=exclusive, channels=(channel,))

    def _first_response_ies(self, c: _Call) -> list:
        if c.channel_confirmed or c.channel is None:
            return []
        c.channel_confirmed = True
        return [self._channel_ie(c.channel, True)]

    def _peer_location(self) -> int:
        return LOCATION_USER if self.side is Side.NETWORK else LOCATION_LOCAL_PUBLIC_NETWORK

    def _default_bearer(self):
        return codec.BearerCapability()

    def _initial_incoming(self) -> CallState:
        return S.CALL_PRESENT if self.side is Side.USER else S.CALL_INITIATED

    def _overlap_incoming(self) -> CallState:
        return S.OVERLAP_RECEIVING if self.side is Side.USER else S.OVERLAP_SENDING

    def _proceeding_incoming(self) -> CallState:
        return S.INCOMING_CALL_PROCEEDING if self.side is Side.USER else S.OUTGOING_CALL_PROCEEDING

    def _alerting_incoming(self) -> CallState:
        return S.CALL_RECEIVED if self.side is Side.USER else S.CALL_DELIVERED

    def _require_incoming(self, c: _Call, states, what: str) -> None:
        if c.outgoing or c.state not in states:
            raise Q931Error(f"call {c.id}: {what} not allowed in {c.state.name}"
                            f"{' (an outgoing call)' if c.outgoing else ''}")

    def _request_call(self, call: int) -> _Call | None:
        c = self._calls.get(call)
        if c is None:
            if not isinstance(call, int) or call <= 0 or call >= self._next_call:
                raise Q931Error(f"no such call {call!r}")
            self.counters["stale_requests"] += 1   # it has gone already (peer cleared)
            return None
        if c.state in _CLEARING:
            self.counters["stale_requests"] += 1
            return None
        return c

    def _new_call_id(self) -> int:
        n = self._next_call
        self._next_call += 1
        return n

    def _new_call_ref(self) -> int:
        for _ in range(_MAX_CALL_REF):
            cr = self._next_cr
            self._next_cr = cr % _MAX_CALL_REF + 1
            if (True, cr) not in self._by_ref:
                return cr
        raise Q931Error("no free call reference")
