"""The published contract of the bus, generated from the registry of operations
(:mod:`cti.server.registry`) and the event catalogue (:mod:`cti.server.events`): JSON
Schema (draft 2020-12) for every request, result and event, and one AsyncAPI 3.0 document
for the whole bus (https://www.asyncapi.com/docs/reference/specification/v3.0.0).

    python -m cti.server.contract --write docs/contract   # make contract
    python -m cti.server.contract --check docs/contract   # exit 1 naming stale files

The files (docs/contract/): ``requests.json`` (each op's request, ``{id, op, args}``),
``results.json`` (each op's result), ``events.json`` (each event type), ``asyncapi.json``
(both sockets: the ROUTER's requests and replies, the PUB's events; ipc and tcp), and
``README.md``: the same operations and events as two tables a reader can scan (arguments,
result keys, events caused, what each does; each event's topic and fields), which
docs/protocol.md points at instead of describing them in prose. The test suite checks them
current (tests/server/test_contract.py) and validates every reply and event it sees against the
same schemas (tests/contract_check.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable

from cti.server.events import _CALL_FIELDS, EVENTS
from cti.server.registry import REGISTRY, Operation
from cti.server.schema import Arg, arg_schema, args_schema

__all__ = ["ERROR", "arg_schema", "args_schema", "request_schema", "result_schema",
           "reply_schema", "build", "asyncapi", "render", "check_schemas", "check_document",
           "readme", "write", "stale", "main"]

SCHEMA = "https://json-schema.org/draft/2020-12/schema"
FILES = ("requests.json", "results.json", "events.json", "asyncapi.json", "README.md")

#: ``error`` of a reply with ``ok: false`` (cti.server.service.RequestError.to_dict)
ERROR = {
    "type": "object",
    "properties": {
        "code": {"enum": ["bad_request", "unknown_op", "bad_arg", "not_found", "not_supported",
                          "replay_gap", "failed", "busy", "forbidden", "internal"]},
        "message": {"type": "string", "maxLength": 2000},
        "field": {"type": "string", "description": "the request field at fault: id, op, "
                  "args.span, args.records[3].number"},
    },
    "required": ["code", "message"],
}
REQUEST_ID = {"type": ["string", "integer"], "description": "chosen by the client, echoed "
              "in the reply"}


# the arguments' JSON Schema comes from cti/server/schema.py (arg_schema, args_schema)


# --- requests, results, replies ------------------------------------------------------------

def request_schema(op: Operation) -> dict:
    """The whole request message of ``op``: ``{id, op, args}``."""
    args = args_schema(op.args)
    required = ["id", "op"] + (["args"] if args.get("required") else [])
    s = {"title": op.name, "description": op.summary, "type": "object",
         "properties": {"id": REQUEST_ID, "op": {"const": op.name}, "args": args},
         "required": required, "additionalProperties": False}
    if not op.summary:
        del s["description"]
    return s


def result_schema(op: Operation) -> dict:
    """``op``'s result: its registered schema, else any object."""
    return op.result if op.result is not None else {"type": "object"}


def reply_schema(op: Operation, result_ref: dict | None = None,
                 error_ref: dict | None = None) -> dict:
    """The reply to ``op``: ``{id, ok: true, result}`` or ``{id, ok: false, error}``."""
    return {"title": f"{op.name} reply", "oneOf": [
        {"type": "object", "properties": {
            "id": REQUEST_ID, "ok": {"const": True},
            "result": result_ref or result_schema(op)},
         "required": ["id", "ok", "result"]},
        {"type": "object", "properties": {
            "id": {"type": ["string", "integer", "null"],
                   "description": "null when the request's id could not be read"},
            "ok": {"const": False}, "error": error_ref or ERROR},
         "required": ["id", "ok", "error"]}]}


def _ops() -> list[Operation]:
    import cti.server.service  # noqa: F401  (fills REGISTRY)
    return sorted(REGISTRY, key=lambda op: op.name)


def _bundle(title: str, description: str, defs: dict[str, dict], key: str,
            one_of: bool = True) -> dict:
    """A file of schemas under ``$defs``; ``one_of``: the file itself validates any one of
    them (requests by ``op``, events by ``type``)."""
    doc = {"$schema": SCHEMA, "$id": f"https://boardcti.invalid/contract/{key}.json",
           "title": title, "description": description, "$defs": defs}
    if one_of:
        doc["oneOf"] = [{"$ref": f"#/$defs/{name}"} for name in defs]
    return doc


def build() -> dict[str, dict]:
    """Every file of the contract: name -> document."""
    ops = _ops()
    requests = {op.name: request_schema(op) for op in ops}
    results = {op.name: result_schema(op) for op in ops}
    events = {t: et.schema() for t, et in sorted(EVENTS.items())}
    return {
        "requests.json": _bundle(
            "Requests", "Every request of the board server's ROUTER socket, {id, op, args} "
            "(docs/protocol.md, Requests).", requests, "requests"),
        "results.json": _bundle(
            "Results", "The result of every request, in {id, ok: true, result}; an error "
            "reply is {id, ok: false, error} (the error's schema: asyncapi.json "
            "components/schemas/error).", results, "results", one_of=False),
        "events.json": _bundle(
            "Events", "Every event of the board server's PUB socket (the second frame; "
            "the first is its topic) (docs/protocol.md, Events).", events, "events"),
        "asyncapi.json": asyncapi(ops),
        "README.md": readme(ops),
    }


# --- AsyncAPI 3.0 --------------------------------------------------------------------------

def _ref(*path: str) -> dict:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)}


def asyncapi(ops: Iterable[Operation] | None = None) -> dict:
    """One AsyncAPI 3.0 document for the bus, the server's side: it receives requests and
    sends their replies on the ROUTER, and sends events on the PUB."""
    from cti.server.service import PROTOCOL_VERSION

    ops = list(ops) if ops is not None else _ops()
    schemas: dict[str, dict] = {"error": ERROR}
    messages: dict[str, dict] = {}
    req_msgs: dict[str, dict] = {}
    ev_msgs: dict[str, dict] = {}
    operations: dict[str, dict] = {}
    for op in ops:
        schemas[f"request.{op.name}"] = request_schema(op)
        schemas[f"result.{op.name}"] = result_schema(op)
        schemas[f"reply.{op.name}"] = reply_schema(
            op, _ref("components", "schemas", f"result.{op.name}"),
            _ref("components", "schemas", "error"))
        for kind in ("request", "reply"):
            key = f"{op.name}.{kind}"
            messages[key] = {
                "name": key, "title": f"{op.name} {kind}", "summary": op.summary or op.name,
                "contentType": "application/json",
                "correlationId": _ref("components", "correlationIds", "id"),
                "payload": _ref("components", "schemas", f"{kind}.{op.name}")}
            req_msgs[key] = _ref("components", "messages", key)
        o: dict[str, Any] = {
            "action": "receive", "channel": _ref("channels", "requests"),
            "title": op.name, "summary": op.summary or op.name,
            "messages": [_ref("channels", "requests", "messages", f"{op.name}.request")],
            "reply": {"channel": _ref("channels", "requests"),
                      "messages": [_ref("channels", "requests", "messages",
                                        f"{op.name}.reply")]}}
        if op.events:
            o["x-events"] = list(op.events)
        if op.rights is not None:
            o["x-rights"] = list(op.rights)
        if op.deferred:
            o["x-deferred"] = True
        if op.audited:
            o["x-audited"] = True
        operations[op.name] = o
    for t, et in sorted(EVENTS.items()):
        schemas[f"event.{t}"] = et.schema()
        key = f"event.{t}"
        messages[key] = {
            "name": t, "title": t, "summary": et.summary, "contentType": "application/json",
            "payload": _ref("components", "schemas", key),
            "x-topic": et.topic, "x-source": et.source}
        ev_msgs[t] = _ref("components", "messages", key)
    operations["event.publish"] = {
        "action": "send", "channel": _ref("channels", "events"), "title": "events",
        "summary": "Every event, numbered by seq across all topics.",
        "messages": [_ref("channels", "events", "messages", t) for t in ev_msgs]}
    both = [_ref("servers", "ipc"), _ref("servers", "tcp")]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "boardcti board server",
            "version": str(PROTOCOL_VERSION),
            "description": "`cti serve` owns the board and publishes what happens on it; "
                           "every other tool is a client of two ZeroMQ sockets: requests "
                           "(ROUTER) and events (PUB). Generated from cti/server/registry.py "
                           "and cti/server/events.py by `make contract`; the prose is "
                           "docs/protocol.md.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "ipc": {"host": "{home}", "protocol": "zmq",
                    "description": "ZeroMQ over ipc: the socket files in the run folder "
                                   "(0700) of the server's home (--home, $CTI_HOME, "
                                   "server.home, else ./var); the home's owner is the "
                                   "administrator",
                    "variables": {"home": {"default": "var"}}},
            "tcp": {"host": "{host}:{port}", "protocol": "zmq",
                    "description": "ZeroMQ over tcp (server.listen: requests on the port, "
                                   "events on the next) with CurveZMQ: every client has a "
                                   "key issued by `cti admin key issue`, checked by ZAP",
                    "security": [{"type": "asymmetricEncryption",
                                  "description": "CurveZMQ (RFC 26) with ZAP (RFC 27)"}],
                    "variables": {"host": {"default": "127.0.0.1"},
                                  "port": {"description": "the endpoint's port"}}},
        },
        "channels": {
            "requests": {
                "address": "run/cti-req.sock", "title": "requests",
                "description": "ROUTER: one JSON request {id, op, args} a message (a DEALER "
                               "sends one frame; a REQ socket's empty delimiter is handled "
                               "too), answered {id, ok, result|error}. ipc: the file "
                               "run/cti-req.sock under home; tcp: server.listen's port.",
                "servers": both, "messages": req_msgs},
            "events": {
                "address": "run/cti-events.sock", "title": "events",
                "description": "XPUB: two frames a message, the topic (UTF-8, dotted; each "
                               "message's x-topic, where {field} is the event's field) and "
                               "the event as JSON. Subscribe to topic prefixes; a "
                               "subscription is granted as the subscriber's rights allow "
                               "(an agent's to call. as desk.AGENT.call.: its own calls' "
                               "events). ipc: the file run/cti-events.sock under home; "
                               "tcp: server.listen's port + 1.",
                "servers": both, "messages": ev_msgs},
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "correlationIds": {"id": {"location": "$message.payload#/id",
                                      "description": "a reply carries its request's id"}},
        },
    }


# --- README.md: the tables ---------------------------------------------------------------

README_HEAD = """\
# The bus contract (generated: do not edit)

Made by `make contract` (`python -m cti.server.contract --write docs/contract`) from the
registry of operations (cti/server/registry.py: each op's arguments and result schema,
registered beside its handler in cti/server/ops/) and the event catalogue
(cti/server/events.py). `tests/server/test_contract.py` fails when these files are stale. What
the schemas cannot say (framing, sockets, errors, ordering, replay) is docs/protocol.md.

| file | what |
|------|------|
| `requests.json` | JSON Schema (draft 2020-12) of every request, `{id, op, args}`, under `$defs/<op>`; the file itself validates any request |
| `results.json` | the `result` of every op's `{id, ok: true, result}`, under `$defs/<op>` |
| `events.json` | every event type the PUB socket sends (its JSON frame), under `$defs/<type>`; the file itself validates any event |
| `asyncapi.json` | AsyncAPI 3.0: the ROUTER channel (one operation per op, its request and reply messages, correlated by `id`) and the PUB channel (one message per event type, its topic in `x-topic`); servers `ipc` and `tcp` |
| `README.md` | this page: the same operations and events as tables |

The test suite validates every reply and every event it sees against these schemas
(tests/contract_check.py, jsonschema as the oracle).
"""


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, no bare ``|``."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _rst(text: str) -> str:
    """Docstring markup (``x``) as Markdown (`x`)."""
    return text.replace("``", "`")


def _arg(name: str, a: Arg) -> str:
    """``span``, ``reset? = false``, ``mode: off|local``, ``speed (0.01..1000)``."""
    s = f"`{name}`" if a.required else f"`{name}`?"
    if a.choices is not None:
        s += ": " + "|".join(f"`{c}`" for c in a.choices)
    elif a.lo is not None and a.hi is not None and not (a.kind is int and a.lo == 0):
        s += f" ({a.lo:g}..{a.hi:g})"
    if a.default not in (None, ""):
        s += f" = {json.dumps(a.default)}"
    return s


def _keys(schema: dict) -> str:
    """An object schema's properties, the optional ones marked ``?``."""
    if "anyOf" in schema:
        return " or ".join(_keys(s) for s in schema["anyOf"])
    props = schema.get("properties")
    if not props:
        return "object" if schema.get("type") == "object" else (schema.get("type") or "any")
    required = set(schema.get("required", ()))
    return "{" + ", ".join(k if k in required else f"{k}?" for k in props) + "}"


def _fields(fields: dict, required: tuple) -> str:
    """An event's fields, ``data`` with its own keys."""
    out = []
    for k, s in fields.items():
        name = k if k in required else f"{k}?"
        out.append(f"{name}: {_keys(s)}" if k == "data" and s.get("properties") else name)
    return ", ".join(out) or "–"


def readme(ops: Iterable[Operation] | None = None) -> str:
    """docs/contract/README.md: the files, then every operation and every event type in
    a table, from the same registry and catalogue as the schemas."""
    ops = list(ops) if ops is not None else _ops()
    lines = [README_HEAD, "## Operations", "",
             "Arguments: required, or `?` optional (`= default`); the ranges, lengths and "
             "number formats are in requests.json. Result: its keys, `?` when not always "
             "there (results.json has their types). Flags: `deferred` (the reply comes from "
             "a later tick; other requests are answered meanwhile), `audited` (logged with "
             "who asked).", "",
             "| op | arguments | result | events it may cause | flags | what |",
             "|----|-----------|--------|--------------------|-------|------|"]
    for op in ops:
        args = ", ".join(_arg(n, a) for n, a in op.args.items()) or "–"
        flags = " ".join(f for f, on in (("deferred", op.deferred), ("audited", op.audited))
                         if on)
        events = ", ".join(f"`{e}`" for e in op.events) or "–"
        lines.append(f"| `{op.name}` | {_cell(args)} | {_cell(_keys(result_schema(op)))} | "
                     f"{events} | {flags} | {_cell(_rst(op.summary))} |")
    always = ("call_id", "ani", "dnis", "channel", "state")
    call_common = ", ".join(k if k in always else f"{k}?" for k in _CALL_FIELDS)
    lines += ["", "## Events", "",
              "Every event also has `seq`, `ts` and `type`; every `call.*` event also has "
              f"{call_common} (below only where one is always there). Fields: `?` when not always there "
              "(a field whose value would be null is left out); events.json has their "
              "types and descriptions. The topic is the type unless shown: `{field}` is "
              "the event's field.", "",
              "| type | topic | fields | from | what |",
              "|------|-------|--------|------|------|"]
    for t, et in sorted(EVENTS.items()):
        fields = et.fields
        if t.startswith("call."):
            # the common call fields once, above; one an event always has, in its row
            fields = {k: v for k, v in fields.items() if k not in _CALL_FIELDS
                      or k in et.required and k not in always}
        topic = f"`{et.topic}`" if et.topic != t else ""
        lines.append(f"| `{t}` | {topic} | {_cell(_fields(fields, et.required))} | "
                     f"{_cell(et.source)} | {_cell(_rst(et.summary))} |")
    return "\n".join(lines) + "\n"


# --- checks --------------------------------------------------------------------------------

#: The AsyncAPI 3.0 document's required shape (a subset of the spec's own schema): what
#: the generator promises, checked on every build.
ASYNCAPI_SHAPE = {
    "type": "object",
    "required": ["asyncapi", "info", "channels", "operations", "components"],
    "properties": {
        "asyncapi": {"const": "3.0.0"},
        "info": {"type": "object", "required": ["title", "version"],
                 "properties": {"title": {"type": "string"}, "version": {"type": "string"}}},
        "servers": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["host", "protocol"]}},
        "channels": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"address": {"type": ["string", "null"]},
                                             "messages": {"type": "object"}}}},
        "operations": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["action", "channel"],
            "properties": {"action": {"enum": ["send", "receive"]},
                           "channel": {"type": "object", "required": ["$ref"]},
                           "messages": {"type": "array",
                                        "items": {"type": "object", "required": ["$ref"]}}}}},
        "components": {"type": "object", "properties": {
            "schemas": {"type": "object", "propertyNames": {"pattern": "^[a-zA-Z0-9.\\-_]+$"}},
            "messages": {"type": "object", "propertyNames": {"pattern": "^[a-zA-Z0-9.\\-_]+$"},
                         "additionalProperties": {"type": "object"}}}},
    },
}


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _resolve(doc: dict, ref: str) -> Any:
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def check_document(doc: dict) -> None:
    """The AsyncAPI document has its required shape and every local $ref resolves
    (jsonschema.ValidationError / LookupError otherwise)."""
    from jsonschema import Draft202012Validator

    Draft202012Validator(ASYNCAPI_SHAPE).validate(doc)
    for ref in _refs(doc):
        if not ref.startswith("#/"):
            raise LookupError(f"$ref {ref}: only local references are made")
        try:
            _resolve(doc, ref)
        except (KeyError, IndexError, TypeError):
            raise LookupError(f"$ref {ref} resolves to nothing") from None


def check_schemas(files: dict[str, dict]) -> int:
    """Every generated JSON Schema is a valid draft 2020-12 schema (SchemaError
    otherwise); returns how many were checked. Each file is checked whole, which checks
    every schema under its ``$defs`` (the meta-schema's ``$defs`` keyword), and the
    AsyncAPI document's component schemas the same way."""
    from jsonschema import Draft202012Validator

    n = 0
    for name in ("requests.json", "results.json", "events.json"):
        Draft202012Validator.check_schema(files[name])
        n += len(files[name]["$defs"])
    schemas = files["asyncapi.json"]["components"]["schemas"]
    Draft202012Validator.check_schema({"$schema": SCHEMA, "$defs": schemas})
    return n + len(schemas)


# --- the command ---------------------------------------------------------------------------

def render(doc: dict | str) -> str:
    if isinstance(doc, str):                # README.md
        return doc
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write(out: str | Path, check: bool = True) -> list[Path]:
    """Write the contract's files into ``out`` (files that did not change are left
    alone); ``check``: their shape and schemas first (a few seconds: the meta-schema)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = build()
    if check:
        check_document(files["asyncapi.json"])
        check_schemas(files)
    paths = []
    for name, doc in files.items():
        p = out / name
        text = render(doc)
        if not p.exists() or p.read_text() != text:
            p.write_text(text)
        paths.append(p)
    return paths


def stale(out: str | Path) -> list[str]:
    """The files under ``out`` that differ from what :func:`build` makes now (missing,
    changed, or a .json file the contract no longer has)."""
    out = Path(out)
    files = {name: render(doc) for name, doc in build().items()}
    bad = [str(out / name) for name, text in files.items()
           if not (out / name).exists() or (out / name).read_text() != text]
    if out.is_dir():
        bad += [str(p) for p in sorted(out.glob("*.json")) if p.name not in files]
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cti.server.contract", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", metavar="DIR", help="write the contract's files into DIR")
    g.add_argument("--check", metavar="DIR", help="exit 1 when DIR's files are stale")
    a = p.parse_args(argv)
    if a.write:
        for path in write(a.write):
            print(path)
        return 0
    bad = stale(a.check)
    if bad:
        print("stale contract files (run `make contract`):\n  " + "\n  ".join(bad),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
