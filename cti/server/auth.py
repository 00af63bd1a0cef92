"""Who asks, and what they may do: principals, roles and rights (issue #16).

Every request has a principal: the shell finds it from the client's key (CurveZMQ, the
ZAP handler's User-Id) or, on the ipc socket in the home's private folder, takes the
owner of the home as the administrator (as ``asterisk -r`` is on the console); code in
the server's own process (tests, the scenario runner) acts as :data:`OWNER`.

Each operation in the registry names one right (``rights`` of
:class:`cti.server.registry.Operation`). A role is a set of rights; an integrator's key
carries the rights it was issued with (its scopes). The right ``desk`` is an agent's own
state and own calls: a principal with ``desk`` alone may act on the agent it is bound to
and on that agent's calls; acting on another agent needs ``agents``, on another agent's
call ``calls``. A refusal is the error ``forbidden`` naming the right.

Rights (what a requirement document calls them):

========== =========================================================================
read       the board, spans, channels, queues and the server's health (every role)
desk       the agent's own state and own calls: log in and out, ready, answer,
           hold, transfer, consult, dial out, preview records
agents     other agents' state: log another agent in or out, ready, not ready
calls      other agents' calls: hang up, transfer, record, show every call
supervise  monitor, whisper and barge into a call
reports    the loss report and the statistics
campaigns  outbound campaigns and the do-not-call list
lines      the technician's requests: loopbacks, BERT, blocking circuits, PRI calls
           by hand, D-channel traces, listening to and sending tones on a channel
sim        the simulated world (faults, calls, traffic): demos and tests
server     the clock, reloading the configuration, shutting the server down
accounts   accounts, groups, keys and the audit log
========== =========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RIGHTS", "ROLES", "ROLE_RIGHTS", "Principal", "OWNER", "principal_rights",
           "authorize", "audited", "owns_call"]

RIGHTS = ("read", "desk", "agents", "calls", "supervise", "reports", "campaigns", "lines",
          "sim", "server", "accounts")

ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "agent": frozenset({"read", "desk"}),
    "supervisor": frozenset({"read", "desk", "agents", "calls", "supervise", "reports",
                             "campaigns"}),
    "admin": frozenset(RIGHTS),
    "integrator": frozenset(),          # the scopes its key was issued with
}
ROLES = tuple(ROLE_RIGHTS)


@dataclass(frozen=True)
class Principal:
    """Who asks: a name (an account or a key's holder), a role, the agent the principal
    is bound to (agents; a supervisor who also takes calls), an integrator's scopes, and
    where from (``ipc``, ``tcp://10.0.0.7``, ``local``) for the audit log."""

    name: str
    role: str
    agent: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    source: str = "local"

    def __post_init__(self):
        if self.role not in ROLE_RIGHTS:
            raise ValueError(f"role: must be one of {', '.join(ROLES)}, got {self.role!r}")
        bad = set(self.scopes) - set(RIGHTS)
        if bad:
            raise ValueError(f"scopes: unknown right(s) {', '.join(sorted(bad))} "
                             f"(rights: {', '.join(RIGHTS)})")

    @property
    def rights(self) -> frozenset[str]:
        return principal_rights(self.role, self.scopes)

    def may(self, right: str) -> bool:
        return right in self.rights

    def __str__(self) -> str:
        who = f"{self.role} {self.name}"
        return f"{who} (agent {self.agent})" if self.agent and self.agent != self.name else who


def principal_rights(role: str, scopes=()) -> frozenset[str]:
    """A role's rights; an integrator has exactly its scopes, others their role's."""
    if role == "integrator":
        return frozenset(scopes)
    return ROLE_RIGHTS[role]


#: the server's own process, and the owner of the home on the ipc socket
OWNER = Principal("owner", "admin", source="local")


def owns_call(call, agent: str) -> bool:
    """The call is the agent's: it talks on it, its phone rings with it, or it is the
    agent consulted on it."""
    consult = call.consult or {}
    return call.agent == agent or agent in call.ringing or consult.get("agent") == agent


#: the last word of the operations that only read: not actions, not audited
READS = frozenset({"show", "list", "stats", "calls", "alarms", "r2trace"})


def authorize(op, args: dict | None, principal: Principal, centre=None) -> str:
    """Refuse (``forbidden``, naming the right) what ``principal`` may not ask: the right
    the operation names, and for ``desk`` alone, only its own agent and that agent's calls
    (the agent named in ``args.agent``; the call in ``args.call``; ``args`` None: the
    operation's right alone). Returns the right the request used: ``agents`` or
    ``calls`` for a desk request on another agent or call."""
    from cti.server.schema import RequestError

    right = (op.rights or ("server",))[0]          # an op that names none: the owner's
    if not principal.may(right):
        raise RequestError("forbidden", f"{op.name} needs the right {right!r}: {principal} "
                           f"has {', '.join(sorted(principal.rights)) or 'none'}", "op")
    if right != "desk" or args is None:
        return right
    mine = principal.agent
    agent = args.get("agent")
    if agent is not None and agent != mine:
        if not principal.may("agents"):
            raise RequestError("forbidden", f"{op.name} for agent {agent}: acting for "
                               f"another agent needs the right 'agents' ({principal} may "
                               f"act for {mine or 'no agent'} only)", "args.agent")
        right = "agents"
    call = args.get("call")
    if isinstance(call, str) and centre is not None:
        c = centre.calls.get(call)
        if c is not None and (mine is None or not owns_call(c, mine)):
            if not principal.may("calls"):
                raise RequestError("forbidden", f"{op.name} on call {call}: another "
                                   f"agent's call needs the right 'calls' ({principal})",
                                   "args.call")
            right = "calls"
    return right


def audited(op, right: str) -> bool:
    """Written to the audit log: what the operation marks, and every action (not a read)
    done with a supervisor's or administrator's right."""
    return op.audited or (right not in ("read", "desk")
                          and op.name.rsplit(".", 1)[-1] not in READS)
