"""The facade's result types (cti/clients/results.py) against the registry's result
schemas, so they cannot drift (issue #15 item 3), and an integrator's script through mypy.

For every operation, the return annotation of its facade method is walked beside the
operation's result schema: a TypedDict has exactly the schema's properties, its required
keys are the schema's ``required`` and the others ``NotRequired``; a nullable property is
``X | None`` and only then; an array is a ``list`` of its items' type, a closed object a
TypedDict, an open one ``dict[str, Any]``, a scalar its Python type; a schema of several
shapes (``channel.show``: a timeslot or a port) is a union of as many TypedDicts.
"""
from __future__ import annotations

import re
import subprocess
import sys
import types
import typing
from typing import Any

import pytest

import cti.server.service  # noqa: F401 - fills the registry
from cti.clients import facade, results
from cti.server.registry import REGISTRY
from tests.served import ROOT, cti_env

SCALARS = {"integer": int, "number": float, "string": str, "boolean": bool}


def _method(op: str):
    attr, name = facade.facade_name(op)
    return getattr(type(getattr(facade.Operations(), attr)), name)


def _split(hint) -> tuple[list, bool]:
    """``X | Y | None`` -> ``([X, Y], True)``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        parts = list(typing.get_args(hint))
    else:
        parts = [hint]
    return [p for p in parts if p is not type(None)], type(None) in parts


def _shapes(schema: dict) -> tuple[list[dict], bool]:
    """A schema's shapes without null, and whether null is one of them."""
    if "anyOf" in schema:
        shapes = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return shapes, len(shapes) < len(schema["anyOf"])
    t = schema.get("type")
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return [dict(schema, type=rest[0] if len(rest) == 1 else rest)], "null" in t
    return [schema], False


def check(hint, schema: dict, where: str, seen: set) -> None:
    """``hint`` says what ``schema`` says; an AssertionError naming ``where`` otherwise."""
    if not schema:                              # any JSON value
        assert hint is Any, f"{where}: the schema allows anything, the type is {hint}"
        return
    parts, none = _split(hint)
    shapes, null = _shapes(schema)
    assert none == null, f"{where}: {'nullable' if null else 'not nullable'} in the " \
                         f"schema, {hint} in the type"
    assert len(parts) == len(shapes), f"{where}: {len(shapes)} shapes, type {hint}"
    for part, shape in zip(parts, shapes):
        _check_one(part, shape, where, seen)


def _check_one(hint, schema: dict, where: str, seen: set) -> None:
    t = schema.get("type")
    if "enum" in schema and t is None:
        assert hint is str and all(isinstance(v, str) for v in schema["enum"]), where
        return
    if t in SCALARS:
        assert hint is SCALARS[t], f"{where}: {t} in the schema, {hint} in the type"
        return
    if t == "array":
        assert typing.get_origin(hint) is list, f"{where}: an array, {hint} in the type"
        if "items" in schema:
            check(typing.get_args(hint)[0], schema["items"], f"{where}[]", seen)
        return
    assert t == "object", f"{where}: schema type {t!r} has no Python type here"
    props = schema.get("properties")
    if not props:
        assert typing.get_origin(hint) is dict and typing.get_args(hint) == (str, Any), \
            f"{where}: an open object, {hint} in the type (dict[str, Any])"
        return
    assert typing.is_typeddict(hint), f"{where}: an object with properties, {hint} in the type"
    seen.add(hint.__name__)
    keys = set(hint.__required_keys__) | set(hint.__optional_keys__)
    assert keys == set(props), (f"{where} ({hint.__name__}): keys the schema lacks "
                                f"{sorted(keys - set(props))}, properties the type lacks "
                                f"{sorted(set(props) - keys)}")
    required = set(schema.get("required", ()))
    assert set(hint.__required_keys__) == required, (
        f"{where} ({hint.__name__}): required in the type, not the schema "
        f"{sorted(set(hint.__required_keys__) - required)}; required in the schema, "
        f"NotRequired in the type {sorted(required - set(hint.__required_keys__))}")
    fields = typing.get_type_hints(hint)        # NotRequired[X] -> X
    for name, prop in props.items():
        check(fields[name], prop, f"{where}.{name}", seen)


@pytest.mark.parametrize("op", [op.name for op in REGISTRY])
def test_every_methods_result_type_is_its_operations_result_schema(op):
    operation = REGISTRY.get(op)
    assert operation.result is not None, f"{op}: no result schema to type its result from"
    hint = typing.get_type_hints(_method(op))["return"]
    check(hint, operation.result, op, set())


def test_every_result_type_is_used():
    """results.py names nothing the facade does not return (a shape left behind when a
    schema changed)."""
    reached: set = set()
    for op in REGISTRY:
        check(typing.get_type_hints(_method(op.name))["return"], op.result, op.name, reached)
    assert set(results.__all__) == reached, sorted(set(results.__all__) ^ reached)


def test_the_check_finds_a_drift():
    """A key the schema lacks, a required key made optional, a nullable one made not:
    each is caught."""
    # the functional form: this module's annotations are strings, in which Python 3.11's
    # TypedDict does not see NotRequired
    moved = {"call_id": str, "to": str | None, "data": dict[str, Any]}
    schema = REGISTRY.get("call.transfer").result
    check(typing.TypedDict("Moved", moved), schema, "call.transfer", set())
    Extra = typing.TypedDict("Extra", dict(moved, agent=str))
    Loose = typing.TypedDict("Loose", dict(moved, data=typing.NotRequired[dict[str, Any]]))
    NotNull = typing.TypedDict("NotNull", dict(moved, to=str))

    for wrong, says in ((Extra, "keys the schema lacks ['agent']"),
                        (Loose, "NotRequired in the type ['data']"),
                        (NotNull, "call.transfer.to: nullable")):
        with pytest.raises(AssertionError, match=re.escape(says)):
            check(wrong, schema, "call.transfer", set())


# --- an integrator's script through mypy ------------------------------------------------------

INTEGRATOR = '''\
from cti.clients.client import AsyncRequester, Client


def desk(client: Client) -> str:
    moved = client.calls.transfer("k3f9-7-1", "1002", data={"ticket": 7})
    to: str | None = moved["to"]
    status = client.agents.login("1001", extension=1)
    extension: int | None = status["extension"]
    starting: list[int] = client.server.ping()["starting"]
    for queue in client.queues.list()["queues"]:
        waited: float = queue["longest_wait"]
    reveal_type(client.channels.show("1/5"))
    return moved["call_id"] + str(to) + str(extension) + str(starting)


async def desk_async(requester: AsyncRequester) -> str:
    moved = await requester.calls.transfer("k3f9-7-1", "1002")
    reveal_type(requester.agents.show("1001"))
    return moved["call_id"]


def mistakes(client: Client) -> None:
    client.calls.transfer("c1", "1002")["agent"]
    number: int = client.calls.transfer("c1", "1002")["call_id"]
    client.calls.transfer("c1")
    client.calls.transfer("c1", "1002", date={})
'''


def test_an_integrators_script_type_checks_with_mypy(tmp_path):
    """mypy sees the results' keys and types, the awaitables of AsyncRequester, and the
    mistakes of an integrator (a key no result has, a wrong type, a missing or misspelt
    argument)."""
    pytest.importorskip("mypy", reason="mypy not installed (pip install mypy)")
    script = tmp_path / "integrator.py"
    script.write_text(INTEGRATOR)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-error-summary",
         "--cache-dir", str(tmp_path / "cache"), "--python-version", "3.11", str(script)],
        cwd=ROOT, env=cti_env(MYPYPATH=str(ROOT)), capture_output=True, text=True,
        timeout=60)
    lines = out.stdout.replace(str(script), "integrator.py").splitlines()
    notes = [x for x in lines if ": note: " in x]
    errors = [x for x in lines if ": error: " in x]
    assert len(notes) == 2, out.stdout + out.stderr
    assert "cti.clients.results.Timeslot" in notes[0] and \
           "cti.clients.results.PortStatus" in notes[0], notes[0]
    assert "typing.Awaitable[TypedDict(" in notes[1] and "'extension': int | None" in notes[1], \
        notes[1]
    assert [x.split(":")[1] for x in errors] == ["23", "24", "25", "26"], out.stdout
    assert '"agent" is not a valid TypedDict key' in errors[0]
    assert 'has type "str", variable has type "int"' in errors[1]
    assert "Too few arguments" in errors[2]
    assert 'Unexpected keyword argument "date"' in errors[3]
    assert out.returncode == 1
