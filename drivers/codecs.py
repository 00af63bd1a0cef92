"""Thin wrappers over the C line codecs: G.711, HDLC and the O.151 test pattern.

For tests and for the layers that handle whole buffers (media, traces, BERT
reports). The hot path never comes here: the board's tick does all of this in C.

Linear audio is 16-bit signed, little-endian when given or returned as bytes
(the layout of a WAV file and of sox's ``-e signed-integer -b 16``).
"""
from __future__ import annotations

from array import array

from drivers.hal import check, ffi, lib
from drivers.linear import Linear, as_array as _linear, to_le_bytes as _le_bytes

__all__ = [
    "alaw_encode", "alaw_decode", "ulaw_encode", "ulaw_decode", "alaw_to_ulaw", "ulaw_to_alaw",
    "fcs16", "HdlcTx", "HdlcRx", "PrbsTx", "PrbsRx", "ALAW_SILENCE", "ULAW_SILENCE",
]

ALAW_SILENCE = lib.G711_ALAW_SILENCE
ULAW_SILENCE = lib.G711_ULAW_SILENCE

# Return codes of hdlc_tx_frame(), as HAL codes so that check() names them.
_HAL_EINVAL = -1
_HAL_EBUSY = -5

def _encode(fn, samples: Linear) -> bytes:
    a = _linear(samples)
    n = len(a)
    out = bytearray(n)
    if n:
        fn(ffi.cast("const int16_t *", ffi.from_buffer(a)), ffi.from_buffer(out), n)
    return bytes(out)


def _decode(fn, data: bytes) -> bytes:
    data = bytes(data)
    n = len(data)
    out = array("h", bytes(2 * n))
    if n:
        fn(ffi.from_buffer(data), ffi.cast("int16_t *", ffi.from_buffer(out)), n)
    return _le_bytes(out)


def alaw_encode(samples: Linear) -> bytes:
    """G.711 A-law characters (even bits inverted, as sent) for 16-bit linear samples."""
    return _encode(lib.g711_alaw_encode, samples)


def alaw_decode(data: bytes) -> bytes:
    """16-bit little-endian linear samples for A-law characters."""
    return _decode(lib.g711_alaw_decode, data)


def ulaw_encode(samples: Linear) -> bytes:
    """G.711 mu-law characters (all bits inverted, as sent) for 16-bit linear samples."""
    return _encode(lib.g711_ulaw_encode, samples)


def ulaw_decode(data: bytes) -> bytes:
    """16-bit little-endian linear samples for mu-law characters."""
    return _decode(lib.g711_ulaw_decode, data)


def alaw_to_ulaw(data: bytes) -> bytes:
    """G.711 table 4, character by character."""
    return bytes(lib.g711_alaw_to_ulaw(b) for b in bytes(data))


def ulaw_to_alaw(data: bytes) -> bytes:
    """G.711 table 3, character by character."""
    return bytes(lib.g711_ulaw_to_alaw(b) for b in bytes(data))


def fcs16(data: bytes) -> int:
    """FCS-16 (CRC-16/X.25) of data as sent: the low octet goes first on the line."""
    data = bytes(data)
    return lib.hdlc_fcs16(ffi.from_buffer(data), len(data))


class HdlcTx:
    """HDLC transmitter on one timeslot: queue frames, take octets for the line."""

    MAX_FRAME = lib.HDLC_MAX_FRAME
    QUEUE = lib.HDLC_TX_QUEUE

    def __init__(self) -> None:
        s = lib.hdlc_tx_init(ffi.NULL)
        if s == ffi.NULL:
            raise MemoryError("hdlc_tx_init: out of memory")
        self._s = ffi.gc(s, lib.hdlc_tx_free)

    def frame(self, data: bytes) -> None:
        """Queue one frame (the FCS is added). Raises Busy when the queue is full."""
        data = bytes(data)
        rc = lib.hdlc_tx_frame(self._s, ffi.from_buffer(data), len(data))
        if rc == -1:
            check(_HAL_EBUSY, "HDLC transmit queue (%d frames)" % self.QUEUE)
        elif rc == -2:
            check(_HAL_EINVAL, "HDLC frame length %d (1..%d)" % (len(data), self.MAX_FRAME))

    def get(self, n: int) -> bytes:
        """The next n octets of the timeslot: frames, flags between and when idle."""
        out = bytearray(n)
        if n:
            lib.hdlc_tx_get(self._s, ffi.from_buffer(out), n)
        return bytes(out)

    @property
    def queued(self) -> int:
        return lib.hdlc_tx_queued(self._s)

    @property
    def frames_sent(self) -> int:
        return lib.hdlc_tx_frames_sent(self._s)


class HdlcRx:
    """HDLC receiver on one timeslot: put octets from the line, take good frames."""

    COUNTERS = ("frames", "fcs_errors", "aborts", "short_frames", "long_frames", "bad_bits",
                "overruns")

    def __init__(self) -> None:
        s = lib.hdlc_rx_init(ffi.NULL)
        if s == ffi.NULL:
            raise MemoryError("hdlc_rx_init: out of memory")
        self._s = ffi.gc(s, lib.hdlc_rx_free)
        self._buf = ffi.new("uint8_t[]", lib.HDLC_MAX_FRAME)

    def put(self, octets: bytes) -> None:
        octets = bytes(octets)
        if octets:
            lib.hdlc_rx_put(self._s, ffi.from_buffer(octets), len(octets))

    def frames(self) -> list[bytes]:
        """Every frame received and not yet taken, oldest first, without FCS."""
        out = []
        while True:
            n = lib.hdlc_rx_get_frame(self._s, self._buf, lib.HDLC_MAX_FRAME)
            if n <= 0:
                return out
            out.append(bytes(ffi.buffer(self._buf, n)))

    def counters(self) -> dict[str, int]:
        c = ffi.new("hdlc_rx_counters_t *")
        lib.hdlc_rx_counters(self._s, c)
        return {name: getattr(c, name) for name in self.COUNTERS}


class PrbsTx:
    """O.151 2^15-1 test pattern generator (bytes carry bits most significant first)."""

    def __init__(self) -> None:
        self._s = ffi.new("prbs_tx_t *")
        lib.prbs_tx_init(self._s)

    def get(self, n: int) -> bytes:
        out = bytearray(n)
        if n:
            lib.prbs_tx_get(self._s, ffi.from_buffer(out), n)
        return bytes(out)


class PrbsRx:
    """O.151 2^15-1 pattern checker: synchronises, then counts bits and bit errors."""

    def __init__(self) -> None:
        self._s = ffi.new("prbs_rx_t *")
        lib.prbs_rx_init(self._s)

    def put(self, data: bytes) -> None:
        data = bytes(data)
        if data:
            lib.prbs_rx_put(self._s, ffi.from_buffer(data), len(data))

    @property
    def sync(self) -> bool:
        return bool(self._s.sync)

    @property
    def bits(self) -> int:
        return self._s.bits

    @property
    def errors(self) -> int:
        return self._s.errors

    @property
    def sync_losses(self) -> int:
        return self._s.sync_losses

    @property
    def ber(self) -> float:
        """Bit error ratio over the bits compared in sync (0.0 before any)."""
        return self._s.errors / self._s.bits if self._s.bits else 0.0

    def status(self) -> dict:
        return {"sync": self.sync, "bits": self.bits, "errors": self.errors,
                "sync_losses": self.sync_losses, "ber": self.ber}
