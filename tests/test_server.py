"""The board server: the sans-I/O Service and the ZeroMQ shell in-process, both on the
simulated world that ``cti serve`` builds from the embedded default (our board cabled to a
simulated exchange, phones on the FXS ports, exchange lines on the FXO ports), and end to
end against ``cti serve`` as a process.

Every alarm, counter, tone and sample here comes from the C core's bits; the world runs
seconds of line time in milliseconds, so the tests tick it rather than fake it.
"""
from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cti.clients.client import Client, CtiError, NoServer, Subscriber
from cti.server.config import load_config
from cti.server.loop import serve
from cti.server.registry import REGISTRY
from cti.server.service import OPS, Service, build_world, check_args
from drivers.board import Audio, Board
from drivers.hal import HalError
from drivers.codecs import alaw_decode

from served import ROOT, cti_env, start_server, stop_server  # noqa: E402,F401 (others import them from here)
WALL = 1_000_000.0      # wall clock at line time zero, for ``ts``
TICK_S = 0.02           # the embedded default's tick
# Start-up: both framers align (G.706 4.1: FAS, NFAS, FAS) within the first ticks, so the
# start-up alarms (LOS until the far end's first bits arrive, LOF, LOMF) clear at once.
START_TICKS = 5


@pytest.fixture
def svc(tmp_path):
    """A Service on the simulated world, built as ``cti serve`` builds it (on a home of
    its own: a start on a used home restores what the last run left)."""
    cfg = load_config(home=tmp_path / "var")
    world, board = build_world(cfg)
    assert board is None
    s = Service(cfg, world=world, wall_start=WALL)
    yield s
    world.close()


def ticks(svc, n: int) -> list:
    """``n`` ticks of the service: the events it published."""
    pubs = []
    for _ in range(n):
        pubs += svc.tick()[0]
    return pubs


def tick_until(svc, cond, limit: int, what: str) -> tuple[int, list]:
    """Tick until ``cond()`` holds, at most ``limit`` ticks: (ticks taken, events)."""
    pubs = []
    for n in range(1, limit + 1):
        pubs += svc.tick()[0]
        if cond():
            return n, pubs
    pytest.fail(f"{what}: not within {limit} ticks")


def settle(svc) -> list:
    """Tick through the start-up alarms: every span in sync without alarms."""
    return tick_until(svc, lambda: not any(sp.alarms() for sp in svc.board.spans.values()),
                      START_TICKS, "start-up alarms clear")[1]


def tapped(svc) -> set[tuple[int, int]]:
    """What the board taps now: ``(span, timeslot)`` of the audio of one world tick, taken
    outside the service (span 0: the timeslot is a port)."""
    return {(e.span, e.timeslot) for e in svc.world.tick() if isinstance(e, Audio)}


def req(svc, op, rid=1, **args):
    return svc.handle(json.dumps({"id": rid, "op": op, "args": args}).encode())


def ok(svc, op, **args):
    r = req(svc, op, **args)
    assert r["ok"], r
    return r["result"]


def err(svc, op, **args):
    r = req(svc, op, **args)
    assert not r["ok"], r
    return r["error"]


# --- requests ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, code, field", [
    (b"not json", "bad_request", None),
    (b"\xff\xfe", "bad_request", None),
    (b"[1, 2]", "bad_request", None),
    (b'{"op": "ping"}', "bad_request", "id"),
    (b'{"id": 3}', "bad_request", "op"),
    (b'{"id": 3, "op": 7}', "bad_request", "op"),
    (b'{"id": [1], "op": "ping"}', "bad_request", "id"),
    (b'{"id": 3, "op": "ping", "extra": 1}', "bad_request", "extra"),
    (b'{"id": 3, "op": "span.frobnicate"}', "unknown_op", "op"),
    (b'{"id": 3, "op": "span.show", "args": []}', "bad_arg", "args"),
    (b'{"id": 3, "op": "span.show", "args": {}}', "bad_arg", "args.span"),
    (b'{"id": 3, "op": "span.show", "args": {"span": "1"}}', "bad_arg", "args.span"),
    (b'{"id": 3, "op": "span.show", "args": {"span": true}}', "bad_arg", "args.span"),
    (b'{"id": 3, "op": "span.show", "args": {"span": 1.5}}', "bad_arg", "args.span"),
    (b'{"id": 3, "op": "span.show", "args": {"span": 0}}', "bad_arg", "args.span"),
    (b'{"id": 3, "op": "span.show", "args": {"span": 9}}', "not_found", "args.span"),
    (b'{"id": 3, "op": "span.show", "args": {"span": 1, "x": 1}}', "bad_arg", "args.x"),
    (b'{"id": 3, "op": "span.loopback", "args": {"span": 1, "mode": "far"}}', "bad_arg",
     "args.mode"),
    (b'{"id": 3, "op": "channel.show", "args": {"channel": "7"}}', "bad_arg", "args.channel"),
    (b'{"id": 3, "op": "channel.show", "args": {"channel": "1/x"}}', "bad_arg", "args.channel"),
    (b'{"id": 3, "op": "channel.show", "args": {"channel": "3/1"}}', "not_found",
     "args.channel"),
    (b'{"id": 3, "op": "channel.show", "args": {"channel": "1/32"}}', "not_found",
     "args.channel"),
    (b'{"id": 3, "op": "channel.show", "args": {"channel": "fxo/1"}}', "not_found",
     "args.channel"),
    (b'{"id": 3, "op": "channel.tone", "args": {"channel": "1/1", "freq": 5000}}', "bad_arg",
     "args.freq"),
    (b'{"id": 3, "op": "channel.listen", "args": {"channel": "1/1", "seconds": 0}}', "bad_arg",
     "args.seconds"),
    (b'{"id": 3, "op": "sim.fault", "args": {"span": 1}}', "bad_arg", "args"),
    (b'{"id": 3, "op": "sim.fault", "args": {"span": 1, "ber": 0.9}}', "bad_arg", "args.ber"),
    (b'{"id": 3, "op": "sim.fault", "args": {"span": 1, "ber": "1e-3"}}', "bad_arg",
     "args.ber"),
    (b'{"id": 3, "op": "sim.fault", "args": {"span": 1, "clear": true, "los": true}}',
     "bad_arg", "args.los"),
    (b'{"id": 3, "op": "sim.fault", "args": {"span": 1, "los": true, "direction": "up"}}',
     "bad_arg", "args.direction"),
    (b'{"id": 3, "op": "replay", "args": {"after": -1}}', "bad_arg", "args.after"),
    (b'{"id": 3, "op": "replay", "args": {"after": 0, "topics": [1]}}', "bad_arg",
     "args.topics[0]"),
])
def test_bad_requests_name_the_field(svc, raw, code, field):
    r = svc.handle(raw)
    assert r["ok"] is False
    assert r["error"]["code"] == code, r
    assert r["error"].get("field") == field, r
    assert r["error"]["message"]
    if b'"id": 3' in raw:
        assert r["id"] == 3
    # and the service still answers
    assert ok(svc, "ping")["pong"] is True


def test_a_board_error_is_a_failed_reply_not_a_crash(svc, monkeypatch):
    # the core refuses a tone on the D-channel of a PRI span (TS16 carries HDLC)
    e = err(svc, "channel.tone", channel="1/16", freq=1004)
    assert e["code"] == "failed" and "channel 1/16" in e["message"]

    def crash():
        raise RuntimeError("oops")
    monkeypatch.setattr(svc.board.spans[1], "reset_counters", crash)
    e = err(svc, "span.counters", span=1, reset=True)
    assert e["code"] == "internal" and "oops" in e["message"]
    assert ok(svc, "ping")["pong"]


def test_every_op_has_a_method():
    for op in OPS:
        assert callable(REGISTRY.get(op).handler), op


def test_check_args_defaults_and_ints_as_floats():
    a = check_args("channel.tone", OPS["channel.tone"], {"channel": "1/1", "freq": 1000})
    assert a == {"channel": "1/1", "freq": 1000, "freq2": 0, "level": -10, "ms": 1000,
                 "dtmf": None, "tone": None, "capture": False}
    e = pytest.raises(Exception, check_args, "x", OPS["channel.tone"],
                      {"channel": "1/1", "freq": float("nan")})
    assert e.value.field == "args.freq"


# --- ops ---------------------------------------------------------------------------------

def test_ping_and_board(svc):
    p = ok(svc, "ping")
    assert p["board"] == "sim0" and p["seq"] == 0 and p["protocol"] == 1
    boards = ok(svc, "board.list")["boards"]
    assert boards[0]["name"] == "sim0" and boards[0]["spans"] == [1, 2]
    assert boards[0]["ports"][:1] == ["fxs/1"] and boards[0]["ports"][-1] == "fxo/12"
    show = ok(svc, "board.show")
    assert [s["span"] for s in show["span_status"]] == [1, 2]
    assert len(show["port_status"]) == 12


def test_start_up_events_are_real_and_the_alarms_clear_within_the_first_ticks(svc):
    evs = [p.event for p in settle(svc)]
    assert svc.board.tick_count <= START_TICKS
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    alarms = [e for e in evs if e["type"].startswith("span.alarm")]
    assert alarms and all(e["type"] == "span.alarm" and "channel" not in e for e in alarms)
    # each span raised LOS before the far end's first bits, then cleared everything
    for n in (1, 2):
        mine = [e["data"] for e in alarms if e["span"] == n]
        assert "LOS" in mine[0]["raised"] and mine[-1]["alarms"] == [], mine
    assert all(ok(svc, "span.alarms", span=n)["in_sync"] for n in (1, 2))
    # the exchange's lines put battery on our FXO ports: named as channels, not spans
    battery = [e for e in evs if e["type"] == "channel.battery"]
    assert {e["channel"] for e in battery} == {"fxo/9", "fxo/10", "fxo/11", "fxo/12"}
    assert all(e["data"] == {"on": True} and "span" not in e for e in battery)


def test_span_ops(svc):
    settle(svc)
    ticks(svc, 3)
    s = ok(svc, "span.show", span=1)
    assert s["in_sync"] and s["alarms"] == [] and s["counters"]["crc4_errors"] == 0
    assert len(s["channels"]) == 31 and s["channels"][15]["kind"] == "dchan"
    assert ok(svc, "span.alarms", span=2) == {"span": 2, "alarms": [], "in_sync": True,
                                              "loopback": "off"}
    frames = ok(svc, "span.counters", span=1)["counters"]["frames_rx"]
    assert frames >= 3 * 160
    c = ok(svc, "span.counters", span=1, reset=True)
    assert c["counters"]["frames_rx"] == frames and c["reset"] is True
    assert ok(svc, "span.counters", span=1)["counters"]["frames_rx"] == 0
    ticks(svc, 1)   # one tick: 20 ms, 160 E1 frames
    assert ok(svc, "span.counters", span=1)["counters"]["frames_rx"] == 160
    assert ok(svc, "span.loopback", span=1, mode="local") == {"span": 1, "loopback": "local"}
    assert svc.board.spans[1].status()["loopback"] == "local"
    assert ok(svc, "span.alarms", span=1)["loopback"] == "local"
    assert ok(svc, "span.bert", span=1, action="start")["running"] is True
    assert ok(svc, "span.bert", span=1)["running"] is True
    assert ok(svc, "span.bert", span=1, action="stop")["running"] is False


def test_channel_ops(svc):
    settle(svc)
    assert ok(svc, "channel.show", channel="1/16")["kind"] == "dchan"
    port = ok(svc, "channel.show", channel="fxs/3")
    assert port["kind"] == "fxs" and port["hook"] == "on"
    assert ok(svc, "channel.show", channel="fxo/12")["kind"] == "fxo"
    t = ok(svc, "channel.tone", channel="1/5", freq=1004, level=-13, ms=40)
    assert t == {"channel": "1/5", "freq": 1004, "freq2": 0, "level": -13, "ms": 40}
    # the tone goes out on timeslot 5: the exchange hears 40 ms of 1004 Hz at -13 dBm0
    svc.world.exchange.spans[1].channels[5].tap(True)
    pubs, audio = [], b""
    for _ in range(4):
        pubs += svc.tick()[0]
        audio += b"".join(e.data for e in svc.world.exchange_events
                          if isinstance(e, Audio) and e.timeslot == 5)
    pcm = alaw_decode(audio)
    samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm)
    loud = [i for i, x in enumerate(samples) if abs(x) > 1000]
    tone = samples[loud[0]:loud[-1] + 1]
    assert 300 <= len(tone) <= 330                       # 40 ms at 8000 samples/s
    crossings = sum(1 for x, y in zip(tone, tone[1:]) if (x < 0) != (y < 0))
    assert crossings * 8000 / (2 * len(tone)) == pytest.approx(1004, rel=0.03)
    rms = math.sqrt(sum(x * x for x in tone) / len(tone))
    assert rms == pytest.approx(22827 * 10 ** (-13 / 20) / math.sqrt(2), rel=0.05)
    done = [p.event for p in pubs if p.topic == "channel.tone_done"]
    # played: false, a generated tone ran out (true: a played buffer)
    assert len(done) == 1 and done[0]["channel"] == "1/5" and done[0]["span"] == 1
    assert done[0]["data"] == {"played": False, "what": "tone"}


def test_listen_is_answered_after_the_line_time(svc):
    settle(svc)
    assert svc.handle(json.dumps({"id": "L", "op": "channel.listen",
                                  "args": {"channel": "1/5", "seconds": 0.05}}), token="T") is None
    replies = []
    for _ in range(5):
        pubs, done = svc.tick()
        assert not [p for p in pubs if p.topic == "channel.audio"]  # audio is not on the bus
        replies += done
    assert len(replies) == 1
    token, reply = replies[0]
    assert token == "T" and reply["id"] == "L" and reply["ok"]
    audio = base64.b64decode(reply["result"]["audio"])
    assert len(audio) == 400 and set(audio) == {0xD5}     # an idle timeslot: A-law silence
    assert reply["result"]["law"] == "alaw" and reply["result"]["rate"] == 8000
    assert tapped(svc) == set()


def test_listen_hears_the_far_end(svc):
    settle(svc)
    svc.world.exchange.spans[2].channels[9].tone(1004, level_dbm0=-10, ms=-1)
    svc.handle({"id": 1, "op": "channel.listen", "args": {"channel": "2/9", "seconds": 0.1}},
               token="t")
    assert tapped(svc) == {(2, 9)}
    done = []
    while not done:
        done += svc.tick()[1]
        assert svc.board.tick_count < 20
    pcm = alaw_decode(base64.b64decode(done[0][1]["result"]["audio"]))
    samples = struct.unpack("<800h", pcm)
    assert min(samples) < -5000 and max(samples) > 5000


def test_two_listens_share_a_tap(svc):
    settle(svc)
    svc.handle({"id": 1, "op": "channel.listen", "args": {"channel": "fxs/2", "seconds": 0.02}},
               token="a")
    svc.handle({"id": 2, "op": "channel.listen", "args": {"channel": "fxs/2", "seconds": 0.06}},
               token="b")
    got = []
    for _ in range(2):
        got += svc.tick()[1]
    assert [t for t, _ in got] == ["a"]
    assert tapped(svc) == {(0, 2)}          # b still listens (this tick's audio is lost to it)
    for _ in range(3):
        got += svc.tick()[1]
    assert [t for t, _ in got] == ["a", "b"] and tapped(svc) == set()
    assert len(base64.b64decode(got[1][1]["result"]["audio"])) == 480


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


def test_events_numbering_ts_channel_names_and_replay(svc):
    start = settle(svc)
    n0 = svc.board.tick_count
    svc.world.after(3 * 20, svc.world.phones[5].lift)   # on the third tick from now
    ok(svc, "sim.fault", span=1, ais=True)
    pubs = start + ticks(svc, 4)
    evs = [p.event for p in pubs]
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    hook = next(e for e in evs if e["type"] == "channel.hook")
    assert hook["channel"] == "fxs/5" and hook["data"] == {"off_hook": True}
    assert hook["ts"] == pytest.approx(WALL + (n0 + 3) * TICK_S)
    ais = next(e for e in evs[len(start):] if e["type"] == "span.alarm")
    assert ais["span"] == 1 and "AIS" in ais["data"]["alarms"]
    assert WALL + (n0 + 1) * TICK_S - 1e-9 <= ais["ts"] <= WALL + (n0 + 2) * TICK_S + 1e-9
    last = svc.log.last_seq
    assert ok(svc, "replay", after=0)["events"] == evs
    assert ok(svc, "replay", after=last)["events"] == []
    assert ok(svc, "replay", after=0, topics=["channel."])["events"] == [
        e for e in evs if e["type"].startswith("channel.")]
    assert ok(svc, "replay", after=len(start), topics=["channel.hook"])["events"] == [hook]
    # the FXS signalling made a call event of the same hook: the phone is off hook
    assert [e["type"] for e in ok(svc, "replay", after=len(start),
                                  topics=["channel.line_off_hook"])["events"]] == [
        "channel.line_off_hook"]
    e = err(svc, "replay", after=last + 5)
    assert e["code"] == "replay_gap" and e["field"] == "args.after"


def test_replay_ring_overflow(svc):
    svc.log = type(svc.log)(4)
    for i in range(10):
        svc.log.append(float(i), "span.x")
    e = err(svc, "replay", after=2)
    assert e["code"] == "replay_gap" and "7..10" in e["message"]


def test_snapshot_is_current_to_seq(svc):
    settle(svc)
    ok(svc, "sim.fault", span=2, los=True)
    _, pubs = tick_until(svc, lambda: svc.board.spans[2].alarms(), 3, "LOS on span 2")
    snap = ok(svc, "snapshot")
    assert snap["seq"] == svc.log.last_seq == pubs[-1].event["seq"]
    alarm = [p for p in pubs if p.event["type"] == "span.alarm"][-1]
    assert [s["alarms"] for s in snap["spans"]] == [[], alarm.event["data"]["alarms"]]
    assert "LOS" in snap["spans"][1]["alarms"] and snap["spans"][1]["in_sync"] is False
    assert len(snap["ports"]) == 12 and len(snap["channels"]) == 62


def test_shutdown_sets_stopping(svc):
    assert ok(svc, "shutdown")["stopping"] is True and svc.stopping


# --- the ZeroMQ shell, in-process ------------------------------------------------------

class InProcessServer:
    """``serve()`` in a thread, building its world as ``cti serve`` does; ``stop()`` asks it
    to shut down."""

    def __init__(self, home: Path, speed: float = 1.0, seconds=None):
        self.config = load_config(home=home)
        self.ready = threading.Event()
        self.service = None
        self.error = None
        self.logs = []

        def run():
            try:
                asyncio.run(serve(self.config, speed=speed, seconds=seconds,
                                  log=self.logs.append, ready=self._ready))
            except BaseException as e:  # noqa: BLE001 - reported by the test
                self.error = e
                self.ready.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "server did not start"
        if self.error:
            raise self.error

    def _ready(self, service):
        self.service = service
        self.ready.set()

    @property
    def world(self):
        return self.service.world

    def wait_in_sync(self, timeout: float = 5.0) -> None:
        """Wait (wall clock) until the start-up alarms have cleared on every span and
        every span is in service (a call offered during the start-up restart is cleared
        by it)."""
        deadline = time.monotonic() + timeout
        with Client(self.config.server.home, timeout=3) as c:
            while True:
                spans = c.request("snapshot")["spans"]
                if all(s["in_sync"] and not s["alarms"] for s in spans):
                    c.wait_ready(max(1.0, deadline - time.monotonic()))
                    return
                assert time.monotonic() < deadline, f"start-up alarms did not clear: {spans}"
                time.sleep(0.01)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.thread.is_alive():
            try:
                with Client(self.config.server.home, timeout=2) as c:
                    c.request("shutdown")
            except CtiError:
                pass
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def server(tmp_path):
    """An in-process server at five times real time, past its start-up alarms."""
    with InProcessServer(tmp_path / "home", speed=5.0) as s:
        s.wait_in_sync()
        yield s


def test_shell_requests_and_errors(server):
    home = server.config.server.home
    with Client(home, timeout=3) as c:
        assert c.request("ping")["board"] == "sim0"
        with pytest.raises(CtiError) as e:
            c.request("span.show", span=9)
        assert e.value.field == "args.span" and e.value.code == "not_found"
        assert "no span 9" in str(e.value)
        assert c.request("span.show", span=1)["in_sync"] is True
    # a raw malformed request on a DEALER gets an error, and the server keeps going
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(server.config.server.requests)
    s.send(b"{oops")
    assert s.poll(3000)
    r = json.loads(s.recv())
    assert r["ok"] is False and r["error"]["code"] == "bad_request" and r["id"] is None
    # a REQ socket (empty delimiter frame) works too
    q = ctx.socket(zmq.REQ)
    q.setsockopt(zmq.LINGER, 0)
    q.connect(server.config.server.requests)
    q.send(json.dumps({"id": 9, "op": "ping"}).encode())
    assert q.poll(3000)
    assert json.loads(q.recv())["result"]["pong"] is True
    s.close()
    q.close()
    ctx.term()
    with Client(home, timeout=3) as c:
        assert c.request("ping")["pong"]


def test_shell_events_seq_and_replay(server):
    home = server.config.server.home
    with Subscriber(home, ["span.alarm"]) as sub, Client(home, timeout=3) as c:
        time.sleep(0.2)  # let the subscription reach the PUB socket
        c.request("sim.fault", span=1, los=True)
        got = None
        deadline = time.monotonic() + 5
        while got is None and time.monotonic() < deadline:
            m = sub.get(timeout=0.5)
            if m and m[1]["type"] == "span.alarm":
                got = m
        assert got is not None
        topic, ev = got
        assert topic == "span.alarm" and ev["span"] == 1 and "LOS" in ev["data"]["raised"]
        c.request("sim.fault", span=1, clear=True)
        c.request("sim.fault", span=2, ais=True)
        evs = [ev]
        deadline = time.monotonic() + 5
        while len(evs) < 3 and time.monotonic() < deadline:
            m = sub.get(timeout=0.5)
            if m:
                evs.append(m[1])
        seqs = [e["seq"] for e in evs]
        assert seqs == sorted(set(seqs)) and len(seqs) == 3
        assert evs[1]["span"] == 1 and evs[1]["data"]["alarms"] == []
        assert evs[2]["span"] == 2 and "AIS" in evs[2]["data"]["raised"]
        # the same alarms come back from replay, and seq is gap-free over all topics
        replayed = c.request("replay", after=seqs[0] - 1, topics=["span.alarm"])["events"]
        assert [e["seq"] for e in replayed][:3] == seqs
        every = [e["seq"] for e in c.request("replay", after=seqs[0] - 1)["events"]]
        assert every[:seqs[-1] - seqs[0] + 1] == list(range(seqs[0], seqs[-1] + 1))
        assert c.request("snapshot")["seq"] >= seqs[-1]


def test_shell_listen_and_shutdown(tmp_path):
    with InProcessServer(tmp_path / "h", speed=10.0) as s:
        with Client(s.config.server.home, timeout=5) as c:
            r = c.request("channel.listen", channel="1/3", seconds=0.2)
            assert len(base64.b64decode(r["audio"])) == 1600
            assert c.request("shutdown")["stopping"] is True
        s.thread.join(5)
        assert not s.thread.is_alive()
        for b in (s.world.board, s.world.exchange, s.world.phones_board):
            with pytest.raises(HalError, match="closed"):
                b.tick()   # the server closed the world it built
        assert not Path(s.config.server.requests[6:]).exists()


def test_shell_seconds_of_line_time(tmp_path):
    s = InProcessServer(tmp_path / "h", speed=20.0, seconds=1.0)
    s.thread.join(5)
    assert not s.thread.is_alive()
    assert s.service.board.tick_count == 50
    assert any("1 s of line time" in m for m in s.logs)


def test_tick_loop_keeps_real_time(tmp_path):
    with InProcessServer(tmp_path / "h", speed=1.0) as s:
        t0 = time.monotonic()
        n0 = s.service.board.tick_count
        time.sleep(1.0)
        n = s.service.board.tick_count - n0
        elapsed = time.monotonic() - t0
        assert abs(n - elapsed / TICK_S) <= 3, (n, elapsed)


def test_second_server_on_the_same_home_is_refused(server, tmp_path):
    with pytest.raises(RuntimeError, match="already running"):
        asyncio.run(serve(server.config, log=lambda m: None))
    with Client(server.config.server.home, timeout=3) as c:
        assert c.request("ping")["pong"]


def test_stale_socket_file_is_replaced(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "cti-req.sock").write_text("")
    with InProcessServer(home), Client(home, timeout=3) as c:
        assert c.request("ping")["pong"]


def test_client_without_server(tmp_path):
    with pytest.raises(NoServer) as e:
        Client(tmp_path, timeout=0.5).request("ping")
    assert f"no server at ipc://{tmp_path}/cti-req.sock" in str(e.value)
    assert "cti serve" in str(e.value)
    (tmp_path / "cti-req.sock").write_text("")  # a stale file: nobody answers
    t0 = time.monotonic()
    with pytest.raises(NoServer) as e:
        Client(tmp_path, timeout=0.3).request("ping")
    assert time.monotonic() - t0 < 2
    assert "no reply" in str(e.value)
    with pytest.raises(NoServer):
        Subscriber(tmp_path / "nothing")


# --- end to end: `cti serve` as a process ------------------------------------------------

def cti(home, *args, timeout=20):
    return subprocess.run([sys.executable, "-m", "cti", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=cti_env())


def cti_json(home, *args):
    p = cti(home, *args, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def live(tmp_path):
    """``cti serve --speed 20`` as a process; stopped (shutdown, then kill) afterwards."""
    home = tmp_path / "var"
    proc = start_server(home, "--speed", "20", timeout=20)
    try:
        yield home
    finally:
        stop_server(home, proc, timeout=5)


def wait_for(home, cond, op, line_seconds=3.0, **args):
    """Poll ``op`` until ``cond(result)``, for at most line_seconds at speed 20 (+slack)."""
    deadline = time.monotonic() + line_seconds / 20 + 5
    with Client(home, timeout=3) as c:
        while True:
            r = c.request(op, **args)
            if cond(r):
                return r
            if time.monotonic() > deadline:
                pytest.fail(f"{op} {args}: condition not met, last {r}")
            time.sleep(0.02)


def test_e2e_span_in_sync_with_zero_counters(live):
    st = wait_for(live, lambda r: r["in_sync"] and not r["alarms"], "span.show", span=1)
    with Client(live) as c:
        c.request("span.counters", span=1, reset=True)
        time.sleep(0.2)
        st = c.request("span.show", span=1)
    assert st["in_sync"] and st["alarms"] == []
    for k in ("fas_errors", "crc4_errors", "ebit_errors", "bpv", "slips"):
        assert st["counters"][k] == 0, (k, st["counters"])
    out = cti_json(live, "span", "show", "1")
    assert out["in_sync"] is True and out["counters"]["crc4_errors"] == 0


def test_e2e_los_raises_los_here_and_rai_far_then_clear_recovers(live):
    wait_for(live, lambda r: r["in_sync"] and not r["alarms"], "span.show", span=1)
    p = cti(live, "sim", "fault", "1", "--los")
    assert p.returncode == 0, p.stderr
    wait_for(live, lambda r: "LOS" in r["alarms"], "span.alarms", span=1, line_seconds=1)
    wait_for(live, lambda r: "RAI" in (r.get("far_end") or {}).get("alarms", []), "sim.stats",
             span=1, line_seconds=2)
    with Client(live) as c:
        c.request("sim.fault", span=1, clear=True)
        t0 = c.request("ping")["line_time"]
        wait_for(live, lambda r: r["in_sync"] and not r["alarms"], "span.alarms", span=1,
                 line_seconds=1)
        t1 = c.request("ping")["line_time"]
    assert t1 - t0 <= 1.0 + 0.3  # recovered within a second of line time (poll slack)


def test_e2e_ber_makes_crc4_and_ebit_errors_climb(live):
    wait_for(live, lambda r: r["in_sync"], "span.show", span=1)
    with Client(live) as c:
        c.request("span.counters", span=1, reset=True)
        c.request("sim.fault", span=1, ber=1e-3)
    st = wait_for(live, lambda r: r["counters"]["crc4_errors"] > 5
                  and r["counters"]["ebit_errors"] > 5, "span.counters", span=1)
    assert st["counters"]["crc4_errors"] > 5


def test_e2e_bad_request_and_events_and_replay(live):
    p = cti(live, "span", "show", "7")
    assert p.returncode == 1 and "args.span" in p.stderr and len(p.stderr.splitlines()) == 1
    p = cti(live, "channel", "show", "1/40")
    assert p.returncode == 1 and "args.channel" in p.stderr
    with Subscriber(live, ["span.alarm"]) as sub, Client(live) as c:
        time.sleep(0.3)
        c.request("sim.fault", span=2, los=True)
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                "LOS" in e["data"].get("alarms", []) for e in seen):
            m = sub.get(timeout=0.5)
            if m:
                seen.append(m[1])
        c.request("sim.fault", span=2, clear=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (seen and seen[-1]["data"]["alarms"] == []):
            m = sub.get(timeout=0.5)
            if m:
                seen.append(m[1])
        assert seen and seen[-1]["data"]["alarms"] == []
        span_events = [e for e in c.request("replay", after=seen[0]["seq"] - 1,
                                            topics=["span.alarm"])["events"]]
        assert [e["seq"] for e in span_events][:len(seen)] == [e["seq"] for e in seen]
        allev = c.request("replay", after=seen[0]["seq"] - 1)["events"]
        assert [e["seq"] for e in allev] == list(range(seen[0]["seq"],
                                                       seen[0]["seq"] + len(allev)))
        assert c.request("ping")["pong"]


def test_e2e_bad_config_names_the_field(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[board]\nname = "x"\n[[board.spans]]\nnumber = 1\nlaw = "klaw"\n')
    p = subprocess.run([sys.executable, "-m", "cti", "serve", "--config", str(f),
                        "--home", str(tmp_path / "h")], capture_output=True, text=True,
                       timeout=20, cwd=ROOT)
    assert p.returncode == 1
    assert f"{f}:5: board.spans[0].law" in p.stderr
