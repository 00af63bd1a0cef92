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
is the mean wait of answered calls; AHT is talk (billsec) plus wrap-up; the abandon
rate is the share of queued calls that ended ``abandoned_queue`` or
``abandoned_ring``. Rates with nothing to divide by are ``None``, never NaN.

Intervals are aligned to multiples of ``interval`` seconds (clock hours for the
default, in UTC and in any whole-hour time zone), clipped to [start, end).
"""
from __future__ import annotations

import json as _json
import math
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cti.store import DB_NAME, OUTCOMES, Store

__all__ = ["erlang_b", "offered_from_carried", "loss_report", "format_table",
           "report_losses", "parse_time"]


def erlang_b(traffic: float, channels: int) -> float:
    """Erlang B blocking probability for ``traffic`` erlangs offered to ``channels``.

    The recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)) stays within [0, 1] at
    every step, so it neither overflows nor loses precision for thousands of
    channels (the textbook A^N/N! / sum A^k/k! overflows past N ~ 170).
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 0:
        raise ValueError(f"channels: must be a whole number, 0 or more, got {channels!r}")
    a = float(traffic)
    if not math.isfinite(a) or a < 0:
        raise ValueError(f"traffic: must be a finite number of erlangs, 0 or more, got {traffic!r}")
    b = 1.0
    for n in range(1, channels + 1):
        ab = a * b
        b = ab / (n + ab)
    return b


def offered_from_carried(carried: float, channels: int) -> float | None:
    """The offered traffic A whose carried part A (1 - B(A, N)) equals ``carried``.

    This is how blocked traffic is inferred on lines where blocked calls are never
    seen. None when the carried traffic fills every channel (any A fits).
    """
    if carried <= 0:
        return 0.0
    if carried >= channels:
        return None

    def carried_of(a: float) -> float:
        return a * (1.0 - erlang_b(a, channels))

    lo, hi = carried, max(2.0 * carried, 1.0)
    while carried_of(hi) < carried:
        lo, hi = hi, hi * 2.0
        if hi > 1e9 * max(channels, 1):
            return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if carried_of(mid) < carried:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _ratio(n: int, d: int) -> float | None:
    return n / d if d else None


def _trunk(samples: list[dict], t0: float, t1: float) -> dict:
    """Occupancy between t0 and t1 from the step function the samples describe (each
    sample holds until the span's next one; spans are one trunk group)."""
    state: dict[str, tuple[int, int]] = {}
    busy_s = all_busy = covered = 0.0
    span_all_busy: dict[str, float] = {}
    channels = 0
    cur = t0

    def segment(until: float) -> None:
        nonlocal busy_s, all_busy, covered, channels
        dt = until - cur
        if dt <= 0 or not state:
            return
        busy = sum(b for b, _ in state.values())
        total = sum(t for _, t in state.values())
        channels = max(channels, total)
        covered += dt
        busy_s += busy * dt
        if total > 0 and busy >= total:
            all_busy += dt
        for span, (b, t) in state.items():
            if t > 0 and b >= t:
                span_all_busy[span] = span_all_busy.get(span, 0.0) + dt

    for s in samples:
        if s["time"] >= t1:
            break
        if s["time"] > cur:
            segment(s["time"])
            cur = s["time"]
        state[s["span"]] = (s["busy"], s["total"])
    segment(t1)
    out: dict[str, Any] = {"all_busy_seconds": all_busy,
                           "span_all_busy_seconds": dict(sorted(span_all_busy.items())),
                           "channels": channels, "measured_seconds": covered,
                           "carried_erlangs": None, "offered_erlangs": None, "erlang_b": None}
    if covered > 0:
        carried = busy_s / covered
        out["carried_erlangs"] = carried
        if channels > 0:
            offered = offered_from_carried(carried, channels)
            out["offered_erlangs"] = offered
            out["erlang_b"] = erlang_b(offered, channels) if offered is not None else 1.0
    return out


def _period(t0: float, t1: float, cdrs: list[dict], rna: list[float], exch: list[dict],
            samples: list[dict], callbacks: list[dict], sla: float) -> dict:
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
    abandoned_q = sum(1 for c in queued if c["outcome"] in ("abandoned_queue", "abandoned_ring"))
    arrived = len(inbound)
    offered = arrived + congested
    trunk = _trunk(samples, t0, t1)
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
        "ivr": {"no_ivr_port": outcomes["no_ivr_port"], "abandoned_ivr": outcomes["abandoned_ivr"]},
        "queue": {"queued": len(queued), "abandoned_queue": outcomes["abandoned_queue"],
                  "timeout": outcomes["timeout"], "answered_within_sla": within},
        "agent": {"ring_no_answer": ring_no_answer, "abandoned_ring": outcomes["abandoned_ring"]},
        "outcomes": outcomes,
        "outbound": sum(1 for c in cdrs if c["direction"] == "out"),
        "internal": sum(1 for c in cdrs if c["direction"] == "internal"),
        "service_level": _ratio(within, len(queued)),
        "asa": _mean([c["wait"] for c in answered if c["wait"] is not None]),
        "aht": _mean([c["billsec"] + (c["wrapup"] or 0.0) for c in answered]),
        "talk": _mean([c["billsec"] for c in answered]),
        "abandon_rate": _ratio(abandoned_q, len(queued)),
        "answer_rate": _ratio(len(answered), offered),
        "voicemail": outcomes["voicemail"],
        "callback_requested": outcomes["callback"],
        "served_by_callback": sum(1 for c in callbacks
                                  if t0 <= c["requested"] < t1 and c["state"] == "done"),
    }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def loss_report(store: Store, start: float, end: float, interval: float = 3600,
                sla_seconds: float = 20) -> dict:
    """The loss report for calls that started in [start, end), per ``interval`` seconds,
    with totals over the whole range; a JSON-able dict (see the module docstring)."""
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
    cdrs = store.cdrs(start, end)
    rna = [r["time"] for r in store.queue_log(start, end, "RINGNOANSWER")]
    exch = store.exchange_stats(start, end)
    samples = store.trunk_samples(start, end)
    callbacks = store.callbacks_requested(start, end)
    intervals = []
    t0 = start
    while t0 < end:
        t1 = min(end, (math.floor(t0 / interval) + 1) * interval)
        if t1 <= t0:  # pragma: no cover - float edge
            t1 = min(end, t0 + interval)
        intervals.append(_period(t0, t1, cdrs, rna, exch, samples, callbacks, sla_seconds))
        t0 = t1
    return {
        "start": start, "end": end, "interval": interval, "sla_seconds": sla_seconds,
        "intervals": intervals,
        "totals": _period(start, end, cdrs, rna, exch, samples, callbacks, sla_seconds),
    }


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


_HEAD = ("interval (UTC)     offered answered | trunk   ivr queue agent  (rna) |"
         "   SL%    ASA    AHT aband% |   ATB s    B%  cb")


def _line(label: str, p: dict) -> str:
    lost, t = p["lost"], p["trunk"]
    return (f"{label:<18} {p['offered']:>7} {p['answered']:>8} |"
            f" {lost['trunk']:>5} {lost['ivr']:>5} {lost['queue']:>5} {lost['agent']:>5}"
            f" {'(' + str(p['agent']['ring_no_answer']) + ')':>6} |"
            f" {_f(None if p['service_level'] is None else 100 * p['service_level'], '5.1f'):>5}"
            f" {_f(p['asa'], '6.1f'):>6} {_f(p['aht'], '6.1f'):>6}"
            f" {_f(None if p['abandon_rate'] is None else 100 * p['abandon_rate'], '5.1f'):>6} |"
            f" {t['all_busy_seconds']:>7.0f}"
            f" {_f(None if t['erlang_b'] is None else 100 * t['erlang_b'], '5.1f'):>5}"
            f" {p['served_by_callback']:>3}")


def format_table(report: dict) -> str:
    """The report for a terminal: one line per interval, the four loss columns side by
    side (trunk, IVR, queue, agent; ring-no-answer in brackets), and a totals line."""
    lines = [
        f"Lost calls {_iso(report['start'])} .. {_iso(report['end'])}, "
        f"service level = answered within {report['sla_seconds']:g} s of queue entry",
        _HEAD, "-" * len(_HEAD)]
    for p in report["intervals"]:
        lines.append(_line(datetime.fromtimestamp(p["start"], timezone.utc)
                           .strftime("%Y-%m-%d %H:%M"), p))
    lines.append("-" * len(_HEAD))
    lines.append(_line("total", report["totals"]))
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


def report_losses(db_path: str | os.PathLike, start: float | str, end: float | str, *,
                  json: bool = False, interval: float = 3600, sla_seconds: float = 20) -> str:
    """``cti report losses``: the report of the database at ``db_path`` (a file or the
    state directory holding ``cti.db``) as a table, or as JSON when ``json``."""
    p = Path(db_path)
    if p.is_dir():
        p = p / DB_NAME
    if not p.exists():
        raise FileNotFoundError(f"no database at {p}")
    with Store(p) as store:
        report = loss_report(store, parse_time(start), parse_time(end), interval, sla_seconds)
    if json:
        return _json.dumps(report, indent=2, allow_nan=False)
    return format_table(report)
