"""The traffic generator (simulators/traffic.py) against the whole centre, on line time.

Callers arrive on the simulated exchange, choose in the IVR with DTMF, wait with a
patience, and agents' phones answer, talk and hang up; the server core
(``cti.server.service.Service``) runs without sockets, one ``tick()`` per 20 ms of line time.
Checked under steady and random traffic (hypothesis): every call the exchange
offered to the board ends in exactly one CDR with one outcome; a call is in at most
one queue and an agent on at most one ACD call at any time; the CDR outcomes add up
to the centre's counters and the queue log; each loss is counted where it happened
(trunk congestion at the exchange, no IVR port, abandon in the queue, ring-no-answer
at the agent); the same seed gives the same run.
"""
from __future__ import annotations

import collections
import os
import random
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cti.server.config import DEFAULT_TOML, parse_config
from cti.server.service import Service, build_world
from simulators.exchange import ExchangeCall
from simulators.traffic import (AgentBehaviour, Curve, Steady, Traffic, TvAdvertPeak,
                                random_mobile)

OUTCOMES = {"answered", "no_ivr_port", "abandoned_ivr", "abandoned_queue", "abandoned_ring",
            "voicemail", "callback", "timeout", "failed"}
AGENTS = [str(a) for a in range(1001, 1009)]


@pytest.fixture(scope="module")
def prompts_dir():
    """The prompts, made once for the module (espeak-ng/sox or the built-in tones)."""
    from cti.centre.prompts import make_default_prompts

    d = tempfile.mkdtemp(prefix="traffic-prompts-")
    make_default_prompts(d)
    return d


def config_text(prompts: str, *, ivr_ports: int = 8, record: bool = False) -> str:
    text = DEFAULT_TOML.replace("ivr_ports = 8", f"ivr_ports = {ivr_ports}")
    text = text.replace("record = true", f"record = {'true' if record else 'false'}")
    return text.replace("[centre]\n", f"[centre]\nprompts = {prompts!r}\n", 1)


class Run:
    """A Service on a SimWorld with Traffic, and the invariants checked as it goes."""

    def __init__(self, prompts: str, *, logged_in: int = 8, ivr_ports: int = 8,
                 check_every: int = 10, **traffic):
        self.home = tempfile.mkdtemp(prefix="traffic-home-")
        cfg = parse_config(config_text(prompts, ivr_ports=ivr_ports), home=self.home)
        self.world, _ = build_world(cfg)
        self.svc = Service(cfg, world=self.world, wall_start=1e6)
        self.check_every = check_every
        self.ticks = 0
        self.events: list[dict] = []
        self.talking: dict[str, str] = {}        # agent -> call established on
        self.cleared: collections.Counter = collections.Counter()
        self.max_calls = 0
        for _ in range(30):                      # the D-channels come up
            self.step(traffic=False)
        for a in AGENTS[:logged_in]:
            self.request("agent.login", agent=a)
        traffic.setdefault("desktop", lambda op, args: self.svc.handle(
            {"id": 0, "op": op, "args": args}))
        self.traffic = Traffic(self.world, **traffic)

    def request(self, op: str, **args) -> dict:
        r = self.svc.handle({"id": 1, "op": op, "args": args})
        assert r["ok"], r
        return r["result"]

    def step(self, traffic: bool = True) -> None:
        pubs, _ = self.svc.tick()
        for p in pubs:
            ev = p.event
            self.events.append(ev)
            self._check_event(ev)
            if traffic:
                self.traffic.on_cti_event(ev)
        if traffic:
            self.traffic.tick(self.svc.board.line_seconds)
        self.ticks += 1
        self.max_calls = max(self.max_calls, len(self.svc.centre.calls))
        if self.ticks % self.check_every == 0:
            self.svc.centre.acd.check_invariants()

    def _check_event(self, ev: dict) -> None:
        t, cid, agent = ev["type"], ev.get("call_id"), ev.get("agent")
        if t == "call.delivered":
            # an agent never rings for a call while established on another one
            assert self.talking.get(agent) in (None, cid), (agent, self.talking, ev)
        elif t == "call.established":
            assert self.talking.get(agent) in (None, cid), (agent, self.talking, ev)
            self.talking[agent] = cid
        elif t in ("call.cleared", "call.transferred"):
            for a, c in list(self.talking.items()):
                if c == cid:
                    del self.talking[a]
            if t == "call.cleared":
                self.cleared[cid] += 1
                assert self.cleared[cid] == 1, f"{cid} cleared twice"
                assert ev["outcome"] in OUTCOMES, ev

    def run(self, seconds: float) -> None:
        for _ in range(int(seconds * 50)):
            self.step()

    def drain(self, limit: float = 400.0) -> None:
        """No more arrivals; tick until every call has ended (on both sides)."""
        self.traffic.stop()
        for _ in range(int(limit * 50)):
            if not (self.traffic.active or self.svc.centre.calls or self.world.calls.calls):
                break
            self.step()
        for _ in range(100):                       # phones back on hook, wrap-ups over
            self.step()
        assert not self.svc.centre.calls, list(self.svc.centre.calls)
        assert not self.world.calls.calls, self.world.calls.calls
        assert not self.traffic.active
        self.svc.centre.acd.check_invariants()

    # the records -----------------------------------------------------------------------
    def cdrs(self) -> list[dict]:
        return self.svc.store.cdrs(0, 1e12)

    def outcomes(self) -> collections.Counter:
        return collections.Counter(c["outcome"] for c in self.cdrs())

    def queue_log(self) -> collections.Counter:
        return collections.Counter(r["event"] for r in self.svc.store.queue_log(0, 1e12))

    def check_books(self) -> None:
        """Every offered call has exactly one CDR with one outcome, and the books agree."""
        x = self.world.calls.stats
        cdrs = self.cdrs()
        ids = [c["call_id"] for c in cdrs]
        assert len(ids) == len(set(ids)), "a call with two CDRs"
        assert len(cdrs) == x.offered - x.congested == self.traffic.stats.offered
        assert x.offered == self.traffic.stats.arrivals
        assert x.congested == self.traffic.stats.congested
        assert all(c["outcome"] in OUTCOMES for c in cdrs)
        assert set(self.cleared) == set(ids) and set(self.cleared.values()) <= {1}
        # the centre's counters: offered, and one per outcome
        k = self.svc.centre.counters
        out = self.outcomes()
        assert k["offered"] == len(cdrs)
        for o in OUTCOMES:
            assert k.get(o, 0) == out.get(o, 0), (o, k, out)
        assert sum(k.get(o, 0) for o in OUTCOMES) == k["offered"]
        # the queue log (Asterisk's events) against the CDRs and the counters
        ql = self.queue_log()
        assert ql["ENTERQUEUE"] == (ql["CONNECT"] + ql["ABANDON"] + ql["EXITWITHTIMEOUT"]
                                    + ql["EXITEMPTY"] + ql["EXITWITHKEY"] + ql["REMOVED"])
        assert ql["CONNECT"] == ql["COMPLETECALLER"] + ql["COMPLETEAGENT"] + ql["TRANSFER"]
        assert ql["ABANDON"] == out["abandoned_queue"] + out["abandoned_ring"]
        assert ql["RINGNOANSWER"] == k["ring_no_answer"]
        # the callers' side against the centre's
        s = self.traffic.stats
        assert k["transfers"] == s.transfers
        # transfers of calls an agent had outside the ACD (transferred to them) are not
        # queue calls: Asterisk's queue_log has no TRANSFER for them either
        assert ql["TRANSFER"] == k["transfers"] - k["transfers_direct"]
        if not s.transfers:
            assert ql["CONNECT"] == out["answered"] == s.answered_by_agent
        else:
            # a transferred call may end waiting again (abandoned, voicemail, ...)
            assert out["answered"] <= s.answered_by_agent <= ql["CONNECT"] + s.transfers
        assert s.rejected == out["no_ivr_port"]
        assert s.cleared == s.offered


# ---- profiles and arrivals, without a board ---------------------------------------------

class _FakeQ931:
    def free_channels(self):
        return ()


class _FakePri:
    q931 = _FakeQ931()


class _FakeCalls:
    """An exchange whose B-channels are all busy: every call congests (cause 34)."""

    def __init__(self):
        self.pri = {1: _FakePri()}
        self.offers: list[tuple[str, str]] = []

    def offer_call(self, span, ani, dnis, **kw):
        self.offers.append((ani, dnis))
        return ExchangeCall(span, -1, "to_board", ani, dnis, state="cleared", cause=34)


class _FakeWorld:
    def __init__(self):
        self.calls = _FakeCalls()
        self.phones = {}
        self.now_ms = 0


def arrivals(profile, seconds: float, seed: int = 1, **kw) -> list[float]:
    w = _FakeWorld()
    tr = Traffic(w, seed=seed, profile=profile, spans=(1,), **kw)
    times = []
    for i in range(int(seconds * 50) + 1):
        before = len(w.calls.offers)
        tr.tick(i * 0.02)
        times += [i * 0.02] * (len(w.calls.offers) - before)
    assert tr.stats.arrivals == tr.stats.congested == len(times)
    return times


def test_profiles_rates():
    assert Steady(20).rate(123.0) == 20 and Steady(20).peak == 20
    c = Curve([(0, 10), (60, 70), (120, 10)])
    assert c.rate(-5) == 10 and c.rate(30) == pytest.approx(40) and c.rate(60) == 70
    assert c.rate(90) == pytest.approx(40) and c.rate(1000) == 10 and c.peak == 70
    tv = TvAdvertPeak(base=20, peak=785, start=60, ramp=30, duration=600)
    assert tv.rate(0) == 20 and tv.rate(60) == 20 and tv.rate(75) == pytest.approx(402.5)
    assert tv.rate(90) == 785 and tv.rate(600) == 785 and tv.rate(690) == 785
    assert tv.rate(720) == 20 and tv.peak == 785
    with pytest.raises(ValueError, match="rate_per_minute"):
        Steady(-1)
    with pytest.raises(ValueError, match=r"points\[1\]"):
        Curve([(10, 1), (5, 2)])
    with pytest.raises(ValueError, match="answer_delay"):
        AgentBehaviour(answer_delay=(3, 1))
    with pytest.raises(ValueError, match="ring_out_probability"):
        AgentBehaviour(ring_out_probability=1.5)


def test_poisson_arrivals_follow_the_rate_and_the_seed():
    times = arrivals(Steady(60), 600)                # 600 expected, sd about 24.5
    assert 520 < len(times) < 680
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 0.85 < sum(gaps) / len(gaps) < 1.15       # exponential gaps of mean 1 s
    assert arrivals(Steady(60), 120, seed=5) == arrivals(Steady(60), 120, seed=5)
    assert arrivals(Steady(60), 120, seed=5) != arrivals(Steady(60), 120, seed=6)


def test_tv_advert_peak_by_thinning():
    """The advert: 20 a minute, then 785 a minute for ten minutes (PRODUCT.md)."""
    tv = TvAdvertPeak(base=20, peak=785, start=60, ramp=30, duration=570)
    times = arrivals(tv, 780)
    before = sum(1 for t in times if t < 60)
    peak = sum(1 for t in times if 90 <= t < 660)    # 570 s at 785/min: 7457 expected
    assert 5 <= before <= 40
    assert 7100 < peak < 7800
    assert len(times) > 7000                         # "over 7,000 calls in ten minutes"


def test_random_anis_and_a_pool():
    r = random.Random(3)
    for _ in range(50):
        ani = random_mobile(r)
        assert len(ani) == 11 and ani.startswith("1") and ani.isdigit()
    w = _FakeWorld()
    tr = Traffic(w, seed=1, profile=Steady(600), spans=(1,), ani_pool=["075512345678"])
    for i in range(500):
        tr.tick(i * 0.02)
    assert w.calls.offers and {a for a, _ in w.calls.offers} == {"075512345678"}
    with pytest.raises(ValueError, match="spans"):
        Traffic(w, seed=1, profile=Steady(1), spans=(2,))


# ---- steady traffic through the whole centre ----------------------------------------------

def test_steady_traffic_keeps_the_books(prompts_dir):
    """Three minutes of line time at 20 calls a minute on eight agents."""
    run = Run(prompts_dir, seed=7, profile=Steady(20), patience=(40, "exp"),
              agents=AgentBehaviour(answer_delay=(1, 4), ring_out_probability=0.05,
                                    talk_time=20, hangs_up_first_probability=0.5,
                                    ready_after=10))
    run.run(180)
    run.drain()
    run.check_books()
    s, x, out = run.traffic.stats, run.world.calls.stats, run.outcomes()
    assert 40 <= x.offered <= 90                     # 60 expected
    assert out["answered"] >= 0.5 * x.offered
    assert s.dtmf_sent > 0 and s.queued > 0 and s.agent_answers > 0
    assert s.caller_ended > 0 and s.agent_ended > 0
    ql = run.queue_log()
    assert ql["COMPLETECALLER"] > 0 and ql["COMPLETEAGENT"] > 0


# ---- random traffic: the invariants hold ---------------------------------------------------

choice_weights = st.dictionaries(st.sampled_from(["1", "2", "3", "4", None, "hangup"]),
                                 st.floats(0.0, 1.0), min_size=1).filter(
    lambda d: sum(d.values()) > 0.01)


@settings(max_examples=int(os.environ.get("TRAFFIC_EXAMPLES", "6")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), rate=st.floats(5, 60), patience=st.floats(1, 60),
       dist=st.sampled_from(["exp", "lognormal", "fixed"]), ring_out=st.floats(0, 1),
       choices=choice_weights, agents=st.integers(0, 8), talk=st.floats(1, 30),
       ivr_ports=st.integers(1, 8), seconds=st.integers(10, 40),
       answer_max=st.floats(0.5, 20), hangup_max=st.floats(0.1, 10), agent_first=st.floats(0, 1),
       transfer=st.floats(0, 0.5), transfer_to=st.lists(st.sampled_from(
           ["queue:sales", "queue:service", "1001", "1002", "1008"]), min_size=1, max_size=3))
def test_random_traffic_keeps_the_invariants(prompts_dir, seed, rate, patience, dist, ring_out,
                                             choices, agents, talk, ivr_ports, seconds,
                                             answer_max, hangup_max, agent_first, transfer,
                                             transfer_to):
    """Slow agents lift after the ringing stopped (dial tone: they hang up again) and
    slow hangers-up are still off hook when the next call comes (the phone is busy)."""
    run = Run(prompts_dir, logged_in=agents, ivr_ports=ivr_ports, check_every=5, seed=seed,
              profile=Steady(rate), patience=(patience, dist), ivr_choices=choices,
              agents=AgentBehaviour(answer_delay=(0.5, answer_max), ring_out_probability=ring_out,
                                    talk_time=talk, hangup_delay=(0.1, hangup_max),
                                    hangs_up_first_probability=agent_first, ready_after=5,
                                    transfer_probability=transfer,
                                    transfer_to=tuple(transfer_to)))
    run.run(seconds)
    run.drain()
    run.check_books()


# ---- the loss points, each counted where it happens ----------------------------------------

def test_impatient_callers_abandon_in_the_queue(prompts_dir):
    """Patience shorter than any answer (agents lift after 2 s at the earliest)."""
    run = Run(prompts_dir, logged_in=2, seed=3, profile=Steady(30), patience=(1.0, "fixed"),
              ivr_choices={"2": 1.0}, agents=AgentBehaviour(answer_delay=(2, 3)))
    run.run(40)
    run.drain()
    run.check_books()
    out = run.outcomes()
    lost = out["abandoned_queue"] + out["abandoned_ring"]
    assert lost == run.world.calls.stats.offered > 5 and out["answered"] == 0
    assert run.queue_log()["ABANDON"] == lost == run.traffic.stats.abandoned
    assert all(c["queue"] == "sales" for c in run.cdrs())


def test_agents_that_ring_out_are_paused(prompts_dir):
    run = Run(prompts_dir, logged_in=2, seed=4, profile=Steady(6), patience=(100, "fixed"),
              ivr_choices={"2": 1.0}, agents=AgentBehaviour(ring_out_probability=1.0))
    run.run(30)
    run.drain()
    run.check_books()
    ql = run.queue_log()
    assert ql["RINGNOANSWER"] >= 2 and run.svc.centre.counters["ring_no_answer"] == ql[
        "RINGNOANSWER"]
    assert ql["CONNECT"] == 0 and run.traffic.stats.agent_ring_outs >= 2
    for a in AGENTS[:2]:
        st_ = run.request("agent.show", agent=a)
        assert (st_["state"], st_["reason"]) == ("not_ready", "ring-no-answer"), st_
    rna = [r for r in run.svc.store.queue_log(0, 1e12) if r["event"] == "RINGNOANSWER"]
    assert {r["agent"] for r in rna} == {"1001", "1002"}
    assert all(int(r["data1"]) >= 11000 for r in rna)      # rang the 12 s ring timeout


def test_no_free_ivr_port(prompts_dir):
    """One IVR port and a burst of callers who sit in the menu: the rest find no port."""
    run = Run(prompts_dir, ivr_ports=1, seed=5, profile=Curve([(0, 120), (10, 120), (10.01, 0)]),
              ivr_choices={None: 1.0}, patience=(5, "fixed"))
    run.run(15)
    run.drain()
    run.check_books()
    out, x = run.outcomes(), run.world.calls.stats
    assert out["no_ivr_port"] >= 5
    assert x.cleared.get(17, 0) == out["no_ivr_port"] == run.traffic.stats.rejected
    assert all(c["answer"] is None for c in run.cdrs() if c["outcome"] == "no_ivr_port")


def test_full_span_is_counted_at_the_exchange(prompts_dir):
    """More callers at once than the 30 B-channels of one span: congestion (cause 34)
    that only the exchange sees; the board has a CDR for every call it was offered."""
    run = Run(prompts_dir, logged_in=0, seed=6, spans=(1,), dnis="4008005555",
              profile=Curve([(0, 600), (10, 600), (10.01, 0)]), patience=(20, "fixed"))
    run.run(12)
    busy = len([c for c in run.world.calls.calls.values() if c.span == 1])
    run.drain()
    run.check_books()
    x = run.world.calls.stats
    assert busy <= 30 and run.max_calls <= 30
    assert x.congested > 0 and x.cleared[34] == x.congested == run.traffic.stats.congested
    assert len(run.cdrs()) == x.offered - x.congested
    assert run.outcomes()["abandoned_queue"] == len(run.cdrs())


def test_hunting_over_the_trunk_group(prompts_dir):
    """With two spans the second takes the overflow of the first: no congestion."""
    run = Run(prompts_dir, logged_in=0, seed=6, spans=(1, 2), dnis="4008005555",
              profile=Curve([(0, 300), (8, 300), (8.01, 0)]), patience=(20, "fixed"))
    run.run(10)
    spans = collections.Counter(c.trunk.split("/")[0] for c in run.svc.centre.calls.values())
    run.drain()
    run.check_books()
    assert run.world.calls.stats.congested == 0 and spans["2"] > 0 and spans["1"] == 30


# ---- determinism -------------------------------------------------------------------------

def test_same_seed_same_run(prompts_dir):
    def once(seed):
        run = Run(prompts_dir, logged_in=3, seed=seed, profile=Steady(30), patience=(15, "exp"),
                  agents=AgentBehaviour(ring_out_probability=0.2, talk_time=10, ready_after=5))
        run.run(40)
        run.drain()
        run.check_books()
        return ([(c["call_id"], c["ani"], c["outcome"], c["agent"], c["ivr_path"], c["end"])
                 for c in run.cdrs()], run.traffic.stats.as_dict())

    a, b = once(11), once(11)
    assert a == b
    assert once(12)[0] != a[0]


def test_an_agent_phone_left_off_hook_is_busy_not_ring_no_answer(prompts_dir):
    """The ACD rings an agent whose handset is still off hook (the FXS port finds it
    busy): the centre tries again later instead of ringing a dead leg until the
    ring-no-answer timeout and pausing the agent."""
    run = Run(prompts_dir, logged_in=1, seed=1, profile=Steady(0))
    run.world.phones[1].lift()                   # 1001 picked up the handset: dial tone
    run.run(1)
    run.world.calls.offer_call(1, "13800138000", "4008005555")    # straight to "service"
    run.run(3)
    delivered = [e for e in run.events if e["type"] == "call.delivered"]
    assert delivered and delivered[0]["agent"] == "1001"
    assert run.request("agent.show", agent="1001")["state"] == "ready"
    run.run(14)                                  # past the 12 s ring timeout
    assert run.queue_log()["RINGNOANSWER"] == 0
    assert run.request("agent.show", agent="1001")["state"] == "ready"
    run.world.phones[1].hang_up()                # back on hook: the next try rings
    for _ in range(20 * 50):
        run.step()
        if run.world.phones[1].ringing:
            break
    run.world.phones[1].lift()
    run.run(1)
    assert [e for e in run.events if e["type"] == "call.established"][0]["agent"] == "1001"
    run.drain()
