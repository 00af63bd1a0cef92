"""Restarts on one home (issue 14, "Done when"): ``cti serve`` as a process, loaded with the
simulated traffic (``sim.traffic``), stopped at a random moment, by SIGTERM or by SIGKILL
(kill -9) in turn, and started again on the same home, round after round.

Every round checks, and the run fails at the first that does not hold:

* the server comes back (answers ``ping``) and serves calls: a call of this boot is
  cleared and has its CDR; its call ids are ``<server>-<boot>-<n>`` of this boot;
* it sent Q.931 RESTART on each PRI span (``pri.list``: ``restarts_sent``) and each was
  acknowledged (no channel left out of service);
* ``PRAGMA integrity_check`` is ``ok`` on the file as the stop left it (read before the
  restart, as an operator would);
* every CDR committed before the stop is still there after the restart, and so is every
  CDR a ``call.cleared`` event reported;
* every call seen in flight at the stop (an event named it, no ``call.cleared`` came)
  has a CDR after the restart: its own, committed before the stop, or ``interrupted``
  with cause 41 written by the restart; the restart wrote no other;
* the agents logged in at the stop are logged in again.

Figures: per round how it was stopped, time to come back (start to first ``ping``), calls
in flight at the stop, interrupted CDRs the restart wrote, agents restored; at the end
the totals and the come-back median and maximum.

    python bench/restarts.py [--rounds 20] [--speed 20] [--seed 1] [--quick]

``--quick`` (CI) runs 4 rounds. tests/server/test_restart.py runs :func:`run` itself.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.clients.client import Client, CtiError, Subscriber  # noqa: E402


class RestartCheckFailed(AssertionError):
    pass


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise RestartCheckFailed(what)


def cti_env() -> dict:
    """A ``python -m cti`` child loads this tree first."""
    path = [str(ROOT)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


class Server:
    """``cti serve --home HOME --speed SPEED`` as a child process."""

    def __init__(self, home: Path, speed: float, log: Path):
        self.home, self.speed, self.log = home, speed, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start it; returns the seconds until it answered ``ping``."""
        t0 = time.monotonic()
        with open(self.log, "a") as err:
            err.write(f"--- start at {time.time():.3f}\n")
            err.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cti", "serve", "--home", str(self.home),
                 "--speed", str(self.speed)], cwd=ROOT, env=cti_env(),
                stdout=subprocess.DEVNULL, stderr=err)
        while True:
            if self.proc.poll() is not None:
                raise RestartCheckFailed(f"cti serve exited ({self.proc.returncode}) at start: "
                                         f"{self.tail()}")
            if (self.home / "run" / "cti-req.sock").exists():
                try:
                    with Client(self.home, timeout=1) as c:
                        c.request("ping")
                    return time.monotonic() - t0
                except CtiError:
                    pass
            if time.monotonic() - t0 > timeout:
                self.proc.kill()
                raise RestartCheckFailed(f"cti serve did not come up in {timeout} s")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, how: str) -> int:
        """SIGTERM (waits for the server to finish) or SIGKILL; returns the exit status."""
        assert self.proc is not None
        if how == "term":
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RestartCheckFailed("cti serve did not stop within 30 s of SIGTERM")
        self.proc.kill()
        return self.proc.wait()

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-n:])
        except OSError:
            return ""


class Watch:
    """The calls the events name, collected by a subscriber thread."""

    def __init__(self, home: Path):
        self.seen: set[str] = set()
        self.cleared: dict[str, tuple] = {}       # call id -> (outcome, cause)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sub = Subscriber(home, ["call."])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self._sub.get(timeout=0.05)
            if got is None:
                continue
            _, ev = got
            cid = ev.get("call_id")
            if not isinstance(cid, str):
                continue
            with self._lock:
                self.seen.add(cid)
                if ev["type"] == "call.cleared":
                    self.cleared[cid] = (ev.get("outcome"), ev.get("cause"))

    def snapshot(self) -> tuple[set, dict]:
        with self._lock:
            return set(self.seen), dict(self.cleared)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sub.close()


def read_db(path: Path) -> tuple[str, dict[str, tuple]]:
    """integrity_check and every CDR (call id -> outcome, cause) of the file."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        cdrs = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT call_id, outcome, cause FROM cdr")}
    finally:
        conn.close()
    return ok, cdrs


@dataclass
class Round:
    n: int
    how: str
    come_back: float = 0.0
    in_flight: int = 0
    interrupted: int = 0
    agents_restored: int = 0
    cdrs: int = 0


@dataclass
class Result:
    rounds: list[Round] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> str:
        lines = ["round stop  come-back  in-flight  interrupted  agents  CDRs"]
        for r in self.rounds:
            lines.append(f"{r.n:5d} {r.how:5s} {r.come_back:8.2f} s {r.in_flight:9d} "
                         f"{r.interrupted:12d} {r.agents_restored:7d} {r.cdrs:5d}")
        back = [r.come_back for r in self.rounds[1:]] or [0.0]
        lines.append(
            f"{len(self.rounds) - 1} restarts ({sum(r.how == 'term' for r in self.rounds[:-1])} "
            f"after SIGTERM, {sum(r.how == 'kill' for r in self.rounds[:-1])} after SIGKILL) in "
            f"{self.seconds:.1f} s: {sum(r.in_flight for r in self.rounds)} calls in flight at "
            f"the stops, {sum(r.interrupted for r in self.rounds)} closed as interrupted, "
            f"{self.rounds[-1].cdrs if self.rounds else 0} CDRs; come-back median "
            f"{statistics.median(back):.2f} s, max {max(back):.2f} s")
        return "\n".join(lines)


def _wait(cond, timeout: float, what: str, server: Server):
    t0 = time.monotonic()
    while True:
        got = cond()
        if got:
            return got
        if not server.alive():
            raise RestartCheckFailed(f"cti serve died while waiting for {what}: {server.tail()}")
        if time.monotonic() - t0 > timeout:
            raise RestartCheckFailed(f"timed out waiting for {what}")
        time.sleep(0.05)


def run(home: Path, restarts: int = 20, *, speed: float = 20.0, seed: int = 1,
        rate: float = 120.0, say=print) -> Result:
    """Start ``cti serve`` on ``home`` and restart it ``restarts`` times under traffic
    (SIGTERM and SIGKILL in turn), checking every round; returns the figures."""
    rng = random.Random(seed)
    home = Path(home)
    log = home.parent / f"{home.name}-serve.log"
    server = Server(home, speed, log)
    db = home / "cti.db"
    result = Result()
    t_start = time.monotonic()
    committed: dict[str, tuple] = {}       # every CDR known committed so far
    reported: dict[str, tuple] = {}        # every CDR a call.cleared reported
    in_flight: set[str] = set()            # seen, not cleared, at the last stop
    agents_on: set[str] = set()
    try:
        for n in range(restarts + 1):
            how = "term" if n % 2 == 0 else "kill"
            rnd = Round(n, how if n < restarts else "term")
            rnd.come_back = server.start()
            with Client(home, timeout=5) as c:
                ping = c.request("ping")
                prefix = f"{ping['server']}-{ping['boot']}-"
                _check(ping["boot"] == n + 1, f"round {n}: boot {ping['boot']}, not {n + 1}")
                rec = _wait(lambda: [e for e in c.request("replay", after=0, topics=[
                    "server.recovered"])["events"]], 10, "server.recovered", server)[0]
                rnd.interrupted = rec["interrupted"]
                rnd.agents_restored = rec["agents_restored"]
                # the restart: every call in flight at the stop has its CDR now
                _, cdrs = read_db(db)
                for cid in in_flight:
                    _check(cid in cdrs, f"round {n}: call {cid}, in flight at the stop, has no CDR")
                    if cid not in committed:
                        _check(cdrs[cid] == ("interrupted", 41),
                               f"round {n}: call {cid} closed as {cdrs[cid]}, not interrupted/41")
                new = {cid for cid in cdrs if cid not in committed}
                _check(len(new) == rnd.interrupted and all(
                    cdrs[cid] == ("interrupted", 41) for cid in new),
                       f"round {n}: the restart wrote {len(new)} CDRs, server.recovered says "
                       f"{rnd.interrupted}")
                _check(not any(cid.startswith(prefix) for cid in cdrs),
                       f"round {n}: ids of this boot ({prefix}*) before it served a call")
                for cid, v in committed.items():
                    _check(cdrs.get(cid) == v, f"round {n}: CDR {cid} {v} lost or changed")
                committed = cdrs
                # the agents come back logged in
                if agents_on:
                    states = {a["agent"]: a["state"] for a in c.request("agent.list")["agents"]}
                    back = {a for a in agents_on if states.get(a) not in (None, "logged_out")}
                    _check(back == agents_on, f"round {n}: agents {sorted(agents_on - back)} "
                           "not restored")
                # Q.931 RESTART on each PRI span, acknowledged
                spans = _wait(lambda: (lambda s: s if all(
                    x["q931"]["restarts_sent"] == 1 and x["free_channels"] > 0 for x in s)
                    else None)(c.request("pri.list")["spans"]), 10, "RESTART ACKNOWLEDGE",
                    server)
                _check(len(spans) > 0, "no PRI span")
                watch = Watch(home)
                time.sleep(0.2)                       # the subscription reaches the server
                c.request("sim.traffic", profile="steady", rate=rate, seconds=3600,
                          seed=seed * 1000 + n)
            try:
                # it serves calls: one of this boot cleared, with its CDR
                first = _wait(lambda: [cid for cid in watch.snapshot()[1]
                                       if cid.startswith(prefix)], 60, "a call of this boot",
                              server)
                if n == restarts:
                    _, cdrs = read_db(db)
                    _check(first[0] in cdrs, f"round {n}: {first[0]} cleared, no CDR")
                    rnd.cdrs = len(cdrs)
                    result.rounds.append(rnd)
                    say(f"round {n}: came back in {rnd.come_back:.2f} s, serves calls ({first[0]})")
                    server.stop("term")
                    break
                time.sleep(rng.uniform(0.0, 2.0))     # a random moment of the traffic
                with Client(home, timeout=5) as c:
                    agents_on = {a["agent"] for a in c.request("agent.list")["agents"]
                                 if a["state"] != "logged_out"}
                status = server.stop(how)
                if how == "term":
                    _check(status == 0, f"round {n}: exit status {status} after SIGTERM: "
                           f"{server.tail()}")
            finally:
                watch.close()
            seen, cleared = watch.snapshot()
            ok, cdrs = read_db(db)
            _check(ok == "ok", f"round {n}: integrity_check says {ok}")
            for cid, v in cleared.items():
                reported[cid] = v
            for cid, v in reported.items():
                _check(cdrs.get(cid) == v, f"round {n}: call.cleared reported {cid} {v}, "
                       f"the store has {cdrs.get(cid)}")
            for cid, v in committed.items():
                _check(cdrs.get(cid) == v, f"round {n}: CDR {cid} {v} lost at the stop")
            committed = cdrs
            in_flight = {cid for cid in seen - set(cleared)}
            rnd.in_flight = len([cid for cid in in_flight if cid not in cdrs])
            rnd.cdrs = len(cdrs)
            result.rounds.append(rnd)
            say(f"round {n}: came back in {rnd.come_back:.2f} s (boot {n + 1}), "
                f"{rnd.interrupted} interrupted closed, {rnd.agents_restored} agents restored; "
                f"stopped by {how}: {rnd.in_flight} calls in flight, {rnd.cdrs} CDRs")
    finally:
        if server.alive():
            server.stop("kill")
    result.seconds = time.monotonic() - t_start
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="restarts (default 20)")
    ap.add_argument("--speed", type=float, default=20.0, help="line time per wall second")
    ap.add_argument("--rate", type=float, default=120.0, help="calls a minute of line time")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="4 restarts (CI)")
    args = ap.parse_args()
    restarts = 4 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="cti-restarts-") as tmp:
        try:
            res = run(Path(tmp) / "home", restarts, speed=args.speed, seed=args.seed,
                      rate=args.rate)
        except RestartCheckFailed as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
    print(res.figures())
    return 0


if __name__ == "__main__":
    sys.exit(main())
