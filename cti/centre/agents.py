"""The agents' own requests: log in at an extension, log out, ready, not ready (with a
reason: a break, do-not-disturb), and an agent's status.

The agents' states and their queues are the ACD's (cti/centre/acd.py); :class:`Roster`
checks the request against the centre's agents and the board's ports, asks the ACD, and
has the ACD's events carried out at once (``run_acd``: an agent made ready may be rung
by a waiting call in the same request).
"""
from __future__ import annotations

from typing import Callable

from cti.centre.acd import AcdError

__all__ = ["Roster", "ExtensionTaken"]


class ExtensionTaken(AcdError):
    """Another agent is logged in at the extension (one agent per extension: the phone
    that rings is that agent's)."""


class Roster:
    """The centre's agents. ``agents``: their configurations by id (acd.AgentConfig);
    ``acd``: the ACD; ``analog``: the board's analog ports by number (an agent's extension
    is an FXS port); ``run_acd(now)``: carry out what the ACD says."""

    def __init__(self, agents: dict, acd, analog_ports: dict, run_acd: Callable[[float], None]):
        self.agents = agents
        self.acd = acd
        self.analog = analog_ports
        self.run_acd = run_acd

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

    def at_extension(self, extension: int, but: str | None = None) -> str | None:
        """The agent logged in at ``extension`` (other than ``but``), or None."""
        for aid in self.agents:
            if aid == but:
                continue
            st = self.acd.agent_state(aid)
            if st.state != "logged_out" and st.extension == extension:
                return aid
        return None

    def login(self, now, agent: str, extension: int | None = None, *,
              ready: bool = True, reason: str = "") -> dict:
        """Log in at ``extension`` (default: the agent's own). One agent per extension:
        refused (:class:`ExtensionTaken`, naming who) where another agent is logged in;
        logging in at another extension leaves the old one (logged out there, in at the
        new one, so that the agent log and the queue log say where)."""
        ext = self.check_extension(agent, extension)
        if ext is not None:
            other = self.at_extension(ext, but=agent)
            if other is not None:
                raise ExtensionTaken(f"extension {ext} is taken: agent {other} is logged in "
                                     "there (one agent per extension)")
        st = self.acd.agent_state(agent)
        if st.state != "logged_out" and ext is not None and st.extension != ext:
            self.acd.logout(now, agent)
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
