"""Prompt files: the default set, loading as A-law, numbers as fragments."""
from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import wave
from array import array
from pathlib import Path

import pytest

from cti.centre import prompts
from cti.centre.prompts import (DEFAULT_PROMPTS, MOH, MOH_SECONDS, PromptError, PromptLibrary,
                         make_default_prompts, say_digits, say_number, valid_prompt_name)
from drivers.codecs import alaw_decode, alaw_encode

HAVE_SOX = shutil.which("sox") is not None
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_sox = pytest.mark.skipif(not HAVE_SOX, reason="sox is not installed")

SOME = ["welcome", "menu", "digit_7", "callback_thanks", MOH]


def wav_info(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def wav_samples(path: Path) -> array:
    with wave.open(str(path)) as w:
        a = array("h")
        a.frombytes(w.readframes(w.getnframes()))
        return a


def rms(a) -> float:
    return math.sqrt(sum(x * x for x in a) / len(a)) if len(a) else 0.0


def check_prompt_set(directory: Path, names: list[str]) -> None:
    lib = PromptLibrary(directory)
    for n in names:
        rate, ch, width, frames = wav_info(directory / f"{n}.wav")
        assert (rate, ch, width) == (8000, 1, 2), n
        audio = lib.load(n)
        assert len(audio) == frames, n                     # one A-law byte per 8 kHz sample
        assert lib.duration(n) == frames / 8000
        pcm = wav_samples(directory / f"{n}.wav")
        assert rms(pcm) > 300, f"{n} is silent"
        back = array("h")
        back.frombytes(alaw_decode(audio))
        # G.711 A-law: the decoded sample is within half a segment step of the original
        assert all(abs(a - b) <= max(16, abs(a) // 16 + 8) for a, b in zip(pcm, back)), n
    if MOH in names:
        assert len(lib.load(MOH)) == MOH_SECONDS * 8000


# ---------------------------------------------------------------------------------
# Numbers

@pytest.mark.parametrize("n, names", [
    (0, ["digit_0"]),
    (7, ["digit_7"]),
    (13, ["num_13"]),
    (40, ["num_40"]),
    (42, ["num_40", "digit_2"]),
    (100, ["digit_1", "hundred"]),
    (123, ["digit_1", "hundred", "num_20", "digit_3"]),
    (1005, ["digit_1", "thousand", "digit_5"]),
    (2_000_310, ["digit_2", "million", "digit_3", "hundred", "num_10"]),
    (-3, ["minus", "digit_3"]),
    ("12.50", ["num_12", "point", "digit_5", "digit_0"]),
    (0.5, ["digit_0", "point", "digit_5"]),
    ("  88 ", ["num_80", "digit_8"]),
])
def test_say_number(n, names):
    assert say_number(n) == names


def test_say_number_refuses_what_is_not_a_number():
    for bad in ("abc", "", True, float("nan"), 10 ** 12, "1e5"):
        with pytest.raises(ValueError):
            say_number(bad)


def test_every_fragment_say_number_uses_is_a_default_prompt():
    for n in list(range(0, 1200)) + [10 ** 6 + 17, 999_999_999_999, -45]:
        assert set(say_number(n)) <= set(DEFAULT_PROMPTS), n


def test_say_digits():
    assert say_digits("0571-8*#") == ["digit_0", "digit_5", "digit_7", "digit_1", "minus",
                                      "digit_8", "star", "hash"]
    assert say_digits(42) == ["digit_4", "digit_2"]
    assert say_digits("+86 ") == ["digit_8", "digit_6"]
    assert set(say_digits("0123456789*#.-")) <= set(DEFAULT_PROMPTS)


def test_prompt_names():
    assert all(valid_prompt_name(n) for n in DEFAULT_PROMPTS)
    for bad in ("../x", "a/b", ".hidden", "", "a..b", "x y"):
        assert not valid_prompt_name(bad)


# ---------------------------------------------------------------------------------
# The default set

@pytest.mark.skipif(not (HAVE_SOX and HAVE_ESPEAK), reason="needs espeak-ng and sox")
def test_make_default_prompts_with_espeak(tmp_path):
    made = make_default_prompts(tmp_path, names=SOME)
    assert made.engine == "espeak-ng"
    assert set(made.made) == set(SOME) and made.kept == ()
    check_prompt_set(tmp_path, SOME)
    # speech is long enough to be words, not a click
    assert wav_info(tmp_path / "menu.wav")[3] > 3 * 8000


@pytest.mark.skipif(not (HAVE_SOX and HAVE_ESPEAK), reason="needs espeak-ng and sox")
def test_make_the_whole_default_set(tmp_path):
    made = make_default_prompts(tmp_path)
    assert set(made.names) == set(DEFAULT_PROMPTS) | {MOH}
    assert set(PromptLibrary(tmp_path).names()) == set(made.names)
    assert not list(tmp_path.glob(".*"))                   # no temporary files left


@needs_sox
def test_without_espeak_prompts_are_sox_tones_and_it_says_so(tmp_path, monkeypatch):
    real = shutil.which
    monkeypatch.setattr(prompts.shutil, "which",
                        lambda name: None if name == "espeak-ng" else real(name))
    made = make_default_prompts(tmp_path, names=SOME)
    assert made.engine == "sox"
    assert "espeak-ng is not installed" in made.note
    check_prompt_set(tmp_path, SOME)


def test_without_sox_or_espeak_prompts_are_python_tones(tmp_path, monkeypatch):
    monkeypatch.setattr(prompts.shutil, "which", lambda name: None)
    made = make_default_prompts(tmp_path, names=SOME)
    assert made.engine == "python"
    assert "sox is not installed nor espeak-ng" in made.note
    check_prompt_set(tmp_path, SOME)
    # and the library can still synthesise "text" (as a tone)
    assert len(PromptLibrary(tmp_path).load("tts:hello")) > 0


def test_tone_prompts_stay_below_the_dtmf_groups():
    assert all(300 <= prompts._tone_freq(n) < 697 for n in DEFAULT_PROMPTS)


def test_existing_files_are_kept_unless_forced(tmp_path, monkeypatch):
    monkeypatch.setattr(prompts.shutil, "which", lambda name: None)    # fast, no subprocess
    make_default_prompts(tmp_path, names=["goodbye"])
    before = (tmp_path / "goodbye.wav").stat().st_mtime_ns
    again = make_default_prompts(tmp_path, names=["goodbye", "digit_1"],
                                 texts={"goodbye": "Bye now."})
    assert again.kept == ("goodbye",) and again.made == ("digit_1",)
    assert (tmp_path / "goodbye.wav").stat().st_mtime_ns == before
    forced = make_default_prompts(tmp_path, names=["goodbye"], force=True)
    assert forced.made == ("goodbye",)
    with pytest.raises(PromptError, match="no words"):
        make_default_prompts(tmp_path, names=["not_a_prompt"])
    with pytest.raises(PromptError, match="not a valid prompt name"):
        make_default_prompts(tmp_path, names=["../evil"])


# ---------------------------------------------------------------------------------
# The library

def write_wav(path: Path, samples, rate=8000, channels=1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array("h", samples).tobytes())


def sine(n, freq, rate, amp=8000):
    return [int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)]


def test_load_8khz_pcm_directly_and_cache(tmp_path):
    s = sine(800, 440, 8000)
    write_wav(tmp_path / "beep.wav", s)
    lib = PromptLibrary(tmp_path)
    a = lib.load("beep")
    assert a == alaw_encode(s)
    assert lib.load("beep") is a                           # cached
    assert "beep" in lib and "nope" not in lib and lib.names() == ["beep"]
    assert lib.missing(["beep", "nope", "tts:x"]) == ["nope"]
    write_wav(tmp_path / "beep.wav", s[:400])              # re-recorded: reloaded
    os.utime(tmp_path / "beep.wav", ns=(1, 1))
    assert len(lib.load("beep")) == 800                    # within a second: as cached
    lib.recheck = 0.0
    assert len(lib.load("beep")) == 400


def test_a_cached_prompt_is_looked_at_again_after_recheck_seconds(tmp_path):
    s = sine(800, 440, 8000)
    write_wav(tmp_path / "beep.wav", s)
    now = [100.0]
    lib = PromptLibrary(tmp_path, recheck=2.0, clock=lambda: now[0])
    assert len(lib.load("beep")) == 800
    write_wav(tmp_path / "beep.wav", s[:400])
    os.utime(tmp_path / "beep.wav", ns=(1, 1))
    now[0] += 1.9
    assert len(lib.load("beep")) == 800                    # not looked at yet
    now[0] += 0.2
    assert len(lib.load("beep")) == 400                    # re-recorded: heard from now on
    (tmp_path / "beep.wav").unlink()
    now[0] += 2.5
    with pytest.raises(PromptError, match="no file"):
        lib.load("beep")


@needs_sox
def test_load_converts_other_rates_and_channels_with_sox(tmp_path):
    s = sine(16000, 440, 16000)
    write_wav(tmp_path / "wide.wav", [x for x in s for _ in range(2)], rate=16000, channels=2)
    a = PromptLibrary(tmp_path).load("wide")
    assert abs(len(a) - 8000) <= 1
    back = array("h")
    back.frombytes(alaw_decode(a))
    assert 4000 < rms(back[100:-100]) < 7000                # 8000 peak: rms ~5657


@needs_sox
def test_load_takes_alaw_wav_as_it_is(tmp_path):
    s = sine(800, 440, 8000)
    write_wav(tmp_path / "lin.wav", s)
    subprocess.run(["sox", "-D", str(tmp_path / "lin.wav"), "-e", "a-law", str(tmp_path / "a.wav")],
                   check=True)
    lib = PromptLibrary(tmp_path)
    wav = prompts._read_wav(tmp_path / "a.wav")
    assert wav.fmt == 6
    assert lib.load("a") == wav.data                       # taken as it is, no re-coding
    # and sox's A-law is ours, as sent (even bits inverted): it differs only where a
    # sample sits on a decision value, which sox rounds and G.711 does not
    ours, theirs = lib.load("lin"), lib.load("a")
    assert sum(a != b for a, b in zip(ours, theirs)) < len(ours) // 50
    da, db = array("h"), array("h")
    da.frombytes(alaw_decode(ours))
    db.frombytes(alaw_decode(theirs))
    assert all(abs(a - b) <= 256 for a, b in zip(da, db))


def test_load_errors_name_the_prompt_and_file(tmp_path):
    lib = PromptLibrary(tmp_path)
    with pytest.raises(PromptError, match=r"prompt 'gone': no file .*gone\.wav"):
        lib.load("gone")
    with pytest.raises(PromptError, match="not a valid prompt name"):
        lib.load("../etc/passwd")
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    with pytest.raises(PromptError, match=r"junk\.wav: not a RIFF/WAVE file"):
        lib.load("junk")
    (tmp_path / "nodata.wav").write_bytes(b"RIFF" + struct.pack("<I", 4) + b"WAVE")
    with pytest.raises(PromptError, match="without fmt chunk"):
        lib.load("nodata")


@pytest.mark.skipif(not (HAVE_SOX and HAVE_ESPEAK), reason="needs espeak-ng and sox")
def test_tts_renders_text_and_caches_it(tmp_path):
    lib = PromptLibrary(tmp_path, tts_cache=1)
    a = lib.load("tts:Your order has shipped")
    assert len(a) > 8000 // 2
    assert lib.load("tts:Your order has shipped") is a
    lib.load("tts:something else")
    assert lib.load("tts:Your order has shipped") is not a  # evicted, rendered again
