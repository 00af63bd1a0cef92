"""Agents and queues (the ACD, cti/centre/acd.py): ``agent.login``, ``agent.logout``,
``agent.ready``, ``agent.not_ready``, ``agent.dnd``, ``agent.forward``, ``agent.show``,
``agent.list``, ``queue.show``, ``queue.list``."""
from __future__ import annotations

from cti.server.ops.accounts import audits_itself, check_secret
from cti.server.ops.common import AGENT_STATUS, centre, centre_call
from cti.server.registry import operation
from cti.server.schema import (AGENT, BOOL, ID, INT, NUM, OBJ, STR, Arg, RequestError, arr,
                               nullable, obj, some)

#: a queue's status (cti/centre/acd.py Acd.queue_status)
QUEUE_STATUS = obj({"queue": STR, "strategy": STR,
                    "calls": arr(obj({"call": STR, "position": INT, "waited": NUM},
                                     {"priority": INT, "ringing": arr(STR),
                                      "ani": nullable(STR)})),
                    "agents": arr(obj({"agent": STR, "state": STR},
                                      {"penalty": INT, "reason": nullable(STR),
                                       "call": nullable(STR), "busy_elsewhere": BOOL})),
                    "talking": arr(STR), "waiting": INT, "longest_wait": NUM,
                    "counters": OBJ},
                   {"weight": NUM, "ewt": nullable(NUM), "aht": nullable(NUM),
                    "asa": nullable(NUM)})


def agent_op(svc, a, fn, *extra):
    """``fn(now, agent, *extra)`` of the centre for the agent of ``a``, which must exist;
    the ACD's refusal (the agent's state) is ``failed``."""
    c = centre(svc)
    if a["agent"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r} (agents: "
                           f"{some(c.agents)})", "args.agent")
    from cti.centre.acd import AcdError
    try:
        return fn(svc.board.line_seconds, a["agent"], *extra)
    except AcdError as e:           # "agent '1004' is logged out": the agent's state
        raise RequestError("failed", str(e), "args.agent") from None


@operation("agent.login", rights=("desk",),
           args={"agent": AGENT, "extension": Arg(int, lo=1, hi=4096),
                 "password": Arg(str, max_len=256)},
           result=AGENT_STATUS,
           events=("agent.state", "call.delivered"), audited=True, deferred=True)
@audits_itself
def agent_login(svc, a, rid=None, token=None):
    """Log an agent in, at its own extension or at the FXS port given. An agent logging
    itself in gives the password of its account (a supervisor or an administrator
    logging an agent in does not): a wrong one is ``forbidden`` and counted towards the
    account's lockout, a locked account says until when; each refusal is in the audit
    log. The password is checked off the tick (cti/server/ops/accounts.py)."""
    c = centre(svc)
    ext = a["extension"]
    if ext is not None and (ext not in c.analog or c.analog[ext].port.kind != "fxs"):
        raise RequestError("bad_arg", f"extension {ext} is not an FXS port of board "
                           f"{svc.board.name}", "args.extension")
    if a["agent"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r} (agents: "
                           f"{some(c.agents)})", "args.agent")
    principal = svc.principal
    args = {k: v for k, v in a.items() if k != "password"}

    def login(_account=None):
        return agent_op(svc, a, c.agent_login, ext)
    if principal.role != "agent":
        result = login()
        svc.audit(principal, "agent.login", args)
        return result
    account = svc.store.account_by_agent(a["agent"]) if svc.store is not None else None
    return check_secret(svc, account["name"] if account else a["agent"], a["password"],
                        "password", "agent.login", args, rid, token, login)


@operation("agent.logout", rights=("desk",), args={"agent": AGENT},
           result=AGENT_STATUS,
           events=("agent.state",), audited=True)
def agent_logout(svc, a):
    """Log an agent out."""
    return agent_op(svc, a, centre(svc).agent_logout)


@operation("agent.ready", rights=("desk",), args={"agent": AGENT},
           result=AGENT_STATUS,
           events=("agent.state", "call.delivered"), audited=True)
def agent_ready(svc, a):
    """The agent is ready: the ACD may offer it calls."""
    return agent_op(svc, a, centre(svc).agent_ready)


@operation("agent.not_ready", rights=("desk",), args={"agent": AGENT, "reason": Arg(str, default="", max_len=128)},
           result=AGENT_STATUS,
           events=("agent.state",), audited=True)
def agent_not_ready(svc, a):
    """The agent is not ready (with a reason): no ACD calls."""
    return agent_op(svc, a, centre(svc).agent_not_ready, a["reason"])


@operation("agent.dnd", rights=("desk",), args={"agent": AGENT, "on": Arg(bool, default=True)},
           result=AGENT_STATUS,
           events=("agent.state", "call.delivered"), audited=True)
def agent_dnd(svc, a):
    """Do not disturb: no ACD calls and no transfers (not ready, reason "dnd")."""
    c = centre(svc)
    if a["on"]:
        return agent_op(svc, a, c.agent_not_ready, "dnd")
    return agent_op(svc, a, c.agent_ready)


@operation("agent.forward", rights=("desk",), args={"agent": AGENT, "to": Arg(str, default="", max_len=70)},
           result=obj({"agent": STR, "forward": nullable(STR)}),
           events=(), audited=True)
def agent_forward(svc, a):
    """Forward the transfers to an agent elsewhere (an agent or ``queue:NAME``; empty: stop)."""
    c = centre(svc)
    if a["agent"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
    return centre_call(lambda: c.set_forward(svc.board.line_seconds, a["agent"],
                                             a["to"] or None), a, "args.to")


@operation("agent.show", rights=("desk",), args={"agent": AGENT},
           result=AGENT_STATUS,
           events=())
def agent_show(svc, a):
    """An agent's status: state, reason, call, extension."""
    c = centre(svc)
    if a["agent"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
    return c.agent_status(a["agent"])


@operation("agent.list", rights=("agents",), args={},
           result=obj({"agents": arr(AGENT_STATUS)}),
           events=())
def agent_list(svc, a):
    """Every agent's status."""
    c = centre(svc)
    return {"agents": [c.agent_status(x) for x in c.agents]}


@operation("queue.show", rights=("read",), args={"queue": ID},
           result=QUEUE_STATUS,
           events=())
def queue_show(svc, a):
    """A queue: the calls waiting (positions, waits), its agents and their states, EWT."""
    c = centre(svc)
    if a["queue"] not in {q.name for q in c.config.queues}:
        raise RequestError("not_found", f"no queue {a['queue']!r}", "args.queue")
    return c.acd.queue_status(a["queue"], svc.board.line_seconds)


@operation("queue.list", rights=("read",), args={},
           result=obj({"queues": arr(QUEUE_STATUS)}),
           events=())
def queue_list(svc, a):
    """Every queue, as ``queue.show``."""
    c = centre(svc)
    return {"queues": [c.acd.queue_status(q.name, svc.board.line_seconds)
                       for q in c.config.queues]}
