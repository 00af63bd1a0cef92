"""What the centre shows: a call's information (the desk's and ``call.show``'s view)
and the whole centre's snapshot (calls, agents, queues, IVR ports, counters), as the
server's ``status`` and the manager's view read it.
"""
from __future__ import annotations

from cti.centre.calls import Call

__all__ = ["Views"]


class Views:
    """Read-only views of the centre. ``calls``: the calls in progress by id; ``agents``:
    the agents by id, in the order shown; ``agent_status(agent)``: an agent's status;
    ``acd``: the ACD (its queues' status); ``config``: the centre's (queues, IVR ports);
    ``ivr_ports``: the ports in use; ``counters``: the centre's counters."""

    def __init__(self, calls: dict, agents: dict, agent_status, acd, config, ivr_ports,
                 counters: dict):
        self.calls = calls
        self.agents = agents
        self.agent_status = agent_status
        self.acd = acd
        self.config = config
        self.ivr_ports = ivr_ports
        self.counters = counters

    def snapshot(self) -> dict:
        """The centre at a glance."""
        return {"calls": [self.call_info(c) for c in self.calls.values()],
                "agents": [self.agent_status(a) for a in self.agents],
                "queues": [self.acd.queue_status(q.name) for q in self.config.queues]
                + [dict(self.acd.queue_status(q), draining=True) for q in self.acd.draining],
                "ivr_ports": {"total": self.config.ivr_ports, "in_use": self.ivr_ports.in_use},
                "counters": dict(self.counters)}

    @staticmethod
    def call_info(c: Call) -> dict:
        return {"call_id": c.id, "state": c.state, "trunk": c.trunk, "ani": c.ani,
                "dnis": c.dnis, "queue": c.queue, "agent": c.agent, "data": dict(c.data),
                "start": c.start}
