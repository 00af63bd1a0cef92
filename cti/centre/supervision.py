"""Supervision: a supervisor listens to a call (monitor), coaches the agent (whisper:
only the agent hears), joins it (barge), or a three-way conference with another agent.

The supervisor's phone rings first; answered, its port joins the call's board conference
in that mode (the board's conference modes, drivers/board.py: monitor, whisper to one
member, member). The supervisor's leg is found in the call table's ``supervisors`` (the
consulted agent's leg of a consultative transfer is kept there too, in mode ``consult``,
and handed to :mod:`cti.centre.transfer`).
"""
from __future__ import annotations

from cti.centre.calls import Call
from drivers.sig import analog

__all__ = ["Supervision", "MODES"]

MODES = ("monitor", "whisper", "barge", "conference")


class Supervision:
    """Supervisors on calls; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre

    def supervise(self, now, call_id: str, supervisor: str, mode: str = "monitor") -> dict:
        """A supervisor listens to (``monitor``), coaches (``whisper``: only the agent hears)
        or joins (``barge``; also a three-way ``conference`` with another agent) an
        established call. The supervisor's phone rings; on answer it joins the call's
        conference in that mode. Asked again with another mode, it changes the mode."""
        c = self.c
        supervisors = c.table.supervisors
        call = c.table.call(call_id)
        if mode not in MODES:
            raise ValueError(f"mode must be monitor, whisper, barge or conference, not {mode!r}")
        if call.state not in ("established", "held") or call.conf is None:
            raise ValueError(f"call {call_id} is {call.state}: only an established call can "
                             f"be supervised")
        sup = c.roster.agent(supervisor)
        ext = c.acd.agent_state(supervisor).extension or sup.extension
        if ext is None or ext not in c.analog or ext == call.agent_port:
            raise LookupError(f"agent {supervisor} has no extension of its own to use")
        for leg, (cid, who, _) in supervisors.items():
            if cid == call.id and who == supervisor:
                supervisors[leg] = (cid, who, mode)
                if c.board.ports[ext].conference() == call.conf.id:
                    self.join(call, ext, mode)
                c.events.call_event(call, "conferenced" if mode in ("barge", "conference")
                                    else "supervised", supervisor=supervisor, mode=mode)
                return {"call_id": call_id, "supervisor": supervisor, "mode": mode}
        port = c.analog[ext]
        if getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
            raise ValueError(f"agent {supervisor}'s extension {ext} is in use")
        fxs_call = port.send(now, analog.Alert(call.ani, f"{mode} {call.agent or ''}".strip()))
        supervisors[(ext, fxs_call)] = (call.id, supervisor, mode)
        c.acd.agent_busy_elsewhere(now, supervisor, True)
        return {"call_id": call_id, "supervisor": supervisor, "mode": mode, "ringing": ext}

    def join(self, call: Call, ext: int, mode: str) -> None:
        """The supervisor's port into the call's conference, in its mode."""
        board = self.c.board
        port = board.ports[ext]
        if mode == "whisper":
            if call.agent_port is None:
                raise ValueError("whisper needs an agent on the call")
            call.conf.join(port, "whisper", to=board.ports[call.agent_port])
        else:
            call.conf.join(port, "monitor" if mode == "monitor" else "member")

    def event(self, now, leg, ev) -> None:
        """A supervisor's (or consulted agent's) phone: answered, or hung up."""
        c = self.c
        cid, supervisor, mode = c.table.supervisors[leg]
        call = c.calls.get(cid)
        if mode == "consult":
            c.transfers.consult_event(now, leg, ev, call)
            return
        if isinstance(ev, analog.Answered) and call is not None and call.conf is not None:
            self.join(call, leg[0], mode)
            c.events.call_event(call, "conferenced" if mode in ("barge", "conference")
                                else "supervised", supervisor=supervisor, mode=mode)
        elif isinstance(ev, analog.Disconnected):
            del c.table.supervisors[leg]
            c.board.ports[leg[0]].leave_conference()
            c.acd.agent_busy_elsewhere(now, supervisor, False)
            if call is not None:
                c.events.call_event(call, "supervisor_left", supervisor=supervisor)

    def call_ended(self, now, call: Call) -> None:
        """The call is over: its supervisors' phones released, and the supervisors free."""
        c = self.c
        supervisors = c.table.supervisors
        for leg, (cid, who, _) in list(supervisors.items()):
            if cid == call.id:
                del supervisors[leg]
                c.board.ports[leg[0]].leave_conference()
                c.analog[leg[0]].send(now, analog.Release("call ended"))
                c.acd.agent_busy_elsewhere(now, who, False)
