"""Calls out: click-to-dial by an agent, and the dialer's calls (campaigns, callbacks
after the peak), which are click-to-dials made for an agent (cti/centre/campaigns.py).

The agent's phone rings first; answered, the number is called out on a PRI span (Q.931
SETUP on the first span with a free B-channel) or, with none, on an idle FXO line
(seized, dialled in DTMF, supervised by its tones: ringback, busy, congestion, answer by
polarity reversal or voice). Answered, the trunk and the agent's port are switched
through. How the call ended, read as the dialer reads a Q.850 cause (busy, no answer,
congestion, vacant...), is its CDR's outcome.
"""
from __future__ import annotations

import os

from cti.centre.calls import Call
from cti.centre.dialer import outcome_of
from cti.centre.media import Recording
from cti.centre.trunks import FXO_CAUSES
from drivers.sig import analog
from drivers.sig import pri as pri_mod

__all__ = ["Outbound"]


class Outbound:
    """Calls the agents make; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre

    def make_call(self, now, agent: str, number: str, span: int | None = None) -> dict:
        """Click-to-dial: the agent's phone rings first; when it is answered the number is
        called out on a PRI span (the first with a free B-channel; with none, and no
        ``span`` asked for, on an idle FXO line, dialled in DTMF and supervised by its
        tones) and the two are switched through (outbound calls, campaigns, callbacks
        after the peak)."""
        c = self.c
        a = c.roster.agent(agent)
        number = self.allowed(agent, number)
        ext = c.acd.agent_state(agent).extension or a.extension
        if ext is None or ext not in c.analog:
            raise LookupError(f"agent {agent} has no extension")
        call = self._new_call(now, agent, number, span, ext)
        fxs_call = c.analog[ext].send(now, analog.Alert(number, "dialling"))
        call.agent_call = fxs_call
        c.table.outbound[(ext, fxs_call)] = call.id
        c.inject("request.make_call", call)
        call.state = "delivered"
        c.events.call_event(call, "originated", extension=ext)
        return {"call_id": call.id, "agent": agent, "to": number}

    def allowed(self, agent: str, number: str) -> str:
        """``number`` in its normal form, when ``agent`` may dial it: a NumberError (a
        ValueError: a campaign or callback record with a number no line carries fails
        its dial) or :class:`~cti.centre.barring.NumberBarred` otherwise, before
        anything is seized (a barred number never reaches a trunk)."""
        from drivers.numbers import parse_number
        c = self.c
        number = parse_number(number)
        c.barring.refuse(agent, c.agent_queues(agent), number)
        return number

    def from_phone(self, now, agent: str, port: int, fxs_call: int, number: str) -> dict:
        """The agent dialled ``number`` at its own phone (off hook, the digits collected
        by the port, cti/centre/phones.py): a click-to-dial whose phone has answered
        already. Barred or unreachable: the error, and the phone released by the
        caller of this."""
        c = self.c
        number = self.allowed(agent, number)
        call = self._new_call(now, agent, number, None, port)
        call.agent_call = fxs_call
        c.table.outbound[(port, fxs_call)] = call.id
        c.analog[port].send(now, analog.Connected())
        call.state = "delivered"
        c.events.call_event(call, "originated", extension=port)
        self.go_out(now, call)
        return {"call_id": call.id, "agent": agent, "to": number}

    def _new_call(self, now, agent: str, number: str, span: int | None, ext: int) -> Call:
        """The call out's record, on the first PRI span with a free B-channel (or
        ``span``), else an idle FXO line; ValueError when every trunk is busy."""
        c = self.c
        pri = c.pri
        spans = [span] if span is not None else sorted(pri)
        spans = [n for n in spans if n in pri and pri[n].q931.free_channels()]
        fxo = None if spans or span is not None else c.lines.free_fxo()
        if not spans and fxo is None:
            raise ValueError("no free B-channel on any PRI span nor an idle FXO line "
                             "(all trunks busy)")
        cid, n = c.table.next_id()
        call = Call(id=cid, seq=n, direction="out",
                    trunk=f"{spans[0]}/-" if spans else f"fxo/{fxo}", ani=str(ext),
                    dnis=number, start=now, span=spans[0] if spans else None,
                    fxo_port=fxo, agent=agent, agent_port=ext, span_asked=span is not None)
        c.table.add(call)
        c.acd.agent_busy_elsewhere(now, agent, True)
        call.direct = True
        return call

    def agent_event(self, now, leg, ev) -> None:
        """The calling agent's phone: answered (the call goes out), or hung up."""
        c = self.c
        outbound = c.table.outbound
        call = c.calls.get(outbound[leg])
        if call is None:
            del outbound[leg]
            return
        c.inject("outbound_agent", call)
        if isinstance(ev, analog.Answered) and call.pri_call is None and call.fxo_call is None:
            self.go_out(now, call)
        elif isinstance(ev, analog.Disconnected):
            del outbound[leg]
            call.agent_port = None
            if call.direct:
                c.acd.agent_busy_elsewhere(now, call.agent, False)
                call.direct = False
            c.lines.hangup(now, call, 16)
            c.clearing.finish(now, call, "answered" if call.answer is not None else "no_answer",
                              16)

    def go_out(self, now, call: Call) -> None:
        """The agent's phone is on the call: the number goes out, on its PRI span or FXO
        line."""
        c = self.c
        if call.fxo_port is not None:
            # an analog trunk: seize, dial in DTMF; the FXO machine supervises the tones
            call.fxo_call = c.analog[call.fxo_port].send(now, analog.Dial(call.dnis))
            c.table.by_fxo[(call.fxo_port, call.fxo_call)] = call.id
        else:
            if not call.span_asked and not c.pri[call.span].q931.free_channels():
                # the span had a free B-channel when the agent's phone began to ring;
                # another may have one now
                call.span = next((n for n in sorted(c.pri)
                                  if c.pri[n].q931.free_channels()), call.span)
                call.trunk = f"{call.span}/-"
            pri = c.pri[call.span]
            call.pri_call = pri.place_call(now, call.dnis, c.config.outbound_ani or "")
            c.table.by_pri[(call.span, call.pri_call)] = call.id
        call.state = "dialling"
        c.events.call_event(call, "dialling")

    def fxo_event(self, now, leg, ev) -> None:
        """A call out on an FXO line: ringback heard, answered (polarity reversal or voice
        after ringback), or ended: busy tone (Q.850 17), congestion tone (34), no answer
        (19), no dial tone (34)."""
        c = self.c
        call = c.calls[c.table.by_fxo[leg]]
        if isinstance(ev, (analog.Answered, analog.CallProgress)):
            self.progress(now, call, ev)
        elif isinstance(ev, analog.Disconnected):
            del c.table.by_fxo[leg]
            c.inbound.trunk_cleared(now, call, FXO_CAUSES.get(ev.reason, 16))

    def progress(self, now, call: Call, ev) -> None:
        """The network's progress on a call out: the B-channel it took, alerting (CSTA
        Network Reached), answered (switched through to the agent, and recorded)."""
        c = self.c
        c.inject("outbound_progress", call)
        ts = getattr(ev, "timeslot", None)
        if ts and call.timeslot is None:
            call.timeslot = ts
            c.table.index_trunk(call)
            call.trunk = f"{call.span}/{ts}"
        if isinstance(ev, pri_mod.CallAlerting) or (isinstance(ev, analog.CallProgress)
                                                    and ev.tone == "ringback"):
            if call.state != "ringing":
                call.state = "ringing"
                c.events.call_event(call, "network_reached")
        elif isinstance(ev, (pri_mod.CallAnswered, analog.Answered)) and call.answer is None:
            call.answer = now
            call.conf = c.board.conference()
            call.conf.join(c.lines.channel(call))
            call.conf.join(c.board.ports[call.agent_port])
            if c.config.record:
                c.lines.channel(call).tap(True, "both")
                call.recording = Recording(os.path.join(c.config.recordings_dir,
                                                        f"{call.id}.wav"), c.lines.law(call))
            call.state = "established"
            c.events.call_event(call, "established", extension=call.agent_port)
            c.limit_call(now, call)

    def trunk_cleared(self, now, call: Call, cause: int) -> None:
        """The far end (or the network) cleared a call out."""
        c = self.c
        outbound = c.table.outbound
        for leg, cid in list(outbound.items()):
            if cid == call.id:
                del outbound[leg]
        if call.direct and call.agent:
            c.acd.agent_busy_elsewhere(now, call.agent, False)
            call.direct = False
        if call.agent_port is not None:
            c.board.ports[call.agent_port].leave_conference()
            c.analog[call.agent_port].send(now, analog.Release("far end cleared"))
        # the dialer's reading of the cause: busy, no answer, congestion, vacant...
        c.clearing.finish(now, call, outcome_of(cause, call.answer is not None), cause)
