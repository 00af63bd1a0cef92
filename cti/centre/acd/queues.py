"""The queues and their callers: a queue's configuration (:class:`QueueConfig`, its
members and their penalties), the calls waiting in it, and the requests that move a call:
enqueue, answered, ring failed, abandon, call ended, transfer out, remove; the queries on
a queue (waiting, EWT, AHT, its status).

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

:class:`_CallSide` holds the requests as methods of :class:`~cti.centre.acd.Acd`.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

from cti.centre.acd.events import (Abandoned, AcdError, Connected, JoinFailed, Overflow,
                                   Removed, StopRinging, _ext, _s)
from cti.centre.acd.strategies import STRATEGIES
from cti.centre.acd.timers import _T_ANNOUNCE, _T_TIMEOUT, _T_WRAPUP

OVERFLOW_ACTIONS = ("queue", "voicemail", "callback", "hangup")
_AHT_SAMPLES = 20


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
    max_talk: float | None = None      # seconds a call may last from its answer (timelimits.py)

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
        if self.max_talk is not None and not self.max_talk > 0:
            raise ValueError(f"QueueConfig({self.name}).max_talk: must be > 0 seconds or None")
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

    def place(self, c: _Call, position_hint: int | None = None) -> int:
        """Put ``c`` among the waiting calls, ordered by priority (descending), then
        arrival; ``position_hint`` (1-based) places it ahead of others of its priority,
        never ahead of a higher priority. Its position (1-based)."""
        w = self.waiting                                # ordered by priority, descending
        lo = bisect.bisect_left(w, -c.priority, key=_neg_priority)
        hi = bisect.bisect_right(w, -c.priority, key=_neg_priority)
        idx = hi if position_hint is None else max(lo, min(hi, int(position_hint) - 1))
        w.insert(idx, c)
        return idx + 1

class _CallSide:
    """The callers' requests and the queries on queues, a part of
    :class:`~cti.centre.acd.Acd`."""

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
        c.origposition = q.place(c, position_hint)
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

    # ---- internals -----------------------------------------------------------------

    def _queue(self, queue: str) -> _Queue:
        try:
            return self._queues[queue]
        except KeyError:
            raise AcdError(f"no queue {queue!r}") from None

    def _call(self, call: str) -> _Call:
        try:
            return self._calls[call]
        except KeyError:
            raise AcdError(f"call {call!r} is not in the ACD") from None

    def _position(self, c: _Call) -> int:
        return self._queues[c.queue].waiting.index(c) + 1

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


def _neg_priority(c: _Call) -> int:
    return -c.priority
