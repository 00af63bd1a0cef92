"""``key.issue``, ``key.revoke`` and ``key.list`` (cti/server/ops/keys.py) on a Service in
this process: the arguments checked at the door, the key ring kept with the store, an
agent's principal refused them (the right ``accounts``)."""
from __future__ import annotations

import zmq

from cti.server.auth import Principal
from tests.inprocess import err, ok, req


def pair() -> str:
    return zmq.curve_keypair()[0].decode()


def test_issue_list_revoke_and_the_key_ring(svc):
    pub = pair()
    r = ok(svc, "key.issue", public=pub, name="desk1001", role="agent", agent="1001")
    assert r["key"]["agent"] == "1001" and r["key"]["revoked"] is None
    assert len(r["server_key"]) == 40 and "requests" not in r      # no server.listen
    assert svc.keys.principal(pub, "tcp://10.0.0.7") == Principal(
        "desk1001", "agent", "1001", frozenset(), "tcp://10.0.0.7")
    crm = pair()
    ok(svc, "key.issue", public=crm, name="crm", role="integrator", scopes=["read", "calls"])
    assert svc.keys.principal(crm, "tcp").rights == {"read", "calls"}
    names = [k["name"] for k in ok(svc, "key.list")["keys"]]
    assert names == ["crm", "desk1001"] or sorted(names) == ["crm", "desk1001"]
    r = ok(svc, "key.revoke", key="desk1001")
    assert r["key"]["revoked"] is not None
    assert svc.keys.principal(pub, "tcp") is None and not svc.keys.allows(pub)
    assert ok(svc, "key.revoke", key=pub)["key"]["revoked"] == r["key"]["revoked"]
    assert svc.keys.allows(crm)


def test_bad_keys_are_refused_naming_the_field(svc):
    assert err(svc, "key.issue", public="short", name="x", role="agent",
               agent="1001")["field"] == "args.public"
    assert err(svc, "key.issue", public=pair(), name="x", role="agent")["field"] == "args.agent"
    assert err(svc, "key.issue", public=pair(), name="x", role="agent",
               agent="9999")["code"] == "not_found"
    assert err(svc, "key.issue", public=pair(), name="x", role="wizard")["field"] == "args.role"
    assert err(svc, "key.issue", public=pair(), name="x", role="supervisor",
               scopes=["calls"])["field"] == "args.scopes"
    assert err(svc, "key.issue", public=pair(), name="x y", role="supervisor")["field"] == \
        "args.name"
    ok(svc, "key.issue", public=pair(), name="x", role="supervisor")
    assert err(svc, "key.issue", public=pair(), name="x", role="supervisor")["field"] == \
        "args.name"
    assert err(svc, "key.revoke", key="nobody")["code"] == "not_found"


def test_an_agent_may_not_manage_keys(svc):
    agent = Principal("a", "agent", "1001", source="tcp://10.0.0.7")
    for op, args in (("key.issue", {"public": pair(), "name": "z", "role": "admin"}),
                     ("key.revoke", {"key": "z"}), ("key.list", {})):
        r = svc.handle({"id": 1, "op": op, "args": args}, principal=agent)
        assert r["error"]["code"] == "forbidden" and "'accounts'" in r["error"]["message"]
    assert req(svc, "key.list")["ok"]
