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

The cut. :class:`Centre` is a coordinator: it owns what the parts share (the board, the
spans and ports, the ACD, the IVR ports, the store, the counters, the calls' deadlines,
the fault-injection hook), hands each board event to the part that owns it, runs the
per-tick work (the ACD, the IVR timers, the deadlines), and keeps the requests the server
calls as thin delegations, with the failure guard around the call requests. The parts,
one concern each, one module each in this package, and their names on the centre:
the call record, the tables that find a call by its legs, and the events (calls.py:
``table``, ``events``); the trunk leg and the lines free for calls out (trunks.py:
``lines``); what the caller hears and what is recorded (callmedia.py: ``media``); calls
in: set-up, routing, the caller's hang-up (inbound.py: ``inbound``); the IVR on a call,
its timers, voicemail and callbacks (ivrcalls.py: ``ivr``); queueing, ringing and
connecting agents, the agents' phones (queueing.py: ``queueing``); blind and
consultative transfer, pickup, forwarding (transfer.py: ``transfers``); monitor,
whisper, barge, conference (supervision.py: ``supervision``); hang up, hold, retrieve,
record (controls.py: ``controls``); calls out by agents and the dialer, on PRI or FXO
(outbound.py: ``outbound``); the after-call survey (survey.py: ``survey``); the end of a
call, its CDR, and the clearing of a failed call (clearing.py: ``clearing``); the
agents' own requests (agents.py: ``roster``); what an agent dials at its own phone, the
login by DTMF among it (phones.py: ``phones``, running phonelogin.py's dialogue); the
snapshot and call views (snapshot.py: ``views``); a new configuration applied while calls
go on (reconfigure.py: ``reconfigure``, :meth:`Centre.apply_config`). The parts that need
only a few things (:class:`CallTable`, :class:`Events`, :class:`Trunks`, :class:`CallMedia`,
:class:`Roster`, :class:`Views`) are given them in their constructor and are tested alone
(tests/centre/test_centre_parts.py); the parts that carry a call from one stage to the
next are given the coordinator and reach their neighbours through it
(``centre.queueing.enqueue(...)``), as a call's life does.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cti.centre import acd as acd_mod
from cti.centre import ivr as ivr_mod
from cti.centre.agents import Roster
from cti.centre.barring import Barring, BarringConfig
from cti.centre.callmedia import CallMedia
from cti.centre.calls import CAUSE_FAILED, MAX_ERROR_TEXT  # noqa: F401 (importable here)
from cti.centre.calls import Call, CallFailed, CallTable, CtiEvent, Events
from cti.centre.clearing import Clearing, request_guard
from cti.centre.controls import CallControls
from cti.centre.inbound import Inbound
from cti.centre.ivrcalls import IvrCalls
from cti.centre.outbound import Outbound
from cti.centre.phonelogin import PhoneLoginConfig
from cti.centre.phones import Phones
from cti.centre.queueing import Queueing
from cti.centre.reconfigure import Reconfigure
from cti.centre.snapshot import Views
from cti.centre.supervision import Supervision
from cti.centre.survey import Survey
from cti.centre.timelimits import REASON, TimeLimitConfig, TimeLimits, limit_for
from cti.centre.transfer import DIRECT_RING_TIMEOUT, Transfers
from cti.centre.trunks import FXO_CAUSES, Trunks
from drivers.board import Audio, DigitDetected, ToneDone
from drivers.sig import analog
from drivers.sig import pri as pri_mod

__all__ = ["Centre", "CentreConfig", "CtiEvent", "Call", "CallFailed"]


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
    phone_login: PhoneLoginConfig = field(default_factory=PhoneLoginConfig)  # feature codes
    # the codes an agent may give a call it wraps up (call.wrapup; [centre] wrapup_codes)
    wrapup_codes: tuple = ("resolved", "callback", "sale", "no_sale", "complaint",
                           "wrong_number", "other")
    barring: BarringConfig = field(default_factory=BarringConfig)  # call barring's rule sets
    time_limits: TimeLimitConfig = field(default_factory=TimeLimitConfig)  # warning, per agent


class Centre:
    """The call-centre core on one board.

    One failing call never ends the others (ARCHITECTURE.md rule 7): an exception while
    handling one call's event (a board event, an ACD event, an IVR timer, a deadline) or
    a request on it is logged with its traceback (logger ``cti.centre``), counted
    (``counters["errors"]``), published as a ``server.error`` event, and the call is
    cleared with Q.850 cause 41 and a CDR of outcome ``failed`` (see
    :meth:`cti.centre.clearing.Clearing.fail_call`).

    The class is about 480 lines and kept whole: most of it is one-line delegations, the
    centre's interface to the server, each to the part that owns the concern; the rest is
    the dispatch of a tick's events, which must read in one place.
    """

    #: A test hook: None in production; a callable ``(where, call)`` the centre calls at
    #: named points of a call's handling, which may raise to prove the above.
    fault_injector = None

    FXO_CAUSES = FXO_CAUSES

    def __init__(self, board, config: CentreConfig, *, pri: dict | None = None,
                 r2: dict | None = None,
                 analog_ports: dict | None = None, store=None, prompts=None, seed: int = 0,
                 epoch: float = 0.0, call_ids: str = "c", check_pin=None, audit=None):
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
        # an agent's PIN, checked by the accounts (the centre knows no store of them):
        # (agent, pin, now) -> "ok" | "bad" | "locked" | "unknown", or a Future of it;
        # None: no phone login succeeds
        self.check_pin = check_pin
        # (agent, port, op, refused) of every login, logout, ready, not ready at a phone
        self.audit = audit
        self.acd = acd_mod.Acd(list(config.queues), list(config.agents), seed=seed)
        self.ivr_ports = ivr_mod.IvrPorts(config.ivr_ports)
        self.agents = {a.id: a for a in config.agents}
        self.now = 0.0
        # "offered" counts calls in, "ring_no_answer" rings that timed out; every other
        # counter is a CDR outcome, counted once when the call ends, so that
        # offered == sum(outcomes) + calls in progress
        self.counters = {"offered": 0, "answered": 0, "no_ivr_port": 0, "abandoned_ivr": 0,
                         "abandoned_queue": 0, "abandoned_ring": 0, "ring_no_answer": 0,
                         "voicemail": 0, "callback": 0, "timeout": 0, "failed": 0,
                         "transfers": 0, "transfers_direct": 0, "dissuaded": 0,
                         "errors": 0}
        # per-tick work only where it is due: the few calls with a deadline of their own
        # (a direct ring, a voicemail, a survey); the IVR's timers are ivrcalls.py's
        self.deadlines: set[str] = set()
        # the calls' time limits, on line time (timelimits.py)
        self.time_limits = TimeLimits()
        self.table = CallTable(call_ids)
        self.calls: dict[str, Call] = self.table.calls
        self.events = Events()
        # the parts (see the module doc)
        self.lines = Trunks(board, self.trunks, self.pri, self.analog, self.table, config)
        self.media = CallMedia(self.lines, self.table, self.events, prompts, config,
                               self.counters)
        self.clearing = Clearing(self)
        self.inbound = Inbound(self)
        self.ivr = IvrCalls(self)
        self.queueing = Queueing(self)
        self.roster = Roster(self.agents, self.acd, self.analog, self.queueing.run_acd,
                             self._agent_on_call)
        self.transfers = Transfers(self)
        self.supervision = Supervision(self)
        self.controls = CallControls(self)
        self.outbound = Outbound(self)
        self.survey = Survey(self)
        self.views = Views(self.calls, self.agents, self.roster.status, self.acd, config,
                           self.ivr_ports, self.counters)
        self.reconfigure = Reconfigure(self)
        self.phones = Phones(self)
        for port in self.analog.values():
            if port.port.kind == "fxs":
                port.port.detect("dtmf")
        self.phones.setup_ports()

    @property
    def barring(self) -> Barring:
        """The call barring of the configuration in force (a reload replaces it)."""
        cfg = self.config.barring
        if getattr(self, "_barring", None) is None or self._barring.cfg is not cfg:
            self._barring = Barring(cfg)
        return self._barring

    def agent_queues(self, agent: str) -> list[str]:
        """The queues ``agent`` serves, in the configuration's order."""
        return [n for n, q in self.queueing.queue_cfg.items()
                if any(m.agent == agent for m in q.members)]

    def inject(self, where: str, call: Call | None) -> None:
        """A named point of a call's handling, where a test's injector may raise."""
        if self.fault_injector is not None and call is not None:
            self.fault_injector(where, call)

    # ---- the tick ------------------------------------------------------------------

    def handle(self, now: float, events: list) -> list[CtiEvent]:
        """The board's events of one tick in, CTI events out."""
        self.now = now
        table = self.table
        self.phones.new_tick()
        for ev in events:
            # the call the event is about, found before handling it (handling may unindex
            # it), so that a failure clears that call and the next event goes on
            call = None if isinstance(ev, Audio) else table.call_of(ev)
            last_new = table.last_new
            try:
                if isinstance(ev, pri_mod.CallOffered):
                    self.inbound.pri_offered(now, ev)
                elif isinstance(ev, pri_mod.CallDigits):
                    self.inbound.pri_digits(now, ev)
                elif isinstance(ev, (pri_mod.CallProceeding, pri_mod.CallAlerting,
                                     pri_mod.CallAnswered)):
                    cid = table.by_pri.get((ev.span, ev.call))
                    if cid in self.calls and self.calls[cid].direction == "out":
                        self.outbound.progress(now, self.calls[cid], ev)
                elif isinstance(ev, pri_mod.CallCleared):
                    cid = table.by_pri.pop((ev.span, ev.call), None)
                    self.inbound.overlap_cleared(ev.span, ev.call)
                    if cid in self.calls:
                        self.inbound.trunk_cleared(now, self.calls[cid], ev.cause)
                elif isinstance(ev, analog.AnalogCallEvent):
                    self._analog_event(now, ev.port, ev.event)
                elif isinstance(ev, DigitDetected):
                    self._digit(now, ev)
                elif isinstance(ev, ToneDone):
                    self._tone_done(now, ev)
                elif isinstance(ev, Audio):
                    self.media.audio(ev)
            except Exception as exc:
                if call is None and table.last_new is not last_new:
                    call = table.last_new            # the call this offer made
                self.clearing.fail_call(now, call or table.call_of(ev), type(ev).__name__,
                                        exc)
        if self.inbound.overlap:
            last_new = table.last_new
            try:
                self.inbound.overlap_timeouts(now)
            except Exception as exc:        # as an offer's failure: the call it made
                self.clearing.fail_call(now, table.last_new if table.last_new is not last_new
                                        else None, "overlap", exc)
        self.queueing.run_acd(now)
        self.ivr.wake(now)
        if self.reconfigure.pending:
            # agents removed by a reload whose call has ended, queues drained: they go now
            try:
                self.reconfigure.retire(now)
            except Exception as exc:
                self.clearing.fail_call(now, None, "reconfigure", exc)
        if self.phones.sessions:
            self.phones.tick(now)
        if self.time_limits.timers:
            self._time_limits(now)
        for cid in sorted(self.deadlines):
            call = self.calls.get(cid)
            if call is None or not (call.direct or call.voicemail is not None
                                    or call.state == "survey"):
                self.deadlines.discard(cid)
                continue
            try:
                self._deadline(now, call)
            except Exception as exc:
                self.clearing.fail_call(now, call, "deadline", exc)
        return self.events.take()

    def limit_call(self, now, call: Call) -> None:
        """A call just established: its time limit armed (once: a transfer keeps the
        limit it had from its first answer), when its queue, agent or campaign sets one."""
        if call.time_limit is not None:
            return
        q = self.queueing.queue_cfg.get(call.queue) if call.queue else None
        tl = self.config.time_limits
        found = limit_for(queue=(call.queue, q.max_talk) if q else None,
                          agent=(call.agent, tl.agents.get(call.agent)) if call.agent else None,
                          campaign=(call.data.get("campaign"), call.campaign_limit))
        if found is None:
            return
        call.time_limit = found[0]
        self.time_limits.arm(call.id, now, found[0], found[1], tl.warning)

    def _time_limits(self, now) -> None:
        """Calls at their warning (the tone to both sides) or at their limit (cleared,
        with the reason on the CDR)."""
        tl = self.config.time_limits
        for what, cid, timer in self.time_limits.due(now):
            call = self.calls.get(cid)
            if call is None or call.state not in ("established", "held"):
                continue
            try:
                self.inject("time_limit", call)
                if what == "warn":
                    # mixed into the call: the caller hears it on the trunk channel, the
                    # agent on its phone
                    self.lines.channel(call).tone(tl.tone_hz, ms=tl.tone_ms)
                    if call.agent_port is not None:
                        self.board.ports[call.agent_port].tone(tl.tone_hz, ms=tl.tone_ms)
                    self.events.call_event(call, "time_warning", limit=timer.limit,
                                           left=round(timer.end_at - now, 3),
                                           source=timer.source)
                else:
                    call.reason = REASON
                    self.controls.hangup(now, call.id)
            except Exception as exc:
                self.clearing.fail_call(now, call, "time_limit", exc)

    def _deadline(self, now, call: Call) -> None:
        """A call's own deadline: a direct ring unanswered, a voicemail full, a survey
        with no key."""
        if call.direct and call.state == "delivered" and call.direct_until is not None \
                and now >= call.direct_until:
            self.inject("deadline", call)
            self.transfers.direct_no_answer(now, call)
        if call.voicemail is not None and call.voicemail.full:
            self.inject("deadline", call)
            self.lines.hangup(now, call, 16)
            self.clearing.finish(now, call, "voicemail", 16)
        if call.state == "survey" and now >= call.survey_until:
            self.inject("deadline", call)
            self.survey.end(now, call)          # no key in time: NULL

    # ---- the line's events, to the part that owns them --------------------------------

    def _digit(self, now, ev) -> None:
        """A DTMF digit on a trunk channel: the survey's rating, or the IVR's; on an
        agent's phone: its login dialogue's."""
        if ev.span == 0 and self.phones.sessions and \
                self.phones.digit(now, ev.timeslot, ev.digit):
            return
        for call in self.table.on_channel(ev):
            self.inject("digit", call)
            if call.state == "survey":
                self.survey.key(now, call, ev.digit)
                return
            if call.ivr is not None:
                call.ivr.digit(now, ev.digit)
                self.ivr.run(now, call)
                return

    def _tone_done(self, now, ev) -> None:
        """A played buffer ended on a trunk channel: music on hold loops, the IVR goes on."""
        if ev.what != "play":
            return
        if ev.span == 0 and self.phones.sessions and \
                self.phones.prompt_done(now, ev.timeslot, bool(ev.played)):
            return
        for call in self.table.on_channel(ev):
            self.inject("tone_done", call)
            if call.moh:
                self.media.play(call, [self.config.moh])      # music on hold loops
                return
            call.playing = False
            if call.ivr is not None:
                call.ivr.prompt_done(now, getattr(call, "play_id", None))
                self.ivr.run(now, call)
            return

    def _analog_event(self, now, port: int, ev) -> None:
        """An analog port's call event, by the leg it is on: a call out on an FXO line, a
        supervisor's or consulted agent's phone, a click-to-dial's agent phone, an agent's
        phone rung or connected by a call, or an FXO line ringing in or cleared."""
        table = self.table
        if self.phones.owns(port, ev):          # an agent's phone dialling a feature code
            self.phones.event(now, port, ev)
            return
        leg = (port, getattr(ev, "call", None))
        if leg in table.by_fxo and self.calls.get(table.by_fxo[leg]) is not None and \
                self.calls[table.by_fxo[leg]].direction == "out":
            self.outbound.fxo_event(now, leg, ev)
            return
        if leg in table.supervisors:
            self.supervision.event(now, leg, ev)
            return
        if leg in table.outbound:
            self.outbound.agent_event(now, leg, ev)
            return
        cid = table.by_agent_leg.get(leg)
        call = self.calls.get(cid) if cid else None
        self.inject("agent_phone", call)
        if isinstance(ev, analog.Answered) and call is not None and port in (
                p for p, _ in call.ringing.values()):
            self.queueing.phone_answered(now, call, port)
        elif isinstance(ev, analog.Disconnected) and call is not None \
                and (port, ev.call) in call.ringing.values():
            self.queueing.phone_busy(now, call, port, ev.call)
        elif isinstance(ev, analog.Disconnected) and call is not None:
            if call.agent_port == port and call.state in ("established", "held"):
                self.queueing.agent_hung_up(now, call, port, ev.call)
        elif isinstance(ev, analog.CallOffered) and port in self.analog:
            self.inbound.fxo_offered(now, port, ev)
        elif isinstance(ev, analog.Disconnected) and (port, ev.call) in table.by_fxo:
            c = self.calls.get(table.by_fxo.pop((port, ev.call)))
            if c is not None:
                self.inbound.trunk_cleared(now, c, 16)

    # ---- requests (agents, supervisors, integrators) ----------------------------------

    def apply_config(self, now, config: CentreConfig) -> dict:
        """A new configuration while the centre runs (``cti reload``): what can change live
        is applied, calls in progress go on; the summary of the changes per kind and what
        needs a restart (cti/centre/reconfigure.py). ValueError, and nothing changed, when
        it cannot run on this board."""
        return self.reconfigure.apply(now, config)

    def _agent_on_call(self, agent: str) -> bool:
        """A call still has ``agent``: connected to it, ringing it, or busy outside the
        ACD (a transfer, a consultation, a call out, supervising)."""
        if self.acd.agent_state(agent).busy_elsewhere:
            return True
        return any(c.agent == agent or agent in c.ringing for c in self.calls.values())

    def agent_login(self, now, agent: str, extension: int | None = None, *,
                    ready: bool = True, reason: str = "") -> dict:
        return self.roster.login(now, agent, extension, ready=ready, reason=reason)

    def check_extension(self, agent: str, extension: int | None = None) -> int | None:
        """The extension ``agent`` logs in at (default: its configured one), checked."""
        return self.roster.check_extension(agent, extension)

    def audit_phone(self, agent: str, port: int, op: str, refused: str | None) -> None:
        """A login, logout, ready or not ready at a phone, for the audit (never a PIN)."""
        if self.audit is not None:
            try:
                self.audit(agent, port, op, refused)
            except Exception:
                logging.getLogger("cti.centre").exception("audit of %s at fxs/%s", op, port)

    def agent_logout(self, now, agent: str) -> dict:
        return self.roster.logout(now, agent)

    def agent_ready(self, now, agent: str) -> dict:
        return self.roster.ready(now, agent)

    def agent_not_ready(self, now, agent: str, reason: str = "") -> dict:
        return self.roster.not_ready(now, agent, reason)

    def agent_status(self, agent: str) -> dict:
        return self.roster.status(agent)

    def add_agent(self, now, agent, queues: dict[str, int] | None = None) -> dict:
        """An agent added live (an administrator's ``admin.agent.add``): ``agent`` an
        acd.AgentConfig, logged out, member of ``queues`` (name -> penalty) at once, so it
        can log in and take calls without a restart."""
        for q in queues or {}:
            if not self.acd.has_queue(q):
                raise LookupError(f"no queue {q!r}")
        status = self.roster.add_agent(now, agent)
        for q, penalty in (queues or {}).items():
            self.acd.add_member(now, q, agent.id, penalty)
        self.queueing.run_acd(now)
        return status

    def update_agent(self, now, agent) -> None:
        """An agent's configuration changed live (name, extension, skills): a logged-in
        agent keeps the extension it logged in at until it logs out."""
        self._agent(agent.id)
        if agent.extension is not None:
            self._fxs(agent.extension)
        self.acd.update_agent(agent)
        self.agents[agent.id] = agent

    def set_queue_member(self, now, agent: str, queue: str, penalty: int | None) -> None:
        """An agent put in a queue (``penalty``) or taken out (None) live."""
        self._agent(agent)
        if penalty is None:
            self.acd.remove_member(now, queue, agent)
        else:
            self.acd.add_member(now, queue, agent, penalty)
        self.queueing.run_acd(now)

    def remove_agent(self, now, agent: str) -> None:
        """An agent taken off the roster live (``admin.agent.remove``): refused (ValueError)
        while it is logged in or a call has it, unlike a reload's removal, which lets the
        call end first (an administrator logs the agent out first, and sees why not)."""
        st = self.roster.status(agent)
        if self._agent_on_call(agent) or st["call"] is not None:
            raise ValueError(f"agent {agent!r} is on call {st['call'] or ''}: not removed")
        if st["state"] != "logged_out":
            raise ValueError(f"agent {agent!r} is logged in ({st['state']}): log it out first")
        self.roster.remove_agent(now, agent)

    def _fxs(self, ext: int) -> None:
        if ext not in self.analog or self.analog[ext].port.kind != "fxs":
            raise LookupError(f"extension {ext} is not an FXS port of this board")

    @request_guard()
    def hangup(self, now, call_id: str) -> dict:
        return self.controls.hangup(now, call_id)

    @request_guard()
    def transfer(self, now, call_id: str, to: str, data: dict | None = None) -> dict:
        return self.transfers.transfer(now, call_id, to, data)

    @request_guard()
    def hold(self, now, call_id: str) -> dict:
        return self.controls.hold(now, call_id)

    @request_guard()
    def retrieve(self, now, call_id: str) -> dict:
        return self.controls.retrieve(now, call_id)

    @request_guard()
    def supervise(self, now, call_id: str, supervisor: str, mode: str = "monitor") -> dict:
        return self.supervision.supervise(now, call_id, supervisor, mode)

    @request_guard()
    def consult(self, now, call_id: str, to: str) -> dict:
        return self.transfers.consult(now, call_id, to)

    @request_guard()
    def transfer_complete(self, now, call_id: str, data: dict | None = None) -> dict:
        return self.transfers.transfer_complete(now, call_id, data)

    @request_guard(creates=True)
    def make_call(self, now, agent: str, number: str, span: int | None = None) -> dict:
        return self.outbound.make_call(now, agent, number, span)

    @request_guard()
    def pickup(self, now, call_id: str, agent: str) -> dict:
        return self.transfers.pickup(now, call_id, agent)

    def set_forward(self, now, agent: str, to: str | None) -> dict:
        return self.transfers.set_forward(now, agent, to)

    @request_guard()
    def record(self, now, call_id: str, on: bool = True) -> dict:
        return self.controls.record(now, call_id, on)

    # ---- views ---------------------------------------------------------------------------

    def snapshot(self) -> dict:
        return self.views.snapshot()

    def call_info(self, c: Call) -> dict:
        return self.views.call_info(c)

    def records_on(self, span: int, timeslot: int) -> bool:
        """A call on this trunk channel (span 0: an FXO port) is being recorded (a call
        recording or a voicemail message): its tap must stay on, both ways."""
        return self.table.records_on(span, timeslot)

    def fxo_trunks_busy(self) -> tuple[int, int]:
        return self.lines.fxo_trunks_busy()

    def outbound_room(self) -> int:
        return self.lines.outbound_room()

    @property
    def forward(self) -> dict[str, str]:
        """Agent -> the agent or ``queue:NAME`` its direct calls go to."""
        return self.transfers.forward

    # the names the parts' tables had on the centre (tests, campaigns.py)
    def _agent(self, agent: str):
        return self.roster.agent(agent)

    def _call(self, call_id: str) -> Call:
        return self.table.call(call_id)

    def _index_trunk(self, call: Call) -> None:
        self.table.index_trunk(call)

    _trunk_calls = property(lambda self: self.table.trunk_calls)
    _by_pri = property(lambda self: self.table.by_pri)
    _by_fxo = property(lambda self: self.table.by_fxo)
    _by_agent_leg = property(lambda self: self.table.by_agent_leg)
    _outbound = property(lambda self: self.table.outbound)
    _supervisors = property(lambda self: self.table.supervisors)
    _queue_cfg = property(lambda self: self.queueing.queue_cfg)
