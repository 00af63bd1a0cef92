"""Call controls of the centre on the simulated board: hold and retrieve with music on
hold, a supervisor's monitor, whisper and barge (heard, or not, as each mode says), and
click-to-dial calls out on a PRI trunk, answered or busy."""
from __future__ import annotations

import pytest

from tests.audio import power     # Goertzel power of one frequency
from tests.desk import established_call, heard_by_caller, types


def test_hold_plays_music_to_the_caller_and_retrieve_switches_back(centre):
    c = centre
    x, call, ts = established_call(c)
    c.world.phones[1].tone(1209, ms=-1)                       # the agent speaks
    talk = heard_by_caller(c, ts, 400)[-1600:]
    assert power(talk, 1209) > 1e3 * max(power(talk, 300), 1)
    assert c.req("call.hold", call=call)["state"] == "held"
    held = heard_by_caller(c, ts, 600)[-2400:]
    assert max(abs(v) for v in held) > 100                    # music on hold, not silence
    assert power(held, 1209) < 1e-3 * power(talk, 1209)       # ... and not the agent
    assert c.fail("call.hold", call=call)["field"] == "args.call"   # already held
    c.req("call.retrieve", call=call)
    back = heard_by_caller(c, ts, 400)[-1600:]
    assert power(back, 1209) > 0.1 * power(talk, 1209)


def test_supervisor_monitors_whispers_and_barges(centre):
    c = centre
    x, call, ts = established_call(c)
    c.world.exchange.spans[1].channels[ts].tone(697, ms=-1)  # the caller speaks
    c.world.phones[1].tone(1209, ms=-1)                       # the agent speaks
    c.world.phones[2].tone(1477, ms=-1)                       # the supervisor speaks
    r = c.req("call.supervise", call=call, supervisor="1002", mode="monitor")
    assert r["ringing"] == 2
    c.run(20)
    c.world.phones[2].lift()
    evs = c.run(20)
    assert "call.supervised" in types(evs)
    # (what each mode lets the supervisor hear is tests/drivers/test_switching.py's; here: who
    # hears the supervisor)
    caller_hears = heard_by_caller(c, ts, 400)[-1600:]
    assert power(caller_hears, 1477) < 1e-3 * power(caller_hears, 1209)   # monitor: silent
    c.req("call.supervise", call=call, supervisor="1002", mode="whisper")
    caller_hears = heard_by_caller(c, ts, 400)[-1600:]
    assert power(caller_hears, 1477) < 1e-3 * power(caller_hears, 1209)   # whisper: not to the caller
    c.req("call.supervise", call=call, supervisor="1002", mode="barge")
    evs = c.run(2)
    caller_hears = heard_by_caller(c, ts, 400)[-1600:]
    assert power(caller_hears, 1477) > 0.1 * power(caller_hears, 1209)    # barge: heard
    c.world.phones[2].hang_up()
    evs = c.run(60)
    assert "call.supervisor_left" in types(evs)
    assert c.fail("call.supervise", call=call, supervisor="1001")["field"] == "args.call"
    assert c.fail("call.supervise", call="c99", supervisor="1002")["field"] == "args.call"


def test_click_to_dial_out_on_a_pri_trunk(centre):
    c = centre
    c.world.calls.busy_numbers.add("95555")
    r = c.req("call.make", agent="1001", to="13912345678")
    evs = c.run(20)
    assert c.world.phones[1].ringing                           # the agent's phone first
    c.world.phones[1].lift()
    evs = c.run(200)                                           # the exchange answers after 2 s
    t = types(evs)
    assert t.index("call.dialling") < t.index("call.established")
    c.world.phones[1].hang_up()
    c.run(60)
    cdr = c.svc.store.cdr(r["call_id"])
    assert cdr["direction"] == "out" and cdr["outcome"] == "answered" and cdr["agent"] == "1001"
    assert cdr["dnis"] == "13912345678" and cdr["billsec"] > 1.0
    # a busy number
    r = c.req("call.make", agent="1001", to="95555")
    c.run(20)
    c.world.phones[1].lift()
    evs = c.run(60)
    cleared = [e for e in evs if e["type"] == "call.cleared"]
    assert cleared and cleared[0]["cause"] == 17 and cleared[0]["outcome"] == "busy"
    c.world.phones[1].hang_up()
    c.run(60)
    assert c.fail("call.make", agent="1001", to="12ab")["field"] == "args.to"
    assert c.fail("call.make", agent="7777", to="123")["field"] == "args.agent"


def test_consultative_transfer(centre):
    c = centre
    x, call, ts = established_call(c)
    r = c.req("call.consult", call=call, to="1002")
    assert r["to"] == "1002"
    evs = c.run(20)
    assert "call.held" in types(evs) and c.world.phones[2].ringing
    c.world.phones[2].lift()
    evs = c.run(20)
    assert "call.consulted" in types(evs)
    assert c.fail("call.consult", call=call, to="1002")["field"] == "args.call"
    c.req("call.transfer_complete", call=call, data={"case": "refund"})
    evs = c.run(20)
    tr = [e for e in evs if e["type"] == "call.transferred"]
    assert tr and tr[0]["to"] == "1002" and tr[0]["data"]["case"] == "refund"
    c.world.exchange.spans[1].channels[ts].tone(697, ms=-1)
    c.world.phones[2].tone(1477, ms=-1)
    hears = heard_by_caller(c, ts, 400)[-1600:]
    assert power(hears, 1477) > 1e3 * max(power(hears, 1209), 1)   # the new agent's voice
    c.world.calls.hangup(1, x.call)
    evs = c.run(60)
    cl = [e for e in evs if e["type"] == "call.cleared"]
    assert cl and cl[0]["agent"] == "1002"
    assert c.svc.store.cdr(call)["agent"] == "1002"


def test_pickup_of_a_ringing_call(centre):
    c = centre
    c.world.calls.offer_call(1, "13800138000", "4008005555")
    evs = c.run(60)
    d = [e for e in evs if e["type"] == "call.delivered"]
    assert d and d[0]["agent"] == "1001" and c.world.phones[1].rings >= 1
    c.req("agent.login", agent="1003")
    c.req("agent.not_ready", agent="1003", reason="backoffice")
    c.req("call.pickup", call=d[0]["call_id"], agent="1003")
    rings_1 = c.world.phones[1].rings
    evs = c.run(20)
    assert c.world.phones[3].ringing and not c.world.phones[1].ringing
    c.world.phones[3].lift()
    evs = c.run(20)
    assert any(e["type"] == "call.established" and e.get("agent") == "1003" for e in evs)
    c.run(300)
    assert c.world.phones[1].rings == rings_1        # 1001's phone stopped ringing for good
    assert c.fail("call.pickup", call=d[0]["call_id"], agent="1001")["field"] == "args.call"


def test_the_agent_desktop_answers_and_hangs_up(centre):
    """The ops `cti agent` sends for `answer` and `hangup` (the softphone case)."""
    c = centre
    c.world.calls.offer_call(1, "13800138000", "4008005555")
    evs = c.run(60)
    d = [e for e in evs if e["type"] == "call.delivered"][0]
    r = c.req("call.answer", call=d["call_id"])
    assert r["extension"] == 1
    evs = c.run(20)
    assert any(e["type"] == "call.established" for e in evs)
    c.req("call.hangup", call=d["call_id"])
    evs = c.run(20)
    assert any(e["type"] == "call.cleared" for e in evs)


def test_a_transfer_nobody_answers_goes_back_to_the_queue(centre):
    c = centre
    x, call, ts = established_call(c)
    c.req("agent.login", agent="1003")
    c.req("agent.not_ready", agent="1003", reason="away")
    c.req("call.transfer", call=call, to="1003")
    evs = c.run(int(21 / 0.02))                       # nobody lifts 1003's phone
    t = types(evs)
    assert "call.ring_no_answer" in t
    div = [e for e in evs if e["type"] == "call.diverted"]
    assert div and div[0]["to"] == "queue:service"
    assert c.req("call.show", call=call)["state"] in ("queued", "delivered")


def test_the_transfer_ring_timeout_is_configurable(centre, tmp_path):
    """[centre] transfer_ring_timeout: a transfer nobody answers goes back after that many
    seconds (here 5, not the default 20); a bad value is refused by name."""
    from cti.server.config import ConfigError, DEFAULT_TOML, parse_config
    cfg = parse_config(DEFAULT_TOML.replace("[centre]\n", "[centre]\ntransfer_ring_timeout = 5\n",
                                            1), "<test>", tmp_path)
    assert cfg.centre.transfer_ring_timeout == 5
    with pytest.raises(ConfigError, match="transfer_ring_timeout"):
        parse_config(DEFAULT_TOML.replace("[centre]\n", "[centre]\ntransfer_ring_timeout = 0\n",
                                          1), "<test>", tmp_path)
    c = centre
    c.svc.centre.config.transfer_ring_timeout = 5.0
    x, call, ts = established_call(c)
    c.req("agent.login", agent="1003")
    c.req("agent.not_ready", agent="1003", reason="away")
    c.req("call.transfer", call=call, to="1003")
    evs = c.run(int(4.5 / 0.02))
    assert "call.diverted" not in types(evs)
    evs = c.run(int(1.5 / 0.02))
    div = [e for e in evs if e["type"] == "call.diverted"]
    assert div and div[0]["to"] == "queue:service"


def test_call_list_shows_the_call_and_call_record_stops_its_recording(centre):
    """call.list is call.show for every call in progress plus the centre's counters; a
    recording stopped with call.record holds the call up to the stop, not after."""
    import wave

    c = centre
    x, call, ts = established_call(c)
    listed = c.req("call.list")
    assert listed["calls"] == [c.req("call.show", call=call)]
    (info,) = listed["calls"]
    assert (info["state"], info["agent"], info["trunk"], info["ani"], info["queue"]) == \
        ("established", "1001", f"1/{ts}", "13800138000", "service")
    assert listed["counters"]["offered"] == 1
    assert c.req("call.record", call=call, on=False) == {"call_id": call, "recording": False}
    stopped_at = c.svc.board.line_seconds
    c.run(150)                                          # 3 s more of talk, not recorded
    c.world.calls.hangup(1, x.call)
    c.run(60)
    assert c.req("call.list")["calls"] == []
    cdr = c.svc.store.cdr(call)
    with wave.open(cdr["recording"]) as w:
        recorded = w.getnframes() / w.getframerate()
    answered_at = cdr["answer"] - 1e6                  # the Centre's wall clock starts at 1e6
    assert abs(recorded - (stopped_at - answered_at)) < 0.1, (recorded, stopped_at, answered_at)
    assert cdr["billsec"] - recorded > 2.9
    e = c.fail("call.record", call="nosuch")
    assert (e["code"], e["field"]) == ("not_found", "args.call")
