"""R2 / China No.1 channel (drivers/sig/r2.py): two channels back to back.

The harness moves SetCas / SetMfc commands of one channel into cas_changed /
mfc_signal of the other on a fake clock: MF tone detection is immediate, the
CAS recognition time is the channels' own timer (Q.422: 20 ms).
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hyp_event
from hypothesis import strategies as st

from drivers.sig.r2 import (
    CAUSE_BUSY, CAUSE_CHANNEL_UNAVAILABLE, CAUSE_CONGESTION, CAUSE_NO_ANSWER, CAUSE_NORMAL,
    CAUSE_TIMEOUT, CAUSE_UNALLOCATED, VARIANTS, Accepted, Answered, Blocked, Cleared, Offered,
    R2Channel, R2Error, R2State, SetCas, SetMfc, Unblocked, abcd,
)


class Wire:
    """Two channels on one E1 timeslot; ``drop``/``tamper`` hooks model faults."""

    def __init__(self, a: R2Channel, b: R2Channel):
        self.a, self.b = a, b
        self.now = 0.0
        self.events = {id(a): [], id(b): []}
        self.log = []
        self.drop = None          # callable(src, cmd) -> bool
        self.strict = True        # no faults on the line: check tones end to end
        self.tone = {id(a): None, id(b): None}   # tone each end is sending

    def peer(self, ch):
        return self.b if ch is self.a else self.a

    def pump(self):
        for _ in range(10000):
            moved = False
            for ch in (self.a, self.b):
                for cmd in ch.commands():
                    moved = True
                    self.deliver(ch, cmd)
                while (ev := ch.next_event()) is not None:
                    moved = True
                    self.events[id(ch)].append(ev)
            if not moved:
                return
        raise AssertionError("commands never settle")

    def deliver(self, src, cmd):
        dst = self.peer(src)
        self.log.append((self.now, "a" if src is self.a else "b", cmd))
        if isinstance(cmd, SetMfc):
            # invariant of the compelled cycle: a forward tone never changes while the
            # backward acknowledgement is on (Q.442)
            if not cmd.backward and cmd.digit is not None:
                # what the outgoing register sees is always clear; with a faithful
                # line (strict) the far end's real tone is off too
                assert src.mfc_rx is None, "forward tone changed under a backward tone"
                if self.strict:
                    assert self.tone[id(dst)] is None, "forward tone under a backward tone"
            if cmd.backward and cmd.digit is not None and self.strict:
                # a backward tone only ever acknowledges a forward tone that is on,
                # except a pulsed signal (Q.442; China No.1 end of DNIS), which is
                # sent into the forward silence
                assert self.tone[id(dst)] is not None or src.mfc_pulse, \
                    "backward tone without forward tone"
                if src.mfc_pulse:
                    assert self.tone[id(dst)] is None, "pulse over a forward tone"
            self.tone[id(src)] = cmd.digit
        if self.drop is not None and self.drop(src, cmd):
            return
        if isinstance(cmd, SetCas):
            dst.cas_changed(self.now, cmd.abcd)
        else:
            dst.mfc_signal(self.now, cmd.digit or 0)

    def run(self, until: float):
        self.pump()
        while True:
            ts = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            if not ts or min(ts) > until:
                break
            self.now = max(self.now, min(ts))
            for ch in (self.a, self.b):
                t = ch.get_timer()
                if t is not None and t <= self.now:
                    ch.handle_timer(self.now)
            self.pump()
        self.now = max(self.now, until)

    def step(self, dt: float = 0.5):
        self.run(self.now + dt)

    def ev(self, ch, kind=None):
        evs = self.events[id(ch)]
        return [e for e in evs if kind is None or isinstance(e, kind)]


def pair(variant="cn", **kw):
    out = R2Channel(variant, side="both", glare_priority=True, **kw)
    inc = R2Channel(variant, side="both", **kw)
    return out, inc, Wire(out, inc)


def call_up(variant="cn", dnis="95105", ani="13800138000", category=1, **kw):
    out, inc, w = pair(variant, **kw)
    out.seize(w.now, dnis, ani=ani, category=category)
    # China No.1 sends no end-of-DNIS signal: without dnis_length the incoming register
    # waits end_of_address (2 s) for a further digit, then pulses A-3 (see below)
    w.step(3.0)
    return out, inc, w


@pytest.mark.parametrize("variant", ["cn", "itu"])
@pytest.mark.parametrize("ani_first", [True, False])
def test_full_call_cleared_by_caller(variant, ani_first):
    out, inc, w = call_up(variant, ani_first=ani_first)
    offers = w.ev(inc, Offered)
    assert len(offers) == 1
    o = offers[0]
    assert (o.ani, o.dnis, o.category) == ("13800138000", "95105", 1)
    if variant == "cn":
        assert o.kd == 3
    assert inc.state is R2State.OFFERED
    inc.accept(w.now)
    w.step()
    assert w.ev(out, Accepted) == [Accepted(charge=True)]
    assert out.state is inc.state is R2State.ACCEPTED
    inc.answer(w.now)
    w.step()
    assert w.ev(out, Answered) and out.state is R2State.ANSWERED
    out.hangup(w.now)
    w.step()
    assert out.state is inc.state is R2State.IDLE
    assert w.ev(out, Cleared) == [Cleared(CAUSE_NORMAL, "local hangup")]
    assert [c.cause for c in w.ev(inc, Cleared)] == [CAUSE_NORMAL]
    assert out.tx_abcd == inc.tx_abcd == VARIANTS[variant].line(0b10)
    assert out.mfc_tx is None and inc.mfc_tx is None


@pytest.mark.parametrize("variant,cd", [("itu", 0b01), ("cn", 0b11)])
def test_line_codes_q421(variant, cd):
    """Seizure 00, seizure ack 11, answer 01, clear-back 11, release guard 10 (Q.421
    table 1; China No.1 the same a b code); c d = 01 (Q.421 3.1.2), China 11 (a, b and
    c are China's three line-signalling bits, c = 1 outside operator signals; d = 1)."""
    out, inc, w = pair(variant)
    out.seize(0.0, "1")
    w.pump()
    first = [c for _, s, c in w.log if isinstance(c, SetCas)]
    assert first[0] == SetCas(0b0000 | cd)
    w.step(3.0)
    cas = [(s, c.abcd) for _, s, c in w.log if isinstance(c, SetCas)]
    assert ("b", 0b1100 | cd) in cas       # seizure acknowledge 11
    inc.accept(w.now); w.step(); inc.answer(w.now); w.step()
    assert inc.tx_abcd == 0b0100 | cd
    inc.hangup(w.now)
    w.step()
    cas = [(s, c.abcd) for _, s, c in w.log if isinstance(c, SetCas)]
    # clear-back 11, then clear-forward 10, then release guard 10 (idle)
    assert cas[-3:] == [("b", 0b1100 | cd), ("a", 0b1000 | cd), ("b", 0b1000 | cd)]
    assert all(c & 0b11 == cd for _, c in cas)


def test_cn_ignores_received_cd_bits():
    """Only a and b carry meaning: a far end sending ITU's c d = 01 is understood."""
    ch = R2Channel("cn")
    ch.cas_changed(0.0, abcd(0b00, cd=0b01))
    ch.handle_timer(0.03)
    assert ch.state is R2State.IN_REGISTER and ch.tx_abcd == 0b1111


def test_cleared_by_called_party_clear_back_then_clear_forward():
    out, inc, w = call_up()
    inc.accept(w.now); w.step(); inc.answer(w.now); w.step()
    inc.hangup(w.now)
    assert inc.state is R2State.CLEAR_BACK
    w.step()
    assert out.state is inc.state is R2State.IDLE
    assert [c.cause for c in w.ev(out, Cleared)] == [CAUSE_NORMAL]
    assert [c.cause for c in w.ev(inc, Cleared)] == [CAUSE_NORMAL]


def test_mfc_sequence_cn_ani_first():
    """China: digit 1, A-6 (send KA + ANI), KA, A-1.. ANI.. I-15, A-1.. DNIS, A-3, KD, KB-1."""
    out, inc, w = call_up("cn", dnis="12", ani="34", category=1, dnis_length=2)
    inc.accept(w.now)
    w.step()
    fwd = [c.digit for _, s, c in w.log if isinstance(c, SetMfc) and s == "a" and c.digit]
    bwd = [c.digit for _, s, c in w.log if isinstance(c, SetMfc) and s == "b" and c.digit]
    assert fwd == [1, 1, 3, 4, 15, 2, 3]          # 1, KA=1, 3, 4, ST, 2, KD=3
    assert bwd == [6, 1, 1, 1, 1, 3, 1]           # x4, A-3, KB-1


def _tones(w, side):
    return [c.digit for _, s, c in w.log if isinstance(c, SetMfc) and s == side and c.digit]


def test_itu_dnis_end_by_i15_without_known_length():
    """ITU: without dnis_length the incoming register learns the end from I-15 (Q.441)."""
    out, inc, w = call_up("itu", dnis="12", ani="", category=1)
    assert _tones(w, "a") == [1, 2, 15, 1, 15, 1]   # 1, 2, ST, category, ST (no ANI), II-1
    assert _tones(w, "b") == [1, 1, 5, 5, 3]
    assert w.ev(inc, Offered)[0].dnis == "12"


def test_cn_no_end_of_dnis_signal_incoming_pulses_a3():
    """China No.1: no 15 after the called number (15 ends only the calling number). The
    outgoing register, asked with A-1 for a digit it does not have, stays silent; the
    incoming register waits end_of_address, then sends A-3 as a pulse (Q.442 pulsed
    signal, 150 ms), and the outgoing register answers it with KD."""
    out, inc, w = call_up("cn", dnis="12", ani="", category=1)
    assert _tones(w, "a") == [1, 1, 15, 2, 3]       # 1, KA, 15 (no ANI), 2, KD=3
    assert _tones(w, "b") == [6, 1, 1, 1, 3]        # x3, A-3 (pulse)
    bwd = [(t, c.digit) for t, s, c in w.log if isinstance(c, SetMfc) and s == "b"]
    fwd = [(t, c.digit) for t, s, c in w.log if isinstance(c, SetMfc) and s == "a"]
    (t_on, _), (t_off, off) = [x for x in bwd if x[1] == 3][0], bwd[-1]
    assert off is None and t_off - t_on == pytest.approx(0.15)
    last_a1_off = [t for t, d in bwd if d is None and t < t_on][-1]
    assert t_on - last_a1_off == pytest.approx(inc.timers.end_of_address)
    assert fwd[-1] == (t_off, 3)                     # KD after the pulse ends
    o = w.ev(inc, Offered)[0]
    assert (o.dnis, o.ani, o.kd) == ("12", "", 3)
    assert out.counters["await_pulse"] == 1


def test_cn_ani_after_dnis_is_asked_with_pulsed_a6():
    """ani_first=False and no known length: the pulse after the called number is A-6."""
    out, inc, w = call_up("cn", dnis="12", ani="34", category=1, ani_first=False)
    assert _tones(w, "a") == [1, 2, 1, 3, 4, 15, 3]  # 1, 2, KA, 3, 4, 15, KD
    assert _tones(w, "b") == [1, 1, 6, 1, 1, 1, 3]   # A-6 (pulse), A-1 x3, A-3
    o = w.ev(inc, Offered)[0]
    assert (o.dnis, o.ani) == ("12", "34")


def test_cn_incoming_still_accepts_15_after_dnis():
    """A peer that does send 15 after the called number is understood (no wait)."""
    from dataclasses import replace
    out = R2Channel(replace(VARIANTS["cn"], dnis_end_signal=15), glare_priority=True)
    inc = R2Channel("cn")
    w = Wire(out, inc)
    out.seize(0.0, "12")
    w.step(1.0)
    assert [(o.dnis, o.ani) for o in w.ev(inc, Offered)] == [("12", "")]
    assert _tones(w, "a") == [1, 1, 15, 2, 15, 3]


def test_mfc_sequence_cn_ani_last_with_dnis_length():
    out, inc, w = pair("cn", ani_first=False, dnis_length=2)
    out.seize(0.0, "12", ani="5", category=2)
    w.step(1.0)
    o = w.ev(inc, Offered)[0]
    assert (o.dnis, o.ani, o.category) == ("12", "5", 2)
    fwd = [c.digit for _, s, c in w.log if isinstance(c, SetMfc) and s == "a" and c.digit]
    bwd = [c.digit for _, s, c in w.log if isinstance(c, SetMfc) and s == "b" and c.digit]
    assert fwd == [1, 2, 2, 5, 15, 3]
    assert bwd == [1, 6, 1, 1, 3]


def test_compelled_cycle_order():
    """Each forward tone: on, backward on, forward off, backward off, next forward on."""
    out, inc, w = call_up("itu", dnis="7", ani="")
    tones = [(s, c.digit) for _, s, c in w.log if isinstance(c, SetMfc)]
    for i in range(0, len(tones) - 3, 4):
        (s1, f), (s2, b), (s3, foff), (s4, boff) = tones[i:i + 4]
        assert (s1, s2, s3, s4) == ("a", "b", "a", "b")
        assert f and b and foff is None and boff is None


@pytest.mark.parametrize("variant", ["cn", "itu"])
@pytest.mark.parametrize("cause,q850", [("busy", CAUSE_BUSY), ("vacant", CAUSE_UNALLOCATED),
                                        ("congestion", CAUSE_CONGESTION)])
def test_rejects(variant, cause, q850):
    out, inc, w = call_up(variant)
    inc.reject(w.now, cause)
    w.step()
    assert [c.cause for c in w.ev(out, Cleared)] == [q850]
    assert [c.cause for c in w.ev(inc, Cleared)] == [q850]
    assert out.state is inc.state is R2State.IDLE
    b = [c.digit for _, s, c in w.log if isinstance(c, SetMfc) and s == "b" and c.digit][-1]
    v = VARIANTS[variant]
    assert b == {"busy": v.b_busy, "vacant": v.b_vacant, "congestion": v.b_congestion}[cause]


def test_cn_busy_is_kb2_and_free_no_charge():
    out, inc, w = call_up("cn")
    inc.accept(w.now, charge=False)
    w.step()
    assert w.ev(out, Accepted) == [Accepted(charge=False)]
    out2, inc2, w2 = call_up("cn")
    inc2.reject(w2.now, "busy")
    w2.step()
    assert [c.digit for _, s, c in w2.log if s == "b" and isinstance(c, SetMfc) and c.digit][-1] == 2


def test_a4_congestion_during_digits():
    """The incoming register answers an unexpected group I signal with A-4."""
    inc2 = R2Channel("cn")
    inc2.cas_changed(0.0, abcd(0b00)); inc2.handle_timer(0.03); inc2.commands()
    inc2.mfc_signal(0.1, 13)
    assert inc2.commands() == [SetMfc(4, backward=True)]
    inc2.mfc_signal(0.2, 0)
    inc2.commands()
    assert [e.cause for e in iter(inc2.next_event, None) if isinstance(e, Cleared)] == [CAUSE_CONGESTION]
    assert inc2.state is R2State.CLEAR_BACK
    inc2.cas_changed(0.3, abcd(0b10)); inc2.handle_timer(0.4)
    assert inc2.state is R2State.IDLE


def test_outgoing_on_a4():
    out = R2Channel("cn")
    out.seize(0.0, "12")
    out.cas_changed(0.0, abcd(0b11)); out.handle_timer(0.02)
    assert out.commands()[-1] == SetMfc(1, backward=False)
    out.mfc_signal(0.1, 4)
    out.mfc_signal(0.2, 0)
    assert Cleared(CAUSE_CONGESTION, "A-4 congestion") in list(iter(out.next_event, None))
    assert out.state is R2State.RELEASING
    out.cas_changed(0.3, abcd(0b10)); out.handle_timer(0.4)
    assert out.state is R2State.IDLE


def test_answer_timeout_both_idle():
    out, inc, w = call_up()
    inc.accept(w.now)
    w.run(w.now + 100)
    assert [c.cause for c in w.ev(out, Cleared)] == [CAUSE_NO_ANSWER]
    assert len(w.ev(inc, Cleared)) == 1
    assert out.state is inc.state is R2State.IDLE


def test_decision_timeout_sends_congestion():
    out, inc, w = call_up()
    w.run(w.now + 10)
    assert [c.cause for c in w.ev(out, Cleared)] == [CAUSE_CONGESTION]
    assert out.state is inc.state is R2State.IDLE


def test_seize_ack_timeout():
    out, inc, w = pair()
    w.drop = lambda src, cmd: src is out and isinstance(cmd, SetCas)   # far end never sees us
    out.seize(0.0, "123")
    w.run(10)
    assert [c.cause for c in w.ev(out, Cleared)] == [CAUSE_TIMEOUT]
    assert out.state is inc.state is R2State.IDLE
    assert out.counters["timeout_seize_ack"] == 1


@pytest.mark.parametrize("victim", ["fwd", "bwd", "fwd_off", "bwd_off"])
def test_register_timeouts_each_step(victim):
    """Losing a tone (or its end) at any step times out and leaves both sides idle."""
    out, inc, w = pair("cn")
    n = {"n": 0}

    def drop(src, cmd):
        if not isinstance(cmd, SetMfc):
            return False
        kind = ("fwd" if src is out else "bwd") + ("" if cmd.digit else "_off")
        if kind == victim:
            n["n"] += 1
            return n["n"] == 3
        return False
    w.drop = drop
    out.seize(0.0, "95105", ani="123")
    w.run(60)
    assert n["n"] >= 3
    assert len(w.ev(out, Cleared)) == 1 and len(w.ev(inc, Cleared)) == 1
    assert w.ev(out, Cleared)[0].cause == CAUSE_TIMEOUT
    assert out.state is inc.state is R2State.IDLE


def test_release_guard_timeout():
    out, inc, w = call_up()
    inc.accept(w.now); w.step(); inc.answer(w.now); w.step()
    w.drop = lambda src, cmd: src is out and isinstance(cmd, SetCas)   # clear-forward lost
    out.hangup(w.now)
    w.run(w.now + 100)
    assert out.state is R2State.IDLE
    assert out.counters["release_forced"] == 1
    # incoming still thinks the call is up (it never saw clear-forward): the
    # idle 10 our end sends after the forced release is lost too; it clears
    # when it hangs up itself
    inc.hangup(w.now)
    w.run(w.now + 100)
    assert inc.state is R2State.IDLE


def test_glare_priority_side_wins():
    a = R2Channel("cn", glare_priority=True)
    b = R2Channel("cn", glare_priority=False)
    w = Wire(a, b)
    a.seize(0.0, "111", ani="9")
    b.seize(0.0, "222", ani="8")
    w.run(3.0)                 # China No.1: end of DNIS by silence + pulsed A-3
    assert [c.cause for c in w.ev(b, Cleared)] == [CAUSE_CHANNEL_UNAVAILABLE]
    offers = w.ev(b, Offered)
    assert [(o.dnis, o.ani) for o in offers] == [("111", "9")]
    assert b.direction == "incoming" and a.direction == "outgoing"
    assert b.counters["glare"] == 1
    b.accept(w.now); w.step(); b.answer(w.now); w.step(); a.hangup(w.now); w.step()
    assert a.state is b.state is R2State.IDLE


def test_glare_both_priority_times_out_idle():
    a = R2Channel("cn", glare_priority=True)
    b = R2Channel("cn", glare_priority=True)
    w = Wire(a, b)
    a.seize(0.0, "1"); b.seize(0.0, "2")
    w.run(30)
    assert a.state is b.state is R2State.IDLE
    assert len(w.ev(a, Cleared)) == len(w.ev(b, Cleared)) == 1


def test_blocking_and_unblocking():
    out, inc, w = pair()
    inc.block(0.0)
    w.step()
    assert inc.state is R2State.BLOCKED and inc.tx_abcd == inc.variant.line(0b11)
    assert out.state is R2State.REMOTE_BLOCKED and w.ev(out, Blocked) == [Blocked()]
    with pytest.raises(R2Error):
        out.seize(w.now, "1")
    inc.unblock(w.now)
    w.step()
    assert out.state is inc.state is R2State.IDLE and w.ev(out, Unblocked) == [Unblocked()]
    out.seize(w.now, "1")
    w.step(3.0)
    assert w.ev(inc, Offered)


def test_block_during_call_applies_after_release():
    out, inc, w = call_up()
    inc.block(w.now)
    assert inc.state is R2State.OFFERED
    inc.reject(w.now, "busy")
    w.step()
    assert inc.state is R2State.BLOCKED and out.state is R2State.REMOTE_BLOCKED


def test_cas_recognition_time():
    """A glitch shorter than the recognition time is not a seizure."""
    ch = R2Channel("cn")
    ch.cas_changed(0.0, abcd(0b00))
    ch.cas_changed(0.01, abcd(0b10))
    assert ch.get_timer() is None
    ch.cas_changed(0.02, abcd(0b00))
    assert ch.get_timer() == pytest.approx(0.04)
    ch.handle_timer(0.04)
    assert ch.state is R2State.IN_REGISTER


def test_local_errors_raise():
    ch = R2Channel("cn", side="incoming")
    with pytest.raises(R2Error):
        ch.seize(0.0, "1")
    with pytest.raises(R2Error):
        ch.accept(0.0)
    with pytest.raises(R2Error):
        R2Channel("cn").seize(0.0, "12a")


# ------------------------------------------------------------------ property tests
fault = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from("ab"), st.integers(0, 15), st.floats(0, 0.1)),
    st.tuples(st.just("tone"), st.sampled_from("ab"), st.integers(0, 15), st.floats(0, 0.5)),
    st.tuples(st.just("drop_mfc"), st.floats(0, 1)),
    st.tuples(st.just("dup_mfc"), st.floats(0, 1)),
    st.tuples(st.just("wait"), st.floats(0, 3)),
    st.tuples(st.just("seize"), st.sampled_from("ab")),
    st.tuples(st.just("user"), st.sampled_from("ab"),
              st.sampled_from(["accept", "reject", "answer", "hangup", "block", "unblock"])),
)


@settings(max_examples=int(os.environ.get("R2_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(variant=st.sampled_from(["cn", "itu"]), faults=st.lists(fault, max_size=25),
       seed=st.randoms(use_true_random=False))
def test_random_faults_never_wedge(variant, faults, seed):
    a = R2Channel(variant, glare_priority=True)
    b = R2Channel(variant)
    w = Wire(a, b)
    w.strict = False
    ch = {"a": a, "b": b}
    p = {"drop": 0.0, "dup": 0.0}

    def drop(src, cmd):
        if isinstance(cmd, SetMfc):
            if seed.random() < p["drop"]:
                return True
            if seed.random() < p["dup"]:
                w.peer(src).mfc_signal(w.now, cmd.digit or 0)
        return False
    w.drop = drop
    for f in faults:
        kind = f[0]
        if kind == "flip":
            # a glitch on the received bits, then the true bits again
            dst = ch[f[1]]
            dst.cas_changed(w.now, f[2])
            w.run(w.now + f[3])
            dst.cas_changed(w.now, w.peer(dst).tx_abcd)
        elif kind == "tone":
            # a spurious tone (or a false cease), then the true detector output again
            dst = ch[f[1]]
            dst.mfc_signal(w.now, f[2])
            w.run(w.now + f[3])
            dst.mfc_signal(w.now, w.peer(dst).mfc_tx or 0)
        elif kind == "drop_mfc":
            p["drop"] = f[1] * 0.3
        elif kind == "dup_mfc":
            p["dup"] = f[1] * 0.3
        elif kind == "wait":
            w.run(w.now + f[1])
        elif kind == "seize":
            c = ch[f[1]]
            if c.state is R2State.IDLE:
                c.seize(w.now, "95105", ani="1380013")
        else:
            c = ch[f[1]]
            try:
                if f[2] in ("accept", "answer", "hangup", "block", "unblock"):
                    getattr(c, f[2])(w.now)
                else:
                    c.reject(w.now, "busy")
            except R2Error:
                pass
        w.pump()
    # the faults stop, the users hang up, and time runs
    p["drop"] = p["dup"] = 0.0
    for _ in range(3):
        for c in (a, b):
            c.hangup(w.now)
        w.run(w.now + 200)
    for c in (a, b):
        blocked = c._local_block
        assert c.state in ((R2State.BLOCKED,) if blocked else
                           (R2State.IDLE, R2State.REMOTE_BLOCKED)), c.state
        assert c.get_timer() is None
        assert c.mfc_tx is None
        cleared = w.ev(c, Cleared)
        assert len(cleared) == c.counters["calls"], (cleared, c.counters)
        assert all(isinstance(x.cause, int) and x.cause > 0 for x in cleared)
    for c in (a, b):
        hyp_event("offered" if w.ev(c, Offered) else "no offer")
        hyp_event("answered" if w.ev(c, Answered) else "not answered")
    # lines agree once both are at rest and nobody blocks
    if not a._local_block and not b._local_block:
        assert a.state is b.state is R2State.IDLE


@settings(max_examples=60, deadline=None)
@given(variant=st.sampled_from(["cn", "itu"]),
       dnis=st.text("0123456789", min_size=1, max_size=12),
       ani=st.text("0123456789", max_size=12), category=st.integers(1, 10),
       ani_first=st.booleans())
def test_any_numbers_delivered(variant, dnis, ani, category, ani_first):
    out, inc, w = pair(variant, ani_first=ani_first)
    out.seize(0.0, dnis, ani=ani, category=category)
    w.run(5.0)
    [o] = w.ev(inc, Offered)
    assert (o.dnis, o.ani, o.category) == (dnis, ani, category)


glitch = st.tuples(st.floats(0, 3), st.sampled_from(["cas", "tone"]), st.sampled_from("ab"),
                   st.integers(0, 15), st.floats(0, 0.2))
call_plan = st.fixed_dictionaries({
    "caller": st.sampled_from("ab"),
    "drop": st.sampled_from([0.0, 0.0, 0.05, 0.2]),
    "dup": st.sampled_from([0.0, 0.0, 0.05, 0.2]),
    "glitches": st.lists(glitch, max_size=3),
    "decision": st.sampled_from(["accept", "accept", "accept", "accept", "busy", "vacant", "congestion", "none"]),
    "t_decide": st.floats(0.05, 4),
    "answer": st.sampled_from([True, True, True, False]),
    "hangup_by": st.sampled_from(["caller", "called", "both"]),
    "t_hangup": st.floats(0.1, 5),
})


@settings(max_examples=int(os.environ.get("R2_EXAMPLES", 150)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(variant=st.sampled_from(["cn", "itu"]), calls=st.lists(call_plan, min_size=1, max_size=4),
       seed=st.randoms(use_true_random=False))
def test_calls_under_faults_end_idle_with_one_cleared(variant, calls, seed):
    """Calls in both directions while tones are lost/duplicated and CAS bits glitch."""
    a = R2Channel(variant, glare_priority=True)
    b = R2Channel(variant)
    w = Wire(a, b)
    w.strict = False
    ch = {"a": a, "b": b}
    p = {"drop": 0.0, "dup": 0.0}

    def drop(src, cmd):
        if isinstance(cmd, SetMfc):
            if seed.random() < p["drop"]:
                return True
            if seed.random() < p["dup"]:
                w.peer(src).mfc_signal(w.now, cmd.digit or 0)
        return False
    w.drop = drop
    for plan in calls:
        p["drop"], p["dup"] = plan["drop"], plan["dup"]
        caller = ch[plan["caller"]]
        called = w.peer(caller)
        if caller.state is not R2State.IDLE:
            continue
        t0 = w.now
        caller.seize(w.now, "95105", ani="13800138000", category=1)
        actions = [(t0 + g[0], "glitch", g) for g in plan["glitches"]]
        actions.append((t0 + plan["t_decide"], "decide", None))
        actions.append((t0 + plan["t_decide"] + 0.2, "answer", None))
        actions.append((t0 + plan["t_decide"] + 0.2 + plan["t_hangup"], "hangup", None))
        for t, what, g in sorted(actions, key=lambda x: x[0]):
            w.run(t)
            try:
                if what == "glitch":
                    dst = ch[g[2]]
                    if g[1] == "cas":
                        dst.cas_changed(w.now, g[3])
                        w.run(w.now + g[4])
                        dst.cas_changed(w.now, w.peer(dst).tx_abcd)
                    else:
                        dst.mfc_signal(w.now, g[3])
                        w.run(w.now + g[4])
                        dst.mfc_signal(w.now, w.peer(dst).mfc_tx or 0)
                elif what == "decide" and called.state is R2State.OFFERED:
                    if plan["decision"] == "accept":
                        called.accept(w.now)
                    elif plan["decision"] != "none":
                        called.reject(w.now, plan["decision"])
                elif what == "answer" and plan["answer"] and called.state is R2State.ACCEPTED:
                    called.answer(w.now)
                elif what == "hangup":
                    if plan["hangup_by"] in ("caller", "both"):
                        caller.hangup(w.now)
                    if plan["hangup_by"] in ("called", "both"):
                        called.hangup(w.now)
            except R2Error:
                pass
            w.pump()
        w.run(w.now + 1)
        hyp_event("answered" if w.ev(caller, Answered) else "not answered")
    p["drop"] = p["dup"] = 0.0
    for _ in range(3):
        for c in (a, b):
            c.hangup(w.now)
        w.run(w.now + 200)
    for c in (a, b):
        assert c.state is R2State.IDLE, c.state
        assert c.get_timer() is None and c.mfc_tx is None
        cleared = w.ev(c, Cleared)
        assert len(cleared) == c.counters["calls"], (cleared, c.counters)
        assert c.tx_abcd == c.variant.line(0b10)


def _acked(variant, dnis, **kw):
    out = R2Channel(variant, **kw)
    out.seize(0.0, dnis)
    out.cas_changed(0.0, abcd(0b11))
    out.handle_timer(0.02)
    return out


def _bw(out, t, tone):
    out.mfc_signal(t, tone)
    out.mfc_signal(t + 0.01, 0)
    return [c.digit for c in out.commands() if isinstance(c, SetMfc) and c.digit]


def test_itu_a6_address_complete_charge_accepts():
    out = _acked("itu", "12")
    out.commands()
    assert _bw(out, 0.1, 6) == []
    assert out.state is R2State.ACCEPTED
    assert Accepted(charge=True) in list(iter(out.next_event, None))


def test_itu_a2_last_but_one_and_cn_a2_restart():
    out = _acked("itu", "123")
    out.commands()
    assert _bw(out, 0.1, 1) == [2]
    assert _bw(out, 0.2, 1) == [3]
    assert _bw(out, 0.3, 2) == [2]        # last but one
    out = _acked("cn", "123")
    out.commands()
    assert _bw(out, 0.1, 1) == [2]
    assert _bw(out, 0.2, 2) == [1]        # China A-2: from the first digit again


def test_cn_a5_vacant_during_digits():
    out = _acked("cn", "123")
    out.commands()
    _bw(out, 0.1, 5)
    assert Cleared(CAUSE_UNALLOCATED, "A-5 vacant number") in list(iter(out.next_event, None))


def test_backward_tone_still_on_defers_forward():
    """A forward tone is not started while a backward tone is detected."""
    out = R2Channel("cn")
    out.seize(0.0, "12")
    out.mfc_signal(0.0, 3)               # spurious backward tone before the ack
    out.cas_changed(0.0, abcd(0b11))
    out.handle_timer(0.02)
    assert not [c for c in out.commands() if isinstance(c, SetMfc)]
    out.mfc_signal(0.05, 0)
    assert out.commands() == [SetMfc(1, backward=False)]


@pytest.mark.parametrize("kb,expect", [
    (1, Accepted(charge=True)),          # KB-1 called subscriber free (Synway: 计费)
    (6, Accepted(charge=False)),         # KB-6 free (no charge: unconfirmed)
    (2, CAUSE_BUSY), (3, CAUSE_BUSY),    # KB-2 "local busy" 市忙, KB-3 "toll busy" 长忙
    (4, CAUSE_CONGESTION),               # KB-4 机键拥塞
    (5, CAUSE_UNALLOCATED),              # KB-5 空号
    (7, 41),                             # no KB-7 in China No.1 (openr2 sends ITU's B-7)
])
def test_cn_kb_signals_outgoing(kb, expect):
    out = _acked("cn", "1")
    out.commands()
    assert _bw(out, 0.1, 3) == [3]       # group B: KD = 3
    _bw(out, 0.2, kb)
    evs = list(iter(out.next_event, None))
    if isinstance(expect, Accepted):
        assert expect in evs and out.state is R2State.ACCEPTED
    else:
        assert [e.cause for e in evs if isinstance(e, Cleared)] == [expect]
        assert out.state is R2State.RELEASING


def test_cn_outgoing_waits_silently_for_the_pulse():
    """Asked for a DNIS digit it does not have, the China outgoing register sends
    nothing (no I-15) and takes the next backward signal (a pulse) as the answer."""
    out = _acked("cn", "1")
    assert [c.digit for c in out.commands() if isinstance(c, SetMfc)] == [1]
    assert _bw(out, 0.1, 1) == []        # no more digits, no 15
    assert out.mfc_tx is None and out.state is R2State.OUT_REGISTER
    assert _bw(out, 2.1, 3) == [3]       # pulsed A-3 -> KD


def test_cn_lost_pulse_times_out_both_idle():
    out, inc, w = pair("cn")
    w.drop = lambda src, cmd: src is inc and isinstance(cmd, SetMfc) and inc.mfc_pulse
    out.seize(0.0, "12", ani="3")
    w.run(60)
    assert [c.cause for c in w.ev(out, Cleared)] == [CAUSE_TIMEOUT]
    assert len(w.ev(inc, Cleared)) == 1
    assert out.state is inc.state is R2State.IDLE
    assert inc.counters["timeout_end_of_address"] == 1 and inc.counters["timeout_pulse"] == 1


def test_cn_forward_tone_during_pulse_ends_it():
    """A KD that starts before our pulse has ended is taken; the pulse stops at once."""
    inc = R2Channel("cn", ani_first=False)
    inc.cas_changed(0.0, abcd(0b00)); inc.handle_timer(0.03); inc.commands()
    inc.mfc_signal(0.1, 5); inc.mfc_signal(0.11, 0)          # DNIS 5, A-1
    inc.handle_timer(0.11 + inc.timers.end_of_address)        # silence: pulsed A-6
    assert inc.mfc_tx == 6 and inc.mfc_pulse
    inc.mfc_signal(2.2, 2)                                    # KA = 2 at once
    assert inc.mfc_tx == 1 and not inc.mfc_pulse              # first calling digit
    assert inc.category == 2
