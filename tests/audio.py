"""Signals the tests make and measure: a Goertzel power of one frequency (what a DTMF or
tone detector computes, ITU-T Q.24's tones are checked with it) and A-law tones."""
from __future__ import annotations

import array
import math

from drivers.codecs import alaw_encode


def power(samples, freq, rate=8000):
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def alaw_tone(freq, n, start=0, amp=8000):
    pcm = array.array("h", (int(amp * math.sin(2 * math.pi * freq * (start + i) / 8000))
                            for i in range(n)))
    return alaw_encode(pcm.tobytes())
