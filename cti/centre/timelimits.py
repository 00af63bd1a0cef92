"""Time limits on calls: a call longer than its limit hears a warning tone ``warning``
seconds before the end, then is cleared, and its CDR says why (``reason`` "time_limit",
``time_limit`` the seconds).

Sans-I/O: the timers run on line time (the board's clock, as every timer of the centre);
:meth:`TimeLimits.arm` starts one when a call is established, :meth:`TimeLimits.due`
says which calls are to be warned or cleared now, and the centre does it
(cti/centre/coordinator.py): the tone (a 1400 Hz beep, the frequency ITU-T E.180 gives
its warning and intrusion tones) goes to both sides, the caller on the trunk channel and
the agent on its phone, mixed into the call, which goes on until the end.

Which limit: the smallest of the call's queue's ``max_talk`` ([[queues]]), its campaign's
(``campaign.create`` ``max_talk``) and its agent's ([centre.time_limits] agents); none of
them set, no limit. The limit is talk time: it counts from when the call is established
with the agent (a call out: answered by the far end), once (a transfer keeps it); time on
hold counts (the line is taken all the same). A limit shorter than the warning warns at
once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TimeLimitConfig", "Timer", "TimeLimits", "limit_for", "REASON"]

#: the CDR's reason of a call the centre cleared at its limit
REASON = "time_limit"


@dataclass(frozen=True)
class TimeLimitConfig:
    warning: float = 10.0                 # seconds before the end the warning tone sounds
    agents: dict = field(default_factory=dict)     # agent -> max talk, seconds
    tone_hz: float = 1400.0
    tone_ms: int = 500


@dataclass
class Timer:
    limit: float                 # seconds
    source: str                  # what set it: "queue sales", "agent 1001", "campaign x"
    warn_at: float               # line time
    end_at: float
    warned: bool = False


def limit_for(queue: tuple[str, float | None] | None = None,
              agent: tuple[str, float | None] | None = None,
              campaign: tuple[str, float | None] | None = None) -> tuple[float, str] | None:
    """The smallest limit set among the call's queue, agent and campaign, with its
    source; None when none is set."""
    found = [(v, f"{kind} {name}") for kind, x in (("queue", queue), ("agent", agent),
                                                   ("campaign", campaign))
             if x is not None for name, v in [x] if v is not None]
    return min(found, key=lambda f: f[0]) if found else None


class TimeLimits:
    """The calls' timers (see the module doc)."""

    def __init__(self):
        self.timers: dict[str, Timer] = {}

    def arm(self, call_id: str, now: float, limit: float, source: str,
            warning: float) -> Timer:
        t = Timer(limit, source, now + max(0.0, limit - warning), now + limit)
        self.timers[call_id] = t
        return t

    def disarm(self, call_id: str) -> None:
        self.timers.pop(call_id, None)

    def due(self, now: float) -> list[tuple[str, str, Timer]]:
        """``(what, call_id, timer)`` due at ``now``, what "warn" or "end"; an ended
        call's timer is dropped, a warned one is not warned again."""
        out = []
        for cid, t in list(self.timers.items()):
            if now >= t.end_at:
                del self.timers[cid]
                out.append(("end", cid, t))
            elif now >= t.warn_at and not t.warned:
                t.warned = True
                out.append(("warn", cid, t))
        return out
