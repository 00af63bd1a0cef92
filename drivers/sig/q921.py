"""LAPD, the ISDN D-channel data link layer (ITU-T Q.921), as a sans-I/O state machine.

One :class:`Lapd` is one data link connection: SAPI 0 (call control), TEI 0 (point to point,
as on a primary rate interface where no TEI management runs), in the NETWORK or the USER
role.  Frames go in and come out as bytes *without* flags and FCS: the board's HDLC
(TS16 on an E1 span) adds and checks those.

The shape is that of h11/aioquic: :meth:`Lapd.receive` takes one whole frame and ``now``,
:meth:`Lapd.establish`, :meth:`Lapd.release`, :meth:`Lapd.send` and
:meth:`Lapd.send_unitdata` are the layer 3 requests (DL-ESTABLISH, DL-RELEASE, DL-DATA,
DL-UNIT DATA), :meth:`Lapd.next_event` yields the indications and confirms,
:meth:`Lapd.frames_to_send` drains the frames produced, and :meth:`Lapd.get_timer` /
:meth:`Lapd.handle_timer` run T200 and T203 on the caller's clock.

The procedures follow Q.921 clause 5 and the SDL of its Annex B, states 4 to 8:

- 5.5.1 establishment of multiple frame operation: SABME (P=1) / UA (F=1), refusal by DM,
  N200 retries of SABME every T200, SABME/SABME collision (5.5.1.3: each side answers UA
  and both end established);
- 5.5.3 release: DISC / UA, DISC/DISC collision (5.5.3.2), DM;
- 5.6 information transfer: V(S), V(A), V(R) modulo 128 (extended control field),
  window k, acknowledgement by RR or piggy-backed on an I frame's N(R), peer and own
  receiver busy (RNR), REJ recovery with at most one REJ outstanding (the reject
  exception condition, 5.6.4), T200 expiry and the timer recovery state with an
  enquiry (RR/RNR command, P=1) answered with F=1, up to N200 times (5.6.7), T203 idle
  supervision (5.6.8);
- 5.7 re-establishment: on an N(R) error, on DM F=0, on FRMR, on N200 expiry in timer
  recovery, and on a SABME received while established (the peer re-established);
- 5.8 exception conditions: frames with an undefined control field, a not permitted
  I field, a wrong length or an I field longer than N201 are reported with MDL-ERROR
  and the link is re-established in the multiple frame states (Q.921 does not send
  FRMR; a received FRMR is reported and answered by re-establishment).

Errors are reported as :class:`MdlError` with the codes of Q.921 Appendix II
(table II.1), see :data:`MDL_ERRORS`.

Deviations and simplifications (documented here, not hidden):

- Timer recovery always uses the enquiry (RR/RNR command with P=1); it never
  retransmits the last I frame with P=1 (5.6.7 allows either).
- An acknowledgement is sent at once (RR response, or the next I frame's N(R)), not
  delayed.
- :class:`Established` is reported on every re-establishment of a link that was up
  (``reestablished=True``), also when V(S) = V(A); when V(S) differs from V(A) the I
  queue is discarded as the SDL says (the frames are counted in ``discarded_i``).
- In the TEI-assigned state a command with P=1 (other than SABME/DISC) is answered by
  DM F=1, so that a peer enquiring in timer recovery re-establishes at once.
- A DL-DATA-REQUEST while released starts establishment when ``auto_establish`` is set
  (the message waits in the I queue); while awaiting release it is discarded.
- Own receiver busy is a local condition set by :meth:`Lapd.set_receiver_busy`, and
  layer 1 loss is told by :meth:`Lapd.layer1_down` (PH-DEACTIVATE-INDICATION); both are
  additions to the DL primitives.
"""
from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

__all__ = [
    "Role", "LinkState", "Established", "Released", "DataIndication", "UnitDataIndication",
    "MdlError", "Frame", "LapdFormatError", "Lapd", "decode_frame", "encode_frame",
    "TeiManagement", "decode_tei_management", "MDL_ERRORS", "MODULUS", "SAPI_CALL_CONTROL",
    "SAPI_TEI_MANAGEMENT", "TEI_GROUP", "KINDS",
]

MODULUS = 128                 # Q.921 3.5.2: extended (modulo 128) operation
SAPI_CALL_CONTROL = 0         # Q.921 3.3.3 table 2
SAPI_TEI_MANAGEMENT = 63      # Q.921 3.3.3 table 2, 5.3
TEI_GROUP = 127               # Q.921 3.3.4.2: group (broadcast) TEI

# Q.921 Appendix II, table II.1: MDL-ERROR indication codes.
MDL_ERRORS = {
    "A": "supervisory (F=1) received unsolicited",
    "B": "DM (F=1) received unsolicited",
    "C": "UA (F=1) received unsolicited",
    "D": "UA (F=0) received unsolicited",
    "E": "DM (F=0) received: peer initiated re-establishment",
    "F": "SABME received: peer initiated re-establishment",
    "G": "SABME not answered after N200 retransmissions",
    "H": "DISC not answered after N200 retransmissions",
    "I": "status enquiry not answered after N200 retransmissions",
    "J": "N(R) sequence error",
    "K": "FRMR received",
    "L": "frame with an undefined control field received",
    "M": "frame with an information field not permitted received",
    "N": "frame with an incorrect length received",
    "O": "I field longer than N201 received",
}


class Role(enum.Enum):
    """Which side of the user-network interface this data link entity is on."""

    NETWORK = "network"
    USER = "user"


class LinkState(enum.Enum):
    """Q.921 Annex B SDL states of a point-to-point data link (4 to 8)."""

    TEI_ASSIGNED = 4                  # released
    AWAITING_ESTABLISHMENT = 5
    AWAITING_RELEASE = 6
    MULTIPLE_FRAME_ESTABLISHED = 7
    TIMER_RECOVERY = 8


# ---- events ------------------------------------------------------------------


@dataclass(frozen=True)
class Established:
    """DL-ESTABLISH indication or confirm.  ``reestablished`` is True when a link that was
    up was established again (by us or by the peer, Q.921 5.7); I frames may have been
    lost, so Q.931 checks its calls (Q.931 5.8.8)."""

    reestablished: bool = False


@dataclass(frozen=True)
class Released:
    """DL-RELEASE indication or confirm, with why: "request", "peer DISC", "DM",
    "N200 retries"."""

    reason: str


@dataclass(frozen=True)
class DataIndication:
    """DL-DATA indication: one I frame's information field, in sequence (a Q.931 message)."""

    data: bytes


@dataclass(frozen=True)
class UnitDataIndication:
    """DL-UNIT DATA indication: a UI frame's information field."""

    data: bytes


@dataclass(frozen=True)
class MdlError:
    """MDL-ERROR indication, code per Q.921 Appendix II table II.1 ('A'..'O')."""

    code: str
    text: str


# ---- frames ------------------------------------------------------------------


class LapdFormatError(ValueError):
    """A frame that cannot be decoded.  ``code`` is the MDL-ERROR code for the frame
    errors of Q.921 5.8.5 ('L' undefined control field, 'M' I field not permitted,
    'N' wrong length), None for invalid frames that are discarded silently (2.9)."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Frame:
    """One LAPD frame (Q.921 clause 2 and 3).  ``cr`` is the C/R bit (0 or 1); ``ns`` is
    set for I frames, ``nr`` for I and supervisory frames; ``pf`` is the P/F bit."""

    sapi: int
    cr: int
    tei: int
    kind: str
    ns: int | None = None
    nr: int | None = None
    pf: bool = False
    info: bytes = b""


# Q.921 3.6 table 5 (extended control field): supervisory first octets and the
# unnumbered commands/responses with the P/F bit (0x10) masked out.
_S_KINDS = {0x01: "RR", 0x05: "RNR", 0x09: "REJ"}
_S_CODES = {v: k for k, v in _S_KINDS.items()}
_U_KINDS = {0x6F: "SABME", 0x0F: "DM", 0x03: "UI", 0x43: "DISC", 0x63: "UA", 0x87: "FRMR",
            0xAF: "XID"}
_U_CODES = {v: k for k, v in _U_KINDS.items()}
_U_WITH_INFO = {"UI", "FRMR", "XID"}
KINDS = ("I",) + tuple(_S_CODES) + tuple(_U_CODES)
# Q.921 3.6 table 5: which frames are commands (C), responses (R) or both.
_COMMAND_ONLY = {"I", "SABME", "DISC", "UI"}
_RESPONSE_ONLY = {"UA", "DM", "FRMR"}


def decode_frame(frame: bytes) -> Frame:
    """Decode one LAPD frame (address, control, information; no FCS).

    Raises :class:`LapdFormatError` for invalid frames (Q.921 2.9: too short, address
    field extension bits wrong) and for the frame errors of 5.8.5 (with ``code``).
    """
    frame = bytes(frame)
    if len(frame) < 3:
        raise LapdFormatError(f"frame of {len(frame)} octets is too short")
    a1, a2, c1 = frame[0], frame[1], frame[2]
    if a1 & 1 or not a2 & 1:  # Q.921 3.3.1: EA=0 in octet 2, EA=1 in octet 3
        raise LapdFormatError("address field extension bits are not 0,1")
    sapi, cr, tei = a1 >> 2, (a1 >> 1) & 1, a2 >> 1
    if not c1 & 1:  # I format
        if len(frame) < 4:
            raise LapdFormatError("I frame without its second control octet")
        c2 = frame[3]
        return Frame(sapi, cr, tei, "I", c1 >> 1, c2 >> 1, bool(c2 & 1), frame[4:])
    if c1 & 3 == 1:  # S format
        if len(frame) < 4:
            raise LapdFormatError("supervisory frame without its second control octet")
        kind = _S_KINDS.get(c1)
        if kind is None:
            raise LapdFormatError(f"undefined supervisory control field 0x{c1:02x}", "L")
        if len(frame) != 4:
            raise LapdFormatError(f"{kind} frame of {len(frame)} octets", "N")
        c2 = frame[3]
        return Frame(sapi, cr, tei, kind, None, c2 >> 1, bool(c2 & 1))
    kind = _U_KINDS.get(c1 & 0xEF)
    if kind is None:
        raise LapdFormatError(f"undefined unnumbered control field 0x{c1:02x}", "L")
    info = frame[3:]
    if info and kind not in _U_WITH_INFO:
        raise LapdFormatError(f"{kind} frame with an information field", "M")
    return Frame(sapi, cr, tei, kind, None, None, bool(c1 & 0x10), info)


def encode_frame(f: Frame) -> bytes:
    """Encode a :class:`Frame` (Q.921 2.1, 3.3, 3.4); raises ValueError on bad fields."""
    if not 0 <= f.sapi < 64 or not 0 <= f.tei < 128 or f.cr not in (0, 1):
        raise ValueError(f"bad address SAPI {f.sapi} C/R {f.cr} TEI {f.tei}")
    head = bytes(((f.sapi << 2) | (f.cr << 1), (f.tei << 1) | 1))
    pf = 1 if f.pf else 0
    if f.kind == "I":
        if f.ns is None or f.nr is None or not 0 <= f.ns < 128 or not 0 <= f.nr < 128:
            raise ValueError(f"bad N(S) {f.ns} / N(R) {f.nr}")
        return head + bytes((f.ns << 1, (f.nr << 1) | pf)) + bytes(f.info)
    if f.kind in _S_CODES:
        if f.nr is None or not 0 <= f.nr < 128 or f.ns is not None or f.info:
            raise ValueError(f"bad {f.kind}: N(R) {f.nr}, N(S) {f.ns}, info {len(f.info)}")
        return head + bytes((_S_CODES[f.kind], (f.nr << 1) | pf))
    if f.kind in _U_CODES:
        if f.ns is not None or f.nr is not None:
            raise ValueError(f"{f.kind} carries no sequence numbers")
        if f.info and f.kind not in _U_WITH_INFO:
            raise ValueError(f"{f.kind} carries no information field")
        return head + bytes((_U_CODES[f.kind] | (pf << 4),)) + bytes(f.info)
    raise ValueError(f"unknown frame kind {f.kind!r}")


@dataclass(frozen=True)
class TeiManagement:
    """A TEI management message (Q.921 5.3, table 8): UI frames on SAPI 63, TEI 127."""

    message: str
    ri: int
    ai: int


_TEI_MESSAGES = {1: "identity request", 2: "identity assigned", 3: "identity denied",
                 4: "identity check request", 5: "identity check response",
                 6: "identity remove", 7: "identity verify"}


def decode_tei_management(info: bytes) -> TeiManagement:
    """Decode the information field of a TEI management UI frame (Q.921 5.3.1 figure 5):
    management entity identifier 0x0F, reference number Ri (2 octets), message type,
    action indicator Ai (7 bits, then E)."""
    if len(info) < 5 or info[0] != 0x0F:
        raise LapdFormatError("not a TEI management message")
    name = _TEI_MESSAGES.get(info[3])
    if name is None:
        raise LapdFormatError(f"unknown TEI management message type {info[3]}")
    return TeiManagement(name, (info[1] << 8) | info[2], info[4] >> 1)


# ---- the data link entity ----------------------------------------------------

_S4, _S5, _S6, _S7, _S8 = (LinkState.TEI_ASSIGNED, LinkState.AWAITING_ESTABLISHMENT,
                           LinkState.AWAITING_RELEASE, LinkState.MULTIPLE_FRAME_ESTABLISHED,
                           LinkState.TIMER_RECOVERY)

_COUNTERS = (
    "frames_in", "frames_out", "i_frames_in", "i_frames_out", "ui_frames_in", "ui_frames_out",
    "retransmissions", "rej_sent", "rej_received", "rnr_sent", "rnr_received", "frmr",
    "xid", "enquiries", "t200_expiries", "t203_expiries", "establishments", "releases",
    "mdl_errors", "discarded_i", "dropped", "dropped_malformed", "dropped_address",
    "dropped_sapi", "dropped_tei_management", "dropped_cr", "dropped_too_long",
    "dropped_state",
)


class Lapd:
    """One point-to-point LAPD data link entity (Q.921 clause 5), sans I/O.

    ``counters`` (a dict of ints): frames_in/out, i_frames_in/out, ui_frames_in/out,
    retransmissions, rej_sent/received, rnr_sent/received, frmr (FRMR received), xid,
    enquiries (RR/RNR P=1 sent), t200_expiries, t203_expiries, establishments, releases,
    mdl_errors, discarded_i (I queue entries discarded on re-establishment or release),
    dropped (every frame not acted on) and its reasons dropped_malformed,
    dropped_address, dropped_sapi, dropped_tei_management, dropped_cr, dropped_too_long,
    dropped_state (a frame the current state ignores).
    """

    def __init__(self, role: Role, *, sapi: int = SAPI_CALL_CONTROL, tei: int = 0,
                 t200: float = 1.0, t203: float = 10.0, n200: int = 3, k: int = 7,
                 n201: int = 260, auto_establish: bool = True, defer_ack: bool = False):
        if not isinstance(role, Role):
            raise TypeError("role must be a Role")
        if not 0 <= sapi < 64 or not 0 <= tei < 127:
            raise ValueError(f"bad SAPI {sapi} / TEI {tei}")
        if not 1 <= k < MODULUS or n200 < 0 or n201 < 1 or t200 <= 0 or t203 <= 0:
            raise ValueError("bad system parameters (Q.921 5.9)")
        self.role = role
        self.sapi, self.tei = sapi, tei
        self.t200, self.t203, self.n200, self.k, self.n201 = t200, t203, n200, k, n201
        self.auto_establish = auto_establish
        # defer_ack: an I frame received is acknowledged when the frames are next taken
        # (frames_to_send), so that a layer 3 reply sent before then carries the
        # acknowledgement in its N(R) instead of an RR of its own going out first
        # (5.6.2.1: RR only when there is no I frame to send)
        self.defer_ack = defer_ack
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._state = _S4
        self._vs = self._va = self._vr = 0
        self._rc = 0
        self._peer_busy = self._own_busy = self._reject = self._ack_pending = False
        self._l3_initiated = False
        self._reestablishing = False
        self._sent: dict[int, bytes] = {}   # N(S) -> info of I frames sent, not acknowledged
        self._queue: deque[bytes] = deque()  # I frames not yet (re)transmitted
        self._t200_at: float | None = None
        self._t203_at: float | None = None
        self._events: deque = deque()
        self._out: list[bytes] = []

    # ---- read-only state -----------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def vs(self) -> int:
        """V(S), the send state variable."""
        return self._vs

    @property
    def va(self) -> int:
        """V(A), the acknowledge state variable."""
        return self._va

    @property
    def vr(self) -> int:
        """V(R), the receive state variable."""
        return self._vr

    @property
    def peer_busy(self) -> bool:
        return self._peer_busy

    @property
    def outstanding(self) -> int:
        """I frames sent and not yet acknowledged: V(S) - V(A) modulo 128."""
        return (self._vs - self._va) % MODULUS

    @property
    def queued(self) -> int:
        """I frames waiting in the I queue (not yet sent, or to be retransmitted)."""
        return len(self._queue)

    # ---- layer 3 requests ----------------------------------------------------

    def establish(self, now: float) -> None:
        """DL-ESTABLISH-REQUEST (Q.921 5.5.1.1): send SABME P=1 and start T200."""
        if self._state is _S5:
            self._l3_initiated = True
            return
        if self._state in (_S7, _S8):
            self._discard_i_queue()
            self._reestablishing = True
        else:
            self._reestablishing = False
        self._establish_data_link(now)
        self._l3_initiated = True
        self._state = _S5
        self._flush(now)

    def release(self, now: float) -> None:
        """DL-RELEASE-REQUEST (Q.921 5.5.3.1): send DISC P=1 and start T200; released at
        once (DL-RELEASE-CONFIRM) when the link is not established."""
        if self._state is _S4:
            self._events.append(Released("request"))
            return
        if self._state is _S6:
            return
        self._discard_i_queue()
        self._rc = 0
        self._send_u("DISC", command=True, pf=True)
        self._stop_t203()
        self._start_t200(now)
        self._state = _S6

    def send(self, now: float, data: bytes) -> None:
        """DL-DATA-REQUEST: queue ``data`` as an I frame (Q.921 5.6.1).  While released
        with ``auto_establish`` set, multiple frame operation is established first."""
        data = bytes(data)
        if len(data) > self.n201:
            raise ValueError(f"{len(data)} octets exceed N201 = {self.n201}")
        if self._state is _S6 or (self._state is _S4 and not self.auto_establish):
            self.counters["discarded_i"] += 1
            return
        self._queue.append(data)
        if self._state is _S4:
            self._reestablishing = False
            self._establish_data_link(now)
            self._l3_initiated = True
            self._state = _S5
        self._flush(now)

    def send_unitdata(self, now: float, data: bytes) -> None:
        """DL-UNIT DATA-REQUEST: send ``data`` in a UI command frame (Q.921 5.2.1)."""
        data = bytes(data)
        if len(data) > self.n201:
            raise ValueError(f"{len(data)} octets exceed N201 = {self.n201}")
        self.counters["ui_frames_out"] += 1
        self._send_u("UI", command=True, pf=False, info=data)

    def set_receiver_busy(self, now: float, busy: bool) -> None:
        """Set or clear the own receiver busy condition (Q.921 5.6.5, 5.6.6): RNR or RR
        response is sent; while busy, received I frames are discarded."""
        if busy == self._own_busy:
            return
        self._own_busy = busy
        if self._state in (_S7, _S8):
            self._send_s("RNR" if busy else "RR", command=False, pf=False)
            self._ack_pending = False
        self._flush(now)

    def layer1_down(self, now: float) -> None:
        """PH-DEACTIVATE-INDICATION (Q.921 SDL, all states): layer 1 is lost (LOS, LOF,
        AIS on the span).  A link that was not released is released at once, reason
        "layer 1 down", its I queue discarded and its timers stopped, instead of waiting
        for T203 and N200 retries to find out.  A later :meth:`establish` tries again."""
        if self._state is _S4:
            return
        self._discard_i_queue()
        self._enter_released("layer 1 down")

    # ---- outputs -------------------------------------------------------------

    def next_event(self) -> Established | Released | DataIndication | UnitDataIndication \
            | MdlError | None:
        """The next indication or confirm for layer 3 / management, or None."""
        return self._events.popleft() if self._events else None

    def frames_to_send(self) -> list[bytes]:
        """Drain the frames produced so far, in order (with ``defer_ack``, the RR for I
        frames received that no I frame has acknowledged since)."""
        if self.defer_ack:
            self._send_ack()
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        """Absolute time at which the earliest running timer (T200 or T203) expires."""
        timers = [t for t in (self._t200_at, self._t203_at) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        """Run the expiry of every timer due at ``now``."""
        if self._t200_at is not None and now >= self._t200_at:
            self._t200_at = None
            self.counters["t200_expiries"] += 1
            self._t200_expiry(now)
        if self._t203_at is not None and now >= self._t203_at:
            self._t203_at = None
            self.counters["t203_expiries"] += 1
            self._t203_expiry(now)
        self._flush(now)

    # ---- receiving -----------------------------------------------------------

    def receive(self, now: float, frame: bytes) -> None:
        """Take one whole frame (no FCS).  Never raises: invalid frames are counted and
        dropped (Q.921 2.9), frame errors are reported per 5.8.5."""
        self.counters["frames_in"] += 1
        if not isinstance(frame, (bytes, bytearray, memoryview)):
            self._drop("dropped_malformed")
            return
        frame = bytes(frame)
        if len(frame) < 3 or frame[0] & 1 or not frame[1] & 1:
            self._drop("dropped_malformed")
            return
        sapi, tei = frame[0] >> 2, frame[1] >> 1
        if sapi == SAPI_TEI_MANAGEMENT:
            # Q.921 5.3: no TEI management on a point-to-point PRI link; decode and count.
            try:
                f = decode_frame(frame)
                msg = decode_tei_management(f.info) if f.kind == "UI" else None
            except LapdFormatError:
                msg = None
            key = "tei_" + msg.message.replace(" ", "_") if msg else "tei_other"
            self.counters[key] = self.counters.get(key, 0) + 1
            self._drop("dropped_tei_management")
            return
        if sapi != self.sapi:
            self._drop("dropped_sapi")
            return
        if tei != self.tei and tei != TEI_GROUP:
            self._drop("dropped_address")
            return
        try:
            f = decode_frame(frame)
        except LapdFormatError as exc:
            self._drop("dropped_malformed")
            if exc.code is not None:
                self._frame_error(now, exc.code)
                self._flush(now)
            return
        if tei == TEI_GROUP and f.kind != "UI":
            self._drop("dropped_address")
            return
        command = f.cr == (0 if self.role is Role.NETWORK else 1)  # Q.921 3.3.2 table 1
        if (command and f.kind in _RESPONSE_ONLY) or (not command and f.kind in _COMMAND_ONLY):
            self._drop("dropped_cr")
            return
        if f.kind == "I" and len(f.info) > self.n201:
            self._drop("dropped_too_long")
            self._frame_error(now, "O")
            self._flush(now)
            return
        handler = getattr(self, "_rx_" + f.kind)
        handler(now, f, command)
        self._flush(now)

    def _frame_error(self, now: float, code: str) -> None:
        """Q.921 5.8.5/5.8.6: report; in the multiple frame states re-establish."""
        self._mdl(code)
        if self._state in (_S7, _S8):
            self._reestablish(now)

    def _rx_UI(self, now: float, f: Frame, command: bool) -> None:
        if len(f.info) > self.n201:
            self._drop("dropped_too_long")
            return
        self.counters["ui_frames_in"] += 1
        self._events.append(UnitDataIndication(f.info))

    def _rx_XID(self, now: float, f: Frame, command: bool) -> None:
        self.counters["xid"] += 1  # Q.921 5.4: parameter negotiation not supported; ignored

    def _rx_SABME(self, now: float, f: Frame, command: bool) -> None:
        st = self._state
        if st is _S4:  # 5.5.1.2: able to establish, answer UA
            self._send_u("UA", command=False, pf=f.pf)
            self._clear_exceptions()
            self._vs = self._va = self._vr = 0
            self._sent.clear()
            self._enter_established(now, reestablished=False)
        elif st is _S5:  # 5.5.1.3 collision of SABMEs: answer UA, stay awaiting UA
            self._send_u("UA", command=False, pf=f.pf)
        elif st is _S6:  # 5.5.3.2: SABME while awaiting release -> DM
            self._send_u("DM", command=False, pf=f.pf)
        else:  # 5.7.1: peer re-establishes
            self._send_u("UA", command=False, pf=f.pf)
            self._clear_exceptions()
            self._mdl("F")
            if self._vs != self._va:
                self._discard_i_queue()
            self._vs = self._va = self._vr = 0
            self._sent.clear()
            self._enter_established(now, reestablished=True)

    def _rx_DISC(self, now: float, f: Frame, command: bool) -> None:
        st = self._state
        if st in (_S4, _S5):
            self._send_u("DM", command=False, pf=f.pf)
        elif st is _S6:  # 5.5.3.2 collision of DISCs
            self._send_u("UA", command=False, pf=f.pf)
        else:
            self._discard_i_queue()
            self._send_u("UA", command=False, pf=f.pf)
            self._enter_released("peer DISC")

    def _rx_UA(self, now: float, f: Frame, command: bool) -> None:
        st = self._state
        if st is _S5 and f.pf:
            if self._vs != self._va:  # 5.7.1: I frames outstanding from before are lost
                self._discard_i_queue()
            self._vs = self._va = self._vr = 0
            self._sent.clear()
            self._enter_established(now, reestablished=self._reestablishing)
        elif st is _S6 and f.pf:
            self._enter_released("request")
        else:
            self._mdl("C" if f.pf else "D")

    def _rx_DM(self, now: float, f: Frame, command: bool) -> None:
        st = self._state
        if st is _S4:
            if not f.pf and self.auto_establish:  # peer asks us to establish
                self._reestablishing = False
                self._establish_data_link(now)
                self._l3_initiated = False
                self._state = _S5
            else:
                self._drop("dropped_state")
        elif st is _S5:
            if f.pf:
                self._discard_i_queue()
                self._enter_released("DM")
            else:
                self._drop("dropped_state")
        elif st is _S6:
            if f.pf:
                self._enter_released("request")
            else:
                self._drop("dropped_state")
        elif st is _S7 and f.pf:
            self._mdl("B")
        else:  # DM F=0 in 7 (E); any DM in timer recovery (B/E): re-establish
            self._mdl("B" if f.pf else "E")
            self._reestablish(now)

    def _rx_FRMR(self, now: float, f: Frame, command: bool) -> None:
        self.counters["frmr"] += 1
        if self._state in (_S7, _S8):
            self._mdl("K")
            self._reestablish(now)
        else:
            self._drop("dropped_state")

    def _rx_I(self, now: float, f: Frame, command: bool) -> None:
        st = self._state
        if st not in (_S7, _S8):
            if st is _S4 and f.pf:
                self._send_u("DM", command=False, pf=True)
            self._drop("dropped_state")
            return
        self.counters["i_frames_in"] += 1
        if self._own_busy:  # 5.6.6: discard the information field
            if f.pf:
                self._send_s("RNR", command=False, pf=True)
                self._ack_pending = False
        elif f.ns == self._vr:  # 5.6.2.2: in sequence
            self._vr = (self._vr + 1) % MODULUS
            self._reject = False
            self._events.append(DataIndication(f.info))
            if f.pf:
                self._send_s("RR", command=False, pf=True)
                self._ack_pending = False
            else:
                self._ack_pending = True
        elif self._reject:  # 5.6.4: one REJ outstanding at a time
            if f.pf:
                self._send_s("RR", command=False, pf=True)
                self._ack_pending = False
        else:  # 5.6.4: N(S) sequence error
            self._reject = True
            self._send_s("REJ", command=False, pf=f.pf)
            self._ack_pending = False
        self._check_nr(now, f.nr, "I")

    def _rx_RR(self, now: float, f: Frame, command: bool) -> None:
        self._rx_supervisory(now, f, command)

    def _rx_RNR(self, now: float, f: Frame, command: bool) -> None:
        self._rx_supervisory(now, f, command)

    def _rx_REJ(self, now: float, f: Frame, command: bool) -> None:
        self._rx_supervisory(now, f, command)

    def _rx_supervisory(self, now: float, f: Frame, command: bool) -> None:
        """RR, RNR and REJ in states 7 and 8 (Q.921 5.6.3 to 5.6.5, 5.6.7)."""
        st = self._state
        if f.kind == "RNR":
            self.counters["rnr_received"] += 1
        elif f.kind == "REJ":
            self.counters["rej_received"] += 1
        if st not in (_S7, _S8):
            if st is _S4 and command and f.pf:
                self._send_u("DM", command=False, pf=True)
            self._drop("dropped_state")
            return
        self._peer_busy = f.kind == "RNR"
        if command:
            if f.pf:  # enquiry: answer with our receive status, F=1
                self._enquiry_response()
        elif f.pf and st is _S8:
            # 5.6.7: the answer to our enquiry ends timer recovery
            if not self._nr_valid(f.nr):
                self._nr_error(now)
                return
            self._ack_to(f.nr)
            self._invoke_retransmission(f.nr)
            if self._peer_busy:
                self._stop_t203()
                self._start_t200(now)
            else:
                self._t200_at = None
                self._start_t203(now)
            self._state = _S7
            return
        elif f.pf:
            self._mdl("A")
        self._check_nr(now, f.nr, f.kind)

    def _check_nr(self, now: float, nr: int, kind: str) -> None:
        """Acknowledgement by a received N(R) (Q.921 5.6.3.2 and the SDL of states 7/8)."""
        if not self._nr_valid(nr):
            self._nr_error(now)
            return
        if self._state is _S8:
            self._ack_to(nr)
            return
        if kind == "RNR":  # 5.6.5: T200 supervises the peer's busy condition
            self._ack_to(nr)
            self._stop_t203()
            self._start_t200(now)
        elif kind == "REJ":  # 5.6.4: retransmit from N(R)
            self._ack_to(nr)
            self._t200_at = None
            self._start_t203(now)
            self._invoke_retransmission(nr)
        elif self._peer_busy:
            self._ack_to(nr)
        elif nr == self._vs:
            self._ack_to(nr)
            self._t200_at = None
            self._start_t203(now)
        elif nr != self._va:
            self._ack_to(nr)
            self._start_t200(now)

    # ---- timers --------------------------------------------------------------

    def _t200_expiry(self, now: float) -> None:
        st = self._state
        if st is _S5:
            if self._rc >= self.n200:
                self._discard_i_queue()
                self._mdl("G")
                self._enter_released("N200 retries")
            else:
                self._rc += 1
                self.counters["retransmissions"] += 1
                self._send_u("SABME", command=True, pf=True)
                self._start_t200(now)
        elif st is _S6:
            if self._rc >= self.n200:
                self._mdl("H")
                self._enter_released("N200 retries")
            else:
                self._rc += 1
                self.counters["retransmissions"] += 1
                self._send_u("DISC", command=True, pf=True)
                self._start_t200(now)
        elif st is _S7:  # 5.6.7: enter timer recovery with an enquiry
            self._rc = 0
            self._transmit_enquiry(now)
            self._rc += 1
            self._state = _S8
        elif st is _S8:
            if self._rc >= self.n200:
                self._mdl("I")
                self._reestablish(now)
            else:
                self._transmit_enquiry(now)
                self._rc += 1

    def _t203_expiry(self, now: float) -> None:
        if self._state is _S7:  # 5.6.8: idle link, enquire
            self._rc = 0
            self._transmit_enquiry(now)
            self._rc += 1
            self._state = _S8

    def _start_t200(self, now: float) -> None:
        self._t200_at = now + self.t200

    def _start_t203(self, now: float) -> None:
        self._t203_at = now + self.t203

    def _stop_t203(self) -> None:
        self._t203_at = None

    # ---- procedures of the SDL -----------------------------------------------

    def _establish_data_link(self, now: float) -> None:
        """Q.921 SDL procedure "establish data link"."""
        self._clear_exceptions()
        self._rc = 0
        self.counters["establishments"] += 1
        self._send_u("SABME", command=True, pf=True)
        self._start_t200(now)
        self._stop_t203()

    def _reestablish(self, now: float) -> None:
        """Q.921 5.7: re-establish from states 7/8 (not initiated by layer 3)."""
        self._reestablishing = True
        self._establish_data_link(now)
        self._l3_initiated = False
        self._state = _S5

    def _nr_error(self, now: float) -> None:
        """Q.921 5.7.1 N(R) error recovery."""
        self._mdl("J")
        self._reestablish(now)

    def _enter_established(self, now: float, *, reestablished: bool) -> None:
        self._t200_at = None
        self._start_t203(now)
        self._rc = 0
        self._state = _S7
        self._events.append(Established(reestablished))

    def _enter_released(self, reason: str) -> None:
        self._t200_at = None
        self._t203_at = None
        self._state = _S4
        self._sent.clear()
        self._vs = self._va = self._vr = 0
        self.counters["releases"] += 1
        self._events.append(Released(reason))

    def _clear_exceptions(self) -> None:
        self._peer_busy = self._own_busy = self._reject = self._ack_pending = False

    def _discard_i_queue(self) -> None:
        self._discard_unacknowledged()
        self.counters["discarded_i"] += len(self._queue)
        self._queue.clear()

    def _discard_unacknowledged(self) -> None:
        self.counters["discarded_i"] += len(self._sent)
        self._sent.clear()
        self._va = self._vs

    def _nr_valid(self, nr: int) -> bool:
        """V(A) <= N(R) <= V(S), modulo 128."""
        return (nr - self._va) % MODULUS <= (self._vs - self._va) % MODULUS

    def _ack_to(self, nr: int) -> None:
        while self._va != nr:
            self._sent.pop(self._va, None)
            self._va = (self._va + 1) % MODULUS

    def _invoke_retransmission(self, nr: int) -> None:
        """Q.921 SDL "invoke retransmission": V(S) back to N(R); the frames go again."""
        while self._vs != nr:
            self._vs = (self._vs - 1) % MODULUS
            data = self._sent.pop(self._vs, None)
            if data is not None:
                self._queue.appendleft(data)
                self.counters["retransmissions"] += 1

    def _transmit_enquiry(self, now: float) -> None:
        self.counters["enquiries"] += 1
        self._send_s("RNR" if self._own_busy else "RR", command=True, pf=True)
        self._ack_pending = False
        self._stop_t203()
        self._start_t200(now)

    def _enquiry_response(self) -> None:
        self._send_s("RNR" if self._own_busy else "RR", command=False, pf=True)
        self._ack_pending = False

    def _flush(self, now: float) -> None:
        """Send what the I queue allows (5.6.1), then any acknowledgement still pending."""
        if self._state is _S7 and not self._peer_busy:
            while self._queue and self._vs != (self._va + self.k) % MODULUS:
                data = self._queue.popleft()
                self._sent[self._vs] = data
                self._out_frame(Frame(self.sapi, self._cr(True), self.tei, "I", self._vs,
                                      self._vr, False, data))
                self.counters["i_frames_out"] += 1
                self._vs = (self._vs + 1) % MODULUS
                self._ack_pending = False
                if self._t200_at is None:
                    self._stop_t203()
                    self._start_t200(now)
        if not self.defer_ack:
            self._send_ack()

    def _send_ack(self) -> None:
        if self._ack_pending and self._state in (_S7, _S8):
            self._send_s("RNR" if self._own_busy else "RR", command=False, pf=False)
            self._ack_pending = False

    # ---- output helpers ------------------------------------------------------

    def _cr(self, command: bool) -> int:
        """Q.921 3.3.2 table 1: network commands and user responses have C/R = 1."""
        return int(command == (self.role is Role.NETWORK))

    def _send_s(self, kind: str, *, command: bool, pf: bool) -> None:
        if kind == "REJ":
            self.counters["rej_sent"] += 1
        elif kind == "RNR":
            self.counters["rnr_sent"] += 1
        self._out_frame(Frame(self.sapi, self._cr(command), self.tei, kind, None, self._vr, pf))

    def _send_u(self, kind: str, *, command: bool, pf: bool, info: bytes = b"") -> None:
        self._out_frame(Frame(self.sapi, self._cr(command), self.tei, kind, None, None, pf,
                              info))

    def _out_frame(self, f: Frame) -> None:
        self.counters["frames_out"] += 1
        self._out.append(encode_frame(f))

    def _mdl(self, code: str) -> None:
        self.counters["mdl_errors"] += 1
        self._events.append(MdlError(code, MDL_ERRORS[code]))

    def _drop(self, reason: str) -> None:
        self.counters["dropped"] += 1
        self.counters[reason] += 1
