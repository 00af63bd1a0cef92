"""The IVR on a call: carrying out what a call's IVR session says, its timers, and the
places a call leaves the IVR for besides a queue (voicemail, a callback).

The session itself (cti/centre/ivr.py's ``IvrSession``) is sans-I/O: it takes digits,
prompt ends and timer expiries and says Play, Lookup, Route, Voicemail, Callback or
Hangup. :class:`IvrCalls` is its glue to the line: it plays the prompts, looks records
up in the store, hands the call to a queue, and wakes each session when its timer is
due (a heap by due time, so a tick looks only at the sessions whose timer is due).
The queue's overflow sends calls to voicemail and callbacks through it too.
"""
from __future__ import annotations

import heapq
import itertools
import os

from cti.centre.calls import Call
from cti.centre.media import Recording

__all__ = ["IvrCalls"]


class IvrCalls:
    """The calls' IVR sessions on the line; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre
        # IVR timers by due time: (due, order, call id)
        self._wake: list[tuple[float, int, str]] = []
        self._wake_seq = itertools.count()

    def run(self, now, call: Call) -> None:
        """Carry out what the call's IVR session says, then note when its timer is due."""
        self.run_events(now, call)
        if call.ivr is not None:
            due = call.ivr.get_timer()
            if due is not None:
                # never at or before now: a timer still due is looked at next tick
                heapq.heappush(self._wake, (max(due, now + 1e-6), next(self._wake_seq),
                                            call.id))

    def wake(self, now) -> None:
        """The sessions whose timer is due: their timers handled, what they say done."""
        c = self.c
        wake = self._wake
        while wake and wake[0][0] <= now:
            cid = heapq.heappop(wake)[2]
            call = c.calls.get(cid)
            if call is None or call.ivr is None:
                continue
            try:
                c.inject("ivr_timer", call)
                due = call.ivr.get_timer()
                if due is not None and due <= now:
                    call.ivr.handle_timer(now)
                self.run(now, call)
            except Exception as exc:
                c.clearing.fail_call(now, call, "ivr_timer", exc)

    def run_events(self, now, call: Call) -> None:
        s = call.ivr
        if s is None:
            return
        c = self.c
        c.inject("ivr", call)
        while True:
            ev = s.next_event()
            if ev is None:
                break
            name = type(ev).__name__
            if name == "Play":
                call.play_id = getattr(ev, "play_id", None)
                c.media.play(call, ev.prompts)
            elif name == "StopPlay":
                c.media.stop(call)
            elif name == "Lookup":
                record = c.store.lookup(ev.table, ev.key_column, ev.value) \
                    if c.store is not None else None
                s.lookup_result(now, record)
            elif name == "DataChanged":
                call.data.update(ev.data)
            elif name == "Route":
                call.data.update(getattr(ev, "data", {}) or {})
                self.leave(call)
                queue = ev.queue
                if queue in (None, "", "by_area"):
                    queue = c.inbound.area_queue(call)
                c.queueing.enqueue(now, call, queue)
                return
            elif name == "Voicemail":
                self.leave(call)
                self.start_voicemail(now, call, ev.box)
                return
            elif name == "Callback":
                self.leave(call)
                self.callback(now, call, ev.number, getattr(ev, "queue", None))
                return
            elif name in ("Hangup", "AbandonedInIvr"):
                path = list(s.path)
                self.leave(call)
                call.ivr_path = path
                if name == "Hangup":
                    # retries exhausted or a loop: the caller was lost in the menus; a flow
                    # that ends by design served the caller itself (self-service)
                    lost = ev.reason in ("retries_exhausted", "flow_loop")
                    c.lines.hangup(now, call, 16)
                    c.clearing.finish(now, call, "abandoned_ivr" if lost else "answered", 16)
                else:
                    c.clearing.finish(now, call, "abandoned_ivr", 16)
                return

    def leave(self, call: Call) -> None:
        """The call leaves the IVR: its path and data kept, its IVR port freed."""
        if call.ivr is not None:
            call.ivr_path = list(call.ivr.path)
            call.data.update(call.ivr.data)
        call.ivr = None
        if call.ivr_port:
            self.c.ivr_ports.release(call.id)
            call.ivr_port = False

    def start_voicemail(self, now, call: Call, box: str) -> None:
        c = self.c
        c.media.stop(call)
        call.voicemail_box = box
        call.voicemail = Recording(os.path.join(c.config.voicemail_dir, f"{call.id}.wav"),
                                   c.lines.law(call), stereo=False,
                                   max_seconds=c.config.voicemail_seconds)
        c.deadlines.add(call.id)
        ch = c.lines.channel(call)
        ch.tap(True, "both")
        c.media.play(call, ["voicemail_greeting"])
        call.state = "voicemail"
        c.events.call_event(call, "diverted", to=f"voicemail:{box}")

    def callback(self, now, call: Call, number: str, queue: str | None) -> None:
        c = self.c
        if c.store is not None:
            c.store.add_callback(number or call.ani, queue, c.epoch + now,
                                 call_id=call.id)
        c.media.play(call, ["callback_thanks"])
        c.events.call_event(call, "diverted", to="callback", number=number or call.ani)
        c.lines.hangup(now, call, 16)
        c.clearing.finish(now, call, "callback", 16)
