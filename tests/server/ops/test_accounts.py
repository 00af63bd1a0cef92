"""Requests of cti/server/ops/accounts.py ("admin.agent.add", "admin.agent.modify",
"admin.agent.remove", "admin.agent.passwd", "admin.agent.list", "admin.group.add",
"admin.group.remove", "admin.group.list", "admin.group.member", "admin.audit",
"auth.login") and the password of "agent.login", on the simulated board: an agent added
live logs in with its password and takes a call; wrong passwords lock; non-administrators
are refused, and all of it is in the audit log."""
from __future__ import annotations

import time

import pytest

from cti.server.auth import Principal
from cti.store import accounts as store_accounts
from tests.desk import Centre, types

AGENT_2001 = Principal("2001", "agent", agent="2001", source="test")
AGENT_1001 = Principal("1001", "agent", agent="1001", source="test")
SUPERVISOR = Principal("wang", "supervisor", agent="1002", source="test")


@pytest.fixture
def c(tmp_path, monkeypatch):
    # cheap hashes: what is tested here is the flow (the cost is tests/store/test_accounts.py's)
    real = store_accounts.hash_secret
    monkeypatch.setattr(store_accounts, "hash_secret",
                        lambda s, **kw: real(s, n=2 ** 4, r=1, p=1))
    c = Centre(tmp_path / "home")
    yield c
    c.close()


def ask(c, principal, op, **args):
    return c.svc.handle({"id": 1, "op": op, "args": args}, principal=principal)


def audit(c, **args):
    """admin.audit's rows."""
    return c.req("admin.audit", **args)["rows"]


def test_seeded_from_the_file(c):
    accounts = c.req("admin.agent.list")["accounts"]
    assert [a["name"] for a in accounts] == [str(1000 + n) for n in range(1, 9)]
    a = accounts[0]
    assert (a["role"], a["agent"], a["extension"], a["password_set"]) == \
        ("agent", "1001", 1, False)
    assert {g["group"]: g["level"] for g in a["groups"]} == {"sales": 1, "service": 1}
    assert a["live"]["state"] == "logged_out"
    assert all("password" not in x and "pin" not in x for x in accounts)
    groups = {g["name"]: g for g in c.req("admin.group.list")["groups"]}
    assert groups["service"]["kind"] == "queue" and len(groups["service"]["members"]) == 4


def test_an_agent_added_live_logs_in_with_its_password_and_takes_a_call(c):
    """The whole way: add an agent to the service queue (free seating), set its password,
    it logs itself in at FXS port 5 with it, and the next call to the queue rings its phone
    and is answered there; then it cannot be removed while logged in."""
    added = c.req("admin.agent.add", name="2001", display_name="New", groups={"service": 1})
    assert added["live"] == {"agent": "2001", "state": "logged_out", "reason": "",
                             "call": None, "extension": None}
    # no password yet: says so, and who may set one
    r = ask(c, AGENT_2001, "agent.login", agent="2001", extension=5, password="whatever1")
    assert r["error"]["code"] == "forbidden" and "no password yet" in r["error"]["message"]
    assert "cti admin agent passwd 2001" in r["error"]["message"]
    assert c.req("admin.agent.passwd", name="2001", password="s3cret-pw")["password_set"]
    r = ask(c, AGENT_2001, "agent.login", agent="2001", extension=5, password="s3cret-pw")
    assert r["ok"] and r["result"]["state"] == "ready" and r["result"]["extension"] == 5, r
    c.world.calls.offer_call(1, "13800138000", "4008005555")        # the service queue
    evs = c.run(60)
    delivered = [e for e in evs if e["type"] == "call.delivered"]
    assert delivered and delivered[0]["agent"] == "2001"
    c.world.phones[5].lift()
    evs = c.run(20)
    assert any(e["type"] == "call.established" and e.get("agent") == "2001" for e in evs)
    # on a call: not removed, and why
    e = c.fail("admin.agent.remove", name="2001")
    assert e["code"] == "failed" and "on call" in e["message"]
    assert c.req("agent.show", agent="2001")["state"] == "busy"


def test_remove_refused_while_logged_in_then_done(c):
    c.req("agent.login", agent="1003")
    e = c.fail("admin.agent.remove", name="1003")
    assert e["code"] == "failed" and "logged in" in e["message"] and "log it out" in e["message"]
    c.req("agent.logout", agent="1003")
    assert c.req("admin.agent.remove", name="1003") == {"name": "1003", "removed": True}
    assert "1003" not in [a["agent"] for a in c.req("agent.list")["agents"]]
    q = c.req("queue.show", queue="service")
    assert "1003" not in {a["agent"] for a in q["agents"]}
    assert c.fail("agent.login", agent="1003")["code"] == "not_found"
    assert c.fail("admin.agent.remove", name="1003")["code"] == "not_found"


def test_wrong_passwords_lock_and_every_failure_is_audited(c):
    c.req("admin.agent.passwd", name="1001", password="right-one", pin="4321")
    for i in range(store_accounts.AccountsMixin.max_failures):
        r = ask(c, AGENT_1001, "agent.login", agent="1001", password="wrong-one")
        assert (r["error"]["code"], r["error"]["field"]) == ("forbidden", "args.password")
        assert "wrong password for 1001" in r["error"]["message"]
    assert "locked until" in r["error"]["message"]
    r = ask(c, AGENT_1001, "agent.login", agent="1001", password="right-one")
    assert "is locked until" in r["error"]["message"], r
    assert c.req("agent.show", agent="1001")["state"] == "logged_out"
    # no password at all: refused too
    r = ask(c, AGENT_1001, "agent.login", agent="1001")
    assert "must give its password" in r["error"]["message"]
    rows = audit(c, name="1001", operation="agent.login", refused=True)
    assert len(rows) == store_accounts.AccountsMixin.max_failures + 2
    assert all("password" not in r["args"] for r in rows)
    # an administrator's passwd unlocks; a supervisor logs an agent in without one
    c.req("admin.agent.passwd", name="1001", password="right-one")
    assert ask(c, AGENT_1001, "agent.login", agent="1001", password="right-one")["ok"]
    c.req("agent.logout", agent="1001")
    assert ask(c, SUPERVISOR, "agent.login", agent="1001")["ok"]
    # the PIN is the phone's: it verifies through the store as the phone login calls it
    assert c.svc.store.verify_secret("1001", "4321", c.svc.ts(), "pin") == "ok"


def test_auth_login(c):
    c.req("admin.agent.add", name="wang", role="supervisor", agent="1009",
          display_name="Wang", groups={"service": 2})
    c.req("admin.agent.passwd", name="wang", password="super-visor")
    r = ask(c, AGENT_1001, "auth.login", name="wang", password="super-visor")
    assert r["ok"], r
    assert r["result"] == {"name": "wang", "role": "supervisor", "display_name": "Wang",
                           "agent": "1009", "extension": None,
                           "groups": [{"group": "service", "kind": "queue", "level": 2}]}
    for name in ("wang", "nobody"):          # no telling which names exist
        r = ask(c, AGENT_1001, "auth.login", name=name, password="guess-guess")
        assert r["error"]["code"] == "failed" and "wrong" in r["error"]["message"], r
    rows = audit(c, operation="auth.login")
    assert [(x["args"], x["refused"] is None) for x in rows] == [
        ({"name": "wang"}, True), ({"name": "wang"}, False), ({"name": "nobody"}, False)]
    # a supervisor with an agent number is on the roster, in its queue
    assert "1009" in {a["agent"] for a in c.req("queue.show", queue="service")["agents"]}


def test_modify_and_groups_live(c):
    m = c.req("admin.agent.modify", name="1005", extension=0, display_name="Eve")
    assert m["extension"] is None and m["display_name"] == "Eve"
    assert c.req("agent.show", agent="1005")["extension"] is None
    assert c.req("agent.login", agent="1005", extension=6)["extension"] == 6
    e = c.fail("admin.agent.modify", name="1006", extension=1)
    assert e["code"] == "bad_arg" and "one agent per extension" in e["message"]
    e = c.fail("admin.agent.modify", name="1006", extension=99)
    assert e["field"] == "args.extension"
    assert c.req("admin.agent.modify", name="1006", disabled=True)["disabled"]
    c.req("admin.group.add", name="french", kind="skill")
    assert c.fail("admin.group.add", name="french", kind="skill")["code"] == "bad_arg"
    e = c.fail("admin.group.add", name="nosuchqueue", kind="queue")
    assert e["code"] == "not_found" and "[[queues]]" in e["message"]
    g = c.req("admin.group.member", group="french", account="1005", level=8)
    assert g["members"] == [{"account": "1005", "level": 8}]
    assert c.svc.centre.acd._agents["1005"].skills == {"french": 8}
    # into the service queue and out of it, live
    c.req("admin.group.member", group="service", account="1005", level=3)
    q = {a["agent"]: a for a in c.req("queue.show", queue="service")["agents"]}
    assert q["1005"]["penalty"] == 2 and q["1005"]["state"] == "ready"
    c.req("admin.group.member", group="service", account="1005", level=0)
    assert "1005" not in {a["agent"] for a in c.req("queue.show", queue="service")["agents"]}
    assert c.req("admin.group.remove", name="french") == {"name": "french", "removed": True}
    assert c.svc.centre.acd._agents["1005"].skills == {}
    assert c.req("admin.group.list", kind="skill")["groups"] == []
    c.svc.centre.acd.check_invariants()


def test_a_skill_named_as_a_queue(c):
    c.req("admin.group.add", name="sales", kind="skill")
    e = c.fail("admin.group.member", group="sales", account="1005", level=4)
    assert e["code"] == "bad_arg" and e["field"] == "args.kind"
    c.req("admin.group.member", group="sales", account="1005", level=4, kind="skill")
    added = c.req("admin.agent.add", name="2001", groups={"skill:sales": 7, "queue:sales": 1})
    assert sorted((g["kind"], g["level"]) for g in added["groups"]) == [("queue", 1),
                                                                       ("skill", 7)]
    assert c.svc.centre.acd._agents["2001"].skills == {"sales": 7}
    assert "2001" in {a["agent"] for a in c.req("queue.show", queue="sales")["agents"]}
    assert c.fail("admin.agent.add", name="2002", groups={"sales": 1})["field"] == \
        "args.groups"
    assert c.req("admin.group.remove", name="sales", kind="skill")["removed"]
    assert c.svc.centre.acd._agents["2001"].skills == {}
    assert "2001" in {a["agent"] for a in c.req("queue.show", queue="sales")["agents"]}


def test_the_audit_log_request(c):
    c.req("admin.group.add", name="french", kind="skill")
    ask(c, AGENT_1001, "shutdown")
    rows = audit(c)
    assert [(r["op"], r["name"], bool(r["refused"])) for r in rows][-2:] == [
        ("admin.group.add", "owner", False), ("shutdown", "1001", True)]
    assert audit(c, refused=True, limit=1)[0]["op"] == "shutdown"
    assert c.req("admin.audit", since=c.svc.ts() + 1)["rows"] == []
    assert [r["op"] for r in audit(c, operation="admin.group.")] == ["admin.group.add"]
    # reading the audit log is an administrator's action too: in it
    assert [r["op"] for r in audit(c, operation="admin.audit")][:1] == ["admin.audit"]


@pytest.mark.parametrize("who", [AGENT_1001, SUPERVISOR])
def test_only_administrators_manage_accounts(c, who):
    for op, args in [("admin.agent.add", {"name": "x1"}), ("admin.agent.modify", {"name": "1001"}),
                     ("admin.agent.remove", {"name": "1001"}),
                     ("admin.agent.passwd", {"name": "1001", "password": "p" * 8}),
                     ("admin.agent.list", {}), ("admin.group.add", {"name": "g", "kind": "skill"}),
                     ("admin.group.remove", {"name": "sales"}), ("admin.group.list", {}),
                     ("admin.group.member", {"group": "sales", "account": "1001", "level": 1}),
                     ("admin.audit", {})]:
        r = ask(c, who, op, **args)
        assert r["error"]["code"] == "forbidden" and "'accounts'" in r["error"]["message"], r
    refused = audit(c, name=who.name, refused=True)
    assert len(refused) == 10 and all("password" not in r["args"] for r in refused)
    assert c.svc.store.account_get("1001")["password_set"] is False


def replies_after_hash(c, seconds: float = 30.0) -> list:
    """Tick until the deferred replies come (the hash on its thread: 40-100 ms, more on a
    loaded machine), the ticks going on meanwhile."""
    deadline = time.monotonic() + seconds
    c.ticks_waited = 0
    while time.monotonic() < deadline:
        _, replies = c.svc.tick()
        c.ticks_waited += 1
        if replies:
            return replies
    pytest.fail("no reply within 30 s")


def test_passwords_hash_off_the_tick(tmp_path):
    """With the hashing thread started (as cti serve does), a login with a password is
    answered by a later tick, with the real scrypt parameters, while the ticks go on."""
    c = Centre(tmp_path / "home")
    try:
        c.svc.hashing.start()
        assert c.svc.handle({"id": 7, "op": "admin.agent.passwd",
                             "args": {"name": "1001", "password": "right-one"}}, token="t") is None
        ((token, reply),) = replies_after_hash(c)
        assert token == "t" and reply["ok"] and reply["result"]["password_set"]
        assert c.ticks_waited >= 2          # the board ticked while the hash was made
        r = c.svc.handle({"id": 8, "op": "agent.login",
                          "args": {"agent": "1001", "password": "right-one"}},
                         token="u", principal=AGENT_1001)
        assert r is None
        ((token, reply),) = replies_after_hash(c)
        assert token == "u" and reply["id"] == 8 and reply["result"]["state"] == "ready"
        # a locked account costs no hash: answered at once
        c.svc.store.max_failures = 1
        c.svc.handle({"id": 9, "op": "agent.logout", "args": {"agent": "1001"}})
        assert c.svc.handle({"id": 9, "op": "agent.login", "args": {
            "agent": "1001", "password": "wrong-one"}}, token="v", principal=AGENT_1001) is None
        assert replies_after_hash(c)[0][1]["error"]["code"] == "forbidden"
        r = c.svc.handle({"id": 10, "op": "agent.login", "args": {
            "agent": "1001", "password": "right-one"}}, token="w", principal=AGENT_1001)
        assert r["error"]["code"] == "forbidden" and "locked until" in r["error"]["message"]
    finally:
        c.svc.hashing.close()
        c.close()


def test_the_store_is_the_roster_after_the_first_start(tmp_path):
    home = tmp_path / "home"
    c = Centre(home)
    c.req("admin.agent.remove", name="1008")
    c.req("admin.agent.add", name="2001", groups={"sales": 1})
    c.close()
    c = Centre(home)          # the file still has 1008 and not 2001: the store wins
    try:
        agents = [a["agent"] for a in c.req("agent.list")["agents"]]
        assert "1008" not in agents and "2001" in agents
        assert "2001" in {a["agent"] for a in c.req("queue.show", queue="sales")["agents"]}
    finally:
        c.close()


def test_a_hash_for_no_request_finishes_on_a_later_tick(tmp_path):
    """Hashing.later (the phone login's way): the PIN checked on the thread, the outcome
    counted on the tick, and a failing finish is a server error, not a crash."""
    c = Centre(tmp_path / "home")
    store = c.svc.store
    try:
        c.req("admin.agent.passwd", name="1001", pin="2580")      # inline: no thread yet
        got = []

        def check(pin):
            state, stored = store.secret_begin("1001", c.svc.ts(), "pin")
            return lambda: store_accounts.secret_matches(pin, stored), state

        work, state = check("2580")
        c.svc.hashing.later(work, lambda ok: got.append(store.secret_end("1001", 1.0, ok)))
        assert state == "check" and got == ["ok"]
        c.svc.hashing.start()
        work, _ = check("0000")
        c.svc.hashing.later(work, lambda ok: got.append(store.secret_end("1001", 2.0, ok)))
        c.svc.hashing.later(lambda: 1, lambda _: 1 / 0)
        errors = c.svc.errors
        deadline = time.monotonic() + 30
        while c.svc.hashing.pending and time.monotonic() < deadline:
            c.svc.tick()
        assert got == ["ok", "bad"] and store.account_get("1001")["failed"] == 1
        assert c.svc.errors == errors + 1
    finally:
        c.svc.hashing.close()
        c.close()


def test_the_lockout_and_the_audit_bound_are_configured(tmp_path):
    from cti.server.config import DEFAULT_TOML, ConfigError, parse_config
    from cti.server.service import Service, build_world
    text = DEFAULT_TOML.replace("[server]", "[server]\naudit_days = 7\nlogin_failures = 2\n"
                                "lockout_seconds = 60", 1)
    cfg = parse_config(text, home=tmp_path / "home")
    world, _ = build_world(cfg)
    svc = Service(cfg, world=world, wall_start=1e6)
    try:
        s = svc.store
        assert (s.audit_days, s.max_failures, s.lockout_seconds, s.failure_window) == \
            (7.0, 2, 60.0, 60.0)
    finally:
        world.close()
        svc.store.close()
    with pytest.raises(ConfigError, match="login_failures"):
        parse_config(DEFAULT_TOML.replace("[server]", "[server]\nlogin_failures = 0", 1))


def test_a_flood_of_wrong_passwords_costs_bounded_hashes_and_the_tick_goes_on(server,
                                                                              monkeypatch):
    """serve() with its hashing thread and the real scrypt: 400 wrong passwords for the
    eight agents sent at once. Each account locks after its fifth, so at most 40 hashes are
    made (one hash at a time per account, each outcome counted before the next); what is
    over the bounds is ``busy``; every request is answered, and the server's tick
    lateness is reported (server.stats)."""
    import zmq

    from cti.clients.client import Client
    hashes = []
    real = store_accounts.secret_matches
    monkeypatch.setattr(store_accounts, "secret_matches",
                        lambda s, h: hashes.append(1) or real(s, h))
    home = server.config.server.home
    with Client(home, timeout=30) as c:
        for n in range(1, 9):
            c.request("admin.agent.passwd", name=f"100{n}", password="right-one")
        before = c.request("server.stats")["lateness_ms"]
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.connect(server.config.server.requests)
    codes: dict = {}

    def wave(first: int, n: int) -> None:
        for i in range(first, first + n):
            s.send_json({"id": i, "op": "auth.login",
                         "args": {"name": f"100{i % 8 + 1}", "password": f"guess-{i}"}})
        for _ in range(n):
            assert s.poll(60_000), f"answered {sum(codes.values())}"
            r = s.recv_json()
            codes[r["error"]["code"]] = codes.get(r["error"]["code"], 0) + 1
    try:
        wave(0, 400)                    # all at once: the bounds answer busy
        for w in range(20):             # then in waves the hashing thread keeps up with
            wave(400 + w * 16, 16)
    finally:
        s.close(0)
        ctx.term()
    assert set(codes) <= {"failed", "busy"} and sum(codes.values()) == 720, codes
    assert len(hashes) <= 8 * 5         # then locked: no hash for the rest
    with Client(home, timeout=30) as c:
        stats = c.request("server.stats")
        accounts = c.request("admin.agent.list")["accounts"]
    locked = sum(1 for a in accounts[:8] if a["locked_until"])
    assert locked == 8
    print(f"flood: {codes}, {len(hashes)} hashes, {locked} locked; lateness before {before}, "
          f"after {stats['lateness_ms']}")


def test_a_reload_applies_the_files_edits_and_keeps_the_administrators(tmp_path):
    """``cti reload`` after live administration: an agent new to the file joins (an
    account now), one the administrator added is kept, one the administrator removed does
    not come back while the file does not touch it, and one gone from the file goes."""
    from cti.server.config import DEFAULT_TOML, load_config
    from cti.server.service import Service, build_world
    path = tmp_path / "cti.toml"
    path.write_text(DEFAULT_TOML)
    cfg = load_config(path, home=tmp_path / "home")
    world, _ = build_world(cfg)
    svc = Service(cfg, world=world, wall_start=1e6)

    def req(op, **args):
        r = svc.handle({"id": 1, "op": op, "args": args})
        assert r["ok"], r
        return r["result"]
    try:
        req("admin.agent.add", name="2001", groups={"sales": 1})
        req("admin.agent.remove", name="1008")
        path.write_text(DEFAULT_TOML.replace("[[queues]]", '''[[agents]]
id = "3001"

[[agents]]
id = "4001"

[[queues]]''', 1).replace("count = 8", "count = 6"))        # 1007, 1008 gone; 3001, 4001 new
        r = req("server.reload")
        assert set(r["agents"]["added"]) == {"3001", "4001"}, r
        assert r["agents"]["removed"] == ["1007"], r
        agents = [a["agent"] for a in req("agent.list")["agents"]]
        assert "2001" in agents and "3001" in agents and "1008" not in agents
        assert "1007" not in agents
        names = {a["name"] for a in req("admin.agent.list")["accounts"]}
        assert {"2001", "3001", "4001"} <= names and not {"1007", "1008"} & names
        sales = {a["agent"] for a in req("queue.show", queue="sales")["agents"]}
        assert {"2001", "3001"} <= sales          # "all" of the file, and the admin's
        svc.centre.acd.check_invariants()
    finally:
        world.close()
        svc.store.close()
