"""Boards, spans, channels and analog ports, with one channel event vocabulary.

A :class:`Board` wraps one HAL board (a real card or the software card).
:meth:`Board.tick` makes the one C call per tick that moves every timeslot
of every span and every analog port, drains the events in bulk and turns
them into the small frozen dataclasses below, whatever card is underneath.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import ClassVar

from drivers.hal import HalError, check, ffi, lib

__all__ = [
    "Board", "Span", "Channel", "Port", "SpanConfig", "Event", "SpanAlarm", "CasChanged",
    "DFrame", "DFrameSent", "Audio", "Hook", "Flash", "Ring", "Polarity", "Battery", "ToneDone",
    "DigitDetected", "MfcSignal", "ToneDetected", "FskData", "VoiceActivity",
    "EventsLost", "ALARM_NAMES", "alarm_names", "DETECTORS", "detector_mask",
]

ALARM_NAMES = (
    ("LOS", lib.HAL_ALARM_LOS),
    ("LOF", lib.HAL_ALARM_LOF),
    ("AIS", lib.HAL_ALARM_AIS),
    ("RAI", lib.HAL_ALARM_RAI),
    ("LOMF", lib.HAL_ALARM_LOMF),
    ("CASMF", lib.HAL_ALARM_CASMF),
    ("RMAI", lib.HAL_ALARM_RMAI),
)
# Alarms that mean the span carries no traffic (RAI, RMAI: the far end's trouble).
_OUT_OF_SYNC = lib.HAL_ALARM_LOS | lib.HAL_ALARM_LOF | lib.HAL_ALARM_AIS

SIGNALLING = {"pri": lib.HAL_SIG_CCS, "cas": lib.HAL_SIG_CAS, "clear": lib.HAL_SIG_CLEAR}
LAWS = {"alaw": lib.HAL_LAW_ALAW, "ulaw": lib.HAL_LAW_ULAW}
LOOPBACKS = {
    "off": lib.HAL_LOOP_NONE,
    "local": lib.HAL_LOOP_LOCAL,
    "line": lib.HAL_LOOP_LINE,
    "payload": lib.HAL_LOOP_PAYLOAD,
}
PORT_KINDS = {"fxs": lib.HAL_PORT_FXS, "fxo": lib.HAL_PORT_FXO}
_NAME_OF = lambda table, value: next(k for k, v in table.items() if v == value)  # noqa: E731

# Detector names (HAL_DET_*) and what the call-progress detector reports (dsp/cpt.h)
DETECTORS = {
    "dtmf": lib.HAL_DET_DTMF, "mfc_forward": lib.HAL_DET_MFC_FWD,
    "mfc_backward": lib.HAL_DET_MFC_BWD, "cpt": lib.HAL_DET_CPT, "fsk": lib.HAL_DET_FSK,
    "fsk_v23": lib.HAL_DET_FSK_V23, "vad": lib.HAL_DET_VAD,
}
CPT_NAMES = {lib.CPT_SILENCE: "silence", lib.CPT_DIAL: "dial", lib.CPT_RINGBACK: "ringback",
             lib.CPT_BUSY: "busy", lib.CPT_CONGESTION: "congestion",
             lib.CPT_UNKNOWN_TONE: "unknown", lib.CPT_VOICE: "voice", lib.CPT_ANSWER: "answer"}
CPT_TONES = {"dial": lib.CPT_DIAL, "ringback": lib.CPT_RINGBACK, "busy": lib.CPT_BUSY,
             "congestion": lib.CPT_CONGESTION}
_DONE_KIND = {lib.HAL_DONE_TONE: "tone", lib.HAL_DONE_PLAY: "play", lib.HAL_DONE_DTMF: "dtmf",
              lib.HAL_DONE_FSK: "fsk"}
FSK_MODES = {"bell202": 0, "v23": 1}


_TAPS = {"rx": lib.HAL_TAP_RX, "tx": lib.HAL_TAP_TX, "both": lib.HAL_TAP_RX | lib.HAL_TAP_TX}


def _tap_bits(on: bool, direction: str) -> int:
    if direction not in _TAPS:
        raise ValueError(f"tap direction must be rx, tx or both, not {direction!r}")
    return _TAPS[direction] if on else 0


def detector_mask(names) -> int:
    """``{"dtmf", "cpt"}`` -> the HAL_DET_* mask; unknown names are a ValueError."""
    mask = 0
    for n in names:
        if n not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, not {n!r}")
        mask |= DETECTORS[n]
    return mask


class _Signals:
    """Signal generators and detectors of a channel or a port (the C DSP core)."""

    def _sig_target(self) -> tuple[int, int]:
        raise NotImplementedError

    def detect(self, *names: str) -> None:
        """Run these detectors on what the channel receives (none: stop them all)."""
        span, chan = self._sig_target()
        check(lib.hal_chan_detect(self._board._b, span, chan, detector_mask(names)),
              self._what("detect"))

    def dtmf(self, digits: str) -> None:
        """Send DTMF digits (0-9 * # A-D), 80 ms on and 80 ms off (Q.23)."""
        span, chan = self._sig_target()
        raw = digits.encode("ascii", "replace")
        check(lib.hal_chan_dtmf(self._board._b, span, chan, raw, len(raw)),
              self._what(f"DTMF {digits!r}"))

    def mfc(self, digit: int | None, backward: bool = False) -> None:
        """Send MFC R2 signal 1..15 steadily until changed; None stops it (Q.441)."""
        span, chan = self._sig_target()
        check(lib.hal_chan_mfc(self._board._b, span, chan, int(backward),
                               -1 if digit is None else int(digit)), self._what("MFC"))

    def progress_tone(self, name: str | None) -> None:
        """Play a call-progress tone of the board's set (dial, ringback, busy, congestion)."""
        if name is not None and name not in CPT_TONES:
            raise ValueError(f"tone must be one of {', '.join(CPT_TONES)}, not {name!r}")
        span, chan = self._sig_target()
        check(lib.hal_chan_cpt(self._board._b, span, chan, CPT_TONES.get(name, 0)),
              self._what(f"tone {name}"))

    def conference(self) -> int | None:
        """The id of the conference (the board's switching) this channel is in, or None."""
        span, chan = self._sig_target()
        rc = lib.hal_chan_conf(self._board._b, span, chan)
        return None if rc == lib.HAL_ESTATE else check(rc, self._what("conference"))

    def leave_conference(self) -> None:
        span, chan = self._sig_target()
        rc = lib.hal_conf_leave(self._board._b, span, chan)
        if rc != lib.HAL_ESTATE:
            check(rc, self._what("leave conference"))

    def fsk(self, bits, mode: str = "bell202") -> None:
        """Send FSK bits (seizure, mark, framed characters: see drivers.callerid)."""
        if mode not in FSK_MODES:
            raise ValueError(f"FSK mode must be bell202 or v23, not {mode!r}")
        span, chan = self._sig_target()
        if isinstance(bits, (bytes, bytearray)) and bits.translate(_BIT_OF) == bits:
            raw = bytes(bits)                   # already one 0 or 1 per byte
        else:
            raw = bytes(1 if b else 0 for b in bits)
        check(lib.hal_chan_fsk(self._board._b, span, chan, FSK_MODES[mode], raw, len(raw)),
              self._what("FSK"))


_EVENT_BATCH = 1024
_DATA_BATCH = 1 << 20


def alarm_names(bits: int) -> tuple[str, ...]:
    return tuple(name for name, bit in ALARM_NAMES if bits & bit)


# ---- events ------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something that happened on the board during a tick (``tick`` is the board tick)."""

    topic: ClassVar[str] = "board.event"
    tick: int

    def to_dict(self) -> dict:
        d = {"type": self.topic.split(".", 1)[1]}
        for k, v in self.__dict__.items():
            if isinstance(v, (bytes, bytearray)):
                d[k] = base64.b64encode(bytes(v)).decode("ascii")
            elif isinstance(v, tuple):
                d[k] = list(v)
            else:
                d[k] = v
        return d


@dataclass(frozen=True)
class SpanAlarm(Event):
    """The span's alarms changed (G.775 / G.706 conditions)."""

    topic: ClassVar[str] = "span.alarm"
    span: int
    alarms: tuple[str, ...]
    raised: tuple[str, ...]
    cleared: tuple[str, ...]

    @property
    def in_sync(self) -> bool:
        return not set(self.alarms) & {"LOS", "LOF", "AIS"}


@dataclass(frozen=True)
class CasChanged(Event):
    """Received abcd bits of a CAS timeslot changed (G.704 5.1.3)."""

    topic: ClassVar[str] = "channel.cas"
    span: int
    timeslot: int
    abcd: int


@dataclass(frozen=True)
class DFrame(Event):
    """A good HDLC frame (FCS checked and removed) received on the D-channel."""

    topic: ClassVar[str] = "channel.dframe"
    span: int
    data: bytes


@dataclass(frozen=True)
class DFrameSent(Event):
    """A copy of an HDLC frame queued out on the D-channel (for traces)."""

    topic: ClassVar[str] = "channel.dframe_sent"
    span: int
    data: bytes


@dataclass(frozen=True)
class Audio(Event):
    """One tick of received audio, G.711 in the span's law, from a tapped channel.

    ``span`` is 0 and ``timeslot`` the port number for an analog port."""

    topic: ClassVar[str] = "channel.audio"
    span: int
    timeslot: int
    data: bytes
    sent: bool = False      # True: what the channel sent (a transmit tap)


@dataclass(frozen=True)
class Hook(Event):
    topic: ClassVar[str] = "channel.hook"
    port: int
    off_hook: bool


@dataclass(frozen=True)
class Flash(Event):
    topic: ClassVar[str] = "channel.flash"
    port: int
    ms: int


@dataclass(frozen=True)
class Ring(Event):
    topic: ClassVar[str] = "channel.ring"
    port: int
    on: bool


@dataclass(frozen=True)
class Polarity(Event):
    topic: ClassVar[str] = "channel.polarity"
    port: int
    reversed: bool


@dataclass(frozen=True)
class Battery(Event):
    """Loop current on an FXO port appeared or dropped (disconnect supervision)."""

    topic: ClassVar[str] = "channel.battery"
    port: int
    on: bool


@dataclass(frozen=True)
class ToneDone(Event):
    """A tone, a played buffer, DTMF digits or an FSK burst ran out (``what``: tone, play,
    dtmf, fsk). ``span`` 0 means ``timeslot`` is a port."""

    topic: ClassVar[str] = "channel.tone_done"
    span: int
    timeslot: int
    played: bool
    what: str = "tone"


@dataclass(frozen=True)
class DigitDetected(Event):
    """A DTMF digit heard on a channel (Q.24 limits); ``span`` 0: ``timeslot`` is a port."""

    topic: ClassVar[str] = "channel.dtmf"
    span: int
    timeslot: int
    digit: str

    @property
    def port(self) -> int | None:
        return self.timeslot if self.span == 0 else None


@dataclass(frozen=True)
class MfcSignal(Event):
    """An MFC R2 signal (Q.441) began (``digit`` 1..15) or ceased (``digit`` 0)."""

    topic: ClassVar[str] = "channel.mfc"
    span: int
    timeslot: int
    digit: int
    backward: bool

    @property
    def port(self) -> int | None:
        return self.timeslot if self.span == 0 else None


@dataclass(frozen=True)
class ToneDetected(Event):
    """What a channel hears now: dial, ringback, busy, congestion, unknown, voice, silence,
    or ``answer`` (voice after ringback, for answer detection on analog trunks)."""

    topic: ClassVar[str] = "channel.tone"
    span: int
    timeslot: int
    tone: str

    @property
    def port(self) -> int | None:
        return self.timeslot if self.span == 0 else None


@dataclass(frozen=True)
class FskData(Event):
    """Characters an FSK receiver decoded (caller ID on the line)."""

    topic: ClassVar[str] = "channel.fsk"
    span: int
    timeslot: int
    data: bytes

    @property
    def port(self) -> int | None:
        return self.timeslot if self.span == 0 else None


@dataclass(frozen=True)
class VoiceActivity(Event):
    topic: ClassVar[str] = "channel.voice"
    span: int
    timeslot: int
    active: bool
    level_dbm0: float

    @property
    def port(self) -> int | None:
        return self.timeslot if self.span == 0 else None


@dataclass(frozen=True)
class EventsLost(Event):
    """The board's event queue overflowed; ``count`` events were lost."""

    topic: ClassVar[str] = "board.events_lost"
    count: int


# bytes as bits: 0 stays 0, anything else is 1
_BIT_OF = bytes([0] + [1] * 255)

def _payload(ev, data) -> bytes:
    return bytes(data[ev.offset:ev.offset + ev.value])


def _alarm(ev, tick, data):
    new, old = ev.value, ev.aux
    return SpanAlarm(tick, ev.span, alarm_names(new), alarm_names(new & ~old),
                     alarm_names(old & ~new))


# one converter per event type, looked up once per event (the board's constants are
# read here once, not for every event of every tick)
_CONVERTERS = {
    lib.HAL_EV_DFRAME: lambda ev, tick, data: DFrame(tick, ev.span, _payload(ev, data)),
    lib.HAL_EV_DFRAME_TX: lambda ev, tick, data: DFrameSent(tick, ev.span, _payload(ev, data)),
    lib.HAL_EV_AUDIO: lambda ev, tick, data: Audio(tick, ev.span, ev.chan, _payload(ev, data),
                                                   bool(ev.aux)),
    lib.HAL_EV_ALARM: _alarm,
    lib.HAL_EV_CAS: lambda ev, tick, data: CasChanged(tick, ev.span, ev.chan, ev.value),
    lib.HAL_EV_HOOK: lambda ev, tick, data: Hook(tick, ev.chan, bool(ev.value)),
    lib.HAL_EV_FLASH: lambda ev, tick, data: Flash(tick, ev.chan, ev.value),
    lib.HAL_EV_RING: lambda ev, tick, data: Ring(tick, ev.chan, bool(ev.value)),
    lib.HAL_EV_POLARITY: lambda ev, tick, data: Polarity(tick, ev.chan, bool(ev.value)),
    lib.HAL_EV_BATTERY: lambda ev, tick, data: Battery(tick, ev.chan, bool(ev.value)),
    lib.HAL_EV_TONE_DONE: lambda ev, tick, data: ToneDone(
        tick, ev.span, ev.chan, ev.value == lib.HAL_DONE_PLAY, _DONE_KIND.get(ev.value, "tone")),
    lib.HAL_EV_DIGIT: lambda ev, tick, data: DigitDetected(tick, ev.span, ev.chan, chr(ev.value)),
    lib.HAL_EV_MFC: lambda ev, tick, data: MfcSignal(tick, ev.span, ev.chan, ev.value,
                                                     bool(ev.aux)),
    lib.HAL_EV_TONE: lambda ev, tick, data: ToneDetected(tick, ev.span, ev.chan,
                                                         CPT_NAMES.get(ev.value, "unknown")),
    lib.HAL_EV_FSK: lambda ev, tick, data: FskData(tick, ev.span, ev.chan, _payload(ev, data)),
    lib.HAL_EV_VOICE: lambda ev, tick, data: VoiceActivity(tick, ev.span, ev.chan,
                                                           bool(ev.value), ev.aux / 10.0),
    lib.HAL_EV_OVERFLOW: lambda ev, tick, data: EventsLost(tick, ev.value),
}


def _convert(ev, data) -> Event | None:
    conv = _CONVERTERS.get(ev.type)
    return conv(ev, int(ev.tick), data) if conv is not None else None


# ---- configuration -----------------------------------------------------------


@dataclass(frozen=True)
class SpanConfig:
    number: int
    signalling: str = "pri"
    crc4: bool = True
    law: str = "alaw"

    def __post_init__(self):
        if self.signalling not in SIGNALLING:
            raise ValueError(f"span {self.number}: signalling must be one of "
                             f"{', '.join(SIGNALLING)}, not {self.signalling!r}")
        if self.law not in LAWS:
            raise ValueError(f"span {self.number}: law must be alaw or ulaw, not {self.law!r}")
        if not isinstance(self.crc4, bool):
            raise ValueError(f"span {self.number}: crc4 must be true or false")


# ---- objects -----------------------------------------------------------------


class Channel(_Signals):
    """A timeslot of a span (``span/ts``, as DAHDI numbers them: 1..31)."""

    def _sig_target(self):
        return self.span, self.timeslot

    def __init__(self, board: "Board", span: "Span", timeslot: int):
        self._board = board
        self._span = span
        self.span = span.number
        self.timeslot = timeslot
        self.name = f"{span.number}/{timeslot}"

    @property
    def kind(self) -> str:
        if self.timeslot == 16 and self._span.signalling == "pri":
            return "dchan"
        if self.timeslot == 16 and self._span.signalling == "cas":
            return "cas"
        return "bearer"

    def _what(self, op):
        return f"{op} on channel {self.name} of board {self._board.name}"

    def tone(self, freq: float, freq2: float = 0, level_dbm0: float = -10, ms: int = 1000) -> None:
        """Send a tone (two frequencies for a dual tone); ``ms`` < 0 runs until stopped, 0 stops."""
        check(lib.hal_chan_tone(self._board._b, self.span, self.timeslot, int(round(freq)),
                                int(round(freq2)), int(round(level_dbm0)), int(ms)),
              self._what("tone"))

    def play(self, data: bytes) -> None:
        """Queue G.711 bytes (the span's law) to send on the timeslot."""
        check(lib.hal_chan_play(self._board._b, self.span, self.timeslot, data, len(data)),
              self._what("play"))

    def tap(self, on: bool, direction: str = "rx") -> None:
        """Copy the channel's audio out as Audio events: what it receives (``rx``), what
        it sends (``tx``) or ``both``."""
        check(lib.hal_chan_tap(self._board._b, self.span, self.timeslot, _tap_bits(on, direction)),
              self._what("tap"))

    def cas_tx(self, abcd: int) -> None:
        check(lib.hal_span_set_cas(self._board._b, self.span, self.timeslot, int(abcd)),
              self._what("set CAS"))

    def cas_rx(self) -> int:
        return check(lib.hal_span_get_cas(self._board._b, self.span, self.timeslot),
                     self._what("get CAS"))

    def show(self) -> dict:
        d = {"channel": self.name, "span": self.span, "timeslot": self.timeslot,
             "kind": self.kind, "signalling": self._span.signalling}
        if self._span.signalling == "cas" and self.kind == "bearer":
            d["cas_rx"] = format(self.cas_rx(), "04b")
        return d


class Span:
    """An E1 span of a board."""

    def __init__(self, board: "Board", config: SpanConfig):
        self._board = board
        self.number = config.number
        self.configure(config)
        self.channels = {ts: Channel(board, self, ts) for ts in range(1, 32)}

    def _what(self, op):
        return f"{op} on span {self.number} of board {self._board.name}"

    def configure(self, config: SpanConfig) -> None:
        cfg = ffi.new("hal_span_config_t *")
        cfg.signalling = SIGNALLING[config.signalling]
        cfg.crc4 = int(config.crc4)
        cfg.law = LAWS[config.law]
        check(lib.hal_span_configure(self._board._b, self.number, cfg), self._what("configure"))
        self.signalling = config.signalling
        self.crc4 = config.crc4
        self.law = config.law

    def _status(self):
        st = ffi.new("hal_span_status_t *")
        check(lib.hal_span_status(self._board._b, self.number, st), self._what("status"))
        return st

    def alarms(self) -> tuple[str, ...]:
        return alarm_names(self._status().alarms)

    def counters(self) -> dict:
        st = self._status()
        return {k: int(getattr(st, k)) for k in (
            "frames_rx", "bits_rx", "fas_errors", "crc4_errors", "ebit_errors", "bpv", "slips",
            "lof_events", "los_events", "hdlc_rx_frames", "hdlc_tx_frames", "hdlc_fcs_errors",
            "hdlc_aborts", "hdlc_bad_frames", "hdlc_overruns")}

    def status(self) -> dict:
        st = self._status()
        return {
            "span": self.number,
            "board": self._board.name,
            "signalling": self.signalling,
            "framing": "CRC-4" if self.crc4 else "CAS/no-CRC" if self.signalling == "cas" else "no CRC-4",
            "coding": "HDB3",
            "law": self.law,
            "alarms": list(alarm_names(st.alarms)),
            "in_sync": not (st.alarms & _OUT_OF_SYNC),
            "loopback": _NAME_OF(LOOPBACKS, st.loopback),
            "tx_ais": bool(st.tx_ais),
            "counters": self.counters(),
        }

    def reset_counters(self) -> None:
        check(lib.hal_span_reset_counters(self._board._b, self.number), self._what("reset counters"))

    def loopback(self, mode: str) -> None:
        if mode not in LOOPBACKS:
            raise ValueError(f"loopback mode must be one of {', '.join(LOOPBACKS)}, not {mode!r}")
        check(lib.hal_span_loopback(self._board._b, self.number, LOOPBACKS[mode]),
              self._what("loopback"))

    def report_sent_dframes(self, on: bool) -> None:
        """Whether the span reports each D-channel frame it sends as a :class:`DFrameSent`
        (on when the board opens; a copy for traces, so off while nobody traces it)."""
        check(lib.hal_span_dframe_tx_report(self._board._b, self.number, int(bool(on))),
              self._what("D-channel report"))

    def send_ais(self, on: bool) -> None:
        check(lib.hal_span_send_ais(self._board._b, self.number, int(bool(on))), self._what("AIS"))

    def bert_start(self) -> None:
        check(lib.hal_span_bert(self._board._b, self.number, 1), self._what("BERT start"))

    def bert_stop(self) -> None:
        check(lib.hal_span_bert(self._board._b, self.number, 0), self._what("BERT stop"))

    def bert_status(self) -> dict:
        st = ffi.new("hal_bert_status_t *")
        check(lib.hal_span_bert_status(self._board._b, self.number, st), self._what("BERT status"))
        bits, errors = int(st.bits), int(st.errors)
        return {
            "span": self.number,
            "pattern": "2^15-1 (O.151)",
            "running": bool(st.running),
            "sync": bool(st.sync),
            "bits": bits,
            "errors": errors,
            "ber": errors / bits if bits else None,
            "sync_losses": int(st.sync_losses),
            "seconds": st.seconds_x1000 / 1000.0,
        }

    def send_dframe(self, data: bytes) -> None:
        """Queue an HDLC frame (FCS added by the controller) on the D-channel."""
        check(lib.hal_span_dframe_send(self._board._b, self.number, data, len(data)),
              self._what("D-channel send"))


class Port(_Signals):
    """An analog port: FXS (we ring a phone) or FXO (a line from an exchange)."""

    def _sig_target(self):
        return 0, self.number

    def __init__(self, board: "Board", number: int, kind: str):
        self._board = board
        self.number = number
        self.kind = kind
        self.name = f"{kind}/{number}"

    def _what(self, op):
        return f"{op} on port {self.number} ({self.kind}) of board {self._board.name}"

    def _command(self, op, command, value):
        check(lib.hal_port_command(self._board._b, self.number, command, int(bool(value))),
              self._what(op))

    def ring(self, on: bool) -> None:
        self._command("ring", lib.HAL_PORT_RING, on)

    def polarity(self, reversed: bool) -> None:
        self._command("polarity", lib.HAL_PORT_POLARITY, reversed)

    def battery(self, on: bool) -> None:
        self._command("battery", lib.HAL_PORT_BATTERY, on)

    def hook(self, off: bool) -> None:
        self._command("hook", lib.HAL_PORT_HOOK, off)

    def tone(self, freq: float, freq2: float = 0, level_dbm0: float = -10, ms: int = 1000) -> None:
        check(lib.hal_chan_tone(self._board._b, 0, self.number, int(round(freq)), int(round(freq2)),
                                int(round(level_dbm0)), int(ms)), self._what("tone"))

    def play(self, data: bytes) -> None:
        check(lib.hal_chan_play(self._board._b, 0, self.number, data, len(data)), self._what("play"))

    def tap(self, on: bool, direction: str = "rx") -> None:
        check(lib.hal_chan_tap(self._board._b, 0, self.number, _tap_bits(on, direction)),
              self._what("tap"))

    def status(self) -> dict:
        st = ffi.new("hal_port_status_t *")
        check(lib.hal_port_status(self._board._b, self.number, st), self._what("status"))
        return {
            "port": self.number,
            "channel": self.name,
            "kind": self.kind,
            "hook": "off" if st.hook else "on",
            "ringing": bool(st.ringing),
            "polarity": "reversed" if st.polarity else "normal",
            "battery": bool(st.battery),
            "connected": bool(st.connected),
        }

    show = status


CONF_MODES = {"member": lib.CONF_MEMBER, "monitor": lib.CONF_MONITOR,
              "whisper": lib.CONF_HEAR | lib.CONF_WHISPER, "talk_only": lib.CONF_TALK}


class Conference:
    """The board's switching: channels that hear each other.

    Two members are a cross-connect (the two legs of a call), three or more a
    conference call. ``mode``: ``member`` (talks and hears: a party, or a barge-in),
    ``monitor`` (hears, is not heard: a supervisor listening), ``whisper`` (hears all,
    heard by ``to`` only: a supervisor coaching the agent), ``talk_only`` (a source:
    music on hold, a prompt)."""

    def __init__(self, board: "Board"):
        self._board = board
        self.id = check(lib.hal_conf_create(board._b), f"create a conference on {board.name}")

    def join(self, channel, mode: str = "member", to=None) -> None:
        if mode not in CONF_MODES:
            raise ValueError(f"conference mode must be one of {', '.join(CONF_MODES)}, "
                             f"not {mode!r}")
        if (mode == "whisper") != (to is not None):
            raise ValueError("whisper needs `to` (the member who hears it), and only whisper")
        span, chan = channel._sig_target()
        wspan, wchan = to._sig_target() if to is not None else (0, 0)
        check(lib.hal_conf_join(self._board._b, self.id, span, chan, CONF_MODES[mode], wspan,
                                wchan), f"join {getattr(channel, 'name', channel)} to "
                                        f"conference {self.id} as {mode}")

    def leave(self, channel) -> None:
        channel.leave_conference()

    def destroy(self) -> None:
        if self.id is not None and self._board._b is not None:
            check(lib.hal_conf_destroy(self._board._b, self.id), f"conference {self.id}")
        self.id = None


class Board:
    """One board: its spans, its analog ports and its tick."""

    def __init__(self, name: str = "board0", backend: str = "sim",
                 spans: list[SpanConfig] | None = None, ports: list[str] | None = None,
                 tick_ms: int = 20, device: str | None = None):
        spans = list(spans or [])
        ports = list(ports or [])
        if not (5 <= tick_ms <= 100):
            raise ValueError(f"tick_ms must be 5..100, not {tick_ms}")
        numbers = [s.number for s in spans]
        if numbers != list(range(1, len(spans) + 1)):
            raise ValueError(f"spans must be numbered 1..{len(spans)} in order, not {numbers}")
        for i, kind in enumerate(ports, 1):
            if kind not in PORT_KINDS:
                raise ValueError(f"port {i}: kind must be fxs or fxo, not {kind!r}")
        self.name = name
        self.backend = backend
        self.tick_ms = tick_ms
        self.tick_frames = tick_ms * 8
        err = ffi.new("int *")
        kinds = ffi.new("int[]", [PORT_KINDS[k] for k in ports] or [0])
        b = lib.hal_board_open(backend.encode(), (device or "").encode(), len(spans), len(ports),
                               kinds, self.tick_frames, err)
        if b == ffi.NULL:
            check(err[0] or lib.HAL_ENODEV, f"open board {name} (backend {backend})")
        self._b = b
        self.spans: dict[int, Span] = {}
        self.ports: dict[int, Port] = {}
        try:
            for cfg in spans:
                self.spans[cfg.number] = Span(self, cfg)
        except Exception:
            self.close()
            raise
        for i, kind in enumerate(ports, 1):
            self.ports[i] = Port(self, i, kind)
        self.tick_count = 0
        self._events = ffi.new("hal_event_t[]", _EVENT_BATCH)
        self._data = ffi.new("uint8_t[]", _DATA_BATCH)
        self._used = ffi.new("int *")
        self._more = ffi.new("int *")
        self._signalling: list = []

    def conference(self) -> Conference:
        """A new conference (cross-connect) on this board."""
        return Conference(self)

    def tone_set(self, name: str) -> None:
        """Choose the call-progress tone set (``cn`` by default; ``itu``, ``us``, ``uk``, ...)."""
        n = lib.cpt_set_find(name.encode())
        if n < 0:
            names = [ffi.string(lib.cpt_set_name(i)).decode() for i in range(lib.cpt_set_count())]
            raise ValueError(f"tone set must be one of {', '.join(names)}, not {name!r}")
        check(lib.hal_board_tone_set(self._b, n), f"tone set of board {self.name}")

    @staticmethod
    def backend_available(backend: str) -> bool:
        return bool(lib.hal_backend_available(backend.encode()))

    @property
    def line_seconds(self) -> float:
        return self.tick_count * self.tick_ms / 1000.0

    def tick(self) -> list[Event]:
        """Move one tick of line time on every span and port; return what happened."""
        if self._b is None:
            raise HalError(lib.HAL_ESTATE, f"tick on board {self.name}: board is closed")
        # one C call moves the whole board and brings its events back
        n = check(lib.hal_board_tick_events(self._b, self._events, _EVENT_BATCH, self._data,
                                            _DATA_BATCH, self._used, self._more),
                  f"tick on board {self.name}")
        self.tick_count += 1
        out = self._convert(n)
        if self._more[0]:
            out += self.drain()
        if self._signalling:
            now = self.line_seconds
            for sig in self._signalling:
                out += sig.handle(now, self.tick_count, out)
        return out

    def attach_signalling(self, handler) -> None:
        """Run a span's signalling stack on this board's tick.

        ``handler.handle(now, tick, events)`` sees every event of the tick and
        returns the events it makes of them (calls, D-channel state)."""
        self._signalling.append(handler)

    def _convert(self, n: int) -> list[Event]:
        if n == 0:
            return []
        data = ffi.buffer(self._data, self._used[0])
        events, get = self._events, _CONVERTERS.get
        out = []
        for i in range(n):
            ev = events[i]
            conv = get(ev.type)
            if conv is not None:
                out.append(conv(ev, int(ev.tick), data))
        return out

    def drain(self) -> list[Event]:
        """Take every event still queued on the board."""
        out: list[Event] = []
        while True:
            n = check(lib.hal_board_events(self._b, self._events, _EVENT_BATCH, self._data,
                                           _DATA_BATCH, self._used), f"events of board {self.name}")
            if n == 0:
                return out
            out += self._convert(n)

    def channel(self, name: str) -> Channel | Port:
        """Look a channel up by ``span/ts`` or a port by ``fxs/N`` / ``fxo/N`` / ``port/N``."""
        try:
            left, right = str(name).split("/")
            num = int(right)
        except ValueError:
            raise ValueError(f"channel must be SPAN/TIMESLOT or fxs/N, fxo/N: {name!r}") from None
        if left in ("fxs", "fxo", "port"):
            port = self.ports.get(num)
            if port is None or (left != "port" and port.kind != left):
                raise LookupError(f"no {left} port {num} on board {self.name}")
            return port
        try:
            span = self.spans[int(left)]
        except (ValueError, KeyError):
            raise LookupError(f"no span {left!r} on board {self.name}") from None
        if num not in span.channels:
            raise LookupError(f"no timeslot {num} on span {span.number} (1..31)")
        return span.channels[num]

    def show(self) -> dict:
        return {
            "board": self.name,
            "backend": self.backend,
            "tick_ms": self.tick_ms,
            "ticks": self.tick_count,
            "line_seconds": self.line_seconds,
            "spans": [{"span": s.number, "signalling": s.signalling, "crc4": s.crc4,
                       "law": s.law, "alarms": list(s.alarms())} for s in self.spans.values()],
            "ports": [{"port": p.number, "kind": p.kind} for p in self.ports.values()],
        }

    def close(self) -> None:
        if getattr(self, "_b", None) is not None:
            lib.hal_board_close(self._b)
            self._b = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Cables hold pointers into boards: the world closes its boards in order.
        pass
