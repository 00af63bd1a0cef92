"""Rights on every request (cti/server/auth.py): each operation names one right; a role is
a set of rights; ``desk`` alone acts on its own agent and calls only. Checked through the
service on the simulated centre, with a real call on the line."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from cti.server.auth import (OWNER, READS, RIGHTS, ROLE_RIGHTS, Principal, audited,
                             authorize)
from cti.server.registry import REGISTRY
from cti.server.schema import RequestError

from tests.desk import established_call

AGENT_1001 = Principal("1001", "agent", agent="1001", source="test")
AGENT_1003 = Principal("1003", "agent", agent="1003", source="test")
SUPERVISOR = Principal("wang", "supervisor", agent="1002", source="test")


def ask(c, principal, op, **args):
    return c.svc.handle({"id": 1, "op": op, "args": args}, principal=principal)


def test_an_agent_acts_on_its_own_agent_and_call_only(centre):
    c = centre
    x, call, ts = established_call(c)                   # agent 1001 talks on it
    c.req("agent.login", agent="1003")
    assert ask(c, AGENT_1001, "call.hold", call=call)["ok"]
    assert ask(c, AGENT_1001, "call.retrieve", call=call)["ok"]
    r = ask(c, AGENT_1003, "call.hangup", call=call)
    assert r["error"]["code"] == "forbidden" and r["error"]["field"] == "args.call"
    assert "'calls'" in r["error"]["message"]
    r = ask(c, AGENT_1003, "agent.logout", agent="1001")
    assert (r["error"]["code"], r["error"]["field"]) == ("forbidden", "args.agent")
    assert c.req("agent.show", agent="1001")["state"] != "logged_out"    # nothing done
    r = ask(c, AGENT_1001, "call.supervise", call=call, supervisor="1001", mode="barge")
    assert r["error"]["code"] == "forbidden" and "'supervise'" in r["error"]["message"]
    for op, args in [("shutdown", {}), ("campaign.start", {"campaign": "x"}),
                     ("server.speed", {"speed": 1000}), ("span.loopback", {"span": 1}),
                     ("dnc.add", {"number": "123"}), ("channel.listen", {"channel": "1/1"}),
                     ("report.losses", {}), ("agent.list", {}), ("call.list", {})]:
        r = ask(c, AGENT_1001, op, **args)
        assert r["error"]["code"] == "forbidden", (op, r)
        assert r["error"]["message"].startswith(f"{op} needs the right")
    assert not c.svc.stopping and c.svc.speed == 1.0
    assert ask(c, AGENT_1001, "agent.not_ready", agent="1001", reason="break")["ok"]


def test_a_supervisor_barges_and_acts_for_other_agents(centre):
    c = centre
    x, call, ts = established_call(c)
    r = ask(c, SUPERVISOR, "call.supervise", call=call, supervisor="1002", mode="barge")
    assert r["ok"], r
    assert ask(c, SUPERVISOR, "agent.list")["ok"]
    assert ask(c, SUPERVISOR, "call.record", call=call, on=False)["ok"]
    r = ask(c, SUPERVISOR, "shutdown")
    assert r["error"]["code"] == "forbidden" and not c.svc.stopping


def test_an_integrator_has_exactly_its_scopes(centre):
    key = Principal("crm", "integrator", scopes=frozenset({"read", "reports"}), source="test")
    assert ask(centre, key, "queue.list")["ok"]
    assert ask(centre, key, "report.losses")["ok"]
    assert ask(centre, key, "agent.login", agent="1003")["error"]["code"] == "forbidden"
    with pytest.raises(ValueError, match="unknown right"):
        Principal("x", "integrator", scopes=frozenset({"everything"}))
    with pytest.raises(ValueError, match="role"):
        Principal("x", "root")


def test_the_owner_may_ask_everything():
    for op in REGISTRY:
        assert OWNER.may(op.rights[0]), op.name


def test_the_roles_nest():
    assert ROLE_RIGHTS["agent"] < ROLE_RIGHTS["supervisor"] < ROLE_RIGHTS["admin"]
    assert ROLE_RIGHTS["admin"] == frozenset(RIGHTS)


OPS = sorted(REGISTRY, key=lambda op: op.name)


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(OPS), role=st.sampled_from(sorted(ROLE_RIGHTS)),
       scopes=st.frozensets(st.sampled_from(RIGHTS)), mine=st.sampled_from(["1001", None]),
       agent=st.sampled_from(["1001", "1004", None]))
def test_authorize_refuses_exactly_what_the_rights_do_not_give(op, role, scopes, mine, agent):
    p = Principal("p", role, agent=mine, scopes=scopes if role == "integrator" else frozenset())
    agent = agent if "agent" in op.args else None
    args = {"agent": agent} if agent is not None else {}
    right = op.rights[0]
    allowed = right in p.rights and not (
        right == "desk" and agent is not None and agent != mine and "agents" not in p.rights)
    try:
        used = authorize(op, args, p)
    except RequestError as e:
        assert not allowed and e.code == "forbidden"
        assert e.field in ("op", "args.agent")
    else:
        assert allowed
        assert used in p.rights
        if used not in ("read", "desk") and op.name.rsplit(".", 1)[-1] not in READS:
            assert audited(op, used)
