"""The desk's tables (cti/store/desk.py): messages, the book, customers, contact history,
wrap-up; bad input names its field and stores nothing."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.store.desk import MAX_INBOX, MAX_MESSAGE, SHARED
from cti.store.sqlite import Store


def _snapshot(s):
    return {t: list(s.db.query(f"SELECT * FROM {t}")) for t in ("messages", "book", "customers",
                                                                 "cdr")}


def test_messages_inbox_unread_first_and_only_the_recipients():
    s = Store()
    a = s.message_send(1.0, "1001", "1002", "call me")
    b = s.message_send(2.0, "1001", "1002", "second")
    s.message_send(3.0, "1002", "1001", "for 1001")
    assert [m["text"] for m in s.messages("1002")] == ["second", "call me"]
    s.message_read(4.0, "1002", b["id"])
    assert [m["id"] for m in s.messages("1002")] == [a["id"], b["id"]]     # unread first
    assert s.message_unread("1002") == 1
    with pytest.raises(LookupError, match="message.id"):
        s.message_read(5.0, "1001", a["id"])             # 1002's message, asked as 1001
    assert s.messages("1002")[0]["read"] is None


def test_inbox_is_bounded():
    s = Store()
    for i in range(MAX_INBOX):
        s.message_send(float(i), "1001", "1002", f"m{i}")
    with pytest.raises(OverflowError, match="message.recipient"):
        s.message_send(1e4, "1001", "1002", "one too many")
    first = s.messages("1002", unread=True, limit=MAX_INBOX)[-1]
    s.message_read(1e4, "1002", first["id"])
    s.message_send(1e4, "1001", "1002", "now it fits")  # the read one made room
    texts = [m["text"] for m in s.messages("1002", limit=MAX_INBOX)]
    assert len(texts) == MAX_INBOX and "m0" not in texts and "now it fits" in texts


def test_book_own_then_shared_and_speed_dial():
    s = Store()
    own = s.book_add("1001", "Stores", "2001", "the warehouse", "1")
    shared = s.book_add(SHARED, "Helpdesk", "8005", None, "1")
    s.book_add(SHARED, "Legal", "8006", None, "2")
    s.book_add("1002", "Other", "3003", None, "2")
    assert [e["name"] for e in s.book("1001")] == ["Stores", "Helpdesk", "Legal"]
    assert s.speed_dial("1001", "1")["id"] == own["id"]             # its own code first
    assert s.speed_dial("1002", "1")["id"] == shared["id"]
    assert s.speed_dial("1002", "2")["number"] == "3003"
    assert s.speed_dial("1001", "9") is None
    with pytest.raises(ValueError, match="book.speed: the code 1 is taken"):
        s.book_add("1001", "Again", "2002", None, "1")
    s.book_remove(own["id"])
    assert s.speed_dial("1001", "1")["id"] == shared["id"]


def test_customer_add_modify_remove_and_contact_history():
    s = Store()
    c = s.customer_add({"name": "Ann Lee", "phone": "13800138000"})
    assert c["points"] == 0 and c["id"] >= 1
    c = s.customer_modify(c["id"], {"points": 5, "notes": "VIP"})
    assert c["points"] == 5 and c["name"] == "Ann Lee"
    with pytest.raises(ValueError, match="customer.points: must be an integer"):
        s.customer_modify(c["id"], {"points": "many"})
    assert s.customer(c["id"])["points"] == 5
    for i, (direction, ani, dnis) in enumerate([("in", "13800138000", "4008005555"),
                                                ("out", "4008005555", "13800138000"),
                                                ("in", "13900000000", "4008005555")]):
        s.add_cdr({"call_id": f"c{i}", "direction": direction, "ani": ani, "dnis": dnis,
                   "start": 100.0 + i, "end": 160.0 + i, "duration": 60.0, "billsec": 50.0,
                   "outcome": "answered", "agent": "1001"})
    s.set_cdr_wrapup_code("c0", "1001", "sale", "two boxes")
    with pytest.raises(LookupError):
        s.set_cdr_wrapup_code("c0", "1002", "sale")                  # not 1002's call
    h = s.contact_history("13800138000")
    assert [x["call_id"] for x in h] == ["c1", "c0"]
    assert h[1]["wrapup_code"] == "sale" and h[1]["wrapup_note"] == "two boxes"
    s.add_orders([{"order_id": "o1", "customer_id": c["id"], "status": "open"}])
    with pytest.raises(ValueError, match="has 1 order"):
        s.customer_remove(c["id"])
    s.db.execute("DELETE FROM orders")
    assert s.customer_remove(c["id"])["name"] == "Ann Lee"
    assert s.customer(c["id"]) is None


_junk = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(),
                  st.text(max_size=5), st.text(min_size=1001, max_size=1100),
                  st.lists(st.integers(), max_size=2))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(op=st.sampled_from(["message", "book", "customer", "modify", "wrapup"]),
       field=st.integers(0, 4), junk=_junk)
def test_bad_input_names_its_field_and_stores_nothing(op, field, junk):
    s = Store()
    c = s.customer_add({"name": "Base", "phone": "100"})
    s.add_cdr({"call_id": "x", "direction": "in", "start": 1.0, "end": 2.0, "duration": 1.0,
               "billsec": 1.0, "outcome": "answered", "agent": "1001"})
    before = _snapshot(s)
    good = {"message": ["1001", "1002", "hello"],
            "book": ["1001", "Stores", "2001", "notes", "1"],
            "customer": [{"name": "Bob", "phone": "200", "points": 1, "email": None}],
            "modify": [{"name": "Bob", "points": 2}],
            "wrapup": ["x", "1001", "sale", "note"]}[op]
    args = list(good)
    names = {"message": ["message.sender", "message.recipient", "message.text"],
             "book": ["book.owner", "book.name", "book.number", "book.notes", "book.speed"],
             "customer": ["customer.name", "customer.phone", "customer.points",
                          "customer.email"],
             "modify": ["customer.name", "customer.phone", "customer.points", "customer.area"],
             "wrapup": ["cdr.call_id", "cdr.agent", "cdr.wrapup_code", "cdr.wrapup_note"]}[op]
    if op in ("customer", "modify"):
        names = names[:3] if op == "customer" else names
    name = names[field % len(names)]
    if op in ("customer", "modify"):
        args[0] = dict(args[0], **{name.split(".")[1]: junk})
    else:
        args[field % len(names)] = junk
    try:
        if op == "message":
            s.message_send(5.0, *args)
        elif op == "book":
            s.book_add(*args)
        elif op == "customer":
            s.customer_add(args[0])
        elif op == "modify":
            s.customer_modify(c["id"], args[0])
        else:
            s.set_cdr_wrapup_code(*args)
    except (ValueError, LookupError, OverflowError) as e:
        if isinstance(e, LookupError):   # a well-formed id of nothing: not found
            assert str(e).split(":")[0] in names, e
        else:
            assert str(e).split(":")[0] == name, e
        assert _snapshot(s) == before
    else:
        # what was accepted is what a well-formed value would be
        assert junk is None or isinstance(junk, (str, int)) and not isinstance(junk, bool)
    s.close()


def test_the_migrations_from_v6_keep_the_cdrs(tmp_path):
    from cti.store.sqlite import MIGRATIONS
    p = tmp_path / "cti.db"
    with Store(p, migrations=MIGRATIONS[:6]) as s:
        # a CDR as the cti of that version wrote it (today's add_cdr knows later columns)
        s.db.execute('INSERT INTO cdr (call_id, direction, ani, start, "end", duration, '
                     "billsec, outcome, agent) VALUES ('old', 'in', '555', 1.0, 2.0, 1.0, 1.0,"
                     " 'answered', '1001')")
    with Store(p) as s:
        assert s.version == len(MIGRATIONS)
        assert s.contact_history("555")[0]["call_id"] == "old"
        s.set_cdr_wrapup_code("old", "1001", "resolved")
        assert s.cdr("old")["wrapup_code"] == "resolved"
    assert MAX_MESSAGE == 1000
