"""The bit-true E1 framer: HDB3 (G.703 annex A), CRC-4 (G.704 2.3.3.5), frame,
CRC-4 and CAS multiframe alignment (G.706 4, G.732 5.2), G.775 alarms, slips."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.e1 import FRAME_BYTES, E1Framer, crc4, hdb3_decode, hdb3_encode
from drivers.hal import HalError

TICK = 160

# Bytes that make long zero runs likely, as well as anything at all
zeroish = st.binary(max_size=600) | st.lists(
    st.sampled_from([0x00, 0x00, 0x00, 0x01, 0x80, 0x10, 0xFF, 0x55]), max_size=600).map(bytes)


def bits(data: bytes):
    for byte in data:
        for k in range(7, -1, -1):
            yield (byte >> k) & 1


# ---- HDB3 -------------------------------------------------------------------

@given(zeroish)
def test_hdb3_round_trip(data):
    p, n = hdb3_encode(data)
    assert len(p) == len(n) == len(data) + 1
    out, bpv = hdb3_decode(p, n)
    assert out == data
    assert bpv == 0


def check_line_rules(p: bytes, n: bytes):
    """G.703 annex A: no 4 spaces in a row; each violation is the V of a 000V or
    B00V; successive Vs alternate in polarity; both rails never mark together."""
    syms = [(a - b) for a, b in zip(bits(p), bits(n))]
    assert all(a + b < 2 for a, b in zip(bits(p), bits(n)))
    last = -1          # as the encoder starts: last mark negative
    last_v = 0
    zeros = 0
    for i, s in enumerate(syms):
        if s == 0:
            zeros += 1
            assert zeros < 4, "4 spaces in a row at %d" % i
            continue
        zeros = 0
        if s == last:
            assert i >= 3 and syms[i - 1] == 0 and syms[i - 2] == 0, "V at %d not after 00" % i
            assert syms[i - 3] in (0, s), "V at %d: B has the wrong polarity" % i
            assert s != last_v, "Vs at %d do not alternate" % i
            last_v = s
        last = s


@given(zeroish)
def test_hdb3_line_rules(data):
    p, n = hdb3_encode(data)
    check_line_rules(p, n)


@given(zeroish, st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
       st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_hdb3_split_calls(data, enc_splits, dec_splits):
    """The same line whatever the pieces the encoder and decoder are given."""
    from drivers.hal import ffi, lib

    def encode_in(pieces):
        e = ffi.new("e1_hdb3_enc_t *")
        lib.e1_hdb3_enc_init(e)
        src = data + b"\x00"
        p, n = bytearray(len(src)), bytearray(len(src))
        i = k = 0
        while i < len(src):
            step = min(pieces[k % len(pieces)], len(src) - i)
            bp, bn = ffi.new("uint8_t[]", step), ffi.new("uint8_t[]", step)
            lib.e1_hdb3_encode(e, ffi.from_buffer(src[i:i + step]), step, bp, bn)
            p[i:i + step], n[i:i + step] = ffi.buffer(bp), ffi.buffer(bn)
            i += step
            k += 1
        return bytes(p), bytes(n)

    p, n = encode_in(enc_splits)
    assert (p, n) == hdb3_encode(data)
    d = ffi.new("e1_hdb3_dec_t *")
    lib.e1_hdb3_dec_init(d)
    src_p, src_n = p + b"\x00", n + b"\x00"
    out = bytearray()
    i = k = 0
    while i < len(src_p):
        step = min(dec_splits[k % len(dec_splits)], len(src_p) - i)
        buf = ffi.new("uint8_t[]", step)
        lib.e1_hdb3_decode(d, ffi.from_buffer(src_p[i:i + step]), ffi.from_buffer(src_n[i:i + step]),
                           step, buf)
        out += ffi.buffer(buf)
        i += step
        k += 1
    v = int.from_bytes(bytes(out), "big") >> (len(out) * 8 - 6 - len(data) * 8)
    assert (v & ((1 << (len(data) * 8)) - 1)).to_bytes(len(data), "big") == data
    assert d.bpv == 0


@given(st.binary(max_size=400), st.binary(max_size=400))
def test_hdb3_decode_garbage(p, n):
    k = min(len(p), len(n))
    out, bpv = hdb3_decode(p[:k], n[:k])
    assert len(out) == max(k - 1, 0)
    assert 0 <= bpv <= 8 * (k + 1)


def test_hdb3_one_error_costs_about_one_bit():
    """A lost mark or a stray pulse is one BPV and about one bit error, not the
    two or three of a decoder that zeroes 3 positions on any violation."""
    rng = random.Random(7)
    errors = bpvs = 0
    trials = 300
    for _ in range(trials):
        data = bytes(rng.getrandbits(8) for _ in range(256))
        p, n = (bytearray(x) for x in hdb3_encode(data))
        pos = rng.randrange(64, 8 * 256 - 64)
        byte, mask = pos >> 3, 0x80 >> (pos & 7)
        if (p[byte] | n[byte]) & mask:
            p[byte] &= ~mask
            n[byte] &= ~mask
        elif rng.getrandbits(1):
            p[byte] |= mask
        else:
            n[byte] |= mask
        out, bpv = hdb3_decode(bytes(p), bytes(n))
        errors += sum(bin(a ^ b).count("1") for a, b in zip(out, data))
        bpvs += bpv
    # HDB3 cannot tell a lost mark that leaves a valid-looking 000V/B00V from
    # the real thing; about 1.4 bits per symbol error is what is left.
    assert errors / trials < 1.6
    assert 0.5 < bpvs / trials < 1.2


# ---- CRC-4 ------------------------------------------------------------------

def crc4_reference(data: bytes) -> int:
    """G.704 2.3.3.5.2 bit by bit: the block times x^4, divided by x^4 + x + 1;
    the remainder is C1 (x^3) .. C4 (x^0)."""
    reg = 0
    for b in list(bits(data)) + [0, 0, 0, 0]:
        top = reg >> 3
        reg = ((reg << 1) | b) & 0xF
        if top:
            reg ^= 0b0011
    return reg


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=300))
def test_crc4(data, cut):
    cut = min(cut, len(data))
    assert crc4(data) == crc4_reference(data)
    assert crc4(data[cut:], crc4(data[:cut])) == crc4(data)


# ---- framer -----------------------------------------------------------------

class Cable:
    """A line that delays the bit stream by `delay` bits."""

    def __init__(self, delay: int = 0):
        self.p = 0
        self.n = 0
        self.nbits = delay

    def push(self, p: bytes, n: bytes):
        k = len(p) * 8
        self.p = (self.p << k) | int.from_bytes(p, "big")
        self.n = (self.n << k) | int.from_bytes(n, "big")
        self.nbits += k

    def pull(self):
        k = self.nbits // 8
        rest = self.nbits - 8 * k
        p = (self.p >> rest).to_bytes(k, "big")
        n = (self.n >> rest).to_bytes(k, "big")
        self.p &= (1 << rest) - 1
        self.n &= (1 << rest) - 1
        self.nbits = rest
        return p, n


def payload_matches(frame: bytes, sent: bytes, cas: bool) -> bool:
    skip = {0, 16} if cas else {0}
    return all(frame[ts] == sent[ts] for ts in range(32) if ts not in skip)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2047), st.booleans(), st.booleans(),
       st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=8),
       st.integers(min_value=0, max_value=2**32))
def test_framer_round_trip(delay, crc4_on, cas, splits, seed):
    """tx -> cable delay -> rx_line in arbitrary pieces -> read: the payload comes
    back exactly, in order, once aligned, with no errors counted."""
    a = E1Framer(crc4=crc4_on, cas=cas)
    b = E1Framer(crc4=crc4_on, cas=cas)
    cable = Cable(delay)
    ticks = 12
    sent = random.Random(seed).randbytes(ticks * TICK * FRAME_BYTES)
    got = bytearray()
    k = 0
    for t in range(ticks):
        p, n = a.tx(sent[t * TICK * 32:(t + 1) * TICK * 32], TICK)
        cable.push(p, n)
        lp, ln = cable.pull()
        i = 0
        while i < len(lp):
            step = splits[k % len(splits)]
            k += 1
            b.rx_line(lp[i:i + step], ln[i:i + step])
            i += step
        got += b.read(TICK)
    frames = [bytes(got[i:i + 32]) for i in range(0, len(got), 32)]
    sent_frames = [sent[i:i + 32] for i in range(0, len(sent), 32)]
    # the first received frame that is a sent one fixes the latency
    start = next(i for i, f in enumerate(frames) if f != b"\xff" * 32 and any(
        payload_matches(f, s, cas) for s in sent_frames[:i + 1]))
    first = next(j for j in range(start + 1) if payload_matches(frames[start], sent_frames[j], cas))
    assert start < 6 * TICK
    for off, f in enumerate(frames[start:]):
        assert payload_matches(f, sent_frames[first + off], cas), "frame %d" % off
    c = b.counters()
    assert c["fas_errors"] == c["crc4_errors"] == c["bpv"] == c["slips"] == c["lof_events"] == 0
    assert b.alarms() <= {"RAI", "RMAI"}   # a hears nothing, so it sends RAI (and y with CAS)


def run_pair(ticks, a, b, ab=None, ba=None, a_frames=TICK, b_frames=TICK, payload=b"\xd5"):
    """Tick two framers back to back; ab/ba mangle (p, n) on the way."""
    if not hasattr(a, "_cable"):
        a._cable, b._cable = Cable(5), Cable(11)
    for _ in range(ticks):
        p, n = a.tx(payload * (a_frames * 32), a_frames)
        if ab:
            p, n = ab(p, n)
        b._cable.push(p, n)
        p, n = b.tx(payload * (b_frames * 32), b_frames)
        if ba:
            p, n = ba(p, n)
        a._cable.push(p, n)
        for f in (a, b):
            f.rx_line(*f._cable.pull())
            f.read(TICK)


def los(p, n):
    return bytes(len(p)), bytes(len(n))


def ais(p, n):
    return b"\xaa" * len(p), b"\x55" * len(n)


def test_alarms_los_ais_rai():
    a, b = E1Framer(crc4=True, cas=True), E1Framer(crc4=True, cas=True)
    run_pair(10, a, b)
    assert a.alarms() == b.alarms() == set()
    run_pair(3, a, b, ab=los)
    assert {"LOS", "LOF"} <= b.alarms()
    assert a.alarms() == {"RAI", "RMAI"}
    run_pair(10, a, b)
    assert a.alarms() == b.alarms() == set()
    assert b.counters()["los_events"] == 1
    run_pair(3, a, b, ba=ais)
    assert {"AIS", "LOF"} <= a.alarms() and "LOS" not in a.alarms()
    assert "RAI" in b.alarms()
    run_pair(10, a, b)
    assert a.alarms() == b.alarms() == set()


def test_tx_ais_and_rai():
    a, b = E1Framer(), E1Framer()
    run_pair(10, a, b)
    a.set_tx_ais(True)
    run_pair(3, a, b)
    assert "AIS" in b.alarms()
    a.set_tx_ais(False)
    a.set_tx_rai(True)
    run_pair(10, a, b)
    assert b.alarms() == {"RAI"}
    a.set_tx_rai(False)
    run_pair(2, a, b)
    assert b.alarms() == set()


def flipper(every, rng, count):
    def flip(p, n):
        p, n = bytearray(p), bytearray(n)
        for pos in range(rng.randrange(every), len(p) * 8, every):
            byte, mask = pos >> 3, 0x80 >> (pos & 7)
            if (p[byte] | n[byte]) & mask:
                p[byte] &= ~mask
                n[byte] &= ~mask
            else:
                p[byte] |= mask
            count[0] += 1
        return bytes(p), bytes(n)
    return flip


def test_crc4_and_ebit_errors():
    a, b = E1Framer(), E1Framer()
    run_pair(10, a, b)
    a.reset_counters()
    b.reset_counters()
    count = [0]
    run_pair(20, a, b, ab=flipper(4001, random.Random(3), count))
    run_pair(2, a, b)
    ca, cb = a.counters(), b.counters()
    assert cb["crc4_errors"] > 0 and cb["bpv"] > 0
    assert 0.4 * count[0] <= cb["bpv"] <= 1.2 * count[0]
    assert ca["ebit_errors"] == cb["crc4_errors"]    # G.704 2.3.3.4: E bits report them
    assert ca["crc4_errors"] == 0 and cb["ebit_errors"] == 0
    assert b.alarms() == set()


def test_lof_on_corrupted_fas_and_recovery():
    a, b = E1Framer(), E1Framer()
    run_pair(10, a, b)

    def kill_ts0(p, n):
        p, n = bytearray(p), bytearray(n)
        d = 3   # the encoder's delay: TS0 of frame f starts at bit 256 f + 3
        for f in range(len(p) // 32):
            for k in range(8):
                pos = 256 * f + d + k
                byte, mask = pos >> 3, 0x80 >> (pos & 7)
                if (p[byte] | n[byte]) & mask:
                    p[byte] &= ~mask
                    n[byte] &= ~mask
                elif k & 1:
                    p[byte] |= mask
                else:
                    n[byte] |= mask
        return bytes(p), bytes(n)

    run_pair(2, a, b, ab=kill_ts0)
    assert "LOF" in b.alarms()
    c = b.counters()
    assert c["lof_events"] >= 1 and c["fas_errors"] >= 3
    assert "RAI" in a.alarms()
    run_pair(10, a, b)
    assert a.alarms() == b.alarms() == set()


def test_cas_round_trip_and_multiframe_alarm():
    a, b = E1Framer(cas=True), E1Framer(cas=True)
    for ch in range(1, 31):
        a.set_cas_tx(ch, (ch * 5) % 15 + 1)
    run_pair(5, a, b)
    assert [b.get_cas_rx(ch) for ch in range(1, 31)] == [(ch * 5) % 15 + 1 for ch in range(1, 31)]
    # idle channels: 1101 (G.704 5.1.3.2)
    assert [a.get_cas_rx(ch) for ch in range(1, 31)] == [0xD] * 30
    a.set_cas_tx(7, 0b0101)
    run_pair(1, a, b)
    assert b.get_cas_rx(7) == 0b0101

    with pytest.raises(HalError):
        a.set_cas_tx(31, 1)
    with pytest.raises(HalError):
        a.set_cas_tx(1, 16)


def test_casmf_lost_when_ts16_is_not_cas():
    """A CCS far end: TS16 never carries the CAS MFAS, so CASMF stays up."""
    a, b = E1Framer(cas=False), E1Framer(cas=True)
    run_pair(5, a, b, payload=b"\x7e")
    assert "CASMF" in b.alarms() and "LOF" not in b.alarms()
    run_pair(5, a, b, payload=b"\x00")
    assert "CASMF" in b.alarms() and "LOF" not in b.alarms()


def test_slips_counted_once_per_frame():
    a, b = E1Framer(), E1Framer()
    run_pair(10, a, b)
    b.reset_counters()
    run_pair(50, a, b)
    assert b.counters()["slips"] == 0
    # the far end sends one frame more per tick: after the margin, one slip a tick
    run_pair(300, a, b, a_frames=TICK + 1)
    slips = b.counters()["slips"]
    assert 300 - 140 <= slips <= 300 - 90
    b.reset_counters()
    run_pair(100, a, b, a_frames=TICK + 1)
    assert b.counters()["slips"] == 100
    b.reset_counters()
    run_pair(600, a, b, a_frames=TICK - 1)
    slips = b.counters()["slips"]
    assert 600 - 300 <= slips <= 600 - 200
    b.reset_counters()
    run_pair(100, a, b, a_frames=TICK - 1)
    assert b.counters()["slips"] == 100


@pytest.mark.parametrize("read_first", [False, True])
def test_store_steady_state_never_slips(read_first):
    a, b = E1Framer(), E1Framer()
    c = Cable(77)
    for _ in range(100):
        p, n = a.tx(b"\x55" * (TICK * 32), TICK)
        c.push(p, n)
        if read_first:
            b.read(TICK)
        b.rx_line(*c.pull())
        if not read_first:
            b.read(TICK)
    assert b.counters()["slips"] == 0
    assert b.alarms() <= {"RAI"}


def test_bad_config():
    with pytest.raises(HalError):
        E1Framer(elastic_frames=1)
    f = E1Framer()
    with pytest.raises(HalError):
        f.tx(b"\x00" * 31, 1)
    with pytest.raises(HalError):
        f.rx_line(b"\x00", b"")


@settings(max_examples=60, deadline=None)
@given(st.booleans(), st.booleans(), st.integers(min_value=2, max_value=500),
       st.lists(st.tuples(st.binary(max_size=3000), st.binary(max_size=3000),
                          st.integers(min_value=0, max_value=300)), max_size=6))
def test_framer_garbage_never_crashes(crc4_on, cas, elastic, chunks):
    f = E1Framer(crc4=crc4_on, cas=cas, elastic_frames=elastic)
    for p, n, nread in chunks:
        k = min(len(p), len(n))
        f.rx_line(p[:k], n[:k])
        assert len(f.read(nread)) == nread * 32
        f.tx(b"\x00" * (nread * 32), nread)
        f.alarms()
    c = f.counters()
    assert c["bits_rx"] == 8 * sum(min(len(p), len(n)) for p, n, _ in chunks)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=200))
def test_framer_repeated_patterns_never_crash(pattern, repeat):
    """Bit streams that repeat, as a stuck or looping line would send."""
    f = E1Framer(cas=True)
    line = (pattern * repeat)[:6000]
    f.rx_line(line, bytes(~a & 0xFF for a in line))
    f.rx_line(line, bytes(len(line)))
    f.read(10)
    assert isinstance(f.alarms(), set)


# ---- the receiver's bit reversal paths --------------------------------------

_LINE_SEGMENTS = st.lists(st.tuples(st.sampled_from(["frames", "garbage", "los", "ais", "sparse"]),
                                    st.integers(min_value=1, max_value=700),
                                    st.integers(min_value=0, max_value=2**32)),
                          min_size=1, max_size=12)


def _framer_with_path(variable: str, path: str, crc4_on: bool, cas: bool) -> E1Framer:
    """A framer made with the environment ``variable`` capping a choice its init makes:
    E1_FRAMER_BREV, how the receiver puts the rails in time order (portable, sse2, or
    the best the CPU has); E1_FRAMER_SIMD, how the group transmit and receive code four
    spans at once (sse2, the baseline build of the vector code; avx2; or the best the
    CPU has, AVX2 with GFNI)."""
    import os
    old = os.environ.get(variable)
    os.environ[variable] = path
    try:
        return E1Framer(crc4=crc4_on, cas=cas, elastic_frames=8)
    finally:
        if old is None:
            del os.environ[variable]
        else:
            os.environ[variable] = old


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.booleans(), st.integers(min_value=0, max_value=7), _LINE_SEGMENTS,
       st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=6))
def test_brev_paths_decode_alike(crc4_on, cas, shift, segments, splits):
    """The portable, SSE2 and best (GFNI where present) bit reversals give the
    same decoded frames, counters and alarms, for any line cut into pieces of
    any size, odd byte counts and partial words included."""
    whole_p, whole_n = _test_line(crc4_on, cas, shift, segments)
    results = []
    for path in ("portable", "sse2", "best"):
        f = _framer_with_path("E1_FRAMER_BREV", path, crc4_on, cas)
        got = []
        i = k = 0
        while i < len(whole_p):
            step = splits[k % len(splits)]
            f.rx_line(whole_p[i:i + step], whole_n[i:i + step])
            got.append((f.read(1 + k % 3), f.alarm_bits(), tuple(sorted(f.counters().items()))))
            i += step
            k += 1
        results.append(got)
    assert results[0] == results[1] == results[2]


def _test_line(crc4_on, cas, shift, segments):
    """Rails of frames, garbage, LOS, AIS and sparse marks, delayed by ``shift`` bits."""
    tx = E1Framer(crc4=crc4_on, cas=cas)
    p = bytearray()
    n = bytearray()
    for kind, size, seed in segments:
        rng = random.Random(seed)
        if kind == "frames":
            nf = 1 + size // 32
            q, m = tx.tx(rng.randbytes(nf * 32), nf)
        elif kind == "garbage":
            q = rng.randbytes(size)
            m = bytes(a & ~b & 0xFF for a, b in zip(rng.randbytes(size), q))
        elif kind == "los":
            q = m = bytes(size)
        elif kind == "ais":
            q, m = b"\xaa" * size, b"\x55" * size
        else:
            q = bytes(1 << rng.randrange(8) if rng.random() < 0.1 else 0 for _ in range(size))
            m = bytes(size)
        p += q
        n += m
    # the cable's delay, as hal_sim's shift_rails would put it
    whole_p = (int.from_bytes(p, "big") >> shift).to_bytes(len(p), "big")
    whole_n = (int.from_bytes(n, "big") >> shift).to_bytes(len(n), "big")
    return whole_p, whole_n


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.booleans(), st.integers(min_value=0, max_value=7), _LINE_SEGMENTS,
       st.lists(st.one_of(
           st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=200)),
           # shares of whole words, the board's usual tick (decoded ahead in one go)
           st.builds(lambda words, frames: (8 * words * frames, frames),
                     st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=200))),
           min_size=1, max_size=6),
       st.sampled_from([2, 8, 384]))
def test_rx_tick_is_rx_line_and_read_share_by_share(crc4_on, cas, shift, segments, ticks,
                                                     elastic):
    """A tick in one call (what the software board does) delivers the frames, slips,
    alarms and counters of receiving the tick's bytes share by share with a one-frame
    read after each share, for ticks of any size (past the receive buffer too) and
    any number of frames."""
    whole_p, whole_n = _test_line(crc4_on, cas, shift, segments)
    one = E1Framer(crc4=crc4_on, cas=cas, elastic_frames=elastic)
    shares = E1Framer(crc4=crc4_on, cas=cas, elastic_frames=elastic)
    i = k = 0
    while i < len(whole_p):
        nbytes, nframes = ticks[k % len(ticks)]
        p, n = whole_p[i:i + nbytes], whole_n[i:i + nbytes]
        got = one.rx_tick(p, n, nframes)
        want, done = b"", 0
        for f in range(nframes):
            upto = len(p) * (f + 1) // nframes
            if upto > done:
                shares.rx_line(p[done:upto], n[done:upto])
                done = upto
            want += shares.read(1)
        if nframes == 0:
            shares.rx_line(p, n)
        assert got == want
        assert one.alarm_bits() == shares.alarm_bits()
        assert one.counters() == shares.counters()
        i += max(nbytes, 1)
        k += 1


# ---- four spans at once: the transmitter's grouped HDB3 coder ----------------

def _payload(kind: str, rng: random.Random, nbytes: int) -> bytes:
    """Payload of the kinds a span carries: speech-like noise, idle A-law, marks dense
    enough for no substitution at all (an odd or even number of them a word), all zeros
    (substitutions back to back, across words and frames), sparse marks."""
    if kind == "noise":
        return rng.randbytes(nbytes)
    if kind == "idle":
        return b"\xd5" * nbytes
    if kind == "dense":
        return bytes(rng.choice([0xD5, 0x5D, 0xB6, 0x6D, 0xDB]) for _ in range(nbytes))
    if kind == "zeros":
        return bytes(nbytes)
    return bytes(rng.choice([0x00, 0x00, 0x00, 0x01, 0x80, 0x10, 0xFF, 0x55]) for _ in range(nbytes))


_KINDS = st.sampled_from(["noise", "idle", "dense", "zeros", "sparse"])
_TX_SPAN = st.tuples(st.booleans(), st.booleans(), st.integers(min_value=0, max_value=40), _LINE_SEGMENTS)
_TX_STEP = st.tuples(st.integers(min_value=0, max_value=40), st.booleans(), st.none() | _KINDS,
                     st.lists(st.tuples(_KINDS, st.booleans(), st.booleans()), min_size=10, max_size=10),
                     st.integers(min_value=0, max_value=2**32))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TX_SPAN, min_size=1, max_size=10), st.lists(_TX_STEP, min_size=1, max_size=5))
def test_tx_group_is_tx_span_by_span(spans, steps):
    """e1_framer_tx_group sends the very rails of e1_framer_tx on each span by itself,
    by either build of the four-span coder, for any number of spans (the ones past a
    multiple of four go alone), spans in any state (encoder, CRC-4 and CAS multiframe
    phase, E bits owed, A and y bits from what their receivers heard, AIS on or off),
    any number of frames, calls alone and grouped in turn; spans carry different
    payloads, so lanes mixed up would show."""
    from drivers.e1 import tx_group

    # each span thrice: sent alone, and grouped by either build of the coder
    alone, grouped = [], {"sse2": [], "best": []}
    for crc4_on, cas, warm, segments in spans:
        line = _test_line(crc4_on, cas, 0, segments)
        warm_payload = random.Random(warm).randbytes(warm * FRAME_BYTES)
        made = [E1Framer(crc4=crc4_on, cas=cas, elastic_frames=8)] + [
            _framer_with_path("E1_FRAMER_SIMD", path, crc4_on, cas) for path in grouped]
        for f in made:
            f.rx_line(*line)
            f.tx(warm_payload, warm)
        alone.append(made[0])
        for path, f in zip(grouped, made[1:]):
            grouped[path].append(f)
    for nframes, one_by_one, common, per_span, seed in steps:
        rng = random.Random(seed)
        payloads = []
        for i in range(len(spans)):
            kind, ais_change, ais = per_span[i]
            # (one kind on all spans at times: the coder's "no substitution in any lane")
            payloads.append(_payload(common or kind, rng, nframes * FRAME_BYTES))
            if ais_change:
                for f in [alone[i]] + [g[i] for g in grouped.values()]:
                    f.set_tx_ais(ais)
        want = [f.tx(x, nframes) for f, x in zip(alone, payloads)]
        for path, framers in grouped.items():
            if one_by_one:
                got = [f.tx(x, nframes) for f, x in zip(framers, payloads)]
            else:
                got = tx_group(framers, payloads, nframes)
            assert got == want, path


# ---- four spans at once: the receiver's grouped HDB3 decoder ------------------

# (besides _LINE_SEGMENTS' kinds) gaps: single marks or bursts of random ones (AMI)
# with about LOS_ZEROS = 128 spaces between them, so runs end right at the LOS
# threshold, across words and blocks;
# long: a long stretch of one kind, so that LOS, AIS and their periods carry across
# ticks and blocks
_RX_SEGMENTS = st.lists(st.tuples(st.sampled_from(["frames", "garbage", "los", "ais", "sparse", "gaps"]),
                                  st.integers(min_value=1, max_value=700),
                                  st.integers(min_value=0, max_value=2**32), st.booleans()),
                        min_size=1, max_size=12)
_RX_SPAN = st.tuples(st.booleans(), st.booleans(), st.integers(min_value=0, max_value=7), _RX_SEGMENTS,
                     st.integers(min_value=0, max_value=3000))
_RX_STEP = st.tuples(st.integers(min_value=1, max_value=6),
                     st.sampled_from([1, 2, 3, 20, 160, 200]) | st.integers(min_value=0, max_value=200),
                     st.booleans(), st.lists(st.integers(min_value=-9, max_value=9), min_size=10, max_size=10))


def _rx_test_line(crc4_on, cas, shift, segments):
    """_test_line's rails, with gaps and long segments as well."""
    bits_p, bits_n = 0, 0
    nbits = 0
    for kind, size, seed, long in segments:
        if long:
            size *= 6
        if kind == "gaps":
            rng = random.Random(seed)
            at, pol = 0, 0
            line_p, line_n = 0, 0
            while at < 8 * size:
                burst = rng.choice([1, rng.randint(2, 400)])
                for t in range(at, min(at + burst, 8 * size)):
                    if t == at or rng.random() < 0.5:
                        if pol:
                            line_p |= 1 << (8 * size - 1 - t)
                        else:
                            line_n |= 1 << (8 * size - 1 - t)
                        pol ^= 1
                at += burst + rng.randint(119, 135)
            q, m = line_p.to_bytes(size, "big"), line_n.to_bytes(size, "big")
        else:
            q, m = _test_line(crc4_on, cas, 0, [(kind, size, seed)])
        bits_p = (bits_p << (8 * len(q))) | int.from_bytes(q, "big")
        bits_n = (bits_n << (8 * len(q))) | int.from_bytes(m, "big")
        nbits += 8 * len(q)
    nbytes = nbits // 8
    return (bits_p >> shift).to_bytes(nbytes, "big"), (bits_n >> shift).to_bytes(nbytes, "big")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RX_SPAN, min_size=1, max_size=10), st.lists(_RX_STEP, min_size=1, max_size=10))
def test_rx_group_is_rx_tick_span_by_span(spans, steps):
    """e1_framer_rx_group reads the very frames of e1_framer_rx_tick on each span by
    itself, with the same alarms and counters (BPVs, LOS events, slips, CRC-4...), by
    either build of the four-span decoder, for any number of spans, spans in any state
    (warmed up by lines cut anywhere, so the LOS and AIS periods are out of step; in
    LOS, AIS, out of frame), lines of frames, noise, long zero runs, sparse marks and
    all ones, cut at any point, ticks that go alone (part words, lengths unlike their
    group's, past the buffer) among those that go side by side. Each span has its own
    line, so lanes mixed up, or a lane's fast path taken where it must not be, show."""
    from drivers.e1 import rx_group

    # sse2: the baseline build; avx2: AVX2 without GFNI; best: GFNI too where the CPU has it
    lines, alone, grouped = [], [], {"sse2": [], "avx2": [], "best": []}
    for crc4_on, cas, shift, segments, warm in spans:
        p, n = _rx_test_line(crc4_on, cas, shift, segments)
        lines.append([p, n, 0])
        made = [E1Framer(crc4=crc4_on, cas=cas, elastic_frames=8)] + [
            _framer_with_path("E1_FRAMER_SIMD", path, crc4_on, cas) for path in grouped]
        wp, wn = _take(lines[-1], warm)
        for f in made:
            f.rx_line(wp, wn)
        alone.append(made[0])
        for path, f in zip(grouped, made[1:]):
            grouped[path].append(f)
    for words, nframes, uneven, deltas in steps:
        ticks = []
        for i in range(len(spans)):
            nbytes = 8 * words * nframes
            if uneven:
                nbytes = max(0, nbytes + deltas[i])
            ticks.append(_take(lines[i], nbytes))
        want = [f.rx_tick(p, n, nframes) for f, (p, n) in zip(alone, ticks)]
        for path, framers in grouped.items():
            got = rx_group(framers, ticks, nframes)
            assert got == want, path
            for a, g in zip(alone, framers):
                assert g.alarm_bits() == a.alarm_bits(), path
                assert g.counters() == a.counters(), path


def _take(line, nbytes):
    """The next nbytes of a span's line [p, n, offset], round and round."""
    p, n, at = line
    out_p, out_n = bytearray(), bytearray()
    while len(out_p) < nbytes:
        k = min(nbytes - len(out_p), len(p) - at)
        out_p += p[at:at + k]
        out_n += n[at:at + k]
        at = (at + k) % len(p)
    line[2] = at
    return bytes(out_p), bytes(out_n)


def _ami(marks: int, nbits: int):
    """Rails (p, n) of nbits of AMI, a mark wherever ``marks`` (bit nbits-1 first) has a 1."""
    p = n = 0
    pol = 0
    for t in range(nbits):
        if marks >> (nbits - 1 - t) & 1:
            if pol:
                p |= 1 << (nbits - 1 - t)
            else:
                n |= 1 << (nbits - 1 - t)
            pol ^= 1
    return p.to_bytes(nbits // 8, "big"), n.to_bytes(nbits // 8, "big")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=130), st.integers(min_value=-3, max_value=2),
                          st.integers(min_value=0, max_value=2**32)), min_size=4, max_size=8),
       st.sampled_from(["sse2", "avx2", "best"]))
def test_rx_group_los_run_across_blocks(spans, path):
    """A run of spaces of about LOS_ZEROS (128) that starts t bits before the end of a
    block the four-span decoder took (a live line) and goes on into the next block:
    the same LOS events and alarms as span by span, whatever t (LOS carried out of
    the vector code's last word, or into a block that starts inside a run)."""
    from drivers.e1 import rx_group

    block = 2048                     # bits of rx_decode4's block: the tick here
    lines = []
    for t, off, seed in spans:
        run = 128 + off
        t = min(t, run)
        rng = random.Random(seed)
        nbits = 4 * block
        dense = rng.getrandbits(nbits) | rng.getrandbits(nbits)
        # live up to 2 * block - t, spaces for run bits, a mark, live again
        zeros = ((1 << run) - 1) << (nbits - (2 * block - t) - run)
        marks = (dense & ~zeros) | (1 << (nbits - (2 * block - t) - run - 1))
        lines.append(_ami(marks, nbits))
    alone = [E1Framer(crc4=True, cas=False, elastic_frames=8) for _ in spans]
    grouped = [_framer_with_path("E1_FRAMER_SIMD", path, True, False) for _ in spans]
    for k in range(4):
        ticks = [(p[k * block // 8:(k + 1) * block // 8], n[k * block // 8:(k + 1) * block // 8])
                 for p, n in lines]
        want = [f.rx_tick(p, n, 8) for f, (p, n) in zip(alone, ticks)]
        assert rx_group(grouped, ticks, 8) == want
        for a, g in zip(alone, grouped):
            assert g.alarm_bits() == a.alarm_bits()
            assert g.counters() == a.counters()
