"""Calls in: set-up from the line's offer, routing into the IVR or a queue, and the
caller's hang-up.

A call offered on a PRI or R2 span (Q.931 SETUP, or R2's seizure and digits) or ringing
an FXO line becomes a :class:`Call`, takes the customer record found by its ANI (the
screen pop), and is routed by its DNIS (``[routing]``): to an IVR flow on one of the
limited IVR ports (the second loss point: none free, the caller hears busy), to a
queue, or by the caller's area. When the caller hangs up, :meth:`Inbound.trunk_cleared`
ends the call by where it was: in the IVR, in a queue, ringing an agent, talking.

A PRI call offered in overlap (Q.931 5.2.4: a SETUP without sending complete, the rest
of the number in INFORMATION) waits for its whole number before it is a call: until the
network sends sending complete, or no digit has come for :data:`OVERLAP_INTERDIGIT`
(the stack leaves that decision to us, and clears with cause 28 when T302 expires).
"""
from __future__ import annotations

from dataclasses import replace

from cti.centre import ivr as ivr_mod
from cti.centre.calls import Call

__all__ = ["Inbound", "OVERLAP_INTERDIGIT"]

#: s without a digit after which an overlap number is taken as complete (under T302, 15 s)
OVERLAP_INTERDIGIT = 5.0


class Inbound:
    """Call set-up and routing for calls in; ``centre``: the coordinator, whose parts
    it hands the call on to."""

    def __init__(self, centre):
        self.c = centre
        # overlap receiving: (span, line call) -> [the offer, the number so far, when
        # its last digit came]
        self.overlap: dict[tuple[int, int], list] = {}

    def new_call(self, now, **kw) -> Call:
        table = self.c.table
        cid, n = table.next_id()
        call = Call(id=cid, start=now, seq=n, **kw)
        table.add(call)
        self.c.counters["offered"] += 1
        table.last_new = call
        return call

    def pri_offered(self, now, ev) -> None:
        c = self.c
        if c.trunks.get(ev.span) is None:
            return
        if not ev.sending_complete:
            self.overlap[(ev.span, ev.call)] = [ev, ev.dnis, now]
            return
        self._pri_call(now, ev)

    def pri_digits(self, now, ev) -> None:
        """More of an overlap call's number (Q.931 INFORMATION); with sending complete
        the call is offered and routed."""
        pending = self.overlap.get((ev.span, ev.call))
        if pending is None:
            return
        pending[1] += ev.digits
        pending[2] = now
        if ev.timeslot is not None and pending[0].timeslot is None:
            pending[0] = replace(pending[0], timeslot=ev.timeslot)
        if ev.sending_complete:
            self._overlap_complete(now, (ev.span, ev.call))

    def overlap_timeouts(self, now) -> None:
        """Overlap numbers with no digit for OVERLAP_INTERDIGIT are complete as they are."""
        for key in [k for k, (_, _, last) in self.overlap.items()
                    if now - last >= OVERLAP_INTERDIGIT]:
            self._overlap_complete(now, key)

    def overlap_cleared(self, span: int, call: int) -> None:
        """The caller gave up (or the network cleared) before the number was complete."""
        self.overlap.pop((span, call), None)

    def _overlap_complete(self, now, key) -> None:
        first, dnis, _ = self.overlap.pop(key)
        self._pri_call(now, replace(first, dnis=dnis, sending_complete=True))

    def _pri_call(self, now, ev) -> None:
        c = self.c
        call = self.new_call(now, direction="in", trunk=f"{ev.span}/{ev.timeslot}",
                             ani=ev.ani, dnis=ev.dnis, span=ev.span, pri_call=ev.call,
                             timeslot=ev.timeslot)
        c.table.by_pri[(ev.span, ev.call)] = call.id
        c.inject("offered", call)
        self.screen_pop_data(call)
        c.events.call_event(call, "offered")
        self.route_new(now, call)

    def fxo_offered(self, now, port: int, ev) -> None:
        """An FXO trunk rings: a new incoming call."""
        c = self.c
        call = self.new_call(now, direction="in", trunk=f"fxo/{port}", ani=ev.ani or "",
                             dnis="", fxo_port=port, fxo_call=ev.call)
        c.table.by_fxo[(port, ev.call)] = call.id
        self.screen_pop_data(call)
        c.events.call_event(call, "offered")
        self.route_new(now, call)

    def screen_pop_data(self, call: Call) -> None:
        """The customer record found by ANI travels with the call (the screen pop), with
        the caller's last contacts (its calls in and out, their outcome and wrap-up:
        cti/store/desk.py)."""
        store = self.c.store
        if store is not None and call.ani:
            customer = store.customer_by_phone(call.ani)
            if customer:
                call.data["customer"] = customer
            history = getattr(store, "contact_history", None)
            contacts = history(call.ani) if history is not None else None
            if contacts:
                for x in contacts:      # the pop shows a line per contact, not the essay
                    if x.get("wrapup_note"):
                        x["wrapup_note"] = x["wrapup_note"][:200]
                call.data["contacts"] = contacts

    def route_new(self, now, call: Call) -> None:
        c = self.c
        c.inject("route", call)
        config = c.config
        route = config.routes.get(call.dnis, config.default_route)
        kind, _, target = route.partition(":")
        if kind == "area":
            # routing by the caller's area: the longest ANI prefix picks the queue
            kind, target = "queue", self.area_queue(call)
        if kind == "queue":
            c.lines.answer(now, call)
            c.queueing.enqueue(now, call, target)
            return
        if not c.ivr_ports.acquire(call.id):
            # the second loss point: no IVR port answers; the caller hears busy
            call.state = "failed"
            c.lines.hangup(now, call, 17)
            c.events.call_event(call, "failed", cause=17, reason="no_ivr_port")
            c.clearing.finish(now, call, "no_ivr_port", 17)
            return
        call.ivr_port = True
        c.lines.answer(now, call)
        flow = config.flows.get(target) or next(iter(config.flows.values()))
        call.ivr = ivr_mod.IvrSession(flow, call.id, call.ani, call.dnis, call.data)
        call.state = "ivr"
        call.ivr.start(now)
        c.ivr.run(now, call)

    def area_queue(self, call: Call) -> str:
        best = ("", None)
        for prefix, queue in self.c.config.area_routes:
            if call.ani.startswith(prefix) and len(prefix) > len(best[0]):
                best = (prefix, queue)
        return best[1] or self.c.config.queues[0].name

    def trunk_cleared(self, now, call: Call, cause: int) -> None:
        """The caller (or the network) hung up."""
        c = self.c
        if call.state == "cleared":
            return
        c.inject("trunk_cleared", call)
        if call.direction == "out":
            c.outbound.trunk_cleared(now, call, cause)
            return
        finish = c.clearing.finish
        if call.state == "survey":
            # the caller hung up without rating the call: the survey stores NULL
            finish(now, call, "answered", cause)
            return
        if call.ivr is not None:
            call.ivr.hangup(now)
            c.ivr.run(now, call)
            if call.state != "cleared" and call.voicemail is None:
                finish(now, call, "abandoned_ivr", cause)
            elif call.voicemail is not None:
                finish(now, call, "voicemail", cause)
            return
        if call.voicemail is not None:
            finish(now, call, "voicemail", cause)
            return
        if call.direct and call.state in ("queued", "delivered"):
            # a transfer to an agent was ringing: the call is outside the ACD (its ACD
            # part ended with TRANSFER); an agent had answered it before
            c.queueing.stop_ringing(now, call)
            call.direct = False
            finish(now, call, "answered", cause)
            return
        if call.state in ("queued", "delivered"):
            # the fourth loss point: the caller gave up while an agent's phone rang
            # (decided before the ringing stops, which puts the call back to "queued")
            ringing = call.state == "delivered"
            if ringing:
                c.queueing.stop_ringing(now, call)
            c.acd.abandon(now, call.id)
            c.queueing.run_acd(now)
            finish(now, call, "abandoned_ring" if ringing else "abandoned_queue", cause)
            return
        if call.state in ("established", "held"):
            if not call.direct:
                c.acd.call_ended(now, call.id, by="caller")
            c.queueing.release_agent(now, call)
            finish(now, call, "answered", cause)
            return
        finish(now, call, call.outcome or "failed", cause)
