"""Validation at the door (ARCHITECTURE.md rule 6): what reaches a stack is checked
against what that stack accepts when it comes in (a request, a campaign list, the
configuration), numbers are normalised the same way everywhere, and what the network
delivers that a stack below cannot carry is withheld and counted, never an exception
deep inside a tick. Each test here failed before its fix."""
from __future__ import annotations

import os
import re
import shutil

import pytest

from cti.server.config import DEFAULT_TOML, ConfigError, parse_config
from cti.centre.prompts import PromptLibrary
from drivers.numbers import (CHINA, NumberError, NumberPlan, NumberSet, fit_caller_id,
                             parse_number)
from tests.centre.test_dialer import Sim, config_text
from tests.desk import Centre


# ---- numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["013900000002", "+8613900000002", "008613900000002",
                                     "13900000002"])
def test_one_subscriber_however_written(written):
    assert parse_number(written) == "13900000002"
    assert written in NumberSet(["13900000002"])
    assert "13900000002" in NumberSet([written])


def test_normal_forms_of_the_chinese_plan_and_another():
    assert parse_number("+861012345678") == "01012345678"    # Beijing, from anywhere
    assert parse_number("01012345678") == "01012345678"
    assert parse_number("+864008005555") == "4008005555"     # 400 numbers: no trunk 0
    assert parse_number("95555") == "95555"                  # short codes as written
    assert parse_number("+14155550100") == "0014155550100"   # another country
    uk = NumberPlan(country_code="44", trunk_prefix="0", no_trunk=())
    assert parse_number("+442079460000", uk) == "02079460000"
    assert parse_number("02079460000", uk) == parse_number("00442079460000", uk)
    assert parse_number("+442079460000", CHINA) == "00442079460000"


@pytest.mark.parametrize("bad", ["1" * 21, "１２３", "12a", "", "+", "12 34", "1" * 10_000,
                                 "٣٣٣", "1\x00"])
def test_numbers_no_line_carries_are_refused_without_echoing_them(bad):
    with pytest.raises(NumberError) as e:
        parse_number(bad)
    assert len(str(e.value)) < 160


def test_caller_id_withholds_what_it_cannot_carry():
    assert fit_caller_id("1" * 21, "Li") == (None, "Li", ["number_withheld"])
    assert fit_caller_id("1" * 20, None) == ("1" * 20, None, [])
    assert fit_caller_id("12*3", None, dtmf=True) == (None, None, ["number_withheld"])
    assert fit_caller_id("123", "王先生") == ("123", None, ["name_withheld"])
    assert fit_caller_id("123", "x" * 60)[1] == "x" * 50


# ---- requests -------------------------------------------------------------------------------

@pytest.fixture
def centre(tmp_path):
    c = Centre(tmp_path / "home")
    c.req("agent.login", agent="1001")
    yield c
    c.close()


@pytest.mark.parametrize("to", ["1" * 21, "１２３", "1" * 1_000_000])
def test_click_to_dial_to_a_number_no_line_carries_is_a_clear_bad_arg(centre, to):
    e = centre.fail("call.make", agent="1001", to=to)
    assert (e["code"], e["field"]) == ("bad_arg", "args.to")
    assert len(e["message"]) < 200                           # never echoes a huge value
    assert centre.svc.centre.calls == {}                     # nothing started
    centre.run(150)                                          # and nothing blows up later
    assert not centre.world.phones[1].ringing


def test_click_to_dial_normalises_the_number(centre):
    r = centre.req("call.make", agent="1001", to="+8613912345678")
    assert r["to"] == "13912345678"
    assert centre.svc.centre.calls[r["call_id"]].dnis == "13912345678"


def test_a_21_digit_calling_number_rings_the_agent_and_caller_id_is_withheld(centre):
    c = centre
    ani = "8" * 21
    c.world.calls.offer_call(1, ani, "4008005555")          # the service queue, no IVR
    evs = c.run(160)                                         # two rings: caller ID goes out
    assert any(e["type"] == "call.delivered" and e["ani"] == ani for e in evs)
    phone = c.world.phones[1]
    assert phone.ringing or phone.caller_id is not None
    cid = phone.caller_id
    assert cid is not None and cid.number is None            # withheld, not cut
    assert c.svc.centre.analog[1].machine.counters["caller_id_number_withheld"] == 1
    phone.lift()
    evs = c.run(20)
    est = [e for e in evs if e["type"] == "call.established"]
    assert est and est[0]["agent"] == "1001" and est[0]["ani"] == ani


def test_a_prompt_missing_at_run_time_does_not_end_the_call(centre):
    c = centre
    home_prompts = c.svc.config.centre.prompts_dir
    for name in ("welcome", "menu"):
        os.unlink(os.path.join(home_prompts, f"{name}.wav"))
    x = c.world.calls.offer_call(1, "13800138000", "4001")  # the IVR's main flow
    evs = c.run(100)
    call = next(e for e in evs if e["type"] == "call.offered")["call_id"]
    assert call in c.svc.centre.calls
    assert c.svc.centre.counters["prompts_missing"] >= 2
    ts = c.svc.centre.calls[call].timeslot
    c.req("sim.dtmf", channel=f"1/{ts}", digits="2")         # sales
    evs = c.run(150)
    assert any(e["type"] == "call.queued" and e.get("queue") == "sales" for e in evs), \
        [e["type"] for e in evs]


def test_campaign_list_refuses_rows_no_line_carries_and_loads_the_others(default_prompts):
    s = Sim(default_prompts, agents=())
    try:
        s.req("campaign.create", campaign="c")
        r = s.req("campaign.load", campaign="c", records=[
            {"number": "13900000001"}, {"number": "1" * 21}, {"number": "１２３"},
            {"number": "+8613900000004", "name": "Li"}, {"number": 139}, "13900000005"])
        assert r["loaded"] == 2 and r["refused_count"] == 4
        assert [(x["index"], x["field"]) for x in r["refused"]] == [
            (1, "args.records[1].number"), (2, "args.records[2].number"),
            (4, "args.records[4].number"), (5, "args.records[5]")]
        numbers = [x["number"] for x in s.req("campaign.show", campaign="c")["records_list"]]
        assert numbers == ["13900000001", "13900000004"]
    finally:
        s.close()


def test_do_not_call_matches_the_subscriber_however_written(default_prompts):
    s = Sim(default_prompts, agents=("1001",))
    try:
        s.req("dnc.add", number="13900000002")
        s.req("campaign.create", campaign="c", agents=["1001"])
        written = ["013900000002", "+8613900000002", "008613900000002", "13900000002"]
        s.req("campaign.load", campaign="c", records=[{"number": n} for n in written] +
              [{"number": "13900000003"}])
        s.req("campaign.start", campaign="c")
        s.run(20)
        states = [r["state"] for r in s.req("campaign.show", campaign="c")["records_list"]]
        assert states[:4] == ["dnc"] * 4
        assert states[4] != "dnc"
        assert s.req("dnc.add", number="+8613900000002")["added"] is False
    finally:
        s.close()


def test_a_record_no_line_carries_that_got_past_the_door_fails_its_dial(default_prompts):
    # (a list loaded before the door checked, or by a program using the library)
    s = Sim(default_prompts, agents=("1001",))
    try:
        s.req("campaign.create", campaign="c", agents=["1001"])
        s.svc.campaigns.load(s.now, "c", [{"number": "１２３"}, {"number": "13900000003"}])
        s.req("campaign.start", campaign="c")
        s.run(30)
        bad, good = s.req("campaign.show", campaign="c")["records_list"]
        assert (bad["attempts"], bad["last_outcome"]) == (1, "failed"), bad   # not the tick
        assert good["state"] == "done", good
    finally:
        s.close()


# ---- configuration --------------------------------------------------------------------------

def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


FLOW = "[ivr.flows.main.nodes."


@pytest.mark.parametrize("case, old, new, key", [
    ("missing prompt", 'prompt = "welcome"', 'prompt = "no_such_prompt"',
     "ivr.flows.main.nodes.welcome.prompt"),
    ("IVR queue that does not exist", 'queue = "sales"\nprompt = "please_hold"',
     'queue = "nosuch"\nprompt = "please_hold"', "ivr.flows.main.nodes.sales.queue"),
    ("missing music on hold", 'moh = "moh"', 'moh = "no_such_music"', "centre.moh"),
    ("moh outside the home", 'moh = "moh"', 'moh = "../../../etc/passwd"', "centre.moh"),
    ("lookup on table cdr", 'table = "orders"', 'table = "cdr"',
     "ivr.flows.main.nodes.find_order.table"),
    ("lookup on a column not open", 'column = "order_id"', 'column = "status"',
     "ivr.flows.main.nodes.find_order.column"),
    ("overflow to no queue", 'overflow = "voicemail:sales"', 'overflow = "queue:nope"',
     "queues[0].overflow"),
    ("outbound ANI no line carries", "moh = \"moh\"", 'moh = "moh"\noutbound_ani = "１２３"',
     "centre.outbound_ani"),
    ("a DNIS that can never match", '"4008005555" = "queue:service"',
     '"４００８" = "queue:service"', 'routing.dnis."４００８"'),
    ("two agents on one extension", "[[queues]]",
     '[[agents]]\nid = "2001"\nextension = 3\n\n[[queues]]', "agents[1].extension"),
])
def test_a_configuration_that_would_fail_a_caller_is_refused_at_load(tmp_path, case, old,
                                                                       new, key):
    text = DEFAULT_TOML.replace(old, new, 1)
    assert text != DEFAULT_TOML
    with pytest.raises(ConfigError) as e:
        parse_config(text, "centre.toml", home=tmp_path)
    errs = [(p, line) for p, line, _ in e.value.errors]
    new_line = _line_of(text, new.splitlines()[0])
    if case.startswith("two agents"):
        new_line = _line_of(text, "extension = 3")
    elif case.startswith("outbound"):
        new_line = _line_of(text, "outbound_ani")
    assert (key, new_line) in errs, (case, e.value.errors)
    assert f"centre.toml:{new_line}: {key}:" in str(e.value)


def test_prompts_outside_the_home_must_exist(tmp_path, default_prompts):
    text = DEFAULT_TOML.replace("[centre]\n", f"[centre]\nprompts = {default_prompts!r}\n", 1)
    parse_config(text, home=tmp_path)                          # a shared set: fine
    gone = str(tmp_path / "elsewhere" / "prompts")
    text = DEFAULT_TOML.replace("[centre]\n", f"[centre]\nprompts = {gone!r}\n", 1)
    with pytest.raises(ConfigError) as e:
        parse_config(text, home=tmp_path / "home")
    assert [p for p, _, _ in e.value.errors] == ["centre.prompts"]


def test_default_prompts_are_made_when_the_home_lacks_one(tmp_path):
    c = Centre(tmp_path / "home")
    d = c.svc.config.centre.prompts_dir
    c.close()
    os.unlink(os.path.join(d, "please_hold.wav"))
    c = Centre(tmp_path / "home")                              # the same home again
    try:
        assert os.path.isfile(os.path.join(d, "please_hold.wav"))
    finally:
        c.close()


# ---- subprocess arguments -------------------------------------------------------------------

@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                    reason="needs espeak-ng and sox")
def test_tts_text_is_spoken_never_an_option(tmp_path):
    lib = PromptLibrary(tmp_path)
    read_aloud = lib.load("tts:-f/etc/os-release")
    said = lib.load("tts:minus f slash etc slash os release")
    # as text: a couple of seconds; as the option -f it read the whole file (tens of s)
    assert len(read_aloud) / 8000 < 5.0
    assert len(read_aloud) < 2 * len(said)
    assert lib.load("tts:a\x00b")                              # argv cannot carry NUL


def test_a_request_nested_a_megabyte_deep_is_a_bad_request(centre):
    raw = b'{"id": 1, "op": "ping", "args": ' + b"[" * 400_000 + b"]" * 400_000 + b"}"
    r = centre.svc.handle(raw)
    assert r["error"]["code"] == "bad_request"


def test_r2_sends_ascii_digits_only():
    from drivers.sig.r2 import R2Channel, R2Error
    ch = R2Channel("cn")
    with pytest.raises(R2Error):
        ch.seize(0.0, "１２３")


def test_a_call_on_the_d_channel_timeslot_is_refused_at_the_door(centre):
    """Found by the request fuzzer: pri.place on timeslot 16 (the D-channel, G.704 5.1.3.2)
    reached Q.931, whose refusal was counted as a server error and told as one."""
    e = centre.fail("pri.place", span=1, to="4008005555", timeslot=16)
    assert (e["code"], e["field"]) == ("bad_arg", "args.timeslot")
    assert "16" in e["message"] and "B-channel" in e["message"]
    assert centre.svc.errors == 0
    assert centre.svc.pri[1].calls() == {}


def test_a_stack_refusing_a_request_is_the_requests_failure_not_the_servers(centre):
    """A request the stack does not allow in the call's state (Q.931's local protocol
    error, answering a call we placed ourselves) is refused as ``failed``; the server
    counts no error of its own and publishes no server.error."""
    call = centre.req("pri.place", span=1, to="4008005555")["call"]
    e = centre.fail("pri.answer", span=1, call=call)
    assert e["code"] == "failed"
    assert centre.svc.errors == 0
