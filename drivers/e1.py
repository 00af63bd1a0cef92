"""Thin wrappers over the C E1 framer (csrc/line/e1_framer.h), for tests and tools.

The board's tick drives the framer in C; these wrappers exist so that tests
and diagnostics can push bytes through the same code: HDB3 (G.703 annex A),
frames and CRC-4 multiframes (G.704 2.3), alignment (G.706 4), the TS16 CAS
multiframe (G.704 5.1.3), alarms per G.775 and slips (G.822).

The line is two rails of bytes, ``p`` (positive marks) and ``n`` (negative
marks), bit 7 of each byte first; a frame is 32 bytes of each rail.
Payload is frame-major: byte ``f * 32 + ts``.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Set, Tuple

from drivers.hal import check, ffi, lib

__all__ = [
    "E1Framer", "tx_group", "rx_group", "hdb3_encode", "hdb3_decode", "crc4", "FRAME_BYTES", "CAS_CHANNELS",
    "ALARM_NAMES",
]

FRAME_BYTES = lib.E1_FRAME_BYTES
CAS_CHANNELS = lib.E1_CAS_CHANNELS

# Return codes, as HAL codes so that check() names them
_HAL_EINVAL = -1
_HAL_ECONFIG = -9

ALARM_NAMES = {
    "LOS": lib.E1_ALARM_LOS,
    "LOF": lib.E1_ALARM_LOF,
    "AIS": lib.E1_ALARM_AIS,
    "RAI": lib.E1_ALARM_RAI,
    "LOMF": lib.E1_ALARM_LOMF,
    "CASMF": lib.E1_ALARM_CASMF,
    "RMAI": lib.E1_ALARM_RMAI,
}

_COUNTERS = ("frames_rx", "bits_rx", "fas_errors", "crc4_errors", "ebit_errors", "bpv", "slips",
             "lof_events", "los_events")


def alarm_names(bits: int) -> Set[str]:
    """The names of the alarm bits set in ``bits``."""
    return {name for name, bit in ALARM_NAMES.items() if bits & bit}


def _rails(p: bytes, n: bytes) -> Tuple[bytes, bytes]:
    p, n = bytes(p), bytes(n)
    if len(p) != len(n):
        check(_HAL_EINVAL, "E1 line: rails p (%d bytes) and n (%d bytes) differ in length"
              % (len(p), len(n)))
    return p, n


class E1Framer:
    """One E1 framer: transmitter, receiver, elastic store (e1_framer_t)."""

    def __init__(self, crc4: bool = True, cas: bool = False, elastic_frames: int = 2 * 160 + 64):
        cfg = ffi.new("e1_config_t *")
        cfg.crc4 = 1 if crc4 else 0
        cfg.cas = 1 if cas else 0
        cfg.elastic_frames = int(elastic_frames)
        s = lib.e1_framer_init(ffi.NULL, cfg)
        if s == ffi.NULL:
            check(_HAL_ECONFIG, "E1 framer: elastic_frames=%d (needs 2 .. 1048576)" % elastic_frames)
        self._s = ffi.gc(s, lib.e1_framer_free)
        self.crc4 = bool(crc4)
        self.cas = bool(cas)

    def tx(self, payload: bytes, nframes: int) -> Tuple[bytes, bytes]:
        """Frame ``nframes`` frames of ``payload`` (nframes * 32 bytes; TS0, and TS16 with
        CAS, are built by the framer) and return the HDB3 rails (p, n)."""
        nframes = int(nframes)
        payload = bytes(payload)
        if nframes < 0 or len(payload) != nframes * FRAME_BYTES:
            check(_HAL_EINVAL, "E1 framer tx: payload is %d bytes, %d frames need %d"
                  % (len(payload), nframes, max(nframes, 0) * FRAME_BYTES))
        size = nframes * FRAME_BYTES
        p = ffi.new("uint8_t[]", max(size, 1))
        n = ffi.new("uint8_t[]", max(size, 1))
        lib.e1_framer_tx(self._s, ffi.from_buffer(payload) if size else ffi.NULL, nframes, p, n)
        return ffi.buffer(p, size)[:], ffi.buffer(n, size)[:]

    def rx_line(self, p: bytes, n: bytes) -> None:
        """Receive rails from the line, at any bit alignment."""
        p, n = _rails(p, n)
        if p:
            lib.e1_framer_rx_line(self._s, ffi.from_buffer(p), ffi.from_buffer(n), len(p))

    def rx_tick(self, p: bytes, n: bytes, nframes: int) -> bytes:
        """A tick of line: receive the rails and read ``nframes`` frames, one after each
        ``1/nframes`` share of the bytes (as the line and local clocks run side by side);
        the same as :meth:`rx_line` of each share and :meth:`read` of one frame after it."""
        p, n = _rails(p, n)
        nframes = int(nframes)
        if nframes < 0:
            check(_HAL_EINVAL, "E1 framer rx_tick: nframes=%d" % nframes)
        size = nframes * FRAME_BYTES
        buf = ffi.new("uint8_t[]", max(size, 1))
        lib.e1_framer_rx_tick(self._s, ffi.from_buffer(p) if p else ffi.NULL,
                              ffi.from_buffer(n) if n else ffi.NULL, len(p), buf, nframes)
        return ffi.buffer(buf, size)[:]

    def read(self, nframes: int) -> bytes:
        """Exactly ``nframes`` frames from the elastic store (all 0xFF while out of frame)."""
        nframes = int(nframes)
        if nframes < 0:
            check(_HAL_EINVAL, "E1 framer read: nframes=%d" % nframes)
        size = nframes * FRAME_BYTES
        buf = ffi.new("uint8_t[]", max(size, 1))
        lib.e1_framer_read(self._s, buf, nframes)
        return ffi.buffer(buf, size)[:]

    def set_cas_tx(self, channel: int, abcd: int) -> None:
        """Send abcd (0..15) for CAS channel 1..30 (TS1..15, TS17..31)."""
        if not 1 <= channel <= CAS_CHANNELS:
            check(_HAL_EINVAL, "E1 CAS: channel %r (1..%d)" % (channel, CAS_CHANNELS))
        if not 0 <= abcd <= 15:
            check(_HAL_EINVAL, "E1 CAS channel %d: abcd %r (0..15)" % (channel, abcd))
        lib.e1_framer_set_cas_tx(self._s, channel, abcd)

    def get_cas_rx(self, channel: int) -> int:
        """The abcd last received for CAS channel 1..30."""
        return check(lib.e1_framer_get_cas_rx(self._s, channel),
                     "E1 CAS: channel %r (1..%d)" % (channel, CAS_CHANNELS))

    def set_tx_ais(self, on: bool) -> None:
        lib.e1_framer_set_tx_ais(self._s, 1 if on else 0)

    def set_tx_rai(self, on: bool) -> None:
        lib.e1_framer_set_tx_rai(self._s, 1 if on else 0)

    def alarm_bits(self) -> int:
        return lib.e1_framer_alarms(self._s)

    def alarms(self) -> Set[str]:
        """Alarm names now present: LOS, LOF, AIS, RAI, LOMF, CASMF, RMAI."""
        return alarm_names(self.alarm_bits())

    def counters(self) -> Dict[str, int]:
        c = ffi.new("e1_counters_t *")
        lib.e1_framer_counters(self._s, c)
        return {name: int(getattr(c, name)) for name in _COUNTERS}

    def reset_counters(self) -> None:
        lib.e1_framer_reset_counters(self._s)


def tx_group(framers: Sequence[E1Framer], payloads: Sequence[bytes],
             nframes: int) -> List[Tuple[bytes, bytes]]:
    """:meth:`E1Framer.tx` of ``payloads[i]`` on ``framers[i]`` (distinct framers), in one
    call that HDB3-codes four spans at once, as the software board's tick does. Returns
    the rails (p, n) of each."""
    framers, payloads, nframes = list(framers), [bytes(x) for x in payloads], int(nframes)
    if len(framers) != len(payloads) or len({id(f) for f in framers}) != len(framers):
        check(_HAL_EINVAL, "E1 tx group: %d framers (distinct) for %d payloads"
              % (len(framers), len(payloads)))
    if nframes < 0 or any(len(x) != nframes * FRAME_BYTES for x in payloads):
        check(_HAL_EINVAL, "E1 tx group: payloads of %s bytes, %d frames need %d"
              % (sorted({len(x) for x in payloads}), nframes, max(nframes, 0) * FRAME_BYTES))
    size = max(nframes * FRAME_BYTES, 1)
    ps = [ffi.new("uint8_t[]", size) for _ in framers]
    ns = [ffi.new("uint8_t[]", size) for _ in framers]
    ts = [ffi.from_buffer(x) if x else ffi.NULL for x in payloads]
    lib.e1_framer_tx_group(ffi.new("e1_framer_t *[]", [f._s for f in framers]), len(framers),
                           ffi.new("uint8_t *[]", ts), nframes, ffi.new("uint8_t *[]", ps),
                           ffi.new("uint8_t *[]", ns))
    return [(ffi.buffer(p, nframes * FRAME_BYTES)[:], ffi.buffer(n, nframes * FRAME_BYTES)[:])
            for p, n in zip(ps, ns)]


def rx_group(framers: Sequence[E1Framer], lines: Sequence[Tuple[bytes, bytes]],
             nframes: int) -> List[bytes]:
    """:meth:`E1Framer.rx_tick` of ``lines[i]`` (rails p, n) on ``framers[i]`` (distinct
    framers), in one call that HDB3-decodes four spans at once where it can, as the
    software board's tick does. Returns the frames read on each."""
    framers, nframes = list(framers), int(nframes)
    lines = [_rails(p, n) for p, n in lines]
    if len(framers) != len(lines) or len({id(f) for f in framers}) != len(framers):
        check(_HAL_EINVAL, "E1 rx group: %d framers (distinct) for %d lines"
              % (len(framers), len(lines)))
    if nframes < 0:
        check(_HAL_EINVAL, "E1 rx group: nframes=%d" % nframes)
    size = nframes * FRAME_BYTES
    bufs = [ffi.new("uint8_t[]", max(size, 1)) for _ in framers]
    lib.e1_framer_rx_group(ffi.new("e1_framer_t *[]", [f._s for f in framers]), len(framers),
                           ffi.new("uint8_t *[]", [ffi.from_buffer(p) if p else ffi.NULL for p, _ in lines]),
                           ffi.new("uint8_t *[]", [ffi.from_buffer(n) if n else ffi.NULL for _, n in lines]),
                           ffi.new("int[]", [len(p) for p, _ in lines]), ffi.new("uint8_t *[]", bufs), nframes)
    return [ffi.buffer(b, size)[:] for b in bufs]


def _shift_out(data: bytes, bits: int, nbytes: int) -> bytes:
    """nbytes bytes of ``data`` starting ``bits`` bits in."""
    if nbytes <= 0:
        return b""
    v = int.from_bytes(data, "big")
    total = len(data) * 8
    v >>= total - bits - nbytes * 8
    return (v & ((1 << (nbytes * 8)) - 1)).to_bytes(nbytes, "big")


def hdb3_encode(data: bytes) -> Tuple[bytes, bytes]:
    """HDB3 code ``data`` in one go. The rails are one byte longer than the data: the
    encoder's 3 symbols of delay come first, and a zero byte flushes the end, so that
    ``hdb3_decode(*hdb3_encode(data))[0] == data``."""
    data = bytes(data) + b"\x00"
    e = ffi.new("e1_hdb3_enc_t *")
    lib.e1_hdb3_enc_init(e)
    p = ffi.new("uint8_t[]", len(data))
    n = ffi.new("uint8_t[]", len(data))
    lib.e1_hdb3_encode(e, ffi.from_buffer(data), len(data), p, n)
    return ffi.buffer(p, len(data))[:], ffi.buffer(n, len(data))[:]


def hdb3_decode(p: bytes, n: bytes) -> Tuple[bytes, int]:
    """Decode rails laid out as hdb3_encode() makes them (3 symbols of lead-in, one byte
    longer than the data). Returns (data, bipolar violations that are not substitutions)."""
    p, n = _rails(p, n)
    d = ffi.new("e1_hdb3_dec_t *")
    lib.e1_hdb3_dec_init(d)
    p += b"\x00"
    n += b"\x00"
    out = ffi.new("uint8_t[]", len(p))
    lib.e1_hdb3_decode(d, ffi.from_buffer(p), ffi.from_buffer(n), len(p), out)
    skip = lib.e1_hdb3_encoder_delay() + lib.e1_hdb3_decoder_delay()
    return _shift_out(ffi.buffer(out, len(p))[:], skip, len(p) - 2), int(d.bpv)


def crc4(data: bytes, crc: int = 0) -> int:
    """CRC-4 of ``data`` (G.704 2.3.3.5.2: times x^4, divided by x^4 + x + 1, bit 7 first),
    continuing from ``crc``."""
    data = bytes(data)
    return lib.e1_crc4(crc & 0xF, ffi.from_buffer(data) if data else ffi.NULL, len(data))
