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
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cti.clients.client import Client, CtiError, NoServer, Subscriber
from cti.server.loop import serve
from cti.server.registry import REGISTRY
from cti.server.service import OPS, check_args
from drivers.hal import HalError

from tests.served import ROOT, cti_env, start_server, stop_server
from tests.inprocess import START_TICKS, TICK_S, InProcessServer, err, ok, settle
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


# --- the ZeroMQ shell, in-process ------------------------------------------------------

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
    (home / "run").mkdir()
    (home / "run" / "cti-req.sock").write_text("")
    with InProcessServer(home), Client(home, timeout=3) as c:
        assert c.request("ping")["pong"]


def test_client_without_server(tmp_path):
    with pytest.raises(NoServer) as e:
        Client(tmp_path, timeout=0.5).request("ping")
    assert f"no server at ipc://{tmp_path}/run/cti-req.sock" in str(e.value)
    assert "cti serve" in str(e.value)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "cti-req.sock").write_text("")  # a stale file: nobody answers
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
