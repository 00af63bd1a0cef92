"""The TV-advert peak as a scenario you can run: the old centre against the new one.

PRODUCT.md's case: a TV-shopping centre on 6 E1 and 400 agents took peaks of 785 calls
a minute (over 7,000 in the ten minutes after an advert) and lost about two thirds of
them at the four loss points; after an hourly analysis of trunk occupancy it went to
9 E1 and 700 agents and added smart dissuasion (at the peak the IVR answers, says an
agent will call back after the advert and keeps the number; after the peak the agents
call back). :func:`run_centre` replays that peak on the simulated board, bit-true (every
call a Q.931 SETUP in framed E1 bits from the simulated exchange, the prompts and the
callers' DTMF in the B-channels, agents' phones on FXS ports), faster than real time,
and accounts for every call offered exactly once: answered by an agent, served by a
callback, or lost at the trunks, the IVR, the queue or the agent's phone.

The figures are what the simulation gives for the plans and the callers' behaviour
(:class:`PeakPlan`); nothing in the report is a constant. The plans here are the case's
sizes; ``scaled()`` shrinks both centres and the traffic alike for a quick run.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from simulators.traffic import PEAK_DNIS, PeakPlan

__all__ = ["CentrePlan", "PeakPlan", "OLD_CENTRE", "NEW_CENTRE", "centre_toml", "run_centre",
           "run_peak", "account", "format_side_by_side", "ProgressBar", "scaled",
           "write_outputs", "side_by_side_html"]

QUEUE = "orders"
DNIS = PEAK_DNIS
EPOCH = 1795464000.0        # 2026-11-23 20:00 UTC: the advert's evening, for the reports


@dataclass(frozen=True)
class CentrePlan:
    """One centre: E1 PRI ``spans`` (30 B-channels each), ``agents`` on FXS ports, IVR ports,
    and the peak policy: ``dissuade`` None (callers queue, whatever the wait), "offer" or
    "impose" above ``dissuade_ewt`` seconds of estimated wait; ``callbacks``: the requests
    are worked off through the dialer after the peak (the arrival rate falls below
    ``callback_rate_below`` calls a minute, or agents are idle with nobody waiting)."""

    name: str
    spans: int
    agents: int
    ivr_ports: int
    dissuade: str | None = None
    dissuade_ewt: float = 20.0
    callbacks: bool = False
    callback_rate_below: float = 120.0

    def __post_init__(self):
        if not 1 <= self.spans <= 64:
            raise ValueError(f"CentrePlan({self.name}).spans: 1..64 E1 spans, not {self.spans}")
        if not 1 <= self.agents <= 1000:
            raise ValueError(f"CentrePlan({self.name}).agents: 1..1000, not {self.agents}")
        if self.ivr_ports < 0:
            raise ValueError(f"CentrePlan({self.name}).ivr_ports: must be >= 0")
        if self.dissuade not in (None, "offer", "impose"):
            raise ValueError(f"CentrePlan({self.name}).dissuade: None, offer or impose, "
                             f"not {self.dissuade!r}")


OLD_CENTRE = CentrePlan("old", spans=6, agents=400, ivr_ports=16)
NEW_CENTRE = CentrePlan("new", spans=9, agents=700, ivr_ports=150, dissuade="impose",
                        dissuade_ewt=0.0, callbacks=True)      # "when every agent is busy"


def scaled(plan, factor: float):
    """A plan shrunk by ``factor`` (spans, agents, IVR ports, or the call rates)."""
    if isinstance(plan, CentrePlan):
        return dataclasses.replace(plan, spans=max(1, round(plan.spans * factor)),
                                   agents=max(1, round(plan.agents * factor)),
                                   ivr_ports=max(1, round(plan.ivr_ports * factor)),
                                   callback_rate_below=plan.callback_rate_below * factor)
    return dataclasses.replace(plan, base=plan.base * factor, peak=plan.peak * factor)


def centre_toml(plan: CentrePlan, peak: PeakPlan, prompts_dir: str, home: str) -> str:
    """The centre's configuration file (cti/server/config/'s format): the board with the
    plan's E1 spans and one FXS port per agent, the welcome flow in front of the one
    order queue, and the peak policy."""
    spans = "".join(f'[[board.spans]]\nnumber = {n}\nsignalling = "pri"\ncrc4 = true\n'
                    f'law = "alaw"\n\n' for n in range(1, plan.spans + 1))
    dissuade = (f'dissuade_ewt = {plan.dissuade_ewt}\ndissuade = "{plan.dissuade}"\n'
                if plan.dissuade else "")
    callbacks = (f'\n[centre.callbacks]\nenabled = true\nrate_below = {plan.callback_rate_below}\n'
                 f'window = 60\nwhen_idle = true\nmax_attempts = 3\nretry_delay = 120\n'
                 f'no_answer_timeout = 30\n' if plan.callbacks else "")
    return f"""# {plan.name} centre of the TV-advert peak scenario (cti/scenarios/tv_peak.py)
[server]
home = {home!r}
replay_ring = 2000

[board]
name = "sim0"
backend = "sim"
tick_ms = 20

{spans}[[board.ports]]
kind = "fxs"
count = {plan.agents}

[sim]
seed = {peak.seed}
cable_delay_bits = 3

[centre]
ivr_ports = {plan.ivr_ports}
record = false
moh = "moh"
prompts = {prompts_dir!r}
{callbacks}
[[agents]]
first = 1001
count = {plan.agents}
first_extension = 1

[[queues]]
name = "{QUEUE}"
strategy = "longest-idle"
members = "all"
ring_timeout = {peak.ring_timeout}
wrapup = {peak.wrapup}
max_wait = 600
announce_every = 60
{dissuade}
[routing]
default = "ivr:welcome"

[ivr.flows.welcome]
start = "welcome"

[ivr.flows.welcome.nodes.welcome]
type = "play"
prompt = "welcome"
next = "orders"

[ivr.flows.welcome.nodes.orders]
type = "queue"
queue = "{QUEUE}"
"""


def account(store, traffic_stats, exchange_stats) -> dict:
    """Every call offered at the exchange, exactly once: ``answered`` by an agent,
    ``callback_served`` (a callback request an agent later completed), or lost at the
    ``trunk`` (all B-channels busy at the exchange, or congestion), the ``ivr`` (no IVR
    port, or the caller hung up in it), the ``queue`` (abandoned or timed out, or a
    callback request never completed) or the ``agent`` (hung up while an agent's phone
    rang); ``other`` (voicemail, failures) should stay empty here."""
    cdrs = [c for c in store.cdrs(0, 1e13) if c["direction"] == "in"]
    out = {o: 0 for o in ("answered", "callback", "congestion", "no_ivr_port",
                          "abandoned_ivr", "abandoned_queue", "timeout", "abandoned_ring",
                          "voicemail", "failed")}
    for c in cdrs:
        out[c["outcome"]] = out.get(c["outcome"], 0) + 1
    callback_ids = {c["call_id"] for c in cdrs if c["outcome"] == "callback"}
    served = sum(1 for r in store.callbacks() if r["call_id"] in callback_ids
                 and r["state"] == "done")
    unserved = out["callback"] - served
    acc = {
        "offered": traffic_stats.arrivals,
        "answered": out["answered"],
        "callback_served": served,
        "lost": {
            "trunk": exchange_stats.congested + out["congestion"],
            "ivr": out["no_ivr_port"] + out["abandoned_ivr"],
            "queue": out["abandoned_queue"] + out["timeout"] + unserved,
            "agent": out["abandoned_ring"],
        },
        "detail": {"congested_at_exchange": exchange_stats.congested,
                   "callback_requested": out["callback"], "callback_unserved": unserved,
                   **{k: v for k, v in out.items() if k not in ("answered", "callback")}},
        "other": sum(v for k, v in out.items() if k not in (
            "answered", "callback", "congestion", "no_ivr_port", "abandoned_ivr",
            "abandoned_queue", "timeout", "abandoned_ring")),
        "cdrs": len(cdrs),
    }
    acc["lost_total"] = sum(acc["lost"].values())
    acc["accounted"] = acc["answered"] + acc["callback_served"] + acc["lost_total"] + acc["other"]
    acc["served"] = acc["answered"] + acc["callback_served"]
    acc["served_share"] = acc["served"] / acc["offered"] if acc["offered"] else None
    return acc


class ProgressBar:
    """A one-line progress bar on a terminal (``stream``), at most ``hz`` updates a second;
    not on a terminal (a log, a pipe), a line every ``every`` seconds instead."""

    def __init__(self, label: str, total: float, stream=None, width: int = 30, hz: float = 4,
                 every: float = 10.0):
        self.label, self.total, self.width = label, total, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.period = 1.0 / hz if self.tty else every
        self._last = 0.0
        self._t0 = time.monotonic()

    def __call__(self, line_s: float, note: str = "", force: bool = False) -> None:
        t = time.monotonic()
        if not force and t - self._last < self.period:
            return
        self._last = t
        frac = min(1.0, line_s / self.total) if self.total else 1.0
        n = int(frac * self.width)
        wall = max(1e-9, t - self._t0)
        self.stream.write(f"{chr(13) if self.tty else ''}{self.label} "
                          f"[{'#' * n}{'.' * (self.width - n)}] {_mmss(line_s)} line time, "
                          f"{line_s / wall:5.1f}x real time {note}  "
                          f"{'' if self.tty else chr(10)}")
        self.stream.flush()

    def done(self, line_s: float, note: str = "") -> None:
        self(line_s, note, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _mmss(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


def run_centre(plan: CentrePlan, peak: PeakPlan, home: str | os.PathLike, *,
               prompts_dir: str | None = None, progress: Callable | None = None,
               report_interval: float = 60.0, arrivals_only: bool = False) -> dict:
    """Run the peak on one centre; returns its account, loss report and run figures.

    ``arrivals_only``: stop when the arrivals stop (the benchmark's ten minutes), without
    draining the queues and working off the callbacks."""
    from cti.server.config import parse_config
    from cti.centre.prompts import make_default_prompts
    from cti.store.report import loss_report
    from cti.server.service import Service, build_world
    from simulators.traffic import AgentBehaviour, Traffic, TvAdvertPeak

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    if prompts_dir is None:
        prompts_dir = str(home / "prompts")
        make_default_prompts(prompts_dir)
    cfg = parse_config(centre_toml(plan, peak, prompts_dir, str(home)), home=home)
    world, _ = build_world(cfg)
    # the agents' phones only ring and lift here: their own tone and caller-ID receivers
    # (which tests use to check what a phone hears) rest; the board's DSP runs as ever
    for phone in world.phones.values():
        phone.listen(False)
    # line time runs many times faster than the wall clock and a power cut is moot: the
    # store syncs at checkpoints, not at every commit (cti.store.sqlite's docstring)
    svc = Service(cfg, world=world, wall_start=EPOCH, store_synchronous="NORMAL")
    try:
        for _ in range(50):                               # the D-channels come up
            svc.tick()
        now = svc.board.line_seconds
        for agent in svc.centre.agents:
            svc.centre.agent_login(now, agent)
        start = svc.board.line_seconds
        ts_start = svc.ts()
        profile = TvAdvertPeak(base=peak.base, peak=peak.peak, start=peak.lead,
                               ramp=peak.ramp, duration=peak.hold)
        behaviour = AgentBehaviour(answer_delay=peak.answer_delay,
                                   ring_out_probability=peak.ring_out, talk_time=peak.talk,
                                   talk_distribution="lognormal", ready_after=10.0)
        traffic = Traffic(world, seed=peak.seed, profile=profile,
                          spans=tuple(range(1, plan.spans + 1)), dnis=DNIS,
                          ivr_choices={None: 1.0}, patience=(peak.patience, "lognormal"),
                          agents=behaviour, start=start, duration=peak.arrivals_seconds,
                          callback_accept=peak.callback_accept,
                          callback_key_delay=peak.callback_key_delay,
                          desktop=lambda op, args: svc.handle({"id": "traffic", "op": op,
                                                               "args": args}))
        svc.traffic = traffic
        cpu0, wall0 = time.process_time(), time.monotonic()
        end_arrivals = start + peak.arrivals_seconds
        limit = end_arrivals + (0.0 if arrivals_only else peak.drain_limit)
        centre, xcalls, store = svc.centre, world.calls, svc.store
        ticks = 0
        peak_calls = 0
        per_second = max(1, round(1000 / svc.board.tick_ms))
        while True:
            # a second of line time per transaction: the server commits every tick
            # because its events then go out to desktops; here nobody outside the
            # process sees them, and at many times real time a commit per tick costs
            # more than the centre's own writes (docs/architecture.md, rule 5)
            with store.batch():
                for _ in range(per_second):
                    svc.tick()
            ticks += per_second
            t = svc.board.line_seconds
            peak_calls = max(peak_calls, len(centre.calls))
            if progress is not None:
                progress(t - start, f"{len(centre.calls):4d} calls")
            if t >= end_arrivals:
                if arrivals_only or t >= limit:
                    break
                if not (traffic.active or centre.calls or xcalls.calls) and \
                        not _callbacks_open(store):
                    break
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        line = svc.board.line_seconds - start
        if progress is not None and hasattr(progress, "done"):
            progress.done(line, f"{traffic.stats.arrivals} calls")
        acc = account(store, traffic.stats, xcalls.stats)
        rep = loss_report(store, ts_start, svc.ts() + 1.0, interval=report_interval)
        return {
            "centre": dataclasses.asdict(plan),
            "peak": dataclasses.asdict(peak),
            "account": acc,
            "report": rep,
            "traffic": traffic.stats.as_dict(),
            "counters": dict(centre.counters),
            "run": {"line_seconds": line, "cpu_seconds": cpu, "wall_seconds": wall,
                    "x_real_time": line / cpu if cpu else None, "ticks": ticks,
                    "most_calls_at_once": peak_calls, "start": ts_start},
            "home": str(home),
        }
    finally:
        world.close()
        svc.store.close()


def _callbacks_open(store) -> bool:
    return any(r["state"] in ("requested", "dialling") for r in store.callbacks())


def run_peak(old: CentrePlan = OLD_CENTRE, new: CentrePlan = NEW_CENTRE,
             peak: PeakPlan = PeakPlan(), home: str | os.PathLike | None = None, *,
             progress: bool = True, stream=None) -> dict:
    """Both centres through the same peak (same seed: the same callers), one after the
    other; the results side by side."""
    from cti.centre.prompts import make_default_prompts

    home = Path(home if home is not None else tempfile.mkdtemp(prefix="peak-"))
    prompts = str(home / "prompts")
    make_default_prompts(prompts)
    out = {}
    for plan in (old, new):
        bar = ProgressBar(f"{plan.name} centre ({plan.spans} E1, {plan.agents} agents)",
                          peak.arrivals_seconds, stream=stream) if progress else None
        out[plan.name] = run_centre(plan, peak, home / plan.name, prompts_dir=prompts,
                                    progress=bar)
    return out


def format_side_by_side(results: dict) -> str:
    """The two centres' accounts and figures as one table."""
    names = list(results)
    rows: list[tuple[str, list[str]]] = []

    def row(label, fn):
        cells = []
        for n in names:
            try:
                cells.append(fn(results[n]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        rows.append((label, cells))

    def pct(r, v):
        off = r["account"]["offered"]
        return f"{v:,} ({100.0 * v / off:.1f}%)" if off else f"{v:,}"

    row("E1 spans / B-channels", lambda r: f"{r['centre']['spans']} / {30 * r['centre']['spans']}")
    row("agents", lambda r: f"{r['centre']['agents']}")
    row("IVR ports", lambda r: f"{r['centre']['ivr_ports']}")
    row("peak policy", lambda r: (f"{r['centre']['dissuade']} callback above "
                                  f"{r['centre']['dissuade_ewt']:g} s EWT"
                                  if r["centre"]["dissuade"] else "queue everyone"))
    row("calls offered", lambda r: f"{r['account']['offered']:,}")
    row("answered by an agent", lambda r: pct(r, r["account"]["answered"]))
    row("served by a callback", lambda r: pct(r, r["account"]["callback_served"]))
    row("lost at the trunks", lambda r: pct(r, r["account"]["lost"]["trunk"]))
    row("lost in the IVR", lambda r: pct(r, r["account"]["lost"]["ivr"]))
    row("lost in the queue", lambda r: pct(r, r["account"]["lost"]["queue"]))
    row("lost at agents' phones", lambda r: pct(r, r["account"]["lost"]["agent"]))
    row("served in all", lambda r: pct(r, r["account"]["served"]))
    row("ring-no-answer", lambda r: f"{r['counters']['ring_no_answer']:,}")
    row("dissuaded", lambda r: f"{r['counters'].get('dissuaded', 0):,}")
    row("service level (20 s)", lambda r: f"{100 * r['report']['totals']['service_level']:.1f}%")
    row("ASA", lambda r: f"{r['report']['totals']['asa']:.1f} s")
    row("most calls at once", lambda r: f"{r['run']['most_calls_at_once']:,}")
    row("line time simulated", lambda r: _mmss(r["run"]["line_seconds"]))
    row("speed (one core)", lambda r: f"{r['run']['x_real_time']:.1f}x real time")
    w0 = max(len(lbl) for lbl, _ in rows)
    w = [max(len(n), *(len(c[i]) for _, c in rows)) for i, n in enumerate(names)]
    lines = [f"{'':{w0}}  " + "  ".join(f"{n:>{w[i]}}" for i, n in enumerate(names))]
    for lbl, cells in rows:
        lines.append(f"{lbl:{w0}}  " + "  ".join(f"{c:>{w[i]}}" for i, c in enumerate(cells)))
    return "\n".join(lines)


def side_by_side_html(results: dict) -> str:
    """One page: the side-by-side table, then each centre's manager's view (the minute
    by minute losses, span and IVR occupancy, advice) from cti/store/charts.py."""
    import html
    from cti.store.charts import manager_svg

    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             "<title>The TV-advert peak: old centre and new</title>",
             "<style>body{font-family:sans-serif;margin:2em}pre{font-size:14px}</style>",
             "</head><body><h1>The TV-advert peak: where the calls went</h1>",
             f"<pre>{html.escape(format_side_by_side(results))}</pre>"]
    for name, r in results.items():
        c = r["centre"]
        parts.append(f"<h2>{html.escape(name)} centre: {c['spans']} E1, {c['agents']} agents"
                     f"</h2>")
        parts.append(manager_svg(r["report"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_outputs(results: dict, out_dir: str | os.PathLike) -> dict:
    """Write the results (JSON), the side-by-side page (HTML) and each centre's manager's
    charts (PNG, when rsvg-convert is there); returns what was written, by name."""
    import json

    from cti.store.charts import losses_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    p = out / "peak.json"
    p.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    files["results"] = str(p)
    p = out / "peak.html"
    p.write_text(side_by_side_html(results), encoding="utf-8")
    files["page"] = str(p)
    for name, r in results.items():
        p = out / f"{name}.png"
        try:
            losses_png(r["report"], p)
        except (OSError, RuntimeError) as e:      # no rasteriser: the page still has them
            files[f"{name} chart"] = f"not written ({e})"
            continue
        files[f"{name} chart"] = str(p)
    return files
