"""Requests of cti/server/ops/signalling.py: China No.1 R2 circuits (span.block,
span.unblock, span.r2trace: an R2 call on a CAS span meets the IVR and an agent like a PRI
one; the technician blocks circuits and reads their abcd bits) and PRI calls driven by hand
(pri.list, pri.place, pri.answer, pri.reject, pri.hangup) with the D-channel trace
(trace.start, trace.stop)."""
from __future__ import annotations

from cti.server.config import DEFAULT_TOML, parse_config
from cti.server.service import Service, build_world


def make(tmp_path):
    text = DEFAULT_TOML.replace('''[[board.spans]]
number = 2
signalling = "pri"
crc4 = true
law = "alaw"''', '''[[board.spans]]
number = 2
signalling = "cas"
crc4 = false
law = "alaw"''')
    cfg = parse_config(text, home=tmp_path / "h")
    world, _ = build_world(cfg)
    return world, Service(cfg, world=world, wall_start=1e6)


def req(svc, op, **args):
    r = svc.handle({"id": 1, "op": op, "args": args})
    assert r["ok"], r
    return r["result"]


def test_an_r2_call_reaches_an_agent_and_the_circuits_are_diagnosed(tmp_path):
    world, svc = make(tmp_path)
    try:
        for _ in range(30):
            svc.tick()
        req(svc, "agent.login", agent="1001")
        world.r2_calls.offer_call(2, "13800138000", "4008005555", category=1)
        evs = []
        for _ in range(400):
            evs += [p.event for p in svc.tick()[0]]
            if any(e["type"] == "call.delivered" for e in evs):
                break
        offered = [e for e in evs if e["type"] == "call.offered"]
        assert offered and offered[0]["ani"] == "13800138000" and offered[0]["channel"].startswith("2/")
        ts = int(offered[0]["channel"].split("/")[1])
        show = req(svc, "channel.show", channel=f"2/{ts}")
        assert show["r2"]["state"] != "IDLE" and len(show["r2"]["tx_abcd"]) == 4
        world.phones[1].lift()
        for _ in range(30):
            evs += [p.event for p in svc.tick()[0]]
        assert any(e["type"] == "call.established" and e.get("agent") == "1001" for e in evs)
        # the technician blocks a free circuit; the exchange sees it blocked
        free = next(t for t in (1, 3, 5, 7) if t != ts)
        req(svc, "span.block", span=2, timeslot=free)
        for _ in range(20):
            svc.tick()
        far = world.exchange_r2[2].status()["channels"][free]
        assert far["state"] == "REMOTE_BLOCKED"
        req(svc, "span.unblock", span=2, timeslot=free)
        r = svc.handle({"id": 2, "op": "span.block", "args": {"span": 1}})
        assert not r["ok"] and r["error"]["field"] == "args.span"      # span 1 is PRI
    finally:
        world.close()
        svc.store.close()


def test_r2_signalling_trace_to_a_file(tmp_path, capsys):
    world, svc = make(tmp_path)
    try:
        for _ in range(30):
            svc.tick()
        world.r2_calls.offer_call(2, "13800138000", "4008005555", category=1)
        for _ in range(300):
            svc.tick()
        res = req(svc, "span.r2trace", span=2)
        trace = res["calls"][0]["trace"]
        texts = " ".join(x for _, x in trace)
        assert "CAS" in texts.upper() and any(t2 > t1 for (t1, _), (t2, _) in zip(trace, trace[1:]))
        r = svc.handle({"id": 3, "op": "span.r2trace", "args": {"span": 2, "call": 999}})
        assert not r["ok"] and r["error"]["field"] == "args.call"
    finally:
        world.close()
        svc.store.close()


def board_only(tmp_path):
    """The embedded default's board and world without the call centre: the technician's
    requests drive the PRI calls themselves."""
    from cti.server.config import DEFAULT_TOML

    text = DEFAULT_TOML[:DEFAULT_TOML.index("# The call centre")]
    cfg = parse_config(text, home=tmp_path / "h")
    world, _ = build_world(cfg)
    return world, Service(cfg, world=world, wall_start=1e6)


def run(svc, n):
    out = []
    for _ in range(n):
        out += [p.event for p in svc.tick()[0]]
    return out


def line(evs):
    return [(e["type"], e["channel"], e["data"].get("cause")) for e in evs
            if e["type"].startswith("channel.")]


def test_a_technician_answers_rejects_places_and_clears_pri_calls(tmp_path):
    """pri.list, pri.answer, pri.reject, pri.hangup and pri.place on a span with no call
    centre, each seen at the far end (the simulated exchange's own account) and as Q.931
    on the D-channel trace (trace.start/trace.stop)."""
    import base64

    world, svc = board_only(tmp_path)
    try:
        run(svc, 50)
        spans = req(svc, "pri.list")["spans"]
        assert [(s["span"], s["link_up"], s["free_channels"], s["calls"]) for s in spans] == \
            [(1, True, 30, 0), (2, True, 30, 0)]
        assert req(svc, "trace.start", span=1, seconds=5)["network_side"] is False

        req(svc, "sim.call", span=1, to="4008005555", **{"from": "13800138000"})
        evs = run(svc, 20)
        assert line(evs) == [("channel.offered", "1/1", None)]
        setup = [base64.b64decode(e["data"]["frame"]) for e in evs
                 if e["type"] == "trace.lapd" and e["data"]["dir"] == "rx"]
        # Q.921 I-frame (4 octets) then Q.931: discriminator 0x08, call reference, SETUP
        assert setup and setup[0][4] == 0x08 and setup[0][4 + 2 + setup[0][5]] == 0x05
        assert req(svc, "pri.list")["calls"] == \
            [{"span": 1, "call": 1, "timeslot": 1, "state": "CALL_PRESENT"}]
        assert req(svc, "pri.answer", span=1, call=1)["answered"] is True
        assert line(run(svc, 20)) == [("channel.answered", "1/1", None)]

        req(svc, "sim.call", span=1, to="4008005555", **{"from": "13800138001"})
        run(svc, 20)
        assert req(svc, "pri.reject", span=1, call=2, cause=17)["cause"] == 17
        assert line(run(svc, 20)) == [("channel.cleared", "1/2", 17)]
        assert req(svc, "pri.hangup", span=1, call=1, cause=16)["cause"] == 16
        assert line(run(svc, 20)) == [("channel.cleared", "1/1", 16)]
        far = req(svc, "sim.calls")
        assert (far["offered"], far["answered"], far["cleared"]) == (2, 1, {"17": 1, "16": 1})

        assert req(svc, "trace.stop", span=1)["stopped"] is True
        placed = req(svc, "pri.place", span=1, to="95555", **{"from": "4008001234"})
        evs = run(svc, 100)
        assert not [e for e in evs if e["type"] == "trace.lapd"]   # the trace stopped
        assert line(evs) == [("channel.proceeding", "1/1", None), ("channel.alerting", "1/1", None)]
        (out,) = req(svc, "sim.calls")["calls"]
        assert (out["direction"], out["dnis"], out["ani"]) == ("from_board", "95555", "4008001234")
        req(svc, "pri.hangup", span=1, call=placed["call"], cause=16)
        assert line(run(svc, 20)) == [("channel.cleared", "1/1", 16)]
        assert req(svc, "pri.list")["calls"] == []

        e = svc.handle({"id": 1, "op": "pri.answer", "args": {"span": 1, "call": 99}})["error"]
        assert (e["code"], e["field"]) == ("not_found", "args.call")
    finally:
        world.close()
