"""Requests of cti/server/ops/agents.py: agents (login, logout, ready, not ready, do not
disturb, forwarding, show, list) and queues (show, list), on the simulated board."""
from __future__ import annotations

from tests.desk import established_call


def test_dnd_forwarding_and_recording_on_request(centre):
    c = centre
    x, call, ts = established_call(c)
    c.req("agent.login", agent="1003")
    c.req("agent.dnd", agent="1003")
    assert c.req("agent.show", agent="1003")["reason"] == "dnd"
    e = c.fail("call.transfer", call=call, to="1003")
    assert "do-not-disturb" in e["message"]
    c.req("agent.forward", agent="1003", to="1004")           # 1003's calls go to 1004
    c.req("agent.login", agent="1004")
    c.req("agent.not_ready", agent="1004", reason="direct only")
    c.req("call.record", call=call)
    r = c.req("call.transfer", call=call, to="1003", data={"why": "forwarded"})
    assert r["to"] == "1004"
    c.run(20)
    assert c.world.phones[4].ringing
    c.world.phones[4].lift()
    evs = c.run(30)
    assert any(e["type"] == "call.established" and e.get("agent") == "1004" for e in evs)
    assert c.fail("agent.forward", agent="1003", to="nobody")["field"] == "args.to"
    c.world.calls.hangup(1, x.call)
    c.run(60)
    cdr = c.svc.store.cdr(call)
    assert cdr["agent"] == "1004" and cdr["recording"]
