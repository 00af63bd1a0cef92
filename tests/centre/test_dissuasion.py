"""Peak dissuasion (issue #8): a queue whose estimated wait passes ``dissuade_ewt`` does not
take the caller; the IVR answers, says an agent will call back after the rush, keeps the
number (ANI, or digits keyed) and queues a callback request. ``offer`` lets the caller
hold instead; ``impose`` only asks to confirm the number.

The flows are driven here as sans-I/O sessions, then end to end on the simulated board: a
PRI call from the exchange, the prompts played on its B-channel, the caller's DTMF keyed
on the exchange's side of the E1 and detected by our DSP."""
from __future__ import annotations

import pytest

from cti.server.config import DEFAULT_TOML, ConfigError, parse_config
from cti.centre.ivr import Callback, Hangup, IvrSession, Play, Route, dissuasion_flow
from cti.server.service import Service, build_world


def drain(s: IvrSession) -> list:
    out = []
    while (ev := s.next_event()) is not None:
        out.append(ev)
    return out


# ---- the flows as sessions ---------------------------------------------------------

def test_offer_pressing_1_confirms_the_ani():
    s = IvrSession(dissuasion_flow("sales", "offer"), "c1", "13800138000", "4008001234")
    s.start(0.0)
    assert drain(s) == [Play(("peak_busy", "callback_offer"), True)]
    s.digit(1.0, "1")
    assert drain(s)[-1] == Play(("callback_confirm",), True)
    s.digit(2.0, "1")
    s.handle_timer(5.1)                                     # interdigit: 1 alone = my ANI
    assert drain(s)[-1] == Callback("13800138000", "sales", {}, "callback_thanks")


def test_offer_without_a_key_holds_in_the_queue():
    s = IvrSession(dissuasion_flow("sales", "offer"), "c1", "13800138000", "4008001234")
    s.start(0.0)
    drain(s)
    s.prompt_done(3.0)
    s.handle_timer(8.1)                                     # no key within the timeout
    assert drain(s)[-1] == Play(("please_hold",), False, 2)
    s.prompt_done(9.5)
    evs = drain(s)
    assert isinstance(evs[-1], Route) and evs[-1].queue == "sales"


def test_imposed_callback_silence_means_the_ani_and_digits_another_number():
    s = IvrSession(dissuasion_flow("sales", "impose"), "c1", "13800138000", "4008001234")
    s.start(0.0)
    assert drain(s) == [Play(("peak_busy",), True)]
    s.prompt_done(4.0)
    assert drain(s) == [Play(("callback_confirm",), True)]
    s.prompt_done(7.0)
    s.handle_timer(12.1)
    assert drain(s)[-1] == Callback("13800138000", "sales", {}, "callback_thanks")

    s = IvrSession(dissuasion_flow("sales", "impose"), "c2", "13800138000", "4008001234")
    s.start(0.0)
    drain(s)
    s.prompt_done(4.0)
    for i, d in enumerate("13912345678#"):
        s.digit(5.0 + i * 0.2, d)
    assert drain(s)[-1] == Callback("13912345678", "sales", {}, "callback_thanks")


def test_imposed_callback_with_withheld_ani_needs_digits():
    s = IvrSession(dissuasion_flow("sales", "impose"), "c1", "", "4008001234")
    s.start(0.0)
    drain(s)
    s.prompt_done(4.0)
    drain(s)
    s.prompt_done(7.0)
    t = 7.0
    for _ in range(4):                                      # first try and the retry
        t += 5.1
        s.handle_timer(t)
        for ev in drain(s):
            if isinstance(ev, Play):
                t += 1.0
                s.prompt_done(t)
    assert isinstance(s.outcome, Hangup)


def test_bad_mode_and_threshold_are_named():
    with pytest.raises(ValueError, match="dissuasion mode"):
        dissuasion_flow("sales", "maybe")
    text = DEFAULT_TOML.replace('name = "sales"\n', 'name = "sales"\ndissuade_ewt = -3\n', 1)
    with pytest.raises(ConfigError, match="dissuade_ewt"):
        parse_config(text, home="/tmp/dissuade-bad")
    text = DEFAULT_TOML.replace('name = "sales"\n', 'name = "sales"\ndissuade = "never"\n', 1)
    with pytest.raises(ConfigError, match="dissuade"):
        parse_config(text, home="/tmp/dissuade-bad")


# ---- end to end on the simulated board ---------------------------------------------

SERVICE_DNIS = "4008005555"     # routed straight to the service queue (no menu first)


class Centre:
    def __init__(self, home, mode: str):
        text = DEFAULT_TOML.replace('name = "service"\n',
                                    f'name = "service"\ndissuade_ewt = 30\n'
                                    f'dissuade = "{mode}"\n', 1)
        text = text.replace('default = "ivr:main"',
                            f'default = "ivr:main"\ndnis = {{ "{SERVICE_DNIS}" = '
                            f'"queue:service" }}', 1) if SERVICE_DNIS not in text else text
        cfg = parse_config(text, home=home)
        self.world, _ = build_world(cfg)
        self.svc = Service(cfg, world=self.world, wall_start=1e6)
        self.events: list[dict] = []
        self.run(1.0)

    def run(self, seconds: float) -> list[dict]:
        out = []
        for _ in range(int(seconds * 50)):
            pubs, _ = self.svc.tick()
            out += [p.event for p in pubs]
        self.events += out
        return out

    def req(self, op, **args):
        r = self.svc.handle({"id": 1, "op": op, "args": args})
        assert r["ok"], r
        return r["result"]

    def until(self, type_: str, seconds: float) -> dict:
        for _ in range(int(seconds * 50)):
            for ev in self.run(0.02):
                if ev["type"] == type_:
                    return ev
        raise AssertionError(f"no {type_} within {seconds} s: "
                             f"{[e['type'] for e in self.events if e['type'].startswith('call')]}")

    def close(self):
        self.world.close()
        self.svc.store.close()


@pytest.fixture
def offer(tmp_path):
    c = Centre(tmp_path / "home", "offer")
    yield c
    c.close()


def test_a_caller_facing_a_long_wait_asks_for_a_callback(offer):
    c = offer
    # nobody is staffed on the service queue: the estimated wait is the default AHT (120 s)
    c.world.calls.offer_call(1, "13800138000", SERVICE_DNIS)
    d = c.until("call.dissuaded", 3.0)
    assert d["queue"] == "service" and d["ewt"] > 30 and d["mode"] == "offer"
    ts = d["channel"]
    c.run(2.0)                                            # the notice is playing
    c.req("sim.dtmf", channel=ts, digits="1")             # "to be called back, press 1"
    c.run(3.0)
    c.req("sim.dtmf", channel=ts, digits="1")             # "on this number: 1"
    cleared = c.until("call.cleared", 10.0)
    assert cleared["outcome"] == "callback"
    div = [e for e in c.events if e["type"] == "call.diverted"]
    assert div and div[-1]["to"] == "callback" and div[-1]["number"] == "13800138000"
    rows = c.svc.store.callbacks()
    assert [(r["number"], r["queue"], r["state"]) for r in rows] == \
        [("13800138000", "service", "requested")]
    cdr = c.svc.store.cdrs(0, 1e12)
    assert [r["outcome"] for r in cdr] == ["callback"]
    assert c.svc.centre.counters["dissuaded"] == 1
    assert not [e for e in c.events if e["type"] == "call.queued"]
    assert c.svc.centre.ivr_ports.in_use == 0


def test_a_caller_who_keys_nothing_waits_in_the_queue_after_all(offer):
    c = offer
    c.world.calls.offer_call(1, "13800138001", SERVICE_DNIS)
    c.until("call.dissuaded", 3.0)
    q = c.until("call.queued", 30.0)                      # no key: "stay on the line"
    assert q["queue"] == "service"
    assert c.svc.centre.counters["dissuaded"] == 1
    assert c.svc.store.callbacks() == []
    assert c.svc.centre.ivr_ports.in_use == 0             # the port went back at the queue


def test_no_dissuasion_when_an_agent_is_free(offer):
    c = offer
    c.req("agent.login", agent="1001")
    c.world.calls.offer_call(1, "13800138002", SERVICE_DNIS)
    d = c.until("call.delivered", 5.0)
    assert d["agent"] == "1001"
    assert not [e for e in c.events if e["type"] == "call.dissuaded"]
    assert c.svc.centre.counters["dissuaded"] == 0


def test_imposed_callback_end_to_end_silence_keeps_the_ani(tmp_path):
    c = Centre(tmp_path / "home", "impose")
    try:
        c.world.calls.offer_call(1, "13800138003", SERVICE_DNIS)
        d = c.until("call.dissuaded", 3.0)
        assert d["mode"] == "impose"
        cleared = c.until("call.cleared", 40.0)            # the caller keys nothing
        assert cleared["outcome"] == "callback"
        assert [r["number"] for r in c.svc.store.callbacks()] == ["13800138003"]
    finally:
        c.close()
