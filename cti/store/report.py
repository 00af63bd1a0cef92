"""The loss report: where the centre lost its calls, hour by hour (issue 6, item 9).

PRODUCT.md names four places a call is lost, and each needs its own count so the
manager knows what to fix (more E1, more IVR ports, more agents, agent discipline):

1. trunk - every trunk channel busy, the caller hears busy. Counted where it is seen:
   the exchange's congestion counts (``exchange_stats``; the simulated exchange
   reports them) plus inbound CDRs with outcome ``congestion``. For real lines, whose
   blocked calls never reach us, the trunk occupancy (``trunk_samples``) gives the
   all-trunks-busy seconds and the carried traffic, from which the Erlang B formula
   estimates the offered traffic, the blocking probability and the calls it blocked;
2. IVR - ``no_ivr_port`` (nothing free to answer) + ``abandoned_ivr``;
3. queue - ``abandoned_queue`` + ``timeout`` (a queue timeout with no overflow; an
   overflow to voicemail or callback ends as ``voicemail``/``callback``, not lost);
4. agent - ``abandoned_ring`` (the caller hung up while an agent's phone rang); the
   RINGNOANSWER count from the queue log (rings that moved on to the next agent, the
   agents' discipline) is shown beside it, not added to the losses.

Calls belong to the interval in which they started. Service level is the share of
calls offered to a queue that were answered within ``sla_seconds`` of entering it; ASA
is the mean wait of answered calls; AHT is talk plus wrap-up, talk running from the
queue log's CONNECT to the CDR's end (the CDR's billsec runs from the trunk answer, so
it also holds the IVR and the queue; it is the fallback when no CONNECT is logged), and
wrap-up the CDR's, else the mean ``wrapup`` spell of the agent log; the abandon rate is
the share of queued calls that ended ``abandoned_queue`` or ``abandoned_ring``. Rates
with nothing to divide by are ``None``, never NaN.

The manager's view (issue 8, item 2) adds, from the server's own samples (never
estimated): per span its occupancy, carried erlangs and all-channels-busy seconds
(``trunk.spans``), the IVR ports' occupancy, all-ports-busy seconds and peak
(``ivr``; the server samples the ports in use under the label :data:`IVR_SPAN`); the
callers' mean patience from the queue log (``patience``, censored exponential MLE,
:func:`cti.store.planning.patience_mle`); the IVR mean holding time (busy port-seconds per
call that held a port); and per interval ``advice`` from :mod:`cti.store.planning`: E1
spans and IVR ports for the blocking target (Erlang B), agents for the service-level
target (Erlang A with the measured patience, else Erlang C), with the most of each
over the intervals at the top (``advice``: plan for the peak, as ITU-T E.500 plans
for the busy hour).

Intervals are aligned to multiples of ``interval`` seconds (clock hours for the
default, in UTC and in any whole-hour time zone), clipped to [start, end).
"""
from __future__ import annotations

import bisect
import json as _json
import math
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cti.store.planning import (erlang_b, ivr_ports_plan, offered_from_carried, patience_mle,
                          staffing_for, trunks_plan)
from cti.store.sqlite import DB_NAME, OUTCOMES, Store

__all__ = ["erlang_b", "offered_from_carried", "loss_report", "format_table",
           "report_losses", "load_report", "parse_time", "IVR_SPAN", "FXO_TRUNKS", "trunk_offered"]


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _ratio(n: int, d: int) -> float | None:
    return n / d if d else None


#: The label under which the server samples its IVR port occupancy in ``trunk_samples``
#: (busy ports, configured ports), beside the spans' (busy B-channels, channels).
IVR_SPAN = "ivr"
#: the label of the FXO trunk lines (one group) in the trunk samples
FXO_TRUNKS = "fxo"


class _Occupancy:
    """Integrates the step functions the samples describe (each sample holds until its
    label's next one), one interval after another in a single pass over the samples:
    :meth:`between` must be called with non-decreasing, non-overlapping intervals."""

    def __init__(self, samples: list[dict]):
        self.samples = samples
        self.i = 0
        self.state: dict[str, tuple[int, int]] = {}

    def between(self, t0: float, t1: float) -> tuple[dict, dict]:
        """The figures per label (``channels``, ``busy_seconds``, ``all_busy_seconds``,
        ``peak_busy``, ``measured_seconds``) between t0 and t1, and those of the trunk
        group: the E1 spans (the numbered labels) are one group; an analog trunk group
        (``"fxo"``) and the IVR ports (:data:`IVR_SPAN`) have their own figures only, as
        a caller on a span cannot take a free FXO line."""
        samples, state = self.samples, self.state
        while self.i < len(samples) and samples[self.i]["time"] <= t0:
            r = samples[self.i]
            state[r["span"]] = (r["busy"], r["total"])
            self.i += 1
        per: dict[str, dict] = {}
        group = {"busy_seconds": 0.0, "all_busy_seconds": 0.0, "measured_seconds": 0.0,
                 "channels": 0}
        cur = t0

        def segment(until: float) -> None:
            dt = until - cur
            if dt <= 0 or not state:
                return
            busy = total = 0
            for label, (b, t) in state.items():
                f = per.setdefault(label, {"channels": 0, "busy_seconds": 0.0,
                                           "all_busy_seconds": 0.0, "peak_busy": 0,
                                           "measured_seconds": 0.0})
                f["channels"] = max(f["channels"], t)
                f["busy_seconds"] += b * dt
                f["measured_seconds"] += dt
                f["peak_busy"] = max(f["peak_busy"], b)
                if t > 0 and b >= t:
                    f["all_busy_seconds"] += dt
                if label.isdigit():
                    busy += b
                    total += t
            if any(label.isdigit() for label in state):
                group["channels"] = max(group["channels"], total)
                group["measured_seconds"] += dt
                group["busy_seconds"] += busy * dt
                if total > 0 and busy >= total:
                    group["all_busy_seconds"] += dt

        while self.i < len(samples) and samples[self.i]["time"] < t1:
            r = samples[self.i]
            if r["time"] > cur:
                segment(r["time"])
                cur = r["time"]
            state[r["span"]] = (r["busy"], r["total"])
            self.i += 1
        segment(t1)
        return per, group


def _span_figures(f: dict) -> dict:
    covered = f["measured_seconds"]
    carried = f["busy_seconds"] / covered if covered > 0 else None
    return {"channels": f["channels"], "carried_erlangs": carried,
            "occupancy": (carried / f["channels"]) if carried is not None and f["channels"]
            else None,
            "all_busy_seconds": f["all_busy_seconds"], "peak_busy": f["peak_busy"],
            "measured_seconds": covered}


def _trunk(per: dict, group: dict) -> dict:
    """The trunk group's occupancy, carried traffic and Erlang B estimate, and per span
    (each span's own occupancy and all-channels-busy time)."""
    spans = {k: _span_figures(v) for k, v in sorted(per.items(), key=lambda kv: _span_key(
        kv[0])) if k != IVR_SPAN}
    covered, channels = group["measured_seconds"], group["channels"]
    out: dict[str, Any] = {"all_busy_seconds": group["all_busy_seconds"],
                           "span_all_busy_seconds": {k: v["all_busy_seconds"]
                                                     for k, v in spans.items()
                                                     if v["all_busy_seconds"] > 0},
                           "spans": spans,
                           "channels": channels, "measured_seconds": covered,
                           "carried_erlangs": None, "occupancy": None,
                           "offered_erlangs": None, "erlang_b": None}
    if covered > 0:
        carried = group["busy_seconds"] / covered
        out["carried_erlangs"] = carried
        if channels > 0:
            out["occupancy"] = carried / channels
            offered = offered_from_carried(carried, channels)
            out["offered_erlangs"] = offered
            out["erlang_b"] = erlang_b(offered, channels) if offered is not None else 1.0
    return out


def _span_key(label: str) -> tuple:
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


def _ivr(per: dict, inbound: list[dict], outcomes: dict) -> dict:
    """IVR port occupancy from the server's samples, and the calls that held a port
    (their CDR has an IVR path) or found none (``no_ivr_port``)."""
    f = per.get(IVR_SPAN)
    fig = _span_figures(f) if f is not None else {
        "channels": 0, "carried_erlangs": None, "occupancy": None, "all_busy_seconds": 0.0,
        "peak_busy": 0, "measured_seconds": 0.0}
    return {"no_ivr_port": outcomes["no_ivr_port"], "abandoned_ivr": outcomes["abandoned_ivr"],
            "ports": fig["channels"], "carried_erlangs": fig["carried_erlangs"],
            "occupancy": fig["occupancy"], "all_busy_seconds": fig["all_busy_seconds"],
            "peak_busy": fig["peak_busy"], "measured_seconds": fig["measured_seconds"],
            "busy_port_seconds": f["busy_seconds"] if f is not None else 0.0,
            "seizures": sum(1 for c in inbound if c["ivr_path"]
                            and c["outcome"] != "no_ivr_port"),
            "offered_erlangs": None}


class _QueueTimes:
    """What the queue log says about waits and talk: per call the first CONNECT time
    (talk runs from it to the CDR's end; the CDR's billsec runs from the trunk answer,
    so it also holds the IVR and the queue), and every finished wait: ABANDON (the
    caller's patience ran out) or CONNECT / EXITWITHTIMEOUT (patience not yet out,
    right censored). A wait is the row's time minus the call's ENTERQUEUE time, or
    the row's own wait field (whole seconds, Asterisk's) when the entry is not seen."""

    def __init__(self, rows: list[dict]):
        self.connect: dict[str, float] = {}
        self.abandoned: list[tuple[float, float]] = []   # (time, wait)
        self.censored: list[tuple[float, float]] = []
        entered: dict[str, float] = {}
        for r in rows:
            ev, cid = r["event"], r["call_id"]
            if ev == "ENTERQUEUE":
                entered[cid] = r["time"]
                continue
            if ev not in ("CONNECT", "ABANDON", "EXITWITHTIMEOUT"):
                continue
            field = r["data1"] if ev == "CONNECT" else r["data3"]
            if cid in entered:
                wait = max(0.0, r["time"] - entered.pop(cid))
            else:
                try:
                    wait = max(0.0, float(field))
                except (TypeError, ValueError):
                    continue
            if not math.isfinite(wait):
                continue
            if ev == "CONNECT":
                self.connect.setdefault(cid, r["time"])
            (self.abandoned if ev == "ABANDON" else self.censored).append((r["time"], wait))

    def patience(self, t0: float, t1: float) -> dict:
        return patience_mle([w for t, w in self.abandoned if t0 <= t < t1],
                            [w for t, w in self.censored if t0 <= t < t1])

    def talk(self, cdr: dict) -> float:
        at = self.connect.get(cdr["call_id"])
        if at is not None and cdr["end"] >= at:
            return cdr["end"] - at
        return cdr["billsec"]


def _wrapup_mean(agent_rows: list[dict], start: float, end: float) -> float | None:
    """Mean wrap-up from the agent log: each ``wrapup`` spell that began in [start, end)
    lasts until the agent's next state row (for CDRs that carry none)."""
    last: dict[str, dict] = {}
    spells = []
    for r in agent_rows:
        prev = last.get(r["agent"])
        if prev is not None and prev["state"] == "wrapup" and start <= prev["time"] < end:
            spells.append(r["time"] - prev["time"])
        last[r["agent"]] = r
    return sum(spells) / len(spells) if spells else None


def _period(t0: float, t1: float, cdrs: list[dict], rna: list[float], exch: list[dict],
            per: dict, group: dict, callbacks: list[dict], sla: float,
            qt: _QueueTimes, wrapup: float | None) -> dict:
    cdrs = [c for c in cdrs if t0 <= c["start"] < t1]
    inbound = [c for c in cdrs if c["direction"] == "in"]
    oc = Counter(c["outcome"] for c in inbound)
    outcomes = {o: oc.get(o, 0) for o in OUTCOMES}
    exch = [e for e in exch if t0 <= e["time"] < t1]
    congested = sum(e["congested"] for e in exch)
    ring_no_answer = sum(1 for t in rna if t0 <= t < t1)
    queued = [c for c in inbound if c["queue"]]
    answered = [c for c in inbound if c["outcome"] == "answered"]
    within = sum(1 for c in queued if c["outcome"] == "answered" and (c["wait"] or 0.0) <= sla)
    # the service level is of the callers who waited for an agent: one who left a number
    # for a callback without waiting (peak dissuasion, the IVR's offer: no wait in the
    # CDR) is served out of line, counted as served_by_callback instead
    waited = sum(1 for c in queued if c["outcome"] != "callback" or c["wait"] is not None)
    abandoned_q = sum(1 for c in queued if c["outcome"] in ("abandoned_queue", "abandoned_ring"))
    arrived = len(inbound)
    offered = arrived + congested
    trunk = _trunk(per, group)
    b = trunk["erlang_b"]
    trunk.update({
        "congested": congested,
        "exchange_offered": sum(e["offered"] for e in exch),
        "congestion": outcomes["congestion"],
        "estimated_blocked": (arrived * b / (1.0 - b)) if b is not None and b < 1.0 else None,
    })
    lost = {
        "trunk": congested + outcomes["congestion"],
        "ivr": outcomes["no_ivr_port"] + outcomes["abandoned_ivr"],
        "queue": outcomes["abandoned_queue"] + outcomes["timeout"],
        "agent": outcomes["abandoned_ring"],
    }
    talk = [qt.talk(c) for c in answered]
    return {
        "start": t0,
        "end": t1,
        "start_iso": _iso(t0),
        "offered": offered,
        "arrived": arrived,
        "answered": len(answered),
        "lost": lost,
        "lost_total": sum(lost.values()),
        "trunk": trunk,
        "ivr": _ivr(per, inbound, outcomes),
        "queue": {"queued": len(queued), "abandoned_queue": outcomes["abandoned_queue"],
                  "timeout": outcomes["timeout"], "answered_within_sla": within},
        "agent": {"ring_no_answer": ring_no_answer, "abandoned_ring": outcomes["abandoned_ring"]},
        "outcomes": outcomes,
        "outbound": sum(1 for c in cdrs if c["direction"] == "out"),
        "internal": sum(1 for c in cdrs if c["direction"] == "internal"),
        "service_level": _ratio(within, waited),
        "asa": _mean([c["wait"] for c in answered if c["wait"] is not None]),
        "aht": _mean([x + (c["wrapup"] if c["wrapup"] is not None else (wrapup or 0.0))
                      for x, c in zip(talk, answered)]),
        "talk": _mean(talk),
        "abandon_rate": _ratio(abandoned_q, len(queued)),
        "answer_rate": _ratio(len(answered), offered),
        "voicemail": outcomes["voicemail"],
        "callback_requested": outcomes["callback"],
        "served_by_callback": sum(1 for c in callbacks
                                  if t0 <= c["requested"] < t1 and c["state"] == "done"),
    }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def trunk_offered(p: dict) -> tuple[float | None, str | None]:
    """The trunk group's offered traffic: where the exchange counted its congestion, the
    carried traffic over the measured pass rate (carried / (1 - congested / offered));
    else worked back from the occupancy with Erlang B (real lines: blocked calls are
    never seen); None when every channel was busy all the time (any traffic fits)."""
    t = p["trunk"]
    carried = t["carried_erlangs"]
    if carried is None:
        return None, None
    if t["exchange_offered"] > 0:
        passed = t["exchange_offered"] - t["congested"]
        if passed > 0:
            return carried * t["exchange_offered"] / passed, "exchange congestion counts"
    if t["offered_erlangs"] is not None:
        return t["offered_erlangs"], "Erlang B from occupancy"
    return None, None


def _advice(p: dict, patience: dict, holding: float | None, *, blocking: float,
            sl_target: float, sla: float, span_channels: int, shrinkage: float,
            aht_all: float | None, max_abandon: float | None = None) -> dict:
    """What the interval needed (cti.store.planning): E1 spans for the blocking target (Erlang
    B, ITU-T E.520), IVR ports for the same target, agents for the service level
    (Erlang A with the measured patience, capping abandonment at ``max_abandon`` when
    given, else Erlang C)."""
    length = p["end"] - p["start"]
    out: dict[str, Any] = {"trunk": None, "ivr": None, "agents": None}
    offered, basis = trunk_offered(p)
    if offered is not None:
        tp = trunks_plan(offered, blocking, span_channels=span_channels,
                         channels=p["trunk"]["channels"] or None)
        out["trunk"] = {"basis": basis, "offered_erlangs": offered,
                        "spans_now": len(p["trunk"]["spans"]),
                        "channels_now": p["trunk"]["channels"],
                        "blocking_now": tp.get("blocking_now"), "channels": tp["channels"],
                        "spans": tp["spans"]}
    iv = p["ivr"]
    if holding and length > 0:
        ivr_off = (iv["seizures"] + iv["no_ivr_port"]) * holding / length
        ip = ivr_ports_plan(ivr_off, blocking, ports=iv["ports"] or None)
        out["ivr"] = {"offered_erlangs": ivr_off, "holding_time": holding,
                      "ports_now": iv["ports"], "blocking_now": ip.get("blocking_now"),
                      "ports": ip["ports"]}
    calls = p["queue"]["queued"]
    aht = p["aht"] if p["aht"] else aht_all
    if calls == 0:
        out["agents"] = {"model": None, "calls": 0, "aht": aht, "agents": 0,
                         "agents_scheduled": 0}
    elif aht and length > 0:
        st = staffing_for(calls, length, aht, sla, sl_target, patience.get("patience"),
                          shrinkage, max_abandon)
        out["agents"] = {k: st[k] for k in (
            "model", "calls", "aht", "traffic_erlangs", "agents", "agents_scheduled",
            "p_wait", "asa", "occupancy", "service_level", "p_abandon")}
    return out


def _advice_peak(intervals: list[dict]) -> dict:
    """The most each resource needed in any interval, and when."""
    out: dict[str, Any] = {}
    for key, part, field in (("spans", "trunk", "spans"), ("ivr_ports", "ivr", "ports"),
                             ("agents", "agents", "agents"),
                             ("agents_scheduled", "agents", "agents_scheduled")):
        best = None
        for p in intervals:
            a = (p.get("advice") or {}).get(part) or {}
            if a.get(field) is not None and (best is None or a[field] > best[0]):
                best = (a[field], p["start"])
        out[key] = best[0] if best else None
        out[key + "_at"] = best[1] if best else None
    return out


def loss_report(store: Store, start: float, end: float, interval: float = 3600,
                sla_seconds: float = 20, *, advice: bool = True, target_blocking: float = 0.01,
                service_level_target: float = 0.8, shrinkage: float = 0.0,
                span_channels: int = 30, max_abandon: float | None = None) -> dict:
    """The loss report for calls that started in [start, end), per ``interval`` seconds,
    with totals over the whole range; a JSON-able dict (see the module docstring).

    The manager's view: per interval the trunk group's and each span's occupancy and
    all-busy time and the IVR ports' occupancy (the server's samples), and with
    ``advice`` what each interval needed: E1 spans and IVR ports for
    ``target_blocking``, agents for ``service_level_target`` within ``sla_seconds``
    (and, where callers abandon, losing at most ``max_abandon`` of them: Erlang A);
    ``advice`` at the top is the most of each over the intervals (the peak to plan
    for), ``patience`` the callers' measured mean patience, ``peak`` the interval with
    the most calls offered."""
    for name, v in (("start", start), ("end", end), ("interval", interval),
                    ("sla_seconds", sla_seconds)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name}: must be a finite number, got {v!r}")
    if end <= start:
        raise ValueError(f"end: {end!r} must be after start {start!r}")
    if interval <= 0:
        raise ValueError(f"interval: must be positive, got {interval!r}")
    if sla_seconds < 0:
        raise ValueError(f"sla_seconds: must be 0 or more, got {sla_seconds!r}")
    if (end - start) / interval > 100000:
        raise ValueError(f"interval: {interval!r} s gives too many intervals for the range")
    for name, v in (("target_blocking", target_blocking),
                    ("service_level_target", service_level_target)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"{name}: must be strictly between 0 and 1, got {v!r}")
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) \
            or not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage: must be at least 0 and below 1, got {shrinkage!r}")
    if max_abandon is not None and (isinstance(max_abandon, bool)
                                    or not isinstance(max_abandon, (int, float))
                                    or not 0 < max_abandon < 1):
        raise ValueError(f"max_abandon: must be strictly between 0 and 1, got {max_abandon!r}")
    cdrs = store.cdrs(start, end)
    qlog = store.queue_log(start, end)
    rna = [r["time"] for r in qlog if r["event"] == "RINGNOANSWER"]
    qt = _QueueTimes(qlog)
    exch = store.exchange_stats(start, end)
    samples = store.trunk_samples(start, end)
    callbacks = store.callbacks_requested(start, end)
    wrapup = _wrapup_mean(store.agent_log(), start, end)

    starts = [c["start"] for c in cdrs]            # oldest first: slice, do not scan

    def period(occ: _Occupancy, t0: float, t1: float) -> dict:
        per, group = occ.between(t0, t1)
        mine = cdrs[bisect.bisect_left(starts, t0):bisect.bisect_left(starts, t1)]
        return _period(t0, t1, mine, rna, exch, per, group, callbacks, sla_seconds, qt,
                       wrapup)

    intervals = []
    sweep = _Occupancy(samples)
    t0 = start
    while t0 < end:
        t1 = min(end, (math.floor(t0 / interval) + 1) * interval)
        if t1 <= t0:  # pragma: no cover - float edge
            t1 = min(end, t0 + interval)
        intervals.append(period(sweep, t0, t1))
        t0 = t1
    totals = period(_Occupancy(samples), start, end)
    patience = qt.patience(start, end)
    seized = totals["ivr"]["seizures"]
    holding = totals["ivr"]["busy_port_seconds"] / seized if seized else None
    for p in intervals + [totals]:
        length = p["end"] - p["start"]
        if holding and length > 0:
            p["ivr"]["offered_erlangs"] = (p["ivr"]["seizures"] + p["ivr"]["no_ivr_port"]) \
                * holding / length
    out = {
        "start": start, "end": end, "interval": interval, "sla_seconds": sla_seconds,
        "intervals": intervals, "totals": totals, "patience": patience,
        "ivr_holding_time": holding,
        "peak": None, "advice": None,
    }
    busiest = max(intervals, key=lambda p: p["offered"])
    if busiest["offered"] > 0:
        out["peak"] = {"start": busiest["start"], "end": busiest["end"],
                       "offered": busiest["offered"], "lost_total": busiest["lost_total"]}
    if advice:
        out["targets"] = {"blocking": target_blocking, "service_level": service_level_target,
                          "answer_within": sla_seconds, "shrinkage": shrinkage,
                          "span_channels": span_channels, "max_abandon": max_abandon}
        for p in intervals:
            p["advice"] = _advice(p, patience, holding, blocking=target_blocking,
                                  sl_target=service_level_target, sla=sla_seconds,
                                  span_channels=span_channels, shrinkage=shrinkage,
                                  aht_all=totals["aht"], max_abandon=max_abandon)
        out["advice"] = _advice_peak(intervals)
    return out


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


_HEAD = ("interval (UTC)      offered answered | trunk   ivr queue agent  (rna) |"
         "   SL%    ASA    AHT aband% |   ATB s    B%  cb")


def _line(label: str, p: dict) -> str:
    lost, t = p["lost"], p["trunk"]
    return (f"{label:<19} {p['offered']:>7} {p['answered']:>8} |"
            f" {lost['trunk']:>5} {lost['ivr']:>5} {lost['queue']:>5} {lost['agent']:>5}"
            f" {'(' + str(p['agent']['ring_no_answer']) + ')':>6} |"
            f" {_f(None if p['service_level'] is None else 100 * p['service_level'], '5.1f'):>5}"
            f" {_f(p['asa'], '6.1f'):>6} {_f(p['aht'], '6.1f'):>6}"
            f" {_f(None if p['abandon_rate'] is None else 100 * p['abandon_rate'], '5.1f'):>6} |"
            f" {t['all_busy_seconds']:>7.0f}"
            f" {_f(None if t['erlang_b'] is None else 100 * t['erlang_b'], '5.1f'):>5}"
            f" {p['served_by_callback']:>3}")


def _when(t: float) -> str:
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M" if d.second == 0 and d.microsecond == 0
                      else "%Y-%m-%d %H:%M:%S")


def _pct(v: float | None) -> str:
    return _f(None if v is None else 100.0 * v, "5.1f")


def _capacity(report: dict) -> list[str]:
    """Trunk group, each span and the IVR ports: occupancy % and all-busy seconds per
    interval, then what the interval needed (E1 spans, IVR ports, agents)."""
    spans: list[str] = []
    for p in report["intervals"] + [report["totals"]]:
        for k in p["trunk"]["spans"]:
            if k not in spans:
                spans.append(k)
    spans.sort(key=_span_key)
    head = "interval (UTC)      | trunks occ% ATB s |" + "".join(
        f" span {k:<4} occ% ATB s |" for k in spans) + " IVR occ% ATB s peak/ports |" + \
        " need:  E1  IVR agents"
    out = ["", "Occupancy (the server's samples) and what each interval needed "
           "(E1 spans and IVR ports for the blocking target, agents for the service level)",
           head, "-" * len(head)]

    def line(label: str, p: dict) -> str:
        t, iv = p["trunk"], p["ivr"]
        cells = [f"{label:<19} | {_pct(t['occupancy']):>11} {t['all_busy_seconds']:>5.0f} |"]
        for k in spans:
            sp = t["spans"].get(k)
            cells.append(f" {'':<8} {_pct(sp and sp['occupancy']):>5}"
                         f" {(sp['all_busy_seconds'] if sp else 0):>5.0f} |")
        cells.append(f" {_pct(iv['occupancy']):>8} {iv['all_busy_seconds']:>5.0f}"
                     f" {str(iv['peak_busy']) + '/' + str(iv['ports']):>10} |")
        adv = p.get("advice") or {}
        cells.append(f" {'':<5} {_f((adv.get('trunk') or {}).get('spans'), 'd'):>3}"
                     f" {_f((adv.get('ivr') or {}).get('ports'), 'd'):>4}"
                     f" {_f((adv.get('agents') or {}).get('agents'), 'd'):>6}")
        return "".join(cells)

    for p in report["intervals"]:
        out.append(line(_when(p["start"]), p))
    out.append("-" * len(head))
    out.append(line("total", report["totals"]))
    return out


def _advice_text(report: dict) -> list[str]:
    adv, tg = report.get("advice"), report.get("targets")
    if not adv or not tg:
        return []
    pat = (report.get("patience") or {}).get("patience")
    last = report["intervals"][-1] if report["intervals"] else None
    now_spans = len(last["trunk"]["spans"]) if last else 0
    now_ports = max((p["ivr"]["ports"] for p in report["intervals"]), default=0)
    parts = []
    if adv["spans"] is not None:
        parts.append(f"{adv['spans']} E1 spans (have {now_spans}; needed at "
                     f"{_when(adv['spans_at'])})")
    if adv["ivr_ports"] is not None:
        parts.append(f"{adv['ivr_ports']} IVR ports (have {now_ports}; needed at "
                     f"{_when(adv['ivr_ports_at'])})")
    if adv["agents"] is not None:
        parts.append(f"{adv['agents']} agents on the phones, {adv['agents_scheduled']} scheduled"
                     f" (needed at {_when(adv['agents_at'])})")
    model = (f"Erlang A, callers' mean patience {pat:.1f} s" if pat
             else "Erlang C (nobody abandoned)")
    lines = ["", f"Advice for the peak (blocking {100 * tg['blocking']:g}%, "
             f"{100 * tg['service_level']:g}% answered within {tg['answer_within']:g} s; "
             f"{model}):"]
    lines += [f"  {x}" for x in parts] or ["  nothing measured to plan from"]
    return lines


def format_table(report: dict) -> str:
    """The report for a terminal: one line per interval, the four loss columns side by
    side (trunk, IVR, queue, agent; ring-no-answer in brackets), and a totals line;
    then the occupancy of the trunk group, each span and the IVR ports with what each
    interval needed, and the advice for the peak."""
    lines = [
        f"Lost calls {_iso(report['start'])} .. {_iso(report['end'])}, "
        f"service level = answered within {report['sla_seconds']:g} s of queue entry",
        _HEAD, "-" * len(_HEAD)]
    for p in report["intervals"]:
        lines.append(_line(_when(p["start"]), p))
    lines.append("-" * len(_HEAD))
    lines.append(_line("total", report["totals"]))
    lines += _capacity(report)
    lines += _advice_text(report)
    return "\n".join(lines)


def parse_time(value: str | float) -> float:
    """A ``--from``/``--to`` value: seconds (line time or the Unix epoch) or an ISO 8601
    date-time (UTC unless it names its offset)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"time: {value!r} is neither seconds nor an ISO 8601 date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def load_report(db_path: str | os.PathLike, start: float | str, end: float | str,
                **kw: Any) -> dict:
    """:func:`loss_report` of the database at ``db_path`` (a file, or the state directory
    holding ``cti.db``); FileNotFoundError if there is none."""
    p = Path(db_path)
    if p.is_dir():
        p = p / DB_NAME
    if not p.exists():
        raise FileNotFoundError(f"no database at {p}")
    with Store(p) as store:
        return loss_report(store, parse_time(start), parse_time(end), **kw)


def report_losses(db_path: str | os.PathLike, start: float | str, end: float | str, *,
                  json: bool = False, interval: float = 3600, sla_seconds: float = 20,
                  **kw: Any) -> str:
    """``cti report losses``: the report of the database at ``db_path`` (a file or the
    state directory holding ``cti.db``) as a table, or as JSON when ``json``."""
    report = load_report(db_path, start, end, interval=interval, sla_seconds=sla_seconds, **kw)
    if json:
        return _json.dumps(report, indent=2, allow_nan=False)
    return format_table(report)
