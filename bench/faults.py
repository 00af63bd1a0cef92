"""One failing call never ends the process (issue #14 item 3): exceptions injected at
random points of random calls, under traffic on the simulated board.

A centre of the TV-peak scenario (cti/scenarios/tv_peak.py: PRI spans framed bit by bit from the
simulated exchange, agents' phones on FXS ports, an IVR menu with a voicemail box, one
queue with dissuasion and callbacks after it, agents who sometimes transfer from the
desktop to the queue or a colleague) takes traffic in busy and quiet spells while :class:`Injector`, set as the centre's ``fault_injector``, raises for a share of
the calls at one of the named points each passes (a board event, the IVR, the ACD, a
ring, a connect, a request, the clearing, the CDR). The run then drains and checks:

* the loop never stopped (no tick raised);
* every hit call has exactly one CDR: ``failed`` with cause 41, or its own outcome when
  the hit came after its CDR was written; every other call its own outcome, never
  ``failed``;
* the counters add up: offered == inbound CDRs + inbound calls in progress (none at the
  end), each outcome counter == its CDRs, errors >= hits;
* nothing is left: no call in the centre, the ACD, an IVR port, a B-channel at the
  exchange, and no agent stuck busy or with a phone off hook.

    python bench/faults.py [--hits N] [--seed N] [--quick]

The default is 1,000 injected exceptions; ``--quick`` (CI) a few dozen.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from cti.scenarios import tv_peak as scenario  # noqa: E402
from cti.scenarios.tv_peak import CentrePlan, PeakPlan  # noqa: E402

PLAN = CentrePlan("faults", spans=2, agents=24, ivr_ports=40, dissuade="impose",
                  dissuade_ewt=8.0, callbacks=True, callback_rate_below=30.0)
PEOPLE = PeakPlan(seed=5, patience=25.0, answer_delay=(1.0, 5.0), ring_out=0.05,
                  ring_timeout=8.0, talk=20.0, wrapup=3.0, callback_accept=0.9,
                  callback_key_delay=(1.0, 3.0))
NATURAL_POINTS = 24          # a hit call raises at one of its first this many points
AGENTS_TRANSFERRED_TO = ("1001", "1002", "1003", "1004")

# the scenario's welcome flow, with a menu in front of the queue (IVR timers: the callers
# who key nothing) and a voicemail box (its length is a deadline)
MENU = f"""
[ivr.flows.welcome.nodes.menu]
type = "menu"
prompt = "menu"
timeout = 3
retries = 1
invalid = "invalid"
no_input = "no_input"
on_fail = "{scenario.QUEUE}"
branches = {{ 1 = "{scenario.QUEUE}", 2 = "{scenario.QUEUE}", 3 = "message" }}

[ivr.flows.welcome.nodes.message]
type = "voicemail"
box = "orders"
"""


class InjectedFault(RuntimeError):
    """What the injector raises (any exception would do: the centre catches them all)."""


class Injector:
    """Raise once for a ``share`` of the calls, at a point drawn uniformly among the first
    :data:`NATURAL_POINTS` named points the call passes (a call that ends sooner is not
    hit); at most ``limit`` hits. Records each hit: call id -> (point, CDR already
    written)."""

    def __init__(self, seed: int, share: float, limit: int | None = None):
        self.rng = random.Random(seed)
        self.share = share
        self.limit = limit
        self.plan: dict[str, int | None] = {}
        self.passed: collections.Counter = collections.Counter()
        self.hits: dict[str, tuple[str, bool]] = {}
        self.points: collections.Counter = collections.Counter()

    def __call__(self, where: str, call) -> None:
        cid = call.id
        if cid in self.hits:
            return
        if cid not in self.plan:
            self.plan[cid] = (self.rng.randrange(NATURAL_POINTS)
                              if self.rng.random() < self.share else None)
        k = self.plan[cid]
        if k is None:
            return
        n = self.passed[cid]
        self.passed[cid] = n + 1
        if n == k and (self.limit is None or len(self.hits) < self.limit):
            self.hits[cid] = (where, call.cdr_written)
            self.points[where] += 1
            raise InjectedFault(f"injected at {where} for call {cid}")


class Waves:
    """Busy and quiet spells in turn (``high`` then ``low`` calls a minute, ``half``
    seconds each): callers queue and are dissuaded in the busy ones, the callbacks go
    out in the quiet ones."""

    def __init__(self, high: float, low: float, half: float):
        self.high, self.low, self.half = high, low, half
        self.peak = max(high, low)

    def rate(self, t: float) -> float:
        return self.high if (t // self.half) % 2 == 0 else self.low


def run(hits: int, home: str | os.PathLike, *, seed: int = 5, rate: float = 170.0,
        share: float = 0.6, drain_limit: float = 900.0, min_seconds: float = 0.0,
        progress=None) -> dict:
    """Traffic in waves (``rate`` calls a minute, then a tenth of it) until ``hits``
    exceptions were injected (and ``min_seconds`` of line time went by), then drain;
    returns the figures and the list of what failed the checks (empty: all held).
    ``share`` 0: the same traffic without a fault, to compare."""
    from cti.centre.campaigns import CALLBACKS
    from cti.server.config import parse_config
    from cti.centre.prompts import make_default_prompts
    from cti.server.service import Service, build_world
    from drivers.sig import analog
    from simulators.traffic import AgentBehaviour, Traffic

    home = Path(home)
    prompts = home / "prompts"
    make_default_prompts(str(prompts))
    toml = scenario.centre_toml(PLAN, PEOPLE, str(prompts), str(home))
    toml = toml.replace('prompt = "welcome"\nnext = "orders"', 'prompt = "welcome"\nnext = "menu"')
    toml = toml.replace("[centre]\n", "[centre]\nvoicemail_seconds = 8\n", 1) + MENU
    cfg = parse_config(toml, home=home)
    world, _ = build_world(cfg)
    for phone in world.phones.values():
        phone.listen(False)
    svc = Service(cfg, world=world, wall_start=scenario.EPOCH, store_synchronous="NORMAL")
    injector = Injector(seed, share, limit=hits)
    try:
        for _ in range(50):                               # the D-channels come up
            svc.tick()
        centre, store = svc.centre, svc.store
        now = svc.board.line_seconds
        for agent in centre.agents:
            centre.agent_login(now, agent)
        behaviour = AgentBehaviour(answer_delay=PEOPLE.answer_delay,
                                   ring_out_probability=PEOPLE.ring_out,
                                   talk_time=PEOPLE.talk, talk_distribution="lognormal",
                                   ready_after=5.0, transfer_probability=0.15,
                                   transfer_to=(f"queue:{scenario.QUEUE}",)
                                   + AGENTS_TRANSFERRED_TO)
        traffic = Traffic(world, seed=seed, profile=Waves(rate, rate / 10, 90.0), spans=(1, 2),
                          dnis=scenario.DNIS,
                          ivr_choices={"1": 0.5, "2": 0.2, "3": 0.1, None: 0.1, "hangup": 0.1},
                          patience=(PEOPLE.patience, "lognormal"), agents=behaviour,
                          start=now, callback_accept=PEOPLE.callback_accept,
                          callback_key_delay=PEOPLE.callback_key_delay,
                          desktop=lambda op, args: svc.handle({"id": "desk", "op": op,
                                                               "args": args}))
        svc.traffic = traffic
        centre.fault_injector = injector
        per_second = max(1, round(1000 / svc.board.tick_ms))
        wall0, cpu0 = time.monotonic(), time.process_time()
        ticks = 0
        most = 0
        # traffic until the hits are in, then the arrivals stop and the centre drains
        while len(injector.hits) < hits or svc.line_time < min_seconds:
            with store.batch():
                for _ in range(per_second):
                    svc.tick()
            ticks += per_second
            most = max(most, len(centre.calls))
            if progress is not None:
                progress(f"{svc.line_time:7.0f} s line time, {len(injector.hits)} hits, "
                         f"{len(centre.calls)} calls")
        # no more callers, and no more callbacks placed (the backlog of callback requests
        # could keep the agents dialling for an hour): the calls in progress end
        traffic.stop()
        svc.campaigns.dialer.set_state(CALLBACKS, "paused")
        end = svc.board.line_seconds + drain_limit
        while svc.board.line_seconds < end:
            with store.batch():
                for _ in range(per_second):
                    svc.tick()
            ticks += per_second
            if not (traffic.active or centre.calls or world.calls.calls):
                break
        # a few seconds more: wrap-ups end, the phones' last releases settle
        for _ in range(per_second * 10):
            svc.tick()
        ticks += per_second * 10
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        figures, problems = check(svc, injector, analog)
        figures["run"] = {"line_seconds": round(svc.line_time, 1), "ticks": ticks,
                          "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                          "most_calls_at_once": most, "rate_per_minute": rate,
                          "hit_share": share, "seed": seed}
        return {"figures": figures, "problems": problems}
    finally:
        world.close()
        svc.store.close()


def check(svc, injector: Injector, analog) -> tuple[dict, list[str]]:
    """What the run left, against what it must leave."""
    centre, store = svc.centre, svc.store
    problems: list[str] = []
    cdrs = {c["call_id"]: c for c in store.cdrs(0, 1e13)}
    n_rows = store.count("cdr")
    if n_rows != len(cdrs):
        problems.append(f"{n_rows} CDR rows for {len(cdrs)} calls")
    after_cdr = 0
    for cid, (where, written) in injector.hits.items():
        cdr = cdrs.get(cid)
        if cdr is None:
            problems.append(f"hit call {cid} ({where}) has no CDR")
        elif written:
            after_cdr += 1
            if cdr["outcome"] == "failed" and cdr["cause"] == 41:
                problems.append(f"call {cid} hit after its CDR ({where}) was failed again")
        elif (cdr["outcome"], cdr["cause"]) != ("failed", 41):
            problems.append(f"hit call {cid} ({where}): {cdr['outcome']} cause {cdr['cause']}")
    others = [c for cid, c in cdrs.items() if cid not in injector.hits]
    bad = [c["call_id"] for c in others if c["outcome"] == "failed"]
    if bad:
        problems.append(f"{len(bad)} calls not hit failed: {bad[:10]}")
    outcomes = collections.Counter(c["outcome"] for c in cdrs.values())
    k = centre.counters
    for outcome, n in outcomes.items():
        if k.get(outcome, 0) != n:
            problems.append(f"counter {outcome} {k.get(outcome, 0)} != {n} CDRs")
    inbound = sum(1 for c in cdrs.values() if c["direction"] == "in")
    in_progress = sum(1 for c in centre.calls.values() if c.direction == "in")
    if k["offered"] != inbound + in_progress:
        problems.append(f"offered {k['offered']} != {inbound} inbound CDRs + "
                        f"{in_progress} in progress")
    if k["errors"] < len(injector.hits):
        problems.append(f"errors {k['errors']} < {len(injector.hits)} hits")
    # nothing left behind
    if centre.calls:
        problems.append("calls left: " + "; ".join(
            f"{c.id} {c.direction} {c.state} agent {c.agent} port {c.agent_port} "
            f"cdr={c.cdr_written} hit={injector.hits.get(c.id)}"
            for c in list(centre.calls.values())[:10]))
    for name in ("_by_pri", "_by_fxo", "_by_agent_leg", "_outbound", "_supervisors"):
        if getattr(centre, name):
            problems.append(f"centre.{name} not empty: {list(getattr(centre, name).items())[:5]}")
    if centre.ivr_ports.in_use:
        problems.append(f"{centre.ivr_ports.in_use} IVR ports still held")
    if centre.acd._calls:
        problems.append(f"the ACD still holds {sorted(centre.acd._calls)[:10]}")
    if svc.world.calls.calls:
        problems.append(f"{len(svc.world.calls.calls)} calls left at the exchange")
    busy_b = {n: p.q931.busy_count() for n, p in svc.pri.items() if p.q931.busy_count()}
    if busy_b:
        problems.append(f"B-channels still busy: {busy_b}")
    stuck = []
    for agent in centre.agents:
        st = centre.acd.agent_state(agent)
        port = centre.analog.get(st.extension)
        phone = getattr(port.machine, "state", None) if port is not None else None
        if st.state == "busy" or st.call or st.busy_elsewhere or \
                phone is not analog.FxsState.IDLE:
            stuck.append((agent, st.state, st.call, st.busy_elsewhere, str(phone)))
    if stuck:
        problems.append(f"{len(stuck)} agents stuck: {stuck[:5]}")
    if svc.errors:
        problems.append(f"{svc.errors} errors outside the calls")
    figures = {
        "hits": len(injector.hits), "hit_after_cdr": after_cdr,
        "points": dict(injector.points.most_common()),
        "errors_counted": k["errors"], "server_errors": svc.errors,
        "calls": len(cdrs), "inbound": inbound, "outbound": len(cdrs) - inbound,
        "offered": k["offered"], "outcomes": dict(outcomes.most_common()),
        "not_hit": len(others), "not_hit_outcomes": dict(collections.Counter(
            c["outcome"] for c in others).most_common()),
        "exchange_cleared_causes": {str(c): n for c, n in
                                    sorted(svc.world.calls.stats.cleared.items())},
        "agents": len(centre.agents), "agents_stuck": len(stuck),
    }
    return figures, problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hits", type=int, default=1000, help="exceptions to inject (1000)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="a few dozen hits (CI)")
    p.add_argument("--home", help="keep the run's home (store, log) here")
    args = p.parse_args(argv)
    hits = 40 if args.quick else args.hits
    from cti.server import logs

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(args.home or tmp)
        handler = logs.setup(home, "info")      # the tracebacks go to HOME/log/cti.log
        try:
            res = run(hits, home, seed=args.seed,
                      progress=lambda s: print(f"\r{s}", end="", file=sys.stderr, flush=True))
        finally:
            logs.teardown(handler)
        print(file=sys.stderr)
        log_text = (home / logs.LOG_DIR / logs.LOG_FILE).read_text()
        # one ERROR record with its traceback for each failure of a call
        res["figures"]["log_call_errors"] = log_text.count(" ERROR cti.centre: call ")
    print(json.dumps(res, indent=2))
    return 1 if res["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
