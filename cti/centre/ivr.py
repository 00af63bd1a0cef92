"""IVR: flows written as data, run per call by a sans-I/O session; the IVR port pool.

Flows come from the configuration's ``[ivr.flows.NAME]`` tables. :func:`parse_flows`
checks a plain dict (what tomllib gives) and returns :class:`Flow` objects, or raises
:class:`FlowError` listing every problem with its key path
(``ivr.flows.main.nodes.menu.branches.9: no node 'sales2'``), so config.py can add the line.

A flow is a start node and a table of named nodes::

    [ivr.flows.main]
    start = "welcome"                  # default: the first node
    fail_prompt = "goodbye"            # said by the Hangup when retries run out and no on_fail

    [ivr.flows.main.nodes.welcome]
    type = "play"
    prompt = "welcome"                 # a prompt name, or a list of them
    next = "menu"

    [ivr.flows.main.nodes.menu]
    type = "menu"
    prompt = "menu"
    timeout = 5                        # s after the prompt for the (first) digit
    retries = 2                        # further tries after the first (invalid or no input)
    invalid = "invalid"                # played before the menu again on a wrong key
    on_fail = "sales"                  # after the last try (default: hang up)
    branches = { 1 = "order", 2 = "sales", 3 = "message", 4 = "callback" }

Node types and their keys (``*`` required):

``play``      prompt*, next*, barge_in (false)
``menu``      prompt, branches*, digits (1), timeout (5), interdigit (3), retries (2),
              invalid, no_input, on_fail, barge_in (true)
``collect``   prompt, next*, store_as*, min_digits (1), max_digits (20),
              terminator ("#", "" for none), timeout (5), interdigit (3), retries (2),
              invalid, no_input, on_fail, barge_in (true)
``lookup``    table*, key ("ani"), column (the key's name), store_as ("customer"),
              found*, missing*, timeout (5)
``say``       value* (a reference) or text*; as ("number" | "digits" | "prompt" |
              "text"), prefix (as="prompt": the prompt is prefix + value), before,
              after (prompt lists), missing (node when the value is absent), next*,
              barge_in (false)
``queue``     queue* or by_area = true; prompt (played before the call leaves)
``voicemail`` box*; prompt
``callback``  prompt ("callback_confirm"), queue, thanks ("callback_thanks"), confirm
              ("1"), min_digits (5), max_digits (15), terminator, timeout, interdigit,
              retries, invalid, no_input, on_fail, barge_in (true), ani_on_no_input
              (false). The confirm key alone, then ``#`` or the interdigit timeout, means
              "call me on my ANI"; anything of min_digits or more is the number to call;
              with ani_on_no_input no key at all also means the ANI (an imposed callback).
``set``       key*, value* or from* (a reference), next*
``branch``    key* (a reference), cases* ({value = node}), default*
``hangup``    prompt, reason ("normal")

A *reference* names a value: ``ani``, ``dnis``, ``digits`` (the last digits entered), or
a key of the call's data, dotted for nested tables (``customer.points``).

:class:`IvrSession` runs one call through one flow, h11/aioquic style: the centre passes
inputs (``start``, ``digit``, ``prompt_done``, ``lookup_result``, ``handle_timer``,
``hangup``) with ``now`` and takes events from ``next_event()``: :class:`Play`,
:class:`StopPlay`, :class:`Lookup`, :class:`DataChanged`, and exactly one of the
outcomes :class:`Route`, :class:`Voicemail`, :class:`Callback`, :class:`Hangup`,
:class:`AbandonedInIvr` (the second of the four places calls are lost, PRODUCT.md).

Prompts and digits: a prompt with barge-in stops at the first digit (the session emits
:class:`StopPlay`; no ``prompt_done`` is expected for it) and the digit counts; a digit
during a prompt without barge-in is discarded. A digit that stops a ``play`` or ``say``
is kept as type-ahead for the next menu, collect or callback node, which then skips its
prompt. Timers run from the end of the prompt: ``timeout`` for the first digit,
``interdigit`` between digits. After the last retry a node goes to ``on_fail`` or the
session hangs up (reason ``retries_exhausted``).

:class:`IvrPorts` is the pool of IVR ports (the field's rule: IVR ports + agent
positions = trunk channels); a call refused a port is a counted loss.
"""
from __future__ import annotations

import copy
import enum
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Container, Mapping

from cti.centre.prompts import TTS_PREFIX, say_digits, say_number

__all__ = [
    "FlowError",
    "Flow",
    "Node",
    "PlayNode",
    "MenuNode",
    "CollectNode",
    "LookupNode",
    "SayNode",
    "QueueNode",
    "VoicemailNode",
    "CallbackNode",
    "SetNode",
    "BranchNode",
    "HangupNode",
    "NODE_TYPES",
    "parse_flow",
    "parse_flows",
    "dissuasion_flow",
    "DISSUASION_MODES",
    "IvrSession",
    "IvrEvent",
    "Play",
    "StopPlay",
    "Lookup",
    "Route",
    "Voicemail",
    "Callback",
    "Hangup",
    "DataChanged",
    "AbandonedInIvr",
    "OUTCOMES",
    "IvrPorts",
    "PortCounters",
    "DTMF_DIGITS",
    "EXAMPLE_FLOWS_TOML",
]

DTMF_DIGITS = "0123456789*#ABCD"     # Q.23: sixteen key pairs
MAX_STEPS = 100                      # nodes entered for one input before the flow is a loop
MAX_TYPEAHEAD = 32


# ---------------------------------------------------------------------------------
# Flows as data

class FlowError(ValueError):
    """Flow definitions that do not hold together. ``errors`` is a list of
    ``(path, message)``, ``path`` a tuple of keys (``("ivr", "flows", "main", "nodes",
    "menu", "branches", "9")``) that config.py can turn into a line number; ``str()`` is
    one ``key.path: message`` per line."""

    def __init__(self, errors: list[tuple[tuple, str]]):
        self.errors = list(errors)
        super().__init__("\n".join(f"{'.'.join(map(str, p))}: {m}" for p, m in self.errors))


@dataclass(frozen=True)
class Node:
    name: str


@dataclass(frozen=True)
class PlayNode(Node):
    prompts: tuple[str, ...]
    next: str
    barge_in: bool = False


@dataclass(frozen=True)
class _InputNode(Node):
    prompts: tuple[str, ...]
    timeout: float
    interdigit: float
    retries: int
    invalid: tuple[str, ...]
    no_input: tuple[str, ...]
    on_fail: str | None
    barge_in: bool


@dataclass(frozen=True)
class MenuNode(_InputNode):
    branches: Mapping[str, str]
    digits: int = 1


@dataclass(frozen=True)
class CollectNode(_InputNode):
    next: str
    store_as: str
    min_digits: int = 1
    max_digits: int = 20
    terminator: str = "#"


@dataclass(frozen=True)
class CallbackNode(_InputNode):
    queue: str | None
    thanks: str | None
    confirm: str = "1"
    min_digits: int = 5
    max_digits: int = 15
    terminator: str = "#"
    ani_on_no_input: bool = False


@dataclass(frozen=True)
class LookupNode(Node):
    table: str
    key: str
    column: str
    store_as: str
    found: str
    missing: str
    timeout: float = 5.0


@dataclass(frozen=True)
class SayNode(Node):
    value: str | None          # a reference (as != "text")
    text: str | None           # a template with {references} (as == "text")
    mode: str                  # number | digits | prompt | text
    prefix: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    missing: str | None
    next: str
    barge_in: bool = False


@dataclass(frozen=True)
class QueueNode(Node):
    queue: str | None
    by_area: bool
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class VoicemailNode(Node):
    box: str
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetNode(Node):
    key: str
    value: Any
    source: str | None         # `from`: a reference to copy instead of a value
    next: str


@dataclass(frozen=True)
class BranchNode(Node):
    key: str
    cases: Mapping[str, str]
    default: str


@dataclass(frozen=True)
class HangupNode(Node):
    prompt: str | None
    reason: str = "normal"


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, Node]
    fail_prompt: str | None = None

    def prompts(self) -> set[str]:
        """Every prompt name the flow plays as written (not those a ``say`` node builds
        from data), for checking the prompt directory at start-up."""
        out: set[str] = set()
        if self.fail_prompt:
            out.add(self.fail_prompt)
        for n in self.nodes.values():
            for attr in ("prompts", "invalid", "no_input", "before", "after"):
                out.update(getattr(n, attr, ()) or ())
            for attr in ("prompt", "thanks"):
                v = getattr(n, attr, None)
                if v:
                    out.add(v)
        return out


_INPUT_KEYS = ("type", "prompt", "timeout", "interdigit", "retries", "invalid", "no_input",
               "on_fail", "barge_in")
_KEYS: dict[str, tuple[str, ...]] = {
    "play": ("type", "prompt", "next", "barge_in"),
    "menu": _INPUT_KEYS + ("branches", "digits"),
    "collect": _INPUT_KEYS + ("next", "store_as", "min_digits", "max_digits", "terminator"),
    "callback": _INPUT_KEYS + ("queue", "thanks", "confirm", "min_digits", "max_digits",
                               "terminator", "ani_on_no_input"),
    "lookup": ("type", "table", "key", "column", "store_as", "found", "missing", "timeout"),
    "say": ("type", "value", "text", "as", "prefix", "before", "after", "missing", "next",
            "barge_in"),
    "queue": ("type", "queue", "by_area", "prompt"),
    "voicemail": ("type", "box", "prompt"),
    "set": ("type", "key", "value", "from", "next"),
    "branch": ("type", "key", "cases", "default"),
    "hangup": ("type", "prompt", "reason"),
}
NODE_TYPES = tuple(_KEYS)
_FLOW_KEYS = ("start", "nodes", "fail_prompt", "description")
_SAY_MODES = ("number", "digits", "prompt", "text")
_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\}")


def _tname(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


class _Checker:
    """Collects errors with their paths while building nodes."""

    def __init__(self, known_prompts: Container[str] | None):
        self.errors: list[tuple[tuple, str]] = []
        self.known_prompts = known_prompts
        self.refs: list[tuple[tuple, str]] = []      # (path, node name) to resolve later

    def err(self, path: tuple, msg: str) -> None:
        self.errors.append((path, msg))

    def get(self, t: dict, path: tuple, key: str, kind: str, default: Any = None,
            required: bool = False, lo: float | None = None, hi: float | None = None) -> Any:
        p = path + (key,)
        if key not in t:
            if required:
                self.err(p, "required")
            return default
        v = t[key]
        if kind == "str":
            if not isinstance(v, str) or not v:
                self.err(p, f"must be a non-empty string, not {_tname(v)} {v!r}")
                return default
        elif kind == "bool":
            if not isinstance(v, bool):
                self.err(p, f"must be true or false, not {_tname(v)} {v!r}")
                return default
        elif kind in ("int", "num"):
            ok = (int,) if kind == "int" else (int, float)
            if isinstance(v, bool) or not isinstance(v, ok):
                self.err(p, f"must be {'an integer' if kind == 'int' else 'a number'}, "
                            f"not {_tname(v)} {v!r}")
                return default
            if lo is not None and v < lo or hi is not None and v > hi:
                rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
                self.err(p, f"{v!r} is out of range {rng}")
                return default
        return v

    def node_ref(self, t: dict, path: tuple, key: str, required: bool = True) -> str | None:
        v = self.get(t, path, key, "str", required=required)
        if v is not None:
            self.refs.append((path + (key,), v))
        return v

    def prompt_list(self, t: dict, path: tuple, key: str, required: bool = False,
                    default: tuple[str, ...] = ()) -> tuple[str, ...]:
        p = path + (key,)
        if key not in t:
            if required:
                self.err(p, "required")
            return default
        v = t[key]
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
            self.err(p, f"must be a prompt name or an array of them, not {_tname(v)} {v!r}")
            return default
        for i, name in enumerate(items):
            self.prompt_name(p if isinstance(v, str) else p + (i,), name)
        return tuple(items)

    def prompt_name(self, p: tuple, name: str) -> None:
        if name.startswith(TTS_PREFIX):
            return
        if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", name) or ".." in name:
            self.err(p, f"{name!r} is not a valid prompt name (letters, digits, '_', '-', '.')")
        elif self.known_prompts is not None and name not in self.known_prompts:
            self.err(p, f"no prompt {name!r}")

    def one_prompt(self, t: dict, path: tuple, key: str, default: str | None = None
                   ) -> str | None:
        v = self.get(t, path, key, "str", default=default)
        if v is not None and key in t:
            self.prompt_name(path + (key,), v)
        return v

    def ref(self, t: dict, path: tuple, key: str, required: bool = True,
            default: str | None = None) -> str | None:
        v = self.get(t, path, key, "str", default=default, required=required)
        if v is not None and key in t and not _REF.match(v):
            self.err(path + (key,), f"{v!r} is not a reference (ani, dnis, digits, or a "
                                    "data key such as customer.points)")
            return default
        return v

    def digit_string(self, t: dict, path: tuple, key: str, default: str,
                     allow_empty: bool = False, maxlen: int | None = None) -> str:
        if key not in t:
            return default
        v = t[key]
        if not isinstance(v, str) or (not v and not allow_empty) or \
                any(c not in DTMF_DIGITS for c in v) or (maxlen is not None and len(v) > maxlen):
            what = f"{'at most %d' % maxlen if maxlen else 'one or more'} DTMF keys (0-9 * # A-D)"
            self.err(path + (key,), f"must be {what}, not {_tname(v)} {v!r}")
            return default
        return v


def _input_common(c: _Checker, t: dict, path: tuple, default_prompt: tuple[str, ...] = ()
                  ) -> dict:
    return dict(
        prompts=c.prompt_list(t, path, "prompt", default=default_prompt),
        timeout=float(c.get(t, path, "timeout", "num", 5.0, lo=0.1, hi=3600)),
        interdigit=float(c.get(t, path, "interdigit", "num", 3.0, lo=0.1, hi=3600)),
        retries=c.get(t, path, "retries", "int", 2, lo=0, hi=100),
        invalid=c.prompt_list(t, path, "invalid"),
        no_input=c.prompt_list(t, path, "no_input"),
        on_fail=c.node_ref(t, path, "on_fail", required=False),
        barge_in=c.get(t, path, "barge_in", "bool", True),
    )


def _parse_node(c: _Checker, name: str, t: Any, path: tuple) -> Node | None:
    if not isinstance(t, dict):
        c.err(path, f"must be a table, not {_tname(t)}")
        return None
    kind = t.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        if "type" not in t:
            c.err(path + ("type",), f"required (one of {', '.join(NODE_TYPES)})")
        else:
            c.err(path + ("type",), f"{kind!r} is not one of {', '.join(NODE_TYPES)}")
        return None
    allowed = _KEYS[kind]
    for k in t:
        if k not in allowed:
            c.err(path + (k,), f"unknown key for a {kind} node (known: {', '.join(allowed)})")
    n0 = len(c.errors)
    node: Node | None = None
    if kind == "play":
        node = PlayNode(name, c.prompt_list(t, path, "prompt", required=True),
                        c.node_ref(t, path, "next"), c.get(t, path, "barge_in", "bool", False))
    elif kind == "menu":
        common = _input_common(c, t, path)
        digits = c.get(t, path, "digits", "int", 1, lo=1, hi=8)
        branches: dict[str, str] = {}
        bt = t.get("branches")
        if "branches" not in t:
            c.err(path + ("branches",), "required")
        elif not isinstance(bt, dict) or not bt:
            c.err(path + ("branches",), f"must be a table of key = node, not {_tname(bt)}")
        else:
            for k, v in bt.items():
                p = path + ("branches", str(k))
                if not k or any(ch not in DTMF_DIGITS for ch in k) or len(k) > digits:
                    c.err(p, f"{k!r} is not a choice of {digits} DTMF key"
                             f"{'s' if digits > 1 else ''} at most")
                elif not isinstance(v, str) or not v:
                    c.err(p, f"must be a node name, not {_tname(v)} {v!r}")
                else:
                    branches[k] = v
                    c.refs.append((p, v))
        node = MenuNode(name, **common, branches=branches, digits=digits)
    elif kind == "collect":
        common = _input_common(c, t, path)
        lo_ = c.get(t, path, "min_digits", "int", 1, lo=0, hi=64)
        hi_ = c.get(t, path, "max_digits", "int", 20, lo=1, hi=64)
        if lo_ > hi_:
            c.err(path + ("min_digits",), f"{lo_} is more than max_digits {hi_}")
        node = CollectNode(name, **common, next=c.node_ref(t, path, "next"),
                           store_as=c.ref(t, path, "store_as"), min_digits=lo_, max_digits=hi_,
                           terminator=c.digit_string(t, path, "terminator", "#", True, 1))
    elif kind == "callback":
        common = _input_common(c, t, path, default_prompt=("callback_confirm",))
        lo_ = c.get(t, path, "min_digits", "int", 5, lo=2, hi=32)
        hi_ = c.get(t, path, "max_digits", "int", 15, lo=2, hi=32)
        if lo_ > hi_:
            c.err(path + ("min_digits",), f"{lo_} is more than max_digits {hi_}")
        node = CallbackNode(name, **common, queue=c.get(t, path, "queue", "str"),
                            thanks=c.one_prompt(t, path, "thanks", "callback_thanks"),
                            confirm=c.digit_string(t, path, "confirm", "1", maxlen=1),
                            min_digits=lo_, max_digits=hi_,
                            terminator=c.digit_string(t, path, "terminator", "#", True, 1),
                            ani_on_no_input=c.get(t, path, "ani_on_no_input", "bool", False))
    elif kind == "lookup":
        key = c.ref(t, path, "key", required=False, default="ani")
        node = LookupNode(name, c.get(t, path, "table", "str", required=True), key,
                          c.get(t, path, "column", "str", key.rsplit(".", 1)[-1]),
                          c.ref(t, path, "store_as", required=False, default="customer"),
                          c.node_ref(t, path, "found"), c.node_ref(t, path, "missing"),
                          float(c.get(t, path, "timeout", "num", 5.0, lo=0.1, hi=3600)))
    elif kind == "say":
        mode = c.get(t, path, "as", "str", "number")
        if mode not in _SAY_MODES:
            c.err(path + ("as",), f"{mode!r} is not one of {', '.join(_SAY_MODES)}")
            mode = "number"
        value = text = None
        if mode == "text":
            text = c.get(t, path, "text", "str", required=True)
            if "value" in t:
                c.err(path + ("value",), 'not used with as = "text" (use {references} in text)')
        else:
            value = c.ref(t, path, "value")
            if "text" in t:
                c.err(path + ("text",), 'only with as = "text"')
        prefix = c.get(t, path, "prefix", "str", "")
        if "prefix" in t and mode != "prompt":
            c.err(path + ("prefix",), 'only with as = "prompt"')
        node = SayNode(name, value, text, mode, prefix, c.prompt_list(t, path, "before"),
                       c.prompt_list(t, path, "after"),
                       c.node_ref(t, path, "missing", required=False), c.node_ref(t, path, "next"),
                       c.get(t, path, "barge_in", "bool", False))
    elif kind == "queue":
        by_area = c.get(t, path, "by_area", "bool", False)
        queue = c.get(t, path, "queue", "str")
        if by_area and "queue" in t:
            c.err(path + ("queue",), "give either queue or by_area = true, not both")
        elif not by_area and queue is None and "queue" not in t:
            c.err(path + ("queue",), "required (or by_area = true)")
        node = QueueNode(name, None if by_area else queue, by_area,
                         c.prompt_list(t, path, "prompt"))
    elif kind == "voicemail":
        node = VoicemailNode(name, c.get(t, path, "box", "str", required=True),
                             c.prompt_list(t, path, "prompt"))
    elif kind == "set":
        key = c.ref(t, path, "key")
        if key in ("ani", "dnis", "digits"):
            c.err(path + ("key",), f"{key!r} is read-only (the call's own value)")
        source = c.ref(t, path, "from", required=False)
        if ("value" in t) == ("from" in t):
            c.err(path + ("value",), "give exactly one of value or from")
        node = SetNode(name, key, copy.deepcopy(t.get("value")), source,
                       c.node_ref(t, path, "next"))
    elif kind == "branch":
        cases: dict[str, str] = {}
        ct = t.get("cases")
        if "cases" not in t:
            c.err(path + ("cases",), "required")
        elif not isinstance(ct, dict):
            c.err(path + ("cases",), f"must be a table of value = node, not {_tname(ct)}")
        else:
            for k, v in ct.items():
                p = path + ("cases", str(k))
                if not isinstance(v, str) or not v:
                    c.err(p, f"must be a node name, not {_tname(v)} {v!r}")
                else:
                    cases[str(k)] = v
                    c.refs.append((p, v))
        node = BranchNode(name, c.ref(t, path, "key"), cases, c.node_ref(t, path, "default"))
    elif kind == "hangup":
        node = HangupNode(name, c.one_prompt(t, path, "prompt"),
                          c.get(t, path, "reason", "str", "normal"))
    return node if len(c.errors) == n0 else None


def parse_flow(name: str, table: Any, path: tuple = ("ivr", "flows"),
               known_prompts: Container[str] | None = None) -> Flow:
    """One flow from its table; ``path`` is where the flows table sits in the config."""
    return parse_flows({name: table}, path, known_prompts)[name]


def parse_flows(flows: Any, path: tuple = ("ivr", "flows"),
                known_prompts: Container[str] | None = None) -> dict[str, Flow]:
    """Every flow of the ``ivr.flows`` table. ``known_prompts`` (e.g. a
    :class:`cti.centre.prompts.PromptLibrary`) makes an unknown prompt name an error.
    Raises :class:`FlowError` with all the errors found."""
    c = _Checker(known_prompts)
    out: dict[str, Flow] = {}
    if not isinstance(flows, dict):
        raise FlowError([(path, f"must be a table of flows, not {_tname(flows)}")])
    for fname, ft in flows.items():
        fp = path + (fname,)
        if not isinstance(ft, dict):
            c.err(fp, f"must be a table, not {_tname(ft)}")
            continue
        for k in ft:
            if k not in _FLOW_KEYS:
                c.err(fp + (k,), f"unknown key (known here: {', '.join(_FLOW_KEYS)})")
        nt = ft.get("nodes")
        if not isinstance(nt, dict) or not nt:
            c.err(fp + ("nodes",), "required: a table of nodes" if nt is None else
                  f"must be a table of nodes, not {_tname(nt)}" if not isinstance(nt, dict)
                  else "has no nodes")
            continue
        c.refs = []
        nodes: dict[str, Node] = {}
        for nname, t in nt.items():
            node = _parse_node(c, nname, t, fp + ("nodes", nname))
            if node is not None:
                nodes[nname] = node
        for p, target in c.refs:
            if target not in nt:
                c.err(p, f"no node {target!r}")
        start = c.get(ft, fp, "start", "str", next(iter(nt)))
        if start not in nt:
            c.err(fp + ("start",), f"no node {start!r}")
        fail_prompt = c.one_prompt(ft, fp, "fail_prompt")
        if len(nodes) == len(nt):
            out[fname] = Flow(fname, start, nodes, fail_prompt)
    if c.errors:
        raise FlowError(c.errors)
    return out


# ---------------------------------------------------------------------------------
# Events

@dataclass(frozen=True)
class IvrEvent:
    pass


@dataclass(frozen=True)
class Play(IvrEvent):
    """Play these prompts in turn, then report ``prompt_done``. ``interruptible``: a
    digit stops it (barge-in). A name starting ``tts:`` is text to synthesise.
    ``play_id`` numbers the session's plays (1, 2, ...); passing it back to
    ``prompt_done`` makes a late report for a stopped prompt harmless."""
    prompts: tuple[str, ...]
    interruptible: bool
    play_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class StopPlay(IvrEvent):
    """Stop the prompt now (the caller barged in); no ``prompt_done`` is expected."""


@dataclass(frozen=True)
class Lookup(IvrEvent):
    """Look ``value`` up in ``table`` by ``key_column``; answer with ``lookup_result``."""
    table: str
    key_column: str
    value: str


@dataclass(frozen=True)
class DataChanged(IvrEvent):
    data: dict


@dataclass(frozen=True)
class Route(IvrEvent):
    """The call leaves the IVR for a queue; ``by_area``: the centre picks the queue by
    the ANI's prefix (``queue`` is None)."""
    queue: str | None
    data: dict
    by_area: bool = False


@dataclass(frozen=True)
class Voicemail(IvrEvent):
    box: str
    data: dict


@dataclass(frozen=True)
class Callback(IvrEvent):
    """The caller asked to be called back on ``number``; the centre keeps the request
    for ``queue``, plays ``prompt`` (the thanks) and clears the call."""
    number: str
    queue: str | None
    data: dict
    prompt: str | None = None


@dataclass(frozen=True)
class Hangup(IvrEvent):
    """The IVR ends the call: play ``prompt`` (if any), then clear."""
    reason: str
    prompt: str | None


@dataclass(frozen=True)
class AbandonedInIvr(IvrEvent):
    """The caller hung up in the IVR; ``path`` is the nodes visited (loss point 2)."""
    path: tuple[str, ...]


OUTCOMES = (Route, Voicemail, Callback, Hangup, AbandonedInIvr)


# ---------------------------------------------------------------------------------
# The session

class _Phase(enum.Enum):
    IDLE = "idle"            # not started
    PLAYING = "playing"      # a node's prompt is playing
    INPUT = "input"          # waiting for digits
    LOOKUP = "lookup"        # waiting for lookup_result
    ENDED = "ended"


_MISSING = object()


def _get_path(data: Mapping, key: str) -> Any:
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _set_path(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    cur = data
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


class IvrSession:
    """One call in one flow (sans-I/O: ``now`` in, events out, no clock).

    The centre drives it::

        s = IvrSession(flow, call_id, ani, dnis, data)
        s.start(now)
        ... s.digit(now, "1"); s.prompt_done(now); s.handle_timer(now) when
            now >= s.get_timer(); s.lookup_result(now, record); s.hangup(now)
        while (ev := s.next_event()) is not None: ...

    Inputs after the session ended are ignored; a digit that is not a DTMF key
    raises ValueError (the caller's bug, not the line's).
    """

    def __init__(self, flow: Flow, call: str, ani: str, dnis: str, data: dict | None = None):
        self.flow = flow
        self.call = call
        self.ani = ani or ""
        self.dnis = dnis or ""
        self._data: dict = copy.deepcopy(dict(data or {}))
        self._events: deque[IvrEvent] = deque()
        self._path: list[str] = []
        self._node: Node | None = None
        self._phase = _Phase.IDLE
        self._interruptible = False
        self._deadline: float | None = None
        self._timer_kind = ""
        self._entry = ""
        self._attempt = 0
        self._last_digits = ""
        self._typeahead: list[str] = []
        self._outcome: IvrEvent | None = None
        self._steps = 0
        self._started = False
        self._play_id = 0

    # -- properties ------------------------------------------------------------
    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self._path)

    @property
    def data(self) -> dict:
        return self._data

    @property
    def node(self) -> str | None:
        """The current node's name."""
        return self._node.name if self._node else None

    @property
    def ended(self) -> bool:
        return self._phase is _Phase.ENDED

    @property
    def outcome(self) -> IvrEvent | None:
        """The one Route/Voicemail/Callback/Hangup/AbandonedInIvr, once emitted."""
        return self._outcome

    @property
    def digits(self) -> str:
        """The digits last entered at a collect or callback node."""
        return self._last_digits

    # -- inputs ----------------------------------------------------------------
    def start(self, now: float) -> None:
        if self._started or self._phase is _Phase.ENDED:
            return
        self._started = True
        start = self.flow.start
        self._run(now, lambda: start)

    def digit(self, now: float, d: str) -> None:
        if not isinstance(d, str) or len(d) != 1 or d not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF key: {d!r}")
        if self._phase is _Phase.PLAYING:
            if not self._interruptible:
                return
            self._stop_play()
            if isinstance(self._node, _InputNode):
                self._phase = _Phase.INPUT
                self._run(now, lambda: self._input_digit(now, d))
            else:
                if len(self._typeahead) < MAX_TYPEAHEAD:
                    self._typeahead.append(d)
                self._run(now, lambda: self._played(now))
        elif self._phase is _Phase.INPUT:
            self._run(now, lambda: self._input_digit(now, d))

    def prompt_done(self, now: float, play_id: int | None = None) -> None:
        """The current prompt finished. With ``play_id`` (from :class:`Play`), a report
        for any other play is ignored."""
        if self._phase is not _Phase.PLAYING:
            return
        if play_id is not None and play_id != self._play_id:
            return
        self._interruptible = False
        if isinstance(self._node, _InputNode):
            self._phase = _Phase.INPUT
            self._arm(now, self._node.timeout, "first")
        else:
            self._run(now, lambda: self._played(now))

    def lookup_result(self, now: float, record: Mapping | None) -> None:
        if self._phase is not _Phase.LOOKUP:
            return
        node = self._node
        assert isinstance(node, LookupNode)
        self._disarm()
        if record is None:
            self._run(now, lambda: node.missing)
            return
        _set_path(self._data, node.store_as, copy.deepcopy(dict(record)))
        self._emit(DataChanged(copy.deepcopy(self._data)))
        self._run(now, lambda: node.found)

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        kind = self._timer_kind
        self._disarm()
        if self._phase is _Phase.INPUT:
            node = self._node
            if kind == "first" and isinstance(node, CallbackNode) and node.ani_on_no_input \
                    and self.ani:
                # an imposed callback: silence confirms the caller's own number
                self._run(now, lambda: self._complete(now, timed_out=True))
            elif kind == "first":
                self._run(now, lambda: self._fail(now, no_input=True))
            else:
                self._run(now, lambda: self._complete(now, timed_out=True))
        elif self._phase is _Phase.LOOKUP:
            node = self._node
            assert isinstance(node, LookupNode)
            self._run(now, lambda: node.missing)

    def hangup(self, now: float) -> None:
        """The caller left while in the IVR."""
        if self._phase is _Phase.ENDED:
            return
        self._stop_play(emit=False)
        self._end(AbandonedInIvr(self.path))

    def next_event(self) -> IvrEvent | None:
        return self._events.popleft() if self._events else None

    # -- machinery -------------------------------------------------------------
    def _emit(self, ev: IvrEvent) -> None:
        self._events.append(ev)

    def _end(self, outcome: IvrEvent) -> None:
        self._disarm()
        self._phase = _Phase.ENDED
        self._outcome = outcome
        self._typeahead.clear()
        self._emit(outcome)

    def _arm(self, now: float, seconds: float, kind: str) -> None:
        self._deadline = now + seconds
        self._timer_kind = kind

    def _disarm(self) -> None:
        self._deadline = None
        self._timer_kind = ""

    def _play(self, prompts: tuple[str, ...], interruptible: bool) -> None:
        self._disarm()
        self._phase = _Phase.PLAYING
        self._interruptible = interruptible
        self._play_id += 1
        self._emit(Play(tuple(prompts), interruptible, self._play_id))

    def _stop_play(self, emit: bool = True) -> None:
        if self._phase is _Phase.PLAYING:
            if emit:
                self._emit(StopPlay())
            self._interruptible = False

    def _run(self, now: float, step) -> None:
        """Run one input's step; a node name it returns is entered (and so on)."""
        self._steps = 0
        nxt = step()
        if nxt is not None and self._phase is not _Phase.ENDED:
            self._goto(now, nxt)

    def _goto(self, now: float, name: str | None) -> None:
        while name is not None and self._phase is not _Phase.ENDED:
            self._steps += 1
            if self._steps > MAX_STEPS:
                self._end(Hangup("flow_loop", self.flow.fail_prompt))
                return
            name = self._enter(now, self.flow.nodes[name])

    def _ref(self, ref: str) -> Any:
        if ref == "ani":
            return self.ani
        if ref == "dnis":
            return self.dnis
        if ref == "digits":
            return self._last_digits
        return _get_path(self._data, ref)

    def _enter(self, now: float, node: Node) -> str | None:
        """Enter ``node``; returns the next node to enter at once, or None to wait."""
        self._path.append(node.name)
        self._node = node
        self._disarm()
        self._phase = _Phase.IDLE
        if isinstance(node, PlayNode):
            if not node.prompts:
                return node.next
            self._play(node.prompts, node.barge_in)
            return None
        if isinstance(node, _InputNode):
            return self._begin_input(now, node)
        if isinstance(node, LookupNode):
            value = self._ref(node.key)
            if value is _MISSING or value is None or value == "" or isinstance(value, dict):
                return node.missing
            self._phase = _Phase.LOOKUP
            self._arm(now, node.timeout, "lookup")
            self._emit(Lookup(node.table, node.column, str(value)))
            return None
        if isinstance(node, SayNode):
            parts = self._say_parts(node)
            if parts is None:
                return node.missing if node.missing is not None else node.next
            if not parts:
                return node.next
            self._play(parts, node.barge_in)
            return None
        if isinstance(node, (QueueNode, VoicemailNode)):
            if node.prompts:
                self._play(node.prompts, False)
                return None
            self._leave(node)
            return None
        if isinstance(node, SetNode):
            value = self._ref(node.source) if node.source is not None else node.value
            if value is _MISSING:
                value = None
            _set_path(self._data, node.key, copy.deepcopy(value))
            self._emit(DataChanged(copy.deepcopy(self._data)))
            return node.next
        if isinstance(node, BranchNode):
            value = self._ref(node.key)
            if value is _MISSING or value is None:
                return node.default
            if isinstance(value, bool):
                value = "true" if value else "false"
            return node.cases.get(str(value), node.default)
        if isinstance(node, HangupNode):
            self._end(Hangup(node.reason, node.prompt))
            return None
        raise AssertionError(f"unknown node {node!r}")

    def _played(self, now: float) -> str | None:
        """The prompt of a play, say, queue or voicemail node finished (or was cut)."""
        node = self._node
        self._phase = _Phase.IDLE
        if isinstance(node, (PlayNode, SayNode)):
            return node.next
        if isinstance(node, (QueueNode, VoicemailNode)):
            self._leave(node)
        return None

    def _leave(self, node: QueueNode | VoicemailNode) -> None:
        data = copy.deepcopy(self._data)
        if isinstance(node, QueueNode):
            self._end(Route(node.queue, data, node.by_area))
        else:
            self._end(Voicemail(node.box, data))

    def _say_parts(self, node: SayNode) -> tuple[str, ...] | None:
        """The prompts a say node plays, or None when its value is missing."""
        if node.mode == "text":
            missing = False

            def sub(m: re.Match) -> str:
                nonlocal missing
                v = self._ref(m.group(1))
                if v is _MISSING or v is None:
                    missing = True
                    return ""
                return str(v)
            text = _TEMPLATE.sub(sub, node.text or "")
            if missing:
                return None
            return node.before + (TTS_PREFIX + text,) + node.after
        value = self._ref(node.value or "")
        if value is _MISSING or value is None or value == "" or isinstance(value, (dict, list)):
            return None
        if node.mode == "number":
            try:
                parts = say_number(value)
            except ValueError:
                return None
        elif node.mode == "digits":
            parts = say_digits(value)
            if not parts:
                return None
        else:
            word = str(value).strip().lower().replace(" ", "_")
            if not word or not re.match(r"^[a-z0-9_.\-]+$", node.prefix.lower() + word):
                return None
            parts = [node.prefix + word]
        return node.before + tuple(parts) + node.after

    # -- digit input (menu, collect, callback) ---------------------------------
    def _begin_input(self, now: float, node: _InputNode) -> str | None:
        self._attempt = 0
        self._entry = ""
        if self._typeahead:
            self._phase = _Phase.INPUT
            while self._typeahead and self._phase is _Phase.INPUT and self._node is node:
                d = self._typeahead.pop(0)
                nxt = self._input_digit(now, d)
                if nxt is not None:
                    return nxt
            if self._phase is not _Phase.INPUT or self._node is not node:
                self._typeahead.clear()
            return None
        return self._prompt_input(now, node, node.prompts)

    def _prompt_input(self, now: float, node: _InputNode, prompts: tuple[str, ...]
                      ) -> str | None:
        self._entry = ""
        if prompts:
            self._play(prompts, node.barge_in)
        else:
            self._phase = _Phase.INPUT
            self._arm(now, node.timeout, "first")
        return None

    def _input_digit(self, now: float, d: str) -> str | None:
        node = self._node
        assert isinstance(node, _InputNode)
        if isinstance(node, MenuNode):
            term = "#" if node.digits > 1 and "#" not in "".join(node.branches) else ""
            if term and d == term:
                return self._complete(now, timed_out=False)
            self._entry += d
            if len(self._entry) >= node.digits:
                return self._complete(now, timed_out=False)
        else:
            assert isinstance(node, (CollectNode, CallbackNode))
            if node.terminator and d == node.terminator:
                return self._complete(now, timed_out=False, terminated=True)
            self._entry += d
            if len(self._entry) >= node.max_digits:
                return self._complete(now, timed_out=False)
        self._arm(now, node.interdigit, "interdigit")
        return None

    def _complete(self, now: float, timed_out: bool, terminated: bool = False) -> str | None:
        """The entry is finished (max length, terminator, or interdigit timeout)."""
        node = self._node
        entry, self._entry = self._entry, ""
        self._disarm()
        if isinstance(node, MenuNode):
            target = node.branches.get(entry)
            if target is None:
                return self._fail(now, no_input=not entry)
            self._typeahead.clear()
            return target
        if isinstance(node, CollectNode):
            if len(entry) < node.min_digits:
                return self._fail(now, no_input=not entry and not terminated)
            self._last_digits = entry
            _set_path(self._data, node.store_as, entry)
            self._emit(DataChanged(copy.deepcopy(self._data)))
            return node.next
        assert isinstance(node, CallbackNode)
        if (entry == node.confirm and (timed_out or terminated)) or \
                (not entry and node.ani_on_no_input and self.ani):
            # the confirm key, or (imposed callback) nothing at all: the caller's own number
            number = self.ani
        elif len(entry) >= node.min_digits:
            number = entry
            self._last_digits = entry
        else:
            number = ""
        if not number:
            return self._fail(now, no_input=not entry and not terminated)
        self._end(Callback(number, node.queue, copy.deepcopy(self._data), node.thanks))
        return None

    def _fail(self, now: float, no_input: bool) -> str | None:
        """A wrong or missing entry: try again, or give up after the last retry."""
        node = self._node
        assert isinstance(node, _InputNode)
        self._typeahead.clear()
        self._attempt += 1
        if self._attempt > node.retries:
            if node.on_fail is not None:
                return node.on_fail
            self._end(Hangup("retries_exhausted", self.flow.fail_prompt))
            return None
        lead = node.no_input if no_input else node.invalid
        return self._prompt_input(now, node, lead + node.prompts)


# ---------------------------------------------------------------------------------
# IVR ports

@dataclass(frozen=True)
class PortCounters:
    offered: int     # calls that asked for a port
    refused: int     # of those, refused: every port busy (a loss at the IVR)
    peak: int        # most ports in use at once


class IvrPorts:
    """The IVR port pool. ``acquire`` a port when a call enters the IVR, ``release`` it
    when the call leaves; with every port busy ``acquire`` says False and the call is a
    counted loss at the IVR (PRODUCT.md, the second of the four places)."""

    def __init__(self, count: int):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"IVR port count must be an integer >= 0, not {count!r}")
        self.count = count
        self._holders: set[str] = set()
        self._offered = 0
        self._refused = 0
        self._peak = 0

    def acquire(self, call: str) -> bool:
        """A port for ``call``; True if it already holds one (not counted again)."""
        if call in self._holders:
            return True
        self._offered += 1
        if len(self._holders) >= self.count:
            self._refused += 1
            return False
        self._holders.add(call)
        self._peak = max(self._peak, len(self._holders))
        return True

    def release(self, call: str) -> bool:
        """Free ``call``'s port; False if it held none (a second release is harmless)."""
        if call in self._holders:
            self._holders.remove(call)
            return True
        return False

    def holds(self, call: str) -> bool:
        return call in self._holders

    @property
    def in_use(self) -> int:
        return len(self._holders)

    @property
    def free(self) -> int:
        return self.count - len(self._holders)

    @property
    def counters(self) -> PortCounters:
        return PortCounters(self._offered, self._refused, self._peak)


# ---------------------------------------------------------------------------------
# An example (the default demo flow; also a test fixture)

DISSUASION_MODES = ("offer", "impose")


def dissuasion_flow(queue: str, mode: str = "offer") -> Flow:
    """The peak-dissuasion flow of ``queue`` (a queue's ``dissuade`` policy, the case of
    PRODUCT.md: at the peak the IVR answers, says an agent will call back, keeps the
    number). ``offer``: the caller presses 1 for a callback or stays on the line and
    waits in the queue after all; ``impose``: the caller is told and only confirms the
    number (1, another number, or silence for the ANI). Named ``dissuade:QUEUE``."""
    if mode not in DISSUASION_MODES:
        raise ValueError(f"dissuasion mode must be one of {', '.join(DISSUASION_MODES)}, "
                         f"not {mode!r}")
    confirm = {"type": "callback", "prompt": "callback_confirm", "queue": queue,
               "thanks": "callback_thanks", "confirm": "1", "ani_on_no_input": True,
               "timeout": 5, "interdigit": 3, "retries": 1}
    if mode == "offer":
        nodes = {
            "offer": {"type": "menu", "prompt": ["peak_busy", "callback_offer"],
                      "branches": {"1": "confirm"}, "timeout": 5, "retries": 0,
                      "on_fail": "hold"},
            "confirm": confirm,
            "hold": {"type": "queue", "queue": queue, "prompt": "please_hold"},
        }
        start = "offer"
    else:
        nodes = {"notice": {"type": "play", "prompt": "peak_busy", "next": "confirm",
                            "barge_in": True},
                 "confirm": confirm}
        start = "notice"
    name = f"dissuade:{queue}"
    return parse_flow(name, {"start": start, "nodes": nodes,
                             "description": f"peak dissuasion ({mode}) of queue {queue}"})


EXAMPLE_FLOWS_TOML = '''
[ivr.flows.main]
start = "welcome"
fail_prompt = "goodbye"

[ivr.flows.main.nodes.welcome]
type = "play"
prompt = "welcome"
next = "menu"
barge_in = true

[ivr.flows.main.nodes.menu]
type = "menu"
prompt = "menu"
timeout = 5
retries = 2
invalid = "invalid"
no_input = "no_input"
on_fail = "sales"
branches = { 1 = "order", 2 = "sales", 3 = "message", 4 = "callback" }

[ivr.flows.main.nodes.order]
type = "collect"
prompt = "enter_order"
store_as = "order_id"
min_digits = 3
max_digits = 10
next = "find_order"
on_fail = "sales"

[ivr.flows.main.nodes.find_order]
type = "lookup"
table = "orders"
key = "order_id"
column = "order_id"
store_as = "order"
found = "say_status"
missing = "not_found"

[ivr.flows.main.nodes.say_status]
type = "say"
value = "order.status"
as = "prompt"
prefix = "order_status_"
before = ["order_status"]
missing = "sales"
next = "menu"

[ivr.flows.main.nodes.not_found]
type = "play"
prompt = "order_not_found"
next = "menu"

[ivr.flows.main.nodes.sales]
type = "queue"
queue = "sales"
prompt = "please_hold"

[ivr.flows.main.nodes.message]
type = "voicemail"
box = "sales"

[ivr.flows.main.nodes.callback]
type = "callback"
queue = "sales"
'''
