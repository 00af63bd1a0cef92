"""One failing call never ends the process (ARCHITECTURE.md rule 7, issue #14 item 3).

An exception while handling one call (injected through the centre's ``fault_injector``,
or a real one) is logged with its traceback, counted, published as ``server.error``,
and that call alone is cleared: cause 41 to the exchange, its agent given back, one CDR
of outcome ``failed``. Under traffic with exceptions at random points of random calls
(bench/faults.py), every other call completes and nothing is left behind. Failures
outside the calls (a line event, the store's commit) are caught by the server's tick.
"""
from __future__ import annotations

import importlib.util
import logging
import sqlite3
from pathlib import Path

import pytest

from cti.server import logs
from cti.centre.coordinator import CallFailed
from cti.store.sqlite import Store
from drivers.sig import analog
from tests.desk import Centre, established_call, types
from tests.served import ROOT



def _bench_faults():
    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Boom(RuntimeError):
    pass


class RaiseAt:
    """An injector raising at ``point`` for the first call that passes it (or every
    point, for ``point`` None), ``times`` times in all."""

    def __init__(self, point: str | None, times: int = 1):
        self.point, self.times = point, times
        self.hits: list[tuple[str, str]] = []

    def __call__(self, where, call):
        if self.times and (self.point is None or where == self.point):
            self.times -= 1
            self.hits.append((where, call.id))
            raise Boom(f"boom at {where}")


@pytest.fixture
def centre(tmp_path):
    home = tmp_path / "home"
    handler = logs.setup(home, "info")
    c = Centre(home)
    c.home = home
    c.req("agent.login", agent="1001")
    c.req("agent.login", agent="1002")
    c.req("agent.not_ready", agent="1002", reason="busy")
    yield c
    c.close()
    logs.teardown(handler)


def log_text(home) -> str:
    return (Path(home) / "log" / "cti.log").read_text()


def agent_free(c, agent="1001", port=1) -> bool:
    st = c.svc.centre.acd.agent_state(agent)
    return st.state != "busy" and st.call is None and not st.busy_elsewhere and \
        c.svc.centre.analog[port].machine.state is analog.FxsState.IDLE


def cdr(c, call_id):
    return c.svc.store.cdr(call_id)


def test_a_failing_call_is_cleared_logged_once_and_published(centre):
    c = centre
    inj = RaiseAt("connect")
    c.svc.centre.fault_injector = inj
    x = c.world.calls.offer_call(1, "13800138000", "4008005555")
    evs = c.run(60)
    assert "call.delivered" in types(evs)
    c.world.phones[1].lift()
    evs = c.run(40)
    assert inj.hits and inj.hits[0][0] == "connect"
    cid = inj.hits[0][1]
    err = [e for e in evs if e["type"] == "server.error"]
    assert len(err) == 1
    assert err[0]["call_id"] == cid and err[0]["where"] == "acd.Connected"
    assert err[0]["error"] == "Boom" and err[0]["message"] == "boom at connect"
    assert "Traceback" not in str(err[0])                 # never to the clients
    cleared = [e for e in evs if e["type"] == "call.cleared"]
    assert [(e["call_id"], e["outcome"], e["cause"]) for e in cleared] == [(cid, "failed", 41)]
    row = cdr(c, cid)
    assert (row["outcome"], row["cause"]) == ("failed", 41)
    assert c.svc.store.count("cdr") == 1
    # the exchange heard cause 41; the agent is not left busy, the phone is released
    c.world.phones[1].hang_up()
    c.run(100)
    assert c.world.calls.stats.cleared.get(41) == 1
    assert not c.world.calls.calls and (x.state, x.cause) == ("cleared", 41)
    assert agent_free(c)
    assert c.svc.centre.counters["errors"] == 1 and c.svc.centre.counters["failed"] == 1
    assert not c.svc.centre.calls
    text = log_text(c.home)
    assert text.count("Traceback (most recent call last)") == 1
    assert f"ERROR cti.centre: call {cid}: Boom in acd.Connected: boom at connect" in text
    assert 'raise Boom(f"boom at {where}")' in text       # the traceback itself
    # the next caller is served as if nothing happened
    c.svc.centre.fault_injector = None
    c.req("agent.ready", agent="1001")                   # out of wrap-up
    _, cid2, _ = established_call(c)
    assert c.svc.centre.calls[cid2].state == "established"


def test_a_failure_after_the_cdr_keeps_that_cdr(centre):
    c = centre
    c.svc.centre.fault_injector = RaiseAt("cdr")
    _, cid, _ = established_call(c)
    c.world.phones[1].hang_up()                          # the agent ends the call
    evs = c.run(40)
    row = cdr(c, cid)
    assert (row["outcome"], row["cause"]) == ("answered", 16)
    assert [e["outcome"] for e in evs if e["type"] == "call.cleared"] == ["answered"]
    assert [e["where"] for e in evs if e["type"] == "server.error"] == ["AnalogCallEvent"]
    assert c.svc.centre.counters["answered"] == 1 and c.svc.centre.counters["failed"] == 0
    assert not c.svc.centre.calls and not c.svc.centre._trunk_calls
    assert c.svc.store.count("cdr") == 1


def test_a_call_whose_clearing_fails_too_is_dropped_with_its_cdr(centre):
    """Every named point raises for the call, its clearing's included: the call is
    dropped from the centre's tables, with a minimal CDR, and the agent freed."""
    c = centre
    _, cid, ts = established_call(c)
    inj = RaiseAt(None, times=100)
    c.svc.centre.fault_injector = inj
    r = c.svc.handle({"id": 7, "op": "call.hold", "args": {"call": cid}})
    assert not r["ok"] and r["error"]["code"] == "internal"
    assert f"call {cid} was cleared (cause 41)" in r["error"]["message"]
    assert len(inj.hits) > 1                              # the clearing raised as well
    c.svc.centre.fault_injector = None
    c.world.phones[1].hang_up()
    c.run(100)
    row = cdr(c, cid)
    assert (row["outcome"], row["cause"]) == ("failed", 41)
    assert not c.svc.centre.calls and not c.svc.centre._by_pri
    assert not c.svc.centre._by_agent_leg and not c.svc.centre._trunk_calls
    assert agent_free(c)
    assert "clearing after the failure" in log_text(c.home)
    c.req("agent.ready", agent="1001")                   # out of wrap-up
    _, cid2, _ = established_call(c)                    # the next call is served
    assert cid2 != cid


def test_a_request_failing_half_way_clears_the_call(centre):
    """A transfer that fails after the agent let go of the caller does not leave the
    caller on hold with nobody: the call is cleared (cause 41)."""
    c = centre
    _, cid, _ = established_call(c)
    c.svc.centre.fault_injector = RaiseAt("request.transfer")
    r = c.svc.handle({"id": 3, "op": "call.transfer", "args": {"call": cid, "to": "1002"}})
    assert not r["ok"] and r["error"]["code"] == "internal"
    assert "transfer failed (Boom: boom at request.transfer)" in r["error"]["message"]
    evs = c.run(30)
    assert [e["where"] for e in evs if e["type"] == "server.error"] == ["request.transfer"]
    assert cid not in c.svc.centre.calls
    assert (cdr(c, cid)["outcome"], cdr(c, cid)["cause"]) == ("failed", 41)
    c.world.phones[1].hang_up()
    c.run(100)
    assert agent_free(c)
    assert c.world.calls.stats.cleared.get(41) == 1


def test_a_transfer_to_no_such_queue_is_refused_before_anything_changes(centre):
    c = centre
    _, cid, _ = established_call(c)
    err = c.fail("call.transfer", call=cid, to="queue:nowhere")
    assert err["code"] == "not_found" and "nowhere" in err["message"]
    call = c.svc.centre.calls[cid]
    assert (call.state, call.agent, call.agent_port) == ("established", "1001", 1)
    assert c.svc.centre.acd.agent_state("1001").state == "busy"


def test_click_to_dial_failing_half_way_frees_the_agent(centre):
    c = centre
    c.svc.centre.fault_injector = RaiseAt("request.make_call")
    r = c.svc.handle({"id": 4, "op": "call.make", "args": {"agent": "1001",
                                                           "to": "13900000001"}})
    assert not r["ok"] and "cleared (cause 41)" in r["error"]["message"]
    c.run(20)
    assert not c.svc.centre.calls and not c.svc.centre._outbound
    assert agent_free(c)
    rows = c.svc.store.cdrs(0, 1e13)
    assert [(x["direction"], x["outcome"], x["cause"]) for x in rows] == [("out", "failed", 41)]


def test_a_failing_line_event_and_a_failing_commit_do_not_end_the_tick(centre, monkeypatch):
    c = centre
    svc = c.svc
    real = svc.to_bus
    calls = {"n": 0}

    def to_bus(ev):
        calls["n"] += 1
        if calls["n"] == 1:
            raise Boom("line event")
        return real(ev)

    monkeypatch.setattr(svc, "to_bus", to_bus)
    c.world.calls.offer_call(1, "13800138000", "4008005555")   # line events come
    evs = c.run(30)
    errs = [e for e in evs if e["type"] == "server.error"]
    assert len(errs) == 1 and errs[0]["where"].startswith("line.")
    assert svc.errors == 1
    # the store's commit fails once (a full disk): logged CRITICAL, the ticks go on
    conn = svc.store.db.conn
    real_execute = conn.execute

    class Conn:
        def __getattr__(self, name):
            return getattr(conn, name)

        def execute(self, sql, *a):
            if sql == "COMMIT" and not failed:
                failed.append(1)
                raise sqlite3.OperationalError("database or disk is full")
            return real_execute(sql, *a)

    failed: list = []
    monkeypatch.setattr(svc.store.db, "conn", Conn())
    evs = c.run(10)
    assert failed
    errs = [e for e in evs if e["type"] == "server.error"]
    assert [e["where"] for e in errs] == ["store.commit"]
    assert errs[0]["rows"] == "kept for the next commit"
    # ... and a BEGIN that fails: the centre still gets the tick's line events
    failed.clear()

    class NoBegin(Conn):
        in_transaction = False

        def execute(self, sql, *a):
            if sql == "BEGIN" and not failed:
                failed.append(1)
                raise sqlite3.OperationalError("disk I/O error")
            return real_execute(sql, *a)

    monkeypatch.setattr(svc.store.db, "conn", NoBegin())
    c.world.phones[1].lift()
    evs = c.run(1)
    assert failed
    assert [e["where"] for e in evs if e["type"] == "server.error"] == ["store.begin"]
    monkeypatch.setattr(svc.store.db, "conn", conn)
    evs += c.run(30)
    assert "call.established" in types(evs)              # the call went on all along
    text = log_text(c.home)
    assert "CRITICAL cti.server: store.commit: OperationalError: database or disk is full" \
        in text
    assert "ERROR cti.server: line." in text


def test_the_store_takes_the_acd_own_queue_log_rows(tmp_path):
    """A refused join (JOINEMPTY, FULL) and a call taken out of a queue (REMOVED) are rows
    the ACD writes; the store refused them, so a refused join raised in the tick."""
    st = Store(tmp_path / "cti.db")
    for event in ("JOINEMPTY", "FULL", "REMOVED"):
        st.log_queue(1.0, "c1", "sales", "NONE", event, 1, 1, 0)
    assert [r["event"] for r in st.queue_log(0, 2)] == ["JOINEMPTY", "FULL", "REMOVED"]


def test_the_board_gone_ends_the_served_process_with_a_log_line(tmp_path):
    """The one failure that does end ``cti serve``: the board's own tick raising."""
    from drivers.hal import HalError
    from tests.inprocess import InProcessServer

    home = tmp_path / "home"
    srv = InProcessServer(home, speed=4.0)
    srv.wait_in_sync()

    def gone():
        raise HalError(-5, "board sim0: tick")

    srv.service.world.tick = gone
    srv.thread.join(10)
    assert not srv.thread.is_alive() and isinstance(srv.error, HalError)
    text = log_text(home)
    assert "CRITICAL cti.server: stopping: HalError: board sim0: tick" in text
    assert "Traceback (most recent call last)" in text


def test_a_request_refusal_is_not_a_failure(centre):
    """A refused request (checked before anything changes) is an error reply, not a
    failed call: nothing is cleared, nothing logged as an error."""
    c = centre
    _, cid, _ = established_call(c)
    err = c.fail("call.retrieve", call=cid)
    assert err["code"] == "failed"
    assert c.svc.centre.calls[cid].state == "established"
    assert c.svc.centre.counters["errors"] == 0
    text = log_text(c.home)
    assert " ERROR " not in text
    # the agents' requests done are in the log, who asked and what
    assert "INFO cti.server: agent.not_ready by admin owner from local: agent='1002', reason='busy'" in text
    c.req("call.hangup", call=cid)
    assert f"INFO cti.server: call.hangup by admin owner from local: call='{cid}'" in log_text(c.home)


def test_injected_exceptions_under_traffic(tmp_path):
    """bench/faults.py scaled down for CI (its default run injects 1,000): every check
    it makes holds."""
    faults = _bench_faults()
    res = faults.run(40, tmp_path, seed=7)
    f = res["figures"]
    assert res["problems"] == [], res["problems"]
    assert f["hits"] == 40 and f["errors_counted"] == 40 and f["server_errors"] == 0
    assert f["outcomes"]["failed"] >= 40 - f["hit_after_cdr"]
    assert f["not_hit"] > 40 and "failed" not in f["not_hit_outcomes"]
    assert f["agents_stuck"] == 0
    assert len(f["points"]) >= 8                           # hits all over the call's life


def test_one_failing_call_in_the_served_process(tmp_path):
    """``serve()`` itself: an exception for one call goes out as server.error, the log
    file has its traceback and the line's alarms, and the server goes on serving."""
    import time

    from cti.clients.client import Client, Event, EventStream, Resync
    from tests.inprocess import InProcessServer

    home = tmp_path / "home"
    with InProcessServer(home, speed=4.0) as srv:
        srv.wait_in_sync()
        inj = RaiseAt("route")
        srv.service.centre.fault_injector = inj
        with Client(home, timeout=5) as cl, \
                EventStream(home, ["call.", "server."], ping_interval=0.5) as stream:
            assert isinstance(stream.get(timeout=5), Resync)    # started before acting
            cl.request("sim.call", span=1, **{"from": "13800138000", "to": "4008001234"})
            seen = []
            deadline = time.monotonic() + 15
            while not any(e["type"] == "call.cleared" for e in seen):
                assert time.monotonic() < deadline, seen
                item = stream.get(timeout=0.2)
                if isinstance(item, Event):
                    seen.append(item.event)
            err = [e for e in seen if e["type"] == "server.error"]
            assert len(err) == 1 and err[0]["where"] == "CallOffered"
            assert [e["outcome"] for e in seen if e["type"] == "call.cleared"] == ["failed"]
            assert cl.request("ping")["pong"]
            # the next call is routed as ever
            cl.request("sim.call", span=1, **{"from": "13800138001", "to": "4008001234"})
            deadline = time.monotonic() + 15
            while not any(e["type"] == "call.offered" and e["ani"] == "13800138001"
                          for e in seen):
                assert time.monotonic() < deadline
                item = stream.get(timeout=0.2)
                if isinstance(item, Event):
                    seen.append(item.event)
            assert srv.service.centre.counters["errors"] == 1
    text = log_text(home)
    assert text.count("Traceback (most recent call last)") == 1
    assert "Boom in CallOffered: boom at route" in text
    assert "span 1: alarm LOS raised" in text and "span 1: D-channel up" in text
    assert "INFO cti.server: started: pid" in text and "INFO cti.server: stopped at seq" in text
    assert "shutdown by " in text                           # the shutdown request, audited
    mode = (home / "log" / "cti.log").stat().st_mode & 0o777
    assert mode == 0o600 and (home / "log").stat().st_mode & 0o777 == 0o700
    assert not [h for h in logging.getLogger("cti").handlers
                if isinstance(h, logs.PrivateRotatingFileHandler)]   # torn down
