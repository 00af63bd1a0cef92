"""The call record, the tables that find a call from its legs, and the CTI events a call
makes.

A :class:`Call` is one caller's call from offer to CDR; its legs are the trunk channel
(a PRI or R2 B-channel, or an FXO line) and the agents' phones (FXS ports) it rings or is
switched to. :class:`CallTable` holds the calls in progress and finds the call a line
event is about, by its leg: the Q.931 call on a span, the FXO line's call, the FXS call
ringing or connecting an agent, a click-to-dial's agent leg, a supervisor's or consulted
agent's leg, or the trunk channel a DTMF digit or a played prompt's end came on.
:class:`Events` gathers the CTI events of one tick, named as ECMA-269 CSTA names them
(offered, queued, delivered, established, transferred, diverted, failed, cleared).

Nothing here touches the board: the parts of the centre do (cti/centre/coordinator.py).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from cti.centre.media import Recording
from drivers.board import Audio, DigitDetected, ToneDone
from drivers.sig import analog
from drivers.sig import pri as pri_mod

__all__ = ["CAUSE_FAILED", "Call", "CallFailed", "CallTable", "CtiEvent", "Events"]

#: Q.850 cause 41, temporary failure: a call the centre clears because handling it failed
CAUSE_FAILED = 41
MAX_ERROR_TEXT = 200            # characters of an exception's message in a server.error event


@dataclass(frozen=True)
class CtiEvent:
    """A CTI event for the bus: ``topic`` (``call.delivered``, ``agent.1001.state``),
    ``type`` (``call.delivered``, ``agent.state``) and its fields."""

    topic: str
    type: str
    fields: dict


@dataclass
class Call:
    id: str
    direction: str                     # "in" (from a trunk), "out", "internal"
    trunk: str                         # "1/5" or "fxo/9"
    ani: str
    dnis: str
    start: float
    data: dict = field(default_factory=dict)
    state: str = "offered"             # offered, ivr, queued, delivered, established, held, cleared
    span: int | None = None            # PRI: span and Q.931 call of the trunk leg
    pri_call: int | None = None
    fxo_port: int | None = None
    fxo_call: int | None = None
    timeslot: int | None = None
    answer: float | None = None
    end: float | None = None
    queue: str | None = None
    queued_at: float | None = None
    wait: float | None = None
    agent: str | None = None
    agent_port: int | None = None
    agent_call: int | None = None      # the FXS machine's call number on the agent's port
    ringing: dict = field(default_factory=dict)   # agent -> (port, fxs call) being rung
    ivr: Any = None
    ivr_path: list = field(default_factory=list)
    ivr_port: bool = False
    conf: Any = None
    recording: Recording | None = None
    voicemail: Recording | None = None
    voicemail_box: str | None = None
    outcome: str | None = None
    cause: int | None = None
    transfers: int = 0
    moh: bool = False
    playing: bool = False
    direct: bool = False               # ringing an agent outside the ACD (a transfer to them)
    play_id: Any = None
    consult: Any = None                # a consultation in progress (consultative transfer)
    dissuaded: bool = False            # the peak-dissuasion flow has run for this call
    span_asked: bool = False           # a call out on the span the request named
    record_requested: bool = False
    direct_until: float | None = None  # a direct ring (transfer, pickup) gives up then
    survey: int | None = None          # the caller's after-call rating, 1..5
    time_limit: float | None = None    # seconds it may last from the answer (timelimits.py)
    reason: str | None = None          # why the centre cleared it ("time_limit"), for the CDR
    campaign_limit: float | None = None  # its campaign's max_talk (set by campaigns.py)
    survey_until: float | None = None  # the survey gives up waiting for a key then
    cdr_written: bool = False          # its one CDR is in the store (a failure after: no other)
    seq: int = 0                       # the order calls came in (ids carry it, as text)


class CallFailed(RuntimeError):
    """A request failed half-way through a call operation; the call was cleared
    (cause 41, CDR outcome ``failed``) rather than left half-changed."""


def short(exc: BaseException) -> str:
    """An exception's message, cut to :data:`MAX_ERROR_TEXT` characters."""
    text = str(exc)
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "..."


class Events:
    """The CTI events of one tick (or one request), in the order they happened."""

    def __init__(self):
        self.out: list[CtiEvent] = []

    def emit(self, topic: str, type_: str, **fields) -> None:
        self.out.append(CtiEvent(topic, type_, fields))

    def call_event(self, call: Call, event: str, **extra) -> None:
        """``call.<event>`` with what every call event carries: the call, its numbers, its
        trunk channel and state, and its queue, agent and attached data when it has them."""
        f = {"call_id": call.id, "ani": call.ani, "dnis": call.dnis, "channel": call.trunk,
             "state": call.state}
        if call.queue:
            f["queue"] = call.queue
        if call.agent:
            f["agent"] = call.agent
        if call.data:
            f["data"] = dict(call.data)
        f.update(extra)
        self.emit(f"call.{event}", f"call.{event}", **f)

    def take(self) -> list[CtiEvent]:
        """The events so far, and a fresh start."""
        out, self.out = self.out, []
        return out


class CallTable:
    """The calls in progress and the legs that name them.

    ``by_pri``: (span, Q.931 call) of the trunk leg; ``by_fxo``: (FXO port, its call);
    ``by_agent_leg``: (FXS port, FXS call) ringing or connecting an agent; ``outbound``:
    the agent's leg of a click-to-dial until the call goes out; ``supervisors``: a
    supervisor's (or consulted agent's) leg -> (call, agent, mode); ``trunk_calls``: the
    calls on a trunk channel, (span, timeslot) or (0, FXO port), in the order they came.
    """

    def __init__(self, call_ids: str = "c"):
        self.calls: dict[str, Call] = {}
        # the calls by the trunk channel they hold: (span, timeslot) or (0, FXO port)
        self.trunk_calls: dict[tuple, list[Call]] = {}
        # call ids: ``call_ids`` then a count; the server gives "<server>-<boot>-" so that
        # ids never repeat across restarts of a home, nor across servers (cti/server/recovery.py)
        self.call_ids = call_ids
        self._ids = itertools.count(1)
        self.by_pri: dict[tuple[int, int], str] = {}
        self.by_fxo: dict[tuple[int, int], str] = {}
        self.by_agent_leg: dict[tuple[int, int], str] = {}   # (port, fxs call) -> call id
        self.supervisors: dict[tuple[int, int], tuple[str, str, str]] = {}
        self.outbound: dict[tuple[int, int], str] = {}   # agent leg ringing for a click-to-dial
        self.last_new: Call | None = None    # the call an offer made (if it fails at once)

    def next_id(self) -> tuple[str, int]:
        """The next call's id and number."""
        n = next(self._ids)
        return f"{self.call_ids}{n}", n

    def add(self, call: Call) -> None:
        self.calls[call.id] = call
        self.index_trunk(call)

    def call(self, call_id: str) -> Call:
        """The call of a request; LookupError when there is none."""
        if call_id not in self.calls:
            raise LookupError(f"no call {call_id!r}")
        return self.calls[call_id]

    def remove(self, call: Call) -> None:
        """The call is over: out of the calls and the trunk index."""
        del self.calls[call.id]
        self.unindex_trunk(call)

    # ---- the trunk channel's calls -----------------------------------------------------

    def on_channel(self, ev) -> tuple:
        """The calls on the event's trunk channel, in the order they came (a DTMF or
        tone-done event: a B-channel, or span 0 and an FXO port)."""
        return tuple(self.trunk_calls.get((ev.span, ev.timeslot), ()))

    @staticmethod
    def trunk_keys(call: Call) -> list:
        keys = []
        if call.span is not None and call.timeslot is not None:
            keys.append((call.span, call.timeslot))
        if call.fxo_port is not None:
            keys.append((0, call.fxo_port))
        return keys

    def index_trunk(self, call: Call) -> None:
        """Note the call under the trunk channel it holds (a call's span and timeslot or
        FXO port are set when it is made, or its timeslot when the network gives one)."""
        for key in self.trunk_keys(call):
            calls = self.trunk_calls.setdefault(key, [])
            if call not in calls:
                calls.append(call)
                # in the order the calls came, as their ids count up
                calls.sort(key=lambda c: c.seq)

    def unindex_trunk(self, call: Call) -> None:
        for key in self.trunk_keys(call):
            calls = self.trunk_calls.get(key)
            if calls is not None and call in calls:
                calls.remove(call)
                if not calls:
                    del self.trunk_calls[key]

    def records_on(self, span: int, timeslot: int) -> bool:
        """A call on this trunk channel (span 0: an FXO port) is being recorded (a call
        recording or a voicemail message): its tap must stay on, both ways."""
        return any(c.recording is not None or c.voicemail is not None
                   for c in self.trunk_calls.get((span, timeslot), ()))

    # ---- the call a line event is about ------------------------------------------------

    def call_of(self, ev) -> Call | None:
        """The call a board event is about, if the centre holds one."""
        if isinstance(ev, (pri_mod.CallOffered, pri_mod.CallProceeding, pri_mod.CallAlerting,
                           pri_mod.CallAnswered, pri_mod.CallCleared)):
            return self.calls.get(self.by_pri.get((ev.span, ev.call)))
        if isinstance(ev, analog.AnalogCallEvent):
            leg = (ev.port, getattr(ev.event, "call", None))
            for table in (self.by_fxo, self.outbound, self.by_agent_leg):
                if leg in table:
                    return self.calls.get(table[leg])
            if leg in self.supervisors:
                return self.calls.get(self.supervisors[leg][0])
            return None
        if isinstance(ev, (DigitDetected, ToneDone, Audio)):
            calls = self.on_channel(ev)
            return calls[0] if calls else None
        return None

    def drop_legs(self, cid: str) -> None:
        """Every leg that names the call, out of the tables (a failed call's last)."""
        for table in (self.by_pri, self.by_fxo, self.by_agent_leg, self.outbound):
            for leg in [k for k, v in table.items() if v == cid]:
                del table[leg]
        for leg in [k for k, v in self.supervisors.items() if v[0] == cid]:
            del self.supervisors[leg]
