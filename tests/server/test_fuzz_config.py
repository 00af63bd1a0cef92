"""The configuration loader fuzzed (ARCHITECTURE.md rule 6, issue #14 "Done when"):
generated TOML documents shaped like the real one, and mutations of the embedded
default (values replaced, lines dropped, doubled or renamed, lines added). Whatever the
text, ``parse_config`` either returns a Config or raises ConfigError whose every error
names its key (or, for a TOML syntax error, its line) and says what is wrong; never
anything else.

A mutation that loads is then started as a Service on the simulated board for a few
ticks, with a caller through the IVR (in a smaller number of examples): a configuration
that loads must not fail at start or on the first caller.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.server.config import DEFAULT_TOML, ConfigError, parse_config

EXAMPLES = int(os.environ.get("CTI_FUZZ_CONFIG_EXAMPLES", "400"))
STARTS = int(os.environ.get("CTI_FUZZ_CONFIG_STARTS", "40"))

# the keys the loader knows (cti/server/config/), so that generated documents reach its checks
SECTIONS = {
    "server": ["home", "requests", "events", "replay_ring", "curve"],
    "board": ["name", "backend", "device", "tick_ms"],
    "sim": ["seed", "cable_delay_bits"],
    "centre": ["ivr_ports", "record", "record_queues", "moh", "voicemail_seconds", "prompts",
               "outbound_ani", "survey", "survey_timeout", "transfer_ring_timeout"],
    "routing": ["default", "dnis", "area"],
}
ARRAYS = {
    "board.spans": ["number", "signalling", "crc4", "law"],
    "board.ports": ["kind", "number", "count"],
    "agents": ["id", "name", "extension", "skills", "first", "count", "first_extension"],
    "queues": ["name", "members", "strategy", "ring_timeout", "wrapup", "max_wait", "overflow",
               "join_empty", "leave_when_empty", "announce_every", "pause_on_no_answer",
               "required_skills", "weight", "max_len", "dissuade_ewt", "dissuade"],
}
NODE_KEYS = ["type", "prompt", "next", "barge_in", "branches", "timeout", "retries", "invalid",
             "no_input", "on_fail", "store_as", "min_digits", "max_digits", "table", "key",
             "column", "found", "missing", "value", "text", "as", "queue", "by_area", "box",
             "reason", "thanks", "prefix"]
WORDS = ["sales", "service", "main", "welcome", "menu", "moh", "1001", "1002", "pri", "cas",
         "fxs", "fxo", "alaw", "ulaw", "sim", "dahdi", "ivr:main", "queue:sales",
         "voicemail:sales", "queue:nope", "orders", "customers", "cdr", "order_id", "ani",
         "play", "menu", "collect", "lookup", "say", "queue", "voicemail", "hangup",
         "callback", "all", "../../etc/passwd", "/etc", "１２３", "1" * 21, "", "tts:-f/etc/x",
         "ipc:///tmp/x", "tcp://0.0.0.0:5555", "x" * 300, "longest-idle", "ring-all"]


def toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)      # JSON's escapes are TOML's (a lone surrogate: a syntax error)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


scalars = st.one_of(
    st.booleans(), st.integers(min_value=-5, max_value=40), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(WORDS),
    st.text(max_size=12),
)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) |
                      st.dictionaries(st.sampled_from(WORDS[:12]) | st.text(max_size=5), c,
                                      max_size=3), max_leaves=4)


def table_of(keys: list[str]):
    return st.dictionaries(st.one_of(*[st.sampled_from(keys)] * 6, st.text(max_size=6)),
                           values, max_size=min(len(keys), 5))


nodes = st.dictionaries(st.sampled_from(["welcome", "menu", "sales", "x"]),
                        st.dictionaries(st.sampled_from(NODE_KEYS), values, max_size=6),
                        min_size=1, max_size=4)
flows = st.dictionaries(st.sampled_from(["main", "other"]),
                        st.fixed_dictionaries({"nodes": nodes},
                                              optional={"start": st.sampled_from(WORDS[:10])}),
                        max_size=2)
documents = st.fixed_dictionaries({}, optional={
    **{name: table_of(keys) for name, keys in SECTIONS.items()},
    **{name: st.lists(table_of(keys), max_size=3) for name, keys in ARRAYS.items()},
    "flows": flows,
})


def render(doc: dict) -> str:
    out = []
    for name in SECTIONS:
        if name in doc:
            out.append(f"[{name}]")
            out += [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc[name].items()]
    for name in ARRAYS:
        for t in doc.get(name, []):
            out.append(f"[[{name}]]")
            out += [f"{toml_key(k)} = {toml_value(v)}" for k, v in t.items()]
    for fname, flow in doc.get("flows", {}).items():
        if "start" in flow:
            out += [f"[ivr.flows.{fname}]", f"start = {toml_value(flow['start'])}"]
        for nname, node in flow["nodes"].items():
            out.append(f"[ivr.flows.{fname}.nodes.{nname}]")
            out += [f"{toml_key(k)} = {toml_value(v)}" for k, v in node.items()]
    return "\n".join(out) + "\n"


LINES = DEFAULT_TOML.splitlines()
KEY_LINES = [i for i, line in enumerate(LINES) if re.match(r"\s*[A-Za-z0-9_\"]+\s*=", line)]
ALL_KEYS = sorted({k for keys in [*SECTIONS.values(), *ARRAYS.values(), NODE_KEYS] for k in keys})

VALUES = sorted({line.split("=", 1)[1].strip() for line in (LINES[i] for i in KEY_LINES)})
# another line's value: mostly the right type, so the semantic checks are reached
swap = st.tuples(st.just("swap"), st.sampled_from(KEY_LINES), st.sampled_from(VALUES))

mutation = st.one_of(
    st.tuples(st.just("value"), st.sampled_from(KEY_LINES), values),
    swap,
    swap,
    st.tuples(st.just("drop"), st.integers(0, len(LINES) - 1), st.none()),
    st.tuples(st.just("double"), st.integers(0, len(LINES) - 1), st.none()),
    st.tuples(st.just("rename"), st.sampled_from(KEY_LINES), st.sampled_from(ALL_KEYS)),
    st.tuples(st.just("add"), st.integers(0, len(LINES)),
              st.tuples(st.sampled_from(ALL_KEYS), values)),
    st.tuples(st.just("text"), st.integers(0, len(LINES)), st.text(max_size=20)),
)


def mutate(muts) -> str:
    lines = list(LINES)
    for kind, i, arg in muts:
        i = min(i, len(lines) - 1) if kind != "add" and kind != "text" else min(i, len(lines))
        if kind == "value":
            k = lines[i].split("=", 1)[0]
            lines[i] = f"{k}= {toml_value(arg)}"
        elif kind == "swap":
            k = lines[i].split("=", 1)[0]
            lines[i] = f"{k}= {arg}"
        elif kind == "drop":
            del lines[i]
        elif kind == "double":
            lines.insert(i, lines[i])
        elif kind == "rename":
            k, _, v = lines[i].partition("=")
            lines[i] = f"{arg} ={v}"
        elif kind == "add":
            lines.insert(i, f"{arg[0]} = {toml_value(arg[1])}")
        else:
            lines.insert(i, arg)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def home():
    d = tempfile.mkdtemp(prefix="fuzz-config-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def load(text: str, home: str):
    """parse_config's whole contract: a Config, or a ConfigError that names keys."""
    try:
        return parse_config(text, "fuzz.toml", home=home)
    except ConfigError as e:
        assert e.errors
        for path, line, msg in e.errors:
            assert path or line, e.errors               # a key, or the line of a syntax error
            assert msg
        assert all(x.startswith("fuzz.toml") for x in str(e).splitlines())
        return None
    except Exception as e:      # noqa: BLE001 - the property
        pytest.fail(f"parse_config raised {type(e).__name__}: {e}\n--- text:\n{text}"[:3000])


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.function_scoped_fixture,
                                                      HealthCheck.data_too_large])


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(doc=documents)
def test_generated_documents_load_or_name_the_key(home, doc):
    load(render(doc), home)


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(muts=st.lists(mutation, min_size=1, max_size=3))
def test_mutations_of_the_default_load_or_name_the_key(home, muts):
    load(mutate(muts), home)


started: list = []


@settings(max_examples=STARTS, **SETTINGS)
@given(muts=st.lists(swap, min_size=1, max_size=1))
def test_a_mutation_that_loads_starts_and_takes_a_caller(default_prompts, muts):
    from cti.server.service import Service, build_world

    text = mutate(muts).replace("[centre]\n", f"[centre]\nprompts = {default_prompts!r}\n", 1)
    home = tempfile.mkdtemp(prefix="fuzz-config-start-")
    try:
        cfg = load(text, home)
        if cfg is None or cfg.centre is None or cfg.board.backend != "sim":
            return
        started.append(muts)
        world, _ = build_world(cfg)
        try:
            svc = Service(cfg, world=world, wall_start=1e6)
            for _ in range(20):
                svc.tick()
            if world.calls is not None and world.exchange_pri:
                world.calls.offer_call(min(world.exchange_pri), "13800138000", "4001")
            for _ in range(150):
                svc.tick()
            svc.store.close()
        finally:
            world.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_some_mutations_started():
    # (runs after the test above: the mutations that loaded really were started)
    assert STARTS < 20 or started, started
