"""Analog line signalling (drivers/sig/analog.py): FXS and FXO machines driven with
inputs and ``now`` values only, then the AnalogPort shell on the simulated world."""
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drivers.sig import analog as A
from drivers.sig.analog import (
    Alert, Answer, Answered, AnalogError, Battery, CallerIdReceived, CallOffered, CallProgress,
    CancelCallerId, Connected, Dial, DialDigits, DigitDetected, DigitMap, DigitsCollected,
    Disconnected, Flash, Fxo, FxoConfig, FxoState, Fxs, FxsConfig, FxsState, Hook, HookFlash,
    LineOffHook, Polarity, Progress, Release, Ring, Seize, SendCallerId, SetBattery,
    SetPolarity, SetRing, StartTone, StopTone, ToneDetected, ToneDone,
)


class Drive:
    """Runs a machine on a virtual clock: timers fire at their due time, commands and
    events are logged with the time they came out."""

    def __init__(self, machine):
        self.m = machine
        self.now = 0.0
        self.log: list[tuple[float, object]] = []
        self.events: list[tuple[float, object]] = []

    def to(self, t: float) -> "Drive":
        while True:
            due = self.m.get_timer()
            if due is None or due > t:
                break
            self.now = max(self.now, due)
            self.m.handle_timer(self.now)
            self._collect()
        self.now = max(self.now, t)
        return self

    def rx(self, t: float, ev) -> "Drive":
        self.to(t)
        self.m.receive(t, ev)
        self._collect()
        return self

    def tx(self, t: float, req):
        self.to(t)
        r = self.m.send(t, req)
        self._collect()
        return r

    def _collect(self):
        for c in self.m.commands():
            self.log.append((self.now, c))
        ev = self.m.next_event()
        while ev is not None:
            self.events.append((self.now, ev))
            ev = self.m.next_event()

    def cmds(self, kind=None):
        return [(t, c) for t, c in self.log if kind is None or isinstance(c, kind)]

    def evs(self, kind=None):
        return [e for _, e in self.events if kind is None or isinstance(e, kind)]

    def take(self):
        log, ev = self.log, self.events
        self.log, self.events = [], []
        return [c for _, c in log], [e for _, e in ev]


def approx_times(pairs):
    return [(round(t, 6), c) for t, c in pairs]


# ---- digit maps ------------------------------------------------------------------


def test_digit_map_complete_full_partial_none():
    m = DigitMap("1xx|9x.|0[1-3]5|*[#5]")
    assert m.match("") == "partial"
    assert m.match("1") == "partial"
    assert m.match("123") == "complete"
    assert m.match("9") == "full"                    # 9 then nothing is allowed, more too
    assert m.match("95551234") == "full"
    assert m.match("025") == "complete"
    assert m.match("045") == "none"
    assert m.match("*#") == "complete"
    assert m.match("5") == "none"
    assert m.match("1234") == "none"


@pytest.mark.parametrize("bad", ["", ".1", "1[2", "1[9-2]", "1?"])
def test_digit_map_rejects_bad_patterns(bad):
    with pytest.raises(ValueError):
        DigitMap(bad)


def test_caller_id_durations():
    # 300 seizure + 180 mark + (2 + 10 + 13 + 6 + 1) bytes * 10 bits at 1200 bit/s
    assert A.fsk_caller_id_seconds("13800138000", "ACME") == pytest.approx((480 + 320) / 1200)
    assert A.dtmf_caller_id_seconds("123") == pytest.approx(5 * 0.14)
    assert A.DTMF_FREQS["5"] == (770, 1336) and A.DTMF_FREQS["D"] == (941, 1633)


# ---- FXS: outgoing ---------------------------------------------------------------------


def test_fxs_off_hook_dial_tone_digits_terminator_then_connect_and_hang_up():
    d = Drive(Fxs())
    d.rx(0.0, Hook(True))
    assert d.take() == ([StartTone("dial")], [LineOffHook(1)])
    assert d.m.state is FxsState.DIAL_TONE
    d.rx(1.0, DigitDetected("8"))
    assert d.take() == ([StopTone()], [])
    for i, x in enumerate("001#"):
        d.rx(1.5 + i * 0.3, DigitDetected(x))
    assert d.take() == ([], [DigitsCollected(1, "8001", "terminator")])
    assert d.m.state is FxsState.ROUTING
    d.tx(3.0, Progress("ringback"))
    d.tx(8.0, Connected())
    assert d.take() == ([StartTone("ringback"), StopTone()], [])
    assert d.m.state is FxsState.CONNECTED
    d.rx(60.0, Hook(False))
    assert d.take() == ([], [Disconnected(1, "on_hook")])
    assert d.m.state is FxsState.IDLE and d.m.get_timer() is None


def test_fxs_interdigit_timeout_completes_the_number():
    d = Drive(Fxs(FxsConfig(interdigit_timeout=4.0)))
    d.rx(0.0, Hook(True)).rx(1.0, DigitDetected("1")).rx(2.0, DigitDetected("2"))
    d.to(5.99)
    assert d.evs(DigitsCollected) == []
    d.to(6.0)
    assert d.evs(DigitsCollected) == [DigitsCollected(1, "12", "timeout")]
    assert [t for t, e in d.events if isinstance(e, DigitsCollected)] == [6.0]


def test_fxs_max_digits_and_digit_map():
    d = Drive(Fxs(FxsConfig(max_digits=3, terminator=None)))
    d.rx(0, Hook(True))
    for x in "1234":
        d.rx(1, DigitDetected(x))
    assert d.evs(DigitsCollected) == [DigitsCollected(1, "123", "max")]

    d = Drive(Fxs(FxsConfig(digit_map="1xx|9x.")))
    d.rx(0, Hook(True))
    for x in "101":
        d.rx(1, DigitDetected(x))
    assert d.evs(DigitsCollected) == [DigitsCollected(1, "101", "map")]

    d = Drive(Fxs(FxsConfig(digit_map="1xx|9x.")))
    d.rx(0, Hook(True)).rx(1, DigitDetected("5"))
    assert d.evs(DigitsCollected) == [DigitsCollected(1, "5", "nomatch")]

    d = Drive(Fxs(FxsConfig(digit_map="1xx|9x.")))
    d.rx(0, Hook(True)).rx(1, DigitDetected("9")).rx(2, DigitDetected("5"))
    d.to(5.9)
    assert d.evs(DigitsCollected) == []                 # could go on: wait
    d.to(6.0)
    assert d.evs(DigitsCollected) == [DigitsCollected(1, "95", "timeout")]


def test_fxs_first_digit_timeout_gives_howler_until_on_hook():
    d = Drive(Fxs(FxsConfig(first_digit_timeout=10.0)))
    d.rx(0, Hook(True)).to(9.9)
    assert d.evs(Disconnected) == []
    d.to(10.0)
    assert d.cmds()[-1] == (10.0, StartTone("howler"))
    assert d.evs(Disconnected) == [Disconnected(1, "no_digits")]
    assert d.m.state is FxsState.RELEASED
    d.rx(12.0, DigitDetected("1"))                  # too late: nothing
    d.rx(20.0, Hook(False))
    assert d.cmds()[-1] == (20.0, StopTone())
    assert d.evs(Disconnected) == [Disconnected(1, "no_digits")]    # only one
    assert d.m.state is FxsState.IDLE

    d = Drive(Fxs(FxsConfig(timeout_tone="congestion")))
    d.rx(0, Hook(True)).to(11)
    assert StartTone("congestion") in [c for _, c in d.log]


def pulses(d, t, n, brk=60, period=0.1):
    """A decadic digit: n breaks of ``brk`` ms at 10 pps; the board reports each at the make."""
    for i in range(n):
        d.rx(t + i * period + brk / 1000.0, Flash(brk))
    return t + n * period


def test_fxs_pulse_dialling_is_decoded_from_short_breaks():
    d = Drive(Fxs(FxsConfig(max_digits=3)))
    d.rx(0, Hook(True))
    t = pulses(d, 1.0, 3)
    assert d.cmds(StopTone) == [(1.06, StopTone())]         # dial tone off at the first break
    t = pulses(d, t + 0.7, 10)                               # ten pulses are 0
    t = pulses(d, t + 0.7, 1, brk=80)                        # a 67 ms break seen at 20 ms ticks
    d.to(t + 1)
    assert d.evs(DigitsCollected) == [DigitsCollected(1, "301", "max")]
    # 12 pulses are no digit
    d = Drive(Fxs())
    d.rx(0, Hook(True))
    pulses(d, 1.0, 12)
    d.to(3.0)
    assert d.m.digits == "" and d.m.counters["bad_pulse_trains"] == 1
    assert d.m.state is FxsState.DIAL_TONE and d.m.tone == "dial"
    # a longer break while dialling is not a pulse and not a flash event
    d.rx(3.5, DigitDetected("4")).rx(3.6, Flash(300))
    assert d.evs(HookFlash) == [] and d.m.state is FxsState.COLLECTING


def test_fxs_hook_flash_in_a_call_goes_to_the_cti():
    d = Drive(Fxs())
    d.rx(0, Hook(True)).rx(1, DigitDetected("1")).rx(1.1, DigitDetected("#"))
    d.tx(2, Connected())
    d.rx(10, Flash(250)).rx(11, Flash(50))      # a short break in a call is bounce: nothing
    assert d.evs(HookFlash) == [HookFlash(1, 250)]
    assert d.m.state is FxsState.CONNECTED


# ---- FXS: incoming --------------------------------------------------------------------


def ring_times(d):
    return [(round(t, 6), c.on) for t, c in d.cmds(SetRing)]


def test_fxs_rings_with_china_cadence_and_caller_id_between_first_and_second_ring():
    d = Drive(Fxs())
    call = d.tx(0.0, Alert("13800138000", "ACME"))
    assert call == 1 and d.m.state is FxsState.RINGING
    d.to(15.2)
    assert ring_times(d) == [(0, True), (1, False), (5, True), (6, False), (10, True),
                             (11, False), (15, True)]
    (t, cid), = d.cmds(SendCallerId)
    assert cid == SendCallerId("13800138000", "ACME", "fsk", t) and t == pytest.approx(1.5)
    end = t + A.fsk_caller_id_seconds("13800138000", "ACME")
    assert t - 1.0 >= 0.5 - 1e-9                 # >= 500 ms after the first ring
    assert 5.0 - end >= 0.2                      # >= 200 ms before the second
    # the phone answers during a ring: ring trip at once
    d.rx(15.5, Hook(True))
    assert d.log[-1] == (15.5, SetRing(False))
    assert d.evs(Answered) == [Answered(1, "off_hook")]
    d.to(60)
    assert d.cmds(SetRing)[-1][1] == SetRing(False) and d.m.state is FxsState.CONNECTED


def test_fxs_uk_cadence_puts_caller_id_in_the_long_silence():
    d = Drive(Fxs(FxsConfig(cadence=A.RING_CADENCES["uk"])))
    d.tx(0.0, Alert("01632960000"))
    d.to(6.1)
    assert ring_times(d) == [(0, True), (0.4, False), (0.6, True), (1.0, False), (3.0, True),
                             (3.4, False), (3.6, True), (4.0, False), (6.0, True)]
    (t, cid), = d.cmds(SendCallerId)
    assert t == pytest.approx(1.5) and cid.name is None
    assert 3.0 - (t + A.fsk_caller_id_seconds("01632960000")) >= 0.2


def test_fxs_stretches_a_short_silence_to_fit_caller_id():
    cfg = FxsConfig(cadence=(1.0, 0.5))
    d = Drive(Fxs(cfg))
    name = "A VERY LONG CALLER NAME"
    d.tx(0.0, Alert("13800138000", name))
    d.to(6)
    (t, _), = d.cmds(SendCallerId)
    second = ring_times(d)[2]
    assert second[1] is True
    assert second[0] - (t + A.fsk_caller_id_seconds("13800138000", name)) >= 0.2 - 1e-9
    # later silences keep the cadence
    assert ring_times(d)[3:5] == [(round(second[0] + 1.0, 6), False),
                                  (round(second[0] + 1.5, 6), True)]


def test_fxs_dtmf_caller_id_goes_before_the_first_ring_and_no_number_sends_none():
    d = Drive(Fxs(FxsConfig(caller_id="dtmf")))
    d.tx(0.0, Alert("123456"))
    d.to(3)
    assert d.cmds(SendCallerId) == [(0.0, SendCallerId("123456", None, "dtmf", 0.0))]
    assert ring_times(d)[0] == (round(A.dtmf_caller_id_seconds("123456") + 0.5, 6), True)
    d = Drive(Fxs())
    d.tx(0.0, Alert())
    d.to(20)
    assert d.cmds(SendCallerId) == []
    d = Drive(Fxs(FxsConfig(caller_id=None)))
    d.tx(0.0, Alert("123"))
    d.to(20)
    assert d.cmds(SendCallerId) == []


def test_fxs_answer_between_rings_and_during_the_caller_id_burst():
    d = Drive(Fxs())
    d.tx(0, Alert("13800138000"))
    d.to(1.55)
    d.take()
    d.rx(1.6, Hook(True))                        # the burst started at 1.5: stop it
    assert d.take() == ([CancelCallerId()], [Answered(1, "off_hook")])
    assert d.m.state is FxsState.CONNECTED and not d.m.ringing
    d = Drive(Fxs())
    d.tx(0, Alert("13800138000"))
    d.to(3.9)
    d.take()
    d.rx(4.0, Hook(True))                        # between rings, after the burst
    assert d.take() == ([], [Answered(1, "off_hook")])
    d.to(30)
    assert d.cmds(SetRing) == []                 # never rings again


def test_fxs_release_stops_ringing_and_busy_phone_refuses_alert():
    d = Drive(Fxs())
    d.tx(0, Alert("1"))
    d.tx(0.5, Release("ring_no_answer"))
    assert d.cmds(SetRing)[-1] == (0.5, SetRing(False))
    assert d.evs(Disconnected) == [Disconnected(1, "ring_no_answer")]
    d.to(100)
    assert len(d.cmds(SetRing)) == 2 and d.m.state is FxsState.IDLE
    d.tx(101, Release())                         # stale: ignored
    assert d.m.counters["stale_requests"] == 1

    d = Drive(Fxs())
    d.rx(0, Hook(True))
    call = d.tx(1, Alert("1"))
    assert call == 2 and d.evs(Disconnected) == [Disconnected(2, "busy")]
    assert d.cmds(SetRing) == [] and d.m.state is FxsState.DIAL_TONE and d.m.call == 1
    with pytest.raises(AnalogError):
        d.tx(2, Dial("1"))
    with pytest.raises(AnalogError):
        d.tx(2, Alert("1", cadence=(1.0,)))
    assert d.m.state is FxsState.DIAL_TONE


def test_fxs_remote_disconnect_drops_battery_then_busy_then_howler():
    d = Drive(Fxs())
    d.rx(0, Hook(True)).rx(1, DigitDetected("#"))
    d.tx(2, Connected())
    d.take()
    d.tx(30, Release("remote"))
    assert d.evs(Disconnected) == [Disconnected(1, "remote")]
    d.to(100)
    assert approx_times(d.cmds()) == [(30, SetBattery(False)), (30.6, SetBattery(True)),
                                      (30.6, StartTone("busy")), (60.6, StartTone("howler"))]
    assert d.m.state is FxsState.RELEASED
    d.take()
    d.rx(101, Hook(False))
    assert d.take() == ([StopTone()], [])
    assert d.m.state is FxsState.IDLE


def test_fxs_answer_and_disconnect_by_polarity():
    d = Drive(Fxs(FxsConfig(answer_polarity=True, disconnect=("polarity", "tone"))))
    d.rx(0, Hook(True)).rx(1, DigitDetected("#"))
    d.tx(2, Connected())
    assert d.cmds(SetPolarity) == [(2, SetPolarity(True))]
    d.tx(9, Release("remote"))
    assert d.cmds()[-2:] == [(9, SetPolarity(False)), (9, StartTone("busy"))]
    d.rx(10, Hook(False))
    assert d.m.state is FxsState.IDLE and not d.m.reversed


def test_fxs_on_hook_while_dialling_ends_the_call():
    d = Drive(Fxs())
    d.rx(0, Hook(True)).rx(1, DigitDetected("5")).rx(2, Hook(False))
    assert d.evs() == [LineOffHook(1), Disconnected(1, "on_hook")]
    assert d.m.get_timer() is None


# ---- FXO: incoming ----------------------------------------------------------------------


def test_fxo_incoming_with_fsk_caller_id_between_rings_then_answered():
    d = Drive(Fxo())
    d.rx(0, Ring(True))
    assert d.m.state is FxoState.ALERTING and d.evs() == []
    d.rx(1, Ring(False)).rx(2.0, CallerIdReceived("13800138000", "ACME", "fsk"))
    assert d.evs() == [CallOffered(1, "13800138000", "ACME")]
    d.rx(5, Ring(True)).rx(6, Ring(False))
    assert len(d.evs()) == 1                     # offered once
    d.tx(7, Answer())
    assert d.cmds() == [(7, Seize(True))]
    assert d.evs()[-1] == Answered(1, "seized") and d.m.state is FxoState.CONNECTED
    d.to(60)
    assert d.m.state is FxoState.CONNECTED       # rings stopped after answer: no abandon


def test_fxo_incoming_without_caller_id_is_offered_on_the_second_ring():
    d = Drive(Fxo())
    d.rx(0, Ring(True)).rx(1, Ring(False)).to(4.99)
    assert d.evs() == []
    d.rx(5, Ring(True))
    assert d.evs() == [CallOffered(1, None, None)]


def test_fxo_dtmf_caller_id_before_the_first_ring():
    d = Drive(Fxo())
    d.rx(0, CallerIdReceived("5551234", None, "dtmf")).rx(1.5, Ring(True))
    assert d.evs() == [CallOffered(1, "5551234", None)]
    # an old one does not stick to a later call
    d = Drive(Fxo(FxoConfig(pre_ring_cid_window=6.0)))
    d.rx(0, CallerIdReceived("5551234")).rx(10, Ring(True)).rx(11, Ring(False)).rx(15, Ring(True))
    assert d.evs() == [CallOffered(1, None, None)]


def test_fxo_caller_gives_up_and_single_ring_leaves_no_call():
    d = Drive(Fxo())
    d.rx(0, Ring(True)).rx(1, Ring(False)).rx(5, Ring(True)).rx(6, Ring(False))
    d.to(11.99)
    assert d.evs(Disconnected) == []
    d.to(12.0)
    assert d.evs(Disconnected) == [Disconnected(1, "abandoned")]
    assert d.m.state is FxoState.IDLE
    d = Drive(Fxo())
    d.rx(0, Ring(True)).rx(1, Ring(False)).to(20)
    assert d.evs() == [] and d.m.state is FxoState.IDLE and d.m.counters["unoffered_rings"] == 1


def test_fxo_release_of_an_offered_call_lets_it_ring_out():
    d = Drive(Fxo())
    d.rx(0, Ring(True)).rx(1, Ring(False)).rx(5, Ring(True))
    d.tx(5.5, Release("rejected"))
    assert d.evs(Disconnected) == [Disconnected(1, "rejected")] and d.cmds() == []
    d.rx(6, Ring(False)).rx(10, Ring(True)).rx(11, Ring(False))
    assert d.m.state is FxoState.IGNORING and len(d.evs(CallOffered)) == 1
    d.to(17)
    assert d.m.state is FxoState.IDLE


# ---- FXO: outgoing ----------------------------------------------------------------------


def dial_out(cfg=None, digits="12345"):
    d = Drive(Fxo(cfg))
    call = d.tx(0, Dial(digits))
    assert call == 1 and d.cmds() == [(0, Seize(True))] and d.m.state is FxoState.SEIZING
    d.rx(0.4, ToneDetected("dial"))
    assert d.cmds()[-1] == (0.4, DialDigits(digits)) and d.m.state is FxoState.DIALING
    d.rx(1.5, ToneDone(True))
    assert d.m.state is FxoState.PROCEEDING
    return d


def test_fxo_dial_out_answered_by_voice_after_ringback():
    d = dial_out()
    d.rx(2, ToneDetected("ringback")).rx(3, ToneDetected("silence")).rx(6, ToneDetected("ringback"))
    d.rx(9, ToneDetected("voice"))
    assert d.evs() == [CallProgress(1, "ringback"), Answered(1, "voice")]
    d.tx(30, Release())
    assert d.evs()[-1] == Disconnected(1, "released") and d.cmds()[-1] == (30, Seize(False))
    assert d.m.state is FxoState.GUARD
    d.to(31)
    assert d.m.state is FxoState.IDLE


def test_fxo_voice_without_ringback_is_progress_not_answer():
    d = dial_out()
    d.rx(2, ToneDetected("voice"))
    assert d.evs() == [CallProgress(1, "voice")] and d.m.state is FxoState.PROCEEDING
    d = dial_out(FxoConfig(answer_on_voice_without_ringback=True))
    d.rx(2, ToneDetected("voice"))
    assert d.evs() == [Answered(1, "voice")]


def test_fxo_answer_by_polarity_reversal_and_disconnect_by_reversal_back():
    d = dial_out()
    d.rx(4, ToneDetected("ringback")).rx(8, Polarity(True))
    assert d.evs()[-1] == Answered(1, "polarity")
    d.rx(40, Polarity(False))
    assert d.evs()[-1] == Disconnected(1, "polarity") and d.cmds()[-1] == (40, Seize(False))
    d.to(40.99)
    assert d.m.state is FxoState.GUARD
    d.to(41)
    assert d.m.state is FxoState.IDLE


def test_fxo_late_answer_reversal_after_voice_is_absorbed_when_configured():
    d = dial_out(FxoConfig(line_reverses_on_answer=True))
    d.rx(2, ToneDetected("ringback")).rx(5, ToneDetected("voice")).rx(5.2, Polarity(True))
    assert d.m.state is FxoState.CONNECTED
    d.rx(20, Polarity(False))
    assert d.evs()[-1] == Disconnected(1, "polarity")


@pytest.mark.parametrize("tone", ["busy", "congestion"])
def test_fxo_busy_or_congestion_fails_the_call(tone):
    d = dial_out()
    d.rx(3, ToneDetected(tone))
    assert d.evs() == [Disconnected(1, tone)] and d.cmds()[-1] == (3, Seize(False))


def test_fxo_no_dial_tone_fails_or_dials_blind():
    d = Drive(Fxo())
    d.tx(0, Dial("1"))
    d.to(2.99)
    assert d.evs() == []
    d.to(3.0)
    assert d.evs() == [Disconnected(1, "no_dial_tone")] and d.cmds()[-1] == (3.0, Seize(False))
    d = Drive(Fxo(FxoConfig(blind_dial=True, dial_tone_timeout=2.0)))
    d.tx(0, Dial("99"))
    d.to(2.0)
    assert d.cmds()[-1] == (2.0, DialDigits("99"))
    d.to(2.0 + 1.0 + 0.4)                         # no ToneDone: the dialling timer ends it
    assert d.m.state is FxoState.PROCEEDING


def test_fxo_no_answer_timeout():
    d = dial_out(FxoConfig(no_answer_timeout=30.0))
    d.to(31.5)
    assert d.evs() == [Disconnected(1, "no_answer")]


# ---- FXO: disconnect supervision ----------------------------------------------------------


def answered_incoming(cfg=None):
    d = Drive(Fxo(cfg))
    d.rx(0, Ring(True)).rx(1, Ring(False)).rx(2, CallerIdReceived("1"))
    d.tx(3, Answer())
    assert d.m.state is FxoState.CONNECTED
    d.take()
    return d


def test_fxo_battery_drop_disconnect_is_debounced():
    d = answered_incoming()
    d.rx(10.0, Battery(False)).rx(10.1, Battery(True))      # a 100 ms drop: ignored
    d.to(20)
    assert d.evs() == [] and d.m.state is FxoState.CONNECTED
    d.rx(20.0, Battery(False)).to(20.29)
    assert d.evs() == []
    d.to(20.3)
    assert d.evs() == [Disconnected(1, "loop_drop")] and d.cmds() == [(20.3, Seize(False))]
    d.rx(20.5, Battery(True)).to(30)
    assert d.m.state is FxoState.IDLE


def test_fxo_disconnect_by_polarity_and_by_tones_after_the_call():
    d = answered_incoming()
    d.rx(9, Polarity(True))
    assert d.evs() == [Disconnected(1, "polarity")]
    for tone in ("busy", "congestion", "dial"):
        d = answered_incoming()
        d.rx(9, ToneDetected("ringback")).rx(9.5, ToneDetected("voice"))
        assert d.m.state is FxoState.CONNECTED
        d.rx(10, ToneDetected(tone))
        assert d.evs() == [Disconnected(1, tone + "_tone")]
    d = answered_incoming(FxoConfig(polarity_disconnect=False))
    d.rx(9, Polarity(True))
    assert d.m.state is FxoState.CONNECTED


# ---- FXO: glare and the guard time ---------------------------------------------------------


def test_fxo_glare_dial_while_ringing_never_seizes():
    d = Drive(Fxo())
    d.rx(0, Ring(True))
    call = d.tx(0.5, Dial("123"))
    assert d.evs() == [Disconnected(call, "glare")] and d.cmds() == []
    assert d.m.state is FxoState.ALERTING and not d.m.seized


def test_fxo_glare_ring_while_seizing_becomes_the_incoming_call():
    d = Drive(Fxo())
    d.tx(0, Dial("123"))
    d.rx(0.1, Ring(True))
    assert d.evs() == [Disconnected(1, "glare"), CallOffered(2, None, None, glare=True),
                       Answered(2, "glare")]
    assert d.m.state is FxoState.CONNECTED and d.m.seized
    assert d.cmds() == [(0, Seize(True))]


def test_fxo_guard_time_refuses_dial_and_a_ring_in_it_starts_the_next_call():
    d = dial_out()
    d.tx(2, Release())
    call = d.tx(2.5, Dial("1"))
    assert d.evs()[-1] == Disconnected(call, "port_busy")
    d.rx(2.6, Ring(True)).to(3.0)
    assert d.m.state is FxoState.ALERTING
    d.rx(3.6, Ring(False)).rx(4.0, CallerIdReceived("77"))
    assert d.evs()[-1] == CallOffered(3, "77", None)


def test_fxo_dial_on_a_dead_line_and_bad_digits():
    d = Drive(Fxo())
    d.rx(0, Battery(False))
    call = d.tx(1, Dial("1"))
    assert d.evs() == [Disconnected(call, "line_down")] and d.cmds() == []
    d = Drive(Fxo())
    with pytest.raises(AnalogError):
        d.tx(0, Dial("12x"))
    assert d.m.state is FxoState.IDLE and d.cmds() == [] and d.m.call is None
    with pytest.raises(AnalogError):
        d.tx(0, Alert("1"))


# ---- hypothesis: random orders and timings -------------------------------------------------


def check_calls_end(events):
    """Every call that appeared has exactly one Disconnected, and nothing after it."""
    ended: dict[int, int] = {}
    seen = set()
    for ev in events:
        call = ev.call
        assert call not in ended, f"event after the end of call {call}: {ev}"
        seen.add(call)
        if isinstance(ev, Disconnected):
            ended[call] = 1
    assert seen == set(ended), f"calls that never ended: {seen - set(ended)}"


fxs_inputs = st.one_of(
    st.builds(Hook, st.booleans()),
    st.builds(Flash, st.integers(40, 749)),
    st.builds(DigitDetected, st.sampled_from("0123456789*#")),
    st.builds(ToneDone, st.booleans()),
    st.builds(Ring, st.booleans()),
)
fxs_requests = st.one_of(
    st.builds(Alert, st.sampled_from([None, "1", "13800138000"]),
              st.sampled_from([None, "ACME"]),
              st.sampled_from([None, (0.4, 0.2, 0.4, 2.0), (0.2, 0.1)])),
    st.builds(Release, st.sampled_from(["remote", "ring_no_answer"])),
    st.builds(Progress, st.sampled_from([None, "ringback", "busy"])),
    st.just(Connected()),
)
steps = st.floats(0.0, 6.0, allow_nan=False)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def run_random(m, plan):
    d = Drive(m)
    t = 0.0
    for dt, item, is_request in plan:
        t += dt
        if is_request:
            d.tx(t, item)
        else:
            d.rx(t, item)
        assert m.invariant_violations() == [], (item, m.state)
    return d, t


@SETTINGS
@given(st.lists(st.tuples(steps, st.one_of(fxs_inputs, fxs_requests)), max_size=40),
       st.sampled_from([FxsConfig(), FxsConfig(caller_id="dtmf", disconnect=("polarity",),
                                               answer_polarity=True, digit_map="1xx|9x."),
                        FxsConfig(cadence=(0.4, 0.2, 0.4, 2.0), disconnect=("tone",))]))
def test_fxs_random_events_keep_invariants_and_every_call_ends(plan, cfg):
    m = Fxs(cfg)
    plan = [(dt, x, not isinstance(x, (Hook, Flash, DigitDetected, ToneDone, Ring)))
            for dt, x in plan]
    d, t = run_random(m, plan)
    # ringing on and off alternate, and never start while off hook (checked each step above)
    ons = [c.on for _, c in d.cmds(SetRing)]
    assert all(a != b for a, b in zip(ons, ons[1:])) and (not ons or ons[0])
    # wind down: the phone hangs up, ringing is stopped, time passes
    d.tx(t + 1, Release("end"))
    d.rx(t + 2, Hook(False))
    d.to(t + 300)
    assert m.state is FxsState.IDLE and m.invariant_violations() == [] and not m.ringing
    check_calls_end(d.evs())


fxo_inputs = st.one_of(
    st.builds(Ring, st.booleans()),
    st.builds(CallerIdReceived, st.sampled_from(["1", "13800138000", None]), st.none()),
    st.builds(Polarity, st.booleans()),
    st.builds(Battery, st.booleans()),
    st.builds(ToneDetected, st.sampled_from(["dial", "ringback", "busy", "congestion", "voice",
                                             "silence"])),
    st.builds(ToneDone, st.booleans()),
    st.builds(DigitDetected, st.sampled_from("12#")),
)
fxo_requests = st.one_of(st.just(Answer()), st.builds(Dial, st.sampled_from(["1", "12345"])),
                         st.builds(Release, st.just("local")))


@SETTINGS
@given(st.lists(st.tuples(steps, st.one_of(fxo_inputs, fxo_requests)), max_size=40),
       st.sampled_from([FxoConfig(), FxoConfig(blind_dial=True, line_reverses_on_answer=True,
                                               answer_on_voice_without_ringback=True)]))
def test_fxo_random_events_keep_invariants_and_every_call_ends(plan, cfg):
    m = Fxo(cfg)
    plan = [(dt, x, isinstance(x, (Answer, Dial, Release))) for dt, x in plan]
    d, t = run_random(m, plan)
    seizes = [c.off_hook for _, c in d.cmds(Seize)]
    assert all(a != b for a, b in zip(seizes, seizes[1:])) and (not seizes or seizes[0])
    d.rx(t + 0.5, Ring(False))
    d.tx(t + 1, Release("end"))
    d.rx(t + 1, Battery(True))
    d.to(t + 300)
    assert m.state is FxoState.IDLE and not m.seized and m.invariant_violations() == []
    check_calls_end(d.evs())


# ---- the AnalogPort shell on the simulated world ----------------------------------------------

from drivers.board import Audio  # noqa: E402
from drivers.codecs import alaw_decode  # noqa: E402
from simulators.world import SimWorld  # noqa: E402


@pytest.fixture
def world():
    w = SimWorld(spans=[], ports=["fxs", "fxo"], seed=3)
    yield w
    w.close()


def calls_of(events):
    return [e.event for e in events if isinstance(e, A.AnalogCallEvent)]


def goertzel_power(samples, freq):
    w = 2 * math.pi * freq / 8000.0
    c = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + c * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - c * s1 * s2) / max(1, len(samples)) ** 2


def listen(board, port, store):
    """Keep the Audio events of a port of the phones' or the exchange's board (the world
    hands a phone or a CO line only the events that carry a ``port``)."""
    tick = board.tick

    def wrapped():
        events = tick()
        store.extend(e for e in events if isinstance(e, Audio) and e.timeslot == port)
        return events
    board.tick = wrapped


def pcm(audio_events):
    raw = b"".join(alaw_decode(e.data) for e in audio_events)
    return struct.unpack(f"<{len(raw) // 2}h", raw)


def test_port_rings_the_simulated_phone_with_cadence_and_trips_on_answer(world):
    ports = A.attach(world.board)
    fxs = ports[1]
    phone = world.phones[1]
    fxs.send(world.board.line_seconds, Alert("13800138000", "ACME"))
    trace = []
    for _ in range(int(7.0 / 0.02)):
        world.tick()
        trace.append((world.now_ms, phone.ringing))
    edges = [ms for (ms, r), (_, prev) in zip(trace[1:], trace) if r != prev]
    assert trace[0][1] is True
    # off after 1 s, on again 4 s later, off after 1 s (within a tick or two of travel)
    assert [round(e / 1000, 1) for e in edges] == pytest.approx([1.0, 5.0, 6.0], abs=0.06)
    # the FSK burst went out between the first and second ring and the phone decoded it
    assert not fxs.unhandled
    assert phone.caller_id is not None
    assert (phone.caller_id.number, phone.caller_id.name) == ("13800138000", "ACME")
    assert len(phone.caller_ids) == 1
    # answer in the third ring: ring trip
    world.run(3100)
    assert phone.ringing
    phone.lift()
    evs = calls_of(world.run(100))
    assert evs == [Answered(1, "off_hook")]
    assert not phone.ringing and not world.board.ports[1].status()["ringing"]
    phone.hang_up()
    evs = calls_of(world.run(1000))
    assert evs == [Disconnected(1, "on_hook")]     # the board reports on-hook after 750 ms


def test_port_phone_dials_by_pulses_hears_dial_tone_and_flashes(world):
    ports = A.attach(world.board, fxs=FxsConfig(max_digits=2))
    phone = world.phones[1]
    heard = []
    listen(world.phones_board, 1, heard)
    phone.tap(True)
    phone.lift()
    evs = calls_of(world.run(400))
    assert evs == [LineOffHook(1)]
    heard.clear()
    world.run(200)
    assert goertzel_power(pcm(heard), 450) > 100 * goertzel_power(pcm(heard), 1000)

    def dial(digit, start_ms):
        n = 10 if digit == 0 else digit
        for i in range(n):
            world.after(start_ms + i * 100, lambda: phone.flash(60))
        return start_ms + n * 100 + 600

    t = dial(2, 0)
    t = dial(5, t)
    evs = calls_of(world.run(t + 500))
    assert evs == [DigitsCollected(1, "25", "max")]
    heard.clear()
    world.run(200)
    assert max(abs(x) for x in pcm(heard)) < 50       # dial tone gone
    fxs = ports[1]
    fxs.send(world.board.line_seconds, Connected())
    phone.flash(300)
    assert calls_of(world.run(500)) == [HookFlash(1, 300)]
    # the far end hangs up: open-loop disconnect the phone can see, then busy tone
    seen = []
    orig = phone._event
    phone._event = lambda ev: (seen.append(ev), orig(ev))
    fxs.send(world.board.line_seconds, Release("remote"))
    world.run(1500)
    assert [e.on for e in seen if type(e).__name__ == "Battery"] == [False, True]
    assert fxs.machine.state is FxsState.RELEASED


def test_port_fxo_detects_the_exchange_ringing_and_seizes_to_answer(world):
    ports = A.attach(world.board)
    fxo = ports[2]
    line = world.lines[2]
    evs = []
    for at, on in ((0, True), (1000, False), (5000, True), (6000, False)):
        world.after(at, lambda on=on: line.ring(on))
    evs += calls_of(world.run(2000))
    assert evs == [] and fxo.machine.state is FxoState.ALERTING
    # the caller ID receiver is the DSP's: feed its result between the rings
    fxo.feed(world.board.line_seconds, CallerIdReceived("13800138000", "ACME", "fsk"))
    evs += calls_of(world.run(100))
    assert evs == [CallOffered(1, "13800138000", "ACME")]
    fxo.send(world.board.line_seconds, Answer())
    evs = calls_of(world.run(100))
    assert evs == [Answered(1, "seized")]
    assert line.looped and world.board.ports[2].status()["hook"] == "off"
    line.ring(False)
    # a 100 ms loop-current drop is ignored, a long one ends the call
    line.battery(False)
    world.after(100, lambda: line.battery(True))
    evs = calls_of(world.run(1000))
    assert evs == [] and line.looped
    line.battery(False)
    evs = calls_of(world.run(500))
    assert evs == [Disconnected(1, "loop_drop")]
    line.battery(True)
    world.run(1200)
    assert not line.looped           # the exchange sees on-hook after its flash limit
    assert fxo.machine.state is FxoState.IDLE


def test_port_fxo_dials_out_with_dtmf_and_sees_answer_by_reversal(world):
    ports = A.attach(world.board)
    fxo = ports[2]
    line = world.lines[2]
    heard = []
    listen(world.exchange, 1, heard)
    line._p.tap(True)
    fxo.send(world.board.line_seconds, Dial("19"))
    world.run(100)
    assert line.looped
    heard.clear()
    line._p.detect("dtmf")                              # the exchange's digit receiver
    fxo.feed(world.board.line_seconds, ToneDetected("dial"))
    got = []
    for i in range(23):
        world.tick()
        got += [e.digit for e in world.exchange_events if type(e).__name__ == "DigitDetected"]
        if i == 2:
            first = pcm(heard)                           # 60 of the first digit's 80 ms (Q.23)
            assert goertzel_power(first, 697) > 100 * goertzel_power(first, 941)
            assert goertzel_power(first, 1209) > 100 * goertzel_power(first, 1477)
    assert "".join(got) == "19"                          # what the exchange decoded
    assert fxo.machine.state is FxoState.PROCEEDING      # the generator said ToneDone
    line.reverse_polarity(True)
    evs = calls_of(world.run(100))
    assert evs == [Answered(1, "polarity")]
    line.reverse_polarity(False)
    evs = calls_of(world.run(100))
    assert evs == [Disconnected(1, "polarity")]
    assert world.board.ports[2].status()["hook"] == "on"


def test_analog_call_event_to_dict_and_port_checks(world):
    ev = A.AnalogCallEvent(5, 1, DigitsCollected(3, "123", "max"))
    assert ev.topic == "channel.digits_collected"
    assert ev.to_dict() == {"type": "digits_collected", "tick": 5, "port": 1, "call": 3,
                            "digits": "123", "reason": "max"}
    with pytest.raises(ValueError):
        A.AnalogPort(world.board.ports[1], Fxo())
    with pytest.raises(ValueError):
        A.AnalogPort(world.board.ports[1], tone_plan="mars")
