"""Requests at the door: argument specifications (:class:`Arg`), their checking, and
their JSON Schema.

Every operation's arguments are a dict name -> :class:`Arg`, registered with the
operation (cti/server/registry.py); :func:`check_args` checks a request's arguments
against it before the handler runs (ARCHITECTURE.md rule 6: a bad request gets an error
naming the field and changes nothing), and :func:`args_schema` gives the same
specification as JSON Schema (draft 2020-12) for the published contract. The
specifications shared by several concerns (:data:`SPAN`, :data:`CALL`, :data:`ID`...)
and small helpers that write result schemas (:func:`obj`, :func:`arr`) live here too.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from cti.server.config import MAX_SPANS
from drivers.numbers import (DIGITS, DTMF_DIGITS, IA5_DIGITS, NumberError, check_digits,
                             parse_number)

__all__ = ["RequestError", "Arg", "check_value", "check_args", "parse_request", "RawJSON",
           "encode", "jsonable", "arg_schema", "args_schema", "obj", "arr", "merged",
           "nullable", "some", "ranges", "MAX_STR", "MAX_ITEMS", "MAX_DEPTH", "MAX_NODES",
           "MAX_INT", "MAX_MESSAGE", "MAX_REQUEST_BYTES", "SPAN", "CALL", "ID", "AGENT",
           "CAUSE", "CHANNEL", "REASON", "DATA"]

MAX_REQUEST_BYTES = 1 << 20
MAX_MESSAGE = 2000         # characters of an error message (the list of ops is the longest)


class RequestError(Exception):
    """A request that cannot be done; becomes ``{ok: false, error: {...}}``.

    ``code``: bad_request (not JSON, missing id/op), unknown_op, bad_arg, not_found,
    not_supported, replay_gap, failed (the board refused), busy (the server is at a
    bound: requests waiting, listens, reports; send again later), forbidden (the
    principal lacks the right the message names: cti/server/auth.py; or a policy bars what
    was asked, such as a number call barring bars: cti/centre/barring.py), internal.
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


# --- the specifications several concerns share ----------------------------------------

SPAN = Arg(int, required=True, lo=1, hi=MAX_SPANS)
CALL = Arg(int, required=True, lo=0)
ID = Arg(str, required=True, max_len=64)        # agent ids, call ids, queue and campaign names
AGENT = ID
CAUSE = Arg(int, default=16, lo=1, hi=127)     # Q.850 cause value
CHANNEL = Arg(str, required=True, max_len=16)
REASON = Arg(str, max_len=128)
DATA = Arg(dict)                               # attached data: free JSON, bounded


# --- error messages -------------------------------------------------------------------

def some(names, n: int = 10) -> str:
    """The first ``n`` of ``names`` for an error message (a peak has a thousand calls)."""
    names = list(names)
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(_key(x) for x in names[:n]) + more if names else "none"


def ranges(nums: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``: the timeslots or ports an error message lists."""
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out) or "none"


# --- the request --------------------------------------------------------------------------

def parse_request(raw) -> dict:
    """A request's bytes (or text, or dict) as ``{id, op, args?}``, checked: a
    :class:`RequestError` ``bad_request`` naming the field otherwise."""
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



# --- the reply ------------------------------------------------------------------------

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


def jsonable(v: Any) -> Any:
    """Make board results JSON-able: dataclasses, tuples, bytes (base64), enums."""
    t = type(v)
    if t is str or t is int or t is bool or v is None:     # most of what events carry
        return v
    if t is RawJSON:
        return v
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in v]
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return jsonable(dataclasses.asdict(v))
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "value") and hasattr(v, "name") and not isinstance(v, (int, str)):
        return jsonable(v.value)  # enum
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


# --- JSON Schema (draft 2020-12) ------------------------------------------------------

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean",
               list: "array", dict: "object"}
#: what check_value takes of a ``text`` string (drivers/numbers.py check_digits)
_PATTERNS = {"ia5": "^[0-9*#]*$", "dtmf": "^[0-9*#A-Da-d]*$", "digits": "^[0-9]*$"}
_TEXTS = {"number": "a telephone number: digits with an optional leading +, separators "
                    "allowed; taken in its normal form (drivers/numbers.py)",
          "ia5": "Q.931 IA5 number digits 0-9 * # (Q.931 4.5.8)",
          "dtmf": "DTMF keys 0-9 * # A-D (Q.23)",
          "digits": "ASCII digits 0-9"}


def arg_schema(arg: Arg) -> dict:
    """The JSON Schema of the values :func:`check_value` accepts for ``arg`` (a value
    left out or null is the business of the object around it: :func:`args_schema`)."""
    if arg.kind is object:
        return {}                   # anything: checked by the handler (campaign.load's rows)
    kinds = arg.kind if isinstance(arg.kind, tuple) else (arg.kind,)
    types = [_JSON_TYPES[k] for k in kinds]
    if "number" in types and "integer" in types:
        types.remove("integer")     # a JSON number includes the integers
    s: dict = {"type": types[0] if len(types) == 1 else types}
    if arg.choices is not None:
        s["enum"] = list(arg.choices)
    if "integer" in types or "number" in types:
        lo = arg.lo if arg.lo is not None else (-MAX_INT if "integer" in types else None)
        hi = arg.hi if arg.hi is not None else (MAX_INT if "integer" in types else None)
        if lo is not None:
            s["minimum"] = lo
        if hi is not None:
            s["maximum"] = hi
    if "string" in types:
        s["maxLength"] = arg.max_len or MAX_STR
        if arg.text in _PATTERNS:
            s["pattern"] = _PATTERNS[arg.text]
        if arg.text:
            s["description"] = _TEXTS[arg.text]
    if "array" in types:
        s["maxItems"] = arg.max_len or MAX_ITEMS
        if arg.items is not None:
            s["items"] = arg_schema(arg.items)
    if "object" in types:
        if arg.fields is not None:
            s.update(args_schema(arg.fields))
        else:
            if arg.max_len is not None:
                s["maxProperties"] = arg.max_len
            s.setdefault("description", f"free JSON data: at most {MAX_DEPTH} deep, "
                                        f"{MAX_NODES} values, strings of 1024 characters")
    if arg.default is not None:
        s["default"] = arg.default
    return s


def args_schema(spec: dict[str, Arg]) -> dict:
    """The JSON Schema of an op's ``args`` (or of an object argument's fields): an
    object of the named arguments only (:func:`check_args` refuses any other); the
    required ones must be there and not null, the others may be left out or null."""
    props = {}
    for name, a in spec.items():
        props[name] = arg_schema(a) if a.required else nullable(arg_schema(a))
    return {"type": "object", "properties": props,
            "required": [n for n, a in spec.items() if a.required],
            "additionalProperties": False}


# the pieces of result schemas, so that an operation's entry reads as its result does
INT = {"type": "integer"}
NUM = {"type": "number"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
ANY: dict = {}
OBJ = {"type": "object"}


def nullable(s: dict) -> dict:
    """``s`` or null."""
    if not s:
        return s
    s = dict(s)
    t = s.get("type")
    if t is not None and "enum" not in s and "const" not in s:
        s["type"] = ([t] if isinstance(t, str) else list(t)) + ["null"]
        return s
    if "enum" in s and t is not None:
        s["enum"] = list(s["enum"]) + [None]
        s["type"] = ([t] if isinstance(t, str) else list(t)) + ["null"]
        return s
    return {"anyOf": [s, {"type": "null"}]}


def arr(items: dict | None = None) -> dict:
    """An array of ``items``."""
    return {"type": "array"} if items is None else {"type": "array", "items": items}


def obj(required: dict | None = None, optional: dict | None = None, **kw) -> dict:
    """An object with ``required`` properties (always there) and ``optional`` ones; other
    properties are allowed (a result may carry more than its schema names)."""
    props = dict(required or {})
    props.update(optional or {})
    s: dict = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    s.update(kw)
    return s


def merged(base: dict, required: dict | None = None, optional: dict | None = None) -> dict:
    """The object schema ``base`` with more properties."""
    s = dict(base)
    s["properties"] = dict(base.get("properties", {}), **(required or {}), **(optional or {}))
    req = list(base.get("required", [])) + [k for k in (required or {})
                                             if k not in base.get("required", [])]
    if req:
        s["required"] = req
    return s
