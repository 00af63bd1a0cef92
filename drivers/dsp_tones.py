"""Thin wrappers over the C tone core: MFC R2 tones, call-progress tones,
voice activity and the conference mixer (csrc/dsp/mfc.c, cpt.c, vad.c, conf.c).

For tests and for the layers above that handle whole buffers. The board's tick
calls the C bulk entry points (``mfc_rx_bulk``, ``cpt_rx_bulk``,
``vad_rx_bulk``, ``conf_mix_block``) for all channels at once; the
``*_bulk`` helpers here show the shape of those calls.

Linear audio is 16-bit signed at 8000 Hz; given as bytes it is little-endian
(sox ``-e signed-integer -b 16``, WAV).

- MFC R2 (ITU-T Q.441 table 5): signals 1..15, forward 1380..1980 Hz and
  backward 1140..540 Hz, two out of six; China No.1 uses the same code.
- Call-progress tone sets: ``cn`` (Chinese 450 Hz plan, the default), ``itu``
  (E.180), ``us``, ``uk``, ``de`` (E.180 Supplement 2).
"""
from __future__ import annotations

import enum
import math
from array import array
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from drivers.hal import check, ffi, lib
from drivers.linear import Linear, as_array as _linear

__all__ = [
    "MFC_DIGITS", "mfc_frequencies", "mfc_digit_frequencies", "MfcTx", "MfcRx",
    "CptKind", "CptTone", "ToneInfo", "tone_sets", "tone_set_index", "tone_info", "CptTx", "CptRx",
    "Vad", "ConfFlags", "Conference", "mfc_rx_bulk", "cpt_rx_bulk", "RATE",
]

RATE = 8000
MFC_DIGITS = lib.MFC_DIGITS
_EINVAL = -1

def _events(get, s) -> list[tuple[int, int]]:
    out = []
    at = ffi.new("int64_t *")
    none = -1
    while True:
        v = get(s, at)
        if v == none:
            return out
        out.append((v, at[0]))


# ---- MFC R2 --------------------------------------------------------------

def mfc_frequencies(backward: bool = False) -> list[int]:
    """f0..f5 of the forward (or backward) group, Q.441 table 5."""
    return [lib.mfc_frequency(1 if backward else 0, i) for i in range(6)]


def mfc_digit_frequencies(digit: int, backward: bool = False) -> tuple[int, int]:
    """The two frequencies (Hz) of signal ``digit`` (1..15)."""
    lo = ffi.new("int *")
    hi = ffi.new("int *")
    check(lib.mfc_digit_pair(digit, lo, hi), f"MFC signal {digit}")
    f = mfc_frequencies(backward)
    return f[lo[0]], f[hi[0]]


class MfcTx:
    """MFC R2 sender: a signal stays on until changed (the compelled cycle, Q.442)."""

    def __init__(self, backward: bool = False, level_dbm0: float = -8.0):
        self.backward = bool(backward)
        self._s = ffi.gc(lib.mfc_tx_init(ffi.NULL, int(self.backward)), lib.mfc_tx_free)
        if self._s == ffi.NULL:
            raise MemoryError("mfc_tx_init")
        self.set_level(level_dbm0)

    def set_level(self, dbm0: float) -> None:
        check(lib.mfc_tx_set_level(self._s, dbm0), f"MFC send level {dbm0} dBm0")

    def set(self, digit: Optional[int]) -> None:
        """Send signal 1..15 from now on; None or -1 for silence."""
        d = -1 if digit is None else int(digit)
        check(lib.mfc_tx_set(self._s, d), f"MFC signal {digit}")

    @property
    def digit(self) -> Optional[int]:
        d = lib.mfc_tx_get_digit(self._s)
        return None if d < 0 else d

    def generate(self, samples: int) -> array:
        out = array("h", bytes(2 * samples))
        lib.mfc_tx(self._s, ffi.from_buffer("int16_t[]", out), samples)
        return out


class MfcRx:
    """MFC R2 receiver. ``feed`` returns the signal heard now (None for none);
    ``events`` the changes since: (signal 1..15 or 0 for its end, sample index)."""

    END = lib.MFC_EVENT_END

    def __init__(self, backward: bool = False):
        self.backward = bool(backward)
        self._s = ffi.gc(lib.mfc_rx_init(ffi.NULL, int(self.backward)), lib.mfc_rx_free)
        if self._s == ffi.NULL:
            raise MemoryError("mfc_rx_init")

    def feed(self, samples: Linear) -> Optional[int]:
        a = _linear(samples)
        if len(a) == 0:
            d = lib.mfc_rx_current(self._s)
        else:
            d = lib.mfc_rx(self._s, ffi.from_buffer("int16_t[]", a), len(a))
        return None if d < 0 else d

    def events(self) -> list[tuple[int, int]]:
        return _events(lib.mfc_rx_get, self._s)

    def digits(self) -> list[int]:
        """Signals recognised since the last call (ends dropped)."""
        return [v for v, _ in self.events() if v > 0]

    @property
    def current(self) -> Optional[int]:
        d = lib.mfc_rx_current(self._s)
        return None if d < 0 else d


def _bulk_layout(ctype: str, receivers, audio: array, samples: int, chan_stride: Optional[int],
                 sample_stride: int):
    """The checked arguments of a C *_rx_bulk call: (n, chan_stride, states, out)."""
    n = len(receivers)
    if chan_stride is None:
        chan_stride = samples
    need = (n - 1) * chan_stride + (samples - 1) * sample_stride + 1 if n and samples else 0
    if len(audio) < need:
        raise ValueError(f"audio holds {len(audio)} samples, the layout needs {need}")
    states = ffi.new(ctype + " *[]", [r._s if r is not None else ffi.NULL for r in receivers])
    return n, chan_stride, states, ffi.new("int[]", max(n, 1))


def mfc_rx_bulk(receivers: Sequence[Optional[MfcRx]], audio: array, samples: int,
                chan_stride: Optional[int] = None, sample_stride: int = 1) -> list[Optional[int]]:
    """One C call for many channels: channel c's sample i at audio[c*chan_stride + i*sample_stride]."""
    n, chan_stride, states, digits = _bulk_layout("mfc_rx_t", receivers, audio, samples,
                                                  chan_stride, sample_stride)
    lib.mfc_rx_bulk(states, n, ffi.from_buffer("int16_t[]", audio), chan_stride, sample_stride,
                    samples, digits)
    return [None if digits[c] < 0 else digits[c] for c in range(n)]


# ---- call-progress tones ---------------------------------------------------

class CptKind(enum.IntEnum):
    """What the call-progress detector reports."""
    SILENCE = lib.CPT_SILENCE
    DIAL = lib.CPT_DIAL
    RINGBACK = lib.CPT_RINGBACK
    BUSY = lib.CPT_BUSY
    CONGESTION = lib.CPT_CONGESTION
    UNKNOWN_TONE = lib.CPT_UNKNOWN_TONE
    VOICE = lib.CPT_VOICE
    ANSWER = lib.CPT_ANSWER


class CptTone(enum.IntEnum):
    """The tones of a set."""
    DIAL = lib.CPT_DIAL
    RINGBACK = lib.CPT_RINGBACK
    BUSY = lib.CPT_BUSY
    CONGESTION = lib.CPT_CONGESTION


@dataclass(frozen=True)
class ToneInfo:
    set: str
    tone: CptTone
    frequencies: tuple[int, ...]
    cadence_ms: tuple[int, ...]     # () for a continuous tone
    level_dbm0: float


def tone_sets() -> dict[str, str]:
    """Set name -> description, in table order (the first is the default)."""
    return {ffi.string(lib.cpt_set_name(i)).decode(): ffi.string(lib.cpt_set_description(i)).decode()
            for i in range(lib.cpt_set_count())}


def tone_set_index(name: Union[str, int]) -> int:
    if isinstance(name, int):
        if not 0 <= name < lib.cpt_set_count():
            raise ValueError(f"no tone set {name}")
        return name
    i = lib.cpt_set_find(name.encode())
    if i < 0:
        raise ValueError(f"no tone set {name!r} (have {', '.join(tone_sets())})")
    return i


def _tone_id(tone: Union[str, int]) -> int:
    if isinstance(tone, str):
        try:
            return int(CptTone[tone.upper()])
        except KeyError:
            raise ValueError(f"no tone {tone!r} (have {', '.join(t.name.lower() for t in CptTone)})") from None
    return int(tone)


def tone_info(set_name: Union[str, int], tone: Union[str, int]) -> ToneInfo:
    si = tone_set_index(set_name)
    info = ffi.new("cpt_tone_info_t *")
    tid = _tone_id(tone)
    check(lib.cpt_tone_info(si, tid, info), f"tone {tone} of set {set_name}")
    freqs = tuple(f for f in (info.f1, info.f2) if f)
    cad = tuple(c for c in info.cadence if c)
    return ToneInfo(ffi.string(lib.cpt_set_name(si)).decode(), CptTone(tid), freqs, cad,
                    float(info.level_dbm0))


class CptTx:
    """Call-progress tone generator for a set (default ``cn``)."""

    def __init__(self, tone_set: Union[str, int] = "cn"):
        self._s = ffi.gc(lib.cpt_tx_init(ffi.NULL, tone_set_index(tone_set)), lib.cpt_tx_free)
        if self._s == ffi.NULL:
            raise MemoryError("cpt_tx_init")

    def play(self, tone: Union[str, int, None]) -> None:
        """Start a tone (name or CptTone) from the start of its cadence; None stops."""
        tid = 0 if tone is None else _tone_id(tone)
        check(lib.cpt_tx_play(self._s, tid), f"play tone {tone}")

    def play_custom(self, f1: int, f2: int = 0, cadence_ms: Sequence[int] = ()) -> None:
        c = list(cadence_ms) + [0] * (4 - len(cadence_ms))
        if len(c) != 4:
            raise ValueError("cadence has at most four parts: on, off, on, off")
        check(lib.cpt_tx_play_custom(self._s, f1, f2, *c), f"custom tone {f1}+{f2} {cadence_ms}")

    def set_level(self, dbm0: Optional[float]) -> None:
        check(lib.cpt_tx_set_level(self._s, math.nan if dbm0 is None else dbm0), f"tone level {dbm0}")

    @property
    def playing(self) -> int:
        return lib.cpt_tx_playing(self._s)

    def generate(self, samples: int) -> array:
        out = array("h", bytes(2 * samples))
        lib.cpt_tx(self._s, ffi.from_buffer("int16_t[]", out), samples)
        return out


class CptRx:
    """Call-progress detector: ``feed`` returns the CptKind heard now; ``events``
    the changes (CptKind, sample index), CptKind.ANSWER for voice after ringback."""

    def __init__(self, tone_set: Union[str, int] = "cn"):
        self._s = ffi.gc(lib.cpt_rx_init(ffi.NULL, tone_set_index(tone_set)), lib.cpt_rx_free)
        if self._s == ffi.NULL:
            raise MemoryError("cpt_rx_init")

    def feed(self, samples: Linear) -> CptKind:
        a = _linear(samples)
        if len(a) == 0:
            return CptKind(lib.cpt_rx_current(self._s))
        return CptKind(lib.cpt_rx(self._s, ffi.from_buffer("int16_t[]", a), len(a)))

    def events(self) -> list[tuple[CptKind, int]]:
        return [(CptKind(v), at) for v, at in _events(lib.cpt_rx_get, self._s)]

    def reset(self) -> None:
        lib.cpt_rx_reset(self._s)

    @property
    def current(self) -> CptKind:
        return CptKind(lib.cpt_rx_current(self._s))


def cpt_rx_bulk(receivers: Sequence[Optional[CptRx]], audio: array, samples: int,
                chan_stride: Optional[int] = None, sample_stride: int = 1) -> list[Optional[CptKind]]:
    n, chan_stride, states, kinds = _bulk_layout("cpt_rx_t", receivers, audio, samples,
                                                 chan_stride, sample_stride)
    lib.cpt_rx_bulk(states, n, ffi.from_buffer("int16_t[]", audio), chan_stride, sample_stride,
                    samples, kinds)
    return [None if kinds[c] < 0 else CptKind(kinds[c]) for c in range(n)]


# ---- voice activity -----------------------------------------------------------

class Vad:
    """Smoothed energy (dBm0) and a voice/silence decision with hangover."""

    def __init__(self, threshold_dbm0: float = -40.0, hangover_ms: int = 300):
        s = lib.vad_rx_init(ffi.NULL, threshold_dbm0, hangover_ms)
        if s == ffi.NULL:
            check(_EINVAL, f"VAD threshold {threshold_dbm0} dBm0, hangover {hangover_ms} ms")
        self._s = ffi.gc(s, lib.vad_rx_free)

    def feed(self, samples: Linear) -> bool:
        a = _linear(samples)
        if len(a) == 0:
            return bool(lib.vad_rx_active(self._s))
        return bool(lib.vad_rx(self._s, ffi.from_buffer("int16_t[]", a), len(a)))

    @property
    def active(self) -> bool:
        return bool(lib.vad_rx_active(self._s))

    @property
    def level(self) -> float:
        return float(lib.vad_rx_level(self._s))

    @property
    def noise(self) -> float:
        return float(lib.vad_rx_noise(self._s))

    def events(self) -> list[tuple[bool, int]]:
        return [(bool(v), at) for v, at in _events(lib.vad_rx_get, self._s)]


# ---- conference ----------------------------------------------------------------

class ConfFlags(enum.IntFlag):
    TALK = lib.CONF_TALK
    HEAR = lib.CONF_HEAR
    WHISPER = lib.CONF_WHISPER
    MEMBER = lib.CONF_MEMBER        # a party (also barge-in)
    MONITOR = lib.CONF_MONITOR      # listen-only supervisor


class Conference:
    """N-party mixer: each member hears the others, not itself (conf.h)."""

    def __init__(self, max_members: int = 8):
        s = lib.conf_init(ffi.NULL, max_members)
        if s == ffi.NULL:
            check(_EINVAL, f"conference of {max_members} members (1..{lib.CONF_MAX_MEMBERS})")
        self._s = ffi.gc(s, lib.conf_free)
        self.max_members = max_members

    def join(self, member: int, flags: int = ConfFlags.MEMBER, whisper_to: Optional[int] = None) -> None:
        if whisper_to is not None:
            flags |= ConfFlags.WHISPER
        check(lib.conf_join(self._s, member, int(flags)), f"conference join of member {member}")
        if whisper_to is not None:
            check(lib.conf_set_target(self._s, member, whisper_to),
                  f"conference whisper of member {member} to {whisper_to}")

    def leave(self, member: int) -> None:
        check(lib.conf_leave(self._s, member), f"conference leave of member {member}")

    def flags(self, member: int) -> Optional[ConfFlags]:
        f = lib.conf_flags(self._s, member)
        return None if f < 0 else ConfFlags(f)

    def __len__(self) -> int:
        return lib.conf_members(self._s)

    def mix(self, inputs: dict[int, Linear], samples: Optional[int] = None) -> dict[int, array]:
        """inputs: member -> what it says. Returns member -> what it hears, for every member in."""
        ins = {m: _linear(x) for m, x in inputs.items()}
        if samples is None:
            samples = max((len(x) for x in ins.values()), default=0)
        for m, x in ins.items():
            if not 0 <= m < self.max_members:
                raise ValueError(f"no member slot {m}")
            if len(x) < samples:
                raise ValueError(f"member {m} gave {len(x)} samples, the mix needs {samples}")
        members = [m for m in range(self.max_members) if lib.conf_flags(self._s, m) >= 0]
        outs = {m: array("h", bytes(2 * samples)) for m in members}
        in_ptrs = ffi.new("int16_t *[]", self.max_members)
        out_ptrs = ffi.new("int16_t *[]", self.max_members)
        keep = []
        for m, x in ins.items():
            buf = ffi.from_buffer("int16_t[]", x)
            keep.append(buf)
            in_ptrs[m] = buf
        for m, y in outs.items():
            buf = ffi.from_buffer("int16_t[]", y)
            keep.append(buf)
            out_ptrs[m] = buf
        check(lib.conf_mix(self._s, ffi.cast("const int16_t *const *", in_ptrs),
                           ffi.cast("int16_t *const *", out_ptrs), samples), "conference mix")
        return outs
