"""The world around our board: a simulated exchange, E1 cables, phones and lines.

``SimWorld`` builds three software boards from the same C code:

* ``board``: ours, the one the server owns (E1 spans, FXS and FXO ports);
* ``exchange``: the central office at the far end of every E1 cable, with
  an FXS-kind port feeding each of our FXO ports (a CO line); on PRI spans
  it runs the network side of Q.921/Q.931 (``calls``: offers calls, plays
  the PSTN for the calls we place, counts congestion);
* ``phones``: an agent's phone (an FXO-kind port) on each of our FXS ports.

Faults are injected on the cables themselves (``Cable.fault``), so every
alarm and counter above comes from real bits. Timing runs on the board
tick: ``after(ms, fn)`` schedules simulator actions in line time.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable

from drivers.board import (Battery, Board, DigitDetected, Event, FskData, Hook, Ring,
                           SpanConfig, ToneDetected)
from drivers.hal import check, ffi, lib

__all__ = ["SimWorld", "Cable", "Phone", "COLine", "DIRECTIONS"]

DIRECTIONS = {
    "to_exchange": lib.HAL_SIM_A_TO_B,
    "to_board": lib.HAL_SIM_B_TO_A,
    "both": lib.HAL_SIM_BOTH,
}


@dataclass
class _Fault:
    los: bool = False
    ais: bool = False
    lof: bool = False
    ber: float = 0.0
    code_errors: float = 0.0
    clock_ppm: float = 0.0

    def active(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


class Cable:
    """A virtual E1 cable: our span (end A) to the exchange's span (end B)."""

    def __init__(self, world: "SimWorld", span: int, delay_bits: int, seed: int):
        self.span = span
        self._world = world
        err = ffi.new("int *")
        c = lib.hal_sim_cable_connect(world.board._b, span, world.exchange._b, span, delay_bits,
                                      seed, err)
        if c == ffi.NULL:
            check(err[0] or lib.HAL_EINVAL, f"connect cable to span {span}")
        self._c = c
        self._faults = {lib.HAL_SIM_A_TO_B: _Fault(), lib.HAL_SIM_B_TO_A: _Fault()}

    @staticmethod
    def _dirs(direction: str) -> list[int]:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        d = DIRECTIONS[direction]
        return [x for x in (lib.HAL_SIM_A_TO_B, lib.HAL_SIM_B_TO_A) if d & x]

    def fault(self, *, los: bool | None = None, ais: bool | None = None, lof: bool | None = None,
              ber: float | None = None, code_errors: float | None = None,
              slip_ppm: float | None = None, direction: str = "both") -> dict:
        """Inject faults on the line (None leaves a fault as it is). Returns the faults now on.

        ``ber``: bit errors at that ratio, inserted by an in-line HDB3 regenerator (the far
        end's BERT sees exactly that ratio); ``code_errors``: line symbol errors at that
        ratio, as noise makes them (bipolar violations; about 1.4 bit errors each)."""
        for name, value in (("ber", ber), ("code_errors", code_errors)):
            if value is not None and not (0.0 <= value <= 0.5):
                raise ValueError(f"{name} must be between 0 and 0.5, not {value}")
        if slip_ppm is not None and not (-1000.0 <= slip_ppm <= 1000.0):
            raise ValueError(f"slip_ppm must be between -1000 and 1000, not {slip_ppm}")
        for d in self._dirs(direction):
            f = self._faults[d]
            for name, value in (("los", los), ("ais", ais), ("lof", lof), ("ber", ber),
                                ("code_errors", code_errors), ("clock_ppm", slip_ppm)):
                if value is not None:
                    setattr(f, name, type(getattr(f, name))(value))
            self._apply(d)
        return self.faults()

    def clear(self, direction: str = "both") -> dict:
        for d in self._dirs(direction):
            self._faults[d] = _Fault()
            self._apply(d)
        return self.faults()

    def _apply(self, d: int) -> None:
        f = self._faults[d]
        cf = ffi.new("hal_sim_fault_t *")
        cf.los, cf.ais, cf.lof = int(f.los), int(f.ais), int(f.lof)
        cf.ber, cf.code_errors, cf.clock_ppm = f.ber, f.code_errors, f.clock_ppm
        check(lib.hal_sim_cable_fault(self._c, d, cf), f"fault on the cable of span {self.span}")

    def faults(self) -> dict:
        return {
            "to_exchange": self._faults[lib.HAL_SIM_A_TO_B].active(),
            "to_board": self._faults[lib.HAL_SIM_B_TO_A].active(),
        }

    def stats(self) -> dict:
        out = {"span": self.span, "faults": self.faults()}
        for name, d in (("to_exchange", lib.HAL_SIM_A_TO_B), ("to_board", lib.HAL_SIM_B_TO_A)):
            st = ffi.new("hal_sim_cable_stats_t *")
            check(lib.hal_sim_cable_stats(self._c, d, st), f"stats of the cable of span {self.span}")
            out[name] = {"bits": int(st.bits), "bit_errors": int(st.errors),
                         "code_errors": int(st.code_errors), "frames_skew": int(st.frames_skew)}
        far = self._world.exchange.spans[self.span]
        out["far_end"] = far.status()
        return out

    def far_loopback(self, mode: str) -> None:
        """Loop the line at the exchange end ('line', 'payload' or 'off')."""
        self._world.exchange.spans[self.span].loopback(mode)

    def close(self) -> None:
        if self._c is not None:
            lib.hal_sim_cable_disconnect(self._c)
            self._c = None


class Phone:
    """An agent's phone on one of our FXS ports: it rings, shows caller ID (an FSK
    receiver, Bell 202 or V.23), hears tones (a call-progress detector) and dials DTMF.

    The person at it hangs up when the far end has cleared, as anyone does: the FXS port
    signals the disconnect by a loop current drop (and then busy tone), and the handset
    goes back on hook ``hang_up_after_ms`` later (None: the person is modelled elsewhere,
    as :class:`simulators.traffic.Traffic` does with its own hang-up delays)."""

    #: how long a person takes to hang up once the line went dead (ms of line time)
    HANG_UP_AFTER_MS = 800

    def __init__(self, world: "SimWorld", port: int, phone_port: int,
                 cid_mode: str = "bell202"):
        from drivers.callerid import MessageAssembler

        self._world = world
        self.port = port
        self._p = world.phones_board.ports[phone_port]
        self.ringing = False
        self.rings = 0
        self.off_hook = False
        self.caller_ids: list = []          # what the display showed, newest last
        self.heard: list[str] = []          # tones heard (dial, busy, ...), in order
        self._assembler = MessageAssembler()
        self._fsk = "fsk_v23" if cid_mode == "v23" else "fsk"
        self.listening = True
        self.hang_up_after_ms: int | None = self.HANG_UP_AFTER_MS
        self._off_hook_seq = 0              # which lift a hang-up scheduled on it is for
        self._p.detect("cpt", self._fsk)

    def listen(self, on: bool) -> None:
        """Run the phone's own receivers (tones heard, the caller-ID display) or not: a
        scenario of hundreds of phones that only ring and lift saves their DSP."""
        self.listening = bool(on)
        if not on:
            self._p.detect()
        else:
            self._p.detect(*(("cpt",) if self.off_hook else ("cpt", self._fsk)))

    @property
    def caller_id(self):
        return self.caller_ids[-1] if self.caller_ids else None

    def dial(self, digits: str) -> None:
        """Key DTMF digits (the phone must be off hook for the exchange side to hear them)."""
        self._p.dtmf(digits)

    def lift(self) -> None:
        self.off_hook = True
        self._off_hook_seq += 1
        self._p.hook(True)
        # caller ID is received on hook (EN 300 659-1 on-hook data transmission): the
        # display's FSK receiver rests while the phone is in use
        if self.listening:
            self._p.detect("cpt")

    def hang_up(self) -> None:
        self.off_hook = False
        self._p.hook(False)
        if self.listening:
            self._p.detect("cpt", self._fsk)

    def flash(self, ms: int = 200) -> None:
        """Hook flash: on hook for ``ms`` of line time, then off hook again."""
        self._p.hook(False)
        self._world.after(ms, lambda: self._p.hook(True))

    def tone(self, *args, **kw) -> None:
        self._p.tone(*args, **kw)

    def tap(self, on: bool) -> None:
        self._p.tap(on)

    def _event(self, ev: Event) -> None:
        if isinstance(ev, Ring):
            self.ringing = ev.on
            self.rings += ev.on
            if ev.on:
                self._world.ringing_phones.add(self.port)
            else:
                self._world.ringing_phones.discard(self.port)
        elif isinstance(ev, FskData):
            self.caller_ids += self._assembler.feed(ev.data)
        elif isinstance(ev, ToneDetected) and ev.tone not in ("silence",):
            self.heard.append(ev.tone)
            if ev.tone == "busy":
                self._far_end_cleared()          # a tone-only disconnect
        elif isinstance(ev, Battery) and not ev.on:
            self._far_end_cleared()              # loop current drop: the far end cleared

    def _far_end_cleared(self) -> None:
        if not self.off_hook or self.hang_up_after_ms is None:
            return
        seq = self._off_hook_seq
        self._world.after(self.hang_up_after_ms,
                          lambda: self.hang_up() if self.off_hook and
                          self._off_hook_seq == seq else None)


class COLine:
    """The exchange's end of a line to one of our FXO ports.

    It rings our port for a call in (:meth:`call`), and serves a call out: our port going
    off hook when no call rings gets dial tone; the DTMF digits it sends are collected
    (the number is complete 1.5 s after the last digit); then the PSTN behind the exchange
    (:meth:`simulators.exchange.ExchangeCallsBase.pstn`, the same numbers as on the PRI
    side) gives busy tone (busy), congestion tone (congested or vacant: an analog line
    has no cause to tell them apart), or ringback and, when the number answers, a
    polarity reversal (answer supervision). Calls out are kept in the exchange's ``log``
    with span 0 (``outgoing``: the one in progress)."""

    DIGIT_TIMEOUT_MS = 1500
    RING_CYCLE_MS = 6000          # a ring cadence (1 s on, 4 s off) and a margin

    def __init__(self, world: "SimWorld", port: int, co_port: int):
        self._world = world
        self.port = port
        self._p = world.exchange.ports[co_port]
        self.looped = False   # our FXO port is off hook
        self._ringing = False  # a call in is ringing our port
        self.outgoing = None   # the call out in progress (an ExchangeCall)
        self._collecting = False   # ... whose number is still coming in DTMF
        self._rung_ms: int | None = None   # when the line last rang
        self._ring_gen = 0     # the call in whose ring cadence runs (an answered call's stops)

    def ring(self, on: bool) -> None:
        if on:
            self._rung_ms = self._world.now_ms
        self._p.ring(on)

    def reverse_polarity(self, reversed: bool = True) -> None:
        self._p.polarity(reversed)

    def battery(self, on: bool) -> None:
        self._p.battery(on)

    def tone(self, *args, **kw) -> None:
        self._p.tone(*args, **kw)

    def call(self, number: str | None = None, name: str | None = None, *,
             cadence_ms: tuple[int, int] = (1000, 4000), cid_mode: str = "bell202",
             max_rings: int = 10) -> None:
        """(``cid_mode`` "dtmf": the number as DTMF, A...C, before the first ring.)"""
        """Ring our FXO port with cadence, sending caller ID between the first and second
        ring (ETSI EN 300 659-1: from 500 ms after the first ring); ringing stops when
        our port answers (loops the line) or after ``max_rings``."""
        from drivers import callerid

        on, off = cadence_ms
        self.answered = False
        self._ringing = True
        self._ring_gen += 1
        gen = self._ring_gen

        def ring(n: int) -> None:
            if gen != self._ring_gen:
                return                      # answered (ring trip) or another call since
            if self.looped:
                self.answered = True
                self._ringing = False
                return
            if n >= max_rings:
                self._ringing = False
                return
            self.ring(True)
            self._world.after(on, lambda: self._p.ring(False))
            if n == 0 and number is not None and cid_mode != "dtmf":
                burst = callerid.fsk_burst(callerid.build_mdmf(
                    callerid.CallerId(number=number, name=name)))
                self._world.after(on + 500, lambda: self._p.fsk(burst.bits(), cid_mode))
            self._world.after(on + off, lambda: ring(n + 1))

        if cid_mode == "dtmf" and number is not None:
            digits = callerid.dtmf_string(callerid.CallerId(number=number))
            self._p.dtmf(digits)
            self._world.after(160 * len(digits) + 500, lambda: ring(0))
        else:
            ring(0)

    def _event(self, ev: Event) -> None:
        if isinstance(ev, Hook):
            self.looped = ev.off_hook
            if ev.off_hook:
                self._p.ring(False)       # ring trip
                # off hook within a ring cycle of a ring answers it (ring trip); else
                # our port seizes the line for a call out
                rang = self._rung_ms is not None and \
                    self._world.now_ms - self._rung_ms < self.RING_CYCLE_MS
                if not self._ringing and not rang and self.outgoing is None:
                    self._seized()
                elif self._ringing:
                    # answered: the cadence stops here, not at its next ring (a call
                    # answered and cleared within one cadence must not ring again)
                    self.answered = True
                    self._ringing = False
                    self._ring_gen += 1
            elif self.outgoing is not None:
                self._released()
        elif isinstance(ev, DigitDetected) and self.outgoing is not None and self._collecting:
            c = self.outgoing
            if not c.dnis:
                self._p.progress_tone(None)          # the first digit ends dial tone
            c.dnis += ev.digit
            n = len(c.dnis)
            self._world.after(self.DIGIT_TIMEOUT_MS,
                              lambda: self._number_complete(c) if len(c.dnis) == n else None)

    # -- a call out from our FXO port ------------------------------------------------------
    def _seized(self) -> None:
        from simulators.exchange import ExchangeCall

        calls = self._world.calls
        self.outgoing = c = ExchangeCall(0, self.port, "from_board", "", "")
        if calls is not None:
            calls.stats.from_board += 1
            calls._track((0, self.port), c)
        self._collecting = True
        self._p.detect("dtmf")
        self._p.progress_tone("dial")

    def _number_complete(self, c) -> None:
        if c is not self.outgoing or c.state != "setup":
            return
        self._collecting = False
        calls = self._world.calls
        cause, answer_ms = calls.pstn(c.dnis) if calls is not None else (None, 2000)
        if cause is not None:
            c.cause = cause
            self._p.progress_tone("busy" if cause == 17 else "congestion")
            return
        self._p.progress_tone("ringback")
        if answer_ms is not None:
            self._world.after(answer_ms, lambda: self._answer_out(c))

    def _answer_out(self, c) -> None:
        if c is not self.outgoing or c.state != "setup":
            return
        self._p.progress_tone(None)
        self._p.polarity(True)                        # answer supervision: reversal
        c.state, c.answered_ms = "answered", self._world.now_ms
        if self._world.calls is not None:
            self._world.calls.stats.answered += 1

    def _released(self) -> None:
        c, self.outgoing = self.outgoing, None
        self._p.progress_tone(None)
        self._p.detect()
        if c.state == "answered":
            self._p.polarity(False)
        if self._world.calls is not None:
            self._world.calls._cleared((0, self.port), c.cause or 16)
        else:
            c.state, c.cause = "cleared", c.cause or 16


class SimWorld:
    """Our software board cabled to a simulated exchange, with phones on the FXS ports."""

    def __init__(self, spans: list[SpanConfig] | None = None, ports: list[str] | None = None,
                 tick_ms: int = 20, seed: int = 1, cable_delay_bits: int = 3,
                 name: str = "sim0", signalling: bool = False):
        if spans is None:
            spans = [SpanConfig(1), SpanConfig(2)]
        if ports is None:
            ports = ["fxs"] * 8 + ["fxo"] * 4
        self.tick_ms = tick_ms
        self.board = Board(name, "sim", spans, ports, tick_ms)
        our_fxs = [n for n, k in enumerate(ports, 1) if k == "fxs"]
        our_fxo = [n for n, k in enumerate(ports, 1) if k == "fxo"]
        self.exchange = Board("exchange", "sim", spans, ["fxs"] * len(our_fxo), tick_ms)
        for span in self.exchange.spans.values():
            span.report_sent_dframes(False)     # nobody traces the exchange's side
        self.phones_board = Board("phones", "sim", [], ["fxo"] * len(our_fxs), tick_ms)
        self.cables: dict[int, Cable] = {}
        for i, cfg in enumerate(spans):
            self.cables[cfg.number] = Cable(self, cfg.number, cable_delay_bits,
                                            seed * 1000003 + cfg.number)
        self.phones: dict[int, Phone] = {}
        self.ringing_phones: set[int] = set()     # FXS ports whose phone rings right now
        for i, port in enumerate(our_fxs, 1):
            check(lib.hal_sim_line_connect(self.board._b, port, self.phones_board._b, i),
                  f"connect a phone to FXS port {port}")
            self.phones[port] = Phone(self, port, i)
        self.lines: dict[int, COLine] = {}
        for i, port in enumerate(our_fxo, 1):
            check(lib.hal_sim_line_connect(self.exchange._b, i, self.board._b, port),
                  f"connect an exchange line to FXO port {port}")
            self.lines[port] = COLine(self, port, i)
        self._phone_of = {p._p.number: p for p in self.phones.values()}
        self._line_of = {l._p.number: l for l in self.lines.values()}
        self._timers: list = []
        self._timer_seq = 0
        self.exchange_events: list[Event] = []
        # Signalling: our PRI spans run the user side, the exchange the network side.
        self.pri: dict = {}
        self.exchange_pri: dict = {}
        self.calls = None
        self.r2: dict = {}
        self.exchange_r2: dict = {}
        self.r2_calls = None
        if signalling:
            from drivers.sig import pri
            from simulators.exchange import ExchangeCalls
            self.pri = pri.attach(self.board, "user")
            self.exchange_pri = pri.attach(self.exchange, "network")
            self.calls = ExchangeCalls(self, self.exchange_pri)
            # CAS spans run R2 (China No.1), both-way circuits; glare: we win on even
            # timeslots and pick from the top, the exchange odd and from the bottom
            from drivers.sig import r2span
            from simulators.exchange_r2 import ExchangeR2Calls
            self.r2 = r2span.attach(self.board, "cn")
            self.exchange_r2 = r2span.attach(self.exchange, "cn", priority="odd", pick="low")
            self.r2_calls = ExchangeR2Calls(self, self.exchange_r2)

    @property
    def tick_count(self) -> int:
        return self.board.tick_count

    @property
    def now_ms(self) -> int:
        return self.board.tick_count * self.tick_ms

    def after(self, ms: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` once ``ms`` of line time have passed (on the tick it falls in)."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (self.now_ms + ms, self._timer_seq, fn))

    def cable(self, span: int) -> Cable:
        try:
            return self.cables[span]
        except KeyError:
            raise LookupError(f"no cable on span {span}: spans are "
                              f"{', '.join(map(str, self.cables)) or 'none'}") from None

    def tick(self) -> list[Event]:
        """One tick of the whole world; returns our board's events."""
        while self._timers and self._timers[0][0] <= self.now_ms:
            _, _, fn = heapq.heappop(self._timers)
            fn()
        events = self.board.tick()
        self.exchange_events = self.exchange.tick()
        if self.calls is not None:
            self.calls.handle([e for e in self.exchange_events
                               if getattr(e, "span", None) not in self.exchange_r2])
        if self.r2_calls is not None:
            self.r2_calls.handle(self.exchange_events)
        for ev in self.exchange_events:
            line = self._line_of.get(getattr(ev, "port", None))
            if line is None and isinstance(ev, DigitDetected) and ev.span == 0:
                line = self._line_of.get(ev.timeslot)     # a digit heard on a CO port
            if line is not None:
                line._event(ev)
        for ev in self.phones_board.tick():
            phone = self._phone_of.get(getattr(ev, "port", None))
            if phone is not None:
                phone._event(ev)
        return events

    def run(self, ms: int) -> list[Event]:
        """Tick through ``ms`` of line time; return every event of our board."""
        out: list[Event] = []
        for _ in range(max(1, -(-ms // self.tick_ms))):
            out.extend(self.tick())
        return out

    def close(self) -> None:
        for c in self.cables.values():
            c.close()
        for b in (self.board, self.exchange, self.phones_board):
            b.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
