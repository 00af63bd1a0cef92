"""The dialer on the centre: campaigns dialled through ``Centre.make_call``, their results
in the store, and the callbacks worked off after the peak.

:class:`cti.centre.dialer.Dialer` is the sans-I/O core; :class:`Campaigns` is its glue, run by
the server once a tick after :meth:`cti.centre.coordinator.Centre.handle`:

* it learns every call's progress from the centre's CTI events (the hook): ``call.offered``
  counts an inbound arrival for the peak gate, ``call.dialling`` starts the dialer's
  no-answer timer, ``call.established`` is an answer, ``call.cleared`` the end with its
  Q.850 cause;
* it tells the dialer which agents are free (ready and idle in the ACD, phone on hook) and
  whether the peak is over, and carries out what the dialer asks: place a call (the agent's
  phone rings first, then the number goes out on a PRI B-channel), clear one, show a
  preview record on an agent's desktop;
* it writes every attempt and every record's state to SQLite before the event that
  reports it goes out (ARCHITECTURE.md rule 5).

The built-in progressive campaign ``callbacks`` takes its records from the ``callbacks``
table (oldest request first): a served callback ends ``done`` with ``callback_call_id``
(the report counts it as served by callback), a given-up one ``failed``. It dials only
after the peak (:class:`cti.centre.dialer.PeakGate`, configured by ``[centre.callbacks]``).
"""
from __future__ import annotations

from dataclasses import dataclass

from cti.centre import dialer as d
from cti.centre.coordinator import CAUSE_FAILED, CallFailed, CtiEvent
from drivers.sig import analog

__all__ = ["Campaigns", "CallbackConfig", "CALLBACKS"]

CALLBACKS = "callbacks"          # the built-in campaign's name
TICK_EVERY = 5                   # the dialer looks for free agents every 5 ticks (100 ms)


@dataclass(frozen=True)
class CallbackConfig:
    """``[centre.callbacks]``: work off the callbacks after the peak. ``rate_below``
    (inbound calls a minute over the last ``window`` seconds) ends the peak, as do idle
    agents with nobody waiting when ``when_idle``; each callback gets ``max_attempts``
    attempts ``retry_delay`` seconds apart (a vacant number one); ``agents`` who call
    back (empty: all)."""

    enabled: bool = False
    rate_below: float = 10.0
    window: float = 300.0
    when_idle: bool = True
    max_attempts: int = 3
    retry_delay: float = 600.0
    no_answer_timeout: float = 30.0
    agents: tuple = ()

    def campaign(self) -> d.CampaignConfig:
        rule = d.RetryRule(self.max_attempts, self.retry_delay)
        rules = {o: rule for o in d.OUTCOMES if o != "answered"}
        rules["vacant"] = d.RetryRule(1, 0.0)
        return d.CampaignConfig(CALLBACKS, "progressive", tuple(self.agents), rules,
                                self.no_answer_timeout, gated=True)


class Campaigns:
    """The dialer's shell on one centre and its store."""

    def __init__(self, centre, store, epoch: float, callbacks: CallbackConfig | None = None):
        self.centre = centre
        self.store = store
        self.epoch = epoch
        self.dialer = d.Dialer(r["number"] for r in store.dnc())
        self.callbacks = callbacks if callbacks is not None and callbacks.enabled else None
        self.gate = None
        self._ticks = 0
        self._out: list[CtiEvent] = []
        self._last_callback = 0                    # the newest callback id seen
        self._placed: dict[int, str] = {}          # the last Dial's attempt -> call id
        for row in store.campaigns():
            cfg = d.CampaignConfig.from_dict(row["name"], row["config"])
            self.dialer.add_campaign(cfg, row["state"])
            self.dialer.add_records(row["name"], [self._record(r) for r in
                                                  store.campaign_records(row["name"])])
        if self.callbacks is not None:
            cb = self.callbacks
            self.gate = d.PeakGate(cb.rate_below, cb.window, cb.when_idle)
            self.dialer.add_campaign(cb.campaign(), "running")
            self._poll_callbacks(("requested", "dialling"))   # dialling: cut off by a restart

    def _record(self, r: dict) -> d.Record:
        return d.Record(r["id"], r["number"], r["name"], r["data"] or {}, r["state"],
                        r["attempts"], r["last_outcome"],
                        0.0 if r["next_at"] is None else r["next_at"] - self.epoch,
                        None if r["done"] is None else r["done"] - self.epoch)

    # -- the tick ------------------------------------------------------------------------
    def handle(self, now: float, events: list[CtiEvent]) -> list[CtiEvent]:
        """The centre's CTI events of this tick in; the dialer's CTI events out."""
        dl = self.dialer
        for ev in events:
            f = ev.fields
            if ev.type == "call.offered" and self.gate is not None:
                self.gate.arrival(now)
            elif ev.type == "call.dialling":
                self._run(now, d.NetworkDialling(f["call_id"]))
            elif ev.type == "call.established":
                self._run(now, d.CallAnswered(f["call_id"]))
            elif ev.type == "call.cleared":
                self._run(now, d.CallEnded(f["call_id"], f.get("cause"),
                                           f.get("outcome") == "answered"))
        self._ticks += 1
        if self.callbacks is not None and self._ticks % 50 == 0:
            self._poll_callbacks()
        due = dl.get_timer() if self._ticks % TICK_EVERY == 0 else None
        if due is not None and due <= now:
            after_peak = self.gate is None or self.gate.after_peak(
                now, lambda: len(self.free_agents()), self._waiting)
            # looking for free agents costs a pass over them: only when one would be used
            free = self.free_agents() if dl.wants_agents(now, after_peak) else frozenset()
            if free:
                # one call per free trunk: a progressive dialer that rang agents for calls
                # with no B-channel (or FXO line) to go out on would only log congestion
                room = self.centre.outbound_room()
                if room < len(free):
                    free = frozenset(sorted(free)[:max(0, room)])
            self._run(now, d.Tick(free, after_peak))
        out, self._out = self._out, []
        return out

    def _waiting(self) -> int:
        """Callers waiting in the centre's queues now."""
        return sum(self.centre.acd.waiting(q.name) for q in self.centre.config.queues)

    def free_agents(self) -> frozenset:
        """Agents ready and idle in the ACD whose phone is on hook and idle."""
        c = self.centre
        free = set()
        for agent in c.agents:
            st = c.acd.agent_state(agent)
            if st.state != "ready" or st.call is not None or st.busy_elsewhere:
                continue
            ext = st.extension or c.agents[agent].extension
            port = c.analog.get(ext)
            if port is None or getattr(port.machine, "state", None) is not analog.FxsState.IDLE:
                continue
            free.add(agent)
        return frozenset(free)

    def _poll_callbacks(self, states=("requested",)) -> None:
        """Callback requests the IVR or a queue stored since the last look."""
        new = self.store.callbacks_after(self._last_callback, states)
        self._last_callback = max([self._last_callback] + [r["id"] for r in new])
        self.dialer.add_records(CALLBACKS, [
            d.Record(r["id"], r["number"], None,
                     {"callback": r["id"], "queue": r["queue"], "requested_on": r["call_id"]},
                     attempts=r["attempts"]) for r in new])

    # -- carrying out what the dialer says -------------------------------------------------
    def _run(self, now: float, inp) -> list:
        outputs = self.dialer.handle(now, inp)
        for o in outputs:
            self._output(now, o)
        return outputs

    def _emit(self, topic: str, type_: str, **fields) -> None:
        self._out.append(CtiEvent(topic, type_, fields))

    def _output(self, now: float, o) -> None:
        t = self.epoch + now
        if isinstance(o, d.Dial):
            self._emit(f"campaign.{o.campaign}", "campaign.dial", campaign=o.campaign,
                       record=o.record, number=o.number, agent=o.agent)
            try:
                r = self.centre.make_call(now, o.agent, o.number)
            except ValueError as e:          # every B-channel busy: congestion (Q.850 34)
                self._run(now, d.DialFailed(o.attempt, 34 if "busy" in str(e) else None))
                return
            except LookupError:
                self._run(now, d.DialFailed(o.attempt, None))
                return
            except CallFailed:               # the centre cleared it: temporary failure
                self._run(now, d.DialFailed(o.attempt, CAUSE_FAILED))
                return
            call = self.centre.calls.get(r["call_id"])
            if call is not None:
                call.data.update(o.data)
                call.data.update({"campaign": o.campaign, "record": o.record})
                camp = self.dialer.campaigns.get(o.campaign)
                call.campaign_limit = camp.cfg.max_talk if camp is not None else None
            self._placed = {o.attempt: r["call_id"]}
            self._run(now, d.CallPlaced(o.attempt, r["call_id"]))
        elif isinstance(o, d.Hangup):
            if o.call_id in self.centre.calls:
                try:
                    self.centre.hangup(now, o.call_id)
                except CallFailed:
                    pass                     # cleared all the same (cause 41), and logged
            if o.reason == "agent_no_answer":
                self.centre.agent_not_ready(now, o.agent, "dialer: no answer")
        elif isinstance(o, d.PreviewOffer):
            self._emit(f"agent.{o.agent}.preview", "campaign.preview", campaign=o.campaign,
                       agent=o.agent, record=o.record)
        elif isinstance(o, d.AttemptDone):
            self.store.add_attempt(o.campaign, o.record, o.number, self.epoch + o.time,
                                   o.outcome, agent=o.agent, cause=o.cause, call_id=o.call_id)
            if o.campaign == CALLBACKS:
                self.store.update_callback(o.record, state="dialling", attempt=True)
            self._emit(f"campaign.{o.campaign}", "campaign.attempt", campaign=o.campaign,
                       record=o.record, number=o.number, agent=o.agent, outcome=o.outcome,
                       cause=o.cause, call_id=o.call_id)
        elif isinstance(o, d.RecordChanged):
            r = o.record
            if o.campaign == CALLBACKS:
                state = {"pending": "requested", "dialling": "dialling", "done": "done",
                         "failed": "failed", "dnc": "cancelled",
                         "skipped": "cancelled"}[r["state"]]
                self.store.update_callback(
                    r["id"], state=state, done=t if r["done"] is not None else None,
                    callback_call_id=o.call_id if r["state"] == "done" else None)
            else:
                self.store.update_campaign_record(
                    r["id"], state=r["state"], attempts=r["attempts"],
                    last_outcome=r["last_outcome"], next_at=self.epoch + r["next_at"],
                    done=None if r["done"] is None else self.epoch + r["done"])
            if r["state"] in d.FINAL_STATES:
                self._emit(f"campaign.{o.campaign}", "campaign.record", campaign=o.campaign,
                           record=r["id"], number=r["number"], state=r["state"],
                           attempts=r["attempts"], outcome=r["last_outcome"])
                if o.campaign == CALLBACKS:
                    # its row in the store says the rest: the dialer keeps the live ones
                    self.dialer.forget(CALLBACKS, r["id"])
        elif isinstance(o, d.CampaignFinished):
            if o.campaign != CALLBACKS:
                self.store.set_campaign_state(o.campaign, "finished")
            self._emit(f"campaign.{o.campaign}", "campaign.finished", campaign=o.campaign)

    # -- requests ----------------------------------------------------------------------------
    def create(self, now: float, name: str, settings: dict) -> dict:
        if name == CALLBACKS:
            raise d.DialerError(f"{CALLBACKS!r} is the built-in callbacks campaign")
        if name in self.dialer.campaigns:
            raise d.DialerError(f"campaign {name!r} already exists")
        for a in settings.get("agents") or ():
            if a not in self.centre.agents:
                raise LookupError(f"no agent {a!r}")
        cfg = d.CampaignConfig.from_dict(name, settings)
        self.store.add_campaign(name, cfg.mode, cfg.to_dict(), self.epoch + now)
        self.dialer.add_campaign(cfg)
        return self.dialer.status(name)

    def load(self, now: float, name: str, rows: list) -> dict:
        self._user_campaign(name)
        ids = self.store.add_campaign_records(name, rows)
        recs = {r["id"]: r for r in self.store.campaign_records(name)}
        self.dialer.add_records(name, [self._record(recs[i]) for i in ids])
        return {"campaign": name, "loaded": len(ids), "records": ids}

    def set_state(self, now: float, name: str, state: str) -> dict:
        self._user_campaign(name)
        self.dialer.set_state(name, state)
        self.store.set_campaign_state(name, self.dialer.campaigns[name].state)
        return self.dialer.status(name)

    def _user_campaign(self, name: str):
        c = self.dialer.campaign(name)
        if name == CALLBACKS:
            raise d.DialerError(f"{CALLBACKS!r} is run by the after-peak rule "
                                "([centre.callbacks])")
        return c

    def show(self, name: str) -> dict:
        st = self.dialer.status(name)
        if name == CALLBACKS:
            st["records_list"] = self.store.callbacks()
        else:
            st["records_list"] = self.store.campaign_records(name)
        st["attempts_list"] = self.store.attempts(name)
        if self.gate is not None and name == CALLBACKS:
            st["arrival_rate"] = round(self.gate.rate(self.centre.now), 3) \
                if hasattr(self.centre, "now") else None
        return st

    def list(self) -> dict:
        return {"campaigns": [self.dialer.status(n) for n in self.dialer.campaigns],
                "reserved": self.dialer.reserved()}

    def preview_next(self, now: float, agent: str, name: str) -> dict:
        self.centre._agent(agent)
        outs = self._run(now, d.PreviewNext(agent, name))
        offer = next(o for o in outs if isinstance(o, d.PreviewOffer))
        return {"campaign": name, "agent": agent, "record": offer.record}

    def preview_dial(self, now: float, agent: str) -> dict:
        self.centre._agent(agent)
        outs = self._run(now, d.PreviewDial(agent))
        dial = next((o for o in outs if isinstance(o, d.Dial)), None)
        if dial is None:
            return {"agent": agent, "dialled": False, "reason": "dnc"}
        return {"agent": agent, "dialled": True, "campaign": dial.campaign,
                "record": dial.record, "number": dial.number,
                "call_id": self._placed.get(dial.attempt)}

    def preview_skip(self, now: float, agent: str) -> dict:
        self.centre._agent(agent)
        self._run(now, d.PreviewSkip(agent))
        return {"agent": agent, "skipped": True}

    def dnc_add(self, now: float, number: str, reason: str | None = None) -> dict:
        added = self.store.dnc_add(number, self.epoch + now, reason)
        self.dialer.dnc.add(number)
        return {"number": number, "added": added}

    def dnc_remove(self, number: str) -> dict:
        removed = self.store.dnc_remove(number)
        self.dialer.dnc.discard(number)
        return {"number": number, "removed": removed}

    def dnc_list(self) -> dict:
        return {"numbers": self.store.dnc()}
