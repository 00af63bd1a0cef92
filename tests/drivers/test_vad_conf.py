"""Voice activity (csrc/dsp/vad.c) and the conference mixer (csrc/dsp/conf.c)."""
from __future__ import annotations

import shutil
import subprocess
from array import array

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from drivers.dsp_tones import ConfFlags, Conference, Vad

RATE = 8000
DBM0_PEAK = 22827.0


def sine(f, dbm0, ms):
    n = int(RATE * ms / 1000)
    x = DBM0_PEAK * 10 ** (dbm0 / 20) * np.sin(2 * np.pi * f * np.arange(n) / RATE)
    return array("h", np.round(x).astype(np.int16).tobytes())


def silence(ms):
    return array("h", bytes(2 * int(RATE * ms / 1000)))


def noise(dbm0, ms, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, DBM0_PEAK / np.sqrt(2) * 10 ** (dbm0 / 20), int(RATE * ms / 1000))
    return array("h", np.clip(x, -32768, 32767).astype(np.int16).tobytes())


def power_at(x, f):
    """Goertzel-style single-bin power, normalised to the tone's amplitude."""
    a = np.frombuffer(x.tobytes(), dtype=np.int16).astype(float)
    n = np.arange(len(a))
    return abs(np.sum(a * np.exp(-2j * np.pi * f * n / RATE))) * 2 / len(a)


@pytest.fixture(scope="module")
def speech():
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng or sox not installed")
    wav = subprocess.run(["espeak-ng", "--stdout", "Good morning. Your call is important to us."],
                         capture_output=True, check=True).stdout
    raw = subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-b", "16", "-e", "signed-integer",
                          "-c", "1", "-t", "raw", "-"], input=wav, capture_output=True, check=True).stdout
    return array("h", raw)


# ---- VAD -----------------------------------------------------------------------

def test_level_of_a_sine_in_dbm0():
    for lv in (-3, -10, -20, -35):
        v = Vad()
        v.feed(sine(1000, lv, 500))
        assert abs(v.level - lv) < 0.3


def test_silence_level_and_no_voice():
    v = Vad()
    assert v.feed(silence(1000)) is False
    assert v.level == -99.0
    assert v.events() == []


def test_speech_and_silence_with_hangover(speech):
    v = Vad(hangover_ms=300)
    audio = silence(500) + speech + silence(1000)
    states = []
    for i in range(0, len(audio), 80):
        states.append(v.feed(audio[i:i + 80]))
    ev = v.events()
    assert ev[0][0] is True
    assert ev[-1][0] is False
    start = ev[0][1] / RATE
    end = ev[-1][1] / RATE
    assert 0.5 <= start < 0.5 + 0.3
    x = np.abs(np.frombuffer(speech.tobytes(), dtype=np.int16))
    speech_end = 0.5 + np.nonzero(x > 300)[0][-1] / RATE      # espeak ends with some silence
    assert speech_end + 0.25 < end < speech_end + 0.8
    assert sum(states) / len(states) > 0.3


def test_steady_background_noise_is_learnt():
    v = Vad(threshold_dbm0=-50)
    v.feed(noise(-45, 5000))
    assert not v.active
    assert -50 < v.noise < -40
    v.feed(sine(500, -20, 300))
    assert v.active


def test_short_click_is_not_voice():
    v = Vad()
    v.feed(silence(100) + sine(1000, -10, 8) + silence(500))
    assert v.events() == []


def test_bad_arguments():
    with pytest.raises(ValueError):
        Vad(threshold_dbm0=10)
    with pytest.raises(ValueError):
        Vad(hangover_ms=-1)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4000), st.integers(1, 300))
def test_vad_arbitrary_audio(raw, chunk):
    raw = raw[:len(raw) // 2 * 2]
    v = Vad()
    a = array("h", raw)
    for i in range(0, len(a), chunk):
        v.feed(a[i:i + chunk])
    assert -99.0 <= v.level <= 10.0
    for on, at in v.events():
        assert 0 <= at <= len(a)


# ---- conference ------------------------------------------------------------------

FREQS = {0: 500, 1: 1000, 2: 1500, 3: 2000}


def parties(members, ms=200, level=-10):
    return {m: sine(FREQS[m], level, ms) for m in members}


def heard(out):
    return {f for f in FREQS.values() if power_at(out, f) > 500}


def test_three_parties_hear_the_others_not_themselves():
    c = Conference(4)
    for m in range(3):
        c.join(m)
    out = c.mix(parties(range(3)))
    assert heard(out[0]) == {1000, 1500}
    assert heard(out[1]) == {500, 1500}
    assert heard(out[2]) == {500, 1000}
    # levels kept: each other party at its own amplitude
    a = DBM0_PEAK * 10 ** (-10 / 20)
    assert abs(power_at(out[0], 1000) / a - 1) < 0.01


def test_listen_only_monitor():
    c = Conference(4)
    c.join(0)
    c.join(1)
    c.join(3, ConfFlags.MONITOR)
    out = c.mix(parties([0, 1, 3]))
    assert heard(out[3]) == {500, 1000}         # the supervisor hears both
    assert heard(out[0]) == {1000}              # and is heard by none
    assert heard(out[1]) == {500}


def test_whisper_heard_by_its_target_only():
    c = Conference(4)
    c.join(0)                                   # caller
    c.join(1)                                   # agent
    c.join(3, ConfFlags.HEAR, whisper_to=1)     # supervisor coaching the agent
    out = c.mix(parties([0, 1, 3]))
    assert heard(out[1]) == {500, 2000}
    assert heard(out[0]) == {1000}
    assert heard(out[3]) == {500, 1000}
    # barge: the supervisor becomes an ordinary member
    c.join(3, ConfFlags.MEMBER)
    out = c.mix(parties([0, 1, 3]))
    assert heard(out[0]) == {1000, 2000}
    assert heard(out[1]) == {500, 2000}


def test_leave_and_talk_only_source():
    c = Conference(4)
    c.join(0)
    c.join(1)
    c.join(2, ConfFlags.TALK)                   # music on hold / a prompt
    out = c.mix(parties([0, 1, 2]))
    assert heard(out[0]) == {1000, 1500}
    assert max(out[2]) == 0 and min(out[2]) == 0
    c.leave(1)
    assert len(c) == 2
    out = c.mix(parties([0, 1, 2]))
    assert set(out) == {0, 2}
    assert heard(out[0]) == {1500}
    with pytest.raises(ValueError):
        c.leave(1)
    with pytest.raises(ValueError):
        c.join(9)


def test_saturation():
    c = Conference(3)
    for m in range(3):
        c.join(m)
    loud = array("h", [30000] * 160)
    out = c.mix({0: loud, 1: loud, 2: loud})
    assert set(out[0]) == {32767}
    neg = array("h", [-30000] * 160)
    out = c.mix({0: neg, 1: neg, 2: neg})
    assert set(out[2]) == {-32768}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(-32768, 32767), min_size=50, max_size=50), min_size=2, max_size=6),
       st.lists(st.sampled_from([1, 2, 3, 6]), min_size=6, max_size=6))
def test_mix_matches_reference(signals, flags):
    n = len(signals)
    c = Conference(n)
    for m in range(n):
        c.join(m, flags[m] & 3 if flags[m] != 6 else ConfFlags.HEAR, whisper_to=(m + 1) % n if flags[m] == 6 else None)
    ins = {m: array("h", signals[m]) for m in range(n)}
    out = c.mix(ins)
    x = np.array(signals, dtype=np.int64)
    talk = [m for m in range(n) if flags[m] in (1, 3)]
    for m in range(n):
        if not flags[m] & 2 and flags[m] != 6:
            assert set(out[m]) == {0}
            continue
        ref = x[talk].sum(axis=0) - (x[m] if m in talk else 0)
        for w in range(n):
            if flags[w] == 6 and (w + 1) % n == m:
                ref = ref + x[w]
        assert list(out[m]) == list(np.clip(ref, -32768, 32767))
