"""Restarts on the same home: what a stop leaves open, closed at the next start
(ARCHITECTURE.md rule 7).

A board server can stop at any moment: ``shutdown``, SIGTERM, or a crash, ``kill -9`` or a
power cut in the middle of a tick. What it knew of its calls and agents is in the store;
what the exchange still holds is on the line. Before its first tick the server:

* counts a boot (:func:`start`): call ids are ``<server>-<boot>-<n>``, the server's name and
  its boot count being kept in the store, so an id never repeats on a home (the ``cdr``
  table's ``call_id`` is unique) nor between servers that ship to one PostgreSQL;
* closes the CDR of every call that was in flight (:func:`close_interrupted`): outcome
  ``interrupted``, Q.850 cause 41 (temporary failure), with the times the store knew
  (start, answer, time in queue, agent, queue, ANI, DNIS, IVR path, attached data), ended
  at the server's last sign of life; a ``call.cleared`` event says so to the desktops;
* puts the agents back as the store recorded them (:func:`restore_agents`);
* returns every trunk to idle (:class:`LineRestart`): Q.931 RESTART on the PRI spans,
  clear-back then idle on every R2 circuit, so the exchange frees what it held.

While the server runs, :class:`LiveCalls` keeps the store's ``live_calls`` table in step
with the centre, in the tick's own transaction: a call's row is written when it starts and
whenever what its CDR would say changes (answered, queued, connected to an agent,
transferred), and deleted in the transaction that writes its CDR; once a second of line
time the server's ``alive`` time is written with it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from cti.centre.acd import AcdError
from cti.centre.coordinator import CtiEvent
from cti.store.sqlite import new_server_name

__all__ = ["Boot", "start", "recover", "close_interrupted", "restore_agents", "LiveCalls",
           "LineRestart", "INTERRUPTED_CAUSE", "RESTART_REASON"]

INTERRUPTED_CAUSE = 41          # Q.850: temporary failure
RESTART_REASON = "server restart"
HEARTBEAT = 1.0                 # s of line time between two writes of the server's alive time
LONGEST_SESSION = 86_400.0      # s back a restart looks for the login of an agent's session


@dataclass(frozen=True)
class Boot:
    """This start of the server: its name, its boot count on this home, and the server
    row as the previous run left it (None on a new store)."""

    name: str
    boot: int
    previous: dict | None = None

    @property
    def call_ids(self) -> str:
        """What every call id of this run starts with."""
        return f"{self.name}-{self.boot}-"

    @property
    def last_alive(self) -> float | None:
        """The previous run's last sign of life (None: no previous run)."""
        return None if self.previous is None else self.previous.get("alive")


def start(store, ts: float, name: str | None = None, *, seed=None) -> Boot:
    """Count a boot of the server on ``store`` at wall time ``ts``. A new store's name is
    random, or drawn from ``seed`` (a simulated board's: its run, ids included, is
    reproducible from its seed)."""
    previous = store.server()
    name, boot = store.boot(ts, name,
                            new_name=None if seed is None else new_server_name(seed))
    return Boot(name, boot, previous)


@dataclass
class Recovery:
    """What a start found and did, for the log and ``server.recovered``."""

    interrupted: list = field(default_factory=list)       # call ids closed as interrupted
    agents_restored: list = field(default_factory=list)
    agents_logged_out: list = field(default_factory=list)  # (agent, why)
    failed: list = field(default_factory=list)             # (call id or agent, error)

    def as_dict(self) -> dict:
        return {"interrupted": len(self.interrupted),
                "agents_restored": len(self.agents_restored),
                "agents_logged_out": len(self.agents_logged_out),
                "failed": len(self.failed)}


def recover(store, centre, now: float, boot: Boot) -> tuple[list[CtiEvent], Recovery]:
    """Everything of the previous run a start closes or restores, in one transaction:
    the interrupted calls' CDRs, then the agents. Returns the CTI events to publish (the
    agents' state events come out of the centre's next tick, as any other)."""
    rec = Recovery()
    events: list[CtiEvent] = []
    ts = centre.epoch + now
    stop = boot.last_alive
    with store.batch():
        events += close_interrupted(store, ts if stop is None else stop, rec)
        restore_agents(store, centre, now, ts if stop is None else min(stop, ts), rec)
    events.append(CtiEvent("server.recovered", "server.recovered",
                           dict(server=boot.name, boot=boot.boot, **rec.as_dict())))
    return events, rec


def close_interrupted(store, stop: float, rec: Recovery | None = None) -> list[CtiEvent]:
    """Write the CDR of every call the store still has in flight: outcome ``interrupted``,
    cause 41, ended at ``stop`` (the last sign of life), or at the last change the store
    saw of the call when that is later. A call whose CDR is there already (cleared by a
    request just before the stop) only loses its live row."""
    events = []
    for r in store.live_calls():
        cid = r["call_id"]
        try:
            ev = None if r["has_cdr"] else _close(store, r, stop)
        except (ValueError, TypeError) as e:     # a row this cti cannot read: not a reason
            if rec is not None:                  # to stay down
                rec.failed.append((cid, f"{type(e).__name__}: {e}"))
            ev = None
        if ev is not None:
            events.append(ev)
            if rec is not None:
                rec.interrupted.append(cid)
        store.live_call_end(cid)
    return events


def _close(store, r: dict, stop: float) -> CtiEvent:
    """The CDR of the live row ``r``, closed at ``stop``, and its ``call.cleared``."""
    cid = r["call_id"]
    end = max(v for v in (r["start"], r["answer"], r["updated"], stop) if v is not None)
    wait = r["wait"]
    if wait is None and r["queued"] is not None:
        wait = max(0.0, end - r["queued"])        # still waiting when it stopped
    recording = r["recording"] if r["recording"] and os.path.exists(r["recording"]) \
        else None
    store.add_cdr({
        "call_id": cid, "direction": r["direction"], "trunk": r["trunk"],
        "ani": r["ani"], "dnis": r["dnis"], "start": r["start"], "answer": r["answer"],
        "end": end, "duration": end - r["start"],
        "billsec": end - r["answer"] if r["answer"] is not None and r["agent"] else 0.0,
        "outcome": "interrupted", "cause": INTERRUPTED_CAUSE, "queue": r["queue"],
        "agent": r["agent"], "ivr_path": r["ivr_path"], "wait": wait,
        "data": r["data"] or {}, "recording": recording})
    f = {"call_id": cid, "ani": r["ani"], "dnis": r["dnis"], "channel": r["trunk"],
         "state": "cleared", "cause": INTERRUPTED_CAUSE, "outcome": "interrupted",
         "recording": recording}
    if r["queue"]:
        f["queue"] = r["queue"]
    if r["agent"]:
        f["agent"] = r["agent"]
    return CtiEvent("call.cleared", "call.cleared", f)


def restore_agents(store, centre, now: float, stop: float, rec: Recovery | None = None) -> None:
    """Put every configured agent back as the store last recorded it.

    A centre restarted in the middle of a peak wants its agents taking calls again at
    once: making hundreds of agents log in again costs minutes of the peak, and an agent
    does not choose to leave because the server did. So, as Asterisk restores its
    persistent queue members (with their paused state and reason), an agent logged in
    when the server stopped is logged in again at the same extension: ``not_ready`` stays
    not ready with its reason (a break, "dnd"), and every other state (ready, ringing, on
    a call, in wrap-up) comes back ``ready``, since the call it was about ended with the
    stop (its CDR says ``interrupted``).

    The session is closed at the stop and opened anew, so that the time between is not
    counted as logged in: an agent_log row ``logged_out`` with reason ``server restart``
    (and Asterisk's AGENTLOGOFF in the queue log) dated at the last sign of life, then the
    ACD's own login rows. An agent that cannot come back (its extension is no longer an
    FXS port of the board) stays logged out, and its row says why."""
    logins = store.agent_logins(stop - LONGEST_SESSION)
    for agent in centre.agents:
        row = store.last_agent_state(agent)
        if row is None or row["state"] == "logged_out":
            continue
        ext_text = row["extension"]
        ext = int(ext_text) if ext_text and ext_text.isdigit() else None
        when = max(stop, row["time"])
        why = RESTART_REASON
        try:
            centre.check_extension(agent, ext)
        except LookupError as e:
            why = f"{RESTART_REASON}: {e}"
        store.log_agent(when, agent, "logged_out", why, ext_text)
        login = logins.get(agent)
        store.log_queue(when, None, None, agent, "AGENTLOGOFF", ext_text or "",
                        max(0, int(round(when - login))) if login is not None else 0)
        if why != RESTART_REASON:
            if rec is not None:
                rec.agents_logged_out.append((agent, why))
            continue
        paused = row["state"] == "not_ready"
        try:
            centre.agent_login(now, agent, ext, ready=not paused,
                               reason=(row["reason"] or "") if paused else "")
        except (LookupError, ValueError, AcdError) as e:
            if rec is not None:
                rec.failed.append((agent, f"{type(e).__name__}: {e}"))
            continue
        if rec is not None:
            rec.agents_restored.append(agent)


class LiveCalls:
    """The store's ``live_calls`` in step with the centre's calls (see the module doc)."""

    def __init__(self, store, centre):
        self.store = store
        self.centre = centre
        self._written: dict[str, tuple] = {}     # call id -> what its row says
        self._alive: float | None = None

    def track(self, ts: float, events) -> None:
        """After a tick, inside its transaction: the calls its CTI events name."""
        seen = set()
        for ev in events:
            cid = ev.fields.get("call_id")
            if cid is not None and cid not in seen:
                seen.add(cid)
                self.note(ts, cid)
        if self._alive is None or ts - self._alive >= HEARTBEAT:
            self._alive = ts
            self.store.server_alive(ts)

    def after_request(self, ts: float, result) -> None:
        """A request that made or cleared a call (``call.make``, ``call.hangup``...) is
        written at once, rather than on the next tick: its reply names the call."""
        if isinstance(result, dict) and isinstance(result.get("call_id"), str):
            self.note(ts, result["call_id"])

    def note(self, ts: float, cid: str) -> None:
        call = self.centre.calls.get(cid)
        if call is None:
            if self._written.pop(cid, None) is not None:
                self.store.live_call_end(cid)
            return
        rec = call.recording.path if call.recording is not None else None
        key = (call.state, call.answer, call.queue, call.queued_at, call.wait, call.agent,
               call.trunk, len(call.ivr_path), call.transfers, rec)
        if self._written.get(cid) == key:
            return
        self._written[cid] = key
        e = self.centre.epoch
        self.store.live_call_put({
            "call_id": cid, "direction": call.direction, "trunk": call.trunk,
            "ani": call.ani, "dnis": call.dnis, "start": e + call.start,
            "answer": None if call.answer is None else e + call.answer,
            "queue": call.queue,
            "queued": None if call.queued_at is None else e + call.queued_at,
            "wait": call.wait, "agent": call.agent, "ivr_path": "/".join(call.ivr_path),
            "data": dict(call.data), "recording": rec, "state": call.state, "updated": ts})

    def __len__(self) -> int:
        return len(self._written)


class LineRestart:
    """Every trunk back to idle when the server starts: it no longer knows which calls
    the exchange holds on which channels.

    PRI: Q.931 RESTART of the whole interface (5.5.1, restart indicator class 7), sent
    when the span's D-channel first comes up; the exchange clears whatever it had on
    the B-channels (cause 41 towards its callers) and answers RESTART ACKNOWLEDGE, until
    which the channels stay out of service here (T316). R2 (China No.1): as CAS has no
    restart message, clear-back then idle on every circuit
    (:meth:`drivers.sig.r2span.R2Span.restart`), at once."""

    def __init__(self, pri: dict, r2: dict, now: float):
        self.pri = pri
        self.r2 = r2
        self._waiting = set(pri)            # PRI spans whose D-channel is not up yet
        self.restarted: list[int] = []
        for n in sorted(r2):
            r2[n].restart(now)
            self.restarted.append(n)

    @property
    def pending(self) -> bool:
        return bool(self._waiting)

    def starting(self) -> list[int]:
        """The spans not in service yet: D-channel not up, or our restart not yet done
        (RESTART not acknowledged, R2 circuits still held). A call the exchange offers on
        one of them before then is cleared by the restart (cause 41 to its caller)."""
        return sorted(n for n, span in (*self.pri.items(), *self.r2.items())
                      if n in self._waiting or span.restarting)

    def tick(self, now: float) -> list[int]:
        """The PRI spans restarted now (their D-channel is up)."""
        done = [n for n in sorted(self._waiting) if self.pri[n].link_up]
        for n in done:
            self.pri[n].restart(now)
            self._waiting.discard(n)
            self.restarted.append(n)
        return done
