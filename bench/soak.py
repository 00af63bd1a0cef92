"""Soak: the new centre of the TV peak on ``cti serve``, in real time, with 700 desktops.

The new centre of cti/scenarios/tv_peak.py (9 E1 PRI spans, 700 agents' phones on FXS ports, 150 IVR
ports, dissuasion and callbacks) runs in ``cti serve`` as a process of its own, taking the
peak's callers (``sim.traffic`` profile ``peak``: the scenario's ramp, patience, talk and
wrap-up). This process holds 700 desktop subscribers (each a SUB socket on its own agent's
topic, ``agent.<id>.``) and one subscriber to everything, all on one poller.

It prints what ARCHITECTURE.md rule 8 asks of the server, measured by the server itself
(``server.stats``): tick lateness p50/p99/max and overruns (ticks over 40 ms late); event
latency from the tick that made an event to each subscriber (p50/p99: the event's ``ts``,
which is the wall clock of its tick at speed 1, against the receipt time on the same
machine clock; at ``--speed`` N the tick's wall time is ``wall_start + (ts - wall_start)/N``);
events lost (gaps in seq on the firehose); and the server's RSS at start, over time and
at the end. Goals: no tick later than 40 ms, p99 event latency under 50 ms, RSS flat once
warm.

    python bench/soak.py                      # the peak's 11 minutes at real time
    python bench/soak.py --quick              # one minute (CI)
    python bench/soak.py --hours 2 --speed 6 --rate 150 --peak 150   # long, at speed

For the long run keep the rate within what 700 agents serve (about 280 calls a minute with
the scenario's talk and wrap-up): above it the callback list grows for as long as the
run, and the memory with it, as it should.

What fills while the run warms up, each to its own bound (measured at 150 calls a
minute): the simulated exchange's call log (its last 2,000 calls: full after about 800 s of
line time); the ACD's timers of calls already gone (each queued call's ``max_wait`` timer
stays in the heap until it falls due: 600 s, so about 1,500 calls, 1 MiB); the replay ring
(``replay_ring = 2000`` events here). After that the server's Python objects and its main
malloc heap stay flat. What still creeps up is the PUB socket's pipes to the 701
subscribers, in the zmq I/O thread's malloc arena: libzmq queues a subscriber's messages
in chunks of 256 slots whose pages are touched as the slots are first written, and keeps
one spare chunk, so each pipe grows over its first ~300 messages and is flat after
(bench/pubpipes.py: about 40 KiB a subscriber on the server's side, 28 MiB for 700). A
desktop gets about 50 events an hour of line time at 150 calls a minute, so the pipes
warm for hours; RSS follows the events the desktops have had, not the calls, and stops
at that bound. (Not freed memory glibc keeps: malloc_trim gives nothing back, and with
MALLOC_ARENA_MAX=1 it grows the same; without the desktops' sockets it does not grow.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.scenarios import tv_peak as scenario  # noqa: E402
from cti.clients.client import Client, CtiError  # noqa: E402

LATENESS_GOAL_MS = 40.0
LATENCY_GOAL_MS = 50.0


class Histogram:
    """Latencies in 0.1 ms buckets up to 10 s (bounded memory for hours of events)."""

    def __init__(self):
        self.n = 0
        self.buckets = [0] * 100_001
        self.max = 0.0

    def add(self, ms: float) -> None:
        self.n += 1
        if ms > self.max:
            self.max = ms
        self.buckets[min(100_000, max(0, int(ms * 10)))] += 1

    def pct(self, p: float) -> float | None:
        if not self.n:
            return None
        want, seen = max(1, -(-self.n * p // 100)), 0
        for i, c in enumerate(self.buckets):
            seen += c
            if seen >= want:
                return (i + 1) / 10
        return self.max


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Desktops(threading.Thread):
    """700 desktop SUB sockets (one per agent, on ``agent.<id>.``) and one firehose."""

    def __init__(self, events: str, agents: list[str], wall_start: float, speed: float):
        super().__init__(daemon=True)
        import zmq
        self.zmq = zmq
        self.ctx = zmq.Context(io_threads=2)
        self.poller = zmq.Poller()
        self.desks = []
        for a in agents:
            s = self.ctx.socket(zmq.SUB)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SUBSCRIBE, f"agent.{a}.".encode())
            s.connect(events)
            self.poller.register(s, zmq.POLLIN)
            self.desks.append(s)
        self.all = self.ctx.socket(zmq.SUB)
        self.all.setsockopt(zmq.LINGER, 0)
        self.all.setsockopt(zmq.RCVHWM, 1_000_000)
        self.all.setsockopt(zmq.SUBSCRIBE, b"")
        self.all.connect(events)
        self.poller.register(self.all, zmq.POLLIN)
        self.wall_start, self.speed = wall_start, speed
        self.desk_latency, self.all_latency = Histogram(), Histogram()
        self.desk_events = self.all_events = self.lost = 0
        self.fire_at: dict[int, float] = {}       # seq -> receipt on the firehose (recent)
        self.desk_vs_fire = Histogram()
        self.last_seq = None
        self.stopping = False

    def when(self, ts: float) -> float:
        """The wall time of the tick that made an event with this ts."""
        return self.wall_start + (ts - self.wall_start) / self.speed

    def run(self) -> None:
        zmq = self.zmq
        while not self.stopping:
            for sock, _ in self.poller.poll(200):
                while True:
                    try:
                        topic, body = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    now = time.time()
                    ev = json.loads(body)
                    ms = (now - self.when(ev["ts"])) * 1000.0
                    if sock is self.all:
                        self.all_events += 1
                        self.all_latency.add(ms)
                        seq = ev["seq"]
                        if self.last_seq is not None and seq > self.last_seq + 1:
                            self.lost += seq - self.last_seq - 1
                        self.last_seq = seq
                        self.fire_at[seq] = now
                        if len(self.fire_at) > 20000:
                            self.fire_at.clear()
                    else:
                        self.desk_events += 1
                        self.desk_latency.add(ms)
                        f = self.fire_at.get(ev["seq"])
                        if f is not None:
                            self.desk_vs_fire.add(max(0.0, (now - f) * 1000))

    def close(self) -> None:
        self.stopping = True
        self.join(2)
        for s in self.desks + [self.all]:
            s.close(0)
        self.ctx.term()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one minute of line time (CI)")
    ap.add_argument("--seconds", type=float, help="line time to run (default: the peak's "
                    "arrivals, 11 minutes)")
    ap.add_argument("--hours", type=float, help="line time in hours (the long run)")
    ap.add_argument("--speed", type=float, default=1.0, help="line time / wall time")
    ap.add_argument("--rate", type=float, help="calls a minute before and after the peak "
                    "(default the scenario's 30)")
    ap.add_argument("--peak", type=float, help="calls a minute at the peak (default 785)")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the centre and the rates")
    ap.add_argument("--sample", type=float, default=10.0, help="wall s between samples")
    ap.add_argument("--no-realtime", action="store_true",
                    help="run the server as an ordinary process (not `--realtime`)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    plan, pk = scenario.NEW_CENTRE, scenario.PeakPlan(seed=args.seed)
    if args.scale != 1.0:
        plan, pk = scenario.scaled(plan, args.scale), scenario.scaled(pk, args.scale)
    seconds = (60.0 if args.quick else args.hours * 3600 if args.hours
               else args.seconds or pk.arrivals_seconds)
    rate = args.rate if args.rate is not None else pk.base
    peak = args.peak if args.peak is not None else pk.peak
    home = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    prompts = home / "prompts"
    from cti.centre.prompts import make_default_prompts
    make_default_prompts(str(prompts))
    cfg = home / "centre.toml"
    cfg.write_text(scenario.centre_toml(plan, pk, str(prompts), str(home)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "cti", "serve", "--config", str(cfg), "--home", str(home),
           "--speed", f"{args.speed:g}"] + ([] if args.no_realtime else ["--realtime"])
    log = open(home / "serve.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    print(f"new centre: {plan.spans} E1, {plan.agents} agents, {plan.ivr_ports} IVR ports; "
          f"cti serve pid {proc.pid} at x{args.speed:g}, home {home}")
    try:
        t_up = time.monotonic()
        while True:
            if proc.poll() is not None:
                print((home / "serve.log").read_text()[-2000:], file=sys.stderr)
                print("soak: cti serve exited", file=sys.stderr)
                return 1
            try:
                with Client(home, timeout=1) as c:
                    ping = c.request("ping")
                break
            except CtiError:
                if time.monotonic() - t_up > 300:
                    print("soak: cti serve did not come up", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        wall_start = ping["ts"] - ping["line_time"]
        rss0 = rss_kib(proc.pid)
        with Client(home, timeout=10) as c:
            agents = [a["agent"] for a in c.request("agent.list")["agents"]]
        desks = Desktops(f"ipc://{home}/run/cti-events.sock", agents, wall_start, args.speed)
        desks.start()
        time.sleep(1.0)                     # the subscriptions reach the server
        print(f"up in {time.monotonic() - t_up:.1f} s, RSS {rss0 / 1024:.1f} MiB; "
              f"{len(agents)} desktops and one firehose subscribed")
        # the agents log in from their desktops, as they would (700 requests, not one)
        t_login = time.monotonic()
        with Client(home, timeout=30) as c:
            for a in agents:
                c.request("agent.login", agent=a)
        print(f"{len(agents)} agents logged in by request in {time.monotonic() - t_login:.1f} s")
        with Client(home, timeout=30) as c:
            c.request("sim.traffic", profile="peak", rate=rate, peak=peak, seconds=seconds,
                      seed=args.seed, agents_login=False)
            line0 = c.request("ping")["line_time"]
        samples = []
        print(f"{'wall s':>7} {'line s':>8} {'RSS MiB':>8} {'calls':>6} {'p99 late':>9} "
              f"{'max late':>9} {'overruns':>8} {'events':>9}")
        t0 = time.monotonic()
        while True:
            time.sleep(args.sample)
            if proc.poll() is not None:
                print("soak: cti serve exited", file=sys.stderr)
                return 1
            with Client(home, timeout=30) as c:
                st = c.request("server.stats")
                calls = len(c.request("call.list")["calls"])
            rss = rss_kib(proc.pid)
            line = st["line_time"] - line0
            samples.append((time.monotonic() - t0, line, rss))
            lat = st["lateness_ms"]
            print(f"{time.monotonic() - t0:7.0f} {line:8.0f} {rss / 1024:8.1f} {calls:6d} "
                  f"{lat['p99']:8.1f}  {lat['max']:8.1f}  {st['overruns']:8d} "
                  f"{desks.all_events:9,d}", flush=True)
            if line >= seconds:
                break
        desks.close()
        rss1 = rss_kib(proc.pid)
        lat = st["lateness_ms"]
        print()
        print(f"line time {line:,.0f} s at x{args.speed:g}; {st['ticks']:,} ticks; "
              f"{st.get('requests', 0):,} requests, {st.get('busy', 0)} busy, "
              f"{st.get('replies_dropped', 0)} replies dropped")
        print(f"tick lateness: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
              f"overruns (> 40 ms) {st['overruns']}; longest tick {st.get('tick_max_ms')} ms, "
              f"longest request slice {st.get('requests_max_ms')} ms, longest GC "
              f"{st.get('gc_max_ms')} ms")
        print(f"event latency, desktops ({desks.desk_events:,} events): p50 "
              f"{desks.desk_latency.pct(50)} ms, p99 {desks.desk_latency.pct(99)} ms, "
              f"max {desks.desk_latency.max:.1f} ms")
        print(f"  (a desktop's event after the firehose's copy: p50 {desks.desk_vs_fire.pct(50)} ms, "
              f"p99 {desks.desk_vs_fire.pct(99)} ms)")
        print(f"event latency, firehose ({desks.all_events:,} events, {desks.lost} lost): p50 "
              f"{desks.all_latency.pct(50)} ms, p99 {desks.all_latency.pct(99)} ms, "
              f"max {desks.all_latency.max:.1f} ms")
        store = st.get("store") or {}
        print(f"store: {store.get('wal_syncs', 0):,} WAL fsyncs off the tick, longest "
              f"{store.get('wal_sync_max_ms')} ms, {store.get('checkpoints', 0)} checkpoints")
        warm = [s for s in samples if s[1] >= min(seconds * 0.25, 600)] or samples
        grow = (rss1 - warm[0][2]) / 1024
        print(f"server RSS: start {rss0 / 1024:.1f} MiB, warm {warm[0][2] / 1024:.1f} MiB "
              f"(line {warm[0][1]:.0f} s), end {rss1 / 1024:.1f} MiB ({grow:+.1f} MiB since warm)")
        # the desktops' PUB pipes warm over their first ~300 events (bench/pubpipes.py):
        # the second half of a long run is where RSS must be flat
        half = [x for x in samples if x[1] >= samples[-1][1] / 2]
        per_desk = desks.desk_events / max(1, len(agents))
        print(f"desktop events: {per_desk:.0f} a desktop (their pipes are warm after ~300); "
              f"RSS over the second half of the run (line {half[0][1]:.0f} s on): "
              f"{half[0][2] / 1024:.1f} -> {half[-1][2] / 1024:.1f} MiB "
              f"({(half[-1][2] - half[0][2]) / 1024:+.1f}, range "
              f"{(max(x[2] for x in half) - min(x[2] for x in half)) / 1024:.1f} MiB)")
        worst = max(desks.desk_latency.pct(99) or 0, desks.all_latency.pct(99) or 0)
        print(f"goals: no tick later than {LATENESS_GOAL_MS:g} ms: "
              f"{'met' if lat['max'] <= LATENESS_GOAL_MS else 'NOT met'}; p99 event latency "
              f"under {LATENCY_GOAL_MS:g} ms: {'met' if worst < LATENCY_GOAL_MS else 'NOT met'}")
        return 0
    finally:
        if proc.poll() is None:
            try:
                with Client(home, timeout=10) as c:
                    c.request("shutdown")
                proc.wait(30)
            except (CtiError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
