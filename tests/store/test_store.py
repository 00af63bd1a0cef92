"""cti.store.sqlite: schema and migrations, WAL, each write's round trip, bad input naming the
field with nothing written, and a second connection seeing committed rows."""
import sqlite3

import pytest
from hypothesis import given, settings, strategies as st

from cti.store.sqlite import (LOOKUPS, MIGRATIONS, OUTCOMES, SCHEMA_VERSION, Store, StoreVersionError,
                       migrate)
import sqlite_utils

TABLES = {"cdr", "queue_log", "agent_log", "customers", "orders", "recordings", "voicemail",
          "callbacks", "exchange_stats", "trunk_samples"}


def cdr(**kw):
    base = {"call_id": "c1", "direction": "in", "trunk": "1/5", "ani": "13800138000",
            "dnis": "4008001234", "start": 100.0, "answer": 112.0, "end": 300.0,
            "outcome": "answered", "cause": 16, "queue": "sales", "agent": "1001",
            "ivr_path": "main/orders", "wait": 9.5, "wrapup": 15.0,
            "data": {"order": "A17", "vip": True}, "recording": "rec/c1.wav"}
    base.update(kw)
    return base


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path):
    s = Store(tmp_path)
    yield s
    s.close()


# -- schema, migrations, pragmas ------------------------------------------------

def test_fresh_store_has_every_table_at_the_newest_version(store):
    assert TABLES <= set(store.db.table_names())
    assert store.version == SCHEMA_VERSION == len(MIGRATIONS)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_directory_means_home_cti_db(tmp_path):
    with Store(tmp_path) as s:
        assert s.path == tmp_path / "cti.db"
    with Store.for_home(tmp_path / "var") as s:
        assert s.path == tmp_path / "var" / "cti.db" and s.path.exists()


def test_wal_and_synchronous(file_store, tmp_path):
    assert file_store.journal_mode == "wal"
    assert file_store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with Store(tmp_path / "n.db", synchronous="NORMAL") as s:
        assert s.journal_mode == "wal"
        assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(ValueError, match="synchronous"):
        Store(tmp_path / "x.db", synchronous="OFF")


def test_an_old_database_is_upgraded_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    assert migrate(db, target=1) == 1
    db.execute('INSERT INTO cdr (call_id, direction, start, "end", duration, billsec, outcome)'
               " VALUES ('old', 'in', 1, 2, 1, 0, 'abandoned_queue')")
    assert "callbacks" not in db.table_names()
    db.close()
    with Store(path) as s:
        assert s.version == SCHEMA_VERSION
        assert TABLES <= set(s.db.table_names())
        row = s.cdr("old")
        assert row["outcome"] == "abandoned_queue" and row["wrapup"] is None
        s.add_cdr(cdr(call_id="new"))
        assert s.cdr("new")["wrapup"] == 15.0


def test_a_newer_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mystery (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreVersionError, match=f"version {SCHEMA_VERSION + 5}.*upgrade cti"):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["mystery"]
    conn.close()


def test_a_failing_migration_leaves_the_previous_version(tmp_path):
    def broken(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("step 3 failed")

    path = tmp_path / "m.db"
    with pytest.raises(RuntimeError, match="step 3"):
        Store(path, migrations=[*MIGRATIONS, broken])
    with Store(path) as s:  # the newest known version, without the half-done step
        assert s.version == SCHEMA_VERSION
        assert "half" not in s.db.table_names()


def test_migrate_refuses_a_newer_in_memory_db():
    db = sqlite_utils.Database(memory=True)
    db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreVersionError, match="99"):
        migrate(db)


# -- writes round trip ---------------------------------------------------------------

def test_cdr_round_trip(store):
    rid = store.add_cdr(cdr())
    assert rid == 1
    row = store.cdr("c1")
    assert row["duration"] == 200.0 and row["billsec"] == 188.0
    assert row["data"] == {"order": "A17", "vip": True}
    assert row["start_iso"] == "1970-01-01T00:01:40.000Z"
    for k, v in cdr().items():
        assert row[k] == v, k
    assert store.cdr("nope") is None


def test_cdr_defaults_and_lists(store):
    store.add_cdr({"call_id": "x", "direction": "out", "start": 5, "end": 9,
                   "outcome": "no_answer", "ivr_path": ["main", "orders"]})
    row = store.cdr("x")
    assert row["duration"] == 4.0 and row["billsec"] == 0.0 and row["answer"] is None
    assert row["ivr_path"] == "main/orders" and row["data"] is None


def test_cdrs_by_range_and_agent_history(store):
    for i in range(5):
        store.add_cdr(cdr(call_id=f"c{i}", start=100.0 * i, answer=None, end=100.0 * i + 50,
                          agent="1001" if i % 2 else "1002"))
    assert [r["call_id"] for r in store.cdrs(100, 400)] == ["c1", "c2", "c3"]
    assert [r["call_id"] for r in store.cdrs(0, 1000, agent="1001")] == ["c1", "c3"]
    assert [r["call_id"] for r in store.agent_history("1002", limit=2)] == ["c4", "c2"]


def test_queue_log_is_asterisk_shaped(store):
    store.log_queue(10, "c1", "sales", None, "ENTERQUEUE", "", "13800138000")
    store.log_queue(22, "c1", "sales", "1001", "RINGNOANSWER", 15000)
    store.log_queue(30.5, "c1", "sales", "1002", "CONNECT", 20, "fxs/2", 3)
    store.log_queue(60, "c1", "sales", "1002", "COMPLETECALLER", 20, 30, 1)
    store.log_queue(61, None, "sales", "1003", "ADDMEMBER")
    rows = store.queue_log(0, 100)
    assert [r["event"] for r in rows] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT",
                                          "COMPLETECALLER", "ADDMEMBER"]
    assert rows[0]["agent"] == "NONE" and rows[4]["call_id"] == "NONE"
    assert (rows[2]["data1"], rows[2]["data2"], rows[2]["data3"], rows[2]["data4"]) == \
        ("20", "fxs/2", "3", None)
    assert [r["time"] for r in store.queue_log(0, 100, "CONNECT")] == [30.5]
    assert list(store.queue_log_lines(0, 100)) == [
        "10|c1|sales|NONE|ENTERQUEUE||13800138000",
        "22|c1|sales|1001|RINGNOANSWER|15000",
        "30.500000|c1|sales|1002|CONNECT|20|fxs/2|3",
        "60|c1|sales|1002|COMPLETECALLER|20|30|1",
        "61|NONE|sales|1003|ADDMEMBER",
    ]


def test_agent_log_recordings_voicemail(store):
    store.log_agent(1, "1001", "login", extension="fxs/1")
    store.log_agent(2, "1001", "not_ready", "lunch")
    assert [(r["state"], r["reason"], r["extension"]) for r in store.agent_log("1001")] == \
        [("login", None, "fxs/1"), ("not_ready", "lunch", None)]
    assert len(store.agent_log()) == 2
    store.add_recording("c1", "rec/c1.wav", 100.0, 61.5, channels=2)
    assert store.recordings("c1")[0]["seconds"] == 61.5
    vid = store.add_voicemail("1001", "vm/1.wav", 200.0, 12.0, call_id="c1", ani="138")
    assert store.voicemails("1001", unheard=True)[0]["ani"] == "138"
    store.mark_voicemail_heard(vid)
    assert store.voicemails("1001", unheard=True) == []
    assert store.voicemails("1001")[0]["heard"] == 1
    with pytest.raises(ValueError, match="voicemail.id"):
        store.mark_voicemail_heard(999)


def test_callbacks(store):
    cid = store.add_callback("13800138000", "sales", 500.0, call_id="c9")
    assert store.callbacks("requested")[0]["number"] == "13800138000"
    store.update_callback(cid, state="dialling", attempt=True)
    store.update_callback(cid, state="done", done=900.0, callback_call_id="c10")
    row = store.callbacks()[0]
    assert (row["state"], row["done"], row["callback_call_id"], row["attempts"]) == \
        ("done", 900.0, "c10", 1)
    assert store.callbacks_requested(0, 501)[0]["id"] == cid
    with pytest.raises(ValueError, match="callbacks.state"):
        store.update_callback(cid, state="lost")
    with pytest.raises(ValueError, match="callbacks.id"):
        store.update_callback(77, state="done")


def test_customers_orders_and_lookups(store):
    assert store.add_customers([
        {"name": "Li Lei", "phone": "13800138000", "points": 120},
        {"id": 7, "name": "Han Meimei", "phone": "13900139000", "area": "010"},
    ]) == 2
    assert store.customer_by_phone("13800138000")["name"] == "Li Lei"
    assert store.customer_by_phone("110") is None
    store.add_orders([{"order_id": "20240501", "customer_id": 7, "status": "shipped",
                       "amount": 99.5}])
    assert store.lookup("orders", "order_id", "20240501")["status"] == "shipped"
    assert store.lookup("orders", "order_id", 20240501)["amount"] == 99.5  # digits typed
    assert store.lookup("customers", "id", "7")["name"] == "Han Meimei"
    assert store.lookup("customers", "phone", "0") is None
    with pytest.raises(ValueError, match="table: 'agent_log'"):
        store.lookup("agent_log", "agent", "1")
    with pytest.raises(ValueError, match="key_column: customers.notes"):
        store.lookup("customers", "notes", "x")
    with pytest.raises(ValueError, match="orders.customer_id"):
        store.add_orders([{"order_id": "1", "customer_id": 404, "status": "new"}])
    assert set(LOOKUPS) == {"customers", "orders"}


def test_trunk_samples_and_exchange_counts(store):
    store.trunk_sample(0, 1, 3, 30)
    store.trunk_sample(5, 2, 30, 30)
    store.trunk_sample(20, 1, 30, 30)
    store.trunk_sample(40, 1, 4, 30)
    store.exchange_count(3600, 1, 100, 7)
    rows = store.trunk_samples(10, 30)  # what was in force at 10, then the changes
    assert [(r["time"], r["span"], r["busy"]) for r in rows] == \
        [(0.0, "1", 3), (5.0, "2", 30), (20.0, "1", 30)]
    assert store.exchange_stats(3000, 4000)[0]["congested"] == 7
    store.trunk_sample(50, "fxo", 2, 8)
    assert store.trunk_samples(50, 51)[-1]["span"] == "fxo"


# -- bad input: ValueError naming the field, nothing written ---------------------------

@pytest.mark.parametrize("field,value", [
    ("call_id", None), ("call_id", ""), ("call_id", 7), ("direction", "sideways"),
    ("start", "noon"), ("start", None), ("start", float("nan")), ("end", 50.0),
    ("answer", 400.0), ("answer", True), ("outcome", "lost"), ("outcome", None),
    ("cause", 300), ("cause", 16.0), ("wait", -1.0), ("agent", 1001), ("data", [1, 2]),
    ("data", {"x": object()}), ("billsec", -3), ("ivr_path", ["main", 3]), ("bogus", 1),
])
def test_bad_cdr_names_the_field_and_writes_nothing(store, field, value):
    with pytest.raises(ValueError, match=rf"cdr\.{field}\b"):
        store.add_cdr(cdr(**{field: value}))
    assert store.count("cdr") == 0


def test_duplicate_call_id_is_rejected(store):
    store.add_cdr(cdr())
    with pytest.raises(ValueError, match="cdr.call_id: 'c1' already"):
        store.add_cdr(cdr(start=500.0, answer=None, end=600.0))
    assert store.count("cdr") == 1
    store.add_cdr(cdr(call_id="c2"))  # the connection is still usable
    assert store.count("cdr") == 2


@pytest.mark.parametrize("call,field,table", [
    (lambda s: s.log_queue("ten", "c", "q", "a", "ENTERQUEUE"), "queue_log.time", "queue_log"),
    (lambda s: s.log_queue(1, "c", "q", "a", "ENTERQUEU"), "queue_log.event", "queue_log"),
    (lambda s: s.log_queue(1, "c", 5, "a", "ENTERQUEUE"), "queue_log.queue", "queue_log"),
    (lambda s: s.log_queue(1, "c", "q", "a", "INFO", 1, 2, 3, 4, 5, 6), "queue_log.data6",
     "queue_log"),
    (lambda s: s.log_queue(1, "c", "q", "a", "INFO", [1]), "queue_log.data1", "queue_log"),
    (lambda s: s.log_agent(1, None, "ready"), "agent_log.agent", "agent_log"),
    (lambda s: s.log_agent(1, "1001", ""), "agent_log.state", "agent_log"),
    (lambda s: s.add_recording("c", "p.wav", 0, -1), "recordings.seconds", "recordings"),
    (lambda s: s.add_recording("c", "p.wav", 0, 1, channels=3), "recordings.channels",
     "recordings"),
    (lambda s: s.add_voicemail("", "v.wav", 0, 1), "voicemail.box", "voicemail"),
    (lambda s: s.add_callback("138", "q", None), "callbacks.requested", "callbacks"),
    (lambda s: s.add_customers([{"name": "ok"}, {"name": "bad", "points": "lots"}]),
     r"customers\[1\].points", "customers"),
    (lambda s: s.add_customers([{"phone": "1"}]), r"customers\[0\].name", "customers"),
    (lambda s: s.add_customers([{"name": "x", "shoe": 42}]), r"customers\[0\].shoe",
     "customers"),
    (lambda s: s.add_orders([{"order_id": "1", "status": None}]), r"orders\[0\].status",
     "orders"),
    (lambda s: s.trunk_sample(0, 1, 31, 30), "trunk_samples.busy", "trunk_samples"),
    (lambda s: s.trunk_sample(0, None, 1, 30), "trunk_samples.span", "trunk_samples"),
    (lambda s: s.exchange_count(0, 1, 5, 6), "exchange_stats.congested", "exchange_stats"),
    (lambda s: s.exchange_count(0, 1, -1, 0), "exchange_stats.offered", "exchange_stats"),
])
def test_bad_input_elsewhere(store, call, field, table):
    with pytest.raises(ValueError, match=field):
        call(store)
    assert store.count(table) == 0


def test_customer_by_phone_rejects_non_strings(store):
    with pytest.raises(ValueError, match="ani"):
        store.customer_by_phone(None)


# -- concurrency: WAL readers see committed rows and do not block writes ---------------

def test_a_second_connection_sees_every_committed_row(file_store):
    reader = sqlite3.connect(file_store.path)
    try:
        file_store.add_cdr(cdr())
        assert reader.execute("SELECT call_id FROM cdr").fetchall() == [("c1",)]
        reader.execute("BEGIN")  # a long read (a report) holds a snapshot...
        assert reader.execute("SELECT count(*) FROM cdr").fetchone() == (1,)
        file_store.add_cdr(cdr(call_id="c2"))  # ...and the writer is not blocked
        file_store.log_queue(1, "c2", "sales", None, "ENTERQUEUE")
        assert reader.execute("SELECT count(*) FROM cdr").fetchone() == (1,)
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM cdr").fetchone() == (2,)
        with Store(file_store.path) as other:
            assert other.cdr("c2")["agent"] == "1001"
            assert other.queue_log(0, 10)[0]["call_id"] == "c2"
    finally:
        reader.close()


# -- hypothesis: any valid CDR round-trips -------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8)


@st.composite
def cdrs(draw):
    start = draw(st.floats(0, 1e9, allow_nan=False))
    length = draw(st.floats(0, 1e4, allow_nan=False))
    end = start + length
    answer = draw(st.none() | st.floats(start, end, allow_nan=False)) if length else None
    return {"call_id": draw(text.filter(bool)),
            "direction": draw(st.sampled_from(("in", "out", "internal"))),
            "start": start, "end": end, "answer": answer,
            "outcome": draw(st.sampled_from(OUTCOMES)),
            "cause": draw(st.none() | st.integers(0, 127)),
            "ani": draw(st.none() | text), "queue": draw(st.none() | text),
            "wait": draw(st.none() | st.floats(0, 1e4, allow_nan=False)),
            "data": draw(st.none() | st.dictionaries(text, json_values, max_size=4))}


@settings(max_examples=60, deadline=None)
@given(cdrs())
def test_any_valid_cdr_round_trips(rec):
    with Store() as s:
        s.add_cdr(rec)
        row = s.cdr(rec["call_id"])
    for k, v in rec.items():
        assert row[k] == v, k
    assert row["duration"] == pytest.approx(rec["end"] - rec["start"])
    assert row["billsec"] >= 0


def test_a_batch_commits_its_rows_together_at_its_end(tmp_path):
    """The server's one transaction per tick: rows written inside are invisible to other
    readers until the batch ends, then all there; rows written before an error are kept."""
    s = Store(tmp_path)
    other = sqlite3.connect(tmp_path / "cti.db")
    count = "SELECT count(*) FROM trunk_samples"
    with s.batch():
        s.trunk_sample(1.0, 1, 3, 30)
        with s.batch():                            # nested: joins the outer one
            s.trunk_sample(2.0, 1, 4, 30)
        assert other.execute(count).fetchone()[0] == 0
    assert other.execute(count).fetchone()[0] == 2
    with pytest.raises(ValueError):
        with s.batch():
            s.trunk_sample(3.0, 1, 5, 30)
            s.trunk_sample(4.0, 1, 99, 30)         # busy > total: refused, names the field
    assert other.execute(count).fetchone()[0] == 3
    assert not s.db.conn.in_transaction
    s.close()
    other.close()


def test_trunk_samples_add_writes_every_row_or_none(tmp_path):
    s = Store(tmp_path)
    s.trunk_samples_add(10.0, [(1, 3, 30), (2, 30, 30), ("ivr", 4, 8)])
    got = [(r["span"], r["busy"], r["total"]) for r in s.trunk_samples(0, 100)]
    assert got == [("1", 3, 30), ("2", 30, 30), ("ivr", 4, 8)]
    with pytest.raises(ValueError, match="trunk_samples.busy"):
        s.trunk_samples_add(11.0, [(1, 4, 30), (2, 31, 30)])     # 31 of 30: refused
    assert len(s.trunk_samples(0, 100)) == 3                     # and nothing written
    s.close()


def test_samples_of_a_batch_are_written_as_it_ends_in_order_and_kept_on_error(tmp_path):
    """trunk_samples_add inside a batch holds its rows until the batch ends (one statement
    for the batch): still in order with single samples, readable by the store itself at
    once, committed with the batch, and kept when the batch ends in an error."""
    s = Store(tmp_path)
    other = sqlite3.connect(tmp_path / "cti.db")
    rows = "SELECT time, span, busy FROM trunk_samples ORDER BY rowid"
    with s.batch():
        s.trunk_samples_add(1.0, [(1, 3, 30), (2, 4, 30)])
        s.trunk_sample(2.0, 1, 5, 30)
        s.trunk_samples_add(3.0, [(1, 6, 30)])
        assert [r["busy"] for r in s.trunk_samples(0, 10)] == [3, 4, 5, 6]
        assert other.execute(rows).fetchall() == []
    assert other.execute(rows).fetchall() == [(1.0, "1", 3), (1.0, "2", 4), (2.0, "1", 5),
                                              (3.0, "1", 6)]
    with pytest.raises(RuntimeError):
        with s.batch():
            s.trunk_samples_add(4.0, [(2, 7, 30)])
            raise RuntimeError("a tick failed")
    assert other.execute(rows).fetchall()[-1] == (4.0, "2", 7)
    s.close()
    other.close()
