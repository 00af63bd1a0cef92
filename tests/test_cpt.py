"""Call-progress tones (csrc/dsp/cpt.c): generation, cadence detection, voice, answer."""
from __future__ import annotations

import shutil
import subprocess
from array import array

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from drivers.dsp_tones import CptKind, CptRx, CptTone, CptTx, tone_info, tone_sets

RATE = 8000
DBM0_PEAK = 22827.0


def silence(ms):
    return array("h", bytes(2 * int(RATE * ms / 1000)))


def run(rx, audio, chunk=160):
    """Feed audio tick by tick; the events as (kind, seconds)."""
    out = []
    for i in range(0, len(audio), chunk):
        rx.feed(audio[i:i + chunk])
        out += [(k, at / RATE) for k, at in rx.events()]
    return out


def play(tone_set, tone, seconds, lead_ms=37):
    tx = CptTx(tone_set)
    tx.play(tone)
    return silence(lead_ms) + tx.generate(int(seconds * RATE))


@pytest.fixture(scope="module")
def speech():
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng or sox not installed")
    wav = subprocess.run(["espeak-ng", "--stdout", "Thank you for calling. All our agents are busy "
                          "at the moment, please hold the line and you will be answered shortly."],
                         capture_output=True, check=True).stdout
    raw = subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-b", "16", "-e", "signed-integer",
                          "-c", "1", "-t", "raw", "-"], input=wav, capture_output=True, check=True).stdout
    return array("h", raw)


def test_tone_table():
    sets = tone_sets()
    assert list(sets)[0] == "cn"
    assert {"cn", "itu", "us", "uk", "de"} <= set(sets)
    cn = {t: tone_info("cn", t) for t in CptTone}
    assert all(i.frequencies == (450,) for i in cn.values())
    assert cn[CptTone.DIAL].cadence_ms == ()
    assert cn[CptTone.RINGBACK].cadence_ms == (1000, 4000)
    assert cn[CptTone.BUSY].cadence_ms == (350, 350)
    assert cn[CptTone.CONGESTION].cadence_ms == (700, 700)
    assert tone_info("us", "dial").frequencies == (350, 440)
    assert tone_info("us", "ringback").frequencies == (440, 480)
    assert tone_info("us", "busy").frequencies == (480, 620)
    assert tone_info("itu", "dial").frequencies == (425,)
    with pytest.raises(ValueError):
        tone_info("xx", "dial")
    with pytest.raises(ValueError):
        tone_info("cn", "howler")


def test_generated_cadence_and_level():
    tx = CptTx("cn")
    tx.play("busy")
    x = np.frombuffer(tx.generate(RATE * 2).tobytes(), dtype=np.int16).astype(float)
    on = np.abs(x.reshape(-1, 40)).max(axis=1) > 0       # 5 ms slots
    # 350 ms on, 350 ms off
    assert on[:70].all() and not on[70:140].any() and on[140:210].all()
    a = DBM0_PEAK * 10 ** (-10 / 20)
    assert abs(np.sqrt(np.mean(x[:2800] ** 2)) / (a / np.sqrt(2)) - 1) < 0.02
    sp = np.abs(np.fft.rfft(x[:2800]))
    assert abs(np.fft.rfftfreq(2800, 1 / RATE)[sp.argmax()] - 450) < 3


EXPECT = [(s, t) for s in ("cn", "itu", "us", "uk", "de") for t in CptTone]


@pytest.mark.parametrize("tone_set,tone", EXPECT, ids=[f"{s}-{t.name.lower()}" for s, t in EXPECT])
def test_each_tone_recognised_with_its_cadence(tone_set, tone):
    ev = run(CptRx(tone_set), play(tone_set, tone, 12) + silence(6000))
    kinds = [k for k, _ in ev]
    assert kinds == [CptKind(int(tone)), CptKind.SILENCE], ev
    info = tone_info(tone_set, tone)
    # confirmed within a cadence period or two, or ~1.3 s for continuous tones
    limit = 1.5 if not info.cadence_ms else max(2 * sum(info.cadence_ms), sum(info.cadence_ms)) + 0.5
    assert ev[0][1] <= limit


def test_busy_and_congestion_told_apart_by_cadence():
    for tone_set in ("cn", "us", "de", "itu"):
        assert [k for k, _ in run(CptRx(tone_set), play(tone_set, "busy", 5))] == [CptKind.BUSY]
        assert [k for k, _ in run(CptRx(tone_set), play(tone_set, "congestion", 5))] == [CptKind.CONGESTION]


def test_chinese_tones_at_line_levels_with_noise():
    rng = np.random.default_rng(3)
    for level in (-10, -25, -33):
        for tone in CptTone:
            tx = CptTx("cn")
            tx.set_level(level)
            tx.play(tone)
            x = np.frombuffer(tx.generate(RATE * 12).tobytes(), dtype=np.int16).astype(float)
            x += rng.normal(0, DBM0_PEAK / np.sqrt(2) * 10 ** ((level - 20) / 20), len(x))
            a = array("h", np.clip(x, -32768, 32767).astype(np.int16).tobytes())
            kinds = [k for k, _ in run(CptRx("cn"), a)]
            assert kinds[:1] == [CptKind(int(tone))], (level, tone, kinds)


def test_off_frequency_tone_not_taken_for_set_tone():
    tx = CptTx("cn")
    tx.play_custom(600, 0, (350, 350))         # a busy cadence at a frequency not in the set
    kinds = [k for k, _ in run(CptRx("cn"), tx.generate(RATE * 5))]
    assert CptKind.BUSY not in kinds


def test_unknown_steady_tone():
    tx = CptTx("cn")
    tx.play_custom(1000)
    kinds = [k for k, _ in run(CptRx("cn"), tx.generate(RATE * 2))]
    assert kinds[-1] == CptKind.UNKNOWN_TONE
    assert CptKind.DIAL not in kinds


def test_speech_is_voice_not_a_tone(speech):
    for tone_set in ("cn", "itu", "us", "uk", "de"):
        kinds = [k for k, _ in run(CptRx(tone_set), speech + silence(3000))]
        assert kinds[0] == CptKind.VOICE
        assert not set(kinds) & {CptKind.DIAL, CptKind.RINGBACK, CptKind.BUSY, CptKind.CONGESTION,
                                 CptKind.ANSWER}, kinds


@pytest.mark.parametrize("tone_set", ["cn", "us", "uk"])
def test_answer_detection_ringback_then_voice(tone_set, speech):
    ring = play(tone_set, "ringback", 11)
    ev = run(CptRx(tone_set), ring + speech)
    kinds = [k for k, _ in ev]
    assert kinds[:3] == [CptKind.RINGBACK, CptKind.VOICE, CptKind.ANSWER], ev
    answered = dict((k, t) for k, t in ev)[CptKind.ANSWER]
    assert len(ring) / RATE < answered < len(ring) / RATE + 0.5


def test_answer_in_first_ring_cycle(speech):
    # answered after one burst of ringback, before the cadence could be confirmed
    ev = run(CptRx("cn"), play("cn", "ringback", 2.5) + speech)
    assert [k for k, _ in ev][:2] == [CptKind.VOICE, CptKind.ANSWER]


def test_no_answer_without_ringback(speech):
    kinds = [k for k, _ in run(CptRx("cn"), play("cn", "busy", 3) + speech)]
    assert CptKind.ANSWER not in kinds and CptKind.VOICE in kinds


def test_bulk_entry_point_matches_single_channel():
    from drivers.dsp_tones import cpt_rx_bulk
    audio = [play("cn", t, 6) for t in CptTone]
    n = len(audio)
    frames = len(audio[0])
    rxs = [CptRx("cn") for _ in range(n)]
    for start in range(0, frames - 160, 160):
        block = array("h")
        for a in audio:
            block += a[start:start + 160]
        cpt_rx_bulk(rxs, block, 160)
    assert [r.current for r in rxs] == [CptKind(int(t)) for t in CptTone]
    # interleaved like an E1 frame buffer: sample i of channel c at i*n + c
    rxs = [CptRx("cn") for _ in range(n)]
    inter = array("h", np.stack([np.frombuffer(a.tobytes(), dtype=np.int16) for a in audio], axis=1)
                  .reshape(-1).tobytes())
    for start in range(0, frames - 160, 160):
        cpt_rx_bulk(rxs, inter[start * n:(start + 160) * n], 160, chan_stride=1, sample_stride=n)
    assert [r.current for r in rxs] == [CptKind(int(t)) for t in CptTone]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=8000), st.integers(1, 500), st.sampled_from(["cn", "itu", "us", "uk", "de"]))
def test_arbitrary_audio_never_crashes(raw, chunk, tone_set):
    raw = raw[:len(raw) // 2 * 2]
    rx = CptRx(tone_set)
    a = array("h", raw)
    for i in range(0, len(a), chunk):
        assert rx.feed(a[i:i + chunk]) in set(CptKind) - {CptKind.ANSWER}
    rx.events()


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["cn", "itu", "us", "uk", "de"]), st.sampled_from(list(CptTone)),
       st.floats(-30, -8), st.integers(0, 5000), st.integers(20, 400))
def test_random_tone_level_phase_round_trip(tone_set, tone, level, lead, chunk):
    tx = CptTx(tone_set)
    tx.set_level(level)
    tx.play(tone)
    tx.generate(lead)                               # start anywhere in the cadence
    info = tone_info(tone_set, tone)
    seconds = 3 if not info.cadence_ms else 2.5 * sum(info.cadence_ms) / 1000 + 1
    kinds = [k for k, _ in run(CptRx(tone_set), tx.generate(int(seconds * RATE)), chunk)]
    assert kinds == [CptKind(int(tone))]
