"""Caller ID: the message layer (sans-I/O) and the FSK modem wrappers.

What goes on the line between the exchange (or our FXS port) and a phone
(or our FXO port) while it is on hook:

* Message layer (ETSI EN 300 659-3 5, Bellcore GR-30 5.2/5.3): a message is
  ``type, length, payload, checksum``; the checksum is the two's complement
  of the sum of all the octets before it, modulo 256, so that all the octets
  of a good message add up to zero. SDMF (single data message format, type
  0x04) carries ``MMDDhhmm`` and the number (or ``O``/``P`` for why it is
  absent); MDMF (multiple data message format, type 0x80) carries
  parameters, each ``type, length, value``: date and time 0x01, calling
  number 0x02, called number 0x03, reason for absence of the number 0x04
  (``O`` unavailable / out of area, ``P`` private), calling name 0x07,
  reason for absence of the name 0x08, ...
* Physical layer framing (EN 300 659-1 5.3, GR-30 5.1): a channel seizure
  signal (300 bits alternating 0 and 1, which Bellcore describes as 30 octets
  0x55 framed by start and stop bits: the same bits), a mark signal (ETSI 180
  +- 25 bits of mark; Bellcore 150 ms = 180 bits), then the message as
  asynchronous characters (start bit, 8 data bits LSB first, stop bit), in
  1200 baud FSK: Bell 202 (mark 1200 Hz, space 2200 Hz) or V.23 (1300/2100).
* Timing relative to ringing (EN 300 659-1 5.3.1/5.3.2, GR-30 3): a plan of
  ring, polarity reversal, alerting signal and data steps the FXS side
  plays, see :func:`alerting_plan`.
* DTMF caller ID (EN 300 659-1 annex B style, as used in China and parts of
  Europe): start code ``A`` (or ``D``), the digits, end code ``C``; ``B`` and
  two digits say why the number is absent (``00`` unavailable, ``10``
  private). :func:`dtmf_plan` gives the digits and their timing for the
  board's DTMF generator; :func:`parse_dtmf` reads what a DTMF detector got.

Nothing here reads a clock or a file. :class:`FskTx` and :class:`FskRx` wrap
the C modem (``csrc/dsp/fsk.c``); bulk use across many channels goes through
``lib.fsk_tx_bulk``/``lib.fsk_rx_bulk`` in the board's tick.

Parsing never raises on what the line delivered: :func:`parse_message` and
:func:`parse_dtmf` return a :class:`ParseError` value naming what is wrong.
Building raises ``ValueError`` for what *we* got wrong (a name too long, a
number with letters).
"""
from __future__ import annotations

import enum
from array import array
from dataclasses import dataclass
from typing import Union

__all__ = [
    "MessageType", "Param", "UNAVAILABLE", "PRIVATE", "DateTime", "CallerId", "ParseError",
    "checksum", "build_sdmf", "build_mdmf", "build_message", "parse_message", "find_message",
    "MessageAssembler", "Standard", "FskBurst", "fsk_burst", "Step", "alerting_plan",
    "DtmfTone", "dtmf_string", "dtmf_plan", "parse_dtmf", "Mode", "FskTx", "FskRx",
    "generate", "decode",
]


class MessageType(enum.IntEnum):
    """EN 300 659-3 5.2, GR-30 5.2: message types."""
    SDMF_CALL_SETUP = 0x04          # GR-30 SDMF: date/time + number
    SDMF_MWI = 0x06                 # GR-30 SDMF message waiting
    MDMF_CALL_SETUP = 0x80          # EN 300 659-3 5.2.1 call set-up; GR-30 MDMF
    MDMF_MWI = 0x82                 # EN 300 659-3 5.2.2 message waiting indicator
    ADVICE_OF_CHARGE = 0x86         # EN 300 659-3 5.2.3
    SMS = 0x89                      # EN 300 659-3 5.2.4 short message service


class Param(enum.IntEnum):
    """EN 300 659-3 5.3 parameter types (GR-30 MDMF uses the same 0x01..0x08)."""
    DATE_TIME = 0x01
    CALLING_NUMBER = 0x02
    CALLED_NUMBER = 0x03
    NUMBER_ABSENCE = 0x04
    CALLING_NAME = 0x07
    NAME_ABSENCE = 0x08
    VISUAL_INDICATOR = 0x0B
    MESSAGE_ID = 0x0D
    CALL_TYPE = 0x11
    MESSAGES = 0x13
    REDIRECTING_NUMBER = 0x1A


UNAVAILABLE = "O"   # EN 300 659-3 5.3.4: 'O' number unavailable (GR-30: out of area)
PRIVATE = "P"       # 'P' private (withheld)
_ABSENCE = (UNAVAILABLE, PRIVATE)

# Builder limits: EN 300 659-3 5.3.2 (number up to 20 characters), 5.3.6 (name up to 50)
MAX_NUMBER = 20
MAX_NAME = 50
_NUMBER_CHARS = frozenset("0123456789*#+")
# GR-30 SDMF MWI payloads: 0x42 x3 on, 0x6F x3 off
_SDMF_MWI_ON = b"\x42\x42\x42"
_SDMF_MWI_OFF = b"\x6f\x6f\x6f"


@dataclass(frozen=True)
class DateTime:
    """``MMDDhhmm`` of EN 300 659-3 5.3.1 / GR-30 (local time, no year)."""
    month: int
    day: int
    hour: int
    minute: int

    def __post_init__(self):
        for name, lo, hi in (("month", 1, 12), ("day", 1, 31), ("hour", 0, 23), ("minute", 0, 59)):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"date/time {name} {v!r} outside {lo}..{hi}")

    def encode(self) -> bytes:
        return b"%02d%02d%02d%02d" % (self.month, self.day, self.hour, self.minute)

    @classmethod
    def decode(cls, raw: bytes) -> "DateTime":
        if len(raw) != 8 or not raw.isdigit():
            raise ValueError("date/time is not 8 digits")
        return cls(int(raw[0:2]), int(raw[2:4]), int(raw[4:6]), int(raw[6:8]))


@dataclass(frozen=True)
class CallerId:
    """What a caller-ID message says. ``extra`` keeps other MDMF parameters as (type, value)."""
    number: str | None = None
    name: str | None = None
    when: DateTime | None = None
    number_absence: str | None = None      # 'O' or 'P'
    name_absence: str | None = None
    message_waiting: bool | None = None    # MWI messages only
    extra: tuple[tuple[int, bytes], ...] = ()
    message_type: int = MessageType.MDMF_CALL_SETUP


@dataclass(frozen=True)
class ParseError:
    """Why octets (or digits) are not a caller-ID message; ``offset`` into the input."""
    reason: str
    offset: int = 0

    def __bool__(self) -> bool:
        return False


def checksum(data: bytes) -> int:
    """EN 300 659-3 5.1 / GR-30: two's complement of the modulo-256 sum."""
    return (-sum(data)) & 0xFF


def _check_number(number: str) -> bytes:
    if not number or len(number) > MAX_NUMBER or not set(number) <= _NUMBER_CHARS:
        raise ValueError(f"number {number!r}: 1..{MAX_NUMBER} of 0-9 * # +")
    return number.encode("ascii")


def _check_name(name: str) -> bytes:
    if not name or len(name) > MAX_NAME or any(not 0x20 <= ord(c) <= 0x7E for c in name):
        raise ValueError(f"name {name!r}: 1..{MAX_NAME} printable ASCII characters")
    return name.encode("ascii")


def _check_absence(what: str, reason: str) -> bytes:
    if reason not in _ABSENCE:
        raise ValueError(f"{what} absence {reason!r}: 'O' (unavailable) or 'P' (private)")
    return reason.encode("ascii")


def _frame(mtype: int, payload: bytes) -> bytes:
    if len(payload) > 255:
        raise ValueError(f"message payload of {len(payload)} octets: at most 255")
    body = bytes([mtype, len(payload)]) + payload
    return body + bytes([checksum(body)])


def build_sdmf(cid: CallerId) -> bytes:
    """GR-30 SDMF: type 0x04, ``MMDDhhmm`` then the number or 'O'/'P'; or 0x06 MWI."""
    if cid.message_waiting is not None:
        return _frame(MessageType.SDMF_MWI, _SDMF_MWI_ON if cid.message_waiting else _SDMF_MWI_OFF)
    if cid.when is None:
        raise ValueError("SDMF needs the date and time")
    if cid.number is not None and cid.number_absence is not None:
        raise ValueError("number and number absence are exclusive")
    if cid.number is not None:
        tail = _check_number(cid.number)
    else:
        tail = _check_absence("number", cid.number_absence or UNAVAILABLE)
    return _frame(MessageType.SDMF_CALL_SETUP, cid.when.encode() + tail)


def build_mdmf(cid: CallerId) -> bytes:
    """EN 300 659-3 5.2.1 call set-up (0x80) or 5.2.2 message waiting (0x82)."""
    params: list[tuple[int, bytes]] = []
    if cid.when is not None:
        params.append((Param.DATE_TIME, cid.when.encode()))
    if cid.number is not None and cid.number_absence is not None:
        raise ValueError("number and number absence are exclusive")
    if cid.name is not None and cid.name_absence is not None:
        raise ValueError("name and name absence are exclusive")
    if cid.number is not None:
        params.append((Param.CALLING_NUMBER, _check_number(cid.number)))
    if cid.number_absence is not None:
        params.append((Param.NUMBER_ABSENCE, _check_absence("number", cid.number_absence)))
    if cid.name is not None:
        params.append((Param.CALLING_NAME, _check_name(cid.name)))
    if cid.name_absence is not None:
        params.append((Param.NAME_ABSENCE, _check_absence("name", cid.name_absence)))
    mtype = MessageType.MDMF_CALL_SETUP
    if cid.message_waiting is not None:
        mtype = MessageType.MDMF_MWI
        params.append((Param.VISUAL_INDICATOR, b"\xff" if cid.message_waiting else b"\x00"))
    for ptype, value in cid.extra:
        if not 0 <= ptype <= 255 or len(value) > 253:
            raise ValueError(f"parameter 0x{ptype:02x}: type 0..255, value at most 253 octets")
        params.append((ptype, bytes(value)))
    if not params:
        raise ValueError("an MDMF message needs at least one parameter")
    payload = b"".join(bytes([t, len(v)]) + v for t, v in params)
    return _frame(mtype, payload)


def build_message(cid: CallerId) -> bytes:
    """SDMF or MDMF after ``cid.message_type``."""
    if cid.message_type in (MessageType.SDMF_CALL_SETUP, MessageType.SDMF_MWI):
        return build_sdmf(cid)
    return build_mdmf(cid)


def _text(raw: bytes) -> str:
    # EN 300 659-3 4: characters are T.50 (IA5); latin-1 keeps any octet readable and lossless
    return raw.decode("latin-1")


def parse_message(data: bytes) -> Union[CallerId, ParseError]:
    """One message starting at ``data[0]``; octets after it are ignored."""
    try:
        data = bytes(data)
    except (TypeError, ValueError):
        return ParseError("not octets")
    if len(data) < 3:
        return ParseError("shorter than type, length and checksum", len(data))
    mtype, length = data[0], data[1]
    if len(data) < length + 3:
        return ParseError(f"length {length} runs past the {len(data)} octets received", 1)
    if sum(data[:length + 3]) & 0xFF:
        return ParseError("checksum mismatch", length + 2)
    payload = data[2:2 + length]
    if mtype == MessageType.SDMF_CALL_SETUP:
        return _parse_sdmf(payload)
    if mtype == MessageType.SDMF_MWI:
        if payload == _SDMF_MWI_ON:
            return CallerId(message_waiting=True, message_type=mtype)
        if payload == _SDMF_MWI_OFF:
            return CallerId(message_waiting=False, message_type=mtype)
        return ParseError("SDMF message waiting payload is neither 0x42x3 nor 0x6Fx3", 2)
    if mtype & 0x80:
        return _parse_mdmf(mtype, payload)
    return ParseError(f"unknown message type 0x{mtype:02x}", 0)


def _parse_sdmf(payload: bytes) -> Union[CallerId, ParseError]:
    if len(payload) < 8:
        return ParseError("SDMF payload shorter than the date and time", 2)
    try:
        when = DateTime.decode(payload[:8])
    except ValueError as e:
        return ParseError(f"SDMF {e}", 2)
    tail = _text(payload[8:])
    if tail in _ABSENCE:
        return CallerId(when=when, number_absence=tail, message_type=MessageType.SDMF_CALL_SETUP)
    return CallerId(when=when, number=tail or None, message_type=MessageType.SDMF_CALL_SETUP)


def _parse_mdmf(mtype: int, payload: bytes) -> Union[CallerId, ParseError]:
    fields: dict = {}
    extra: list[tuple[int, bytes]] = []
    i = 0
    while i < len(payload):
        if i + 2 > len(payload):
            return ParseError("parameter header cut short", 2 + i)
        ptype, plen = payload[i], payload[i + 1]
        value = payload[i + 2:i + 2 + plen]
        if len(value) < plen:
            return ParseError(f"parameter 0x{ptype:02x} length {plen} runs past the message", 3 + i)
        if ptype == Param.DATE_TIME:
            try:
                fields["when"] = DateTime.decode(value)
            except ValueError as e:
                return ParseError(str(e), 4 + i)
        elif ptype == Param.CALLING_NUMBER:
            fields["number"] = _text(value)
        elif ptype == Param.NUMBER_ABSENCE:
            fields["number_absence"] = _text(value)
        elif ptype == Param.CALLING_NAME:
            fields["name"] = _text(value)
        elif ptype == Param.NAME_ABSENCE:
            fields["name_absence"] = _text(value)
        elif ptype == Param.VISUAL_INDICATOR and mtype == MessageType.MDMF_MWI and plen == 1:
            fields["message_waiting"] = value[0] != 0
        else:
            extra.append((ptype, value))
        i += 2 + plen
    return CallerId(extra=tuple(extra), message_type=mtype, **fields)


_KNOWN_TYPES = frozenset(int(t) for t in MessageType)


def find_message(stream: bytes) -> tuple[Union[CallerId, ParseError], int]:
    """The first good message in a demodulated byte stream (seizure 0x55s, noise, then
    the message), and the offset just past it; ``(ParseError, offset)`` when none yet,
    the offset being where a later call should start looking again."""
    stream = bytes(stream)
    waiting = None
    for i, b in enumerate(stream):
        if b not in _KNOWN_TYPES:
            continue
        if i + 1 < len(stream) and i + stream[i + 1] + 3 > len(stream):
            if waiting is None:
                waiting = i     # may complete when more octets come
            continue
        if i + 1 >= len(stream):
            if waiting is None:
                waiting = i
            continue
        got = parse_message(stream[i:])
        if isinstance(got, CallerId):
            return got, i + stream[i + 1] + 3
    if waiting is not None:
        return ParseError("incomplete message", waiting), waiting
    return ParseError("no message", len(stream)), len(stream)


class MessageAssembler:
    """Sans-I/O: demodulated octets in, caller-ID messages out.

    ``feed(octets)`` returns the messages completed; ``carrier_lost()`` ends the
    burst and returns a ParseError when octets were left that made no message.
    """

    MAX_BUFFER = 1024

    def __init__(self):
        self._buf = bytearray()
        self.errors = 0

    def feed(self, octets: bytes) -> list[CallerId]:
        self._buf += octets
        out = []
        while True:
            got, at = find_message(self._buf)
            if isinstance(got, CallerId):
                out.append(got)
                del self._buf[:at]
                continue
            del self._buf[:at]
            if len(self._buf) > self.MAX_BUFFER:
                del self._buf[:len(self._buf) - self.MAX_BUFFER]
            return out

    def carrier_lost(self) -> ParseError | None:
        left = bytes(self._buf)
        self._buf.clear()
        if left:
            self.errors += 1
            return ParseError(f"burst ended with {len(left)} octets that made no message")
        return None


# --------------------------------------------------------------------------
# Physical layer framing

class Standard(enum.Enum):
    ETSI = "etsi"           # EN 300 659-1, V.23 by default
    BELLCORE = "bellcore"   # GR-30, Bell 202


# each octet as it goes on the line: start bit 0, 8 data bits LSB first, stop bit 1
_CHARACTER_BITS = tuple(bytes([0, *((octet >> b) & 1 for b in range(8)), 1])
                        for octet in range(256))


@dataclass(frozen=True)
class FskBurst:
    """The bits of one on-hook data burst (EN 300 659-1 5.3, GR-30 5.1)."""
    message: bytes
    seizure_bits: int = 300         # EN 300 659-1: 300 alternating bits; GR-30: 30 x 0x55
    mark_bits: int = 180            # EN 300 659-1: 180 +- 25; GR-30: 150 ms = 180 bits
    trailing_mark_bits: int = 4     # a few bits of mark so the last stop bit is whole

    def bits(self) -> bytes:
        out = bytearray(b"\x00\x01" * (self.seizure_bits // 2 + 1))[:self.seizure_bits]
        out += b"\x01" * self.mark_bits
        for octet in self.message:
            out += _CHARACTER_BITS[octet]
        out += b"\x01" * self.trailing_mark_bits
        return bytes(out)

    @property
    def nbits(self) -> int:
        return self.seizure_bits + self.mark_bits + 10 * len(self.message) + self.trailing_mark_bits

    @property
    def duration_ms(self) -> float:
        return self.nbits * 1000.0 / 1200.0


def fsk_burst(message: bytes, standard: Standard = Standard.ETSI, *, seizure: bool = True,
              mark_bits: int | None = None) -> FskBurst:
    """Seizure, mark and message for the standard. ETSI allows 180 +- 25 mark bits, and
    no seizure signal for data sent off hook or after some alerting signals."""
    if mark_bits is None:
        mark_bits = 180
    if standard is Standard.ETSI and not 155 <= mark_bits <= 205 and seizure:
        raise ValueError(f"EN 300 659-1: mark signal 180 +- 25 bits, not {mark_bits}")
    return FskBurst(bytes(message), seizure_bits=300 if seizure else 0, mark_bits=mark_bits)


# --------------------------------------------------------------------------
# Timing relative to ringing

@dataclass(frozen=True)
class Step:
    """One thing the FXS side does at ``at_ms`` from the start of the plan."""
    at_ms: int
    action: str             # 'polarity', 'ring', 'dtas', 'data'
    duration_ms: int = 0


# EN 300 659-1 5.3.1 (data associated with ringing) and 5.3.2 (prior to ringing):
#   ring:  data begins >= 500 ms after the first ring ends, ends >= 200 ms before the next
#   dtas:  line reversal, >= 100 ms, DT-AS (2130 + 2750 Hz, 100 ms, 5.3.2.1),
#          data 45..500 ms after it, first ring >= 200 ms after the data
#   rpas:  RP-AS ring burst 200..300 ms, data 500..800 ms after it, first ring >= 200 ms after
# GR-30 3: first ring (2 s), data >= 500 ms after it, complete >= 200 ms before the second ring.
_ALERTING = ("ring", "dtas", "rpas", "bellcore")


def alerting_plan(data_ms: float, alerting: str = "ring", *, ring_on_ms: int = 1000,
                  ring_off_ms: int = 4000, polarity_reversal: bool = True,
                  rings: int = 2) -> list[Step]:
    """The order and times of rings, alerting signals and the data burst.

    ``data_ms`` is how long the data takes (``FskBurst.duration_ms`` or a DTMF plan's
    length). Rings are ``ring_on_ms`` on and ``ring_off_ms`` off; ``rings`` counts the
    ones after the data. Raises ValueError when the data does not fit the ring gap.
    """
    if alerting not in _ALERTING:
        raise ValueError(f"alerting {alerting!r}: one of {', '.join(_ALERTING)}")
    data = int(-(-data_ms // 1))
    steps: list[Step] = []
    if alerting in ("ring", "bellcore"):
        if alerting == "bellcore":
            ring_on_ms = 2000 if ring_on_ms == 1000 else ring_on_ms
        start = ring_on_ms + 500
        if 500 + data + 200 > ring_off_ms:
            raise ValueError(f"{data} ms of data do not fit a {ring_off_ms} ms ring gap "
                             "(500 ms before, 200 ms after)")
        steps.append(Step(0, "ring", ring_on_ms))
        steps.append(Step(start, "data", data))
        t = ring_on_ms + ring_off_ms
    else:
        t = 0
        if alerting == "dtas":
            if polarity_reversal:
                steps.append(Step(0, "polarity"))
                t = 100
            steps.append(Step(t, "dtas", 100))
            t += 100 + 100          # data 45..500 ms after the DT-AS: 100 ms
        else:
            steps.append(Step(0, "ring", 250))
            t = 250 + 650           # data 500..800 ms after the RP-AS
        steps.append(Step(t, "data", data))
        t += data + 500             # first ring >= 200 ms after the data
    for _ in range(rings):
        steps.append(Step(t, "ring", ring_on_ms))
        t += ring_on_ms + ring_off_ms
    return steps


# --------------------------------------------------------------------------
# DTMF caller ID

@dataclass(frozen=True)
class DtmfTone:
    digit: str
    at_ms: int
    duration_ms: int


_DTMF_ABSENCE = {UNAVAILABLE: "00", PRIVATE: "10"}
_DTMF_DIGITS = frozenset("0123456789*#")


def dtmf_string(cid: CallerId, start: str = "A", end: str = "C") -> str:
    """``A1234C`` (or ``D...C``); ``B00C`` / ``B10C`` when the number is unavailable / private."""
    if start not in ("A", "D"):
        raise ValueError(f"DTMF caller ID start code {start!r}: 'A' or 'D'")
    if end not in ("C", "#"):
        raise ValueError(f"DTMF caller ID end code {end!r}: 'C' or '#'")
    if cid.number is not None:
        if not cid.number or len(cid.number) > MAX_NUMBER or not set(cid.number) <= set("0123456789"):
            raise ValueError(f"DTMF caller ID number {cid.number!r}: 1..{MAX_NUMBER} digits")
        return start + cid.number + end
    reason = cid.number_absence or UNAVAILABLE
    if reason not in _DTMF_ABSENCE:
        raise ValueError(f"number absence {reason!r}: 'O' or 'P'")
    return "B" + _DTMF_ABSENCE[reason] + end


def dtmf_plan(cid: CallerId, *, start: str = "A", end: str = "C", tone_ms: int = 70,
              gap_ms: int = 70) -> list[DtmfTone]:
    """Digits with their times for the board's DTMF generator (Q.24: tones >= 40 ms,
    pauses >= 40 ms; caller ID practice 50..80 ms each)."""
    if not 40 <= tone_ms <= 200 or not 40 <= gap_ms <= 200:
        raise ValueError("DTMF caller ID tone and gap: 40..200 ms")
    digits = dtmf_string(cid, start, end)
    return [DtmfTone(d, i * (tone_ms + gap_ms), tone_ms) for i, d in enumerate(digits)]


def parse_dtmf(digits: str) -> Union[CallerId, ParseError]:
    """What a DTMF detector collected: ``A``/``D`` number ``C``/``#``, or ``B``xx``C``."""
    if not isinstance(digits, str):
        return ParseError("not a digit string")
    s = digits.upper()
    if not s:
        return ParseError("no digits")
    if s[0] in "AD" and len(s) > 1 and s[1] == "B":
        s = s[1:]
    if s[0] == "B":
        code = s[1:3]
        if len(s) < 4 or s[3] not in "C#":
            return ParseError("absence code without end code", min(len(s), 3))
        for reason, c in _DTMF_ABSENCE.items():
            if code == c:
                return CallerId(number_absence=reason)
        return ParseError(f"unknown absence code {code!r}", 1)
    if s[0] not in "AD":
        return ParseError(f"start code {s[0]!r}: 'A' or 'D'", 0)
    for i, c in enumerate(s[1:], 1):
        if c in "C#":
            number = s[1:i]
            if not number:
                return ParseError("empty number", i)
            return CallerId(number=number)
        if c not in _DTMF_DIGITS:
            return ParseError(f"unexpected digit {c!r}", i)
    return ParseError("no end code", len(s))


# --------------------------------------------------------------------------
# The FSK modem (C, csrc/dsp/fsk.c)

class Mode(enum.IntEnum):
    BELL202 = 0     # FSK_BELL202
    V23 = 1         # FSK_V23

    @classmethod
    def of(cls, mode) -> "Mode":
        if isinstance(mode, str):
            try:
                return cls[mode.upper().replace(" ", "")]
            except KeyError:
                raise ValueError(f"FSK mode {mode!r}: 'bell202' or 'v23'") from None
        return cls(mode)


def _hal():
    from drivers.hal import ffi, lib, check
    return ffi, lib, check


class FskTx:
    """One FSK transmitter: queue bursts, take samples (16-bit linear, 8000 Hz)."""

    def __init__(self, mode=Mode.V23, level_dbm0: int = -13):
        ffi, lib, _ = _hal()
        self.mode = Mode.of(mode)
        self._ffi, self._lib = ffi, lib
        s = lib.fsk_tx_init(ffi.NULL, int(self.mode), int(level_dbm0))
        if s == ffi.NULL:
            raise ValueError(f"FSK transmitter: level {level_dbm0} dBm0 outside "
                             f"{lib.FSK_TX_LEVEL_MIN}..{lib.FSK_TX_LEVEL_MAX}")
        self._s = ffi.gc(s, lib.fsk_tx_free)

    @property
    def handle(self):
        return self._s

    def put_burst(self, burst: FskBurst) -> None:
        _, lib, check = _hal()
        if burst.nbits > lib.FSK_TX_QUEUE_BITS - self.queued:
            check(-5, "fsk tx burst")
        if burst.seizure_bits:
            check(lib.fsk_tx_put_seizure(self._s, burst.seizure_bits), "fsk tx seizure")
        check(lib.fsk_tx_put_mark(self._s, burst.mark_bits), "fsk tx mark")
        self.put_bytes(burst.message)
        check(lib.fsk_tx_put_mark(self._s, burst.trailing_mark_bits), "fsk tx mark")

    def put_bytes(self, data: bytes) -> None:
        _, _, check = _hal()
        data = bytes(data)
        check(self._lib.fsk_tx_put_bytes(self._s, data, len(data)), "fsk tx bytes")

    def put_bits(self, bits: bytes) -> None:
        _, _, check = _hal()
        bits = bytes(bits)
        check(self._lib.fsk_tx_put_bits(self._s, bits, len(bits)), "fsk tx bits")

    @property
    def queued(self) -> int:
        return self._lib.fsk_tx_queued(self._s)

    def generate(self, max_samples: int) -> array:
        """Up to ``max_samples`` samples; fewer once the queue is empty."""
        out = array("h", bytes(2 * max_samples))
        n = self._lib.fsk_tx(self._s, self._ffi.from_buffer("int16_t[]", out), max_samples)
        del out[n:]
        return out

    def drain(self) -> array:
        out = array("h")
        while True:
            chunk = self.generate(1600)
            if not chunk:
                return out
            out.extend(chunk)


class FskRx:
    """One FSK receiver: samples in, octets out; ``carrier`` tells the line state."""

    def __init__(self, mode=Mode.V23):
        ffi, lib, _ = _hal()
        self.mode = Mode.of(mode)
        self._ffi, self._lib = ffi, lib
        self._s = ffi.gc(lib.fsk_rx_init(ffi.NULL, int(self.mode)), lib.fsk_rx_free)
        self._buf = bytearray(lib.FSK_RX_QUEUE)

    @property
    def handle(self):
        return self._s

    def feed(self, samples) -> bytes:
        """Process 16-bit samples (array('h') or anything with the buffer protocol)."""
        if isinstance(samples, (bytes, bytearray, memoryview)):
            raw, samples = bytes(samples), array("h")
            samples.frombytes(raw)          # 16-bit little-endian samples
        elif not isinstance(samples, array) or samples.typecode != "h":
            samples = array("h", samples)
        _, _, check = _hal()
        n = len(samples)
        check(self._lib.fsk_rx(self._s, self._ffi.from_buffer("int16_t[]", samples), n), "fsk rx")
        got = self._lib.fsk_rx_get(self._s, self._ffi.from_buffer("uint8_t[]", self._buf),
                                   len(self._buf))
        return bytes(self._buf[:got])

    @property
    def carrier(self) -> bool:
        return bool(self._lib.fsk_rx_carrier(self._s))

    def counters(self) -> dict:
        c = self._ffi.new("fsk_rx_counters_t *")
        self._lib.fsk_rx_counters(self._s, c)
        return {k: getattr(c, k) for k in ("characters", "framing_errors", "start_errors",
                                            "carrier_drops", "overruns", "carrier_ons")}


def generate(cid: CallerId, mode=Mode.V23, standard: Standard = Standard.ETSI, *,
             level_dbm0: int = -13, mdmf: bool = True) -> array:
    """The audio of one caller-ID burst: seizure, mark, message (SDMF or MDMF)."""
    message = build_mdmf(cid) if mdmf else build_sdmf(cid)
    tx = FskTx(mode, level_dbm0)
    tx.put_burst(fsk_burst(message, standard))
    return tx.drain()


def decode(samples, mode=Mode.V23) -> Union[CallerId, ParseError]:
    """The first caller-ID message in the audio, or why there is none."""
    rx = FskRx(mode)
    asm = MessageAssembler()
    step = 160
    samples = array("h", samples)
    for i in range(0, len(samples), step):
        msgs = asm.feed(rx.feed(samples[i:i + step]))
        if msgs:
            return msgs[0]
    return ParseError("no caller-ID message in the audio")
