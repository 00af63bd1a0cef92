"""HDLC on a timeslot (csrc/line/hdlc.c): flags, zero-bit insertion, FCS-16, aborts, counters.

The reference below is a plain bit-list HDLC written from Q.921 2.2-2.10 (flag
01111110, a 0 after five 1s, seven 1s abort, FCS-16 sent low octet first), used
both to build line streams the transmitter would never send and as a second
receiver for arbitrary bytes.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from drivers import codecs
from drivers.hal import Busy, InvalidArgument

MAX = codecs.HdlcTx.MAX_FRAME


# ---- reference ----------------------------------------------------------------

def crc16_x25(data: bytes) -> int:
    """CRC-16/X.25 bit by bit: reflected x^16 + x^12 + x^5 + 1, init and final xor 0xFFFF."""
    crc = 0xFFFF
    for octet in data:
        crc ^= octet
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def octet_bits(data: bytes) -> list[int]:
    return [(o >> i) & 1 for o in data for i in range(8)]


def bits_octets(bits: list[int]) -> bytes:
    bits = bits + [0, 1, 1, 1, 1, 1, 1, 0] * 2   # pad with flags to whole octets
    bits = bits[: len(bits) // 8 * 8]
    return bytes(sum(b << i for i, b in enumerate(bits[k:k + 8])) for k in range(0, len(bits), 8))


FLAG = [0, 1, 1, 1, 1, 1, 1, 0]


def stuff(data: bytes) -> list[int]:
    out, ones = [], 0
    for b in octet_bits(data):
        out.append(b)
        ones = ones + 1 if b else 0
        if ones == 5:
            out.append(0)
            ones = 0
    return out


def encode(frames: list[bytes], fcs: bool = True) -> bytes:
    """Line octets for frames, each between flags (the FCS added unless fcs is False)."""
    bits = FLAG * 2
    for f in frames:
        if fcs:
            c = crc16_x25(f)
            f = f + bytes([c & 0xFF, c >> 8])
        bits += stuff(f) + FLAG
    return bits_octets(bits + FLAG)


def reference_rx(data: bytes) -> list[bytes]:
    """Good frames (FCS removed) a plain receiver finds in a line stream."""
    frames, cur, ones, hunting = [], [], 0, True
    for b in octet_bits(data):
        if b:
            ones += 1
            if ones == 7:
                hunting, cur = True, []
            if ones <= 5:
                cur.append(1)
            continue
        if ones == 6:                     # a flag: what came before it, less its 0 11111
            body = cur[:-6] if len(cur) >= 6 else []
            if not hunting and body and len(body) % 8 == 0:
                f = bits_octets(body)[: len(body) // 8]
                if 4 <= len(f) <= MAX + 2 and crc16_x25(f[:-2]) == f[-2] | f[-1] << 8:
                    frames.append(f[:-2])
            hunting, cur = False, []
        elif ones != 5 and ones < 7:      # not a stuffed zero, not the end of an abort
            cur.append(0)
        ones = 0
    return frames


def run(tx: codecs.HdlcTx, extra: int = 8) -> bytes:
    """Everything the transmitter sends until its queue is empty, and a few flags more."""
    out = b""
    while tx.queued:
        out += tx.get(64)
    return out + tx.get(extra)


def feed_split(rx: codecs.HdlcRx, data: bytes, cuts: list[int]) -> None:
    pos = 0
    for c in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        rx.put(data[pos:c])
        pos = c


# ---- FCS ----------------------------------------------------------------------

def test_fcs_check_value():
    # CRC-16/X.25 check value over "123456789", as sent (complemented)
    assert codecs.fcs16(b"123456789") == 0x906E
    assert crc16_x25(b"123456789") == 0x906E


@given(st.binary(max_size=300))
def test_fcs_matches_bitwise_reference(data):
    assert codecs.fcs16(data) == crc16_x25(data)


# ---- round trips ------------------------------------------------------------------

frames_st = st.lists(st.binary(min_size=2, max_size=MAX), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(frames_st, st.lists(st.integers(0, 1 << 20), max_size=12), st.integers(0, 40))
def test_round_trip_across_arbitrary_splits(frames, cuts, idle):
    tx, rx = codecs.HdlcTx(), codecs.HdlcRx()
    line = tx.get(idle)
    for f in frames:
        tx.frame(f)
    line += run(tx)
    feed_split(rx, line, cuts)
    assert rx.frames() == frames
    c = rx.counters()
    assert c["frames"] == len(frames)
    assert sum(c.values()) == len(frames)
    assert tx.frames_sent == len(frames)
    # the plain reference receiver reads the same stream the same way
    assert reference_rx(line) == frames


@settings(max_examples=50, deadline=None)
@given(frames_st)
def test_transmitter_matches_reference_receiver_when_queued_while_running(frames):
    tx, rx = codecs.HdlcTx(), codecs.HdlcRx()
    line = b""
    for f in frames:            # queue each frame as the previous one is going out
        tx.frame(f)
        line += tx.get(random.Random(len(f)).randrange(1, 40))
    line += run(tx)
    rx.put(line)
    assert rx.frames() == frames
    assert reference_rx(line) == frames


@settings(max_examples=100, deadline=None)
@given(frames_st)
def test_reference_encoder_round_trips_through_our_receiver(frames):
    rx = codecs.HdlcRx()
    rx.put(encode(frames))
    assert rx.frames() == frames


def test_idle_is_flags_and_costs_nothing():
    tx, rx = codecs.HdlcTx(), codecs.HdlcRx()
    idle = tx.get(1000)
    assert idle == b"\x7e" * 1000
    rx.put(idle)
    assert rx.frames() == [] and not any(rx.counters().values())


def test_idle_after_a_frame_keeps_the_flag_phase():
    tx, rx = codecs.HdlcTx(), codecs.HdlcRx()
    tx.frame(b"\xff" * 7)       # stuffing shifts the flags off the octet boundary
    line = run(tx, extra=200)
    tail = line[-100:]
    assert len(set(tail)) == 1 and tail[0] != 0x7E   # rotated flags, all the same octet
    rx.put(line)
    assert rx.frames() == [b"\xff" * 7]


def test_one_octet_frame_is_short():
    tx, rx = codecs.HdlcTx(), codecs.HdlcRx()
    tx.frame(b"\x01")           # address only + FCS: 3 octets between the flags
    rx.put(run(tx))
    assert rx.frames() == []
    assert rx.counters()["short_frames"] == 1


# ---- bad input ---------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 1 << 20), max_size=8))
def test_arbitrary_bytes_never_crash_nor_deliver_a_bad_frame(data, cuts):
    rx = codecs.HdlcRx()
    feed_split(rx, data, cuts)
    got = rx.frames()
    assert got == reference_rx(data)        # only frames whose FCS checks
    assert rx.counters()["frames"] == len(got)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=2, max_size=200), st.data())
def test_a_flipped_bit_is_counted_not_delivered(frame, data):
    tx = codecs.HdlcTx()
    tx.get(3)                   # flags; the frame starts with the next octet
    tx.frame(frame)
    line = bytearray(run(tx))
    c = crc16_x25(frame)
    body_bits = len(stuff(frame + bytes([c & 0xFF, c >> 8])))
    bit = data.draw(st.integers(0, body_bits - 1))
    line[bit // 8] ^= 1 << (bit % 8)
    rx = codecs.HdlcRx()
    rx.put(b"\x7e" + bytes(line))
    assert frame not in rx.frames()
    n = rx.counters()
    assert n["fcs_errors"] + n["bad_bits"] + n["aborts"] + n["short_frames"] >= 1


def test_a_flipped_data_bit_is_an_fcs_error():
    frame = bytes(40)           # all zeros: a flip can make neither a flag nor an abort
    for bit in range(8 * 40):
        tx = codecs.HdlcTx()
        tx.frame(frame)
        line = bytearray(run(tx))
        assert line[0] == 0x7E  # opening flag, then the frame octet-aligned
        line[1 + bit // 8] ^= 1 << (bit % 8)
        rx = codecs.HdlcRx()
        rx.put(bytes(line))
        assert rx.frames() == []
        assert rx.counters()["fcs_errors"] == 1, bit


def test_abort_is_counted():
    rx = codecs.HdlcRx()
    good = encode([b"\x02\x01\x7f"])
    # a frame's opening flag, some data, then seven and more ones
    bits = FLAG + stuff(b"\x00\x01\x02\x03") + [1] * 12 + [0]
    rx.put(good + bits_octets(bits) + good)
    assert rx.frames() == [b"\x02\x01\x7f", b"\x02\x01\x7f"]
    assert rx.counters()["aborts"] == 1


def test_all_ones_idle_is_not_an_abort():
    rx = codecs.HdlcRx()
    rx.put(encode([b"ab"]) + b"\xff" * 100 + encode([b"cd"]))
    assert rx.frames() == [b"ab", b"cd"]
    assert rx.counters()["aborts"] == 0


def test_long_frame_is_counted():
    rx = codecs.HdlcRx()
    rx.put(encode([bytes(MAX + 1), bytes(MAX)]))
    assert rx.frames() == [bytes(MAX)]
    assert rx.counters()["long_frames"] == 1


def test_frame_not_whole_octets_is_counted():
    rx = codecs.HdlcRx()
    f = b"\x02\x01\x03\x44"
    bits = FLAG + stuff(f + bytes([crc16_x25(f) & 0xFF, crc16_x25(f) >> 8]))[:-3] + FLAG
    rx.put(bits_octets(bits))
    assert rx.frames() == []
    assert rx.counters()["bad_bits"] == 1


def test_receive_queue_overrun_is_counted():
    rx = codecs.HdlcRx()
    rx.put(encode([bytes([i, 1, 2]) for i in range(70)]))
    got = rx.frames()
    assert got == [bytes([i, 1, 2]) for i in range(64)]
    c = rx.counters()
    assert c["frames"] == 64 and c["overruns"] == 6


def test_transmit_limits():
    tx = codecs.HdlcTx()
    with pytest.raises(InvalidArgument):
        tx.frame(b"")
    with pytest.raises(InvalidArgument):
        tx.frame(bytes(MAX + 1))
    for i in range(codecs.HdlcTx.QUEUE):
        tx.frame(b"ab")
    with pytest.raises(Busy):
        tx.frame(b"ab")
    assert tx.queued == codecs.HdlcTx.QUEUE
