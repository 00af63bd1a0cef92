"""Requests of cti/server/ops/sim.py: the simulated world driven from outside (faults on the
line, loopbacks, calls and phones of the simulated exchange, traffic)."""
from __future__ import annotations

import pytest

from cti.server.config import load_config
from cti.server.service import Service
from drivers.board import Board

from tests.inprocess import err, ok, settle, tick_until, ticks


def test_sim_fault_raises_los_and_rai_far_and_clear_recovers(svc):
    settle(svc)
    r = ok(svc, "sim.fault", span=1, los=True)
    assert r["faults"] == {"los": True} and r["direction"] == "to_board"
    assert r["active"] == {"to_exchange": {}, "to_board": {"los": True}}
    # G.775: LOS after 10..255 zeros, within the next ticks
    _, pubs = tick_until(svc, lambda: "LOS" in svc.board.spans[1].alarms(), 3, "LOS")
    alarm = [p.event for p in pubs if p.topic == "span.alarm"]
    assert len(alarm) == 1 and alarm[0]["span"] == 1 and "channel" not in alarm[0]
    assert alarm[0]["data"]["alarms"][0] == "LOS" and "LOS" in alarm[0]["data"]["raised"]
    assert ok(svc, "span.alarms", span=1)["alarms"] == alarm[0]["data"]["alarms"]
    assert ok(svc, "span.alarms", span=1)["in_sync"] is False
    # we send RAI (G.704 2.3.2 bit A) while out of sync: the exchange shows it
    tick_until(svc, lambda: ok(svc, "sim.stats", span=1)["far_end"]["alarms"] == ["RAI"], 5,
               "RAI at the far end")
    assert ok(svc, "span.alarms", span=2)["alarms"] == []
    r = ok(svc, "sim.fault", span=1, clear=True, direction="to-board")
    assert r["cleared"] is True and r["active"]["to_board"] == {}
    # issue 3: recovered within a second of line time
    tick_until(svc, lambda: ok(svc, "span.alarms", span=1)["in_sync"], 50, "recovery")
    tick_until(svc, lambda: ok(svc, "sim.stats", span=1)["far_end"]["alarms"] == [], 50,
               "RAI cleared at the far end")


def test_fault_direction_defaults(svc):
    assert ok(svc, "sim.fault", span=1, ais=True)["direction"] == "to_board"
    assert ok(svc, "sim.fault", span=1, ber=1e-4)["direction"] == "both"
    assert ok(svc, "sim.fault", span=1, slip_ppm=20)["direction"] == "both"
    r = ok(svc, "sim.fault", span=1, los=True, direction="to-exchange")
    assert r["direction"] == "to_exchange"
    assert r["active"] == {"to_exchange": {"ber": 1e-4, "clock_ppm": 20.0, "los": True},
                           "to_board": {"ais": True, "ber": 1e-4, "clock_ppm": 20.0}}
    r = ok(svc, "sim.fault", span=1, clear=True)
    assert r["direction"] == "both" and r["active"] == {"to_exchange": {}, "to_board": {}}


def test_ber_climbs_counters(svc):
    settle(svc)
    ok(svc, "sim.fault", span=2, ber=1e-3)
    ticks(svc, 5)
    c = ok(svc, "span.counters", span=2)["counters"]
    assert c["crc4_errors"] > 0 and c["ebit_errors"] > 0
    assert ok(svc, "span.counters", span=1)["counters"]["crc4_errors"] == 0


def test_sim_bert_on_a_far_looped_span_measures_the_injected_ber(svc):
    """Issue 3: a BERT on a looped span measures a BER within 20% of the injected one."""
    settle(svc)
    ok(svc, "sim.loopback", span=2, mode="line")
    ok(svc, "sim.fault", span=2, ber=1e-3, direction="to_board")
    ticks(svc, 50)
    ok(svc, "span.bert", span=2, action="start")
    ticks(svc, 250)     # 5 s of line time: ~10 Mbit, ~10000 errors
    st = ok(svc, "span.bert", span=2)
    assert st["sync"] and st["bits"] > 5_000_000
    assert st["ber"] == pytest.approx(1e-3, rel=0.2), st


def test_sim_loopback(svc):
    assert ok(svc, "sim.loopback", span=2, mode="line")["far_loopback"] == "line"
    assert ok(svc, "sim.stats", span=2)["far_end"]["loopback"] == "line"
    assert svc.world.exchange.spans[2].status()["loopback"] == "line"
    assert ok(svc, "sim.stats", span=1)["far_end"]["loopback"] == "off"


def test_sim_ops_on_a_real_board_are_refused(tmp_path):
    cfg = load_config(home=tmp_path / "var")
    bc = cfg.board
    # a board of its own, with no world around it: no cable to act on
    with Board(bc.name, bc.backend, list(bc.spans), [p.kind for p in bc.ports],
               bc.tick_ms) as board:
        s = Service(cfg, board=board)
        for op, args in (("sim.fault", {"los": True}), ("sim.loopback", {"mode": "line"}),
                         ("sim.stats", {})):
            e = err(s, op, span=1, **args)
            assert e["code"] == "not_supported" and e["field"] == "op", e
        assert ok(s, "board.list")["boards"][0]["simulated"] is False
        # nothing on the line: the spans tick and show LOS (G.775)
        alarms = [p.event for p in ticks(s, 3) if p.topic == "span.alarm"]
        assert [e["span"] for e in alarms] == [1, 2]
        assert all("LOS" in ok(s, "span.alarms", span=n)["alarms"] for n in (1, 2))


def test_a_caller_and_an_agent_played_through_the_sim_requests(svc):
    """sim.call, sim.dtmf, sim.phone, sim.hangup and sim.calls drive the simulated exchange
    and the agent's phone from outside: the caller keys 2 for sales in the IVR, agent
    1001's phone rings with the caller's number, the agent lifts, the caller hangs up."""
    settle(svc)
    tick_until(svc, lambda: not ok(svc, "ping")["starting"], 200, "spans in service")
    ok(svc, "agent.login", agent="1001")
    r = ok(svc, "sim.call", span=1, to="4008001234", **{"from": "13800138000"})
    assert (r["congested"], r["state"]) == (False, "setup")
    tick_until(svc, lambda: any(c["state"] == "ivr" for c in ok(svc, "call.list")["calls"]),
               100, "the IVR answers")
    (call,) = ok(svc, "call.list")["calls"]
    ok(svc, "sim.dtmf", channel=call["trunk"], digits="2")
    _, evs = tick_until(svc, lambda: ok(svc, "sim.phone", port=1, action="status")["ringing"],
                        300, "agent 1001's phone rings")
    assert [e.event["data"]["digit"] for e in evs if e.event["type"] == "channel.dtmf"] == ["2"]
    # the caller's number comes after the first ring (FSK between rings, GR-30-CORE)
    tick_until(svc, lambda: ok(svc, "sim.phone", port=1, action="status")["caller_id"], 400,
               "caller ID on agent 1001's phone")
    phone = ok(svc, "sim.phone", port=1, action="status")
    assert phone["caller_id"]["number"] == "13800138000" and not phone["off_hook"]
    assert ok(svc, "sim.phone", port=1, action="lift")["off_hook"] is True
    _, evs = tick_until(svc, lambda: ok(svc, "call.show", call=call["call_id"])["state"]
                        == "established", 50, "the call is established")
    assert ok(svc, "call.show", call=call["call_id"])["queue"] == "sales"
    far = ok(svc, "sim.calls")
    (xc,) = far["calls"]
    assert (xc["ani"], xc["dnis"]) == ("13800138000", "4008001234")
    ok(svc, "sim.hangup", span=1, call=xc["call"], cause=16)
    _, evs = tick_until(svc, lambda: not ok(svc, "call.list")["calls"], 100, "the call clears")
    cleared = [e.event for e in evs if e.event["type"] == "call.cleared"]
    assert cleared and cleared[0]["call_id"] == call["call_id"]
    assert svc.store.cdr(call["call_id"])["outcome"] == "answered"
    assert ok(svc, "sim.calls")["cleared"] == {"16": 1}
    e = err(svc, "sim.phone", port=12, action="lift")          # an FXO port: no phone
    assert (e["code"], e["field"]) == ("not_found", "args.port")
    assert err(svc, "sim.dtmf", channel=call["trunk"], digits="2x")["field"] == "args.digits"


def test_sim_traffic_offers_calls_at_its_rate_until_stopped(svc):
    settle(svc)
    tick_until(svc, lambda: not ok(svc, "ping")["starting"], 200, "spans in service")
    r = ok(svc, "sim.traffic", profile="steady", rate=120, seconds=600, seed=3)
    assert r["spans"] == [1, 2]
    offered = [p for p in ticks(svc, 30 * 50) if p.event["type"] == "call.offered"]
    assert 35 <= len(offered) <= 90                        # 60 expected in 30 s (Poisson)
    assert {a["state"] for a in ok(svc, "agent.list")["agents"]} != {"logged_out"}
    assert ok(svc, "sim.traffic", profile="stop") == {"stopped": True}
    ticks(svc, 50)                                         # callers already dialling arrive
    later = [p for p in ticks(svc, 10 * 50) if p.event["type"] == "call.offered"]
    assert later == []
