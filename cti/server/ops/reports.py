"""Reports on the store (cti/store/report.py): ``report.losses``, the loss report with
Erlang advice, run off the tick by the report worker (cti/server/reportworker.py)."""
from __future__ import annotations

from cti.server.registry import operation
from cti.server.schema import INT, NUM, OBJ, Arg, RequestError, arr, nullable, obj

MAX_REPORT_INTERVALS = 5000                    # rows of one report.losses

#: one interval of the loss report, or the totals (cti/store/report.py _period)
PERIOD = obj({"start": NUM, "end": NUM, "offered": INT, "answered": INT, "lost": OBJ,
              "lost_total": INT},
             {"arrived": INT, "trunk": OBJ, "ivr": OBJ, "advice": nullable(OBJ)})


@operation("report.losses", rights=("reports",), args={"start": Arg(float, lo=0, hi=1e11),
                                  "end": Arg(float, lo=0, hi=1e11),
                                  "interval": Arg(float, default=3600.0, lo=1, hi=86_400 * 31),
                                  "sla": Arg(float, default=20.0, lo=0, hi=3600),
                                  "blocking": Arg(float, default=0.01, lo=1e-6, hi=0.5),
                                  "service_level": Arg(float, default=0.8, lo=0.01, hi=0.999),
                                  "shrinkage": Arg(float, default=0.0, lo=0, hi=0.9),
                                  "max_abandon": Arg(float, lo=1e-4, hi=0.999)},
           result=obj({"start": NUM, "end": NUM, "interval": NUM, "sla_seconds": NUM,
                       "intervals": arr(PERIOD), "totals": PERIOD},
                      {"patience": OBJ, "ivr_holding_time": nullable(NUM),
                       "peak": nullable(OBJ), "advice": nullable(OBJ),
                       "targets": OBJ}),
           events=(), deferred=True)
def report_losses(svc, a, rid=None, token=None):
    """The loss report: where calls were lost, per interval, with Erlang advice. ``start``,
    ``end``: epoch seconds; ``blocking`` and ``service_level``: the targets; ``max_abandon``:
    where callers abandon, the agents advised lose at most this fraction (Erlang A).
    ``intervals`` and ``totals`` (cti/store/report.py), each with offered, answered, ``lost``
    at trunk, IVR, queue and agent, callbacks requested and served, service level, ASA, AHT,
    abandon rate, ``trunk`` (the E1 group and its spans: occupancy, carried erlangs, all-busy
    seconds, peak per span; the FXO lines as span fxo, outside the group), ``ivr`` (port
    occupancy, all-busy seconds, seizures, offered erlangs), ``advice`` (E1 spans, IVR ports,
    agents for the targets); ``peak``: the busiest interval; ``patience``: the callers' mean
    patience from the queue log; ``advice``: the most any interval needed."""
    from cti.store.report import loss_report
    if svc.store is None:
        raise RequestError("not_supported", "no store: no call centre configured", "op")
    end = a["end"] if a["end"] is not None else svc.ts() + 1
    start = a["start"] if a["start"] is not None else end - 86_400
    if end <= start:
        raise RequestError("bad_arg", f"end {end:g} is not after start {start:g}",
                           "args.end")
    if (end - start) / a["interval"] > MAX_REPORT_INTERVALS:
        # the work grows with the intervals: a year by the second is refused here
        raise RequestError("bad_arg", f"{(end - start) / a['interval']:.0f} intervals: at "
                           f"most {MAX_REPORT_INTERVALS} (a longer interval, or a shorter "
                           "range)", "args.interval")
    if svc.reports is not None:
        # off the tick: the shell's worker answers when done (cti/server/reportworker.py)
        svc.reports(dict(a, start=start, end=end), token, rid)
        return None
    return loss_report(svc.store, start, end, interval=a["interval"], sla_seconds=a["sla"],
                       target_blocking=a["blocking"],
                       service_level_target=a["service_level"], shrinkage=a["shrinkage"],
                       max_abandon=a["max_abandon"])
