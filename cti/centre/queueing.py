"""Queueing and delivery: a call into an ACD queue, its agents' phones rung, the call
switched through to the one who answers, and the agent's phone events.

The ACD (cti/centre/acd.py) is sans-I/O: it decides which agents ring, when a ring goes
unanswered, when a queue overflows, and logs the queue; :class:`Queueing` carries its
events out on the line: the caller hears music on hold and announcements, the agents'
FXS ports ring with caller ID, the answering agent's port joins a board conference with
the trunk channel (CSTA Delivered, Established). Peak dissuasion (a queue's
``dissuade_ewt``) also starts here, as it is decided when a call would join a queue.
The agent's wrap-up time, measured from the ACD's state events, goes on the CDR of the
agent's last call.
"""
from __future__ import annotations

from cti.centre import ivr as ivr_mod
from cti.centre.calls import Call
from drivers.sig import analog

__all__ = ["Queueing"]


class Queueing:
    """The ACD on the line; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre
        self.queue_cfg = {q.name: q for q in centre.config.queues}
        # the CDR's wrap-up: when each agent's wrap-up began, and the agent's last call
        self._wrapup_since: dict[str, float] = {}
        self._last_call: dict[str, str] = {}

    def enqueue(self, now, call: Call, queue: str) -> None:
        c = self.c
        c.inject("enqueue", call)
        if not c.acd.has_queue(queue):
            # removed by a reload after this call's IVR flow or its queue's overflow was set
            queue = c.config.queues[0].name
        if self.dissuade(now, call, queue):
            return
        call.queue = queue
        call.queued_at = now
        call.state = "queued"
        if c.acd.enqueue(now, call.id, queue, ani=call.ani):
            c.media.start_moh(call)
            c.events.call_event(call, "queued")
        self.run_acd(now)

    def dissuade(self, now, call: Call, queue: str) -> bool:
        """Peak dissuasion (the queue's ``dissuade_ewt``): a caller who would wait longer
        than the threshold hears the queue's dissuasion flow on an IVR port instead of
        joining (once per call); with no IVR port free the call joins as usual."""
        c = self.c
        qc = self.queue_cfg.get(queue)
        if qc is None or qc.dissuade_ewt is None or call.dissuaded or call.direction != "in":
            return False
        ewt = c.acd.estimated_wait(queue)
        if ewt <= qc.dissuade_ewt:
            return False
        flow = c.config.flows.get(f"dissuade:{queue}")
        if flow is None or not c.ivr_ports.acquire(call.id):
            return False
        call.dissuaded = True
        call.ivr_port = True
        call.queue = queue
        c.counters["dissuaded"] += 1
        c.events.call_event(call, "dissuaded", queue=queue, ewt=round(ewt, 1), mode=qc.dissuade)
        call.ivr = ivr_mod.IvrSession(flow, call.id, call.ani, call.dnis, call.data)
        call.state = "ivr"
        call.ivr.start(now)
        c.ivr.run(now, call)
        return True

    # ---- the ACD's events ----------------------------------------------------------------

    def run_acd(self, now) -> None:
        """The ACD's timer if due, then every event it has to say, each carried out."""
        c = self.c
        acd = c.acd
        due = acd.get_timer()
        if due is not None and due <= now:
            try:
                acd.handle_timer(now)
            except Exception as exc:
                c.clearing.fail_call(now, None, "acd_timer", exc)
        while True:
            ev = acd.next_event()
            if ev is None:
                return
            try:
                self.acd_event(now, ev)
            except Exception as exc:
                c.clearing.fail_call(now, c.calls.get(getattr(ev, "call", None)),
                                     f"acd.{type(ev).__name__}", exc)

    def acd_event(self, now, ev) -> None:
        c = self.c
        name = type(ev).__name__
        call = c.calls.get(getattr(ev, "call", None))
        store = c.store
        if name == "QueueLog":
            if store is not None:
                store.log_queue(c.epoch + ev.time, ev.call, ev.queue, ev.agent, ev.event,
                                *ev.data)
            return
        if name == "AgentState":
            if ev.state == "wrapup":
                self._wrapup_since[ev.agent] = now
            elif ev.agent in self._wrapup_since:
                # the wrap-up is over: its length goes on the CDR of the agent's last call
                since = self._wrapup_since.pop(ev.agent)
                cid = self._last_call.get(ev.agent)
                if cid is not None and store is not None:
                    store.set_cdr_wrapup(cid, ev.agent, now - since)
            if store is not None:
                ext = c.acd.agent_state(ev.agent).extension
                store.log_agent(c.epoch + now, ev.agent, ev.state, ev.reason or None,
                                None if ext is None else str(ext))
            c.events.emit(f"agent.{ev.agent}.state", "agent.state", agent=ev.agent,
                          state=ev.state, reason=ev.reason)
            return
        if call is None:
            return
        c.inject("acd_event", call)
        if name == "RingAgents":
            for agent, ext in zip(ev.agents, ev.extensions):
                self.ring_agent(now, call, agent, ext)
        elif name == "StopRinging":
            for agent in ev.agents:
                port, fxs_call = call.ringing.pop(agent, (None, None))
                if port is not None:
                    c.table.by_agent_leg.pop((port, fxs_call), None)
                    c.analog[port].send(now, analog.Release("stop"))
            if not call.ringing and call.state == "delivered":
                call.state = "queued"
        elif name == "Connected":
            self.connect(now, call, ev.agent)
        elif name == "RingNoAnswer":
            c.counters["ring_no_answer"] += 1
            c.events.call_event(call, "ring_no_answer", agent_rna=ev.agent)
        elif name == "Announce":
            c.media.announce(call, ev.position, ev.ewt)
        elif name == "Overflow":
            self.overflow(now, call, ev.action, ev.target)
        elif name == "JoinFailed":
            self.overflow(now, call, "hangup", None)
        elif name == "Abandoned":
            pass

    def last_call_of(self, agent: str, call_id: str) -> None:
        """The agent's last call, whose CDR takes the wrap-up that follows it."""
        self._last_call[agent] = call_id

    # ---- ringing and connecting ----------------------------------------------------------

    def ring_agent(self, now, call: Call, agent: str, ext) -> None:
        c = self.c
        c.inject("ring_agent", call)
        port = c.analog.get(ext)
        if port is None:
            c.acd.ring_failed(now, call.id, agent)
            return
        fxs_call = port.send(now, analog.Alert(call.ani, (call.data.get("customer") or {})
                                               .get("name") if isinstance(call.data.get(
                                                   "customer"), dict) else None))
        if fxs_call is None:
            c.acd.ring_failed(now, call.id, agent)
            return
        call.ringing[agent] = (ext, fxs_call)
        c.table.by_agent_leg[(ext, fxs_call)] = call.id
        call.state = "delivered"
        c.events.call_event(call, "delivered", agent=agent, extension=ext,
                            customer=call.data.get("customer"))

    def stop_ringing(self, now, call: Call) -> None:
        c = self.c
        for agent, (port, fxs_call) in list(call.ringing.items()):
            c.table.by_agent_leg.pop((port, fxs_call), None)
            c.analog[port].send(now, analog.Release("caller gone"))
        call.ringing.clear()

    def connect(self, now, call: Call, agent: str) -> None:
        """Switch the call through to the agent: the trunk channel and the agent's port
        in one board conference (CSTA Established)."""
        c = self.c
        port, fxs_call = call.ringing.pop(agent, (c.agents[agent].extension, None))
        call.agent, call.agent_port, call.agent_call = agent, port, fxs_call
        c.inject("connect", call)
        call.wait = now - (call.queued_at or now)
        c.media.stop(call)
        if call.conf is None:
            call.conf = c.board.conference()
            call.conf.join(c.lines.channel(call))
        call.conf.join(c.board.ports[port])
        call.state = "established"
        c.events.call_event(call, "established", extension=port, wait=round(call.wait, 3))
        c.limit_call(now, call)

    def release_agent(self, now, call: Call) -> None:
        """The agent's phone leg off the call (released, out of the conference)."""
        c = self.c
        if call.direct and call.agent is not None:
            c.acd.agent_busy_elsewhere(now, call.agent, False)
            call.direct = False
        if call.agent_port is not None:
            c.table.by_agent_leg.pop((call.agent_port, call.agent_call), None)
            # a call the agent made: its leg no longer stands for the call (a transfer
            # leaves the call up when that phone hangs up)
            c.table.outbound.pop((call.agent_port, call.agent_call), None)
            if call.conf is not None:
                c.board.ports[call.agent_port].leave_conference()
            c.analog[call.agent_port].send(now, analog.Release("far end cleared"))
        call.agent_port = call.agent_call = None

    def overflow(self, now, call: Call, action: str, target: str | None) -> None:
        c = self.c
        c.media.stop(call)
        if action == "queue" and target:
            c.events.call_event(call, "diverted", to=f"queue:{target}")
            self.enqueue(now, call, target)
        elif action == "voicemail":
            c.ivr.start_voicemail(now, call, target or call.queue or "general")
        elif action == "callback":
            c.ivr.callback(now, call, call.ani, call.queue)
        else:
            c.lines.hangup(now, call, 34)
            c.clearing.finish(now, call, "timeout", 34)

    # ---- the agent's phone ---------------------------------------------------------------

    def phone_answered(self, now, call: Call, port: int) -> None:
        """An agent's phone ringing for the call was answered."""
        c = self.c
        agent = next(a for a, (p, _) in call.ringing.items() if p == port)
        if call.direct:
            # a transfer to this agent: not an ACD call, but the agent is busy on it
            c.acd.agent_busy_elsewhere(now, agent, True)
            self.connect(now, call, agent)
        else:
            c.acd.answered(now, call.id, agent)
        self.run_acd(now)

    def phone_busy(self, now, call: Call, port: int, fxs_call) -> None:
        """The phone could not ring (off hook: the FXS found it busy): the ACD tries the
        next agent now rather than ringing a dead leg until ring-no-answer."""
        c = self.c
        agent = next(a for a, leg in call.ringing.items() if leg == (port, fxs_call))
        del call.ringing[agent]
        c.table.by_agent_leg.pop((port, fxs_call), None)
        if not call.ringing and call.state == "delivered":
            call.state = "queued"
        if call.direct:
            # a transfer to that agent found the phone busy: back to a queue
            call.direct = False
            queue = call.queue or c.config.queues[0].name
            c.events.call_event(call, "diverted", to=f"queue:{queue}", reason="busy")
            self.enqueue(now, call, queue)
        else:
            c.acd.ring_failed(now, call.id, agent)
            self.run_acd(now)

    def agent_hung_up(self, now, call: Call, port: int, fxs_call) -> None:
        """The agent hung up: the caller is cleared (or hears the survey first)."""
        c = self.c
        c.table.by_agent_leg.pop((port, fxs_call), None)
        call.agent_port = None
        if call.direct:
            self.release_agent(now, call)
        else:
            c.acd.call_ended(now, call.id, by="agent")
        if not c.survey.start(now, call):
            c.lines.hangup(now, call, 16)
            c.clearing.finish(now, call, "answered", 16)
