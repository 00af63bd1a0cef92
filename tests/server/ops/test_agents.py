"""Requests of cti/server/ops/agents.py: agents (login, logout, ready, not ready, do not
disturb, forwarding, show, list) and queues (show, list), on the simulated board."""
from __future__ import annotations

from tests.desk import Centre, established_call, types


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


def test_agents_and_queues_as_a_supervisor_reads_them(tmp_path):
    """agent.list/show and queue.list/show say what the ACD does with a real call: who rings,
    who waits, and what a logout in the middle of the ringing changes."""
    c = Centre(tmp_path / "home")
    try:
        roster = c.req("agent.list")["agents"]
        assert [(a["agent"], a["state"], a["extension"]) for a in roster] == \
            [(str(1000 + n), "logged_out", n) for n in range(1, 9)]
        assert c.req("agent.login", agent="1003", extension=3)["state"] == "ready"
        c.req("agent.login", agent="1001")
        assert c.req("agent.not_ready", agent="1001", reason="meeting") == \
            {"agent": "1001", "state": "not_ready", "reason": "meeting", "call": None,
             "extension": 1}

        c.world.calls.offer_call(1, "13800138000", "4008005555")     # the service queue
        assert "call.delivered" in types(c.run(60))
        q = c.req("queue.show", queue="service")
        assert q["waiting"] == 1 and q["strategy"] == "ring-all"
        (waiting,) = q["calls"]
        assert (waiting["position"], waiting["ringing"], waiting["ani"]) == \
            (1, ["1003"], "13800138000")
        members = {a["agent"]: a for a in q["agents"]}
        assert set(members) == {"1001", "1002", "1003", "1004"}
        assert (members["1003"]["state"], members["1003"]["call"]) == ("ringing", waiting["call"])
        assert (members["1001"]["state"], members["1001"]["reason"]) == ("not_ready", "meeting")
        assert c.req("agent.show", agent="1003")["call"] == waiting["call"]
        listed = {x["queue"]: x for x in c.req("queue.list")["queues"]}
        assert set(listed) == {"sales", "service"} and listed["sales"]["waiting"] == 0
        assert listed["service"]["calls"][0]["call"] == waiting["call"]

        # 1003 logs out while its phone rings: the call stays in the queue, ringing nobody
        assert c.req("agent.logout", agent="1003")["state"] == "logged_out"
        evs = c.run(10)
        assert [e["channel"] for e in evs if e["type"] == "channel.disconnected"] == ["fxs/3"]
        q = c.req("queue.show", queue="service")
        assert [(x["call"], x["ringing"]) for x in q["calls"]] == [(waiting["call"], [])]
        e = c.fail("agent.ready", agent="1003")
        assert (e["code"], e["field"]) == ("failed", "args.agent") and "logged out" in e["message"]

        # 1001 comes back: the waiting call rings 1001's phone
        assert c.req("agent.ready", agent="1001")["state"] == "ringing"
        evs = c.run(20)
        assert [e["agent"] for e in evs if e["type"] == "call.delivered"] == ["1001"]
        assert c.world.phones[1].ringing
        assert c.req("queue.show", queue="service")["calls"][0]["ringing"] == ["1001"]
    finally:
        c.close()


def test_agent_and_queue_requests_name_what_is_wrong(centre):
    assert centre.fail("agent.show", agent="9999") == \
        {"code": "not_found", "message": "no agent '9999'", "field": "args.agent"}
    assert centre.fail("queue.show", queue="nosuch")["field"] == "args.queue"
    e = centre.fail("agent.login", agent="1003", extension=12)     # an FXO port
    assert (e["code"], e["field"]) == ("bad_arg", "args.extension")
    assert centre.fail("agent.logout", agent="x" * 65)["field"] == "args.agent"
    assert centre.req("agent.show", agent="1003")["state"] == "logged_out"   # nothing changed


def test_agent_login_one_agent_per_extension(tmp_path):
    """``agent.login`` where another agent is logged in is refused, naming who; an agent
    logging in elsewhere leaves its old extension (the issue's 1008 at 1001's phone)."""
    c = Centre(tmp_path / "home")
    try:
        c.req("agent.login", agent="1001")
        e = c.fail("agent.login", agent="1008", extension=1)
        assert (e["code"], e["field"]) == ("failed", "args.agent")
        assert "extension 1" in e["message"] and "agent 1001" in e["message"]
        assert c.req("agent.show", agent="1008")["state"] == "logged_out"
        # 1001 moves to port 8 (1008's own, free): port 1 is free again, 1008 may sit there
        assert c.req("agent.login", agent="1001", extension=8)["extension"] == 8
        assert c.req("agent.login", agent="1008", extension=1)["extension"] == 1
        e = c.fail("agent.login", agent="1008", extension=8)
        assert "agent 1001" in e["message"]
        assert c.req("agent.login", agent="1008", extension=1)["state"] == "ready"   # again
        # a call to the service queue rings 1001 on port 8, not port 1
        c.world.calls.offer_call(1, "13800138000", "4008005555")
        c.run(60)
        assert c.world.phones[8].ringing or c.world.phones[8].rings
        assert not c.world.phones[1].rings
    finally:
        c.close()
