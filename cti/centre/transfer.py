"""Transfers: blind transfer to an agent or a queue (with attached data), consultative
transfer (consult, then complete), call pickup, and agents' call forwarding.

A transfer or pickup to an agent rings that agent outside the ACD (a *direct* ring, CSTA
Delivered); unanswered within ``transfer_ring_timeout`` it goes back to the call's queue
(ring-no-answer, logged as the ACD logs its own). A consultation rings the consulted
agent while the caller hears music on hold; answered, the two agents talk in a
conference of their own; completed, the consulted agent takes the caller and the first
agent's phone is released (CSTA Consultation Call, Transfer Call).
"""
from __future__ import annotations

from cti.centre.calls import Call
from drivers.sig import analog

__all__ = ["Transfers", "DIRECT_RING_TIMEOUT"]

DIRECT_RING_TIMEOUT = 20.0     # default s a transferred call rings an agent before it goes back


class Transfers:
    """Transfer, consult, pickup and forwarding; ``centre``: the coordinator.

    ``forward``: agent -> the agent or ``queue:NAME`` its direct calls go to."""

    def __init__(self, centre):
        self.c = centre
        self.forward: dict[str, str] = {}     # agent -> agent or queue:NAME its calls go to

    def transfer(self, now, call_id: str, to: str, data: dict | None = None) -> dict:
        """Blind transfer with attached data: to an agent (its extension rings) or a queue.
        An agent who forwards their calls sends it on; one in do-not-disturb refuses it."""
        c = self.c
        seen = {to}
        while to in self.forward:
            to = self.forward[to]
            if to in seen:
                raise ValueError(f"forwarding loop at {to}")
            seen.add(to)
        if to in c.agents and c.acd.agent_state(to).state == "not_ready" and \
                c.acd.agent_state(to).reason == "dnd":
            raise ValueError(f"agent {to} is in do-not-disturb")
        call = c.table.call(call_id)
        if call.state not in ("established", "held"):
            raise ValueError(f"call {call_id} is {call.state}: only an established call "
                             f"can be transferred")
        if to in c.agents:
            ext = c.acd.agent_state(to).extension or c.agents[to].extension
            port = c.analog.get(ext)
            if port is None:
                raise LookupError(f"agent {to} has no extension to ring")
            if to == call.agent:
                raise ValueError(f"call {call_id} is already with agent {to}")
            if getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
                # refused before the first agent lets go of the caller
                raise ValueError(f"agent {to} is busy (extension {ext} in use)")
        elif to.removeprefix("queue:") not in {q.name for q in c.config.queues}:
            # refused here, not after the agent has let go of the caller
            raise LookupError(f"no agent or queue {to!r}")
        if data:
            call.data.update(data)
        from_agent = call.agent
        c.counters["transfers"] += 1
        if not call.direct:
            c.acd.transfer_out(now, call.id, target=to)
        else:
            # the agent had it outside the ACD (a transfer to them): no queue_log TRANSFER
            c.counters["transfers_direct"] += 1
        c.queueing.release_agent(now, call)
        c.inject("request.transfer", call)
        call.transfers += 1
        call.agent = None
        c.media.start_moh(call)
        if to in c.agents:
            target = c.agents[to]
            c.events.call_event(call, "transferred", from_agent=from_agent, to=to)
            call.state = "queued"
            ext = c.acd.agent_state(to).extension or target.extension
            self.ring_direct(now, call, to, ext)
        else:
            if to.startswith("queue:"):
                to = to[len("queue:"):]
            if to not in {q.name for q in c.config.queues}:
                raise LookupError(f"no agent or queue {to!r}")
            c.events.call_event(call, "transferred", from_agent=from_agent, to=f"queue:{to}")
            c.queueing.enqueue(now, call, to)
        return {"call_id": call_id, "to": to, "data": dict(call.data)}

    def ring_direct(self, now, call: Call, agent: str, ext) -> None:
        """Ring one agent outside the ACD (a transfer to that agent)."""
        c = self.c
        port = c.analog.get(ext)
        if port is None:
            raise LookupError(f"agent {agent} has no extension to ring")
        fxs_call = port.send(now, analog.Alert(call.ani, None))
        call.ringing[agent] = (ext, fxs_call)
        c.table.by_agent_leg[(ext, fxs_call)] = call.id
        call.state = "delivered"
        call.direct = True
        call.direct_until = now + c.config.transfer_ring_timeout
        c.deadlines.add(call.id)
        c.events.call_event(call, "delivered", agent=agent, extension=ext,
                            customer=call.data.get("customer"))

    def direct_no_answer(self, now, call: Call) -> None:
        """A transfer (or pickup) rang an agent who did not answer: ring-no-answer, and the
        call goes back to its queue rather than ringing for ever."""
        c = self.c
        agents = list(call.ringing)
        c.queueing.stop_ringing(now, call)
        call.direct = False
        call.direct_until = None
        c.counters["ring_no_answer"] += 1
        if c.store is not None:
            # the same row the ACD writes for its own ring-no-answers (ring time in ms)
            c.store.log_queue(c.epoch + now, call.id, call.queue or "NONE",
                              agents[0] if agents else "NONE", "RINGNOANSWER",
                              int(DIRECT_RING_TIMEOUT * 1000))
        queue = call.queue or c.config.queues[0].name
        c.events.call_event(call, "ring_no_answer", agent_rna=agents[0] if agents else None)
        c.events.call_event(call, "diverted", to=f"queue:{queue}", reason="no_answer")
        c.queueing.enqueue(now, call, queue)

    def pickup(self, now, call_id: str, agent: str) -> dict:
        """Call pickup: a colleague takes a call ringing another agent's phone. The ringing
        stops and the call rings the colleague's phone at once, outside the ACD."""
        c = self.c
        call = c.table.call(call_id)
        if call.state != "delivered":
            raise ValueError(f"call {call_id} is {call.state}: only a ringing call can be "
                             f"picked up")
        a = c.roster.agent(agent)
        ext = c.acd.agent_state(agent).extension or a.extension
        port = c.analog.get(ext)
        if port is None or getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
            raise ValueError(f"agent {agent}'s extension is not free")
        c.queueing.stop_ringing(now, call)
        if not call.direct and c.acd.call_queue(call.id) is not None:
            c.acd.remove(now, call.id, key="pickup")
            c.queueing.run_acd(now)
        c.events.call_event(call, "picked_up", by=agent)
        self.ring_direct(now, call, agent, ext)
        return {"call_id": call_id, "agent": agent}

    def set_forward(self, now, agent: str, to: str | None) -> dict:
        """Forward an agent's direct calls (transfers) to another agent or a queue."""
        c = self.c
        c.roster.agent(agent)
        if to is None or to == "":
            self.forward.pop(agent, None)
        else:
            if to not in c.agents and to.removeprefix("queue:") not in \
                    {q.name for q in c.config.queues}:
                raise LookupError(f"no agent or queue {to!r}")
            self.forward[agent] = to
        return {"agent": agent, "forward": self.forward.get(agent)}

    # ---- consultative transfer -----------------------------------------------------------

    def consult(self, now, call_id: str, to: str) -> dict:
        """Consultative transfer, first step: the caller is held (music on hold) and the
        agent's consultation rings agent ``to``; when it is answered the two agents talk."""
        c = self.c
        call = c.table.call(call_id)
        if call.state not in ("established", "held") or call.agent_port is None:
            raise ValueError(f"call {call_id} is {call.state}: consult from an established "
                             f"call")
        if getattr(call, "consult", None):
            raise ValueError(f"call {call_id} already has a consultation")
        target = c.roster.agent(to)
        ext = c.acd.agent_state(to).extension or target.extension
        port = c.analog.get(ext)
        if port is None or to == call.agent:
            raise LookupError(f"agent {to} has no extension to ring")
        if getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
            raise ValueError(f"agent {to} is busy (extension {ext} in use)")
        if call.state == "established":
            c.hold(now, call_id)            # the request, as the agent would ask it
        fxs_call = port.send(now, analog.Alert(call.ani, f"consult {call.agent}"))
        call.consult = {"agent": to, "port": ext, "call": fxs_call, "conf": None}
        c.table.supervisors[(ext, fxs_call)] = (call.id, to, "consult")
        c.acd.agent_busy_elsewhere(now, to, True)
        c.events.call_event(call, "consulting", to=to)
        # the consulted agent's desktop: the consultation rings there (CSTA Delivered of
        # the consultation call, CALL.consult, with that agent and extension)
        c.events.call_event(call, "delivered", call_id=f"{call.id}.consult", state="delivered",
                            agent=to, extension=ext, consult_of=call.id, from_agent=call.agent)
        return {"call_id": call_id, "consult": f"{call_id}.consult", "to": to}

    def transfer_complete(self, now, call_id: str, data: dict | None = None) -> dict:
        """Consultative transfer, second step: the consulted agent takes the caller (with
        the attached data); the first agent's phone is released."""
        c = self.c
        call = c.table.call(call_id)
        cons = getattr(call, "consult", None)
        if not cons or cons["conf"] is None:
            raise ValueError(f"call {call_id} has no answered consultation to complete")
        if data:
            call.data.update(data)
        from_agent = call.agent
        cons["conf"].destroy()
        c.table.supervisors.pop((cons["port"], cons["call"]), None)
        if not call.direct:
            c.acd.transfer_out(now, call.id, target=cons["agent"])
        c.queueing.release_agent(now, call)
        call.agent, call.agent_port, call.agent_call = cons["agent"], cons["port"], cons["call"]
        c.table.by_agent_leg[(cons["port"], cons["call"])] = call.id
        call.direct = True                      # the new agent has it outside the ACD
        call.consult = None
        call.transfers += 1
        c.media.stop(call)
        call.conf.join(c.board.ports[call.agent_port])
        call.state = "established"
        c.events.call_event(call, "transferred", from_agent=from_agent, to=call.agent,
                            consultative=True)
        return {"call_id": call_id, "to": call.agent, "data": dict(call.data)}

    def consult_event(self, now, leg, ev, call: Call | None) -> None:
        """The consulted agent's phone: answered (the agents talk), or hung up or never
        answered (back to the caller)."""
        c = self.c
        cons = getattr(call, "consult", None) if call is not None else None
        if cons is None:
            c.table.supervisors.pop(leg, None)
            return
        if isinstance(ev, analog.Answered):
            cons["conf"] = c.board.conference()
            cons["conf"].join(c.board.ports[call.agent_port])
            cons["conf"].join(c.board.ports[cons["port"]])
            c.events.call_event(call, "consulted", to=cons["agent"])
            c.events.call_event(call, "established", call_id=f"{call.id}.consult",
                                state="established", agent=cons["agent"],
                                extension=cons["port"], consult_of=call.id,
                                from_agent=call.agent)
        elif isinstance(ev, analog.Disconnected):
            # the consulted agent hung up (or never answered): back to the caller
            c.table.supervisors.pop(leg, None)
            if cons["conf"] is not None:
                cons["conf"].destroy()
            c.acd.agent_busy_elsewhere(now, cons["agent"], False)
            call.consult = None
            c.events.call_event(call, "consult_ended", to=cons["agent"])
