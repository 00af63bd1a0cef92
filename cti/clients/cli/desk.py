"""The desk's data at the command line (issue #17): ``cti msg`` (direct messages between
agents), ``cti book`` (the address book and speed dial, click-to-dial), ``cti history``
(an agent's calls), ``cti customer`` (the customer's record and contact history) and
``cti wrapup`` (a call's wrap-up code and note): clients of the requests of
cti/server/ops/desk.py, with their rights (an agent's key acts for its own agent)."""
from __future__ import annotations

import time

from cti.clients.cli.common import _client, _out
from cti.clients.cli.formatting import table

__all__ = ["add_parsers"]


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def _messages(res: dict) -> str:
    rows = [[m["id"], _when(m["time"]), m["sender"], "" if m["read"] else "new", m["text"]]
            for m in res["messages"]]
    head = f"agent {res['agent']}: {res['unread']} unread"
    return head + ("\n" + table(rows, ["Id", "Sent", "From", "", "Text"]) if rows else "")


def cmd_msg(args) -> int:
    with _client(args) as c:
        if args.action == "send":
            res = c.request("msg.send", to=args.to, text=" ".join(args.text), agent=args.agent)
            m = res["message"]
            text = f"message {m['id']} to {m['recipient']} from {m['sender']}"
        elif args.action == "list":
            res = c.request("msg.list", agent=args.agent, unread=args.unread)
            text = _messages(res)
        else:
            res = c.request("msg.read", id=args.id, agent=args.agent)
            m = res["message"]
            text = f"{m['sender']} ({_when(m['time'])}): {m['text']}"
    _out(args, res, text)
    return 0


def _entries(entries: list[dict]) -> str:
    rows = [[e["id"], e.get("speed") or "", e["name"], e["number"],
             "shared" if e["shared"] else "own", e.get("notes") or ""] for e in entries]
    return table(rows, ["Id", "Speed", "Name", "Number", "Book", "Notes"]) if rows \
        else "no entries"


def cmd_book(args) -> int:
    with _client(args) as c:
        if args.action == "add":
            res = c.request("book.add", name=args.name, number=args.number, notes=args.notes,
                            speed=args.speed, shared=args.shared, agent=args.agent)
            text = _entries([res["entry"]])
        elif args.action == "list":
            res = c.request("book.list", agent=args.agent)
            text = _entries(res["entries"])
        elif args.action == "remove":
            res = c.request("book.remove", id=args.id, agent=args.agent)
            text = f"removed: {res['entry']['name']} {res['entry']['number']}"
        else:
            res = c.request("book.dial", entry=args.entry, speed=args.speed, agent=args.agent,
                            span=args.span)
            text = (f"dialling {res['name']} for agent {res.get('agent', args.agent or '')}: "
                    f"call {res.get('call_id')}")
    _out(args, res, text)
    return 0


def cmd_history(args) -> int:
    with _client(args) as c:
        res = c.request("agent.history", agent=args.agent, limit=args.limit)
    rows = [[_when(h["start"]), h["direction"], h.get("ani") or "", h.get("dnis") or "",
             h["outcome"], f"{h['billsec']:.0f}s", h.get("queue") or "",
             h.get("wrapup_code") or ""] for h in res["calls"]]
    text = (f"agent {res['agent']}:\n" + table(rows, ["Start", "Dir", "From", "To", "Outcome",
                                                      "Talk", "Queue", "Wrap-up"])
            if rows else f"agent {res['agent']}: no calls")
    _out(args, res, text)
    return 0


def _customer(res: dict) -> str:
    cu = res.get("customer")
    if cu is None:
        return "no such customer"
    lines = [f"customer {cu['id']}: {cu['name']}, {cu.get('phone') or 'no phone'}, "
             f"{cu['points']} points" + (f", {cu['notes']}" if cu.get("notes") else "")]
    for k in res.get("contacts", []):
        lines.append(f"  {_when(k['start'])} {k['direction']:<3} {k['outcome']:<16} "
                     f"{k.get('agent') or '-':<6} {k.get('wrapup_code') or ''}")
    return "\n".join(lines)


def cmd_customer(args) -> int:
    fields = {k: getattr(args, k, None) for k in ("phone", "points", "email", "area", "notes")}
    with _client(args) as c:
        if args.action == "show":
            res = c.request("customer.show", id=args.id, phone=args.phone)
        elif args.action == "add":
            res = c.request("customer.add", name=args.name, **fields)
        elif args.action == "modify":
            res = c.request("customer.modify", id=args.id, name=args.name, **fields)
        else:
            res = c.request("customer.remove", id=args.id)
    _out(args, res, _customer(res))
    return 0


def cmd_wrapup(args) -> int:
    with _client(args) as c:
        res = c.request("call.wrapup", call=args.call, code=args.code, note=args.note)
    _out(args, res, f"call {res['call_id']}: {res['code']}"
         + (f" ({res['note']})" if res.get("note") else ""))
    return 0


def add_parsers(sub, common) -> None:
    """``cti msg``, ``cti book``, ``cti history``, ``cti customer``, ``cti wrapup``."""
    m = sub.add_parser("msg", parents=[common], help="direct messages between agents")
    msub = m.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = msub.add_parser("send", parents=[common], help="send a message to an agent")
    x.add_argument("to", metavar="AGENT")
    x.add_argument("text", nargs="+")
    x.add_argument("--agent", help="send as this agent (default: your key's)")
    x = msub.add_parser("list", parents=[common], help="an agent's inbox, unread first")
    x.add_argument("--agent", help="whose (default: your key's agent)")
    x.add_argument("--unread", action="store_true")
    x = msub.add_parser("read", parents=[common], help="read a message (marks it read)")
    x.add_argument("id", type=int)
    x.add_argument("--agent")
    m.set_defaults(func=cmd_msg)

    b = sub.add_parser("book", parents=[common], help="address book, speed dial, dialling")
    bsub = b.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = bsub.add_parser("add", parents=[common], help="add an entry")
    x.add_argument("name")
    x.add_argument("number")
    x.add_argument("--speed", help="a speed-dial code, 1 to 3 digits")
    x.add_argument("--notes")
    x.add_argument("--shared", action="store_true", help="the shared book (supervisors)")
    x.add_argument("--agent")
    x = bsub.add_parser("list", parents=[common], help="the agent's and the shared entries")
    x.add_argument("--agent")
    x = bsub.add_parser("remove", parents=[common], help="remove an entry")
    x.add_argument("id", type=int)
    x.add_argument("--agent")
    x = bsub.add_parser("dial", parents=[common], help="dial an entry: the agent's phone "
                        "rings, then the number is called")
    x.add_argument("entry", type=int, nargs="?")
    x.add_argument("--speed", help="by speed-dial code")
    x.add_argument("--agent")
    x.add_argument("--span", type=int)
    b.set_defaults(func=cmd_book)

    h = sub.add_parser("history", parents=[common], help="an agent's calls, newest first")
    h.add_argument("--agent", help="whose (default: your key's agent)")
    h.add_argument("--limit", type=int, default=20)
    h.set_defaults(func=cmd_history)

    cu = sub.add_parser("customer", parents=[common], help="the customer's record and "
                        "contact history")
    cusub = cu.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = cusub.add_parser("show", parents=[common], help="by id or phone, with the contacts")
    x.add_argument("--id", type=int)
    x.add_argument("--phone")
    for name in ("add", "modify"):
        x = cusub.add_parser(name, parents=[common], help=f"{name} a customer")
        if name == "modify":
            x.add_argument("id", type=int)
            x.add_argument("--name")
        else:
            x.add_argument("name")
        x.add_argument("--phone")
        x.add_argument("--points", type=int)
        x.add_argument("--email")
        x.add_argument("--area")
        x.add_argument("--notes")
    x = cusub.add_parser("remove", parents=[common], help="delete a customer (supervisors)")
    x.add_argument("id", type=int)
    cu.set_defaults(func=cmd_customer)

    w = sub.add_parser("wrapup", parents=[common], help="a call's wrap-up code and note")
    w.add_argument("call", metavar="CALL")
    w.add_argument("code")
    w.add_argument("--note")
    w.set_defaults(func=cmd_wrapup)
