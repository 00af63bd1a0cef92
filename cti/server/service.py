"""The board server, ``cti serve``: one process owns the board(s) and the tick loop.

Two layers, after the sans-I/O rule of ARCHITECTURE.md:

* :class:`Service` is the core. It holds the board (or the simulated world around it),
  the :class:`~cti.server.bus.EventLog`, and answers requests: ``handle(raw_bytes)`` returns
  the reply dict, or None for a request that completes later (``channel.listen``, which
  collects line time); ``tick()`` moves the board one tick and returns the events to
  publish and the deferred replies that completed. It reads no socket and no clock:
  the board tick is its only clock, and ``ts`` is ``wall_start`` (given once by the
  shell) plus the board's line time.
* :func:`serve` is the shell: asyncio with a ZeroMQ ROUTER for requests
  (``{id, op, args}`` -> ``{id, ok, result|error}``) and a PUB for events, and the
  real-time tick loop (one tick per ``tick_ms`` of wall clock divided by ``--speed``,
  catching up when late; deadlines are computed from the start, so it never drifts).

The ops, their arguments and results are in docs/protocol.md.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import gc
import json
import logging
import math
import os
import re
import signal
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cti.server.bus import PUB_HWM, EventLog, Published, Publisher, ReplayGap
from cti.centre import media
from cti.server.config import MAX_SPANS, Config
from cti.store.report import FXO_TRUNKS, IVR_SPAN
from cti.server.tickstats import ServerStats
from drivers.board import Audio, Board, DFrame, DFrameSent, SpanAlarm
from drivers.numbers import (DIGITS, DTMF_DIGITS, IA5_DIGITS, NumberError, check_digits,
                             parse_number)
from drivers.sig.pri import ChannelsRestarted, DChannelDown, DChannelUp

__all__ = ["RequestError", "Service", "serve", "run", "PROTOCOL_VERSION"]

log = logging.getLogger("cti.server")

PROTOCOL_VERSION = 1
MAX_LISTEN_SECONDS = 60.0
MAX_LISTENS = 16             # channel.listen/tone captures at once (each holds its audio)
LISTEN_GRACE = 0.5           # line s past a listen's end before it answers with what it has
MAX_REQUEST_BYTES = 1 << 20
MAX_MESSAGE = 2000         # characters of an error message (the list of ops is the longest)
CATCH_UP_BATCH = 50          # ticks run before the loop lets requests in again
REQUEST_BUDGET = 0.004       # s of each tick's interval that requests may take, at most
MIN_REQUEST_SLICE = 0.001    # s for requests even when the ticks are behind (at speed)
READ_PER_SERVE = 4           # requests read from the socket per request served: a flood
                             # fills the pending queue, and what is over it gets busy

#: Requests that change what agents and calls do, written to the log when done (who, what)
AUDITED_OPS = frozenset({
    "agent.login", "agent.logout", "agent.ready", "agent.not_ready", "agent.dnd",
    "agent.forward", "call.hangup", "call.transfer", "call.supervise", "call.pickup",
    "call.record", "call.consult", "call.transfer_complete", "call.make", "shutdown",
    "server.speed", "sim.fault", "span.block", "span.unblock", "span.loopback",
    "campaign.create", "campaign.load", "campaign.start", "campaign.pause", "campaign.stop",
    "dnc.add", "dnc.remove"})


class RequestError(Exception):
    """A request that cannot be done; becomes ``{ok: false, error: {...}}``.

    ``code``: bad_request (not JSON, missing id/op), unknown_op, bad_arg, not_found,
    not_supported, replay_gap, failed (the board refused), busy (the server is at a
    bound: requests waiting, listens, reports; send again later), internal.
    ``field``: the request field at fault (``op``, ``args.span``), when there is one.
    """

    def __init__(self, code: str, message: str, field: str | None = None, rid: Any = None):
        self.code, self.message, self.field = code, message, field
        self.rid = rid
        super().__init__(message)

    def to_dict(self) -> dict:
        msg = self.message
        if len(msg) > MAX_MESSAGE:      # a backstop: messages cut what they repeat
            msg = msg[:MAX_MESSAGE - 3] + "..."
        d = {"code": self.code, "message": msg}
        if self.field:
            d["field"] = self.field
        return d


# --- argument checking --------------------------------------------------------------

_MISSING = object()

MAX_STR = 256            # characters of a string argument unless its Arg says otherwise
MAX_ITEMS = 1000         # items of an array argument unless its Arg says otherwise
MAX_DEPTH = 4            # nesting of free data (attached data, rules)
MAX_NODES = 256          # values in one free-data argument
MAX_INT = 2 ** 63 - 1    # what SQLite stores
SHOWN = 40               # characters of a value an error message repeats


@dataclass(frozen=True)
class Arg:
    """One argument of an op: its JSON type, and what the layer it reaches accepts.

    ``max_len``: characters of a string (default :data:`MAX_STR`), items of an array
    (default :data:`MAX_ITEMS`), keys of an object. ``text``: the content a string must
    have where it reaches a stack: ``"number"`` (a telephone number, replaced by its
    normal form, drivers/numbers.py), ``"ia5"`` (Q.931 number digits 0-9 * #, as given),
    ``"dtmf"`` (Q.23 keys 0-9 * # A-D), ``"digits"`` (ASCII 0-9). ``items``: the Arg of
    every array item. ``fields``: the Args of an object with a fixed set of keys; without
    it an object is free data (JSON values, at most :data:`MAX_DEPTH` deep and
    :data:`MAX_NODES` values).
    """

    kind: type | tuple
    required: bool = False
    default: Any = None
    choices: tuple | None = None
    lo: float | None = None
    hi: float | None = None
    max_len: int | None = None
    text: str | None = None
    items: "Arg | None" = None
    fields: "dict[str, Arg] | None" = None


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "an array", dict: "an object"}


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def _shown(v: Any) -> str:
    """``repr(v)`` cut to :data:`SHOWN` characters: an error never echoes a huge value."""
    if isinstance(v, (list, dict)):
        return f"{_jtype(v)} of {len(v)} {'items' if isinstance(v, list) else 'keys'}"
    r = repr(v)
    return r if len(r) <= SHOWN else r[:SHOWN - 3] + "..."


def _text_problem(v: str) -> str | None:
    """Why a string cannot be stored or shown as text: lone surrogates (not Unicode that
    UTF-8 or SQLite take) and control characters."""
    for c in v:
        o = ord(c)
        if 0xD800 <= o <= 0xDFFF:
            return "is not valid Unicode (a lone surrogate)"
        if o < 0x20 and c != "\t" or o == 0x7F:
            return f"has a control character (U+{o:04X})"
    return None


def _check_data(v: Any, f: str, depth: int, count: list) -> None:
    """Free data (attached data, rules): JSON values, bounded in depth and size."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise RequestError("bad_arg", f"more than {MAX_NODES} values", f)
    if v is None or isinstance(v, bool):
        return
    if isinstance(v, int):
        if abs(v) > MAX_INT:
            raise RequestError("bad_arg", "integer out of range (64 bits)", f)
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise RequestError("bad_arg", f"must be a finite number, not {v!r}", f)
        return
    if isinstance(v, str):
        if len(v) > 1024:
            raise RequestError("bad_arg", f"string of {len(v)} characters: at most 1024", f)
        why = _text_problem(v)
        if why:
            raise RequestError("bad_arg", f"string {why}", f)
        return
    if not isinstance(v, (list, dict)):
        raise RequestError("bad_arg", f"must be JSON data, not {_jtype(v)}", f)
    if depth >= MAX_DEPTH:
        raise RequestError("bad_arg", f"nested more than {MAX_DEPTH} deep", f)
    if isinstance(v, list):
        for i, x in enumerate(v):
            _check_data(x, f"{f}[{i}]", depth + 1, count)
        return
    for k, x in v.items():
        if not isinstance(k, str) or len(k) > 64 or _text_problem(k):
            raise RequestError("bad_arg", f"key {_shown(k)}: keys are text of at most 64 "
                               "characters", f)
        _check_data(x, f"{f}.{k}", depth + 1, count)


def check_value(a: Arg, v: Any, f: str) -> Any:
    """``v`` checked against ``a`` (its normal form for ``text="number"``); a
    :class:`RequestError` naming field ``f`` otherwise."""
    if a.kind is object:
        return v                # checked by the handler (campaign.load's rows, one by one)
    kinds = a.kind if isinstance(a.kind, tuple) else (a.kind,)
    if float in kinds and int not in kinds:
        kinds = kinds + (int,)
    if isinstance(v, bool) and bool not in kinds or not isinstance(v, kinds):
        want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds if k is not int
                           or float not in kinds)
        got = _shown(v) if isinstance(v, (list, dict)) else f"{_jtype(v)} {_shown(v)}"
        raise RequestError("bad_arg", f"must be {want}, not {got}", f)
    if isinstance(v, float) and not math.isfinite(v):
        raise RequestError("bad_arg", f"must be a finite number, not {v!r}", f)
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
        raise RequestError("bad_arg", "integer out of range (64 bits)", f)
    if isinstance(v, str):
        limit = a.max_len or MAX_STR
        if len(v) > limit:
            raise RequestError("bad_arg", f"{len(v)} characters: at most {limit}", f)
        why = _text_problem(v)
        if why:
            raise RequestError("bad_arg", f"{_shown(v)} {why}", f)
        try:
            if a.text and v == "" and not a.required:
                pass            # an optional number left empty: none (sim.call from="")
            elif a.text == "ia5":
                v = check_digits(v, IA5_DIGITS, what="a number (IA5 digits 0-9 * #, Q.931 "
                                 "4.5.8)", max_len=limit)
            elif a.text == "number":
                v = parse_number(v, what="a number")
            elif a.text == "dtmf":
                v = check_digits(v, DTMF_DIGITS, what="DTMF digits (0-9 * # A-D)",
                                 max_len=limit)
            elif a.text == "digits":
                v = check_digits(v, DIGITS, what="digits (0-9)", max_len=limit)
        except NumberError as e:
            raise RequestError("bad_arg", str(e), f) from None
    if a.choices is not None and v not in a.choices:
        raise RequestError("bad_arg", f"{_shown(v)} is not one of "
                           f"{', '.join(map(str, a.choices))}", f)
    if isinstance(v, (int, float)) and (a.lo is not None and v < a.lo or
                                        a.hi is not None and v > a.hi):
        if a.hi is None:
            raise RequestError("bad_arg", f"{v!r} is too small: the least is {a.lo:g}", f)
        raise RequestError("bad_arg", f"{_shown(v)} is out of range {a.lo:g}..{a.hi:g}", f)
    if isinstance(v, list):
        limit = a.max_len or MAX_ITEMS
        if len(v) > limit:
            raise RequestError("bad_arg", f"{len(v)} items: at most {limit}", f)
        if a.items is not None:
            v = [check_value(a.items, x, f"{f}[{i}]") for i, x in enumerate(v)]
        else:
            _check_data(v, f, 0, [0])
    elif isinstance(v, dict):
        if a.fields is not None:
            v = check_args(None, a.fields, v, f)
        else:
            if a.max_len is not None and len(v) > a.max_len:
                raise RequestError("bad_arg", f"{len(v)} keys: at most {a.max_len}", f)
            _check_data(v, f, 0, [0])
    return v


def _key(k: Any) -> str:
    k = str(k)
    return k if len(k) <= SHOWN else k[:SHOWN - 3] + "..."


def _subject(op: str | None) -> str:
    """The field an op acts on, to name when a stack refuses it: its last required
    argument (``args.call`` of pri.answer, ``args.agent`` of agent.ready), or ``op``."""
    spec = OPS.get(op) if op else None
    names = [n for n, a in (spec or {}).items() if a.required]
    return f"args.{names[-1]}" if names else "op"


def check_args(op: str | None, spec: dict[str, Arg], args: Any, prefix: str = "args") -> dict:
    """Check ``args`` against ``spec``: every error names ``args.<name>``."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise RequestError("bad_arg", f"{prefix} must be an object, not {_jtype(args)}", prefix)
    for k in args:
        if k not in spec:
            known = ", ".join(spec) or "none"
            where = f"for {op}" if op else "here"
            raise RequestError("bad_arg", f"unknown argument {where} (known: {known})",
                               f"{prefix}.{_key(k)}")
    out = {}
    for name, a in spec.items():
        f = f"{prefix}.{name}"
        if name not in args or args[name] is None:
            if a.required:
                raise RequestError("bad_arg", f"missing: {op or prefix} needs {name}", f)
            out[name] = a.default
            continue
        out[name] = check_value(a, args[name], f)
    return out


SPAN = Arg(int, required=True, lo=1, hi=MAX_SPANS)
CALL = Arg(int, required=True, lo=0)
ID = Arg(str, required=True, max_len=64)        # agent ids, call ids, queue and campaign names
AGENT = ID
CAUSE = Arg(int, default=16, lo=1, hi=127)     # Q.850 cause value
CHANNEL = Arg(str, required=True, max_len=16)
REASON = Arg(str, max_len=128)
LOOPBACK_MODES = ("off", "local", "line", "payload")
DIRECTIONS = ("both", "to_board", "to_exchange", "to-board", "to-exchange")
DATA = Arg(dict)                               # attached data: free JSON, bounded
MAX_RECORDS = 100_000                          # rows of one campaign.load
MAX_REPORT_INTERVALS = 5000                    # rows of one report.losses
MAX_REFUSED_SHOWN = 100                        # refused rows a campaign.load reply lists

#: A campaign row (cti/store/sqlite.py add_campaign_records): the number dialled, a name and
#: data shown to the agent.
RECORD = {"number": Arg(str, required=True, text="number"), "name": Arg(str, max_len=128),
          "data": DATA}

OPS: dict[str, dict[str, Arg]] = {
    "ping": {},
    "snapshot": {},
    "replay": {"after": Arg(int, required=True, lo=0),
               "topics": Arg(list, max_len=64, items=Arg(str, max_len=128))},
    "board.list": {},
    "board.show": {},
    "span.show": {"span": SPAN},
    "span.alarms": {"span": SPAN},
    "span.counters": {"span": SPAN, "reset": Arg(bool, default=False)},
    "span.loopback": {"span": SPAN, "mode": Arg(str, required=True, choices=LOOPBACK_MODES)},
    "span.block": {"span": SPAN, "timeslot": Arg(int, lo=1, hi=31)},
    "span.unblock": {"span": SPAN, "timeslot": Arg(int, lo=1, hi=31)},
    "span.r2trace": {"span": SPAN, "call": Arg(int, lo=0)},
    "span.bert": {"span": SPAN,
                  "action": Arg(str, default="status", choices=("start", "stop", "status"))},
    "channel.show": {"channel": CHANNEL},
    "channel.tone": {"channel": CHANNEL,
                     "freq": Arg(float, lo=0, hi=4000),
                     "dtmf": Arg(str, max_len=64, text="dtmf"),
                     "tone": Arg(str, choices=("dial", "ringback", "busy", "congestion")),
                     "capture": Arg(bool, default=False),
                     "freq2": Arg(float, default=0, lo=0, hi=4000),
                     "level": Arg(float, default=-10, lo=-60, hi=3),
                     "ms": Arg(int, default=1000, lo=1, hi=600_000)},
    "channel.listen": {"channel": CHANNEL,
                       "direction": Arg(str, default="rx", choices=("rx", "tx")),
                       "seconds": Arg(float, default=1.0, lo=0.001, hi=MAX_LISTEN_SECONDS)},
    "sim.fault": {"span": SPAN,
                  "los": Arg(bool), "ais": Arg(bool), "lof": Arg(bool),
                  "ber": Arg(float, lo=0, hi=0.5),
                  "code_errors": Arg(float, lo=0, hi=0.5),
                  "slip_ppm": Arg(float, lo=-1000, hi=1000),
                  "clear": Arg(bool, default=False),
                  "direction": Arg(str, choices=DIRECTIONS)},
    "sim.loopback": {"span": SPAN,
                     "mode": Arg(str, required=True, choices=("line", "payload", "off"))},
    "sim.stats": {"span": SPAN},
    # the simulated exchange sends what a network may send (Q.931 IA5 digits), checked
    # by the stacks it reaches, not normalised
    "sim.call": {"span": SPAN, "from": Arg(str, default="", max_len=32, text="ia5"),
                 "to": Arg(str, required=True, max_len=32, text="ia5"),
                 "overlap": Arg(bool, default=False),
                 "hangup_after": Arg(float, lo=0, hi=86_400)},
    "sim.hangup": {"span": SPAN, "call": CALL, "cause": CAUSE},
    "sim.calls": {},
    "sim.traffic": {"profile": Arg(str, default="steady",
                                   choices=("steady", "tv_peak", "peak", "stop")),
                    "rate": Arg(float, default=20.0, lo=0, hi=100_000),
                    "peak": Arg(float, default=300.0, lo=0, hi=100_000),
                    "seconds": Arg(float, default=120.0, lo=1, hi=86_400),
                    "seed": Arg(int, default=1, lo=0), "agents_login": Arg(bool, default=True)},
    "sim.dtmf": {"channel": CHANNEL, "digits": Arg(str, required=True, max_len=64, text="dtmf")},
    "sim.phone": {"port": Arg(int, required=True, lo=1, hi=4096),
                  "action": Arg(str, required=True,
                                choices=("lift", "hangup", "flash", "dial", "status")),
                  "digits": Arg(str, max_len=64, text="dtmf")},
    "pri.list": {},
    "pri.place": {"span": SPAN, "to": Arg(str, required=True, max_len=20, text="ia5"),
                  "from": Arg(str, default="", max_len=20, text="ia5"),
                  "timeslot": Arg(int, lo=1, hi=31)},
    "pri.answer": {"span": SPAN, "call": CALL},
    "pri.reject": {"span": SPAN, "call": CALL, "cause": Arg(int, default=21, lo=1, hi=127)},
    "pri.hangup": {"span": SPAN, "call": CALL, "cause": CAUSE},
    "agent.login": {"agent": AGENT, "extension": Arg(int, lo=1, hi=4096)},
    "agent.logout": {"agent": AGENT},
    "agent.ready": {"agent": AGENT},
    "agent.not_ready": {"agent": AGENT, "reason": Arg(str, default="", max_len=128)},
    "agent.show": {"agent": AGENT},
    "agent.list": {},
    "queue.show": {"queue": ID},
    "queue.list": {},
    "call.list": {},
    "call.show": {"call": ID},
    "call.hangup": {"call": ID},
    "call.transfer": {"call": ID, "to": ID, "data": DATA},
    "call.hold": {"call": ID},
    "call.retrieve": {"call": ID},
    "call.supervise": {"call": ID, "supervisor": AGENT,
                       "mode": Arg(str, default="monitor",
                                   choices=("monitor", "whisper", "barge", "conference"))},
    "call.consult": {"call": ID, "to": AGENT},
    "call.transfer_complete": {"call": ID, "data": DATA},
    "call.answer": {"call": ID, "agent": Arg(str, max_len=64)},
    "call.pickup": {"call": ID, "agent": AGENT},
    "call.record": {"call": ID, "on": Arg(bool, default=True)},
    "agent.dnd": {"agent": AGENT, "on": Arg(bool, default=True)},
    "agent.forward": {"agent": AGENT, "to": Arg(str, default="", max_len=70)},
    "call.make": {"agent": AGENT, "to": Arg(str, required=True, text="number"),
                  "span": Arg(int, lo=1, hi=64)},
    "campaign.create": {"campaign": ID,
                        "mode": Arg(str, default="progressive", choices=("preview", "progressive")),
                        "agents": Arg(list, max_len=10_000, items=Arg(str, max_len=64)),
                        "rules": Arg(dict),
                        "no_answer_timeout": Arg(float, lo=1, hi=600),
                        "agent_answer_timeout": Arg(float, lo=1, hi=600)},
    # rows are checked one by one in the handler: a bad row is refused with its index,
    # the others load
    "campaign.load": {"campaign": ID, "records": Arg(list, required=True, max_len=MAX_RECORDS,
                                                     items=Arg(object))},
    "campaign.start": {"campaign": ID},
    "campaign.pause": {"campaign": ID},
    "campaign.stop": {"campaign": ID},
    "campaign.show": {"campaign": ID},
    "campaign.list": {},
    "campaign.next": {"campaign": ID, "agent": AGENT},
    "campaign.dial": {"agent": AGENT},
    "campaign.skip": {"agent": AGENT},
    "dnc.add": {"number": Arg(str, required=True, text="number"), "reason": REASON},
    "dnc.remove": {"number": Arg(str, required=True, text="number")},
    "dnc.list": {},
    "report.losses": {"start": Arg(float, lo=0, hi=1e11), "end": Arg(float, lo=0, hi=1e11),
                      "interval": Arg(float, default=3600.0, lo=1, hi=86_400 * 31),
                      "sla": Arg(float, default=20.0, lo=0, hi=3600),
                      "blocking": Arg(float, default=0.01, lo=1e-6, hi=0.5),
                      "service_level": Arg(float, default=0.8, lo=0.01, hi=0.999),
                      "shrinkage": Arg(float, default=0.0, lo=0, hi=0.9),
                      "max_abandon": Arg(float, lo=1e-4, hi=0.999)},
    "trace.start": {"span": SPAN, "seconds": Arg(float, default=60.0, lo=0.02, hi=86_400)},
    "trace.stop": {"span": SPAN},
    "server.speed": {"speed": Arg(float, required=True, lo=0.01, hi=1000)},
    "server.stats": {},
    "shutdown": {},
}


# --- the core -------------------------------------------------------------------------

class RawJSON:
    """A value already encoded as JSON, spliced into the reply as it is (:func:`encode`)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


def encode(reply: dict) -> bytes:
    """A reply as the bytes that go out, with any :class:`RawJSON` spliced in unparsed."""
    raws: list[bytes] = []

    def raw(o):
        if isinstance(o, RawJSON):
            raws.append(o.data)
            return f"\x00raw{len(raws) - 1}\x00"
        raise TypeError(f"{type(o).__name__} is not JSON-able")
    text = json.dumps(reply, default=raw).encode()
    for i, data in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{i}\x00").encode(), data, 1)
    return text


def _jsonable(v: Any) -> Any:
    """Make board results JSON-able: dataclasses, tuples, bytes (base64), enums."""
    t = type(v)
    if t is str or t is int or t is bool or v is None:     # most of what events carry
        return v
    if t is RawJSON:
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _jsonable(dataclasses.asdict(v))
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "value") and hasattr(v, "name") and not isinstance(v, (int, str)):
        return _jsonable(v.value)  # enum
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


@dataclass
class _Listen:
    """A ``channel.listen`` in progress: collects the tapped audio of ``frames`` samples."""

    token: Any
    rid: Any
    key: tuple
    channel: str
    law: str
    frames: int
    until: float = math.inf     # line time: answer with what came, even if short
    buf: bytearray = field(default_factory=bytearray)
    extra: dict = field(default_factory=dict)     # more of the reply (channel.tone capture)
    ticks: int = 0                                # ticks it has waited
    had: int = 0                                  # len(buf) a tick ago


class Service:
    """The board server's core: ops and the tick, without sockets or clocks.

    ``world`` is a :class:`simulators.world.SimWorld` (its ``board`` is ours and its
    cables take faults) or None with ``board`` a real board. ``wall_start`` is the wall
    clock at line time zero, for ``ts``; ``store_synchronous`` the store's SQLite
    ``synchronous`` (FULL; a simulation run faster than real time may take NORMAL).
    """

    def __init__(self, config: Config, world=None, board=None, wall_start: float = 0.0,
                 store_synchronous: str = "FULL"):
        if world is None and board is None:
            raise ValueError("Service needs a world or a board")
        self.config = config
        self.world = world
        self.board = world.board if world is not None else board
        self.log = EventLog(config.server.replay_ring)
        self.wall_start = wall_start
        self.instance = uuid.uuid4().hex[:12]
        self.stopping = False
        self.store_synchronous = store_synchronous
        self._listens: list[_Listen] = []
        self._taps: dict[tuple, int] = {}
        # failures outside the centre's calls (a line event, a listen, a trace, a request,
        # the store's commit): counted, logged, and told as server.error events, which
        # go out with the next tick
        self.errors = 0
        self._pending: list[Published] = []
        self.stats = ServerStats()   # the shell measures the tick; ops read it
        self.raw_replies = False     # the shell encodes replies with encode(): RawJSON allowed
        self.sent_seq: int | None = None   # the shell's last event sent (None: all are)
        # the shell's report worker: (args, token, rid) -> None, or None to run inline
        self.reports: Callable[[dict, Any, Any], None] | None = None
        self._tick0 = self.board.tick_count
        # PRI spans: the world runs ours; a real board gets the user side attached here
        if world is not None:
            self.pri = dict(world.pri)
            self.r2 = dict(getattr(world, "r2", {}) or {})
        else:
            from drivers.sig import pri, r2span
            self.pri = pri.attach(self.board, "user")
            self.r2 = r2span.attach(self.board, "cn")
        # the trunks back to idle: the exchange may hold calls of a run that stopped
        from cti.server.recovery import LineRestart
        self.line_restart = LineRestart(self.pri, self.r2, self.board.line_seconds)
        self._traces: dict[int, float] = {}       # span -> line time the trace ends
        # the frames a span sends come up from the board only while it is traced
        for span in self.board.spans.values():
            span.report_sent_dframes(False)
        self.centre = None
        self.store = None
        self.campaigns = None
        self.boot = None            # cti.server.recovery.Boot: this run's name and boot count
        self.live = None            # cti.server.recovery.LiveCalls
        self.recovery = None        # what the start closed and restored
        self._recovered: list = []  # its CTI events, out with the first tick
        self.traffic = None
        self.speed = 1.0
        if config.centre is not None:
            self._build_centre(config)
        self._stops: list[tuple[float, Callable[[], None]]] = []   # tones to stop, in line time

    def _build_centre(self, config: Config) -> None:
        """The call centre on this board: analog signalling on the ports, the store,
        the prompts (made with espeak-ng/sox the first time), IVR, ACD."""
        from cti.centre.coordinator import Centre
        from cti.centre.prompts import PromptLibrary, make_default_prompts
        from cti.store.sqlite import Store
        from drivers.sig import analog

        cc = config.centre
        home = config.server.home
        os.makedirs(home, exist_ok=True)
        # (a simulation faster than real time may pass NORMAL: see cti.store.sqlite's docstring)
        self.store = Store(os.path.join(home, "cti.db"), synchronous=self.store_synchronous)
        if not os.path.isdir(cc.prompts_dir) or not os.listdir(cc.prompts_dir):
            make_default_prompts(cc.prompts_dir)
        elif os.path.realpath(cc.prompts_dir).startswith(os.path.realpath(home) + os.sep):
            # inside the home: what is missing (a newer prompt, one deleted) is made, as
            # the configuration check at load counted on (cti/server/config.py _KnownPrompts)
            make_default_prompts(cc.prompts_dir)
        prompts = PromptLibrary(cc.prompts_dir)
        if cc.survey_queues and "survey" not in prompts:
            make_default_prompts(cc.prompts_dir, names=["survey"])   # a newer prompt
        ports = analog.attach(self.board)
        self.analog = ports
        from cti.server import recovery
        sim = config.sim if self.world is not None else None
        self.boot = recovery.start(self.store, self.wall_start,
                                   seed=None if sim is None else sim.seed)
        self.centre = Centre(self.board, cc, pri=self.pri, r2=self.r2, analog_ports=ports,
                             store=self.store,
                             prompts=prompts, epoch=self.wall_start - self.board.line_seconds,
                             call_ids=self.boot.call_ids)
        # what the last run left open: its calls' CDRs, its agents (before the first tick)
        evs, self.recovery = recovery.recover(self.store, self.centre, self.board.line_seconds,
                                              self.boot)
        self._recovered = evs
        self.live = recovery.LiveCalls(self.store, self.centre)
        from cti.centre.campaigns import Campaigns
        self.campaigns = Campaigns(self.centre, self.store, self.centre.epoch, cc.callbacks)
        self._trunk_busy: dict[int | str, tuple[int, int]] = {}
        self._trunk_sig: list | None = None
        self._fxo_trunks = self.centre.fxo_trunks_busy()[1] > 0
        self._exchange_seen = (0, 0)
        self._exchange_calls = getattr(self.world, "calls", None) if self.world is not None \
            else None

    def _sample_trunks(self) -> None:
        """Occupancy for the loss report, the server's own, a sample whenever a count
        changes: busy B-channels per PRI span, busy circuits per R2 span (every one not
        idle: in a call, clearing or blocked), busy FXO trunk lines (the group
        ``"fxo"``, counted as a span), and busy IVR ports (span label "ivr" in
        the same table: ports in use of those configured), from which the report gives
        per-span and IVR occupancy, all-busy time and Erlang B; and, on the simulated
        exchange, what only it sees: calls offered and those that found every channel busy."""
        counts = self._trunk_counts()
        if counts != self._trunk_sig:
            # (on most ticks no count changed and nothing more is done)
            self._trunk_sig = counts
            changed = []
            seen = self._trunk_busy
            for label, busy, total in counts:
                now = (busy, total)
                if seen.get(label) != now:
                    seen[label] = now
                    changed.append((label, busy, total))
            self.store.trunk_samples_add(self.ts(), changed)
        calls = self._exchange_calls
        if calls is not None:
            seen = (calls.stats.offered, calls.stats.congested)
            if seen != self._exchange_seen:
                d_off = seen[0] - self._exchange_seen[0]
                d_cong = seen[1] - self._exchange_seen[1]
                self._exchange_seen = seen
                self.store.exchange_count(self.ts(), 0, d_off, d_cong)

    def _trunk_counts(self) -> list[tuple[int | str, int, int]]:
        """(label, busy, total) of every PRI and R2 span, the FXO lines and the IVR ports."""
        counts: list[tuple[int | str, int, int]] = [
            (n, pri.q931.busy_count(), len(pri.q931.channels)) for n, pri in self.pri.items()]
        for n, r2span in self.r2.items():
            total = len(r2span.channels)
            counts.append((n, total - len(r2span.free_timeslots()), total))
        if self._fxo_trunks:
            counts.append((FXO_TRUNKS, *self.centre.fxo_trunks_busy()))
        ports = getattr(self.centre, "ivr_ports", None)
        if ports is not None:
            counts.append((IVR_SPAN, ports.in_use, ports.count))
        return counts

    # time -----------------------------------------------------------------------------
    @property
    def line_time(self) -> float:
        """Seconds of line time since the server started (the board clock)."""
        return (self.board.tick_count - self._tick0) * self.board.tick_ms / 1000.0

    def ts(self) -> float:
        return self.wall_start + self.line_time

    def start_clock(self, wall: float) -> None:
        """Line time zero is ``wall`` on the wall clock: the shell calls this as its first
        tick is due, so ``ts`` is not behind by the start-up (building the centre, making
        prompts) at real-time speed."""
        shift = wall - self.wall_start
        self.wall_start = wall
        if self.centre is not None:
            self.centre.epoch += shift
            self.campaigns.epoch += shift

    # names ----------------------------------------------------------------------------
    def port_name(self, number: int) -> str:
        port = self.board.ports.get(number)
        return port.name if port is not None else f"port/{number}"

    def resolve_channel(self, name: str, field_: str = "args.channel"):
        """``"1/5"`` -> ('span', Span, Channel); ``"fxs/3"`` -> ('port', Port, None)."""
        if "/" not in name:
            raise RequestError("bad_arg", f"{name!r} is not a channel: use SPAN/TIMESLOT "
                               "(1/5) or fxs/N, fxo/N", field_)
        a, b = name.split("/", 1)
        try:
            n = int(b)
        except ValueError:
            raise RequestError("bad_arg", f"{name!r}: {b!r} is not a number", field_) from None
        if a in ("fxs", "fxo", "port"):
            port = self.board.ports.get(n)
            if port is None or (a != "port" and port.kind != a):
                raise RequestError("not_found", f"no port {name} on board {self.board.name} "
                                   f"(ports: {self._ports_text()})", field_)
            return "port", port, None
        try:
            s = int(a)
        except ValueError:
            raise RequestError("bad_arg", f"{name!r}: {a!r} is neither a span number nor "
                               "fxs/fxo", field_) from None
        span = self.board.spans.get(s)
        if span is None:
            raise RequestError("not_found", f"no span {s} on board {self.board.name} "
                               f"(spans: {self._spans_text()})", field_)
        ch = span.channels.get(n)
        if ch is None:
            raise RequestError("not_found", f"span {s} has no channel {n} (timeslots: "
                               f"{_ranges(sorted(span.channels))})", field_)
        return "span", span, ch

    def _spans_text(self) -> str:
        return ", ".join(map(str, sorted(self.board.spans))) or "none"

    def _ports_text(self) -> str:
        return ", ".join(self.port_name(n) for n in sorted(self.board.ports)) or "none"

    def get_span(self, number: int):
        span = self.board.spans.get(number)
        if span is None:
            raise RequestError("not_found", f"no span {number} on board {self.board.name} "
                               f"(spans: {self._spans_text()})", "args.span")
        return span

    # events ---------------------------------------------------------------------------
    def to_bus(self, ev) -> Published | None:
        """Turn one board event into a bus event (None for audio, which goes to listens)."""
        topic = getattr(ev, "topic", None) or f"board.{type(ev).__name__.lower()}"
        try:
            d = dict(ev.to_dict())
        except Exception:
            d = dataclasses.asdict(ev) if dataclasses.is_dataclass(ev) else {}
        for k in ("topic", "type", "seq", "ts", "tick"):
            d.pop(k, None)
        span = d.pop("span", None)
        channel = d.pop("channel", None)
        ts_ = d.pop("timeslot", None)
        port = d.pop("port", None)
        if channel is None:
            if port is not None:
                channel = self.port_name(port)
            elif span == 0 and ts_ is not None:
                channel = self.port_name(ts_)
            elif span is not None and ts_ is not None:
                channel = f"{span}/{ts_}"
            elif span and topic.startswith("channel.dframe"):
                channel = f"{span}/16"  # the D-channel
        if span == 0:
            span = None
        return self.log.append(self.ts(), topic, span=span, channel=channel,
                               data=_jsonable(d) if d else None)

    def _server_error(self, where: str, exc: BaseException, level: int = logging.ERROR,
                      **fields) -> None:
        """A failure outside any one call: logged with its traceback, counted, and a
        ``server.error`` event (the place, the exception's type and message) goes out."""
        log.log(level, "%s: %s: %s", where, type(exc).__name__, exc,
                exc_info=(type(exc), exc, exc.__traceback__))
        self.errors += 1
        try:
            self._pending.append(self.log.append(
                self.ts(), "server.error", "server.error", where=where,
                error=type(exc).__name__, message=str(exc)[:200], **fields))
        except Exception:  # pragma: no cover - the log line above is what is left
            pass

    def _log_line_event(self, ev) -> None:
        """What an operator's log keeps of the line: alarms, D-channels, restarts."""
        if isinstance(ev, SpanAlarm):
            if ev.raised:
                log.warning("span %s: alarm %s raised (now %s)", ev.span, ",".join(ev.raised),
                            ",".join(ev.alarms))
            if ev.cleared:
                log.info("span %s: alarm %s cleared (now %s)", ev.span, ",".join(ev.cleared),
                         ",".join(ev.alarms) or "none")
        elif isinstance(ev, DChannelUp):
            log.info("span %s: D-channel up%s", ev.span,
                     " (re-established)" if ev.reestablished else "")
        elif isinstance(ev, DChannelDown):
            log.warning("span %s: D-channel down: %s", ev.span, ev.reason)
        elif isinstance(ev, ChannelsRestarted):
            log.info("span %s: %s restarted %s", ev.span,
                     "the exchange" if ev.remote else "we",
                     ",".join(map(str, ev.timeslots)) or "the whole interface")

    def tick(self) -> tuple[list[Published], list[tuple[Any, dict]]]:
        """One board tick: the events to publish and the deferred replies now done.

        Only the board itself may end the tick with an exception (the board gone: the
        shell stops). Anything else that fails is caught where it happens: a call by the
        centre (cleared, cause 41), a line event, listen, trace or tone stop here; each is
        logged with its traceback and told as a ``server.error`` event. A failed commit of
        the store (the disk, the database) is logged CRITICAL and told the same way; the
        tick's events still go out (the calls did happen on the line) and the server goes
        on. The rows of a failed commit go with the next commit while SQLite keeps the
        transaction open (a busy database); after a rollback (a full disk, an I/O error)
        they are lost, and the log line says which."""
        events = self.world.tick() if self.world is not None else self.board.tick()
        out, self._pending = self._pending, []
        if self.line_restart.pending:
            try:
                self.line_restart.tick(self.board.line_seconds)
            except Exception as exc:
                self._server_error("line.restart", exc)
        if self.centre is not None:
            # the store is written inside handle(), in one transaction per tick that
            # commits before tick() returns, so before any of these events goes out
            ran = False
            try:
                with self.store.batch():
                    ran = True
                    self._centre_tick(events, out)
            except Exception as exc:
                conn = getattr(getattr(self.store, "db", None), "conn", None)
                kept = conn is not None and conn.in_transaction
                self._server_error("store.commit" if ran else "store.begin", exc,
                                   logging.CRITICAL,
                                   rows="kept for the next commit" if kept else "rolled back")
                if not ran:
                    # no transaction: the centre still sees its tick (each write commits
                    # alone), or its calls would miss the line's events
                    self._centre_tick(events, out)
        for ev in events:
            try:
                self._board_event(ev, out)
            except Exception as exc:
                self._server_error(f"line.{type(ev).__name__}", exc)
        if self._recovered:
            # what the start closed of the last run (committed before the first tick)
            out += [self.log.append(self.ts(), ev.type, ev.topic, **ev.fields)
                    for ev in self._recovered]
            self._recovered = []
        for span, until in list(self._traces.items()):
            if self.line_time >= until:
                try:
                    self._trace_off(span)
                except Exception as exc:
                    self._server_error("trace.stop", exc, span=span)
                    self._traces.pop(span, None)
                out.append(self.log.append(self.ts(), "trace.end", span=span, data=None))
        done = []
        for lst in list(self._listens):
            # a tapped channel gives audio every tick; none (past the first ticks) means
            # its tap went with the call that held it (ended); a listen past its time and
            # grace (cti LISTEN_GRACE) answers too: with what came, never not at all
            lst.ticks += 1
            ended = lst.ticks > 2 and len(lst.buf) == lst.had
            lst.had = len(lst.buf)
            complete = len(lst.buf) >= lst.frames
            if complete or ended or self.line_time >= lst.until:
                audio = bytes(lst.buf[:lst.frames])
                self._listens.remove(lst)
                try:
                    self._untap(lst.key)
                    done.append((lst.token, self._reply(lst.rid, dict(lst.extra, **{
                        "channel": lst.channel, "law": lst.law, "rate": 8000,
                        "seconds": len(audio) / 8000, "direction": lst.key[2],
                        "complete": complete, "ended": ended and not complete,
                        "audio": base64.b64encode(audio).decode(),
                    }))))
                except Exception as exc:
                    self._server_error("listen", exc, channel=lst.channel)
                    done.append((lst.token, self._error(lst.rid, RequestError(
                        "internal", f"{type(exc).__name__}: {exc}"))))
        for when, stop in list(self._stops):
            if self.line_time >= when:
                self._stops.remove((when, stop))
                try:
                    stop()
                except Exception as exc:
                    self._server_error("tone.stop", exc)
        out += self._pending
        self._pending = []
        return out, done

    def _centre_tick(self, events: list, out: list) -> None:
        """The centre's part of a tick, inside the store's transaction."""
        now = self.board.line_seconds
        try:
            cti_events = self.centre.handle(now, events)
        except Exception as exc:     # past the centre's own catching of each call's
            self._server_error("centre", exc)
            cti_events = []
        try:
            # the dialer learns the calls' progress from them (its rows first, too)
            cti_events += self.campaigns.handle(now, cti_events)
        except Exception as exc:
            self._server_error("campaigns", exc)
        for ev in cti_events:
            pub = self.log.append(self.ts(), ev.type, ev.topic, **ev.fields)
            out.append(pub)
            if self.traffic is not None:
                try:
                    self.traffic.on_cti_event(pub.event)
                except Exception as exc:
                    self._server_error("traffic", exc)
        try:
            self._sample_trunks()
        except Exception as exc:
            self._server_error("trunk_samples", exc)
        try:
            self.live.track(self.ts(), cti_events)   # the calls in flight, for a restart
        except Exception as exc:
            self._server_error("live_calls", exc)
        if self.traffic is not None:
            try:
                self.traffic.tick(now)
            except Exception as exc:
                self._server_error("traffic", exc)

    def _board_event(self, ev, out: list) -> None:
        """One board event for the bus (a D-channel frame only while traced, audio only
        to the listens)."""
        if isinstance(ev, (DFrame, DFrameSent)):
            # D-channel frames go out only while someone traces the span
            if ev.span in self._traces:
                out.append(self.log.append(self.ts(), "trace.lapd", span=ev.span,
                                           channel=f"{ev.span}/16", data={
                    "dir": "tx" if isinstance(ev, DFrameSent) else "rx",
                    "network_side": self._network_side(ev.span),
                    "frame": base64.b64encode(ev.data).decode()}))
            return
        if isinstance(ev, Audio):
            # span 0: timeslot is the port
            key = (ev.span, ev.timeslot, "tx" if ev.sent else "rx")
            for lst in self._listens:
                if lst.key == key:
                    lst.buf += ev.data
            return
        self._log_line_event(ev)
        pub = self.to_bus(ev)
        if pub is not None:
            out.append(pub)

    def _tap_target(self, key: tuple):
        span, chan = key[:2]
        if span == 0:
            return self.board.ports[chan]
        return self.board.spans[span].channels[chan]

    def _retap(self, key: tuple) -> None:
        """Set the channel's taps to what the listens on it need (rx, tx or both)."""
        span, chan = key[:2]
        rx = self._taps.get((span, chan, "rx"), 0) > 0
        tx = self._taps.get((span, chan, "tx"), 0) > 0
        if self.centre is not None and self.centre.records_on(span, chan):
            rx = tx = True       # the centre's recording keeps both sides through a listen
        try:
            self._tap_target(key).tap(rx or tx, "both" if rx and tx else "tx" if tx else "rx")
        except Exception:  # pragma: no cover - best effort on the way out
            pass

    def _tap(self, key: tuple) -> None:
        self._taps[key] = self._taps.get(key, 0) + 1
        self._retap(key)

    def _untap(self, key: tuple) -> None:
        n = self._taps.get(key, 0) - 1
        if n <= 0:
            self._taps.pop(key, None)
        else:
            self._taps[key] = n
        self._retap(key)

    # requests -------------------------------------------------------------------------
    @staticmethod
    def _reply(rid, result: dict) -> dict:
        return {"id": rid, "ok": True, "result": result}

    @staticmethod
    def _error(rid, err: RequestError) -> dict:
        return {"id": rid, "ok": False, "error": err.to_dict()}

    def handle(self, raw: bytes | str | dict, token: Any = None) -> dict | None:
        """Answer one request. Returns the reply, or None when it completes in a later
        tick (the reply then comes out of :meth:`tick` with ``token``)."""
        rid = op = None
        try:
            req = self._parse(raw)
            rid = req["id"]
            op = req["op"]
            spec = OPS.get(op)
            if spec is None:
                raise RequestError("unknown_op", f"unknown op {_shown(op)} (ops: "
                                   f"{', '.join(OPS)})", "op")
            args = check_args(op, spec, req.get("args"))
            fn = getattr(self, "op_" + op.replace(".", "_"))
            if op in ("channel.listen", "channel.tone", "report.losses"):  # may answer later
                result = fn(args, rid=rid, token=token)
                return None if result is None else self._reply(rid, _jsonable(result))
            result = fn(args)
            if self.live is not None:
                self.live.after_request(self.ts(), result)
            reply = self._reply(rid, _jsonable(result))
            if op in AUDITED_OPS:
                self._audit(op, args, token)
            return reply
        except RequestError as e:
            return self._error(rid if rid is not None else e.rid, e)
        except ReplayGap as e:
            return self._error(rid, RequestError("replay_gap", str(e), "args.after"))
        except (ValueError, LookupError) as e:
            # a stack or the centre refused what the door let through ("CONNECT not
            # allowed in ACTIVE"): the thing acted on is at fault
            return self._error(rid, RequestError("failed", str(e), _subject(op)))
        except Exception as e:  # the server keeps running whatever one request does
            from cti.centre.coordinator import CallFailed
            if isinstance(e, CallFailed):
                # the centre logged it with its traceback, counted it, cleared the call
                return self._error(rid, RequestError("internal", str(e)))
            self._server_error(f"request.{op}" if isinstance(op, str) else "request", e)
            name = type(e).__name__
            if name.endswith("Error") and type(e).__module__.startswith(("drivers", "cti")) \
                    and name not in ("TypeError", "AttributeError", "KeyError"):
                return self._error(rid, RequestError("failed", str(e), _subject(op)))
            return self._error(rid, RequestError("internal", f"{name}: {e}"))

    @staticmethod
    def _audit(op: str, args: dict, token: Any) -> None:
        """A supervisor's or administrator's action, done: one log line saying who asked
        (the client's ZeroMQ routing identity until principals come) and what."""
        if not log.isEnabledFor(logging.INFO):
            return
        who = bytes(token[0]).hex() if isinstance(token, (list, tuple)) and token and \
            isinstance(token[0], (bytes, bytearray, memoryview)) else str(token or "local")
        what = ", ".join(f"{k}={v!r}" for k, v in sorted(args.items())
                         if v is not None and k != "data")
        log.info("%s by %s: %s", op, who, what[:300])

    def _parse(self, raw) -> dict:
        if isinstance(raw, dict):
            req = raw
        else:
            if isinstance(raw, (bytes, bytearray, memoryview)):
                if len(raw) > MAX_REQUEST_BYTES:
                    raise RequestError("bad_request", f"request is {len(raw)} bytes, more than "
                                       f"{MAX_REQUEST_BYTES}")
                try:
                    raw = bytes(raw).decode("utf-8")
                except UnicodeDecodeError as e:
                    raise RequestError("bad_request", f"request is not UTF-8: {e}") from None
            try:
                req = json.loads(raw)
            except json.JSONDecodeError as e:
                raise RequestError("bad_request", f"request is not JSON: {e}") from None
            except RecursionError:      # [[[[... a megabyte deep
                raise RequestError("bad_request", "request nested too deep") from None
        if not isinstance(req, dict):
            raise RequestError("bad_request", f"request must be a JSON object, not "
                               f"{_jtype(req)}")
        if "id" not in req:
            raise RequestError("bad_request", "missing: every request has an id", "id")
        rid = req["id"]
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            raise RequestError("bad_request", f"id must be a string or an integer, not "
                               f"{_jtype(rid)}", "id")
        for k in req:
            if k not in ("id", "op", "args"):
                raise RequestError("bad_request", "unknown request field (fields: id, op, args)",
                                   _key(k), rid=rid)
        if "op" not in req:
            raise RequestError("bad_request", "missing: every request has an op", "op",
                               rid=rid)
        if not isinstance(req["op"], str):
            raise RequestError("bad_request", f"op must be a string, not {_jtype(req['op'])}",
                               "op", rid=rid)
        return req

    # ops ------------------------------------------------------------------------------
    def op_ping(self, a):
        return {"pong": True, "protocol": PROTOCOL_VERSION, "instance": self.instance,
                "server": self.boot.name if self.boot else None,
                "boot": self.boot.boot if self.boot else None,
                "pid": os.getpid(), "board": self.board.name, "seq": self.log.last_seq,
                "line_time": round(self.line_time, 6), "tick_count": self.board.tick_count,
                "ts": self.ts(), "starting": self.line_restart.starting()}

    def _span_status(self, span) -> dict:
        st = dict(span.status())
        st.setdefault("span", span.number)
        st.setdefault("signalling", span.signalling)
        st.setdefault("crc4", span.crc4)
        st.setdefault("law", span.law)
        return st

    def _port_status(self, port) -> dict:
        st = dict(port.status())
        st.setdefault("port", port.number)
        st.setdefault("kind", port.kind)
        st.setdefault("channel", self.port_name(port.number))
        return st

    def _board_summary(self) -> dict:
        b = self.board
        alarms = {}
        for n, span in sorted(b.spans.items()):
            alarms[str(n)] = list(span.status().get("alarms", []))
        return {"name": b.name, "backend": b.backend, "tick_ms": b.tick_ms,
                "spans": sorted(b.spans), "ports": [self.port_name(n) for n in sorted(b.ports)],
                "alarms": alarms, "simulated": self.world is not None}

    def op_snapshot(self, a):
        b = self.board
        channels = []
        for n, span in sorted(b.spans.items()):
            for t, ch in sorted(span.channels.items()):
                channels.append(ch.show())
        snap = {"seq": self.log.last_seq, "ts": self.ts(), "line_time": self.line_time,
                "instance": self.instance, "board": self._board_summary(),
                "spans": [self._span_status(s) for _, s in sorted(b.spans.items())],
                "ports": [self._port_status(p) for _, p in sorted(b.ports.items())],
                "channels": channels}
        if self.centre is not None:
            snap.update(self.centre.snapshot())
        snap["server_errors"] = self.errors        # failures outside the calls
        snap["server"] = self.server_stats()
        return snap

    def op_replay(self, a):
        topics = a["topics"]
        if topics is not None and not all(isinstance(t, str) for t in topics):
            raise RequestError("bad_arg", "must be an array of topic prefix strings",
                               "args.topics")
        # (only what went out: the shell holds a tick's events until its writes are durable)
        upto = self.log.last_seq if self.sent_seq is None else self.sent_seq
        if self.raw_replies:
            # the ring's JSON as it is: a full ring decoded and encoded again takes 175 ms
            events = RawJSON(b"[" + b",".join(self.log.replay_raw(a["after"], topics, upto))
                             + b"]")
        else:
            events = self.log.replay(a["after"], topics, upto)
        return {"events": events, "last_seq": upto, "first_seq": self.log.first_seq}

    def op_board_list(self, a):
        return {"boards": [self._board_summary()]}

    def op_board_show(self, a):
        b = self.board
        show = dict(b.show())
        show.update(self._board_summary())
        show["tick_count"] = b.tick_count
        show["line_time"] = self.line_time
        show["span_status"] = [self._span_status(s) for _, s in sorted(b.spans.items())]
        show["port_status"] = [self._port_status(p) for _, p in sorted(b.ports.items())]
        return show

    def op_span_show(self, a):
        span = self.get_span(a["span"])
        st = self._span_status(span)
        st["channels"] = [ch.show() for _, ch in sorted(span.channels.items())]
        return st

    def op_span_alarms(self, a):
        st = self._span_status(self.get_span(a["span"]))
        return {"span": st["span"], "alarms": st.get("alarms", []),
                "in_sync": st.get("in_sync"), "loopback": st.get("loopback")}

    def op_span_counters(self, a):
        span = self.get_span(a["span"])
        st = self._span_status(span)
        if a["reset"]:
            span.reset_counters()
        return {"span": st["span"], "counters": st.get("counters", {}), "reset": a["reset"]}

    def op_span_loopback(self, a):
        span = self.get_span(a["span"])
        span.loopback(a["mode"])
        return {"span": span.number, "loopback": a["mode"]}

    def _signalling(self, number: int, stacks: dict, name: str):
        """The signalling stack of span ``number`` among ``stacks``, or an error naming
        the span's signalling."""
        self.get_span(number)
        stack = stacks.get(number)
        if stack is None:
            raise RequestError("not_supported", f"span {number} does not run {name} "
                               f"(signalling {self.board.spans[number].signalling})",
                               "args.span")
        return stack

    def _r2(self, number: int):
        return self._signalling(number, self.r2, "R2")

    def op_span_block(self, a):
        """Block a circuit (or the whole span) of an R2 span: the far end may not seize it."""
        self._r2(a["span"]).block(self.board.line_seconds, a["timeslot"])
        return {"span": a["span"], "timeslot": a["timeslot"], "blocked": True}

    def op_span_unblock(self, a):
        self._r2(a["span"]).unblock(self.board.line_seconds, a["timeslot"])
        return {"span": a["span"], "timeslot": a["timeslot"], "blocked": False}

    def op_span_r2trace(self, a):
        """The signalling trace of the recent calls of an R2 span (or of one call): every
        CAS change and MF tone with its line time."""
        r2 = self._r2(a["span"])
        calls = {a["call"]: r2.traces.get(a["call"])} if a["call"] is not None else r2.traces
        if any(v is None for v in calls.values()):
            raise RequestError("not_found", f"no trace of call {a['call']} on span {a['span']}",
                               "args.call")
        return {"span": a["span"], "calls": [{"call": c, "trace": [[round(t, 3), x] for t, x in v]}
                                             for c, v in calls.items()]}

    def op_span_bert(self, a):
        span = self.get_span(a["span"])
        if a["action"] == "start":
            span.bert_start()
        elif a["action"] == "stop":
            span.bert_stop()
        st = dict(span.bert_status())
        st["span"] = span.number
        return st

    def op_channel_show(self, a):
        kind, obj, ch = self.resolve_channel(a["channel"])
        if kind == "port":
            return self._port_status(obj)
        out = ch.show()
        r2 = self.r2.get(obj.number)
        if r2 is not None:
            # like `ftdm r2 status`: abcd sent and recognised, and the R2 state
            out["r2"] = r2.status()["channels"].get(ch.timeslot)
        return out

    def op_channel_tone(self, a, rid=None, token=None):
        """A tone (``freq``), DTMF digits (``dtmf``) or a call-progress tone (``tone``);
        with ``capture`` the reply waits until it is over and carries what went out."""
        given = [k for k in ("freq", "dtmf", "tone") if a[k] is not None]
        if len(given) != 1:
            raise RequestError("bad_arg", "give one of freq, dtmf or tone" + (
                f" (not {' and '.join(given)})" if given else ""), "args")
        kind, obj, ch = self.resolve_channel(a["channel"])
        target = ch if kind == "span" else obj
        result = {"channel": a["channel"]}
        if a["dtmf"] is not None:
            digits = a["dtmf"]
            if not digits or any(d not in "0123456789*#ABCDabcd" for d in digits):
                raise RequestError("bad_arg", f"{digits!r}: DTMF digits are 0-9 * # A-D",
                                   "args.dtmf")
            seconds = 0.16 * len(digits)          # 80 ms on, 80 ms off (Q.23)
            start = lambda: target.dtmf(digits)   # noqa: E731
            result.update(dtmf=digits)
        elif a["tone"] is not None:
            seconds = a["ms"] / 1000.0
            start = lambda: target.progress_tone(a["tone"])   # noqa: E731
            self._stops.append((self.line_time + seconds, lambda: target.progress_tone(None)))
            result.update(tone=a["tone"], ms=a["ms"])
        else:
            seconds = a["ms"] / 1000.0
            start = lambda: target.tone(a["freq"], a["freq2"], a["level"], a["ms"])  # noqa: E731
            result.update(freq=a["freq"], freq2=a["freq2"], level=a["level"], ms=a["ms"])
        if not a["capture"]:
            start()
            return result
        # tap what goes out first, so the capture starts with the signal
        listen = self._listen(a["channel"], "tx", seconds + 0.04, token, rid)
        listen.extra = result
        start()
        return None

    def _listen(self, channel: str, direction: str, seconds: float, token, rid) -> "_Listen":
        kind, obj, ch = self.resolve_channel(channel)
        if len(self._listens) >= MAX_LISTENS:
            self.stats.count("listens_refused")
            raise RequestError("busy", f"{len(self._listens)} listens and captures are running "
                               f"(at most {MAX_LISTENS}): try again when one is done", "op")
        if kind == "span":
            key, law = (obj.number, ch.timeslot, direction), obj.law
        else:
            key, law = (0, obj.number, direction), "alaw"   # analog ports: A-law (hal_sim.c)
        frames = max(1, int(round(seconds * 8000)))
        lst = _Listen(token, rid, key, channel, law, frames,
                      until=self.line_time + seconds + LISTEN_GRACE)
        self._tap(key)
        self._listens.append(lst)
        return lst

    def op_channel_listen(self, a, rid=None, token=None):
        self._listen(a["channel"], a["direction"], a["seconds"], token, rid)
        return None

    def _cable(self, number: int):
        if self.world is None:
            raise RequestError("not_supported", f"board {self.board.name} is not simulated: "
                               "there is no virtual cable to act on", "op")
        self.get_span(number)
        return self.world.cable(number)

    def op_sim_fault(self, a):
        cable = self._cable(a["span"])
        faults = {k: a[k] for k in ("los", "ais", "lof", "ber", "code_errors", "slip_ppm")
                  if a[k] is not None}
        direction = a["direction"]
        if direction is None:
            # A broken line (LOS, AIS, LOF) towards us: we raise the alarm and send RAI, so
            # the far end shows RAI. Bit errors and clock offset on both pairs: our CRC-4
            # errors come from the receive pair, our E-bit errors from the transmit pair.
            line_down = any(faults.get(k) for k in ("los", "ais", "lof"))
            direction = "to_board" if line_down and not a["clear"] else "both"
        direction = direction.replace("-", "_")
        if a["clear"]:
            if faults:
                k = next(iter(faults))
                raise RequestError("bad_arg", "clear cannot be combined with other faults",
                                   f"args.{k}")
            now = cable.clear(direction=direction)
        else:
            if not faults:
                raise RequestError("bad_arg", "give a fault: los, ais, lof, ber, code_errors, "
                                   "slip_ppm or clear", "args")
            now = cable.fault(direction=direction, **faults)
        return {"span": a["span"], "direction": direction, "cleared": a["clear"],
                "faults": faults, "active": now}

    def op_sim_loopback(self, a):
        cable = self._cable(a["span"])
        cable.far_loopback(a["mode"])
        return {"span": a["span"], "far_loopback": a["mode"]}

    def op_sim_stats(self, a):
        cable = self._cable(a["span"])
        stats = dict(cable.stats())
        far = stats.pop("far_end")
        stats.pop("span", None)
        return {"span": a["span"], "cable": stats, "far_end": far}

    # PRI: calls and traces ---------------------------------------------------------------
    def _network_side(self, span: int) -> bool:
        pri = self.pri.get(span)
        return pri is not None and pri.side == "network"

    def _pri(self, number: int):
        return self._signalling(number, self.pri, "ISDN PRI")

    def _exchange(self, number: int):
        self._cable(number)
        if self.world.calls is None or number not in self.world.exchange_pri:
            raise RequestError("not_supported", f"the exchange does not run PRI on span {number}",
                               "args.span")
        return self.world.calls

    def _call(self, pri, call: int):
        if call not in pri.q931.calls:
            raise RequestError("not_found", f"no call {call} on span {pri.span.number} (calls: "
                               f"{_ranges(sorted(pri.q931.calls))})", "args.call")
        return call

    def op_pri_list(self, a):
        return {"calls": [dict(c, span=n) for n, pri in sorted(self.pri.items())
                          for c in pri.calls().values()],
                "spans": [pri.status() for _, pri in sorted(self.pri.items())]}

    def op_pri_place(self, a):
        pri = self._pri(a["span"])
        if not a["to"].isdigit():
            raise RequestError("bad_arg", f"{a['to']!r}: a called number is digits", "args.to")
        call = pri.place_call(self.board.line_seconds, a["to"], a["from"], timeslot=a["timeslot"],
                              exclusive=a["timeslot"] is not None)
        return {"span": a["span"], "call": call}

    def op_pri_answer(self, a):
        pri = self._pri(a["span"])
        pri.answer(self.board.line_seconds, self._call(pri, a["call"]))
        return {"span": a["span"], "call": a["call"], "answered": True}

    def op_pri_reject(self, a):
        pri = self._pri(a["span"])
        pri.reject(self.board.line_seconds, self._call(pri, a["call"]), a["cause"])
        return {"span": a["span"], "call": a["call"], "cause": a["cause"]}

    def op_pri_hangup(self, a):
        pri = self._pri(a["span"])
        pri.hangup(self.board.line_seconds, self._call(pri, a["call"]), a["cause"])
        return {"span": a["span"], "call": a["call"], "cause": a["cause"]}

    def op_sim_call(self, a):
        calls = self._exchange(a["span"])
        for k in ("from", "to"):
            if a[k] and not a[k].isdigit():
                raise RequestError("bad_arg", f"{a[k]!r}: a number is digits", f"args.{k}")
        hang = a["hangup_after"]
        c = calls.offer_call(a["span"], a["from"], a["to"], overlap=a["overlap"],
                             hangup_after_ms=None if hang is None else int(hang * 1000))
        return {"span": a["span"], "exchange_call": c.call, "congested": c.cause == 34,
                "state": c.state}

    def op_sim_hangup(self, a):
        calls = self._exchange(a["span"])
        calls.hangup(a["span"], a["call"], a["cause"])
        return {"span": a["span"], "exchange_call": a["call"], "cause": a["cause"]}

    def op_sim_dtmf(self, a):
        """The far end keys DTMF on a channel: the caller on a trunk timeslot (``1/5``), or
        the exchange's end of an FXO line (``fxo/9``)."""
        if self.world is None:
            raise RequestError("not_supported", "no simulated world", "op")
        kind, obj, ch = self.resolve_channel(a["channel"])
        digits = a["digits"]
        if not digits or any(d not in "0123456789*#ABCDabcd" for d in digits):
            raise RequestError("bad_arg", f"{digits!r}: DTMF digits are 0-9 * # A-D",
                               "args.digits")
        if kind == "span":
            self.world.exchange.spans[obj.number].channels[ch.timeslot].dtmf(digits)
        else:
            line = self.world.lines.get(obj.number)
            if line is None:
                raise RequestError("bad_arg", f"{a['channel']} is not an FXO line",
                                   "args.channel")
            line._p.dtmf(digits)
        return {"channel": a["channel"], "digits": digits}

    def op_sim_phone(self, a):
        """An agent's phone on an FXS port: lift, hang up, flash, dial DTMF."""
        if self.world is None:
            raise RequestError("not_supported", "no simulated world", "op")
        phone = self.world.phones.get(a["port"])
        if phone is None:
            raise RequestError("not_found", f"no phone on port {a['port']} (phones on FXS "
                               f"ports {_ranges(sorted(self.world.phones))})", "args.port")
        act = a["action"]
        if act == "dial":
            if not a["digits"]:
                raise RequestError("bad_arg", "missing: dial needs digits", "args.digits")
            phone.dial(a["digits"])
        elif act != "status":
            {"lift": phone.lift, "hangup": phone.hang_up, "flash": phone.flash}[act]()
        return {"port": a["port"], "action": act, "ringing": phone.ringing,
                "off_hook": phone.off_hook,
                "caller_id": None if phone.caller_id is None else
                {"number": phone.caller_id.number, "name": phone.caller_id.name}}

    def op_sim_traffic(self, a):
        """Callers on the simulated exchange and agents at their phones, on line time:
        ``steady`` (``rate`` calls a minute) or ``tv_peak`` (``rate`` then ``peak`` calls a
        minute in the ten minutes after an advert, PRODUCT.md's case), for ``seconds``;
        ``peak``: the callers and agents of the scenario's TV peak (cti/scenarios/tv_peak.py's
        PeakPlan: its ramp, patience, talk and wrap-up times, callbacks; every caller
        goes through the welcome to the queue), ``rate`` before and after, ``peak`` at the
        top, as bench/soak.py runs it on ``cti serve``."""
        from simulators.traffic import AgentBehaviour, Steady, Traffic, TvAdvertPeak

        if self.world is None or self.centre is None:
            raise RequestError("not_supported", "traffic needs the simulated world and a "
                               "call centre", "op")
        if a["profile"] == "stop":
            if self.traffic is not None:
                self.traffic.stop()
            return {"stopped": True}
        if a["profile"] == "peak":
            return self._scenario_peak(a)
        if a["profile"] == "steady":
            profile = Steady(a["rate"])
        else:
            profile = TvAdvertPeak(base=a["rate"], peak=a["peak"], start=10.0, ramp=30.0,
                                   duration=min(600.0, a["seconds"]))
        now = self.board.line_seconds
        if a["agents_login"]:
            for agent in self.centre.agents:
                if self.centre.acd.agent_state(agent).state == "logged_out":
                    self.centre.agent_login(now, agent)
        spans = tuple(n for n in sorted(self.world.exchange_pri))
        self.traffic = Traffic(self.world, seed=a["seed"], profile=profile, spans=spans,
                               start=now, duration=a["seconds"],
                               agents=AgentBehaviour(),
                               desktop=lambda op, args: self.handle(
                                   {"id": "traffic", "op": op, "args": args}))
        return {"profile": a["profile"], "rate": a["rate"], "seconds": a["seconds"],
                "spans": list(spans)}

    def _scenario_peak(self, a) -> dict:
        from simulators.traffic import PEAK_DNIS as DNIS, PeakPlan
        from simulators.traffic import AgentBehaviour, Traffic, TvAdvertPeak

        pk = PeakPlan(seed=a["seed"], base=a["rate"], peak=a["peak"])
        now = self.board.line_seconds
        if a["agents_login"]:
            for agent in self.centre.agents:
                if self.centre.acd.agent_state(agent).state == "logged_out":
                    self.centre.agent_login(now, agent)
        # the phones only ring and lift: their own tone and caller-ID receivers rest
        for phone in self.world.phones.values():
            phone.listen(False)
        spans = tuple(sorted(self.world.exchange_pri))
        self.traffic = Traffic(
            self.world, seed=pk.seed,
            profile=TvAdvertPeak(base=pk.base, peak=pk.peak, start=pk.lead, ramp=pk.ramp,
                                 duration=pk.hold),
            spans=spans, dnis=DNIS, ivr_choices={None: 1.0}, patience=(pk.patience, "lognormal"),
            agents=AgentBehaviour(answer_delay=pk.answer_delay, ring_out_probability=pk.ring_out,
                                  talk_time=pk.talk, talk_distribution="lognormal",
                                  ready_after=10.0),
            start=now, duration=a["seconds"], callback_accept=pk.callback_accept,
            callback_key_delay=pk.callback_key_delay,
            desktop=lambda op, args: self.handle({"id": "traffic", "op": op, "args": args}))
        return {"profile": "peak", "rate": pk.base, "peak": pk.peak, "seconds": a["seconds"],
                "spans": list(spans)}

    def op_sim_calls(self, a):
        if self.world is None or self.world.calls is None:
            raise RequestError("not_supported", "no simulated exchange runs PRI here", "op")
        return self.world.calls.status()

    def op_trace_start(self, a):
        self._pri(a["span"])
        self._traces[a["span"]] = self.line_time + a["seconds"]
        self.board.spans[a["span"]].report_sent_dframes(True)
        return {"span": a["span"], "until": round(self.line_time + a["seconds"], 3),
                "network_side": self._network_side(a["span"]), "seq": self.log.last_seq}

    def _trace_off(self, span: int) -> None:
        self._traces.pop(span, None)
        if span in self.board.spans:
            self.board.spans[span].report_sent_dframes(False)

    def op_trace_stop(self, a):
        self._trace_off(a["span"])
        return {"span": a["span"], "stopped": True, "seq": self.log.last_seq}

    # the call centre: agents, queues, calls, reports ---------------------------------------
    def _centre(self):
        if self.centre is None:
            raise RequestError("not_supported", "no call centre is configured on this server "
                               "(the config has no [[agents]] and [[queues]])", "op")
        return self.centre

    def _agent_op(self, a, fn, *extra):
        c = self._centre()
        if a["agent"] not in c.agents:
            raise RequestError("not_found", f"no agent {a['agent']!r} (agents: "
                               f"{_some(c.agents)})", "args.agent")
        from cti.centre.acd import AcdError
        try:
            return fn(self.board.line_seconds, a["agent"], *extra)
        except AcdError as e:           # "agent '1004' is logged out": the agent's state
            raise RequestError("failed", str(e), "args.agent") from None

    def op_agent_login(self, a):
        c = self._centre()
        ext = a["extension"]
        if ext is not None and (ext not in c.analog or c.analog[ext].port.kind != "fxs"):
            raise RequestError("bad_arg", f"extension {ext} is not an FXS port of board "
                               f"{self.board.name}", "args.extension")
        return self._agent_op(a, c.agent_login, ext)

    def op_agent_logout(self, a):
        return self._agent_op(a, self._centre().agent_logout)

    def op_agent_ready(self, a):
        return self._agent_op(a, self._centre().agent_ready)

    def op_agent_not_ready(self, a):
        return self._agent_op(a, self._centre().agent_not_ready, a["reason"])

    def op_agent_show(self, a):
        c = self._centre()
        if a["agent"] not in c.agents:
            raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
        return c.agent_status(a["agent"])

    def op_agent_list(self, a):
        c = self._centre()
        return {"agents": [c.agent_status(x) for x in c.agents]}

    def op_queue_show(self, a):
        c = self._centre()
        if a["queue"] not in {q.name for q in c.config.queues}:
            raise RequestError("not_found", f"no queue {a['queue']!r}", "args.queue")
        return c.acd.queue_status(a["queue"], self.board.line_seconds)

    def op_queue_list(self, a):
        c = self._centre()
        return {"queues": [c.acd.queue_status(q.name, self.board.line_seconds)
                           for q in c.config.queues]}

    def op_call_list(self, a):
        c = self._centre()
        return {"calls": [c.call_info(x) for x in c.calls.values()], "counters": dict(c.counters)}

    def _cti_call(self, call_id: str):
        c = self._centre()
        if call_id not in c.calls:
            raise RequestError("not_found", f"no call {call_id!r} (calls: "
                               f"{_some(c.calls)})", "args.call")
        return c

    def _consulted(self, call_id: str) -> str:
        """CALL.consult names the consultation of a consultative transfer (``call.consult``'s
        reply): answered and hung up as a call of its own; here, the call it consults for."""
        c = self._centre()
        base = call_id.removesuffix(".consult")
        if base != call_id and getattr(c.calls.get(base), "consult", None):
            return base
        return call_id

    def op_call_show(self, a):
        c = self._cti_call(a["call"])
        return c.call_info(c.calls[a["call"]])

    def op_call_hangup(self, a):
        c = self._cti_call(self._consulted(a["call"]))
        return self._centre_call(lambda: c.hangup(self.board.line_seconds, a["call"]), a)

    @staticmethod
    def _data_size(a) -> None:
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

    def op_call_transfer(self, a):
        self._data_size(a)
        c = self._cti_call(a["call"])
        try:
            return c.transfer(self.board.line_seconds, a["call"], a["to"], a["data"])
        except LookupError as e:
            raise RequestError("not_found", str(e), "args.to") from None
        except ValueError as e:
            raise RequestError("failed", str(e), "args.call") from None

    def _centre_call(self, fn, a, field="args.call"):
        try:
            return fn()
        except LookupError as e:
            raise RequestError("not_found", str(e), field) from None
        except ValueError as e:
            raise RequestError("failed", str(e), field) from None

    def op_call_hold(self, a):
        c = self._cti_call(a["call"])
        return self._centre_call(lambda: c.hold(self.board.line_seconds, a["call"]), a)

    def op_call_retrieve(self, a):
        c = self._cti_call(a["call"])
        return self._centre_call(lambda: c.retrieve(self.board.line_seconds, a["call"]), a)

    def op_call_supervise(self, a):
        c = self._cti_call(a["call"])
        return self._centre_call(lambda: c.supervise(self.board.line_seconds, a["call"],
                                                     a["supervisor"], a["mode"]), a)

    def op_call_consult(self, a):
        c = self._cti_call(a["call"])
        return self._centre_call(lambda: c.consult(self.board.line_seconds, a["call"], a["to"]),
                                 a)

    def op_call_transfer_complete(self, a):
        self._data_size(a)
        c = self._cti_call(a["call"])
        return self._centre_call(lambda: c.transfer_complete(self.board.line_seconds, a["call"],
                                                             a["data"]), a)

    def op_call_answer(self, a):
        """The desktop answers a call ringing the agent's phone. An analog phone is answered
        by lifting its handset; on the simulated board the desktop lifts it (a softphone).
        ``agent``: the asking agent, whose phone is lifted (a ring-all call rings several;
        without it the call must ring exactly one). A consultation (``CALL.consult``) is
        answered at the consulted agent's phone."""
        c = self._cti_call(self._consulted(a["call"]))
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
        if self.world is None:
            raise RequestError("not_supported", "an analog phone is answered by lifting its "
                               "handset", "op")
        self.world.phones[port].lift()
        return {"call_id": a["call"], "extension": port}

    def op_call_pickup(self, a):
        c = self._cti_call(a["call"])
        if a["agent"] not in c.agents:
            raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
        return self._centre_call(lambda: c.pickup(self.board.line_seconds, a["call"],
                                                  a["agent"]), a)

    def op_call_record(self, a):
        c = self._cti_call(a["call"])
        return c.record(self.board.line_seconds, a["call"], a["on"])

    def op_agent_dnd(self, a):
        """Do not disturb: no ACD calls and no transfers (not ready, reason "dnd")."""
        c = self._centre()
        if a["on"]:
            return self._agent_op(a, c.agent_not_ready, "dnd")
        return self._agent_op(a, c.agent_ready)

    def op_agent_forward(self, a):
        c = self._centre()
        if a["agent"] not in c.agents:
            raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
        return self._centre_call(lambda: c.set_forward(self.board.line_seconds, a["agent"],
                                                       a["to"] or None), a, "args.to")

    def op_call_make(self, a):
        c = self._centre()
        if a["agent"] not in c.agents:
            raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
        # (args.to is checked and in its normal form: check_value, drivers/numbers.py)
        return self._centre_call(lambda: c.make_call(self.board.line_seconds, a["agent"],
                                                     a["to"], a["span"]), a, "args.to")

    # the outbound dialer: campaigns, preview, do-not-call (cti/centre/dialer.py, cti/centre/campaigns.py)
    def _campaigns(self):
        self._centre()
        return self.campaigns

    def _dialer_call(self, fn, field: str):
        from cti.centre.dialer import DialerError
        try:
            return fn()
        except DialerError as e:
            # "rules.busy.max_attempts: ..." names a setting: args.rules.busy.max_attempts
            head = str(e).split(":", 1)[0]
            sub = head if head and " " not in head and field == "args" else None
            raise RequestError("bad_arg" if sub else "failed", str(e),
                               f"args.{sub}" if sub else field) from None
        except LookupError as e:
            raise RequestError("not_found", str(e), field) from None
        except ValueError as e:
            raise RequestError("bad_arg", str(e), field) from None

    def _campaign_name(self, a) -> str:
        cs = self._campaigns()
        if a["campaign"] not in cs.dialer.campaigns:
            raise RequestError("not_found", f"no campaign {a['campaign']!r} (campaigns: "
                               f"{_some(cs.dialer.campaigns)})", "args.campaign")
        return a["campaign"]

    def _dialer_agent(self, a) -> str:
        if a["agent"] not in self._centre().agents:
            raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
        return a["agent"]

    def op_campaign_create(self, a):
        cs = self._campaigns()
        settings = {k: a[k] for k in ("mode", "agents", "rules", "no_answer_timeout",
                                      "agent_answer_timeout") if a[k] is not None}
        for i, agent in enumerate(a["agents"] or ()):
            if agent not in self.centre.agents:
                raise RequestError("not_found", f"no agent {agent!r}", f"args.agents[{i}]")
        if a["campaign"] in cs.dialer.campaigns:
            raise RequestError("failed", f"campaign {a['campaign']!r} already exists",
                               "args.campaign")
        return self._dialer_call(lambda: cs.create(self.board.line_seconds, a["campaign"],
                                                   settings), "args")

    def op_campaign_load(self, a):
        name = self._campaign_name(a)
        # each row is checked at the door: a bad one is refused with its index (and the
        # field at fault), the others load
        rows, index, refused, first = [], [], [], None
        for i, row in enumerate(a["records"]):
            try:
                rows.append(check_args(None, RECORD, row, f"args.records[{i}]"))
                index.append(i)
            except RequestError as e:
                first = first or e
                refused.append({"index": i, "field": e.field, "message": e.to_dict()["message"]}
                               if len(refused) < MAX_REFUSED_SHOWN else None)
        if first is not None and not rows:
            raise first             # nothing would load: the request is refused as a whole
        # store messages name the row: "campaign_records[3].number: ..." -> args.records[3].number
        try:
            out = self.campaigns.load(self.board.line_seconds, name, rows)
        except ValueError as e:
            head = str(e).split(":", 1)[0]
            m = re.match(r"campaign_records\[(\d+)\](.*)", head)
            f = f"args.records[{index[int(m.group(1))]}]{m.group(2)}" \
                if m and int(m.group(1)) < len(index) else "args.records"
            raise RequestError("bad_arg", str(e), f) from None
        out["refused"] = [r for r in refused if isinstance(r, dict)]
        out["refused_count"] = len(refused)
        return out

    def _campaign_state(self, a, state):
        name = self._campaign_name(a)
        return self._dialer_call(lambda: self.campaigns.set_state(
            self.board.line_seconds, name, state), "args.campaign")

    def op_campaign_start(self, a):
        return self._campaign_state(a, "running")

    def op_campaign_pause(self, a):
        return self._campaign_state(a, "paused")

    def op_campaign_stop(self, a):
        return self._campaign_state(a, "stopped")

    def op_campaign_show(self, a):
        return self.campaigns.show(self._campaign_name(a))

    def op_campaign_list(self, a):
        return self._campaigns().list()

    def op_campaign_next(self, a):
        name, agent = self._campaign_name(a), self._dialer_agent(a)
        return self._dialer_call(lambda: self.campaigns.preview_next(
            self.board.line_seconds, agent, name), "args.campaign")

    def op_campaign_dial(self, a):
        agent = self._dialer_agent(a)
        self._campaigns()
        return self._dialer_call(lambda: self.campaigns.preview_dial(
            self.board.line_seconds, agent), "args.agent")

    def op_campaign_skip(self, a):
        agent = self._dialer_agent(a)
        self._campaigns()
        return self._dialer_call(lambda: self.campaigns.preview_skip(
            self.board.line_seconds, agent), "args.agent")

    def op_dnc_add(self, a):
        cs = self._campaigns()
        return cs.dnc_add(self.board.line_seconds, a["number"], a["reason"])

    def op_dnc_remove(self, a):
        return self._campaigns().dnc_remove(a["number"])

    def op_dnc_list(self, a):
        return self._campaigns().dnc_list()

    def op_report_losses(self, a, rid=None, token=None):
        from cti.store.report import loss_report
        if self.store is None:
            raise RequestError("not_supported", "no store: no call centre configured", "op")
        end = a["end"] if a["end"] is not None else self.ts() + 1
        start = a["start"] if a["start"] is not None else end - 86_400
        if end <= start:
            raise RequestError("bad_arg", f"end {end:g} is not after start {start:g}",
                               "args.end")
        if (end - start) / a["interval"] > MAX_REPORT_INTERVALS:
            # the work grows with the intervals: a year by the second is refused here
            raise RequestError("bad_arg", f"{(end - start) / a['interval']:.0f} intervals: at "
                               f"most {MAX_REPORT_INTERVALS} (a longer interval, or a shorter "
                               "range)", "args.interval")
        if self.reports is not None:
            # off the tick: the shell's worker answers when done (cti/server/reportworker.py)
            self.reports(dict(a, start=start, end=end), token, rid)
            return None
        return loss_report(self.store, start, end, interval=a["interval"], sla_seconds=a["sla"],
                           target_blocking=a["blocking"],
                           service_level_target=a["service_level"], shrinkage=a["shrinkage"],
                           max_abandon=a["max_abandon"])

    def op_server_speed(self, a):
        """Run the board clock ``speed`` times real time from now on (demos, simulations:
        line time stays the only clock; only its pace against the wall changes)."""
        self.speed = a["speed"]
        return {"speed": self.speed, "line_time": round(self.line_time, 3)}

    def op_server_stats(self, a):
        """How the server keeps up: tick lateness (histogram, p50/p99/max), overruns,
        requests answered and refused busy, replies dropped, listens, reports."""
        return self.server_stats()

    def server_stats(self) -> dict:
        st = self.stats
        st.gauges["listens"] = len(self._listens)
        st.gauges["replay_ring"] = {"events": len(self.log), "bytes": self.log.bytes,
                                    "first_seq": self.log.first_seq,
                                    "truncated_events": self.log.truncated}
        return dict(st.as_dict(), speed=self.speed, line_time=round(self.line_time, 3))

    def op_shutdown(self, a):
        self.stopping = True
        return {"stopping": True, "seq": self.log.last_seq}


def _some(names, n: int = 10) -> str:
    """The first ``n`` of ``names`` for an error message (a peak has a thousand calls)."""
    names = list(names)
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(_key(x) for x in names[:n]) + more if names else "none"


def _ranges(nums: list[int]) -> str:
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out) or "none"


# --- the shell ------------------------------------------------------------------------

def build_world(config: Config):
    """The board to own: ``(world, None)`` for backend "sim", else ``(None, board)``."""
    bc = config.board
    spans = list(bc.spans)
    ports = [p.kind for p in bc.ports]
    if bc.backend == "sim":
        from simulators.world import SimWorld

        sim = config.sim
        return SimWorld(spans=spans, ports=ports, tick_ms=bc.tick_ms, seed=sim.seed,
                        cable_delay_bits=sim.cable_delay_bits, name=bc.name,
                        signalling=True), None
    return None, Board(bc.name, bc.backend, spans, ports, bc.tick_ms, bc.device or None)


def _ipc_path(endpoint: str) -> Path | None:
    return Path(endpoint[len("ipc://"):]) if endpoint.startswith("ipc://") else None


def _check_not_running(endpoint: str) -> None:
    """Refuse to start over a live server; remove a stale ipc socket file."""
    import zmq

    path = _ipc_path(endpoint)
    if path is None or not path.exists():
        return
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(endpoint)
        s.send(json.dumps({"id": "probe", "op": "ping"}).encode())
        if s.poll(300):
            raise RuntimeError(f"a server is already running at {endpoint}")
    finally:
        s.close()
        ctx.term()
    path.unlink(missing_ok=True)


async def serve(config: Config, speed: float = 1.0, seconds: float | None = None,
                world=None, board=None, log: Callable[[str], None] | None = None,
                ready: Callable[[Service], None] | None = None,
                fsync: Callable[[int], None] | None = None, realtime: int = 0) -> Service:
    """Run the board server until ``shutdown``, a signal, or ``seconds`` of line time.

    One loop, and the tick first (ARCHITECTURE.md rule 8): each tick runs at its deadline
    (``tick_ms / speed`` apart, counted from the first, so it never drifts; when late, the
    ticks due run back to back, at most ``CATCH_UP_BATCH`` at once); between ticks
    requests are served for at most ``REQUEST_BUDGET`` s (cti/server/flow.py: a bounded pending
    queue, ``busy`` beyond it, replies that wait for slow readers); long reports go to a
    worker process (cti/server/reportworker.py); the store's fsyncs to a thread
    (cti/store/durable.py), and each tick's events (and each reply to a request that wrote) go
    out once the writes made before them are durable. The lateness of every tick is
    measured (cti/server/tickstats.py, ``server.stats``). ``fsync`` replaces :func:`os.fsync`
    for the store's WAL (tests: a slow disk). ``realtime``: run the loop's thread at
    that SCHED_RR priority (1..99), as ``asterisk -p`` does: on a busy machine an
    ordinary process waits for a CPU behind the others, and its ticks with it."""
    import zmq
    import zmq.asyncio
    from cti.store.durable import WalSyncer
    from cti.server.flow import Inbox, Outbox, busy_reply, request_id
    from cti.server.reportworker import ReportRunner

    if speed <= 0 or not math.isfinite(speed):
        raise ValueError("speed must be a positive number")
    slog = logging.getLogger("cti.server")      # (``log`` here is the say callback)
    say = log or (lambda msg: print(f"cti serve: {msg}", file=sys.stderr, flush=True))
    home = config.server.home
    home.mkdir(parents=True, exist_ok=True)
    for ep in (config.server.requests, config.server.events):
        _check_not_running(ep)
    from cti.server import logs
    log_handler = logs.setup(home, config.server.log_level)
    try:
        if world is None and board is None:
            world, board = build_world(config)
        service = Service(config, world=world, board=board, wall_start=time.time())
    except BaseException:
        slog.critical("the server did not start", exc_info=True)
        logs.teardown(log_handler)
        raise
    stats = service.stats

    actx = zmq.asyncio.Context()
    sctx = zmq.Context.shadow(actx.underlying)
    router_wait = actx.socket(zmq.ROUTER)            # awaited (asyncio poller) ...
    router = zmq.Socket.shadow(router_wait.underlying)   # ... read and written without await
    router.setsockopt(zmq.LINGER, 0)
    # a reply the client's pipe cannot take raises instead of vanishing (cti/server/flow.py)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.SNDHWM, 10_000)
    pub_sock = sctx.socket(zmq.PUB)
    pub_sock.setsockopt(zmq.LINGER, 0)
    pub_sock.setsockopt(zmq.SNDHWM, PUB_HWM)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    store = service.store
    syncer: WalSyncer | None = None
    runner: ReportRunner | None = None
    held: deque = deque()          # (writes needed durable, events, replies)
    try:
        router_wait.bind(config.server.requests)
        pub_sock.bind(config.server.events)
        publisher = Publisher(pub_sock)
        (home / "cti.pid").write_text(f"{os.getpid()}\n")
        b = service.board
        say(f"board {b.name} ({b.backend}), spans {service._spans_text()}, "
            f"{len(b.ports)} ports, tick {b.tick_ms} ms, speed x{speed:g}")
        say(f"requests {config.server.requests}, events {config.server.events}")
        slog.info("started: pid %s, instance %s, home %s, board %s (%s), spans %s, "
                 "%d ports, speed x%g", os.getpid(), service.instance, home, b.name,
                 b.backend, service._spans_text(), len(b.ports), speed)
        if service.boot is not None:
            r = service.recovery.as_dict()
            say(f"server {service.boot.name}, boot {service.boot.boot}: {r['interrupted']} "
                f"interrupted calls closed, {r['agents_restored']} agents restored, "
                f"{r['agents_logged_out']} logged out")
            for what, why in service.recovery.agents_logged_out + service.recovery.failed:
                say(f"recovery: {what}: {why}")

        # (copy=False: zmq copies small frames anyway, and takes a long report's reply as
        # it is)
        outbox = Outbox(lambda frames: router.send_multipart(frames, flags=zmq.NOBLOCK,
                                                             copy=False),
                        zmq.Again,
                        lambda e: isinstance(e, zmq.ZMQError) and e.errno == zmq.EHOSTUNREACH,
                        stats.count)
        inbox = Inbox()

        service.sent_seq = service.log.last_seq

        def out(pubs, replies) -> None:
            for p in pubs:
                publisher.send(p)
            if pubs:
                service.sent_seq = pubs[-1].event["seq"]
            for envelope, body in replies:
                outbox.send(envelope, body)

        def release() -> None:
            # (on the loop) the syncer made writes durable: what waited for them goes out
            d = syncer.durable
            while held and held[0][0] <= d:
                _, pubs, replies = held.popleft()
                out(pubs, replies)

        def emit(pubs, replies) -> None:
            """Events and replies go out once every write made before them is durable."""
            if syncer is not None:
                need = store.written
                if held or need > syncer.durable:
                    if need > syncer.durable:
                        syncer.committed(need)
                    held.append((need, pubs, replies))
                    return
            out(pubs, replies)

        if store is not None and store.synchronous != "NORMAL" and store.path != ":memory:":
            store.defer_sync()
            syncer = WalSyncer(store.path, lambda n: loop.call_soon_threadsafe(release),
                               start=store.written, fsync=fsync, realtime=realtime)
        if store is not None and store.path != ":memory:":
            runner = ReportRunner(str(store.path))

            def report(args, token, rid) -> None:
                def done(reply) -> None:
                    stats.count("reports_done")
                    emit([], [(token, reply)])
                runner.submit(args, rid, done)
            service.reports = report

        service.raw_replies = True
        encode_reply = encode

        def serve_requests(until: float) -> None:
            """Read and serve requests until ``until`` (loop time) or none is left."""
            replies: list = []
            batch = store.batch() if store is not None else contextlib.nullcontext()
            with batch:
                while loop.time() < until and not service.stopping:
                    read = 0
                    while read < READ_PER_SERVE:
                        try:
                            frames = router.recv_multipart(flags=zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        read += 1
                        envelope, body = frames[:-1], frames[-1]
                        why = inbox.offer(envelope, body)
                        if why is not None:
                            stats.count("busy")
                            outbox.send(envelope, busy_reply(request_id(body), why))
                    if not inbox:
                        if not read:
                            break
                        continue
                    envelope, body = inbox.take()
                    w0 = store.written if store is not None else 0
                    reply = service.handle(body, token=envelope)
                    stats.count("requests")
                    if reply is None:
                        continue
                    if store is not None and store.written != w0:
                        replies.append((envelope, encode_reply(reply)))   # wrote: held
                    else:
                        outbox.send(envelope, encode_reply(reply))
            if replies:
                emit([], replies)

        def readable() -> bool:
            return bool(router.getsockopt(zmq.EVENTS) & zmq.POLLIN)

        poller = zmq.asyncio.Poller()
        poller.register(router_wait, zmq.POLLIN)

        # what start-up built lives as long as the server: out of the collector's sight,
        # so a full collection walks only what came since (a pause on the tick otherwise)
        gc.collect()
        gc.freeze()
        # and the collector runs between ticks, where the loop has time, on about the
        # schedule it would keep by itself (gen 0 every 700 allocations, gen 1 every 10 of
        # those, a full one after 10 of those), not in the middle of a tick
        gc.disable()
        gc_t = [0.0]
        gc_full = [0.0]

        def gc_timer(phase: str, info: dict) -> None:
            if phase == "start":
                gc_t[0] = time.perf_counter()
            else:
                ms = (time.perf_counter() - gc_t[0]) * 1000
                if ms > stats.gauges.get("gc_max_ms", 0):
                    stats.gauges["gc_max_ms"] = round(ms, 3)
        gc.callbacks.append(gc_timer)

        if realtime:
            # the loop's thread only (the syncer and zmq's threads exist already), and
            # not the report worker it starts (reset on fork)
            try:
                os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK,
                                      os.sched_param(realtime))
                say(f"real-time priority {realtime} (SCHED_RR)")
            except (OSError, AttributeError) as e:
                slog.warning("no real-time priority (%s): the ticks run as an ordinary "
                             "process's", e)
                say(f"no real-time priority: {e}")

        async def run_loop() -> None:
            service.speed = speed
            cur = speed
            tick_s = b.tick_ms / 1000.0 / speed
            t0 = loop.time()
            service.start_clock(time.time())     # line time zero: now, not before start-up
            n = 0
            spent = 0.0                          # request time in this tick's interval
            while not service.stopping and not stop.is_set():
                if service.speed != cur:
                    # server.speed changed the clock rate: count afresh from here
                    cur = service.speed
                    tick_s = b.tick_ms / 1000.0 / cur
                    t0, n = loop.time(), 0
                now = loop.time()
                due = t0 + (n + 1) * tick_s
                batch = 0
                while now >= due and batch < CATCH_UP_BATCH and not service.stopping:
                    stats.tick(now - due)
                    pubs, done = service.tick()
                    emit(pubs, [(token, encode_reply(r)) for token, r in done])
                    stats.took("tick", loop.time() - now)
                    n += 1
                    batch += 1
                    spent = 0.0
                    if seconds is not None and service.line_time >= seconds - 1e-9:
                        say(f"{seconds:g} s of line time done")
                        stop.set()
                        return
                    now = loop.time()
                    due = t0 + (n + 1) * tick_s
                # requests: within the budget, never past the next deadline (but some,
                # even when the ticks are behind, so a fast simulation still answers)
                until = min(now + REQUEST_BUDGET - spent, max(due, now + MIN_REQUEST_SLICE))
                if until > now:
                    serve_requests(until)
                    took = loop.time() - now
                    spent += took
                    stats.took("requests", took)
                outbox.retry()
                g = stats.gauges
                g["pending_requests"] = len(inbox)
                g["replies_waiting"] = outbox.waiting
                g["reports_running"] = runner.running if runner is not None else 0
                g["events_held"] = sum(len(h[1]) for h in held)
                if syncer is not None:
                    g["store"] = syncer.stats()
                if service.stopping:
                    break
                counts = gc.get_count()
                if counts[0] >= 700:
                    # (a full one at most once a second: it walks every object kept)
                    if counts[2] >= 10 and loop.time() - gc_full[0] >= 1.0:
                        gc_full[0] = loop.time()
                        gc.collect(2)
                    else:
                        gc.collect(1 if counts[1] >= 10 else 0)
                wait = due - loop.time()
                if wait <= 0:
                    await asyncio.sleep(0)
                elif spent >= REQUEST_BUDGET or inbox or readable():
                    await asyncio.sleep(min(wait, 0.1))   # requests wait for the next tick
                elif wait < 0.002:
                    await asyncio.sleep(wait)
                else:
                    # woken by a request, or (a whole ms early at most) for the deadline
                    await poller.poll(timeout=min(100, int(wait * 1000)))

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, lambda sig=sig: (
                    slog.info("%s: stopping", sig.name), stop.set()))
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        if ready is not None:
            ready(service)
        task = asyncio.create_task(run_loop())
        waiter = asyncio.create_task(stop.wait())
        done_, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if task in done_ and task.exception() is not None:
            # the board gone (Service.tick catches everything else): the process ends
            exc = task.exception()
            slog.critical("stopping: %s: %s", type(exc).__name__, exc,
                         exc_info=(type(exc), exc, exc.__traceback__))
            raise exc
        if service.store is not None:
            # the calls still in flight are closed at the next start, ended now (made
            # durable with the rest by the syncer's flush below)
            service.store.server_alive(service.ts())
        # what waited for the disk goes out, then the replies (a shutdown's) leave
        if syncer is not None:
            syncer.flush()
            release()
        for _ in range(10):
            outbox.retry()
            if not outbox.waiting:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        for t in (task, waiter):
            t.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
        if stats.counters["replies_dropped"]:
            slog.warning("%d replies were not delivered", stats.counters["replies_dropped"])
        say(f"stopped at seq {service.log.last_seq}, line time {service.line_time:.2f} s")
        slog.info("stopped at seq %s, line time %.2f s, %d errors (%d in calls)",
                 service.log.last_seq, service.line_time, service.errors,
                 service.centre.counters["errors"] if service.centre is not None else 0)
        return service
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        with contextlib.suppress(NameError, ValueError):
            gc.callbacks.remove(gc_timer)
        gc.unfreeze()
        gc.enable()
        if runner is not None:
            await runner.close()
        if syncer is not None:
            syncer.close()
        router.close(0)
        router_wait.close(0)
        pub_sock.close(0)
        actx.term()
        for ep in (config.server.requests, config.server.events):
            p = _ipc_path(ep)
            if p is not None:
                p.unlink(missing_ok=True)
        (home / "cti.pid").unlink(missing_ok=True)
        # a clean stop leaves complete WAVs: what the recordings' writer thread still holds
        media.flush(30.0) or slog.warning("recordings: the disk writer not done after 30 s")
        try:
            (world if world is not None else service.board).close()
        except Exception:  # pragma: no cover
            pass
        logs.teardown(log_handler)


def run(config: Config, speed: float = 1.0, seconds: float | None = None,
        realtime: int = 0) -> int:
    """Blocking entry point for ``cti serve``."""
    asyncio.run(serve(config, speed=speed, seconds=seconds, realtime=realtime))
    return 0


def _register_table() -> None:
    """Until the concerns' modules register their own (issue #15): the table above, with
    the ``op_*`` methods of :class:`Service` as handlers."""
    from cti.server.registry import REGISTRY, Operation
    for name, spec in OPS.items():
        meth = "op_" + name.replace(".", "_")

        def handler(svc, a, _m=meth, **kw):
            return getattr(svc, _m)(a, **kw)
        doc = (getattr(Service, meth).__doc__ or "").strip().split("\n\n")[0]
        REGISTRY.add(Operation(name, handler, spec, " ".join(doc.split()),
                               deferred=name in ("channel.listen", "channel.tone",
                                                 "report.losses"),
                               audited=name in AUDITED_OPS))


_register_table()
