"""A call's trunk leg: the B-channel of a PRI or R2 span, or an FXO line.

:class:`Trunks` answers, hangs up and restores the trunk channel of a call, and counts
the lines free for calls out: free B-channels on the PRI spans, idle FXO lines. It holds
the span stacks and analog ports it is given and the call table (cti/centre/calls.py);
it knows nothing of queues, agents or the IVR.
"""
from __future__ import annotations

import os

from cti.centre.calls import Call, CallTable
from cti.centre.media import Recording
from drivers.sig import analog

__all__ = ["Trunks", "FXO_CAUSES"]

#: Q.850 causes for how an FXO call out ended (the tones and line the FXO machine saw)
FXO_CAUSES = {"busy": 17, "congestion": 34, "no_answer": 19, "no_dial_tone": 34,
              "line_down": 38, "port_busy": 34, "glare": 34}


class Trunks:
    """The trunk legs of the calls on one board.

    ``trunks``: every digital span that offers calls by number (PRI and R2, the same call
    commands); ``pri``: the PRI spans alone (calls out go on them); ``analog``: the analog
    ports by number (the FXO lines among them); ``config``: the centre's (``record``,
    ``recordings_dir``)."""

    def __init__(self, board, trunks: dict, pri: dict, analog_ports: dict, table: CallTable,
                 config):
        self.board = board
        self.trunks = trunks
        self.pri = pri
        self.analog = analog_ports
        self.table = table
        self.config = config
        self._fxo_trunks = [ap for _, ap in sorted(self.analog.items()) if ap.port.kind == "fxo"]

    def channel(self, call: Call):
        """The board's channel of the call's trunk leg (a span's timeslot, or a port)."""
        if call.span is not None:
            return self.board.spans[call.span].channels[call.timeslot]
        return self.board.ports[call.fxo_port]

    def law(self, call: Call) -> str:
        return self.board.spans[call.span].law if call.span is not None else "alaw"

    def answer(self, now, call: Call) -> None:
        """Answer the trunk (CONNECT, or the FXO line off hook), listen for DTMF and start
        the call's recording when the centre records."""
        if call.answer is not None:
            return
        call.answer = now
        if call.span is not None:
            self.trunks[call.span].answer(now, call.pri_call)
        elif call.fxo_port is not None:
            self.analog[call.fxo_port].send(now, analog.Answer())
        ch = self.channel(call)
        self.detect_in_call(call, ch)
        if self.config.record:
            ch.tap(True, "both")
            call.recording = Recording(os.path.join(self.config.recordings_dir, f"{call.id}.wav"),
                                       self.law(call))

    def detect_in_call(self, call: Call, ch) -> None:
        """The trunk's receivers while the centre holds the call: DTMF for the IVR and the
        survey; on an FXO line also call progress, as an exchange may signal the
        caller's hang-up by busy tone alone (the FXO machine's 'tone' disconnect)."""
        if call.fxo_port is not None:
            ch.detect("dtmf", "cpt")
        else:
            ch.detect("dtmf")

    def hangup(self, now, call: Call, cause: int = 16) -> None:
        """Clear the trunk leg with a Q.850 cause (rejected before answer, RELEASE after),
        once: a leg no longer in the tables was cleared already."""
        by_pri, by_fxo = self.table.by_pri, self.table.by_fxo
        if call.span is not None and (call.span, call.pri_call) in by_pri:
            del by_pri[(call.span, call.pri_call)]
            if call.answer is None:
                self.trunks[call.span].reject(now, call.pri_call, cause)
            else:
                self.trunks[call.span].hangup(now, call.pri_call, cause)
        elif call.fxo_port is not None and (call.fxo_port, call.fxo_call) in by_fxo:
            del by_fxo[(call.fxo_port, call.fxo_call)]
            self.analog[call.fxo_port].send(now, analog.Release("hangup"))

    def held(self, call: Call) -> bool:
        """The call still holds its trunk leg (not cleared by either side)."""
        return not ((call.span is None or (call.span, call.pri_call) not in self.table.by_pri)
                    and (call.fxo_port is None
                         or (call.fxo_port, call.fxo_call) not in self.table.by_fxo))

    def restore(self, call: Call) -> None:
        """The call is over: its channel's tap off, its receivers back to the line's own
        (none on a B-channel; caller ID, DTMF and call progress on an FXO line)."""
        has_trunk = (call.span is not None and call.timeslot is not None) or \
            call.fxo_port is not None
        ch = self.channel(call) if has_trunk else None
        if ch is not None:
            ch.tap(False)
            if call.fxo_port is not None:
                # the FXO machine's own receivers: caller ID, DTMF, call progress
                fsk = "fsk_v23" if self.analog[call.fxo_port].cid_mode == "v23" else "fsk"
                ch.detect("dtmf", "cpt", fsk)
            else:
                ch.detect()

    # ---- the lines free for calls out ----------------------------------------------------

    def idle_fxo(self) -> list[int]:
        """The idle FXO lines no call holds, in order (for calls out)."""
        held = {c.fxo_port for c in self.table.calls.values()}
        return [p for p, ap in sorted(self.analog.items())
                if ap.port.kind == "fxo" and p not in held
                and getattr(ap.machine, "state", None) is analog.FxoState.IDLE]

    def fxo_trunks_busy(self) -> tuple[int, int]:
        """(busy, total) of the FXO trunk lines: busy is every line not idle (ringing in,
        in a call, dialling out, or resting after one), as the R2 circuits count."""
        idle = analog.FxoState.IDLE
        busy = sum(1 for ap in self._fxo_trunks if getattr(ap.machine, "state", idle) is not idle)
        return busy, len(self._fxo_trunks)

    def free_fxo(self) -> int | None:
        """An idle FXO line no call holds (for a call out)."""
        idle = self.idle_fxo()
        return idle[0] if idle else None

    def outbound_room(self) -> int:
        """How many more calls could go out now: free B-channels on the PRI spans and idle
        FXO lines, less the calls out still ringing their agent (each takes one when the
        agent answers)."""
        n = sum(len(p.q931.free_channels()) for p in self.pri.values()) + len(self.idle_fxo())
        return n - sum(1 for c in self.table.calls.values() if c.direction == "out"
                       and c.pri_call is None and c.fxo_port is None)
