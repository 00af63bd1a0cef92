"""The ACD changed while it runs (cti/centre/acd/changes.py): agents added, changed and
removed, queues added, changed and removed between calls and timers, keeping every
invariant and every call's one outcome (a removed queue drains, a removed agent with a
call stays until it ends)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cti.centre.acd import (Abandoned, Acd, AcdError, AgentConfig, AgentState, Connected,
                            JoinFailed, Member, Overflow, QueueConfig, QueueLog, Removed)

AGENTS = [AgentConfig(f"a{i}", extension=i + 1, skills={"en": 1 + i % 3}) for i in range(7)]
BY_ID = {a.id: a for a in AGENTS}
STRATEGIES = ("ring-all", "linear", "round-robin", "longest-idle", "skills")


def queue(name, members, strategy="linear", **kw):
    return QueueConfig(name, strategy=strategy, members=tuple(Member(m) for m in members),
                       ring_timeout=5, wrapup=1, max_wait=30, announce_every=None, **kw)


def test_a_queue_with_calls_drains_and_goes_when_they_have_left():
    acd = Acd([queue("q0", ["a0"]), queue("q1", ["a1"])], AGENTS[:2])
    acd.login(0, "a0")
    acd.enqueue(0, "c1", "q0")
    acd.answered(1, "c1", "a0")
    acd.enqueue(1, "c2", "q0")                              # waits: a0 is busy
    out = acd.set_queues(2, [queue("q1", ["a1", "a0"], strategy="ring-all")])
    assert out == {"added": [], "changed": ["q1"], "removed": [], "draining": ["q0"]}
    assert acd.draining == ("q0",) and acd.has_queue("q0")
    acd.check_invariants()
    assert acd.retire_queues() == []
    acd.call_ended(3, "c1")                                 # a0 to wrap-up; c2 still waits
    acd.handle_timer(4.5)                                   # wrap-up over: a0 takes c2
    assert acd.ringing_agents("c2") == ("a0",)
    acd.answered(5, "c2", "a0")
    acd.call_ended(6, "c2")
    assert acd.retire_queues() == ["q0"] and not acd.has_queue("q0")
    acd.check_invariants()
    assert acd.agent_state("a0").state == "wrapup"
    # q1 back in a later change: added anew
    assert acd.set_queues(7, [queue("q1", ["a1"]), queue("q0", [])])["added"] == ["q0"]
    acd.check_invariants()


def test_a_removed_agent_with_a_call_stays_until_it_ends():
    acd = Acd([queue("q0", ["a0", "a1"], strategy="ring-all")], AGENTS[:2])
    acd.login(0, "a0")
    acd.login(0, "a1")
    acd.enqueue(0, "c1", "q0")
    acd.answered(1, "c1", "a0")
    acd.set_queues(2, [queue("q0", ["a1"], strategy="ring-all")])
    assert acd.remove_agent(2, "a0") is False               # on c1: logged out, stays
    assert acd.agent_state("a0").state == "logged_out" and acd.call_agent("c1") == "a0"
    acd.check_invariants()
    acd.call_ended(3, "c1", by="agent")
    assert acd.remove_agent(3, "a0") is True
    with pytest.raises(AcdError):
        acd.agent_state("a0")
    acd.check_invariants()
    assert acd.remove_agent(3, "a1") is True                # idle: gone at once
    assert acd.queue_status("q0")["agents"] == []
    acd.check_invariants()


def test_a_changed_agent_takes_its_skills_and_a_new_one_joins_its_queues():
    acd = Acd([queue("q0", ["a0"], strategy="skills", required_skills={"en": 2})], AGENTS[:1])
    acd.login(0, "a0")
    acd.enqueue(0, "c1", "q0")
    assert acd.ringing_agents("c1") == ()                   # a0's en is 1
    acd.update_agent(AgentConfig("a0", extension=1, skills={"en": 3}))
    acd.add_agent(AGENTS[1])
    acd.add_member(1, "q0", "a1")
    acd.check_invariants()
    assert acd.ringing_agents("c1") == ("a0",)              # now skilled enough
    with pytest.raises(AcdError):
        acd.add_agent(AGENTS[1])
    with pytest.raises(AcdError):
        acd.set_queues(2, [queue("q0", ["a9"])])             # not an agent: nothing changed
    assert acd.queue_status("q0")["strategy"] == "skills"
    acd.check_invariants()


# ---- hypothesis: random traffic and random changes ----------------------------------------

QNAMES = ("q0", "q1", "q2", "q3")


@st.composite
def queue_sets(draw):
    names = draw(st.lists(st.sampled_from(QNAMES), min_size=1, max_size=4, unique=True))
    out = []
    for n in names:
        members = draw(st.lists(st.sampled_from([a.id for a in AGENTS]), max_size=5,
                                unique=True))
        over = draw(st.sampled_from([None, "callback"] + [f"queue:{o}" for o in names
                                                           if o != n]))
        out.append((n, members, draw(st.sampled_from(STRATEGIES)), over,
                    draw(st.sampled_from([0.0, 1.0, 3.0]))))
    return out


OPS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["login", "logout", "enqueue", "enqueue", "answer", "answer",
                               "end", "abandon", "time", "time", "add", "remove", "remove"]),
              st.integers(0, 50), st.floats(0, 8)),
    st.tuples(st.just("queues"), queue_sets(), st.just(0.0))), min_size=10, max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_changes_keep_the_invariants_and_every_call(ops):
    acd = Acd([queue("q0", ["a0", "a1", "a2"])], AGENTS[:4])
    present = {a.id for a in AGENTS[:4]}
    ever = set(present)                 # agents' state events may follow their removal
    leaving: set[str] = set()
    outcomes: dict[str, list[str]] = {}
    calls: list[str] = []
    now = 0.0
    for a in sorted(present):
        acd.login(now, a)

    def feed():
        for e in acd.events():
            if isinstance(e, (JoinFailed, Abandoned, Overflow, Removed, Connected)):
                outcomes.setdefault(e.call, []).append(type(e).__name__)
            elif isinstance(e, QueueLog) and e.event in ("COMPLETECALLER", "COMPLETEAGENT"):
                outcomes.setdefault(e.call, []).append(e.event)
            elif isinstance(e, AgentState):
                assert e.agent in ever

    for op, x, dt in ops:
        live = [c for c in calls if acd.call_queue(c) is not None]
        agents = sorted(present - leaving)
        if op == "queues":
            cfgs = [queue(n, [m for m in members if m in agents], strategy=s, overflow=o,
                          **({"required_skills": {"en": 2}} if s == "skills" else {}))
                    for n, members, s, o, _ in x]
            for c in cfgs:
                assert c.overflow is None or c.overflow == "callback" \
                    or c.overflow[6:] in {q.name for q in cfgs}
            out = acd.set_queues(now, cfgs)
            assert set(out["added"]) | set(out["changed"]) <= {c.name for c in cfgs}
            assert not set(out["removed"]) & set(acd.draining)
        elif op == "time":
            now += dt
            acd.handle_timer(now)
        elif op == "login" and agents:
            acd.login(now, agents[x % len(agents)])
        elif op == "logout" and agents:
            acd.logout(now, agents[x % len(agents)])
        elif op == "add":
            new = [a for a in AGENTS if a.id not in present]
            if new:
                a = new[x % len(new)]
                acd.add_agent(a)
                present.add(a.id)
                ever.add(a.id)
                queues = [n for n in acd._queues if n not in acd.draining]
                if queues:
                    acd.add_member(now, queues[x % len(queues)], a.id)
        elif op == "remove" and agents:
            aid = agents[x % len(agents)]
            if acd.remove_agent(now, aid):
                present.discard(aid)
            else:
                leaving.add(aid)
        elif op == "enqueue":
            queues = [n for n in acd._queues if n not in acd.draining]
            if queues:
                cid = f"k{len(calls)}"
                calls.append(cid)
                acd.enqueue(now, cid, queues[x % len(queues)])
        elif op == "answer":
            ringing = [(c, a) for c in live for a in acd.ringing_agents(c)]
            if ringing:
                acd.answered(now, *ringing[x % len(ringing)])
        elif op == "end":
            talking = [c for c in live if acd.call_agent(c) is not None]
            if talking:
                acd.call_ended(now, talking[x % len(talking)])
        elif op == "abandon" and live:
            acd.abandon(now, live[x % len(live)])
        feed()
        for aid in sorted(leaving):                     # gone once their call has ended
            if acd.remove_agent(now, aid):
                leaving.discard(aid)
                present.discard(aid)
        if acd.draining:
            event("a queue drained")
        if leaving:
            event("an agent left after its call")
        acd.retire_queues()
        feed()
        acd.check_invariants()
        assert set(acd._agents) == present
    # every call still in the ACD ends; then nobody is left leaving and nothing drains
    for c in calls:
        if acd.call_queue(c) is not None:
            acd.abandon(now, c)
    feed()
    for aid in sorted(leaving):
        assert acd.remove_agent(now, aid)
    acd.retire_queues()
    feed()
    acd.check_invariants()
    assert acd.draining == ()
    # an overflow to another queue leaves the call to the centre (which may enqueue it
    # again): each of its stays ends once, and a connected stay ends with a completion
    for c in calls:
        seq = outcomes.get(c, [])
        assert seq, c
        k = 0
        while k < len(seq):
            if seq[k] == "Connected":
                assert seq[k + 1] in ("COMPLETECALLER", "COMPLETEAGENT"), seq
                k += 2
            else:
                assert seq[k] in ("JoinFailed", "Abandoned", "Overflow", "Removed"), seq
                k += 1
