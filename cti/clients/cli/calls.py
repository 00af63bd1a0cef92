"""The desk's call controls from the command line: ``cti calls`` (list, answer, hangup,
hold, retrieve, transfer, consult, complete, pickup, supervise, record, dial), one command
per request of cti/server/ops/calls.py, with the same rights (``--key``: the principal of the
key; an agent's acts on its own calls only). Each prints one line, or with ``--json`` the
server's result."""
from __future__ import annotations

from cti.clients.cli.common import CliError, _client, _out, _span
from cti.clients.cli.formatting import kv, table


def attached_data(pairs: list[str] | None) -> dict | None:
    """``KEY=VALUE`` words -> the attached data (None when there are none)."""
    data = {}
    for p in pairs or ():
        k, eq, v = p.partition("=")
        if not eq or not k:
            raise CliError(f"{p!r}: attached data is KEY=VALUE")
        data[k] = v
    return data or None


def call_line(res: dict) -> str:
    """A call (call.show's result) in one line."""
    who = f", agent {res['agent']}" if res.get("agent") else ""
    queue = f", queue {res['queue']}" if res.get("queue") else ""
    return (f"call {res['call_id']}: {res['state']}, from {res.get('ani') or 'unknown'} "
            f"to {res.get('dnis') or '?'}{queue}{who}")


def cmd_calls(args) -> int:
    a = args.action
    with _client(args) as c:
        if a == "list":
            res = c.request("call.list")
            rows = [[x["call_id"], x["state"], x["trunk"], x["ani"], x["dnis"],
                     x.get("queue") or "", x.get("agent") or ""] for x in res["calls"]]
            text = table(rows, ["Call", "State", "Trunk", "ANI", "DNIS", "Queue", "Agent"]) \
                if rows else "no calls"
            text += "\n" + kv([(k.replace("_", " "), v) for k, v in res["counters"].items()])
        elif a == "show":
            res = c.request("call.show", call=args.call)
            text = call_line(res) + "".join(f"\n  {k}: {v}" for k, v in res["data"].items())
        elif a == "answer":
            res = c.request("call.answer", call=args.call, agent=args.agent)
            text = f"call {res['call_id']} answered at extension {res['extension']}"
        elif a == "transfer":
            res = c.request("call.transfer", call=args.call, to=args.to,
                            data=attached_data(args.data))
            text = f"call {res['call_id']} transferred to {res['to']}"
        elif a in ("hold", "retrieve"):
            res = c.request(f"call.{a}", call=args.call)
            text = call_line(res)
        elif a == "consult":
            res = c.request("call.consult", call=args.call, to=args.to)
            text = (f"consulting {res['to']} (call {res['consult']}); the caller is on hold: "
                    f"`cti calls complete {res['call_id']}` to transfer, "
                    f"`cti calls hangup {res['consult']}` to drop the consultation")
        elif a == "complete":
            res = c.request("call.transfer_complete", call=args.call,
                            data=attached_data(args.data))
            text = f"call {res['call_id']} transferred to {res['to']}"
        elif a == "pickup":
            res = c.request("call.pickup", call=args.call, agent=args.agent)
            text = f"call {res['call_id']} picked up by agent {res['agent']}: its phone rings"
        elif a == "supervise":
            res = c.request("call.supervise", call=args.call, supervisor=args.supervisor,
                            mode=args.mode)
            text = f"agent {res['supervisor']} supervises call {res['call_id']} ({res['mode']})"
            if res.get("ringing") is not None:
                text += f": the phone at extension {res['ringing']} rings"
        elif a == "record":
            res = c.request("call.record", call=args.call, on=not args.stop)
            text = f"call {res['call_id']}: " + ("recording" if res["recording"]
                                                 else "recording stopped")
        elif a == "dial":
            kw = {"agent": args.agent, "to": args.number}
            if args.span is not None:
                kw["span"] = args.span
            res = c.request("call.make", **kw)
            text = (f"call {res['call_id']}: dialling {res['to']} for agent {res['agent']} "
                    "(the agent's phone rings first)")
        else:
            res = c.request("call.hangup", call=args.call)
            text = f"call {res['call_id']} cleared"
    _out(args, res, text)
    return 0


def add_parsers(sub, common) -> None:
    """``cti calls ACTION``."""
    ca = sub.add_parser("calls", parents=[common],
                        help="calls: list, show, answer, hangup, hold, retrieve, transfer, "
                             "consult, complete, pickup, supervise, record, dial")
    casub = ca.add_subparsers(dest="action", metavar="ACTION", required=True)
    casub.add_parser("list", parents=[common], help="calls now, and the loss counters")

    def one(name, hlp):
        x = casub.add_parser(name, parents=[common], help=hlp)
        x.add_argument("call", metavar="CALL")
        return x
    one("show", "one call: state, caller, queue, agent, attached data")
    x = one("answer", "answer a call ringing an agent's phone (the simulated board lifts it)")
    x.add_argument("--agent", help="the agent answering (needed when a call rings several)")
    one("hangup", "clear a call (CALL.consult: only the consultation; the caller stays held)")
    one("hold", "put the caller on hold (music on hold)")
    one("retrieve", "take the held caller back")
    x = one("transfer", "blind transfer with attached data")
    x.add_argument("to", metavar="AGENT|queue:NAME")
    x.add_argument("data", nargs="*", metavar="KEY=VALUE", help="data attached to the call")
    x = one("consult", "call another agent, the caller on hold (then complete or hangup)")
    x.add_argument("to", metavar="AGENT")
    x = one("complete", "complete the consultative transfer: the consulted agent takes the "
            "caller")
    x.add_argument("data", nargs="*", metavar="KEY=VALUE", help="data attached to the call")
    x = one("pickup", "take a call ringing another agent's phone")
    x.add_argument("--agent", required=True, help="the agent taking it")
    x = one("supervise", "listen to (monitor), whisper to, barge in on or join a call")
    x.add_argument("--supervisor", required=True, metavar="AGENT",
                   help="the supervisor's agent id (its phone rings)")
    x.add_argument("--mode", default="monitor",
                   choices=("monitor", "whisper", "barge", "conference"))
    x = one("record", "record the call (resumes a stopped recording)")
    x.add_argument("--stop", action="store_true", help="stop recording")
    x = casub.add_parser("dial", parents=[common],
                         help="dial a number for an agent (click-to-dial: its phone rings "
                              "first)")
    x.add_argument("number", metavar="NUMBER")
    x.add_argument("--agent", required=True)
    x.add_argument("--span", type=_span, help="the PRI span to call out on")
    ca.set_defaults(func=cmd_calls)
