"""Which agents a waiting call rings: the distribution strategies, penalties, skills,
and the distribution ("autofill") that offers the waiting calls to the free agents.

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

:func:`pick` is a strategy alone (the candidates in, the agents to ring out);
:class:`_Distribution` is the part of :class:`~cti.centre.acd.Acd` that runs it.
"""
from __future__ import annotations

import heapq
import math
import random
from typing import TYPE_CHECKING

from cti.centre.acd.events import RingAgents
from cti.centre.acd.timers import _T_RETRY, _T_RING

if TYPE_CHECKING:
    from cti.centre.acd.agents import _Agent
    from cti.centre.acd.queues import Member, _Call, _Queue

STRATEGIES = (
    "linear", "ring-all", "round-robin", "longest-idle", "fewest-calls", "least-talk-time",
    "random", "skills",
)


class _Distribution:
    """Offering the waiting calls to the free agents, a part of :class:`~cti.centre.acd.Acd`."""

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
        return pick(q.cfg.strategy, group, q, self._agents, req, self._rng)

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


def pick(strategy: str, group: list[Member], q: _Queue, agents: dict[str, _Agent],
         skills: dict[str, int], rng: random.Random) -> list[str]:
    """The agents ``strategy`` rings among ``group`` (the available, untried candidates of
    ``q`` at the lowest penalty, in the queue's member order, not empty); ``skills`` the
    call's required skills. ``round-robin`` moves ``q.rr_last``; ``random`` draws from
    ``rng``."""
    ag = agents
    idx = q.member_index
    if strategy == "ring-all":
        return [m.agent for m in group]
    if strategy == "linear":
        chosen = group[0]
    elif strategy == "round-robin":
        n = len(q.cfg.members)
        chosen = min(group, key=lambda m: (idx[m.agent] - q.rr_last - 1) % n)
        q.rr_last = idx[chosen.agent]
    elif strategy == "longest-idle":
        chosen = min(group, key=lambda m: (_idle(ag[m.agent]), idx[m.agent]))
    elif strategy == "fewest-calls":
        chosen = min(group, key=lambda m: (ag[m.agent].calls_taken, idx[m.agent]))
    elif strategy == "least-talk-time":
        chosen = min(group, key=lambda m: (ag[m.agent].talk_time, idx[m.agent]))
    elif strategy == "random":
        chosen = group[rng.randrange(len(group))]
    else:  # skills
        chosen = min(group, key=lambda m: (-sum(ag[m.agent].skills.get(s, 0) for s in skills),
                                           _idle(ag[m.agent]), idx[m.agent]))
    return [chosen.agent]


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


def _idle(a: _Agent) -> float:
    return a.idle_since if a.idle_since is not None else -math.inf
