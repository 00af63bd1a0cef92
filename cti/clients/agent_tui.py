"""``cti agent``: the terminal agent desktop.

``cti agent --agent 1001 --extension 201 [--home DIR]`` logs the agent in, shows its
state and the queues it serves, shows a SCREEN POP when a call is delivered to its
extension (the caller's ANI, the DNIS, the queue, the customer record found by ANI and
the call's attached data) and takes commands, one a line::

    ready                      agent.ready
    notready [REASON]          agent.not_ready
    dnd [off]                  agent.dnd
    forward [AGENT|queue:Q]    agent.forward      (nothing: stop forwarding)
    answer                     call.answer        (the call ringing here)
    hangup                     call.hangup        (the consultation call, else the call)
    dial NUMBER                call.make          (the agent's phone rings first)
    transfer EXT [KEY=VALUE..] call.transfer      (blind, with attached data)
    consult EXT / complete     call.consult / call.transfer_complete
    hold / retrieve            call.hold / call.retrieve
    record [stop]              call.record
    pickup [CALL]              call.pickup        (a call ringing a colleague)
    monitor|whisper|barge CALL call.supervise     (a supervisor's key)
    logout                     agent.logout
    status, help, quit         (quit logs out first)

On a terminal it is a full-screen prompt_toolkit application
(:mod:`cti.clients.agent_screen`: the events in a pane of their own, a status line, a
command line with history and completion); on a pipe, or with ``--plain``, it reads lines
from stdin and prints lines (scripts).

Two layers, after the sans-I/O rule: :class:`AgentDesktop` is the logic (events in ->
screen lines out; command lines in -> :class:`Request` objects out; replies in -> lines
out), with no terminal, socket or clock; :func:`run_desktop` is the asyncio shell over
:class:`cti.clients.client.AsyncEventStream` and :class:`cti.clients.client.AsyncRequester`, which fill
event gaps and resynchronise from a snapshot (the desktop rebuilds its state from it).
Call control requests are never retried by the library: a lost reply is shown, not
repeated.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Request", "AgentDesktop", "run_desktop", "add_parser", "main", "HELP"]

HELP = """commands:
  ready                        take calls
  notready [REASON]            stop taking calls (break, lunch, ...)
  dnd [off]                    do not disturb: no queue calls, no transfers (off: ready)
  forward [AGENT|queue:NAME]   forward the calls transferred to you (nothing: stop)
  answer                       answer the call ringing at your extension
  hangup                       hang up (the consultation call first, if any)
  dial NUMBER                  call a number: your phone rings, then the number is called
  transfer EXT [KEY=VALUE ...] blind transfer to an agent or a queue, with data
  consult AGENT                call AGENT, the caller on hold; then `complete` or `hangup`
  complete [KEY=VALUE ...]     complete the consultative transfer
  hold / retrieve              put the call on hold / take it back
  record [stop]                record the call (stop: stop recording)
  pickup [CALL]                take a call ringing a colleague's phone
  monitor|whisper|barge CALL   supervise a colleague's call (your phone rings)
  logout                       log out
  status                       your state and call
  quit                         log out and leave"""

#: what the command line completes (the first word)
COMMANDS = ("ready", "notready", "dnd", "forward", "answer", "hangup", "dial", "transfer",
            "consult", "complete", "hold", "retrieve", "record", "pickup", "monitor",
            "whisper", "barge", "conference", "logout", "status", "help", "quit")
_COMMANDS = COMMANDS + ("not_ready", "exit")
#: commands whose first argument is an agent, and those whose is a call
_AGENT_ARG = ("transfer", "consult", "forward")
_CALL_ARG = ("pickup", "monitor", "whisper", "barge", "conference")


@dataclass(frozen=True)
class Request:
    """A request for the server: ``op`` and ``args`` (docs/protocol.md)."""

    op: str
    args: dict = field(default_factory=dict)


def _get(ev: dict, key: str) -> Any:
    """A field of an event: top level first, else inside ``data`` for the fields that
    name the event (bus events put their specifics in ``data``)."""
    if key in ev:
        return ev[key]
    d = ev.get("data")
    if isinstance(d, dict) and key in ("agent", "state", "reason", "extension", "queues",
                                       "call_id", "call", "to", "cause", "consult"):
        return d.get(key)
    return None


def _call_id(ev: dict) -> Any:
    cid = _get(ev, "call_id")
    return cid if cid is not None else _get(ev, "call")


def _same(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a) == str(b)


def _text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_text(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "; ".join(_text(x) for x in v)
    return str(v)


_ORDER_KEYS = ("id", "order", "order_id", "date", "item", "items", "product", "amount",
               "total", "status")


def _order_text(o: Any) -> str:
    if not isinstance(o, dict):
        return _text(o)
    known = [_text(o[k]) for k in _ORDER_KEYS if k in o and o[k] not in (None, "")]
    rest = [f"{k}={_text(v)}" for k, v in o.items() if k not in _ORDER_KEYS]
    return " ".join(known + rest)


def _pairs(words: list[str]) -> tuple[dict, str | None]:
    """``KEY=VALUE`` words -> (attached data, None), or ({}, the error line)."""
    data = {}
    for kv in words:
        if "=" not in kv or kv.startswith("="):
            return {}, f"! {kv!r}: attached data is KEY=VALUE"
        k, v = kv.split("=", 1)
        data[k] = v
    return data, None


def _state_word(state: Any, reason: Any = None) -> str:
    word = str(state or "unknown").replace("_", " ").upper()
    return f"{word} ({reason})" if reason else word


@dataclass
class _Call:
    id: Any
    state: str                      # ringing, talking, held
    ani: str | None = None
    dnis: str | None = None
    queue: str | None = None
    customer: str | None = None     # the screen pop's customer name
    data: dict = field(default_factory=dict)   # the call's attached data


class AgentDesktop:
    """The desktop's logic for agent ``agent`` at extension ``extension``.

    * :meth:`event` (topic, event dict) and :meth:`resync` (a snapshot) -> screen lines;
    * :meth:`command` (a line typed) -> (requests to send, screen lines);
    * :meth:`reply` (a request and its result or error) -> screen lines.

    It follows ``agent.<ID>`` and ``call.`` events (:attr:`topics`) and keeps the
    agent's state, its queues and the call at its extension (plus a consultation call).

    The class is about 420 lines and kept whole: one command per desk function, each a few
    lines from a typed line to a request, beside the event handling that updates the same
    state; the terminal is elsewhere (agent_screen.py).
    """

    def __init__(self, agent: str, extension: str, password: str | None = None):
        self.agent, self.extension = agent, extension
        self.state: str | None = None
        self.reason: str | None = None
        self.queues: list[str] = []
        self.logged_in = False
        self.call: _Call | None = None
        self.consult: Any = None       # the consultation call's id
        self.done = False              # quit was typed
        self.password = password       # an agent logging itself in with its key gives it
        self.agents: set[str] = set()  # agents seen (snapshot, events): for completion
        self.elsewhere: dict[Any, str] = {}   # calls ringing colleagues' phones -> agent
        self.recording = False

    @property
    def topics(self) -> list[str]:
        return [f"agent.{self.agent}", "call."]

    # requests -------------------------------------------------------------------------
    def login(self) -> Request:
        ext = int(self.extension) if str(self.extension).isdigit() else self.extension
        args = {"agent": self.agent, "extension": ext}
        if self.password is not None:
            args["password"] = self.password
        return Request("agent.login", args)

    def command(self, line: str) -> tuple[list[Request], list[str]]:
        words = line.split()
        if not words:
            return [], []
        cmd, rest = words[0].lower(), words[1:]
        me = {"agent": self.agent}
        if cmd == "help":
            return [], HELP.splitlines()
        if cmd == "status":
            return [], self.status_lines()
        if cmd in ("quit", "exit"):
            self.done = True
            return ([Request("agent.logout", me)] if self.logged_in else []), ["bye"]
        if cmd == "ready":
            return [Request("agent.ready", me)], []
        if cmd in ("notready", "not_ready"):
            args = dict(me)
            if rest:
                args["reason"] = " ".join(rest)
            return [Request("agent.not_ready", args)], []
        if cmd == "logout":
            return [Request("agent.logout", me)], []
        if cmd == "dnd":
            off = bool(rest) and rest[0].lower() in ("off", "no", "0")
            return [Request("agent.dnd", dict(me, on=not off))], []
        if cmd == "forward":
            return [Request("agent.forward", dict(me, to=rest[0] if rest else ""))], []
        if cmd == "dial":
            number = "".join(rest)
            if not number:
                return [], ["! usage: dial NUMBER"]
            return [Request("call.make", dict(me, to=number))], []
        if cmd == "pickup":
            if rest:
                cid = rest[0]
            elif len(self.elsewhere) == 1:
                cid = next(iter(self.elsewhere))
            else:
                rings = ", ".join(str(c) for c in self.elsewhere) or "none seen"
                return [], [f"! usage: pickup CALL (ringing colleagues: {rings})"]
            return [Request("call.pickup", {"call": cid, "agent": self.agent})], []
        if cmd in ("monitor", "whisper", "barge", "conference"):
            if len(rest) != 1:
                return [], [f"! usage: {cmd} CALL"]
            return [Request("call.supervise", {"call": rest[0], "supervisor": self.agent,
                                               "mode": cmd})], []
        if cmd == "answer":
            if self.call is None or self.call.state != "ringing":
                return [], ["! no call is ringing at your extension"]
            # the asking agent's phone, not the first that rings (ring-all)
            return [Request("call.answer", {"call": self.call.id, "agent": self.agent})], []
        if cmd in ("hangup", "hold", "retrieve", "complete", "transfer", "consult", "record"):
            if self.call is None:
                return [], ["! no call at your extension"]
            cid = self.call.id
            if cmd == "hangup":
                return [Request("call.hangup",
                                {"call": self.consult if self.consult is not None else cid})], []
            if cmd in ("hold", "retrieve"):
                return [Request(f"call.{cmd}", {"call": cid})], []
            if cmd == "record":
                off = bool(rest) and rest[0].lower() in ("stop", "off")
                return [Request("call.record", {"call": cid, "on": not off})], []
            if cmd == "complete":
                if self.consult is None:
                    return [], ["! no consultation call: `consult EXT` first"]
                data, bad = _pairs(rest)
                if bad:
                    return [], [bad]
                args = {"call": cid}
                if data:
                    args["data"] = data
                return [Request("call.transfer_complete", args)], []
            if cmd == "consult":
                if len(rest) != 1:
                    return [], ["! usage: consult EXT"]
                return [Request("call.consult", {"call": cid, "to": rest[0]})], []
            # transfer EXT [key=value ...]
            if not rest:
                return [], ["! usage: transfer EXT [KEY=VALUE ...]"]
            data, bad = _pairs(rest[1:])
            if bad:
                return [], [bad]
            return [Request("call.transfer", {"call": cid, "to": rest[0], "data": data})], []
        return [], [f"! unknown command {cmd!r} (type help)"]

    def reply(self, req: Request, result: dict | None = None,
              error: Exception | str | None = None) -> list[str]:
        """What the server said to ``req``: ``result``, or ``error`` (a CtiError)."""
        if error is not None:
            if req.op == "agent.login":
                return [f"! login failed: {error}"]
            return [f"! {req.op}: {error}"]
        result = result or {}
        lines = []
        if req.op == "agent.login":
            self.logged_in = True
            self._agent_fields(result)
            lines.append(f"logged in: agent {self.agent} at extension {self.extension}")
            lines.append(self.status_line())
        elif req.op == "agent.logout":
            self.logged_in = False
            self.state = result.get("state", "logged_out")
            lines.append("logged out")
        elif req.op == "call.consult":
            cid = result.get("consult", result.get("consult_call"))
            if cid is None and not _same(result.get("call"), self.call and self.call.id):
                cid = result.get("call")
            self.consult = cid
            lines.append(f"consulting {req.args.get('to')} (call {cid}); the caller is on hold:"
                         " `complete` to transfer, `hangup` to drop the consultation")
        elif req.op == "call.transfer":
            lines.append(f"transferring call {req.args['call']} to {req.args['to']}")
        elif req.op == "call.make":
            lines.append(f"dialling {result.get('to')} (call {result.get('call_id')}): "
                         "your phone rings first")
        elif req.op == "call.pickup":
            self.elsewhere.pop(req.args["call"], None)
            lines.append(f"picked up call {req.args['call']}: your phone rings")
        elif req.op == "call.supervise":
            lines.append(f"{result.get('mode')} on call {req.args['call']}"
                         + (": your phone rings" if result.get("ringing") else ""))
        elif req.op == "call.record":
            self.recording = bool(result.get("recording"))
            lines.append(f"call {req.args['call']}: "
                         + ("recording" if self.recording else "recording stopped"))
        elif req.op == "agent.forward":
            lines.append(f"your calls are forwarded to {result['forward']}"
                         if result.get("forward") else "your calls are not forwarded")
        elif req.op in ("agent.dnd", "agent.ready", "agent.not_ready"):
            self._agent_fields(result)
            lines.append(self.status_line())
        return lines

    # events -----------------------------------------------------------------------------
    def _agent_fields(self, d: dict) -> None:
        if d.get("state") is not None:
            self.state = d["state"]
            self.reason = d.get("reason")
        qs = d.get("queues", d.get("queue"))
        if isinstance(qs, str):
            qs = [qs]
        if isinstance(qs, (list, tuple)):
            self.queues = [q if isinstance(q, str) else str(q.get("name", q))
                           if isinstance(q, dict) else str(q) for q in qs]

    def _ours(self, ev: dict) -> bool:
        cid = _call_id(ev)
        return (_same(_get(ev, "agent"), self.agent)
                or _same(_get(ev, "extension"), self.extension)
                or (self.call is not None and _same(cid, self.call.id))
                or _same(cid, self.consult))

    def event(self, topic: str, ev: dict) -> list[str]:
        kind = ev.get("type") or topic
        who = _get(ev, "agent")
        if who is not None:
            self.agents.add(str(who))
        cid = _call_id(ev)
        if kind == "call.delivered" and who is not None and not _same(who, self.agent):
            self.elsewhere[cid] = str(who)          # a colleague's phone rings: pickup
        elif kind.startswith("call.") and cid in self.elsewhere and kind != "call.delivered":
            self.elsewhere.pop(cid, None)           # answered, picked up or gone
        if topic.startswith("agent.") or kind.startswith("agent."):
            if not _same(_get(ev, "agent"), self.agent):
                return []     # agent.10010 matches the prefix agent.1001
            fields = {k: _get(ev, k) for k in ("state", "reason", "queues")}
            if ev.get("queue") is not None and fields["queues"] is None:
                fields["queues"] = ev["queue"]
            self._agent_fields({k: v for k, v in fields.items() if v is not None})
            if str(self.state).lower() in ("logged_out", "loggedout", "logged out"):
                self.logged_in = False
            elif self.state is not None:
                self.logged_in = True
            return [self.status_line()]
        if not kind.startswith("call.") or not self._ours(ev):
            return []
        cid = _call_id(ev)
        name = kind.split(".", 1)[1]
        is_consult = _same(cid, self.consult)
        if name in ("delivered", "offered", "alerting") and not is_consult:
            if _get(ev, "agent") is not None and not _same(_get(ev, "agent"), self.agent):
                return []     # it rings another agent (ring-all, a consultation from us)
            cust = ev.get("customer")
            self.call = _Call(cid, "ringing", _get(ev, "ani"), _get(ev, "dnis"),
                              _get(ev, "queue"),
                              cust.get("name") if isinstance(cust, dict) else None,
                              dict(ev["data"]) if isinstance(ev.get("data"), dict) else {})
            self.recording = False
            return self.screen_pop(ev)
        if name == "picked_up":
            by = ev.get("by")
            if self.call is not None and _same(cid, self.call.id) and not _same(by, self.agent):
                self.call = None                           # a colleague took it
                return [f"call {cid}: picked up by agent {by}"]
            return []
        if name in ("established", "answered", "connected"):
            if is_consult:
                return [f"consultation call {cid}: connected to {_get(ev, 'to') or 'the party'}"]
            who = _get(ev, "agent")
            if who is not None and not _same(who, self.agent) and self.call is not None \
                    and self.call.state == "ringing" and _same(cid, self.call.id):
                self.call = None                           # ring-all: a colleague answered
                return [f"call {cid}: answered by agent {who}"]
            if self.call is not None:
                self.call.state = "talking"
            return [f"call {cid}: connected (talking)"]
        if name == "held" and self.call is not None and _same(cid, self.call.id):
            self.call.state = "held"
            return [f"call {cid}: on hold"]
        if name == "retrieved" and self.call is not None and _same(cid, self.call.id):
            self.call.state = "talking"
            return [f"call {cid}: retrieved (talking)"]
        if name == "transferred":
            to = _get(ev, "to")
            to_us = _same(to, self.agent) or _same(to, self.extension)
            if self.call is not None and _same(cid, self.call.id) and not to_us:
                self.call, self.consult = None, None      # it left us
                return [f"call {cid}: transferred to {to}"]
            if to_us and _get(ev, "consultative"):
                # a consultative transfer completed: the call is ours now, under its own id
                self.call = _Call(cid, "talking", _get(ev, "ani"), _get(ev, "dnis"),
                                  _get(ev, "queue"))
                self.consult = None
            return [f"call {cid}: transferred to you"]
        if name == "consult_ended":
            if _same(_get(ev, "to"), self.agent) and self.call is not None and \
                    _same(self.call.id, f"{cid}.consult"):
                self.call = None                           # the consultation we were in
                return [f"consultation call {cid}.consult: ended"]
            if self.consult is not None and _same(self.consult, f"{cid}.consult"):
                self.consult = None
                return [f"consultation call {cid}.consult: ended; the caller is still held"]
            return []
        if name in ("cleared", "connection_cleared", "failed"):
            cause = _get(ev, "cause")
            why = f" (cause {cause})" if cause is not None else ""
            if is_consult:
                self.consult = None
                return [f"consultation call {cid}: cleared{why}"]
            if self.call is not None and _same(cid, self.call.id):
                self.call, self.consult = None, None
            return [f"call {cid}: cleared{why}"]
        return []

    def screen_pop(self, ev: dict) -> list[str]:
        cid = _call_id(ev)
        ani, dnis, queue = _get(ev, "ani"), _get(ev, "dnis"), _get(ev, "queue")
        head = f"call {cid} from {ani or 'unknown'} to {dnis or '?'}"
        if queue:
            head += f" (queue {queue})"
        lines = ["*" * 24 + " SCREEN POP " + "*" * 24, head]
        cust = ev.get("customer")
        data = ev.get("data") if isinstance(ev.get("data"), dict) else {}
        if isinstance(cust, dict) and cust:
            parts = [f"customer: {cust.get('name') or '(no name)'}"]
            if cust.get("phone"):
                parts.append(f"phone {cust['phone']}")
            if cust.get("points") is not None:
                parts.append(f"points {_text(cust['points'])}")
            lines.append("   ".join(parts))
            extra = {k: v for k, v in cust.items()
                     if k not in ("name", "phone", "points", "orders", "recent_orders")}
            if extra:
                lines.append(f"  {_text(extra)}")
        else:
            lines.append(f"customer: not found for {ani or 'unknown ANI'}")
        orders = None
        for src in (cust if isinstance(cust, dict) else {}, data):
            for key in ("orders", "recent_orders"):
                if orders is None and src.get(key):
                    orders = src[key]
        if orders:
            lines.append("recent orders:")
            for o in (orders if isinstance(orders, list) else [orders])[:5]:
                lines.append(f"  - {_order_text(o)}")
        shown = {k: v for k, v in data.items() if k not in ("orders", "recent_orders")}
        if shown:
            lines.append("data: " + "  ".join(f"{k}={_text(v)}" for k, v in shown.items()))
        lines.append("(type `answer`)")
        lines.append("*" * 60)
        return lines

    def resync(self, snapshot: dict) -> list[str]:
        """Rebuild from a snapshot (after a restart or events lost for good)."""
        agents = snapshot.get("agents")
        me = None
        if isinstance(agents, dict):
            me = agents.get(self.agent) or agents.get(str(self.agent))
        elif isinstance(agents, list):
            me = next((a for a in agents if isinstance(a, dict)
                       and _same(a.get("agent", a.get("id")), self.agent)), None)
        for a in agents.values() if isinstance(agents, dict) else agents or ():
            if isinstance(a, dict) and a.get("agent", a.get("id")) is not None:
                self.agents.add(str(a.get("agent", a.get("id"))))
        serves = [q.get("queue") for q in snapshot.get("queues") or ()
                  if isinstance(q, dict) and any(
                      isinstance(a, dict) and _same(a.get("agent"), self.agent)
                      for a in q.get("agents") or ())]
        if serves and me is not None and not me.get("queues"):
            me = dict(me, queues=serves)     # the queues the agent serves, from theirs
        if me is not None:
            self._agent_fields(me)
            st = str(self.state).lower()
            self.logged_in = self.state is not None and st not in ("logged_out", "logged out")
        elif agents is not None:
            self.state, self.logged_in = "logged_out", False
        self.call, self.consult = None, None
        for c in snapshot.get("calls") or []:
            if not isinstance(c, dict):
                continue
            if _same(c.get("agent"), self.agent) or _same(c.get("extension"), self.extension):
                st = str(c.get("state", "talking")).lower()
                st = "ringing" if st in ("delivered", "alerting", "ringing") else \
                    "held" if st == "held" else "talking"
                self.call = _Call(_call_id(c), st, c.get("ani"), c.get("dnis"), c.get("queue"),
                                  data=dict(c["data"]) if isinstance(c.get("data"), dict)
                                  else {})
        return ["(state resynchronised from the server)"] + self.status_lines()

    # the screen -----------------------------------------------------------------------
    def status_line(self) -> str:
        queues = ", ".join(self.queues) if self.queues else "none"
        state = _state_word(self.state if self.logged_in or self.state else "logged_out",
                            self.reason)
        return f"[agent {self.agent} @ {self.extension}] {state}   queues: {queues}"

    def status_bar(self) -> list[str]:
        """The desktop's status line: the agent, and the call with its caller and the
        screen pop's data (the prompt_toolkit shell shows it under the events)."""
        top = self.status_line()
        c = self.call
        if c is None:
            return [top, "no call"]
        who = c.ani or "unknown"
        if c.customer:
            who += f" ({c.customer})"
        call = f"call {c.id} {c.state.upper()} from {who}" + \
            (f" queue {c.queue}" if c.queue else "") + (" REC" if self.recording else "")
        if self.consult is not None:
            call += f"   consulting: {self.consult}"
        if c.data:
            call += "   " + "  ".join(f"{k}={_text(v)}" for k, v in c.data.items()
                                      if k not in ("orders", "recent_orders"))
        return [top, call]

    def completions(self, before: str) -> list[str]:
        """What may follow ``before`` (the text left of the cursor) in the word being
        typed: commands first, then agent numbers or call ids as the command takes."""
        words = before.split()
        word = "" if before.endswith(" ") or not words else words[-1]
        done = words if before.endswith(" ") else words[:-1]
        if not done:
            options = list(COMMANDS)
        elif len(done) == 1 and done[0].lower() in _AGENT_ARG:
            options = sorted(self.agents - {str(self.agent)})
        elif len(done) == 1 and done[0].lower() in _CALL_ARG:
            options = [str(c) for c in self.elsewhere]
            if done[0].lower() != "pickup":
                options += [c for c in self.calls_seen if c not in options]
        elif len(done) == 1 and done[0].lower() == "dnd":
            options = ["off"]
        elif len(done) == 1 and done[0].lower() == "record":
            options = ["stop"]
        else:
            options = []
        return [o for o in options if o.startswith(word)]

    @property
    def calls_seen(self) -> list[str]:
        """Calls a supervisor may join: those ringing colleagues and the own call."""
        out = [str(c) for c in self.elsewhere]
        if self.call is not None:
            out.append(str(self.call.id))
        return out

    def status_lines(self) -> list[str]:
        lines = [self.status_line()]
        if self.call is not None:
            c = self.call
            lines.append(f"call {c.id}: {c.state}, from {c.ani or 'unknown'} to {c.dnis or '?'}"
                         + (f" (queue {c.queue})" if c.queue else ""))
        if self.consult is not None:
            lines.append(f"consultation call {self.consult}")
        return lines


# --- the shell ------------------------------------------------------------------------

async def _stdin_lines(queue: asyncio.Queue) -> None:
    """Read stdin in a daemon thread (it may block for ever) into ``queue``; EOF: None."""
    loop = asyncio.get_running_loop()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, daemon=True, name="cti-agent-stdin").start()


async def run_desktop(desk: AgentDesktop, stream, requester, lines: asyncio.Queue,
                      out: Callable[[str], None]) -> int:
    """Drive ``desk``: items from ``stream`` (an AsyncEventStream), command lines from
    ``lines`` (None ends), requests through ``requester`` (an AsyncRequester); screen
    lines to ``out``. Returns the exit status (1 when the login is refused)."""
    from cti.clients.client import CtiError, Disconnected, Reconnected, Resync

    async def send(req: Request) -> None:
        try:
            res = await requester.call(req.op, req.args)
        except CtiError as e:
            for line in desk.reply(req, error=e):
                out(line)
            if req.op == "agent.login":
                raise
            return
        for line in desk.reply(req, result=res):
            out(line)

    async def events() -> None:
        while True:
            item = await stream.get()
            if item is None:
                continue
            if isinstance(item, Resync):
                show = desk.resync(item.snapshot)
                if item.reason == "start":
                    show = show[1:]
            elif isinstance(item, Disconnected):
                show = [f"!! the server does not answer ({item.reason}); waiting for it"]
            elif isinstance(item, Reconnected):
                show = ["!! the server is back" + (" (restarted)" if item.restarted else "")]
            else:
                show = desk.event(item.topic, item.event)
            for line in show:
                out(line)

    out(f"cti agent: agent {desk.agent}, extension {desk.extension} (type help)")
    try:
        await send(desk.login())
    except CtiError:
        return 1
    task = asyncio.create_task(events())
    try:
        while not desk.done:
            getter = asyncio.create_task(lines.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                getter.cancel()
                task.result()        # raises what stopped it
                return 1
            line = getter.result()
            if line is None:
                line = "quit"
            reqs, show = desk.command(line)
            for s in show:
                out(s)
            for r in reqs:
                await send(r)
        return 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _main_async(args) -> int:
    from cti.clients.client import AsyncEventStream, AsyncRequester

    password = None
    if getattr(args, "ask_password", False) or getattr(args, "password_stdin", False):
        from cti.clients.cli.admin import read_secret
        password = read_secret("password", args.password_stdin, confirm=False)
    desk = AgentDesktop(args.agent, args.extension, password)
    timeout = getattr(args, "timeout", 5.0)
    stream = AsyncEventStream(args.home, desk.topics, timeout=timeout,
                              key=getattr(args, "key", None))
    requester = AsyncRequester(args.home, timeout=timeout, key=getattr(args, "key", None))
    try:
        if not getattr(args, "plain", False) and sys.stdin.isatty() and sys.stdout.isatty():
            from cti.clients.agent_screen import run_screen
            return await run_screen(desk, stream, requester)
        # not a terminal (a script, a pipe): one line in, lines out
        lines: asyncio.Queue = asyncio.Queue()
        await _stdin_lines(lines)

        def out(line: str) -> None:
            print(line, flush=True)
        return await run_desktop(desk, stream, requester, lines, out)
    finally:
        requester.close()
        stream.close()


def run(args) -> int:
    """``cti agent`` with parsed ``args`` (``agent``, ``extension``, ``home``, ``timeout``)."""
    if getattr(args, "home", None) is None:
        args.home = os.environ.get("CTI_HOME") or "var"
    try:
        return asyncio.run(_main_async(args))
    except KeyboardInterrupt:
        return 130


def add_parser(sub, parents=()) -> argparse.ArgumentParser:
    """Add ``agent`` to the subcommands of ``cti`` (``sub``: its add_subparsers())."""
    p = sub.add_parser("agent", parents=list(parents), help="a terminal agent desktop",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--agent", required=True, metavar="ID", help="the agent's ID")
    p.add_argument("--extension", required=True, metavar="N",
                   help="the extension (phone) the agent sits at")
    p.add_argument("--ask-password", action="store_true",
                   help="ask for the agent's password (an agent's key logs in with it)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.add_argument("--plain", action="store_true",
                   help="one line in, lines out, even on a terminal (the default when "
                        "standard input or output is not a terminal)")
    p.set_defaults(func=run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Stand-alone: ``python -m cti.clients.agent_tui --agent ID --extension N [--home DIR]``."""
    p = argparse.ArgumentParser(prog="cti agent", description="a terminal agent desktop")
    p.add_argument("--agent", required=True, metavar="ID")
    p.add_argument("--extension", required=True, metavar="N")
    p.add_argument("--home", default=None)
    p.add_argument("--timeout", type=float, default=5.0)
    return run(p.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
