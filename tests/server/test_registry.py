"""The registry of operations (cti/server/registry.py), as the concerns under
cti/server/ops/ fill it: every operation has its handler beside it in its concern's
module, an argument specification, a summary, a result schema that is valid JSON Schema
(draft 2020-12) and the events it may cause; and the argument schemas say what
``check_args`` does."""
from __future__ import annotations

import inspect

import jsonschema
import pytest

import cti.server.ops
from cti.server.auth import RIGHTS
from cti.server.registry import REGISTRY, Operation
from cti.server.schema import (CHANNEL, SPAN, Arg, RequestError, arg_schema, args_schema,
                               check_args)
from cti.server.service import OPS, Service

OPERATIONS = list(REGISTRY)
NAMES = [op.name for op in OPERATIONS]
Draft = jsonschema.Draft202012Validator


def test_every_request_is_tested_beside_its_concern():
    """A newcomer given a request name finds its handler and schema in the ops module that
    registered it (``op.concern``), and its tests in the test module at the same path under
    tests/: cti/server/ops/calls.py -> tests/server/ops/test_calls.py, where the request's
    name is asked for (as a quoted string: the tests speak the protocol's names)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent / "ops"
    untested = []
    for op in OPERATIONS:
        module = op.concern.rsplit(".", 1)[1]
        tests = here / f"test_{module}.py"
        text = tests.read_text() if tests.exists() else ""
        if f'"{op.name}"' not in text:
            untested.append(f"{op.name} (registered in {op.concern}): not in "
                            f"tests/server/ops/test_{module}.py")
    assert not untested, "\n".join(untested)


def test_the_registry_is_full_and_the_table_derived_from_it():
    assert len(OPERATIONS) == 100
    assert list(OPS) == NAMES
    assert all(OPS[op.name] is op.args for op in OPERATIONS)
    assert not any(name.startswith("op_") for name in vars(Service))


@pytest.mark.parametrize("op", OPERATIONS, ids=NAMES)
def test_every_op_has_handler_args_summary_result_and_events(op: Operation):
    assert callable(op.handler)
    assert op.handler.__name__ == op.name.replace(".", "_")
    params = list(inspect.signature(op.handler).parameters)
    assert params[:2] == ["svc", "a"]
    if op.deferred:
        assert {"rid", "token"} <= set(params)
    assert isinstance(op.args, dict) and all(isinstance(a, Arg) for a in op.args.values())
    assert op.summary.strip(), f"{op.name}: no summary (a docstring or summary=)"
    assert isinstance(op.result, dict) and op.result, f"{op.name}: no result schema"
    Draft.check_schema(op.result)
    assert isinstance(op.events, tuple) and all(isinstance(e, str) for e in op.events)
    assert len(op.rights) == 1 and op.rights[0] in RIGHTS     # cti/server/auth.py


@pytest.mark.parametrize("op", OPERATIONS, ids=NAMES)
def test_every_op_lives_in_its_concern_under_ops(op: Operation):
    mod = op.concern
    assert mod.startswith("cti.server.ops."), (op.name, mod)
    assert mod in {m.__name__ for m in cti.server.ops.MODULES}


@pytest.mark.parametrize("op", OPERATIONS, ids=NAMES)
def test_args_schema_is_valid_json_schema(op: Operation):
    s = args_schema(op.args)
    Draft.check_schema(s)
    assert s["type"] == "object" and s["additionalProperties"] is False
    assert set(s["properties"]) == set(op.args)
    assert s["required"] == [n for n, a in op.args.items() if a.required]


def test_args_schema_agrees_with_check_args():
    """What the schema refuses, check_args refuses; and the other way for the cases where
    JSON Schema can say it (a type, a range, a choice, a length, an unknown key)."""
    spec = OPS["channel.tone"]
    v = Draft(args_schema(spec))
    for args in ({"channel": "1/1", "freq": 1000}, {"channel": "1/1", "tone": "busy",
                                                     "ms": 200, "capture": None}):
        assert v.is_valid(args)
        check_args("channel.tone", spec, args)
    for args in ({}, {"channel": "1/1", "freq": 5000}, {"channel": "1/1", "tone": "hum"},
                 {"channel": "1/1", "x": 1}, {"channel": "x" * 17},
                 {"channel": "1/1", "capture": 1}, {"channel": None}):
        assert not v.is_valid(args), args
        with pytest.raises(RequestError):
            check_args("channel.tone", spec, args)


def test_arg_schema():
    assert arg_schema(SPAN) == {"type": "integer", "minimum": 1, "maximum": SPAN.hi}
    assert arg_schema(CHANNEL) == {"type": "string", "maxLength": 16}
    s = arg_schema(Arg(str, max_len=64, text="dtmf"))
    assert s["pattern"] == "^[0-9*#A-Da-d]*$" and s["maxLength"] == 64
    s = arg_schema(Arg(float, default=1.0, lo=0.001, hi=60))
    assert s == {"type": "number", "minimum": 0.001, "maximum": 60, "default": 1.0}
    s = arg_schema(Arg(list, max_len=64, items=Arg(str, max_len=128)))
    assert s == {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 128}}
    s = arg_schema(Arg(str, default="monitor", choices=("monitor", "whisper")))
    assert s["enum"] == ["monitor", "whisper"] and s["default"] == "monitor"
    rows = OPS["campaign.load"]["records"]
    assert arg_schema(rows)["maxItems"] == rows.max_len
    assert arg_schema(Arg(object)) == {}
    nested = arg_schema(Arg(dict, fields={"n": Arg(str, required=True)}))
    assert nested["required"] == ["n"] and nested["additionalProperties"] is False
