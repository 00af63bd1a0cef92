"""Analog line signalling: FXS (we feed a phone) and FXO (a line from an exchange).

Two sans-I/O state machines in the aioquic shape (STYLE.md)::

    m.receive(now, Hook(True))        # what the line (and the DSP) saw
    call = m.send(now, Alert("13800138000", "ACME"))   # what the CTI asks
    m.commands()                      # -> [SetRing(True), ...] for the port
    m.next_event()                    # -> LineOffHook(...), CallOffered(...), ...
    m.get_timer(); m.handle_timer(now)

``now`` is line time in seconds (the board tick clock). Inputs mirror the
board's events (:mod:`drivers.board`: Hook, Flash, Ring, Polarity, Battery,
ToneDone) and the DSP's (DigitDetected, ToneDetected, CallerIdReceived), so
a shell maps one to the other by name; commands are what a port does (ring,
polarity, battery, hook, tones, caller ID, DTMF); events are what the CTI
hears about a call. Every call has a number (``call``), starts with
``LineOffHook`` / ``CallOffered`` / a ``send(Dial|Alert)`` and ends with
exactly one ``Disconnected(call, reason)``.

:class:`AnalogPort` runs a machine on a board port (``board.attach_signalling``)
the way :class:`drivers.sig.pri.PriSpan` runs PRI on a span.

Timing references: ring cadences from the national tone plans (China
YD/T 1277: 1 s on / 4 s off; BT SIN 350: 0.4/0.2/0.4/2.0); on-hook caller ID
after the first ring per ETSI EN 300 659-1 clause 6.1.1 / Bellcore GR-30-CORE
(data starts >= 500 ms after the first ring ends and ends >= 200 ms before
the next ring); DTMF caller ID before the first ring per ETSI ES 200 778-1
annex / ETSI TS 101 109 (digits framed by A or D ... C); decadic (pulse)
dialling at 10 pulses/s with 60-67 % break (ITU-T Q.112 style, YD/T); hook
flash 100..750 ms (the board reports longer on-hook as a hang-up).
"""
from __future__ import annotations

import dataclasses
import enum
from collections import Counter, deque
from dataclasses import dataclass

from drivers.board import Event
from drivers.numbers import fit_caller_id
from drivers.sig.wake import LineGroup

__all__ = [
    # inputs
    "Hook", "Flash", "Ring", "Polarity", "Battery", "ToneDone", "DigitDetected", "ToneDetected",
    "CallerIdReceived",
    # commands
    "SetRing", "SetPolarity", "SetBattery", "StartTone", "StopTone", "SendCallerId",
    "CancelCallerId", "Seize", "DialDigits",
    # call events
    "LineOffHook", "DigitsCollected", "CallOffered", "CallProgress", "Answered", "Disconnected",
    "HookFlash",
    # requests
    "Alert", "Progress", "Connected", "Answer", "Dial", "Release",
    # machines
    "FxsConfig", "FxoConfig", "FxsState", "FxoState", "Fxs", "Fxo", "DigitMap", "AnalogError",
    "RING_CADENCES", "TONE_PLANS", "DTMF_FREQS", "fsk_caller_id_seconds",
    "dtmf_caller_id_seconds", "AnalogPort", "AnalogPorts", "AnalogCallEvent", "attach",
]

_EPS = 1e-9


class AnalogError(Exception):
    """We (the CTI or the shell) asked something the machine cannot do."""


# ---- inputs: what the line and the DSP saw -----------------------------------


@dataclass(frozen=True)
class Hook:
    """FXS: the phone's hook (board ``Hook``; on-hook is reported after the flash limit)."""

    off_hook: bool


@dataclass(frozen=True)
class Flash:
    """FXS: a short on-hook interval of ``ms`` (board ``Flash``): a hook flash or a dial pulse."""

    ms: int


@dataclass(frozen=True)
class Ring:
    """FXO: ringing voltage on the line started or stopped (board ``Ring``)."""

    on: bool


@dataclass(frozen=True)
class Polarity:
    """FXO: line polarity, ``reversed`` against the normal feed (board ``Polarity``)."""

    reversed: bool


@dataclass(frozen=True)
class Battery:
    """FXO: line feed (loop current / battery) present or gone (board ``Battery``)."""

    on: bool


@dataclass(frozen=True)
class ToneDone:
    """A tone, a DTMF string or a caller-ID burst we sent has finished (board ``ToneDone``)."""

    played: bool = False


@dataclass(frozen=True)
class DigitDetected:
    """The DTMF detector saw a digit (0-9 * # A-D)."""

    digit: str


@dataclass(frozen=True)
class ToneDetected:
    """Call-progress detector: 'dial', 'ringback', 'busy', 'congestion', 'voice' or 'silence'."""

    tone: str


@dataclass(frozen=True)
class CallerIdReceived:
    """The FSK or DTMF caller-ID receiver decoded a caller's number (and name)."""

    number: str | None
    name: str | None = None
    when: str | None = None        # 'fsk' / 'dtmf', informative


# ---- commands: what the port must do ----------------------------------------


@dataclass(frozen=True)
class SetRing:
    """FXS: ringing voltage on (``on``) or off (board ``Port.ring``)."""

    on: bool


@dataclass(frozen=True)
class SetPolarity:
    reversed: bool


@dataclass(frozen=True)
class SetBattery:
    on: bool


@dataclass(frozen=True)
class StartTone:
    """Send a named call-progress tone ('dial', 'ringback', 'busy', 'congestion', 'howler')."""

    name: str


@dataclass(frozen=True)
class StopTone:
    pass


@dataclass(frozen=True)
class SendCallerId:
    """FXS: send caller ID now (``at``): ``when`` is 'fsk' (between the first and second ring,
    ETSI EN 300 659-1 6.1.1) or 'dtmf' (before the first ring)."""

    number: str
    name: str | None
    when: str
    at: float


@dataclass(frozen=True)
class CancelCallerId:
    """FXS: the phone answered during the caller-ID burst: stop it."""


@dataclass(frozen=True)
class Seize:
    """FXO: loop the line (``off_hook``) or release it (board ``Port.hook``)."""

    off_hook: bool


@dataclass(frozen=True)
class DialDigits:
    """FXO: send these digits as DTMF; a ``ToneDone`` input says they have gone."""

    digits: str


# ---- call events for the CTI -------------------------------------------------


@dataclass(frozen=True)
class LineOffHook:
    """FXS: the phone went off hook on an idle line (a new outgoing call ``call``)."""

    call: int


@dataclass(frozen=True)
class DigitsCollected:
    """FXS: the dialled number. ``reason``: 'terminator', 'max', 'map', 'nomatch', 'timeout'."""

    call: int
    digits: str
    reason: str


@dataclass(frozen=True)
class CallOffered:
    """FXO: an incoming call with the caller ID we captured (``ani`` None when there was none)."""

    call: int
    ani: str | None
    name: str | None = None
    glare: bool = False


@dataclass(frozen=True)
class CallProgress:
    """FXO: the call-progress detector heard ``tone`` on an outgoing call ('ringback', 'voice')."""

    call: int
    tone: str


@dataclass(frozen=True)
class Answered:
    """The call is up. ``how``: 'off_hook' (FXS ring trip), 'seized' (FXO answer), 'polarity',
    'voice' (answer supervision on FXO dial-out), 'glare' (FXO, see :class:`Fxo`)."""

    call: int
    how: str


@dataclass(frozen=True)
class Disconnected:
    """The call is over (the port may still wait for the phone to hang up, or a guard time)."""

    call: int
    reason: str


@dataclass(frozen=True)
class HookFlash:
    """FXS: the agent flashed the hook (``ms`` on hook) during a call: transfer / consult."""

    call: int
    ms: int


# ---- requests from the CTI -------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """FXS: ring the phone for an incoming call; ``cadence`` overrides the configured one."""

    number: str | None = None
    name: str | None = None
    cadence: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Progress:
    """FXS: play a call-progress tone to the phone ('ringback', 'busy', ...; None: silence)."""

    tone: str | None


@dataclass(frozen=True)
class Connected:
    """FXS: the far end answered the phone's outgoing call."""


@dataclass(frozen=True)
class Answer:
    """FXO: answer the offered call (seize the line)."""


@dataclass(frozen=True)
class Dial:
    """FXO: place a call: seize, wait for dial tone, dial ``digits``, supervise."""

    digits: str


@dataclass(frozen=True)
class Release:
    """End the call: FXS stops ringing or signals disconnect to the phone; FXO goes on hook."""

    reason: str = "released"


# ---- tables --------------------------------------------------------------------

# Ring cadences, seconds on, off, on, off ... repeated.
RING_CADENCES: dict[str, tuple[float, ...]] = {
    "cn": (1.0, 4.0),                # YD/T 1277 / GB 3380: 1 s on, 4 s off
    "etsi": (1.0, 4.0),              # ETSI ES 201 970 / most of Europe
    "uk": (0.4, 0.2, 0.4, 2.0),      # BT SIN 350 double ring
    "us": (2.0, 4.0),                # Telcordia GR-506
}

# Call-progress tone plans for the shell's own tone generator: name -> (f1, f2, dBm0,
# cadence seconds on/off...; () is continuous). China: 450 Hz plan (YD/T 1277), ITU:
# the 425 Hz plan of ITU-T E.180 supplement 2 / ETSI ES 201 970.
TONE_PLANS: dict[str, dict[str, tuple]] = {
    "cn": {
        "dial": (450, 0, -10, ()),
        "ringback": (450, 0, -10, (1.0, 4.0)),
        "busy": (450, 0, -10, (0.35, 0.35)),
        "congestion": (450, 0, -10, (0.7, 0.7)),
        "howler": (950, 0, -3, ()),
        "call_waiting": (450, 0, -10, (0.4, 4.0)),
    },
    "itu": {
        "dial": (425, 0, -10, ()),
        "ringback": (425, 0, -10, (1.0, 4.0)),
        "busy": (425, 0, -10, (0.5, 0.5)),
        "congestion": (425, 0, -10, (0.25, 0.25)),
        "howler": (1400, 2040, -3, (0.1, 0.1)),
        "call_waiting": (425, 0, -10, (0.2, 0.2, 0.2, 4.0)),
    },
}

# ITU-T Q.23: low group rows x high group columns.
DTMF_FREQS: dict[str, tuple[int, int]] = {}
for _r, (_lo, _keys) in enumerate(zip((697, 770, 852, 941), ("123A", "456B", "789C", "*0#D"))):
    for _c, _k in enumerate(_keys):
        DTMF_FREQS[_k] = (_lo, (1209, 1336, 1477, 1633)[_c])


def fsk_caller_id_seconds(number: str | None, name: str | None = None) -> float:
    """How long an on-hook MDMF caller-ID burst lasts at 1200 bit/s (V.23 / Bell 202).

    ETSI EN 300 659-1 / Bellcore GR-30: 300 bits of channel seizure (alternating
    0/1), 180 mark bits (GR-30's 180 +/- 25; ETSI asks for 80 +/- 25, the
    longer is used so the estimate is safe), then the message: type, length,
    date-time (2 + 8), number (2 + n), name (2 + m), checksum, 10 bits a byte."""
    body = 1 + 1 + (2 + 8) + (2 + len(number or "")) + (2 + len(name) if name else 0) + 1
    return (300 + 180 + 10 * body) / 1200.0


def dtmf_caller_id_seconds(number: str, tone: float = 0.07, pause: float = 0.07) -> float:
    """How long DTMF caller ID takes: start digit (A or D), the number, stop digit C."""
    return (len(number) + 2) * (tone + pause)


class DigitMap:
    """A small digit map (MGCP / H.248 style) deciding when a dialled number is complete.

    Patterns are alternatives separated by ``|`` or given as a list; in each, a
    digit, ``*``, ``#`` or A-D matches itself, ``x`` any of 0-9, ``[1-5]`` or
    ``[135]`` a set, and ``.`` repeats the element before it zero or more times
    (``9x.`` is 9 then any number of digits). :meth:`match` says whether digits
    are 'complete' (some pattern matches them all and none can go on), 'full'
    (some pattern matches, another could still go on), 'partial' (a prefix) or
    'none'."""

    def __init__(self, patterns):
        if isinstance(patterns, str):
            patterns = patterns.split("|")
        self.patterns = [p.strip() for p in patterns if p.strip()]
        if not self.patterns:
            raise ValueError("digit map has no pattern")
        self._compiled = [self._compile(p) for p in self.patterns]

    @staticmethod
    def _compile(p: str) -> list[tuple[frozenset, bool]]:
        out: list[tuple[frozenset, bool]] = []
        i = 0
        while i < len(p):
            c = p[i]
            if c in "xX":
                s = frozenset("0123456789")
            elif c == "[":
                j = p.find("]", i)
                if j < 0:
                    raise ValueError(f"digit map pattern {p!r}: '[' without ']'")
                body, chars, k = p[i + 1:j], set(), 0
                while k < len(body):
                    if k + 2 < len(body) and body[k + 1] == "-":
                        lo, hi = body[k], body[k + 2]
                        if not (lo.isdigit() and hi.isdigit()) or lo > hi:
                            raise ValueError(f"digit map pattern {p!r}: bad range {lo}-{hi}")
                        chars.update(str(d) for d in range(int(lo), int(hi) + 1))
                        k += 3
                    else:
                        chars.add(body[k].upper())
                        k += 1
                s = frozenset(chars)
                i = j
            elif c == ".":
                if not out or out[-1][1]:
                    raise ValueError(f"digit map pattern {p!r}: '.' must follow an element")
                out[-1] = (out[-1][0], True)
                i += 1
                continue
            elif c.upper() in "0123456789*#ABCD":
                s = frozenset(c.upper())
            else:
                raise ValueError(f"digit map pattern {p!r}: unexpected {c!r}")
            out.append((s, False))
            i += 1
        return out

    @staticmethod
    def _closure(tokens, states: set[int]) -> set[int]:
        # a repeated element may match nothing: skip over it
        todo, seen = list(states), set(states)
        while todo:
            k = todo.pop()
            if k < len(tokens) and tokens[k][1] and k + 1 not in seen:
                seen.add(k + 1)
                todo.append(k + 1)
        return seen

    def match(self, digits: str) -> str:
        full = partial = False
        for tokens in self._compiled:
            states = self._closure(tokens, {0})
            for d in digits.upper():
                nxt = set()
                for k in states:
                    if k < len(tokens) and d in tokens[k][0]:
                        nxt.add(k if tokens[k][1] else k + 1)
                states = self._closure(tokens, nxt)
                if not states:
                    break
            if len(tokens) in states:
                full = True
            if any(k < len(tokens) for k in states):
                partial = True
        if full:
            return "full" if partial else "complete"
        return "partial" if partial else "none"


# ---- the common machinery ---------------------------------------------------------


class _Machine:
    """Event queue, command list, named timers and call numbers shared by FXS and FXO."""

    def __init__(self):
        self._events: deque = deque()
        self._commands: list = []
        self._timers: dict[str, float] = {}
        self._next_call = 0
        self.call: int | None = None
        self.counters: Counter = Counter()
        self.last_reason: str | None = None

    # -- the aioquic-like surface
    def next_event(self):
        """The next call event for the CTI, or None."""
        return self._events.popleft() if self._events else None

    def commands(self) -> list:
        """Take the commands for the port, in order."""
        out, self._commands = self._commands, []
        return out

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called (line seconds), or None."""
        return min(self._timers.values()) if self._timers else None

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now``, oldest first (each sees its own due time, so
        cadences do not drift with the caller's tick)."""
        for _ in range(10000):
            due = [(t, name) for name, t in self._timers.items() if t <= now + _EPS]
            if not due:
                return
            t, name = min(due)
            del self._timers[name]
            getattr(self, "_timer_" + name)(t)

    # -- helpers
    def _start(self, name: str, at: float) -> None:
        self._timers[name] = at

    def _stop(self, *names: str) -> None:
        for n in names:
            self._timers.pop(n, None)

    def _cmd(self, c) -> None:
        self._commands.append(c)

    def _emit(self, ev) -> None:
        self._events.append(ev)

    def _new_call(self) -> int:
        self._next_call += 1
        return self._next_call

    def _end_call(self, reason: str) -> None:
        """Close the current call with its one Disconnected event."""
        if self.call is not None:
            self._emit(Disconnected(self.call, reason))
            self.counters["calls_" + reason] += 1
            self.last_reason = reason
            self.call = None

    def _stale(self, request) -> None:
        # a request for a call that has already gone (the CTI acted on old news): no harm
        self.counters["stale_requests"] += 1


# ---- FXS -------------------------------------------------------------------------------


class FxsState(enum.Enum):
    IDLE = "idle"                # on hook, no call
    DIAL_TONE = "dial_tone"      # off hook, dial tone, waiting for the first digit
    COLLECTING = "collecting"    # digits coming
    ROUTING = "routing"          # number complete; the CTI routes it (tones on request)
    RINGING = "ringing"          # we ring the phone (cadence, caller ID)
    CONNECTED = "connected"      # in a call
    RELEASED = "released"        # the call is over, the phone is still off hook


@dataclass(frozen=True)
class FxsConfig:
    """FXS timings. Seconds throughout (flash lengths from the board are in ms)."""

    cadence: tuple[float, ...] = RING_CADENCES["cn"]
    caller_id: str | None = "fsk"             # 'fsk' between rings, 'dtmf' before, None
    cid_delay: float = 0.5                    # EN 300 659-1: >= 500 ms after the first ring
    cid_guard: float = 0.2                    # ... and ends >= 200 ms before the next one
    dtmf_cid_gap: float = 0.5                 # DTMF caller ID end -> first ring
    first_digit_timeout: float = 10.0
    interdigit_timeout: float = 4.0
    max_digits: int = 20
    terminator: str | None = "#"
    digit_map: DigitMap | str | None = None
    timeout_tone: str = "howler"              # first-digit timeout: 'howler' or 'congestion'
    flash_min_ms: int = 100                   # Flash >= this is a hook flash; shorter a dial pulse
    pulse_digit_gap: float = 0.3              # no pulse for this long ends a decadic digit
    disconnect: tuple[str, ...] = ("battery", "tone")  # 'battery', 'polarity', 'tone'
    battery_drop: float = 0.6                 # open-loop disconnect interval (CPC)
    answer_polarity: bool = False             # reverse polarity when the far end answers
    release_tone_timeout: float = 30.0        # busy tone, then howler, to a phone left off hook

    def __post_init__(self):
        if not self.cadence or len(self.cadence) % 2 or any(x <= 0 for x in self.cadence):
            raise ValueError("cadence must be pairs of positive on/off seconds, "
                             f"not {self.cadence}")
        if self.caller_id not in (None, "fsk", "dtmf"):
            raise ValueError(f"caller_id must be fsk, dtmf or None, not {self.caller_id!r}")
        if self.max_digits < 1:
            raise ValueError("max_digits must be at least 1")
        bad = set(self.disconnect) - {"battery", "polarity", "tone"}
        if bad:
            raise ValueError(f"disconnect signals must be battery, polarity, tone: not {bad}")
        if isinstance(self.digit_map, str):
            object.__setattr__(self, "digit_map", DigitMap(self.digit_map))


def _cid_slot(cadence: tuple[float, ...], need: float) -> tuple[int, float]:
    """Which off interval of the first cadence cycle carries caller ID, and its length.

    The first off interval that holds delay + burst + guard; if none does (a
    short cadence with a long name), the first off interval is stretched."""
    for i in range(1, len(cadence), 2):
        if cadence[i] >= need:
            return i, cadence[i]
    return 1, need


class Fxs(_Machine):
    """An FXS port: the line that feeds an agent's phone.

    Outgoing (the phone calls): off hook -> ``LineOffHook`` and dial tone;
    digits (DTMF from the detector, or decadic pulses: ``Flash`` inputs shorter
    than ``flash_min_ms`` counted until ``pulse_digit_gap`` passes without one)
    until the terminator, ``max_digits``, the digit map or the interdigit
    timeout -> ``DigitsCollected``; no first digit in time -> howler (or
    congestion) and ``Disconnected('no_digits')``. The CTI then sends
    ``Progress(tone)``, ``Connected()`` or ``Release()``.

    Incoming (the CTI rings the phone): ``send(Alert(number, name))`` rings
    with the cadence; FSK caller ID goes in the first silent interval that
    holds ``cid_delay`` + burst + ``cid_guard`` (stretched if none does), DTMF
    caller ID before the first ring; off hook (in a ring or between rings) ->
    ring trip (ringing off at once) and ``Answered('off_hook')``.
    ``Release()`` while ringing stops the ringing (ring-no-answer is the CTI's
    timer); in a call it signals disconnect to the phone (battery drop /
    polarity reversal / busy tone, as configured) and the port waits in
    RELEASED for on-hook. A hook flash in a call is ``HookFlash``. On-hook ends
    any call with ``Disconnected('on_hook')``.

    ``Alert`` on a busy port ends the new call at once with
    ``Disconnected('busy')``; requests for a call that is already gone are
    counted (``counters['stale_requests']``) and ignored.
    """

    def __init__(self, config: FxsConfig | None = None):
        super().__init__()
        self.config = config or FxsConfig()
        self.state = FxsState.IDLE
        self.off_hook = False
        self.ringing = False          # what we last told the port
        self.tone: str | None = None
        self.battery = True
        self.reversed = False
        self.digits = ""
        self._pulses = 0
        self._alert: Alert | None = None
        self._cadence: tuple[float, ...] = ()
        self._ring_index = 0
        self._cid_slot = (1, 0.0)
        self._cid_sent = False
        self._cid_end = 0.0

    # -- inputs
    def receive(self, now: float, event) -> None:
        """Feed what the line or the DSP saw."""
        if isinstance(event, Hook):
            self._hook(now, event.off_hook)
        elif isinstance(event, Flash):
            self._flash(now, int(event.ms))
        elif isinstance(event, DigitDetected):
            if self.state in (FxsState.DIAL_TONE, FxsState.COLLECTING) and not self._pulses:
                self._digit(now, str(event.digit).upper())
            else:
                self.counters["digits_ignored"] += 1
        elif isinstance(event, (ToneDone, ToneDetected, CallerIdReceived, Ring, Polarity, Battery)):
            self.counters["ignored_" + type(event).__name__] += 1
        else:
            raise AnalogError(f"FXS cannot take {event!r}")

    def _hook(self, now: float, off: bool) -> None:
        if off == self.off_hook:
            return
        self.off_hook = off
        s = self.state
        if off:
            if s is FxsState.IDLE:
                self.call = self._new_call()
                self.digits = ""
                self.state = FxsState.DIAL_TONE
                self._emit(LineOffHook(self.call))
                self._tone("dial")
                self._start("first_digit", now + self.config.first_digit_timeout)
            elif s is FxsState.RINGING:
                # ring trip: ringing off at once, in a ring or between rings
                self._stop_ringing(now)
                self.state = FxsState.CONNECTED
                self._emit(Answered(self.call, "off_hook"))
        else:
            if s is FxsState.RINGING:        # cannot happen: RINGING is on hook
                return
            if s is not FxsState.RELEASED:
                self._end_call("on_hook")
            self._to_idle()

    def _flash(self, now: float, ms: int) -> None:
        if not self.off_hook:
            return
        s = self.state
        if ms < self.config.flash_min_ms:
            if s in (FxsState.DIAL_TONE, FxsState.COLLECTING):
                # a decadic pulse (the board reports it at the make): count it
                if self._pulses == 0:
                    self._tone(None)
                    self._stop("first_digit", "interdigit")
                self._pulses += 1
                self._start("pulse_end", now + self.config.pulse_digit_gap)
            else:
                self.counters["short_breaks"] += 1
            return
        if s in (FxsState.ROUTING, FxsState.CONNECTED):
            self._emit(HookFlash(self.call, ms))
        else:
            self.counters["flash_ignored"] += 1

    def _timer_pulse_end(self, t: float) -> None:
        n, self._pulses = self._pulses, 0
        if n > 10:
            # not a digit (Q.112-style decadic digits are 1..10 pulses): count and go on
            self.counters["bad_pulse_trains"] += 1
            if self.state is FxsState.DIAL_TONE:
                self._tone("dial")          # nothing dialled yet: dial tone again
            self._start("interdigit" if self.digits else "first_digit",
                        t + (self.config.interdigit_timeout if self.digits
                             else self.config.first_digit_timeout))
            return
        self._digit(t, str(n % 10))

    def _digit(self, now: float, d: str) -> None:
        cfg = self.config
        if self.state is FxsState.DIAL_TONE:
            self._tone(None)
            self._stop("first_digit")
            self.state = FxsState.COLLECTING
        if cfg.terminator and d == cfg.terminator:
            self._collected("terminator")
            return
        self.digits += d
        if len(self.digits) >= cfg.max_digits:
            self._collected("max")
            return
        if cfg.digit_map is not None:
            m = cfg.digit_map.match(self.digits)
            if m == "complete":
                self._collected("map")
                return
            if m == "none":
                self._collected("nomatch")
                return
        self._start("interdigit", now + cfg.interdigit_timeout)

    def _collected(self, reason: str) -> None:
        self._stop("interdigit", "first_digit", "pulse_end")
        self._pulses = 0
        self.state = FxsState.ROUTING
        self._emit(DigitsCollected(self.call, self.digits, reason))

    def _timer_interdigit(self, t: float) -> None:
        if self.state is FxsState.COLLECTING:
            self._collected("timeout")

    def _timer_first_digit(self, t: float) -> None:
        if self.state is FxsState.DIAL_TONE:
            self._tone(self.config.timeout_tone)
            self.state = FxsState.RELEASED
            self._end_call("no_digits")

    # -- requests
    def send(self, now: float, request) -> int | None:
        """A request from the CTI; ``Alert`` returns the new call's number."""
        s = self.state
        if isinstance(request, Alert):
            return self._alert_request(now, request)
        if isinstance(request, Release):
            if s is FxsState.RINGING:
                self._stop_ringing(now)
                self._end_call(request.reason)
                self._to_idle()
            elif s in (FxsState.DIAL_TONE, FxsState.COLLECTING, FxsState.ROUTING,
                       FxsState.CONNECTED):
                self._end_call(request.reason)
                self._signal_disconnect(now)
            else:
                self._stale(request)
        elif isinstance(request, Progress):
            if s in (FxsState.ROUTING, FxsState.CONNECTED):
                self._tone(request.tone)
            else:
                self._stale(request)
        elif isinstance(request, Connected):
            if s is FxsState.ROUTING:
                self._tone(None)
                if self.config.answer_polarity:
                    self._polarity(True)
                self.state = FxsState.CONNECTED
            else:
                self._stale(request)
        else:
            raise AnalogError(f"FXS cannot do {request!r}")
        return None

    def _alert_request(self, now: float, req: Alert) -> int:
        cadence = tuple(req.cadence) if req.cadence else self.config.cadence
        if len(cadence) % 2 or any(x <= 0 for x in cadence):
            raise AnalogError(f"cadence must be pairs of positive on/off seconds, not {cadence}")
        call = self._new_call()
        if self.state is not FxsState.IDLE:
            # the phone is in use (or just went off hook): the new call finds it busy
            self._emit(Disconnected(call, "busy"))
            self.counters["calls_busy"] += 1
            return call
        withheld = False
        if (req.number or req.name) and self.config.caller_id in ("fsk", "dtmf"):
            # a network number the phone's caller ID cannot carry (21 digits, say) is
            # withheld (the phone shows "unavailable") and counted, rather than failing
            # the call (drivers/numbers.py)
            number, name, notes = fit_caller_id(req.number, req.name,
                                                dtmf=self.config.caller_id == "dtmf")
            for note in notes:
                self.counters["caller_id_" + note] += 1
            if notes:
                req = dataclasses.replace(req, number=number, name=name)
                withheld = number is None and "number_withheld" in notes
        self.call = call
        self.state = FxsState.RINGING
        self._alert = req
        self._cadence = cadence
        self._ring_index = 0
        self._cid_sent = False
        cfg = self.config
        if (req.number or withheld) and cfg.caller_id == "fsk":
            need = cfg.cid_delay + fsk_caller_id_seconds(req.number, req.name) + cfg.cid_guard
            self._cid_slot = _cid_slot(cadence, need)
        else:
            self._cid_slot = (-1, 0.0)
        if (req.number or withheld) and cfg.caller_id == "dtmf":
            self._cmd(SendCallerId(req.number or "", req.name, "dtmf", now))
            self._cid_sent = True
            self._cid_end = now + dtmf_caller_id_seconds(req.number or "B00")
            self._start("ring_on", self._cid_end + cfg.dtmf_cid_gap)
        else:
            self._timer_ring_on(now)
        return call

    def _timer_ring_on(self, t: float) -> None:
        if self.state is not FxsState.RINGING or self.off_hook:
            return
        self._ring(True)
        self._start("ring_off", t + self._cadence[self._ring_index])

    def _timer_ring_off(self, t: float) -> None:
        if self.state is not FxsState.RINGING:
            return
        self._ring(False)
        i = self._ring_index + 1
        off = self._cadence[i]
        if not self._cid_sent and i == self._cid_slot[0]:
            off = self._cid_slot[1]
            self._start("caller_id", t + self.config.cid_delay)
        self._ring_index = (i + 1) % len(self._cadence)
        self._start("ring_on", t + off)

    def _timer_caller_id(self, t: float) -> None:
        if self.state is FxsState.RINGING and not self._cid_sent and self._alert is not None:
            a = self._alert
            self._cmd(SendCallerId(a.number or "", a.name, "fsk", t))
            self._cid_sent = True
            self._cid_end = t + fsk_caller_id_seconds(a.number, a.name)

    def _stop_ringing(self, now: float) -> None:
        self._ring(False)
        if self._cid_sent and now < self._cid_end:
            self._cmd(CancelCallerId())
        self._stop("ring_on", "ring_off", "caller_id")
        self._alert = None

    # -- disconnect towards the phone
    def _signal_disconnect(self, now: float) -> None:
        cfg = self.config
        self._stop("first_digit", "interdigit", "pulse_end")
        self._pulses = 0
        self.state = FxsState.RELEASED
        self._tone(None)
        if "polarity" in cfg.disconnect:
            self._polarity(not self.reversed)
        if "battery" in cfg.disconnect:
            self._battery(False)
            self._start("battery_restore", now + cfg.battery_drop)
        elif "tone" in cfg.disconnect:
            self._release_tone(now)

    def _timer_battery_restore(self, t: float) -> None:
        if self.state is FxsState.RELEASED:
            self._battery(True)
            if "tone" in self.config.disconnect:
                self._release_tone(t)

    def _release_tone(self, now: float) -> None:
        self._tone("busy")
        self._start("howler", now + self.config.release_tone_timeout)

    def _timer_howler(self, t: float) -> None:
        if self.state is FxsState.RELEASED:
            self._tone("howler")

    def _to_idle(self) -> None:
        self._timers.clear()
        self._pulses = 0
        self._alert = None
        self._ring(False)
        self._tone(None)
        self._battery(True)
        self._polarity(False)
        self.digits = ""
        self.state = FxsState.IDLE

    # -- port outputs, each sent only when it changes something
    def _ring(self, on: bool) -> None:
        if on and self.off_hook:
            return
        if on != self.ringing:
            self.ringing = on
            self._cmd(SetRing(on))

    def _tone(self, name: str | None) -> None:
        if name == self.tone:
            return
        self.tone = name
        self._cmd(StartTone(name) if name else StopTone())

    def _battery(self, on: bool) -> None:
        if on != self.battery:
            self.battery = on
            self._cmd(SetBattery(on))

    def _polarity(self, reversed: bool) -> None:
        if reversed != self.reversed:
            self.reversed = reversed
            self._cmd(SetPolarity(reversed))

    def invariant_violations(self) -> list[str]:
        """What is wrong with the machine's state now (empty: nothing). For tests."""
        bad = []
        if self.ringing and self.off_hook:
            bad.append("ringing while off hook")
        if self.ringing and self.state is not FxsState.RINGING:
            bad.append(f"ringing in {self.state}")
        if self.state is FxsState.IDLE and (self.off_hook or self.tone or self.call is not None
                                            or not self.battery or self.reversed):
            bad.append("idle but not clean")
        if self.state is FxsState.RINGING and (self.off_hook or self.call is None):
            bad.append("ringing state with the phone off hook or no call")
        if self.state in (FxsState.DIAL_TONE, FxsState.COLLECTING, FxsState.ROUTING,
                          FxsState.CONNECTED) and (not self.off_hook or self.call is None):
            bad.append(f"{self.state} without an off-hook phone and a call")
        if self.state is FxsState.RELEASED and (not self.off_hook or self.call is not None):
            bad.append("released with a call or on hook")
        return bad


# ---- FXO ------------------------------------------------------------------------------


class FxoState(enum.Enum):
    IDLE = "idle"
    ALERTING = "alerting"        # ringing detected, waiting for caller ID or the second ring
    OFFERED = "offered"          # CallOffered sent, the CTI decides (answer or let it ring)
    IGNORING = "ignoring"        # the CTI released an offered call: let it ring out
    SEIZING = "seizing"          # off hook for a call out, waiting for dial tone
    DIALING = "dialing"          # DTMF going out
    PROCEEDING = "proceeding"    # dialled; supervising (ringback, busy, answer)
    CONNECTED = "connected"
    GUARD = "guard"              # released; the line rests before it can be seized again


@dataclass(frozen=True)
class FxoConfig:
    ring_timeout: float = 6.0          # no ring for this long: the caller gave up (> 4 s off)
    pre_ring_cid_window: float = 6.0   # DTMF caller ID this long before the first ring counts
    dial_tone_timeout: float = 3.0     # no dial tone: 'no_dial_tone' (or dial blind)
    blind_dial: bool = False
    dial_seconds_per_digit: float = 0.2  # fallback end of dialling when no ToneDone comes
    no_answer_timeout: float | None = 90.0
    battery_debounce: float = 0.3      # loop current must be gone this long to disconnect
    guard: float = 1.0                 # on hook before the line may be seized again
    polarity_disconnect: bool = True
    line_reverses_on_answer: bool = False  # the line answers by reversal (absorb it after voice)
    answer_on_voice_without_ringback: bool = False


_SEIZED = ("SEIZING", "DIALING", "PROCEEDING", "CONNECTED")


class Fxo(_Machine):
    """An FXO port: a line from the exchange.

    Incoming: the first ``Ring(on)`` starts an ALERTING call. It is offered
    (``CallOffered``) as soon as we know who calls: at the first ring when a
    DTMF caller ID came just before it, on ``CallerIdReceived`` between the
    first and second ring (FSK, EN 300 659-1), or at the start of the second
    ring when no caller ID came (ani None). Rings stopping for
    ``ring_timeout`` end an offered call with ``Disconnected('abandoned')``;
    a single ring that was never offered leaves no call (counted as
    ``counters['unoffered_rings']``). ``Answer()`` seizes the line.

    Outgoing: ``Dial(digits)`` seizes, waits for ``ToneDetected('dial')`` (or
    dials blind after ``dial_tone_timeout`` when ``blind_dial``, else fails
    'no_dial_tone'), sends ``DialDigits``; ``ToneDone`` (or a timer) ends
    dialling; then answer supervision: a polarity reversal, or 'voice' after
    'ringback' -> ``Answered``; 'busy' / 'congestion' -> failed with that
    reason.

    Disconnect supervision in a call: polarity change (``polarity_disconnect``),
    loop current drop lasting ``battery_debounce`` (shorter drops are ignored),
    busy, congestion or dial tone heard. Release = on hook, then ``guard``
    seconds before the line can be seized again (rings during the guard start
    a new incoming call when it ends).

    Glare: ``Dial`` while ringing is being detected (ALERTING, OFFERED,
    IGNORING) never seizes; the outgoing call ends at once with
    ``Disconnected('glare')``. A ring arriving while we are off hook waiting
    for dial tone means the exchange had a call for us already: looping the
    line has answered it, so the outgoing call ends 'glare' and the incoming
    one is offered (``glare=True``) and answered (``Answered('glare')``) at
    once: the CTI gets the caller rather than a dropped call. ``Dial`` on a
    busy port (a call or the guard time) ends with ``Disconnected('port_busy')``,
    on a line without battery with ``Disconnected('line_down')``.
    """

    def __init__(self, config: FxoConfig | None = None):
        super().__init__()
        self.config = config or FxoConfig()
        self.state = FxoState.IDLE
        self.seized = False
        self.ring_on = False
        self.battery = True
        self.reversed = False
        self._pending_digits = ""
        self._pre_cid: tuple[float, CallerIdReceived] | None = None
        self._ringback = False
        self._answer_how = ""
        self._absorbed_reversal = False

    # -- inputs
    def receive(self, now: float, event) -> None:
        if isinstance(event, Ring):
            self._ring(now, bool(event.on))
        elif isinstance(event, CallerIdReceived):
            self._caller_id(now, event)
        elif isinstance(event, Polarity):
            self._polarity(now, bool(event.reversed))
        elif isinstance(event, Battery):
            self._battery(now, bool(event.on))
        elif isinstance(event, ToneDetected):
            self._tone(now, str(event.tone))
        elif isinstance(event, ToneDone):
            if self.state is FxoState.DIALING:
                self._dialled(now)
        elif isinstance(event, (DigitDetected, Hook, Flash)):
            self.counters["ignored_" + type(event).__name__] += 1
        else:
            raise AnalogError(f"FXO cannot take {event!r}")

    def _ring(self, now: float, on: bool) -> None:
        if on == self.ring_on:
            return
        self.ring_on = on
        s = self.state
        if not on:
            if s in (FxoState.ALERTING, FxoState.OFFERED, FxoState.IGNORING):
                self._start("ring_lost", now + self.config.ring_timeout)
            return
        if s is FxoState.IDLE:
            self._incoming(now)
        elif s is FxoState.ALERTING:
            self._offer(None)                            # second ring, no caller ID
        elif s in (FxoState.OFFERED, FxoState.IGNORING):
            self._stop("ring_lost")
        elif s is FxoState.SEIZING:
            # glare: our loop has answered the exchange's call
            self._stop("dial_tone")
            self._end_call("glare")
            self.call = self._new_call()
            self._emit(CallOffered(self.call, None, None, glare=True))
            self._connected("glare")

    def _incoming(self, now: float) -> None:
        self.state = FxoState.ALERTING
        self.counters["rings_detected"] += 1
        pre, self._pre_cid = self._pre_cid, None
        if pre is not None and now - pre[0] <= self.config.pre_ring_cid_window:
            self._offer(pre[1])

    def _offer(self, cid: CallerIdReceived | None) -> None:
        self.call = self._new_call()
        self.state = FxoState.OFFERED
        self._emit(CallOffered(self.call, cid.number if cid else None, cid.name if cid else None))

    def _caller_id(self, now: float, cid: CallerIdReceived) -> None:
        if self.state is FxoState.IDLE:
            self._pre_cid = (now, cid)          # DTMF caller ID comes before the ring
        elif self.state is FxoState.ALERTING:
            self._offer(cid)
        else:
            self.counters["late_caller_id"] += 1

    def _timer_ring_lost(self, t: float) -> None:
        s = self.state
        if s is FxoState.OFFERED:
            self._end_call("abandoned")
        elif s is FxoState.ALERTING:
            self.counters["unoffered_rings"] += 1
        if s in (FxoState.ALERTING, FxoState.OFFERED, FxoState.IGNORING):
            self.state = FxoState.IDLE

    def _polarity(self, now: float, reversed: bool) -> None:
        if reversed == self.reversed:
            return
        self.reversed = reversed
        s = self.state
        if s in (FxoState.DIALING, FxoState.PROCEEDING):
            self._connected("polarity")
        elif s is FxoState.CONNECTED and self.config.polarity_disconnect:
            if (self._answer_how == "voice" and self.config.line_reverses_on_answer
                    and not self._absorbed_reversal):
                self._absorbed_reversal = True     # the line's late answer signal
                return
            self._release(now, "polarity")

    def _battery(self, now: float, on: bool) -> None:
        if on == self.battery:
            return
        self.battery = on
        if on:
            self._stop("loop_drop")
        elif self.state.name in _SEIZED:
            self._start("loop_drop", now + self.config.battery_debounce)

    def _timer_loop_drop(self, t: float) -> None:
        if self.state.name in _SEIZED and not self.battery:
            self._release(t, "loop_drop")

    def _tone(self, now: float, tone: str) -> None:
        s = self.state
        if s is FxoState.SEIZING and tone == "dial":
            self._dial(now)
        elif s is FxoState.PROCEEDING:
            if tone == "ringback":
                if not self._ringback:
                    self._ringback = True
                    self._emit(CallProgress(self.call, "ringback"))
            elif tone == "voice":
                if self._ringback or self.config.answer_on_voice_without_ringback:
                    self._connected("voice")
                else:
                    self._emit(CallProgress(self.call, "voice"))
            elif tone in ("busy", "congestion"):
                self._release(now, tone)
        elif s is FxoState.CONNECTED and tone in ("busy", "congestion", "dial"):
            self._release(now, tone + "_tone")

    def _timer_dial_tone(self, t: float) -> None:
        if self.state is FxoState.SEIZING:
            if self.config.blind_dial:
                self.counters["blind_dials"] += 1
                self._dial(t)
            else:
                self._release(t, "no_dial_tone")

    def _dial(self, now: float) -> None:
        self._stop("dial_tone")
        self.state = FxoState.DIALING
        self._cmd(DialDigits(self._pending_digits))
        self._start("dialled", now + 1.0 + self.config.dial_seconds_per_digit
                    * len(self._pending_digits))

    def _timer_dialled(self, t: float) -> None:
        if self.state is FxoState.DIALING:
            self._dialled(t)

    def _dialled(self, now: float) -> None:
        self._stop("dialled")
        self.state = FxoState.PROCEEDING
        if self.config.no_answer_timeout is not None:
            self._start("no_answer", now + self.config.no_answer_timeout)

    def _timer_no_answer(self, t: float) -> None:
        if self.state is FxoState.PROCEEDING:
            self._release(t, "no_answer")

    def _connected(self, how: str) -> None:
        self._stop("dial_tone", "dialled", "no_answer", "ring_lost")
        self.state = FxoState.CONNECTED
        self._answer_how = how
        self._absorbed_reversal = False
        self._emit(Answered(self.call, how))

    # -- requests
    def send(self, now: float, request) -> int | None:
        """A request from the CTI; ``Dial`` returns the new call's number."""
        s = self.state
        if isinstance(request, Dial):
            digits = str(request.digits)
            bad = [d for d in digits if d.upper() not in DTMF_FREQS]
            if bad:
                raise AnalogError(f"cannot dial {digits!r}: {''.join(bad)!r} is not a DTMF digit")
            call = self._new_call()
            if s is not FxoState.IDLE:
                reason = ("glare" if s in (FxoState.ALERTING, FxoState.OFFERED, FxoState.IGNORING)
                          else "port_busy")
                self._emit(Disconnected(call, reason))
                self.counters["calls_" + reason] += 1
                return call
            if not self.battery:
                self._emit(Disconnected(call, "line_down"))
                self.counters["calls_line_down"] += 1
                return call
            self.call = call
            self._pending_digits = digits.upper()
            self._ringback = False
            self._seize(True)
            self.state = FxoState.SEIZING
            self._start("dial_tone", now + self.config.dial_tone_timeout)
            return call
        if isinstance(request, Answer):
            if s is FxoState.OFFERED:
                self._seize(True)
                self._connected("seized")
            else:
                self._stale(request)
        elif isinstance(request, Release):
            if s is FxoState.OFFERED:
                self._end_call(request.reason)
                self.state = FxoState.IGNORING
                if not self.ring_on:
                    self._start("ring_lost", now + self.config.ring_timeout)
            elif s.name in _SEIZED:
                self._release(now, request.reason)
            else:
                self._stale(request)
        else:
            raise AnalogError(f"FXO cannot do {request!r}")
        return None

    def _release(self, now: float, reason: str) -> None:
        self._timers.clear()
        self._end_call(reason)
        self._seize(False)
        self.state = FxoState.GUARD
        self._start("guard", now + self.config.guard)

    def _timer_guard(self, t: float) -> None:
        if self.state is FxoState.GUARD:
            self.state = FxoState.IDLE
            if self.ring_on:
                self._incoming(t)

    def _seize(self, off: bool) -> None:
        if off != self.seized:
            self.seized = off
            self._cmd(Seize(off))

    def invariant_violations(self) -> list[str]:
        bad = []
        if self.seized != (self.state.name in _SEIZED):
            bad.append(f"seized={self.seized} in {self.state}")
        if (self.call is None) != (self.state in (FxoState.IDLE, FxoState.ALERTING,
                                                  FxoState.IGNORING, FxoState.GUARD)):
            bad.append(f"call {self.call} in {self.state}")
        return bad


# ---- the board shell ------------------------------------------------------------------

@dataclass(frozen=True)
class AnalogCallEvent(Event):
    """A call event of an analog port for the CTI (topic ``channel.<event>``)."""

    port: int
    event: object

    @property
    def topic(self) -> str:  # type: ignore[override]
        name = type(self.event).__name__
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
        return "channel." + snake

    def to_dict(self) -> dict:
        d = {"type": self.topic.split(".", 1)[1], "tick": self.tick, "port": self.port}
        d.update(self.event.__dict__)
        return d


_BOARD_TONES = ("dial", "ringback", "busy", "congestion")

_BOARD_INPUTS = {
    "Hook": lambda ev: Hook(bool(ev.off_hook)),
    "Flash": lambda ev: Flash(int(ev.ms)),
    "Ring": lambda ev: Ring(bool(ev.on)),
    "Polarity": lambda ev: Polarity(bool(ev.reversed)),
    "Battery": lambda ev: Battery(bool(ev.on)),
    "DigitDetected": lambda ev: DigitDetected(str(ev.digit)),
    "ToneDetected": lambda ev: ToneDetected(str(ev.tone)),
    "CallerIdReceived": lambda ev: CallerIdReceived(getattr(ev, "number", None),
                                                    getattr(ev, "name", None),
                                                    getattr(ev, "when", None)),
}


class AnalogPort:
    """Runs an :class:`Fxs` or :class:`Fxo` machine on a board port, on the board tick.

    Board events of this port (Hook, Flash, Ring, Polarity, Battery, ToneDone,
    and any event class named DigitDetected / ToneDetected / CallerIdReceived
    with a ``port`` field: the DSP's, when they exist) go to the machine by
    name; its commands go to the port (ring, polarity, battery, hook). Tones
    and DTMF dialling are played with the port's tone generator by a small
    sequencer (``TONE_PLANS``); caller-ID bursts and anything else the board
    cannot do itself go to ``dsp(port, command)`` when given, else wait in
    :attr:`unhandled` for the shell. Call events come back as
    :class:`AnalogCallEvent`.
    """

    def __init__(self, port, machine: Fxs | Fxo | None = None, *, tone_plan: str = "cn",
                 dsp=None, dtmf_on: float = 0.1, dtmf_off: float = 0.1,
                 dtmf_level: float = -7, board_dsp: bool = True, cid_mode: str = "bell202",
                 cid_standard: str = "etsi"):
        if machine is None:
            machine = Fxs() if port.kind == "fxs" else Fxo()
        if isinstance(machine, Fxs) != (port.kind == "fxs"):
            raise ValueError(f"port {port.number} is {port.kind}: give it a matching machine")
        if tone_plan not in TONE_PLANS:
            raise ValueError(f"tone plan must be one of {', '.join(TONE_PLANS)}, not {tone_plan!r}")
        self.port = port
        self.machine = machine
        self.tones = TONE_PLANS[tone_plan]
        self.dsp = dsp
        self.unhandled: list = []
        self._dtmf = (dtmf_on, dtmf_off, dtmf_level)
        self._seq: list[tuple[int, int, float, float]] = []   # (f1, f2, level, seconds); f1 0 = gap
        self._seq_i = 0
        self._seq_repeat = False
        self._seq_next: float | None = None
        self._seq_dtmf = False
        self._tick = 0
        self._out_later: list[Event] = []
        self._group: AnalogPorts | None = None
        # The board's DSP core: DTMF digits from the phone (FXS), caller ID and call
        # progress from the exchange (FXO), DTMF dialling and FSK caller ID out.
        self.board_dsp = board_dsp and hasattr(port, "detect")
        self.cid_mode = cid_mode
        from drivers import callerid
        self.cid_standard = callerid.Standard(cid_standard)
        self._assembler = callerid.MessageAssembler()
        self._dialling = False
        self._board_tone = False
        self._dtmf_cid: str | None = None
        if self.board_dsp:
            fsk = "fsk_v23" if cid_mode == "v23" else "fsk"
            port.detect(*(("dtmf",) if port.kind == "fxs" else ("dtmf", "cpt", fsk)))

    def _seq_start(self, now: float, segs, repeat: bool, dtmf: bool = False) -> None:
        self._seq = list(segs)
        self._seq_i = 0
        self._seq_repeat = repeat
        self._seq_dtmf = dtmf
        self._seq_next = now
        self._seq_step(now)

    def _seq_stop(self) -> None:
        if self._seq:
            self._seq = []
            self._seq_next = None
            self.port.tone(0, 0, -10, 0)

    def _seq_step(self, now: float) -> None:
        while self._seq and self._seq_next is not None and self._seq_next <= now + _EPS:
            if self._seq_i >= len(self._seq):
                if not self._seq_repeat:
                    self._seq, self._seq_next = [], None
                    if self._seq_dtmf:
                        self.machine.receive(now, ToneDone(True))
                    return
                self._seq_i = 0
            f1, f2, level, secs = self._seq[self._seq_i]
            self._seq_i += 1
            if secs < 0:
                self.port.tone(f1, f2, level, -1)
                self._seq_next = None
                return
            if f1:
                self.port.tone(f1, f2, level, int(round(secs * 1000)))
            self._seq_next += secs

    def _apply(self, now: float, cmd) -> None:
        p = self.port
        if isinstance(cmd, SetRing):
            p.ring(cmd.on)
        elif isinstance(cmd, SetPolarity):
            p.polarity(cmd.reversed)
        elif isinstance(cmd, SetBattery):
            p.battery(cmd.on)
        elif isinstance(cmd, Seize):
            p.hook(cmd.off_hook)
            if not cmd.off_hook:
                self._seq_stop()
                if self._board_tone:
                    p.progress_tone(None)
                    self._board_tone = False
        elif isinstance(cmd, StartTone) and self.board_dsp and cmd.name in _BOARD_TONES:
            # the board's call-progress generator, in the board's tone set
            self._seq_stop()
            p.progress_tone(cmd.name)
            self._board_tone = True
        elif isinstance(cmd, StartTone) and cmd.name in self.tones:
            f1, f2, level, cadence = self.tones[cmd.name]
            if not cadence:
                self._seq_start(now, [(f1, f2, level, -1)], repeat=False)
            else:
                segs = [(f1 if i % 2 == 0 else 0, f2, level, secs)
                        for i, secs in enumerate(cadence)]
                self._seq_start(now, segs, repeat=True)
        elif isinstance(cmd, StopTone):
            self._seq_stop()
            if self._board_tone:
                p.progress_tone(None)
                self._board_tone = False
        elif isinstance(cmd, DialDigits) and self.board_dsp:
            # the board's DTMF generator (Q.23); its ToneDone(what="dtmf") ends the dialling
            p.dtmf(cmd.digits)
            self._dialling = True
        elif isinstance(cmd, DialDigits) and self.dsp is None:
            on, off, level = self._dtmf
            segs = []
            for d in cmd.digits:
                f1, f2 = DTMF_FREQS[d]
                segs += [(f1, f2, level, on), (0, 0, level, off)]
            self._seq_start(now, segs, repeat=False, dtmf=True)
        elif isinstance(cmd, SendCallerId) and self.board_dsp:
            self._send_caller_id(cmd)
        elif isinstance(cmd, CancelCallerId) and self.board_dsp:
            pass        # a burst already on the line runs out by itself (a second or less)
        elif self.dsp is not None:
            self.dsp(self.port.number, cmd)
        else:
            self.unhandled.append((now, cmd))

    def _send_caller_id(self, cmd) -> None:
        """Caller ID towards the phone: an FSK burst (EN 300 659-3 MDMF, seizure and mark)
        or, for 'dtmf', the DTMF string (A...C) played before the first ring."""
        from drivers import callerid

        cid = callerid.CallerId(number=cmd.number or None, name=cmd.name or None,
                                number_absence=None if cmd.number else "O")
        if cmd.when == "dtmf":
            self.port.dtmf(callerid.dtmf_string(cid))
            return
        burst = callerid.fsk_burst(callerid.build_mdmf(cid), self.cid_standard)
        self.port.fsk(burst.bits(), self.cid_mode)

    def _dtmf_cid_in(self, now: float, digit: str) -> None:
        from drivers import callerid

        if digit.upper() in "AD":
            self._dtmf_cid = ""
        if self._dtmf_cid is None:
            return
        self._dtmf_cid += digit
        if digit.upper() in "C#" and len(self._dtmf_cid) > 1:
            cid = callerid.parse_dtmf(self._dtmf_cid)
            self._dtmf_cid = None
            if cid:
                self.machine.receive(now, CallerIdReceived(cid.number, None, "dtmf"))

    def _caller_id_in(self, now: float, data: bytes) -> None:
        for cid in self._assembler.feed(data):
            self.machine.receive(now, CallerIdReceived(cid.number, cid.name, "fsk"))

    def feed(self, now: float, event) -> None:
        """Give the machine one input directly (a DSP result the board does not carry);
        the call events it makes come out of the next :meth:`handle`."""
        self.machine.receive(now, event)
        self._out_later += self._pump(now)
        if self._group is not None:
            self._group.mark(self.port.number)

    def send(self, now: float, request) -> int | None:
        """A CTI request for this port; returns the call number for Alert / Dial. The
        port acts at once; the call events come out of the next :meth:`handle`."""
        call = self.machine.send(now, request)
        self._out_later += self._pump(now)
        if self._group is not None:
            self._group.mark(self.port.number)
        return call

    def handle(self, now: float, tick: int, events: list[Event]) -> list[Event]:
        self._tick = tick
        out, self._out_later = self._out_later, []
        n = self.port.number
        for ev in events:
            if isinstance(ev, AnalogCallEvent):
                continue
            name = type(ev).__name__
            if name == "ToneDone":
                if getattr(ev, "span", None) == 0 and getattr(ev, "timeslot", None) == n:
                    what = getattr(ev, "what", "tone")
                    if what == "dtmf" and self._dialling:
                        self._dialling = False
                        self.machine.receive(now, ToneDone(True))
                    elif what in ("tone", "play") and not self._seq:
                        # our sequencer's own segments end all the time
                        self.machine.receive(now, ToneDone(bool(ev.played)))
                continue
            if name == "FskData":
                if getattr(ev, "port", None) == n:
                    self._caller_id_in(now, ev.data)
                continue
            if name == "DigitDetected" and self.port.kind == "fxo" and \
                    getattr(ev, "port", None) == n and self.machine.state.value == "idle":
                # DTMF caller ID before the first ring (EN 300 659-1 annex: A/D...C)
                self._dtmf_cid_in(now, str(ev.digit))
                continue
            if getattr(ev, "port", None) != self.port.number or name not in _BOARD_INPUTS:
                continue
            self.machine.receive(now, _BOARD_INPUTS[name](ev))
        due = self.machine.get_timer()
        if due is not None and due <= now + _EPS:
            self.machine.handle_timer(now)
        out += self._pump(now)
        return out

    def next_wake(self) -> float | None:
        """The line time at which this port must run again with no event for it: its
        machine's next timer or its tone sequencer's next segment (None: neither)."""
        due = self.machine.get_timer()
        if self._seq and self._seq_next is not None and (due is None or self._seq_next < due):
            due = self._seq_next
        return due

    def _pump(self, now: float) -> list[Event]:
        for cmd in self.machine.commands():
            self._apply(now, cmd)
        self._seq_step(now)
        # a DTMF string that ended may have moved the machine on
        for cmd in self.machine.commands():
            self._apply(now, cmd)
        out = []
        ev = self.machine.next_event()
        while ev is not None:
            out.append(AnalogCallEvent(self._tick, self.port.number, ev))
            ev = self.machine.next_event()
        return out

    def status(self) -> dict:
        m = self.machine
        return {"port": self.port.number, "kind": self.port.kind, "state": m.state.value,
                "call": m.call, "counters": dict(m.counters)}


class AnalogPorts(LineGroup):
    """Every analog port of one board as one signalling handler on the board's tick.

    A tick's events go to the ports they name; a port runs only when it has an event,
    a due timer or tone segment, or output a request left for the next tick. A board
    with hundreds of idle agents' lines then costs next to nothing per tick, where one
    handler per port would look at every event of every port on every tick."""

    slack = _EPS

    def __init__(self) -> None:
        super().__init__()
        self.ports: dict[int, AnalogPort] = self.lines

    def add(self, ap: AnalogPort) -> None:
        n = ap.port.number
        self.add_line(n, ap, f"port {n} already runs analog signalling")

    def route(self, events: list[Event]) -> dict[int, list[Event]]:
        routed: dict[int, list[Event]] = {}
        ports = self.ports
        for ev in events:
            n = getattr(ev, "port", None)
            if n is None:
                if type(ev).__name__ != "ToneDone" or getattr(ev, "span", None) != 0:
                    continue
                n = getattr(ev, "timeslot", None)
            if n in ports and not isinstance(ev, AnalogCallEvent):
                routed.setdefault(n, []).append(ev)
        return routed

    def next_wake(self, ap: AnalogPort) -> float | None:
        return ap.next_wake()


def attach(board, ports=None, *, fxs: FxsConfig | None = None, fxo: FxoConfig | None = None,
           **kw) -> dict[int, AnalogPort]:
    """Run analog signalling on the board's ports (all, or the numbers in ``ports``), all
    of them under the board's one :class:`AnalogPorts` handler."""
    group = next((h for h in board._signalling if isinstance(h, AnalogPorts)), None)
    if group is None:
        group = AnalogPorts()
        board.attach_signalling(group)
    out = {}
    for number, port in board.ports.items():
        if ports is not None and number not in ports:
            continue
        machine = Fxs(fxs) if port.kind == "fxs" else Fxo(fxo)
        ap = AnalogPort(port, machine, **kw)
        group.add(ap)
        out[number] = ap
    return out
