"""The agent's desk (issue #17): direct messages (``msg.send``, ``msg.list``,
``msg.read``), the address book and speed dial (``book.add``, ``book.list``,
``book.remove``, ``book.dial``: click-to-dial from an entry or a code), the agent's call
history (``agent.history``), the customer's record (``customer.show``, ``customer.add``,
``customer.modify``, ``customer.remove``) and the wrap-up of a call (``call.wrapup``).
The tables are the store's (cti/store/desk.py).

Rights: ``desk`` for the agent's own inbox, book, history and wrap-ups (another agent's
need ``agents``; another agent's call ``calls``); the shared book is edited with
``agents`` (a supervisor's); customers are read, added and changed with ``desk``, and
deleted with ``calls`` (a supervisor's: the record is the data of every call with the
customer).

A message goes out as the event ``msg.received`` naming its recipient (``agent``), in
the namespace ``msg.`` that no principal sees whole (cti/server/audience.py): only the
recipient's desk copy (``desk.1002.msg.received``) reaches a subscriber, so a message to
1002 never reaches 1001's desk. One sent while its recipient is logged out waits in its
inbox: ``agent.login`` is followed by ``msg.waiting`` (the count of unread messages),
and ``msg.list`` gives them, unread first.
"""
from __future__ import annotations

from cti.server.ops.common import centre
from cti.server.registry import operation
from cti.server.schema import (BOOL, ID, INT, NUM, STR, Arg, RequestError, arr, nullable,
                               obj, some)
from cti.store.desk import CONTACTS, MAX_BOOK, MAX_INBOX, MAX_MESSAGE, MAX_NOTES, SHARED

MESSAGE = obj({"id": INT, "time": NUM, "sender": STR, "recipient": STR, "text": STR,
               "read": nullable(NUM)})
ENTRY = obj({"id": INT, "name": STR, "number": STR, "notes": nullable(STR),
             "speed": nullable(STR), "shared": BOOL})
CUSTOMER = obj({"id": INT, "name": STR, "phone": nullable(STR), "points": INT,
                "email": nullable(STR), "area": nullable(STR), "notes": nullable(STR)})
CONTACT = obj({"call_id": STR, "start": NUM, "direction": STR, "agent": nullable(STR),
               "queue": nullable(STR), "outcome": STR, "billsec": NUM,
               "wrapup_code": nullable(STR), "wrapup_note": nullable(STR)})
HISTORY = obj({"call_id": STR, "start": NUM, "direction": STR, "ani": nullable(STR),
               "dnis": nullable(STR), "outcome": STR, "duration": NUM, "billsec": NUM,
               "queue": nullable(STR), "wrapup_code": nullable(STR),
               "wrapup_note": nullable(STR)})
WHO = Arg(str, max_len=64)          # the agent acted for: the principal's own by default
NAME = Arg(str, max_len=128)
NOTES = Arg(str, max_len=MAX_NOTES)
CUSTOMER_FIELDS = {"name": NAME, "phone": Arg(str, max_len=64), "points": Arg(int, lo=0),
                   "email": Arg(str, max_len=256), "area": Arg(str, max_len=64),
                   "notes": NOTES}


def _store(svc):
    if svc.store is None:
        raise RequestError("not_supported", "the desk's data is kept in the centre's store: "
                           "this server has no call centre configured", "op")
    return svc.store


def _me(svc, a) -> str:
    """The agent a request acts for: ``args.agent`` (authorize() checked the right to
    act for another), else the principal's own agent."""
    agent = a.get("agent") or svc.principal.agent
    if not agent:
        raise RequestError("bad_arg", f"{svc.principal} has no agent of its own: name one",
                           "args.agent")
    c = svc.centre
    if c is not None and agent not in c.agents:
        raise RequestError("not_found", f"no agent {agent!r} (agents: {some(c.agents)})",
                           "args.agent")
    return agent


def _stored(fn, field_of=lambda msg: None):
    """``fn()`` with the store's refusals as request errors: bad input ``bad_arg``, a
    thing not there ``not_found``, a bound reached ``failed``; each names its field."""
    def field(e):
        head = str(e).split(":", 1)[0]
        return field_of(head) or ("args." + head.split(".", 1)[-1] if "." in head else None)
    try:
        return fn()
    except LookupError as e:
        raise RequestError("not_found", str(e), field(e)) from None
    except OverflowError as e:
        raise RequestError("failed", str(e), field(e)) from None
    except ValueError as e:
        raise RequestError("bad_arg", str(e), field(e)) from None


# ---- direct messages -------------------------------------------------------------------

@operation("msg.send", rights=("desk",),
           args={"to": Arg(str, required=True, max_len=64),
                 "text": Arg(str, required=True, max_len=MAX_MESSAGE), "agent": WHO},
           result=obj({"message": MESSAGE}), events=("msg.received",))
def msg_send(svc, a):
    """Send a message to an agent: stored in its inbox, and delivered live to its desk
    as ``msg.received`` (the recipient's desk only). The sender is the principal's
    agent (or ``agent``), else the principal's name. A message takes
    :data:`~cti.store.desk.MAX_MESSAGE` characters; an inbox holds
    :data:`~cti.store.desk.MAX_INBOX` (its oldest read ones make room; full of unread
    ones, ``failed``)."""
    store = _store(svc)
    c = centre(svc)
    if a["to"] not in c.agents:
        raise RequestError("not_found", f"no agent {a['to']!r} (agents: {some(c.agents)})",
                           "args.to")
    sender = _me(svc, a) if (a["agent"] or svc.principal.agent) else svc.principal.name
    m = _stored(lambda: store.message_send(svc.ts(), sender, a["to"], a["text"]),
                lambda head: {"message.recipient": "args.to", "message.text": "args.text",
                              "message.sender": "args.agent"}.get(head))
    svc._pending.append(svc.log.append(svc.ts(), "msg.received", agent=m["recipient"],
                                       id=m["id"], sender=m["sender"], text=m["text"]))
    return {"message": m}


@operation("msg.list", rights=("desk",),
           args={"agent": WHO, "unread": Arg(bool, default=False),
                 "limit": Arg(int, default=50, lo=1, hi=MAX_INBOX)},
           result=obj({"agent": STR, "messages": arr(MESSAGE), "unread": INT}), events=())
def msg_list(svc, a):
    """An agent's inbox, unread messages first (each part newest first), and the count
    of unread ones."""
    store = _store(svc)
    agent = _me(svc, a)
    return {"agent": agent, "messages": store.messages(agent, unread=a["unread"],
                                                        limit=a["limit"]),
            "unread": store.message_unread(agent)}


@operation("msg.read", rights=("desk",), args={"id": Arg(int, required=True, lo=1),
                                                "agent": WHO},
           result=obj({"message": MESSAGE}), events=())
def msg_read(svc, a):
    """Mark a message of the agent's inbox read; returns it. Another agent's message
    is ``not_found`` (acting for that agent needs ``agents``)."""
    store = _store(svc)
    agent = _me(svc, a)
    return {"message": _stored(lambda: store.message_read(svc.ts(), agent, a["id"]),
                               lambda head: "args.id")}


def login_waiting(svc, events) -> list:
    """``msg.waiting`` (the count of unread messages) for each agent that logs in with
    some: ``events``, the centre's CTI events of a tick (Service._centre_tick)."""
    store = svc.store
    if store is None:
        return []
    last = svc.__dict__.setdefault("_desk_agent_state", {})
    out = []
    for ev in events:
        if ev.type != "agent.state":
            continue
        agent, state = ev.fields.get("agent"), ev.fields.get("state")
        before = last.get(agent, "logged_out")
        last[agent] = state
        if before == "logged_out" and state != "logged_out":
            n = store.message_unread(agent)
            if n:
                out.append(svc.log.append(svc.ts(), "msg.waiting", agent=agent, unread=n))
    return out


# ---- the address book and speed dial ---------------------------------------------------

@operation("book.add", rights=("desk",),
           args={"name": Arg(str, required=True, max_len=128),
                 "number": Arg(str, required=True, text="number"), "notes": NOTES,
                 "speed": Arg(str, max_len=3, text="digits"), "shared": Arg(bool, default=False),
                 "agent": WHO},
           result=obj({"entry": ENTRY}), events=(), audited=True)
def book_add(svc, a):
    """Add an entry (name, number, notes, a speed-dial code of 1 to 3 digits) to the
    agent's own book, or with ``shared`` to the shared one (the right ``agents``: a
    supervisor's). A book holds :data:`~cti.store.desk.MAX_BOOK` entries."""
    store = _store(svc)
    if a["shared"]:
        _may_share(svc, "book.add")
        owner = SHARED
    else:
        owner = _me(svc, a)
    return {"entry": _stored(lambda: store.book_add(owner, a["name"], a["number"],
                                                    a["notes"], a["speed"]))}


def _may_share(svc, op):
    if not svc.principal.may("agents"):
        raise RequestError("forbidden", f"{op}: the shared book is edited with the right "
                           f"'agents' ({svc.principal})", "args.shared")


@operation("book.list", rights=("desk",), args={"agent": WHO},
           result=obj({"agent": STR, "entries": arr(ENTRY)}), events=())
def book_list(svc, a):
    """The agent's book: its own entries, then the shared ones, each by name."""
    store = _store(svc)
    agent = _me(svc, a)
    return {"agent": agent, "entries": store.book(agent)}


@operation("book.remove", rights=("desk",), args={"id": Arg(int, required=True, lo=1),
                                                  "agent": WHO},
           result=obj({"entry": ENTRY}), events=(), audited=True)
def book_remove(svc, a):
    """Remove an entry of the agent's own book, or of the shared one (``agents``)."""
    store = _store(svc)
    e = store.book_entry(a["id"])
    owner = e and e.pop("owner")
    if e is None or (owner != SHARED and owner != _me(svc, a)):
        raise RequestError("not_found", f"no entry {a['id']} in the book of "
                           f"{a.get('agent') or svc.principal.agent}", "args.id")
    if owner == SHARED:
        _may_share(svc, "book.remove")
    store.book_remove(a["id"])
    return {"entry": e}


@operation("book.dial", rights=("desk",),
           args={"entry": Arg(int, lo=1), "speed": Arg(str, max_len=3, text="digits"),
                 "agent": WHO, "span": Arg(int, lo=1, hi=64)},
           result=obj({"call_id": STR, "agent": STR, "to": STR, "name": STR}),
           events=("call.originated", "call.dialling", "call.network_reached",
                   "call.established", "call.cleared"), audited=True)
def book_dial(svc, a):
    """Click-to-dial from the book: the number of entry ``entry`` (the agent's own or a
    shared one) or of speed-dial code ``speed`` (the agent's own code first, then the
    shared book's), dialled as ``call.make`` dials it (its checks included)."""
    from cti.server.ops.calls import call_make
    from cti.server.schema import check_value
    store = _store(svc)
    agent = _me(svc, a)
    if (a["entry"] is None) == (a["speed"] is None):
        raise RequestError("bad_arg", "give one of entry (a book entry's id) or speed (a "
                           "speed-dial code)", "args.entry")
    if a["entry"] is not None:
        e = store.book_entry(a["entry"])
        if e is None or e.pop("owner") not in (SHARED, agent):
            raise RequestError("not_found", f"no entry {a['entry']} in the book of {agent}",
                               "args.entry")
    else:
        e = store.speed_dial(agent, a["speed"])
        if e is None:
            raise RequestError("not_found", f"no speed-dial code {a['speed']} for {agent}",
                               "args.speed")
    to = check_value(Arg(str, required=True, text="number"), e["number"], "args.entry")
    r = call_make(svc, {"agent": agent, "to": to, "span": a["span"]})
    return dict(r, name=e["name"])


@operation("agent.history", rights=("desk",),
           args={"agent": WHO, "limit": Arg(int, default=20, lo=1, hi=500)},
           result=obj({"agent": STR, "calls": arr(HISTORY)}), events=())
def agent_history(svc, a):
    """The agent's latest calls, newest first, in and out, from the CDRs: the numbers,
    the outcome, the duration and talk time, the wrap-up code and note."""
    store = _store(svc)
    agent = _me(svc, a)
    keys = HISTORY["properties"]
    return {"agent": agent, "calls": [{k: r.get(k) for k in keys}
                                      for r in store.agent_history(agent, a["limit"])]}


# ---- the customer's record -------------------------------------------------------------

def _customer_field(head):
    return "args." + head.split(".", 1)[1] if head.startswith("customer.") else None


@operation("customer.show", rights=("desk",),
           args={"id": Arg(int, lo=1), "phone": Arg(str, max_len=64),
                 "contacts": Arg(int, default=CONTACTS, lo=0, hi=100)},
           result=obj({"customer": nullable(CUSTOMER), "contacts": arr(CONTACT)}), events=())
def customer_show(svc, a):
    """A customer's record, by ``id`` or by ``phone``, and its contact history: the
    last ``contacts`` calls with its number, in and out, with their outcome and wrap-up
    (a number with no record: its calls alone)."""
    store = _store(svc)
    if (a["id"] is None) == (a["phone"] is None):
        raise RequestError("bad_arg", "give one of id or phone", "args.id")
    if a["id"] is not None:
        cust = store.customer(a["id"])
        if cust is None:
            raise RequestError("not_found", f"no customer {a['id']}", "args.id")
        phone = cust["phone"]
    else:
        phone = a["phone"]
        cust = store.customer_by_phone(phone) if phone else None
    contacts = store.contact_history(phone, a["contacts"]) if phone and a["contacts"] else []
    return {"customer": cust, "contacts": contacts}


@operation("customer.add", rights=("desk",),
           args=dict(CUSTOMER_FIELDS, name=Arg(str, required=True, max_len=128)),
           result=obj({"customer": CUSTOMER}), events=(), audited=True)
def customer_add(svc, a):
    """Add a customer's record (its id is the store's)."""
    store = _store(svc)
    rec = {k: v for k, v in a.items() if v is not None}
    return {"customer": _stored(lambda: store.customer_add(rec), _customer_field)}


@operation("customer.modify", rights=("desk",),
           args=dict(CUSTOMER_FIELDS, id=Arg(int, required=True, lo=1)),
           result=obj({"customer": CUSTOMER}), events=(), audited=True)
def customer_modify(svc, a):
    """Change the fields given of a customer's record (the others stay)."""
    store = _store(svc)
    changes = {k: v for k, v in a.items() if k != "id" and v is not None}
    if not changes:
        raise RequestError("bad_arg", f"nothing to change: give one of "
                           f"{', '.join(CUSTOMER_FIELDS)}", "args")
    return {"customer": _stored(lambda: store.customer_modify(a["id"], changes),
                                _customer_field)}


@operation("customer.remove", rights=("calls",), args={"id": Arg(int, required=True, lo=1)},
           result=obj({"customer": CUSTOMER}), events=(), audited=True)
def customer_remove(svc, a):
    """Delete a customer's record (a supervisor's: the right ``calls``); refused while
    orders name it. Its calls' CDRs stay."""
    store = _store(svc)
    return {"customer": _stored(lambda: store.customer_remove(a["id"]), _customer_field)}


# ---- wrap-up ---------------------------------------------------------------------------

@operation("call.wrapup", rights=("desk",),
           args={"call": ID, "code": Arg(str, required=True, max_len=64), "note": NOTES},
           result=obj({"call_id": STR, "code": STR, "note": nullable(STR)}), events=(),
           audited=True)
def call_wrapup(svc, a):
    """The wrap-up of a call the agent took, once it has ended: a code from the
    configured list (``[centre] wrapup_codes``) and a free-text note, on the call's CDR
    (and in the caller's contact history). Another agent's call needs ``calls``."""
    store = _store(svc)
    c = centre(svc)
    codes = c.config.wrapup_codes
    if a["code"] not in codes:
        raise RequestError("bad_arg", f"{a['code']!r} is not a wrap-up code (codes: "
                           f"{', '.join(codes)})", "args.code")
    if a["call"] in c.calls:
        raise RequestError("failed", f"call {a['call']} is in progress: wrap it up when it "
                           "has ended", "args.call")
    p = svc.principal
    agent = None if p.may("calls") else p.agent
    if agent is None and not p.may("calls"):
        raise RequestError("forbidden", f"call.wrapup: {p} has no agent", "args.call")
    return _stored(lambda: store.set_cdr_wrapup_code(a["call"], agent, a["code"], a["note"]),
                   lambda head: {"cdr.wrapup_note": "args.note",
                                 "cdr.wrapup_code": "args.code"}.get(head, "args.call"))


__all__ = ["MAX_BOOK", "login_waiting"]
