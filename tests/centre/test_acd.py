"""The ACD state machine (cti/centre/acd/): strategies, ring-no-answer, wrap-up, overflow,
join/leave rules, priority, penalties, weights, EWT, area routing, and a hypothesis run
of random traffic that keeps the invariants."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cti.centre.acd import (
    Abandoned, Acd, AcdError, AgentConfig, AgentState, Announce, AreaRouter, Connected,
    JoinFailed, Member, Overflow, QueueConfig, QueueLog, Removed, RingAgents, RingNoAnswer,
    StopRinging,
)

AGENTS = [AgentConfig("a", extension=1), AgentConfig("b", extension=2),
          AgentConfig("c", extension=3)]


def make(strategy="linear", members=("a", "b", "c"), agents=AGENTS, login=True, seed=0,
         **kw):
    kw.setdefault("wrapup", 0.0)
    kw.setdefault("max_wait", None)
    kw.setdefault("announce_every", None)
    q = QueueConfig("q", strategy=strategy, members=tuple(
        m if isinstance(m, Member) else Member(m) for m in members), **kw)
    acd = Acd([q], list(agents), seed=seed)
    if login:
        for i, a in enumerate(agents):
            acd.login(float(i) * 0.0, a.id)
    acd.events()
    return acd


def rings(evs):
    return [e for e in evs if isinstance(e, RingAgents)]


def rows(evs, name=None):
    return [e for e in evs if isinstance(e, QueueLog) and (name is None or e.event == name)]


def first_ring(acd):
    r = rings(acd.events())
    assert len(r) == 1, r
    return r[0]


def take_call(acd, now, call, talk=0.0, queue="q"):
    """Enqueue ``call``, answer it at whoever rings, end it after ``talk`` s: the agent."""
    assert acd.enqueue(now, call, queue)
    r = first_ring(acd)
    acd.answered(now, call, r.agents[0])
    acd.call_ended(now + talk, call)
    acd.events()
    return r.agents[0]


# ---- one test per strategy ------------------------------------------------------------


def test_linear_always_hunts_from_the_first_member():
    acd = make("linear")
    assert take_call(acd, 0, "c1") == "a"
    assert take_call(acd, 1, "c2") == "a"          # from the first again, not b
    # a busy: the hunt goes down the list
    acd.enqueue(2, "c3", "q")
    assert first_ring(acd).agents == ("a",)
    acd.answered(2, "c3", "a")
    acd.enqueue(3, "c4", "q")
    r = first_ring(acd)
    assert r.agents == ("b",) and r.extensions == (2,)
    # b's phone is busy: on to c at once
    acd.ring_failed(3, "c4", "b")
    assert first_ring(acd).agents == ("c",)


def test_round_robin_remembers_where_it_stopped():
    acd = make("round-robin")
    got = [take_call(acd, i, f"c{i}") for i in range(5)]
    assert got == ["a", "b", "c", "a", "b"]
    # b not ready: after b comes c, then a (b skipped)
    acd.not_ready(10, "b", "lunch")
    got = [take_call(acd, 11 + i, f"d{i}") for i in range(3)]
    assert got == ["c", "a", "c"]


def test_ring_all_rings_everyone_first_answer_wins():
    acd = make("ring-all")
    acd.enqueue(0, "c1", "q")
    evs = acd.events()
    r = rings(evs)
    assert len(r) == 1 and r[0].agents == ("a", "b", "c") and r[0].extensions == (1, 2, 3)
    assert {acd.agent_state(x).state for x in "abc"} == {"ringing"}
    acd.answered(4, "c1", "b")
    evs = acd.events()
    assert StopRinging("c1", ("a", "c")) in evs
    assert Connected("c1", "q", "b", 4.0) in evs
    assert acd.agent_state("a").state == "ready" and acd.agent_state("c").state == "ready"
    assert acd.agent_state("b").state == "busy"
    # the next call rings the two that are free
    acd.enqueue(5, "c2", "q")
    assert first_ring(acd).agents == ("a", "c")


def test_longest_idle_agent():
    acd = make("longest-idle", login=False)
    acd.login(0, "c")
    acd.login(5, "a")
    acd.login(10, "b")
    acd.events()
    assert take_call(acd, 20, "c1", talk=30) == "c"     # idle since 0
    # c is now idle since 50; a (5) is the longest idle
    assert take_call(acd, 60, "c2", talk=10) == "a"
    assert take_call(acd, 80, "c3", talk=10) == "b"
    assert take_call(acd, 100, "c4") == "c"             # idle since 50 < a's 70 < b's 90


def _two_queues(strategy):
    qs = [QueueConfig("q", strategy=strategy, members=tuple(Member(x) for x in "abc"),
                      wrapup=0, max_wait=None, announce_every=None),
          QueueConfig("h", strategy="linear", members=(Member("a"),), wrapup=0,
                      max_wait=None, announce_every=None)]
    return Acd(qs, AGENTS)


def _seed_stats(acd):
    """Give a, b, c the calls and talk times of _history by driving real calls."""
    t = 0.0
    plan = [("a", 100), ("b", 4), ("b", 6), ("c", 20), ("c", 20), ("c", 10)]
    for i, (agent, talk) in enumerate(plan):
        for x in "abc":
            acd.login(t, x)
            if x != agent:
                acd.not_ready(t, x, "setup")
        acd.ready(t, agent)
        acd.enqueue(t, f"h{i}", "q")
        r = first_ring(acd)
        assert r.agents == (agent,)
        acd.answered(t, f"h{i}", agent)
        acd.call_ended(t + talk, f"h{i}")
        t += talk + 1
    for x in "abc":
        acd.ready(t, x)
    acd.events()
    return t


def test_fewest_calls():
    acd = _two_queues("fewest-calls")
    t = _seed_stats(acd)
    assert [acd.agent_state(x).calls_taken for x in "abc"] == [1, 2, 3]
    acd.enqueue(t, "c1", "q")
    assert first_ring(acd).agents == ("a",)             # 1 call, though 100 s of talk
    acd.answered(t, "c1", "a")
    acd.enqueue(t, "c2", "q")
    assert first_ring(acd).agents == ("b",)
    # a new day resets the counts: then member order breaks the tie
    acd.new_day(t)
    assert acd.agent_state("c").calls_taken == 0


def test_least_talk_time():
    acd = _two_queues("least-talk-time")
    t = _seed_stats(acd)
    assert [acd.agent_state(x).talk_time for x in "abc"] == [100, 10, 50]
    acd.enqueue(t, "c1", "q")
    assert first_ring(acd).agents == ("b",)             # 10 s, though 2 calls
    acd.answered(t, "c1", "b")
    acd.enqueue(t, "c2", "q")
    assert first_ring(acd).agents == ("c",)             # 50 s < a's 100 s


def test_random_is_reproducible_from_the_seed_and_spreads():
    def run(seed):
        acd = make("random", seed=seed)
        return [take_call(acd, i, f"c{i}") for i in range(40)]
    first = run(7)
    assert first == run(7)
    assert set(first) == {"a", "b", "c"}
    assert run(8) != first


def test_skills_filter_then_best_level_then_longest_idle():
    agents = [AgentConfig("a", skills={"en": 3}),
              AgentConfig("b", skills={"en": 8, "fr": 2}),
              AgentConfig("c", skills={"en": 8}),
              AgentConfig("d", skills={"fr": 9})]
    q = QueueConfig("q", strategy="skills", members=tuple(Member(x.id) for x in agents),
                    wrapup=0, max_wait=None, announce_every=None, required_skills={"en": 1})
    acd = Acd([q], agents)
    acd.login(0, "a")        # longest idle, but lowest level
    acd.login(1, "c")
    acd.login(2, "b")
    acd.login(3, "d")
    acd.events()
    # queue's required skill en>=1: a, b, c qualify; b and c have level 8; c idle longer
    acd.enqueue(10, "c1", "q")
    assert first_ring(acd).agents == ("c",)
    # call's own skills: en>=5 and fr>=1 -> only b
    acd.enqueue(11, "c2", "q", skills={"en": 5, "fr": 1})
    assert first_ring(acd).agents == ("b",)
    # fr>=5: d only; en>=9: nobody, the call waits
    acd.enqueue(12, "c3", "q", skills={"en": 9})
    assert rings(acd.events()) == []
    acd.enqueue(13, "c4", "q", skills={"fr": 5})
    assert first_ring(acd).agents == ("d",)
    # higher level beats longer idle: a (idle since 0) loses to nobody else free -> a
    acd.enqueue(14, "c5", "q", skills={"en": 2})
    assert first_ring(acd).agents == ("a",)
    status = acd.queue_status("q")
    assert [c["call"] for c in status["calls"]] == ["c1", "c2", "c3", "c4", "c5"]


def test_skills_higher_level_beats_longest_idle():
    agents = [AgentConfig("a", skills={"en": 3}), AgentConfig("b", skills={"en": 9})]
    q = QueueConfig("q", strategy="skills", members=(Member("a"), Member("b")), wrapup=0,
                    max_wait=None, announce_every=None)
    acd = Acd([q], agents)
    acd.login(0, "a")
    acd.login(100, "b")
    acd.enqueue(200, "c1", "q", skills={"en": 2})
    assert first_ring(acd).agents == ("b",)
    # no required skills at all: longest idle
    acd.enqueue(201, "c2", "q", skills={})
    assert first_ring(acd).agents == ("a",)


# ---- ring-no-answer, abandon, wrap-up --------------------------------------------------


def test_ring_no_answer_pauses_the_agent_and_moves_on():
    acd = make("linear", ring_timeout=15)
    acd.enqueue(0, "c1", "q")
    assert first_ring(acd).agents == ("a",)
    assert acd.get_timer() == 15
    acd.handle_timer(14.9)
    assert acd.events() == []
    acd.handle_timer(15)
    evs = acd.events()
    assert RingNoAnswer("c1", "q", "a", 15.0) in evs
    assert StopRinging("c1", ("a",)) in evs
    assert AgentState("a", "not_ready", "ring-no-answer") in evs
    assert [(r.event, r.agent, r.data) for r in rows(evs)] == [
        ("RINGNOANSWER", "a", (15000,)), ("PAUSE", "a", ("ring-no-answer",))]
    assert rings(evs)[0].agents == ("b",)
    assert acd.agent_state("a").state == "not_ready"
    assert acd.queue_status("q")["counters"]["ring_no_answer"] == 1
    acd.answered(20, "c1", "b")
    ev = [e for e in acd.events() if isinstance(e, QueueLog)][0]
    # Asterisk: holdtime, the bridged channel (the agent's extension), ringtime
    assert (ev.event, ev.agent, ev.data) == ("CONNECT", "b", (20, "fxs/2", 5))
    acd.check_invariants()


def test_ring_no_answer_without_pause_retries_after_every_candidate():
    acd = make("linear", members=("a", "b"), agents=AGENTS[:2], ring_timeout=10,
               pause_on_no_answer=False, retry=5)
    acd.enqueue(0, "c1", "q")
    assert first_ring(acd).agents == ("a",)
    acd.handle_timer(10)
    evs = acd.events()
    assert acd.agent_state("a").state == "ready"
    assert rings(evs)[0].agents == ("b",)
    acd.handle_timer(20)
    assert rings(acd.events()) == []                   # both tried: wait `retry`
    assert acd.get_timer() == 25
    acd.handle_timer(25)
    assert first_ring(acd).agents == ("a",)            # a new hunt from the first


def test_abandon_counted_with_its_wait():
    acd = make("linear", login=False)
    acd.enqueue(0, "c1", "q")
    acd.enqueue(2, "c2", "q")
    acd.events()
    acd.abandon(12, "c1")
    evs = acd.events()
    assert Abandoned("c1", "q", 12.0, 1) in evs
    (row,) = rows(evs, "ABANDON")
    assert row.data == (1, 1, 12) and row.call == "c1"
    assert acd.queue_status("q", now=12)["calls"] == [
        {"call": "c2", "position": 1, "waited": 10.0, "priority": 0, "ringing": [], "ani": ""}]
    # abandon while an agent's phone rings: the phone stops, the agent is free again
    acd.login(13, "a")
    assert first_ring(acd).agents == ("a",)
    acd.abandon(16, "c2")
    evs = acd.events()
    assert StopRinging("c2", ("a",)) in evs and Abandoned("c2", "q", 14.0, 1) in evs
    assert acd.agent_state("a").state == "ready"
    assert acd.queue_status("q")["counters"]["abandoned"] == 2
    acd.check_invariants()


def test_wrapup_blocks_the_next_call_until_it_ends():
    acd = make("linear", members=("a",), agents=AGENTS[:1], wrapup=10)
    acd.enqueue(0, "c1", "q")
    first_ring(acd)
    acd.answered(2, "c1", "a")
    acd.call_ended(20, "c1", by="agent")
    evs = acd.events()
    assert AgentState("a", "wrapup") in evs
    (row,) = rows(evs, "COMPLETEAGENT")
    assert row.data == (2, 18, 1)
    acd.enqueue(21, "c2", "q")
    assert rings(acd.events()) == []
    assert acd.agent_state("a").state == "wrapup"
    assert acd.get_timer() == 30
    acd.handle_timer(29)
    assert rings(acd.events()) == []
    acd.handle_timer(30)
    evs = acd.events()
    assert AgentState("a", "ready") in evs and rings(evs)[0].agents == ("a",)
    assert acd.agent_state("a").talk_time == 18


def test_ready_ends_wrapup_early_and_not_ready_after_call():
    acd = make("linear", members=("a",), agents=AGENTS[:1], wrapup=30)
    acd.enqueue(0, "c1", "q")
    acd.answered(1, "c1", "a")
    acd.not_ready(5, "a", "break")                 # takes effect after the call
    assert acd.agent_state("a").state == "busy"
    acd.call_ended(10, "c1")
    acd.handle_timer(40)
    assert acd.agent_state("a").state == "not_ready"
    assert acd.agent_state("a").reason == "break"
    acd.ready(41, "a")
    acd.enqueue(42, "c2", "q")
    acd.answered(42, "c2", "a")
    acd.transfer_out(50, "c2", target="2001")
    evs = acd.events()
    (row,) = rows(evs, "TRANSFER")
    assert row.data == ("2001", "", 0, 8, 1)
    assert acd.agent_state("a").state == "wrapup"
    acd.ready(51, "a")                               # wrap-up ended early
    assert acd.agent_state("a").state == "ready"


# ---- overflow and the join/leave rules -----------------------------------------------


def test_queue_timeout_overflows_with_announcements():
    qs = [QueueConfig("q", members=(Member("a"),), max_wait=60, overflow="queue:backup",
                      announce_every=30),
          QueueConfig("backup", members=(Member("b"),), max_wait=None)]
    acd = Acd(qs, AGENTS)
    acd.enqueue(0, "c1", "q", ani="01088886666")
    evs = acd.events()
    assert rows(evs, "ENTERQUEUE")[0].data == ("", "01088886666")
    assert acd.get_timer() == 30
    acd.handle_timer(30)
    (ann,) = acd.events()
    assert isinstance(ann, Announce) and ann.position == 1 and ann.ewt == 120.0
    acd.handle_timer(60)
    evs = acd.events()
    assert Overflow("c1", "q", "queue", "backup", "timeout", 60.0) in evs
    assert [(r.event, r.data) for r in rows(evs)] == [("EXITWITHTIMEOUT", (1, 1, 60))]
    assert not any(isinstance(e, Announce) for e in evs)   # the 60 s announcement: gone
    assert acd.call_queue("c1") is None and acd.get_timer() is None
    # the centre moves it on
    assert acd.enqueue(60, "c1", "backup")
    assert acd.call_queue("c1") == "backup"
    assert acd.queue_status("q")["counters"]["timeout"] == 1


@pytest.mark.parametrize("overflow, action, target", [
    (None, "hangup", None), ("hangup", "hangup", None), ("callback", "callback", None),
    ("voicemail:800", "voicemail", "800")])
def test_overflow_actions(overflow, action, target):
    acd = Acd([QueueConfig("q", max_wait=5, overflow=overflow, announce_every=None)], [])
    acd.enqueue(0, "c1", "q")
    acd.handle_timer(5)
    assert Overflow("c1", "q", action, target, "timeout", 5.0) in acd.events()


def test_join_empty_refuses_when_nobody_is_logged_in():
    acd = make("linear", login=False, join_empty=False)
    assert acd.enqueue(0, "c1", "q") is False
    evs = acd.events()
    assert JoinFailed("c1", "q", "joinempty") in evs
    assert rows(evs, "JOINEMPTY")
    assert acd.call_queue("c1") is None
    acd.login(1, "a", ready=False)                 # logged in, not ready: may join
    assert acd.enqueue(2, "c1", "q") is True
    assert acd.queue_status("q")["counters"]["join_failed"] == 1


def test_leave_when_empty_kicks_waiting_calls_at_last_logout():
    acd = make("linear", members=("a", "b"), agents=AGENTS[:2], leave_when_empty=True,
               overflow="voicemail:100")
    acd.not_ready(0, "a", "meeting")
    acd.not_ready(0, "b", "meeting")
    acd.enqueue(1, "c1", "q")
    acd.enqueue(2, "c2", "q")
    acd.logout(5, "a")
    evs = acd.events()
    assert not any(isinstance(e, Overflow) for e in evs)
    acd.logout(6, "b")
    evs = acd.events()
    assert Overflow("c1", "q", "voicemail", "100", "empty", 5.0) in evs
    assert Overflow("c2", "q", "voicemail", "100", "empty", 4.0) in evs
    assert [r.data for r in rows(evs, "EXITEMPTY")] == [(1, 1, 5), (1, 2, 4)]
    assert acd.queue_status("q")["waiting"] == 0
    acd.check_invariants()


def test_max_len_full():
    acd = make("linear", login=False, max_len=1)
    assert acd.enqueue(0, "c1", "q")
    assert not acd.enqueue(0, "c2", "q")
    assert JoinFailed("c2", "q", "full") in acd.events()


# ---- order: priority, penalties, weights ----------------------------------------------


def test_priority_then_arrival():
    acd = make("linear", members=("a",), agents=AGENTS[:1], login=False)
    acd.enqueue(0, "c1", "q")
    acd.enqueue(1, "c2", "q", priority=5)
    acd.enqueue(2, "c3", "q")
    acd.enqueue(3, "c4", "q", priority=5)
    acd.enqueue(4, "c5", "q", position_hint=1)   # ahead of its priority, not of priority 5
    assert [c["call"] for c in acd.queue_status("q")["calls"]] == ["c2", "c4", "c5", "c1", "c3"]
    acd.login(10, "a")
    assert first_ring(acd).call == "c2"
    acd.answered(10, "c2", "a")
    acd.call_ended(11, "c2")
    assert first_ring(acd).call == "c4"


def test_penalties_lower_first():
    acd = make("linear", members=(Member("a", 2), Member("b", 1), Member("c", 0)))
    acd.enqueue(0, "c1", "q")
    assert first_ring(acd).agents == ("c",)
    acd.enqueue(0, "c2", "q")
    assert first_ring(acd).agents == ("b",)
    acd.enqueue(0, "c3", "q")
    assert first_ring(acd).agents == ("a",)


def test_ring_all_rings_only_the_lowest_penalty():
    acd = make("ring-all", members=(Member("a", 0), Member("b", 0), Member("c", 1)))
    acd.enqueue(0, "c1", "q")
    assert first_ring(acd).agents == ("a", "b")


def test_agent_in_several_queues_takes_the_heavier_queue_first():
    qs = [QueueConfig("std", members=(Member("a"),), weight=0, max_wait=None),
          QueueConfig("vip", members=(Member("a"),), weight=10, max_wait=None),
          QueueConfig("std2", members=(Member("a"),), weight=0, max_wait=None)]
    acd = Acd(qs, AGENTS)
    acd.login(0, "a", ready=False)
    acd.enqueue(0, "s1", "std")
    acd.enqueue(1, "s2", "std2")
    acd.enqueue(5, "v1", "vip")
    acd.ready(10, "a")
    assert first_ring(acd).call == "v1"             # heavier queue, though it came later
    acd.answered(10, "v1", "a")
    acd.call_ended(20, "v1")
    acd.handle_timer(30)                            # wrap-up
    assert first_ring(acd).call == "s1"             # equal weights: waiting longest


def test_busy_elsewhere_and_not_ready_are_not_offered():
    acd = make("linear", members=("a", "b"), agents=AGENTS[:2])
    acd.agent_busy_elsewhere(0, "a", True)
    acd.not_ready(0, "b", "lunch")
    acd.enqueue(1, "c1", "q")
    assert rings(acd.events()) == []
    acd.agent_busy_elsewhere(2, "a", False)
    assert first_ring(acd).agents == ("a",)


# ---- errors, EWT, status, area routing -------------------------------------------------


def test_wrong_requests_raise_and_change_nothing():
    acd = make("linear")
    acd.enqueue(0, "c1", "q")
    acd.events()
    before = acd.snapshot(now=5)
    with pytest.raises(AcdError):
        acd.answered(1, "c1", "b")                  # b's phone is not ringing
    with pytest.raises(AcdError):
        acd.enqueue(1, "c1", "q")                   # already queued
    with pytest.raises(AcdError):
        acd.enqueue(1, "c9", "nope")
    with pytest.raises(AcdError):
        acd.abandon(1, "c9")
    with pytest.raises(AcdError):
        acd.call_ended(1, "c1")                     # not connected
    with pytest.raises(AcdError):
        acd.login(1, "zz")
    assert acd.snapshot(now=5) == before and acd.events() == []
    with pytest.raises(ValueError):
        QueueConfig("x", strategy="leastrecent")
    with pytest.raises(ValueError):
        QueueConfig("x", overflow="queue")
    with pytest.raises(AcdError):
        Acd([QueueConfig("x", overflow="queue:y")], [])


def test_estimated_wait():
    acd = make("linear", members=("a", "b"), agents=AGENTS[:2], login=False)
    acd.default_aht = 100.0
    assert acd.estimated_wait("q") == 100.0         # nobody staffed: as if one agent
    acd.login(0, "a")
    acd.login(0, "b")
    assert acd.estimated_wait("q") == 0.0           # free agents
    for i in range(4):
        acd.enqueue(0, f"c{i}", "q")
    # 2 ringing, 4 waiting; a newcomer has 4 ahead, none free, 2 staffed: 5 * 100 / 2
    assert acd.estimated_wait("q") == 250.0
    acd.answered(0, "c0", "a")
    acd.call_ended(60, "c0")                        # handle time 60 + wrap-up 0
    assert acd.aht("q") == 60.0


def test_snapshot_and_status():
    acd = make("linear")
    acd.enqueue(0, "c1", "q")
    snap = acd.snapshot()
    assert snap["agents"]["a"]["state"] == "ringing" and snap["agents"]["a"]["call"] == "c1"
    st_ = snap["queues"]["q"]
    assert st_["calls"][0]["ringing"] == ["a"] and st_["waiting"] == 1
    assert {x["agent"]: x["state"] for x in st_["agents"]} == {
        "a": "ringing", "b": "ready", "c": "ready"}


def test_logout_while_ringing_moves_the_call_on():
    acd = make("linear")
    acd.enqueue(0, "c1", "q")
    first_ring(acd)
    acd.logout(1, "a")
    evs = acd.events()
    assert StopRinging("c1", ("a",)) in evs
    assert rings(evs)[0].agents == ("b",)
    assert [r.event for r in rows(evs)] == ["AGENTLOGOFF"]
    assert AgentState("a", "ready") not in evs
    acd.check_invariants()


def test_remove_and_exit_with_key():
    acd = make("linear", login=False)
    acd.enqueue(0, "c1", "q")
    acd.enqueue(0, "c2", "q")
    acd.remove(3, "c1")
    acd.remove(4, "c2", key="0")
    evs = acd.events()
    assert Removed("c1", "q", 3.0, 1) in evs and Removed("c2", "q", 4.0, 1, "0") in evs
    assert [r.event for r in rows(evs)][-2:] == ["REMOVED", "EXITWITHKEY"]


def test_area_router_longest_prefix():
    r = AreaRouter([("0", "national"), ("010", "beijing"), ("021", "shanghai"),
                    ("0755", "shenzhen"), ("075", "guangdong")], default="main")
    assert r.route("01088886666") == "beijing"
    assert r.route("075512345678") == "shenzhen"
    assert r.route("075212345678") == "guangdong"
    assert r.route("057112345678") == "national"
    assert r.route("88886666") == "main"           # local number, no area code
    assert r("+861088886666") == "beijing"
    assert r("00862112345678") == "shanghai"
    assert r.route("") == "main"
    assert AreaRouter([], None).route("010") is None


# ---- hypothesis: random traffic keeps the invariants ------------------------------------

H_AGENTS = [AgentConfig(f"a{i}", extension=i, skills={"en": 1 + i * 3 % 10, "fr": 1 + i})
            for i in range(5)]
H_QUEUES = [
    QueueConfig("q0", strategy="ring-all", members=tuple(Member(f"a{i}") for i in (0, 1, 2)),
                ring_timeout=8, wrapup=3, max_wait=40, overflow="queue:q1", announce_every=10,
                weight=1),
    QueueConfig("q1", strategy="random", members=tuple(Member(f"a{i}", i % 2) for i in range(5)),
                ring_timeout=5, wrapup=0, max_wait=None, leave_when_empty=True,
                pause_on_no_answer=False, retry=2, overflow="callback"),
    QueueConfig("q2", strategy="skills", members=tuple(Member(f"a{i}") for i in (2, 3, 4)),
                ring_timeout=6, wrapup=2, max_wait=25, join_empty=False, max_len=4,
                required_skills={"en": 2}),
    QueueConfig("q3", strategy="round-robin", members=tuple(Member(f"a{i}") for i in (4, 3, 1)),
                ring_timeout=7, wrapup=1, max_wait=30, weight=2, overflow="voicemail:1"),
    QueueConfig("q4", strategy="longest-idle", members=tuple(Member(f"a{i}") for i in (0, 4))),
    QueueConfig("q5", strategy="fewest-calls", members=tuple(Member(f"a{i}") for i in (1, 3)),
                wrapup=0, max_wait=20),
    QueueConfig("q6", strategy="least-talk-time", members=tuple(Member(f"a{i}") for i in (0, 2))),
    QueueConfig("q7", strategy="linear", members=tuple(Member(f"a{i}") for i in (3, 2, 1)),
                max_wait=15),
]
TERMINAL = (JoinFailed, Abandoned, Overflow, Removed)

OPS = st.lists(st.tuples(
    st.sampled_from(["login", "logout", "ready", "ready", "not_ready", "elsewhere",
                     "enqueue", "enqueue", "enqueue", "answer", "answer", "answer", "fail",
                     "abandon", "end", "end", "transfer", "remove", "time", "time", "time"]),
    st.integers(0, 50), st.integers(0, 50), st.floats(0, 25)), min_size=20, max_size=150)


class Model:
    """Follows the events the way the centre would, checking them as they come."""

    def __init__(self):
        self.state = {a.id: "logged_out" for a in H_AGENTS}
        self.elsewhere = set()
        self.outcome: dict[str, list[str]] = {}
        self.connected: dict[str, str] = {}
        self.ringing: dict[str, set[str]] = {}
        self.rna = 0

    def feed(self, acd):
        for e in acd.events():
            if isinstance(e, AgentState):
                if e.state == "ringing":
                    assert self.state[e.agent] == "ready", e
                    assert e.agent not in self.elsewhere
                self.state[e.agent] = e.state
            elif isinstance(e, RingAgents):
                for a in e.agents:
                    assert a not in self.ringing.get(e.call, set())
                    assert self.state[a] == "ringing"
                self.ringing.setdefault(e.call, set()).update(e.agents)
            elif isinstance(e, RingNoAnswer):
                self.rna += 1
            elif isinstance(e, StopRinging):
                assert set(e.agents) <= self.ringing.get(e.call, set()), e
                self.ringing[e.call] -= set(e.agents)
            elif isinstance(e, Connected):
                assert e.agent in self.ringing[e.call]
                self.ringing[e.call].discard(e.agent)
                assert not self.ringing[e.call]
                self.connected[e.call] = e.agent
                self.outcome.setdefault(e.call, []).append("connected")
            elif isinstance(e, TERMINAL):
                assert not self.ringing.get(e.call)
                self.outcome.setdefault(e.call, []).append(type(e).__name__)
            elif isinstance(e, QueueLog) and e.event in (
                    "COMPLETECALLER", "COMPLETEAGENT", "TRANSFER"):
                self.connected.pop(e.call)
                self.outcome.setdefault(e.call, []).append(e.event)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, seed=st.integers(0, 3))
def test_random_traffic_keeps_the_invariants(ops, seed):
    acd = Acd(H_QUEUES, H_AGENTS, seed=seed)
    model = Model()
    now = 0.0
    n = 0
    calls_seen: list[str] = []
    agents = [a.id for a in H_AGENTS]
    for k, a in enumerate(agents):                  # most start logged in and ready
        if (seed + k) % 5:
            acd.login(now, a)
    model.feed(acd)
    for op, i, j, dt in ops:
        agent = agents[i % len(agents)]
        live = [c for c in calls_seen if acd.call_queue(c) is not None]
        if op == "time":
            now += dt
            acd.handle_timer(now)
        elif op == "login":
            acd.login(now, agent, ready=bool(j % 2))
        elif op == "logout":
            acd.logout(now, agent)
        elif op in ("ready", "not_ready"):
            if acd.agent_state(agent).state == "logged_out":
                with pytest.raises(AcdError):
                    getattr(acd, op)(now, agent)
            elif op == "ready":
                acd.ready(now, agent)
            else:
                acd.not_ready(now, agent, f"r{j % 3}")
        elif op == "elsewhere":
            busy = bool(j % 2)
            acd.agent_busy_elsewhere(now, agent, busy)
            (model.elsewhere.add if busy else model.elsewhere.discard)(agent)
        elif op == "enqueue":
            requeue = [c for c in calls_seen if acd.call_queue(c) is None]
            if requeue and j % 4 == 0:
                cid = requeue[i % len(requeue)]         # an overflowed call comes back
            else:
                n += 1
                cid = f"k{n}"
                calls_seen.append(cid)
            skills = {"fr": 1 + j % 6} if j % 3 == 0 else None
            acd.enqueue(now, cid, H_QUEUES[i % len(H_QUEUES)].name, priority=j % 3,
                        skills=skills, position_hint=(j % 5) or None)
        elif op in ("answer", "fail"):
            ringing = [(c, a) for c in live for a in acd.ringing_agents(c)]
            if ringing:
                c, a = ringing[(i + j) % len(ringing)]
                model.feed(acd)
                if op == "answer":
                    acd.answered(now, c, a)
                else:
                    acd.ring_failed(now, c, a)      # ends that ring: no StopRinging
                    model.ringing[c].discard(a)
        elif op in ("abandon", "remove"):
            waiting = [c for c in live if acd.call_agent(c) is None]
            target = live if op == "abandon" else waiting
            if target:
                getattr(acd, op)(now, target[i % len(target)])
        elif op in ("end", "transfer"):
            talking = [c for c in live if acd.call_agent(c) is not None]
            if talking:
                c = talking[i % len(talking)]
                if op == "end":
                    acd.call_ended(now, c, by=("caller", "agent")[j % 2])
                else:
                    acd.transfer_out(now, c)
        model.feed(acd)
        acd.check_invariants()
        t = acd.get_timer()
        assert t is None or t >= now - 1e-9 or op != "time"
    # drain: every call left ends (connected ones end, the rest abandon), timers run out
    for c in calls_seen:
        if acd.call_queue(c) is not None:
            acd.abandon(now, c)
    model.feed(acd)
    for _ in range(100):
        t = acd.get_timer()
        if t is None:
            break
        acd.handle_timer(t)
    model.feed(acd)
    acd.check_invariants()
    assert acd.get_timer() is None
    assert not model.connected and not any(model.ringing.values())
    # every enqueue ends in exactly one outcome
    enqueues: dict[str, int] = {}
    for c, outs in model.outcome.items():
        seq = list(outs)
        k = 0
        while k < len(seq):
            if seq[k] == "connected":
                assert seq[k + 1] in ("COMPLETECALLER", "COMPLETEAGENT", "TRANSFER"), seq
                k += 2
            else:
                assert seq[k] in ("JoinFailed", "Abandoned", "Overflow", "Removed"), seq
                k += 1
            enqueues[c] = enqueues.get(c, 0) + 1
    for kind in sorted({o for outs in model.outcome.values() for o in outs}):
        event(kind)
    event(f"ring-no-answer: {'yes' if model.rna else 'no'}")
    snap = acd.snapshot()
    total_entered = sum(q["counters"]["entered"] + q["counters"]["join_failed"]
                        for q in snap["queues"].values())
    assert total_entered == sum(enqueues.values())
    for aid, a in snap["agents"].items():
        assert a["call"] is None and a["state"] in ("logged_out", "ready", "not_ready")


@given(st.integers(1, 60), st.data())
def test_free_members_in_queue_order_whichever_side_is_walked(n, data):
    """The dispatcher's look-up of a queue's free members walks the free agents when they
    are few (a peak) and the members otherwise: the same members, in the queue's order."""
    from types import SimpleNamespace

    from cti.centre.acd import Member, _any_member, _free_members

    members = [Member(f"a{i}") for i in data.draw(st.permutations(range(n)))]
    q = SimpleNamespace(cfg=SimpleNamespace(members=members),
                        members={m.agent: m for m in members},
                        member_index={m.agent: i for i, m in enumerate(members)})
    free = set(data.draw(st.lists(st.sampled_from([f"a{i}" for i in range(2 * n)]))))
    want = [m for m in members if m.agent in free]
    assert _free_members(q, free) == want
    assert _any_member(q.members, free) == bool(want)


# ---- an administrator's changes (cti/server/ops/accounts.py) ---------------------------


def test_a_member_taken_out_live_keeps_the_counts_and_its_call():
    """remove_member (admin.group.member level 0): the queue's counts follow, a call
    ringing the agent goes on ringing it; the rest of the changes are test_acd_changes'."""
    acd = make(members=("a", "b"))
    acd.add_agent(AgentConfig("d", extension=4))
    acd.add_member(0.0, "q", "d", 3)
    acd.login(0.0, "d")
    acd.check_invariants()
    assert acd.queue_status("q")["agents"][-1] == {
        "agent": "d", "penalty": 3, "state": "ready", "reason": "", "call": None,
        "busy_elsewhere": False}
    assert acd.enqueue(1.0, "c1", "q")
    assert first_ring(acd).agents == ("a",)                   # linear: the first member
    acd.remove_member(1.0, "q", "a")
    acd.check_invariants()
    assert "a" not in {m["agent"] for m in acd.queue_status("q")["agents"]}
    assert acd.agent_state("a").call == "c1"                  # still ringing it
    acd.remove_member(1.0, "q", "d")
    acd.check_invariants()
    assert [m["agent"] for m in acd.queue_status("q")["agents"]] == ["b"]
    with pytest.raises(AcdError):
        acd.remove_member(1.0, "nope", "a")
