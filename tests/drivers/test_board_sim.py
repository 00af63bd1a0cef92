"""The software board end to end: real HDB3 bits over a virtual cable to a
simulated exchange, faults injected on the line, alarms and counters as a
technician reads them, BERT, D-channel, CAS, tones and analog lines."""
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drivers.board import (Audio, Battery, CasChanged, DFrame, Flash, Hook, Polarity, Ring,
                           SpanAlarm, SpanConfig, ToneDone)
from drivers.hal import HalError, NoSuchChannel, NoSuchSpan
from simulators.world import SimWorld
from tests.audio import power     # Goertzel power of one frequency

ERRORS = ("fas_errors", "crc4_errors", "ebit_errors", "bpv", "slips")


@pytest.fixture
def world():
    w = SimWorld(seed=7)
    yield w
    w.close()


def synced(world, ms=500):
    events = world.run(ms)
    for span in world.board.spans.values():
        assert span.status()["in_sync"], span.status()
    return events


def test_spans_come_into_sync_with_zero_error_counters(world):
    events = synced(world)
    alarm_events = [e for e in events if isinstance(e, SpanAlarm)]
    # both spans start in LOS/LOF and clear it within the first ticks
    assert {e.span for e in alarm_events} == {1, 2}
    for span in world.board.spans.values():
        st = span.status()
        assert st["alarms"] == []
        assert all(st["counters"][k] == 0 for k in ERRORS), st["counters"]
        assert st["counters"]["frames_rx"] > 3000
        far = world.exchange.spans[span.number].status()
        assert far["alarms"] == [] and far["in_sync"]


def test_los_raises_los_here_and_rai_at_the_far_end_then_recovers(world):
    synced(world)
    world.cable(1).fault(los=True, direction="to_board")
    events = world.run(200)
    assert "LOS" in world.board.spans[1].alarms()
    assert any(isinstance(e, SpanAlarm) and "LOS" in e.raised for e in events)
    assert "RAI" in world.exchange.spans[1].alarms()
    assert world.board.spans[2].alarms() == ()       # the other span is untouched
    world.cable(1).clear()
    recovered_at = None
    for tick in range(1, 51):                        # one second of line time
        world.tick()
        if not world.board.spans[1].alarms() and not world.exchange.spans[1].alarms():
            recovered_at = tick * world.tick_ms
            break
    assert recovered_at is not None and recovered_at <= 1000
    assert world.board.spans[1].counters()["los_events"] >= 1


def test_ber_makes_crc4_and_ebit_errors_climb(world):
    synced(world)
    world.board.spans[1].reset_counters()
    world.cable(1).fault(ber=1e-3)
    before = world.board.spans[1].counters()
    world.run(1000)
    after = world.board.spans[1].counters()
    assert after["crc4_errors"] > before["crc4_errors"] + 100
    assert after["ebit_errors"] > before["ebit_errors"] + 100
    assert after["bpv"] <= 2                          # re-coded: the line is valid HDB3
    assert world.board.spans[1].status()["in_sync"]   # 1e-3 is noisy, not a lost frame
    # span 2 has a clean cable
    assert all(v == 0 for k, v in world.board.spans[2].counters().items() if k in ERRORS)


def test_code_errors_on_the_line_show_as_bipolar_violations(world):
    synced(world)
    world.board.spans[1].reset_counters()
    world.cable(1).fault(code_errors=1e-4, direction="to_board")
    world.run(2000)
    c = world.board.spans[1].counters()
    corrupted = world.cable(1).stats()["to_board"]["code_errors"]
    assert corrupted > 300
    # a lost or extra pulse mostly breaks the alternation; some pass as HDB3 substitutions
    assert 0.5 * corrupted <= c["bpv"] <= corrupted
    assert c["crc4_errors"] > 0.5 * corrupted
    # E bits go the other way: the exchange saw no errors, we report ours to it
    assert c["ebit_errors"] < 0.05 * corrupted          # only when a hit lands on an E bit
    assert world.exchange.spans[1].counters()["ebit_errors"] > 0.5 * corrupted


def test_ais_and_lof_faults(world):
    synced(world)
    world.cable(2).fault(ais=True, direction="to_board")
    world.run(200)
    assert {"AIS", "LOF"} <= set(world.board.spans[2].alarms())
    assert "LOS" not in world.board.spans[2].alarms()
    world.cable(2).clear()
    world.cable(2).fault(lof=True, direction="to_board")
    world.run(200)
    alarms = set(world.board.spans[2].alarms())
    assert "LOF" in alarms and "AIS" not in alarms and "LOS" not in alarms
    assert "RAI" in world.exchange.spans[2].alarms()
    world.cable(2).clear()
    world.run(1000)
    assert world.board.spans[2].alarms() == ()


def test_clock_offset_makes_controlled_slips(world):
    synced(world)
    world.board.spans[1].reset_counters()
    world.cable(1).fault(slip_ppm=200.0, direction="to_board")   # 1.6 frames a second
    world.run(10_000)
    slips = world.board.spans[1].counters()["slips"]
    skew = world.cable(1).stats()["to_board"]["frames_skew"]
    assert skew == 16
    # one controlled slip per frame of offset, once the elastic store's few
    # frames of room for wander are used up
    assert skew - 6 <= slips <= skew
    assert world.board.spans[1].status()["in_sync"]
    assert world.board.spans[1].counters()["crc4_errors"] <= 2 * slips   # a slip may hit one SMF
    world.board.spans[1].reset_counters()
    world.cable(1).fault(slip_ppm=-200.0, direction="to_board")  # slow clock: frames repeated
    world.run(10_000)
    # the store first drains the few frames it had gained, then slips the other way
    assert 8 <= world.board.spans[1].counters()["slips"] <= 16


def test_bert_on_a_looped_span_measures_the_injected_ber(world):
    synced(world)
    world.cable(1).far_loopback("line")
    world.run(500)                               # realign to our own signal coming back
    assert world.board.spans[1].status()["in_sync"]
    world.board.spans[1].bert_start()
    world.run(500)
    assert world.board.spans[1].bert_status()["sync"]
    assert world.board.spans[1].bert_status()["errors"] == 0
    injected = 1e-4
    before = world.cable(1).stats()["to_exchange"]
    world.cable(1).fault(ber=injected, direction="to_exchange")
    world.board.spans[1].bert_start()            # restart the count with the fault on
    world.run(10_000)
    st = world.board.spans[1].bert_status()
    line = world.cable(1).stats()["to_exchange"]
    assert st["sync"] and st["bits"] > 15_000_000
    assert st["errors"] > 1000                   # enough errors to say within 20%
    # bits flipped on the line against bit errors the BERT saw in the payload
    line_ber = (line["bit_errors"] - before["bit_errors"]) / (line["bits"] - before["bits"])
    assert line_ber == pytest.approx(injected, rel=0.05)
    assert st["ber"] == pytest.approx(injected, rel=0.20), st


def test_dchannel_frames_cross_the_cable_both_ways():
    world = SimWorld(seed=7, signalling=False)     # raw HDLC frames, no LAPD on top
    synced(world)
    frames = [bytes([0x00, 0x01, 0x7F]) + bytes(range(n)) for n in (0, 1, 7, 50, 200)]
    for f in frames:
        world.board.spans[1].send_dframe(f)
        world.exchange.spans[1].send_dframe(f[::-1])
    got_here = []
    got_there = []
    for _ in range(20):
        got_here += [e.data for e in world.tick() if isinstance(e, DFrame)]
        got_there += [e.data for e in world.exchange_events if isinstance(e, DFrame)]
    assert got_there == frames
    assert got_here == [f[::-1] for f in frames]
    assert world.board.spans[1].counters()["hdlc_rx_frames"] == len(frames)
    assert world.board.spans[1].counters()["hdlc_fcs_errors"] == 0
    world.close()


def test_cas_bits_cross_the_cable():
    with SimWorld(spans=[SpanConfig(1, "cas", crc4=False)], ports=[]) as w:
        w.run(400)
        assert w.board.spans[1].status()["in_sync"]
        assert "CASMF" not in w.board.spans[1].alarms()
        assert w.board.spans[1].channels[5].cas_rx() == 0b1101     # idle
        w.exchange.spans[1].channels[5].cas_tx(0b0001)
        w.exchange.spans[1].channels[20].cas_tx(0b1001)
        events = w.run(100)
        cas = {(e.timeslot, e.abcd) for e in events if isinstance(e, CasChanged)}
        assert (5, 0b0001) in cas and (20, 0b1001) in cas
        assert w.board.spans[1].channels[20].show()["cas_rx"] == "1001"
        with pytest.raises(HalError):
            w.board.spans[1].channels[16].cas_tx(1)                  # TS16 is the CAS channel


def test_tone_on_a_timeslot_arrives_at_the_far_end(world):
    from drivers.codecs import alaw_decode
    synced(world)
    world.board.spans[1].channels[5].tone(1004, level_dbm0=-10, ms=200)
    world.exchange.spans[1].channels[5].tap(True)
    audio = b""
    done = []
    for _ in range(15):
        done += [e for e in world.tick() if isinstance(e, ToneDone)]
        audio += b"".join(e.data for e in world.exchange_events
                          if isinstance(e, Audio) and e.timeslot == 5)
    assert done and done[0].timeslot == 5
    pcm = alaw_decode(audio)
    samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm)
    loud = [x for x in samples if abs(x) > 1000]
    assert 1400 <= len(loud) <= 1700          # ~200 ms of tone, the rest silence
    seg = samples[samples.index(loud[0]):][:800]
    assert power(seg, 1004) > 100 * power(seg, 1400)
    rms = math.sqrt(sum(x * x for x in seg) / len(seg))
    # -10 dBm0: peak 22827 * 10^(-0.5), rms = peak / sqrt(2)
    assert rms == pytest.approx(22827 * 10 ** -0.5 / math.sqrt(2), rel=0.05)


def test_fxs_port_rings_the_phone_and_sees_hook_and_flash(world):
    phone = world.phones[1]
    world.board.ports[1].ring(True)
    world.run(40)
    assert phone.ringing
    world.board.ports[1].ring(False)
    phone.lift()
    events = world.run(60)
    assert [e.off_hook for e in events if isinstance(e, Hook) and e.port == 1] == [True]
    assert not phone.ringing
    phone.flash(200)
    events = world.run(400)
    flashes = [e for e in events if isinstance(e, Flash)]
    assert len(flashes) == 1 and 180 <= flashes[0].ms <= 240
    assert not [e for e in events if isinstance(e, Hook)]
    phone.hang_up()
    events = world.run(1000)
    assert [e.off_hook for e in events if isinstance(e, Hook)] == [False]


def test_fxo_port_sees_ring_polarity_and_battery_and_goes_off_hook(world):
    line = world.lines[9]           # ports 9..12 are FXO in the default world
    line.ring(True)
    events = world.run(60)
    assert [e.on for e in events if isinstance(e, Ring) and e.port == 9] == [True]
    line.ring(False)
    world.board.ports[9].hook(True)
    world.run(60)
    assert line.looped
    line.reverse_polarity(True)
    line.battery(False)
    events = world.run(60)
    assert [e.reversed for e in events if isinstance(e, Polarity)] == [True]
    assert [e.on for e in events if isinstance(e, Battery)] == [False]
    with pytest.raises(HalError):
        world.board.ports[9].ring(True)          # an FXO port cannot ring


def test_analog_audio_passes_only_with_the_loop_closed(world):
    phone = world.phones[2]
    phone.tone(697, 1209, level_dbm0=-6, ms=-1)
    world.board.ports[2].tap(True)
    on_hook = b"".join(e.data for e in world.run(100) if isinstance(e, Audio))
    phone.lift()
    off_hook = b"".join(e.data for e in world.run(200) if isinstance(e, Audio))
    from drivers.codecs import alaw_decode
    quiet = struct.unpack("<%dh" % (len(on_hook)), alaw_decode(on_hook))
    loud = struct.unpack("<%dh" % (len(off_hook)), alaw_decode(off_hook))
    assert max(abs(x) for x in quiet) < 16
    assert max(abs(x) for x in loud) > 5000


def test_bad_requests_name_what_is_wrong(world):
    from drivers.hal import check, ffi, lib
    st_ = ffi.new("hal_span_status_t *")
    with pytest.raises(NoSuchSpan, match="span 3: no such span"):
        check(lib.hal_span_status(world.board._b, 3, st_), "status on span 3")
    with pytest.raises(LookupError, match="span"):
        world.board.channel("9/1")
    with pytest.raises(LookupError, match="timeslot 40"):
        world.board.channel("1/40")
    with pytest.raises(ValueError, match="loopback"):
        world.board.spans[1].loopback("sideways")
    with pytest.raises(ValueError, match="ber"):
        world.cable(1).fault(ber=2.0)
    with pytest.raises(NoSuchChannel):
        world.board.spans[1].channels[16].tone(1000)            # TS16 is the D-channel
    with pytest.raises(ValueError, match="signalling"):
        SpanConfig(1, "ss7")
    # the board still works after all that
    synced(world, 300)


FAULTS = st.fixed_dictionaries({}, optional={
    "los": st.booleans(), "ais": st.booleans(), "lof": st.booleans(),
    "ber": st.sampled_from([0.0, 1e-6, 1e-3, 0.05, 0.5]),
    "code_errors": st.sampled_from([0.0, 1e-5, 1e-2, 0.5]),
    "slip_ppm": st.sampled_from([0.0, -500.0, 50.0, 1000.0]),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(FAULTS, st.sampled_from(["both", "to_board", "to_exchange"]),
                                st.integers(1, 30)), min_size=1, max_size=6))
def test_any_sequence_of_faults_recovers_once_cleared(steps):
    with SimWorld(spans=[SpanConfig(1)], ports=[], seed=3) as w:
        w.run(200)
        for fault, direction, ticks in steps:
            w.cable(1).fault(direction=direction, **fault)
            for _ in range(ticks):
                w.tick()
        w.cable(1).clear()
        w.run(1500)
        assert w.board.spans[1].alarms() == ()
        assert w.exchange.spans[1].alarms() == ()


def test_bert_in_local_loopback_hears_only_itself(world):
    synced(world)
    world.cable(1).fault(code_errors=1e-3)         # the line is noisy, but we do not use it
    world.board.spans[1].loopback("local")
    world.run(200)
    world.board.spans[1].bert_start()
    world.run(2000)
    st = world.board.spans[1].bert_status()
    assert st["sync"] and st["errors"] == 0 and st["bits"] > 3_000_000
    assert world.board.spans[1].status()["loopback"] == "local"
    assert "LOS" in world.exchange.spans[1].alarms() or "AIS" in world.exchange.spans[1].alarms()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delay=st.integers(0, 20), switches=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_regenerator_in_and_out_of_line_never_moves_the_frame(delay, switches):
    """The cable delays the line by the same bits with the bit error regenerator in line
    (ber) and without it (its delay and the cable's then taken in one pass, straight into
    the far end's FIFO), and hands the carries over each way: switching it in and out
    leaves the far end in frame, each switch-on costing at most the regenerator's fresh
    start (2 bipolar violations, 1 errored CRC-4 block), and the plain line is clean."""
    def errors(side):
        c = side.spans[1].counters()
        return {k: c[k] for k in ("bpv", "crc4_errors", "fas_errors", "slips", "lof_events")}

    with SimWorld(spans=[SpanConfig(1)], ports=[], seed=5, cable_delay_bits=delay) as w:
        w.run(300)
        sides = (w.board, w.exchange)
        base = [errors(side) for side in sides]
        for k, ticks in enumerate(switches):
            # a ratio so small that no error falls in the run: only the path changes
            w.cable(1).fault(ber=1e-30 if k % 2 == 0 else 0.0)
            for _ in range(ticks):
                w.tick()
        w.cable(1).clear()
        w.run(100)
        ons = (len(switches) + 1) // 2
        for side, before in zip(sides, base):
            got = errors(side)
            assert side.spans[1].alarms() == ()
            assert got["fas_errors"] == before["fas_errors"]
            assert got["lof_events"] == before["lof_events"] and got["slips"] == before["slips"]
            assert got["bpv"] - before["bpv"] <= 2 * ons
            assert got["crc4_errors"] - before["crc4_errors"] <= ons
        base = [errors(side) for side in sides]
        w.run(300)
        assert [errors(side) for side in sides] == base
