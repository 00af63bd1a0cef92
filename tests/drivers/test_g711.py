"""G.711 A-law and mu-law (csrc/dsp/g711.c) against sox, spandsp and the standard itself.

sox is the oracle the issue names. Decoding agrees on all 256 characters of both
laws. Encoding agrees on every 16-bit value except where sox's own rounding
carries a sample across a decision value: sox rounds the sample to the nearest
13-bit (A-law) or 14-bit (mu-law) value before quantising. Those values are
counted, and for each one the test shows from the decision values of G.711
tables 1 and 2 that our character is the right one and sox's is not.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import struct
import subprocess
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from drivers import codecs
from drivers.hal import lib
from tests.served import ROOT

ALL_LINEAR = struct.pack("<65536h", *range(-32768, 32768))
ALL_CODES = bytes(range(256))

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def sox(args: list[str], data: bytes) -> bytes:
    # -D: no dither (sox adds it by default when reducing precision); -V1: errors only
    return subprocess.run(["sox", "-D", "-V1", *args], input=data, capture_output=True,
                          check=True).stdout


def sox_encode(law: str) -> bytes:
    return sox(["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "8000", "-L",
                "-", "-t", "raw", "-e", law, "-b", "8", "-c", "1", "-"], ALL_LINEAR)


def sox_decode(law: str) -> bytes:
    return sox(["-t", "raw", "-e", law, "-b", "8", "-c", "1", "-r", "8000", "-",
                "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-"], ALL_CODES)


# ---- G.711 tables 1 and 2, written from the standard, independent of the C ----

# Table 1 (A-law), 4096 scale: segment end points; 16 equal steps per segment.
A_SEGMENTS = [0, 32, 64, 128, 256, 512, 1024, 2048, 4096]
# Table 2 (mu-law), 8159 scale: code 0 is the interval 0..1, then 15 steps of 2 up to 31,
# then segments of 16 steps ending at these values.
U_SEGMENTS = [31, 95, 223, 479, 991, 2015, 4063, 8159]


def a_interval(code: int) -> tuple[int, Fraction, Fraction]:
    """(sign, low, high) of the decision interval of an A-law character, on the 4096 scale."""
    c = code ^ 0x55
    sign = 1 if c & 0x80 else -1
    seg, q = (c >> 4) & 7, c & 15
    lo, hi = A_SEGMENTS[seg], A_SEGMENTS[seg + 1]
    step = Fraction(hi - lo, 16)
    return sign, lo + q * step, lo + (q + 1) * step


def u_interval(code: int) -> tuple[int, Fraction, Fraction]:
    """(sign, low, high) of the decision interval of a mu-law character, on the 8159 scale."""
    c = (~code) & 0xFF
    sign = -1 if c & 0x80 else 1
    n = c & 0x7F
    if n == 0:
        return sign, Fraction(0), Fraction(1)
    if n < 16:
        return sign, Fraction(2 * n - 1), Fraction(2 * n + 1)
    seg, q = n >> 4, n & 15
    lo, hi = U_SEGMENTS[seg - 1], U_SEGMENTS[seg]
    step = Fraction(hi - lo, 16)
    return sign, lo + q * step, lo + (q + 1) * step


def a_fits(x: int, code: int) -> bool:
    """The 16-bit sample x (x/8 on the 4096 scale) lies in the character's closed interval."""
    sign, lo, hi = a_interval(code)
    v = Fraction(x, 8)
    if v == 0:
        return lo == 0
    return (v > 0) == (sign > 0) and lo <= abs(v) <= hi


def u_fits(x: int, code: int) -> bool:
    sign, lo, hi = u_interval(code)
    v = Fraction(x, 4)
    if abs(v) > 8159:                        # overload: the largest magnitude, same sign
        return hi == 8159 and (v > 0) == (sign > 0)
    if v == 0 or lo == 0:
        return lo <= abs(v) <= hi             # either zero may carry a tiny sample
    return (v > 0) == (sign > 0) and lo <= abs(v) <= hi


def test_table_end_points_as_printed_in_g711():
    # Spot values from the tables: A-law character 0xD5 is +1..+2 -> the first interval,
    # mu-law 0xFF is +0, 0x80 the largest positive (7903..8159).
    assert a_interval(0xD5) == (1, 0, 2)
    assert a_interval(0xAA) == (1, 3968, 4096)
    assert u_interval(0xFF) == (1, 0, 1)
    assert u_interval(0xFE) == (1, 1, 3)
    assert u_interval(0x80) == (1, 7903, 8159)
    assert u_interval(0x7F) == (-1, 0, 1)


# ---- decoding -------------------------------------------------------------------

@needs_sox
@pytest.mark.parametrize("law,decode", [("a-law", codecs.alaw_decode), ("u-law", codecs.ulaw_decode)])
def test_decode_agrees_with_sox_on_all_256_codes(law, decode):
    ours = decode(ALL_CODES)
    theirs = sox_decode(law)
    assert len(theirs) == 512
    assert ours == theirs


def test_decoded_values_are_the_interval_mid_points():
    for c in range(256):
        sign, lo, hi = a_interval(c)
        assert lib.g711_alaw_to_linear(c) == sign * (lo + hi) / 2 * 8
        sign, lo, hi = u_interval(c)
        if lo == 0:     # table 2: the interval either side of zero decodes to 0
            assert lib.g711_ulaw_to_linear(c) == 0
        else:
            assert lib.g711_ulaw_to_linear(c) == sign * (lo + hi) / 2 * 4


# ---- encoding -------------------------------------------------------------------

def sox_model(law: str, x: int) -> int:
    """What sox does (libsox g711 after rounding to 13/14 bits), to explain every disagreement."""
    if law == "a-law":
        v = min((x + 4) >> 3, 4095)
        mask = 0xD5 if v >= 0 else 0x55
        m = v if v >= 0 else -v - 1
        code = m >> 1 if m < 32 else ((m.bit_length() - 5) << 4) | ((m >> (m.bit_length() - 5)) & 15)
        return code ^ mask
    v = min((x + 2) >> 2, 8191)
    mask = 0xFF if v >= 0 else 0x7F
    b = min(abs(v), 8159) + 33
    if b >= 8192:
        return 0x7F ^ mask
    s = b.bit_length() - 6
    return ((s << 4) | ((b >> (s + 1)) & 15)) ^ mask


@needs_sox
@pytest.mark.parametrize("law,encode,fits,expected", [
    ("a-law", codecs.alaw_encode, a_fits, 1020),
    ("u-law", codecs.ulaw_encode, u_fits, 383),
])
def test_encode_agrees_with_sox_on_every_value_but_sox_rounding(law, encode, fits, expected):
    ours = encode(ALL_LINEAR)
    theirs = sox_encode(law)
    assert len(ours) == len(theirs) == 65536
    differ = [x for x in range(-32768, 32768) if ours[x + 32768] != theirs[x + 32768]]
    # sox is explained entirely by rounding the sample to 13/14 bits first ...
    assert all(theirs[x + 32768] == sox_model(law, x) for x in range(-32768, 32768))
    # ... which carries values across the decision values: A-law, 4 beside each of the
    # 255; mu-law, 2 beside each of the 127 positive ones and 1 beside each of the 127
    # negative ones, plus -1 and -2, which sox sends as +0 and we as -0 (both decode to 0).
    assert len(differ) == expected
    for x in differ:
        assert fits(x, ours[x + 32768]), x
        if law == "u-law" and x in (-1, -2):
            assert (ours[x + 32768], theirs[x + 32768]) == (0x7F, 0xFF)
            continue
        assert not fits(x, theirs[x + 32768]), x


@pytest.mark.parametrize("encode,fits", [(codecs.alaw_encode, a_fits), (codecs.ulaw_encode, u_fits)])
def test_every_value_falls_in_its_g711_decision_interval(encode, fits):
    out = encode(ALL_LINEAR)
    bad = [x for x in range(-32768, 32768) if not fits(x, out[x + 32768])]
    assert bad == []


def _spandsp():
    name = ctypes.util.find_library("spandsp")
    if name is None:
        return None
    so = ctypes.CDLL(name)
    for f in ("alaw_to_ulaw", "ulaw_to_alaw"):
        getattr(so, f).restype = ctypes.c_uint8
        getattr(so, f).argtypes = [ctypes.c_uint8]
    return so


@pytest.mark.skipif(_spandsp() is None, reason="libspandsp is not installed")
def test_alaw_ulaw_conversion_tables_agree_with_spandsp():
    """G.711 tables 3 and 4 as spandsp carries them (copied there from the standard)."""
    so = _spandsp()
    for c in range(256):
        assert lib.g711_alaw_to_ulaw(c) == so.alaw_to_ulaw(c), hex(c)
        assert lib.g711_ulaw_to_alaw(c) == so.ulaw_to_alaw(c), hex(c)


# ---- round trips ----------------------------------------------------------------

def test_encode_of_decode_is_the_identity_on_all_codes():
    assert codecs.alaw_encode(codecs.alaw_decode(ALL_CODES)) == ALL_CODES
    # mu-law has two zeros; negative zero (0x7F) decodes to 0, which encodes as +0 (0xFF).
    back = codecs.ulaw_encode(codecs.ulaw_decode(ALL_CODES))
    assert back == ALL_CODES.replace(b"\x7f", b"\xff")


def _a_step(code: int) -> int:
    _, lo, hi = a_interval(code)
    return int((hi - lo) * 8)


def _u_step(code: int) -> int:
    _, lo, hi = u_interval(code)
    return int((hi - lo) * 4)


@given(st.integers(-32768, 32767))
def test_alaw_round_trip_within_half_a_step(x):
    code = lib.g711_linear_to_alaw(x)
    y = lib.g711_alaw_to_linear(code)
    assert abs(x - y) <= _a_step(code) // 2
    assert (x >= 0) == (y > 0)


@given(st.integers(-32768, 32767))
def test_ulaw_round_trip_within_half_a_step(x):
    code = lib.g711_linear_to_ulaw(x)
    y = lib.g711_ulaw_to_linear(code)
    if abs(x) > 8159 * 4:      # overload: clipped to the largest magnitude
        assert (code & 0x7F) == 0 and abs(y) == 32124
    elif (code & 0x7F) == 0x7F:
        # G.711 table 2a: the first interval on each side decodes to 0, its edge, not its
        # middle (mu-law has two zeros), so the error there reaches a whole step
        assert abs(x - y) < _u_step(code)
    else:
        assert abs(x - y) <= _u_step(code) // 2


@given(st.lists(st.integers(-32768, 32767), max_size=400))
def test_bulk_matches_single_sample_calls(samples):
    a = codecs.alaw_encode(samples)
    u = codecs.ulaw_encode(samples)
    assert list(a) == [lib.g711_linear_to_alaw(x) for x in samples]
    assert list(u) == [lib.g711_linear_to_ulaw(x) for x in samples]
    assert codecs.alaw_decode(a) == struct.pack("<%dh" % len(a), *(lib.g711_alaw_to_linear(c) for c in a))
    assert codecs.ulaw_decode(u) == struct.pack("<%dh" % len(u), *(lib.g711_ulaw_to_linear(c) for c in u))


@given(st.integers(0, 255))
def test_alaw_to_ulaw_keeps_sign_and_lands_near(a):
    u = lib.g711_alaw_to_ulaw(a)
    va, vu = lib.g711_alaw_to_linear(a), lib.g711_ulaw_to_linear(u)
    assert (va > 0) == (((~u) & 0x80) == 0)
    # within one mu-law step of the A-law value
    assert abs(va - vu) <= _u_step(u)


@given(st.integers(0, 255))
def test_ulaw_to_alaw_keeps_sign_and_lands_near(u):
    a = lib.g711_ulaw_to_alaw(u)
    va, vu = lib.g711_alaw_to_linear(a), lib.g711_ulaw_to_linear(u)
    assert (va > 0) == (((~u) & 0x80) == 0)
    assert abs(va - vu) <= _a_step(a)


def test_conversion_tables_round_trip_mostly():
    """A -> mu -> A gives the A-law character back except where A-law is finer
    (just below each power of two, and in segment 0 where two A-law steps share
    one mu-law character ... or the reverse); no character moves by more than one step."""
    for a in range(256):
        back = lib.g711_ulaw_to_alaw(lib.g711_alaw_to_ulaw(a))
        assert abs(lib.g711_alaw_to_linear(back) - lib.g711_alaw_to_linear(a)) <= _a_step(a)
    for u in range(256):
        back = lib.g711_alaw_to_ulaw(lib.g711_ulaw_to_alaw(u))
        assert abs(lib.g711_ulaw_to_linear(back) - lib.g711_ulaw_to_linear(u)) <= 2 * _u_step(u)


def test_silence_codes():
    assert codecs.ALAW_SILENCE == 0xD5 == lib.g711_linear_to_alaw(0)
    assert codecs.ULAW_SILENCE == 0xFF == lib.g711_linear_to_ulaw(0)


def test_input_forms():
    from array import array
    samples = [0, 1, -1, 1000, -32768, 32767]
    want = codecs.alaw_encode(samples)
    assert codecs.alaw_encode(array("h", samples)) == want
    assert codecs.alaw_encode(struct.pack("<6h", *samples)) == want
    with pytest.raises(ValueError):
        codecs.alaw_encode(b"\x00\x01\x02")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_const_tables_are_what_the_generator_prints(tmp_path):
    import os
    root = str(ROOT)
    src = os.path.join(root, "csrc", "dsp", "g711.c")
    exe = str(tmp_path / "g711gen")
    subprocess.run(["gcc", "-Wall", "-DG711_GENERATE_TABLES", "-I", os.path.join(root, "csrc"), src,
                    "-o", exe], check=True)
    printed = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.rstrip()
    with open(src) as f:
        assert printed in f.read()
