"""Signalling on the spans: ISDN PRI calls by hand (``pri.*``, Q.931), D-channel traces
(``trace.start``/``trace.stop``: every Q.921 frame as a ``trace.lapd`` event, for
``cti trace --pcap``), and the R2 circuits of a CAS span (``span.block``,
``span.unblock``, ``span.r2trace``). The traces' state is :class:`Traces`, held by the
service as ``svc.traces``."""
from __future__ import annotations

import base64

from cti.server.registry import operation
from cti.server.schema import (BOOL, CALL, CAUSE, INT, NUM, OBJ, SPAN, STR, Arg, RequestError,
                               arr, nullable, obj, ranges)
from drivers.board import DFrameSent

SPAN_CALL = obj({"span": INT, "call": INT})


def signalling_stack(svc, number: int, stacks: dict, name: str):
    """The signalling stack of span ``number`` among ``stacks``, or an error naming
    the span's signalling."""
    svc.get_span(number)
    stack = stacks.get(number)
    if stack is None:
        raise RequestError("not_supported", f"span {number} does not run {name} "
                           f"(signalling {svc.board.spans[number].signalling})",
                           "args.span")
    return stack


def r2_span(svc, number: int):
    """The R2 signalling of span ``number`` (``not_supported`` on another span)."""
    return signalling_stack(svc, number, svc.r2, "R2")


def pri_span(svc, number: int):
    """The PRI signalling of span ``number`` (``not_supported`` on another span)."""
    return signalling_stack(svc, number, svc.pri, "ISDN PRI")


def pri_call(svc, pri, call: int):
    """``call`` when it is a call of the PRI span (``not_found`` otherwise)."""
    if call not in pri.q931.calls:
        raise RequestError("not_found", f"no call {call} on span {pri.span.number} (calls: "
                           f"{ranges(sorted(pri.q931.calls))})", "args.call")
    return call


def network_side(svc, span: int) -> bool:
    """Whether span ``span`` runs PRI as the network (the exchange's side)."""
    pri = svc.pri.get(span)
    return pri is not None and pri.side == "network"


@operation("span.block", rights=("lines",), args={"span": SPAN, "timeslot": Arg(int, lo=1, hi=31)},
           result=obj({"span": INT, "timeslot": nullable(INT), "blocked": BOOL}),
           events=(), audited=True)
def span_block(svc, a):
    """Block a circuit (or the whole span) of an R2 span: the far end may not seize it."""
    r2_span(svc, a["span"]).block(svc.board.line_seconds, a["timeslot"])
    return {"span": a["span"], "timeslot": a["timeslot"], "blocked": True}


@operation("span.unblock", rights=("lines",), args={"span": SPAN, "timeslot": Arg(int, lo=1, hi=31)},
           result=obj({"span": INT, "timeslot": nullable(INT), "blocked": BOOL}),
           events=(), audited=True)
def span_unblock(svc, a):
    """Unblock a circuit (or the whole span) of an R2 span."""
    r2_span(svc, a["span"]).unblock(svc.board.line_seconds, a["timeslot"])
    return {"span": a["span"], "timeslot": a["timeslot"], "blocked": False}


@operation("span.r2trace", rights=("lines",), args={"span": SPAN, "call": Arg(int, lo=0)},
           result=obj({"span": INT, "calls": arr(obj({"call": INT,
                      "trace": arr(arr())}))}),
           events=())
def span_r2trace(svc, a):
    """The signalling trace of the recent calls of an R2 span (or of one call): every
    CAS change and MF tone with its line time."""
    r2 = r2_span(svc, a["span"])
    calls = {a["call"]: r2.traces.get(a["call"])} if a["call"] is not None else r2.traces
    if any(v is None for v in calls.values()):
        raise RequestError("not_found", f"no trace of call {a['call']} on span {a['span']}",
                           "args.call")
    return {"span": a["span"], "calls": [{"call": c, "trace": [[round(t, 3), x] for t, x in v]}
                                         for c, v in calls.items()]}


@operation("pri.list", rights=("read",), args={},
           result=obj({"calls": arr(obj({"span": INT, "call": INT,
                                         "timeslot": nullable(INT), "state": STR})),
                       "spans": arr(obj({"span": INT, "side": STR, "dchannel": STR,
                                        "link_up": BOOL, "calls": INT,
                                        "free_channels": INT, "q921": OBJ,
                                        "q931": OBJ}))}),
           events=())
def pri_list(svc, a):
    """The PRI spans (D-channel, free channels, counters) and their calls."""
    return {"calls": [dict(c, span=n) for n, pri in sorted(svc.pri.items())
                      for c in pri.calls().values()],
            "spans": [pri.status() for _, pri in sorted(svc.pri.items())]}


@operation("pri.place", rights=("lines",), args={"span": SPAN, "to": Arg(str, required=True, max_len=20, text="ia5"),
                              "from": Arg(str, default="", max_len=20, text="ia5"),
                              "timeslot": Arg(int, lo=1, hi=31)},
           result=SPAN_CALL,
           events=("channel.proceeding", "channel.alerting", "channel.answered",
                   "channel.cleared"))
def pri_place(svc, a):
    """Place an ISDN call on a PRI span (Q.931 SETUP). ``timeslot``: that B-channel
    exclusively; ``channel.proceeding``, ``.alerting``, ``.answered``, ``.cleared`` follow."""
    pri = pri_span(svc, a["span"])
    if not a["to"].isdigit():
        raise RequestError("bad_arg", f"{a['to']!r}: a called number is digits", "args.to")
    ts = a["timeslot"]
    if ts is not None and ts not in pri.q931.channels:
        # TS16 carries the D-channel (G.704 5.1.3.2): no call on it
        raise RequestError("bad_arg", f"timeslot {ts} is not a B-channel of span "
                           f"{a['span']}", "args.timeslot")
    call = pri.place_call(svc.board.line_seconds, a["to"], a["from"], timeslot=a["timeslot"],
                          exclusive=a["timeslot"] is not None)
    return {"span": a["span"], "call": call}


@operation("pri.answer", rights=("lines",), args={"span": SPAN, "call": CALL},
           result=obj({"span": INT, "call": INT, "answered": BOOL}),
           events=("channel.answered",))
def pri_answer(svc, a):
    """Answer an ISDN call (Q.931 CONNECT)."""
    pri = pri_span(svc, a["span"])
    pri.answer(svc.board.line_seconds, pri_call(svc, pri, a["call"]))
    return {"span": a["span"], "call": a["call"], "answered": True}


@operation("pri.reject", rights=("lines",), args={"span": SPAN, "call": CALL,
                               "cause": Arg(int, default=21, lo=1, hi=127)},
           result=obj({"span": INT, "call": INT, "cause": INT}),
           events=("channel.cleared",))
def pri_reject(svc, a):
    """Reject an ISDN call with a cause (Q.931 RELEASE COMPLETE)."""
    pri = pri_span(svc, a["span"])
    pri.reject(svc.board.line_seconds, pri_call(svc, pri, a["call"]), a["cause"])
    return {"span": a["span"], "call": a["call"], "cause": a["cause"]}


@operation("pri.hangup", rights=("lines",), args={"span": SPAN, "call": CALL, "cause": CAUSE},
           result=obj({"span": INT, "call": INT, "cause": INT}),
           events=("channel.cleared",))
def pri_hangup(svc, a):
    """Clear an ISDN call with a cause (Q.931 DISCONNECT)."""
    pri = pri_span(svc, a["span"])
    pri.hangup(svc.board.line_seconds, pri_call(svc, pri, a["call"]), a["cause"])
    return {"span": a["span"], "call": a["call"], "cause": a["cause"]}


@operation("trace.start", rights=("lines",), args={"span": SPAN,
                                "seconds": Arg(float, default=60.0, lo=0.02, hi=86_400)},
           result=obj({"span": INT, "until": NUM, "network_side": BOOL, "seq": INT}),
           events=("trace.lapd", "trace.end"))
def trace_start(svc, a):
    """Trace a PRI span's D-channel: its Q.921 frames as ``trace.lapd`` events. Every frame of
    the span is published until ``until`` (``seconds`` of line time), then ``trace.end``; ``cti
    trace`` writes them to a pcap."""
    pri_span(svc, a["span"])
    svc.traces.start(a["span"], svc.line_time + a["seconds"])
    return {"span": a["span"], "until": round(svc.line_time + a["seconds"], 3),
            "network_side": network_side(svc, a["span"]), "seq": svc.log.last_seq}


@operation("trace.stop", rights=("lines",), args={"span": SPAN},
           result=obj({"span": INT, "stopped": BOOL, "seq": INT}),
           events=())
def trace_stop(svc, a):
    """Stop a span's D-channel trace."""
    svc.traces.stop(a["span"])
    return {"span": a["span"], "stopped": True, "seq": svc.log.last_seq}


class Traces:
    """The spans whose D-channel is traced, each until a line time: their Q.921 frames
    (both ways) go out as ``trace.lapd`` events, then ``trace.end``. A span reports the
    frames it sends only while it is traced (a copy per frame, for nobody otherwise)."""

    def __init__(self, svc):
        self.svc = svc
        self.until: dict[int, float] = {}        # span -> line time the trace ends
        for span in svc.board.spans.values():
            span.report_sent_dframes(False)

    def __contains__(self, span: int) -> bool:
        return span in self.until

    def start(self, span: int, until: float) -> None:
        self.until[span] = until
        self.svc.board.spans[span].report_sent_dframes(True)

    def stop(self, span: int) -> None:
        self.until.pop(span, None)
        if span in self.svc.board.spans:
            self.svc.board.spans[span].report_sent_dframes(False)

    def tick(self, out: list) -> None:
        """The traces whose time is up end (``trace.end``)."""
        svc = self.svc
        for span, until in list(self.until.items()):
            if svc.line_time >= until:
                try:
                    self.stop(span)
                except Exception as exc:
                    svc._server_error("trace.stop", exc, span=span)
                    self.until.pop(span, None)
                out.append(svc.log.append(svc.ts(), "trace.end", span=span, data=None))

    def frame(self, ev, out: list) -> None:
        """A D-channel frame (DFrame or DFrameSent) of the board's tick, out as
        ``trace.lapd`` while its span is traced."""
        if ev.span in self.until:
            svc = self.svc
            out.append(svc.log.append(svc.ts(), "trace.lapd", span=ev.span,
                                      channel=f"{ev.span}/16", data={
                "dir": "tx" if isinstance(ev, DFrameSent) else "rx",
                "network_side": network_side(svc, ev.span),
                "frame": base64.b64encode(ev.data).decode()}))
