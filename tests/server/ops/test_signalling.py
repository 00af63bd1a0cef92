"""China No.1 trunks in the call centre: an R2 call on a CAS span meets the IVR and
an agent like a PRI one; the technician blocks circuits and reads their abcd bits."""
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
