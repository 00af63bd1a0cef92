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

What lives here, one concern a module:

``core.py``        :class:`Acd`, the state machine composed of the parts below; its
                   outputs, snapshot and invariants
``agents.py``      agents: :class:`AgentConfig`, agent states, login/logout, ready/not
                   ready (pause codes, "not ready after this call"), wrap-up, busy elsewhere
``queues.py``      queues and their callers: :class:`Member`, :class:`QueueConfig` (join
                   rules, overflow, dissuasion), the waiting calls and their order,
                   enqueue/answer/abandon/end/transfer/remove, EWT and queue status
``strategies.py``  which agents a call rings: the strategies (:func:`strategies.pick`),
                   penalties, skills, and the distribution across queues
``timers.py``      ring-no-answer, queue timeout, retry, announcements, end of wrap-up
``events.py``      what the ACD says: :class:`AcdError`, the events, :class:`AgentStatus`
                   and the Asterisk queue_log rows (:class:`QueueLog`)
``routing.py``     :class:`AreaRouter`, the queue by the caller's area
``changes.py``     agents and queues added, changed and removed while the ACD runs
                   (``cti reload``): removed queues drain, removed agents leave after
                   their call

Every agent told to ring by :class:`RingAgents` stops by exactly one of: :class:`Connected`
(it answered), :class:`StopRinging` (someone else answered, ring-no-answer, the caller
left, timeout) or :meth:`Acd.ring_failed` (its phone could not ring). Every enqueued call
ends in exactly one of the outcomes queues.py lists.

May import: the standard library and this package only (no channel, no clock, no store).
"""
from __future__ import annotations

from cti.centre.acd.agents import AGENT_STATES, AgentConfig
from cti.centre.acd.core import Acd
from cti.centre.acd.events import (
    Abandoned, AcdError, AcdEvent, AgentState, AgentStatus, Announce, Connected, JoinFailed,
    Overflow, QueueLog, Removed, RingAgents, RingNoAnswer, StopRinging,
)
from cti.centre.acd.queues import OVERFLOW_ACTIONS, Member, QueueConfig
from cti.centre.acd.routing import AreaRouter
from cti.centre.acd.strategies import STRATEGIES
# reachable as before the split (tests import these from cti.centre.acd)
from cti.centre.acd.strategies import _any_member, _free_members  # noqa: F401
from cti.centre.acd.agents import RNA_REASON  # noqa: F401

__all__ = [
    "AcdError", "AgentConfig", "Member", "QueueConfig", "AgentStatus", "Acd", "AreaRouter",
    "STRATEGIES", "OVERFLOW_ACTIONS", "AGENT_STATES",
    # events
    "RingAgents", "StopRinging", "Connected", "RingNoAnswer", "Announce", "Overflow",
    "JoinFailed", "Abandoned", "Removed", "AgentState", "QueueLog", "AcdEvent",
]
