"""The contract as the suite's oracle (issue #15 item 2): every reply and every event a
test sees is validated against the published schemas, with jsonschema.

For the whole session it wraps
* the client library's reply parsing (``cti.clients.client.parse_reply``): the result
  against its op's result schema (and ``replay``'s events against theirs);
* event decoding (``cti.server.bus.decode``, which the client library uses): each event
  against its type's schema, and its topic against the catalogue's;
* the in-process server, ``Service.handle`` (its replies, the deferred ones out of
  ``Service.tick`` too) and ``Service.tick`` (the events it publishes).

A result is checked against ``REGISTRY.get(op).result`` as it is at check time (an op
whose result is None: only an object). A test that saw an invalid reply or event fails
after its own body, with a message naming the op or event type, the field and the
schema path.

Cost: jsonschema takes 0.1-0.4 ms an event here, and the peak tests publish tens of
thousands. So each schema is also compiled (:func:`fast_check`) into a plain Python
predicate over the keywords the catalogue uses (type, properties, required, enum, const,
minimum, maximum, maxLength, items, additionalProperties); it may only say "valid".
Anything it does not accept, or a schema with another keyword, goes to jsonschema, which
alone decides a failure; and one instance in :data:`SAMPLE` the predicate accepted is
validated by jsonschema too, a disagreement being a violation of its own
(tests/server/test_contract.py holds the two to the same answers).
"""
from __future__ import annotations

import functools
import json
import threading

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from cti.server.events import EVENTS
from cti.server.registry import REGISTRY

_ANY_OBJECT = {"type": "object"}
_lock = threading.Lock()
_violations: list[str] = []
_event_validators: dict[str, "_Checker"] = {}
_result_validators: dict[int, tuple[dict, "_Checker"]] = {}
_deferred: dict[tuple[int, object], str] = {}      # (service, request id) -> op
MAX_SHOWN = 10
SAMPLE = 200                # one accepted instance in SAMPLE is validated by jsonschema too
counts = {"events": 0, "replies": 0, "jsonschema": 0}
seen_types: set[str] = set()


# --- the fast path ---------------------------------------------------------------------------

_KNOWN = frozenset({"type", "properties", "required", "enum", "const", "minimum", "maximum",
                    "maxLength", "items", "additionalProperties", "title", "description",
                    "default"})


_PY_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
             "object": (dict,), "array": (list,), "null": (type(None),)}


def _same(a, b) -> bool:
    """JSON equality for enum/const, kept to what is certain: strings, None, bools and
    ints of the same type (anything else: not certain, so not accepted here)."""
    return type(a) is type(b) and type(a) in (str, bool, int, type(None)) and a == b


def _all(checks):
    if len(checks) == 1:
        return checks[0]

    def every(v):
        for c in checks:
            if not c(v):
                return False
        return True
    return every


def fast_check(schema):
    """A predicate ``f(instance) -> bool`` that is True only when ``instance`` is valid
    against ``schema`` (JSON Schema 2020-12: a bool is no number, 1.0 is an integer);
    None when the schema has a keyword it does not know."""
    if schema is True or schema == {}:
        return lambda v: True
    if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
        return None
    checks = []
    t = schema.get("type")
    if t is not None:
        ts = (t,) if isinstance(t, str) else tuple(t)
        if not set(ts) <= set(_PY_TYPES):
            return None
        pytypes = frozenset(x for n in ts for x in _PY_TYPES[n])
        whole_float = "integer" in ts and "number" not in ts

        def type_ok(v, pytypes=pytypes, whole_float=whole_float):
            tv = type(v)
            return tv in pytypes or whole_float and tv is float and v.is_integer()
        checks.append(type_ok)
    if "enum" in schema:
        allowed = tuple(schema["enum"])
        checks.append(lambda v, allowed=allowed: any(_same(v, x) for x in allowed))
    if "const" in schema:
        c = schema["const"]
        if type(c) is str:
            checks.append(lambda v, c=c: type(v) is str and v == c)
        else:
            checks.append(lambda v, c=c: _same(v, c))
    if "minimum" in schema:
        lo = schema["minimum"]
        checks.append(lambda v, lo=lo: type(v) not in (int, float) or v >= lo)
    if "maximum" in schema:
        hi = schema["maximum"]
        checks.append(lambda v, hi=hi: type(v) not in (int, float) or v <= hi)
    if "maxLength" in schema:
        n = schema["maxLength"]
        checks.append(lambda v, n=n: type(v) is not str or len(v) <= n)
    if "items" in schema:
        item = fast_check(schema["items"])
        if item is None:
            return None

        def items_ok(v, item=item):
            if type(v) is list:
                for x in v:
                    if not item(x):
                        return False
            return True
        checks.append(items_ok)
    props = {}
    for name, sub in (schema.get("properties") or {}).items():
        f = fast_check(sub)
        if f is None:
            return None
        props[name] = f
    required = tuple(schema.get("required") or ())
    extra = schema.get("additionalProperties", True)
    if extra is not True and extra != {} and extra is not False:
        return None
    if props or required or extra is False:
        closed = frozenset(props) if extra is False else None

        def obj(v, props=props, required=required, closed=closed):
            if type(v) is not dict:
                return True
            for name in required:
                if name not in v:
                    return False
            for name, x in v.items():
                f = props.get(name)
                if f is not None and not f(x):
                    return False
            return closed is None or v.keys() <= closed
        checks.append(obj)
    return _all(tuple(checks)) if checks else (lambda v: True)


class _Checker:
    """A schema's jsonschema validator and its fast predicate."""

    __slots__ = ("schema", "validator", "fast", "accepted")

    def __init__(self, schema):
        self.schema = schema
        self.validator = Draft202012Validator(schema)
        self.fast = fast_check(schema)
        self.accepted = 0

    def is_valid(self, instance) -> bool:
        if self.fast is not None and self.fast(instance):
            self.accepted += 1
            if self.accepted % SAMPLE != 1:
                return True
            counts["jsonschema"] += 1
            if not self.validator.is_valid(instance):
                _record(f"contract_check.fast_check accepted what jsonschema refuses: "
                        f"{_explain(self.validator, instance)}")
                return False
            return True
        counts["jsonschema"] += 1
        return self.validator.is_valid(instance)


def _record(msg: str) -> None:
    with _lock:
        if msg not in _violations:
            _violations.append(msg)


def take_violations() -> list[str]:
    with _lock:
        out = list(_violations)
        _violations.clear()
    return out


def _explain(validator: Draft202012Validator, instance) -> str:
    err = best_match(validator.iter_errors(instance))
    where = "/".join(map(str, err.absolute_path)) or "(top)"
    path = "/".join(map(str, err.absolute_schema_path))
    return f"field {where}: {err.message[:300]} (schema path {path})"


def check_event(event, topic: str | None = None, seen_by: str = "") -> None:
    """Record a violation when ``event`` (and the ``topic`` it came on) breaks the
    catalogue (cti/server/events.py)."""
    t = event.get("type") if isinstance(event, dict) else None
    seen_types.add(t)
    v = _event_validators.get(t)
    if v is None:
        et = EVENTS.get(t)
        if et is None:
            _record(f"event {t!r} ({seen_by}): not in the catalogue, cti/server/events.py "
                    f"(topic {topic!r})")
            return
        v = _event_validators[t] = _Checker(et.schema())
    counts["events"] += 1
    if not v.is_valid(event):
        _record(f"event {t} ({seen_by}): {_explain(v.validator, event)}")
        return
    if topic is not None:
        want = EVENTS[t].topic_for(event)
        if topic != want:
            _record(f"event {t} ({seen_by}): topic {topic!r}, the catalogue says {want!r} "
                    f"({EVENTS[t].topic})")


def check_result(op, result, seen_by: str = "", events: bool = True) -> None:
    """Record a violation when ``result`` breaks ``op``'s result schema (and, with
    ``events``, when an event ``replay`` returns breaks the catalogue)."""
    spec = REGISTRY.get(op) if isinstance(op, str) else None
    if spec is None:
        return                      # not a registered op: its reply was an error anyway
    schema = spec.result if spec.result is not None else _ANY_OBJECT
    got = _result_validators.get(id(schema))
    if got is None or got[0] is not schema:        # (the schema kept: its id stays its)
        got = _result_validators[id(schema)] = (schema, _Checker(schema))
    v = got[1]
    counts["replies"] += 1
    if not v.is_valid(result):
        _record(f"reply to {op} ({seen_by}): {_explain(v.validator, result)}")
    if events and op == "replay" and isinstance(result, dict) \
            and isinstance(result.get("events"), list):
        for ev in result["events"]:
            check_event(ev, None, f"{seen_by}, replay")


def _plain(result):
    """A result as the in-process server made it: the shell's ``replay`` splices the
    ring's JSON (RawJSON), not decoded here (that would undo what it saves); its events
    were checked when they went out of ``Service.tick``."""
    if isinstance(result, dict) and type(result.get("events")).__name__ == "RawJSON":
        return dict(result, events=[])
    return result


def check_reply(op, reply, seen_by: str, events: bool = True) -> None:
    if isinstance(reply, dict) and reply.get("ok") is True:
        check_result(op, _plain(reply.get("result")), seen_by, events)


_parsed = threading.local()          # the request the server's thread parsed last


def install() -> None:
    """Wrap the client library and the in-process server (once per session)."""
    import sys

    import cti.clients.client as client
    import cti.server.bus as bus
    import cti.server.service as service
    from cti.server.service import Service

    if getattr(bus.decode, "_contract", False):
        return

    decode = bus.decode

    @functools.wraps(decode)
    def checked_decode(frames):
        topic, ev = decode(frames)
        check_event(ev, topic, "decode")
        return topic, ev
    checked_decode._contract = True

    parse_reply = client.parse_reply

    @functools.wraps(parse_reply)
    def checked_parse_reply(body, op=None):
        result = parse_reply(body, op)
        if op is not None:
            check_result(op, result, "parse_reply")
        return result

    # every module that took the two by name (the client library, its event streams)
    for mod in [bus, client] + [m for n, m in list(sys.modules.items())
                                if n.startswith("cti.") and m is not None]:
        if getattr(mod, "decode", None) is decode:
            mod.decode = checked_decode
        if getattr(mod, "parse_reply", None) is parse_reply:
            mod.parse_reply = checked_parse_reply

    # the op of the request being handled: from the server's request parser, a method
    # (Service._parse) or a function of the schema module (parse_request)
    def remember(req):
        if isinstance(req, dict):
            _parsed.req = req.get("op"), req.get("id")
        return req
    if hasattr(Service, "_parse"):
        parse = Service._parse
        Service._parse = functools.wraps(parse)(lambda self, raw: remember(parse(self, raw)))
    else:
        parse_request = service.parse_request
        service.parse_request = functools.wraps(parse_request)(
            lambda raw: remember(parse_request(raw)))

    handle, tick = Service.handle, Service.tick

    @functools.wraps(handle)
    def checked_handle(self, raw, token=None, **kw):
        _parsed.req = (None, None)
        reply = handle(self, raw, token, **kw)
        op, rid = _parsed.req
        if reply is None:
            if op is not None:
                _deferred[(id(self), _hashable(rid))] = op
        else:
            # (replay's events: checked as they went out of Service.tick; a test may
            # put its own into the ring)
            check_reply(op, reply, "Service.handle", events=False)
        return reply

    @functools.wraps(tick)
    def checked_tick(self):
        out, done = tick(self)
        for pub in out:
            check_event(pub.event, pub.topic, "Service.tick")
        for _token, reply in done:
            rid = reply.get("id") if isinstance(reply, dict) else None
            op = _deferred.pop((id(self), _hashable(rid)), None)
            check_reply(op, reply, "Service.tick, deferred")
        return out, done

    Service.handle, Service.tick = checked_handle, checked_tick


def _hashable(rid):
    return rid if isinstance(rid, (str, int)) else repr(rid)


def _fail_on_violations(phase: str) -> None:
    bad = take_violations()
    if bad:
        more = f"\n  ... and {len(bad) - MAX_SHOWN} more" if len(bad) > MAX_SHOWN else ""
        pytest.fail(f"the contract (docs/contract, cti/server/events.py, the registry's "
                    f"result schemas) was broken during {phase}:\n  "
                    + "\n  ".join(bad[:MAX_SHOWN]) + more, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    res = yield
    _fail_on_violations("the test")
    return res


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    res = yield
    _fail_on_violations("teardown")
    return res


def pytest_terminal_summary(terminalreporter):
    if not counts["events"] and not counts["replies"]:
        return
    terminalreporter.write_line(
        f"contract: {counts['replies']} results and {counts['events']} events checked "
        f"({counts['jsonschema']} by jsonschema itself)")
    unseen = sorted(set(EVENTS) - seen_types)
    if unseen and terminalreporter.config.option.verbose > 0:
        terminalreporter.write_line(f"contract: event types no test saw: {', '.join(unseen)}")
