"""The supervisor's commands on the call centre: ``cti agents``, ``queues``, and the
outbound dialer's ``cti campaign`` and ``cti dnc`` (the calls: :mod:`.calls`)."""
from __future__ import annotations

import sys

from cti.clients.cli.common import CliError, _client, _out, _positive_float
from cti.clients.cli.formatting import kv, table

def agent_line(res: dict) -> str:
    """An agent's status in one line."""
    return (f"agent {res['agent']}: {res['state']}"
            + (f" ({res['reason']})" if res.get("reason") else "")
            + (f" at extension {res['extension']}" if res.get("extension") else ""))


def cmd_agents(args) -> int:
    """Agents: list, or log in / out / ready / not ready one (a supervisor's view)."""
    with _client(args) as c:
        if args.action == "dnd":
            res = c.request("agent.dnd", agent=args.agent, on=not args.off)
            text = agent_line(res)
        elif args.action == "forward":
            res = c.request("agent.forward", agent=args.agent, to=args.to or "")
            text = (f"agent {res['agent']}: calls forwarded to {res['forward']}"
                    if res["forward"] else f"agent {res['agent']}: calls not forwarded")
        elif args.action == "list":
            res = c.request("agent.list")
            rows = [[a["agent"], a.get("extension") or "-", a["state"], a.get("reason") or "",
                     a.get("call") or ""] for a in res["agents"]]
            text = table(rows, ["Agent", "Ext", "State", "Reason", "Call"])
        else:
            op = {"login": "agent.login", "logout": "agent.logout", "ready": "agent.ready",
                  "notready": "agent.not_ready", "show": "agent.show"}[args.action]
            kw = {"agent": args.agent}
            if args.action == "login" and args.extension is not None:
                kw["extension"] = args.extension
            if args.action == "login" and (args.ask_password or args.password_stdin):
                # an agent logging itself in (its key's principal) gives its password;
                # never on the command line, where ps and the history show it
                from cti.clients.cli.admin import read_secret
                kw["password"] = read_secret("password", args.password_stdin, confirm=False)
            if args.action == "notready":
                kw["reason"] = args.reason or ""
            res = c.request(op, **kw)
            text = agent_line(res)
    _out(args, res, text)
    return 0


def cmd_queues(args) -> int:
    with _client(args) as c:
        res = c.request("queue.list")
        rows = []
        for q in res["queues"]:
            agents = q.get("agents") or []
            rows.append([q.get("queue") or q.get("name"), len(q.get("calls") or []),
                         f"{q.get('longest_wait') or 0:.0f}", f"{q.get('ewt') or 0:.0f}",
                         sum(1 for a in agents if (a.get("state") if isinstance(a, dict)
                                                   else None) == "ready"),
                         len(agents)])
        _out(args, res, table(rows, ["Queue", "Waiting", "Longest s", "EWT s", "Ready",
                                     "Agents"]))
    return 0


def add_parsers(sub, common) -> None:
    """``cti agents``, ``cti queues``."""
    ag = sub.add_parser("agents", parents=[common], help="agents: list, show, login, logout, "
                        "ready, notready, dnd, forward")
    agsub = ag.add_subparsers(dest="action", metavar="ACTION", required=True)
    agsub.add_parser("list", parents=[common], help="every agent and its state")
    for name in ("show", "login", "logout", "ready", "notready"):
        x = agsub.add_parser(name, parents=[common], help=f"{name} an agent")
        x.add_argument("agent", metavar="AGENT")
        if name == "login":
            x.add_argument("--extension", type=int, help="FXS port (default: the agent's own)")
            x.add_argument("--ask-password", action="store_true",
                           help="ask for the agent's password (an agent logging itself in)")
            x.add_argument("--password-stdin", action="store_true",
                           help="read the password from the first line of standard input")
        if name == "notready":
            x.add_argument("--reason", default="", help="reason code (break, lunch, ...)")
    x = agsub.add_parser("dnd", parents=[common], help="do not disturb: no queue calls and "
                         "no transfers (not ready, reason dnd)")
    x.add_argument("agent", metavar="AGENT")
    x.add_argument("--off", action="store_true", help="end do-not-disturb (ready again)")
    x = agsub.add_parser("forward", parents=[common], help="forward an agent's transfers to "
                         "another agent or a queue (no TO: stop forwarding)")
    x.add_argument("agent", metavar="AGENT")
    x.add_argument("to", metavar="AGENT|queue:NAME", nargs="?", default="")
    ag.set_defaults(func=cmd_agents)

    qu = sub.add_parser("queues", parents=[common], help="ACD queues: waiting calls, agents")
    qu.set_defaults(func=cmd_queues)


# ---- the outbound dialer: cti campaign ..., cti dnc ... ---------------------------------

def retry_rules(specs: list[str]) -> dict:
    """``busy=3/300`` (a record gets 3 attempts in all; the next busy one 300 s later)
    -> ``{"busy": {"max_attempts": 3, "delay": 300.0}}``."""
    out = {}
    for spec in specs or ():
        name, eq, rest = spec.partition("=")
        attempts, slash, delay = rest.partition("/")
        try:
            out[name] = {"max_attempts": int(attempts), "delay": float(delay or 0)}
        except ValueError:
            raise CliError(f"--retry {spec!r}: use RESULT=ATTEMPTS/DELAY_SECONDS "
                           "(busy=3/300)") from None
        if not eq or not name:
            raise CliError(f"--retry {spec!r}: use RESULT=ATTEMPTS/DELAY_SECONDS (busy=3/300)")
    return out


def campaign_rows(path: str) -> list[dict]:
    """A campaign's list from CSV (``-``: standard input): a ``number`` column, an
    optional ``name``; every other column goes into the record's attached data."""
    import csv

    f = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8")
    try:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "number" not in reader.fieldnames:
            raise CliError(f"{path}: the CSV needs a 'number' column (and may have 'name')")
        rows = []
        for r in reader:
            row = {"number": (r.pop("number") or "").strip()}
            name = r.pop("name", None)
            if name:
                row["name"] = name
            data = {k: v for k, v in r.items() if k and v not in (None, "")}
            if data:
                row["data"] = data
            rows.append(row)
        return rows
    finally:
        if f is not sys.stdin:
            f.close()


def fmt_campaign(res: dict) -> str:
    by = res.get("by_state") or {}
    lines = [f"campaign {res['campaign']}: {res['mode']}, {res['state']}, "
             f"{res['records']} records, {res['attempts']} attempts"
             + (f" ({', '.join(f'{k} {v}' for k, v in sorted(by.items()))})" if by else "")]
    if res.get("records_list"):
        rows = [[r["id"], r.get("number"), r.get("name") or "", r.get("state"),
                 r.get("attempts"), r.get("last_outcome") or ""]
                for r in res["records_list"]]
        lines.append(table(rows, ["Id", "Number", "Name", "State", "Attempts", "Last"]))
    if res.get("attempts_list"):
        rows = [[a["record_id"], a["number"], a.get("agent") or "", a["outcome"],
                 a.get("cause") or "", a.get("call_id") or ""] for a in res["attempts_list"]]
        lines.append(table(rows, ["Record", "Number", "Agent", "Outcome", "Cause", "Call"]))
    return "\n".join(lines)


def cmd_campaign(args) -> int:
    """Outbound campaigns: create, load a list, start/pause/stop, show, list; preview
    agents take the next record, dial it or skip it."""
    with _client(args) as c:
        a = args.action
        if a == "create":
            kw = {"campaign": args.campaign, "mode": args.mode}
            if args.agents:
                kw["agents"] = [x for x in args.agents.split(",") if x]
            if args.retry:
                kw["rules"] = retry_rules(args.retry)
            if args.no_answer_timeout is not None:
                kw["no_answer_timeout"] = args.no_answer_timeout
            if args.max_talk is not None:
                kw["max_talk"] = args.max_talk
            res = c.request("campaign.create", **kw)
            text = fmt_campaign(res)
        elif a == "load":
            res = c.request("campaign.load", campaign=args.campaign,
                            records=campaign_rows(args.file))
            text = f"campaign {res['campaign']}: {res['loaded']} records loaded"
        elif a in ("start", "pause", "stop", "show"):
            res = c.request(f"campaign.{a}", campaign=args.campaign)
            text = fmt_campaign(res)
        elif a == "list":
            res = c.request("campaign.list")
            text = "\n".join(fmt_campaign(x) for x in res["campaigns"]) or "no campaigns"
        elif a == "next":
            res = c.request("campaign.next", campaign=args.campaign, agent=args.agent)
            r = res["record"]
            text = (f"{res['campaign']} record {r['id']}: {r.get('name') or ''} {r['number']}"
                    + "".join(f"\n  {k}: {v}" for k, v in (r.get("data") or {}).items()))
        elif a == "dial":
            res = c.request("campaign.dial", agent=args.agent)
            text = (f"dialling {res['number']} (call {res['call_id']})" if res["dialled"]
                    else "not dialled: the number is on the do-not-call list")
        else:
            res = c.request("campaign.skip", agent=args.agent)
            text = "skipped"
    _out(args, res, text)
    return 0


def cmd_dnc(args) -> int:
    """The do-not-call list: add, remove, list (checked every time a number is dialled)."""
    with _client(args) as c:
        if args.action == "add":
            kw = {"number": args.number}
            if args.reason:
                kw["reason"] = args.reason
            res = c.request("dnc.add", **kw)
            text = f"{args.number}: " + ("added" if res["added"] else "already on the list")
        elif args.action == "remove":
            res = c.request("dnc.remove", number=args.number)
            text = f"{args.number}: " + ("removed" if res["removed"] else "was not on the list")
        else:
            res = c.request("dnc.list")
            text = table([[r["number"], r.get("reason") or ""] for r in res["numbers"]],
                         ["Number", "Reason"]) if res["numbers"] else "the list is empty"
    _out(args, res, text)
    return 0


def add_dialer_parsers(sub, common) -> None:
    """``cti campaign``, ``cti dnc``."""
    cp = sub.add_parser("campaign", parents=[common], help="outbound campaigns (preview, "
                        "progressive): create, load, start, pause, stop, show, list, next, "
                        "dial, skip")
    csub = cp.add_subparsers(dest="action", required=True)
    x = csub.add_parser("create", parents=[common], help="a new campaign (stopped)")
    x.add_argument("campaign")
    x.add_argument("--mode", choices=("progressive", "preview"), default="progressive")
    x.add_argument("--agents", help="agent ids, comma separated (default: every agent)")
    x.add_argument("--retry", action="append", metavar="RESULT=ATTEMPTS/DELAY",
                   help="retry rule per result (busy, no_answer, congestion, vacant, "
                        "failed), e.g. busy=3/300; repeat")
    x.add_argument("--no-answer-timeout", type=_positive_float, help="seconds of ringing")
    x.add_argument("--max-talk", type=_positive_float,
                   help="seconds a call may last: warned before, then cleared")
    x = csub.add_parser("load", parents=[common], help="add records from a CSV file")
    x.add_argument("campaign")
    x.add_argument("file", help="CSV with a number column (and name, data columns); - for stdin")
    for name, hlp in (("start", "start dialling"), ("pause", "dial nothing new"),
                      ("stop", "stop dialling"), ("show", "records, attempts and results")):
        x = csub.add_parser(name, parents=[common], help=hlp)
        x.add_argument("campaign")
    csub.add_parser("list", parents=[common], help="every campaign")
    x = csub.add_parser("next", parents=[common], help="preview: the next record for an agent")
    x.add_argument("campaign")
    x.add_argument("--agent", required=True)
    for name, hlp in (("dial", "preview: dial the record shown"),
                      ("skip", "preview: skip the record shown")):
        x = csub.add_parser(name, parents=[common], help=hlp)
        x.add_argument("--agent", required=True)
    cp.set_defaults(func=cmd_campaign)

    dp = sub.add_parser("dnc", parents=[common], help="the do-not-call list: add, remove, list")
    dsub = dp.add_subparsers(dest="action", required=True)
    x = dsub.add_parser("add", parents=[common], help="never call this number")
    x.add_argument("number")
    x.add_argument("--reason")
    x = dsub.add_parser("remove", parents=[common], help="take a number off the list")
    x.add_argument("number")
    dsub.add_parser("list", parents=[common], help="the numbers on the list")
