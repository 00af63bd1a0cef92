"""Restarts on one home (issue 14): call ids that never repeat, the calls a stop left in
flight closed as interrupted (cause 41), agents back as the store recorded them, the trunks
returned to idle (Q.931 RESTART, R2 clear-back/idle) so the exchange frees what it held; and
`cti serve` itself stopped by SIGTERM and killed under traffic, again and again."""
from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

import pytest

from cti.server.config import DEFAULT_TOML, load_config, parse_config
from cti.server.recovery import LineRestart
from cti.server.service import Service, build_world
from cti.store.sqlite import MIGRATIONS, SCHEMA_VERSION, Store
from drivers.sig import pri as pri_mod
from drivers.sig import r2 as r2_mod
from drivers.sig import r2span as r2span_mod
from simulators.world import SimWorld
from tests.served import ROOT

WALL = 1e6


class Run:
    """One run of the server on ``home``, in process: the board ticks, requests go in."""

    def __init__(self, home, wall_start=WALL, text=None):
        self.cfg = load_config(home=home) if text is None else parse_config(text, home=home)
        self.world, _ = build_world(self.cfg)
        self.svc = Service(self.cfg, world=self.world, wall_start=wall_start)
        self.events: list[dict] = []

    def tick(self, n=1):
        out = []
        for _ in range(n):
            pubs, _ = self.svc.tick()
            out += [p.event for p in pubs]
        self.events += out
        return out

    def until(self, cond, limit=600, what="condition", since=None):
        """The first event (of those from index ``since`` of :attr:`events` on, or of the
        ticks to come) that meets ``cond``."""
        if since is not None:
            hit = [e for e in self.events[since:] if cond(e)]
            if hit:
                return hit[0]
        for _ in range(limit):
            evs = self.tick()
            hit = [e for e in evs if cond(e)]
            if hit:
                return hit[0]
        pytest.fail(f"no {what} in {limit} ticks")

    def req(self, op, **args):
        r = self.svc.handle({"id": 1, "op": op, "args": args})
        assert r["ok"], r
        return r["result"]

    def stop(self):
        """The process ends here: nothing more is written (every tick committed its own)."""
        self.world.close()
        self.svc.store.close()


def offer(run, ani="13800138000", dnis="4008005555"):
    mark = len(run.events)
    run.world.calls.offer_call(1, ani, dnis)
    ev = run.until(lambda e: e["type"] == "call.offered", what="call.offered", since=mark)
    run.mark = run.events.index(ev)
    return ev["call_id"]


def established(run, agent_port=1):
    cid = offer(run)
    run.until(lambda e: e["type"] == "call.delivered" and e["call_id"] == cid,
              what="call.delivered", since=run.mark)
    run.world.phones[agent_port].lift()
    run.until(lambda e: e["type"] == "call.established" and e["call_id"] == cid,
              what="call.established", since=run.mark)
    return cid


def cleared(run, cid):
    return run.until(lambda e: e["type"] == "call.cleared" and e["call_id"] == cid,
                     limit=1500, what=f"call.cleared of {cid}", since=run.mark)


# --- call ids ------------------------------------------------------------------------------

def test_a_second_run_on_the_same_home_serves_calls_and_never_repeats_an_id(tmp_path):
    ids = []
    for n in range(3):
        run = Run(tmp_path / "h")
        try:
            run.tick(30)
            run.req("agent.login", agent="1001")
            cid = established(run)
            run.world.phones[1].hang_up()
            ev = cleared(run, cid)
            assert ev["outcome"] == "answered"
            assert run.svc.store.cdr(cid)["outcome"] == "answered"
            ids.append(cid)
            server, boot, num = cid.split("-")
            assert (boot, num) == (str(n + 1), "1") and 1 <= len(server) <= 12
            assert run.req("ping")["boot"] == n + 1 and run.req("ping")["server"] == server
        finally:
            run.stop()
    assert len(set(ids)) == 3 and len({i.split("-")[0] for i in ids}) == 1


def test_ids_order_the_calls_on_a_channel_by_number_not_by_text(tmp_path):
    """The trunk index keeps a channel's calls in the order they came: 9 before 10."""
    from cti.centre.coordinator import Call, Centre, CentreConfig

    run = Run(tmp_path / "h")
    try:
        c = Centre(run.world.board, CentreConfig(agents=[], queues=[]), call_ids="x-1-")
        a = Call(id="x-1-10", direction="in", trunk="1/5", ani="", dnis="", start=0, span=1,
                 timeslot=5, seq=10)
        b = Call(id="x-1-9", direction="in", trunk="1/5", ani="", dnis="", start=0, span=1,
                 timeslot=5, seq=9)
        c._index_trunk(a)
        c._index_trunk(b)
        assert [x.id for x in c._trunk_calls[(1, 5)]] == ["x-1-9", "x-1-10"]
    finally:
        run.stop()


# --- the calls a stop left in flight ---------------------------------------------------------

def test_calls_in_flight_at_a_stop_are_closed_as_interrupted_with_the_times_known(tmp_path):
    run = Run(tmp_path / "h")
    run.tick(30)
    run.req("agent.login", agent="1001")
    talking = established(run)                   # answered by 1001
    waiting = offer(run)                         # queued: nobody free
    run.until(lambda e: e["type"] == "call.queued" and e["call_id"] == waiting,
              since=run.mark)
    in_ivr = offer(run, dnis="4008001234")       # the IVR menu
    run.tick(60)
    live = {r["call_id"]: r for r in run.svc.store.live_calls()}
    assert set(live) == {talking, waiting, in_ivr}
    assert live[talking]["agent"] == "1001" and live[talking]["answer"] is not None
    alive = run.svc.store.server()["alive"]
    run.stop()

    run = Run(tmp_path / "h", wall_start=WALL + 100)
    try:
        assert run.svc.recovery.interrupted == sorted(
            [talking, waiting, in_ivr], key=lambda c: live[c]["start"])
        first = run.tick()
        closed = {e["call_id"]: e for e in first if e["type"] == "call.cleared"}
        assert set(closed) == {talking, waiting, in_ivr}
        assert all(e["outcome"] == "interrupted" and e["cause"] == 41 for e in closed.values())
        assert closed[talking]["agent"] == "1001" and closed[talking]["queue"] == "service"
        rec = [e for e in first if e["type"] == "server.recovered"]
        assert rec and rec[0]["interrupted"] == 3 and rec[0]["boot"] == 2
        store = run.svc.store
        for cid in (talking, waiting, in_ivr):
            cdr, was = store.cdr(cid), live[cid]
            assert (cdr["outcome"], cdr["cause"]) == ("interrupted", 41)
            for k in ("direction", "trunk", "ani", "dnis", "start", "answer", "queue", "agent"):
                assert cdr[k] == was[k], (cid, k)
            assert cdr["end"] == max(alive, was["updated"]) >= cdr["start"]
            assert cdr["duration"] == pytest.approx(cdr["end"] - cdr["start"])
        assert store.cdr(talking)["billsec"] == pytest.approx(
            store.cdr(talking)["end"] - store.cdr(talking)["answer"])
        w = store.cdr(waiting)
        assert w["billsec"] == 0 and w["wait"] == pytest.approx(w["end"] - live[waiting]["queued"])
        assert store.cdr(in_ivr)["ivr_path"] == live[in_ivr]["ivr_path"]
        assert store.live_calls() == []
        # a third start has nothing left to close
    finally:
        run.stop()
    run = Run(tmp_path / "h", wall_start=WALL + 200)
    try:
        assert run.svc.recovery.interrupted == []
    finally:
        run.stop()


def test_a_call_cleared_by_a_request_just_before_a_crash_keeps_its_own_cdr(tmp_path):
    """call.hangup writes the CDR at once (not in a tick); the live row goes with it."""
    run = Run(tmp_path / "h")
    run.tick(30)
    run.req("agent.login", agent="1001")
    cid = established(run)
    assert run.req("call.hangup", call=cid)["state"] in ("cleared", "survey")
    assert run.svc.store.cdr(cid)["outcome"] == "answered"
    assert run.svc.store.live_calls() == []             # gone before any further tick
    run.stop()
    run = Run(tmp_path / "h", wall_start=WALL + 50)
    try:
        assert run.svc.recovery.interrupted == [] and run.svc.store.cdr(cid)["outcome"] == "answered"
    finally:
        run.stop()


def test_a_live_row_whose_cdr_is_there_is_only_dropped(tmp_path):
    store = Store(tmp_path / "cti.db")
    store.boot(10.0)
    row = {"call_id": "ab-1-1", "direction": "in", "trunk": "1/1", "ani": "1", "dnis": "2",
           "start": 11.0, "state": "established", "updated": 12.0}
    store.live_call_put(row)
    store.live_call_put(dict(row, call_id="ab-1-2"))
    store.add_cdr({"call_id": "ab-1-1", "direction": "in", "start": 11.0, "end": 13.0,
                   "outcome": "answered"})
    assert [(r["call_id"], r["has_cdr"]) for r in store.live_calls()] == [
        ("ab-1-1", True), ("ab-1-2", False)]
    from cti.server.recovery import close_interrupted
    evs = close_interrupted(store, 20.0)
    assert [e.fields["call_id"] for e in evs] == ["ab-1-2"]
    assert store.cdr("ab-1-1")["outcome"] == "answered"
    assert (store.cdr("ab-1-2")["outcome"], store.cdr("ab-1-2")["end"]) == ("interrupted", 20.0)
    assert store.live_calls() == []
    store.close()


def test_the_live_calls_follow_the_centre_tick_by_tick_under_traffic(tmp_path):
    """After every tick (one transaction) the store's calls in flight are exactly the
    centre's, with what their CDR would say so far, and none of them has a CDR."""
    run = Run(tmp_path / "h")
    try:
        run.tick(30)
        run.req("sim.traffic", profile="steady", rate=90, seconds=40, seed=5)
        store, calls = run.svc.store, run.svc.centre.calls
        e = run.svc.centre.epoch
        most = 0
        for _ in range(2500):                    # 50 s: the traffic, then it drains
            run.svc.tick()
            live = {r["call_id"]: r for r in store.live_calls()}
            assert set(live) == set(calls)
            most = max(most, len(live))
            for cid, r in live.items():
                c = calls[cid]
                assert not r["has_cdr"]
                assert (r["agent"], r["queue"], r["answer"]) == (
                    c.agent, c.queue, None if c.answer is None else e + c.answer), cid
        assert most >= 5 and store.count("cdr") >= 30
        assert run.svc.live is not None and len(run.svc.live) == len(calls)
    finally:
        run.stop()


def test_a_clean_stop_dates_the_last_sign_of_life_at_the_stop(tmp_path):
    """The heartbeat is written once a second of line time; a stop writes it once more,
    so the calls it leaves in flight end when it stopped, not up to a second before."""
    import asyncio

    from cti.server.loop import serve

    cfg = load_config(home=tmp_path / "h")
    svc = asyncio.run(serve(cfg, speed=50, seconds=1.5, log=lambda _: None))
    store = Store(tmp_path / "h" / "cti.db")
    try:
        assert svc.line_time == pytest.approx(1.5, abs=0.03)
        assert store.server()["alive"] == pytest.approx(svc.ts(), abs=1e-6)
    finally:
        store.close()


# --- agents --------------------------------------------------------------------------------

def test_agents_come_back_as_the_store_recorded_them(tmp_path):
    run = Run(tmp_path / "h")
    run.tick(30)
    for a in ("1001", "1002", "1003", "1005", "1006"):
        run.req("agent.login", agent=a)
    run.req("agent.not_ready", agent="1002", reason="lunch")
    run.req("agent.dnd", agent="1003")
    run.req("agent.logout", agent="1005")
    talking = established(run)                          # service rings 1001: on a call
    assert run.req("agent.show", agent="1001")["state"] == "busy"
    run.tick(10)
    # agent 1006's extension is no longer an FXS port of the board (the config changed)
    run.svc.store.db.execute("UPDATE agent_log SET extension = '99' WHERE agent = '1006'")
    alive = run.svc.store.server()["alive"]
    run.stop()

    run = Run(tmp_path / "h", wall_start=WALL + 100)
    try:
        st = {a: run.req("agent.show", agent=a) for a in ("1001", "1002", "1003", "1004",
                                                           "1005", "1006")}
        assert (st["1001"]["state"], st["1001"]["extension"]) == ("ready", 1)  # its call ended
        assert (st["1002"]["state"], st["1002"]["reason"]) == ("not_ready", "lunch")
        assert (st["1003"]["state"], st["1003"]["reason"]) == ("not_ready", "dnd")
        assert st["1004"]["state"] == st["1005"]["state"] == st["1006"]["state"] == "logged_out"
        rec = run.svc.recovery
        assert sorted(rec.agents_restored) == ["1001", "1002", "1003"]
        assert [a for a, _ in rec.agents_logged_out] == ["1006"]
        assert "extension 99 is not an FXS port" in rec.agents_logged_out[0][1]
        log = run.svc.store.agent_log
        # the session closed at the stop, with the reason; then the ACD's own rows
        for a in ("1001", "1002", "1003", "1006"):
            closing = [r for r in log(a) if r["state"] == "logged_out"]
            assert closing[-1]["reason"].startswith("server restart")
            assert closing[-1]["time"] >= alive - 1e-6 or a == "1001"
        assert [r["state"] for r in log("1002")][-2:] == ["logged_out", "not_ready"]
        assert log("1002")[-1]["reason"] == "lunch" and log("1002")[-1]["time"] == WALL + 100
        assert log("1005")[-1]["state"] == "logged_out" and log("1005")[-1]["reason"] is None
        offs = run.svc.store.queue_log(0, 2e6, "AGENTLOGOFF")
        assert {r["agent"] for r in offs} >= {"1001", "1002", "1003", "1005", "1006"}
        # the first tick tells the desktops
        first = run.tick()
        states = {e["agent"]: e["state"] for e in first if e["type"] == "agent.state"}
        assert states == {"1001": "ready", "1002": "not_ready", "1003": "not_ready"}
        # and the restored agent takes calls (once the trunks are restarted)
        run.tick(30)
        cid = established(run)
        assert run.req("call.show", call=cid)["agent"] == "1001"
        assert run.svc.store.cdr(talking)["outcome"] == "interrupted"
    finally:
        run.stop()


# --- the trunks ----------------------------------------------------------------------------

def _fresh_pri(world, n):
    """Our side of span ``n`` as a restarted server has it: a new Q.921/Q.931 stack that
    knows no call, while the exchange keeps its own."""
    group = world.pri[n]._group
    fresh = pri_mod.PriSpan(world.board.spans[n], "user")
    group.lines[n] = fresh
    fresh._group = group
    fresh.start(world.board.line_seconds)
    world.pri[n] = fresh
    return fresh


def _run(world, ms, collect=None):
    for ev in world.run(ms):
        if collect is not None:
            collect.append(ev)


@pytest.mark.parametrize("restart", [True, False])
def test_pri_restart_frees_the_exchange_b_channels_and_calls_work_after(restart):
    """The new stack's SABME resets the link, after which the exchange checks its active
    calls (Q.931 5.8.8) and clears those; a call still ringing (ours out to a number that
    does not answer, the exchange's alerting here) it keeps, with its B-channel, until
    RESTART clears everything."""
    with SimWorld(spans=None, ports=[], signalling=True) as w:
        _run(w, 200)
        ours, net = w.pri[1], w.exchange_pri[1]
        assert ours.link_up
        w.calls.no_answer_numbers.add("95999")
        xs = [w.calls.offer_call(1, f"1380013800{i}", "4008005555") for i in range(3)]
        evs = []
        _run(w, 200, evs)
        offered = [e for e in evs if isinstance(e, pri_mod.CallOffered)]
        for ev in offered[:2]:
            ours.answer(w.board.line_seconds, ev.call)
        ours.alerting(w.board.line_seconds, offered[2].call)
        ours.place_call(w.board.line_seconds, "95999", "4008005555")
        _run(w, 3000)
        assert [x.state for x in xs] == ["answered", "answered", "setup"]
        assert net.q931.busy_count() == 4 and len(w.calls.calls) == 4
        # the server restarts: its stack knows nothing; the exchange still holds 4 channels
        fresh = _fresh_pri(w, 1)
        restart_ = LineRestart({1: fresh} if restart else {}, {}, w.board.line_seconds)
        evs = []
        for _ in range(250):                     # 5 s
            evs += w.tick()
            restart_.tick(w.board.line_seconds)
        done = [e for e in evs if isinstance(e, pri_mod.ChannelsRestarted)]
        if not restart:
            assert done == [] and net.q931.busy_count() == 2 and len(w.calls.calls) == 2
            return
        assert [(e.timeslots, e.remote) for e in done] == [((), False)]
        assert fresh.q931.counters["restarts_sent"] == 1
        assert net.q931.counters["restarts_received"] == 1
        assert net.q931.busy_count() == 0 and w.calls.calls == {}
        assert len(fresh.q931.free_channels()) == len(fresh.q931.channels)
        assert {x.cause for x in xs} == {41}                 # the exchange's callers: cause 41
        # calls work right after: in, answered here, and out, answered there
        x = w.calls.offer_call(1, "13800138009", "4008005555")
        evs = []
        _run(w, 200, evs)
        offered = [e for e in evs if isinstance(e, pri_mod.CallOffered)]
        assert offered
        fresh.answer(w.board.line_seconds, offered[0].call)
        call = fresh.place_call(w.board.line_seconds, "95106", "4008005555")
        evs = []
        _run(w, 3000, evs)
        assert x.state == "answered"
        assert any(isinstance(e, pri_mod.CallAnswered) and e.call == call for e in evs)


def _fresh_r2(world, n):
    old = world.r2[n]
    board = world.board
    fresh = r2span_mod.R2Span(board.spans[n], "cn")
    board._signalling[board._signalling.index(old)] = fresh
    fresh.start(board.line_seconds)
    world.r2[n] = fresh
    return fresh


def _r2_world():
    from drivers.board import SpanConfig
    return SimWorld(spans=[SpanConfig(1, "cas", crc4=False)], ports=[], signalling=True)


@pytest.mark.parametrize("restart", [True, False])
def test_r2_clear_back_and_idle_free_every_circuit_the_exchange_held(restart):
    """With the restart the exchange sees clear-back on the calls it offered (the inbound
    calls, most of a centre's) and ends them in order (cause 16), and idle (clear-forward)
    on the one the board placed, after one unexpected forward 11; a bare start (idle on
    every circuit) ends them too, but each inbound call as a protocol error at the exchange
    (backward idle during a call, cause 41)."""
    with _r2_world() as w:
        _run(w, 300)
        ours, net = w.r2[1], w.exchange_r2[1]
        xs = [w.r2_calls.offer_call(1, f"1380013800{i}", "4008005555") for i in range(2)]
        _answer_until(w, ours, lambda: all(x.state == "answered" for x in xs))
        ours.place_call(w.board.line_seconds, "95105", "4008005555")
        _run(w, 6000)
        assert len(w.r2_calls.calls) == 3
        errors = net.status()["counters"].get("protocol_errors", 0)
        fresh = _fresh_r2(w, 1)
        if restart:
            fresh.restart(w.board.line_seconds)
        evs = []
        _run(w, 1000, evs)
        assert w.r2_calls.calls == {}
        st = net.status()
        assert all(c["state"] == "IDLE" for c in st["channels"].values())
        assert all(ch.state is r2_mod.R2State.IDLE for ch in fresh.channels.values())
        grew = st["counters"].get("protocol_errors", 0) - errors
        if restart:
            assert grew == 1 and [x.cause for x in xs] == [16, 16]
            assert [e.timeslots for e in evs if isinstance(e, pri_mod.ChannelsRestarted)] == [()]
        else:
            assert grew == 2 and [x.cause for x in xs] == [41, 41]
        # calls work right after, both ways
        x = w.r2_calls.offer_call(1, "13800138009", "4008005555")
        _answer_until(w, fresh, lambda: x.state == "answered")
        call = fresh.place_call(w.board.line_seconds, "95106", "4008005555")
        evs = []
        _run(w, 10_000, evs)          # (the DNIS ends by the 2 s end-of-address waits)
        assert any(isinstance(e, pri_mod.CallAnswered) and e.call == call for e in evs)


def _answer_until(w, ours, cond, ms=20_000):
    """Run the world, answering every call the exchange offers us, until ``cond()``."""
    for _ in range(ms // w.tick_ms):
        for ev in w.tick():
            if isinstance(ev, pri_mod.CallOffered):
                ours.answer(w.board.line_seconds, ev.call)
        if cond():
            return
    pytest.fail("the exchange's calls were not answered")


def test_r2_restart_holds_off_calls_and_keeps_a_technicians_block():
    with _r2_world() as w:
        _run(w, 300)
        ours = w.r2[1]
        ours.block(w.board.line_seconds, 5)
        ours.restart(w.board.line_seconds)
        assert ours.free_timeslots() == []
        _run(w, 100)
        x = w.r2_calls.offer_call(1, "13800138000", "4008005555")
        assert (x.state, x.cause) == ("cleared", 34)          # the exchange sees all blocked
        _run(w, 300)
        free = ours.free_timeslots()
        assert 5 not in free and len(free) == 29
        assert w.exchange_r2[1].status()["channels"][5]["state"] == "REMOTE_BLOCKED"


def test_the_server_restarts_every_trunk_at_start(tmp_path):
    text = DEFAULT_TOML.replace('''number = 2
signalling = "pri"
crc4 = true''', '''number = 2
signalling = "cas"
crc4 = false''')
    run = Run(tmp_path / "h", text=text)
    try:
        evs = [e for e in run.tick(40) if e["type"] == "span.restart"]
        assert sorted(e["span"] for e in evs) == [1, 2]
        assert run.svc.pri[1].q931.counters["restarts_sent"] == 1
        assert run.world.exchange_pri[1].q931.counters["restarts_received"] == 1
        assert run.svc.line_restart.restarted == [2, 1] and not run.svc.line_restart.pending
        assert len(run.world.exchange_r2[2].free_timeslots()) == 30
        # and calls come in on both right after
        run.req("agent.login", agent="1001")
        run.world.r2_calls.offer_call(2, "13800138000", "4008005555")
        run.until(lambda e: e["type"] == "call.offered" and e["channel"].startswith("2/"))
        run.world.calls.offer_call(1, "13800138001", "4008005555")
        run.until(lambda e: e["type"] == "call.offered" and e["channel"].startswith("1/"))
    finally:
        run.stop()


# --- the store -----------------------------------------------------------------------------

def test_migration_v4_upgrades_a_v3_home_and_boots_count(tmp_path):
    path = tmp_path / "cti.db"
    old = Store(path, migrations=MIGRATIONS[:3])
    # a CDR as the cti of that version wrote it (today's add_cdr knows later columns)
    old.db.execute('INSERT INTO cdr (call_id, direction, start, "end", duration, billsec, '
                   "outcome) VALUES ('c1', 'in', 1.0, 2.0, 1.0, 0.0, 'answered')")
    old.close()
    s = Store(path)
    assert s.version == SCHEMA_VERSION and s.server() is None and s.live_calls() == []
    name, boot = s.boot(100.0)
    assert boot == 1 and len(name) == 4 and name.isalnum()
    assert s.boot(200.0) == (name, 2)
    assert s.boot(300.0, "bj1") == ("bj1", 3)          # renamed: the count goes on
    assert s.server() == {"name": "bj1", "boot": 3, "started": 300.0, "alive": 300.0}
    s.server_alive(310.0)
    assert s.server()["alive"] == 310.0
    for bad in ("", "BJ1", "a-b", "x" * 13, 7):
        with pytest.raises(ValueError, match="server.name"):
            s.boot(400.0, bad)
    assert s.server()["boot"] == 3
    assert s.cdr("c1")["outcome"] == "answered"
    with pytest.raises(ValueError, match="live_calls.direction"):
        s.live_call_put({"call_id": "x", "direction": "sideways", "start": 1.0, "state": "x",
                         "updated": 1.0})
    with pytest.raises(ValueError, match="live_calls.bogus"):
        s.live_call_put({"call_id": "x", "bogus": 1})
    s.close()
    # a simulation's name comes from its seed (its run, ids included, is reproducible)
    from cti.store.sqlite import new_server_name
    assert new_server_name(1) == new_server_name(1) != new_server_name(2)
    other = Store(tmp_path / "other.db")
    assert other.boot(1.0, new_name="ab12") == ("ab12", 1)
    assert other.boot(2.0, new_name="zz99") == ("ab12", 2)     # only a new store takes it
    other.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# --- cti serve, stopped and killed under traffic ----------------------------------------------

def _harness():
    spec = importlib.util.spec_from_file_location("bench_restarts", ROOT / "bench" / "restarts.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod            # (its dataclasses look their module up)
    spec.loader.exec_module(mod)
    return mod


def test_cti_serve_comes_back_after_sigterm_and_kill_under_traffic(tmp_path):
    """4 restarts (2 after SIGTERM, 2 after SIGKILL at a random moment of traffic), every
    check of bench/restarts.py each round; bench/restarts.py runs 20."""
    h = _harness()
    res = h.run(tmp_path / "home", 4, speed=20, seed=7, say=lambda *_: None)
    assert [r.how for r in res.rounds] == ["term", "kill", "term", "kill", "term"]
    assert sum(r.interrupted for r in res.rounds) >= sum(r.in_flight for r in res.rounds) > 0
    assert all(r.agents_restored > 0 for r in res.rounds[1:])
