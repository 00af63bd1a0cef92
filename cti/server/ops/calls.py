"""Calls at the agent's desktop (cti/centre/coordinator.py): ``call.list``, ``call.show``,
``call.answer``, ``call.hangup``, ``call.hold``, ``call.retrieve``, ``call.transfer``
(blind), ``call.consult`` and ``call.transfer_complete`` (consultative), ``call.pickup``,
``call.supervise``, ``call.record`` and ``call.make`` (click-to-dial)."""
from __future__ import annotations

import json

from cti.centre.barring import NumberBarred
from cti.server.ops.common import CALL_INFO, centre, centre_call
from cti.server.registry import operation
from cti.server.schema import (AGENT, BOOL, DATA, ID, INT, OBJ, STR, Arg, RequestError, arr,
                               nullable, obj, some)

CALL_TO = obj({"call_id": STR, "to": nullable(STR), "data": OBJ})


def cti_call(svc, call_id: str):
    """The centre, once ``call_id`` is one of its calls (``not_found`` otherwise)."""
    c = centre(svc)
    if call_id not in c.calls:
        raise RequestError("not_found", f"no call {call_id!r} (calls: "
                           f"{some(c.calls)})", "args.call")
    return c


def consulted(svc, call_id: str) -> str:
    """CALL.consult names the consultation of a consultative transfer (``call.consult``'s
    reply): answered and hung up as a call of its own; here, the call it consults for."""
    c = centre(svc)
    base = call_id.removesuffix(".consult")
    if base != call_id and getattr(c.calls.get(base), "consult", None):
        return base
    return call_id


def data_size(a) -> None:
    """Attached data travels into every event of the call and its CDR: the store's
    bound (cti.store.sqlite.MAX_DATA_BYTES), checked here so the CDR is never refused."""
    from cti.store.sqlite import MAX_DATA_BYTES
    if a.get("data") is not None:
        try:
            n = len(json.dumps(a["data"], separators=(",", ":"), sort_keys=True,
                               allow_nan=False))
        except (TypeError, ValueError) as e:
            raise RequestError("bad_arg", f"not JSON-able ({e})", "args.data") from None
        if n > MAX_DATA_BYTES:
            raise RequestError("bad_arg", f"{n} bytes of JSON, more than the "
                               f"{MAX_DATA_BYTES} attached data may take", "args.data")


@operation("call.list", rights=("calls",), args={},
           result=obj({"calls": arr(CALL_INFO), "counters": obj(additionalProperties=INT)}),
           events=())
def call_list(svc, a):
    """The calls in progress and the centre's counters. ``counters``: ``offered``, and one
    count per CDR outcome (answered, no_ivr_port, abandoned_ivr, abandoned_queue,
    abandoned_ring, voicemail, callback, timeout, failed; calls out also busy, no_answer,
    congestion, vacant, by the Q.850 cause as for ``campaign.attempt``) plus
    ``ring_no_answer``, ``transfers``, ``dissuaded`` (calls sent to the peak-dissuasion flow)
    and ``errors`` (calls that failed: ``server.error``); offered is the outcomes plus the
    calls in progress."""
    c = centre(svc)
    return {"calls": [c.call_info(x) for x in c.calls.values()], "counters": dict(c.counters)}


@operation("call.show", rights=("desk",), args={"call": ID},
           result=CALL_INFO,
           events=())
def call_show(svc, a):
    """One call: state, trunk, ANI, DNIS, queue, agent, attached data."""
    c = cti_call(svc, a["call"])
    return c.call_info(c.calls[a["call"]])


@operation("call.hangup", rights=("desk",), args={"call": ID},
           result=obj({"call_id": STR, "state": STR}),
           events=("call.cleared", "call.survey", "call.consult_ended", "agent.state"),
           audited=True)
def call_hangup(svc, a):
    """Hang up a call (or only its consultation, ``CALL.consult``: the caller stays held)."""
    c = cti_call(svc, consulted(svc, a["call"]))
    return centre_call(lambda: c.hangup(svc.board.line_seconds, a["call"]), a)


@operation("call.transfer", rights=("desk",), args={"call": ID, "to": ID, "data": DATA},
           result=CALL_TO,
           events=("call.transferred", "call.delivered", "call.queued"), audited=True)
def call_transfer(svc, a):
    """Blind transfer to an agent or ``queue:NAME``, with attached data merged in.
    ``call.transferred``, then ``call.delivered`` to the new agent with the data."""
    data_size(a)
    c = cti_call(svc, a["call"])
    try:
        return c.transfer(svc.board.line_seconds, a["call"], a["to"], a["data"])
    except LookupError as e:
        raise RequestError("not_found", str(e), "args.to") from None
    except ValueError as e:
        raise RequestError("failed", str(e), "args.call") from None


@operation("call.hold", rights=("desk",), args={"call": ID},
           result=CALL_INFO,
           events=("call.held",))
def call_hold(svc, a):
    """Hold the caller (music on hold)."""
    c = cti_call(svc, a["call"])
    return centre_call(lambda: c.hold(svc.board.line_seconds, a["call"]), a)


@operation("call.retrieve", rights=("desk",), args={"call": ID},
           result=CALL_INFO,
           events=("call.retrieved",))
def call_retrieve(svc, a):
    """Take a held caller back."""
    c = cti_call(svc, a["call"])
    return centre_call(lambda: c.retrieve(svc.board.line_seconds, a["call"]), a)


@operation("call.supervise", rights=("supervise",), args={"call": ID, "supervisor": AGENT,
                                   "mode": Arg(str, default="monitor",
                                               choices=("monitor", "whisper", "barge",
                                                        "conference"))},
           result=obj({"call_id": STR, "supervisor": STR, "mode": STR},
                      {"ringing": nullable(INT)}),
           events=("call.supervised", "call.conferenced", "call.supervisor_left"), audited=True)
def call_supervise(svc, a):
    """A supervisor monitors, whispers to, barges in on or joins a call. The supervisor's phone
    rings; on answer it joins in that mode (``call.supervised`` or ``call.conferenced``); asked
    again, the mode changes."""
    c = cti_call(svc, a["call"])
    return centre_call(lambda: c.supervise(svc.board.line_seconds, a["call"],
                                           a["supervisor"], a["mode"]), a)


@operation("call.consult", rights=("desk",), args={"call": ID, "to": AGENT},
           result=obj({"call_id": STR, "consult": STR, "to": STR}),
           events=("call.consulting", "call.delivered", "call.consulted",
                   "call.established", "call.consult_ended"), audited=True)
def call_consult(svc, a):
    """Consult another agent: the caller is held, the other agent's phone rings.
    ``call.delivered`` with ``call_id`` ``CALL.consult``, the consulted agent's ``agent`` and
    ``extension``, ``consult_of`` and ``from_agent``; when answered, ``call.consulted`` and
    ``call.established`` of ``CALL.consult``."""
    c = cti_call(svc, a["call"])
    return centre_call(lambda: c.consult(svc.board.line_seconds, a["call"], a["to"]),
                       a)


@operation("call.transfer_complete", rights=("desk",), args={"call": ID, "data": DATA},
           result=CALL_TO,
           events=("call.transferred",), audited=True)
def call_transfer_complete(svc, a):
    """Complete a consultative transfer: the consulted agent takes the caller."""
    data_size(a)
    c = cti_call(svc, a["call"])
    return centre_call(lambda: c.transfer_complete(svc.board.line_seconds, a["call"],
                                                   a["data"]), a)


@operation("call.answer", rights=("desk",), args={"call": ID, "agent": Arg(str, max_len=64)},
           result=obj({"call_id": STR, "extension": INT}),
           events=("call.established", "call.consulted", "agent.state"))
def call_answer(svc, a):
    """The desktop answers a call ringing the agent's phone. An analog phone is answered
    by lifting its handset; on the simulated board the desktop lifts it (a softphone).
    ``agent``: the asking agent, whose phone is lifted (a ring-all call rings several;
    without it the call must ring exactly one). A consultation (``CALL.consult``) is
    answered at the consulted agent's phone."""
    c = cti_call(svc, consulted(svc, a["call"]))
    call = c.calls[a["call"].removesuffix(".consult")]
    if a["call"].endswith(".consult"):
        cons = call.consult or {}
        ringing = {cons["agent"]: cons["port"]} if cons.get("conf") is None and cons else {}
    else:
        ringing = {agent: port for agent, (port, _) in call.ringing.items()}
    if not ringing:
        raise RequestError("failed", f"call {a['call']} is {call.state}: no phone rings for "
                           "it", "args.call")
    agent = a["agent"]
    if agent is None and len(ringing) > 1:
        raise RequestError("bad_arg", f"missing: call {a['call']} rings agents "
                           f"{', '.join(sorted(ringing))}; say which answers", "args.agent")
    if agent is not None and agent not in ringing:
        raise RequestError("not_found", f"call {a['call']} does not ring agent {agent!r}",
                           "args.agent")
    port = ringing[agent] if agent is not None else next(iter(ringing.values()))
    if svc.world is None:
        raise RequestError("not_supported", "an analog phone is answered by lifting its "
                           "handset", "op")
    svc.world.phones[port].lift()
    return {"call_id": a["call"], "extension": port}


@operation("call.pickup", rights=("desk",), args={"call": ID, "agent": AGENT},
           result=obj({"call_id": STR, "agent": STR}),
           events=("call.picked_up", "call.delivered"), audited=True)
def call_pickup(svc, a):
    """An agent takes a call ringing another agent. The ringing stops; the call rings that
    agent's phone."""
    c = cti_call(svc, a["call"])
    if a["agent"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
    return centre_call(lambda: c.pickup(svc.board.line_seconds, a["call"],
                                        a["agent"]), a)


@operation("call.record", rights=("desk",), args={"call": ID, "on": Arg(bool, default=True)},
           result=obj({"call_id": STR, "recording": BOOL}),
           events=(), audited=True)
def call_record(svc, a):
    """Record this call (or stop), whatever the queue's policy."""
    c = cti_call(svc, a["call"])
    return c.record(svc.board.line_seconds, a["call"], a["on"])


@operation("call.make", rights=("desk",), args={"agent": AGENT, "to": Arg(str, required=True, text="number"),
                              "span": Arg(int, lo=1, hi=64)},
           result=obj({"call_id": STR, "agent": STR, "to": STR}),
           events=("call.originated", "call.dialling", "call.network_reached",
                   "call.established", "call.cleared"), audited=True)
def call_make(svc, a):
    """Click-to-dial: the agent's phone rings, then the number is called out on a PRI trunk
    (on ``span`` when given). The reply's ``to`` is the number in its normal form. A
    number the agent's call-barring rule set bars ([centre.barring]) is refused, before any
    trunk is seized, as ``forbidden`` on ``args.to`` naming the rule, and audited."""
    c = centre(svc)
    if a["agent"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
    # (args.to is checked and in its normal form: check_value, drivers/numbers.py)

    def dial():
        try:
            return c.make_call(svc.board.line_seconds, a["agent"], a["to"], a["span"])
        except NumberBarred as e:
            # call barring (cti/centre/barring.py): a policy refused it, not the line, so
            # "forbidden" as a right refused (asking again does not help), audited as one
            svc.audit(svc.principal, "call.make", a, str(e))
            raise RequestError("forbidden", str(e), "args.to") from None
    return centre_call(dial, a, "args.to")
