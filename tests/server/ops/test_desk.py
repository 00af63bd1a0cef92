"""The desk's data (cti/server/ops/desk.py): "msg.send", "msg.list", "msg.read",
"book.add", "book.list", "book.remove", "book.dial", "agent.history", "customer.show",
"customer.add", "customer.modify", "customer.remove", "call.wrapup" - on the simulated
board where a call is involved, through Service.handle(principal=...) for the rights, and
over real keys and sockets for a message reaching only its recipient's desk."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.clients.client import Client, CtiError, Subscriber
from cti.server.auth import Principal
from tests.desk import established_call, types

A1001 = Principal("a1001", "agent", "1001")
A1002 = Principal("a1002", "agent", "1002")
SUP = Principal("sup", "supervisor")


def as_(c, principal, op, **args):
    return c.svc.handle({"id": 1, "op": op, "args": args}, principal=principal)


def ok_as(c, principal, op, **args):
    r = as_(c, principal, op, **args)
    assert r["ok"], r
    return r["result"]


def refused(c, principal, op, **args):
    r = as_(c, principal, op, **args)
    assert not r["ok"], r
    return r["error"]


def test_messages_stored_live_and_at_the_next_login(centre):
    c = centre
    c.req("agent.logout", agent="1002")
    c.run(5)
    m = ok_as(c, A1001, "msg.send", to="1002", text="can you take 4711?")["message"]
    assert m["sender"] == "1001" and m["recipient"] == "1002" and m["read"] is None
    evs = c.run(2)
    rec = [e for e in evs if e["type"] == "msg.received"]
    assert len(rec) == 1 and rec[0]["agent"] == "1002" and rec[0]["text"] == "can you take 4711?"
    # 1002 logs in: it hears of the message waiting
    c.req("agent.login", agent="1002")
    evs = c.run(5)
    w = [e for e in evs if e["type"] == "msg.waiting"]
    assert w and w[0]["agent"] == "1002" and w[0]["unread"] == 1
    inbox = ok_as(c, A1002, "msg.list")
    assert inbox["unread"] == 1 and inbox["messages"][0]["id"] == m["id"]
    # another agent's inbox: refused; its message: not found
    assert refused(c, A1001, "msg.list", agent="1002")["code"] == "forbidden"
    e = refused(c, A1001, "msg.read", id=m["id"])
    assert e["code"] == "not_found" and e["field"] == "args.id"
    assert ok_as(c, A1002, "msg.read", id=m["id"])["message"]["read"] is not None
    assert ok_as(c, A1002, "msg.list")["unread"] == 0
    assert ok_as(c, SUP, "msg.list", agent="1002")["messages"][0]["id"] == m["id"]
    # bad input names its field; nothing is stored
    e = refused(c, A1001, "msg.send", to="1002", text="x" * 1001)
    assert e["field"] == "args.text"
    e = refused(c, A1001, "msg.send", to="1002", text="   ")
    assert e["field"] == "args.text"
    assert refused(c, A1001, "msg.send", to="9999", text="hi")["field"] == "args.to"
    assert c.svc.store.count("messages") == 1


def test_screen_pop_carries_the_customer_and_contact_history_and_the_wrapup(centre):
    c = centre
    cust = ok_as(c, A1001, "customer.add", name="Ann Lee", phone="13800138000",
                 notes="prefers email")["customer"]
    x, call, ts = established_call(c)
    c.world.calls.hangup(1, x.call)
    c.run(60)
    # the wrap-up: a code of the configured list and a note, on the CDR
    e = refused(c, A1001, "call.wrapup", call=call, code="bogus")
    assert e["field"] == "args.code" and "resolved" in e["message"]
    assert refused(c, A1002, "call.wrapup", call=call, code="sale")["code"] == "not_found"
    ok_as(c, A1001, "call.wrapup", call=call, code="sale", note="two boxes")
    cdr = c.svc.store.cdr(call)
    assert cdr["wrapup_code"] == "sale" and cdr["wrapup_note"] == "two boxes"
    c.world.phones[1].hang_up()
    c.run(400)                                    # past the queue's wrap-up time
    c.req("agent.ready", agent="1001")
    # the same customer calls again: the screen pop has the record and that contact
    c.world.calls.offer_call(1, "13800138000", "4008005555")
    evs = c.run(60)
    d = [e for e in evs if e["type"] == "call.delivered"]
    assert d, types(evs)
    data = d[0]["data"]
    assert data["customer"]["id"] == cust["id"] and data["customer"]["notes"] == "prefers email"
    assert data["contacts"][0]["call_id"] == call
    assert data["contacts"][0]["wrapup_code"] == "sale"
    assert data["contacts"][0]["outcome"] == "answered"
    shown = ok_as(c, A1001, "customer.show", phone="13800138000")
    assert shown["customer"]["name"] == "Ann Lee" and shown["contacts"][0]["call_id"] == call
    # the agent's history has it, with its outcome and duration; 1002 may not read it
    h = ok_as(c, A1001, "agent.history")["calls"]
    assert h[0]["call_id"] == call and h[0]["outcome"] == "answered" and h[0]["duration"] > 0
    assert h[0]["wrapup_code"] == "sale"
    assert refused(c, A1002, "agent.history", agent="1001")["code"] == "forbidden"
    assert ok_as(c, A1002, "agent.history")["calls"] == []


def test_customer_record_add_modify_remove_and_rights(centre):
    c = centre
    cust = ok_as(c, A1001, "customer.add", name="Bo", phone="555")["customer"]
    ch = ok_as(c, A1001, "customer.modify", id=cust["id"], points=7, area="north")["customer"]
    assert ch["points"] == 7 and ch["area"] == "north" and ch["name"] == "Bo"
    e = refused(c, A1001, "customer.modify", id=cust["id"], points=-1)
    assert e["field"] == "args.points"
    e = refused(c, A1001, "customer.modify", id=cust["id"], name="")
    assert e["code"] == "bad_arg" and e["field"] == "args.name"
    assert refused(c, A1001, "customer.modify", id=cust["id"])["field"] == "args"
    assert refused(c, A1001, "customer.modify", id=99999, points=1)["code"] == "not_found"
    assert c.svc.store.customer(cust["id"])["points"] == 7
    e = refused(c, A1001, "customer.remove", id=cust["id"])
    assert e["code"] == "forbidden" and "calls" in e["message"]
    assert ok_as(c, SUP, "customer.remove", id=cust["id"])["customer"]["name"] == "Bo"
    assert ok_as(c, A1001, "customer.show", phone="555")["customer"] is None
    assert refused(c, A1001, "customer.show", id=cust["id"])["code"] == "not_found"
    assert refused(c, A1001, "customer.add", name="x", email="y" * 300)["field"] == "args.email"


def test_book_and_click_to_dial_from_it(centre):
    c = centre
    own = ok_as(c, A1001, "book.add", name="Warehouse", number="13912345678", speed="7",
                notes="ask for Li")["entry"]
    assert own["number"] == "13912345678" and not own["shared"]
    e = refused(c, A1001, "book.add", name="Helpdesk", number="8005", shared=True)
    assert e["code"] == "forbidden" and e["field"] == "args.shared"
    shared = ok_as(c, SUP, "book.add", name="Helpdesk", number="13900000001", speed="1",
                   shared=True)["entry"]
    assert refused(c, A1001, "book.add", name="x", number="12ab")["field"] == "args.number"
    assert refused(c, A1001, "book.add", name="x", number="1", speed="7")["field"] == \
        "args.speed"
    names = [x["name"] for x in ok_as(c, A1001, "book.list")["entries"]]
    assert names == ["Warehouse", "Helpdesk"]
    assert [x["name"] for x in ok_as(c, A1002, "book.list")["entries"]] == ["Helpdesk"]
    # 1002 may not dial, nor remove, 1001's entry; nor remove the shared one
    assert refused(c, A1002, "book.dial", entry=own["id"])["code"] == "not_found"
    assert refused(c, A1002, "book.remove", id=own["id"])["code"] == "not_found"
    assert refused(c, A1002, "book.remove", id=shared["id"])["code"] == "forbidden"
    assert refused(c, A1001, "book.dial", speed="9")["field"] == "args.speed"
    # click-to-dial by speed-dial code: the agent's phone rings, then the exchange is
    # called with the entry's number
    r = ok_as(c, A1001, "book.dial", speed="7")
    assert r["to"] == "13912345678" and r["name"] == "Warehouse" and r["agent"] == "1001"
    c.run(20)
    assert c.world.phones[1].ringing
    c.world.phones[1].lift()
    evs = c.run(200)
    assert "call.established" in types(evs)
    assert c.world.calls.log[-1].dnis == "13912345678"
    c.world.phones[1].hang_up()
    c.run(60)
    assert c.svc.store.cdr(r["call_id"])["dnis"] == "13912345678"
    # and from a shared entry
    c.run(400)
    r = ok_as(c, A1001, "book.dial", entry=shared["id"])
    assert r["to"] == "13900000001"
    c.run(20)
    c.world.phones[1].lift()
    c.run(200)
    assert c.world.calls.log[-1].dnis == "13900000001"
    c.world.phones[1].hang_up()
    c.run(60)
    out = [h for h in ok_as(c, A1001, "agent.history")["calls"] if h["direction"] == "out"]
    assert [h["dnis"] for h in out] == ["13900000001", "13912345678"]
    assert ok_as(c, A1001, "book.remove", id=own["id"])["entry"]["name"] == "Warehouse"
    assert ok_as(c, SUP, "book.remove", id=shared["id"])["entry"]["shared"]


# ---- over real keys and sockets --------------------------------------------------------

@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    from tests.inprocess import InProcessServer
    from tests.server.test_keys import free_port, issue, listening_config

    base = tmp_path_factory.mktemp("desk")
    home = base / "home"
    with InProcessServer(home, speed=8.0, config=listening_config(home, free_port())) as srv:
        srv.wait_in_sync()
        yield home, {"a1001": issue(home, base / "a1001.key", "a1001", "agent", "1001"),
                     "a1002": issue(home, base / "a1002.key", "a1002", "agent", "1002")}


def test_a_message_reaches_only_its_recipients_desk(keyed):
    from tests.server.test_keys import drain, wait_for

    home, keys = keyed
    s1001 = Subscriber(topics=[""], key=keys["a1001"])
    s1002 = Subscriber(topics=["msg.", "desk."], key=keys["a1002"])
    seen1, seen2 = [], []
    try:
        time.sleep(0.5)                       # the subscriptions granted (a loop round)
        with Client(key=keys["a1001"], timeout=5) as a1:
            a1.request("msg.send", to="1002", text="lunch at one?")
            with pytest.raises(CtiError) as e:
                a1.request("msg.list", agent="1002")
            assert e.value.code == "forbidden"
        with Client(key=keys["a1002"], timeout=5) as a2:
            a2.request("msg.send", to="1002", text="note to self")
            m = wait_for(s1002, lambda t, e: t == "msg.received", seen2)
            assert m["text"] == "lunch at one?" and m["sender"] == "1001"
            inbox = a2.request("msg.list")
            assert [x["text"] for x in inbox["messages"]] == ["note to self", "lunch at one?"]
            evs = a2.request("replay", after=0, topics=["msg."])["events"]
            assert len(evs) == 2
        with Client(key=keys["a1001"], timeout=5) as a1:
            assert a1.request("replay", after=0, topics=["msg."])["events"] == []
        time.sleep(0.5)
        drain(s1001, seen1)
        drain(s1002, seen2)
        assert not [t for t, _ in seen1 if t.startswith("msg.")], seen1
        assert [t for t, _ in seen2].count("msg.received") == 2
    finally:
        s1001.close()
        s1002.close()


def test_wrapup_codes_are_configured(tmp_path):
    from cti.server.config import DEFAULT_TOML, ConfigError, parse_config

    text = DEFAULT_TOML.replace("[centre]\n", '[centre]\nwrapup_codes = ["won", "lost"]\n', 1)
    cfg = parse_config(text, "<test>", home=tmp_path)
    assert cfg.centre.wrapup_codes == ("won", "lost")
    assert parse_config(DEFAULT_TOML, "<test>", home=tmp_path).centre.wrapup_codes[0] == \
        "resolved"
    for bad in ('[]', '["ok", 3]', '"won"', '["' + "x" * 65 + '"]'):
        with pytest.raises(ConfigError, match="wrapup_codes"):
            parse_config(DEFAULT_TOML.replace("[centre]\n", f"[centre]\nwrapup_codes = {bad}\n",
                                              1), "<test>", home=tmp_path)


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10 ** 20), st.floats(),
                    st.text(max_size=8), st.text(min_size=1000, max_size=1300),
                    st.sampled_from(["1002", "13912345678", "7", "+86", "", "a b"]),
                    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(), st.none()))


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(op=st.sampled_from(["msg.send", "book.add", "customer.add", "customer.modify",
                           "book.dial", "call.wrapup", "msg.read"]),
       args=st.dictionaries(st.sampled_from(["to", "text", "name", "number", "speed", "notes",
                                             "shared", "phone", "points", "email", "id",
                                             "entry", "call", "code", "agent", "x"]),
                            _VALUES, max_size=4))
def test_any_arguments_are_answered_and_a_refusal_stores_nothing(centre, op, args):
    c = centre
    tables = ("messages", "book", "customers")
    before = {t: c.svc.store.count(t) for t in tables}
    r = as_(c, A1001, op, **args)
    if not r["ok"]:
        e = r["error"]
        assert e["code"] in ("bad_arg", "not_found", "forbidden", "failed", "unknown_arg"), e
        assert e.get("field") is None or e["field"].startswith(("args", "op")), e
        assert {t: c.svc.store.count(t) for t in tables} == before
