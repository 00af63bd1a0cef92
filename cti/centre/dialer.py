"""The outbound dialer: campaigns of records dialled over the board's trunks.

Two modes, as the field names them:

* **preview**: the agent asks for the next record, sees it (name, number, attached
  data) on the desktop, and dials it or skips it;
* **progressive**: when an agent of the campaign is free (ready, idle in the ACD), the
  dialer reserves that agent and places the call: one call per free agent, never more
  (no over-dialling, so no caller ever answers to silence).

Every attempt ends in a call-progress result taken from the Q.850 cause of the clearing
(:func:`outcome_of`; on an analog FXO line the centre turns the tones it heard into the
cause: busy tone 17, congestion tone 34): answered; busy; no answer (the network's, or our own no-answer
timer); congestion (all trunks busy, here or in the network); vacant number; failed.
Per campaign, a :class:`RetryRule` per result says how many attempts a record may have in
all and how long to wait before the next (busy again after 5 minutes, no answer after 30,
a vacant number never). A number on the do-not-call list is never dialled: the list is
checked at dial time, so a number added after the list was loaded is still honoured.

A campaign may be *gated*: it dials only while :class:`Tick` says ``after_peak`` (the
built-in ``callbacks`` campaign, which calls back the callers the IVR or a queue promised
a callback, works only after the inbound peak; :class:`PeakGate` decides when that is).

Sans-I/O (ARCHITECTURE.md rule 1): :meth:`Dialer.handle` takes the line time and one
input (a :class:`Tick` with the agents free now, or what became of a call) and returns
outputs (:class:`Dial`, :class:`Hangup`, :class:`PreviewOffer`, :class:`AttemptDone`,
:class:`RecordChanged`, :class:`CampaignFinished`). It places no call, reads no clock and
writes no file; :mod:`cti.centre.campaigns` runs it on the centre and the store.
"""
from __future__ import annotations

import collections
import heapq
import math
from dataclasses import dataclass, field
from typing import Iterable

from drivers.numbers import NumberSet

__all__ = [
    "Dialer", "DialerError", "CampaignConfig", "RetryRule", "Record", "DEFAULT_RULES",
    "MODES", "OUTCOMES", "FINAL_STATES", "outcome_of", "PeakGate",
    "Tick", "CallPlaced", "DialFailed", "NetworkDialling", "CallAnswered", "CallEnded",
    "PreviewNext", "PreviewDial", "PreviewSkip",
    "Dial", "Hangup", "PreviewOffer", "AttemptDone", "RecordChanged", "CampaignFinished",
]

MODES = ("preview", "progressive")
OUTCOMES = ("answered", "busy", "no_answer", "congestion", "vacant", "failed")
FINAL_STATES = ("done", "failed", "dnc", "skipped")

# Q.850 table 1: the causes a call-progress result is read from.
CAUSE_VACANT = frozenset({1, 22, 28})             # unallocated number, number changed,
                                                  # invalid number format
CAUSE_BUSY = frozenset({17})                      # user busy
CAUSE_NO_ANSWER = frozenset({16, 18, 19})         # no user responding, no answer (alerted);
                                                  # normal clearing before any answer
CAUSE_CONGESTION = frozenset({34, 38, 41, 42, 44, 47})   # no circuit/channel available,
                                                  # network out of order, temporary failure,
                                                  # switching equipment congestion, requested
                                                  # circuit not available, resource unavailable


def outcome_of(cause: int | None, answered: bool = False) -> str:
    """The call-progress result of a call that ended with Q.850 ``cause``.

    ``answered`` wins whatever the cause (a call answered and later cleared is answered).
    Cause 17 is busy; 18 and 19 no answer (and 16, normal clearing, before any answer:
    the far end gave up ringing); 34 "no circuit/channel available" and its friends
    (38, 41, 42, 44, 47) congestion; 1 "unallocated (unassigned) number", 22 "number
    changed" and 28 "invalid number format" a vacant number; anything else failed.
    """
    if answered:
        return "answered"
    if cause in CAUSE_BUSY:
        return "busy"
    if cause in CAUSE_NO_ANSWER:
        return "no_answer"
    if cause in CAUSE_CONGESTION:
        return "congestion"
    if cause in CAUSE_VACANT:
        return "vacant"
    return "failed"


class DialerError(ValueError):
    """A request the dialer cannot do (no such campaign, agent already reserved, ...)."""


@dataclass(frozen=True)
class RetryRule:
    """After an attempt with this result: a record may have ``max_attempts`` attempts in
    all (1: never again) and the next one comes ``delay`` seconds later."""

    max_attempts: int
    delay: float = 0.0

    def __post_init__(self):
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise DialerError(f"max_attempts: must be an integer of 1 or more, "
                              f"not {self.max_attempts!r}")
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) \
                or not math.isfinite(self.delay) or self.delay < 0:
            raise DialerError(f"delay: must be a number of seconds >= 0, not {self.delay!r}")


#: Busy again after 5 minutes, no answer after 30, congestion after 1, a vacant number
#: never; up to 3 attempts in all.
DEFAULT_RULES: dict[str, RetryRule] = {
    "busy": RetryRule(3, 300.0),
    "no_answer": RetryRule(3, 1800.0),
    "congestion": RetryRule(3, 60.0),
    "vacant": RetryRule(1, 0.0),
    "failed": RetryRule(2, 600.0),
}


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign: ``mode`` preview or progressive; ``agents`` who work it (empty: every
    agent); ``rules`` the :class:`RetryRule` per result (a result without one is never
    retried); ``no_answer_timeout``: seconds the far end may ring before we give up
    (our own no-answer); ``agent_answer_timeout``: seconds the reserved agent's phone may
    ring (an agent who does not answer costs the record no attempt; the agent is paused);
    ``gated``: dial only after the peak."""

    name: str
    mode: str = "progressive"
    agents: tuple[str, ...] = ()
    rules: dict = field(default_factory=lambda: dict(DEFAULT_RULES))
    no_answer_timeout: float = 30.0
    agent_answer_timeout: float = 20.0
    gated: bool = False
    max_talk: float | None = None       # seconds a call may last (cti/centre/timelimits.py)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise DialerError("name: a campaign has a name")
        if self.mode not in MODES:
            raise DialerError(f"mode: must be preview or progressive, not {self.mode!r}")
        for k, r in self.rules.items():
            if k not in OUTCOMES or k == "answered":
                raise DialerError(f"rules.{k}: no such result to retry "
                                  f"(results: {', '.join(OUTCOMES[1:])})")
            if not isinstance(r, RetryRule):
                raise DialerError(f"rules.{k}: must be a RetryRule")
        for k in ("no_answer_timeout", "agent_answer_timeout"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise DialerError(f"{k}: must be a number of seconds > 0, not {v!r}")
        v = self.max_talk
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not v > 0):
            raise DialerError(f"max_talk: must be a number of seconds > 0, not {v!r}")

    def to_dict(self) -> dict:
        return {"mode": self.mode, "agents": list(self.agents),
                "rules": {k: {"max_attempts": r.max_attempts, "delay": r.delay}
                          for k, r in self.rules.items()},
                "no_answer_timeout": self.no_answer_timeout,
                "agent_answer_timeout": self.agent_answer_timeout, "gated": self.gated,
                **({"max_talk": self.max_talk} if self.max_talk is not None else {})}

    @classmethod
    def from_dict(cls, name: str, d: dict) -> "CampaignConfig":
        """From the stored (or requested) form; every error names the field."""
        known = ("mode", "agents", "rules", "no_answer_timeout", "agent_answer_timeout",
                 "gated", "max_talk")
        for k in d:
            if k not in known:
                raise DialerError(f"{k}: no such campaign setting (settings: {', '.join(known)})")
        rules = dict(DEFAULT_RULES)
        given = d.get("rules") or {}
        if not isinstance(given, dict):
            raise DialerError("rules: must be a table of result = {max_attempts, delay}")
        for k, r in given.items():
            if not isinstance(r, dict) or set(r) - {"max_attempts", "delay"}:
                raise DialerError(f"rules.{k}: must be {{max_attempts, delay}}")
            try:
                rules[k] = RetryRule(r.get("max_attempts", 1), r.get("delay", 0.0))
            except DialerError as e:
                raise DialerError(f"rules.{k}.{e}") from None
        agents = d.get("agents") or ()
        if not isinstance(agents, (list, tuple)) or not all(isinstance(a, str) for a in agents):
            raise DialerError("agents: must be a list of agent ids")
        return cls(name, d.get("mode", "progressive"), tuple(agents), rules,
                   d.get("no_answer_timeout", 30.0), d.get("agent_answer_timeout", 20.0),
                   bool(d.get("gated", False)), d.get("max_talk"))


@dataclass
class Record:
    """One number of a campaign's list and how far it got."""

    id: int
    number: str
    name: str | None = None
    data: dict = field(default_factory=dict)
    state: str = "pending"          # pending, dialling; final: done, failed, dnc, skipped
    attempts: int = 0
    last_outcome: str | None = None
    next_at: float = 0.0
    done: float | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "number": self.number, "name": self.name,
                "data": dict(self.data), "state": self.state, "attempts": self.attempts,
                "last_outcome": self.last_outcome, "next_at": self.next_at, "done": self.done}


# ---- inputs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Tick:
    """The line time moved on: ``free_agents`` are ready and idle in the ACD (with their
    phone on hook) now; ``after_peak`` opens gated campaigns."""

    free_agents: frozenset = frozenset()
    after_peak: bool = True


@dataclass(frozen=True)
class CallPlaced:
    """The shell placed :class:`Dial` ``attempt`` as call ``call_id``."""

    attempt: int
    call_id: str


@dataclass(frozen=True)
class DialFailed:
    """The shell could not place ``attempt`` at all (e.g. every B-channel busy: cause 34)."""

    attempt: int
    cause: int | None = 34


@dataclass(frozen=True)
class NetworkDialling:
    """The agent answered their phone and the number went out (the no-answer timer starts)."""

    call_id: str


@dataclass(frozen=True)
class CallAnswered:
    call_id: str


@dataclass(frozen=True)
class CallEnded:
    """The call is over: Q.850 ``cause`` of its clearing."""

    call_id: str
    cause: int | None
    answered: bool = False


@dataclass(frozen=True)
class PreviewNext:
    """A preview agent asks for the next record of ``campaign``."""

    agent: str
    campaign: str


@dataclass(frozen=True)
class PreviewDial:
    agent: str


@dataclass(frozen=True)
class PreviewSkip:
    agent: str


# ---- outputs --------------------------------------------------------------------------

@dataclass(frozen=True)
class Dial:
    """Place a call from ``agent`` to ``number`` (the agent's phone rings first)."""

    attempt: int
    campaign: str
    record: int
    number: str
    agent: str
    data: dict


@dataclass(frozen=True)
class Hangup:
    """Clear ``call_id``: ``reason`` no_answer (our timer) or agent_no_answer (the
    reserved agent did not answer their phone; pause the agent)."""

    call_id: str
    agent: str
    reason: str


@dataclass(frozen=True)
class PreviewOffer:
    campaign: str
    agent: str
    record: dict


@dataclass(frozen=True)
class AttemptDone:
    """One attempt's result, for the campaign's results table."""

    campaign: str
    record: int
    number: str
    time: float
    agent: str | None
    outcome: str
    cause: int | None
    call_id: str | None


@dataclass(frozen=True)
class RecordChanged:
    campaign: str
    record: dict
    call_id: str | None = None


@dataclass(frozen=True)
class CampaignFinished:
    campaign: str


# ---- the state machine ----------------------------------------------------------------

@dataclass
class _Attempt:
    id: int
    campaign: str
    record: Record
    agent: str
    started: float
    deadline: float
    call_id: str | None = None
    dialling: bool = False          # the number went out to the network
    answered: bool = False
    timed_out: bool = False         # we hung up on our no-answer timer
    reported: bool = False          # its AttemptDone has gone out


@dataclass
class _Campaign:
    cfg: CampaignConfig
    state: str = "stopped"          # stopped, running, paused, finished
    records: dict = field(default_factory=dict)     # id -> Record, in list order
    queue: list = field(default_factory=list)     # heap of (next_at, id): due first, then
                                                  # oldest first


class Dialer:
    """Campaigns, their records, the agents they hold and the calls they have out."""

    def __init__(self, dnc: Iterable[str] = ()):
        # compared in normal form: +86/0086/trunk 0 written or not (drivers/numbers.py)
        self.dnc = NumberSet(dnc)
        self.campaigns: dict[str, _Campaign] = {}
        self._attempts: dict[int, _Attempt] = {}
        self._by_call: dict[str, int] = {}
        self._reserved: dict[str, int | tuple] = {}    # agent -> attempt id, or a preview
        self._next_attempt = 1

    # -- campaigns -----------------------------------------------------------------
    def add_campaign(self, cfg: CampaignConfig, state: str = "stopped") -> None:
        if cfg.name in self.campaigns:
            raise DialerError(f"campaign {cfg.name!r} already exists")
        self.campaigns[cfg.name] = _Campaign(cfg, state)

    def campaign(self, name: str) -> _Campaign:
        try:
            return self.campaigns[name]
        except KeyError:
            raise DialerError(f"no campaign {name!r} (campaigns: "
                              f"{', '.join(self.campaigns) or 'none'})") from None

    def add_records(self, name: str, records: Iterable[Record]) -> None:
        """Records join the end of the campaign's list (a finished campaign runs again).
        A record loaded as ``dialling`` (the server stopped mid-call) is pending again."""
        c = self.campaign(name)
        for r in records:
            if r.id in c.records:
                continue
            if r.state == "dialling":
                r.state = "pending"
            c.records[r.id] = r
            if r.state == "pending":
                self._requeue(c, r)
        if c.state == "finished" and c.queue:
            c.state = "running"

    def forget(self, name: str, record_id: int) -> bool:
        """Drop a record in a final state from memory (the store keeps its row): the
        built-in callbacks campaign takes new records for as long as the server runs,
        and would otherwise hold every callback ever asked for. True if dropped."""
        c = self.campaign(name)
        r = c.records.get(record_id)
        if r is None or r.state not in FINAL_STATES:
            return False
        del c.records[record_id]
        return True

    def set_state(self, name: str, state: str) -> None:
        """start (running), pause, stop: paused and stopped campaigns dial nothing new;
        the calls they have out go on to their result."""
        c = self.campaign(name)
        if state not in ("running", "paused", "stopped"):
            raise DialerError(f"state: must be running, paused or stopped, not {state!r}")
        if state == "running" and not self._live(c):
            c.state = "finished"
            return
        c.state = state

    def status(self, name: str) -> dict:
        c = self.campaign(name)
        states = collections.Counter(r.state for r in c.records.values())
        return {"campaign": name, "mode": c.cfg.mode, "state": c.state,
                "records": len(c.records), "by_state": dict(states),
                "attempts": sum(r.attempts for r in c.records.values()),
                "calls": sorted(a.call_id for a in self._attempts.values()
                                if a.campaign == name and a.call_id),
                "config": c.cfg.to_dict()}

    def reserved(self) -> dict[str, str]:
        """Agent -> campaign, for the agents the dialer holds now."""
        out = {}
        for agent, v in self._reserved.items():
            out[agent] = v[1] if isinstance(v, tuple) else self._attempts[v].campaign
        return out

    def live_calls(self) -> int:
        return len(self._attempts)

    def wants_agents(self, now: float, after_peak: bool = True) -> bool:
        """Would a :class:`Tick` now use free agents (a running progressive campaign, open
        if gated, with a record due)? The shell asks before it looks for free agents."""
        for c in self.campaigns.values():
            if c.state == "running" and c.cfg.mode == "progressive" and c.queue \
                    and (after_peak or not c.cfg.gated) and c.queue[0][0] <= now:
                return True
        return False

    # -- timers --------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """When something is next due: a no-answer timer, or a retry."""
        due = [a.deadline for a in self._attempts.values() if not a.answered]
        for c in self.campaigns.values():
            if c.state == "running":
                due += [t for t, _ in c.queue[:1]]
        return min(due, default=None)

    # -- the one entry point -------------------------------------------------------
    def handle(self, now: float, inp) -> list:
        out: list = []
        if isinstance(inp, Tick):
            self._timers(now, out)
            self._progressive(now, inp, out)
        elif isinstance(inp, CallPlaced):
            a = self._attempts.get(inp.attempt)
            if a is not None:
                a.call_id = inp.call_id
                self._by_call[inp.call_id] = a.id
        elif isinstance(inp, DialFailed):
            a = self._attempts.get(inp.attempt)
            if a is not None:
                self._result(now, a, outcome_of(inp.cause), inp.cause, out)
                self._close(now, a, out)
        elif isinstance(inp, NetworkDialling):
            a = self._attempt_of(inp.call_id)
            if a is not None and not a.dialling:
                a.dialling = True
                a.deadline = now + self.campaigns[a.campaign].cfg.no_answer_timeout
        elif isinstance(inp, CallAnswered):
            a = self._attempt_of(inp.call_id)
            if a is not None and not a.answered and not a.timed_out:
                a.answered = True
                self._result(now, a, "answered", None, out)
        elif isinstance(inp, CallEnded):
            a = self._attempt_of(inp.call_id)
            if a is not None:
                if not a.reported:
                    if a.timed_out:
                        self._result(now, a, "no_answer", None, out)
                    else:
                        self._result(now, a, outcome_of(inp.cause, inp.answered), inp.cause,
                                     out)
                self._close(now, a, out)
        elif isinstance(inp, PreviewNext):
            self._preview_next(now, inp, out)
        elif isinstance(inp, PreviewDial):
            self._preview_dial(now, inp.agent, out)
        elif isinstance(inp, PreviewSkip):
            self._preview_skip(now, inp.agent, out)
        else:
            raise DialerError(f"not a dialer input: {inp!r}")
        return out

    # -- internals -----------------------------------------------------------------
    def _attempt_of(self, call_id: str) -> _Attempt | None:
        aid = self._by_call.get(call_id)
        return self._attempts.get(aid) if aid is not None else None

    @staticmethod
    def _live(c: _Campaign) -> bool:
        return any(r.state in ("pending", "dialling") for r in c.records.values())

    def _agents_of(self, c: _Campaign, free: frozenset) -> list[str]:
        agents = free if not c.cfg.agents else free & set(c.cfg.agents)
        return sorted(a for a in agents if a not in self._reserved)

    def _next_record(self, now: float, c: _Campaign, out: list) -> Record | None:
        """The oldest due pending record whose number may be dialled; numbers found on
        the do-not-call list on the way end in state ``dnc``."""
        while c.queue:
            next_at, rid = c.queue[0]
            r = c.records.get(rid)
            if r is None or r.state != "pending" or r.next_at != next_at:
                heapq.heappop(c.queue)          # stale entry
                continue
            if r.number in self.dnc:
                heapq.heappop(c.queue)
                self._final(now, c, r, "dnc", out)
                continue
            if next_at > now:
                return None
            heapq.heappop(c.queue)
            return r
        return None

    def _progressive(self, now: float, tick: Tick, out: list) -> None:
        for name in sorted(self.campaigns):
            c = self.campaigns[name]
            if c.state != "running" or c.cfg.mode != "progressive":
                continue
            if c.cfg.gated and not tick.after_peak:
                continue
            for agent in self._agents_of(c, tick.free_agents):
                r = self._next_record(now, c, out)
                if r is None:
                    break
                self._dial(now, c, r, agent, out)
            self._maybe_finished(c, out)

    def _dial(self, now: float, c: _Campaign, r: Record, agent: str, out: list) -> None:
        assert r.number not in self.dnc
        a = _Attempt(self._next_attempt, c.cfg.name, r, agent, now,
                     now + c.cfg.agent_answer_timeout)
        self._next_attempt += 1
        self._attempts[a.id] = a
        self._reserved[agent] = a.id
        r.state = "dialling"
        r.attempts += 1
        out.append(RecordChanged(c.cfg.name, r.to_dict()))
        out.append(Dial(a.id, c.cfg.name, r.id, r.number, agent, dict(r.data)))

    def _timers(self, now: float, out: list) -> None:
        for a in list(self._attempts.values()):
            if a.answered or a.timed_out or now < a.deadline or a.call_id is None:
                continue
            if a.dialling:
                a.timed_out = True
                out.append(Hangup(a.call_id, a.agent, "no_answer"))
            else:
                # the agent never answered their own phone: no attempt on the record
                a.timed_out = a.reported = True
                a.record.attempts -= 1
                out.append(Hangup(a.call_id, a.agent, "agent_no_answer"))

    def _result(self, now: float, a: _Attempt, outcome: str, cause: int | None,
                out: list) -> None:
        """An attempt's result is known: the record is done, retried later, or failed."""
        a.reported = True
        c = self.campaigns[a.campaign]
        r = a.record
        r.last_outcome = outcome
        out.append(AttemptDone(a.campaign, r.id, r.number, now, a.agent, outcome, cause,
                               a.call_id))
        if outcome == "answered":
            self._final(now, c, r, "done", out, a.call_id)
            return
        rule = c.cfg.rules.get(outcome)
        if rule is not None and r.attempts < rule.max_attempts:
            r.state = "pending"
            r.next_at = now + rule.delay
            self._requeue(c, r)
            out.append(RecordChanged(a.campaign, r.to_dict(), a.call_id))
        else:
            self._final(now, c, r, "failed", out, a.call_id)

    @staticmethod
    def _requeue(c: _Campaign, r: Record) -> None:
        heapq.heappush(c.queue, (r.next_at, r.id))

    def _final(self, now: float, c: _Campaign, r: Record, state: str, out: list,
               call_id: str | None = None) -> None:
        r.state = state
        r.done = now
        out.append(RecordChanged(c.cfg.name, r.to_dict(), call_id))

    def _close(self, now: float, a: _Attempt, out: list) -> None:
        """The attempt's call is over: its agent is free for the dialer again."""
        self._attempts.pop(a.id, None)
        if a.call_id is not None:
            self._by_call.pop(a.call_id, None)
        if self._reserved.get(a.agent) == a.id:
            del self._reserved[a.agent]
        r = a.record
        if r.state == "dialling":
            # the agent did not answer (no attempt counted): the record waits again
            r.state = "pending"
            self._requeue(self.campaigns[a.campaign], r)
            out.append(RecordChanged(a.campaign, r.to_dict(), a.call_id))
        self._maybe_finished(self.campaigns[a.campaign], out)

    def _maybe_finished(self, c: _Campaign, out: list) -> None:
        if c.state in ("running", "paused") and c.records and not self._live(c):
            c.state = "finished"
            out.append(CampaignFinished(c.cfg.name))

    # -- preview ---------------------------------------------------------------------
    def _preview_next(self, now: float, inp: PreviewNext, out: list) -> None:
        c = self.campaign(inp.campaign)
        if c.cfg.mode != "preview":
            raise DialerError(f"campaign {inp.campaign!r} is {c.cfg.mode}, not preview")
        if c.state != "running":
            raise DialerError(f"campaign {inp.campaign!r} is {c.state}")
        if c.cfg.agents and inp.agent not in c.cfg.agents:
            raise DialerError(f"agent {inp.agent} does not work campaign {inp.campaign!r}")
        held = self._reserved.get(inp.agent)
        if held is not None:
            if isinstance(held, tuple) and held[1] == inp.campaign:
                # asked again: the same record (the desktop may have missed the event)
                out.append(PreviewOffer(inp.campaign, inp.agent,
                                        c.records[held[2]].to_dict()))
                return
            raise DialerError(f"agent {inp.agent} already has a record or a call of the dialer")
        r = self._next_record(now, c, out)
        if r is None:
            self._maybe_finished(c, out)
            raise DialerError(f"campaign {inp.campaign!r} has no record due now")
        r.state = "dialling"
        self._reserved[inp.agent] = ("preview", inp.campaign, r.id)
        out.append(RecordChanged(inp.campaign, r.to_dict()))
        out.append(PreviewOffer(inp.campaign, inp.agent, r.to_dict()))

    def _previewed(self, agent: str) -> tuple[_Campaign, Record]:
        held = self._reserved.get(agent)
        if not isinstance(held, tuple):
            raise DialerError(f"agent {agent} has no previewed record")
        c = self.campaigns[held[1]]
        return c, c.records[held[2]]

    def _preview_dial(self, now: float, agent: str, out: list) -> None:
        c, r = self._previewed(agent)
        del self._reserved[agent]
        if r.number in self.dnc:          # added while the agent was reading the record
            self._final(now, c, r, "dnc", out)
            self._maybe_finished(c, out)
            return
        self._dial(now, c, r, agent, out)

    def _preview_skip(self, now: float, agent: str, out: list) -> None:
        c, r = self._previewed(agent)
        del self._reserved[agent]
        self._final(now, c, r, "skipped", out)
        self._maybe_finished(c, out)


# ---- after the peak ---------------------------------------------------------------------

class PeakGate:
    """Is the inbound peak over? Arrivals are counted over a sliding ``window`` (seconds);
    after the peak means the rate is below ``rate_below`` calls a minute, or (with
    ``when_idle``) agents are idle and no caller waits in any queue. The peak returns as
    soon as neither holds, and gated campaigns stop dialling again."""

    def __init__(self, rate_below: float, window: float = 300.0, when_idle: bool = True):
        if not window > 0:
            raise DialerError(f"window: must be > 0 seconds, not {window!r}")
        self.rate_below = rate_below
        self.window = window
        self.when_idle = when_idle
        self._arrivals: collections.deque = collections.deque()
        self.started: float | None = None

    def arrival(self, now: float) -> None:
        if self.started is None:
            self.started = now
        self._arrivals.append(now)
        while self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()

    def rate(self, now: float) -> float:
        """Inbound arrivals a minute over the last ``window`` seconds (over the time seen,
        while less than a window has passed)."""
        if self.started is None:
            self.started = now
        while self._arrivals and self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()
        span = min(self.window, max(now - self.started, 1.0))
        return len(self._arrivals) * 60.0 / span

    def after_peak(self, now: float, idle_agents, waiting) -> bool:
        """``idle_agents`` and ``waiting`` are counts, or functions giving them (asked
        only when the rate alone does not decide)."""
        if self.rate(now) < self.rate_below:
            return True
        if not self.when_idle:
            return False
        if (waiting() if callable(waiting) else waiting) != 0:
            return False
        return (idle_agents() if callable(idle_agents) else idle_agents) > 0
