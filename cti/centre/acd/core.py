"""The :class:`Acd`: one state machine made of its parts (agents.py, queues.py,
strategies.py, timers.py), with its outputs, its snapshot and its invariants.

The parts (and changes.py: agents and queues changed while it runs) are mixins of one
class rather than objects of their own because they share one state (agents, calls, the
free set, the timer heap) and the tick budget: an agent becoming ready starts a
distribution that rings agents and arms timers in the same step, as app_queue's one
``struct call_queue`` does.
"""
from __future__ import annotations

import random
from collections import deque
from typing import Any

from cti.centre.acd.agents import _STAFFED, AgentConfig, _Agent, _AgentSide
from cti.centre.acd.changes import _Changes
from cti.centre.acd.events import AcdError, AcdEvent, QueueLog, _status_dict
from cti.centre.acd.queues import QueueConfig, _Call, _CallSide, _Queue
from cti.centre.acd.strategies import _Distribution
from cti.centre.acd.timers import _Timers


class Acd(_AgentSide, _CallSide, _Distribution, _Timers, _Changes):
    """The ACD state machine. See the package docstring (cti/centre/acd/__init__.py)."""

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
        self._draining: set[str] = set()      # queues removed, kept until their calls left

    # ---- outputs -------------------------------------------------------------------

    def next_event(self) -> AcdEvent | None:
        """The next event, or None when there is none."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[AcdEvent]:
        """Every pending event, in order (drains them)."""
        out = list(self._events)
        self._events.clear()
        return out

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
            # an agent's queues are those it is a member of (changes.py rebuilds them)
            assert a.queues == [n for n, q in self._queues.items() if aid in q.members], aid
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

    def _log(self, now: float, call: str, queue: str, agent: str, event: str,
             data: tuple) -> None:
        self._events.append(QueueLog(now, call, queue, agent, event, data))
