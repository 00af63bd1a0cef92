"""The board and its E1 spans, a technician's diagnostics (``cti board``, ``cti span``):
``board.list``, ``board.show``, ``span.show``, ``span.alarms``, ``span.counters``,
``span.loopback``, ``span.bert``. The R2 circuits' blocking and traces (``span.block``,
``span.unblock``, ``span.r2trace``) are signalling: :mod:`cti.server.ops.signalling`."""
from __future__ import annotations

from cti.server.registry import operation
from cti.server.schema import BOOL, INT, NUM, OBJ, SPAN, STR, Arg, arr, merged, nullable, obj

LOOPBACK_MODES = ("off", "local", "line", "payload")

#: a span's line status (drivers/board.py Span.status; docs/contract/README.md)
SPAN_LINE = obj({"span": INT, "signalling": STR, "law": STR, "alarms": arr(STR),
                 "in_sync": BOOL, "counters": OBJ},
                {"board": STR, "framing": STR, "coding": STR, "loopback": nullable(STR),
                 "tx_ais": BOOL})
#: and as the server shows it (:func:`span_status`)
SPAN_STATUS = merged(SPAN_LINE, {"crc4": BOOL})
#: an analog port's status (drivers/board.py Port.status; docs/contract/README.md)
PORT_STATUS = obj({"port": INT, "channel": STR, "kind": STR},
                  {"hook": STR, "ringing": BOOL, "polarity": STR, "battery": BOOL,
                   "connected": BOOL})
#: a timeslot (drivers/board.py Channel.show)
TIMESLOT = obj({"channel": STR, "span": INT, "timeslot": INT, "kind": STR, "signalling": STR},
               {"cas_rx": STR})
BOARD_SUMMARY = obj({"name": STR, "backend": STR, "tick_ms": NUM, "spans": arr(INT),
                     "ports": arr(STR), "alarms": obj(additionalProperties=arr(STR)),
                     "simulated": BOOL})


def span_status(svc, span) -> dict:
    """A span's status as the server shows it: the line's, with its number, signalling, CRC-4
    and law."""
    st = dict(span.status())
    st.setdefault("span", span.number)
    st.setdefault("signalling", span.signalling)
    st.setdefault("crc4", span.crc4)
    st.setdefault("law", span.law)
    return st


def port_status(svc, port) -> dict:
    """An analog port's status, with its number, kind and channel name."""
    st = dict(port.status())
    st.setdefault("port", port.number)
    st.setdefault("kind", port.kind)
    st.setdefault("channel", svc.port_name(port.number))
    return st


def board_summary(svc) -> dict:
    """The board in brief: name, backend, tick, spans, ports, alarms, simulated or not."""
    b = svc.board
    alarms = {}
    for n, span in sorted(b.spans.items()):
        alarms[str(n)] = list(span.status().get("alarms", []))
    return {"name": b.name, "backend": b.backend, "tick_ms": b.tick_ms,
            "spans": sorted(b.spans), "ports": [svc.port_name(n) for n in sorted(b.ports)],
            "alarms": alarms, "simulated": svc.world is not None}


@operation("board.list", rights=("read",), args={},
           result=obj({"boards": arr(BOARD_SUMMARY)}),
           events=())
def board_list(svc, a):
    """The boards: name, backend, tick, spans, ports, alarms."""
    return {"boards": [board_summary(svc)]}


@operation("board.show", rights=("read",), args={},
           result=merged(BOARD_SUMMARY, {"tick_count": INT, "line_time": NUM,
                                         "span_status": arr(SPAN_STATUS),
                                         "port_status": arr(PORT_STATUS)},
                         {"board": STR, "ticks": INT, "line_seconds": NUM}),
           events=())
def board_show(svc, a):
    """The board in detail, with every span's and port's status."""
    b = svc.board
    show = dict(b.show())
    show.update(board_summary(svc))
    show["tick_count"] = b.tick_count
    show["line_time"] = svc.line_time
    show["span_status"] = [span_status(svc, s) for _, s in sorted(b.spans.items())]
    show["port_status"] = [port_status(svc, p) for _, p in sorted(b.ports.items())]
    return show


@operation("span.show", rights=("read",), args={"span": SPAN},
           result=merged(SPAN_STATUS, {"channels": arr(TIMESLOT)}),
           events=())
def span_show(svc, a):
    """A span's status (framing, alarms, counters) and its channels. ``signalling`` pri, cas or
    clear; ``law`` alaw or ulaw; ``alarms`` of LOS, LOF, AIS, RAI, LOMF, CASMF, RMAI;
    ``in_sync`` is false under LOS, LOF or AIS; ``counters`` as ``span.counters``."""
    span = svc.get_span(a["span"])
    st = span_status(svc, span)
    st["channels"] = [ch.show() for _, ch in sorted(span.channels.items())]
    return st


@operation("span.alarms", rights=("read",), args={"span": SPAN},
           result=obj({"span": INT, "alarms": arr(STR), "in_sync": nullable(BOOL),
                       "loopback": nullable(STR)}),
           events=())
def span_alarms(svc, a):
    """A span's alarms (LOS, LOF, AIS, RAI...), sync and loopback."""
    st = span_status(svc, svc.get_span(a["span"]))
    return {"span": st["span"], "alarms": st.get("alarms", []),
            "in_sync": st.get("in_sync"), "loopback": st.get("loopback")}


@operation("span.counters", rights=("lines",), args={"span": SPAN, "reset": Arg(bool, default=False)},
           result=obj({"span": INT, "counters": obj(additionalProperties=INT),
                       "reset": BOOL}),
           events=())
def span_counters(svc, a):
    """A span's error counters (CRC-4, E-bit, BPV, slips, HDLC), zeroed after reading with
    ``reset``. ``counters``: ``frames_rx``, ``bits_rx``, ``fas_errors``, ``crc4_errors``,
    ``ebit_errors``, ``bpv``, ``slips``, ``lof_events``, ``los_events``, ``hdlc_rx_frames``,
    ``hdlc_tx_frames``, ``hdlc_fcs_errors``, ``hdlc_aborts``, ``hdlc_bad_frames``,
    ``hdlc_overruns``."""
    span = svc.get_span(a["span"])
    st = span_status(svc, span)
    if a["reset"]:
        span.reset_counters()
    return {"span": st["span"], "counters": st.get("counters", {}), "reset": a["reset"]}


@operation("span.loopback", rights=("lines",), args={"span": SPAN,
                                  "mode": Arg(str, required=True, choices=LOOPBACK_MODES)},
           result=obj({"span": INT, "loopback": {"enum": list(LOOPBACK_MODES)}}),
           events=("span.alarm",), audited=True)
def span_loopback(svc, a):
    """Loop a span back at our end (local, line, payload) or stop (off)."""
    span = svc.get_span(a["span"])
    span.loopback(a["mode"])
    return {"span": span.number, "loopback": a["mode"]}


@operation("span.bert", rights=("lines",), args={"span": SPAN,
                              "action": Arg(str, default="status",
                                            choices=("start", "stop", "status"))},
           result=obj({"span": INT, "pattern": STR, "running": BOOL, "sync": BOOL,
                       "bits": INT, "errors": INT, "ber": nullable(NUM),
                       "sync_losses": INT, "seconds": NUM}),
           events=())
def span_bert(svc, a):
    """Start, stop or read the span's bit error rate test (2^15-1, O.151)."""
    span = svc.get_span(a["span"])
    if a["action"] == "start":
        span.bert_start()
    elif a["action"] == "stop":
        span.bert_stop()
    st = dict(span.bert_status())
    st["span"] = span.number
    return st
