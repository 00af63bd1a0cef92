"""The agents' own requests: log in at an extension, log out, ready, not ready (with a
reason: a break, do-not-disturb), and an agent's status.

The agents' states and their queues are the ACD's (cti/centre/acd.py); :class:`Roster`
checks the request against the centre's agents and the board's ports, asks the ACD, and
has the ACD's events carried out at once (``run_acd``: an agent made ready may be rung
by a waiting call in the same request).

Agents come and go while the centre runs (``cti reload``, live administration):
:meth:`Roster.add_agent` and :meth:`Roster.remove_agent`. A removed agent with a call is
*leaving*: logged out at once, its call goes on to its end, it may not log in again, and
:meth:`Roster.retire` takes it away once it has no call left.
"""
from __future__ import annotations

from typing import Callable

__all__ = ["Roster"]


class Roster:
    """The centre's agents. ``agents``: their configurations by id (acd.AgentConfig);
    ``acd``: the ACD; ``analog``: the board's analog ports by number (an agent's extension
    is an FXS port); ``run_acd(now)``: carry out what the ACD says."""

    def __init__(self, agents: dict, acd, analog_ports: dict, run_acd: Callable[[float], None],
                 on_call: Callable[[str], bool] = lambda agent: False):
        self.agents = agents
        self.acd = acd
        self.analog = analog_ports
        self.run_acd = run_acd
        # ``on_call(agent)``: a call of the centre still has the agent (talking, ringing)
        self.on_call = on_call
        self.leaving: set[str] = set()      # removed, waiting for their call to end

    def add_agent(self, now, agent, extension: int | None = None, queues=()) -> dict:
        """A new agent (an id, or an acd.AgentConfig with its name and skills), logged
        out, at ``extension`` (an FXS port), member of ``queues``."""
        from cti.centre.acd import AgentConfig
        cfg = agent if isinstance(agent, AgentConfig) else AgentConfig(str(agent), "",
                                                                       extension)
        if extension is not None and cfg.extension != extension:
            cfg = AgentConfig(cfg.id, cfg.name, extension, dict(cfg.skills))
        if cfg.id in self.agents:
            raise ValueError(f"agent {cfg.id!r} exists already")
        if cfg.extension is not None and (cfg.extension not in self.analog
                                          or self.analog[cfg.extension].port.kind != "fxs"):
            raise LookupError(f"extension {cfg.extension} is not an FXS port of this board")
        self.acd.add_agent(cfg)
        self.agents[cfg.id] = cfg
        for q in queues:
            self.acd.add_member(now, q, cfg.id)
        self.run_acd(now)
        return self.status(cfg.id)

    def remove_agent(self, now, agent: str) -> str:
        """Log ``agent`` out and take it away: "removed", or "leaving" when a call still
        has it (it goes when the call ends: :meth:`retire`)."""
        self.agent(agent)
        if self.on_call(agent):
            self.acd.logout(now, agent)
            gone = False
        else:
            gone = self.acd.remove_agent(now, agent)
        if gone:
            del self.agents[agent]
            self.leaving.discard(agent)
        else:
            self.leaving.add(agent)
        self.run_acd(now)
        return "removed" if gone else "leaving"

    def retire(self, now) -> list[str]:
        """The leaving agents whose calls are over, taken away now: their ids."""
        gone = [a for a in sorted(self.leaving) if a in self.agents
                and self.remove_agent(now, a) == "removed"]
        self.leaving.intersection_update(self.agents)
        return gone

    def agent(self, agent: str):
        """The agent's configuration; LookupError for an unknown agent."""
        if agent not in self.agents:
            raise LookupError(f"no agent {agent!r} (agents: {', '.join(self.agents)})")
        return self.agents[agent]

    def check_extension(self, agent: str, extension: int | None = None) -> int | None:
        """The extension ``agent`` logs in at (default: its configured one), checked."""
        a = self.agent(agent)
        ext = extension if extension is not None else a.extension
        if ext is not None and (ext not in self.analog or self.analog[ext].port.kind != "fxs"):
            raise LookupError(f"extension {ext} is not an FXS port of this board")
        return ext

    def login(self, now, agent: str, extension: int | None = None, *,
              ready: bool = True, reason: str = "") -> dict:
        ext = self.check_extension(agent, extension)
        if agent in self.leaving:
            raise LookupError(f"agent {agent!r} was removed: it leaves when its call ends")
        self.acd.login(now, agent, ext, ready=ready, reason=reason)
        self.run_acd(now)
        return self.status(agent)

    def logout(self, now, agent: str) -> dict:
        self.agent(agent)
        self.acd.logout(now, agent)
        self.run_acd(now)
        return self.status(agent)

    def ready(self, now, agent: str) -> dict:
        self.agent(agent)
        self.acd.ready(now, agent)
        self.run_acd(now)
        return self.status(agent)

    def not_ready(self, now, agent: str, reason: str = "") -> dict:
        self.agent(agent)
        self.acd.not_ready(now, agent, reason)
        self.run_acd(now)
        return self.status(agent)

    def status(self, agent: str) -> dict:
        st = self.acd.agent_state(agent)
        return {"agent": agent, "state": st.state, "reason": st.reason, "call": st.call,
                "extension": st.extension}
