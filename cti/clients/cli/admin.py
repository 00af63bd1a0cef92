"""The administrator's commands: ``cti admin agent add|modify|remove|passwd|list``,
``cti admin group add|remove|list|member`` and ``cti admin audit``, clients of the
``admin.*`` requests (cti/server/ops/accounts.py, the right ``accounts``).

Passwords and PINs never go on the command line (where ``ps`` and the shell's history
would show them): ``getpass`` asks for them twice on the terminal, or ``--password-stdin``
reads one line from standard input (scripts).

``admin`` is a group others add to: :func:`admin_subparsers` returns its subcommands'
action, made once per parser, whichever module asks first (cti/clients/cli/keys.py adds
``cti admin key`` with ``admin_subparsers(sub, common).add_parser("key", ...)``).
"""
from __future__ import annotations

import argparse
import getpass
import sys
import time

from cti.clients.cli.common import CliError, _client, _out
from cti.clients.cli.formatting import table

__all__ = ["add_parsers", "admin_subparsers"]


def admin_subparsers(sub, common):
    """The subcommands of ``cti admin`` (made on first use): add a parser to it."""
    got = getattr(sub, "_cti_admin", None)
    if got is None:
        p = sub.add_parser("admin", parents=[common],
                           help="accounts, groups, keys and the audit log (administrators)")
        got = p.add_subparsers(dest="admin_command", metavar="WHAT", required=True)
        sub._cti_admin = got
    return got


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _time(s: str) -> float:
    """A time: seconds since the epoch, an ISO date (2026-12-07 or 2026-12-07T10:30, local
    time), or a time ago (90s, 30m, 2h, 7d)."""
    s = s.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    if s[-1:] in units:
        try:
            return time.time() - float(s[:-1]) * units[s[-1]]
        except ValueError:
            pass
    try:
        return float(s)
    except ValueError:
        pass
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(s, fmt))
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{s!r} is not a time (epoch seconds, 2026-12-07T10:30, "
                                     "or ago: 30m, 2h, 7d)")


def _group_level(s: str) -> tuple[str, int]:
    name, sep, level = s.partition("=")
    try:
        n = int(level) if sep else 1
    except ValueError:
        n = 0
    if not name or not 1 <= n <= 10:
        raise argparse.ArgumentTypeError(f"{s!r}: GROUP or GROUP=LEVEL, level 1..10")
    return name, n


def read_secret(what: str, stdin: bool, confirm: bool = True) -> str:
    """A password or PIN: one line of stdin, or asked on the terminal (twice, a new one)."""
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise CliError(f"no {what} on standard input")
        return line
    if not confirm:
        return getpass.getpass(f"{what.capitalize()}: ")
    first = getpass.getpass(f"New {what}: ")
    if getpass.getpass(f"Again: ") != first:
        raise CliError(f"the two {what}s differ: nothing changed")
    return first


def _account_rows(accounts: list[dict]) -> str:
    rows = []
    for a in accounts:
        live = a.get("live") or {}
        flags = ",".join(f for f, on in (("password", a["password_set"]), ("pin", a["pin_set"]),
                                         ("disabled", a["disabled"]),
                                         ("locked", bool(a.get("locked_until")))) if on)
        rows.append([a["name"], a["role"], a.get("display_name") or "", a.get("agent") or "-",
                     a.get("extension") or "-",
                     " ".join(f"{g['group']}:{g['level']}" for g in a["groups"]),
                     live.get("state", ""), flags])
    return table(rows, ["Name", "Role", "Display name", "Agent", "Ext", "Groups", "State",
                        "Set"]) if rows else "no accounts"


def cmd_agent(args) -> int:
    with _client(args) as c:
        act = args.action
        if act == "list":
            res = c.request("admin.agent.list", role=args.role)
            _out(args, res, _account_rows(res["accounts"]))
            return 0
        if act == "add":
            res = c.request("admin.agent.add", name=args.name, role=args.role,
                            display_name=args.display_name or "", agent=args.agent,
                            extension=args.extension,
                            groups=dict(args.group) if args.group else None)
            text = _account_rows([res]) + (f"\nset its password: {PROG_ADMIN} agent passwd "
                                          f"{res['name']}")
        elif act == "modify":
            disabled = True if args.disable else False if args.enable else None
            res = c.request("admin.agent.modify", name=args.name, role=args.role,
                            display_name=args.display_name, agent=args.agent,
                            extension=args.extension, disabled=disabled)
            text = _account_rows([res])
        elif act == "remove":
            res = c.request("admin.agent.remove", name=args.name)
            text = f"account {res['name']} removed"
        else:   # passwd
            kw = {"name": args.name}
            if args.clear:
                kw["clear"] = [args.clear]
            else:
                what = "PIN" if args.pin else "password"
                kw["pin" if args.pin else "password"] = read_secret(what, args.password_stdin)
            res = c.request("admin.agent.passwd", **kw)
            text = (f"account {res['name']}: password {'set' if res['password_set'] else 'none'}"
                    f", PIN {'set' if res['pin_set'] else 'none'}")
    _out(args, res, text)
    return 0


def cmd_group(args) -> int:
    with _client(args) as c:
        act = args.action
        if act == "list":
            res = c.request("admin.group.list", kind=args.kind)
            rows = [[g["name"], g["kind"], " ".join(f"{m['account']}:{m['level']}"
                                                    for m in g["members"])]
                    for g in res["groups"]]
            text = table(rows, ["Group", "Kind", "Members"]) if rows else "no groups"
        elif act == "add":
            res = c.request("admin.group.add", name=args.name, kind=args.kind)
            text = f"group {res['name']} ({res['kind']}) added"
        elif act == "remove":
            res = c.request("admin.group.remove", name=args.name, kind=args.kind)
            text = f"group {res['name']} removed"
        else:
            res = c.request("admin.group.member", group=args.group, account=args.account,
                            level=args.level, kind=args.kind)
            text = (f"{args.account} {'in' if args.level else 'out of'} {res['name']}: "
                    + " ".join(f"{m['account']}:{m['level']}" for m in res["members"]))
    _out(args, res, text)
    return 0


def cmd_audit(args) -> int:
    refused = True if args.refused else False if args.done else None
    with _client(args) as c:
        res = c.request("admin.audit", since=args.since, until=args.until, name=args.who,
                        operation=args.op, refused=refused, limit=args.limit)
    rows = [[_when(r["ts"]), f"{r['role']} {r['name']}", r["source"], r["op"],
             " ".join(f"{k}={v}" for k, v in sorted(r["args"].items()) if v is not None)[:60],
             f"REFUSED: {r['refused']}" if r["refused"] else "done"] for r in res["rows"]]
    _out(args, res, table(rows, ["When", "Who", "From", "Op", "Args", "Outcome"])
         if rows else "no audit rows")
    return 0


PROG_ADMIN = "cti admin"


def add_parsers(sub, common) -> None:
    """``cti admin agent``, ``cti admin group``, ``cti admin audit``."""
    asub = admin_subparsers(sub, common)

    ag = asub.add_parser("agent", parents=[common], help="accounts: agents, supervisors, "
                         "administrators, integrators")
    agsub = ag.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = agsub.add_parser("add", parents=[common], help="add an account")
    x.add_argument("name", help="the login (an agent's: its agent number)")
    x.add_argument("--role", default="agent",
                   choices=("agent", "supervisor", "admin", "integrator"))
    x.add_argument("--display-name")
    x.add_argument("--agent", help="a supervisor's agent number, if it takes calls")
    x.add_argument("--extension", type=int, help="the FXS port it is bound to (none: free "
                   "seating)")
    x.add_argument("--group", action="append", type=_group_level, metavar="GROUP[=LEVEL]",
                   help="a queue or skill group, level 1..10 (again for more; queue:NAME "
                   "or skill:NAME where both are named NAME)")
    x = agsub.add_parser("modify", parents=[common], help="change an account")
    x.add_argument("name")
    x.add_argument("--role", choices=("agent", "supervisor", "admin", "integrator"))
    x.add_argument("--display-name")
    x.add_argument("--agent")
    x.add_argument("--extension", type=int, help="0: none (free seating)")
    on = x.add_mutually_exclusive_group()
    on.add_argument("--disable", action="store_true", help="it cannot log in")
    on.add_argument("--enable", action="store_true")
    x = agsub.add_parser("remove", parents=[common], help="remove an account (an agent "
                         "logged out)")
    x.add_argument("name")
    x = agsub.add_parser("passwd", parents=[common], help="set a password or PIN (asked, "
                         "never on the command line)")
    x.add_argument("name")
    x.add_argument("--pin", action="store_true", help="the PIN of the phone login "
                   "(4 to 12 digits) instead of the password")
    x.add_argument("--password-stdin", action="store_true",
                   help="read it from one line of standard input")
    x.add_argument("--clear", choices=("password", "pin"), help="remove it instead")
    x = agsub.add_parser("list", parents=[common], help="every account (never a password)")
    x.add_argument("--role", choices=("agent", "supervisor", "admin", "integrator"))
    ag.set_defaults(func=cmd_agent)

    gr = asub.add_parser("group", parents=[common], help="groups: queues' members, skills")
    grsub = gr.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = grsub.add_parser("add", parents=[common], help="add a group")
    x.add_argument("name")
    x.add_argument("--kind", required=True, choices=("queue", "skill"))
    x = grsub.add_parser("remove", parents=[common], help="remove a group")
    x.add_argument("name")
    x.add_argument("--kind", choices=("queue", "skill"), help="where a queue and a skill "
                   "share the name")
    x = grsub.add_parser("list", parents=[common], help="every group and its members")
    x.add_argument("--kind", choices=("queue", "skill"))
    x = grsub.add_parser("member", parents=[common], help="put an account in a group at a "
                         "level, or take it out (level 0)")
    x.add_argument("group")
    x.add_argument("account")
    x.add_argument("level", type=int, choices=range(0, 11), metavar="LEVEL",
                   help="1..10 (a queue: 1 is tried first; a skill: 10 the most able); 0: out")
    x.add_argument("--kind", choices=("queue", "skill"), help="where a queue and a skill "
                   "share the name")
    gr.set_defaults(func=cmd_group)

    au = asub.add_parser("audit", parents=[common], help="the audit log: refusals and "
                         "supervisors' and administrators' actions")
    au.add_argument("--since", type=_time, help="from (epoch, 2026-12-07T10:30, or ago: 2h)")
    au.add_argument("--until", type=_time)
    au.add_argument("--who", help="a principal's name")
    au.add_argument("--op", help="an operation, or a prefix ending in . (admin.)")
    r = au.add_mutually_exclusive_group()
    r.add_argument("--refused", action="store_true", help="refusals only")
    r.add_argument("--done", action="store_true", help="actions done only")
    au.add_argument("--limit", type=int, default=1000, help="the last N rows (1000)")
    au.set_defaults(func=cmd_audit)
