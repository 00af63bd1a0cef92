"""IVR flows as data: the flow configuration, its nodes, and the checks that turn a
configuration table into :class:`Flow` objects or a :class:`FlowError`.

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
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Container, Mapping

from cti.centre.prompts import TTS_PREFIX

DTMF_DIGITS = "0123456789*#ABCD"     # Q.23: sixteen key pairs


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
