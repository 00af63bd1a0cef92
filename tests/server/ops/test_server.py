"""Requests of cti/server/ops/server.py: ping, snapshot, replay, server.speed, server.stats,
server.reload and shutdown."""
from __future__ import annotations

import pytest

from tests.desk import established_call
from tests.inprocess import WALL, TICK_S, err, ok, req, settle, tick_until, ticks


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


def test_snapshot_matches_the_servers_state(centre):
    c = centre
    x, call, ts = established_call(c)
    c.world.calls.offer_call(1, "13900000000", "4008005555")     # a second call, queued
    c.run(60)
    snap = c.req("snapshot")
    assert snap["seq"] == c.svc.log.last_seq
    assert snap["calls"] == c.req("call.list")["calls"]
    assert snap["agents"] == c.req("agent.list")["agents"]
    states = {x["call_id"]: x["state"] for x in snap["calls"]}
    assert states[call] == "established" and len(states) == 2
    assert {q["queue"] if "queue" in q else q["name"] for q in snap["queues"]} == {"sales",
                                                                                  "service"}
    assert snap["counters"]["offered"] == 2


def test_ping_names_the_spans_still_starting(svc):
    """ping says a span is ``starting`` until its D-channel is up and its start-up RESTART
    (Q.931 5.5, class 7: all interfaces) is acknowledged: a call offered before is cleared."""
    p = ok(svc, "ping")
    assert p["pong"] is True and p["starting"] == [1, 2] and p["tick_count"] == 0
    n, _ = tick_until(svc, lambda: not ok(svc, "ping")["starting"], 200, "spans in service")
    assert n > 1                                      # not at once: the restart is a round trip
    p = ok(svc, "ping")
    assert p["tick_count"] == n and p["line_time"] == pytest.approx(n * TICK_S)
    assert p["seq"] == svc.log.last_seq and p["board"] == "sim0"


def test_server_speed_changes_the_pace_of_line_time_against_the_wall(server):
    """server.speed: line time goes ``speed`` times as fast as the wall from now on."""
    import time

    from cti.clients.client import Client

    def pace(c, wall=1.0):
        t0, w0 = c.request("ping")["line_time"], time.monotonic()
        time.sleep(wall)
        return (c.request("ping")["line_time"] - t0) / (time.monotonic() - w0)

    with Client(server.config.server.home, timeout=5) as c:
        assert 3.5 < pace(c) < 5.5                      # the fixture's x5
        r = c.request("server.speed", speed=20)
        assert r["speed"] == 20
        assert 14 < pace(c) < 22
        assert c.request("server.speed", speed=1)["speed"] == 1
        assert 0.6 < pace(c) < 1.3
        with pytest.raises(Exception) as e:
            c.request("server.speed", speed=0)
        assert "args.speed" in str(e.value)


def test_server_stats_count_the_requests_and_the_ticks(server):
    """server.stats: the shell counts every request it takes, and the ticks and their
    lateness go on being measured."""
    from cti.clients.client import Client, CtiError

    with Client(server.config.server.home, timeout=5) as c:
        before = c.request("server.stats")
        for _ in range(5):
            c.request("ping")
        with pytest.raises(CtiError):
            c.request("span.show", span=9)
        after = c.request("server.stats")
    assert after["requests"] - before["requests"] == 7      # the first stats, 5 pings, 1 refused (a reply is counted once sent)
    assert after["speed"] == 5.0 and after["line_time"] > before["line_time"]
    assert after["tick_max_ms"] >= 0 and after["replies_dropped"] == 0


def test_server_reload_of_the_unchanged_default_changes_nothing(svc):
    settle(svc)
    res = ok(svc, "server.reload")
    assert res["source"] == "<default>" and res["changed"] is False
    assert res["needs_restart"] == [] and res["agents"]["added"] == []
    ev = [p.event for p in ticks(svc, 1) if p.event["type"] == "server.reloaded"]
    assert len(ev) == 1 and ev[0]["changed"] is False


def test_server_reload_reads_off_the_tick_and_replies_from_a_later_one(svc):
    """As the server runs it (cti/server/loop.py sets ``threaded``): the file is read on a
    thread, the reply and the event come out of the tick that applies it; a second reload
    while one is under way is told busy."""
    settle(svc)
    svc.reloader.threaded = True
    assert req(svc, "server.reload", rid="r1") is None
    assert err(svc, "server.reload")["code"] == "busy"
    done, events = [], []
    for _ in range(200):
        pubs, replies = svc.tick()
        done += replies
        events += [p.event for p in pubs]
        if done:
            break
    assert len(done) == 1 and done[0][1]["id"] == "r1" and done[0][1]["ok"]
    assert done[0][1]["result"]["changed"] is False
    assert [e["type"] for e in events].count("server.reloaded") == 1
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
