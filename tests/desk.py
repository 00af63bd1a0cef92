"""The centre as an agent's desk sees it: a :class:`Centre` (a Service on the simulated world,
ticked by the test, with what the exchange hears kept), a call established to agent 1001,
and what the caller hears."""
from __future__ import annotations

import struct

from cti.server.config import load_config, parse_config
from cti.server.service import Service, build_world
from drivers.board import Audio
from drivers.codecs import alaw_decode


class Centre:
    def __init__(self, home, text: str | None = None):
        # ``text``: a configuration of the test's own (the embedded default otherwise)
        cfg = load_config(home=home) if text is None else parse_config(text, "<test>", home)
        self.world, _ = build_world(cfg)
        self.svc = Service(cfg, world=self.world, wall_start=1e6)
        self.audio: list = []
        self.run(30)

    def run(self, n):
        out = []
        for _ in range(n):
            pubs, _ = self.svc.tick()
            out += [p.event for p in pubs]
            self.audio += [e for e in self.world.exchange_events if isinstance(e, Audio)]
        return out

    def req(self, op, **args):
        r = self.svc.handle({"id": 1, "op": op, "args": args})
        assert r["ok"], r
        return r["result"]

    def fail(self, op, **args):
        r = self.svc.handle({"id": 1, "op": op, "args": args})
        assert not r["ok"], r
        return r["error"]

    def close(self):
        self.world.close()
        self.svc.store.close()


def types(events):
    return [e["type"] for e in events if e["type"].startswith("call.")]


def established_call(c):
    """A caller on the service queue (no IVR), answered by agent 1001 on FXS port 1."""
    x = c.world.calls.offer_call(1, "13800138000", "4008005555")
    evs = c.run(60)
    assert "call.delivered" in types(evs)
    c.world.phones[1].lift()
    evs = c.run(20)
    est = [e for e in evs if e["type"] == "call.established"]
    assert est and est[0]["agent"] == "1001"
    ts = int(est[0]["channel"].split("/")[1])
    return x, est[0]["call_id"], ts


def heard_by_caller(c, ts, ms):
    """What the caller hears (the exchange taps its B-channel): PCM samples."""
    c.world.exchange.spans[1].channels[ts].tap(True)
    c.audio = []
    c.run(ms // 20)
    c.world.exchange.spans[1].channels[ts].tap(False)
    raw = b"".join(e.data for e in c.audio if (e.span, e.timeslot) == (1, ts))
    return struct.unpack(f"<{len(raw)}h", alaw_decode(raw))
