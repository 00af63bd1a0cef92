"""ISDN PRI end to end on the software board: the exchange's network side
offers calls down the virtual E1 cable (HDLC in TS16, HDB3 on the line) to
our user side, and back; traces of those frames are dissected by tshark."""
import os
import shutil
import subprocess

import pytest

from cti.server.trace import lapd_record, pcap_header
from drivers.board import DFrame, DFrameSent, SpanConfig
from drivers.sig.pri import (CallAlerting, CallAnswered, CallCleared, CallDigits, CallOffered,
                             CallProceeding, DChannelDown, DChannelUp)
from simulators.world import SimWorld


def run_until(world, pred, ms=5000):
    """Tick until ``pred(events)`` holds for the events seen so far; return them."""
    seen = []
    for _ in range(ms // world.tick_ms):
        seen += world.tick()
        if pred(seen):
            return seen
    raise AssertionError(f"not reached in {ms} ms of line time; saw {seen[-20:]}")


def of(events, cls, **match):
    return [e for e in events if isinstance(e, cls)
            and all(getattr(e, k) == v for k, v in match.items())]


@pytest.fixture
def world():
    w = SimWorld(spans=[SpanConfig(1), SpanConfig(2)], ports=[], seed=11, signalling=True)
    run_until(w, lambda ev: len(of(ev, DChannelUp)) == 2)
    yield w
    w.close()


def test_dchannel_comes_up_on_both_spans(world):
    for n in (1, 2):
        assert world.pri[n].link_up and world.exchange_pri[n].link_up
        assert world.pri[n].lapd.state.name == "MULTIPLE_FRAME_ESTABLISHED"


def test_exchange_offers_a_call_we_answer_the_exchange_clears(world):
    world.calls.offer_call(1, "13800138000", "4008001234", hangup_after_ms=1000)
    ev = run_until(world, lambda ev: of(ev, CallOffered))
    offered = of(ev, CallOffered)[0]
    assert (offered.span, offered.ani, offered.dnis) == (1, "13800138000", "4008001234")
    assert offered.sending_complete and offered.timeslot in range(1, 32)
    pri = world.pri[1]
    now = world.board.line_seconds
    pri.proceeding(now, offered.call)
    pri.alerting(now, offered.call)
    pri.answer(now, offered.call)
    ev = run_until(world, lambda ev: of(ev, CallCleared))
    assert of(ev, CallAnswered, call=offered.call)
    cleared = of(ev, CallCleared, call=offered.call)[0]
    assert cleared.cause == 16 and cleared.remote and cleared.timeslot == offered.timeslot
    assert world.calls.stats.answered == 1 and world.calls.stats.cleared.get(16) == 1
    assert len(pri.q931.free_channels()) == 30


def test_overlap_receiving_collects_the_number(world):
    world.calls.offer_call(1, "02150001000", "4008009", overlap=True)
    ev = run_until(world, lambda ev: of(ev, CallDigits, sending_complete=True))
    offered = of(ev, CallOffered)[0]
    assert not offered.sending_complete
    assert offered.dnis + "".join(d.digits for d in of(ev, CallDigits)) == "4008009"


def test_we_reject_with_cause_17(world):
    world.calls.offer_call(2, "1001", "2002")
    offered = of(run_until(world, lambda ev: of(ev, CallOffered)), CallOffered)[0]
    world.pri[2].reject(world.board.line_seconds, offered.call, 17)
    run_until(world, lambda ev: world.calls.stats.cleared.get(17))
    assert not world.calls.calls


def test_outgoing_call_is_answered_by_the_pstn_or_busy(world):
    world.calls.busy_numbers.add("95555")
    pri = world.pri[1]
    call = pri.place_call(world.board.line_seconds, "13912345678", "4008001234")
    ev = run_until(world, lambda ev: of(ev, CallAnswered, call=call))
    assert of(ev, CallProceeding, call=call) and of(ev, CallAlerting, call=call)
    busy = pri.place_call(world.board.line_seconds, "95555", "4008001234")
    ev = run_until(world, lambda ev: of(ev, CallCleared, call=busy))
    assert of(ev, CallCleared, call=busy)[0].cause == 17
    pri.hangup(world.board.line_seconds, call, 16)
    ev = run_until(world, lambda ev: of(ev, CallCleared, call=call))
    assert not of(ev, CallCleared, call=call)[0].remote


def test_a_full_span_congests_at_the_exchange(world):
    offered = []
    for i in range(30):
        world.calls.offer_call(1, f"1380000{i:04d}", "4008001234")
    ev = run_until(world, lambda ev: len(of(ev, CallOffered)) == 30)
    now = world.board.line_seconds
    for o in of(ev, CallOffered):
        world.pri[1].answer(now, o.call)
        offered.append(o)
    assert len({o.timeslot for o in offered}) == 30 and 16 not in {o.timeslot for o in offered}
    run_until(world, lambda ev: world.calls.stats.answered == 30)
    lost = world.calls.offer_call(1, "13899999999", "4008001234")
    assert lost.cause == 34 and world.calls.stats.congested == 1
    assert not of(world.run(500), CallOffered)          # the board never heard of it


def test_dchannel_lost_and_restored_keeps_active_calls(world):
    world.calls.offer_call(1, "1001", "2002")
    offered = of(run_until(world, lambda ev: of(ev, CallOffered)), CallOffered)[0]
    world.pri[1].answer(world.board.line_seconds, offered.call)
    run_until(world, lambda ev: of(ev, CallAnswered))
    world.calls.offer_call(1, "1003", "2004")
    ringing = of(run_until(world, lambda ev: of(ev, CallOffered)), CallOffered)[0]
    world.cable(1).fault(los=True)
    ev = run_until(world, lambda ev: of(ev, DChannelDown), ms=10_000)
    ev += world.run(500)
    # the call not yet answered is cleared, the active one survives (Q.931 5.8.9 / T309)
    assert of(ev, CallCleared, call=ringing.call)
    assert not of(ev, CallCleared, call=offered.call)
    world.cable(1).clear()
    ev = run_until(world, lambda ev: of(ev, DChannelUp), ms=10_000)
    ev += world.run(2000)
    assert not of(ev, CallCleared, call=offered.call)
    assert world.pri[1].q931.call_state(offered.call).name == "ACTIVE"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_our_trace(world, tmp_path):
    frames = []

    def collect(events):
        for e in events:
            if isinstance(e, (DFrame, DFrameSent)) and e.span == 1:
                frames.append((world.board.line_seconds, e))

    world.calls.offer_call(1, "13800138000", "4008001234", hangup_after_ms=200)
    seen = []
    for _ in range(200):
        ev = world.tick()
        collect(ev)
        seen += ev
        for o in of(ev, CallOffered):
            world.pri[1].answer(world.board.line_seconds, o.call)
        if of(seen, CallCleared):
            break
    world.calls.offer_call(1, "13900000000", "4008005555")
    for _ in range(100):
        ev = world.tick()
        collect(ev)
        for o in of(ev, CallOffered):
            world.pri[1].reject(world.board.line_seconds, o.call, 17)
        if world.calls.stats.cleared.get(17):
            break
    collect(world.run(200))
    path = tmp_path / "span1.pcap"
    with open(path, "wb") as f:
        f.write(pcap_header())
        for ts, e in frames:
            f.write(lapd_record(1_700_000_000 + ts, e.data, sent=isinstance(e, DFrameSent),
                                network_side=False))
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "lapd.sapi", "-e", "q931.message_type",
         "-e", "q931.calling_party_number.digits", "-e", "q931.called_party_number.digits",
         "-e", "q931.cause_value"], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    setups = [r for r in rows if len(r) > 3 and r[1] == "0x05"]
    assert [(r[2], r[3]) for r in setups] == [("13800138000", "4008001234"),
                                              ("13900000000", "4008005555")]
    causes = {r[4] for r in rows if len(r) > 4 and r[4]}
    assert {"16", "17"} <= causes
    assert all(r[0] == "0" for r in rows if r and r[0])


# ---- PriSpan glue on its own: two PriSpans back to back, no board -------------------


class _Wire:
    """A span stand-in: PriSpan only needs ``number`` and ``send_dframe()``."""

    number = 1

    def __init__(self):
        self.frames = []

    def send_dframe(self, data):
        self.frames.append(bytes(data))


def _back_to_back():
    from drivers.sig.pri import PriSpan
    user, net = PriSpan(_Wire(), "user"), PriSpan(_Wire(), "network")
    seen = {"user": [], "net": []}
    clock = {"now": 0.0, "tick": 0}

    def run(steps=20):
        for _ in range(steps):
            clock["tick"] += 1
            clock["now"] += 0.001
            for a, b, name in ((user, net, "net"), (net, user, "user")):
                frames, a.span.frames = a.span.frames, []
                seen[name] += b.handle(clock["now"], clock["tick"],
                                       [DFrame(clock["tick"], 1, f) for f in frames])
        return seen
    user.start(0.0)
    net.start(0.0)
    run()
    assert user.link_up and net.link_up
    return user, net, seen, run, clock


def test_our_restart_is_reported_when_the_peer_acknowledges_it():
    from drivers.sig.pri import ChannelsRestarted
    user, net, seen, run, clock = _back_to_back()
    user.restart(clock["now"], (5,))
    assert 5 not in user.q931.free_channels()             # out of service meanwhile
    run()
    assert [(e.timeslots, e.remote) for e in of(seen["net"], ChannelsRestarted)] == [((5,), True)]
    assert [(e.timeslots, e.remote) for e in of(seen["user"], ChannelsRestarted)] == [((5,), False)]
    assert 5 in user.q931.free_channels()


def test_digits_dialled_before_setup_acknowledge_wait_for_it():
    user, net, seen, run, clock = _back_to_back()
    call = user.place_call(clock["now"], "12", "999", overlap=True)
    user.send_digits(clock["now"], call, "3")             # no SETUP ACKNOWLEDGE yet
    user.send_digits(clock["now"], call, "45", complete=True)
    run()
    offered = of(seen["net"], CallOffered)[0]
    assert (offered.dnis, offered.sending_complete) == ("12", False)
    assert not of(seen["net"], CallDigits)
    net.q931.setup_acknowledge(clock["now"], offered.call)
    net.handle(clock["now"], clock["tick"], [])
    run()
    digits = of(seen["net"], CallDigits)
    assert [(d.digits, d.sending_complete) for d in digits] == [("345", True)]
    net.proceeding(clock["now"], offered.call)
    run()
    assert of(seen["user"], CallProceeding, call=call)


def test_sent_frames_are_reported_only_from_spans_that_report_them(world):
    """The copy of each sent D-channel frame (for traces) comes up only from a span that
    reports them: the frames themselves still cross the cable (the far end receives them)."""
    from drivers.hal import HalError, check, lib

    world.board.spans[2].report_sent_dframes(False)
    sent = {1: 0, 2: 0}
    for n in (1, 2):
        world.pri[n].place_call(world.board.line_seconds, "12345", "4008001234")
    seen = []
    for _ in range(100):
        ev = world.tick()
        seen += ev
        for e in ev:
            if isinstance(e, DFrameSent):
                sent[e.span] += 1
    assert sent[1] > 0 and sent[2] == 0
    # the exchange got both SETUPs: each call was answered or at least proceeded
    assert of(seen, CallProceeding, span=1) and of(seen, CallProceeding, span=2)
    world.board.spans[2].report_sent_dframes(True)
    world.pri[2].place_call(world.board.line_seconds, "12346", "4008001234")
    assert any(isinstance(e, DFrameSent) and e.span == 2 for e in world.run(100))
    with pytest.raises(HalError):                       # the board has spans 1 and 2
        check(lib.hal_span_dframe_tx_report(world.board._b, 3, 0), "span 3")
