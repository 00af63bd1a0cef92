"""The after-call survey: when the agent hangs up on an answered inbound call of a
surveyed queue (``[centre] survey``), the caller, still on the trunk, hears the
``survey`` prompt and rates the call with one DTMF key, 1 to 5, within
``survey_timeout`` seconds. The rating goes in the call's CDR; no key in time, NULL.
"""
from __future__ import annotations

from cti.centre.calls import Call

__all__ = ["Survey"]


class Survey:
    """The survey of the calls that end with one; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre

    def start(self, now, call: Call) -> bool:
        """The agent hung up on an answered inbound call of a surveyed queue: the caller,
        still on the trunk, hears the ``survey`` prompt and rates the call with one DTMF
        key, 1 to 5, within ``survey_timeout`` seconds (stored in the CDR; no key, NULL).
        False: this call has no survey (the caller is to be cleared)."""
        c = self.c
        q = c.config.survey_queues
        if call.direction != "in" or call.answer is None or call.agent is None or \
                not ("*" in q or call.queue in q) or c.prompts is None or \
                "survey" not in c.prompts:
            return False
        if not c.lines.held(call):
            return False
        c.media.stop(call)
        if call.conf is not None:
            call.conf.destroy()
            call.conf = None
        c.lines.detect_in_call(call, c.lines.channel(call))
        call.state = "survey"
        call.survey_until = now + c.config.survey_timeout
        c.deadlines.add(call.id)
        c.media.play(call, ["survey"])
        c.events.call_event(call, "survey")
        return True

    def key(self, now, call: Call, digit: str) -> None:
        """A key the caller pressed during the survey: 1 to 5 rates the call and ends it;
        any other is ignored."""
        if digit in "12345":
            call.survey = int(digit)
            self.end(now, call)

    def end(self, now, call: Call) -> None:
        """The survey is over (a key, or none in time): the caller is cleared."""
        self.c.lines.hangup(now, call, 16)
        self.c.clearing.finish(now, call, "answered", 16)
