"""The typed facade of the client library (cti/clients/facade.py, issue #15 item 3).

Against the registry: every operation the server answers has its method, and every
method's parameters are the operation's arguments (``from`` is ``ani``), required ones
positional, the others keyword-only with the server's defaults and types, so the facade
cannot drift from the server. End to end against ``cti serve``: an agent logs in, the
simulated exchange offers a call, the agent answers, transfers it to a colleague who
answers, the call is hung up and its CDR read back, all through the facade.
"""
from __future__ import annotations

import asyncio
import collections.abc
import inspect
import json
import time
import types
import typing

import pytest

import cti.server.service  # noqa: F401 - fills the registry
from cti.clients import facade
from cti.clients.cli import main
from cti.clients.cli.request import request_args
from cti.clients.client import AsyncRequester, Client, Requester
from cti.server.registry import REGISTRY
from tests.served import start_server, stop_server

CONCERN_CLASSES = {attr: type(getattr(facade.Operations(), attr))
                   for attr in sorted(set(facade.CONCERNS.values()))}


class Recorder(facade.Operations):
    """A requester that sends nothing: it keeps what the facade asked for."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def call(self, op, args):
        self.sent.append((op, args))
        return {"op": op}


class AsyncRecorder(Recorder):
    async def call(self, op, args):
        return Recorder.call(self, op, args)


def _method(op_name: str):
    attr, name = facade.facade_name(op_name)
    return getattr(CONCERN_CLASSES[attr], name, None)


def _plain(hint) -> set:
    """``int | None`` -> ``{int}``; ``Sequence[str]`` -> ``{Sequence}``: what to compare
    with the argument's kind."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        parts = [a for a in typing.get_args(hint) if a is not type(None)]
    else:
        parts = [hint]
    return {typing.get_origin(a) or a for a in parts}


KIND = {int: int, float: float, str: str, bool: bool, dict: dict,
        list: collections.abc.Sequence}


def _sample(arg):
    """A value of the argument's kind, to call a method with."""
    if arg.choices:
        return arg.choices[0]
    kind = arg.kind[0] if isinstance(arg.kind, tuple) else arg.kind
    return {int: 1, float: 1.5, str: "x", bool: True, dict: {"k": "v"},
            list: ["x"]}[kind]


# --- the facade against the registry --------------------------------------------------------

def test_the_registry_is_filled():
    assert len(REGISTRY) > 60 and "call.transfer" in REGISTRY


@pytest.mark.parametrize("op", [op.name for op in REGISTRY])
def test_every_operation_has_its_method_with_the_operations_arguments(op):
    operation = REGISTRY.get(op)
    meth = _method(op)
    assert meth is not None, f"{op}: no facade method {facade.facade_name(op)}"
    assert meth.__doc__ and meth.__doc__.strip(), f"{op}: no docstring"
    params = list(inspect.signature(meth).parameters.values())[1:]      # after self
    names = {facade.PARAMETER.get(n, n): n for n in operation.args}
    assert [p.name for p in params if p.name in names] == [p.name for p in params], \
        f"{op}: parameters the operation does not take"
    assert {p.name for p in params} == set(names), f"{op}: arguments without a parameter"
    hints = typing.get_type_hints(meth)
    for p in params:
        arg = operation.args[names[p.name]]
        if arg.required:
            assert p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty, (op, p.name)
        else:
            assert p.kind is p.KEYWORD_ONLY, (op, p.name)
            assert p.default == arg.default and type(p.default) in (type(arg.default), int,
                                                                    float), (op, p.name)
        kinds = arg.kind if isinstance(arg.kind, tuple) else (arg.kind,)
        assert _plain(hints[p.name]) == {KIND.get(k, k) for k in kinds}, \
            (op, p.name, hints[p.name])


@pytest.mark.parametrize("op", [op.name for op in REGISTRY])
def test_every_method_sends_its_operation_with_the_arguments_by_name(op):
    operation = REGISTRY.get(op)
    rec = Recorder()
    attr, name = facade.facade_name(op)
    required = {facade.PARAMETER.get(n, n): _sample(a) for n, a in operation.args.items()
                if a.required}
    optional = {facade.PARAMETER.get(n, n): _sample(a) for n, a in operation.args.items()
                if not a.required}
    assert getattr(getattr(rec, attr), name)(*required.values()) == {"op": op}
    sent_op, sent = rec.sent[-1]
    defaults = {n: a.default for n, a in operation.args.items()
                if not a.required and a.default is not None}
    assert sent_op == op
    assert sent == {**{n: v for n, v in zip([n for n, a in operation.args.items()
                                            if a.required], required.values())}, **defaults}
    getattr(getattr(rec, attr), name)(*required.values(), **optional)
    assert rec.sent[-1] == (op, {n: _sample(a) for n, a in operation.args.items()})
    # the same class on an asyncio requester gives an awaitable
    arec = AsyncRecorder()
    assert asyncio.run(getattr(getattr(arec, attr), name)(*required.values())) == {"op": op}
    assert arec.sent[-1][0] == op


def test_no_method_without_its_operation():
    for attr, cls in CONCERN_CLASSES.items():
        for name, fn in vars(cls).items():
            if name.startswith("_") or not callable(fn):
                continue
            op = name if attr == "server" and name in REGISTRY else facade.op_name(attr, name)
            assert op in REGISTRY, f"{attr}.{name}: no operation {op}"


def test_the_clients_carry_the_facade():
    for cls in (Client, Requester, AsyncRequester):
        for attr, concern in CONCERN_CLASSES.items():
            assert isinstance(getattr(cls, attr), property) and issubclass(concern,
                                                                          facade._Concern)
    c = Client("/nonexistent")
    try:
        assert isinstance(c.calls, facade.Calls) and c.calls._requester is c
    finally:
        c.close()


# --- end to end against cti serve -------------------------------------------------------------

def _until(what: str, cond, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``cti serve`` as a process, for the tests of this module (each leaves the service
    queue's agents, 1001..1004, and the CDRs to the integrator's test)."""
    home = tmp_path_factory.mktemp("facade") / "home"
    proc = start_server(home, "--speed", "4")
    yield home
    stop_server(home, proc)


def test_an_integrators_call_through_the_facade(served):
    """Log in, a call from the exchange, answer, blind transfer with data, answer, hang up,
    read the CDR: every step a facade method against a running ``cti serve``."""
    home = served
    with Client(home, timeout=5) as c:
        assert c.server.ping()["pong"] is True
        a = c.agents.login("1001")
        assert (a["agent"], a["state"], a["extension"]) == ("1001", "ready", 1)
        b = c.agents.login("1002", extension=2)
        assert b["extension"] == 2
        # not ready while the call comes: the service queue rings all its agents
        assert c.agents.not_ready("1002", reason="lunch")["reason"] == "lunch"
        offered = c.sim.call(1, "4008005555", ani="13800138000")
        assert offered["span"] == 1 and not offered["congested"]
        _until("the agent's phone rings",
               lambda: c.sim.phone(1, "status")["ringing"])
        calls = c.calls.list()["calls"]
        assert len(calls) == 1
        call = calls[0]
        assert (call["ani"], call["dnis"], call["queue"]) == \
            ("13800138000", "4008005555", "service")
        cid = call["call_id"]
        assert c.calls.answer(cid, agent="1001") == {"call_id": cid, "extension": 1}
        _until("1001 busy on the call", lambda: c.agents.show("1001")["state"] == "busy")
        assert c.calls.show(cid)["state"] == "established"
        c.agents.ready("1002")
        moved = c.calls.transfer(cid, "1002", data={"order": "A123"})
        assert moved["call_id"] == cid and moved["to"] == "1002"
        assert moved["data"]["order"] == "A123"
        _until("the colleague's phone rings", lambda: c.sim.phone(2, "status")["ringing"])
        assert c.calls.answer(cid, agent="1002")["extension"] == 2
        shown = _until("the colleague on the call", lambda: (
            x := c.calls.show(cid))["state"] == "established" and x["agent"] == "1002" and x)
        assert shown["data"]["order"] == "A123"
        assert c.calls.hangup(cid)["call_id"] == cid
        # the CDR: counted by outcome in call.list, and in the store's loss report
        _until("the call gone", lambda: not c.calls.list()["calls"])
        counters = c.calls.list()["counters"]
        assert counters["offered"] == 1 and counters["answered"] == 1
        assert counters["transfers"] == 1
        report = _until("the CDR in the report", lambda: (
            r := c.reports.losses())["totals"]["answered"] == 1 and r)
        assert report["totals"]["offered"] == 1
        assert sum(report["totals"]["lost"].values()) == 0

        async def from_asyncio():
            async with AsyncRequester(home, timeout=5) as r:
                return await r.agents.show("1002"), await r.server.ping()
        agent, pong = asyncio.run(from_asyncio())
        assert agent["agent"] == "1002" and pong["pong"] is True


# --- cti request: any operation from the shell ------------------------------------------------

def _cti(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cti_request_sends_any_operation(served, capsys):
    home = str(served)
    rc, out, err = _cti(capsys, "request", "agent.login", "agent=1005", "extension=5",
                        "--home", home)
    assert rc == 0, err
    assert json.loads(out) == {**json.loads(out), "agent": "1005", "state": "ready",
                               "extension": 5}
    rc, out, err = _cti(capsys, "request", "agent.not_ready", "agent=1005", "reason=break",
                        "--home", home)
    assert rc == 0 and json.loads(out)["reason"] == "break", err
    rc, out, err = _cti(capsys, "request", "sim.phone", "port=5", "action=status",
                        "--home", home)
    assert rc == 0 and json.loads(out)["port"] == 5, err
    rc, out, _ = _cti(capsys, "request", "span.counters", "span=1", "reset=false", "--home", home)
    assert rc == 0 and json.loads(out)["span"] == 1
    rc, out, _ = _cti(capsys, "request", "ping", "--home", home)
    assert rc == 0 and json.loads(out)["pong"] is True
    # the server's refusals, one line on stderr as for every command
    rc, _, err = _cti(capsys, "request", "span.show", "span=x", "--home", home)
    assert rc == 1 and err.startswith("cti: error: span.show: args.span:")
    rc, _, err = _cti(capsys, "request", "call.frobnicate", "--home", home)
    assert rc == 1 and "call.frobnicate" in err
    rc, _, err = _cti(capsys, "request", "ping", "oops", "--home", home)
    assert rc == 1 and "NAME=VALUE" in err


def test_request_values_are_json_unless_the_argument_is_a_string():
    assert request_args("span.counters", ["span=1", "reset=true"]) == {"span": 1,
                                                                       "reset": True}
    assert request_args("agent.login", ["agent=1001", "extension=3"]) == {"agent": "1001",
                                                                          "extension": 3}
    assert request_args("call.transfer", ["call=c1", "to=1002", 'data={"order": "A1"}']) == \
        {"call": "c1", "to": "1002", "data": {"order": "A1"}}
    assert request_args("sim.call", ["span=1", "from=123", "to=456"]) == \
        {"span": 1, "from": "123", "to": "456"}
    assert request_args("channel.show", ["channel=1/5"]) == {"channel": "1/5"}
    assert request_args("no.such", ["x=1", "y=a b"]) == {"x": 1, "y": "a b"}


def test_cti_request_help_lists_every_operation_by_concern(capsys):
    with pytest.raises(SystemExit) as e:
        main(["request", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cti request" in out and "NAME=VALUE" in out
    listed = {line.split()[0] for line in out.splitlines()
              if line.startswith("  ") and not line.startswith("   ")
              and line.split()[0] in REGISTRY}
    assert listed == set(REGISTRY.names())
    for op in REGISTRY:
        line = next(x for x in out.splitlines() if x.split()[:1] == [op.name])
        assert len(line.split(None, 1)) == 2, f"{op.name}: no summary"
    # grouped: the concern's heading comes before its operations
    assert out.index("\ncalls (") < out.index("  call.transfer ") < out.index("\ncampaigns (")
    # and cti --help names the command
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "request" in capsys.readouterr().out
