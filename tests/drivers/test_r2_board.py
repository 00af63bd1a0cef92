"""R2 / China No.1 end to end on the software board: the exchange and our board
each run R2Span on a framed E1 (CAS in TS16 multiframes, G.704 5.1.3), the
register signals are real MFC tones generated and detected by the C DSP."""
import pytest

from drivers.board import SpanConfig
from drivers.sig.pri import CallAlerting, CallAnswered, CallCleared, CallOffered
from drivers.sig.r2span import ChannelBlocked, ChannelUnblocked, R2CallOffered
from simulators.world import SimWorld


class Seen:
    def __init__(self):
        self.ours, self.theirs = [], []


def run_until(world, pred, ms=15000, seen=None):
    """Tick until ``pred(seen)`` holds; ``seen`` has our and the exchange's events."""
    seen = seen or Seen()
    for _ in range(ms // world.tick_ms):
        seen.ours += world.tick()
        seen.theirs += world.exchange_events
        if pred(seen):
            return seen
    raise AssertionError(f"not reached in {ms} ms; ours {seen.ours[-8:]} "
                         f"theirs {seen.theirs[-8:]}")


def of(events, cls, **match):
    return [e for e in events if isinstance(e, cls)
            and all(getattr(e, k) == v for k, v in match.items())]


def all_idle(world):
    for side in (world.r2[1], world.exchange_r2[1]):
        for ts, st in side.status()["channels"].items():
            if st["state"] != "IDLE" or st["tx_abcd"] != "1011" or st["rx_abcd"] != "1011" \
                    or st["rx_pending"] is not None:
                return False
    return True


@pytest.fixture
def world():
    w = SimWorld(spans=[SpanConfig(1, "cas", crc4=False)], ports=[], seed=5, signalling=True)
    seen = run_until(w, lambda s: all_idle(w), ms=2000)
    assert not of(seen.ours + seen.theirs, ChannelBlocked)
    yield w
    for side in (w.r2[1], w.exchange_r2[1]):
        assert side.status()["counters"].get("protocol_errors", 0) == 0, side.status()["counters"]
    w.close()


def now(world):
    return world.board.line_seconds


def test_startup_every_circuit_idle_both_ends(world):
    ours = world.r2[1].status()
    assert ours["signalling"] == "r2" and len(ours["channels"]) == 30
    assert ours["free_channels"] == 30 and world.exchange_r2[1].status()["free_channels"] == 30


def test_incoming_call_ani_dnis_category_answered_cleared_by_exchange(world):
    c = world.r2_calls.offer_call(1, "13800138000", "4008001234", category=2, hangup_after_ms=500)
    s = run_until(world, lambda s: of(s.ours, CallOffered))
    off = of(s.ours, CallOffered)[0]
    assert isinstance(off, R2CallOffered)
    assert (off.span, off.ani, off.dnis, off.category, off.kd) == \
        (1, "13800138000", "4008001234", 2, 3)
    assert off.timeslot == c.timeslot == 1        # the exchange picks from the bottom
    world.r2[1].answer(now(world), off.call)
    s = run_until(world, lambda s: of(s.ours, CallCleared), seen=s)
    assert of(s.ours, CallAnswered, call=off.call)
    cl = of(s.ours, CallCleared)[0]
    assert (cl.cause, cl.remote, cl.timeslot) == (16, True, off.timeslot)
    assert world.r2_calls.stats.answered == 1
    run_until(world, lambda s: all_idle(world), ms=1000)


def test_incoming_call_cleared_by_us_clear_back(world):
    world.r2_calls.offer_call(1, "13900000001", "95105", category=1)
    s = run_until(world, lambda s: of(s.ours, CallOffered))
    off = of(s.ours, CallOffered)[0]
    r = world.r2[1]
    r.alerting(now(world), off.call)
    r.answer(now(world), off.call)
    s = run_until(world, lambda s: of(s.theirs, CallAnswered), seen=s)
    r.hangup(now(world), off.call)
    s = run_until(world, lambda s: of(s.theirs, CallCleared) and of(s.ours, CallCleared), seen=s)
    assert of(s.ours, CallCleared)[0].remote is False
    assert of(s.theirs, CallCleared)[0].cause == 16 and of(s.theirs, CallCleared)[0].remote
    run_until(world, lambda s: all_idle(world), ms=1000)


def test_outgoing_call_exchange_answers_we_clear(world):
    world.r2_calls.answer_after_ms = 300
    r = world.r2[1]
    call = r.place_call(now(world), "4001", "88880000", category=1)
    s = run_until(world, lambda s: of(s.ours, CallAnswered))
    assert of(s.ours, CallAlerting, call=call)
    ts = of(s.ours, CallAnswered)[0].timeslot
    assert ts == 31                                 # we pick from the top
    got = of(s.theirs, CallOffered)[0]
    assert (got.ani, got.dnis, got.category, got.timeslot) == ("88880000", "4001", 1, 31)
    r.hangup(now(world), call)
    s = run_until(world, lambda s: of(s.ours, CallCleared) and of(s.theirs, CallCleared), seen=s)
    assert (of(s.ours, CallCleared)[0].cause, of(s.ours, CallCleared)[0].remote) == (16, False)
    run_until(world, lambda s: all_idle(world), ms=1000)


def test_outgoing_call_cleared_by_exchange(world):
    world.r2_calls.answer_after_ms = 100
    r = world.r2[1]
    call = r.place_call(now(world), "12345", "1")
    s = run_until(world, lambda s: of(s.theirs, CallAnswered) and of(s.ours, CallAnswered))
    ex_call = of(s.theirs, CallAnswered)[0].call
    world.r2_calls.hangup(1, ex_call)
    s = run_until(world, lambda s: of(s.ours, CallCleared), seen=s)
    cl = of(s.ours, CallCleared, call=call)[0]
    assert cl.cause == 16 and cl.remote
    run_until(world, lambda s: all_idle(world), ms=1000)


@pytest.mark.parametrize("kind,cause", [("busy", 17), ("vacant", 1), ("congested", 34)])
def test_outgoing_refused_maps_to_cause(world, kind, cause):
    getattr(world.r2_calls, f"{kind}_numbers").add("777")
    call = world.r2[1].place_call(now(world), "777", "123")
    s = run_until(world, lambda s: of(s.ours, CallCleared))
    cl = of(s.ours, CallCleared)[0]
    assert (cl.call, cl.cause, cl.remote) == (call, cause, True)
    assert not of(s.ours, CallAnswered)
    run_until(world, lambda s: all_idle(world), ms=1000)


@pytest.mark.parametrize("cause", [17, 1, 34])
def test_incoming_rejected_by_us_maps_to_cause(world, cause):
    world.r2_calls.offer_call(1, "1", "2")
    s = run_until(world, lambda s: of(s.ours, CallOffered))
    world.r2[1].reject(now(world), of(s.ours, CallOffered)[0].call, cause)
    s = run_until(world, lambda s: of(s.theirs, CallCleared), seen=s)
    assert of(s.theirs, CallCleared)[0].cause == cause
    run_until(world, lambda s: all_idle(world), ms=1000)


def test_undecided_offer_times_out_and_the_channel_goes_idle(world):
    world.r2_calls.offer_call(1, "1", "2")
    s = run_until(world, lambda s: of(s.ours, CallOffered))
    # nobody accepts: the decision timer sends congestion (KB-4)
    s = run_until(world, lambda s: of(s.ours, CallCleared) and of(s.theirs, CallCleared), seen=s)
    assert of(s.theirs, CallCleared)[0].cause == 34
    run_until(world, lambda s: all_idle(world), ms=1000)
    assert world.r2[1].calls() == {} and world.exchange_r2[1].calls() == {}


def test_block_and_unblock_seen_at_the_far_end(world):
    r = world.r2[1]
    r.block(now(world), 5)
    s = run_until(world, lambda s: of(s.theirs, ChannelBlocked))
    assert [e.timeslot for e in of(s.theirs, ChannelBlocked)] == [5]
    ex = world.exchange_r2[1]
    assert 5 not in ex.free_timeslots()
    assert r.status()["channels"][5]["tx_abcd"] == "1111"
    r.unblock(now(world), 5)
    s = run_until(world, lambda s: of(s.theirs, ChannelUnblocked))
    assert 5 in ex.free_timeslots()
    run_until(world, lambda s: all_idle(world), ms=1000)


def test_signalling_trace_to_file(world, tmp_path):
    path = tmp_path / "r2.trace"
    world.r2[1].trace_to(str(path))
    world.r2_calls.answer_after_ms = 100
    call = world.r2[1].place_call(now(world), "56", "78")
    run_until(world, lambda s: of(s.ours, CallAnswered))
    world.r2[1].hangup(now(world), call)
    run_until(world, lambda s: of(s.ours, CallCleared))
    world.r2[1].trace_to(None)
    text = path.read_text()
    # China No.1 c d = 11 (drivers/sig/r2.py): seizure 00 11, seizure ack 11 11,
    # answer 01 11, clear-forward 10 11
    assert "tx CAS 0011" in text and "rx CAS 1111" in text and "rx CAS 0111" in text
    assert "tx MF F-5" in text and "rx MF B-1" in text and "tx CAS 1011" in text
    trace = world.r2[1].traces[call]
    assert trace[0][1].startswith("seize") and [t for t, _ in trace] == sorted(t for t, _ in trace)


def test_answer_at_once_waits_for_the_end_of_group_b(world):
    """The CTI answers as soon as the call is offered: group B free goes first, the
    answer (01) only once the B tone has had time to cease at the far end."""
    world.r2_calls.offer_call(1, "1", "2", hangup_after_ms=200)
    s = run_until(world, lambda s: of(s.ours, CallOffered))
    world.r2[1].answer(now(world), of(s.ours, CallOffered)[0].call)
    s = run_until(world, lambda s: of(s.ours, CallCleared), seen=s)
    assert of(s.theirs, CallAnswered) and of(s.ours, CallCleared)[0].cause == 16


def test_outgoing_calls_fill_the_span_then_congestion(world):
    world.r2_calls.no_answer_numbers.add("5")
    r = world.r2[1]
    calls = [r.place_call(now(world), "5", "1") for _ in range(30)]
    s = run_until(world, lambda s: len(of(s.ours, CallAlerting)) == 30)
    extra = r.place_call(now(world), "5", "1")
    s = run_until(world, lambda s: of(s.ours, CallCleared, call=extra), seen=s)
    assert of(s.ours, CallCleared, call=extra)[0].cause == 34
    for c in calls:
        r.hangup(now(world), c)
    run_until(world, lambda s: all_idle(world), ms=2000)
