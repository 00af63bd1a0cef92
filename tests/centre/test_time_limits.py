"""Time limits (cti/centre/timelimits.py): the timers alone, with hypothesis; the
[centre.time_limits] section and a queue's max_talk; and on the simulated board: a call
on a queue with max_talk 10 s and a warning 2 s before hears the warning tone at 8 s
(the caller on the trunk, the agent on its phone: Goertzel power at 1400 Hz), is cleared
at 10 s with the reason on its CDR; a call under the limit is not touched; a campaign's
max_talk, and a per-agent one on a call out."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.centre.timelimits import TimeLimits, limit_for
from cti.server.config import DEFAULT_TOML, ConfigError, parse_config
from drivers.board import Audio
from drivers.codecs import alaw_decode
from tests.audio import power
from tests.desk import established_call, heard_by_caller, types

LIMITED = DEFAULT_TOML.replace('name = "service"\n', 'name = "service"\nmax_talk = 10\n', 1) \
    + "\n[centre.time_limits]\nwarning = 2\nagents = { \"1002\" = 5 }\n"
HZ = 1400


def test_limit_for_takes_the_smallest_set():
    assert limit_for() is None
    assert limit_for(queue=("q", None), agent=("1001", None)) is None
    assert limit_for(queue=("q", 60.0), agent=("1001", 30.0)) == (30.0, "agent 1001")
    assert limit_for(queue=("q", 60.0), campaign=("c", 90.0)) == (60.0, "queue q")


@settings(max_examples=200, deadline=None)
@given(limit=st.floats(0.1, 1000), warning=st.floats(0, 100), start=st.floats(0, 1e6),
       steps=st.lists(st.floats(0.001, 50), min_size=1, max_size=60))
def test_timer_warns_once_then_ends_once_on_time(limit, warning, start, steps):
    """Whatever the ticks: one warning no earlier than limit - warning, one end no earlier
    than the limit, the warning first (or none when the end comes in the same tick), and
    nothing after the end."""
    t = TimeLimits()
    t.arm("c1", start, limit, "queue q", warning)
    now, seen = start, []
    for s in steps:
        now += s
        for what, cid, timer in t.due(now):
            assert cid == "c1"
            seen.append((what, now))
    whats = [w for w, _ in seen]
    assert whats in ([], ["warn"], ["end"], ["warn", "end"])
    for what, at in seen:
        assert at >= (start + max(0.0, limit - warning) if what == "warn" else start + limit)
    if now >= start + limit:
        assert whats[-1:] == ["end"] and "c1" not in t.timers
    t.disarm("c1")
    assert t.due(now + 1e6) == []


def test_config_checked(tmp_path):
    cfg = parse_config(LIMITED, "<t>", tmp_path).centre
    assert [q.max_talk for q in cfg.queues] == [None, 10]
    assert cfg.time_limits.warning == 2 and cfg.time_limits.agents == {"1002": 5.0}
    bad = LIMITED.replace("max_talk = 10", "max_talk = -1").replace('"1002" = 5', '"9999" = 5')
    with pytest.raises(ConfigError) as e:
        parse_config(bad, "cti.toml", tmp_path)
    assert "max_talk" in str(e.value) and "no agent '9999'" in str(e.value)


@pytest.fixture
def limited(tmp_path):
    from tests.desk import Centre
    c = Centre(tmp_path / "home", LIMITED)
    c.req("agent.login", agent="1001")
    yield c
    c.close()


def heard_by_agent(c, port, ticks):
    """What the agent's phone hears (its port on the phones' board tapped): PCM samples."""
    board = c.world.phones_board
    tick, got = board.tick, []

    def tapped():
        evs = tick()
        got.extend(e.data for e in evs if isinstance(e, Audio) and e.span == 0)
        return evs
    board.tick = tapped
    c.world.phones[port].tap(True)
    try:
        c.run(ticks)
    finally:
        c.world.phones[port].tap(False)
        board.tick = tick
    raw = b"".join(got)
    return struct.unpack(f"<{len(raw)}h", alaw_decode(raw))


def test_warned_at_8_s_and_cleared_at_10_s_with_the_reason(limited):
    c = limited
    x, call, ts = established_call(c)
    t0 = c.svc.centre.time_limits.timers[call].end_at - 10      # established then
    assert 0 <= c.svc.board.line_seconds - t0 < 1
    c.world.phones[1].tone(697, ms=-1)                   # the agent speaks throughout
    before = heard_by_caller(c, ts, 6000)[-3200:]        # 6..7 s in: no warning yet
    assert power(before, HZ) < 1e-3 * power(before, 697)
    c.run(int((t0 + 7.9 - c.svc.board.line_seconds) / 0.02))
    c.world.exchange.spans[1].channels[ts].tap(True)
    c.audio = []
    evs = c.run(20)                                      # 7.9 .. 8.3 s
    c.world.exchange.spans[1].channels[ts].tap(False)
    raw = b"".join(e.data for e in c.audio if (e.span, e.timeslot) == (1, ts))
    warned = struct.unpack(f"<{len(raw)}h", alaw_decode(raw))
    assert power(warned, HZ) > 0.1 * power(warned, 697)  # the tone, mixed into the call
    w = [e for e in evs if e["type"] == "call.time_warning"]
    assert w and w[0]["call_id"] == call and w[0]["limit"] == 10 and w[0]["left"] == 2
    assert w[0]["source"] == "queue service"
    evs = c.run(int((t0 + 9.8 - c.svc.board.line_seconds) / 0.02))
    assert "call.cleared" not in types(evs)              # still on at 9.8 s
    evs = c.run(20)                                      # .. 10.2 s
    cl = [e for e in evs if e["type"] == "call.cleared"]
    assert cl and cl[0]["reason"] == "time_limit" and cl[0]["outcome"] == "answered"
    cdr = c.svc.store.cdr(call)
    assert cdr["reason"] == "time_limit" and cdr["time_limit"] == 10
    assert not c.svc.centre.time_limits.timers


def test_the_agent_hears_the_warning_too(limited):
    c = limited
    x, call, ts = established_call(c)
    t0 = c.svc.centre.time_limits.timers[call].end_at - 10      # established then
    c.world.exchange.spans[1].channels[ts].tone(697, ms=-1)   # the caller speaks
    c.run(int((t0 + 7.9 - c.svc.board.line_seconds) / 0.02))
    quiet = heard_by_agent(c, 1, 5)
    heard = heard_by_agent(c, 1, 20)
    assert power(heard, HZ) > 0.1 * power(heard, 697)
    assert power(quiet, HZ) < 1e-3 * max(power(quiet, 697), 1)


def test_a_call_under_the_limit_is_not_touched(limited):
    c = limited
    x, call, ts = established_call(c)
    evs = c.run(300)                                     # 6 s, then the caller hangs up
    assert "call.time_warning" not in types(evs)
    c.world.calls.hangup(1, x.call)                      # the caller hangs up
    evs = c.run(100)
    assert "call.cleared" in types(evs)
    cdr = c.svc.store.cdr(call)
    assert cdr["reason"] is None and cdr["time_limit"] == 10
    assert not c.svc.centre.time_limits.timers
    evs = c.run(300)                                     # nothing fires after
    assert "call.time_warning" not in types(evs)


def test_an_agents_own_limit_on_a_call_out(limited):
    c = limited
    c.req("agent.login", agent="1002")
    r = c.req("call.make", agent="1002", to="12345678")
    c.run(20)
    c.world.phones[2].lift()
    evs = c.run(200)
    assert "call.established" in types(evs)
    evs = c.run(300)                                     # 5 s limit, warned at 3 s
    assert types(evs).count("call.time_warning") == 1
    assert "call.cleared" in types(evs)
    cdr = c.svc.store.cdr(r["call_id"])
    assert cdr["reason"] == "time_limit" and cdr["time_limit"] == 5
