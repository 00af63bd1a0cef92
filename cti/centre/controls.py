"""The agent's plain call functions: hang up, hold, retrieve, record on request (CSTA
Clear Connection, Hold Call, Retrieve Call, and recording on demand).

Transfers and consultation are in cti/centre/transfer.py, supervision in
cti/centre/supervision.py, calls made by agents in cti/centre/outbound.py.
"""
from __future__ import annotations

import os

from cti.centre.media import Recording
from drivers.sig import analog

__all__ = ["CallControls"]


class CallControls:
    """Hang up, hold, retrieve and record; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre

    def hangup(self, now, call_id: str) -> dict:
        c = self.c
        base = call_id.removesuffix(".consult")
        if base != call_id and getattr(c.calls.get(base), "consult", None):
            # the consultation only: its phone is released; the Disconnected that follows
            # ends it (consult_ended) and the caller stays held for the first agent
            cons = c.calls[base].consult
            c.analog[cons["port"]].send(now, analog.Release("consultation ended"))
            return {"call_id": call_id, "state": "cleared"}
        call = c.table.call(call_id)
        if call.state in ("established", "held"):
            if not call.direct:
                c.acd.call_ended(now, call.id, by="agent")
            c.queueing.release_agent(now, call)
            c.inject("request.hangup", call)
            if not c.survey.start(now, call):
                c.lines.hangup(now, call, 16)
                c.clearing.finish(now, call, "answered", 16)
        else:
            c.lines.hangup(now, call, 16)
            c.inject("request.hangup", call)
            c.inbound.trunk_cleared(now, call, 16)
        return {"call_id": call_id, "state": "cleared"}

    def hold(self, now, call_id: str) -> dict:
        """The agent holds the caller: the caller hears music on hold, the agent silence."""
        c = self.c
        call = c.table.call(call_id)
        if call.state != "established":
            raise ValueError(f"call {call_id} is {call.state}: only an established call can "
                             f"be held")
        if call.agent_port is not None:
            c.board.ports[call.agent_port].leave_conference()
        c.inject("request.hold", call)
        c.media.start_moh(call)
        call.state = "held"
        c.events.call_event(call, "held")
        return c.views.call_info(call)

    def retrieve(self, now, call_id: str) -> dict:
        c = self.c
        call = c.table.call(call_id)
        if call.state != "held":
            raise ValueError(f"call {call_id} is {call.state}: only a held call can be "
                             f"retrieved")
        c.media.stop(call)
        if call.agent_port is not None and call.conf is not None:
            call.conf.join(c.board.ports[call.agent_port])
        call.state = "established"
        c.events.call_event(call, "retrieved")
        return c.views.call_info(call)

    def record(self, now, call_id: str, on: bool = True) -> dict:
        """Record this call whatever the queue's policy (on request), or stop recording."""
        c = self.c
        call = c.table.call(call_id)
        if on and call.recording is None and call.answer is not None:
            c.lines.channel(call).tap(True, "both")
            call.recording = Recording(os.path.join(c.config.recordings_dir,
                                                    f"{call.id}.wav"), c.lines.law(call))
        call.record_requested = bool(on)
        if call.recording is not None:
            # paused: nothing more is kept until it resumes (the paused time is left out)
            if on:
                call.recording.resume()
            else:
                call.recording.pause()
        return {"call_id": call_id, "recording": bool(on)}
