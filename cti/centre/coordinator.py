"""The call centre: calls over channel legs, tying the board to IVR, ACD, agents,
media and the store.

A call comes in on a trunk (an ISDN PRI B-channel, or an FXO line), meets the
IVR on one of a limited number of IVR ports, waits in an ACD queue with music
on hold, rings an agent's phone on an FXS port (with caller ID), is answered
and switched through (a conference of the trunk channel and the agent's port
on the board), may be transferred with its attached data, is recorded, and
clears. Every step becomes a CTI event named as ECMA-269 CSTA names it
(offered, queued, delivered, established, transferred, diverted, failed,
cleared) and the CDR and queue log land in SQLite before the event that
reports them goes out.

Sans-I/O as the rest: :meth:`Centre.handle` takes the board's events of one
tick and the line time, and returns the CTI events to publish; requests
(agents logging in, transfers) are method calls. The only clock is the board's.
"""
from __future__ import annotations

import functools
import heapq
import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from cti.centre import acd as acd_mod
from cti.centre import ivr as ivr_mod
from cti.centre.dialer import outcome_of
from cti.centre.media import Recording
from drivers.board import Audio, DigitDetected, ToneDone
from drivers.sig import analog
from drivers.sig import pri as pri_mod

__all__ = ["Centre", "CentreConfig", "CtiEvent", "Call", "CallFailed"]

log = logging.getLogger("cti.centre")

#: Q.850 cause 41, temporary failure: a call the centre clears because handling it failed
CAUSE_FAILED = 41
MAX_ERROR_TEXT = 200            # characters of an exception's message in a server.error event

DIRECT_RING_TIMEOUT = 20.0     # default s a transferred call rings an agent before it goes back


@dataclass(frozen=True)
class CtiEvent:
    """A CTI event for the bus: ``topic`` (``call.delivered``, ``agent.1001.state``),
    ``type`` (``call.delivered``, ``agent.state``) and its fields."""

    topic: str
    type: str
    fields: dict


@dataclass
class CentreConfig:
    agents: list                       # acd.AgentConfig
    queues: list                       # acd.QueueConfig
    flows: dict = field(default_factory=dict)          # IVR flows by name (ivr.Flow)
    routes: dict = field(default_factory=dict)         # DNIS -> "ivr:NAME" | "queue:NAME"
    default_route: str = "ivr:main"
    area_routes: list = field(default_factory=list)    # (ANI prefix, queue)
    ivr_ports: int = 8
    record: bool = True
    recordings_dir: str = "var/recordings"
    voicemail_dir: str = "var/voicemail"
    voicemail_seconds: float = 60.0
    moh: str | None = "moh"
    prompts_dir: str = "var/prompts"
    outbound_ani: str = ""             # the number outbound calls present (ANI)
    record_queues: tuple | None = None # record only calls of these queues (None: every call)
    survey_queues: tuple = ()          # after-call survey on these queues' calls ("*": all)
    survey_timeout: float = 10.0       # seconds the caller has to key a rating
    transfer_ring_timeout: float = DIRECT_RING_TIMEOUT  # s a transfer or pickup rings an agent
    callbacks: Any = None              # cti.centre.campaigns.CallbackConfig: callbacks after the peak


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
    survey_until: float | None = None  # the survey gives up waiting for a key then
    cdr_written: bool = False          # its one CDR is in the store (a failure after: no other)
    seq: int = 0                       # the order calls came in (ids carry it, as text)


class CallFailed(RuntimeError):
    """A request failed half-way through a call operation; the call was cleared
    (cause 41, CDR outcome ``failed``) rather than left half-changed."""


def _request_guard(creates: bool = False):
    """Around a request on a call (its id the first argument after ``now``): a refusal
    (ValueError, LookupError: checked before anything changes) goes back as it is; any
    other exception clears the call it was working on (:meth:`Centre._fail_call`) and
    raises :class:`CallFailed`. ``creates``: the request makes a call (click-to-dial);
    one it made before failing is cleared instead."""
    def wrap(fn):
        @functools.wraps(fn)
        def guarded(self, now, *args, **kw):
            before = set(self.calls) if creates else None
            try:
                return fn(self, now, *args, **kw)
            except (ValueError, LookupError):
                raise
            except Exception as exc:
                if creates:
                    calls = [c for cid, c in list(self.calls.items()) if cid not in before]
                else:
                    calls = [self.calls[args[0]]] if args and args[0] in self.calls else []
                where = f"request.{fn.__name__}"
                if not calls:
                    self._fail_call(now, None, where, exc)
                for call in calls:
                    self._fail_call(now, call, where, exc)
                ids = ", ".join(c.id for c in calls)
                raise CallFailed(f"{fn.__name__} failed ({type(exc).__name__}: "
                                 f"{_short(exc)})" + (f"; call {ids} was cleared (cause "
                                                      f"{CAUSE_FAILED})" if ids else "")) \
                    from exc
        return guarded
    return wrap


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "..."


class Centre:
    """The call-centre core on one board.

    One failing call never ends the others (ARCHITECTURE.md rule 7): an exception while
    handling one call's event (a board event, an ACD event, an IVR timer, a deadline) or
    a request on it is logged with its traceback (logger ``cti.centre``), counted
    (``counters["errors"]``), published as a ``server.error`` event, and the call is
    cleared with Q.850 cause 41 and a CDR of outcome ``failed`` (see :meth:`_fail_call`).
    """

    #: A test hook: None in production; a callable ``(where, call)`` the centre calls at
    #: named points of a call's handling, which may raise to prove the above.
    fault_injector = None

    def __init__(self, board, config: CentreConfig, *, pri: dict | None = None,
                 r2: dict | None = None,
                 analog_ports: dict | None = None, store=None, prompts=None, seed: int = 0,
                 epoch: float = 0.0, call_ids: str = "c"):
        self.board = board
        # line time is the only clock; the store gets epoch + line time (the wall clock
        # at line time zero, given once by the shell) so its rows are dated
        self.epoch = epoch
        self.config = config
        self.pri = dict(pri or {})
        # every digital trunk span that offers calls: ISDN PRI, and China No.1 R2 on CAS
        # spans (drivers.sig.r2span.R2Span has the same call commands and events)
        self.trunks = dict(self.pri)
        self.trunks.update(r2 or {})
        self.analog = dict(analog_ports or {})
        self.store = store
        self.prompts = prompts
        self.acd = acd_mod.Acd(list(config.queues), list(config.agents), seed=seed)
        self.ivr_ports = ivr_mod.IvrPorts(config.ivr_ports)
        self.agents = {a.id: a for a in config.agents}
        self.calls: dict[str, Call] = {}
        # the calls by the trunk channel they hold: (span, timeslot) or (0, FXO port)
        self._trunk_calls: dict[tuple, list[Call]] = {}
        # call ids: ``call_ids`` then a count; the server gives "<server>-<boot>-" so that
        # ids never repeat across restarts of a home, nor across servers (cti/server/recovery.py)
        self.call_ids = call_ids
        self._ids = itertools.count(1)
        self._by_pri: dict[tuple[int, int], str] = {}
        self._by_fxo: dict[tuple[int, int], str] = {}
        self._by_agent_leg: dict[tuple[int, int], str] = {}   # (port, fxs call) -> call id
        self._out: list[CtiEvent] = []
        self._supervisors: dict[tuple[int, int], tuple[str, str, str]] = {}  # leg -> (call, agent, mode)
        self._outbound: dict[tuple[int, int], str] = {}   # agent leg ringing for a click-to-dial
        self.forward: dict[str, str] = {}     # agent -> agent or queue:NAME its calls go to
        self.now = 0.0
        # "offered" counts calls in, "ring_no_answer" rings that timed out; every other
        # counter is a CDR outcome, counted once when the call ends, so that
        # offered == sum(outcomes) + calls in progress
        self.counters = {"offered": 0, "answered": 0, "no_ivr_port": 0, "abandoned_ivr": 0,
                         "abandoned_queue": 0, "abandoned_ring": 0, "ring_no_answer": 0,
                         "voicemail": 0, "callback": 0, "timeout": 0, "failed": 0,
                         "transfers": 0, "transfers_direct": 0, "dissuaded": 0,
                         "errors": 0}
        self._failing: set[str] = set()       # calls being cleared after a failure
        self._last_new: Call | None = None    # the call an offer made (if it fails at once)
        self._queue_cfg = {q.name: q for q in config.queues}
        # per-tick work only where it is due: IVR timers by due time, and the few calls
        # with a deadline of their own (a direct ring, a voicemail, a survey)
        self._ivr_wake: list[tuple[float, int, str]] = []
        self._wake_seq = itertools.count()
        self._deadlines: set[str] = set()
        self._fxo_trunks = [ap for _, ap in sorted(self.analog.items()) if ap.port.kind == "fxo"]
        # the CDR's wrap-up: when each agent's wrap-up began, and the agent's last call
        self._wrapup_since: dict[str, float] = {}
        self._last_call: dict[str, str] = {}
        for port in self.analog.values():
            if port.port.kind == "fxs":
                port.port.detect("dtmf")

    # ---- helpers -----------------------------------------------------------------

    def _emit(self, topic: str, type_: str, **fields) -> None:
        self._out.append(CtiEvent(topic, type_, fields))

    def _call_event(self, call: Call, event: str, **extra) -> None:
        f = {"call_id": call.id, "ani": call.ani, "dnis": call.dnis, "channel": call.trunk,
             "state": call.state}
        if call.queue:
            f["queue"] = call.queue
        if call.agent:
            f["agent"] = call.agent
        if call.data:
            f["data"] = dict(call.data)
        f.update(extra)
        self._emit(f"call.{event}", f"call.{event}", **f)

    def _trunk_channel(self, call: Call):
        if call.span is not None:
            return self.board.spans[call.span].channels[call.timeslot]
        return self.board.ports[call.fxo_port]

    def _law(self, call: Call) -> str:
        return self.board.spans[call.span].law if call.span is not None else "alaw"

    def _play(self, call: Call, names) -> None:
        if self.prompts is None:
            return
        audio = b"".join(self._prompt(n) for n in names)
        if not audio and names:
            # every prompt missing: a moment of silence, so that the flow waiting for the
            # end of the prompt goes on (the configuration check at load makes this rare)
            audio = b"\xd5" * 1600     # 200 ms of A-law silence (G.711 table 1a)
        if audio:
            self._trunk_channel(call).play(audio)
            call.playing = True

    def _prompt(self, name: str) -> bytes:
        """A prompt's audio, or nothing when its file went missing or cannot be read since
        the server started: logged and counted, never the end of the call."""
        import logging

        from cti.centre.prompts import PromptError
        try:
            return self.prompts.load(name)
        except (PromptError, OSError) as e:
            self.counters["prompts_missing"] = self.counters.get("prompts_missing", 0) + 1
            logging.getLogger("cti.centre").warning("prompt skipped: %s", e)
            return b""

    def _stop_play(self, call: Call) -> None:
        if call.playing or call.moh:
            self._trunk_channel(call).tone(0, ms=0)     # stops a played buffer and any tone
        call.playing = call.moh = False

    def _start_moh(self, call: Call) -> None:
        if self.config.moh and self.prompts is not None:
            call.moh = True
            self._play(call, [self.config.moh])

    def _new_call(self, now, **kw) -> Call:
        n = next(self._ids)
        call = Call(id=f"{self.call_ids}{n}", start=now, seq=n, **kw)
        self.calls[call.id] = call
        self._index_trunk(call)
        self.counters["offered"] += 1
        self._last_new = call
        return call

    # ---- the tick ------------------------------------------------------------------

    def handle(self, now: float, events: list) -> list[CtiEvent]:
        """The board's events of one tick in, CTI events out."""
        self.now = now
        for ev in events:
            # the call the event is about, found before handling it (handling may unindex
            # it), so that a failure clears that call and the next event goes on
            call = None if isinstance(ev, Audio) else self._call_of(ev)
            last_new = self._last_new
            try:
                if isinstance(ev, pri_mod.CallOffered):
                    self._pri_offered(now, ev)
                elif isinstance(ev, (pri_mod.CallProceeding, pri_mod.CallAlerting,
                                     pri_mod.CallAnswered)):
                    cid = self._by_pri.get((ev.span, ev.call))
                    if cid in self.calls and self.calls[cid].direction == "out":
                        self._outbound_progress(now, self.calls[cid], ev)
                elif isinstance(ev, pri_mod.CallCleared):
                    cid = self._by_pri.pop((ev.span, ev.call), None)
                    if cid in self.calls:
                        self._trunk_cleared(now, self.calls[cid], ev.cause)
                elif isinstance(ev, analog.AnalogCallEvent):
                    self._analog_event(now, ev.port, ev.event)
                elif isinstance(ev, DigitDetected):
                    self._digit(now, ev)
                elif isinstance(ev, ToneDone):
                    self._tone_done(now, ev)
                elif isinstance(ev, Audio):
                    self._audio(ev)
            except Exception as exc:
                if call is None and self._last_new is not last_new:
                    call = self._last_new            # the call this offer made
                self._fail_call(now, call or self._call_of(ev), type(ev).__name__, exc)
        self._run_acd(now)
        wake = self._ivr_wake
        while wake and wake[0][0] <= now:
            cid = heapq.heappop(wake)[2]
            call = self.calls.get(cid)
            if call is None or call.ivr is None:
                continue
            try:
                self._inject("ivr_timer", call)
                due = call.ivr.get_timer()
                if due is not None and due <= now:
                    call.ivr.handle_timer(now)
                self._run_ivr(now, call)
            except Exception as exc:
                self._fail_call(now, call, "ivr_timer", exc)
        for cid in sorted(self._deadlines):
            call = self.calls.get(cid)
            if call is None or not (call.direct or call.voicemail is not None
                                    or call.state == "survey"):
                self._deadlines.discard(cid)
                continue
            try:
                self._deadline(now, call)
            except Exception as exc:
                self._fail_call(now, call, "deadline", exc)
        out, self._out = self._out, []
        return out

    def _deadline(self, now, call: Call) -> None:
        """A call's own deadline: a direct ring unanswered, a voicemail full, a survey
        with no key."""
        if call.direct and call.state == "delivered" and call.direct_until is not None \
                and now >= call.direct_until:
            self._inject("deadline", call)
            self._direct_no_answer(now, call)
        if call.voicemail is not None and call.voicemail.full:
            self._inject("deadline", call)
            self._hangup_trunk(now, call, 16)
            self._finish(now, call, "voicemail", 16)
        if call.state == "survey" and now >= call.survey_until:
            self._inject("deadline", call)
            self._end_survey(now, call)          # no key in time: NULL

    # ---- one failing call ------------------------------------------------------------

    def _inject(self, where: str, call: Call | None) -> None:
        """A named point of a call's handling, where a test's injector may raise."""
        if self.fault_injector is not None and call is not None:
            self.fault_injector(where, call)

    def _call_of(self, ev) -> Call | None:
        """The call a board event is about, if the centre holds one."""
        if isinstance(ev, (pri_mod.CallOffered, pri_mod.CallProceeding, pri_mod.CallAlerting,
                           pri_mod.CallAnswered, pri_mod.CallCleared)):
            return self.calls.get(self._by_pri.get((ev.span, ev.call)))
        if isinstance(ev, analog.AnalogCallEvent):
            leg = (ev.port, getattr(ev.event, "call", None))
            for table in (self._by_fxo, self._outbound, self._by_agent_leg):
                if leg in table:
                    return self.calls.get(table[leg])
            if leg in self._supervisors:
                return self.calls.get(self._supervisors[leg][0])
            return None
        if isinstance(ev, (DigitDetected, ToneDone, Audio)):
            calls = self._on_channel(ev)
            return calls[0] if calls else None
        return None

    def _fail_call(self, now, call: Call | None, where: str, exc: BaseException) -> None:
        """Handling ``call`` raised ``exc`` at ``where``: log it with its traceback, count
        it, tell the bus (``server.error``: the call, the place, the exception's type and
        message, never the traceback), and clear the call: its trunk hung up with Q.850
        cause 41 (temporary failure), its agent's leg released and the agent given back
        to the ACD, out of the queues and IVR ports, and its one CDR written with outcome
        ``failed`` (a failure after the CDR was written leaves that CDR as it is). Each
        step of the clearing may fail too; whatever is left is dropped from the tables.
        The other calls go on."""
        cid = call.id if call is not None else None
        log.error("call %s: %s in %s: %s", cid or "-", type(exc).__name__, where, _short(exc),
                  exc_info=(type(exc), exc, exc.__traceback__))
        self.counters["errors"] += 1
        self._emit("server.error", "server.error", call_id=cid, where=where,
                   error=type(exc).__name__, message=_short(exc))
        if call is None or cid in self._failing:
            return          # nothing to clear, or its clearing is already under way
        self._failing.add(cid)
        try:
            if not call.cdr_written:
                for step in (self._fail_trunk, self._fail_agents, self._fail_finish):
                    try:
                        step(now, call)
                    except Exception:
                        log.exception("call %s: clearing after the failure: %s failed", cid,
                                      step.__name__)
        finally:
            self._drop(now, call)
            self._failing.discard(cid)

    def _fail_trunk(self, now, call: Call) -> None:
        """The trunk leg: cause 41 to the network (RELEASE COMPLETE before answer)."""
        for leg, oid in list(self._outbound.items()):
            if oid == call.id:
                del self._outbound[leg]
        self._hangup_trunk(now, call, CAUSE_FAILED)

    def _fail_agents(self, now, call: Call) -> None:
        """The agents: the ACD lets go of the call (an agent on it goes to wrap-up, one
        ringing is freed), a direct or consulted agent is no longer busy elsewhere, the
        agent's phone leg is released."""
        if self.acd.call_agent(call.id) is not None:
            self.acd.call_ended(now, call.id, by="agent")
        elif self.acd.call_queue(call.id) is not None:
            self.acd.remove(now, call.id)
        cons = call.consult
        if cons:
            self._supervisors.pop((cons["port"], cons["call"]), None)
            self.analog[cons["port"]].send(now, analog.Release("call failed"))
            self.acd.agent_busy_elsewhere(now, cons["agent"], False)
            if cons.get("conf") is not None:
                cons["conf"].destroy()
            call.consult = None
        self._stop_ringing(now, call)
        self._release_agent(now, call)
        self._run_acd(now)

    def _fail_finish(self, now, call: Call) -> None:
        if call.state == "cleared":
            call.state = "failed"            # _finish stopped before its CDR: once more
        self._call_event(call, "failed", cause=CAUSE_FAILED, reason="error")
        self._finish(now, call, "failed", CAUSE_FAILED)

    def _drop(self, now, call: Call) -> None:
        """The last of a failed call, whatever its clearing managed: out of every table,
        its agents freed, and its CDR (a minimal one, if none was written)."""
        cid = call.id
        for table in (self._by_pri, self._by_fxo, self._by_agent_leg, self._outbound):
            for leg in [k for k, v in table.items() if v == cid]:
                del table[leg]
        for leg in [k for k, v in self._supervisors.items() if v[0] == cid]:
            del self._supervisors[leg]
        self._deadlines.discard(cid)
        self.ivr_ports.release(cid)
        # agents this call still holds busy outside the ACD (its clearing did not free them)
        held = [(call.consult or {}).get("agent"), call.agent if call.direct else None]
        call.consult, call.direct = None, False
        for agent in held:
            try:
                if agent in self.agents:
                    self.acd.agent_busy_elsewhere(now, agent, False)
            except Exception:
                log.exception("call %s: agent %s not freed", cid, agent)
        if not call.cdr_written:
            call.state, call.outcome, call.cause, call.end = "cleared", "failed", \
                CAUSE_FAILED, now
            try:
                if self.store is not None:
                    e = self.epoch
                    self.store.add_cdr({
                        "call_id": cid, "direction": call.direction, "trunk": call.trunk,
                        "ani": call.ani, "dnis": call.dnis, "start": e + call.start,
                        "answer": None if call.answer is None else e + call.answer,
                        "end": e + now, "duration": now - call.start, "outcome": "failed",
                        "cause": CAUSE_FAILED, "queue": call.queue, "agent": call.agent})
                call.cdr_written = True
                self.counters["failed"] += 1
            except Exception:
                log.exception("call %s: its CDR could not be written", cid)
        if cid in self.calls:
            # the CDR is written but the cleared event never went: it goes now
            try:
                self._call_event(call, "cleared", cause=call.cause, outcome=call.outcome)
            except Exception:
                log.exception("call %s: no cleared event", cid)
            del self.calls[cid]
        self._unindex_trunk(call)

    # ---- trunks ----------------------------------------------------------------------

    def _pri_offered(self, now, ev) -> None:
        if self.trunks.get(ev.span) is None:
            return
        call = self._new_call(now, direction="in", trunk=f"{ev.span}/{ev.timeslot}",
                              ani=ev.ani, dnis=ev.dnis, span=ev.span, pri_call=ev.call,
                              timeslot=ev.timeslot)
        self._by_pri[(ev.span, ev.call)] = call.id
        self._inject("offered", call)
        self._screen_pop_data(call)
        self._call_event(call, "offered")
        self._route_new(now, call)

    def _screen_pop_data(self, call: Call) -> None:
        """The customer record found by ANI travels with the call (the screen pop)."""
        if self.store is not None and call.ani:
            customer = self.store.customer_by_phone(call.ani)
            if customer:
                call.data["customer"] = customer

    def _answer_trunk(self, now, call: Call) -> None:
        if call.answer is not None:
            return
        call.answer = now
        if call.span is not None:
            self.trunks[call.span].answer(now, call.pri_call)
        elif call.fxo_port is not None:
            self.analog[call.fxo_port].send(now, analog.Answer())
        ch = self._trunk_channel(call)
        self._detect_in_call(call, ch)
        if self.config.record:
            ch.tap(True, "both")
            call.recording = Recording(os.path.join(self.config.recordings_dir, f"{call.id}.wav"),
                                       self._law(call))

    def _detect_in_call(self, call: Call, ch) -> None:
        """The trunk's receivers while the centre holds the call: DTMF for the IVR and the
        survey; on an FXO line also call progress, as an exchange may signal the
        caller's hang-up by busy tone alone (the FXO machine's 'tone' disconnect)."""
        if call.fxo_port is not None:
            ch.detect("dtmf", "cpt")
        else:
            ch.detect("dtmf")

    def _hangup_trunk(self, now, call: Call, cause: int = 16) -> None:
        if call.span is not None and (call.span, call.pri_call) in self._by_pri:
            del self._by_pri[(call.span, call.pri_call)]
            if call.answer is None:
                self.trunks[call.span].reject(now, call.pri_call, cause)
            else:
                self.trunks[call.span].hangup(now, call.pri_call, cause)
        elif call.fxo_port is not None and (call.fxo_port, call.fxo_call) in self._by_fxo:
            del self._by_fxo[(call.fxo_port, call.fxo_call)]
            self.analog[call.fxo_port].send(now, analog.Release("hangup"))

    def _route_new(self, now, call: Call) -> None:
        self._inject("route", call)
        route = self.config.routes.get(call.dnis, self.config.default_route)
        kind, _, target = route.partition(":")
        if kind == "area":
            # routing by the caller's area: the longest ANI prefix picks the queue
            kind, target = "queue", self._area_queue(call)
        if kind == "queue":
            self._answer_trunk(now, call)
            self._enqueue(now, call, target)
            return
        if not self.ivr_ports.acquire(call.id):
            # the second loss point: no IVR port answers; the caller hears busy
            call.state = "failed"
            self._hangup_trunk(now, call, 17)
            self._call_event(call, "failed", cause=17, reason="no_ivr_port")
            self._finish(now, call, "no_ivr_port", 17)
            return
        call.ivr_port = True
        self._answer_trunk(now, call)
        flow = self.config.flows.get(target) or next(iter(self.config.flows.values()))
        call.ivr = ivr_mod.IvrSession(flow, call.id, call.ani, call.dnis, call.data)
        call.state = "ivr"
        call.ivr.start(now)
        self._run_ivr(now, call)

    def _trunk_cleared(self, now, call: Call, cause: int) -> None:
        """The caller (or the network) hung up."""
        if call.state == "cleared":
            return
        self._inject("trunk_cleared", call)
        if call.direction == "out":
            for leg, cid in list(self._outbound.items()):
                if cid == call.id:
                    del self._outbound[leg]
            if call.direct and call.agent:
                self.acd.agent_busy_elsewhere(now, call.agent, False)
                call.direct = False
            if call.agent_port is not None:
                self.board.ports[call.agent_port].leave_conference()
                self.analog[call.agent_port].send(now, analog.Release("far end cleared"))
            # the dialer's reading of the cause: busy, no answer, congestion, vacant...
            self._finish(now, call, outcome_of(cause, call.answer is not None), cause)
            return
        if call.state == "survey":
            # the caller hung up without rating the call: the survey stores NULL
            self._finish(now, call, "answered", cause)
            return
        if call.ivr is not None:
            call.ivr.hangup(now)
            self._run_ivr(now, call)
            if call.state != "cleared" and call.voicemail is None:
                self._finish(now, call, "abandoned_ivr", cause)
            elif call.voicemail is not None:
                self._finish(now, call, "voicemail", cause)
            return
        if call.voicemail is not None:
            self._finish(now, call, "voicemail", cause)
            return
        if call.direct and call.state in ("queued", "delivered"):
            # a transfer to an agent was ringing: the call is outside the ACD (its ACD
            # part ended with TRANSFER); an agent had answered it before
            self._stop_ringing(now, call)
            call.direct = False
            self._finish(now, call, "answered", cause)
            return
        if call.state in ("queued", "delivered"):
            # the fourth loss point: the caller gave up while an agent's phone rang
            # (decided before the ringing stops, which puts the call back to "queued")
            ringing = call.state == "delivered"
            if ringing:
                self._stop_ringing(now, call)
            self.acd.abandon(now, call.id)
            self._run_acd(now)
            self._finish(now, call, "abandoned_ring" if ringing else "abandoned_queue", cause)
            return
        if call.state in ("established", "held"):
            if not call.direct:
                self.acd.call_ended(now, call.id, by="caller")
            self._release_agent(now, call)
            self._finish(now, call, "answered", cause)
            return
        self._finish(now, call, call.outcome or "failed", cause)

    # ---- IVR ---------------------------------------------------------------------------

    def _on_channel(self, ev) -> tuple:
        """The calls on the event's trunk channel, in the order they came (a DTMF or
        tone-done event: a B-channel, or span 0 and an FXO port)."""
        return tuple(self._trunk_calls.get((ev.span, ev.timeslot), ()))

    @staticmethod
    def _trunk_keys(call: Call) -> list:
        keys = []
        if call.span is not None and call.timeslot is not None:
            keys.append((call.span, call.timeslot))
        if call.fxo_port is not None:
            keys.append((0, call.fxo_port))
        return keys

    def _index_trunk(self, call: Call) -> None:
        """Note the call under the trunk channel it holds (a call's span and timeslot or
        FXO port are set when it is made, or its timeslot when the network gives one)."""
        for key in self._trunk_keys(call):
            calls = self._trunk_calls.setdefault(key, [])
            if call not in calls:
                calls.append(call)
                # in the order the calls came, as their ids count up
                calls.sort(key=lambda c: c.seq)

    def _unindex_trunk(self, call: Call) -> None:
        for key in self._trunk_keys(call):
            calls = self._trunk_calls.get(key)
            if calls is not None and call in calls:
                calls.remove(call)
                if not calls:
                    del self._trunk_calls[key]

    def _digit(self, now, ev) -> None:
        for call in self._on_channel(ev):
            self._inject("digit", call)
            if call.state == "survey":
                if ev.digit in "12345":
                    call.survey = int(ev.digit)
                    self._end_survey(now, call)
                return
            if call.ivr is not None:
                call.ivr.digit(now, ev.digit)
                self._run_ivr(now, call)
                return

    def _tone_done(self, now, ev) -> None:
        if ev.what != "play":
            return
        for call in self._on_channel(ev):
            self._inject("tone_done", call)
            if call.moh:
                self._play(call, [self.config.moh])      # music on hold loops
                return
            call.playing = False
            if call.ivr is not None:
                call.ivr.prompt_done(now, getattr(call, "play_id", None))
                self._run_ivr(now, call)
            return

    def _run_ivr(self, now, call: Call) -> None:
        """Carry out what the call's IVR session says, then note when its timer is due."""
        self._run_ivr_events(now, call)
        if call.ivr is not None:
            due = call.ivr.get_timer()
            if due is not None:
                # never at or before now: a timer still due is looked at next tick
                heapq.heappush(self._ivr_wake, (max(due, now + 1e-6), next(self._wake_seq),
                                                call.id))

    def _run_ivr_events(self, now, call: Call) -> None:
        s = call.ivr
        if s is None:
            return
        self._inject("ivr", call)
        while True:
            ev = s.next_event()
            if ev is None:
                break
            name = type(ev).__name__
            if name == "Play":
                call.play_id = getattr(ev, "play_id", None)
                self._play(call, ev.prompts)
            elif name == "StopPlay":
                self._stop_play(call)
            elif name == "Lookup":
                record = self.store.lookup(ev.table, ev.key_column, ev.value) \
                    if self.store is not None else None
                s.lookup_result(now, record)
            elif name == "DataChanged":
                call.data.update(ev.data)
            elif name == "Route":
                call.data.update(getattr(ev, "data", {}) or {})
                self._leave_ivr(call)
                queue = ev.queue
                if queue in (None, "", "by_area"):
                    queue = self._area_queue(call)
                self._enqueue(now, call, queue)
                return
            elif name == "Voicemail":
                self._leave_ivr(call)
                self._start_voicemail(now, call, ev.box)
                return
            elif name == "Callback":
                self._leave_ivr(call)
                self._callback(now, call, ev.number, getattr(ev, "queue", None))
                return
            elif name in ("Hangup", "AbandonedInIvr"):
                path = list(s.path)
                self._leave_ivr(call)
                call.ivr_path = path
                if name == "Hangup":
                    # retries exhausted or a loop: the caller was lost in the menus; a flow
                    # that ends by design served the caller itself (self-service)
                    lost = ev.reason in ("retries_exhausted", "flow_loop")
                    self._hangup_trunk(now, call, 16)
                    self._finish(now, call, "abandoned_ivr" if lost else "answered", 16)
                else:
                    self._finish(now, call, "abandoned_ivr", 16)
                return

    def _leave_ivr(self, call: Call) -> None:
        if call.ivr is not None:
            call.ivr_path = list(call.ivr.path)
            call.data.update(call.ivr.data)
        call.ivr = None
        if call.ivr_port:
            self.ivr_ports.release(call.id)
            call.ivr_port = False

    def _area_queue(self, call: Call) -> str:
        best = ("", None)
        for prefix, queue in self.config.area_routes:
            if call.ani.startswith(prefix) and len(prefix) > len(best[0]):
                best = (prefix, queue)
        return best[1] or self.config.queues[0].name

    def _start_voicemail(self, now, call: Call, box: str) -> None:
        self._stop_play(call)
        call.voicemail_box = box
        call.voicemail = Recording(os.path.join(self.config.voicemail_dir, f"{call.id}.wav"),
                                   self._law(call), stereo=False,
                                   max_seconds=self.config.voicemail_seconds)
        self._deadlines.add(call.id)
        ch = self._trunk_channel(call)
        ch.tap(True, "both")
        self._play(call, ["voicemail_greeting"])
        call.state = "voicemail"
        self._call_event(call, "diverted", to=f"voicemail:{box}")

    def _callback(self, now, call: Call, number: str, queue: str | None) -> None:
        if self.store is not None:
            self.store.add_callback(number or call.ani, queue, self.epoch + now,
                                    call_id=call.id)
        self._play(call, ["callback_thanks"])
        self._call_event(call, "diverted", to="callback", number=number or call.ani)
        self._hangup_trunk(now, call, 16)
        self._finish(now, call, "callback", 16)

    # ---- ACD -----------------------------------------------------------------------------

    def _enqueue(self, now, call: Call, queue: str) -> None:
        self._inject("enqueue", call)
        if self._dissuade(now, call, queue):
            return
        call.queue = queue
        call.queued_at = now
        call.state = "queued"
        if self.acd.enqueue(now, call.id, queue, ani=call.ani):
            self._start_moh(call)
            self._call_event(call, "queued")
        self._run_acd(now)

    def _dissuade(self, now, call: Call, queue: str) -> bool:
        """Peak dissuasion (the queue's ``dissuade_ewt``): a caller who would wait longer
        than the threshold hears the queue's dissuasion flow on an IVR port instead of
        joining (once per call); with no IVR port free the call joins as usual."""
        qc = self._queue_cfg.get(queue)
        if qc is None or qc.dissuade_ewt is None or call.dissuaded or call.direction != "in":
            return False
        ewt = self.acd.estimated_wait(queue)
        if ewt <= qc.dissuade_ewt:
            return False
        flow = self.config.flows.get(f"dissuade:{queue}")
        if flow is None or not self.ivr_ports.acquire(call.id):
            return False
        call.dissuaded = True
        call.ivr_port = True
        call.queue = queue
        self.counters["dissuaded"] += 1
        self._call_event(call, "dissuaded", queue=queue, ewt=round(ewt, 1), mode=qc.dissuade)
        call.ivr = ivr_mod.IvrSession(flow, call.id, call.ani, call.dnis, call.data)
        call.state = "ivr"
        call.ivr.start(now)
        self._run_ivr(now, call)
        return True

    def _run_acd(self, now) -> None:
        due = self.acd.get_timer()
        if due is not None and due <= now:
            try:
                self.acd.handle_timer(now)
            except Exception as exc:
                self._fail_call(now, None, "acd_timer", exc)
        while True:
            ev = self.acd.next_event()
            if ev is None:
                return
            try:
                self._acd_event(now, ev)
            except Exception as exc:
                self._fail_call(now, self.calls.get(getattr(ev, "call", None)),
                                f"acd.{type(ev).__name__}", exc)

    def _acd_event(self, now, ev) -> None:
        name = type(ev).__name__
        call = self.calls.get(getattr(ev, "call", None))
        if name == "QueueLog":
            if self.store is not None:
                self.store.log_queue(self.epoch + ev.time, ev.call, ev.queue, ev.agent, ev.event,
                                     *ev.data)
            return
        if name == "AgentState":
            if ev.state == "wrapup":
                self._wrapup_since[ev.agent] = now
            elif ev.agent in self._wrapup_since:
                # the wrap-up is over: its length goes on the CDR of the agent's last call
                since = self._wrapup_since.pop(ev.agent)
                cid = self._last_call.get(ev.agent)
                if cid is not None and self.store is not None:
                    self.store.set_cdr_wrapup(cid, ev.agent, now - since)
            if self.store is not None:
                ext = self.acd.agent_state(ev.agent).extension
                self.store.log_agent(self.epoch + now, ev.agent, ev.state, ev.reason or None,
                                     None if ext is None else str(ext))
            self._emit(f"agent.{ev.agent}.state", "agent.state", agent=ev.agent, state=ev.state,
                       reason=ev.reason)
            return
        if call is None:
            return
        self._inject("acd_event", call)
        if name == "RingAgents":
            for agent, ext in zip(ev.agents, ev.extensions):
                self._ring_agent(now, call, agent, ext)
        elif name == "StopRinging":
            for agent in ev.agents:
                port, fxs_call = call.ringing.pop(agent, (None, None))
                if port is not None:
                    self._by_agent_leg.pop((port, fxs_call), None)
                    self.analog[port].send(now, analog.Release("stop"))
            if not call.ringing and call.state == "delivered":
                call.state = "queued"
        elif name == "Connected":
            self._connect(now, call, ev.agent)
        elif name == "RingNoAnswer":
            self.counters["ring_no_answer"] += 1
            self._call_event(call, "ring_no_answer", agent_rna=ev.agent)
        elif name == "Announce":
            self._announce(call, ev.position, ev.ewt)
        elif name == "Overflow":
            self._overflow(now, call, ev.action, ev.target)
        elif name == "JoinFailed":
            self._overflow(now, call, "hangup", None)
        elif name == "Abandoned":
            pass

    def _announce(self, call: Call, position: int, ewt: float) -> None:
        """Tell a waiting caller its position and estimated wait over the music on hold;
        the music resumes when the announcement ends (the play-done loop)."""
        if not call.moh or self.prompts is None or call.state != "queued":
            return
        from cti.centre.prompts import say_number
        names = ["position"] + say_number(position)
        minutes = int(round(ewt / 60.0))
        if minutes >= 1:
            names += ["estimated_wait"] + say_number(minutes) + ["minutes"]
        names.append("please_hold")
        self._trunk_channel(call).tone(0, ms=0)
        self._play(call, names)
        self._call_event(call, "announced", position=position, ewt=round(ewt, 1))

    def _ring_agent(self, now, call: Call, agent: str, ext) -> None:
        self._inject("ring_agent", call)
        port = self.analog.get(ext)
        if port is None:
            self.acd.ring_failed(now, call.id, agent)
            return
        fxs_call = port.send(now, analog.Alert(call.ani, (call.data.get("customer") or {})
                                               .get("name") if isinstance(call.data.get(
                                                   "customer"), dict) else None))
        if fxs_call is None:
            self.acd.ring_failed(now, call.id, agent)
            return
        call.ringing[agent] = (ext, fxs_call)
        self._by_agent_leg[(ext, fxs_call)] = call.id
        call.state = "delivered"
        self._call_event(call, "delivered", agent=agent, extension=ext,
                         customer=call.data.get("customer"))

    def _direct_no_answer(self, now, call: Call) -> None:
        """A transfer (or pickup) rang an agent who did not answer: ring-no-answer, and the
        call goes back to its queue rather than ringing for ever."""
        agents = list(call.ringing)
        self._stop_ringing(now, call)
        call.direct = False
        call.direct_until = None
        self.counters["ring_no_answer"] += 1
        if self.store is not None:
            # the same row the ACD writes for its own ring-no-answers (ring time in ms)
            self.store.log_queue(self.epoch + now, call.id, call.queue or "NONE",
                                 agents[0] if agents else "NONE", "RINGNOANSWER",
                                 int(DIRECT_RING_TIMEOUT * 1000))
        queue = call.queue or self.config.queues[0].name
        self._call_event(call, "ring_no_answer", agent_rna=agents[0] if agents else None)
        self._call_event(call, "diverted", to=f"queue:{queue}", reason="no_answer")
        self._enqueue(now, call, queue)

    def _stop_ringing(self, now, call: Call) -> None:
        for agent, (port, fxs_call) in list(call.ringing.items()):
            self._by_agent_leg.pop((port, fxs_call), None)
            self.analog[port].send(now, analog.Release("caller gone"))
        call.ringing.clear()

    def _connect(self, now, call: Call, agent: str) -> None:
        port, fxs_call = call.ringing.pop(agent, (self.agents[agent].extension, None))
        call.agent, call.agent_port, call.agent_call = agent, port, fxs_call
        self._inject("connect", call)
        call.wait = now - (call.queued_at or now)
        self._stop_play(call)
        if call.conf is None:
            call.conf = self.board.conference()
            call.conf.join(self._trunk_channel(call))
        call.conf.join(self.board.ports[port])
        call.state = "established"
        self._call_event(call, "established", extension=port, wait=round(call.wait, 3))

    def _release_agent(self, now, call: Call) -> None:
        if call.direct and call.agent is not None:
            self.acd.agent_busy_elsewhere(now, call.agent, False)
            call.direct = False
        if call.agent_port is not None:
            self._by_agent_leg.pop((call.agent_port, call.agent_call), None)
            # a call the agent made: its leg no longer stands for the call (a transfer
            # leaves the call up when that phone hangs up)
            self._outbound.pop((call.agent_port, call.agent_call), None)
            if call.conf is not None:
                self.board.ports[call.agent_port].leave_conference()
            self.analog[call.agent_port].send(now, analog.Release("far end cleared"))
        call.agent_port = call.agent_call = None

    def _overflow(self, now, call: Call, action: str, target: str | None) -> None:
        self._stop_play(call)
        if action == "queue" and target:
            self._call_event(call, "diverted", to=f"queue:{target}")
            self._enqueue(now, call, target)
        elif action == "voicemail":
            self._start_voicemail(now, call, target or call.queue or "general")
        elif action == "callback":
            self._callback(now, call, call.ani, call.queue)
        else:
            self._hangup_trunk(now, call, 34)
            self._finish(now, call, "timeout", 34)

    # ---- agents' phones ---------------------------------------------------------------

    def _analog_event(self, now, port: int, ev) -> None:
        leg = (port, getattr(ev, "call", None))
        if leg in self._by_fxo and self.calls.get(self._by_fxo[leg]) is not None and \
                self.calls[self._by_fxo[leg]].direction == "out":
            self._fxo_outbound_event(now, leg, ev)
            return
        if leg in self._supervisors:
            self._supervisor_event(now, leg, ev)
            return
        if leg in self._outbound:
            self._outbound_agent_event(now, leg, ev)
            return
        cid = self._by_agent_leg.get(leg)
        call = self.calls.get(cid) if cid else None
        self._inject("agent_phone", call)
        if isinstance(ev, analog.Answered) and call is not None and port in (
                p for p, _ in call.ringing.values()):
            agent = next(a for a, (p, _) in call.ringing.items() if p == port)
            if call.direct:
                # a transfer to this agent: not an ACD call, but the agent is busy on it
                self.acd.agent_busy_elsewhere(now, agent, True)
                self._connect(now, call, agent)
            else:
                self.acd.answered(now, call.id, agent)
            self._run_acd(now)
        elif isinstance(ev, analog.Disconnected) and call is not None \
                and (port, ev.call) in call.ringing.values():
            # the phone could not ring (off hook: the FXS found it busy): the ACD tries
            # the next agent now rather than ringing a dead leg until ring-no-answer
            agent = next(a for a, leg in call.ringing.items() if leg == (port, ev.call))
            del call.ringing[agent]
            self._by_agent_leg.pop((port, ev.call), None)
            if not call.ringing and call.state == "delivered":
                call.state = "queued"
            if call.direct:
                # a transfer to that agent found the phone busy: back to a queue
                call.direct = False
                queue = call.queue or self.config.queues[0].name
                self._call_event(call, "diverted", to=f"queue:{queue}", reason="busy")
                self._enqueue(now, call, queue)
            else:
                self.acd.ring_failed(now, call.id, agent)
                self._run_acd(now)
        elif isinstance(ev, analog.Disconnected) and call is not None:
            if call.agent_port == port and call.state in ("established", "held"):
                # the agent hung up: the caller is cleared
                self._by_agent_leg.pop((port, ev.call), None)
                call.agent_port = None
                if call.direct:
                    self._release_agent(now, call)
                else:
                    self.acd.call_ended(now, call.id, by="agent")
                if not self._start_survey(now, call):
                    self._hangup_trunk(now, call, 16)
                    self._finish(now, call, "answered", 16)
        elif isinstance(ev, analog.CallOffered) and port in self.analog:
            # an FXO trunk rings: a new incoming call
            c = self._new_call(now, direction="in", trunk=f"fxo/{port}", ani=ev.ani or "",
                               dnis="", fxo_port=port, fxo_call=ev.call)
            self._by_fxo[(port, ev.call)] = c.id
            self._screen_pop_data(c)
            self._call_event(c, "offered")
            self._route_new(now, c)
        elif isinstance(ev, analog.Disconnected) and (port, ev.call) in self._by_fxo:
            c = self.calls.get(self._by_fxo.pop((port, ev.call)))
            if c is not None:
                self._trunk_cleared(now, c, 16)

    def records_on(self, span: int, timeslot: int) -> bool:
        """A call on this trunk channel (span 0: an FXO port) is being recorded (a call
        recording or a voicemail message): its tap must stay on, both ways."""
        return any(c.recording is not None or c.voicemail is not None
                   for c in self._trunk_calls.get((span, timeslot), ()))

    def _audio(self, ev) -> None:
        # the first call on the trunk channel
        calls = self._trunk_calls.get((ev.span, ev.timeslot))
        if calls:
            call = calls[0]
            rec = call.voicemail or call.recording
            if rec is not None:
                rec.add(ev.data, ev.sent)

    # ---- the after-call survey -----------------------------------------------------------

    def _start_survey(self, now, call: Call) -> bool:
        """The agent hung up on an answered inbound call of a surveyed queue: the caller,
        still on the trunk, hears the ``survey`` prompt and rates the call with one DTMF
        key, 1 to 5, within ``survey_timeout`` seconds (stored in the CDR; no key, NULL)."""
        q = self.config.survey_queues
        if call.direction != "in" or call.answer is None or call.agent is None or \
                not ("*" in q or call.queue in q) or self.prompts is None or \
                "survey" not in self.prompts:
            return False
        if (call.span is None or (call.span, call.pri_call) not in self._by_pri) and \
                (call.fxo_port is None or (call.fxo_port, call.fxo_call) not in self._by_fxo):
            return False
        self._stop_play(call)
        if call.conf is not None:
            call.conf.destroy()
            call.conf = None
        self._detect_in_call(call, self._trunk_channel(call))
        call.state = "survey"
        call.survey_until = now + self.config.survey_timeout
        self._deadlines.add(call.id)
        self._play(call, ["survey"])
        self._call_event(call, "survey")
        return True

    def _end_survey(self, now, call: Call) -> None:
        self._hangup_trunk(now, call, 16)
        self._finish(now, call, "answered", 16)

    # ---- the end of a call -----------------------------------------------------------

    def _finish(self, now, call: Call, outcome: str, cause: int | None) -> None:
        if call.state == "cleared":
            return
        self._inject("finish", call)
        if call.wait is None and call.queued_at is not None:
            # the CDR's wait is the time in the queue, answered or not (a caller who
            # left, timed out or overflowed waited too); a call never queued has none
            call.wait = now - call.queued_at
        self._stop_play(call)
        self._leave_ivr(call)
        self._stop_ringing(now, call)
        for leg, (cid, who, _) in list(self._supervisors.items()):
            if cid == call.id:
                del self._supervisors[leg]
                self.board.ports[leg[0]].leave_conference()
                self.analog[leg[0]].send(now, analog.Release("call ended"))
                self.acd.agent_busy_elsewhere(now, who, False)
        if call.consult and call.consult.get("conf") is not None:
            call.consult["conf"].destroy()
        call.consult = None
        if call.conf is not None:
            call.conf.destroy()
            call.conf = None
        has_trunk = (call.span is not None and call.timeslot is not None) or \
            call.fxo_port is not None
        ch = self._trunk_channel(call) if has_trunk else None
        if ch is not None:
            ch.tap(False)
            if call.fxo_port is not None:
                # the FXO machine's own receivers: caller ID, DTMF, call progress
                fsk = "fsk_v23" if self.analog[call.fxo_port].cid_mode == "v23" else "fsk"
                ch.detect("dtmf", "cpt", fsk)
            else:
                ch.detect()
        call.end = now
        call.outcome = outcome
        call.cause = cause
        call.state = "cleared"
        rec_path = None
        keep = call.recording is not None and call.answer is not None and (
            self.config.record_queues is None or call.queue in self.config.record_queues
            or getattr(call, "record_requested", False))
        if keep:
            rec_path = call.recording.close()      # None: no file could be made
            if self.store is not None and rec_path is not None:
                self.store.add_recording(call.id, rec_path, self.epoch + call.answer,
                                         call.recording.seconds, 2)
        elif call.recording is not None:
            call.recording.discard()          # written as it went; not this queue's policy
        if call.voicemail is not None:
            vm = call.voicemail.close()             # None: no file could be made
            if self.store is not None and vm is not None:
                self.store.add_voicemail(call.voicemail_box, vm, self.epoch + now,
                                         call.voicemail.seconds, call_id=call.id, ani=call.ani)
            if vm is not None:
                self._emit(f"voicemail.{call.voicemail_box}", "voicemail.new",
                           box=call.voicemail_box,
                           call_id=call.id, ani=call.ani, path=vm,
                           seconds=round(call.voicemail.seconds, 2))
        e = self.epoch
        cdr = {"call_id": call.id, "direction": call.direction, "trunk": call.trunk,
               "ani": call.ani, "dnis": call.dnis, "start": e + call.start,
               "answer": None if call.answer is None else e + call.answer,
               "end": e + now, "duration": now - call.start,
               "billsec": (now - call.answer) if call.answer is not None and call.agent else 0.0,
               "outcome": outcome, "cause": cause, "queue": call.queue, "agent": call.agent,
               "ivr_path": "/".join(call.ivr_path), "wait": call.wait, "data": dict(call.data),
               "recording": rec_path, "survey": call.survey}
        if call.agent:
            self._last_call[call.agent] = call.id
        if self.store is not None:
            self.store.add_cdr(cdr)           # in SQLite before the event goes out
        # counted with its CDR, once: offered == sum(outcomes) + calls in progress
        call.cdr_written = True
        self.counters[outcome] = self.counters.get(outcome, 0) + 1
        self._inject("cdr", call)
        self._call_event(call, "cleared", cause=cause, outcome=outcome, recording=rec_path)
        del self.calls[call.id]
        self._unindex_trunk(call)

    # ---- requests (agents, supervisors, integrators) ----------------------------------

    def agent_login(self, now, agent: str, extension: int | None = None, *,
                    ready: bool = True, reason: str = "") -> dict:
        ext = self.check_extension(agent, extension)
        self.acd.login(now, agent, ext, ready=ready, reason=reason)
        self._run_acd(now)
        return self.agent_status(agent)

    def check_extension(self, agent: str, extension: int | None = None) -> int | None:
        """The extension ``agent`` logs in at (default: its configured one), checked."""
        a = self._agent(agent)
        ext = extension if extension is not None else a.extension
        if ext is not None and (ext not in self.analog or self.analog[ext].port.kind != "fxs"):
            raise LookupError(f"extension {ext} is not an FXS port of this board")
        return ext

    def agent_logout(self, now, agent: str) -> dict:
        self._agent(agent)
        self.acd.logout(now, agent)
        self._run_acd(now)
        return self.agent_status(agent)

    def agent_ready(self, now, agent: str) -> dict:
        self._agent(agent)
        self.acd.ready(now, agent)
        self._run_acd(now)
        return self.agent_status(agent)

    def agent_not_ready(self, now, agent: str, reason: str = "") -> dict:
        self._agent(agent)
        self.acd.not_ready(now, agent, reason)
        self._run_acd(now)
        return self.agent_status(agent)

    def _agent(self, agent: str):
        if agent not in self.agents:
            raise LookupError(f"no agent {agent!r} (agents: {', '.join(self.agents)})")
        return self.agents[agent]

    def agent_status(self, agent: str) -> dict:
        st = self.acd.agent_state(agent)
        return {"agent": agent, "state": st.state, "reason": st.reason, "call": st.call,
                "extension": st.extension}

    def _call(self, call_id: str) -> Call:
        if call_id not in self.calls:
            raise LookupError(f"no call {call_id!r}")
        return self.calls[call_id]

    @_request_guard()
    def hangup(self, now, call_id: str) -> dict:
        base = call_id.removesuffix(".consult")
        if base != call_id and getattr(self.calls.get(base), "consult", None):
            # the consultation only: its phone is released; the Disconnected that follows
            # ends it (consult_ended) and the caller stays held for the first agent
            cons = self.calls[base].consult
            self.analog[cons["port"]].send(now, analog.Release("consultation ended"))
            return {"call_id": call_id, "state": "cleared"}
        call = self._call(call_id)
        if call.state in ("established", "held"):
            if not call.direct:
                self.acd.call_ended(now, call.id, by="agent")
            self._release_agent(now, call)
            self._inject("request.hangup", call)
            if not self._start_survey(now, call):
                self._hangup_trunk(now, call, 16)
                self._finish(now, call, "answered", 16)
        else:
            self._hangup_trunk(now, call, 16)
            self._inject("request.hangup", call)
            self._trunk_cleared(now, call, 16)
        return {"call_id": call_id, "state": "cleared"}

    @_request_guard()
    def transfer(self, now, call_id: str, to: str, data: dict | None = None) -> dict:
        """Blind transfer with attached data: to an agent (its extension rings) or a queue.
        An agent who forwards their calls sends it on; one in do-not-disturb refuses it."""
        seen = {to}
        while to in self.forward:
            to = self.forward[to]
            if to in seen:
                raise ValueError(f"forwarding loop at {to}")
            seen.add(to)
        if to in self.agents and self.acd.agent_state(to).state == "not_ready" and \
                self.acd.agent_state(to).reason == "dnd":
            raise ValueError(f"agent {to} is in do-not-disturb")
        call = self._call(call_id)
        if call.state not in ("established", "held"):
            raise ValueError(f"call {call_id} is {call.state}: only an established call "
                             f"can be transferred")
        if to in self.agents:
            ext = self.acd.agent_state(to).extension or self.agents[to].extension
            port = self.analog.get(ext)
            if port is None:
                raise LookupError(f"agent {to} has no extension to ring")
            if to == call.agent:
                raise ValueError(f"call {call_id} is already with agent {to}")
            if getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
                # refused before the first agent lets go of the caller
                raise ValueError(f"agent {to} is busy (extension {ext} in use)")
        elif to.removeprefix("queue:") not in {q.name for q in self.config.queues}:
            # refused here, not after the agent has let go of the caller
            raise LookupError(f"no agent or queue {to!r}")
        if data:
            call.data.update(data)
        from_agent = call.agent
        self.counters["transfers"] += 1
        if not call.direct:
            self.acd.transfer_out(now, call.id, target=to)
        else:
            # the agent had it outside the ACD (a transfer to them): no queue_log TRANSFER
            self.counters["transfers_direct"] += 1
        self._release_agent(now, call)
        self._inject("request.transfer", call)
        call.transfers += 1
        call.agent = None
        self._start_moh(call)
        if to in self.agents:
            target = self.agents[to]
            self._call_event(call, "transferred", from_agent=from_agent, to=to)
            call.state = "queued"
            ext = self.acd.agent_state(to).extension or target.extension
            self._ring_direct(now, call, to, ext)
        else:
            if to.startswith("queue:"):
                to = to[len("queue:"):]
            if to not in {q.name for q in self.config.queues}:
                raise LookupError(f"no agent or queue {to!r}")
            self._call_event(call, "transferred", from_agent=from_agent, to=f"queue:{to}")
            self._enqueue(now, call, to)
        return {"call_id": call_id, "to": to, "data": dict(call.data)}

    def _ring_direct(self, now, call: Call, agent: str, ext) -> None:
        """Ring one agent outside the ACD (a transfer to that agent)."""
        port = self.analog.get(ext)
        if port is None:
            raise LookupError(f"agent {agent} has no extension to ring")
        fxs_call = port.send(now, analog.Alert(call.ani, None))
        call.ringing[agent] = (ext, fxs_call)
        self._by_agent_leg[(ext, fxs_call)] = call.id
        call.state = "delivered"
        call.direct = True
        call.direct_until = now + self.config.transfer_ring_timeout
        self._deadlines.add(call.id)
        self._call_event(call, "delivered", agent=agent, extension=ext,
                         customer=call.data.get("customer"))

    # ---- hold, supervision, conference, click-to-dial -----------------------------------

    @_request_guard()
    def hold(self, now, call_id: str) -> dict:
        """The agent holds the caller: the caller hears music on hold, the agent silence."""
        call = self._call(call_id)
        if call.state != "established":
            raise ValueError(f"call {call_id} is {call.state}: only an established call can "
                             f"be held")
        if call.agent_port is not None:
            self.board.ports[call.agent_port].leave_conference()
        self._inject("request.hold", call)
        self._start_moh(call)
        call.state = "held"
        self._call_event(call, "held")
        return self.call_info(call)

    @_request_guard()
    def retrieve(self, now, call_id: str) -> dict:
        call = self._call(call_id)
        if call.state != "held":
            raise ValueError(f"call {call_id} is {call.state}: only a held call can be "
                             f"retrieved")
        self._stop_play(call)
        if call.agent_port is not None and call.conf is not None:
            call.conf.join(self.board.ports[call.agent_port])
        call.state = "established"
        self._call_event(call, "retrieved")
        return self.call_info(call)

    @_request_guard()
    def supervise(self, now, call_id: str, supervisor: str, mode: str = "monitor") -> dict:
        """A supervisor listens to (``monitor``), coaches (``whisper``: only the agent hears)
        or joins (``barge``; also a three-way ``conference`` with another agent) an
        established call. The supervisor's phone rings; on answer it joins the call's
        conference in that mode. Asked again with another mode, it changes the mode."""
        call = self._call(call_id)
        if mode not in ("monitor", "whisper", "barge", "conference"):
            raise ValueError(f"mode must be monitor, whisper, barge or conference, not {mode!r}")
        if call.state not in ("established", "held") or call.conf is None:
            raise ValueError(f"call {call_id} is {call.state}: only an established call can "
                             f"be supervised")
        sup = self._agent(supervisor)
        ext = self.acd.agent_state(supervisor).extension or sup.extension
        if ext is None or ext not in self.analog or ext == call.agent_port:
            raise LookupError(f"agent {supervisor} has no extension of its own to use")
        for leg, (cid, who, _) in self._supervisors.items():
            if cid == call.id and who == supervisor:
                self._supervisors[leg] = (cid, who, mode)
                if self.board.ports[ext].conference() == call.conf.id:
                    self._join_supervisor(call, ext, mode)
                self._call_event(call, "conferenced" if mode in ("barge", "conference")
                                 else "supervised", supervisor=supervisor, mode=mode)
                return {"call_id": call_id, "supervisor": supervisor, "mode": mode}
        port = self.analog[ext]
        if getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
            raise ValueError(f"agent {supervisor}'s extension {ext} is in use")
        fxs_call = port.send(now, analog.Alert(call.ani, f"{mode} {call.agent or ''}".strip()))
        self._supervisors[(ext, fxs_call)] = (call.id, supervisor, mode)
        self.acd.agent_busy_elsewhere(now, supervisor, True)
        return {"call_id": call_id, "supervisor": supervisor, "mode": mode, "ringing": ext}

    def _join_supervisor(self, call: Call, ext: int, mode: str) -> None:
        port = self.board.ports[ext]
        if mode == "whisper":
            if call.agent_port is None:
                raise ValueError("whisper needs an agent on the call")
            call.conf.join(port, "whisper", to=self.board.ports[call.agent_port])
        else:
            call.conf.join(port, "monitor" if mode == "monitor" else "member")

    def _supervisor_event(self, now, leg, ev) -> None:
        cid, supervisor, mode = self._supervisors[leg]
        call = self.calls.get(cid)
        if mode == "consult":
            self._consult_event(now, leg, ev, call)
            return
        if isinstance(ev, analog.Answered) and call is not None and call.conf is not None:
            self._join_supervisor(call, leg[0], mode)
            self._call_event(call, "conferenced" if mode in ("barge", "conference")
                             else "supervised", supervisor=supervisor, mode=mode)
        elif isinstance(ev, analog.Disconnected):
            del self._supervisors[leg]
            self.board.ports[leg[0]].leave_conference()
            self.acd.agent_busy_elsewhere(now, supervisor, False)
            if call is not None:
                self._call_event(call, "supervisor_left", supervisor=supervisor)

    @_request_guard()
    def consult(self, now, call_id: str, to: str) -> dict:
        """Consultative transfer, first step: the caller is held (music on hold) and the
        agent's consultation rings agent ``to``; when it is answered the two agents talk."""
        call = self._call(call_id)
        if call.state not in ("established", "held") or call.agent_port is None:
            raise ValueError(f"call {call_id} is {call.state}: consult from an established "
                             f"call")
        if getattr(call, "consult", None):
            raise ValueError(f"call {call_id} already has a consultation")
        target = self._agent(to)
        ext = self.acd.agent_state(to).extension or target.extension
        port = self.analog.get(ext)
        if port is None or to == call.agent:
            raise LookupError(f"agent {to} has no extension to ring")
        if getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
            raise ValueError(f"agent {to} is busy (extension {ext} in use)")
        if call.state == "established":
            self.hold(now, call_id)
        fxs_call = port.send(now, analog.Alert(call.ani, f"consult {call.agent}"))
        call.consult = {"agent": to, "port": ext, "call": fxs_call, "conf": None}
        self._supervisors[(ext, fxs_call)] = (call.id, to, "consult")
        self.acd.agent_busy_elsewhere(now, to, True)
        self._call_event(call, "consulting", to=to)
        # the consulted agent's desktop: the consultation rings there (CSTA Delivered of
        # the consultation call, CALL.consult, with that agent and extension)
        self._call_event(call, "delivered", call_id=f"{call.id}.consult", state="delivered",
                         agent=to, extension=ext, consult_of=call.id, from_agent=call.agent)
        return {"call_id": call_id, "consult": f"{call_id}.consult", "to": to}

    @_request_guard()
    def transfer_complete(self, now, call_id: str, data: dict | None = None) -> dict:
        """Consultative transfer, second step: the consulted agent takes the caller (with
        the attached data); the first agent's phone is released."""
        call = self._call(call_id)
        cons = getattr(call, "consult", None)
        if not cons or cons["conf"] is None:
            raise ValueError(f"call {call_id} has no answered consultation to complete")
        if data:
            call.data.update(data)
        from_agent = call.agent
        cons["conf"].destroy()
        self._supervisors.pop((cons["port"], cons["call"]), None)
        if not call.direct:
            self.acd.transfer_out(now, call.id, target=cons["agent"])
        self._release_agent(now, call)
        call.agent, call.agent_port, call.agent_call = cons["agent"], cons["port"], cons["call"]
        self._by_agent_leg[(cons["port"], cons["call"])] = call.id
        call.direct = True                      # the new agent has it outside the ACD
        call.consult = None
        call.transfers += 1
        self._stop_play(call)
        call.conf.join(self.board.ports[call.agent_port])
        call.state = "established"
        self._call_event(call, "transferred", from_agent=from_agent, to=call.agent,
                         consultative=True)
        return {"call_id": call_id, "to": call.agent, "data": dict(call.data)}

    def _consult_event(self, now, leg, ev, call: Call | None) -> None:
        cons = getattr(call, "consult", None) if call is not None else None
        if cons is None:
            self._supervisors.pop(leg, None)
            return
        if isinstance(ev, analog.Answered):
            cons["conf"] = self.board.conference()
            cons["conf"].join(self.board.ports[call.agent_port])
            cons["conf"].join(self.board.ports[cons["port"]])
            self._call_event(call, "consulted", to=cons["agent"])
            self._call_event(call, "established", call_id=f"{call.id}.consult",
                             state="established", agent=cons["agent"], extension=cons["port"],
                             consult_of=call.id, from_agent=call.agent)
        elif isinstance(ev, analog.Disconnected):
            # the consulted agent hung up (or never answered): back to the caller
            self._supervisors.pop(leg, None)
            if cons["conf"] is not None:
                cons["conf"].destroy()
            self.acd.agent_busy_elsewhere(now, cons["agent"], False)
            call.consult = None
            self._call_event(call, "consult_ended", to=cons["agent"])

    @_request_guard(creates=True)
    def make_call(self, now, agent: str, number: str, span: int | None = None) -> dict:
        """Click-to-dial: the agent's phone rings first; when it is answered the number is
        called out on a PRI span (the first with a free B-channel; with none, and no
        ``span`` asked for, on an idle FXO line, dialled in DTMF and supervised by its
        tones) and the two are switched through (outbound calls, campaigns, callbacks
        after the peak)."""
        from drivers.numbers import parse_number
        a = self._agent(agent)
        # what every line below carries, in its normal form (a NumberError is a ValueError:
        # a campaign or callback record with a number no line carries fails its dial)
        number = parse_number(number)
        ext = self.acd.agent_state(agent).extension or a.extension
        if ext is None or ext not in self.analog:
            raise LookupError(f"agent {agent} has no extension")
        spans = [span] if span is not None else sorted(self.pri)
        spans = [n for n in spans if n in self.pri and self.pri[n].q931.free_channels()]
        fxo = None if spans or span is not None else self._free_fxo()
        if not spans and fxo is None:
            raise ValueError("no free B-channel on any PRI span nor an idle FXO line "
                             "(all trunks busy)")
        n = next(self._ids)
        call = Call(id=f"{self.call_ids}{n}", seq=n, direction="out",
                    trunk=f"{spans[0]}/-" if spans else f"fxo/{fxo}", ani=str(ext),
                    dnis=number, start=now, span=spans[0] if spans else None,
                    fxo_port=fxo, agent=agent, agent_port=ext, span_asked=span is not None)
        self.calls[call.id] = call
        self._index_trunk(call)
        fxs_call = self.analog[ext].send(now, analog.Alert(number, "dialling"))
        call.agent_call = fxs_call
        self._outbound[(ext, fxs_call)] = call.id
        self.acd.agent_busy_elsewhere(now, agent, True)
        call.direct = True
        self._inject("request.make_call", call)
        call.state = "delivered"
        self._call_event(call, "originated", extension=ext)
        return {"call_id": call.id, "agent": agent, "to": number}

    def _outbound_agent_event(self, now, leg, ev) -> None:
        call = self.calls.get(self._outbound[leg])
        if call is None:
            del self._outbound[leg]
            return
        self._inject("outbound_agent", call)
        if isinstance(ev, analog.Answered) and call.pri_call is None and call.fxo_call is None:
            if call.fxo_port is not None:
                # an analog trunk: seize, dial in DTMF; the FXO machine supervises the tones
                call.fxo_call = self.analog[call.fxo_port].send(now, analog.Dial(call.dnis))
                self._by_fxo[(call.fxo_port, call.fxo_call)] = call.id
            else:
                if not call.span_asked and not self.pri[call.span].q931.free_channels():
                    # the span had a free B-channel when the agent's phone began to ring;
                    # another may have one now
                    call.span = next((n for n in sorted(self.pri)
                                      if self.pri[n].q931.free_channels()), call.span)
                    call.trunk = f"{call.span}/-"
                pri = self.pri[call.span]
                call.pri_call = pri.place_call(now, call.dnis, self.config.outbound_ani or "")
                self._by_pri[(call.span, call.pri_call)] = call.id
            call.state = "dialling"
            self._call_event(call, "dialling")
        elif isinstance(ev, analog.Disconnected):
            del self._outbound[leg]
            call.agent_port = None
            if call.direct:
                self.acd.agent_busy_elsewhere(now, call.agent, False)
                call.direct = False
            self._hangup_trunk(now, call, 16)
            self._finish(now, call, "answered" if call.answer is not None else "no_answer", 16)

    #: Q.850 causes for how an FXO call out ended (the tones and line the FXO machine saw)
    FXO_CAUSES = {"busy": 17, "congestion": 34, "no_answer": 19, "no_dial_tone": 34,
                  "line_down": 38, "port_busy": 34, "glare": 34}

    def _idle_fxo(self) -> list[int]:
        """The idle FXO lines no call holds, in order (for calls out)."""
        held = {c.fxo_port for c in self.calls.values()}
        return [p for p, ap in sorted(self.analog.items())
                if ap.port.kind == "fxo" and p not in held
                and getattr(ap.machine, "state", None) is analog.FxoState.IDLE]

    def fxo_trunks_busy(self) -> tuple[int, int]:
        """(busy, total) of the FXO trunk lines: busy is every line not idle (ringing in,
        in a call, dialling out, or resting after one), as the R2 circuits count."""
        idle = analog.FxoState.IDLE
        busy = sum(1 for ap in self._fxo_trunks if getattr(ap.machine, "state", idle) is not idle)
        return busy, len(self._fxo_trunks)

    def _free_fxo(self) -> int | None:
        """An idle FXO line no call holds (for a call out)."""
        idle = self._idle_fxo()
        return idle[0] if idle else None

    def outbound_room(self) -> int:
        """How many more calls could go out now: free B-channels on the PRI spans and idle
        FXO lines, less the calls out still ringing their agent (each takes one when the
        agent answers)."""
        n = sum(len(p.q931.free_channels()) for p in self.pri.values()) + len(self._idle_fxo())
        return n - sum(1 for c in self.calls.values() if c.direction == "out"
                       and c.pri_call is None and c.fxo_port is None)

    def _fxo_outbound_event(self, now, leg, ev) -> None:
        """A call out on an FXO line: ringback heard, answered (polarity reversal or voice
        after ringback), or ended: busy tone (Q.850 17), congestion tone (34), no answer
        (19), no dial tone (34)."""
        call = self.calls[self._by_fxo[leg]]
        if isinstance(ev, (analog.Answered, analog.CallProgress)):
            self._outbound_progress(now, call, ev)
        elif isinstance(ev, analog.Disconnected):
            del self._by_fxo[leg]
            self._trunk_cleared(now, call, self.FXO_CAUSES.get(ev.reason, 16))

    def _outbound_progress(self, now, call: Call, ev) -> None:
        self._inject("outbound_progress", call)
        ts = getattr(ev, "timeslot", None)
        if ts and call.timeslot is None:
            call.timeslot = ts
            self._index_trunk(call)
            call.trunk = f"{call.span}/{ts}"
        if isinstance(ev, pri_mod.CallAlerting) or (isinstance(ev, analog.CallProgress)
                                                    and ev.tone == "ringback"):
            if call.state != "ringing":
                call.state = "ringing"
                self._call_event(call, "network_reached")
        elif isinstance(ev, (pri_mod.CallAnswered, analog.Answered)) and call.answer is None:
            call.answer = now
            call.conf = self.board.conference()
            call.conf.join(self._trunk_channel(call))
            call.conf.join(self.board.ports[call.agent_port])
            if self.config.record:
                self._trunk_channel(call).tap(True, "both")
                call.recording = Recording(os.path.join(self.config.recordings_dir,
                                                        f"{call.id}.wav"), self._law(call))
            call.state = "established"
            self._call_event(call, "established", extension=call.agent_port)

    @_request_guard()
    def pickup(self, now, call_id: str, agent: str) -> dict:
        """Call pickup: a colleague takes a call ringing another agent's phone. The ringing
        stops and the call rings the colleague's phone at once, outside the ACD."""
        call = self._call(call_id)
        if call.state != "delivered":
            raise ValueError(f"call {call_id} is {call.state}: only a ringing call can be "
                             f"picked up")
        a = self._agent(agent)
        ext = self.acd.agent_state(agent).extension or a.extension
        port = self.analog.get(ext)
        if port is None or getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
            raise ValueError(f"agent {agent}'s extension is not free")
        self._stop_ringing(now, call)
        if not call.direct and self.acd.call_queue(call.id) is not None:
            self.acd.remove(now, call.id, key="pickup")
            self._run_acd(now)
        self._call_event(call, "picked_up", by=agent)
        self._ring_direct(now, call, agent, ext)
        return {"call_id": call_id, "agent": agent}

    def set_forward(self, now, agent: str, to: str | None) -> dict:
        """Forward an agent's direct calls (transfers) to another agent or a queue."""
        self._agent(agent)
        if to is None or to == "":
            self.forward.pop(agent, None)
        else:
            if to not in self.agents and to.removeprefix("queue:") not in \
                    {q.name for q in self.config.queues}:
                raise LookupError(f"no agent or queue {to!r}")
            self.forward[agent] = to
        return {"agent": agent, "forward": self.forward.get(agent)}

    @_request_guard()
    def record(self, now, call_id: str, on: bool = True) -> dict:
        """Record this call whatever the queue's policy (on request), or stop recording."""
        call = self._call(call_id)
        if on and call.recording is None and call.answer is not None:
            self._trunk_channel(call).tap(True, "both")
            call.recording = Recording(os.path.join(self.config.recordings_dir,
                                                    f"{call.id}.wav"), self._law(call))
        call.record_requested = bool(on)
        if call.recording is not None:
            # paused: nothing more is kept until it resumes (the paused time is left out)
            if on:
                call.recording.resume()
            else:
                call.recording.pause()
        return {"call_id": call_id, "recording": bool(on)}

    def snapshot(self) -> dict:
        return {"calls": [self.call_info(c) for c in self.calls.values()],
                "agents": [self.agent_status(a) for a in self.agents],
                "queues": [self.acd.queue_status(q.name) for q in self.config.queues],
                "ivr_ports": {"total": self.config.ivr_ports, "in_use": self.ivr_ports.in_use},
                "counters": dict(self.counters)}

    def call_info(self, c: Call) -> dict:
        return {"call_id": c.id, "state": c.state, "trunk": c.trunk, "ani": c.ani,
                "dnis": c.dnis, "queue": c.queue, "agent": c.agent, "data": dict(c.data),
                "start": c.start}
