"""O.151 2^15-1 test pattern (csrc/line/prbs.c): the sequence, and the checker's sync and counts."""
from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from drivers import codecs

PERIOD = 32767


def bits_of(data: bytes) -> list[int]:
    return [(o >> (7 - i)) & 1 for o in data for i in range(8)]   # most significant first


def bytes_of(bits: list[int]) -> bytes:
    bits = bits[: len(bits) // 8 * 8]
    return bytes(sum(b << (7 - i) for i, b in enumerate(bits[k:k + 8])) for k in range(0, len(bits), 8))


def pattern(nbytes: int) -> bytes:
    return codecs.PrbsTx().get(nbytes)


def test_sequence_is_the_o151_recurrence():
    # O.151 2.1: x^15 + x^14 + 1, sent inverted; un-inverted, b[n] = b[n-14] xor b[n-15]
    b = [1 - x for x in bits_of(pattern(5000))]
    assert all(b[n] == b[n - 14] ^ b[n - 15] for n in range(15, len(b)))


def test_period_is_32767():
    b = bits_of(pattern(PERIOD))        # 8 periods exactly
    assert b[PERIOD:] == b[:-PERIOD]
    for p in (PERIOD // 7, PERIOD // 31, PERIOD // 151):   # 32767 = 7 * 31 * 151
        assert b[p:p + PERIOD] != b[:PERIOD]


def test_one_period_has_the_maximal_length_statistics():
    b = bits_of(pattern(PERIOD))[:PERIOD]
    # inverted m-sequence: 16383 ones, 16384 zeros; longest runs 15 zeros and 14 ones (O.151 2.1)
    assert sum(b) == 16383
    s = "".join(map(str, b + b[:40]))
    assert "0" * 15 in s and "0" * 16 not in s
    assert "1" * 14 in s and "1" * 15 not in s


def test_bytes_do_not_depend_on_how_they_are_asked_for():
    tx = codecs.PrbsTx()
    parts = b"".join(tx.get(n) for n in (1, 7, 100, 3, 1000))
    assert parts == pattern(1111)


def test_checker_syncs_and_counts_nothing_on_a_clean_line():
    rx = codecs.PrbsRx()
    rx.put(pattern(10000))
    assert rx.sync and rx.errors == 0 and rx.sync_losses == 0
    # sync after 15 bits loaded and 32 predicted right; every later bit is compared
    assert rx.bits == 80000 - 47


@given(st.integers(0, 20000))
def test_checker_syncs_at_any_phase(skip_bits):
    b = bits_of(pattern(3000 + skip_bits // 8 + 1))[skip_bits:]
    rx = codecs.PrbsRx()
    rx.put(bytes_of(b))
    assert rx.sync and rx.errors == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 200000 - 1), max_size=60, unique=True))
def test_checker_counts_injected_errors_exactly(positions):
    nbytes = 25000 + 200                # 200 bytes to sync in, then 200000 bits
    data = bytearray(pattern(nbytes))
    for p in positions:
        bit = 1600 + p
        data[bit // 8] ^= 0x80 >> (bit % 8)
    rx = codecs.PrbsRx()
    rx.put(bytes(data))
    assert rx.sync and rx.sync_losses == 0
    assert rx.errors == len(positions)


def test_checker_measures_a_bit_error_ratio():
    rng = random.Random(7)
    ber = 1e-3
    data = bytearray(pattern(250000))   # 2 Mbit
    injected = 0
    for bit in range(2000, len(data) * 8):
        if rng.random() < ber:
            data[bit // 8] ^= 0x80 >> (bit % 8)
            injected += 1
    rx = codecs.PrbsRx()
    rx.put(bytes(data))
    assert rx.sync_losses == 0
    assert rx.errors == injected
    assert abs(rx.ber - ber) / ber < 0.2


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.integers(100, 5000))
def test_checker_resyncs_after_a_slip(dropped, at_byte):
    b = bits_of(pattern(at_byte + 6000))
    cut = at_byte * 8
    slipped = b[:cut] + b[cut + dropped:]          # the line lost `dropped` bits
    rx = codecs.PrbsRx()
    rx.put(bytes_of(slipped[:cut]))
    assert rx.sync and rx.errors == 0
    rx.put(bytes_of(slipped[cut:cut + 16000]))
    assert rx.sync_losses == 1
    assert rx.sync
    # once back in sync, the line is clean again
    errors = rx.errors
    rx.put(bytes_of(slipped[cut + 16000:]))
    assert rx.errors == errors and rx.sync and rx.sync_losses == 1


def test_checker_drops_sync_on_another_signal():
    rx = codecs.PrbsRx()
    rx.put(pattern(1000))
    assert rx.sync
    rx.put(bytes(random.Random(1).getrandbits(8) for _ in range(1000)))
    assert not rx.sync or rx.sync_losses >= 1
    assert rx.sync_losses >= 1
