"""The agents' side of the ACD: who the agents are (:class:`AgentConfig`), their
ECMA-269 style states (``AGENT_STATES``: logged out, ready, not ready, ringing, busy,
wrap-up) and the requests that move them: login, logout, ready, not ready (a pause with
a reason code, or "not ready after this call"), busy elsewhere (a direct or internal
call), and the end of a wrap-up.

:class:`_AgentSide` holds these transitions as methods of :class:`~cti.centre.acd.Acd`
(it is one state machine: an agent's change moves the queues' free and staffed counts and
can start a distribution, so they share the ACD's state).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from cti.centre.acd.events import AcdError, AgentState, AgentStatus, StopRinging, _ext

if TYPE_CHECKING:
    from cti.centre.acd.queues import _Call, _Queue

AGENT_STATES = ("logged_out", "ready", "not_ready", "ringing", "busy", "wrapup")

RNA_REASON = "ring-no-answer"


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



class _AgentSide:
    """The agents' requests and state changes, a part of :class:`~cti.centre.acd.Acd`."""

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

    # ---- internals -----------------------------------------------------------------

    def _agent(self, agent: str) -> _Agent:
        try:
            return self._agents[agent]
        except KeyError:
            raise AcdError(f"unknown agent {agent!r}") from None

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

    def _after_wrapup(self, now: float, a: _Agent) -> None:
        a.wrapup_until = None
        a.idle_since = now
        if a.after_call is not None:
            reason, a.after_call = a.after_call, None
            self._pause(now, a, reason)
        else:
            self._set_state(a, "ready")

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
