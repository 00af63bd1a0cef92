"""Caller ID: message layer, FSK modem, DTMF caller ID, and the peers that check them.

Peers (PEERS.md): minimodem and multimon-ng decode the bursts we send; spandsp
(a helper under tests/c linked with -lspandsp) generates bursts our receiver
must decode and decodes ours; multimon-ng decodes the DTMF caller ID we plan.
"""
from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
import wave
from array import array

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drivers.callerid import (
    CallerId, DateTime, FskRx, FskTx, Mode, MessageAssembler, MessageType, ParseError, Standard,
    alerting_plan, build_mdmf, build_message, build_sdmf, checksum, decode, dtmf_plan,
    dtmf_string, find_message, fsk_burst, generate, parse_dtmf, parse_message,
)
from drivers.hal import ffi, lib

from tests.served import ROOT as _ROOT  # noqa: E402

ROOT = str(_ROOT)
JOHN = CallerId(number="01234567890", name="JOHN DOE", when=DateTime(12, 25, 13, 45))
# Built by hand from EN 300 659-3 5.2.1: 0x80, length 0x21, then date/time, number, name
JOHN_MDMF = bytes.fromhex("8021" "0108" + b"12251345".hex() + "020b" + b"01234567890".hex()
                          + "0708" + b"JOHN DOE".hex() + "3f")
TONES = {Mode.BELL202: (1200.0, 2200.0), Mode.V23: (1300.0, 2100.0)}
PEAK_0DBM0 = 22826.36


# ---------------------------------------------------------------------------
# Message layer

def test_checksum_makes_the_message_sum_to_zero():
    assert checksum(b"\x80\x01") == 0x7F
    assert sum(JOHN_MDMF) % 256 == 0


def test_mdmf_matches_the_standard_layout():
    assert build_mdmf(JOHN) == JOHN_MDMF
    assert parse_message(JOHN_MDMF) == JOHN


def test_sdmf_layout_and_absence():
    msg = build_sdmf(CallerId(number="5551234", when=DateTime(1, 2, 3, 4),
                              message_type=MessageType.SDMF_CALL_SETUP))
    assert msg[:2] == bytes([0x04, 15]) and msg[2:17] == b"010203045551234"
    assert sum(msg) % 256 == 0
    got = parse_message(msg)
    assert got.number == "5551234" and got.when == DateTime(1, 2, 3, 4)
    private = build_sdmf(CallerId(number_absence="P", when=DateTime(1, 2, 3, 4)))
    assert parse_message(private).number_absence == "P"


def test_mdmf_absence_and_message_waiting():
    msg = build_mdmf(CallerId(number_absence="O", name_absence="P"))
    assert msg[2:].startswith(b"\x04\x01O\x08\x01P")
    got = parse_message(msg)
    assert (got.number, got.number_absence, got.name_absence) == (None, "O", "P")
    for on in (True, False):
        mwi = build_mdmf(CallerId(message_waiting=on))
        assert mwi[0] == 0x82 and parse_message(mwi).message_waiting is on
        sdmf = build_sdmf(CallerId(message_waiting=on))
        assert sdmf[0] == 0x06 and parse_message(sdmf).message_waiting is on


def test_unknown_parameters_are_kept():
    msg = build_mdmf(CallerId(number="1", extra=((0x11, b"\x01"), (0xE0, b"0123456789"))))
    assert parse_message(msg).extra == ((0x11, b"\x01"), (0xE0, b"0123456789"))


@pytest.mark.parametrize("bad", [
    CallerId(number="12a"), CallerId(number="1" * 21), CallerId(name="x" * 51),
    CallerId(name="caf\u00e9"), CallerId(number="1", number_absence="P"),
    CallerId(number_absence="X"), CallerId(),
])
def test_builder_rejects_what_we_got_wrong(bad):
    with pytest.raises(ValueError):
        build_mdmf(bad)


def test_datetime_range():
    with pytest.raises(ValueError):
        DateTime(13, 1, 0, 0)
    with pytest.raises(ValueError):
        build_sdmf(CallerId(number="1"))


@pytest.mark.parametrize("data,reason", [
    (b"", "shorter"), (b"\x80\x05\x01", "runs past"),
    (JOHN_MDMF[:-1] + b"\x00", "checksum"),
    (b"\x12\x00" + bytes([checksum(b"\x12\x00")]), "unknown message type"),
    (bytes([0x80, 3, 0x02, 5, 0x31]) + bytes([checksum(bytes([0x80, 3, 0x02, 5, 0x31]))]),
     "runs past the message"),
    (bytes([0x80, 4, 0x01, 2, 0x31, 0x32]) + bytes([checksum(bytes([0x80, 4, 1, 2, 0x31, 0x32]))]),
     "8 digits"),
])
def test_parse_errors_name_the_problem(data, reason):
    got = parse_message(data)
    assert isinstance(got, ParseError) and reason in got.reason and not got


names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                max_size=50)
numbers = st.text(alphabet="0123456789*#+", min_size=1, max_size=20)
datetimes = st.builds(DateTime, st.integers(1, 12), st.integers(1, 31), st.integers(0, 23),
                      st.integers(0, 59))


@st.composite
def callerids(draw):
    when = draw(st.none() | datetimes)
    if draw(st.booleans()):
        number, number_absence = draw(numbers), None
    else:
        number, number_absence = None, draw(st.sampled_from("OP"))
    if draw(st.booleans()):
        name, name_absence = draw(st.none() | names), None
    else:
        name, name_absence = None, draw(st.sampled_from("OP"))
    return CallerId(number=number, name=name, when=when, number_absence=number_absence,
                    name_absence=name_absence)


@given(callerids())
def test_mdmf_round_trip(cid):
    assert parse_message(build_mdmf(cid)) == cid


@given(st.none() | st.text(alphabet="0123456789", min_size=1, max_size=20), datetimes,
       st.sampled_from("OP"))
def test_sdmf_round_trip(number, when, absence):
    cid = CallerId(number=number, when=when, number_absence=None if number else absence,
                   message_type=MessageType.SDMF_CALL_SETUP)
    assert parse_message(build_message(cid)) == cid


@given(st.binary(max_size=300))
def test_parse_of_arbitrary_bytes_never_raises(data):
    got = parse_message(data)
    assert isinstance(got, (CallerId, ParseError))
    found, at = find_message(data)
    assert isinstance(found, (CallerId, ParseError)) and 0 <= at <= len(data)


@given(st.binary(max_size=300), st.binary(max_size=40), callerids(), st.integers(1, 17))
def test_assembler_finds_the_message_in_any_split(noise, junk, cid, step):
    msg = build_mdmf(cid)
    stream = b"\x55" * 30 + junk + msg
    asm = MessageAssembler()
    got = []
    for i in range(0, len(stream), step):
        got += asm.feed(stream[i:i + step])
    assert cid in got
    # and garbage alone never raises
    asm2 = MessageAssembler()
    asm2.feed(noise)
    asm2.carrier_lost()


# ---------------------------------------------------------------------------
# Physical layer framing and timing plans

def test_burst_bits_are_seizure_mark_then_framed_characters():
    burst = fsk_burst(b"\x80", Standard.ETSI)
    bits = burst.bits()
    assert bits[:300] == bytes(i & 1 for i in range(300))
    assert bits[300:480] == b"\x01" * 180
    assert bits[480:490] == bytes([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])   # 0x80 LSB first
    assert burst.nbits == len(bits) and abs(burst.duration_ms - len(bits) / 1.2) < 1e-9
    with pytest.raises(ValueError):
        fsk_burst(b"\x80", Standard.ETSI, mark_bits=100)
    assert fsk_burst(b"\x80", Standard.ETSI, seizure=False).bits()[:80] == b"\x01" * 80


def test_seizure_is_thirty_octets_0x55_when_framed():
    # GR-30 describes the seizure as 30 x 0x55 framed: the same 300 alternating bits
    tx_bits = bytearray()
    for _ in range(30):
        tx_bits += bytes([0] + [(0x55 >> b) & 1 for b in range(8)] + [1])
    assert bytes(tx_bits) == fsk_burst(b"", Standard.BELLCORE).bits()[:300]


def test_alerting_plans():
    burst_ms = fsk_burst(JOHN_MDMF).duration_ms
    ring = alerting_plan(burst_ms, "ring", ring_on_ms=1000, ring_off_ms=4000)
    assert [s.action for s in ring] == ["ring", "data", "ring", "ring"]
    assert ring[1].at_ms >= 1000 + 500 and ring[1].at_ms + ring[1].duration_ms <= 5000 - 200
    dtas = alerting_plan(burst_ms, "dtas")
    assert [s.action for s in dtas][:3] == ["polarity", "dtas", "data"]
    assert 45 <= dtas[2].at_ms - (dtas[1].at_ms + dtas[1].duration_ms) <= 500
    assert dtas[3].at_ms - (dtas[2].at_ms + dtas[2].duration_ms) >= 200
    rpas = alerting_plan(burst_ms, "rpas")
    assert rpas[0].action == "ring" and 200 <= rpas[0].duration_ms <= 300
    assert 500 <= rpas[1].at_ms - rpas[0].duration_ms <= 800
    bell = alerting_plan(burst_ms, "bellcore", ring_off_ms=4000)
    assert bell[0].duration_ms == 2000 and bell[1].at_ms == 2500
    with pytest.raises(ValueError):
        alerting_plan(4000, "ring", ring_off_ms=4000)
    with pytest.raises(ValueError):
        alerting_plan(100, "smoke")


# ---------------------------------------------------------------------------
# The FSK modem

def silence(ms: int) -> array:
    return array("h", bytes(16 * ms))


def test_tx_sample_count_and_level():
    for mode in Mode:
        tx = FskTx(mode, level_dbm0=-10)
        tx.put_bits(b"\x01" * 1200)     # one second of mark
        a = tx.drain()
        assert len(a) == 8000
        peak = PEAK_0DBM0 * 10 ** (-10 / 20)
        assert abs(max(a) - peak) < 0.01 * peak
        rms = math.sqrt(sum(x * x for x in a) / len(a))
        assert abs(20 * math.log10(rms / (PEAK_0DBM0 / math.sqrt(2))) + 10) < 0.1
    with pytest.raises(ValueError):
        FskTx(Mode.V23, level_dbm0=10)
    with pytest.raises(ValueError):
        Mode.of("v21")


def tone_of(a: array, f: float) -> float:
    re = sum(x * math.cos(2 * math.pi * f * n / 8000) for n, x in enumerate(a))
    im = sum(x * math.sin(2 * math.pi * f * n / 8000) for n, x in enumerate(a))
    return math.hypot(re, im)


@pytest.mark.parametrize("mode", list(Mode))
def test_tx_tones_are_the_standard_ones_and_phase_continuous(mode):
    mark, space = TONES[mode]
    tx = FskTx(mode, 0)
    tx.put_bits(b"\x00" * 120)
    a = tx.drain()
    assert tone_of(a, space) > 30 * tone_of(a, mark)
    tx.put_bits(bytes(i & 1 for i in range(200)))
    b = tx.drain()
    # continuous phase: no sample-to-sample step bigger than the fastest tone allows
    limit = PEAK_0DBM0 * 2 * math.pi * space / 8000 * 1.05
    assert max(abs(b[i + 1] - b[i]) for i in range(len(b) - 1)) <= limit


def test_tx_queue_full_is_an_error():
    from drivers.hal import Busy
    tx = FskTx()
    tx.put_bits(b"\x01" * lib.FSK_TX_QUEUE_BITS)
    with pytest.raises(Busy):
        tx.put_bytes(b"\x00")
    with pytest.raises(Busy):
        tx.put_burst(fsk_burst(JOHN_MDMF))


@pytest.mark.parametrize("mode", list(Mode))
def test_loopback_decodes_the_message(mode):
    audio = silence(100) + generate(JOHN, mode) + silence(100)
    assert decode(audio, mode) == JOHN
    rx = FskRx(mode)
    out = rx.feed(audio)
    at = out.find(JOHN_MDMF)
    assert at >= 25 and out[:at].count(0x55) >= 25
    assert not rx.carrier and rx.counters()["carrier_ons"] == 1


def synth(bits: bytes, mark: float, space: float, baud: float, peak: float, noise: float,
          rng: random.Random, phase: float = 0.0) -> array:
    """A float FSK generator of the test's own, for tone and baud offsets."""
    out = array("h")
    t = 0.0
    n = 0
    for bit in bits:
        w = 2 * math.pi * (mark if bit else space) / 8000
        t += 8000 / baud
        while n < int(t):
            v = peak * math.sin(phase) + (rng.gauss(0, noise) if noise else 0)
            out.append(max(-32768, min(32767, int(round(v)))))
            phase += w
            n += 1
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(callerids(), st.sampled_from(list(Mode)), st.integers(-40, 0),
       st.floats(-0.01, 0.01), st.floats(-0.01, 0.01), st.floats(20, 60), st.integers(0, 2**32))
def test_round_trip_with_level_offset_and_noise(cid, mode, level, f_off, baud_off, snr, seed):
    rng = random.Random(seed)
    msg = build_mdmf(cid)
    mark, space = TONES[mode]
    peak = PEAK_0DBM0 * 10 ** (level / 20)
    noise = peak / math.sqrt(2) * 10 ** (-snr / 20)
    bits = fsk_burst(msg).bits()
    audio = (silence(rng.randrange(0, 50)) + synth(bits, mark * (1 + f_off), space * (1 + f_off),
                                                   1200 * (1 + baud_off), peak, noise, rng,
                                                   rng.uniform(0, 6.28)) + silence(20))
    assert decode(audio, mode) == cid


@settings(max_examples=30, deadline=None)
@given(callerids(), st.sampled_from(list(Mode)), st.integers(-40, 0))
def test_round_trip_through_our_transmitter(cid, mode, level):
    audio = silence(30) + generate(cid, mode, level_dbm0=level) + silence(30)
    assert decode(audio, mode) == cid


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-32768, 32767), max_size=3000), st.sampled_from(list(Mode)),
       st.integers(1, 500))
def test_arbitrary_audio_never_crashes_the_demodulator(samples, mode, step):
    rx = FskRx(mode)
    a = array("h", samples)
    for i in range(0, len(a), step):
        out = rx.feed(a[i:i + step])
        assert len(out) <= step // 6 + 2
        MessageAssembler().feed(out)
    c = rx.counters()
    assert c["overruns"] == 0


def test_bulk_entry_points_run_many_channels_in_one_call():
    n, blk = 8, 160
    txs = [FskTx(Mode(i & 1), -5 - 4 * i) for i in range(n)]
    rxs = [FskRx(Mode(i & 1)) for i in range(n)]
    msgs = [build_mdmf(CallerId(number=str(1000 + i))) for i in range(n)]
    for tx, m in zip(txs, msgs):
        tx.put_burst(fsk_burst(m))
    tx_arr = ffi.new("fsk_tx_t *[]", [t.handle for t in txs])
    rx_arr = ffi.new("fsk_rx_t *[]", [r.handle for r in rxs])
    buf = ffi.new("int16_t[]", n * blk)
    got = ffi.new("int[]", n)
    out = [bytearray() for _ in range(n)]
    take = ffi.new("uint8_t[]", 600)
    for _ in range(40):
        lib.fsk_tx_bulk(tx_arr, n, buf, blk, blk, ffi.NULL)
        lib.fsk_rx_bulk(rx_arr, n, buf, blk, blk, got)
        for i in range(n):
            k = lib.fsk_rx_get(rxs[i].handle, take, 600)
            out[i] += ffi.buffer(take, k)
    for i in range(n):
        assert msgs[i] in out[i], i


# ---------------------------------------------------------------------------
# Peers

def write_wav(path, audio: array, rate=8000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(audio.tobytes())


def burst_wav(tmp_path, mode, cid=JOHN, level=-13):
    path = tmp_path / f"cid-{mode.name}.wav"
    write_wav(path, silence(300) + generate(cid, mode, level_dbm0=level) + silence(300))
    return path


MINIMODEM_TONES = {Mode.BELL202: [], Mode.V23: ["-M", "1300", "-S", "2100"]}
need_minimodem = pytest.mark.skipif(shutil.which("minimodem") is None, reason="no minimodem")
need_multimon = pytest.mark.skipif(shutil.which("multimon-ng") is None or shutil.which("sox") is None,
                                   reason="no multimon-ng or sox")


@need_minimodem
@pytest.mark.parametrize("mode", list(Mode))
def test_minimodem_decodes_our_mdmf_burst(tmp_path, mode):
    path = burst_wav(tmp_path, mode)
    run = subprocess.run(["minimodem", "--rx", "callerid", *MINIMODEM_TONES[mode], "-R", "8000",
                          "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert "Time:  12/25 13:45" in run.stdout, run.stdout + run.stderr
    assert "Phone: 01234567890" in run.stdout
    assert "Name:  JOHN DOE" in run.stdout


@need_minimodem
@pytest.mark.parametrize("mode", list(Mode))
def test_minimodem_reads_our_raw_bytes(tmp_path, mode):
    path = burst_wav(tmp_path, mode)
    run = subprocess.run(["minimodem", "--rx", "1200", *MINIMODEM_TONES[mode], "-R", "8000",
                          "-f", str(path)], capture_output=True, timeout=60)
    raw = run.stdout
    # the od view the issue names, as an oracle for the octets
    od = subprocess.run(["od", "-An", "-tx1"], input=raw, capture_output=True, check=True)
    assert bytes.fromhex(od.stdout.decode()) == raw
    at = raw.find(JOHN_MDMF)     # type 0x80, length 0x21, parameters, checksum 0x3f
    assert at >= 0, raw.hex()
    assert raw[:at].count(0x55) >= 25, raw.hex()


@need_minimodem
def test_minimodem_decodes_sdmf_and_absence(tmp_path):
    cid = CallerId(number_absence="P", name_absence="O", when=DateTime(3, 4, 5, 6))
    path = burst_wav(tmp_path, Mode.BELL202, cid, level=-30)
    run = subprocess.run(["minimodem", "--rx", "1200", "-R", "8000", "-f", str(path)],
                         capture_output=True, timeout=60)
    assert build_mdmf(cid) in run.stdout


@need_multimon
@pytest.mark.parametrize("mode", list(Mode))
def test_multimon_ng_clipfsk_decodes_our_burst(tmp_path, mode):
    path = burst_wav(tmp_path, mode)
    sox = subprocess.run(["sox", str(path), "-t", "raw", "-r", "22050", "-e", "signed-integer",
                          "-b", "16", "-c", "1", "-"], capture_output=True, check=True)
    run = subprocess.run(["multimon-ng", "-q", "-a", "CLIPFSK", "-t", "raw", "-"], input=sox.stdout,
                         capture_output=True, timeout=60)
    out = run.stdout.decode(errors="replace")
    assert "DATE=12251345" in out and "CID=01234567890" in out and "CNT=JOHN DOE" in out, out


@pytest.fixture(scope="module")
def spandsp_helper(tmp_path_factory):
    src = os.path.join(ROOT, "tests", "c", "spandsp_callerid.c")
    if shutil.which("gcc") is None:
        pytest.skip("gcc missing")
    exe = tmp_path_factory.mktemp("spandsp") / "spandsp_callerid"
    build = subprocess.run(["gcc", "-O2", "-Wall", src, "-lspandsp", "-o", str(exe)],
                           capture_output=True, text=True)
    if build.returncode:
        pytest.skip("spandsp helper did not build (libspandsp-dev?): " + build.stderr[-500:])
    return str(exe)


SPANDSP_STD = {Mode.BELL202: "class", Mode.V23: "clip"}


@pytest.mark.parametrize("mode", list(Mode))
def test_we_decode_what_spandsp_sends(spandsp_helper, mode):
    for cid in (JOHN, CallerId(number="8613912345678", when=DateTime(7, 1, 0, 0)),
                CallerId(number_absence="O", name="A")):
        msg = build_mdmf(cid)
        run = subprocess.run([spandsp_helper, "gen", SPANDSP_STD[mode], msg[:-1].hex()],
                             capture_output=True, check=True)
        audio = array("h", run.stdout)
        assert len(audio) > 1000
        assert decode(silence(50) + audio + silence(50), mode) == cid


@pytest.mark.parametrize("mode", list(Mode))
def test_spandsp_decodes_what_we_send(spandsp_helper, mode):
    audio = silence(200) + generate(JOHN, mode) + silence(200)
    run = subprocess.run([spandsp_helper, "rx", SPANDSP_STD[mode]], input=audio.tobytes(),
                         capture_output=True, check=True)
    lines = run.stdout.decode().split()
    # spandsp hands over the message without its checksum
    assert JOHN_MDMF[:-1].hex() in lines, lines


# ---------------------------------------------------------------------------
# DTMF caller ID

def test_dtmf_strings_and_parse():
    assert dtmf_string(CallerId(number="13912345678")) == "A13912345678C"
    assert dtmf_string(CallerId(number="123"), start="D") == "D123C"
    assert dtmf_string(CallerId(number_absence="P")) == "B10C"
    assert dtmf_string(CallerId(number_absence="O")) == "B00C"
    assert parse_dtmf("A13912345678C") == CallerId(number="13912345678")
    assert parse_dtmf("D123#") == CallerId(number="123")
    assert parse_dtmf("B10C") == CallerId(number_absence="P")
    assert parse_dtmf("AB00C") == CallerId(number_absence="O")
    for bad in ("", "123C", "A12", "AC", "B99C", "A1*", "B1"):
        assert isinstance(parse_dtmf(bad), ParseError), bad
    with pytest.raises(ValueError):
        dtmf_string(CallerId(number="12#"))
    with pytest.raises(ValueError):
        dtmf_plan(CallerId(number="1"), tone_ms=20)


@given(st.text(max_size=40))
def test_parse_dtmf_never_raises(s):
    assert isinstance(parse_dtmf(s), (CallerId, ParseError))


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.sampled_from("AD"))
def test_dtmf_round_trip(number, start):
    plan = dtmf_plan(CallerId(number=number), start=start)
    assert parse_dtmf("".join(t.digit for t in plan)) == CallerId(number=number)
    assert all(b.at_ms >= a.at_ms + a.duration_ms + 40 for a, b in zip(plan, plan[1:]))


DTMF_FREQ = {d: (lo, hi) for row, lo in zip(("123A", "456B", "789C", "*0#D"), (697, 770, 852, 941))
             for d, hi in zip(row, (1209, 1336, 1477, 1633))}


def play_dtmf_plan(plan, level_dbm0=-10) -> array:
    """Q.23 tone pairs synthesised by the test itself (the board's DTMF generator plays it
    in the product); each tone at level_dbm0."""
    end = plan[-1].at_ms + plan[-1].duration_ms + 100
    out = [0.0] * (end * 8)
    amp = PEAK_0DBM0 * 10 ** (level_dbm0 / 20)
    for t in plan:
        lo, hi = DTMF_FREQ[t.digit]
        for n in range(t.duration_ms * 8):
            out[t.at_ms * 8 + n] += amp * (math.sin(2 * math.pi * lo * n / 8000)
                                           + math.sin(2 * math.pi * hi * n / 8000))
    return array("h", (int(round(v)) for v in out))


@need_multimon
def test_multimon_ng_reads_our_dtmf_caller_id_plan(tmp_path):
    plan = dtmf_plan(CallerId(number="13912345678"))
    assert alerting_plan(plan[-1].at_ms + plan[-1].duration_ms, "ring")[1].action == "data"
    path = tmp_path / "dtmf.wav"
    write_wav(path, silence(200) + play_dtmf_plan(plan) + silence(200))
    sox = subprocess.run(["sox", str(path), "-t", "raw", "-r", "22050", "-e", "signed-integer",
                          "-b", "16", "-c", "1", "-"], capture_output=True, check=True)
    run = subprocess.run(["multimon-ng", "-q", "-a", "DTMF", "-t", "raw", "-"], input=sox.stdout,
                         capture_output=True, timeout=60)
    digits = "".join(line.split(":")[1].strip() for line in run.stdout.decode().splitlines()
                     if line.startswith("DTMF:"))
    assert parse_dtmf(digits) == CallerId(number="13912345678"), digits
