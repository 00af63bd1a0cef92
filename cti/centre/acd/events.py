"""What the ACD says: its error, the events it emits (aioquic style, drained with
``Acd.next_event``), the agent status it reports, and the queue log rows it writes.

The queue log rows (:class:`QueueLog`) follow Asterisk's queue_log: event names and data
fields in Asterisk's order, times in whole seconds except RINGNOANSWER (milliseconds, as
Asterisk writes it); ``agent`` is ``"NONE"`` where no agent applies and ``call`` is
``"NONE"`` for agent rows (AGENTLOGIN, AGENTLOGOFF, PAUSE, UNPAUSE, whose ``queue`` is
``"NONE"`` as for Asterisk's agent-wide rows). JOINEMPTY and FULL are the rows Asterisk
reporting tools read for refused joins; REMOVED (a call the IVR took back without a key)
is ours, EXITWITHKEY is Asterisk's when a key is given.
"""
from __future__ import annotations

from dataclasses import dataclass


class AcdError(Exception):
    """We (the centre) asked something the ACD cannot do: unknown queue/agent/call, a call
    already queued, an answer from an agent whose phone is not ringing for that call."""



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



def _s(seconds: float) -> int:
    """Whole seconds, as Asterisk writes queue_log times."""
    return int(round(seconds))


def _ext(extension: int | None) -> str:
    return "" if extension is None else str(extension)


def _status_dict(s: AgentStatus) -> dict:
    return {k: getattr(s, k) for k in s.__dataclass_fields__}
