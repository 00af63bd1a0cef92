"""Changes to the ACD while it runs (``cti reload``, live administration): agents added,
changed and removed, queues added, changed and removed, members moved, without a
restart and without touching a call in progress.

What a change does to what is going on:

* a queue's new settings (strategy, ring timeout, wrap-up, overflow, members...) apply
  from the next thing they decide: a ring already going keeps its deadline, a caller
  already waiting keeps the timeout it was given on joining, a connected call its queue;
* a removed queue with calls in it (waiting, ringing or connected) is kept, *draining*,
  until its last call has left it (:meth:`_Changes.retire_queues`); routing no longer
  sends calls there, and its members are those of its last configuration still agents;
* a removed agent is logged out at once; one with a call (ringing stops at once, a
  connected call goes on to its end) or busy outside the ACD is not removed until that
  is over: :meth:`_Changes.remove_agent` says False, and the caller asks again later.

Every change keeps the invariants of :meth:`Acd.check_invariants`: the agents' queue
lists, and each queue's free and staffed counts, are rebuilt from the members.

:class:`_Changes` holds these as methods of :class:`~cti.centre.acd.Acd`.
"""
from __future__ import annotations

import dataclasses

from cti.centre.acd.agents import AgentConfig, _Agent
from cti.centre.acd.events import AcdError
from cti.centre.acd.queues import Member, QueueConfig, _Queue


class _Changes:
    """Agents and queues changed while the ACD runs, a part of :class:`~cti.centre.acd.Acd`."""

    # ---- agents --------------------------------------------------------------------

    def add_agent(self, cfg: AgentConfig) -> None:
        """A new agent, logged out, in no queue yet (see :meth:`set_queues`, :meth:`add_member`)."""
        if cfg.id in self._agents:
            raise AcdError(f"agent {cfg.id!r} exists already")
        self._agents[cfg.id] = _Agent(cfg)

    def update_agent(self, cfg: AgentConfig) -> None:
        """An agent's new name, skills and usual extension. Skills count from the next
        distribution; a logged-in agent stays at the extension it logged in at."""
        a = self._agent(cfg.id)
        a.cfg = cfg
        a.skills = dict(cfg.skills)
        if a.state == "logged_out":
            a.extension = cfg.extension
        self._dirty = True

    def remove_agent(self, now: float, agent: str) -> bool:
        """Log ``agent`` out and take it away: True when it is gone; False when it still
        has a call (ringing stopped, a connected call going on) or is busy outside the
        ACD, in which case it stays, logged out, until asked again."""
        a = self._agent(agent)
        self.logout(now, agent)
        if a.call is not None or a.busy_elsewhere:
            return False
        for q in self._queues.values():
            if agent in q.members:
                self._set_config(q, dataclasses.replace(
                    q.cfg, members=tuple(m for m in q.cfg.members if m.agent != agent)))
        del self._agents[agent]
        self._free.discard(agent)
        self._rebuild_members()
        return True

    def order_agents(self, ids) -> None:
        """Keep the agents in the order of ``ids`` (a configuration's), the others after."""
        order = {aid: i for i, aid in enumerate(ids)}
        self._agents = dict(sorted(self._agents.items(),
                                   key=lambda kv: order.get(kv[0], len(order))))

    def add_member(self, now: float, queue: str, agent: str, penalty: int = 0) -> None:
        """``agent`` joins ``queue`` (at ``penalty``); already a member: its penalty changes."""
        q = self._queue(queue)
        self._agent(agent)
        members = [m for m in q.cfg.members if m.agent != agent] + [Member(agent, penalty)]
        self._set_config(q, dataclasses.replace(q.cfg, members=tuple(members)))
        self._rebuild_members()
        self._dirty = True
        self._dispatch(now)

    def remove_member(self, now: float, queue: str, agent: str) -> None:
        """``agent`` leaves ``queue`` (an administrator's change); a call ringing it goes
        on ringing it, a call connected to it goes on."""
        q = self._queue(queue)
        self._agent(agent)
        self._set_config(q, dataclasses.replace(
            q.cfg, members=tuple(m for m in q.cfg.members if m.agent != agent)))
        self._rebuild_members()
        self._dispatch(now)

    # ---- queues --------------------------------------------------------------------

    def has_queue(self, name: str) -> bool:
        return name in self._queues

    @property
    def draining(self) -> tuple[str, ...]:
        """Queues removed while calls were in them, kept until those calls have left."""
        return tuple(n for n in self._queues if n in self._draining)

    def set_queues(self, now: float, queues: list[QueueConfig]) -> dict:
        """The queues are now ``queues`` (every member must be an agent, every overflow
        queue one of them): those new are added, those changed take their settings, those
        missing are removed, or kept draining while calls are in them. Returns the names
        ``added``, ``changed``, ``removed`` and ``draining``."""
        self._tick(now)
        names = set()
        for cfg in queues:
            if cfg.name in names:
                raise AcdError(f"queue {cfg.name!r} configured twice")
            names.add(cfg.name)
        for cfg in queues:
            for m in cfg.members:
                if m.agent not in self._agents:
                    raise AcdError(f"queue {cfg.name!r}: member {m.agent!r} is not an agent")
            action, target = cfg.overflow_action()
            if action == "queue" and target not in names:
                raise AcdError(f"queue {cfg.name!r}: overflow to unknown queue {target!r}")
        out: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "draining": []}
        old = self._queues
        kept: dict[str, _Queue] = {}
        for cfg in queues:
            q = old.get(cfg.name)
            if q is None:
                q = _Queue(cfg)
                out["added"].append(cfg.name)
            elif q.cfg != cfg:
                self._set_config(q, cfg)
                out["changed"].append(cfg.name)
            if cfg.name in self._draining:      # removed earlier, back before it emptied
                self._draining.discard(cfg.name)
                if cfg.name not in out["changed"]:
                    out["changed"].append(cfg.name)
            kept[cfg.name] = q
        for name, q in old.items():
            if name in kept:
                continue
            if any(c.queue == name for c in self._calls.values()):
                kept[name] = q
                if name not in self._draining:
                    self._draining.add(name)
                    out["draining"].append(name)
            else:
                self._draining.discard(name)
                out["removed"].append(name)
        self._queues = kept
        self._rebuild_members()
        self._dirty = True
        self._dispatch(now)
        return out

    def retire_queues(self) -> list[str]:
        """The draining queues whose last call has left, removed now: their names."""
        if not self._draining:
            return []
        busy = {c.queue for c in self._calls.values()}
        gone = [n for n in self._draining if n not in busy]
        for n in gone:
            self._draining.discard(n)
            self._queues.pop(n, None)
        if gone:
            self._rebuild_members()
        return gone

    # ---- internals -----------------------------------------------------------------

    def _set_config(self, q: _Queue, cfg: QueueConfig) -> None:
        q.cfg = cfg
        q.members = {m.agent: m for m in cfg.members}
        q.member_index = {m.agent: i for i, m in enumerate(cfg.members)}
        if q.rr_last >= len(cfg.members):
            q.rr_last = -1

    def _rebuild_members(self) -> None:
        """The agents' queue lists and the queues' free and staffed counts, from the
        members (each agent's ``counted_*`` flags say what it adds, kept by ``_sync``)."""
        for q in self._queues.values():
            if q.cfg.name in self._draining and any(a not in self._agents for a in q.members):
                self._set_config(q, dataclasses.replace(q.cfg, members=tuple(
                    m for m in q.cfg.members if m.agent in self._agents)))
        for a in self._agents.values():
            a.queues = []
        for name, q in self._queues.items():
            free = staffed = 0
            for m in q.cfg.members:
                a = self._agents[m.agent]
                a.queues.append(name)
                free += a.counted_free
                staffed += a.counted_staffed
            q.free_n, q.staffed_n = free, staffed
