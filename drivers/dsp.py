"""Thin Python wrappers over the DSP modules of the C core (csrc/dsp/).

The hot path is C: a board calls one bulk function per tick for all its
channels (``DtmfRxBank.process``). The per-object wrappers here serve tests,
diagnostics (``cti channel tone``) and anything that handles one channel
outside the tick. Audio crosses as 16-bit signed little-endian linear
samples at 8000 Hz (``bytes``, ``bytearray``, ``array('h')`` or anything
with the buffer protocol).

Each DSP family has its own section below; keep them apart.
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers.hal import InvalidArgument, ffi, lib

SAMPLE_RATE = 8000


def _samples(audio) -> tuple[object, int]:
    """A cdata ``int16_t *`` over ``audio`` and its sample count (no copy)."""
    if memoryview(audio).nbytes % 2:
        raise InvalidArgument(-1, f"audio of {memoryview(audio).nbytes} bytes: not whole 16-bit samples")
    buf = ffi.from_buffer("int16_t[]", audio)
    return buf, len(buf)


# ---------------------------------------------------------------------------
# DTMF: ITU-T Q.23 (generation) and Q.24 (detection); csrc/dsp/dtmf.c
# ---------------------------------------------------------------------------

DTMF_DIGITS = "0123456789*#ABCD"


@dataclass(frozen=True)
class DtmfReport:
    """A finished digit: start in samples since the receiver began, duration in samples (+-26)."""
    digit: str
    start: int
    duration: int


def _rx_params(**overrides):
    p = ffi.new("dtmf_rx_params_t *")
    lib.dtmf_rx_params_default(p)
    for name, value in overrides.items():
        if value is None:
            continue
        if not hasattr(p, name):
            raise TypeError(f"unknown DTMF receiver parameter {name!r}")
        setattr(p, name, value)
    return p


class DtmfRx:
    """One DTMF receiver (Q.24). Parameters as ``dtmf_rx_params_t`` in csrc/dsp/dtmf.h.

    ``feed(audio)`` returns the digits that became available; ``reports()``
    returns finished digits with their start and duration.
    """

    def __init__(self, **params):
        p = _rx_params(**params)
        s = lib.dtmf_rx_init(ffi.NULL, p)
        if s == ffi.NULL:
            raise InvalidArgument(-1, f"DTMF receiver parameters {params}")
        self._s = ffi.gc(s, lib.dtmf_rx_free)
        self._buf = ffi.new("char[]", lib.DTMF_RX_MAX_DIGITS + 1)

    def feed(self, audio) -> str:
        ptr, n = _samples(audio)
        if lib.dtmf_rx(self._s, ptr, n) == 0:
            return ""
        return self.digits()

    def silence(self, samples: int) -> str:
        """Feed ``samples`` of true silence (all zero), as an idle line gives; the same as
        ``feed`` of that many zeros, nearly free once the receiver has settled."""
        if samples < 0:
            raise InvalidArgument(-1, f"silence of {samples} samples")
        if lib.dtmf_rx_silence(self._s, samples) == 0:
            return ""
        return self.digits()

    def steady(self, value: int, samples: int) -> str:
        """Feed ``samples`` all of ``value`` (a steady leg, such as the far end's idle code
        decoded); the same as ``feed`` of them, without the filters while too quiet to
        hold a tone."""
        if samples < 0:
            raise InvalidArgument(-1, f"steady level for {samples} samples")
        if not -32768 <= value <= 32767:
            raise InvalidArgument(-1, f"steady level {value} is not a 16-bit sample")
        if lib.dtmf_rx_const(self._s, value, samples) == 0:
            return ""
        return self.digits()

    def idle_on(self, value: int) -> bool:
        """Settled on the quiet steady level ``value`` with nothing to take: more of it only
        counts samples (what :attr:`idle` says of silence, for any level)."""
        return bool(lib.dtmf_rx_const_idle(self._s, value))

    @property
    def idle(self) -> bool:
        """Settled into silence with nothing to take: more silence only counts samples
        (a board may then count them itself and hand them over in one :meth:`silence`)."""
        return bool(lib.dtmf_rx_idle(self._s))

    def digits(self) -> str:
        """Take the digits detected and not yet taken."""
        n = lib.dtmf_rx_get(self._s, self._buf, lib.DTMF_RX_MAX_DIGITS)
        return ffi.unpack(self._buf, n).decode("ascii")

    def reports(self) -> list[DtmfReport]:
        out = ffi.new("dtmf_rx_report_t[]", lib.DTMF_RX_MAX_REPORTS)
        n = lib.dtmf_rx_get_reports(self._s, out, lib.DTMF_RX_MAX_REPORTS)
        return [DtmfReport(out[i].digit.decode("ascii"), out[i].start, out[i].duration)
                for i in range(n)]

    @property
    def status(self) -> str | None:
        """The digit being received now, or None."""
        c = lib.dtmf_rx_status(self._s)
        return chr(c) if c else None

    @property
    def lost(self) -> int:
        return lib.dtmf_rx_lost(self._s)


class DtmfRxBank:
    """DTMF receivers for ``channels`` channels, run together in one C call per tick."""

    def __init__(self, channels: int, **params):
        self.rx = [DtmfRx(**params) for _ in range(channels)]
        self._ptrs = ffi.new("dtmf_rx_t *[]", [r._s for r in self.rx])
        self.channels = channels
        self._digits = ffi.new("char[]", 2 * channels + 16)
        self._chans = ffi.new("int[]", 2 * channels + 16)

    def process(self, audio, samples: int, stride: int | None = None) -> dict[int, str]:
        """Channel c's samples are ``audio[c*stride : c*stride + samples]`` (in samples).

        Returns {channel: digits} for the channels where digits became available.
        """
        stride = samples if stride is None else stride
        ptr, n = _samples(audio)
        if samples < 0 or stride < samples or n < (self.channels - 1) * stride + samples:
            raise InvalidArgument(-1, f"DTMF bank audio: {n} samples for {self.channels} "
                                      f"channels of {samples} (stride {stride})")
        if lib.dtmf_rx_bulk(self._ptrs, ptr, self.channels, samples, stride) == 0:
            return {}
        return self.take()

    def take(self) -> dict[int, str]:
        """{channel: digits} detected on all channels and not yet taken (one C call per batch)."""
        out: dict[int, str] = {}
        size = len(self._chans)
        while True:
            n = lib.dtmf_rx_bulk_get(self._ptrs, self.channels, self._digits, self._chans, size)
            raw = ffi.unpack(self._digits, n).decode("ascii")
            for i in range(n):
                c = self._chans[i]
                out[c] = out.get(c, "") + raw[i]
            if n < size:
                return out


class DtmfTx:
    """One DTMF generator (Q.23): tone ``on_ms``, pause ``off_ms``, per digit queued."""

    def __init__(self, low_level_dbm0: float = -9.0, high_level_dbm0: float = -7.0,
                 on_ms: int = 80, off_ms: int = 80):
        p = ffi.new("dtmf_tx_params_t *", {"low_level_dbm0": low_level_dbm0,
                                           "high_level_dbm0": high_level_dbm0,
                                           "on_ms": on_ms, "off_ms": off_ms})
        s = lib.dtmf_tx_init(ffi.NULL, p)
        if s == ffi.NULL:
            raise InvalidArgument(-1, f"DTMF generator levels {low_level_dbm0}/{high_level_dbm0} "
                                      f"dBm0, timing {on_ms}/{off_ms} ms")
        self._s = ffi.gc(s, lib.dtmf_tx_free)

    def put(self, digits: str) -> int:
        """Queue digits; returns how many were queued (fewer when the queue is full)."""
        raw = digits.encode("ascii", "replace")
        n = lib.dtmf_tx_put(self._s, raw, len(raw))
        if n < 0:
            raise InvalidArgument(-1, f"DTMF digits {digits!r}: only 0-9 * # A-D")
        return n

    def generate(self, max_samples: int) -> bytes:
        """Up to ``max_samples`` of signal; shorter (or empty) once everything queued is sent."""
        buf = ffi.new("int16_t[]", max_samples)
        n = lib.dtmf_tx(self._s, buf, max_samples)
        return bytes(ffi.buffer(buf, 2 * n))

    @property
    def pending(self) -> int:
        return lib.dtmf_tx_pending(self._s)


def dtmf_generate(digits: str, low_level_dbm0: float = -9.0, high_level_dbm0: float = -7.0,
                  on_ms: int = 80, off_ms: int = 80) -> bytes:
    """The whole signal for ``digits`` (each tone followed by its pause), int16 LE at 8000 Hz."""
    tx = DtmfTx(low_level_dbm0, high_level_dbm0, on_ms, off_ms)
    per_digit = (on_ms + off_ms) * SAMPLE_RATE // 1000
    out = []
    for i in range(0, len(digits), 64):
        tx.put(digits[i:i + 64])
        out.append(tx.generate(per_digit * 64))
    return b"".join(out)
