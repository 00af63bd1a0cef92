"""IVR flows as data, the sans-I/O session, and the IVR port pool."""
from __future__ import annotations

import copy
import tomllib

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cti.centre.ivr import (EXAMPLE_FLOWS_TOML, OUTCOMES, AbandonedInIvr, Callback, DataChanged,
                     FlowError, Hangup, IvrPorts, IvrSession, Lookup, MenuNode, Play,
                     PortCounters, Route, StopPlay, Voicemail, parse_flow, parse_flows)
from cti.centre.prompts import DEFAULT_PROMPTS, MOH


def flows_of(toml_text: str) -> dict:
    return tomllib.loads(toml_text)["ivr"]["flows"]


def example():
    return parse_flows(flows_of(EXAMPLE_FLOWS_TOML))["main"]


def flow(nodes: dict, start: str | None = None, **kw):
    t = {"nodes": nodes, **kw}
    if start:
        t["start"] = start
    return parse_flow("f", t)


def drain(s: IvrSession) -> list:
    out = []
    while (ev := s.next_event()) is not None:
        out.append(ev)
    return out


def session(f, ani="13800138000", data=None):
    return IvrSession(f, "call-1", ani, "4008001234", data or {})


def fire(s: IvrSession) -> float:
    """Run the session's timer at its deadline; returns the time."""
    t = s.get_timer()
    assert t is not None
    s.handle_timer(t)
    return t


MENU = {
    "menu": {"type": "menu", "prompt": "menu", "timeout": 5, "retries": 2, "invalid": "invalid",
             "branches": {"1": "sales", "2": "support"}, "on_fail": "operator"},
    "sales": {"type": "queue", "queue": "sales"},
    "support": {"type": "queue", "queue": "support"},
    "operator": {"type": "queue", "queue": "operator"},
}


# ---------------------------------------------------------------------------------
# Flows as data

def test_example_flow_parses_and_uses_default_prompts():
    f = example()
    assert f.start == "welcome"
    assert isinstance(f.nodes["menu"], MenuNode)
    assert f.nodes["menu"].branches == {"1": "order", "2": "sales", "3": "message",
                                        "4": "callback"}
    assert f.prompts() <= set(DEFAULT_PROMPTS) | {MOH}


def test_error_names_the_branch_key():
    t = flows_of(EXAMPLE_FLOWS_TOML)
    t["main"]["nodes"]["menu"]["branches"]["9"] = "sales2"
    with pytest.raises(FlowError) as ei:
        parse_flows(t)
    assert str(ei.value) == "ivr.flows.main.nodes.menu.branches.9: no node 'sales2'"
    assert ei.value.errors == [(("ivr", "flows", "main", "nodes", "menu", "branches", "9"),
                                "no node 'sales2'")]


def test_errors_are_all_collected_with_their_paths():
    bad = {
        "start": "nowhere",
        "colour": "blue",
        "nodes": {
            "a": {"type": "dance"},
            "b": {"prompt": "x"},
            "c": {"type": "play", "prompt": "welcome", "next": "a", "loud": True},
            "d": {"type": "menu", "branches": {"12": "c", "x": "c"}},
            "e": {"type": "collect", "store_as": "n", "next": "c", "min_digits": 5,
                  "max_digits": 2, "timeout": -1},
            "f": {"type": "queue", "queue": "q", "by_area": True},
            "g": {"type": "set", "key": "ani", "value": 1, "next": "c"},
            "h": {"type": "lookup", "found": "c", "missing": "zz"},
            "i": {"type": "branch", "key": "x", "cases": {"1": "c"}},
            "j": {"type": "say", "value": "n", "as": "shout", "next": "c"},
            "k": {"type": "play", "prompt": "../etc/passwd", "next": "c"},
        },
    }
    with pytest.raises(FlowError) as ei:
        parse_flows({"main": bad})
    msgs = {".".join(p): m for p, m in ei.value.errors}
    base = "ivr.flows.main"
    assert "unknown key" in msgs[f"{base}.colour"]
    assert msgs[f"{base}.start"] == "no node 'nowhere'"
    assert "'dance' is not one of" in msgs[f"{base}.nodes.a.type"]
    assert msgs[f"{base}.nodes.b.type"].startswith("required")
    assert "unknown key for a play node" in msgs[f"{base}.nodes.c.loud"]
    assert "'12' is not a choice of 1 DTMF key" in msgs[f"{base}.nodes.d.branches.12"]
    assert "'x'" in msgs[f"{base}.nodes.d.branches.x"]
    assert msgs[f"{base}.nodes.e.min_digits"] == "5 is more than max_digits 2"
    assert "out of range" in msgs[f"{base}.nodes.e.timeout"]
    assert "not both" in msgs[f"{base}.nodes.f.queue"]
    assert "read-only" in msgs[f"{base}.nodes.g.key"]
    assert msgs[f"{base}.nodes.h.table"] == "required"
    assert msgs[f"{base}.nodes.h.missing"] == "no node 'zz'"
    assert msgs[f"{base}.nodes.i.default"] == "required"
    assert "'shout' is not one of" in msgs[f"{base}.nodes.j.as"]
    assert "not a valid prompt name" in msgs[f"{base}.nodes.k.prompt"]


def test_known_prompts_makes_a_missing_prompt_an_error():
    t = {"nodes": {"a": {"type": "play", "prompt": ["welcome", "welcom"], "next": "b"},
                   "b": {"type": "hangup", "prompt": "goodby"}}}
    with pytest.raises(FlowError) as ei:
        parse_flows({"x": t}, known_prompts=set(DEFAULT_PROMPTS))
    assert str(ei.value).splitlines() == [
        "ivr.flows.x.nodes.a.prompt.1: no prompt 'welcom'",
        "ivr.flows.x.nodes.b.prompt: no prompt 'goodby'",
    ]


def test_flows_table_and_nodes_table_must_be_tables():
    with pytest.raises(FlowError, match=r"^ivr\.flows: must be a table"):
        parse_flows([1, 2])
    with pytest.raises(FlowError, match=r"ivr\.flows\.x\.nodes: required"):
        parse_flows({"x": {"start": "a"}})
    with pytest.raises(FlowError, match=r"ivr\.flows\.x: must be a table"):
        parse_flows({"x": 3})


def test_start_defaults_to_the_first_node():
    f = flow({"b": {"type": "hangup"}, "a": {"type": "hangup", "reason": "other"}})
    assert f.start == "b"


# ---------------------------------------------------------------------------------
# Menus

def test_menu_choice_routes_to_the_queue():
    s = session(flow(MENU))
    s.start(0.0)
    assert drain(s) == [Play(("menu",), True)]
    assert s.get_timer() is None            # the timeout runs from the end of the prompt
    s.prompt_done(4.0)
    assert s.get_timer() == 9.0
    s.digit(6.0, "2")
    assert drain(s) == [Route("support", {})]
    assert s.path == ("menu", "support")
    assert s.ended and s.outcome == Route("support", {})
    assert s.get_timer() is None


def test_menu_invalid_digit_then_retry():
    s = session(flow(MENU))
    s.start(0.0)
    s.prompt_done(1.0)
    drain(s)
    s.digit(2.0, "7")
    assert drain(s) == [Play(("invalid", "menu"), True)]
    s.prompt_done(3.0)
    s.digit(4.0, "1")
    assert drain(s) == [Route("sales", {})]
    assert s.path == ("menu", "sales")


def test_menu_timeouts_then_on_fail():
    s = session(flow(MENU))
    s.start(0.0)
    s.prompt_done(1.0)
    drain(s)
    t = fire(s)
    assert t == 6.0
    assert drain(s) == [Play(("menu",), True)]          # no no_input prompt: the menu again
    s.prompt_done(7.0)
    fire(s)
    assert drain(s) == [Play(("menu",), True)]
    s.prompt_done(20.0)
    assert s.get_timer() == 25.0
    s.handle_timer(24.9)                               # early: nothing
    assert drain(s) == []
    s.handle_timer(25.0)
    assert drain(s) == [Route("operator", {})]
    assert s.path == ("menu", "operator")


def test_menu_retries_exhausted_without_on_fail_hangs_up():
    nodes = copy.deepcopy(MENU)
    del nodes["menu"]["on_fail"]
    nodes["menu"]["retries"] = 0
    s = session(flow(nodes, fail_prompt="goodbye"))
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "9")
    assert drain(s)[-1] == Hangup("retries_exhausted", "goodbye")


def test_menu_no_input_prompt_and_mixed_failures_count_together():
    nodes = copy.deepcopy(MENU)
    nodes["menu"].update(retries=1, no_input="no_input")
    s = session(flow(nodes))
    s.start(0.0)
    s.prompt_done(1.0)
    fire(s)
    assert drain(s)[-1] == Play(("no_input", "menu"), True)
    s.prompt_done(7.0)
    s.digit(8.0, "5")
    assert drain(s) == [Route("operator", {})]


def test_two_digit_menu_with_hash_and_interdigit_timeout():
    f = flow({"m": {"type": "menu", "prompt": "menu", "digits": 2, "interdigit": 2,
                    "branches": {"1": "one", "12": "twelve"}},
              "one": {"type": "queue", "queue": "q1"},
              "twelve": {"type": "queue", "queue": "q12"}})
    s = session(f)
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    assert s.get_timer() == 4.0
    s.digit(3.0, "2")
    assert drain(s)[-1] == Route("q12", {})
    s = session(f)
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    s.digit(2.5, "#")
    assert drain(s)[-1] == Route("q1", {})
    s = session(f)
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    assert fire(s) == 4.0
    assert drain(s)[-1] == Route("q1", {})


# ---------------------------------------------------------------------------------
# Barge-in and type-ahead

def test_barge_in_stops_the_prompt_and_the_digit_counts():
    s = session(flow(MENU))
    s.start(0.0)
    drain(s)
    s.digit(0.4, "1")
    assert drain(s) == [StopPlay(), Route("sales", {})]
    s.prompt_done(0.5)                      # a late prompt_done changes nothing
    assert drain(s) == []


def test_a_late_prompt_done_for_a_stopped_prompt_is_ignored_by_play_id():
    s = session(flow(MENU))
    s.start(0.0)
    first = drain(s)[0]
    s.digit(0.4, "7")                       # barge-in, invalid: the menu again
    evs = drain(s)
    assert evs == [StopPlay(), Play(("invalid", "menu"), True)]
    assert (first.play_id, evs[1].play_id) == (1, 2)
    s.prompt_done(0.5, play_id=1)            # the stopped prompt's report, late
    assert s.get_timer() is None
    s.prompt_done(3.0, play_id=2)
    assert s.get_timer() == 8.0


def test_no_barge_in_discards_digits_while_the_prompt_plays():
    nodes = copy.deepcopy(MENU)
    nodes["menu"]["barge_in"] = False
    s = session(flow(nodes))
    s.start(0.0)
    assert drain(s) == [Play(("menu",), False)]
    s.digit(0.4, "1")
    assert drain(s) == []
    s.prompt_done(1.0)
    s.digit(1.5, "2")
    assert drain(s) == [Route("support", {})]


def test_type_ahead_during_a_play_skips_the_menu_prompt():
    f = example()
    s = session(f)
    s.start(0.0)
    assert drain(s) == [Play(("welcome",), True)]
    s.digit(0.3, "2")
    assert drain(s) == [StopPlay(), Play(("please_hold",), False)]
    s.prompt_done(1.0)
    assert drain(s) == [Route("sales", {})]
    assert s.path == ("welcome", "menu", "sales")


def test_play_without_barge_in_ignores_digits():
    f = flow({"p": {"type": "play", "prompt": "welcome", "next": "menu"}, **MENU})
    s = session(f)
    s.start(0.0)
    s.digit(0.1, "1")
    assert drain(s) == [Play(("welcome",), False)]
    s.prompt_done(1.0)
    assert drain(s) == [Play(("menu",), True)]


# ---------------------------------------------------------------------------------
# Collect

COLLECT = {
    "get": {"type": "collect", "prompt": "enter_order", "store_as": "order_id", "min_digits": 3,
            "max_digits": 6, "timeout": 5, "interdigit": 2, "retries": 1,
            "invalid": "invalid", "next": "done", "on_fail": "failed"},
    "done": {"type": "queue", "queue": "orders"},
    "failed": {"type": "hangup", "prompt": "goodbye", "reason": "no_order"},
}


def test_collect_with_terminator():
    s = session(flow(COLLECT))
    s.start(0.0)
    s.prompt_done(1.0)
    for i, d in enumerate("4711#"):
        s.digit(2.0 + i * 0.5, d)
    evs = drain(s)
    assert evs[-2:] == [DataChanged({"order_id": "4711"}), Route("orders", {"order_id": "4711"})]
    assert s.digits == "4711" and s.data == {"order_id": "4711"}


def test_collect_interdigit_timeout_ends_the_entry():
    s = session(flow(COLLECT))
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    s.digit(3.0, "2")
    s.digit(4.0, "3")
    assert s.get_timer() == 6.0
    fire(s)
    assert drain(s)[-1] == Route("orders", {"order_id": "123"})


def test_collect_max_digits_ends_the_entry():
    s = session(flow(COLLECT))
    s.start(0.0)
    s.prompt_done(1.0)
    for d in "123456":
        s.digit(2.0, d)
    assert drain(s)[-1] == Route("orders", {"order_id": "123456"})


def test_collect_too_short_is_invalid_then_on_fail():
    s = session(flow(COLLECT))
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    s.digit(2.5, "#")
    assert drain(s)[-1] == Play(("invalid", "enter_order"), True)
    s.prompt_done(4.0)
    s.digit(5.0, "9")
    fire(s)                                   # interdigit: "9" is too short again
    assert drain(s)[-1] == Hangup("no_order", "goodbye")
    assert s.path == ("get", "failed")
    assert "order_id" not in s.data


# ---------------------------------------------------------------------------------
# Lookup

LOOKUP = {
    "who": {"type": "lookup", "table": "customers", "key": "ani", "found": "vip",
            "missing": "anon"},
    "vip": {"type": "branch", "key": "customer.level", "cases": {"gold": "gold"},
            "default": "anon"},
    "gold": {"type": "queue", "queue": "gold"},
    "anon": {"type": "queue", "queue": "general"},
}


def test_lookup_found_puts_the_record_into_data():
    s = session(flow(LOOKUP), data={"campaign": "tv"})
    s.start(0.0)
    assert drain(s) == [Lookup("customers", "ani", "13800138000")]
    assert s.get_timer() == 5.0
    rec = {"ani": "13800138000", "name": "Li Lei", "level": "gold"}
    s.lookup_result(0.2, rec)
    rec["level"] = "changed later"            # the session keeps its own copy
    data = {"campaign": "tv", "customer": {"ani": "13800138000", "name": "Li Lei",
                                           "level": "gold"}}
    assert drain(s) == [DataChanged(data), Route("gold", data)]
    assert s.path == ("who", "vip", "gold")


def test_lookup_missing_and_timeout_go_to_missing():
    s = session(flow(LOOKUP))
    s.start(0.0)
    s.lookup_result(0.1, None)
    assert drain(s)[-1] == Route("general", {})
    s = session(flow(LOOKUP))
    s.start(0.0)
    fire(s)
    assert drain(s)[-1] == Route("general", {})
    s.lookup_result(9.0, {"level": "gold"})   # too late: ignored
    assert drain(s) == []


def test_lookup_without_a_key_value_skips_the_query():
    s = session(flow(LOOKUP), ani="")         # withheld number
    s.start(0.0)
    assert drain(s) == [Route("general", {})]


def test_lookup_by_digits_entered():
    f = flow({**COLLECT, "done": {"type": "lookup", "table": "orders", "key": "digits",
                                  "column": "order_id", "store_as": "order",
                                  "found": "say", "missing": "failed"},
              "say": {"type": "say", "value": "order.status", "as": "prompt",
                      "prefix": "order_status_", "before": "order_status", "next": "end"},
              "end": {"type": "hangup", "prompt": "goodbye"}})
    s = session(f)
    s.start(0.0)
    s.prompt_done(1.0)
    for d in "555#":
        s.digit(2.0, d)
    assert drain(s)[-1] == Lookup("orders", "order_id", "555")
    s.lookup_result(2.5, {"order_id": "555", "status": "shipped"})
    assert drain(s)[-1] == Play(("order_status", "order_status_shipped"), False)
    s.prompt_done(4.0)
    assert drain(s) == [Hangup("normal", "goodbye")]


# ---------------------------------------------------------------------------------
# Say

def say_flow(**say):
    return flow({"s": {"type": "say", "next": "end", **say},
                 "end": {"type": "hangup"}, "none": {"type": "hangup", "reason": "nothing"}})


def test_say_a_number_as_a_value_and_digit_by_digit():
    s = session(say_flow(value="customer.points", before="your_points", after="points"),
                data={"customer": {"points": 1250}})
    s.start(0.0)
    assert drain(s) == [Play(("your_points", "digit_1", "thousand", "digit_2", "hundred",
                              "num_50", "points"), False)]
    s.prompt_done(3.0)
    assert drain(s) == [Hangup("normal", None)]
    s = session(say_flow(value="order_id", **{"as": "digits"}), data={"order_id": "0571"})
    s.start(0.0)
    assert drain(s) == [Play(("digit_0", "digit_5", "digit_7", "digit_1"), False)]


def test_say_text_for_speech_synthesis():
    s = session(say_flow(text="Hello {customer.name}, your order {order} is late",
                         **{"as": "text"}),
                data={"customer": {"name": "Li"}, "order": 42})
    s.start(0.0)
    assert drain(s) == [Play(("tts:Hello Li, your order 42 is late",), False)]


def test_say_with_a_missing_value_goes_to_missing():
    s = session(say_flow(value="nope", missing="none"))
    s.start(0.0)
    assert drain(s) == [Hangup("nothing", None)]
    s = session(say_flow(value="x"), data={"x": "not a number"})
    s.start(0.0)
    assert drain(s) == [Hangup("normal", None)]


# ---------------------------------------------------------------------------------
# Callback

CALLBACK = {
    "cb": {"type": "callback", "queue": "sales", "interdigit": 3, "retries": 1,
           "invalid": "invalid"},
}


def test_callback_confirms_the_ani():
    s = session(flow(CALLBACK), data={"campaign": "tv"})
    s.start(0.0)
    assert drain(s) == [Play(("callback_confirm",), True)]
    s.digit(1.0, "1")                          # barge-in
    assert s.get_timer() == 4.0
    fire(s)
    assert drain(s) == [StopPlay(), Callback("13800138000", "sales", {"campaign": "tv"},
                                             "callback_thanks")]
    s = session(flow(CALLBACK))
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    s.digit(2.2, "#")
    assert drain(s)[-1] == Callback("13800138000", "sales", {}, "callback_thanks")


def test_callback_on_another_number():
    s = session(flow(CALLBACK))
    s.start(0.0)
    s.prompt_done(1.0)
    for d in "02112345678#":
        s.digit(2.0, d)
    assert drain(s)[-1] == Callback("02112345678", "sales", {}, "callback_thanks")
    s = session(flow(CALLBACK))                # a mobile number starts with 1 too
    s.start(0.0)
    s.prompt_done(1.0)
    for d in "13912345678":
        s.digit(2.0, d)
    fire(s)
    assert drain(s)[-1] == Callback("13912345678", "sales", {}, "callback_thanks")


def test_callback_with_withheld_ani_needs_a_number():
    s = session(flow(CALLBACK), ani="")
    s.start(0.0)
    s.prompt_done(1.0)
    s.digit(2.0, "1")
    s.digit(2.1, "#")
    assert drain(s)[-1] == Play(("invalid", "callback_confirm"), True)
    s.prompt_done(4.0)
    s.digit(5.0, "1")
    s.digit(5.1, "2")
    s.digit(5.2, "#")                          # too short: retries exhausted
    assert drain(s)[-1] == Hangup("retries_exhausted", None)


# ---------------------------------------------------------------------------------
# Ends, data, loops

def test_hangup_mid_flow_gives_the_path():
    s = session(example())
    s.start(0.0)
    s.prompt_done(2.0)
    s.prompt_done(8.0)
    s.digit(9.0, "1")
    drain(s)
    s.hangup(10.0)
    assert drain(s) == [AbandonedInIvr(("welcome", "menu", "order"))]
    assert s.ended and s.get_timer() is None
    s.hangup(11.0)
    s.digit(11.0, "1")
    s.handle_timer(100.0)
    assert drain(s) == []


def test_hangup_after_the_call_left_the_ivr_is_not_an_abandon():
    s = session(flow(MENU))
    s.start(0.0)
    s.digit(0.1, "1")
    drain(s)
    s.hangup(1.0)
    assert drain(s) == []


def test_queue_by_area_voicemail_and_set():
    f = flow({"tag": {"type": "set", "key": "call.source", "value": "tv", "next": "copy"},
              "copy": {"type": "set", "key": "called", "from": "dnis", "next": "area"},
              "area": {"type": "queue", "by_area": True}})
    s = session(f)
    s.start(0.0)
    data = {"call": {"source": "tv"}, "called": "4008001234"}
    assert drain(s)[-1] == Route(None, data, by_area=True)
    s = session(flow({"vm": {"type": "voicemail", "box": "sales", "prompt": "please_hold"}}))
    s.start(0.0)
    assert drain(s) == [Play(("please_hold",), False)]
    s.prompt_done(1.0)
    assert drain(s) == [Voicemail("sales", {})]


def test_initial_data_is_copied():
    data = {"customer": {"name": "x"}}
    s = session(flow({"a": {"type": "set", "key": "customer.name", "value": "y", "next": "b"},
                      "b": {"type": "hangup"}}), data=data)
    s.start(0.0)
    assert data == {"customer": {"name": "x"}}
    assert s.data == {"customer": {"name": "y"}}


def test_a_loop_of_instant_nodes_hangs_up():
    f = flow({"a": {"type": "set", "key": "n", "value": 1, "next": "b"},
              "b": {"type": "branch", "key": "n", "cases": {"1": "a"}, "default": "c"},
              "c": {"type": "hangup"}})
    s = session(f)
    s.start(0.0)
    assert drain(s)[-1] == Hangup("flow_loop", None)
    assert s.ended


def test_a_digit_that_is_not_dtmf_raises():
    s = session(flow(MENU))
    s.start(0.0)
    with pytest.raises(ValueError, match="not a DTMF key"):
        s.digit(0.1, "x")
    with pytest.raises(ValueError):
        s.digit(0.1, "12")


# ---------------------------------------------------------------------------------
# IVR ports

def test_ivr_ports_refuse_when_full_and_count():
    p = IvrPorts(2)
    assert p.acquire("a") and p.acquire("b")
    assert p.in_use == 2 and p.free == 0
    assert not p.acquire("c")
    assert p.acquire("a")                      # already holds one: not counted again
    assert p.counters == PortCounters(offered=3, refused=1, peak=2)
    assert p.release("a") and not p.release("a")
    assert p.acquire("c") and p.holds("c")
    assert p.counters == PortCounters(offered=4, refused=1, peak=2)
    assert IvrPorts(0).acquire("x") is False
    with pytest.raises(ValueError):
        IvrPorts(-1)


# ---------------------------------------------------------------------------------
# Property: any sequence of inputs ends in exactly one outcome, without raising

FLOWS = [example(), flow(MENU), flow(COLLECT), flow(CALLBACK), flow(LOOKUP),
         flow({"cb": {"type": "callback", "min_digits": 2, "max_digits": 3, "retries": 3}}),
         flow({**COLLECT, "done": {"type": "say", "value": "order_id", "as": "digits",
                                   "barge_in": True, "next": "get"}})]

inputs = st.lists(st.one_of(
    st.tuples(st.just("digit"), st.sampled_from("1111222333444#0*59")),
    st.tuples(st.just("done"), st.none()),
    st.tuples(st.just("timer"), st.none()),
    st.tuples(st.just("lookup"), st.sampled_from([None, {"status": "shipped", "level": "gold"},
                                                  {"status": "lost"}])),
    st.tuples(st.just("wait"), st.floats(0, 10)),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(FLOWS))), st.sampled_from(["13800138000", ""]), inputs,
       st.booleans())
def test_random_inputs_end_in_exactly_one_outcome(fi, ani, steps, caller_hangs_up):
    s = IvrSession(FLOWS[fi], "c", ani, "400", {})
    now = 0.0
    s.start(now)
    events = drain(s)
    for kind, arg in steps:
        if kind == "digit":
            s.digit(now, arg)
        elif kind == "done":
            s.prompt_done(now)
        elif kind == "timer":
            t = s.get_timer()
            if t is not None:
                assert t >= now
                now = t
                s.handle_timer(now)
        elif kind == "lookup":
            s.lookup_result(now, arg)
        else:
            now += arg
            s.handle_timer(now)
        events += drain(s)
        t = s.get_timer()
        assert t is None or not s.ended
    if caller_hangs_up or not s.ended:
        s.hangup(now)
    events += drain(s)
    outcomes = [e for e in events if isinstance(e, OUTCOMES)]
    assert len(outcomes) == 1
    event(type(outcomes[0]).__name__)
    assert events[-1] is outcomes[0] and s.outcome == outcomes[0]
    if isinstance(outcomes[0], AbandonedInIvr):
        assert outcomes[0].path == s.path
    assert s.path and s.path[0] == FLOWS[fi].start
    # Play and StopPlay alternate sensibly: never two StopPlays without a Play between
    playing = False
    for e in events:
        if isinstance(e, Play):
            playing = True
        elif isinstance(e, StopPlay):
            assert playing
            playing = False
