"""The published contract (docs/contract/): current, well formed, and in step with the
registry, the request checking and the event catalogue (issue #15 item 2)."""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests import contract_check
from cti.server import contract
from cti.server.events import EVENTS
from cti.server.registry import REGISTRY
from cti.server.service import RequestError, check_args
from tests.served import ROOT

DOCS = ROOT / "docs" / "contract"


@pytest.fixture(scope="module")
def files():
    return contract.build()


def test_docs_contract_is_current(tmp_path):
    """CI's check: docs/contract/ is what the registry and the catalogue make now."""
    contract.write(tmp_path, check=False)        # (the checks: the tests below)
    stale = []
    for name in contract.FILES:
        new = (tmp_path / name).read_text()
        old = (DOCS / name).read_text() if (DOCS / name).exists() else ""
        if new != old:
            diff = "".join(list(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), f"docs/contract/{name}",
                f"generated {name}"))[:40])
            stale.append(f"docs/contract/{name}\n{diff}")
    extra = [p.name for p in DOCS.glob("*.json") if p.name not in contract.FILES]
    assert not stale and not extra, (
        "docs/contract/ is stale: run `make contract` (python -m cti.server.contract "
        "--write docs/contract) and commit it\n" + "\n".join(stale)
        + (f"\nnot generated any more: {', '.join(extra)}" if extra else ""))


def test_check_command_names_stale_files(tmp_path, capsys):
    contract.write(tmp_path, check=False)
    assert contract.main(["--check", str(tmp_path)]) == 0
    (tmp_path / "events.json").write_text("{}\n")
    assert contract.main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "events.json" in err and "make contract" in err and "requests.json" not in err


def test_asyncapi_document_shape(files):
    doc = files["asyncapi.json"]
    contract.check_document(doc)
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["servers"]) == {"ipc", "tcp"}
    assert set(doc["channels"]) == {"requests", "events"}
    ops = [op.name for op in REGISTRY]
    for name in ops:
        o = doc["operations"][name]
        assert o["action"] == "receive" and o["reply"]["messages"]
    assert len(doc["channels"]["requests"]["messages"]) == 2 * len(ops)
    assert set(doc["channels"]["events"]["messages"]) == set(EVENTS)
    assert doc["operations"]["event.publish"]["action"] == "send"


def test_asyncapi_check_finds_a_dangling_ref(files):
    doc = json.loads(json.dumps(files["asyncapi.json"]))
    doc["operations"]["ping"]["messages"] = [{"$ref": "#/channels/requests/messages/nope"}]
    with pytest.raises(LookupError, match="nope"):
        contract.check_document(doc)
    del doc["components"]
    with pytest.raises(Exception, match="components"):
        contract.check_document(doc)


def test_every_schema_is_valid_draft_2020_12(files):
    assert contract.check_schemas(files) >= 2 * len(REGISTRY) + len(EVENTS)
    for name in ("requests.json", "results.json", "events.json"):
        assert set(files[name]["$defs"]) >= ({op.name for op in REGISTRY}
                                              if name != "events.json" else set(EVENTS))


def test_request_schemas_agree_with_the_door(files):
    """For every op, the request schema and check_args agree on the empty arguments (the
    required ones), on an unknown argument, and on each argument's JSON type."""
    requests = files["requests.json"]["$defs"]
    samples = {"integer": 1, "number": 1.5, "string": "1", "boolean": True, "array": [],
               "object": {}}
    for op in REGISTRY:
        v = Draft202012Validator(requests[op.name])
        try:
            check_args(op.name, op.args, {})
            door = True
        except RequestError:
            door = False
        assert v.is_valid({"id": 1, "op": op.name, "args": {}}) == door, op.name
        assert not v.is_valid({"id": 1, "op": op.name, "args": {"zz_unknown": 1}}), op.name
        for name, a in op.args.items():
            t = requests[op.name]["properties"]["args"]["properties"][name].get("type")
            for jtype, value in samples.items():
                if t is None or a.choices or a.text or a.lo is not None or a.hi is not None:
                    continue
                types = [t] if isinstance(t, str) else t
                ok = jtype in types or jtype == "integer" and "number" in types
                try:
                    check_args(op.name, op.args, {**{n: _fill(b) for n, b in op.args.items()
                                                     if b.required}, name: value})
                    door = True
                except RequestError as e:
                    door = e.field != f"args.{name}"
                assert ok == door, (op.name, name, jtype)


def _fill(a):
    """A value the door takes for a required argument."""
    if a.choices:
        return a.choices[0]
    kind = a.kind[0] if isinstance(a.kind, tuple) else a.kind
    if kind is int or kind is float:
        return a.lo if a.lo is not None else 1
    if kind is str:
        return {"number": "13900000002", "ia5": "1", "dtmf": "1", "digits": "1"}.get(a.text, "x")
    return {list: [], dict: {}, bool: True}.get(kind, "x")


def test_the_protocol_doc_names_only_real_events_and_operations():
    """Every event type or operation docs/protocol.md names (in backquotes) is in the
    catalogue or the registry: the prose cannot keep a name the server dropped."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    named = set(re.findall(r"`((?:call|agent|campaign|voicemail|server|span|channel|trace|"
                           r"board|queue|sim|pri|report|dnc)\.[a-z_]+)`", text))
    assert len(named) > 10
    import dataclasses

    from cti.server.config import load_config
    settings = {f"server.{f.name}" for f in dataclasses.fields(load_config().server)}
    missing = sorted(named - set(EVENTS) - {op.name for op in REGISTRY} - settings)
    assert not missing, f"docs/protocol.md names events or ops that do not exist: {missing}"


def test_event_topics():
    assert EVENTS["agent.state"].topic_for({"agent": "1001"}) == "agent.1001.state"
    assert EVENTS["campaign.preview"].topic_for({"agent": "7"}) == "agent.7.preview"
    assert EVENTS["campaign.attempt"].topic_for({"campaign": "x"}) == "campaign.x"
    assert EVENTS["call.offered"].topic_for({}) == "call.offered"


def test_the_checker_catches_a_bad_event_and_result():
    """The suite's oracle itself: it names the event type, the field and the schema path."""
    contract_check.take_violations()
    contract_check.check_event({"seq": 1, "ts": 1.0, "type": "channel.hook",
                                "channel": "fxs/1", "data": {"off_hook": "yes"}},
                               "channel.hook", "test")
    contract_check.check_event({"seq": 2, "ts": 1.0, "type": "agent.state", "agent": "1",
                                "state": "ready"}, "agent.2.state", "test")
    contract_check.check_event({"seq": 3, "ts": 1.0, "type": "no.such"}, "no.such", "test")
    contract_check.check_result("ping", [], "test")
    contract_check.check_event({"seq": 4, "ts": 1.0, "type": "channel.hook",
                                "channel": "fxs/1", "data": {"off_hook": True}},
                               "channel.hook", "test")
    bad = contract_check.take_violations()
    assert len(bad) == 4, bad
    assert "event channel.hook" in bad[0] and "data/off_hook" in bad[0] \
        and "properties/data/properties/off_hook/type" in bad[0]
    assert "agent.1.state" in bad[1]
    assert "not in the catalogue" in bad[2]
    assert "reply to ping" in bad[3]


def test_fast_check_never_accepts_what_jsonschema_refuses():
    """The suite's fast path (contract_check.fast_check) only ever says "valid" where
    jsonschema does, on every event schema, for instances mostly right but for awkward
    values (bools for integers, 1.0, null, long strings, out of range numbers)."""
    import random

    rnd = random.Random(15)
    pool = [True, False, 0, 1, 15, 16, -1, 1.0, 1.5, 2 ** 70, "x", "", "a" * 300, None, [],
            [1], ["a"], [True], [1.0], {}, {"call": 1}]

    def good(s):
        if "enum" in s:
            return rnd.choice(s["enum"])
        if "const" in s:
            return s["const"]
        t = s.get("type", "string")
        t = rnd.choice(t) if isinstance(t, list) else t
        if t == "object":
            return make(s)
        return {"string": "x", "integer": s.get("minimum", 1), "number": 1.5,
                "boolean": True, "array": [], "null": None}[t]

    def make(s):
        out = {}
        for name, sub in (s.get("properties") or {}).items():
            if rnd.random() < (0.97 if name in s.get("required", ()) else 0.5):
                out[name] = good(sub) if rnd.random() < 0.93 else rnd.choice(pool)
        return out

    accepted = refused = 0
    for t, et in EVENTS.items():
        schema = et.schema()
        fast = contract_check.fast_check(schema)
        assert fast is not None, t
        v = Draft202012Validator(schema)
        for _ in range(200):
            ev = make(schema)
            if fast(ev):
                accepted += 1
                assert v.is_valid(ev), (t, ev)
            else:
                refused += 1
    assert accepted > 1000 and refused > 1000, (accepted, refused)


def test_events_the_registry_names_are_in_the_catalogue():
    named = {t for op in REGISTRY for t in op.events}
    assert named <= set(EVENTS), sorted(named - set(EVENTS))
