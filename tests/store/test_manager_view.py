"""The manager's view from the server's own samples (issue 8, item 2).

The server core (``cti.server.service.Service``) runs the simulated centre on line time with the
traffic generator (tests/simulators/test_traffic.py's ``Run``). While it runs, the test integrates
what it reads straight from the centre every tick: the busy B-channels of each PRI span
and the IVR ports in use. The loss report must give the same busy channel-seconds per
span and per IVR port, the same all-busy seconds and peaks: its per-span and IVR
figures are the server's measurements, not estimates. Then the report request over
the server's protocol carries the advice.
"""
from __future__ import annotations

import collections

import pytest

from cti.store.report import IVR_SPAN, loss_report
from tests.simulators.test_traffic import Curve, Run, prompts_dir  # noqa: F401  (the fixture)

TICK = 0.02


class Watched(Run):
    """A Run that integrates the centre's occupancy itself, tick by tick."""

    def __init__(self, *a, **kw):
        self.busy_s: collections.Counter = collections.Counter()
        self.all_busy_s: collections.Counter = collections.Counter()
        self.peak: collections.Counter = collections.Counter()
        self.watch = False
        super().__init__(*a, **kw)
        self.watch = True
        self.t0 = self.svc.ts()

    def step(self, traffic: bool = True) -> None:
        super().step(traffic)
        if not self.watch:
            return
        now = []
        for n, pri in self.svc.pri.items():
            total = len(pri.q931.channels)
            now.append((str(n), total - len(pri.q931.free_channels()), total))
        ports = self.svc.centre.ivr_ports
        now.append((IVR_SPAN, ports.in_use, ports.count))
        for label, busy, total in now:     # holds for the next tick
            self.busy_s[label] += busy * TICK
            self.peak[label] = max(self.peak[label], busy)
            if busy >= total:
                self.all_busy_s[label] += TICK


def check_against_the_watch(run: Watched, report: dict) -> None:
    t = report["totals"]
    end = run.svc.ts()
    for label, sp in list(t["trunk"]["spans"].items()) + [(IVR_SPAN, t["ivr"])]:
        carried = sp["carried_erlangs"]
        # the report's busy channel-seconds over the watched time are the watch's,
        # to a tick per change of count
        assert carried * (end - run.t0) == pytest.approx(run.busy_s[label], abs=2.0), label
        assert sp["all_busy_seconds"] == pytest.approx(run.all_busy_s[label], abs=0.5), label
        assert sp["peak_busy"] == run.peak[label], label


def test_trunk_congestion_per_span_from_the_servers_samples(prompts_dir):  # noqa: F811
    """More callers at once than span 1's 30 B-channels, span 2 idle: span 1 is all
    busy for seconds, span 2 never; the exchange saw congestion; the advice asks for
    more than the one span that carried the calls."""
    run = Watched(prompts_dir, logged_in=0, seed=6, spans=(1,), dnis="4008005555",
                  profile=Curve([(0, 600), (10, 600), (10.01, 0)]), patience=(20, "fixed"))
    run.run(12)
    run.drain()
    run.check_books()
    report = loss_report(run.svc.store, run.t0, run.svc.ts() + 1e-6, interval=3600)
    check_against_the_watch(run, report)
    t = report["totals"]
    s1, s2 = t["trunk"]["spans"]["1"], t["trunk"]["spans"]["2"]
    assert s1["all_busy_seconds"] > 1.0 and s1["peak_busy"] == 30
    assert s2["carried_erlangs"] == 0 and s2["all_busy_seconds"] == 0
    assert t["trunk"]["all_busy_seconds"] == 0           # the group had span 2 free
    assert t["lost"]["trunk"] == run.world.calls.stats.congested > 0
    adv = report["advice"]
    assert adv["spans"] >= 1 and report["intervals"][-1]["advice"]["trunk"]["basis"] \
        == "exchange congestion counts"
    samples = run.svc.store.trunk_samples(0, 1e12)
    # the default world's four FXO lines are sampled too, as their own group
    assert {s["span"] for s in samples} == {"1", "2", IVR_SPAN, "fxo"}


def test_ivr_ports_from_the_servers_samples(prompts_dir):  # noqa: F811
    """One IVR port and a burst of callers who sit in the menu: the port is busy all
    the time while the burst lasts, the rest find none; the advice asks for more."""
    run = Watched(prompts_dir, ivr_ports=1, seed=5,
                  profile=Curve([(0, 120), (10, 120), (10.01, 0)]),
                  ivr_choices={None: 1.0}, patience=(5, "fixed"))
    run.run(15)
    run.drain()
    run.check_books()
    report = loss_report(run.svc.store, run.t0, run.svc.ts() + 1e-6, interval=3600)
    check_against_the_watch(run, report)
    iv = report["totals"]["ivr"]
    assert iv["ports"] == 1 and iv["peak_busy"] == 1 and iv["all_busy_seconds"] > 5
    assert iv["no_ivr_port"] == run.outcomes()["no_ivr_port"] >= 5
    assert iv["seizures"] == sum(1 for c in run.cdrs() if c["ivr_path"])
    # holding time = busy port-seconds / calls that held a port (Little's law)
    assert report["ivr_holding_time"] == pytest.approx(iv["busy_port_seconds"] / iv["seizures"])
    assert report["advice"]["ivr_ports"] > 1
    # the same report over the server's protocol, with the advice's targets
    r = run.svc.handle({"id": 7, "op": "report.losses",
                        "args": {"start": run.t0, "end": run.svc.ts() + 1e-6,
                                 "blocking": 0.001, "service_level": 0.9}})
    assert r["ok"], r
    res = r["result"]
    assert res["targets"]["blocking"] == 0.001 and res["targets"]["service_level"] == 0.9
    assert res["advice"]["ivr_ports"] >= report["advice"]["ivr_ports"]
    assert res["totals"]["ivr"]["busy_port_seconds"] == iv["busy_port_seconds"]
    bad = run.svc.handle({"id": 8, "op": "report.losses", "args": {"blocking": 2}})
    assert not bad["ok"] and bad["error"]["field"] == "args.blocking"


def test_r2_span_occupancy_is_sampled_too(tmp_path):
    """Span 2 on China No.1 R2: the call's circuit shows in the span's samples, and a
    circuit the technician blocks counts as unavailable (busy) while blocked."""
    from tests.server.ops.test_signalling import make

    world, svc = make(tmp_path)
    try:
        for _ in range(30):
            svc.tick()
        t0 = svc.ts()
        world.r2_calls.offer_call(2, "13800138000", "4008005555", category=1)
        for _ in range(300):
            svc.tick()
        r2 = svc.r2[2]
        busy_now = len(r2.channels) - len(r2.free_timeslots())
        assert busy_now == 1
        r = svc.handle({"id": 1, "op": "span.block", "args": {"span": 2, "timeslot": 3}})
        assert r["ok"], r
        for _ in range(50):
            svc.tick()
        report = loss_report(svc.store, t0, svc.ts() + 1e-6, interval=3600)
        sp = report["totals"]["trunk"]["spans"]["2"]
        assert sp["channels"] == len(r2.channels) == 30 and sp["peak_busy"] == 2
        assert 0 < sp["carried_erlangs"] < 2
        samples = [s for s in svc.store.trunk_samples(t0, 1e12) if s["span"] == "2"]
        assert [s["busy"] for s in samples][-2:] == [1, 2]
    finally:
        world.close()
        svc.store.close()
