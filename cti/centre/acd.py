"""ACD: queues, distribution strategies and agent states, as a sans-I/O state machine.

The automatic call distributor of the call centre, in the aioquic shape (STYLE.md)::

    acd = Acd(queues, agents, seed=7)
    acd.login(now, "1001", extension=3)       # agents: ECMA-269 agent states
    acd.enqueue(now, "c42", "sales", ani="01088886666")
    acd.next_event()   # -> AgentState, QueueLog(ENTERQUEUE), RingAgents("c42", "sales", ...)
    acd.answered(now, "c42", "1001")          # the phone went off-hook -> Connected
    acd.call_ended(now, "c42", by="caller")   # -> agent in wrap-up, COMPLETECALLER
    acd.get_timer(); acd.handle_timer(now)    # ring-no-answer, queue timeout, wrap-up, ...

``now`` is line time in seconds (the board tick clock); the ACD never reads a clock.
The centre glue turns the events into phone rings, prompts and store rows: the ACD
never touches a channel.

Strategies are the ones people know from Asterisk app_queue and FreeSWITCH
mod_callcenter (``QueueConfig.strategy``):

``linear``            hunt in member order, always from the first (app_queue ``linear``)
``ring-all``          ring every available member at once; first to answer wins (``ringall``)
``round-robin``       member order, continuing after the member tried last in this queue
                      (app_queue ``rrmemory``)
``longest-idle``      the agent whose last ACD call ended longest ago (``longest-idle-agent``;
                      ``idle_since`` is the login time, or the end of the agent's last ACD
                      call's wrap-up)
``fewest-calls``      fewest calls taken since the last :meth:`Acd.new_day` (``fewestcalls``)
``least-talk-time``   least talk time since the last :meth:`Acd.new_day` (``least-talk-time``)
``random``            uniformly among the candidates, from the seeded RNG (``random``)
``skills``            the agents having every required skill at or above its level; the
                      highest total level over the required skills first, then longest idle

Penalties (app_queue): only the lowest penalty present among the available, untried
candidates is offered; penalty 1 members get calls only when no penalty 0 member can.
Required skills (the call's, from :meth:`Acd.enqueue`, else the queue's) filter the
candidates under *every* strategy; only ``skills`` also orders by level.

Distribution ("autofill"): whenever an agent frees up or a call arrives, the waiting
calls are offered in order, each taking the agents its strategy picks from those still
free. Inside a queue the order is priority, then position (arrival, or ``position_hint``);
across queues the heavier queue (``weight``) goes first, then the call waiting longest.
A call that is ringing an agent is not offered again until that ring ends. An agent
that failed to answer (when not paused) or whose phone could not ring is not tried
again for that call until every candidate has been tried and ``retry`` seconds passed.

Every agent told to ring by :class:`RingAgents` stops by exactly one of: :class:`Connected`
(it answered), :class:`StopRinging` (someone else answered, ring-no-answer, the caller
left, timeout) or :meth:`Acd.ring_failed` (its phone could not ring).

Every enqueued call ends in exactly one of: :class:`Connected` then ``call_ended`` /
``transfer_out``; :class:`Abandoned`; :class:`Overflow` (queue timeout or leave-when-
empty); :class:`Removed`. A refused join gives :class:`JoinFailed` and never enters.
After an :class:`Overflow` with ``action == "queue"`` the centre calls
``enqueue(now, call, target)``: the ACD does not move calls between queues by itself,
so the centre can play a prompt first.

Estimated wait time (EWT, :meth:`Acd.estimated_wait`)::

    ahead  = position - 1                          # calls before this one in the queue
    free   = members ready now (not ringing, not busy elsewhere)
    staffed= members logged in and not "not ready" (ready, ringing, busy, wrap-up), >= 1
    AHT    = mean handle time (talk + wrap-up) of the queue's last 20 calls, else default_aht
    EWT    = 0 if ahead < free else (ahead - free + 1) * AHT / staffed

The queue log rows (:class:`QueueLog`) follow Asterisk's queue_log: event names and data
fields in Asterisk's order, times in whole seconds except RINGNOANSWER (milliseconds, as
Asterisk writes it); ``agent`` is ``"NONE"`` where no agent applies and ``call`` is
``"NONE"`` for agent rows (AGENTLOGIN, AGENTLOGOFF, PAUSE, UNPAUSE, whose ``queue`` is
``"NONE"`` as for Asterisk's agent-wide rows). JOINEMPTY and FULL are the rows Asterisk
reporting tools read for refused joins; REMOVED (a call the IVR took back without a key)
is ours, EXITWITHKEY is Asterisk's when a key is given.
"""
from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = [
    "AcdError", "AgentConfig", "Member", "QueueConfig", "AgentStatus", "Acd", "AreaRouter",
    "STRATEGIES", "OVERFLOW_ACTIONS", "AGENT_STATES",
    # events
    "RingAgents", "StopRinging", "Connected", "RingNoAnswer", "Announce", "Overflow",
    "JoinFailed", "Abandoned", "Removed", "AgentState", "QueueLog", "AcdEvent",
]

STRATEGIES = (
    "linear", "ring-all", "round-robin", "longest-idle", "fewest-calls", "least-talk-time",
    "random", "skills",
)
OVERFLOW_ACTIONS = ("queue", "voicemail", "callback", "hangup")
AGENT_STATES = ("logged_out", "ready", "not_ready", "ringing", "busy", "wrapup")

RNA_REASON = "ring-no-answer"
_AHT_SAMPLES = 20


class AcdError(Exception):
    """We (the centre) asked something the ACD cannot do: unknown queue/agent/call, a call
    already queued, an answer from an agent whose phone is not ringing for that call."""


# ---- configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class AgentConfig:
    """An agent: ``extension`` is the FXS port of the agent's usual phone; ``skills``
    maps a skill name to a level 1..10."""

    id: str
    name: str = ""
    extension: int | None = None
    skills: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("AgentConfig.id: empty")
        for skill, level in self.skills.items():
            if not isinstance(level, int) or not 1 <= level <= 10:
                raise ValueError(f"AgentConfig.skills[{skill!r}]: level {level!r} not in 1..10")


@dataclass(frozen=True)
class Member:
    """A queue member; app_queue penalty: lower penalties are tried first."""

    agent: str
    penalty: int = 0

    def __post_init__(self) -> None:
        if self.penalty < 0:
            raise ValueError(f"Member({self.agent!r}).penalty: {self.penalty} < 0")


@dataclass(frozen=True)
class QueueConfig:
    """A queue. ``overflow`` is where a call goes on queue timeout or leave-when-empty:
    ``"queue:NAME"``, ``"voicemail:BOX"``, ``"callback"``, ``"hangup"`` (None: hang up).
    ``retry`` (app_queue ``retry``): seconds before candidates that failed are tried again.
    ``max_len`` (app_queue ``maxlen``): calls waiting beyond which a join is refused (FULL).
    ``join_empty=False`` refuses a call when no member is logged in (JOINEMPTY);
    ``leave_when_empty`` overflows the waiting calls (EXITEMPTY) when the last member logs out.
    Members merely not ready still count as logged in for both rules.
    ``dissuade_ewt`` (seconds; None: off): peak dissuasion, a caller who would wait longer
    than this (EWT) is not queued but hears the ``dissuade`` flow instead: "offer" (press 1
    for a callback, or hold) or "impose" (a callback, the caller only confirms the number)."""

    name: str
    strategy: str = "longest-idle"
    members: tuple[Member, ...] = ()
    ring_timeout: float = 15.0
    wrapup: float = 10.0
    max_wait: float | None = 60.0
    overflow: str | None = None
    join_empty: bool = True
    leave_when_empty: bool = False
    announce_every: float | None = 30.0
    pause_on_no_answer: bool = True
    required_skills: dict[str, int] = field(default_factory=dict)
    weight: int = 0
    retry: float = 5.0
    max_len: int | None = None
    dissuade_ewt: float | None = None
    dissuade: str = "offer"

    def __post_init__(self) -> None:
        if not self.name or self.name == "NONE":
            raise ValueError(f"QueueConfig.name: {self.name!r} is not a queue name")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"QueueConfig({self.name}).strategy: {self.strategy!r} not one of "
                             f"{', '.join(STRATEGIES)}")
        if not self.ring_timeout > 0:
            raise ValueError(f"QueueConfig({self.name}).ring_timeout: must be > 0")
        if self.wrapup < 0:
            raise ValueError(f"QueueConfig({self.name}).wrapup: must be >= 0")
        if self.retry < 0:
            raise ValueError(f"QueueConfig({self.name}).retry: must be >= 0")
        if self.max_wait is not None and not self.max_wait > 0:
            raise ValueError(f"QueueConfig({self.name}).max_wait: must be > 0 or None")
        if self.announce_every is not None and not self.announce_every > 0:
            raise ValueError(f"QueueConfig({self.name}).announce_every: must be > 0 or None")
        if self.max_len is not None and self.max_len < 0:
            raise ValueError(f"QueueConfig({self.name}).max_len: must be >= 0 or None")
        if self.dissuade_ewt is not None and not self.dissuade_ewt >= 0:
            raise ValueError(f"QueueConfig({self.name}).dissuade_ewt: must be >= 0 or None")
        if self.dissuade not in ("offer", "impose"):
            raise ValueError(f"QueueConfig({self.name}).dissuade: {self.dissuade!r} not one of "
                             f"offer, impose")
        self.overflow_action()  # validates
        seen = set()
        for m in self.members:
            if m.agent in seen:
                raise ValueError(f"QueueConfig({self.name}).members: {m.agent!r} twice")
            seen.add(m.agent)
        for skill, level in self.required_skills.items():
            if not isinstance(level, int) or not 1 <= level <= 10:
                raise ValueError(f"QueueConfig({self.name}).required_skills[{skill!r}]: "
                                 f"level {level!r} not in 1..10")

    def overflow_action(self) -> tuple[str, str | None]:
        """``overflow`` as (action, target): ("queue", "sales"), ("callback", None), ..."""
        if self.overflow is None:
            return "hangup", None
        action, sep, target = self.overflow.partition(":")
        if action not in OVERFLOW_ACTIONS:
            raise ValueError(f"QueueConfig({self.name}).overflow: {self.overflow!r}: action not "
                             f"one of {', '.join(OVERFLOW_ACTIONS)}")
        if action in ("queue", "voicemail"):
            if not target:
                raise ValueError(f"QueueConfig({self.name}).overflow: {self.overflow!r} "
                                 f"needs a target ({action}:NAME)")
            return action, target
        if sep:
            raise ValueError(f"QueueConfig({self.name}).overflow: {self.overflow!r}: "
                             f"{action} takes no target")
        return action, None


# ---- events ------------------------------------------------------------------------


@dataclass(frozen=True)
class RingAgents:
    """Ring these agents' phones for ``call`` (ring-all: several at once)."""

    call: str
    queue: str
    agents: tuple[str, ...]
    extensions: tuple[int | None, ...]


@dataclass(frozen=True)
class StopRinging:
    """Stop ringing these agents' phones for ``call``."""

    call: str
    agents: tuple[str, ...]


@dataclass(frozen=True)
class Connected:
    """``agent`` answered ``call``; ``waited`` is the caller's time in the queue (ASA sample)."""

    call: str
    queue: str
    agent: str
    waited: float


@dataclass(frozen=True)
class RingNoAnswer:
    """``agent``'s phone rang ``ring_time`` seconds unanswered (a loss at the agent)."""

    call: str
    queue: str
    agent: str
    ring_time: float


@dataclass(frozen=True)
class Announce:
    """Tell the caller its position and estimated wait (seconds)."""

    call: str
    queue: str
    position: int
    ewt: float


@dataclass(frozen=True)
class Overflow:
    """The call leaves the queue: queue timeout or leave-when-empty. ``action`` is one of
    "queue" | "voicemail" | "callback" | "hangup"; ``reason`` "timeout" | "empty"."""

    call: str
    queue: str
    action: str
    target: str | None
    reason: str = "timeout"
    waited: float = 0.0


@dataclass(frozen=True)
class JoinFailed:
    """The join rules refused the call: ``reason`` "joinempty" | "full"."""

    call: str
    queue: str
    reason: str


@dataclass(frozen=True)
class Abandoned:
    """The caller hung up while waiting (or while an agent's phone rang)."""

    call: str
    queue: str
    waited: float
    position: int


@dataclass(frozen=True)
class Removed:
    """The call left the queue for another reason (:meth:`Acd.remove`)."""

    call: str
    queue: str
    waited: float
    position: int
    key: str | None = None


@dataclass(frozen=True)
class AgentState:
    """An agent's state changed (every change): one of AGENT_STATES."""

    agent: str
    state: str
    reason: str = ""


@dataclass(frozen=True)
class QueueLog:
    """An Asterisk queue_log row to store: time|callid|queuename|agent|event|data1|data2|..."""

    time: float
    call: str
    queue: str
    agent: str
    event: str
    data: tuple = ()


AcdEvent = (RingAgents | StopRinging | Connected | RingNoAnswer | Announce | Overflow
            | JoinFailed | Abandoned | Removed | AgentState | QueueLog)


@dataclass(frozen=True)
class AgentStatus:
    """An agent as :meth:`Acd.agent_state` reports it."""

    state: str
    reason: str
    call: str | None
    extension: int | None
    calls_taken: int
    talk_time: float
    idle_since: float | None
    busy_elsewhere: bool = False
    logged_in_since: float | None = None
    after_call: str | None = None       # reason to go not ready with after the current call


# ---- internal state ----------------------------------------------------------------


_STAFFED = frozenset(("ready", "ringing", "busy", "wrapup"))   # counted in an EWT

class _Agent:
    __slots__ = ("cfg", "state", "reason", "call", "extension", "calls_taken", "talk_time",
                 "idle_since", "busy_elsewhere", "logged_in_since", "wrapup_until",
                 "after_call", "queues", "skills", "counted_free", "counted_staffed")

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.state = "logged_out"
        self.reason = ""
        self.call: _Call | None = None
        self.extension = cfg.extension
        self.calls_taken = 0
        self.talk_time = 0.0
        self.idle_since: float | None = None
        self.busy_elsewhere = False
        self.logged_in_since: float | None = None
        self.wrapup_until: float | None = None
        self.after_call: str | None = None
        self.queues: list[str] = []
        self.skills = dict(cfg.skills)
        self.counted_free = False       # as counted in its queues' free / staffed numbers
        self.counted_staffed = False

    @property
    def available(self) -> bool:
        return self.state == "ready" and self.call is None and not self.busy_elsewhere


class _Call:
    __slots__ = ("id", "queue", "priority", "skills", "ani", "enqueued_at", "origposition",
                 "ringing", "ring_started", "ring_deadline", "tried", "retry_at", "agent",
                 "connected_at", "timeout_at", "announce_at", "seq")

    def __init__(self, cid: str, queue: str, now: float, priority: int,
                 skills: dict[str, int], ani: str, seq: int) -> None:
        self.id = cid
        self.queue = queue
        self.priority = priority
        self.skills = skills
        self.ani = ani
        self.enqueued_at = now
        self.origposition = 0
        self.ringing: tuple[str, ...] = ()
        self.ring_started: float | None = None
        self.ring_deadline: float | None = None
        self.tried: set[str] = set()
        self.retry_at: float | None = None
        self.agent: str | None = None          # connected agent
        self.connected_at: float | None = None
        self.timeout_at: float | None = None
        self.announce_at: float | None = None
        self.seq = seq


class _Queue:
    __slots__ = ("cfg", "waiting", "rr_last", "handle_times", "counters", "wait_sum",
                 "members", "member_index", "free_n", "staffed_n")

    def __init__(self, cfg: QueueConfig) -> None:
        self.cfg = cfg
        self.waiting: list[_Call] = []
        self.rr_last: int = -1
        self.handle_times: deque[float] = deque(maxlen=_AHT_SAMPLES)
        self.counters = dict.fromkeys(
            ("entered", "join_failed", "connected", "abandoned", "timeout", "exit_empty",
             "removed", "completed", "transferred", "ring_no_answer"), 0)
        self.wait_sum = 0.0
        self.members = {m.agent: m for m in cfg.members}
        self.member_index = {m.agent: i for i, m in enumerate(cfg.members)}
        self.free_n = 0             # members available now, and members staffed (for EWT),
        self.staffed_n = 0          # kept by Acd._sync as agents change


# timer kinds, in the order they run when due at the same time
_T_WRAPUP, _T_RING, _T_RETRY, _T_TIMEOUT, _T_ANNOUNCE = range(5)


class Acd:
    """The ACD state machine. See the module docstring."""

    def __init__(self, queues: list[QueueConfig], agents: list[AgentConfig], *, seed: int = 0,
                 default_aht: float = 120.0) -> None:
        self._agents: dict[str, _Agent] = {}
        for a in agents:
            if a.id in self._agents:
                raise AcdError(f"agent {a.id!r} configured twice")
            self._agents[a.id] = _Agent(a)
        self._queues: dict[str, _Queue] = {}
        for q in queues:
            if q.name in self._queues:
                raise AcdError(f"queue {q.name!r} configured twice")
            self._queues[q.name] = _Queue(q)
        for q in queues:
            for m in q.members:
                if m.agent not in self._agents:
                    raise AcdError(f"queue {q.name!r}: member {m.agent!r} is not an agent")
                self._agents[m.agent].queues.append(q.name)
            action, target = q.overflow_action()
            if action == "queue" and target not in self._queues:
                raise AcdError(f"queue {q.name!r}: overflow to unknown queue {target!r}")
        self._rng = random.Random(seed)
        self.default_aht = float(default_aht)
        self._calls: dict[str, _Call] = {}
        self._events: deque = deque()
        self._timers: list[tuple[float, int, int, Any]] = []
        self._tseq = 0
        self._cseq = 0
        self._now = 0.0
        self._dirty = False
        self._free: set[str] = set()          # agents available for an ACD call now

    # ---- outputs -------------------------------------------------------------------

    def next_event(self) -> AcdEvent | None:
        """The next event, or None when there is none."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[AcdEvent]:
        """Every pending event, in order (drains them)."""
        out = list(self._events)
        self._events.clear()
        return out

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

    # ---- agents --------------------------------------------------------------------

    def login(self, now: float, agent: str, extension: int | None = None, *,
              ready: bool = True, reason: str = "") -> None:
        """Log ``agent`` in at ``extension`` (default: the configured one), ready to take
        calls (or not ready with ``ready=False``, paused with ``reason`` when one is
        given). Logging in again moves the extension."""
        self._tick(now)
        a = self._agent(agent)
        if extension is not None:
            a.extension = extension
        if a.state != "logged_out":
            return
        a.logged_in_since = now
        if a.idle_since is None:
            a.idle_since = now
        self._log(now, "NONE", "NONE", agent, "AGENTLOGIN", (_ext(a.extension),))
        if a.call is not None:                  # logged out mid-call and back before it ended
            self._set_state(a, "busy")
        elif ready:
            self._set_state(a, "ready")
        elif reason:
            self._pause(now, a, reason)
        else:
            self._set_state(a, "not_ready")
        self._dispatch(now)

    def logout(self, now: float, agent: str) -> None:
        """Log ``agent`` out. A ringing phone stops (the call goes to the next agent); a
        connected call carries on and is still the agent's until it ends."""
        self._tick(now)
        a = self._agent(agent)
        if a.state == "logged_out":
            return
        c = a.call
        if a.state == "ringing" and c is not None:     # the call goes on to the next agent
            self._events.append(StopRinging(c.id, (agent,)))
            a.call = None
            self._sync(a)
            c.ringing = tuple(x for x in c.ringing if x != agent)
            if not c.ringing:
                c.ring_deadline = c.ring_started = None
            self._dirty = True
        a.wrapup_until = None
        a.after_call = None
        logintime = int(round(now - a.logged_in_since)) if a.logged_in_since is not None else 0
        self._log(now, "NONE", "NONE", agent, "AGENTLOGOFF", (_ext(a.extension), logintime))
        a.logged_in_since = None
        self._set_state(a, "logged_out")
        for qname in a.queues:
            q = self._queues[qname]
            if q.cfg.leave_when_empty and q.waiting and not self._any_logged_in(q):
                self._empty_queue(now, q)
        self._dispatch(now)

    def ready(self, now: float, agent: str) -> None:
        """Ready (unpause). In wrap-up this ends the wrap-up early; while ringing or on a
        call it cancels an earlier "not ready after this call"."""
        self._tick(now)
        a = self._agent(agent)
        if a.state == "logged_out":
            raise AcdError(f"agent {agent!r} is logged out")
        if a.state in ("ringing", "busy"):
            a.after_call = None
            return
        if a.state == "ready":
            return
        was = a.state
        a.wrapup_until = None
        if was == "not_ready":
            self._log(now, "NONE", "NONE", agent, "UNPAUSE", (a.reason,))
        else:                                  # wrap-up ended early
            a.idle_since = now
        self._set_state(a, "ready")
        self._dispatch(now)

    def not_ready(self, now: float, agent: str, reason: str = "") -> None:
        """Not ready (pause) with a reason code. While ringing or on a call it takes effect
        when the call ends (after its wrap-up): "not ready after this call"."""
        self._tick(now)
        a = self._agent(agent)
        if a.state == "logged_out":
            raise AcdError(f"agent {agent!r} is logged out")
        if a.state in ("ringing", "busy"):
            a.after_call = reason
            return
        if a.state == "not_ready" and a.reason == reason:
            return
        if a.state == "wrapup":
            a.idle_since = now
        a.wrapup_until = None
        self._pause(now, a, reason)

    def agent_state(self, agent: str) -> AgentStatus:
        a = self._agent(agent)
        return AgentStatus(
            state=a.state, reason=a.reason, call=a.call.id if a.call else None,
            extension=a.extension, calls_taken=a.calls_taken, talk_time=a.talk_time,
            idle_since=a.idle_since, busy_elsewhere=a.busy_elsewhere,
            logged_in_since=a.logged_in_since, after_call=a.after_call)

    def agent_busy_elsewhere(self, now: float, agent: str, busy: bool) -> None:
        """The agent is (or is no longer) on a direct or internal call: no ACD offers meanwhile."""
        self._tick(now)
        a = self._agent(agent)
        a.busy_elsewhere = bool(busy)
        self._sync(a)
        if not busy:
            self._dirty = True
            self._dispatch(now)

    def new_day(self, now: float) -> None:
        """Reset the per-day counters that fewest-calls and least-talk-time use."""
        self._tick(now)
        for a in self._agents.values():
            a.calls_taken = 0
            a.talk_time = 0.0

    # ---- calls ---------------------------------------------------------------------

    def enqueue(self, now: float, call: str, queue: str, *, priority: int = 0,
                skills: dict[str, int] | None = None, position_hint: int | None = None,
                ani: str = "") -> bool:
        """Put ``call`` in ``queue``. False (with a :class:`JoinFailed` event and a JOINEMPTY
        or FULL row) when the join rules refuse it. ``skills`` overrides the queue's
        required skills; ``position_hint`` (1-based, app_queue ``position``) places the
        call ahead of others of its priority, never ahead of a higher priority."""
        self._tick(now)
        q = self._queue(queue)
        if call in self._calls:
            raise AcdError(f"call {call!r} is already in queue {self._calls[call].queue!r}")
        if not call or call == "NONE":
            raise AcdError(f"call id {call!r} is not usable")
        reason = None
        if not q.cfg.join_empty and not self._any_logged_in(q):
            reason, row = "joinempty", "JOINEMPTY"
        elif q.cfg.max_len is not None and len(q.waiting) >= q.cfg.max_len:
            reason, row = "full", "FULL"
        if reason is not None:
            q.counters["join_failed"] += 1
            self._log(now, call, queue, "NONE", row, (len(q.waiting) + 1, len(q.waiting) + 1, 0))
            self._events.append(JoinFailed(call, queue, reason))
            return False
        req = dict(q.cfg.required_skills if skills is None else skills)
        self._cseq += 1
        c = _Call(call, queue, now, int(priority), req, ani, self._cseq)
        w = q.waiting                                   # ordered by priority, descending
        lo = bisect.bisect_left(w, -c.priority, key=_neg_priority)
        hi = bisect.bisect_right(w, -c.priority, key=_neg_priority)
        idx = hi if position_hint is None else max(lo, min(hi, int(position_hint) - 1))
        w.insert(idx, c)
        c.origposition = idx + 1
        self._calls[call] = c
        q.counters["entered"] += 1
        if q.cfg.max_wait is not None:
            c.timeout_at = now + q.cfg.max_wait
            self._add_timer(c.timeout_at, _T_TIMEOUT, c)
        if q.cfg.announce_every is not None:
            c.announce_at = now + q.cfg.announce_every
            self._add_timer(c.announce_at, _T_ANNOUNCE, c)
        self._log(now, call, queue, "NONE", "ENTERQUEUE", ("", ani))
        self._dirty = True
        self._dispatch(now)
        return True

    def answered(self, now: float, call: str, agent: str) -> None:
        """``agent``'s phone was answered for ``call``: Connected; the others stop ringing."""
        self._tick(now)
        c = self._call(call)
        if agent not in c.ringing:
            raise AcdError(f"call {call!r} is not ringing agent {agent!r}")
        q = self._queues[c.queue]
        a = self._agents[agent]
        others = tuple(x for x in c.ringing if x != agent)
        if others:
            self._stop_ringing(now, c, others, requeue=False)
        ringtime = now - (c.ring_started if c.ring_started is not None else now)
        c.ringing = ()
        c.ring_deadline = None
        c.ring_started = None
        c.agent = agent
        c.connected_at = now
        c.timeout_at = c.announce_at = c.retry_at = None
        q.waiting.remove(c)
        waited = now - c.enqueued_at
        q.counters["connected"] += 1
        q.wait_sum += waited
        a.calls_taken += 1
        if a.state != "logged_out":
            self._set_state(a, "busy")
        self._events.append(Connected(call, c.queue, agent, waited))
        # Asterisk's CONNECT: holdtime, the bridged channel (here the agent's extension),
        # ringtime
        self._log(now, call, c.queue, agent, "CONNECT",
                  (_s(waited), f"fxs/{_ext(a.extension)}" if a.extension is not None else "",
                   _s(ringtime)))
        self._dispatch(now)

    def ring_failed(self, now: float, call: str, agent: str) -> None:
        """``agent``'s phone could not ring (busy, unreachable): try the next agent at once."""
        self._tick(now)
        c = self._call(call)
        if agent not in c.ringing:
            raise AcdError(f"call {call!r} is not ringing agent {agent!r}")
        c.tried.add(agent)
        self._release_agents(now, c, (agent,))
        c.ringing = tuple(x for x in c.ringing if x != agent)
        if not c.ringing:
            c.ring_deadline = c.ring_started = None
        self._dirty = True
        self._dispatch(now)

    def abandon(self, now: float, call: str) -> None:
        """The caller hung up while queued or while an agent's phone rang. On a connected
        call this is ``call_ended(now, call, by="caller")``."""
        self._tick(now)
        c = self._call(call)
        if c.agent is not None:
            self.call_ended(now, call, by="caller")
            return
        q = self._queues[c.queue]
        position = self._leave(now, c)
        waited = now - c.enqueued_at
        q.counters["abandoned"] += 1
        self._events.append(Abandoned(call, c.queue, waited, position))
        self._log(now, call, c.queue, "NONE", "ABANDON", (position, c.origposition, _s(waited)))
        self._dispatch(now)

    def call_ended(self, now: float, call: str, by: str = "caller") -> None:
        """A connected call ended (``by`` "caller" | "agent" hung up): COMPLETECALLER or
        COMPLETEAGENT; the agent goes to wrap-up for the queue's wrap-up time, then ready."""
        if by not in ("caller", "agent"):
            raise AcdError(f"call_ended: by={by!r} is not 'caller' or 'agent'")
        self._finish(now, call, "COMPLETECALLER" if by == "caller" else "COMPLETEAGENT", ())

    def transfer_out(self, now: float, call: str, target: str = "", context: str = "") -> None:
        """The agent transferred the call away: the ACD part ends (TRANSFER), agent to wrap-up."""
        self._finish(now, call, "TRANSFER", (target, context))

    def remove(self, now: float, call: str, key: str | None = None) -> None:
        """The call leaves the queue for another reason (the IVR took it back; ``key`` the
        caller's key press, logged as EXITWITHKEY, otherwise REMOVED)."""
        self._tick(now)
        c = self._call(call)
        if c.agent is not None:
            raise AcdError(f"call {call!r} is connected to {c.agent!r}: "
                           "use call_ended or transfer_out")
        q = self._queues[c.queue]
        position = self._leave(now, c)
        waited = now - c.enqueued_at
        q.counters["removed"] += 1
        self._events.append(Removed(call, c.queue, waited, position, key))
        if key is not None:
            self._log(now, call, c.queue, "NONE", "EXITWITHKEY",
                      (key, position, c.origposition, _s(waited)))
        else:
            self._log(now, call, c.queue, "NONE", "REMOVED",
                      (position, c.origposition, _s(waited)))
        self._dispatch(now)

    # ---- queries -------------------------------------------------------------------

    def call_queue(self, call: str) -> str | None:
        """The queue ``call`` is in (waiting, ringing or connected), or None."""
        c = self._calls.get(call)
        return c.queue if c else None

    def ringing_agents(self, call: str) -> tuple[str, ...]:
        c = self._calls.get(call)
        return c.ringing if c else ()

    def call_agent(self, call: str) -> str | None:
        """The agent ``call`` is connected to, or None."""
        c = self._calls.get(call)
        return c.agent if c else None

    def estimated_wait(self, queue: str, position: int | None = None) -> float:
        """EWT in seconds for a caller at ``position`` (default: one joining now); the
        formula is in the module docstring."""
        q = self._queue(queue)
        if position is None:
            position = len(q.waiting) + 1
        ahead = max(0, position - 1)
        free, staffed = q.free_n, q.staffed_n
        if ahead < free:
            return 0.0
        return (ahead - free + 1) * self.aht(queue) / max(1, staffed)

    def waiting(self, queue: str) -> int:
        """Calls waiting in ``queue`` now (ringing agents or not)."""
        return len(self._queue(queue).waiting)

    def aht(self, queue: str) -> float:
        """Average handle time (talk + wrap-up) of the queue's recent calls, in seconds."""
        q = self._queue(queue)
        if not q.handle_times:
            return self.default_aht
        return sum(q.handle_times) / len(q.handle_times)

    def queue_status(self, queue: str, now: float | None = None) -> dict:
        """Calls waiting (position, wait, priority, ringing agents), members and their states,
        longest wait, EWT and counters; waits as of ``now`` (default: the latest time seen)."""
        q = self._queue(queue)
        t = self._now if now is None else now
        calls = [{"call": c.id, "position": i + 1, "waited": t - c.enqueued_at,
                  "priority": c.priority, "ringing": list(c.ringing), "ani": c.ani}
                 for i, c in enumerate(q.waiting)]
        agents = []
        for m in q.cfg.members:
            a = self._agents[m.agent]
            agents.append({"agent": m.agent, "penalty": m.penalty, "state": a.state,
                           "reason": a.reason, "call": a.call.id if a.call else None,
                           "busy_elsewhere": a.busy_elsewhere})
        talking = [c.id for c in self._calls.values() if c.queue == queue and c.agent]
        connected = q.counters["connected"]
        return {
            "queue": queue, "strategy": q.cfg.strategy, "weight": q.cfg.weight,
            "calls": calls, "agents": agents, "talking": sorted(talking),
            "waiting": len(calls),
            "longest_wait": max((c["waited"] for c in calls), default=0.0),
            "ewt": self.estimated_wait(queue),
            "aht": self.aht(queue),
            "asa": q.wait_sum / connected if connected else 0.0,
            "counters": dict(q.counters),
        }

    def snapshot(self, now: float | None = None) -> dict:
        """Every queue and agent, JSON-ready."""
        return {
            "queues": {name: self.queue_status(name, now) for name in self._queues},
            "agents": {aid: _status_dict(self.agent_state(aid)) for aid in self._agents},
        }

    def check_invariants(self) -> None:
        """Assert the ACD's invariants (tests call this after every step)."""
        seen: dict[str, str] = {}
        for q in self._queues.values():
            for c in q.waiting:
                assert c.id not in seen, f"call {c.id} in {seen[c.id]} and {q.cfg.name}"
                seen[c.id] = q.cfg.name
                assert self._calls.get(c.id) is c and c.queue == q.cfg.name and c.agent is None
        offered: dict[str, str] = {}
        for c in self._calls.values():
            if c.agent is None:
                assert c.id in seen, f"call {c.id} lost"
            else:
                assert c.id not in seen and not c.ringing
            for aid in c.ringing + ((c.agent,) if c.agent else ()):
                assert aid not in offered, f"agent {aid} on {offered[aid]} and {c.id}"
                offered[aid] = c.id
                assert self._agents[aid].call is c
        assert self._free == {aid for aid, a in self._agents.items() if a.available}
        for aid, a in self._agents.items():
            if a.call is not None:
                assert offered.get(aid) == a.call.id, f"agent {aid} call mismatch"
            if a.state == "ringing":
                assert a.call is not None and aid in a.call.ringing
            if a.state == "busy":
                assert a.call is not None and a.call.agent == aid
            if a.state in ("ready", "not_ready", "wrapup"):
                assert a.call is None, f"agent {aid} {a.state} with a call"
            if a.state == "wrapup":
                assert a.wrapup_until is not None
        for q in self._queues.values():
            k = q.counters
            inside = sum(1 for c in self._calls.values() if c.queue == q.cfg.name)
            talking = sum(1 for c in self._calls.values()
                          if c.queue == q.cfg.name and c.agent is not None)
            assert k["entered"] == (k["connected"] + k["abandoned"] + k["timeout"]
                                    + k["exit_empty"] + k["removed"] + len(q.waiting)), k
            assert k["connected"] == k["completed"] + k["transferred"] + talking, k
            assert inside == len(q.waiting) + talking
            # the counts the EWT reads, kept as agents change
            members = [self._agents[m.agent] for m in q.cfg.members]
            assert q.free_n == sum(1 for a in members if a.available), q.cfg.name
            assert q.staffed_n == sum(1 for a in members if a.state in _STAFFED), q.cfg.name

    # ---- internals: helpers --------------------------------------------------------

    def _tick(self, now: float) -> None:
        if now > self._now:
            self._now = now

    def _agent(self, agent: str) -> _Agent:
        try:
            return self._agents[agent]
        except KeyError:
            raise AcdError(f"unknown agent {agent!r}") from None

    def _queue(self, queue: str) -> _Queue:
        try:
            return self._queues[queue]
        except KeyError:
            raise AcdError(f"unknown queue {queue!r}") from None

    def _call(self, call: str) -> _Call:
        try:
            return self._calls[call]
        except KeyError:
            raise AcdError(f"call {call!r} is not in the ACD") from None

    def _log(self, now: float, call: str, queue: str, agent: str, event: str,
             data: tuple) -> None:
        self._events.append(QueueLog(now, call, queue, agent, event, data))

    def _set_state(self, a: _Agent, state: str, reason: str = "") -> None:
        if a.state == state and a.reason == reason:
            return
        a.state = state
        a.reason = reason
        if state == "ready":
            self._dirty = True
        self._sync(a)
        self._events.append(AgentState(a.cfg.id, state, reason))

    def _sync(self, a: _Agent) -> None:
        """Keep the free set and the queues' free and staffed counts in step with ``a``."""
        free = a.available
        if free:
            self._free.add(a.cfg.id)
        else:
            self._free.discard(a.cfg.id)
        staffed = a.state in _STAFFED
        if free != a.counted_free or staffed != a.counted_staffed:
            df = int(free) - int(a.counted_free)
            ds = int(staffed) - int(a.counted_staffed)
            for qname in a.queues:
                q = self._queues[qname]
                q.free_n += df
                q.staffed_n += ds
            a.counted_free, a.counted_staffed = free, staffed

    def _pause(self, now: float, a: _Agent, reason: str) -> None:
        self._log(now, "NONE", "NONE", a.cfg.id, "PAUSE", (reason,))
        self._set_state(a, "not_ready", reason)

    def _any_logged_in(self, q: _Queue) -> bool:
        return any(self._agents[m.agent].state != "logged_out" for m in q.cfg.members)

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

    def _position(self, c: _Call) -> int:
        return self._queues[c.queue].waiting.index(c) + 1

    def _release_agents(self, now: float, c: _Call, agents: Iterable[str]) -> None:
        """Agents whose ring for ``c`` ended unanswered go back to what they were: ready,
        or not ready if they asked for it meanwhile (or were paused for no answer)."""
        for aid in agents:
            a = self._agents[aid]
            if a.call is c:
                a.call = None
                self._sync(a)
            if a.state != "ringing":
                continue
            if a.after_call is not None:
                reason, a.after_call = a.after_call, None
                self._pause(now, a, reason)
            else:
                self._set_state(a, "ready")

    def _stop_ringing(self, now: float, c: _Call, agents: tuple[str, ...], *,
                      requeue: bool) -> None:
        self._events.append(StopRinging(c.id, agents))
        self._release_agents(now, c, agents)
        c.ringing = tuple(x for x in c.ringing if x not in agents)
        if not c.ringing:
            c.ring_deadline = c.ring_started = None
        if requeue:
            self._dirty = True

    def _leave(self, now: float, c: _Call) -> int:
        """Take a not-connected call out of its queue: stop its rings; its position."""
        q = self._queues[c.queue]
        position = q.waiting.index(c) + 1
        if c.ringing:
            self._stop_ringing(now, c, c.ringing, requeue=False)
        q.waiting.pop(position - 1)
        del self._calls[c.id]
        self._dirty = True
        return position

    def _finish(self, now: float, call: str, event: str, extra: tuple) -> None:
        self._tick(now)
        c = self._call(call)
        if c.agent is None:
            raise AcdError(f"call {call!r} is not connected to an agent")
        q = self._queues[c.queue]
        a = self._agents[c.agent]
        connected_at = now if c.connected_at is None else c.connected_at
        holdtime = connected_at - c.enqueued_at
        calltime = now - connected_at
        del self._calls[call]
        a.call = None
        self._sync(a)
        a.talk_time += calltime
        q.handle_times.append(calltime + q.cfg.wrapup)
        if event == "TRANSFER":
            q.counters["transferred"] += 1
            data = extra + (_s(holdtime), _s(calltime), c.origposition)
        else:
            q.counters["completed"] += 1
            data = (_s(holdtime), _s(calltime), c.origposition)
        self._log(now, call, c.queue, a.cfg.id, event, data)
        if a.state != "logged_out":
            if q.cfg.wrapup > 0:
                a.wrapup_until = now + q.cfg.wrapup
                self._set_state(a, "wrapup")
                self._add_timer(a.wrapup_until, _T_WRAPUP, a)
            else:
                self._after_wrapup(now, a)
        self._dispatch(now)

    def _after_wrapup(self, now: float, a: _Agent) -> None:
        a.wrapup_until = None
        a.idle_since = now
        if a.after_call is not None:
            reason, a.after_call = a.after_call, None
            self._pause(now, a, reason)
        else:
            self._set_state(a, "ready")

    def _empty_queue(self, now: float, q: _Queue) -> None:
        """leave-when-empty: every call still waiting overflows (EXITEMPTY)."""
        action, target = q.cfg.overflow_action()
        for c in list(q.waiting):
            position = self._leave(now, c)
            waited = now - c.enqueued_at
            q.counters["exit_empty"] += 1
            self._log(now, c.id, q.cfg.name, "NONE", "EXITEMPTY",
                      (position, c.origposition, _s(waited)))
            self._events.append(Overflow(c.id, q.cfg.name, action, target, "empty", waited))

    # ---- internals: timers ---------------------------------------------------------

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

    # ---- internals: distribution ---------------------------------------------------

    def _dispatch(self, now: float) -> None:
        if not self._dirty:
            return
        self._dirty = False
        free = set(self._free)
        if not free:
            return
        # merge the queues: inside a queue by position; between queue heads, the heavier
        # queue first, then the call waiting longest
        heads = []
        for q in self._queues.values():
            if q.waiting and _any_member(q.members, free):
                c = q.waiting[0]
                heads.append((-q.cfg.weight, c.enqueued_at, c.seq, q.cfg.name, 0))
        heapq.heapify(heads)
        qfree: dict[str, list[Member]] = {}
        while heads and free:
            _, _, _, qname, i = heapq.heappop(heads)
            q = self._queues[qname]
            c = q.waiting[i]
            if i + 1 < len(q.waiting):
                n = q.waiting[i + 1]
                heapq.heappush(heads, (-q.cfg.weight, n.enqueued_at, n.seq, qname, i + 1))
            if c.ringing:
                continue
            qf = qfree.get(qname)
            if qf is None:
                qf = qfree[qname] = _free_members(q, free)
            if not qf:
                continue
            chosen = self._choose(now, q, c, qf)
            if chosen:
                free.difference_update(chosen)
                qfree.clear()
                self._ring(now, q, c, chosen)

    def _choose(self, now: float, q: _Queue, c: _Call, qfree: list[Member]) -> list[str]:
        """The agents to ring for ``c`` among ``qfree``, the queue's free members."""
        req = c.skills
        cands = []
        for m in qfree:
            if req:
                sk = self._agents[m.agent].skills
                if any(sk.get(s, 0) < lvl for s, lvl in req.items()):
                    continue
            cands.append(m)
        if not cands:
            return []
        untried = [m for m in cands if m.agent not in c.tried]
        if not untried:
            if c.retry_at is None:
                c.retry_at = now + q.cfg.retry
                self._add_timer(c.retry_at, _T_RETRY, c)
            return []
        low = min(m.penalty for m in untried)
        group = [m for m in untried if m.penalty == low]
        strategy = q.cfg.strategy
        ag = self._agents
        idx = q.member_index
        if strategy == "ring-all":
            return [m.agent for m in group]
        if strategy == "linear":
            pick = group[0]
        elif strategy == "round-robin":
            n = len(q.cfg.members)
            pick = min(group, key=lambda m: (idx[m.agent] - q.rr_last - 1) % n)
            q.rr_last = idx[pick.agent]
        elif strategy == "longest-idle":
            pick = min(group, key=lambda m: (_idle(ag[m.agent]), idx[m.agent]))
        elif strategy == "fewest-calls":
            pick = min(group, key=lambda m: (ag[m.agent].calls_taken, idx[m.agent]))
        elif strategy == "least-talk-time":
            pick = min(group, key=lambda m: (ag[m.agent].talk_time, idx[m.agent]))
        elif strategy == "random":
            pick = group[self._rng.randrange(len(group))]
        else:  # skills
            pick = min(group, key=lambda m: (-sum(ag[m.agent].skills.get(s, 0) for s in req),
                                             _idle(ag[m.agent]), idx[m.agent]))
        return [pick.agent]

    def _ring(self, now: float, q: _Queue, c: _Call, agents: list[str]) -> None:
        c.ringing = tuple(agents)
        c.ring_started = now
        c.ring_deadline = now + q.cfg.ring_timeout
        c.retry_at = None
        self._add_timer(c.ring_deadline, _T_RING, c)
        exts = []
        for aid in agents:
            a = self._agents[aid]
            a.call = c
            self._sync(a)
            self._set_state(a, "ringing")
            exts.append(a.extension)
        self._events.append(RingAgents(c.id, q.cfg.name, c.ringing, tuple(exts)))


def _any_member(members: dict, free: set) -> bool:
    # the smaller side is walked: at a peak few agents are free in a queue of hundreds
    if len(free) < len(members):
        return any(a in members for a in free)
    return any(m in free for m in members)


def _free_members(q: _Queue, free: set) -> list:
    """The queue's free members in the queue's order."""
    if len(free) * 4 < len(q.members):
        idx = q.member_index
        return [q.members[a] for a in sorted((a for a in free if a in idx), key=idx.__getitem__)]
    return [m for m in q.cfg.members if m.agent in free]


def _neg_priority(c: _Call) -> int:
    return -c.priority


def _idle(a: _Agent) -> float:
    return a.idle_since if a.idle_since is not None else -math.inf


def _s(seconds: float) -> int:
    """Whole seconds, as Asterisk writes queue_log times."""
    return int(round(seconds))


def _ext(extension: int | None) -> str:
    return "" if extension is None else str(extension)


def _status_dict(s: AgentStatus) -> dict:
    return {k: getattr(s, k) for k in s.__dataclass_fields__}


# ---- routing by the caller's area ----------------------------------------------------


class AreaRouter:
    """Route by the caller's area: the queue of the longest ANI prefix among ``rules``
    (e.g. ``[("010", "beijing"), ("021", "shanghai"), ("0755", "shenzhen")]``), else
    ``default``. An ANI in international form is tried as given and, for ``country``
    (default "86"), also with ``+86`` or ``0086`` replaced by the trunk prefix "0", so
    "+861088886666" matches the rule "010"."""

    def __init__(self, rules: list[tuple[str, str]], default: str | None,
                 *, country: str = "86") -> None:
        self.rules = {}
        for prefix, queue in rules:
            if prefix in self.rules and self.rules[prefix] != queue:
                raise ValueError(f"AreaRouter: prefix {prefix!r} routed to "
                                 f"{self.rules[prefix]!r} and {queue!r}")
            self.rules[prefix] = queue
        self.default = default
        self.country = country
        self._lengths = sorted({len(p) for p in self.rules}, reverse=True)

    def _forms(self, ani: str) -> list[str]:
        ani = (ani or "").strip()
        forms = [ani]
        if self.country:
            for intl in ("+" + self.country, "00" + self.country):
                if ani.startswith(intl):
                    forms.append("0" + ani[len(intl):])
        return forms

    def match(self, ani: str) -> tuple[str, str] | None:
        """(prefix, queue) of the longest matching prefix, or None."""
        best = None
        for form in self._forms(ani):
            for n in self._lengths:
                if best is not None and n <= len(best[0]):
                    break
                if len(form) >= n and form[:n] in self.rules:
                    best = (form[:n], self.rules[form[:n]])
                    break
        return best

    def route(self, ani: str) -> str | None:
        m = self.match(ani)
        return m[1] if m else self.default

    __call__ = route
