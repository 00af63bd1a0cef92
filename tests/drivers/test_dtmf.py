"""DTMF (csrc/dsp/dtmf.c) against peers and the limits of ITU-T Q.23/Q.24.

- multimon-ng decodes what our generator sends (all 16 digits);
- our detector decodes what sox and spandsp's dtmf_tx generate;
- a Q.24-style test set (frequency offsets, twist, durations, pauses, levels,
  noise): our accept/reject decisions are asserted against the limits, and
  spandsp's dtmf_rx runs on the same cases for a printed comparison;
- talk-off: espeak-ng speech gives no digit;
- hypothesis: round trips within the standard's limits; arbitrary audio never
  crashes the detector nor yields a non-DTMF character.

The spandsp side runs through bench/dtmf_spandsp.c, compiled once per session.
"""
from __future__ import annotations

import array
import math
import os
import random
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.dsp import DTMF_DIGITS, DtmfRx, DtmfRxBank, DtmfTx, dtmf_generate
from drivers.hal import InvalidArgument

from tests.served import ROOT as _ROOT  # noqa: E402

ROOT = str(_ROOT)
RATE = 8000
PEAK_0DBM0 = 22827.0            # G.711: peak of a 0 dBm0 sine (csrc/hal_sim.c SIM_PEAK_0DBM0)
LOW = (697, 770, 852, 941)      # Q.23 table 1
HIGH = (1209, 1336, 1477, 1633)
KEYPAD = "123A456B789C*0#D"     # rows: low group; columns: high group


def tones_of(digit: str) -> tuple[int, int]:
    i = KEYPAD.index(digit)
    return LOW[i // 4], HIGH[i % 4]


def clip16(samples) -> bytes:
    return array.array("h", [max(-32768, min(32767, int(round(x)))) for x in samples]).tobytes()


def dual_tone(digit: str, ms: float, low_dbm0: float = -10.0, high_dbm0: float = -10.0,
              low_factor: float = 1.0, high_factor: float = 1.0, rnd: random.Random | None = None):
    """Samples (floats) of a digit's two tones at the given levels and frequency factors."""
    rnd = rnd or random.Random(0)
    fl, fh = tones_of(digit)
    wl = 2 * math.pi * fl * low_factor / RATE
    wh = 2 * math.pi * fh * high_factor / RATE
    al = PEAK_0DBM0 * 10 ** (low_dbm0 / 20)
    ah = PEAK_0DBM0 * 10 ** (high_dbm0 / 20)
    pl, ph = rnd.uniform(0, 2 * math.pi), rnd.uniform(0, 2 * math.pi)
    return [al * math.sin(wl * k + pl) + ah * math.sin(wh * k + ph) for k in range(int(ms * RATE / 1000))]


def silence(ms: float):
    return [0.0] * int(ms * RATE / 1000)


def add_noise(samples, snr_db: float, signal_power: float, rnd: random.Random):
    sd = math.sqrt(signal_power / 10 ** (snr_db / 10))
    return [x + rnd.gauss(0.0, sd) for x in samples]


def ours(audio: bytes, chunk: int = 160) -> str:
    rx = DtmfRx()
    out = []
    for i in range(0, len(audio), 2 * chunk):
        out.append(rx.feed(audio[i:i + 2 * chunk]))
    out.append(rx.feed(bytes(2 * 800)))
    return "".join(out)


# ---- peers ----------------------------------------------------------------

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


@pytest.fixture(scope="session")
def spandsp(tmp_path_factory):
    """Path of the compiled bench/dtmf_spandsp.c (spandsp's DTMF beside ours)."""
    if shutil.which("gcc") is None or not os.path.exists("/usr/include/spandsp.h") and \
            not os.path.exists("/usr/include/spandsp/dtmf.h"):
        pytest.skip("gcc or libspandsp-dev is missing")
    exe = tmp_path_factory.mktemp("spandsp") / "dtmf_spandsp"
    build = subprocess.run(["gcc", "-O2", "-Wall", "-I", os.path.join(ROOT, "csrc"),
                            os.path.join(ROOT, "bench", "dtmf_spandsp.c"), "-lspandsp", "-lm",
                            "-o", str(exe)], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail("bench/dtmf_spandsp.c does not build:\n" + build.stderr)
    return str(exe)


def spandsp_cases(exe: str, cases: list[bytes]) -> list[str]:
    """spandsp's dtmf_rx over each case (a fresh detector per case)."""
    blob = b"".join(struct.pack("<I", len(c) // 2) + c for c in cases)
    run = subprocess.run([exe, "rxcases"], input=blob, capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.decode("ascii").split("\n")[:len(cases)]
    assert len(lines) == len(cases)
    return lines


@pytest.mark.skipif(shutil.which("multimon-ng") is None or shutil.which("sox") is None,
                    reason="multimon-ng or sox is not installed")
def test_multimon_ng_decodes_all_16_digits_we_generate():
    audio = dtmf_generate(DTMF_DIGITS) + bytes(1600)
    run = subprocess.run(
        "sox -t raw -r 8000 -e signed-integer -b 16 -c 1 - "
        "-t raw -r 22050 -e signed-integer -b 16 -c 1 - | multimon-ng -q -a DTMF -t raw -",
        shell=True, input=audio, capture_output=True, timeout=60)
    got = "".join(line.split(":", 1)[1].strip() for line in run.stdout.decode().splitlines()
                  if line.startswith("DTMF:"))
    assert got == DTMF_DIGITS


@needs_sox
def test_we_decode_dtmf_generated_by_sox():
    for digit in DTMF_DIGITS:
        fl, fh = tones_of(digit)
        run = subprocess.run(
            ["sox", "-n", "-r", "8000", "-b", "16", "-e", "signed-integer", "-t", "raw", "-",
             "synth", "0.1", "sine", str(fl), "sine", str(fh), "channels", "1",
             "vol", "0.5", "pad", "0.05", "0.1"],
            capture_output=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert ours(run.stdout) == digit


def test_we_decode_dtmf_generated_by_spandsp(spandsp):
    # spandsp's defaults (-10 dBm0 low, 2 dB twist, 50/55 ms), then Q.24 corners
    for args in ([], ["-10", "2", "50", "55"], ["-25", "-3", "45", "45"], ["-5", "3", "100", "40"]):
        run = subprocess.run([spandsp, "gen", DTMF_DIGITS, *args], capture_output=True, timeout=30)
        assert run.returncode == 0
        assert ours(run.stdout) == DTMF_DIGITS, args


# ---- the Q.24-style test set ----------------------------------------------

def _case(digit, ms, rnd, pre=20.0, post=40.0, **kw):
    return clip16(silence(pre + rnd.randrange(52) / 8) + dual_tone(digit, ms, rnd=rnd, **kw) + silence(post))


def q24_cases():
    """(category, expected digits, audio) for the whole set; deterministic."""
    rnd = random.Random(2024)
    cases = []
    add = cases.append
    # Q.24: frequency offset within 1.5% accepted, beyond 3.5% rejected (each tone, and both)
    for digit in KEYPAD:
        for pct in (1.0, -1.0, 1.5, -1.5):
            add(("freq both +-1.0/1.5% (accept)", digit, _case(digit, 60, rnd, low_factor=1 + pct / 100,
                                                           high_factor=1 + pct / 100)))
        for pct in (3.5, -3.5, 4.0, -4.0):
            add(("freq both +-3.5/4% (reject)", "", _case(digit, 60, rnd, low_factor=1 + pct / 100,
                                                          high_factor=1 - pct / 100)))
        for pct in (1.5, -1.5):
            add(("freq one tone +-1.5% (accept)", digit, _case(digit, 60, rnd, low_factor=1 + pct / 100)))
            add(("freq one tone +-1.5% (accept)", digit, _case(digit, 60, rnd, high_factor=1 + pct / 100)))
        for pct in (3.5, -3.5):
            add(("freq one tone +-3.5% (reject)", "", _case(digit, 60, rnd, low_factor=1 + pct / 100)))
            add(("freq one tone +-3.5% (reject)", "", _case(digit, 60, rnd, high_factor=1 + pct / 100)))
    for digit in KEYPAD:
        # twist: normal (high above low) limit 4 dB, reverse (low above high) limit 8 dB
        for tw in (0.0, 3.0):
            add(("normal twist 0/3 dB (accept)", digit, _case(digit, 60, rnd, low_dbm0=-12, high_dbm0=-12 + tw)))
        for tw in (5.0, 6.0):
            add(("normal twist 5/6 dB (reject)", "", _case(digit, 60, rnd, low_dbm0=-12, high_dbm0=-12 + tw)))
        for tw in (4.0, 7.0):
            add(("reverse twist 4/7 dB (accept)", digit, _case(digit, 60, rnd, low_dbm0=-8, high_dbm0=-8 - tw)))
        for tw in (9.0, 10.0):
            add(("reverse twist 9/10 dB (reject)", "", _case(digit, 60, rnd, low_dbm0=-8, high_dbm0=-8 - tw)))
        # durations: 40 ms accepted, under 23 ms rejected
        for ms in (40, 45):
            add(("duration 40/45 ms (accept)", digit, _case(digit, ms, rnd)))
        for ms in (20, 22):
            add(("duration 20/22 ms (reject)", "", _case(digit, ms, rnd)))
        # pause: 40 ms between two digits (the same digit, and the next one) separates them
        other = KEYPAD[(KEYPAD.index(digit) + 5) % 16]
        for second in (digit, other):
            audio = clip16(silence(20) + dual_tone(digit, 45, rnd=rnd) + silence(40)
                           + dual_tone(second, 45, rnd=rnd) + silence(40))
            add(("pause 40 ms between digits (two digits)", digit + second, audio))
        # interruption: a break of 10 ms inside a tone does not make two digits
        audio = clip16(silence(20) + dual_tone(digit, 60, rnd=rnd) + silence(10)
                       + dual_tone(digit, 60, rnd=rnd) + silence(40))
        add(("break of 10 ms inside a tone (one digit)", digit, audio))
        # levels: -3 to -30 dBm0 per tone accepted, -40 rejected
        for lv in (-3.0, -30.0):
            add(("level -3/-30 dBm0 per tone (accept)", digit, _case(digit, 60, rnd, low_dbm0=lv, high_dbm0=lv)))
        add(("level -40 dBm0 per tone (reject)", "", _case(digit, 60, rnd, low_dbm0=-40, high_dbm0=-40)))
        # white noise: 15 dB SNR (against the DTMF power) at -20 dBm0 per tone
        sig = dual_tone(digit, 60, -20, -20, rnd=rnd)
        power = (PEAK_0DBM0 * 10 ** (-20 / 20)) ** 2
        audio = clip16(add_noise(silence(20) + sig + silence(40), 15.0, power, rnd))
        add(("white noise, SNR 15 dB (accept)", digit, audio))
    # noise alone, at -10 dBm0
    for _ in range(8):
        n = int(0.5 * RATE)
        sd = PEAK_0DBM0 * 10 ** (-10 / 20) / math.sqrt(2)
        add(("white noise alone (reject)", "", clip16(rnd.gauss(0.0, sd) for _ in range(n))))
    return cases


@pytest.fixture(scope="module")
def q24_set():
    return q24_cases()


def _table(cases, results):
    stats: dict[str, list[int]] = {}
    for (cat, want, _), got in zip(cases, results):
        s = stats.setdefault(cat, [0, 0])
        s[0] += 1
        s[1] += got == want
    return stats


def test_q24_set_our_decisions_match_the_limits(q24_set, spandsp):
    results = [ours(audio) for _, _, audio in q24_set]
    theirs = spandsp_cases(spandsp, [audio for _, _, audio in q24_set])
    mine = _table(q24_set, results)
    ref = _table(q24_set, theirs)
    print("\nQ.24 test set: cases where the decision matches the standard's limits")
    print(f"{'category':46s} {'cases':>5s} {'ours':>5s} {'spandsp':>8s}")
    for cat, (n, ok) in mine.items():
        print(f"{cat:46s} {n:5d} {ok:5d} {ref[cat][1]:8d}")
    total = len(q24_set)
    print(f"{'total':46s} {total:5d} {sum(v[1] for v in mine.values()):5d} "
          f"{sum(v[1] for v in ref.values()):8d}")
    wrong = [(cat, want, got) for (cat, want, _), got in zip(q24_set, results) if got != want]
    assert not wrong, wrong[:10]
    assert len(theirs) == total   # spandsp's detector ran on every case (its counts are printed)


# ---- talk-off ---------------------------------------------------------------

SPEECH = (
    "Thank you for calling. All our agents are currently busy serving other customers. "
    "Please stay on the line and your call will be answered in turn. Press one for sales, "
    "two for support, three for billing, or hold to speak to an operator. "
    "The quick brown fox jumps over the lazy dog, while seven wise men whistle a merry tune. "
    "Our office hours are Monday to Friday, nine in the morning to six in the evening. "
    "If you know the extension of the person you wish to reach, you may dial it at any time."
)


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="espeak-ng or sox is not installed")
def test_talk_off_speech_gives_no_digits(tmp_path, spandsp):
    """About 90 s of speech in three voices: no digit at all.

    Zero is the bound: a digit needs four consecutive 13 ms windows (26 ms) in
    which two tones, one per group and each within 2.5% of a Q.23 frequency,
    hold at least half the energy, balanced within 6 dB over each window's
    halves; voiced speech has a harmonic comb and formants, not two lines.
    """
    speech = b""
    for voice, rate in (("en", 150), ("en-us+f3", 170), ("en+m7", 130)):
        wav = tmp_path / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), SPEECH],
                       check=True, capture_output=True, timeout=60)
        raw = subprocess.run(["sox", str(wav), "-r", "8000", "-e", "signed-integer", "-b", "16",
                              "-c", "1", "-t", "raw", "-"], check=True, capture_output=True, timeout=60)
        speech += raw.stdout
    seconds = len(speech) / 2 / RATE
    assert seconds > 60
    theirs = spandsp_cases(spandsp, [speech])[0]
    mine = ours(speech)
    print(f"\ntalk-off over {seconds:.0f} s of speech: ours {len(mine)} digits {mine!r}, "
          f"spandsp {len(theirs)} digits {theirs!r}")
    assert mine == ""


# ---- API --------------------------------------------------------------------

def test_reports_give_start_and_duration():
    rx = DtmfRx()
    assert rx.feed(dtmf_generate("159", on_ms=60, off_ms=100) + bytes(1600)) == "159"
    reps = rx.reports()
    assert [r.digit for r in reps] == list("159")
    for i, r in enumerate(reps):
        assert abs(r.start - i * 1280) <= 26
        assert abs(r.duration - 480) <= 52
    assert rx.status is None and rx.lost == 0


def test_bank_runs_all_channels_in_one_call():
    strings = ["12", "", "ABCD", "*#0"]
    lanes = [dtmf_generate(s) if s else b"" for s in strings]
    length = max(len(x) for x in lanes) + 3200
    lanes = [x + bytes(length - len(x)) for x in lanes]
    bank = DtmfRxBank(len(strings))
    got = {c: "" for c in range(len(strings))}
    tick, stride = 160, 170
    for t in range(0, length // 2, tick):
        frame = bytearray(2 * stride * len(strings))
        for c, lane in enumerate(lanes):
            frame[2 * c * stride:2 * c * stride + 2 * tick] = lane[2 * t:2 * (t + tick)]
        for c, d in bank.process(frame, tick, stride).items():
            got[c] += d
    assert [got[c] for c in range(len(strings))] == strings
    with pytest.raises(InvalidArgument):
        bank.process(bytes(100), 160)


def test_bad_parameters_and_digits_are_refused():
    with pytest.raises(InvalidArgument):
        DtmfRx(freq_tolerance=0.2)
    with pytest.raises(TypeError):
        DtmfRx(colour="blue")
    with pytest.raises(InvalidArgument):
        DtmfTx(on_ms=-5)
    with pytest.raises(InvalidArgument):
        DtmfRx().feed(b"abc")
    tx = DtmfTx()
    with pytest.raises(InvalidArgument):
        tx.put("12E")
    assert tx.pending == 0
    assert tx.put("abcd") == 4 and tx.pending == 4


def test_generator_levels_and_timing():
    # 80/80 ms by default; -9/-7 dBm0: the sum's peak is at most the sum of the peaks
    audio = array.array("h", dtmf_generate("5"))
    assert len(audio) == 1280
    peak = PEAK_0DBM0 * (10 ** (-9 / 20) + 10 ** (-7 / 20))
    assert max(abs(x) for x in audio) <= peak + 1
    assert max(abs(x) for x in audio[:640]) > 0.9 * peak
    assert all(x == 0 for x in audio[640:])
    rms = math.sqrt(sum(x * x for x in audio[:640]) / 640)
    want = math.sqrt(((PEAK_0DBM0 * 10 ** (-9 / 20)) ** 2 + (PEAK_0DBM0 * 10 ** (-7 / 20)) ** 2) / 2)
    assert abs(rms / want - 1) < 0.02


# ---- hypothesis ---------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(digits=st.text(alphabet=DTMF_DIGITS, min_size=1, max_size=12),
       low=st.floats(-28.0, -3.0), twist=st.floats(-3.0, 3.0),
       on_ms=st.integers(45, 150), off_ms=st.integers(45, 150),
       chunk=st.integers(1, 400))
def test_round_trip_within_the_limits(digits, low, twist, on_ms, off_ms, chunk):
    high = min(-3.0, max(-28.0, low + twist))
    audio = dtmf_generate(digits, low, high, on_ms, off_ms)
    assert ours(audio, chunk) == digits


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=40000), chunk=st.integers(1, 1000))
def test_arbitrary_audio_never_crashes_nor_yields_other_characters(data, chunk):
    data = data[:len(data) // 2 * 2]
    rx = DtmfRx()
    got = ""
    for i in range(0, len(data), 2 * chunk):
        got += rx.feed(data[i:i + 2 * chunk])
    assert set(got) <= set(DTMF_DIGITS)
    assert rx.status is None or rx.status in DTMF_DIGITS


def test_a_receiver_is_idle_after_silence_and_not_while_a_digit_sounds():
    rx = DtmfRx()
    rx.silence(1000)
    assert rx.idle
    got = rx.feed(dtmf_generate("5", -10.0, -8.0, 60, 0))
    assert not rx.idle
    got += rx.silence(1000)
    assert got == "5" and not rx.idle      # its report waits to be taken
    assert rx.reports() and rx.idle


def _steady(rx, level, n):
    """The board's call for n samples of a steady level: silence is its own short cut."""
    return rx.silence(n) if level == 0 else rx.steady(level, n)


def _idle_on(rx, level):
    return rx.idle if level == 0 else rx.idle_on(level)


@settings(max_examples=120, deadline=None)
@given(pieces=st.lists(st.one_of(
    st.tuples(st.just("digits"), st.text(alphabet=DTMF_DIGITS, min_size=1, max_size=3),
              st.integers(1, 400)),
    st.tuples(st.just("steady"), st.one_of(st.just(0), st.integers(-40, 40),
                                           st.integers(-32768, 32767)),
              st.integers(0, 2000)),
    st.tuples(st.just("noise"), st.binary(min_size=2, max_size=600))), max_size=12))
def test_a_steady_level_is_feeding_that_level(pieces):
    """The board's short cuts for a line that holds one level (dtmf_rx_silence for true
    silence, an idle line or a phone on hook; dtmf_rx_const for any other level, such as
    the far end's idle code decoded, +-8) give what feeding the samples gives: the same
    digits at the same sample positions and the same state, whatever came before (a
    digit cut off, noise, part of a half-window in hand), for quiet and loud levels."""
    fed, short = DtmfRx(), DtmfRx()
    got_fed = got_short = ""
    for piece in pieces:
        if piece[0] == "steady":
            v, n = piece[1], piece[2]
            got_fed += fed.feed(struct.pack(f"<{n}h", *([v] * n)))
            got_short += _steady(short, v, n)
            assert (short.status, short.idle, got_short) == (fed.status, fed.idle, got_fed)
            continue
        if piece[0] == "digits":
            audio = dtmf_generate(piece[1], -10.0, -8.0, 60, 60)[:2 * piece[2] * 8]
        else:
            audio = piece[1][:len(piece[1]) // 2 * 2]
        got_fed += fed.feed(audio)
        got_short += short.feed(audio)
    tail = dtmf_generate("7", -10.0, -8.0, 60, 60)
    got_fed += fed.feed(tail + b"\0\0" * 800)
    got_short += short.feed(tail) + short.silence(800)
    assert got_short == got_fed
    assert short.reports() == fed.reports()
    assert short.status == fed.status and short.idle == fed.idle


@settings(max_examples=100, deadline=None)
@given(history=st.binary(max_size=800), level=st.one_of(st.just(0), st.integers(-40, 40)),
       quiet=st.integers(0, 3000), splits=st.lists(st.integers(0, 3000), max_size=6),
       digits=st.text(alphabet=DTMF_DIGITS, min_size=1, max_size=3))
def test_a_steady_level_owed_to_a_receiver_idle_on_it_can_be_handed_over_at_once(
        history, level, quiet, splits, digits):
    """What the software board does on idle ports (silence) and on trunks whose far end
    sends its idle code (a steady level): once the receiver is idle on that level the
    board counts the samples itself and hands them over in one call before anything else
    arrives. That must be what handing them over tick by tick gives: the same digits at
    the same sample positions afterwards."""
    tick_by_tick, at_once = DtmfRx(), DtmfRx()
    for rx in (tick_by_tick, at_once):
        rx.feed(history[:len(history) // 2 * 2])
        _steady(rx, level, quiet)
        rx.digits(), rx.reports()
    assert _idle_on(tick_by_tick, level) == _idle_on(at_once, level)
    if not _idle_on(at_once, level):
        return                  # still hearing something: the board feeds it as ever
    for n in splits:
        _steady(tick_by_tick, level, n)
        assert _idle_on(tick_by_tick, level)    # more of the level keeps it idle on it
    _steady(at_once, level, sum(splits))
    audio = dtmf_generate(digits, -10.0, -8.0, 60, 60)
    got = [rx.feed(audio) + _steady(rx, level, 800) for rx in (tick_by_tick, at_once)]
    assert got[0] == got[1] and set(got[0]) <= set(DTMF_DIGITS)
    assert tick_by_tick.reports() == at_once.reports()
    assert _idle_on(tick_by_tick, level) and _idle_on(at_once, level)


def test_a_receiver_is_idle_on_a_quiet_level_not_a_loud_one():
    rx = DtmfRx()
    rx.steady(8, 500)
    assert rx.idle_on(8) and not rx.idle_on(-8) and not rx.idle_on(0)
    rx.steady(3000, 500)                          # loud enough to hold a tone: filtered
    assert not rx.idle_on(3000)
