"""Q.931 message and information element codec (ITU-T Q.931 clause 4, ETSI EN 300 403-1 DSS1).

Sans-I/O and stateless: :func:`encode` turns a :class:`Message` into the octets of one Q.931
message (the information field of a Q.921 I-frame), :func:`decode` turns octets back into a
:class:`Message` plus the list of :class:`Problem` that Q.931 5.8 says the receiver must answer.
:func:`decode` never raises: whatever the peer sends becomes either a message, a message with
problems, or ``message=None`` with an ``ignore`` problem (5.8.1, 5.8.2, 5.8.3.1).

What belongs to the call state machine (``drivers/sig/q931.py``) and not here: 5.8.3.2 call
reference procedural errors other than global call reference misuse, 5.8.4 message sequence
(cause 98/101), conditionally mandatory IEs (channel identification in the first answer to
SETUP, cause in the *first* clearing message) and 5.8.7.3 unexpected recognised IEs.

Simplifications (see ``Problem`` for the answers):
- channel identification: channel numbers of B-channels only; a slot map or H0/H1 channel type
  is treated as invalid contents (cause 100); the interface identifier octets are skipped;
- bearer capability: octets 3, 4 and 5 (layer 1 protocol) are modelled; octets 4.1, 5a..5d,
  6 and 7 are accepted and dropped on decode;
- information elements we do not model (facility, user-user, LLC, HLC, subaddresses, date/time,
  ...) are "not implemented" and decode as :class:`UnknownIE` with cause 99 (5.8.7.1);
- out-of-sequence variable length IEs (5.8.5.1) are accepted, as the clause allows;
- repetitions beyond what is permitted are dropped silently (5.8.5.2).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import ClassVar, Iterable

__all__ = [
    "PROTOCOL_DISCRIMINATOR", "MessageType", "Action", "CAUSE_TEXT", "LOCATION_TEXT",
    "BearerCapability", "ChannelIdentification", "CalledPartyNumber", "CallingPartyNumber",
    "RedirectingNumber", "Cause", "ProgressIndicator", "Display", "KeypadFacility", "CallState",
    "RestartIndicator", "NotificationIndicator", "SendingComplete", "UnknownIE", "IE_CLASSES",
    "Message", "Problem", "Decoded", "MANDATORY", "MANDATORY_BY_DIRECTION", "encode", "decode",
]

#: Q.931 4.2: "Q.931/I.451 user-network call control messages".
PROTOCOL_DISCRIMINATOR = 0x08

#: Call reference lengths this receiver supports (5.8.3.1: longer ones are ignored).
MAX_CALL_REF_LEN = 2


class MessageType(enum.IntEnum):
    """Q.931 4.4, table 4-2: the message types of basic circuit-switched call control."""

    ALERTING = 0x01
    CALL_PROCEEDING = 0x02
    PROGRESS = 0x03
    SETUP = 0x05
    CONNECT = 0x07
    SETUP_ACKNOWLEDGE = 0x0D
    CONNECT_ACKNOWLEDGE = 0x0F
    DISCONNECT = 0x45
    RESTART = 0x46
    RELEASE = 0x4D
    RESTART_ACKNOWLEDGE = 0x4E
    RELEASE_COMPLETE = 0x5A
    NOTIFY = 0x6E
    STATUS_ENQUIRY = 0x75
    INFORMATION = 0x7B
    STATUS = 0x7D


class Action(enum.StrEnum):
    """What the receiver does about a :class:`Problem` (Q.931 5.8). Compares equal to its string.

    - ``ignore``: drop the message silently, no state change (5.8.1, 5.8.2, 5.8.3.1).
    - ``drop_status``: take no action on the message, no state change, answer STATUS with the
      cause (5.8.3.2 g global call reference misuse: cause 81; 5.8.4 unknown message type:
      cause 97; 5.8.6.1/5.8.6.2 mandatory IE missing or invalid in a message other than SETUP,
      DISCONNECT, RELEASE, RELEASE COMPLETE: cause 96/100).
    - ``status``: act on the message and its valid, recognised IEs, then answer STATUS with the
      cause (5.8.7.1 cause 99, 5.8.7.2 cause 100).
    - ``release_complete``: answer RELEASE COMPLETE carrying the cause. For SETUP (mandatory IE
      missing or invalid, 5.8.6.1/5.8.6.2) no call is created. For RELEASE the message is acted
      on as a RELEASE (with cause 31 when its own cause is missing or invalid) and the RELEASE
      COMPLETE that answers it carries this cause.
    - ``release``: DISCONNECT only: act on it (cause 31 when its own cause is missing or
      invalid) and put this cause in the RELEASE that answers it.
    - ``none``: RELEASE COMPLETE only: act on it (cause 31 when missing/invalid), answer nothing.
    """

    IGNORE = "ignore"
    DROP_STATUS = "drop_status"
    STATUS = "status"
    RELEASE_COMPLETE = "release_complete"
    RELEASE = "release"
    NONE = "none"


# Most severe first: the first problem of a sorted list governs the answer.
_SEVERITY = {Action.IGNORE: 0, Action.RELEASE_COMPLETE: 1, Action.RELEASE: 2,
             Action.DROP_STATUS: 3, Action.STATUS: 4, Action.NONE: 5}

#: ITU-T Q.850 table 1: cause values and their names.
CAUSE_TEXT: dict[int, str] = {
    1: "unallocated (unassigned) number",
    2: "no route to specified transit network",
    3: "no route to destination",
    4: "send special information tone",
    5: "misdialled trunk prefix",
    6: "channel unacceptable",
    7: "call awarded and being delivered in an established channel",
    8: "preemption",
    9: "preemption - circuit reserved for reuse",
    16: "normal call clearing",
    17: "user busy",
    18: "no user responding",
    19: "no answer from user (user alerted)",
    20: "subscriber absent",
    21: "call rejected",
    22: "number changed",
    23: "redirection to new destination",
    25: "exchange routing error",
    26: "non-selected user clearing",
    27: "destination out of order",
    28: "invalid number format (address incomplete)",
    29: "facility rejected",
    30: "response to STATUS ENQUIRY",
    31: "normal, unspecified",
    34: "no circuit/channel available",
    38: "network out of order",
    39: "permanent frame mode connection out of service",
    40: "permanent frame mode connection operational",
    41: "temporary failure",
    42: "switching equipment congestion",
    43: "access information discarded",
    44: "requested circuit/channel not available",
    46: "precedence call blocked",
    47: "resource unavailable, unspecified",
    49: "quality of service not available",
    50: "requested facility not subscribed",
    53: "outgoing calls barred within CUG",
    55: "incoming calls barred within CUG",
    57: "bearer capability not authorized",
    58: "bearer capability not presently available",
    62: "inconsistency in designated outgoing access information and subscriber class",
    63: "service or option not available, unspecified",
    65: "bearer capability not implemented",
    66: "channel type not implemented",
    69: "requested facility not implemented",
    70: "only restricted digital information bearer capability is available",
    79: "service or option not implemented, unspecified",
    81: "invalid call reference value",
    82: "identified channel does not exist",
    83: "a suspended call exists, but this call identity does not",
    84: "call identity in use",
    85: "no call suspended",
    86: "call having the requested call identity has been cleared",
    87: "user not member of CUG",
    88: "incompatible destination",
    90: "non-existent CUG",
    91: "invalid transit network selection",
    95: "invalid message, unspecified",
    96: "mandatory information element is missing",
    97: "message type non-existent or not implemented",
    98: "message not compatible with call state or message type non-existent or not implemented",
    99: "information element/parameter non-existent or not implemented",
    100: "invalid information element contents",
    101: "message not compatible with call state",
    102: "recovery on timer expiry",
    103: "parameter non-existent or not implemented, passed on",
    110: "message with unrecognized parameter, discarded",
    111: "protocol error, unspecified",
    127: "interworking, unspecified",
}

#: Q.850 2.2.5: location field of the cause (and progress indicator, Q.931 4.5.23).
LOCATION_TEXT: dict[int, str] = {
    0: "user",
    1: "private network serving the local user",
    2: "public network serving the local user",
    3: "transit network",
    4: "public network serving the remote user",
    5: "private network serving the remote user",
    7: "international network",
    10: "network beyond interworking point",
}


class _ContentError(Exception):
    """Internal: an IE's contents do not follow its octet diagram (5.8.6.2 / 5.8.7.2)."""


def _ia5(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be IA5 (7-bit ASCII): {text!r}") from None


def _from_ia5(data: bytes) -> str:
    if any(b & 0x80 for b in data):
        raise _ContentError("IA5 character with bit 8 set")
    return data.decode("ascii")


def _check(value: int, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be in {low}..{high}, got {value!r}")
    return value


def _groups(data: bytes, pos: int) -> tuple[bytes, int]:
    """Octets from ``pos`` up to and including the first with bit 8 (ext) set (Q.931 4.5.1)."""
    end = pos
    while end < len(data):
        if data[end] & 0x80:
            return data[pos:end + 1], end + 1
        end += 1
    raise _ContentError("octet group not terminated by an extension bit")


class _IE:
    """Common behaviour of information elements (codeset 0, Q.931 4.5)."""

    IDENTIFIER: ClassVar[int]
    SINGLE_OCTET: ClassVar[bool] = False
    MAX_REPEAT: ClassVar[int] = 1

    def _contents(self) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _parse(cls, data: bytes):  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class BearerCapability(_IE):
    """Q.931 4.5.5 bearer capability (identifier 0x04). Defaults: speech, circuit, 64 kbit/s, A-law.

    transfer_capability 0x00 speech, 0x08 unrestricted digital, 0x09 restricted digital,
    0x10 3.1 kHz audio, 0x11 7 kHz audio, 0x18 video; transfer_mode 0 circuit, 2 packet;
    transfer_rate 0x10 64 kbit/s (0x00 for packet mode); layer1 (octet 5, layer ident 01)
    2 G.711 mu-law, 3 G.711 A-law, 1 V.110, or None to omit octet 5.
    """

    IDENTIFIER: ClassVar[int] = 0x04
    coding: int = 0
    transfer_capability: int = 0x00
    transfer_mode: int = 0
    transfer_rate: int = 0x10
    layer1: int | None = 3

    def _contents(self) -> bytes:
        out = bytes([0x80 | _check(self.coding, 0, 3, "coding standard") << 5
                     | _check(self.transfer_capability, 0, 31, "transfer capability"),
                     0x80 | _check(self.transfer_mode, 0, 3, "transfer mode") << 5
                     | _check(self.transfer_rate, 0, 31, "transfer rate")])
        if self.layer1 is not None:
            out += bytes([0x80 | 0x20 | _check(self.layer1, 0, 31, "layer 1 protocol")])
        return out

    @classmethod
    def _parse(cls, data: bytes) -> BearerCapability:
        o3, pos = _groups(data, 0)          # octet 3 (3a would be a national extension)
        o4, pos = _groups(data, pos)        # octet 4 (+4.1 rate multiplier)
        layer1 = None
        while pos < len(data):              # octets 5, 6, 7 by their layer identification
            grp, pos = _groups(data, pos)
            ident = (grp[0] >> 5) & 0x03
            if ident == 0:
                raise _ContentError("layer identification 00")
            if ident == 1 and layer1 is None:
                layer1 = grp[0] & 0x1F
        return cls(transfer_capability=o3[0] & 0x1F, transfer_mode=(o4[0] >> 5) & 0x03,
                   transfer_rate=o4[0] & 0x1F, layer1=layer1, coding=(o3[0] >> 5) & 0x03)


@dataclass(frozen=True)
class ChannelIdentification(_IE):
    """Q.931 4.5.13 channel identification (identifier 0x18), figure 4-18.

    For a primary rate interface the channels are B-channel numbers (= E1 timeslot numbers);
    ``any_channel`` is information channel selection 11, ``no_channel`` 00, ``channels`` 01 with
    octets 3.2 (coding standard, number, B-channel units) and 3.3 (one octet per channel, bit 8
    set on the last). ``dchannel`` is the D-channel indicator. For ``interface_type='basic'``
    the selection field itself names B1 or B2 (``channels=(1,)`` or ``(2,)``).
    """

    IDENTIFIER: ClassVar[int] = 0x18
    MAX_REPEAT: ClassVar[int] = 2
    interface_type: str = "primary"
    exclusive: bool = True
    dchannel: bool = False
    channels: tuple[int, ...] = ()
    any_channel: bool = False
    no_channel: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.channels, tuple):
            object.__setattr__(self, "channels", tuple(self.channels))

    def _contents(self) -> bytes:
        if self.interface_type not in ("primary", "basic"):
            raise ValueError(f"interface_type must be 'primary' or 'basic', got {self.interface_type!r}")
        chosen = bool(self.channels) + self.any_channel + self.no_channel
        if chosen != 1:
            raise ValueError("exactly one of channels, any_channel, no_channel must be given")
        primary = self.interface_type == "primary"
        if self.any_channel:
            sel = 3
        elif self.no_channel:
            sel = 0
        elif primary:
            sel = 1
        else:
            if len(self.channels) != 1 or self.channels[0] not in (1, 2):
                raise ValueError("a basic interface names exactly one of B1, B2")
            sel = self.channels[0]
        out = bytearray([0x80 | (0x20 if primary else 0) | (0x08 if self.exclusive else 0)
                         | (0x04 if self.dchannel else 0) | sel])
        if primary and self.channels:
            out.append(0x80 | 0x03)        # coding standard CCITT, channel number, B-channel units
            for i, ch in enumerate(self.channels):
                _check(ch, 0, 127, "channel number")
                out.append(ch | (0x80 if i == len(self.channels) - 1 else 0))
        return bytes(out)

    @classmethod
    def _parse(cls, data: bytes) -> ChannelIdentification:
        if not data or not data[0] & 0x80:
            raise _ContentError("octet 3 missing or not final")
        o3 = data[0]
        primary = bool(o3 & 0x20)
        sel = o3 & 0x03
        pos = 1
        if o3 & 0x40:                       # interface identifier present: skip octets 3.1
            _, pos = _groups(data, pos)
        common = dict(interface_type="primary" if primary else "basic",
                      exclusive=bool(o3 & 0x08), dchannel=bool(o3 & 0x04))
        if sel == 0:
            return cls(**common, no_channel=True)
        if sel == 3:
            return cls(**common, any_channel=True)
        if not primary:
            return cls(**common, channels=(sel,))
        if sel == 2:
            raise _ContentError("information channel selection 10 is reserved on a primary interface")
        if pos >= len(data):
            raise _ContentError("octet 3.2 missing")
        o32 = data[pos]
        if not o32 & 0x80:
            raise _ContentError("octet 3.2 not final")
        if o32 & 0x10:
            raise _ContentError("slot map not supported")
        if o32 & 0x0F != 0x03:
            raise _ContentError("channel type other than B-channel units not supported")
        nums, _ = _groups(data, pos + 1)
        return cls(**common, channels=tuple(b & 0x7F for b in nums))


@dataclass(frozen=True)
class _Number(_IE):
    digits: str = ""
    type_of_number: int = 0
    numbering_plan: int = 1

    def _octet3(self, last: bool) -> int:
        return ((0x80 if last else 0) | _check(self.type_of_number, 0, 7, "type of number") << 4
                | _check(self.numbering_plan, 0, 15, "numbering plan"))


@dataclass(frozen=True)
class CalledPartyNumber(_Number):
    """Q.931 4.5.8 called party number (0x70): octet 3 type/plan, then IA5 digits.

    type_of_number 0 unknown, 1 international, 2 national, 3 network specific, 4 subscriber,
    6 abbreviated; numbering_plan 0 unknown, 1 ISDN/telephony E.164, 3 data X.121, 4 telex,
    8 national standard, 9 private.
    """

    IDENTIFIER: ClassVar[int] = 0x70

    def _contents(self) -> bytes:
        return bytes([self._octet3(True)]) + _ia5(self.digits, "called party number")

    @classmethod
    def _parse(cls, data: bytes) -> CalledPartyNumber:
        if not data or not data[0] & 0x80:
            raise _ContentError("octet 3 missing or extended")
        return cls(digits=_from_ia5(data[1:]), type_of_number=(data[0] >> 4) & 7,
                   numbering_plan=data[0] & 0x0F)


@dataclass(frozen=True)
class CallingPartyNumber(_Number):
    """Q.931 4.5.10 calling party number (0x6C), the ANI: octet 3, octet 3a, IA5 digits.

    presentation 0 allowed, 1 restricted, 2 not available; screening 0 user-provided not
    screened, 1 user-provided verified and passed, 2 user-provided verified and failed,
    3 network provided. Octet 3a is always sent; when absent on receipt 0/0 is assumed.
    """

    IDENTIFIER: ClassVar[int] = 0x6C
    presentation: int = 0
    screening: int = 0

    def _octet3a(self, last: bool = True) -> int:
        return ((0x80 if last else 0) | _check(self.presentation, 0, 3, "presentation") << 5
                | _check(self.screening, 0, 3, "screening"))

    def _contents(self) -> bytes:
        return bytes([self._octet3(False), self._octet3a()]) + _ia5(self.digits, "calling party number")

    @classmethod
    def _parse(cls, data: bytes) -> CallingPartyNumber:
        head, pos = _groups(data, 0)
        if len(head) > 2:
            raise _ContentError("octet 3 extended beyond 3a")
        pres = scr = 0
        if len(head) == 2:
            pres, scr = (head[1] >> 5) & 3, head[1] & 3
        return cls(digits=_from_ia5(data[pos:]), type_of_number=(head[0] >> 4) & 7,
                   numbering_plan=head[0] & 0x0F, presentation=pres, screening=scr)


@dataclass(frozen=True)
class RedirectingNumber(CallingPartyNumber):
    """Redirecting number (0x74, Q.931 table 4-3; coded per Q.952 / ETSI EN 300 207-1):
    octets 3, 3a, 3b, then IA5 digits.

    reason (octet 3b) 0 unknown, 1 call forwarding busy, 2 call forwarding no reply,
    4 call deflection, 9 called DTE out of order, 10 forwarding by the called DTE,
    15 call forwarding unconditional. Octets 3a and 3b are always sent.
    """

    IDENTIFIER: ClassVar[int] = 0x74
    reason: int = 0

    def _contents(self) -> bytes:
        return (bytes([self._octet3(False), self._octet3a(False),
                       0x80 | _check(self.reason, 0, 15, "redirection reason")])
                + _ia5(self.digits, "redirecting number"))

    @classmethod
    def _parse(cls, data: bytes) -> RedirectingNumber:
        head, pos = _groups(data, 0)
        if len(head) > 3:
            raise _ContentError("octet 3 extended beyond 3b")
        pres = scr = reason = 0
        if len(head) >= 2:
            pres, scr = (head[1] >> 5) & 3, head[1] & 3
        if len(head) == 3:
            reason = head[2] & 0x0F
        return cls(digits=_from_ia5(data[pos:]), type_of_number=(head[0] >> 4) & 7,
                   numbering_plan=head[0] & 0x0F, presentation=pres, screening=scr, reason=reason)


@dataclass(frozen=True)
class Cause(_IE):
    """Q.931 4.5.12 / Q.850 cause (0x08): octet 3 coding standard + location, optional octet 3a
    recommendation, octet 4 cause value, diagnostics. See :data:`CAUSE_TEXT`, :data:`LOCATION_TEXT`.
    """

    IDENTIFIER: ClassVar[int] = 0x08
    MAX_REPEAT: ClassVar[int] = 2
    value: int = 31
    location: int = 0
    coding_standard: int = 0
    diagnostics: bytes = b""
    recommendation: int | None = None

    @property
    def text(self) -> str:
        return CAUSE_TEXT.get(self.value, f"cause {self.value}")

    def _contents(self) -> bytes:
        o3 = _check(self.coding_standard, 0, 3, "coding standard") << 5 | _check(self.location, 0, 15, "location")
        if self.recommendation is None:
            head = bytes([0x80 | o3])
        else:
            head = bytes([o3, 0x80 | _check(self.recommendation, 0, 127, "recommendation")])
        return head + bytes([0x80 | _check(self.value, 0, 127, "cause value")]) + bytes(self.diagnostics)

    @classmethod
    def _parse(cls, data: bytes) -> Cause:
        head, pos = _groups(data, 0)
        if len(head) > 2:
            raise _ContentError("octet 3 extended beyond 3a")
        if pos >= len(data):
            raise _ContentError("cause value missing")
        o4 = data[pos]
        if not o4 & 0x80:
            raise _ContentError("cause value octet not final")
        return cls(value=o4 & 0x7F, location=head[0] & 0x0F, coding_standard=(head[0] >> 5) & 3,
                   diagnostics=bytes(data[pos + 1:]),
                   recommendation=head[1] & 0x7F if len(head) == 2 else None)


@dataclass(frozen=True)
class ProgressIndicator(_IE):
    """Q.931 4.5.23 progress indicator (0x1E). description 1 call is not end-to-end ISDN,
    2 destination address is non-ISDN, 3 origination address is non-ISDN, 4 call has returned
    to the ISDN, 5 interworking has occurred, 8 in-band information now available.
    """

    IDENTIFIER: ClassVar[int] = 0x1E
    MAX_REPEAT: ClassVar[int] = 2
    description: int = 8
    location: int = 0
    coding_standard: int = 0

    def _contents(self) -> bytes:
        return bytes([0x80 | _check(self.coding_standard, 0, 3, "coding standard") << 5
                      | _check(self.location, 0, 15, "location"),
                      0x80 | _check(self.description, 0, 127, "progress description")])

    @classmethod
    def _parse(cls, data: bytes) -> ProgressIndicator:
        if len(data) < 2 or not data[0] & 0x80 or not data[1] & 0x80:
            raise _ContentError("octets 3 and 4 required, each final")
        return cls(description=data[1] & 0x7F, location=data[0] & 0x0F,
                   coding_standard=(data[0] >> 5) & 3)


@dataclass(frozen=True)
class _Text(_IE):
    text: str = ""

    def _contents(self) -> bytes:
        return _ia5(self.text, type(self).__name__)

    @classmethod
    def _parse(cls, data: bytes):
        return cls(_from_ia5(data))


@dataclass(frozen=True)
class Display(_Text):
    """Q.931 4.5.16 display (0x28): IA5 characters (at most 82 per ETSI, not enforced)."""

    IDENTIFIER: ClassVar[int] = 0x28


@dataclass(frozen=True)
class KeypadFacility(_Text):
    """Q.931 4.5.18 keypad facility (0x2C): IA5 characters typed at a keypad."""

    IDENTIFIER: ClassVar[int] = 0x2C


@dataclass(frozen=True)
class CallState(_IE):
    """Q.931 4.5.7 call state (0x14): coding standard and the Annex A state number
    (U0..U25 / N0..N25; global interface states REST 0 = 0, REST 1 = 0x3D, REST 2 = 0x3E)."""

    IDENTIFIER: ClassVar[int] = 0x14
    value: int = 0
    coding_standard: int = 0

    def _contents(self) -> bytes:
        return bytes([_check(self.coding_standard, 0, 3, "coding standard") << 6
                      | _check(self.value, 0, 63, "call state")])

    @classmethod
    def _parse(cls, data: bytes) -> CallState:
        if len(data) < 1:
            raise _ContentError("octet 3 missing")
        return cls(value=data[0] & 0x3F, coding_standard=data[0] >> 6)


@dataclass(frozen=True)
class RestartIndicator(_IE):
    """Q.931 4.5.25 restart indicator (0x79): class 0 indicated channels, 6 single interface,
    7 all interfaces (other values reserved: invalid contents)."""

    IDENTIFIER: ClassVar[int] = 0x79
    restart_class: int = 0

    def _contents(self) -> bytes:
        if self.restart_class not in (0, 6, 7):
            raise ValueError(f"restart class must be 0, 6 or 7, got {self.restart_class!r}")
        return bytes([0x80 | self.restart_class])

    @classmethod
    def _parse(cls, data: bytes) -> RestartIndicator:
        if len(data) < 1 or (data[0] & 0x07) not in (0, 6, 7):
            raise _ContentError("restart class missing or reserved")
        return cls(restart_class=data[0] & 0x07)


@dataclass(frozen=True)
class NotificationIndicator(_IE):
    """Q.931 4.5.22 notification indicator (0x27): 0 user suspended, 1 user resumed,
    2 bearer service change (Q.932 extended descriptions are decoded as their first octet)."""

    IDENTIFIER: ClassVar[int] = 0x27
    MAX_REPEAT: ClassVar[int] = 8
    description: int = 0

    def _contents(self) -> bytes:
        return bytes([0x80 | _check(self.description, 0, 127, "notification description")])

    @classmethod
    def _parse(cls, data: bytes) -> NotificationIndicator:
        if len(data) < 1:
            raise _ContentError("octet 3 missing")
        return cls(description=data[0] & 0x7F)


@dataclass(frozen=True)
class SendingComplete(_IE):
    """Q.931 4.5.27 sending complete: the single octet 0xA1 (en-bloc, no more digits)."""

    IDENTIFIER: ClassVar[int] = 0xA1
    SINGLE_OCTET: ClassVar[bool] = True

    def _contents(self) -> bytes:
        return b""

    @classmethod
    def _parse(cls, data: bytes) -> SendingComplete:
        return cls()


@dataclass(frozen=True)
class UnknownIE:
    """An information element this codec does not implement, or one of another codeset
    (Q.931 4.5.2 shifts), kept so the state machine can apply 5.8.7.1 or pass it on.

    ``identifier`` >= 0x80 is a single octet IE (``data`` empty).
    """

    identifier: int
    data: bytes = b""
    codeset: int = 0
    MAX_REPEAT: ClassVar[int] = 1 << 30


#: Codeset 0 identifiers this codec implements.
IE_CLASSES: dict[int, type] = {cls.IDENTIFIER: cls for cls in (
    BearerCapability, ChannelIdentification, CalledPartyNumber, CallingPartyNumber,
    RedirectingNumber, Cause, ProgressIndicator, Display, KeypadFacility, CallState,
    RestartIndicator, NotificationIndicator, SendingComplete)}

_M = MessageType

#: Q.931 clause 3.1 / ETSI EN 300 403-1 clause 3: IEs mandatory in both directions.
#: Conditionally mandatory IEs (depending on call state) are checked by the state machine.
MANDATORY: dict[MessageType, frozenset[type]] = {mt: frozenset() for mt in MessageType}
MANDATORY.update({
    _M.SETUP: frozenset({BearerCapability}),
    _M.DISCONNECT: frozenset({Cause}),
    _M.PROGRESS: frozenset({ProgressIndicator}),
    _M.NOTIFY: frozenset({NotificationIndicator}),
    _M.RESTART: frozenset({RestartIndicator}),
    _M.RESTART_ACKNOWLEDGE: frozenset({RestartIndicator}),
    _M.STATUS: frozenset({Cause, CallState}),
})

#: Extra mandatory IEs by direction ('n2u' network to user, 'u2n' user to network).
MANDATORY_BY_DIRECTION: dict[str, dict[MessageType, frozenset[type]]] = {
    "n2u": {_M.SETUP: frozenset({ChannelIdentification}),
            _M.SETUP_ACKNOWLEDGE: frozenset({ChannelIdentification})},
    "u2n": {},
}

#: Messages allowed on the global call reference (Q.931 5.8.3.2 g).
GLOBAL_MESSAGES = frozenset({_M.RESTART, _M.RESTART_ACKNOWLEDGE, _M.STATUS})


@dataclass(frozen=True)
class Message:
    """A Q.931 message (4.1): call reference (4.3) with its flag (0 = sent by the side that
    allocated the call reference, 1 = sent towards it), message type (4.4) and IEs in order."""

    type: MessageType | int
    call_ref: int
    call_ref_flag: int = 0
    ies: tuple = ()
    call_ref_len: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.ies, tuple):
            object.__setattr__(self, "ies", tuple(self.ies))

    def get(self, ie_class):
        """The first IE of ``ie_class`` or None."""
        for ie in self.ies:
            if type(ie) is ie_class:
                return ie
        return None

    def get_all(self, ie_class) -> list:
        return [ie for ie in self.ies if type(ie) is ie_class]

    @property
    def is_global(self) -> bool:
        """Global call reference (value 0, length >= 1), Q.931 4.3."""
        return self.call_ref == 0 and self.call_ref_len > 0

    def canonical(self) -> Message:
        """This message with its IEs in the order :func:`encode` sends them."""
        return dataclasses.replace(self, ies=tuple(_wire_order(self.ies)))


@dataclass(frozen=True)
class Problem:
    """An error of Q.931 5.8 found in a received message, with the cause to answer and what to
    do (:class:`Action`). ``ie`` is the identifier of the IE concerned (for the diagnostics)."""

    cause: int
    ie: int | None = None
    text: str = ""
    action: str = Action.STATUS
    clause: str = ""


@dataclass(frozen=True)
class Decoded:
    """Result of :func:`decode`. Problems are sorted, the one that governs the answer first."""

    message: Message | None
    problems: tuple[Problem, ...] = ()

    @property
    def action(self) -> str | None:
        """The governing action, or None when the message is clean."""
        return self.problems[0].action if self.problems else None

    def answer_cause(self, location: int = 0) -> Cause | None:
        """The Cause IE to answer with: the governing cause, its diagnostics listing the
        identifiers of every IE with that cause (5.8.6.1, 5.8.7.1, 5.8.7.2)."""
        if not self.problems or self.problems[0].action == Action.IGNORE:
            return None
        first = self.problems[0]
        if first.cause == 97 and self.message is not None:     # Q.850 table 1: diagnostic = type
            return Cause(value=97, location=location, diagnostics=bytes([int(self.message.type) & 0xFF]))
        ids = [p.ie for p in self.problems if p.cause == first.cause and p.ie is not None
               and p.ie < 0x80 and first.cause in (96, 99, 100)]
        return Cause(value=first.cause, location=location, diagnostics=bytes(dict.fromkeys(ids)))


def _wire_order(ies: Iterable) -> list:
    """Q.931 4.5.1: single octet IEs first (any position is allowed), then codeset 0 variable
    length IEs in ascending identifier order, then other codesets each after a locking shift."""
    ies = list(ies)

    def codeset(ie) -> int:
        return ie.codeset if isinstance(ie, UnknownIE) else 0

    def ident(ie) -> int:
        return ie.identifier if isinstance(ie, UnknownIE) else ie.IDENTIFIER

    return sorted(ies, key=lambda ie: (codeset(ie), 0 if ident(ie) & 0x80 else 1, ident(ie)))


def encode(msg: Message) -> bytes:
    """Octets of ``msg`` (Q.931 4.1): protocol discriminator, call reference, message type, IEs.
    Raises ValueError for a message we must not send (our error, not the peer's)."""
    crl = _check(msg.call_ref_len, 0, MAX_CALL_REF_LEN, "call reference length")
    out = bytearray([PROTOCOL_DISCRIMINATOR, crl])
    if crl:
        _check(msg.call_ref, 0, (1 << (8 * crl - 1)) - 1, "call reference")
        _check(msg.call_ref_flag, 0, 1, "call reference flag")
        out += ((msg.call_ref_flag << (8 * crl - 1)) | msg.call_ref).to_bytes(crl, "big")
    elif msg.call_ref:
        raise ValueError("the dummy call reference (length 0) has no value")
    out.append(_check(int(msg.type), 0, 0x7F, "message type"))
    current = 0
    for ie in _wire_order(msg.ies):
        if isinstance(ie, UnknownIE):
            cs = _check(ie.codeset, 0, 7, "codeset")
            ident = _check(ie.identifier, 0, 0xFF, "IE identifier")
            if ident & 0xF0 == 0x90:
                raise ValueError("shift (0x9X) is not an information element to send")
            if cs != current:
                out.append(0x90 | cs)                       # locking shift (4.5.3)
                current = cs
            if ident & 0x80:
                out.append(ident)
            else:
                if len(ie.data) > 255:
                    raise ValueError(f"IE 0x{ident:02X} longer than 255 octets")
                out += bytes([ident, len(ie.data)]) + bytes(ie.data)
            continue
        if ie.SINGLE_OCTET:
            out.append(ie.IDENTIFIER)
            continue
        body = ie._contents()
        if len(body) > 255:
            raise ValueError(f"{type(ie).__name__} longer than 255 octets")
        out += bytes([ie.IDENTIFIER, len(body)]) + body
    return bytes(out)


def _mandatory_action(mt) -> Action:
    """5.8.6.1 / 5.8.6.2: what a missing or invalid mandatory IE leads to."""
    return {_M.SETUP: Action.RELEASE_COMPLETE, _M.DISCONNECT: Action.RELEASE,
            _M.RELEASE: Action.RELEASE_COMPLETE,
            _M.RELEASE_COMPLETE: Action.NONE}.get(mt, Action.DROP_STATUS)


def _optional_action(mt) -> Action:
    """5.8.7.1 / 5.8.7.2: unrecognised or invalid non-mandatory IE (clearing messages a-c)."""
    return {_M.DISCONNECT: Action.RELEASE, _M.RELEASE: Action.RELEASE_COMPLETE,
            _M.RELEASE_COMPLETE: Action.NONE}.get(mt, Action.STATUS)


_MESSAGE_TYPES: dict[int, MessageType] = {int(mt): mt for mt in MessageType}


def _mandatory_of(mt: MessageType, direction: str | None) -> tuple[tuple[type, ...],
                                                                    frozenset[int]]:
    """The mandatory IE classes of ``mt`` sent in ``direction``, by identifier, and their
    identifiers."""
    mand = MANDATORY[mt] | MANDATORY_BY_DIRECTION.get(direction or "", {}).get(mt, frozenset())
    return (tuple(sorted(mand, key=lambda c: c.IDENTIFIER)),
            frozenset(c.IDENTIFIER for c in mand))


# worked out once: every message decoded looks its type and direction up here
_MANDATORY_SORTED = {(mt, d): _mandatory_of(mt, d)
                     for mt in MessageType for d in (None, *MANDATORY_BY_DIRECTION)}


def _mandatory(mt: MessageType, direction: str | None) -> tuple[tuple[type, ...], frozenset[int]]:
    hit = _MANDATORY_SORTED.get((mt, direction))
    return hit if hit is not None else _mandatory_of(mt, direction)


def _ignored(text: str, clause: str) -> Decoded:
    return Decoded(None, (Problem(95, None, text, Action.IGNORE, clause),))


def decode(data: bytes, direction: str | None = None) -> Decoded:
    """Decode one Q.931 message; never raises. ``direction`` ('n2u', 'u2n' or None) selects the
    extra mandatory IEs of :data:`MANDATORY_BY_DIRECTION` (the direction the message travelled)."""
    try:
        return _decode(bytes(data), direction)
    except Exception as exc:  # a bug of ours must not become the peer's crash; tests prove unreachable
        return _ignored(f"decoder error: {exc!r}", "5.8")


def _decode(data: bytes, direction: str | None) -> Decoded:
    if not data:
        return _ignored("empty message", "5.8.2")
    if data[0] != PROTOCOL_DISCRIMINATOR:
        return _ignored(f"protocol discriminator 0x{data[0]:02X}", "5.8.1")
    if len(data) < 2:
        return _ignored("message too short for a call reference", "5.8.2")
    if data[1] & 0xF0:
        return _ignored("call reference octet 1 bits 8-5 not 0000", "5.8.3.1")
    crl = data[1] & 0x0F
    if crl > MAX_CALL_REF_LEN:
        return _ignored(f"call reference length {crl} not supported", "5.8.3.1")
    if len(data) < 3 + crl:
        return _ignored("message too short for a message type", "5.8.2")
    flag = value = 0
    if crl:
        raw = int.from_bytes(data[2:2 + crl], "big")
        flag = raw >> (8 * crl - 1)
        value = raw & ((1 << (8 * crl - 1)) - 1)
    mt_octet = data[2 + crl]
    mt: MessageType | int = _MESSAGE_TYPES.get(mt_octet, mt_octet)
    ies, bad, unknown, cr_unknown = _parse_ies(data, 3 + crl)
    msg = Message(type=mt, call_ref=value, call_ref_flag=flag, ies=tuple(ies), call_ref_len=crl)

    if not isinstance(mt, MessageType):
        return Decoded(msg, (Problem(97, None, f"message type 0x{mt_octet:02X}", Action.DROP_STATUS, "5.8.4"),))
    if msg.is_global != (mt in (_M.RESTART, _M.RESTART_ACKNOWLEDGE)) and mt is not _M.STATUS:
        text = ("global call reference with " + mt.name if msg.is_global
                else mt.name + " without the global call reference")
        return Decoded(msg, (Problem(81, None, text, Action.DROP_STATUS, "5.8.3.2"),))

    ranked: list[tuple[tuple[int, int], Problem]] = []
    mand, mand_ids = _mandatory(mt, direction)
    present = {type(ie) for ie in ies}
    m_act, o_act = _mandatory_action(mt), _optional_action(mt)
    for cls in mand:
        if cls in present:
            continue
        if cls.IDENTIFIER in bad:
            p = Problem(100, cls.IDENTIFIER, f"mandatory {cls.__name__}: {bad[cls.IDENTIFIER]}", m_act, "5.8.6.2")
        else:
            p = Problem(96, cls.IDENTIFIER, f"mandatory {cls.__name__} missing", m_act, "5.8.6.1")
        ranked.append(((_SEVERITY[m_act], 0), p))
    for ident in cr_unknown:
        ranked.append(((_SEVERITY[m_act], 0), Problem(
            96, ident, f"unrecognised comprehension-required IE 0x{ident:02X}", m_act, "5.8.7.1")))
    for ident, why in bad.items():
        if ident not in mand_ids:
            ranked.append(((_SEVERITY[o_act], 1), Problem(
                100, ident, f"{IE_CLASSES[ident].__name__}: {why}", o_act, "5.8.7.2")))
    for ident in unknown:
        ranked.append(((_SEVERITY[o_act], 2), Problem(
            99, ident, f"unrecognised IE 0x{ident:02X}", o_act, "5.8.7.1")))
    ranked.sort(key=lambda r: r[0])
    return Decoded(msg, tuple(p for _, p in ranked))


def _parse_ies(data: bytes, pos: int):
    """Walk the IEs (4.5.1-4.5.4). Returns (valid IEs, {id: why invalid}, unrecognised ids,
    unrecognised comprehension-required ids); only codeset 0 IEs can be invalid/unrecognised."""
    ies: list = []
    bad: dict[int, str] = {}
    unknown: list[int] = []
    cr_unknown: list[int] = []
    counts: dict[type, int] = {}
    locked = 0
    once: int | None = None
    n = len(data)

    def add(ie) -> None:
        cls = type(ie)
        if counts.get(cls, 0) < cls.MAX_REPEAT:        # 5.8.5.2: further repetitions ignored
            counts[cls] = counts.get(cls, 0) + 1
            ies.append(ie)

    while pos < n:
        ident = data[pos]
        if ident & 0xF0 == 0x90:                       # shift, 4.5.3 / 4.5.4
            pos += 1
            cs = ident & 0x07
            if ident & 0x08:
                once = cs
            elif cs >= locked:                          # locking shift only to a higher codeset
                locked = cs
            continue
        codeset = once if once is not None else locked
        once = None
        if ident & 0x80:                               # single octet IE
            pos += 1
            if codeset == 0 and ident in IE_CLASSES:
                add(IE_CLASSES[ident]())
            else:
                add(UnknownIE(ident, b"", codeset))
                if codeset == 0 and ident not in unknown:
                    unknown.append(ident)
            continue
        if pos + 1 >= n:
            body, truncated = b"", True
            pos = n
        else:
            length = data[pos + 1]
            body = data[pos + 2:pos + 2 + length]
            truncated = len(body) < length
            pos += 2 + length
        if codeset != 0:
            if not truncated:
                add(UnknownIE(ident, body, codeset))
            continue
        cls = IE_CLASSES.get(ident)
        if cls is None:
            if not truncated:
                add(UnknownIE(ident, body, 0))
            target = cr_unknown if ident & 0xF0 == 0 else unknown
            if ident not in target:
                target.append(ident)
            continue
        if truncated:
            bad.setdefault(ident, "truncated")
            continue
        try:
            ie = cls._parse(body)
        except _ContentError as exc:
            if counts.get(cls, 0) == 0:
                bad.setdefault(ident, str(exc))
            continue
        add(ie)
    return ies, bad, unknown, cr_unknown
