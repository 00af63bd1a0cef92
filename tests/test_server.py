"""The board server: the sans-I/O Service on a fake world, the ZeroMQ shell in-process,
and (when the C core is built) end to end against the simulated board.

The fake world mirrors the board API of drivers/board.py and simulators/world.py
closely enough to test requests, errors, events, replay and listen without the C core.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from cti.client import Client, CtiError, NoServer, Subscriber
from cti.config import load_config
from cti.server import OPS, Service, check_args, serve

ROOT = Path(__file__).resolve().parent.parent


# --- a fake world with the board API ---------------------------------------------------

@dataclass(frozen=True)
class FakeEvent:
    topic: ClassVar[str] = "board.event"
    tick: int

    def to_dict(self) -> dict:
        d = {"type": self.topic.split(".", 1)[1]}
        for k, v in self.__dict__.items():
            d[k] = base64.b64encode(v).decode() if isinstance(v, bytes) else (
                list(v) if isinstance(v, tuple) else v)
        return d


@dataclass(frozen=True)
class SpanAlarm(FakeEvent):
    topic: ClassVar[str] = "span.alarm"
    span: int
    alarms: tuple
    raised: tuple
    cleared: tuple


@dataclass(frozen=True)
class Hook(FakeEvent):
    topic: ClassVar[str] = "channel.hook"
    port: int
    off_hook: bool


@dataclass(frozen=True)
class CasChanged(FakeEvent):
    topic: ClassVar[str] = "channel.cas"
    span: int
    timeslot: int
    abcd: int


@dataclass(frozen=True)
class Audio(FakeEvent):
    topic: ClassVar[str] = "channel.audio"
    span: int
    timeslot: int
    data: bytes


@dataclass(frozen=True)
class ToneDone(FakeEvent):
    topic: ClassVar[str] = "channel.tone_done"
    span: int
    timeslot: int
    played: bool


COUNTERS = ("frames_rx", "fas_errors", "crc4_errors", "ebit_errors", "bpv", "slips",
            "lof_events", "los_events", "hdlc_rx_frames", "hdlc_tx_frames", "hdlc_fcs_errors")


class FakeChannel:
    def __init__(self, board, span, ts):
        self._board, self._span, self.span, self.timeslot = board, span, span.number, ts
        self.name = f"{span.number}/{ts}"
        self.tapped = False
        self.tones = []

    def show(self):
        kind = "dchan" if self.timeslot == 16 and self._span.signalling == "pri" else "bearer"
        return {"channel": self.name, "span": self.span, "timeslot": self.timeslot, "kind": kind}

    def tone(self, freq, freq2=0, level_dbm0=-10, ms=1000):
        self.tones.append((freq, freq2, level_dbm0, ms))
        self._board.later.append((self._board.tick_count + ms // self._board.tick_ms,
                                  ToneDone(0, self.span, self.timeslot, True)))

    def tap(self, on):
        self.tapped = bool(on)


class FakeSpan:
    def __init__(self, board, number, signalling="pri"):
        self._board, self.number, self.signalling = board, number, signalling
        self.crc4, self.law = True, "alaw"
        self.channels = {t: FakeChannel(board, self, t) for t in range(1, 32)}
        self.alarms = []
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.loop = "off"
        self.bert = None

    def status(self):
        return {"span": self.number, "signalling": self.signalling, "law": self.law,
                "alarms": list(self.alarms), "in_sync": not {"LOS", "LOF", "AIS"} & set(
                    self.alarms), "loopback": self.loop, "counters": dict(self.counters)}

    def reset_counters(self):
        self.counters = dict.fromkeys(COUNTERS, 0)

    def loopback(self, mode):
        self.loop = mode

    def bert_start(self):
        self.bert = 0

    def bert_stop(self):
        self.bert = None

    def bert_status(self):
        return {"running": self.bert is not None, "sync": True, "bits": 2048 * 1000,
                "errors": 2, "ber": 1e-6, "seconds": 1.0}


class FakePort:
    def __init__(self, board, number, kind):
        self._board, self.number, self.kind = board, number, kind
        self.name = f"{kind}/{number}"
        self.off_hook = False
        self.tapped = False

    def status(self):
        return {"port": self.number, "channel": self.name, "kind": self.kind,
                "hook": "off" if self.off_hook else "on", "ringing": False,
                "polarity": "normal", "battery": True, "connected": True}

    show = status

    def tap(self, on):
        self.tapped = bool(on)

    def tone(self, *a):
        pass


class FakeBoard:
    def __init__(self, name="sim0", spans=2, fxs=8, fxo=4):
        self.name, self.backend, self.tick_ms, self.tick_frames = name, "sim", 20, 160
        self.tick_count = 0
        self.spans = {n: FakeSpan(self, n) for n in range(1, spans + 1)}
        kinds = ["fxs"] * fxs + ["fxo"] * fxo
        self.ports = {n: FakePort(self, n, k) for n, k in enumerate(kinds, 1)}
        self.later = []
        self.closed = False

    def show(self):
        return {"board": self.name, "backend": self.backend, "tick_ms": self.tick_ms}

    def close(self):
        self.closed = True


class FakeCable:
    def __init__(self, world, span):
        self.world, self.span = world, span
        self.faults = {}
        self.far_loop = "off"

    def fault(self, *, los=None, ais=None, lof=None, ber=None, slip_ppm=None, direction="both"):
        for k, v in (("los", los), ("ais", ais), ("lof", lof), ("ber", ber),
                     ("slip_ppm", slip_ppm)):
            if v is not None:
                self.faults[k] = v
        return dict(self.faults)

    def clear(self, direction="both"):
        self.faults = {}
        return {}

    def stats(self):
        far = self.world.exchange_alarms(self.span)
        return {"span": self.span, "faults": dict(self.faults), "far_end": {
            "span": self.span, "alarms": far, "in_sync": not far}}

    def far_loopback(self, mode):
        self.far_loop = mode


class FakeWorld:
    """Faults act on the next tick: LOS raises LOS here (RAI far), BER climbs counters."""

    def __init__(self, **kw):
        self.board = FakeBoard(**kw)
        self.cables = {n: FakeCable(self, n) for n in self.board.spans}
        self.hook_at = {}   # tick -> port going off hook
        self.closed = False

    def cable(self, span):
        return self.cables[span]

    def exchange_alarms(self, span):
        return ["RAI"] if self.cables[span].faults.get("los") else []

    def tick(self):
        b = self.board
        b.tick_count += 1
        out = []
        for n, span in b.spans.items():
            f = self.cables[n].faults
            want = ["LOS"] if f.get("los") else ["AIS"] if f.get("ais") else []
            if want != span.alarms:
                out.append(SpanAlarm(b.tick_count, n, tuple(want),
                                     tuple(set(want) - set(span.alarms)),
                                     tuple(set(span.alarms) - set(want))))
                span.alarms = want
            if f.get("ber"):
                span.counters["crc4_errors"] += 1
                span.counters["ebit_errors"] += 1
            span.counters["frames_rx"] += b.tick_frames
            for ch in span.channels.values():
                if ch.tapped:
                    out.append(Audio(b.tick_count, n, ch.timeslot, bytes([0xD5]) * 160))
        for p in b.ports.values():
            if p.tapped:
                out.append(Audio(b.tick_count, 0, p.number, bytes([0xD5]) * 160))
        if b.tick_count in self.hook_at:
            p = b.ports[self.hook_at[b.tick_count]]
            p.off_hook = True
            out.append(Hook(b.tick_count, p.number, True))
        for when, ev in list(b.later):
            if when <= b.tick_count:
                b.later.remove((when, ev))
                out.append(ev)
        return out

    def close(self):
        self.closed = True
        self.board.close()


@pytest.fixture
def svc():
    cfg = load_config()
    return Service(cfg, world=FakeWorld(), wall_start=1_000_000.0)


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
     "args.topics"),
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


def test_a_board_error_is_a_failed_reply_not_a_crash(svc):
    def boom(mode):
        raise ValueError("loopback mode not supported on this span")
    svc.board.spans[1].loopback = boom
    e = err(svc, "span.loopback", span=1, mode="payload")
    assert e["code"] == "failed" and "not supported" in e["message"]

    def crash():
        raise RuntimeError("oops")
    svc.board.spans[1].reset_counters = crash
    e = err(svc, "span.counters", span=1, reset=True)
    assert e["code"] == "internal"
    assert ok(svc, "ping")["pong"]


def test_every_op_has_a_method():
    for op in OPS:
        assert hasattr(Service, "op_" + op.replace(".", "_")), op


def test_check_args_defaults_and_ints_as_floats():
    a = check_args("channel.tone", OPS["channel.tone"], {"channel": "1/1", "freq": 1000})
    assert a == {"channel": "1/1", "freq": 1000, "freq2": 0, "level": -10, "ms": 1000}
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


def test_span_ops(svc):
    for _ in range(3):
        svc.tick()
    s = ok(svc, "span.show", span=1)
    assert s["in_sync"] and s["alarms"] == [] and s["counters"]["crc4_errors"] == 0
    assert len(s["channels"]) == 31 and s["channels"][15]["kind"] == "dchan"
    assert ok(svc, "span.alarms", span=2) == {"span": 2, "alarms": [], "in_sync": True,
                                              "loopback": "off"}
    assert ok(svc, "span.counters", span=1)["counters"]["frames_rx"] == 480
    c = ok(svc, "span.counters", span=1, reset=True)
    assert c["counters"]["frames_rx"] == 480 and c["reset"] is True
    assert ok(svc, "span.counters", span=1)["counters"]["frames_rx"] == 0
    assert ok(svc, "span.loopback", span=1, mode="local") == {"span": 1, "loopback": "local"}
    assert svc.board.spans[1].loop == "local"
    assert ok(svc, "span.bert", span=1, action="start")["running"] is True
    assert ok(svc, "span.bert", span=1)["running"] is True
    assert ok(svc, "span.bert", span=1, action="stop")["running"] is False


def test_channel_ops(svc):
    assert ok(svc, "channel.show", channel="1/16")["kind"] == "dchan"
    port = ok(svc, "channel.show", channel="fxs/3")
    assert port["kind"] == "fxs" and port["hook"] == "on"
    assert ok(svc, "channel.show", channel="fxo/12")["kind"] == "fxo"
    t = ok(svc, "channel.tone", channel="1/5", freq=1004, level=-13, ms=40)
    assert t["freq"] == 1004 and svc.board.spans[1].channels[5].tones == [(1004, 0, -13, 40)]
    pubs = svc.tick()[0] + svc.tick()[0]
    done = [p.event for p in pubs if p.topic == "channel.tone_done"]
    assert done and done[0]["channel"] == "1/5" and done[0]["data"] == {"played": True}


def test_listen_is_answered_after_the_line_time(svc):
    assert svc.handle(json.dumps({"id": "L", "op": "channel.listen",
                                  "args": {"channel": "1/5", "seconds": 0.05}}), token="T") is None
    assert svc.board.spans[1].channels[5].tapped
    replies = []
    for _ in range(5):
        pubs, done = svc.tick()
        assert not [p for p in pubs if p.topic == "channel.audio"]  # audio is not on the bus
        replies += done
    assert len(replies) == 1
    token, reply = replies[0]
    assert token == "T" and reply["id"] == "L" and reply["ok"]
    audio = base64.b64decode(reply["result"]["audio"])
    assert len(audio) == 400 and set(audio) == {0xD5}
    assert reply["result"]["law"] == "alaw" and reply["result"]["rate"] == 8000
    assert not svc.board.spans[1].channels[5].tapped


def test_two_listens_share_a_tap(svc):
    svc.handle({"id": 1, "op": "channel.listen", "args": {"channel": "fxs/2", "seconds": 0.02}},
               token="a")
    svc.handle({"id": 2, "op": "channel.listen", "args": {"channel": "fxs/2", "seconds": 0.06}},
               token="b")
    got = []
    for _ in range(2):
        got += svc.tick()[1]
    assert [t for t, _ in got] == ["a"] and svc.board.ports[2].tapped
    for _ in range(2):
        got += svc.tick()[1]
    assert [t for t, _ in got] == ["a", "b"] and not svc.board.ports[2].tapped
    assert len(base64.b64decode(got[1][1]["result"]["audio"])) == 480


def test_sim_fault_raises_los_and_rai_far_and_clear_recovers(svc):
    svc.tick()
    r = ok(svc, "sim.fault", span=1, los=True)
    assert r["faults"] == {"los": True} and r["direction"] == "to_board"
    pubs, _ = svc.tick()
    alarm = [p.event for p in pubs if p.topic == "span.alarm"]
    assert alarm[0]["span"] == 1 and alarm[0]["data"]["alarms"] == ["LOS"]
    assert "channel" not in alarm[0]
    assert ok(svc, "span.alarms", span=1)["alarms"] == ["LOS"]
    assert ok(svc, "sim.stats", span=1)["far_end"]["alarms"] == ["RAI"]
    assert ok(svc, "sim.fault", span=1, clear=True, direction="to-board")["cleared"] is True
    svc.tick()
    assert ok(svc, "span.alarms", span=1)["in_sync"] is True


def test_fault_direction_defaults():
    cfg = load_config()
    s = Service(cfg, world=FakeWorld())
    assert ok(s, "sim.fault", span=1, ais=True)["direction"] == "to_board"
    assert ok(s, "sim.fault", span=1, ber=1e-4)["direction"] == "both"
    assert ok(s, "sim.fault", span=1, slip_ppm=20)["direction"] == "both"
    assert ok(s, "sim.fault", span=1, los=True, direction="to-exchange")["direction"] == \
        "to_exchange"
    assert ok(s, "sim.fault", span=1, clear=True)["direction"] == "both"


def test_ber_climbs_counters(svc):
    ok(svc, "sim.fault", span=2, ber=1e-3)
    for _ in range(5):
        svc.tick()
    c = ok(svc, "span.counters", span=2)["counters"]
    assert c["crc4_errors"] > 0 and c["ebit_errors"] > 0
    assert ok(svc, "span.counters", span=1)["counters"]["crc4_errors"] == 0


def test_sim_loopback(svc):
    assert ok(svc, "sim.loopback", span=2, mode="line")["far_loopback"] == "line"
    assert svc.world.cables[2].far_loop == "line"


def test_sim_ops_on_a_real_board_are_refused():
    cfg = load_config()
    s = Service(cfg, board=FakeBoard())
    e = err(s, "sim.fault", span=1, los=True)
    assert e["code"] == "not_supported" and e["field"] == "op"


def test_events_numbering_ts_channel_names_and_replay(svc):
    svc.world.hook_at[3] = 5
    ok(svc, "sim.fault", span=1, ais=True)
    pubs = []
    for _ in range(4):
        pubs += svc.tick()[0]
    evs = [p.event for p in pubs]
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    hook = next(e for e in evs if e["type"] == "channel.hook")
    assert hook["channel"] == "fxs/5" and hook["data"] == {"off_hook": True}
    assert hook["ts"] == pytest.approx(1_000_000.0 + 3 * 0.02)
    ais = next(e for e in evs if e["type"] == "span.alarm")
    assert ais["ts"] == pytest.approx(1_000_000.02)
    last = svc.log.last_seq
    assert ok(svc, "replay", after=0)["events"] == evs
    assert ok(svc, "replay", after=last)["events"] == []
    assert [e["type"] for e in ok(svc, "replay", after=0, topics=["channel."])["events"]] == [
        "channel.hook"]
    e = err(svc, "replay", after=last + 5)
    assert e["code"] == "replay_gap" and e["field"] == "args.after"


def test_replay_ring_overflow(svc):
    svc.log = type(svc.log)(4)
    for i in range(10):
        svc.log.append(float(i), "span.x")
    e = err(svc, "replay", after=2)
    assert e["code"] == "replay_gap" and "7..10" in e["message"]


def test_snapshot_is_current_to_seq(svc):
    ok(svc, "sim.fault", span=2, los=True)
    svc.tick()
    snap = ok(svc, "snapshot")
    assert snap["seq"] == svc.log.last_seq == 1
    assert [s["alarms"] for s in snap["spans"]] == [[], ["LOS"]]
    assert len(snap["ports"]) == 12 and len(snap["channels"]) == 62


def test_shutdown_sets_stopping(svc):
    assert ok(svc, "shutdown")["stopping"] is True and svc.stopping


# --- the ZeroMQ shell, in-process ------------------------------------------------------

class InProcessServer:
    """``serve()`` on a FakeWorld in a thread; ``stop()`` asks it to shut down."""

    def __init__(self, home: Path, speed: float = 1.0, seconds=None):
        self.config = load_config(home=home)
        self.world = FakeWorld()
        self.ready = threading.Event()
        self.service = None
        self.error = None
        self.logs = []

        def run():
            try:
                asyncio.run(serve(self.config, speed=speed, seconds=seconds, world=self.world,
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
    s = InProcessServer(tmp_path / "home", speed=5.0)
    yield s
    s.stop()


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
    with Subscriber(home, ["span."]) as sub, Client(home, timeout=3) as c:
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
        assert topic == "span.alarm" and ev["data"]["alarms"] == ["LOS"]
        c.request("sim.fault", span=1, clear=True)
        c.request("sim.fault", span=2, ais=True)
        seqs = [ev["seq"]]
        deadline = time.monotonic() + 5
        while len(seqs) < 3 and time.monotonic() < deadline:
            m = sub.get(timeout=0.5)
            if m:
                seqs.append(m[1]["seq"])
        assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
        replayed = c.request("replay", after=seqs[0] - 1)["events"]
        assert [e["seq"] for e in replayed][:3] == seqs
        assert c.request("snapshot")["seq"] >= seqs[-1]


def test_shell_listen_and_shutdown(tmp_path):
    s = InProcessServer(tmp_path / "h", speed=10.0)
    try:
        with Client(s.config.server.home, timeout=5) as c:
            r = c.request("channel.listen", channel="1/3", seconds=0.2)
            assert len(base64.b64decode(r["audio"])) == 1600
            assert c.request("shutdown")["stopping"] is True
        s.thread.join(5)
        assert not s.thread.is_alive()
        assert s.world.closed
        assert not Path(s.config.server.requests[6:]).exists()
    finally:
        s.stop()


def test_shell_seconds_of_line_time(tmp_path):
    s = InProcessServer(tmp_path / "h", speed=20.0, seconds=1.0)
    s.thread.join(5)
    assert not s.thread.is_alive()
    assert s.service.board.tick_count == 50
    assert any("1 s of line time" in m for m in s.logs)


def test_tick_loop_keeps_real_time(tmp_path):
    s = InProcessServer(tmp_path / "h", speed=1.0)
    try:
        t0 = time.monotonic()
        n0 = s.service.board.tick_count
        time.sleep(1.0)
        ticks = s.service.board.tick_count - n0
        elapsed = time.monotonic() - t0
        assert abs(ticks - elapsed / 0.02) <= 3, (ticks, elapsed)
    finally:
        s.stop()


def test_second_server_on_the_same_home_is_refused(server, tmp_path):
    with pytest.raises(RuntimeError, match="already running"):
        asyncio.run(serve(server.config, world=FakeWorld(), log=lambda m: None))
    with Client(server.config.server.home, timeout=3) as c:
        assert c.request("ping")["pong"]


def test_stale_socket_file_is_replaced(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "cti-req.sock").write_text("")
    s = InProcessServer(home)
    try:
        with Client(home, timeout=3) as c:
            assert c.request("ping")["pong"]
    finally:
        s.stop()


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


# --- end to end on the simulated board (needs the built C core) -------------------------

def _have_sim() -> bool:
    try:
        import simulators.world  # noqa: F401
        return True
    except Exception:
        return False


sim = pytest.mark.skipif(not _have_sim(), reason="the C core (drivers._hal) or "
                         "simulators.world is not built")


def cti(home, *args, timeout=20):
    p = subprocess.run([sys.executable, "-m", "cti", *args, "--home", str(home)],
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(
                           [str(ROOT)] + [x for x in os.environ.get("PYTHONPATH", "").split(
                               os.pathsep) if x])})
    return p


def cti_json(home, *args):
    p = cti(home, *args, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def live(tmp_path):
    """``cti serve --speed 20`` as a process; stopped (shutdown, then kill) afterwards."""
    home = tmp_path / "var"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x])}
    proc = subprocess.Popen([sys.executable, "-m", "cti", "serve", "--home", str(home),
                             "--speed", "20"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"cti serve exited: {proc.stderr.read()}")
            if (home / "cti-req.sock").exists():
                try:
                    with Client(home, timeout=1) as c:
                        c.request("ping")
                    break
                except CtiError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail("cti serve did not come up")
            time.sleep(0.1)
        yield home
    finally:
        if proc.poll() is None:
            try:
                with Client(home, timeout=2) as c:
                    c.request("shutdown")
                proc.wait(5)
            except (CtiError, subprocess.TimeoutExpired):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


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


@sim
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


@sim
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
        st = wait_for(live, lambda r: r["in_sync"] and not r["alarms"], "span.alarms", span=1,
                      line_seconds=1)
        t1 = c.request("ping")["line_time"]
    assert t1 - t0 <= 1.0 + 0.3  # recovered within a second of line time (poll slack)


@sim
def test_e2e_ber_makes_crc4_and_ebit_errors_climb(live):
    wait_for(live, lambda r: r["in_sync"], "span.show", span=1)
    with Client(live) as c:
        c.request("span.counters", span=1, reset=True)
        c.request("sim.fault", span=1, ber=1e-3)
    st = wait_for(live, lambda r: r["counters"]["crc4_errors"] > 5
                  and r["counters"]["ebit_errors"] > 5, "span.counters", span=1)
    assert st["counters"]["crc4_errors"] > 5


@sim
def test_e2e_bad_request_and_events_and_replay(live):
    p = cti(live, "span", "show", "7")
    assert p.returncode == 1 and "args.span" in p.stderr and len(p.stderr.splitlines()) == 1
    p = cti(live, "channel", "show", "1/40")
    assert p.returncode == 1 and "args.channel" in p.stderr
    with Subscriber(live, ["span."]) as sub, Client(live) as c:
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
                                            topics=["span."])["events"]]
        assert [e["seq"] for e in span_events][:len(seen)] == [e["seq"] for e in seen]
        allev = c.request("replay", after=seen[0]["seq"] - 1)["events"]
        assert [e["seq"] for e in allev] == list(range(seen[0]["seq"],
                                                       seen[0]["seq"] + len(allev)))
        assert c.request("ping")["pong"]


@sim
def test_e2e_bad_config_names_the_field(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[board]\nname = "x"\n[[board.spans]]\nnumber = 1\nlaw = "klaw"\n')
    p = subprocess.run([sys.executable, "-m", "cti", "serve", "--config", str(f),
                        "--home", str(tmp_path / "h")], capture_output=True, text=True,
                       timeout=20, cwd=ROOT)
    assert p.returncode == 1
    assert f"{f}:5: board.spans[0].law" in p.stderr


@sim
def test_sim_bert_on_a_far_looped_span_measures_the_injected_ber():
    """Issue 3: a BERT on a looped span measures a BER within 20% of the injected one."""
    from cti.server import build_world

    cfg = load_config()
    world, _ = build_world(cfg)
    s = Service(cfg, world=world)
    try:
        for _ in range(50):
            s.tick()
        ok(s, "sim.loopback", span=2, mode="line")
        ok(s, "sim.fault", span=2, ber=1e-3, direction="to_board")
        for _ in range(50):
            s.tick()
        ok(s, "span.bert", span=2, action="start")
        for _ in range(250):   # 5 s of line time: ~10 Mbit, ~10000 errors
            s.tick()
        st = ok(s, "span.bert", span=2)
        assert st["sync"] and st["bits"] > 5_000_000
        assert st["ber"] == pytest.approx(1e-3, rel=0.2), st
    finally:
        world.close()


@sim
def test_sim_events_in_process_have_channel_names():
    from cti.server import build_world

    cfg = load_config()
    world, _ = build_world(cfg)
    s = Service(cfg, world=world, wall_start=0.0)
    try:
        pubs = []
        for _ in range(10):
            pubs += s.tick()[0]
        evs = [p.event for p in pubs]
        assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
        battery = [e for e in evs if e["type"] == "channel.battery"]
        assert {e["channel"] for e in battery} == {"fxo/9", "fxo/10", "fxo/11", "fxo/12"}
        assert all(e["type"] == "span.alarm" and isinstance(e["span"], int)
                   for e in evs if e["type"].startswith("span."))
        s.handle({"id": 1, "op": "channel.listen", "args": {"channel": "1/5", "seconds": 0.1}},
                 token="t")
        done = []
        for _ in range(6):
            done += s.tick()[1]
        assert len(base64.b64decode(done[0][1]["result"]["audio"])) == 800
    finally:
        world.close()
