"""An agent at its phone (cti/centre/phones.py), end to end on the simulated board: the
phone on an FXS port goes off hook, dials the login code, its agent number and its PIN by
real DTMF on the line, hears the prompts, and the agent is logged in at THAT extension;
wrong PINs lock; one agent per extension; the logout code; no PIN in any event or log."""
from __future__ import annotations

import logging
import time

from cti.store.accounts import hash_secret
from drivers.board import Audio
from tests.desk import Centre, types

PIN = "5791"


def accounts(c: Centre, pins: dict, max_failures: int = 3) -> None:
    """Agents' accounts with PINs in the server's store (cti/store/accounts.py), which
    locks an account after ``max_failures`` wrong secrets."""
    store = c.svc.store
    store.max_failures = max_failures
    for agent, pin in pins.items():
        # (the configuration's agents are accounts already: seeded at the first start)
        if store.account_get(agent) is None:
            store.account_add(agent, "agent", 1e6)
        store.account_set_secret(agent, 1e6, pin_hash=hash_secret(pin))


def wait_checked(c: Centre, port: int, limit: int = 500) -> list:
    """Tick until the PIN keyed at ``port`` is in (its digits take 160 ms each) and
    checked (hashed off the tick, then counted)."""
    evs = []

    def state():
        s = c.svc.centre.phones.sessions.get(port)
        return None if s is None else s.login.state

    for _ in range(limit):                  # the digits: line time
        if state() != "pin":
            break
        evs += c.run(1)
    # the hash: wall time on a thread of its own (50-100 ms, longer on a loaded machine)
    give_up = time.monotonic() + 60
    while state() == "checking" and time.monotonic() < give_up:
        time.sleep(0.005)
        evs += c.run(1)
    assert state() not in ("pin", "checking"), f"the PIN check at fxs/{port}: {state()}"
    return evs


class Phone:
    """The phone on an FXS port, and what it hears (its port's audio on the phones' board)."""

    def __init__(self, c: Centre, port: int):
        self.c = c
        self.phone = c.world.phones[port]
        self.heard: list = []
        board = c.world.phones_board
        tick, n = board.tick, self.phone._p.number

        def wrapped():
            evs = tick()
            self.heard.extend(e.data for e in evs if isinstance(e, Audio) and e.timeslot == n)
            return evs
        board.tick = wrapped
        self.phone.tap(True)

    def hears(self, prompt: str) -> bool:
        """The prompt's audio came down the line: 50 ms of its first words, byte for byte
        (the agent may key over the rest: the prompt stops at the first digit)."""
        want = self.c.svc.centre.prompts.load(prompt)
        start = next(i for i, b in enumerate(want) if b not in (0xD5, 0x55, 0x54, 0xD4))
        return want[start + 400:start + 800] in b"".join(self.heard)

    def login(self, agent: str, pin: str, code: str = "*11") -> list:
        """Off hook, the code, the agent number and the PIN, each when its prompt plays;
        the events the server published meanwhile."""
        evs = []
        self.phone.lift()
        evs += self.c.run(25)                   # dial tone
        self.phone.dial(code)
        evs += self.c.run(40)                   # the code; "enter your agent number" plays
        self.phone.dial(agent + "#")
        evs += self.c.run(60)                   # "enter your PIN" plays
        self.phone.dial(pin + "#")
        evs += self.c.run(30)
        evs += wait_checked(self.c, self.phone.port)
        evs += self.c.run(100)                  # the answer played
        return evs


def settle_line(c: Centre, ph: Phone) -> list:
    """The last prompt ends, the line is released, the person hangs up."""
    evs = c.run(250)
    assert not ph.phone.off_hook, "the phone was released and hung up"
    return evs


def test_an_agent_logs_in_at_its_phone_and_its_queue_rings_that_phone(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    c = Centre(tmp_path / "home")
    try:
        accounts(c, {"1003": PIN})
        c.svc.hashing.start()                   # as serve() does: the hash off the tick
        ph = Phone(c, 3)
        assert c.req("agent.show", agent="1003")["state"] == "logged_out"
        evs = ph.login("1003", PIN)
        assert ph.hears("enter_agent") and ph.hears("enter_pin")
        evs += settle_line(c, ph)
        assert ph.hears("logged_in") and not ph.hears("login_failed")
        assert c.svc.store.account_get("1003")["failed"] == 0
        st = c.req("agent.show", agent="1003")
        assert (st["state"], st["extension"]) == ("ready", 3)
        assert any(e["type"] == "agent.state" and e.get("agent") == "1003" for e in evs)
        # no PIN went out: not as digits of channel.dtmf, not anywhere in an event or log
        keyed = [(e.get("data") or {}).get("digit") for e in evs if e["type"] == "channel.dtmf"
                 and e.get("channel") == "fxs/3"]
        assert keyed == ["*", "1"], keyed      # the code's first digits; then nothing
        assert PIN not in repr(evs)
        assert not any(PIN in r.getMessage() for r in caplog.records)
        audit = [r.getMessage() for r in caplog.records if "agent.login by" in r.getMessage()]
        assert len(audit) == 1 and "from fxs/3" in audit[0] and "REFUSED" not in audit[0]
        (row,) = c.svc.store.audit_list(op="agent.login")
        assert (row["name"], row["role"], row["source"], row["refused"]) == \
            ("1003", "agent", "fxs/3", None)
        assert PIN not in repr(row)
        # a call to its queue rings THAT phone
        x = c.world.calls.offer_call(1, "13800138000", "4008005555")
        evs = c.run(80)
        assert "call.delivered" in types(evs)
        assert c.world.phones[3].ringing or c.world.phones[3].rings
        assert c.req("agent.show", agent="1003")["state"] == "ringing"
        c.world.phones[3].lift()
        evs = c.run(30)
        est = [e for e in evs if e["type"] == "call.established"]
        assert est and est[0]["agent"] == "1003"
        c.world.calls.hangup(1, x.call)
        c.run(60)
    finally:
        c.svc.hashing.close()
        c.close()


def test_wrong_pins_lock_and_the_right_one_then_is_refused(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    c = Centre(tmp_path / "home")
    try:
        accounts(c, {"1003": PIN}, max_failures=3)
        ph = Phone(c, 3)
        ph.phone.lift()
        c.run(25)
        ph.phone.dial("*11")
        c.run(40)
        for i in range(3):
            ph.phone.dial("1003#")
            c.run(60)
            ph.phone.dial("0000#")
            c.run(30)
            wait_checked(c, 3)
            c.run(200)                       # "login failed", "enter your agent number"
        assert ph.hears("login_failed")
        settle_line(c, ph)                   # three tries: the line is released
        assert c.svc.store.account_get("1003")["locked_until"] is not None
        assert c.req("agent.show", agent="1003")["state"] == "logged_out"
        refused = [r.getMessage() for r in caplog.records if "agent.login by" in r.getMessage()]
        assert len(refused) == 3 and all("REFUSED: wrong PIN" in m for m in refused)
        # the right PIN now: locked
        ph.heard.clear()
        ph.login("1003", PIN)
        settle_line(c, ph)
        assert ph.hears("locked") and not ph.hears("logged_in")
        assert c.req("agent.show", agent="1003")["state"] == "logged_out"
        assert "REFUSED: locked" in [r.getMessage() for r in caplog.records
                                     if "agent.login by" in r.getMessage()][-1]
    finally:
        c.close()


def test_one_agent_per_extension_by_phone_and_by_request(tmp_path):
    c = Centre(tmp_path / "home")
    try:
        accounts(c, {"1003": PIN, "1004": "8642"})
        ph = Phone(c, 3)
        ph.login("1003", PIN)
        settle_line(c, ph)
        assert c.req("agent.show", agent="1003")["extension"] == 3
        # a second agent at port 3: by phone, refused, and the phone says why
        ph.heard.clear()
        ph.login("1004", "8642")
        settle_line(c, ph)
        assert ph.hears("extension_taken")
        assert c.req("agent.show", agent="1004")["state"] == "logged_out"
        # by request: refused, naming who
        e = c.fail("agent.login", agent="1004", extension=3)
        assert e["code"] == "failed" and "1003" in e["message"], e
        # 1003 logs in elsewhere (its request): it leaves port 3, which 1004 may then take
        assert c.req("agent.login", agent="1003", extension=5)["extension"] == 5
        assert c.req("agent.login", agent="1004", extension=3)["extension"] == 3
        # the logout code at port 3 logs out the agent there (1004), no PIN asked
        ph.heard.clear()
        ph.phone.lift()
        c.run(25)
        ph.phone.dial("*12")
        c.run(60)
        settle_line(c, ph)
        assert ph.hears("logged_out")
        assert c.req("agent.show", agent="1004")["state"] == "logged_out"
        assert c.req("agent.show", agent="1003")["state"] == "ready"
    finally:
        c.close()


def test_a_slow_pin_check_leaves_the_tick_going_and_a_failing_one_refuses(tmp_path, caplog):
    """check_pin may answer later (a Future, the hash off the tick): the line and the other
    calls go on meanwhile; a check that raises refuses the login, and says nothing of the
    PIN. A number that is no feature code is released at once."""
    from concurrent.futures import Future

    caplog.set_level(logging.INFO)
    c = Centre(tmp_path / "home")
    try:
        centre = c.svc.centre
        fut: Future = Future()
        asked = []
        centre.check_pin = lambda agent, pin, now: (asked.append(agent), fut)[1]
        ph = Phone(c, 4)
        ph.phone.lift()
        c.run(25)
        ph.phone.dial("*11")
        c.run(40)
        ph.phone.dial("1004#")
        c.run(60)
        ph.phone.dial("2468#")
        c.run(60)
        assert asked == ["1004"] and centre.phones.sessions[4].login.state == "checking"
        c.run(100)                                # 2 s: still waiting, the ticks go on
        assert centre.phones.sessions[4].login.state == "checking"
        fut.set_result("ok")
        c.run(5)
        assert c.req("agent.show", agent="1004")["extension"] == 4
        settle_line(c, ph)
        assert ph.hears("logged_in")

        def broken(agent, pin, now):
            raise RuntimeError(f"database gone while checking {pin}")
        centre.check_pin = broken
        ph5 = Phone(c, 5)
        ph5.login("1005", "97531")
        assert centre.phones.counters["pin_check_errors"] == 1
        assert not any("97531" in r.getMessage() for r in caplog.records)
        assert c.req("agent.show", agent="1005")["state"] == "logged_out"
        ph5.phone.hang_up()
        c.run(60)

        ph6 = c.world.phones[6]
        ph6.lift()
        c.run(25)
        ph6.dial("555#")
        c.run(150)
        # released: the loop current drops and the person hangs up; no dialogue began
        assert not ph6.off_hook and 6 not in centre.phones.sessions
        assert centre.analog[6].machine.state.value == "idle"
    finally:
        c.close()


def test_ready_and_not_ready_codes_act_on_the_agent_at_that_phone(tmp_path):
    c = Centre(tmp_path / "home")
    try:
        c.req("agent.login", agent="1003", extension=3)
        ph = Phone(c, 3)

        def code(p: Phone, digits: str):
            p.heard.clear()
            p.phone.lift()
            c.run(25)
            p.phone.dial(digits)
            c.run(60)
            settle_line(c, p)

        code(ph, "*14")
        assert ph.hears("agent_not_ready")
        assert c.req("agent.show", agent="1003")["state"] == "not_ready"
        code(ph, "*13")
        assert ph.hears("agent_ready")
        assert c.req("agent.show", agent="1003")["state"] == "ready"
        ph7 = Phone(c, 7)
        code(ph7, "*12")                        # nobody at port 7
        assert ph7.hears("no_agent")
        rows = c.svc.store.audit_list(op="agent.")
        assert [(r["op"], r["source"], r["refused"]) for r in rows[-3:]] == [
            ("agent.not_ready", "fxs/3", None), ("agent.ready", "fxs/3", None),
            ("agent.logout", "fxs/7", "no agent is logged in at fxs/7")]
    finally:
        c.close()
