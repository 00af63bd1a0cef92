"""Changes without a restart: a new :class:`~cti.centre.coordinator.CentreConfig` applied
to the running centre (``cti reload``), sans-I/O like the rest: the server reads and
checks the file, :meth:`Reconfigure.apply` takes the result.

What changes live, and how a call in progress sees it (it goes on as it was, to the same
CDR):

* agents: new ones join the roster, logged out, and their queues; a changed one takes its
  name, skills and usual extension (a logged-in agent stays where it logged in); a
  removed one is logged out at once, and one still on a call is *leaving* until that call
  ends (cti/centre/agents.py), the reply says which;
* queues: new ones open; a changed one's strategy, ring timeout, wrap-up, members,
  overflow... decide from the next ring, wrap-up or overflow on; a removed one with calls
  in it drains (cti/centre/acd/changes.py), the reply says which; a call bound for a queue
  gone since (an IVR flow of before the change routes it there) goes to the first queue;
* IVR flows: new flows and branches serve the calls that come next; a call in an IVR
  session keeps the flow it started with (the session holds its own, unchanging, Flow);
* routing (the DNIS map, the default route, the area rules), the IVR port count (a
  port held beyond a smaller count is kept until its call leaves the IVR), recording, music
  on hold, the survey, the transfer ring timeout, the outbound ANI, voicemail length, call
  barring (checked at the next call out);
* prompts: a prompt file added to the prompts directory is played from its first use
  (cti.centre.prompts.PromptLibrary reads files as they are asked for).

What cannot change here is left as it is and named in ``needs_restart``: the prompts
directory (:data:`RESTART_FIELDS`), the directories under the home, the callbacks campaign
of the dialer (built at start).

Nothing is applied unless everything can be: an agent's extension must be an FXS port of
the board running now (the board's ports change only at a restart).
"""
from __future__ import annotations

import dataclasses

__all__ = ["Reconfigure", "RESTART_FIELDS", "LIVE_FIELDS"]

#: CentreConfig fields that take a restart, with the configuration key a user knows them by
RESTART_FIELDS = {"prompts_dir": "centre.prompts", "recordings_dir": "server.home",
                  "voicemail_dir": "server.home", "callbacks": "centre.callbacks"}
#: the centre's settings applied as they are (the rest: agents, queues, flows, routing)
LIVE_FIELDS = ("ivr_ports", "record", "record_queues", "voicemail_seconds", "moh",
               "outbound_ani", "survey_queues", "survey_timeout", "transfer_ring_timeout",
               "wrapup_codes", "barring", "time_limits")
_ROUTING = ("routes", "default_route", "area_routes")


def _diff(old: dict, new: dict) -> dict:
    return {"added": [k for k in new if k not in old],
            "removed": [k for k in old if k not in new],
            "changed": [k for k in new if k in old and old[k] != new[k]]}


class Reconfigure:
    """The centre's configuration changed while it runs; ``centre``: the coordinator."""

    def __init__(self, centre):
        self.c = centre

    def apply(self, now, new) -> dict:
        """Apply ``new`` (a checked CentreConfig); the summary of what changed, per kind,
        and what needs a restart. Raises ValueError, with nothing changed, when ``new``
        cannot run on this board."""
        c = self.c
        old = c.config
        roster = c.roster
        acd = c.acd
        new_agents = {a.id: a for a in new.agents}
        for a in new.agents:
            if a.extension is not None and (a.extension not in c.analog
                                            or c.analog[a.extension].port.kind != "fxs"):
                raise ValueError(f"agent {a.id!r}: extension {a.extension} is not an FXS port "
                                 "of the board running now (its ports change at a restart)")
        summary = {
            "agents": {"added": [], "removed": [], "changed": [], "leaving": []},
            "queues": {},
            "flows": _diff(_flows(old.flows), _flows(new.flows)),
            "routing": _diff(old.routes, new.routes),
            "settings": {"changed": [f for f in LIVE_FIELDS
                                     if getattr(old, f) != getattr(new, f)]},
            "needs_restart": sorted({key for f, key in RESTART_FIELDS.items()
                                     if getattr(old, f) != getattr(new, f)}),
        }
        if old.default_route != new.default_route:
            summary["routing"]["changed"].append("default")
        if old.area_routes != new.area_routes:
            summary["routing"]["changed"].append("area")
        ag = summary["agents"]
        # agents first (the queues' new members must exist), then the queues, then the
        # agents removed (by then in no queue but a draining one)
        for aid, cfg in new_agents.items():
            if aid not in c.agents:
                roster.add_agent(now, cfg)
                ag["added"].append(aid)
            elif aid in roster.leaving:         # removed before, back before it had left
                roster.leaving.discard(aid)
                acd.update_agent(cfg)
                c.agents[aid] = cfg
                ag["added"].append(aid)
            elif c.agents[aid] != cfg:
                acd.update_agent(cfg)
                c.agents[aid] = cfg
                ag["changed"].append(aid)
        summary["queues"] = acd.set_queues(now, list(new.queues))
        for aid in [a for a in c.agents if a not in new_agents]:
            if aid in roster.leaving:
                continue
            ag["removed"].append(aid)
            if roster.remove_agent(now, aid) == "leaving":
                ag["leaving"].append(aid)
        # the configuration's order (a centre started on the file lists them so)
        order = list(new_agents)
        acd.order_agents(order)
        kept = {aid: c.agents[aid] for aid in order}
        kept.update((aid, cfg) for aid, cfg in c.agents.items() if aid not in kept)
        c.agents.clear()
        c.agents.update(kept)
        # the settings: in place, as every part holds this one CentreConfig
        for f in dataclasses.fields(new):
            if f.name not in RESTART_FIELDS:
                setattr(old, f.name, getattr(new, f.name))
        draining = {n: c.queueing.queue_cfg[n] for n in acd.draining
                    if n in c.queueing.queue_cfg}
        c.queueing.queue_cfg = dict({q.name: q for q in new.queues}, **draining)
        c.ivr_ports.count = new.ivr_ports
        self._forget_forwards()
        c.queueing.run_acd(now)
        return summary

    def _forget_forwards(self) -> None:
        """Call forwarding from or to an agent or queue that is gone, dropped."""
        c = self.c
        fw = c.transfers.forward
        for agent, to in list(fw.items()):
            # (as set_forward took it: an agent, or a queue with or without "queue:")
            gone_to = to not in c.agents and not c.acd.has_queue(to.removeprefix("queue:"))
            if agent not in c.agents or gone_to:
                del fw[agent]

    @property
    def pending(self) -> bool:
        """Agents leaving or queues draining: :meth:`retire` has work on the tick."""
        return bool(self.c.roster.leaving or self.c.acd.draining)

    def retire(self, now) -> dict:
        """Leaving agents whose call ended and draining queues now empty, taken away."""
        c = self.c
        agents = c.roster.retire(now)
        queues = c.acd.retire_queues()
        for q in queues:
            c.queueing.queue_cfg.pop(q, None)
        if agents or queues:
            self._forget_forwards()
        return {"agents": agents, "queues": queues}


def _flows(flows: dict) -> dict:
    """The flows a user wrote (a queue's dissuasion flow follows its queue)."""
    return {k: v for k, v in flows.items() if not k.startswith("dissuade:")}
