"""Who sees which event (cti/server/audience.py): the grants of a subscription, the desk
copies, and the same rule for replay; property tests over any prefix a client may send."""
from __future__ import annotations

from hypothesis import given, strategies as st

from cti.server.audience import (ROOTS, concerned_agents, desk_topics, grants, public_topic,
                                 visible)
from cti.server.auth import OWNER, Principal
from cti.server.events import EVENTS

AGENT = Principal("a1001", "agent", "1001")
SUP = Principal("sup", "supervisor")
CRM = Principal("crm", "integrator", scopes=frozenset({"read", "calls"}))
TOPIC_TEXT = st.text(alphabet="acdeglnprstv.0123456789", max_size=24)


def test_every_topic_of_the_catalogue_is_in_a_namespace():
    roots = {et.topic.split(".")[0] + "." for et in EVENTS.values()}
    assert roots <= set(ROOTS), roots - set(ROOTS)


def test_an_agent_gets_its_desk_a_supervisor_everything():
    assert grants(AGENT, "call.") == ["desk.1001.call."]
    assert grants(AGENT, "agent.1002") == ["desk.1001.agent.1002"]       # nothing will match
    assert grants(AGENT, "desk.1002.") == [] and grants(AGENT, "desk.") == ["desk.1001."]
    assert "span." in grants(AGENT, "") and "channel." not in grants(AGENT, "")
    assert grants(SUP, "call.") == ["call."] and grants(SUP, "desk.1001.") == ["desk.1001."]
    assert not any(g.startswith("desk.") for g in grants(SUP, ""))       # no copies twice
    assert set(grants(OWNER, "")) == set(ROOTS)
    assert grants(CRM, "call.del") == ["call.del"] and grants(CRM, "agent.") == []


@given(TOPIC_TEXT)
def test_an_agents_grants_never_reach_another_agents_events(prefix):
    for g in grants(AGENT, prefix):
        # a public namespace the agent sees whole (read), or its own desk
        assert g.startswith(("desk.1001.", "span.", "board.", "server.")), g
        for other in ("desk.1002.call.delivered", "call.delivered", "agent.1002.state",
                      "channel.dtmf"):
            assert not other.startswith(g), (prefix, g, other)


@given(TOPIC_TEXT)
def test_a_supervisor_never_gets_an_event_twice(prefix):
    gs = grants(SUP, prefix)
    for topic in ("call.delivered", "agent.1001.state", "span.alarm"):
        copies = [topic] + desk_topics(topic, ("1001",))
        hits = [c for c in copies if any(c.startswith(g) for g in gs)]
        assert len(hits) <= 1 or prefix.startswith("desk"), (prefix, gs, hits)


def test_concerned_agents_and_visibility():
    ev = {"type": "call.transferred", "agent": "1002", "from_agent": "1001", "to": "1002"}
    assert concerned_agents(ev) == ("1002", "1001")
    assert concerned_agents({"type": "call.diverted", "to": "queue:x"}) == ()
    assert visible(AGENT, "call.transferred", ("1002", "1001"))
    assert not visible(AGENT, "call.delivered", ("1002",))
    assert not visible(AGENT, "channel.dtmf", ())
    assert visible(SUP, "call.delivered", ("1002",)) and visible(CRM, "channel.dtmf", ())
    assert public_topic("desk.1001.call.delivered") == "call.delivered"
    assert public_topic("call.delivered") == "call.delivered"
