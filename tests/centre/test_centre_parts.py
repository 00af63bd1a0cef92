"""The centre's parts alone (cti/centre/calls.py, trunks.py, agents.py, snapshot.py), each
through its own interface, without a board, a store or a server: the call table and its
leg indexes, the CTI events of a call, the trunk legs and the lines free for calls out,
the agents' requests over a real ACD, and the views."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from cti.centre.acd import Acd, AgentConfig, Member, QueueConfig
from cti.centre.agents import Roster
from cti.centre.calls import Call, CallTable, Events
from cti.centre.ivr import IvrPorts
from cti.centre.snapshot import Views
from cti.centre.trunks import Trunks
from drivers.board import DigitDetected
from drivers.sig import analog
from drivers.sig import pri as pri_mod


def _call(table: CallTable, **kw) -> Call:
    cid, n = table.next_id()
    kw.setdefault("direction", "in")
    kw.setdefault("trunk", "1/5")
    call = Call(id=cid, seq=n, ani=kw.pop("ani", "0612345678"), dnis=kw.pop("dnis", "3000"),
                start=kw.pop("start", 0.0), **kw)
    table.add(call)
    return call


# ---- the call table ----------------------------------------------------------------------

def test_call_ids_count_up_after_the_servers_prefix():
    table = CallTable("srv-2-")
    assert table.next_id() == ("srv-2-1", 1)
    assert table.next_id() == ("srv-2-2", 2)


def test_a_channels_calls_are_in_the_order_they_came_and_leave_the_index_when_removed():
    table = CallTable()
    first = _call(table, span=1, timeslot=5)
    second = _call(table, span=1, timeslot=5)
    fxo = _call(table, trunk="fxo/9", fxo_port=9)
    # a late index of the first (its timeslot given by the network) keeps the order
    table.unindex_trunk(first)
    table.index_trunk(first)
    assert table.trunk_calls[(1, 5)] == [first, second]
    assert table.trunk_calls[(0, 9)] == [fxo]
    assert table.on_channel(DigitDetected(tick=0, span=1, timeslot=5, digit="1")) == \
        (first, second)
    table.remove(first)
    assert first.id not in table.calls and table.trunk_calls[(1, 5)] == [second]
    table.remove(second)
    assert (1, 5) not in table.trunk_calls


def test_the_call_of_a_line_event_is_found_by_its_leg():
    table = CallTable()
    call = _call(table, span=1, timeslot=5, pri_call=7)
    table.by_pri[(1, 7)] = call.id
    cleared = pri_mod.CallCleared(tick=0, span=1, timeslot=5, call=7, cause=16,
                                  cause_text="normal", remote=True)
    assert table.call_of(cleared) is call
    other = pri_mod.CallCleared(tick=0, span=1, timeslot=6, call=8, cause=16,
                                cause_text="normal", remote=True)
    assert table.call_of(other) is None
    # a supervisor's phone on port 3 names the call it supervises
    table.supervisors[(3, 1)] = (call.id, "1002", "monitor")
    ev = analog.AnalogCallEvent(tick=0, port=3, event=analog.Answered(call=1, how="off_hook"))
    assert table.call_of(ev) is call
    # a DTMF digit: the first call on the channel
    assert table.call_of(DigitDetected(tick=0, span=1, timeslot=5, digit="5")) is call


def test_a_dropped_call_leaves_no_leg_behind():
    table = CallTable()
    call = _call(table, span=1, timeslot=5, pri_call=7)
    keep = _call(table, span=1, timeslot=6, pri_call=8)
    table.by_pri[(1, 7)] = call.id
    table.by_pri[(1, 8)] = keep.id
    table.by_agent_leg[(2, 1)] = call.id
    table.outbound[(4, 1)] = call.id
    table.supervisors[(3, 1)] = (call.id, "1002", "barge")
    table.drop_legs(call.id)
    assert table.by_pri == {(1, 8): keep.id}
    assert not table.by_agent_leg and not table.outbound and not table.supervisors


def test_a_request_on_an_unknown_call_is_a_lookup_error():
    table = CallTable()
    call = _call(table)
    assert table.call(call.id) is call
    with pytest.raises(LookupError, match="no call 'c99'"):
        table.call("c99")


def test_records_on_a_channel_only_while_a_call_there_records():
    table = CallTable()
    call = _call(table, span=1, timeslot=5)
    assert not table.records_on(1, 5)
    call.recording = object()
    assert table.records_on(1, 5) and not table.records_on(1, 6)


# ---- the events --------------------------------------------------------------------------

def test_a_call_event_carries_the_call_and_only_what_it_has():
    events = Events()
    call = Call(id="c1", direction="in", trunk="1/5", ani="0612345678", dnis="3000", start=0)
    events.call_event(call, "offered")
    call.queue, call.agent, call.data = "service", "1001", {"order": 42}
    events.call_event(call, "established", extension=2, wait=1.5)
    offered, established = events.take()
    assert offered.topic == offered.type == "call.offered"
    assert offered.fields == {"call_id": "c1", "ani": "0612345678", "dnis": "3000",
                              "channel": "1/5", "state": "offered"}
    assert established.fields["queue"] == "service" and established.fields["agent"] == "1001"
    assert established.fields["data"] == {"order": 42} and established.fields["wait"] == 1.5
    # the data is a copy: a change after the event does not reach it
    call.data["order"] = 43
    assert established.fields["data"] == {"order": 42}
    assert events.take() == []


# ---- the trunk legs ----------------------------------------------------------------------

class _Stack:
    """A span's call commands, noted."""

    def __init__(self, free: int = 0):
        self.did: list = []
        self.q931 = SimpleNamespace(free_channels=lambda: list(range(free)))

    def reject(self, now, call, cause):
        self.did.append(("reject", call, cause))

    def hangup(self, now, call, cause):
        self.did.append(("hangup", call, cause))


class _Line:
    """An analog port: its kind and its machine's state; what was sent to it."""

    def __init__(self, kind: str, state=None):
        self.port = SimpleNamespace(kind=kind)
        self.machine = SimpleNamespace(state=state)
        self.sent: list = []

    def send(self, now, cmd):
        self.sent.append(cmd)


def _trunks(pri=None, ports=None, table=None):
    table = table or CallTable()
    pri = pri or {}
    return Trunks(board=None, trunks=dict(pri), pri=pri, analog_ports=ports or {},
                  table=table, config=SimpleNamespace(record=False)), table


def test_a_trunk_leg_is_rejected_before_answer_released_after_and_cleared_once():
    span = _Stack()
    trunks, table = _trunks(pri={1: span})
    ringing = _call(table, span=1, timeslot=5, pri_call=7)
    talking = _call(table, span=1, timeslot=6, pri_call=8, answer=3.0)
    table.by_pri[(1, 7)] = ringing.id
    table.by_pri[(1, 8)] = talking.id
    assert trunks.held(ringing)
    trunks.hangup(10.0, ringing, 17)
    trunks.hangup(10.0, talking, 16)
    trunks.hangup(11.0, talking, 16)             # already cleared: nothing more
    assert span.did == [("reject", 7, 17), ("hangup", 8, 16)]
    assert not table.by_pri and not trunks.held(ringing)


def test_an_fxo_trunk_leg_is_released_on_its_line():
    line = _Line("fxo", analog.FxoState.IDLE)
    trunks, table = _trunks(ports={9: line})
    call = _call(table, trunk="fxo/9", fxo_port=9, fxo_call=1)
    table.by_fxo[(9, 1)] = call.id
    trunks.hangup(5.0, call)
    assert [type(c) for c in line.sent] == [analog.Release] and not table.by_fxo


def test_the_lines_free_for_calls_out():
    idle, busy = analog.FxoState.IDLE, analog.FxoState.ALERTING
    ports = {2: _Line("fxs"), 9: _Line("fxo", idle), 10: _Line("fxo", busy),
             11: _Line("fxo", idle), 12: _Line("fxo", idle)}
    trunks, table = _trunks(pri={1: _Stack(free=3)}, ports=ports)
    assert trunks.fxo_trunks_busy() == (1, 4)
    # line 9 is idle but a call holds it (its machine not yet told): not free
    _call(table, trunk="fxo/9", fxo_port=9)
    assert trunks.idle_fxo() == [11, 12] and trunks.free_fxo() == 11
    # 3 B-channels + 2 FXO lines, less a click-to-dial still ringing its agent
    _call(table, direction="out", trunk="1/-", span=1)
    assert trunks.outbound_room() == 3 + 2 - 1


# ---- the agents --------------------------------------------------------------------------

def _roster():
    agents = [AgentConfig("1001", extension=2), AgentConfig("1002", extension=3)]
    acd = Acd([QueueConfig("service", members=(Member("1001"), Member("1002")))], agents)
    ran: list = []
    ports = {2: _Line("fxs"), 3: _Line("fxs"), 9: _Line("fxo")}
    return Roster({a.id: a for a in agents}, acd, ports, ran.append), acd, ran


def test_an_agent_logs_in_ready_and_the_acd_runs_at_once():
    roster, acd, ran = _roster()
    st = roster.login(1.0, "1001")
    assert st == {"agent": "1001", "state": "ready", "reason": "", "call": None,
                  "extension": 2}
    assert ran == [1.0]
    st = roster.not_ready(2.0, "1001", "dnd")
    assert (st["state"], st["reason"]) == ("not_ready", "dnd") and ran == [1.0, 2.0]
    assert roster.logout(3.0, "1001")["state"] == "logged_out"


def test_an_agent_logs_in_only_at_an_fxs_port_and_only_a_known_agent():
    roster, acd, ran = _roster()
    assert roster.check_extension("1002") == 3
    with pytest.raises(LookupError, match="extension 9 is not an FXS port"):
        roster.login(1.0, "1002", 9)
    with pytest.raises(LookupError, match="no agent '1009'"):
        roster.ready(1.0, "1009")
    assert ran == [] and acd.agent_state("1002").state == "logged_out"


# ---- the views ---------------------------------------------------------------------------

def test_the_snapshot_shows_calls_agents_queues_ports_and_counters():
    roster, acd, _ = _roster()
    roster.login(0.0, "1002", ready=False, reason="break")
    table = CallTable()
    call = _call(table, data={"customer": {"name": "Ana"}})
    call.queue = "service"
    ports = IvrPorts(4)
    ports.acquire(call.id)
    counters = {"offered": 1}
    views = Views(table.calls, roster.agents, roster.status, acd,
                  SimpleNamespace(queues=[QueueConfig("service")], ivr_ports=4), ports, counters)
    snap = views.snapshot()
    assert snap["calls"] == [{"call_id": "c1", "state": "offered", "trunk": "1/5",
                              "ani": "0612345678", "dnis": "3000", "queue": "service",
                              "agent": None, "data": {"customer": {"name": "Ana"}},
                              "start": 0.0}]
    assert [(a["agent"], a["state"]) for a in snap["agents"]] == \
        [("1001", "logged_out"), ("1002", "not_ready")]
    assert [(q["queue"], q["waiting"]) for q in snap["queues"]] == [("service", 0)]
    assert snap["ivr_ports"] == {"total": 4, "in_use": 1}
    counters["offered"] = 2                  # a copy, as of the snapshot
    assert snap["counters"] == {"offered": 1}

