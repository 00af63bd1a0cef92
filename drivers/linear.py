"""16-bit linear audio as the C wrappers take and give it (drivers/codecs.py,
drivers/dsp_tones.py).

Samples are 16-bit signed at 8000 Hz: an ``array('h')`` in machine order for
the C calls; as bytes, little-endian (the layout of a WAV file and of sox's
``-e signed-integer -b 16``).
"""
from __future__ import annotations

import sys
from array import array
from typing import Iterable, Union

__all__ = ["Linear", "as_array", "to_le_bytes"]

Linear = Union[bytes, bytearray, memoryview, array, Iterable[int]]


def as_array(samples: Linear) -> array:
    """16-bit samples as an array('h') in machine order (an array('h') itself is returned as is)."""
    if isinstance(samples, array):
        if samples.typecode != "h":
            raise TypeError("linear samples must be array('h'), not array(%r)" % samples.typecode)
        return samples
    if isinstance(samples, (bytes, bytearray, memoryview)):
        raw = bytes(samples)
        if len(raw) % 2:
            raise ValueError("linear audio as bytes must be whole 16-bit samples (odd length %d)" % len(raw))
        a = array("h")
        a.frombytes(raw)
        if sys.byteorder == "big":
            a.byteswap()
        return a
    return array("h", samples)


def to_le_bytes(a: array) -> bytes:
    """An array('h') as little-endian bytes."""
    if sys.byteorder == "big":
        a = array("h", a)
        a.byteswap()
    return a.tobytes()
