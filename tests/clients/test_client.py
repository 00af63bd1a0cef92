"""The client library (cti/clients/client.py) and the agent desktop (cti/clients/agent_tui.py).

The streams run against a real server (``serve()`` in a thread on a tmp home, as in
tests/inprocess.py) whose events come from the simulated E1 cables: LOS on and off gives
``span.alarm`` and D-channel events. Losses on the PUB socket are made by a SUB socket
that loses the events a test picks (what a PUB does past a subscriber's high-water
mark); the missing ones must come back from the server's replay ring. The gap logic
itself (:class:`StreamState`) is sans-I/O and runs under hypothesis against an
:class:`EventLog`. The desktop's logic needs no server: event dicts in, lines and
requests out.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
import zmq
from hypothesis import given, settings, strategies as st

from tests import inprocess
from tests.inprocess import InProcessServer
from cti.clients.agent_tui import AgentDesktop, Request, add_parser, run_desktop
from cti.server.bus import EventLog, ReplayGap
from cti.clients.client import (AsyncEventStream, AsyncRequester, Client, CtiError, Disconnected,
                        Event, EventStream, NoServer, Reconnected, Requester, Resync,
                        StreamState, is_idempotent)

FAST = dict(ping_interval=0.2, ping_timeout=0.3, timeout=2.0)


# --- helpers ------------------------------------------------------------------------------

class Lossy:
    """A SUB socket that loses the events ``lose(event)`` picks, as a PUB socket loses
    them for a subscriber over its high-water mark."""

    def __init__(self, sock, lose):
        self.sock, self.lose, self.lost = sock, lose, []

    def poll(self, *a):
        return self.sock.poll(*a)

    def recv_multipart(self, *a):
        frames = self.sock.recv_multipart(*a)
        ev = json.loads(frames[1])
        if self.lose(ev):
            self.lost.append(ev["seq"])
            raise zmq.Again()
        return frames

    def close(self, *a):
        self.sock.close(*a)


class AsyncLossy(Lossy):
    async def poll(self, *a):
        return await self.sock.poll(*a)

    async def recv_multipart(self, *a):
        frames = await self.sock.recv_multipart(*a)
        ev = json.loads(frames[1])
        if self.lose(ev):
            self.lost.append(ev["seq"])
            raise zmq.Again()
        return frames


def flap(c: Client, n: int, span: int = 1, pause: float = 0.03) -> int:
    """``n`` LOS on/off cycles on ``span``'s cable (span.alarm and D-channel events);
    returns the server's last seq afterwards."""
    for _ in range(n):
        c.request("sim.fault", span=span, los=True)
        time.sleep(pause)
        c.request("sim.fault", span=span, clear=True)
        time.sleep(pause)
    time.sleep(0.05)
    return c.request("ping")["seq"]


def take(stream, until, timeout: float = 5.0) -> list:
    """Items until ``until(items)`` holds (bounded by ``timeout``)."""
    items = []
    deadline = time.monotonic() + timeout
    while not until(items):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {items!r:.500}"
        it = stream.get(timeout=left)
        if it is not None:
            items.append(it)
    return items


async def atake(stream, until, timeout: float = 5.0) -> list:
    items = []
    deadline = time.monotonic() + timeout
    while not until(items):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {items!r:.500}"
        it = await stream.get(timeout=left)
        if it is not None:
            items.append(it)
    return items


def upto(stream, seq):
    """Until the stream has handed out everything up to ``seq``."""
    return lambda items: (stream.last_seq is not None and stream.last_seq >= seq
                          and not stream.state.items)


def events(items) -> list[dict]:
    return [i.event for i in items if isinstance(i, Event)]


def ring_server(monkeypatch, home, ring: int, **kw) -> InProcessServer:
    """An in-process server whose replay ring holds ``ring`` events."""
    real = inprocess.load_config

    def load(*a, **k):
        cfg = real(*a, **k)
        return dataclasses.replace(cfg, server=dataclasses.replace(cfg.server,
                                                                   replay_ring=ring))
    monkeypatch.setattr(inprocess, "load_config", load)
    return InProcessServer(home, **kw)


class FreezableServer(InProcessServer):
    """Can stop answering for a while (its event loop blocked), then carry on: the
    same instance, silent."""

    def _ready(self, service):
        self.loop = asyncio.get_running_loop()
        super()._ready(service)

    def freeze(self, seconds: float) -> None:
        self.loop.call_soon_threadsafe(time.sleep, seconds)


# --- requests -------------------------------------------------------------------------

@pytest.mark.parametrize("op, idem", [
    ("ping", True), ("snapshot", True), ("replay", True), ("span.show", True),
    ("call.list", True), ("board.list", True), ("span.alarms", True),
    ("call.answer", False), ("call.transfer", False), ("agent.ready", False),
    ("sim.fault", False), ("span.counters", False), ("shutdown", False),
])
def test_idempotent_ops(op, idem):
    assert is_idempotent(op) is idem


def test_requester_retries_only_idempotent_ops(monkeypatch):
    sent = []

    def lost(self, op, args=None, timeout=None):
        sent.append(op)
        raise NoServer("no reply")
    monkeypatch.setattr(Client, "call", lost)
    r = Requester(requests="ipc:///nonexistent/x.sock", retries=2, retry_delay=0.001)
    for op in ("ping", "call.answer", "call.transfer", "span.show"):
        with pytest.raises(NoServer):
            r.call(op, {})
    assert sent == ["ping"] * 3 + ["call.answer", "call.transfer"] + ["span.show"] * 3
    sent.clear()
    with pytest.raises(NoServer):
        r.call("call.hangup", {}, retries=5)     # asking does not make it safe
    assert sent == ["call.hangup"]

    def refused(self, op, args=None, timeout=None):
        sent.append(op)
        raise CtiError("no span 9", "not_found", "args.span")
    monkeypatch.setattr(Client, "call", refused)
    sent.clear()
    with pytest.raises(CtiError) as e:
        r.call("span.show", {"span": 9})
    assert sent == ["span.show"] and e.value.field == "args.span"   # an answer: not retried
    r.close()


def test_requester_without_server_gives_up_quickly(tmp_path):
    t0 = time.monotonic()
    with Requester(tmp_path, retries=2, retry_delay=0.01, timeout=0.2) as r:
        with pytest.raises(NoServer, match="cti serve"):
            r.request("ping")
    assert time.monotonic() - t0 < 1


def test_async_requester_against_the_server(server):
    home = server.config.server.home

    async def main():
        async with AsyncRequester(home, timeout=2) as r:
            p = await r.request("ping")
            assert p["pong"] and p["instance"] == server.service.instance
            with pytest.raises(CtiError) as e:
                await r.request("span.show", span=9)
            assert e.value.code == "not_found" and e.value.field == "args.span"
            both = await asyncio.gather(r.request("span.show", span=1),
                                        r.request("span.show", span=2))
            assert [s["span"] for s in both] == [1, 2]
        sent = []

        async def lost(op, args, timeout):
            sent.append(op)
            raise NoServer("no reply")
        r = AsyncRequester(home, retries=1, retry_delay=0.001)
        r._once = lost
        for op in ("snapshot", "call.answer"):
            with pytest.raises(NoServer):
                await r.call(op)
        assert sent == ["snapshot", "snapshot", "call.answer"]
        r.close()
    asyncio.run(main())


# --- the gap logic, sans-I/O ------------------------------------------------------------

class FakeServer:
    """Answers a StreamState's requests from an EventLog, as the server does."""

    def __init__(self, ring: int, instance: str = "one"):
        self.log, self.instance, self.up = EventLog(ring), instance, True

    def run(self, state: StreamState, steps) -> None:
        try:
            action = next(steps)
            while True:
                op, args = action
                try:
                    if not self.up:
                        raise NoServer("no reply")
                    if op == "drain":
                        res = None
                    elif op == "ping":
                        res = {"instance": self.instance, "seq": self.log.last_seq}
                    elif op == "snapshot":
                        res = {"instance": self.instance, "seq": self.log.last_seq}
                    else:
                        try:
                            res = {"events": self.log.replay(args["after"], args["topics"]),
                                   "last_seq": self.log.last_seq}
                        except ReplayGap as e:
                            raise CtiError(str(e), "replay_gap", "args.after") from None
                except CtiError as e:
                    action = steps.throw(e)
                    continue
                action = steps.send(res)
        except StopIteration:
            pass
        except NoServer as e:
            state.went_down(str(e))


TOPICS = ["span.alarm", "channel.hook", "call.delivered", "agent.1001"]


@settings(max_examples=150, deadline=None)
@given(evs=st.lists(st.tuples(st.sampled_from(TOPICS), st.booleans()), max_size=60),
       follow=st.lists(st.sampled_from(["span.", "call.", "agent.1001", ""]), min_size=1,
                       max_size=2, unique=True),
       ring=st.integers(1, 40), ping_every=st.integers(1, 20))
def test_stream_state_delivers_in_order_without_gaps_or_resyncs(evs, follow, ring,
                                                                ping_every):
    srv = FakeServer(ring)
    state = StreamState(follow)
    srv.run(state, state.start())
    ours = lambda t: any(t.startswith(p) for p in follow)   # noqa: E731
    for i, (topic, lost) in enumerate(evs):
        pub = srv.log.append(float(i), topic)
        if not lost and ours(topic):
            srv.run(state, state.received(topic, pub.event))
        if i % ping_every == 0:
            srv.run(state, state.ping())
    srv.run(state, state.ping())
    items = list(state.items)
    assert isinstance(items[0], Resync) and items[0].reason == "start"
    assert state.horizon == srv.log.last_seq
    # after the last resync, every event of ours, in order, once
    last = max(i for i, it in enumerate(items) if isinstance(it, Resync))
    since = items[last].seq
    got = [it.seq for it in items[last + 1:]]
    expected = [p for p in range(since + 1, srv.log.last_seq + 1)
                if ours(evs[p - 1][0])]
    assert got == expected
    assert all(isinstance(it, (Event, Resync)) for it in items)
    seqs = [it.seq for it in items]
    assert seqs == sorted(seqs)
    ev_seqs = [it.seq for it in items if isinstance(it, Event)]
    assert len(set(ev_seqs)) == len(ev_seqs)
    # a resync other than the start happens only when the ring really lost events
    if len(evs) <= ring:
        assert [it for it in items if isinstance(it, Resync)] == items[:1]


def test_stream_state_restart_and_silence():
    srv = FakeServer(100)
    state = StreamState(["span."])
    srv.run(state, state.start())
    for _ in range(3):
        p = srv.log.append(0.0, "span.alarm")
        srv.run(state, state.received("span.alarm", p.event))
    srv.up = False
    srv.run(state, state.ping())
    srv.run(state, state.ping())          # told once
    srv.up = True
    srv.log.append(0.0, "span.alarm")     # missed while it was silent
    srv.run(state, state.ping())
    items = list(state.items)
    assert [type(i).__name__ for i in items] == ["Resync", "Event", "Event", "Event",
                                                  "Disconnected", "Reconnected", "Event"]
    assert items[4].last_seq == 3 and items[5].restarted is False
    assert items[6].seq == 4 and items[6].replayed
    # a new server instance: seq starts again from 1
    state.items.clear()
    srv = FakeServer(100, "two")
    p = srv.log.append(0.0, "span.alarm")
    srv.run(state, state.received("span.alarm", p.event))   # seq 1 <= 4: went backwards
    assert [type(i).__name__ for i in state.items] == ["Resync"]
    assert state.items[0].reason == "restart" and state.instance == "two"
    state.items.clear()
    srv2 = FakeServer(100, "three")
    srv2.run(state, state.ping())
    assert state.items[0].reason == "restart"
    # starting after a seq of another instance: resync
    st2 = StreamState(["span."], after=1, instance="gone")
    srv2.run(st2, st2.start())
    assert st2.items[0].reason == "restart"


# --- streams against the server ----------------------------------------------------------

def test_stream_starts_with_a_snapshot_then_every_event_in_order(server):
    home = server.config.server.home
    with EventStream(home, **FAST) as s, Client(home, timeout=3) as c:
        first = s.get(timeout=3)
        assert isinstance(first, Resync) and first.reason == "start"
        assert first.instance == server.service.instance
        time.sleep(0.1)      # the subscription reaches the PUB socket
        last = flap(c, 4)
        items = take(s, upto(s, last))
        seqs = [e["seq"] for e in events(items)]
        assert seqs == list(range(first.seq + 1, last + 1))     # every topic: gap-free
        assert events(items) == c.request("replay", after=first.seq)["events"][:len(seqs)]
        kinds = {e["type"] for e in events(items)}
        assert {"span.alarm", "span.dchannel_down"} <= kinds
        assert not any(isinstance(i, (Disconnected, Resync)) for i in items)


def test_lost_events_come_back_from_replay(server):
    home = server.config.server.home
    topics = ["span.alarm", "span.dchannel"]
    with EventStream(home, topics, **FAST) as s, Client(home, timeout=3) as c:
        start = s.get(timeout=3)
        assert isinstance(start, Resync)
        s._sub = lossy = Lossy(s._sub, lambda ev: ev["seq"] % 3 != 0)   # 2 of 3 lost
        time.sleep(0.1)
        last = flap(c, 5)
        items = take(s, upto(s, last))
        want = [e for e in c.request("replay", after=start.seq, topics=topics)["events"]
                if e["seq"] <= last]
        assert events(items) == want                    # in order, none missing, none twice
        assert len(lossy.lost) >= len(want) // 2
        assert {i.seq for i in items if isinstance(i, Event) and i.replayed} >= \
            set(lossy.lost) & {e["seq"] for e in want}
        assert s.state.replays >= 1


def test_a_late_start_replays_from_after(server):
    home = server.config.server.home
    with Client(home, timeout=3) as c:
        last = flap(c, 2)
        with EventStream(home, ["span."], after=0, **FAST) as s:
            items = take(s, upto(s, last))
        assert events(items) == c.request("replay", after=0, topics=["span."])["events"][
            :len(events(items))]
        assert all(i.replayed for i in items) and items[0].seq == 1   # the start-up alarms


def test_events_gone_from_the_ring_give_a_resync(tmp_path, monkeypatch):
    with ring_server(monkeypatch, tmp_path / "h", 16, speed=5.0) as srv:
        home = srv.config.server.home
        with EventStream(home, ["span."], **FAST) as s, Client(home, timeout=3) as c:
            start = take(s, lambda it: it)[0]
            assert isinstance(start, Resync)
            s._sub = Lossy(s._sub, lambda ev: True)       # everything lost for a while
            s.ping_interval = 60                          # no ping fills it meanwhile
            cut = flap(c, 10)
            assert cut - start.seq > 16                   # more than the ring holds
            s._sub.lose = lambda ev: ev["seq"] <= cut
            s.ping_interval = FAST["ping_interval"]
            last = flap(c, 1)
            items = take(s, upto(s, last))
        resync = items[0]
        assert isinstance(resync, Resync) and resync.reason == "replay_gap"
        assert resync.seq >= cut and resync.instance == start.instance
        seqs = [e["seq"] for e in events(items)]
        assert seqs == sorted(set(seqs)) and all(q > resync.seq for q in seqs)


def test_restarted_server_gives_disconnected_reconnected_and_resync(tmp_path):
    home = tmp_path / "h"
    srv = InProcessServer(home, speed=5.0)
    try:
        with EventStream(home, ["span."], **FAST) as s:
            first = s.get(timeout=3)
            assert isinstance(first, Resync)
            srv.stop()
            down = take(s, lambda it: it and isinstance(it[-1], Disconnected), timeout=3)
            assert down[-1].last_seq == s.last_seq
            srv = InProcessServer(home, speed=5.0)
            back = take(s, lambda it: it and isinstance(it[-1], Resync), timeout=5)
            assert [type(i) for i in back] == [Reconnected, Resync]
            assert back[0].restarted and back[1].reason == "restart"
            assert back[1].instance == srv.service.instance != first.instance
            time.sleep(0.2)
            with Client(home, timeout=3) as c:
                last = flap(c, 1, span=2)
            items = take(s, upto(s, last))
            assert items and all(isinstance(i, Event) and i.seq > back[1].seq for i in items)
            assert any(i.event["type"] == "span.alarm" and i.event["span"] == 2 for i in items)
    finally:
        srv.stop()


def test_stream_started_before_the_server(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    with EventStream(home, ["span."], **FAST) as s:
        assert isinstance(s.get(timeout=2), Disconnected)
        assert s.get(timeout=0.3) is None                  # told once
        with InProcessServer(home, speed=5.0) as srv:
            items = take(s, lambda it: it and isinstance(it[-1], Resync), timeout=5)
            assert [type(i) for i in items] == [Reconnected, Resync]
            assert items[1].reason == "start" and items[1].instance == srv.service.instance


def test_silent_server_then_back_fills_the_gap(tmp_path):
    with FreezableServer(tmp_path / "h", speed=5.0) as srv:
        home = srv.config.server.home
        with EventStream(home, [""], **FAST) as s, Client(home, timeout=5) as c:
            start = s.get(timeout=3)
            time.sleep(0.1)
            flap(c, 1)
            srv.freeze(1.0)
            items = take(s, lambda it: it and isinstance(it[-1], Disconnected), timeout=3)
            s._sub = Lossy(s._sub, lambda ev: not s.state.connected)  # lost while "away"
            last = flap(c, 2)           # answered once the server wakes up
            items += take(s, upto(s, last), timeout=5)
        kinds = [type(i).__name__ for i in items]
        assert kinds.count("Disconnected") == 1 and kinds.count("Reconnected") == 1
        rec = next(i for i in items if isinstance(i, Reconnected))
        assert rec.restarted is False and rec.instance == start.instance
        seqs = [e["seq"] for e in events(items)]
        assert seqs == list(range(start.seq + 1, last + 1))   # nothing lost, nothing twice


def test_async_stream(tmp_path):
    home = tmp_path / "h"

    async def main():
        srv = InProcessServer(home, speed=5.0)
        c = Client(home, timeout=3)
        try:
            async with AsyncEventStream(home, ["span."], **FAST) as s:
                start = await s.get(timeout=3)
                assert isinstance(start, Resync) and start.reason == "start"
                s._sub = lossy = AsyncLossy(s._sub, lambda ev: ev["seq"] % 2 == 0)
                await asyncio.sleep(0.1)
                last = await asyncio.to_thread(flap, c, 3)
                items = await atake(s, upto(s, last))
                want = [e for e in c.request("replay", after=start.seq, topics=["span."])[
                    "events"] if e["seq"] <= last]
                assert events(items) == want and lossy.lost
                # the server goes, a new one comes on the same home
                c.close()
                srv.stop()
                down = await atake(s, lambda it: it and isinstance(it[-1], Disconnected), 3)
                assert isinstance(down[-1], Disconnected)
                srv = InProcessServer(home, speed=5.0)
                back = await atake(s, lambda it: it and isinstance(it[-1], Resync), 5)
                assert [type(i) for i in back] == [Reconnected, Resync]
                assert back[1].reason == "restart" and back[1].instance == srv.service.instance
                c = Client(home, timeout=3)
                await asyncio.sleep(0.2)
                last = await asyncio.to_thread(flap, c, 1)
                more = await atake(s, upto(s, last))
                assert more and all(isinstance(i, Event) and i.seq > back[1].seq for i in more)
        finally:
            c.close()
            srv.stop()
    asyncio.run(main())


# --- the agent desktop -------------------------------------------------------------------

def delivered(call=17, agent="1001", **kw):
    ev = {"seq": 40, "ts": 0.0, "type": "call.delivered", "call_id": call, "agent": agent,
          "extension": "201", "ani": "13800138000", "dnis": "4008001234", "queue": "sales",
          "data": {"order": "A1001", "lang": "zh",
                   "orders": [{"id": "A1001", "date": "2024-05-01", "item": "TV set",
                               "amount": 3999}]},
          "customer": {"name": "Wang Fang", "phone": "13800138000", "points": 1200,
                       "level": "gold"}}
    ev.update(kw)
    return ev


def call_ev(kind, call=17, **kw):
    return dict({"seq": 41, "ts": 0.0, "type": f"call.{kind}", "call_id": call}, **kw)


@pytest.fixture
def desk():
    d = AgentDesktop("1001", "201")
    d.reply(d.login(), {"state": "not_ready", "queues": ["sales", "vip"]})
    return d


def test_login_request_and_reply():
    d = AgentDesktop("1001", "201")
    assert d.login() == Request("agent.login", {"agent": "1001", "extension": 201})
    assert d.topics == ["agent.1001", "call."]
    lines = d.reply(d.login(), {"state": "not_ready", "reason": "login",
                                "queues": [{"name": "sales"}]})
    assert d.logged_in and lines[0] == "logged in: agent 1001 at extension 201"
    assert "NOT READY (login)" in lines[1] and "queues: sales" in lines[1]
    d2 = AgentDesktop("1002", "202")
    assert d2.reply(d2.login(), error=CtiError("no agent 1002", "not_found", "args.agent")) \
        == ["! login failed: args.agent: no agent 1002"]
    assert not d2.logged_in


def test_agent_state_events(desk):
    ev = {"seq": 5, "type": "agent.state", "agent": "1001", "state": "not_ready",
          "reason": "lunch"}
    assert desk.event("agent.1001", ev) == [
        "[agent 1001 @ 201] NOT READY (lunch)   queues: sales, vip"]
    ev = {"seq": 6, "type": "agent.state", "agent": "1001", "data": {"state": "ready"}}
    assert "READY   queues" in desk.event("agent.1001", ev)[0]
    # agent.10010 matches the prefix agent.1001 but is someone else
    assert desk.event("agent.10010", {"type": "agent.state", "agent": "10010",
                                      "state": "ready"}) == []
    assert desk.event("agent.1001", {"type": "agent.state", "agent": "1001",
                                     "state": "logged_out"})
    assert not desk.logged_in


def test_screen_pop(desk):
    lines = desk.event("call.delivered", delivered())
    text = "\n".join(lines)
    assert "SCREEN POP" in lines[0]
    assert lines[1] == "call 17 from 13800138000 to 4008001234 (queue sales)"
    assert "customer: Wang Fang   phone 13800138000   points 1200" in text
    assert "level=gold" in text
    assert "  - A1001 2024-05-01 TV set 3999" in text
    assert "data: order=A1001  lang=zh" in text
    assert desk.call.state == "ringing"
    # no customer found, no data
    d = AgentDesktop("1001", "201")
    lines = d.event("call.delivered", delivered(customer=None, data=None, queue=None))
    assert lines[1] == "call 17 from 13800138000 to 4008001234"
    assert "customer: not found for 13800138000" in lines


def test_other_agents_calls_are_not_shown(desk):
    assert desk.event("call.delivered", delivered(agent="1002", extension="202")) == []
    assert desk.call is None
    assert desk.event("call.cleared", call_ev("cleared", call=99)) == []


def test_commands_make_requests(desk):
    assert desk.command("ready") == ([Request("agent.ready", {"agent": "1001"})], [])
    assert desk.command("notready lunch break") == (
        [Request("agent.not_ready", {"agent": "1001", "reason": "lunch break"})], [])
    assert desk.command("notready")[0] == [Request("agent.not_ready", {"agent": "1001"})]
    assert desk.command("answer") == ([], ["! no call is ringing at your extension"])
    assert desk.command("hangup") == ([], ["! no call at your extension"])
    desk.event("call.delivered", delivered())
    assert desk.command("answer") == ([Request("call.answer", {"call": 17, "agent": "1001"})], [])
    assert desk.event("call.established", call_ev("established", agent="1001")) == [
        "call 17: connected (talking)"]
    assert desk.command("answer")[0] == []
    assert desk.command("hold")[0] == [Request("call.hold", {"call": 17})]
    assert desk.event("call.held", call_ev("held")) == ["call 17: on hold"]
    assert desk.command("retrieve")[0] == [Request("call.retrieve", {"call": 17})]
    assert desk.event("call.retrieved", call_ev("retrieved")) == ["call 17: retrieved (talking)"]
    assert desk.command("transfer 2002 order=A1001 note=vip=yes") == ([Request(
        "call.transfer", {"call": 17, "to": "2002",
                          "data": {"order": "A1001", "note": "vip=yes"}})], [])
    assert desk.command("transfer sales")[0][0].args == {"call": 17, "to": "sales", "data": {}}
    assert desk.command("transfer") == ([], ["! usage: transfer EXT [KEY=VALUE ...]"])
    assert desk.command("transfer 2002 oops")[1] == ["! 'oops': attached data is KEY=VALUE"]
    assert desk.command("hangup")[0] == [Request("call.hangup", {"call": 17})]
    assert desk.command("frob")[1] == ["! unknown command 'frob' (type help)"]
    assert desk.command("   ") == ([], [])
    assert "commands:" in desk.command("help")[1][0]
    assert desk.command("status")[1][1] == "call 17: talking, from 13800138000 to 4008001234 " \
                                           "(queue sales)"
    assert desk.command("logout")[0] == [Request("agent.logout", {"agent": "1001"})]
    assert desk.command("quit") == ([Request("agent.logout", {"agent": "1001"})], ["bye"])
    assert desk.done


def test_blind_transfer_and_clear(desk):
    desk.event("call.delivered", delivered())
    desk.event("call.established", call_ev("established"))
    req = desk.command("transfer 2002 order=A1001")[0][0]
    assert desk.reply(req, {"call": 17}) == ["transferring call 17 to 2002"]
    assert desk.event("call.transferred", call_ev("transferred", to="2002")) == [
        "call 17: transferred to 2002"]
    assert desk.call is None
    # a call transferred to us pops with its data
    lines = desk.event("call.delivered", delivered(call=23, data={"order": "B7"}))
    assert "data: order=B7" in lines
    assert desk.event("call.transferred", call_ev("transferred", call=23, to="201",
                                                  agent="1001")) == ["call 23: transferred to you"]
    assert desk.call.id == 23
    assert desk.event("call.cleared", call_ev("cleared", call=23, cause=16)) == [
        "call 23: cleared (cause 16)"]
    assert desk.call is None


def test_consultative_transfer(desk):
    desk.event("call.delivered", delivered())
    desk.event("call.established", call_ev("established"))
    assert desk.command("complete") == ([], ["! no consultation call: `consult EXT` first"])
    assert desk.command("consult") == ([], ["! usage: consult EXT"])
    req = desk.command("consult 2002")[0][0]
    assert req == Request("call.consult", {"call": 17, "to": "2002"})
    assert "consulting 2002 (call 18)" in desk.reply(req, {"call": 17, "consult": 18})[0]
    assert desk.event("call.established", call_ev("established", call=18, to="2002")) == [
        "consultation call 18: connected to 2002"]
    assert desk.command("hangup")[0] == [Request("call.hangup", {"call": 18})]
    assert desk.command("complete")[0] == [Request("call.transfer_complete", {"call": 17})]
    assert desk.event("call.transferred", call_ev("transferred", to="2002")) == [
        "call 17: transferred to 2002"]
    assert desk.call is None and desk.consult is None
    # a consultation dropped instead: the caller stays
    desk.event("call.delivered", delivered(call=30))
    desk.reply(Request("call.consult", {"call": 30, "to": "2003"}), {"call": 31})
    assert desk.consult == 31
    assert desk.event("call.cleared", call_ev("cleared", call=31)) == [
        "consultation call 31: cleared"]
    assert desk.consult is None and desk.call.id == 30


def test_errors_are_shown(desk):
    desk.event("call.delivered", delivered())
    req = desk.command("answer")[0][0]
    assert desk.reply(req, error=CtiError("call 17 is gone", "not_found", "args.call")) == [
        "! call.answer: args.call: call 17 is gone"]


def test_resync_rebuilds_state(desk):
    desk.event("call.delivered", delivered())
    snap = {"seq": 99, "agents": [{"agent": "1002", "state": "ready"},
                                  {"agent": "1001", "state": "busy", "queues": ["sales"]}],
            "calls": [{"call_id": 44, "agent": "1001", "state": "held", "ani": "139"}]}
    lines = desk.resync(snap)
    assert lines[0] == "(state resynchronised from the server)"
    assert "BUSY" in lines[1] and desk.call.id == 44 and desk.call.state == "held"
    assert desk.command("retrieve")[0] == [Request("call.retrieve", {"call": 44})]
    assert desk.resync({"seq": 1, "agents": [], "calls": []})[1].startswith(
        "[agent 1001 @ 201] LOGGED OUT")
    assert not desk.logged_in and desk.call is None


class FakeStream:
    def __init__(self, items):
        self.items = asyncio.Queue()
        for i in items:
            self.items.put_nowait(i)

    async def get(self, timeout=None):
        return await self.items.get()


class FakeRequester:
    def __init__(self, results):
        self.sent, self.results = [], results

    async def call(self, op, args=None, timeout=None):
        self.sent.append((op, args))
        r = self.results.get(op, {})
        if isinstance(r, Exception):
            raise r
        return r


def test_run_desktop_shell_with_fakes():
    async def main():
        stream = FakeStream([
            Resync({"seq": 1, "agents": [{"agent": "1001", "state": "ready"}]}, "start"),
            Event("call.delivered", delivered()),
            Disconnected("no reply", 40), Reconnected("x", False)])
        req = FakeRequester({"agent.login": {"state": "ready", "queues": ["sales"]}})
        lines: asyncio.Queue = asyncio.Queue()
        out = []

        def show(line):
            out.append(line)
            if line.startswith("(type `answer`)"):
                for cmd in ("answer", "transfer 2002 order=A1", "quit"):
                    lines.put_nowait(cmd)
        rc = await asyncio.wait_for(
            run_desktop(AgentDesktop("1001", "201"), stream, req, lines, show), 3)
        return rc, out, req.sent
    rc, out, sent = asyncio.run(main())
    assert rc == 0
    assert sent == [("agent.login", {"agent": "1001", "extension": 201}),
                    ("call.answer", {"call": 17, "agent": "1001"}),
                    ("call.transfer", {"call": 17, "to": "2002", "data": {"order": "A1"}}),
                    ("agent.logout", {"agent": "1001"})]
    assert "logged in: agent 1001 at extension 201" in out and "bye" in out
    assert any("SCREEN POP" in line for line in out)

    async def refused():
        req = FakeRequester({"agent.login": CtiError("no agent 9", "not_found", "args.agent")})
        out = []
        rc = await run_desktop(AgentDesktop("9", "1"), FakeStream([]), req, asyncio.Queue(),
                               out.append)
        return rc, out
    rc, out = asyncio.run(refused())
    assert rc == 1 and out[-1] == "! login failed: args.agent: no agent 9"


def test_desktop_reaches_a_real_server(server):
    """The shell's wiring end to end: the login reaches the server, whose answer is
    shown (an error naming the op until the server has agents)."""
    home = server.config.server.home

    async def main():
        stream = AsyncEventStream(home, ["agent.1001", "call."], **FAST)
        req = AsyncRequester(home, timeout=2)
        lines: asyncio.Queue = asyncio.Queue()
        lines.put_nowait("quit")
        out = []
        try:
            rc = await asyncio.wait_for(
                run_desktop(AgentDesktop("1001", "1"), stream, req, lines, out.append), 5)
        finally:
            req.close()
            stream.close()
        return rc, out
    rc, out = asyncio.run(main())
    assert out[0] == "cti agent: agent 1001, extension 1 (type help)"
    assert rc == 0 and "logged in: agent 1001 at extension 1" in out, out


def test_agent_subcommand_parser():
    import argparse

    p = argparse.ArgumentParser(prog="cti")
    sub = p.add_subparsers(dest="command")
    add_parser(sub)
    args = p.parse_args(["agent", "--agent", "1001", "--extension", "201"])
    assert (args.agent, args.extension, args.command) == ("1001", "201", "agent")
    assert callable(args.func)
    with pytest.raises(SystemExit):
        p.parse_args(["agent", "--agent", "1001"])
