"""The parts of the ACD (cti/centre/acd/) tested alone, each through its own interface:
a strategy choosing among candidates (strategies.pick), the order of a queue's waiting
calls (queues._Queue.place), a queue's configuration checks (QueueConfig), and an
agent's state machine (the agents' requests of Acd against a model, with hypothesis)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.centre.acd import (AGENT_STATES, Acd, AcdError, AgentConfig, AgentState, Member,
                            QueueConfig, QueueLog)
from cti.centre.acd.agents import _Agent
from cti.centre.acd.queues import _Call, _Queue
from cti.centre.acd.strategies import STRATEGIES, pick

# ---- strategies.pick: the candidates in, the agents to ring out -----------------------


def _setup(n: int, strategy: str = "linear", **agent_attrs):
    """A queue of n members a0..a(n-1) and their agents; agent_attrs maps an attribute
    (idle_since, calls_taken, talk_time, skills) to a list of n values."""
    cfg = QueueConfig("q", strategy=strategy, members=tuple(Member(f"a{i}") for i in range(n)))
    q = _Queue(cfg)
    agents = {}
    for i in range(n):
        a = _Agent(AgentConfig(f"a{i}"))
        for attr, values in agent_attrs.items():
            setattr(a, attr, values[i])
        agents[a.cfg.id] = a
    return q, agents


def test_linear_and_ring_all():
    q, agents = _setup(4)
    group = [q.members["a2"], q.members["a0"], q.members["a3"]]
    assert pick("linear", group, q, agents, {}, random.Random(0)) == ["a2"]
    assert pick("ring-all", group, q, agents, {}, random.Random(0)) == ["a2", "a0", "a3"]


def test_round_robin_goes_on_after_the_member_tried_last():
    q, agents = _setup(4, "round-robin")
    everyone = list(q.cfg.members)
    picks = [pick("round-robin", everyone, q, agents, {}, random.Random(0))[0] for _ in range(6)]
    assert picks == ["a0", "a1", "a2", "a3", "a0", "a1"]
    assert q.rr_last == 1
    # a1 tried last; a2 is not free: the next after it that is
    assert pick("round-robin", [q.members["a0"], q.members["a3"]], q, agents, {},
                random.Random(0)) == ["a3"]


def test_longest_idle_counts_never_idle_as_longest_and_breaks_ties_by_member_order():
    q, agents = _setup(4, idle_since=[50.0, 10.0, None, 10.0])
    everyone = list(q.cfg.members)
    assert pick("longest-idle", everyone, q, agents, {}, random.Random(0)) == ["a2"]
    assert pick("longest-idle", [q.members[a] for a in ("a3", "a1", "a0")], q, agents, {},
                random.Random(0)) == ["a1"]


def test_skills_orders_by_total_level_then_idle():
    skills = [{"en": 3, "fr": 3}, {"en": 7}, {"en": 5, "fr": 4}, {"en": 5, "fr": 4}]
    q, agents = _setup(4, skills=skills, idle_since=[0.0, 0.0, 20.0, 5.0])
    everyone = list(q.cfg.members)
    assert pick("skills", everyone, q, agents, {"en": 1, "fr": 1}, random.Random(0)) == ["a3"]
    assert pick("skills", everyone, q, agents, {"en": 1}, random.Random(0)) == ["a1"]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(1, 12), strategy=st.sampled_from(STRATEGIES),
       seed=st.integers(0, 2**16))
def test_a_strategy_picks_from_the_group_by_its_measure(data, n, strategy, seed):
    idle = data.draw(st.lists(st.one_of(st.none(), st.floats(0, 1e4)), min_size=n, max_size=n))
    calls = data.draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    talk = data.draw(st.lists(st.floats(0, 1e5), min_size=n, max_size=n))
    q, agents = _setup(n, strategy, idle_since=idle, calls_taken=calls, talk_time=talk)
    ids = data.draw(st.lists(st.integers(0, n - 1), min_size=1, unique=True))
    group = [q.members[f"a{i}"] for i in sorted(ids)]     # free members come in queue order
    names = [m.agent for m in group]
    got = pick(strategy, group, q, agents, {}, random.Random(seed))
    if strategy == "ring-all":
        assert got == names
        return
    assert len(got) == 1 and got[0] in names
    chosen = agents[got[0]]

    def idle_key(a):
        return float("-inf") if a.idle_since is None else a.idle_since

    others = [agents[x] for x in names]
    if strategy == "linear":
        assert got == names[:1]
    elif strategy in ("longest-idle", "skills"):      # no skills asked: idle decides
        assert all(idle_key(chosen) <= idle_key(a) for a in others)
    elif strategy == "fewest-calls":
        assert all(chosen.calls_taken <= a.calls_taken for a in others)
    elif strategy == "least-talk-time":
        assert all(chosen.talk_time <= a.talk_time for a in others)
    elif strategy == "random":                         # the seeded RNG: reproducible
        assert pick(strategy, group, q, agents, {}, random.Random(seed)) == got
    elif strategy == "round-robin":
        assert q.rr_last == q.member_index[got[0]]


# ---- queues: the waiting order, the configuration checks -----------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(-2, 12))),
                max_size=30))
def test_waiting_calls_by_priority_then_arrival_and_a_hint_stays_in_its_band(joins):
    q = _Queue(QueueConfig("q"))
    for k, (priority, hint) in enumerate(joins):
        c = _Call(f"c{k}", "q", float(k), priority, {}, "", k)
        before = list(q.waiting)
        position = q.place(c, hint)
        assert q.waiting[position - 1] is c
        assert [x for x in q.waiting if x is not c] == before      # nobody else moved
        band = [i for i, x in enumerate(before) if x.priority == priority]
        higher = sum(1 for x in before if x.priority > priority)
        lo, hi = higher, higher + len(band)
        if hint is None:
            assert position - 1 == hi                               # last of its priority
        else:
            assert position - 1 == max(lo, min(hi, hint - 1))
        prios = [x.priority for x in q.waiting]
        assert prios == sorted(prios, reverse=True)
    if all(h is None for _, h in joins):                            # no hints: FIFO per band
        for p in range(4):
            seqs = [x.seq for x in q.waiting if x.priority == p]
            assert seqs == sorted(seqs)


@pytest.mark.parametrize("overflow, want", [
    (None, ("hangup", None)), ("hangup", ("hangup", None)), ("callback", ("callback", None)),
    ("queue:sales", ("queue", "sales")), ("voicemail:box1", ("voicemail", "box1")),
])
def test_overflow_action(overflow, want):
    assert QueueConfig("q", overflow=overflow).overflow_action() == want


@pytest.mark.parametrize("kw, words", [
    ({"overflow": "queue"}, "needs a target"), ({"overflow": "callback:x"}, "takes no target"),
    ({"overflow": "transfer:x"}, "action not one of"), ({"strategy": "fastest"}, "strategy"),
    ({"members": (Member("a"), Member("a"))}, "'a' twice"), ({"ring_timeout": 0}, "ring_timeout"),
    ({"required_skills": {"en": 11}}, "not in 1..10"), ({"dissuade": "maybe"}, "dissuade"),
])
def test_queue_config_refuses_what_the_acd_cannot_run(kw, words):
    with pytest.raises(ValueError, match=words):
        QueueConfig("q", **kw)


# ---- agents: one agent's state machine, against a model -------------------------------

_AGENT_OPS = st.lists(st.tuples(
    st.sampled_from(("login", "login_not_ready", "logout", "ready", "not_ready",
                     "busy_elsewhere")),
    st.sampled_from(("", "lunch", "training")), st.booleans()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_AGENT_OPS)
def test_an_agents_state_follows_its_requests(ops):
    """With no calls, an agent's state is the model's after every request: AgentState
    events say each change once, the queue log has its AGENTLOGIN/AGENTLOGOFF/PAUSE/
    UNPAUSE rows, requests of a logged-out agent are refused, and the agent counts as
    free for the queue (EWT 0) exactly when ready and not busy elsewhere."""
    acd = Acd([QueueConfig("q", members=(Member("a"),))], [AgentConfig("a", extension=7)])
    state, reason, elsewhere = "logged_out", "", False
    now = 0.0
    for op, why, flag in ops:
        now += 1.0
        was = (state, reason)
        rows = []
        if op in ("login", "login_not_ready"):
            acd.login(now, "a", ready=op == "login", reason=why)
            if state == "logged_out":
                rows.append("AGENTLOGIN")
                if op == "login":
                    state, reason = "ready", ""
                else:
                    state, reason = "not_ready", why
                    if why:
                        rows.append("PAUSE")
        elif op == "logout":
            acd.logout(now, "a")
            if state != "logged_out":
                state, reason = "logged_out", ""
                rows.append("AGENTLOGOFF")
        elif op in ("ready", "not_ready") and state == "logged_out":
            with pytest.raises(AcdError, match="logged out"):
                getattr(acd, op)(now, "a")
        elif op == "ready":
            acd.ready(now, "a")
            if state == "not_ready":
                state, reason = "ready", ""
                rows.append("UNPAUSE")
        elif op == "not_ready":
            acd.not_ready(now, "a", why)
            if (state, reason) != ("not_ready", why):
                state, reason = "not_ready", why
                rows.append("PAUSE")
        else:
            acd.agent_busy_elsewhere(now, "a", flag)
            elsewhere = flag
        events = acd.events()
        changes = [(e.state, e.reason) for e in events if isinstance(e, AgentState)]
        assert changes == ([] if (state, reason) == was else [(state, reason)])
        assert [e.event for e in events if isinstance(e, QueueLog)] == rows
        s = acd.agent_state("a")
        assert (s.state, s.reason, s.busy_elsewhere) == (state, reason, elsewhere)
        assert s.state in AGENT_STATES and s.call is None
        free = state == "ready" and not elsewhere
        assert (acd.estimated_wait("q") == 0.0) == free
        acd.check_invariants()
