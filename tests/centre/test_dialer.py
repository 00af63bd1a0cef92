"""The outbound dialer (cti/centre/dialer.py, cti/centre/campaigns.py) end to end on the simulated board,
without sockets: campaigns dialled through ``Centre.make_call`` over the PRI spans to the
simulated exchange (real Q.931 over the framed E1), whose numbers are busy, vacant,
congested, never answered or answered after a delay; the do-not-call list; retry rules;
results in SQLite checked against the exchange's own record of calls; preview campaigns;
callbacks worked off after the peak; the after-call survey; and a hypothesis property
test of the dialer's state machine alone."""
from __future__ import annotations

import collections
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cti.centre import dialer as d
from cti.server.config import DEFAULT_TOML, parse_config
from cti.server.service import Service, build_world
from tests.desk import Centre as ServiceCentre

AGENTS = ("1001", "1002")


@pytest.fixture(scope="module")
def prompts_dir():
    from cti.centre.prompts import make_default_prompts

    path = tempfile.mkdtemp(prefix="dialer-prompts-")
    make_default_prompts(path)
    return path


def config_text(prompts: str, extra_centre: str = "", extra: str = "") -> str:
    text = DEFAULT_TOML.replace("record = true", "record = false")
    text = text.replace("[centre]\n", f"[centre]\nprompts = {prompts!r}\n{extra_centre}", 1)
    return text + extra


class Sim(ServiceCentre):
    """The server core on the simulated world, with agents at their phones: a ringing
    phone is lifted after ``lift_after`` s; an agent talks ``talk`` s on an answered
    outbound call and hangs up; a phone whose call cleared goes back on hook. (``req``,
    ``fail`` and ``close`` as tests/server/ops/test_calls.py has them.)"""

    def __init__(self, prompts, *, agents=AGENTS, lift_after=0.4, talk=4.0, text=None, **cfg):
        self.home = tempfile.mkdtemp(prefix="dialer-home-")
        config = parse_config(text or config_text(prompts, **cfg), home=self.home)
        self.world, _ = build_world(config)
        self.svc = Service(config, world=self.world, wall_start=1e6)
        self.x = self.world.calls                      # the exchange's PRI call logic
        self.events: list[dict] = []
        self.lift_after, self.talk = lift_after, talk
        self._due: list[tuple[float, str, int]] = []   # (time, action, port)
        self.max_dialer_calls = 0
        self.run(0.6)                                  # the D-channels come up
        for a in agents:
            self.req("agent.login", agent=a)

    @property
    def now(self) -> float:
        return self.svc.board.line_seconds

    def run(self, seconds: float, until=None) -> list[dict]:
        out = []
        for _ in range(int(seconds * 50)):
            pubs, _ = self.svc.tick()
            evs = [p.event for p in pubs]
            out += evs
            self.events += evs
            self._agents(evs)
            self.max_dialer_calls = max(self.max_dialer_calls,
                                        self.svc.campaigns.dialer.live_calls())
            if until is not None and until(evs):
                break
        return out

    def _agents(self, evs) -> None:
        now = self.now
        for e in evs:
            if e["type"] == "call.established" and e["call_id"] in self.svc.centre.calls:
                call = self.svc.centre.calls[e["call_id"]]
                if call.direction == "out":
                    self._due.append((now + self.talk, "hang_up", call.agent_port))
            elif e["type"] == "call.cleared" and e.get("agent"):
                port = self.svc.centre.agents[e["agent"]].extension
                self._due.append((now + 0.2, "hang_up", port))
        for port, phone in self.world.phones.items():
            if phone.ringing and not phone.off_hook and \
                    not any(p == port and a == "lift" for _, a, p in self._due):
                self._due.append((now + self.lift_after, "lift", port))
        for item in sorted(self._due):
            t, action, port = item
            if t > now:
                continue
            self._due.remove(item)
            phone = self.world.phones[port]
            if action == "lift" and not phone.off_hook:
                phone.lift()
            elif action == "hang_up" and phone.off_hook:
                phone.hang_up()



def by_type(events, t):
    return [e for e in events if e["type"] == t]


# ---- the progressive campaign ---------------------------------------------------------------

def test_progressive_campaign_meets_every_outcome(prompts_dir):
    s = Sim(prompts_dir)
    try:
        x = s.x
        x.busy_numbers.add("200001")
        x.no_answer_numbers.add("200002")
        x.vacant_numbers.add("200003")
        x.congested_numbers.add("200008")
        x.answer_after.update({"200004": 3000, "200005": 1000})
        r = s.req("campaign.create", campaign="spring", mode="progressive",
                  agents=list(AGENTS), no_answer_timeout=8,
                  rules={"busy": {"max_attempts": 2, "delay": 40},
                         "no_answer": {"max_attempts": 2, "delay": 20},
                         "congestion": {"max_attempts": 1, "delay": 0}})
        assert r["state"] == "stopped" and r["mode"] == "progressive"
        s.req("dnc.add", number="200006", reason="asked not to be called")
        numbers = ["200001", "200002", "200003", "200004", "200005", "200006", "200007",
                   "200008"]
        loaded = s.req("campaign.load", campaign="spring", records=[
            {"number": n, "name": f"customer {n}", "data": {"offer": "spring sale"}}
            for n in numbers])
        assert loaded["loaded"] == 8
        s.req("dnc.add", number="200007")              # after loading: still never dialled
        s.req("campaign.start", campaign="spring")
        s.run(200, until=lambda evs: by_type(evs, "campaign.finished"))
        show = s.req("campaign.show", campaign="spring")
        assert show["state"] == "finished"
        recs = {r["number"]: r for r in show["records_list"]}
        want = {"200001": ("failed", 2, "busy"), "200002": ("failed", 2, "no_answer"),
                "200003": ("failed", 1, "vacant"), "200004": ("done", 1, "answered"),
                "200005": ("done", 1, "answered"), "200006": ("dnc", 0, None),
                "200007": ("dnc", 0, None), "200008": ("failed", 1, "congestion")}
        assert {n: (r["state"], r["attempts"], r["last_outcome"]) for n, r in recs.items()} \
            == want
        # one call per free agent, never more: two agents, at most two calls out
        assert s.max_dialer_calls <= len(AGENTS)
        # every attempt in SQLite, and each matches what the exchange saw
        attempts = s.svc.store.attempts("spring")
        assert collections.Counter(a["number"] for a in attempts) == collections.Counter(
            {n: w[1] for n, w in want.items() if w[1]})
        seen = [c for c in x.log if c.direction == "from_board"]
        assert sorted(c.dnis for c in seen) == sorted(a["number"] for a in attempts)
        assert not {"200006", "200007"} & {c.dnis for c in seen}     # DNC: never dialled
        cause_of = {"busy": 17, "vacant": 1, "congestion": 34}
        for a in attempts:
            assert a["agent"] in AGENTS and a["call_id"]
            cdr = s.svc.store.cdr(a["call_id"])
            assert cdr["direction"] == "out" and cdr["dnis"] == a["number"]
            assert cdr["agent"] == a["agent"]
            at_exchange = [c for c in seen if c.dnis == a["number"]]
            if a["outcome"] in cause_of:
                assert a["cause"] == cause_of[a["outcome"]]
                assert cdr["outcome"] == a["outcome"] and cdr["cause"] == a["cause"]
                assert all(c.cause == a["cause"] and c.answered_ms is None
                           for c in at_exchange)
            elif a["outcome"] == "answered":
                assert [c.answered_ms is not None for c in at_exchange] == [True]
                assert cdr["outcome"] == "answered" and cdr["billsec"] > 1.0
            else:                      # our no-answer timer: the exchange rang, nobody answered
                assert a["outcome"] == "no_answer"
                assert all(c.answered_ms is None and c.cause == 16 for c in at_exchange)
        # the retry delays were kept: busy again 40 s after, no answer 20 s after
        for number, delay in (("200001", 40), ("200002", 20)):
            t = [a["time"] for a in attempts if a["number"] == number]
            starts = sorted(c.placed_ms / 1000 for c in seen if c.dnis == number)
            assert starts[1] - starts[0] >= delay and t[1] > t[0]
        # and the events said so
        assert len(by_type(s.events, "campaign.attempt")) == len(attempts)
        finals = by_type(s.events, "campaign.record")
        assert {e["number"]: e["state"] for e in finals} == {n: w[0] for n, w in want.items()}
        # the agents were left free
        assert all(s.req("agent.show", agent=a)["state"] == "ready" for a in AGENTS)
        assert not s.svc.centre.calls and not x.calls
    finally:
        s.close()


# ---- preview ---------------------------------------------------------------------------------

# ---- callbacks after the peak -------------------------------------------------------------

CALLBACK_QUEUE = """
[[queues]]
name = "cb"
strategy = "ring-all"
members = ["1001", "1002"]
max_wait = 4
overflow = "callback"
announce_every = 600
"""


def callback_config(prompts: str) -> str:
    """A queue ``cb`` (DNIS 4008009999) that promises a callback after 4 s of waiting;
    callbacks after the peak: below 4 arrivals a minute over the last minute (idle agents
    alone do not end the peak here)."""
    text = config_text(prompts, extra=CALLBACK_QUEUE).replace(
        'dnis = { "4008005555" = "queue:service" }',
        'dnis = { "4008005555" = "queue:service", "4008009999" = "queue:cb" }')
    return text.replace("[[agents]]", "[centre.callbacks]\nenabled = true\nrate_below = 4\n"
                        "window = 60\nwhen_idle = false\nretry_delay = 30\n\n[[agents]]", 1)


def test_callbacks_wait_for_the_peak_to_pass(prompts_dir):
    s = Sim(prompts_dir, text=callback_config(prompts_dir))
    try:
        for a in AGENTS:
            s.req("agent.not_ready", agent=a, reason="peak: on other calls")
        # a busy spell: 12 callers in 40 s; nobody free, each is promised a callback
        callers = [f"1390000{i:04d}" for i in range(12)]
        for n in callers:
            s.x.offer_call(1, n, "4008009999")
            s.run(10 / 3)
        s.run(6)
        cbs = s.svc.store.callbacks()
        assert [c["number"] for c in cbs] == callers
        assert all(c["state"] == "requested" for c in cbs)
        # the agents are back, but the arrivals are still above 4 a minute
        for a in AGENTS:
            s.req("agent.ready", agent=a)
        gate = s.svc.campaigns.gate
        while True:
            evs = s.run(0.02)
            if gate.rate(s.now) < 4:
                break
            assert not by_type(evs, "campaign.dial")                      # not dialled
            assert not [c for c in s.x.log if c.direction == "from_board"]
        assert all(c["state"] in ("requested", "dialling") for c in s.svc.store.callbacks())
        peak_over = s.now
        assert peak_over > 80                          # the last arrival left the window
        # the peak has passed: the callbacks go out, oldest request first
        s.run(300, until=lambda evs: all(c["state"] in ("done", "failed")
                                         for c in s.svc.store.callbacks()))
        s.run(30, until=lambda evs: not s.svc.centre.calls)     # the last talk ends
        out = sorted((c for c in s.x.log if c.direction == "from_board"),
                     key=lambda c: c.placed_ms)
        assert min(c.placed_ms for c in out) / 1000 >= peak_over - 0.2
        assert [c.dnis for c in out] == callers
        cbs = s.svc.store.callbacks()
        assert all(c["state"] == "done" and c["callback_call_id"] for c in cbs)
        assert all(c["attempts"] == 1 for c in cbs)
        # the dialer lets go of the served ones (the store keeps them): a server that runs
        # for days takes callbacks all along, and memory must not grow with them
        assert s.svc.campaigns.dialer.campaigns["callbacks"].records == {}
        shown = s.req("campaign.show", campaign="callbacks")
        assert [r["number"] for r in shown["records_list"]] == callers
        for c in cbs:
            cdr = s.svc.store.cdr(c["callback_call_id"])
            assert cdr["direction"] == "out" and cdr["outcome"] == "answered"
            assert cdr["agent"] in AGENTS and cdr["dnis"] == c["number"]
            assert cdr["billsec"] > 1.0                 # an agent talked to the caller
        att = s.svc.store.attempts("callbacks")
        assert sorted(a["call_id"] for a in att) == sorted(c["callback_call_id"] for c in cbs)
        assert s.max_dialer_calls <= len(AGENTS)
        # the report counts them as served by callback (state done)
        from cti.store.report import loss_report
        rep = loss_report(s.svc.store, 1e6, 1e6 + 3600, interval=3600)
        assert rep["totals"]["served_by_callback"] == len(callers)
        assert rep["totals"]["callback_requested"] == len(callers)
    finally:
        s.close()


# ---- the after-call survey -------------------------------------------------------------------

def answered_call(s: Sim, ani: str):
    """A caller on queue ``service``, answered by agent 1001 (the Sim lifts the phone)."""
    x = s.x.offer_call(1, ani, "4008005555")
    evs = s.run(10, until=lambda evs: by_type(evs, "call.established"))
    est = by_type(evs, "call.established")
    assert est and est[0]["agent"] == "1001"
    return x, est[0]["call_id"], int(est[0]["channel"].split("/")[1])


def heard_by_caller(s: Sim, ts: int, seconds: float) -> int:
    """The loudest sample the caller hears on B-channel ``ts`` of span 1 over ``seconds``
    (the exchange taps its end of the channel)."""
    import struct

    from drivers.board import Audio
    from drivers.codecs import alaw_decode

    ch = s.world.exchange.spans[1].channels[ts]
    ch.tap(True)
    raw = b""
    for _ in range(int(seconds * 50)):
        s.svc.tick()
        raw += b"".join(e.data for e in s.world.exchange_events
                        if isinstance(e, Audio) and (e.span, e.timeslot) == (1, ts)
                        and not e.sent)
    ch.tap(False)
    lin = alaw_decode(raw)
    pcm = struct.unpack(f"<{len(lin) // 2}h", lin) if raw else (0,)
    return max(abs(v) for v in pcm)


def test_after_call_survey_stores_the_key_or_null(prompts_dir):
    s = Sim(prompts_dir, agents=("1001",),
            extra_centre='survey = ["service"]\nsurvey_timeout = 6\n')
    try:
        # 1. the caller keys 4 after the agent hangs up
        x, call, ts = answered_call(s, "13800000001")
        s.run(2)
        s.world.phones[1].hang_up()
        evs = s.run(2, until=lambda evs: by_type(evs, "call.survey"))
        assert by_type(evs, "call.survey") and x.state == "answered"   # still on the trunk
        assert heard_by_caller(s, ts, 1.0) > 500       # the prompt, on the caller's B-channel
        assert s.req("agent.show", agent="1001")["state"] in ("wrapup", "ready")
        s.world.exchange.spans[1].channels[ts].dtmf("4")
        evs = s.run(3, until=lambda evs: by_type(evs, "call.cleared"))
        assert by_type(evs, "call.cleared")[0]["outcome"] == "answered"
        s.run(0.5)
        assert s.svc.store.cdr(call)["survey"] == 4
        assert x.state == "cleared"                    # we cleared the trunk
        s.run(6)                                       # wrap-up
        # 2. no key within the timeout: NULL
        x, call, ts = answered_call(s, "13800000002")
        s.world.phones[1].hang_up()
        s.run(1)
        s.world.exchange.spans[1].channels[ts].dtmf("9")   # not a rating: ignored
        evs = s.run(8, until=lambda evs: by_type(evs, "call.cleared"))
        cleared = by_type(evs, "call.cleared")
        assert cleared and s.now - cleared[0]["ts"] + 1e6 >= 0
        assert s.svc.store.cdr(call)["survey"] is None
        s.run(6)
        # 3. the caller hangs up during the survey: NULL, and the call ends at once
        x, call, ts = answered_call(s, "13800000003")
        s.world.phones[1].hang_up()
        s.run(1)
        s.x.hangup(1, x.call)
        evs = s.run(1, until=lambda evs: by_type(evs, "call.cleared"))
        assert by_type(evs, "call.cleared")
        s.run(0.2)
        assert s.svc.store.cdr(call)["survey"] is None
        assert s.svc.store.cdr(call)["outcome"] == "answered"
        # 4. a queue without the survey: the call ends when the agent hangs up
        assert not s.svc.centre.calls
    finally:
        s.close()


# ---- the dialer's state machine alone (hypothesis) ----------------------------------------

RESULTS = st.sampled_from([("answered", None), ("busy", 17), ("no_answer", 19),
                           ("no_answer", 18), ("congestion", 34), ("vacant", 1),
                           ("failed", 21), ("timeout", None), ("agent_away", None),
                           ("no_trunk", 34)])


@settings(max_examples=int(os.environ.get("DIALER_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(n_records=st.integers(1, 12), n_agents=st.integers(1, 4),
       rules=st.fixed_dictionaries({o: st.tuples(st.integers(1, 4), st.integers(0, 120))
                                    for o in ("busy", "no_answer", "congestion", "failed")}),
       results=st.lists(RESULTS, min_size=1, max_size=60),
       dnc=st.sets(st.integers(0, 11), max_size=4),
       dnc_later=st.sets(st.integers(0, 11), max_size=3),
       agent_flaps=st.lists(st.booleans(), min_size=1, max_size=40),
       timing=st.lists(st.floats(0.1, 20.0), min_size=1, max_size=40))
def test_dialer_properties(n_records, n_agents, rules, results, dnc, dnc_later, agent_flaps,
                           timing):
    """Random results and timings: in progressive mode never more calls out than free
    agents (one per agent), never a DNC number dialled (also one added while running),
    attempts never beyond the rule of the result before them, every record ends final."""
    rr = {o: d.RetryRule(m, float(t)) for o, (m, t) in rules.items()}
    cfg = d.CampaignConfig("p", "progressive", rules=rr, no_answer_timeout=25.0,
                           agent_answer_timeout=15.0)
    dl = d.Dialer(dnc=[f"5{i:03d}" for i in dnc])
    dl.add_campaign(cfg)
    dl.add_records("p", [d.Record(i + 1, f"5{i:03d}") for i in range(n_records)])
    dl.set_state("p", "running")
    agents = [f"a{i}" for i in range(n_agents)]
    now = 0.0
    live: dict[str, tuple] = {}          # call id -> (attempt, agent, result, ends at)
    pending: dict[int, object] = {}      # attempt -> its Dial, not yet placed
    busy_agents: set = set()             # on a dialer call (not free for the ACD)
    attempts = collections.Counter()
    last_result: dict[int, str] = {}
    ri = ti = fi = 0
    ids = iter(range(10 ** 6))
    dnc_now = set(dl.dnc)
    away: set = set()
    free_now = [frozenset()]             # the agents the last Tick said were free

    def feed(out):
        for o in out:
            if isinstance(o, d.Dial):
                assert o.number not in dnc_now, "a DNC number dialled"
                assert o.agent not in busy_agents, "an agent with two calls"
                assert o.agent in free_now[0], "a call for an agent who was not free"
                r = dl.campaigns["p"].records[o.record]
                prev = last_result.get(o.record)
                if prev is not None:
                    # a retry only while the rule of the last result allows it
                    assert attempts[o.record] < rr[prev].max_attempts
                attempts[o.record] += 1
                assert r.attempts == attempts[o.record]
                busy_agents.add(o.agent)
                pending[o.attempt] = o
            elif isinstance(o, d.AttemptDone):
                last_result[o.record] = o.outcome
            elif isinstance(o, d.Hangup):
                att, agent, res, _ = live[o.call_id]
                live[o.call_id] = (att, agent, ("cleared", 16), now)
                if o.reason == "agent_no_answer":
                    # the agent never answered: the attempt does not count
                    attempts[dl._attempts[att].record.id] -= 1

    agent_flaps = [True] + agent_flaps              # some agent is free now and then
    for step in range(50_000):
        dt = timing[ti % len(timing)]
        ti += 1
        due = dl.get_timer()
        if not live and due is not None and due > now + dt:
            now = due - dt                 # nothing going on: on to the next retry
        now += dt
        # calls move on first (what happened during the last dt)
        for cid, (att, agent, (res, cause), t_end) in list(live.items()):
            if now < t_end:
                continue
            if res == "cleared":                          # we hung up: it is over
                feed(dl.handle(now, d.CallEnded(cid, 16)))
            elif res == "agent_away":                     # until the agent timer fires
                continue
            elif res == "timeout":                        # until our no-answer timer fires
                feed(dl.handle(now, d.NetworkDialling(cid)))
                continue
            else:
                feed(dl.handle(now, d.NetworkDialling(cid)))
                if res == "answered":
                    feed(dl.handle(now, d.CallAnswered(cid)))
                    feed(dl.handle(now, d.CallEnded(cid, 16, True)))
                else:
                    feed(dl.handle(now, d.CallEnded(cid, cause)))
            del live[cid]
            busy_agents.discard(agent)
        free = frozenset(a for j, a in enumerate(agents)
                         if a not in busy_agents and agent_flaps[(fi + j) % len(agent_flaps)])
        fi += 1
        if step == 5:
            for i in dnc_later:
                dl.dnc.add(f"5{i:03d}")
                dnc_now.add(f"5{i:03d}")
        free_now[0] = free
        feed(dl.handle(now, d.Tick(free)))
        free_now[0] = frozenset()
        assert len(busy_agents) <= n_agents and dl.live_calls() <= n_agents
        # place the dialled calls; each meets the next scripted result
        for att, dial in list(pending.items()):
            del pending[att]
            res, cause = results[ri % len(results)]
            ri += 1
            if res == "agent_away":
                if dial.record in away:        # the agent was paused; another one answers
                    res, cause = "answered", None
                away.add(dial.record)
            if res == "no_trunk":
                feed(dl.handle(now, d.DialFailed(att, cause)))
                busy_agents.discard(dial.agent)
                continue
            cid = f"c{next(ids)}"
            feed(dl.handle(now, d.CallPlaced(att, cid)))
            live[cid] = (att, dial.agent, (res, cause), now + min(dt, 10.0))
        if dl.campaigns["p"].state == "finished" and not live:
            break
    c = dl.campaigns["p"]
    assert c.state == "finished" and not live and not dl.reserved()
    for r in c.records.values():
        assert r.state in d.FINAL_STATES                     # every record ends final
        assert r.attempts == attempts[r.id]
        if r.number in {f"5{i:03d}" for i in dnc}:
            assert r.state == "dnc" and r.attempts == 0
        elif r.state == "done":
            assert r.last_outcome == "answered"
        elif r.state == "failed":
            # stopped exactly when the rule of its last result said so
            rule = rr.get(r.last_outcome)
            assert rule is None or r.attempts >= rule.max_attempts
        elif r.state == "dnc":
            assert r.number in dnc_now
        assert r.attempts <= max(x.max_attempts for x in rr.values())


def test_gated_campaign_stops_when_the_peak_returns():
    """The callbacks campaign dials only after the peak, and stops dialling (the calls out
    go on) as soon as the peak returns; the gate reads the arrival rate over its window."""
    cfg = d.CampaignConfig("callbacks", "progressive", gated=True)
    dl = d.Dialer()
    dl.add_campaign(cfg, "running")
    dl.add_records("callbacks", [d.Record(i, f"1380000000{i}") for i in range(1, 5)])
    free = frozenset({"a1"})
    assert not dl.handle(1.0, d.Tick(free, after_peak=False))
    out = dl.handle(2.0, d.Tick(free, after_peak=True))
    dial = [o for o in out if isinstance(o, d.Dial)]
    assert [o.number for o in dial] == ["13800000001"]           # oldest first
    dl.handle(2.0, d.CallPlaced(dial[0].attempt, "c1"))
    dl.handle(3.0, d.NetworkDialling("c1"))
    dl.handle(4.0, d.CallAnswered("c1"))
    dl.handle(9.0, d.CallEnded("c1", 16, True))
    assert not dl.handle(10.0, d.Tick(free, after_peak=False))   # the peak is back
    assert dl.campaigns["callbacks"].records[1].state == "done"
    assert [r.state for r in dl.campaigns["callbacks"].records.values()][1:] == \
        ["pending"] * 3

    gate = d.PeakGate(rate_below=4, window=60, when_idle=True)
    gate.rate(0.0)
    for t in range(0, 40, 4):                                    # 10 arrivals in 40 s
        gate.arrival(float(t))
    assert gate.rate(40.0) == pytest.approx(10 * 60 / 40)
    assert not gate.after_peak(40.0, idle_agents=0, waiting=0)
    assert not gate.after_peak(40.0, idle_agents=2, waiting=1)   # callers still wait
    assert gate.after_peak(40.0, idle_agents=2, waiting=0)       # idle, nobody waits
    strict = d.PeakGate(4, 60, when_idle=False)
    strict.rate(0.0)
    for t in range(0, 40, 4):
        strict.arrival(float(t))
    assert not strict.after_peak(40.0, idle_agents=2, waiting=0)  # the rate alone decides
    assert gate.rate(95.0) < 4 and gate.after_peak(95.0, 0, 5)  # the window moved on


def test_outcome_of_reads_q850_causes():
    assert d.outcome_of(17) == "busy"
    assert d.outcome_of(18) == d.outcome_of(19) == "no_answer"
    assert d.outcome_of(34) == d.outcome_of(42) == "congestion"
    assert d.outcome_of(1) == "vacant"
    assert d.outcome_of(21) == d.outcome_of(None) == "failed"
    assert d.outcome_of(16, answered=True) == "answered"
    with pytest.raises(d.DialerError, match="max_attempts"):
        d.RetryRule(0)
    with pytest.raises(d.DialerError, match="rules.answered"):
        d.CampaignConfig("x", rules={"answered": d.RetryRule(1)})
    with pytest.raises(d.DialerError, match="rules.busy.delay"):
        d.CampaignConfig.from_dict("x", {"rules": {"busy": {"max_attempts": 2, "delay": -1}}})


# ---- the store, the configuration, the command line -------------------------------------

def test_store_dialer_tables_check_their_fields(tmp_path):
    from cti.store.sqlite import SCHEMA_VERSION, Store

    s = Store(tmp_path)
    try:
        assert s.version == SCHEMA_VERSION and s.version >= 3
        s.add_campaign("spring", "progressive", {"agents": []}, 1e6)
        with pytest.raises(ValueError, match="campaigns.name: campaign 'spring' already"):
            s.add_campaign("spring", "progressive", {}, 1e6)
        with pytest.raises(ValueError, match="campaigns.mode"):
            s.add_campaign("x", "robocall", {}, 1e6)
        with pytest.raises(ValueError, match=r"campaign_records\[1\].number"):
            s.add_campaign_records("spring", [{"number": "1"}, {"number": "x1"}])
        assert s.campaign_records("spring") == []                  # all or nothing
        with pytest.raises(ValueError, match="campaign_records.campaign: no campaign"):
            s.add_campaign_records("autumn", [{"number": "1"}])
        [rid] = s.add_campaign_records("spring", [{"number": "123", "data": {"a": 1}}])
        s.update_campaign_record(rid, state="failed", attempts=2, last_outcome="busy")
        with pytest.raises(ValueError, match="campaign_records.state"):
            s.update_campaign_record(rid, state="lost", attempts=2)
        with pytest.raises(ValueError, match="campaign_attempts.outcome"):
            s.add_attempt("spring", rid, "123", 1e6, "hung")
        with pytest.raises(ValueError, match="campaign_attempts.cause"):
            s.add_attempt("spring", rid, "123", 1e6, "busy", cause=300)
        s.add_attempt("spring", rid, "123", 1e6, "busy", agent="1001", cause=17, call_id="c1")
        assert s.attempts("spring")[0]["cause"] == 17
        assert s.campaign_records("spring")[0]["data"] == {"a": 1}
        with pytest.raises(ValueError, match="dnc.number"):
            s.dnc_add("12-3", 1e6)
        a = s.add_callback("139", "sales", 1e6 + 5)
        b = s.add_callback("138", "sales", 1e6 + 1)
        assert [r["id"] for r in s.callbacks_after(0)] == [b, a]      # oldest request first
        assert [r["id"] for r in s.callbacks_after(a)] == [b]
        with pytest.raises(ValueError, match="callbacks.state"):
            s.callbacks_after(0, ["waiting"])
        with pytest.raises(ValueError, match="cdr.survey"):
            s.add_cdr({"call_id": "c9", "direction": "in", "start": 1.0, "end": 2.0,
                       "outcome": "answered", "survey": 6})
    finally:
        s.close()


def test_config_of_callbacks_and_survey_names_the_key(prompts_dir):
    from cti.server.config import ConfigError

    cfg = parse_config(callback_config(prompts_dir).replace(
        "[centre]\n", '[centre]\nsurvey = ["service"]\n', 1), home=tempfile.mkdtemp())
    cb = cfg.centre.callbacks
    assert cb.enabled and cb.rate_below == 4 and cb.window == 60 and not cb.when_idle
    assert cfg.centre.survey_queues == ("service",)
    for bad, key in (("[centre.callbacks]\nrate_blow = 3\n", "centre.callbacks.rate_blow"),
                     ("[centre.callbacks]\nagents = [\"9\"]\n", "centre.callbacks.agents[0]"),
                     ("[centre.callbacks]\nwindow = 1\n", "centre.callbacks.window")):
        text = config_text(prompts_dir).replace("[[agents]]", bad + "\n[[agents]]", 1)
        with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
            parse_config(text)
    with pytest.raises(ConfigError, match="centre.survey"):
        parse_config(config_text(prompts_dir, extra_centre='survey = ["nope"]\n'))


def test_cli_retry_rules_and_csv_lists(tmp_path):
    from cti.clients.cli import CliError, build_parser, campaign_rows, retry_rules

    assert retry_rules(["busy=3/300", "vacant=1"]) == {
        "busy": {"max_attempts": 3, "delay": 300.0}, "vacant": {"max_attempts": 1, "delay": 0.0}}
    with pytest.raises(CliError, match="busy=3/300"):
        retry_rules(["busy3"])
    f = tmp_path / "list.csv"
    f.write_text("number,name,offer\n13912345678,Wang Fang,spring sale\n13900000002,,\n")
    assert campaign_rows(str(f)) == [
        {"number": "13912345678", "name": "Wang Fang", "data": {"offer": "spring sale"}},
        {"number": "13900000002"}]
    (tmp_path / "bad.csv").write_text("phone\n1\n")
    with pytest.raises(CliError, match="number"):
        campaign_rows(str(tmp_path / "bad.csv"))
    a = build_parser().parse_args(["campaign", "create", "spring", "--mode", "preview",
                                   "--retry", "busy=2/60", "--agents", "1001,1002"])
    assert (a.campaign, a.mode, a.retry, a.agents) == ("spring", "preview", ["busy=2/60"],
                                                        "1001,1002")
    a = build_parser().parse_args(["dnc", "add", "123", "--reason", "asked"])
    assert (a.action, a.number, a.reason) == ("add", "123", "asked")


def test_campaigns_survive_a_restart(prompts_dir):
    s = Sim(prompts_dir, agents=())
    try:
        s.req("campaign.create", campaign="spring", agents=["1001"],
              rules={"busy": {"max_attempts": 5, "delay": 10}})
        s.req("campaign.load", campaign="spring", records=[{"number": "400001"},
                                                           {"number": "400002"}])
        s.req("campaign.start", campaign="spring")
        s.req("dnc.add", number="400002")
        home = s.home
    finally:
        s.close()
    config = parse_config(config_text(prompts_dir), home=home)
    world, _ = build_world(config)
    svc = Service(config, world=world, wall_start=2e6)
    try:
        r = svc.handle({"id": 1, "op": "campaign.show", "args": {"campaign": "spring"}})
        res = r["result"]
        assert res["state"] == "running" and res["records"] == 2
        assert res["config"]["rules"]["busy"] == {"max_attempts": 5, "delay": 10}
        assert res["config"]["agents"] == ["1001"]
        assert "400002" in svc.campaigns.dialer.dnc
    finally:
        world.close()
        svc.store.close()


def test_progressive_campaign_on_analog_fxo_lines_by_tones(prompts_dir):
    """With no PRI span the calls go out on the FXO lines: DTMF to the exchange, and the
    result read from its tones by the call-progress detector: busy tone, congestion tone,
    ringback then the answer (a polarity reversal), or ringback for ever (our timer)."""
    text = config_text(prompts_dir)
    head, _, rest = text.partition("[[board.spans]]")
    text = head + rest[rest.index("[[board.ports]]"):]
    s = Sim(prompts_dir, text=text)
    try:
        assert not s.svc.centre.pri
        x = s.x
        x.busy_numbers.add("600001")
        x.congested_numbers.add("600002")
        x.no_answer_numbers.add("600003")
        x.answer_after["600004"] = 2000
        s.req("campaign.create", campaign="analog", no_answer_timeout=12,
              rules={"busy": {"max_attempts": 1}, "no_answer": {"max_attempts": 1},
                     "congestion": {"max_attempts": 1}})
        s.req("campaign.load", campaign="analog",
              records=[{"number": n} for n in ("600001", "600002", "600003", "600004")])
        s.req("campaign.start", campaign="analog")
        s.run(200, until=lambda evs: by_type(evs, "campaign.finished"))
        s.run(5)
        att = {a["number"]: a for a in s.svc.store.attempts("analog")}
        assert {n: (a["outcome"], a["cause"]) for n, a in att.items()} == {
            "600001": ("busy", 17), "600002": ("congestion", 34),
            "600003": ("no_answer", None), "600004": ("answered", None)}
        for a in att.values():
            assert s.svc.store.cdr(a["call_id"])["trunk"].startswith("fxo/")
        seen = {c.dnis: c for c in x.log if c.direction == "from_board"}
        assert set(seen) == set(att) and all(c.span == 0 for c in seen.values())
        assert seen["600004"].answered_ms is not None
        assert all(c.answered_ms is None for n, c in seen.items() if n != "600004")
        assert s.svc.store.cdr(att["600004"]["call_id"])["billsec"] > 1.0
    finally:
        s.close()
