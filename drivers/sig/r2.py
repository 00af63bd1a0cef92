"""China No.1 / ITU-T R2 signalling of one E1 CAS channel, both directions, sans-I/O.

One :class:`R2Channel` per timeslot, in the aioquic shape (STYLE.md)::

    ch.cas_changed(now, abcd)          # TS16 bits received (board CasChanged)
    ch.mfc_signal(now, digit)          # MFC detector: 1..15 recognised, 0 ceased
    ch.seize(now, "95105", ani="13800138000", category=1)
    ch.commands()   # -> [SetCas(abcd), SetMfc(digit | None, backward)]
    ch.next_event() # -> Offered / Accepted / Answered / Cleared / Blocked / ...
    ch.get_timer(); ch.handle_timer(now)

Line signalling (ITU-T Q.421 clause 3 table 1, "digital line signalling"). China
No.1 (GF 002-9002, 《邮电部电话交换网局间信令方式技术规范》, digital line signalling
in TS16) uses the same a/b code; the HP MSR R2 configuration guide tables "State
code of line signaling" and openr2's CN table (src/r2proto.c, same a/b signals as
ITU) agree. Forward bits af bf are sent by the outgoing end, backward bits ab bb
by the incoming end; the spare bits differ per variant (:attr:`R2Variant.cd`)::

    state           forward af bf   backward ab bb
    idle            1 0             1 0
    seizure         0 0             1 0
    seizure ack     0 0             1 1
    answered        0 0             0 1
    clear-back      0 0             1 1
    clear-forward   1 0             0 1 / 1 1
    release guard   1 0             1 0   (back to idle)
    blocked         1 0             1 1

cd: ITU ``01`` (Q.421 3.1.2). China ``11``: China's digital line signalling uses
three bits of the four (a, b and c; c is 1 except for the operator's
re-ring/forced-release and ring-back signals, which we do not use) and d is the
unused 1; openr2's CN variant sends c = d = 1 for the same reason. Received c d
bits are never interpreted (only a b are compared).

A change is recognised only after it has been stable for the recognition time
(Q.422 clause 2: 20 +- 10 ms), so the shell needs no debounce.

Register signalling: compelled MFC R2 (ITU-T Q.441 clause 4.3; Q.442 compelled
cycle): the outgoing register holds a forward tone until it recognises the
backward tone, then drops it; the incoming register drops its backward tone
when the forward tone ceases; the next forward tone starts only after the
backward tone has ceased. Signal meanings per variant are data
(:data:`VARIANTS`):

* ``itu`` (Q.441 tables 5 and 6): I-1..I-10 digits, I-15 end of pulsing;
  group II category (II-1 subscriber without priority); A-1 next digit, A-2
  last but one, A-3 address complete -> group B, A-4 congestion, A-5 send
  calling party's category (and, as national use / openr2 ITU, each ANI
  digit), A-6 address complete, charge, set-up speech; B-3 busy, B-4
  congestion, B-5 unallocated number, B-6 free charge, B-7 free no charge,
  B-8 out of order.
* ``cn`` (China No.1, GF 002-9002 register signalling, as far as it could be
  checked; sources in each table's comment): forward group I digits 1..10, KA
  (calling category, default 1 "ordinary") and the calling number ended by 15;
  KD (group II, default 3 "local call") after A-3. Backward A-1 send next digit
  (the same signal asks for the next calling-number digit), A-2 send again from
  the first digit, A-3 address complete -> group B (KB), A-4 congestion, A-5
  vacant number, A-6 send KA and the calling number; KB-1 called subscriber
  free (charge), KB-2 busy ("local busy"), KB-3 busy ("toll busy"), KB-4
  congestion, KB-5 vacant number, KB-6 free (taken here as no charge). The
  end of the called number is not signalled in China: no 15 after the DNIS
  (15 only ends the calling number); the incoming register knows the length or,
  when no further digit comes, sends A-3 (or A-6) as a pulse (Q.442 pulsed
  backward signal, 150 +- 50 ms; the "A3p" of Chinese board drivers). The ANI
  is asked for after the first DNIS digit or after the last (``ani_first``);
  where is the incoming exchange's choice.

Simplified (see the report): no pulsed backward signals in ``itu`` (there the
DNIS ends with I-15 or the configured ``dnis_length``); no metering pulses; glare
(double seizure on a both-way circuit: a seizure 00 received while our own
seizure awaits its acknowledge) is resolved by a static per-circuit priority
(``glare_priority``): the priority end ignores the far seizure and keeps
waiting for seizure acknowledge, the other end abandons its call
(Cleared(44)) and acknowledges the far seizure. Q.421's own text on
both-way operation was not at hand to cite the clause; exchanges commonly
give odd circuits to one end and even to the other, which is this. No
clear-back supervision timer before clear-forward (the outgoing end clears
at once on clear-back).
"""
from __future__ import annotations

import enum
from collections import Counter, deque
from dataclasses import dataclass, field, replace

__all__ = [
    "R2Variant", "R2Timers", "VARIANTS", "R2Channel", "R2State", "R2Error",
    "SetCas", "SetMfc",
    "Offered", "Accepted", "Answered", "Cleared", "Blocked", "Unblocked", "ProtocolError",
    "CAUSE_NORMAL", "CAUSE_BUSY", "CAUSE_UNALLOCATED", "CAUSE_NO_ANSWER", "CAUSE_CONGESTION",
    "CAUSE_CHANNEL_UNAVAILABLE", "CAUSE_TIMEOUT", "CAUSE_PROTOCOL", "CAUSE_OUT_OF_ORDER",
    "abcd",
]

# Q.850 cause values
CAUSE_UNALLOCATED = 1
CAUSE_NORMAL = 16
CAUSE_BUSY = 17
CAUSE_NO_ANSWER = 19
CAUSE_OUT_OF_ORDER = 27
CAUSE_CONGESTION = 34
CAUSE_CHANNEL_UNAVAILABLE = 44   # lost glare / blocked
CAUSE_TIMEOUT = 102
CAUSE_PROTOCOL = 41              # "temporary failure": the peer broke the sequence

I_15 = 15   # Q.441: end of pulsing (ST); China: end of ANI


def abcd(ab: int, cd: int = 0b01) -> int:
    """Four CAS bits from the two signalling bits (a, b) and the spare c, d."""
    return ((ab & 3) << 2) | (cd & 3)


# ---------------------------------------------------------------- commands
@dataclass(frozen=True)
class SetCas:
    """Transmit these abcd bits in TS16 for the channel (board ``Channel.cas_tx``)."""
    abcd: int


@dataclass(frozen=True)
class SetMfc:
    """Send a steady MFC R2 tone (``digit`` 1..15), or stop (None); ``backward`` group A/B."""
    digit: int | None
    backward: bool


# ---------------------------------------------------------------- events
@dataclass(frozen=True)
class Offered:
    """Incoming call: register signalling complete, awaiting accept()/reject()."""
    ani: str
    dnis: str
    category: int
    kd: int | None = None


@dataclass(frozen=True)
class Accepted:
    """Outgoing call: group B (or A-6) said the called subscriber is free."""
    charge: bool = True


@dataclass(frozen=True)
class Answered:
    """Answer: backward 01 recognised (outgoing) / sent (incoming)."""


@dataclass(frozen=True)
class Cleared:
    """The call is over; ``cause`` is a Q.850 value. Exactly one per call."""
    cause: int
    reason: str = ""


@dataclass(frozen=True)
class Blocked:
    """The far end blocked the circuit (backward 11 on an idle circuit)."""


@dataclass(frozen=True)
class Unblocked:
    """The far end unblocked the circuit."""


@dataclass(frozen=True)
class ProtocolError:
    """The peer sent something out of sequence (counted; the call may go on)."""
    text: str


class R2Error(Exception):
    """A request the local user made in the wrong state (h11's LocalProtocolError)."""


# ---------------------------------------------------------------- variants
@dataclass(frozen=True)
class R2Timers:
    """Timer values in seconds.

    recognition: Q.422 clause 2 (20 +- 10 ms). mfc_step: each wait in the
    compelled cycle (Q.476 recommends the outgoing register give up after
    15 s in all; per step 3..15 s is common practice). seize_ack: Q.421
    gives none for digital signalling; exchanges use 1..2 s before an alarm.
    decision: the incoming side's application must accept/reject before the
    outgoing register's mfc_step runs out. answer: ring-no-answer (60 s
    typical, Q.118). release_guard: outgoing waits for idle 10 after
    clear-forward (Q.421 table 1 note: release guard). clear_forward:
    incoming waits after clear-back/reject before it frees the circuit
    itself. block_guard: how long release guard (10) is held before
    blocking (11) when the circuit was blocked during a call (5 x the
    recognition time, so the far end sees it). end_of_address: how long
    the incoming register waits for a further DNIS digit before it takes the
    number as complete and sends the next request as a pulse (variants with
    ``dnis_end_pulse``; openr2's mf_back_cycle default, 2 s). pulse: length
    of a pulsed backward signal (Q.442: 150 +- 50 ms).
    """
    recognition: float = 0.020
    seize_ack: float = 2.0
    mfc_step: float = 5.0
    decision: float = 3.0
    answer: float = 60.0
    release_guard: float = 2.0
    clear_forward: float = 30.0
    block_guard: float = 0.1
    end_of_address: float = 2.0
    pulse: float = 0.15


@dataclass(frozen=True)
class R2Variant:
    """Everything that differs between R2 variants, in one table."""
    name: str
    # line signalling: ab codes (Q.421 table 1)
    fwd_idle: int = 0b10
    fwd_seizure: int = 0b00
    fwd_clear_forward: int = 0b10
    bwd_idle: int = 0b10
    bwd_seize_ack: int = 0b11
    bwd_answered: int = 0b01
    bwd_clear_back: int = 0b11
    bwd_blocked: int = 0b11
    cd: int = 0b01                   # spare c d bits sent (ITU 01, Q.421 3.1.2; China 11)
    # group A meanings (backward, received by the outgoing register)
    group_a: dict = field(default_factory=dict)
    # group B meanings
    group_b: dict = field(default_factory=dict)
    # tones the incoming register sends
    a_next_digit: int = 1
    a_address_complete: int = 3
    a_congestion: int = 4
    a_send_category: int = 5
    a_next_ani: int = 5
    b_free_charge: int = 6
    b_free_no_charge: int = 7
    b_busy: int = 3
    b_congestion: int = 4
    b_vacant: int = 5
    # sequence
    # what the outgoing register sends when asked for a DNIS digit it does not
    # have: I-15 (Q.441 end of pulsing), or nothing (China: the incoming
    # register then sends as a pulse, ``dnis_end_pulse``)
    dnis_end_signal: int | None = I_15
    dnis_end_pulse: bool = False
    kd_after_a3: bool = False        # China: KD (group II) after A-3; ITU: category again
    default_category: int = 1
    default_kd: int = 3
    ani_first: bool = False          # ask for ANI after the first DNIS digit
    request_ani: bool = True
    max_ani: int = 20
    max_dnis: int = 20
    timers: R2Timers = R2Timers()

    def line(self, ab: int) -> int:
        return abcd(ab, self.cd)


VARIANTS: dict[str, R2Variant] = {
    "itu": R2Variant(
        name="itu",
        group_a={1: "next_digit", 2: "last_but_one", 3: "address_complete_b", 4: "congestion",
                 5: "send_category", 6: "address_complete_charge", 7: "last_but_two",
                 8: "last_but_three", 15: "congestion"},
        group_b={3: "busy", 4: "congestion", 5: "vacant", 6: "free_charge",
                 7: "free_no_charge", 8: "out_of_order"},
        a_send_category=5, a_next_ani=5,
        b_free_charge=6, b_free_no_charge=7, b_busy=3, b_congestion=4, b_vacant=5,
        kd_after_a3=False, default_category=1, ani_first=False,
    ),
    # China No.1, GF 002-9002. Checked against (URLs in the report):
    # * call flow of a Chinese voice gateway (blog.licaiwang.info/?p=264): each
    #   DNIS digit acknowledged with A1; A6 asks for KA and the calling number;
    #   A1 after KA and after each calling-number digit; 15 after the last
    #   calling-number digit; A3 "change to group B"; KD; B1 called free.
    # * Synway SynCTI SDK (shpa3api.h, e.g. github.com/ermez/IPRecorder_Base;
    #   JNA copy github.com/Charsp/Autoalarm SHP_A3.java): A4 congestion (机键拥塞), A5 vacant
    #   number (空号), KB2 busy "local" (市忙), KB3 busy "toll" (长忙), KB4
    #   congestion, KB5 vacant number, KB1 or KB6 called subscriber free; KB1
    #   used "with charge" (计费); pulsed A3 ("A3p") states.
    # * Donjin Keygoe SDK (DJAcsDataDef.h, CmdParamData_CAS_t): outgoing
    #   defaults KA = 1, KD = 3; the incoming side asks for the calling number
    #   after a configured number of DNIS digits (m_u8AreaCodeLen).
    # * openr2 CN (src/r2proto.c): A-1 next ANI digit, A-6 category, KB-1
    #   accept with charge, KB-2 busy, no end-of-DNIS signal, c d = 11.
    # * Dialogic 6.2 manual, "Enabling the R2 Protocol": a China variant uses
    #   A-1 for both the next ANI digit and the next DNIS digit.
    # Not confirmed by a source: A-2 "from the first digit" (openr2 keeps ITU's
    # last-but-one), KB-6 being "free, no charge".
    "cn": R2Variant(
        name="cn",
        cd=0b11,
        group_a={1: "next_digit", 2: "restart", 3: "address_complete_b", 4: "congestion",
                 5: "vacant", 6: "send_category"},
        group_b={1: "free_charge", 2: "busy", 3: "busy", 4: "congestion", 5: "vacant",
                 6: "free_no_charge"},
        a_send_category=6, a_next_ani=1,
        b_free_charge=1, b_free_no_charge=6, b_busy=2, b_congestion=4, b_vacant=5,
        dnis_end_signal=None, dnis_end_pulse=True,
        kd_after_a3=True, default_category=1, default_kd=3, ani_first=True,
    ),
}

_B_CAUSE = {"busy": CAUSE_BUSY, "congestion": CAUSE_CONGESTION, "vacant": CAUSE_UNALLOCATED,
            "out_of_order": CAUSE_OUT_OF_ORDER}


class R2State(enum.Enum):
    IDLE = "idle"
    SEIZED = "seized"                 # outgoing: seizure sent, awaiting seizure acknowledge
    OUT_REGISTER = "out_register"     # outgoing: compelled MFC
    IN_REGISTER = "in_register"       # incoming: seizure acknowledged, compelled MFC
    OFFERED = "offered"               # incoming: KD held, awaiting accept()/reject()
    ACCEPTED = "accepted"             # subscriber free, awaiting answer
    ANSWERED = "answered"
    CLEAR_BACK = "clear_back"         # incoming: clear-back/reject sent, awaiting clear-forward
    RELEASING = "releasing"           # outgoing: clear-forward sent, awaiting release guard
    BLOCKED = "blocked"               # blocked by us
    REMOTE_BLOCKED = "remote_blocked"


def _digit_tone(ch: str) -> int:
    # ASCII digits only: str.isdigit() takes "１" and "٣" too, which no MF tone is
    if len(ch) != 1 or ch not in "0123456789":
        raise R2Error(f"not a digit: {ch!r}")
    return 10 if ch == "0" else int(ch)


def _tone_digit(tone: int) -> str:
    return "0" if tone == 10 else str(tone)


class R2Channel:
    """One E1 CAS channel speaking R2 (China No.1 by default), either direction."""

    def __init__(self, variant: R2Variant | str = "cn", *, side: str = "both",
                 dnis_length: int | None = None, timers: R2Timers | dict | None = None,
                 glare_priority: bool = False, ani_first: bool | None = None):
        if isinstance(variant, str):
            variant = VARIANTS[variant]
        if ani_first is not None:
            variant = replace(variant, ani_first=ani_first)
        if side not in ("incoming", "outgoing", "both"):
            raise ValueError(f"side must be incoming, outgoing or both, not {side!r}")
        if isinstance(timers, dict):
            timers = replace(variant.timers, **timers)
        self.variant = variant
        self.side = side
        self.dnis_length = dnis_length
        self.timers: R2Timers = timers or variant.timers
        self.glare_priority = glare_priority
        self.state = R2State.IDLE
        self.direction: str | None = None          # "outgoing" / "incoming" during a call
        self.counters: Counter = Counter()
        self._events: deque = deque()
        self._commands: list = []
        self._timers: dict[str, float] = {}
        self.tx_abcd = variant.line(variant.fwd_idle)
        self.rx_abcd = variant.line(variant.bwd_idle)   # recognised
        self._rx_pending: int | None = None
        self.mfc_tx: int | None = None                   # tone we send
        self.mfc_rx: int | None = None                   # tone we detect (0 -> None)
        self.mfc_pulse = False                           # mfc_tx is a pulsed signal (Q.442)
        self._local_block = False
        self._remote_block = False
        self._call = False
        self._reset_call()

    # ------------------------------------------------------------ plumbing
    def _reset_call(self):
        self.dnis = ""
        self.ani = ""
        self.category = self.variant.default_category
        self.kd: int | None = None
        # outgoing register
        self._out_dnis = ""
        self._out_ani = ""
        self._out_category = self.variant.default_category
        self._out_kd = self.variant.default_kd
        self._idx = 0
        self._ani_idx = 0
        self._mode = "dnis"          # dnis / category / ani / kd
        self._sub = ""
        self._pending_bw: int | None = None
        self._deferred = 0
        self._group = "A"
        # incoming register
        self._dnis_done = False
        self._ani_done = False
        self._last_bw: int | None = None
        self._final: str | None = None

    def next_event(self):
        return self._events.popleft() if self._events else None

    def commands(self) -> list:
        out, self._commands = self._commands, []
        return out

    def get_timer(self) -> float | None:
        return min(self._timers.values()) if self._timers else None

    def _start(self, name: str, now: float, delay: float):
        self._timers[name] = now + delay

    def _stop(self, *names: str):
        for n in names:
            self._timers.pop(n, None)

    def _set_cas(self, ab: int):
        v = self.variant.line(ab)
        if v != self.tx_abcd:
            self.tx_abcd = v
            self._commands.append(SetCas(v))

    def _set_mfc(self, digit: int | None, pulse: bool = False):
        self.mfc_pulse = pulse and digit is not None
        if digit != self.mfc_tx:
            self.mfc_tx = digit
            self._commands.append(SetMfc(digit, backward=self.direction == "incoming"))
            self.counters["mfc_tx"] += digit is not None

    @property
    def rx_ab(self) -> int:
        return (self.rx_abcd >> 2) & 3

    def _error(self, text: str):
        self.counters["protocol_errors"] += 1
        self._events.append(ProtocolError(text))

    def _begin_call(self, direction: str):
        self._call = True
        self.direction = direction
        self.counters["calls"] += 1
        self.counters[f"calls_{direction}"] += 1

    def _end_call(self, cause: int, reason: str):
        """Report the end of the call once; the line may still be clearing."""
        if self._call:
            self._call = False
            self.counters["cleared"] += 1
            self._events.append(Cleared(cause, reason))

    # ------------------------------------------------------------ requests
    def seize(self, now: float, dnis: str, ani: str = "", category: int | None = None,
              kd: int | None = None) -> None:
        """Start an outgoing call: send seizure (forward 00, Q.421 table 1)."""
        if self.side == "incoming":
            raise R2Error("channel is incoming-only")
        if self.state is not R2State.IDLE:
            raise R2Error(f"cannot seize in state {self.state.name}")
        for c in dnis + ani:
            _digit_tone(c)
        if not dnis:
            raise R2Error("empty DNIS")
        self._reset_call()
        self._out_dnis = dnis[: self.variant.max_dnis]
        self._out_ani = ani[: self.variant.max_ani]
        self._out_category = self.variant.default_category if category is None else category
        self._out_kd = self.variant.default_kd if kd is None else kd
        self._begin_call("outgoing")
        self.state = R2State.SEIZED
        self._set_cas(self.variant.fwd_seizure)
        self._start("seize_ack", now, self.timers.seize_ack)

    def accept(self, now: float, *, free: bool = True, charge: bool = True) -> None:
        """Incoming: the called subscriber is free: send group B free (KB-1/B-6, or no charge)."""
        if not free:
            return self.reject(now, "busy")
        self._decide(now, "free_charge" if charge else "free_no_charge")

    def reject(self, now: float, cause: str = "busy") -> None:
        """Incoming: refuse with group B busy / vacant / congestion."""
        if cause not in ("busy", "vacant", "congestion"):
            raise R2Error(f"unknown reject cause {cause!r}")
        self._decide(now, cause)

    def _decide(self, now: float, what: str):
        if self.state is not R2State.OFFERED:
            raise R2Error(f"no offered call (state {self.state.name})")
        v = self.variant
        tone = {"free_charge": v.b_free_charge, "free_no_charge": v.b_free_no_charge,
                "busy": v.b_busy, "vacant": v.b_vacant, "congestion": v.b_congestion}[what]
        self._stop("decision")
        self._final = what
        self.state = R2State.IN_REGISTER
        self._send_backward(now, tone)

    def answer(self, now: float) -> None:
        """Incoming: the called party answered: send answer (backward 01)."""
        if self.direction != "incoming" or self.state not in (R2State.ACCEPTED,
                                                              R2State.CLEAR_BACK) \
                or not self._call:
            raise R2Error(f"cannot answer in state {self.state.name}")
        self._stop("answer", "clear_forward")
        self.state = R2State.ANSWERED
        self._set_cas(self.variant.bwd_answered)
        self._events.append(Answered())

    def hangup(self, now: float) -> None:
        """Clear the call: clear-forward (outgoing) or clear-back (incoming)."""
        if self.direction == "outgoing":
            self._end_call(CAUSE_NORMAL, "local hangup")
            self._clear_forward(now)
        elif self.direction == "incoming":
            if self.state is R2State.OFFERED:
                self.reject(now, "congestion")
                return
            self._end_call(CAUSE_NORMAL, "local hangup")
            self._clear_back(now)

    def block(self, now: float) -> None:
        """Block the circuit: backward 11 on the idle circuit (Q.421 table 1)."""
        self._local_block = True
        if self.state in (R2State.IDLE, R2State.REMOTE_BLOCKED):
            self._to_idle(now)

    def unblock(self, now: float) -> None:
        self._local_block = False
        if self.state is R2State.BLOCKED:
            self._to_idle(now)

    # ------------------------------------------------------------ line signalling
    def cas_changed(self, now: float, abcd_bits: int) -> None:
        """Bits received in TS16; acted on once stable for the recognition time."""
        self.counters["cas_rx"] += 1
        if (abcd_bits >> 2) & 3 == self.rx_ab:
            self._rx_pending = None
            self._stop("recognition")
            self.rx_abcd = abcd_bits
            return
        self._rx_pending = abcd_bits
        self._start("recognition", now, self.timers.recognition)

    def _recognised(self, now: float):
        new = self._rx_pending
        self._rx_pending = None
        if new is None:
            return
        self.rx_abcd = new
        self.counters["cas_recognised"] += 1
        self._line_event(now, (new >> 2) & 3)

    def _line_event(self, now: float, ab: int):
        v, s = self.variant, self.state
        if s in (R2State.IDLE, R2State.BLOCKED, R2State.REMOTE_BLOCKED):
            self._idle_line(now, ab)
            return
        if self.direction == "outgoing":
            if s is R2State.SEIZED:
                if ab == v.bwd_seize_ack:
                    self._stop("seize_ack")
                    self.state = R2State.OUT_REGISTER
                    self._mode = "dnis"
                    self._send_forward(now, self._next_dnis())
                elif ab == v.fwd_seizure:
                    # double seizure (glare): both ends sent 00
                    self.counters["glare"] += 1
                    if not self.glare_priority:
                        self._end_call(CAUSE_CHANNEL_UNAVAILABLE, "glare: yielded")
                        self._stop("seize_ack")
                        self._reset_call()
                        self.direction = None
                        self._incoming_seizure(now)
                elif ab != v.bwd_idle:
                    self._error(f"unexpected backward {ab:02b} awaiting seizure acknowledge")
            elif s in (R2State.OUT_REGISTER, R2State.ACCEPTED, R2State.ANSWERED):
                if ab == v.bwd_answered:
                    if s is R2State.ACCEPTED:
                        self._stop("answer")
                        self.state = R2State.ANSWERED
                        self._events.append(Answered())
                    elif s is R2State.OUT_REGISTER:
                        self._error("answer during register signalling")
                elif ab == v.bwd_clear_back:
                    if s is R2State.ANSWERED:
                        self._end_call(CAUSE_NORMAL, "clear-back")
                        self._clear_forward(now)
                    elif s is R2State.ACCEPTED:
                        # clear-back before answer: the incoming end gave up
                        self._end_call(CAUSE_NORMAL, "clear-back before answer")
                        self._clear_forward(now)
                elif ab == v.bwd_idle:
                    self._error("backward idle during a call")
                    self._end_call(CAUSE_PROTOCOL, "backward idle during call")
                    self._clear_forward(now)
                else:
                    self._error(f"unexpected backward {ab:02b}")
            elif s is R2State.RELEASING:
                if ab == v.bwd_idle:   # release guard
                    self._to_idle(now)
        else:  # incoming
            if ab == v.fwd_clear_forward:
                self._end_call(CAUSE_NORMAL, "clear-forward")
                self._set_mfc(None)
                self._to_idle(now)   # release guard: backward 10
            elif ab != v.fwd_seizure:
                self._error(f"unexpected forward {ab:02b}")

    def _idle_line(self, now: float, ab: int):
        v = self.variant
        if ab == v.bwd_blocked:
            if not self._remote_block:
                self._remote_block = True
                self._events.append(Blocked())
            self._to_idle(now)
        elif ab == v.bwd_idle:
            if self._remote_block:
                self._remote_block = False
                self._events.append(Unblocked())
            self._to_idle(now)
        elif ab == v.fwd_seizure:
            if self._remote_block:
                self._remote_block = False
                self._events.append(Unblocked())
            if self._local_block or self.side == "outgoing":
                self.counters["seizure_refused"] += 1
                self._to_idle(now)
                return
            self._incoming_seizure(now)
        else:
            self.counters["line_ignored"] += 1

    def _incoming_seizure(self, now: float):
        self._reset_call()
        self._begin_call("incoming")
        self.state = R2State.IN_REGISTER
        self._mode = "dnis"
        self._sub = "await_fwd"
        self._set_mfc(None)
        self._set_cas(self.variant.bwd_seize_ack)
        self._start("mfc", now, self.timers.mfc_step)

    def _clear_forward(self, now: float):
        self._stop(*[n for n in self._timers if n != "recognition"])
        self._set_mfc(None)
        self.state = R2State.RELEASING
        self._set_cas(self.variant.fwd_clear_forward)
        if self.rx_ab == self.variant.bwd_idle and self._rx_pending is None:
            self._to_idle(now)
        else:
            self._start("release_guard", now, self.timers.release_guard)

    def _clear_back(self, now: float):
        self._stop(*[n for n in self._timers if n != "recognition"])
        self._set_mfc(None)
        self.state = R2State.CLEAR_BACK
        self._set_cas(self.variant.bwd_clear_back)
        if self.rx_ab == self.variant.fwd_clear_forward and self._rx_pending is None:
            self._to_idle(now)
        else:
            self._start("clear_forward", now, self.timers.clear_forward)

    def _to_idle(self, now: float):
        """Back to idle (release guard sent / received), then blocking states."""
        v = self.variant
        self._stop(*[n for n in self._timers if n != "recognition"])
        self._set_mfc(None)
        was_incoming = self.direction == "incoming"
        self.direction = None
        self._reset_call()
        if self.rx_ab == v.bwd_blocked and self._rx_pending is None and not self._remote_block:
            # the far end left its backward 11 on after the call: it is blocking
            self._remote_block = True
            self._events.append(Blocked())
        if self._local_block:
            self.state = R2State.BLOCKED
            if was_incoming:
                # release guard first (idle 10, held long enough to be recognised),
                # then blocking 11 (Q.421 table 1: blocking is sent on an idle circuit)
                self._set_cas(v.bwd_idle)
                self._start("block_guard", now, self.timers.block_guard)
            else:
                self._set_cas(v.bwd_blocked)
        else:
            self.state = R2State.REMOTE_BLOCKED if self._remote_block else R2State.IDLE
            self._set_cas(v.fwd_idle)

    # ------------------------------------------------------------ register signalling
    def mfc_signal(self, now: float, digit: int) -> None:
        """MFC detector output: 1..15 a tone recognised, 0 the tone ceased."""
        if not 0 <= digit <= 15:
            self._error(f"bad MFC digit {digit}")
            return
        prev = self.mfc_rx
        self.mfc_rx = digit or None
        if digit and prev is not None and digit != prev:
            self.counters["mfc_changed_without_cease"] += 1
        if self.state is R2State.OUT_REGISTER:
            self._out_mfc(now, digit)
        elif self.state in (R2State.IN_REGISTER, R2State.OFFERED):
            self._in_mfc(now, digit)
        else:
            self.counters["mfc_ignored"] += 1

    # outgoing register
    def _send_forward(self, now: float, tone: int):
        self._start("mfc", now, self.timers.mfc_step)
        if self.mfc_rx is not None:
            # a backward tone is (still, or spuriously) on: a new forward tone
            # would be taken as acknowledged at once; wait until it ceases
            self._deferred = tone
            self._sub = "await_clear"
            self.counters["mfc_deferred"] += 1
            return
        self._set_mfc(tone)
        self._sub = "await_ack"

    def _next_dnis(self) -> int | None:
        """The next DNIS digit; past the last one the variant's end signal (None: none)."""
        if self._idx < len(self._out_dnis):
            t = _digit_tone(self._out_dnis[self._idx])
            self._idx += 1
            return t
        return self.variant.dnis_end_signal

    def _send_dnis(self, now: float):
        t = self._next_dnis()
        if t is None:
            # China No.1: nothing more to send; stay silent until the incoming
            # register sends its next request as a pulse (Q.442)
            self._sub = "await_ack"
            self.counters["await_pulse"] += 1
            self._start("mfc", now, self.timers.mfc_step)
        else:
            self._send_forward(now, t)

    def _out_mfc(self, now: float, digit: int):
        if self._sub == "await_ack":
            if digit:
                self._pending_bw = digit
                self._set_mfc(None)          # compelled: drop forward on acknowledgement
                self._sub = "await_cease"
                self._start("mfc", now, self.timers.mfc_step)
            else:
                self.counters["mfc_extra"] += 1
        elif self._sub == "await_cease":
            if digit == 0:
                bw, self._pending_bw = self._pending_bw, None
                self._out_act(now, bw)
            else:
                self.counters["mfc_extra"] += 1
        elif self._sub == "await_clear":
            if digit == 0:
                self._send_forward(now, self._deferred)
            else:
                self.counters["mfc_extra"] += 1
        else:
            self.counters["mfc_extra"] += 1

    def _out_act(self, now: float, bw: int):
        """Act on a backward signal once it has ceased (Q.442 compelled cycle)."""
        v = self.variant
        if self._group == "B":
            meaning = v.group_b.get(bw)
            if meaning in ("free_charge", "free_no_charge"):
                self._stop("mfc")
                self.state = R2State.ACCEPTED
                self._sub = ""
                self._events.append(Accepted(charge=meaning == "free_charge"))
                self._start("answer", now, self.timers.answer)
            elif meaning in _B_CAUSE:
                self._end_call(_B_CAUSE[meaning], f"group B-{bw} {meaning}")
                self._clear_forward(now)
            else:
                self._error(f"unknown group B signal {bw}")
                self._end_call(CAUSE_PROTOCOL, f"unknown B-{bw}")
                self._clear_forward(now)
            return
        if self._mode == "ani" and bw == v.a_next_ani:
            if self._ani_idx < len(self._out_ani):
                t = _digit_tone(self._out_ani[self._ani_idx])
                self._ani_idx += 1
            else:
                t = I_15
                self._mode = "dnis"
            self._send_forward(now, t)
            return
        meaning = v.group_a.get(bw)
        if meaning == "next_digit":
            self._mode = "dnis"
            self._send_dnis(now)
        elif meaning in ("last_but_one", "last_but_two", "last_but_three"):
            back = {"last_but_one": 2, "last_but_two": 3, "last_but_three": 4}[meaning]
            i = self._idx - back
            if i < 0:
                self._error(f"A-{bw}: no such digit")
                self._end_call(CAUSE_PROTOCOL, f"A-{bw} out of range")
                self._clear_forward(now)
                return
            self._idx = i
            self._send_dnis(now)
        elif meaning == "restart":
            self._idx = 0
            self._send_dnis(now)
        elif meaning == "send_category":
            self._mode = "ani" if v.request_ani else "dnis"
            self._send_forward(now, self._out_category)
        elif meaning == "address_complete_b":
            self._group = "B"
            self._mode = "kd"
            self._send_forward(now, self._out_kd if v.kd_after_a3 else self._out_category)
        elif meaning == "address_complete_charge":
            self._stop("mfc")
            self.state = R2State.ACCEPTED
            self._events.append(Accepted(charge=True))
            self._start("answer", now, self.timers.answer)
        elif meaning == "congestion":
            self._end_call(CAUSE_CONGESTION, f"A-{bw} congestion")
            self._clear_forward(now)
        elif meaning == "vacant":
            self._end_call(CAUSE_UNALLOCATED, f"A-{bw} vacant number")
            self._clear_forward(now)
        else:
            self._error(f"unknown group A signal {bw}")
            self._end_call(CAUSE_PROTOCOL, f"unknown A-{bw}")
            self._clear_forward(now)

    # incoming register
    def _send_backward(self, now: float, tone: int):
        self._last_bw = tone
        self._set_mfc(tone)
        self._sub = "await_fwd_cease"
        self._start("mfc", now, self.timers.mfc_step)

    def _dnis_complete(self) -> bool:
        n = len(self.dnis)
        return self._dnis_done or n >= self.variant.max_dnis or (
            self.dnis_length is not None and n >= self.dnis_length)

    def _after_dnis_digit(self) -> int:
        v = self.variant
        if not self._ani_done and v.request_ani and (
                (v.ani_first and len(self.dnis) == 1) or self._dnis_complete()):
            self._mode = "category"
            return v.a_send_category
        if self._dnis_complete():
            self._mode = "kd"
            return v.a_address_complete
        return v.a_next_digit

    def _arm_end_of_address(self, now: float):
        """China No.1: no end-of-DNIS signal; silence after a DNIS request ends the number."""
        v = self.variant
        if (v.dnis_end_pulse and self._mode == "dnis" and self.dnis
                and not self._dnis_complete()):
            self._stop("mfc")
            self._start("end_of_address", now, self.timers.end_of_address)

    def _in_mfc(self, now: float, digit: int):
        v = self.variant
        if self._sub == "pulse":
            if not digit:
                self.counters["mfc_extra"] += 1
                return
            # the outgoing register answered our pulse before it ended
            self._stop("pulse")
            self._set_mfc(None)
            self._sub = "await_fwd"
        if self._sub == "await_fwd":
            if not digit:
                self.counters["mfc_extra"] += 1
                return
            self._stop("end_of_address")
            if self._mode == "dnis":
                if 1 <= digit <= 10:
                    self.dnis += _tone_digit(digit)
                    bw = self._after_dnis_digit()
                elif digit == I_15:
                    self._dnis_done = True
                    bw = self._after_dnis_digit()
                else:
                    self._error(f"unexpected group I signal {digit}")
                    bw = v.a_congestion
                    self._final = "congestion"
            elif self._mode == "category":
                self.category = digit
                self._mode = "ani"
                bw = v.a_next_ani
            elif self._mode == "ani":
                if 1 <= digit <= 10:
                    if len(self.ani) < v.max_ani:
                        self.ani += _tone_digit(digit)
                    bw = v.a_next_ani
                else:   # I-15 end of ANI (I-12: restricted)
                    self._ani_done = True
                    self._mode = "dnis"
                    bw = self._after_dnis_digit() if self._dnis_complete() else v.a_next_digit
            else:  # kd: group II; the decision is the user's
                self.kd = digit
                self._stop("mfc")
                self.state = R2State.OFFERED
                self._sub = "await_decision"
                self._start("decision", now, self.timers.decision)
                self._events.append(Offered(self.ani, self.dnis, self.category,
                                            digit if v.kd_after_a3 else None))
                return
            self._send_backward(now, bw)
        elif self._sub == "await_fwd_cease":
            if digit:
                self.counters["mfc_extra"] += 1
                return
            self._set_mfc(None)
            if self._final is not None:
                self._in_finish(now)
            elif self._last_bw == v.a_congestion:
                self._in_finish(now)
            else:
                self._sub = "await_fwd"
                self._start("mfc", now, self.timers.mfc_step)
                self._arm_end_of_address(now)
        elif self._sub == "await_decision":
            if digit == 0:
                # forward KD ceased before our B signal: outgoing gave up
                self.counters["mfc_extra"] += 1
        else:
            self.counters["mfc_extra"] += 1

    def _in_finish(self, now: float):
        """Register signalling over on the incoming side (our B signal acknowledged)."""
        self._stop("mfc")
        self._sub = ""
        final = self._final or "congestion"
        if final in ("free_charge", "free_no_charge"):
            self.state = R2State.ACCEPTED
            self._start("answer", now, self.timers.answer + self.timers.release_guard)
        else:
            self._end_call(_B_CAUSE[final], f"rejected: {final}")
            self._clear_back(now)

    # ------------------------------------------------------------ timers
    def handle_timer(self, now: float) -> None:
        for name, when in sorted(self._timers.items(), key=lambda kv: kv[1]):
            if when <= now + 1e-9 and self._timers.get(name) == when:
                del self._timers[name]
                self._timeout(now, name)

    def _timeout(self, now: float, name: str):
        self.counters[f"timeout_{name}"] += 1
        if name == "recognition":
            self._recognised(now)
        elif name == "seize_ack":
            self._end_call(CAUSE_TIMEOUT, "no seizure acknowledge")
            self._clear_forward(now)
        elif name == "mfc":
            if self.direction == "outgoing":
                self._end_call(CAUSE_TIMEOUT, f"register timeout ({self._sub})")
                self._clear_forward(now)
            else:
                self._end_call(CAUSE_TIMEOUT, f"register timeout ({self._sub})")
                self._clear_back(now)
        elif name == "decision":
            self._decide(now, "congestion")
        elif name == "answer":
            if self.direction == "outgoing":
                self._end_call(CAUSE_NO_ANSWER, "no answer")
                self._clear_forward(now)
            else:
                self._end_call(CAUSE_NO_ANSWER, "no answer")
                self._clear_back(now)
        elif name == "end_of_address":
            if self.state is R2State.IN_REGISTER and self._sub == "await_fwd" \
                    and self._mode == "dnis":
                # the number is complete: ask for KA/ANI or KD, pulsed
                self._dnis_done = True
                bw = self._after_dnis_digit()
                self._last_bw = bw
                self._set_mfc(bw, pulse=True)
                self._sub = "pulse"
                self._start("pulse", now, self.timers.pulse)
            elif self.state is R2State.IN_REGISTER:
                self._start("mfc", now, self.timers.mfc_step)   # never left without a timer
        elif name == "pulse":
            if self._sub == "pulse":
                self._set_mfc(None)
                self._sub = "await_fwd"
                self._start("mfc", now, self.timers.mfc_step)
        elif name == "block_guard":
            if self.state is R2State.BLOCKED:
                self._set_cas(self.variant.bwd_blocked)
        elif name in ("release_guard", "clear_forward"):
            self.counters["release_forced"] += 1
            self._to_idle(now)
