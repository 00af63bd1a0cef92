"""The end of a call: normally (its media stopped, its legs let go, its recording and
voicemail kept, its one CDR written, then the cleared event), or after a failure.

One failing call never ends the others (ARCHITECTURE.md rule 7): an exception while
handling one call's event or a request on it is logged with its traceback (logger
``cti.centre``), counted (``counters["errors"]``), published as a ``server.error``
event, and the call is cleared with Q.850 cause 41 and a CDR of outcome ``failed``
(:meth:`Clearing.fail_call`). :func:`request_guard` does this around the requests.
The CDR and the counters go together: ``offered == sum(outcomes) + calls in progress``.
"""
from __future__ import annotations

import functools
import logging

from cti.centre.calls import CAUSE_FAILED, Call, CallFailed, short
from drivers.sig import analog

__all__ = ["Clearing", "request_guard"]

log = logging.getLogger("cti.centre")


def request_guard(creates: bool = False):
    """Around a request on a call (its id the first argument after ``now``): a refusal
    (ValueError, LookupError: checked before anything changes) goes back as it is; any
    other exception clears the call it was working on (:meth:`Clearing.fail_call`) and
    raises :class:`CallFailed`. ``creates``: the request makes a call (click-to-dial);
    one it made before failing is cleared instead. Wraps a method of the coordinator
    (its ``calls`` and ``clearing``)."""
    def wrap(fn):
        @functools.wraps(fn)
        def guarded(self, now, *args, **kw):
            before = set(self.calls) if creates else None
            try:
                return fn(self, now, *args, **kw)
            except (ValueError, LookupError):
                raise
            except Exception as exc:
                if creates:
                    calls = [c for cid, c in list(self.calls.items()) if cid not in before]
                else:
                    calls = [self.calls[args[0]]] if args and args[0] in self.calls else []
                where = f"request.{fn.__name__}"
                if not calls:
                    self.clearing.fail_call(now, None, where, exc)
                for call in calls:
                    self.clearing.fail_call(now, call, where, exc)
                ids = ", ".join(c.id for c in calls)
                raise CallFailed(f"{fn.__name__} failed ({type(exc).__name__}: "
                                 f"{short(exc)})" + (f"; call {ids} was cleared (cause "
                                                     f"{CAUSE_FAILED})" if ids else "")) \
                    from exc
        return guarded
    return wrap


class Clearing:
    """How calls end; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre
        self._failing: set[str] = set()       # calls being cleared after a failure

    # ---- the end of a call -----------------------------------------------------------

    def finish(self, now, call: Call, outcome: str, cause: int | None) -> None:
        """The call ends with ``outcome`` (the CDR's) and Q.850 ``cause``: once."""
        c = self.c
        if call.state == "cleared":
            return
        c.inject("finish", call)
        c.time_limits.disarm(call.id)
        if call.wait is None and call.queued_at is not None:
            # the CDR's wait is the time in the queue, answered or not (a caller who
            # left, timed out or overflowed waited too); a call never queued has none
            call.wait = now - call.queued_at
        c.media.stop(call)
        c.ivr.leave(call)
        c.queueing.stop_ringing(now, call)
        c.supervision.call_ended(now, call)
        if call.consult and call.consult.get("conf") is not None:
            call.consult["conf"].destroy()
        call.consult = None
        if call.conf is not None:
            call.conf.destroy()
            call.conf = None
        c.lines.restore(call)
        call.end = now
        call.outcome = outcome
        call.cause = cause
        call.state = "cleared"
        store = c.store
        config = c.config
        rec_path = None
        keep = call.recording is not None and call.answer is not None and (
            config.record_queues is None or call.queue in config.record_queues
            or getattr(call, "record_requested", False))
        if keep:
            rec_path = call.recording.close()      # None: no file could be made
            if store is not None and rec_path is not None:
                store.add_recording(call.id, rec_path, c.epoch + call.answer,
                                    call.recording.seconds, 2)
        elif call.recording is not None:
            call.recording.discard()          # written as it went; not this queue's policy
        if call.voicemail is not None:
            vm = call.voicemail.close()             # None: no file could be made
            if store is not None and vm is not None:
                store.add_voicemail(call.voicemail_box, vm, c.epoch + now,
                                    call.voicemail.seconds, call_id=call.id, ani=call.ani)
            if vm is not None:
                c.events.emit(f"voicemail.{call.voicemail_box}", "voicemail.new",
                              box=call.voicemail_box,
                              call_id=call.id, ani=call.ani, path=vm,
                              seconds=round(call.voicemail.seconds, 2))
        e = c.epoch
        cdr = {"call_id": call.id, "direction": call.direction, "trunk": call.trunk,
               "ani": call.ani, "dnis": call.dnis, "start": e + call.start,
               "answer": None if call.answer is None else e + call.answer,
               "end": e + now, "duration": now - call.start,
               "billsec": (now - call.answer) if call.answer is not None and call.agent else 0.0,
               "outcome": outcome, "cause": cause, "queue": call.queue, "agent": call.agent,
               "ivr_path": "/".join(call.ivr_path), "wait": call.wait, "data": dict(call.data),
               "recording": rec_path, "survey": call.survey, "reason": call.reason,
               "time_limit": call.time_limit}
        if call.agent:
            c.queueing.last_call_of(call.agent, call.id)
        if store is not None:
            store.add_cdr(cdr)           # in SQLite before the event goes out
        # counted with its CDR, once: offered == sum(outcomes) + calls in progress
        call.cdr_written = True
        c.counters[outcome] = c.counters.get(outcome, 0) + 1
        c.inject("cdr", call)
        c.events.call_event(call, "cleared", cause=cause, outcome=outcome, recording=rec_path,
                            reason=call.reason)
        c.table.remove(call)

    # ---- one failing call ------------------------------------------------------------

    def fail_call(self, now, call: Call | None, where: str, exc: BaseException) -> None:
        """Handling ``call`` raised ``exc`` at ``where``: log it with its traceback, count
        it, tell the bus (``server.error``: the call, the place, the exception's type and
        message, never the traceback), and clear the call: its trunk hung up with Q.850
        cause 41 (temporary failure), its agent's leg released and the agent given back
        to the ACD, out of the queues and IVR ports, and its one CDR written with outcome
        ``failed`` (a failure after the CDR was written leaves that CDR as it is). Each
        step of the clearing may fail too; whatever is left is dropped from the tables.
        The other calls go on."""
        c = self.c
        cid = call.id if call is not None else None
        log.error("call %s: %s in %s: %s", cid or "-", type(exc).__name__, where, short(exc),
                  exc_info=(type(exc), exc, exc.__traceback__))
        c.counters["errors"] += 1
        c.events.emit("server.error", "server.error", call_id=cid, where=where,
                      error=type(exc).__name__, message=short(exc))
        if call is None or cid in self._failing:
            return          # nothing to clear, or its clearing is already under way
        self._failing.add(cid)
        try:
            if not call.cdr_written:
                for step in (self._fail_trunk, self._fail_agents, self._fail_finish):
                    try:
                        step(now, call)
                    except Exception:
                        log.exception("call %s: clearing after the failure: %s failed", cid,
                                      step.__name__)
        finally:
            self._drop(now, call)
            self._failing.discard(cid)

    def _fail_trunk(self, now, call: Call) -> None:
        """The trunk leg: cause 41 to the network (RELEASE COMPLETE before answer)."""
        outbound = self.c.table.outbound
        for leg, oid in list(outbound.items()):
            if oid == call.id:
                del outbound[leg]
        self.c.lines.hangup(now, call, CAUSE_FAILED)

    def _fail_agents(self, now, call: Call) -> None:
        """The agents: the ACD lets go of the call (an agent on it goes to wrap-up, one
        ringing is freed), a direct or consulted agent is no longer busy elsewhere, the
        agent's phone leg is released."""
        c = self.c
        if c.acd.call_agent(call.id) is not None:
            c.acd.call_ended(now, call.id, by="agent")
        elif c.acd.call_queue(call.id) is not None:
            c.acd.remove(now, call.id)
        cons = call.consult
        if cons:
            c.table.supervisors.pop((cons["port"], cons["call"]), None)
            c.analog[cons["port"]].send(now, analog.Release("call failed"))
            c.acd.agent_busy_elsewhere(now, cons["agent"], False)
            if cons.get("conf") is not None:
                cons["conf"].destroy()
            call.consult = None
        c.queueing.stop_ringing(now, call)
        c.queueing.release_agent(now, call)
        c.queueing.run_acd(now)

    def _fail_finish(self, now, call: Call) -> None:
        if call.state == "cleared":
            call.state = "failed"            # finish stopped before its CDR: once more
        self.c.events.call_event(call, "failed", cause=CAUSE_FAILED, reason="error")
        self.finish(now, call, "failed", CAUSE_FAILED)

    def _drop(self, now, call: Call) -> None:
        """The last of a failed call, whatever its clearing managed: out of every table,
        its agents freed, and its CDR (a minimal one, if none was written)."""
        c = self.c
        cid = call.id
        c.table.drop_legs(cid)
        c.deadlines.discard(cid)
        c.ivr_ports.release(cid)
        # agents this call still holds busy outside the ACD (its clearing did not free them)
        held = [(call.consult or {}).get("agent"), call.agent if call.direct else None]
        call.consult, call.direct = None, False
        for agent in held:
            try:
                if agent in c.agents:
                    c.acd.agent_busy_elsewhere(now, agent, False)
            except Exception:
                log.exception("call %s: agent %s not freed", cid, agent)
        if not call.cdr_written:
            call.state, call.outcome, call.cause, call.end = "cleared", "failed", \
                CAUSE_FAILED, now
            try:
                if c.store is not None:
                    e = c.epoch
                    c.store.add_cdr({
                        "call_id": cid, "direction": call.direction, "trunk": call.trunk,
                        "ani": call.ani, "dnis": call.dnis, "start": e + call.start,
                        "answer": None if call.answer is None else e + call.answer,
                        "end": e + now, "duration": now - call.start, "outcome": "failed",
                        "cause": CAUSE_FAILED, "queue": call.queue, "agent": call.agent})
                call.cdr_written = True
                c.counters["failed"] += 1
            except Exception:
                log.exception("call %s: its CDR could not be written", cid)
        if cid in c.calls:
            # the CDR is written but the cleared event never went: it goes now
            try:
                c.events.call_event(call, "cleared", cause=call.cause, outcome=call.outcome)
            except Exception:
                log.exception("call %s: no cleared event", cid)
            del c.calls[cid]
        c.table.unindex_trunk(call)
