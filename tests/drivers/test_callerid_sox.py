"""Our FSK caller-ID receiver decodes FSK whose tones sox synthesised.

sox has no FSK modem, so it makes the tones: a second of mark and of space,
and the bits of a caller-ID burst are cut from them (7, 7, 6 samples per bit
for the 1200 baud clock at 8 kHz), each stretch taken where the phase so far
lands to the nearest sample. The result has the small phase jumps of a
switched oscillator that a continuous-phase modulator (ours, spandsp's)
never makes.
"""
from __future__ import annotations

import shutil
import subprocess
from array import array

import pytest

from drivers.callerid import (CallerId, DateTime, Mode, Standard, build_mdmf, build_sdmf,
                              decode, fsk_burst)

pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")

TONES = {Mode.BELL202: (1200, 2200), Mode.V23: (1300, 2100)}     # mark, space (Hz)


def sox_tone(freq: int, gain_db: float) -> array:
    """One second of a sine that sox synthesised (phase zero at sample zero)."""
    raw = subprocess.run(["sox", "-r", "8000", "-n", "-e", "signed-integer", "-b", "16", "-c", "1",
                          "-t", "raw", "-", "synth", "8000s", "sine", str(freq),
                          "gain", str(gain_db)], check=True, capture_output=True,
                         timeout=30).stdout
    a = array("h")
    a.frombytes(raw)
    assert len(a) == 8000
    return a


def sox_fsk(bits: bytes, mode: Mode, gain_db: float = -16.0) -> array:
    """The bits as stretches of sox's two tones, each picked up where the phase of the
    signal so far lands in it (to the nearest sample: jumps of up to half a sample's
    phase step at every bit edge), 20 samples per 3 bits of the 1200 baud clock."""
    mark, space = TONES[mode]
    tones = {1: (mark, sox_tone(mark, gain_db)), 0: (space, sox_tone(space, gain_db))}
    out = array("h", [0] * 800)                      # a little silence first
    phase = 0.0                                      # in cycles
    for i, b in enumerate(bits):
        freq, tone = tones[1 if b else 0]
        n = 6 if i % 3 == 2 else 7
        k = int(round((phase % 1.0) * 8000 / freq))
        out += tone[k:k + n]
        phase += freq * n / 8000
    return out + array("h", [0] * 800)


@pytest.mark.parametrize("mode", [Mode.BELL202, Mode.V23])
@pytest.mark.parametrize("build", [build_mdmf, build_sdmf])
def test_we_decode_caller_id_made_of_sox_tones(mode, build):
    when = None if build is build_mdmf else DateTime(11, 23, 9, 30)
    cid = CallerId(number="13912345678", name="WANG WU" if build is build_mdmf else None,
                   when=when)
    audio = sox_fsk(fsk_burst(build(cid), Standard.ETSI).bits(), mode)
    got = decode(audio, mode)
    assert got, got
    assert got.number == "13912345678"
    if build is build_mdmf:
        assert got.name == "WANG WU"
