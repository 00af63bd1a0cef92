"""Each of the four loss points is counted where the call was lost, end to end on the
simulated board: here the fourth, a caller who hangs up while an agent's phone rings
(``abandoned_ring``), which the centre once filed as an abandon in the queue because the
ringing had already been stopped when the outcome was decided."""
from __future__ import annotations


from tests.desk import types


def test_caller_gone_while_the_agent_phone_rings_is_lost_at_the_agent(centre_1001):
    c = centre_1001
    x = c.world.calls.offer_call(1, "13800138000", "4008005555")   # the service queue
    evs = c.run(60)
    assert "call.delivered" in types(evs)
    assert c.world.phones[1].ringing or c.world.phones[1].rings > 0
    c.world.calls.hangup(1, x.call)                      # the caller gives up
    evs = c.run(20)
    cleared = [e for e in evs if e["type"] == "call.cleared"]
    assert cleared and cleared[0]["outcome"] == "abandoned_ring"
    cdr = c.svc.store.cdrs(0, 1e12)
    assert [r["outcome"] for r in cdr] == ["abandoned_ring"]
    log = [r["event"] for r in c.svc.store.queue_log(0, 1e12)]
    assert "ABANDON" in log
    assert c.svc.centre.counters["abandoned_ring"] == 1
    assert c.svc.centre.counters["abandoned_queue"] == 0
    c.run(50)
    assert not c.world.phones[1].ringing                 # the phone stopped ringing


def test_caller_gone_while_waiting_is_lost_in_the_queue(centre_1001):
    c = centre_1001
    c.req("agent.not_ready", agent="1001")
    x = c.world.calls.offer_call(1, "13800138001", "4008005555")
    evs = c.run(60)
    assert "call.queued" in types(evs) and "call.delivered" not in types(evs)
    c.world.calls.hangup(1, x.call)
    evs = c.run(20)
    cleared = [e for e in evs if e["type"] == "call.cleared"]
    assert cleared and cleared[0]["outcome"] == "abandoned_queue"
