"""Routing of the centre on the simulated board: callers in the queue hear their position,
and calls are routed by the caller's area."""
from __future__ import annotations

from cti.server.service import Service, build_world

from tests.desk import Centre


def test_waiting_callers_hear_their_position(tmp_path):
    c = Centre(tmp_path / "h2")
    try:
        c.req("agent.login", agent="1001")
        c.req("agent.not_ready", agent="1001", reason="meeting")   # logged in, nobody ready
        c.world.calls.offer_call(1, "13800000001", "4008005555")
        c.world.calls.offer_call(1, "13800000002", "4008005555")
        evs = c.run(int(35 / 0.02))                                  # announce_every 30 s
        ann = [e for e in evs if e["type"] == "call.announced"]
        assert sorted(e["position"] for e in ann[:2]) == [1, 2]
    finally:
        c.close()


def test_routing_by_the_callers_area(tmp_path):
    from cti.server.config import DEFAULT_TOML, parse_config

    text = DEFAULT_TOML.replace('dnis = { "4008005555" = "queue:service" }',
                                'dnis = { "4008005555" = "queue:service", "4008007777" = "area" }'
                                '\narea = [["010", "service"], ["021", "sales"], ["0215", "service"]]')
    cfg = parse_config(text, home=tmp_path / "h")
    world, _ = build_world(cfg)
    svc = Service(cfg, world=world, wall_start=1e6)
    try:
        for _ in range(30):
            svc.tick()
        world.calls.offer_call(1, "02150001000", "4008007777")   # Shanghai 0215...: service
        world.calls.offer_call(2, "02160001000", "4008007777")   # Shanghai 021...: sales
        evs = []
        for _ in range(60):
            evs += [p.event for p in svc.tick()[0]]
        queued = {e["ani"]: e["queue"] for e in evs if e["type"] == "call.queued"}
        assert queued == {"02150001000": "service", "02160001000": "sales"}
    finally:
        world.close()
        svc.store.close()
