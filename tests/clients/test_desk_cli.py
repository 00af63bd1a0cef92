"""The desk's data at the command line (cti/clients/cli/desk.py): `cti msg`, `cti book`,
`cti customer`, `cti history` and `cti wrapup` against an in-process server, each checked
against what the server then holds; the history and the wrap-up on a real call placed by
the simulated exchange and answered at agent 1001's phone."""
from __future__ import annotations

import json
import time

from cti.clients.cli import main
from cti.clients.client import Client


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def until(c: Client, what: str, cond, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_messages_book_and_customers_from_the_command_line(server, capsys):
    home = str(server.config.server.home)
    rc, out, _ = run(capsys, "msg", "send", "1002", "call", "me", "back", "--agent", "1001",
                     "--home", home)
    assert rc == 0 and "to 1002 from 1001" in out
    rc, out, _ = run(capsys, "msg", "list", "--agent", "1002", "--json", "--home", home)
    inbox = json.loads(out)
    assert inbox["unread"] == 1 and inbox["messages"][0]["text"] == "call me back"
    mid = inbox["messages"][0]["id"]
    rc, out, _ = run(capsys, "msg", "read", str(mid), "--agent", "1002", "--home", home)
    assert rc == 0 and "1001" in out and "call me back" in out
    with Client(home) as c:
        assert c.request("msg.list", agent="1002")["unread"] == 0

    rc, out, _ = run(capsys, "book", "add", "Wang Fang", "13800138001", "--speed", "7",
                     "--agent", "1001", "--home", home)
    assert rc == 0 and "Wang Fang" in out
    with Client(home) as c:
        (entry,) = c.request("book.list", agent="1001")["entries"]
    assert (entry["number"], entry["speed"]) == ("13800138001", "7")
    rc, out, _ = run(capsys, "book", "list", "--agent", "1001", "--home", home)
    assert "13800138001" in out
    rc, out, _ = run(capsys, "book", "remove", str(entry["id"]), "--agent", "1001",
                     "--home", home)
    assert rc == 0 and "removed" in out
    with Client(home) as c:
        assert c.request("book.list", agent="1001")["entries"] == []

    rc, out, _ = run(capsys, "customer", "add", "Li Lei", "--phone", "13900139000",
                     "--points", "10", "--json", "--home", home)
    cid = json.loads(out)["customer"]["id"]
    rc, out, _ = run(capsys, "customer", "modify", str(cid), "--points", "25", "--home", home)
    assert rc == 0 and "25 points" in out
    rc, out, _ = run(capsys, "customer", "show", "--phone", "13900139000", "--home", home)
    assert "Li Lei" in out and "25 points" in out
    rc, out, _ = run(capsys, "customer", "remove", str(cid), "--home", home)
    assert rc == 0
    with Client(home) as c:
        assert c.request("customer.show", phone="13900139000")["customer"] is None
    rc, _, err = run(capsys, "msg", "send", "9999", "hi", "--home", home)
    assert rc == 1 and "9999" in err


def test_history_and_wrapup_of_a_real_call(server, capsys):
    home = str(server.config.server.home)
    with Client(home, timeout=5) as c:
        c.request("agent.login", agent="1001")
        c.request("sim.call", span=1, to="4008005555", **{"from": "13800138000"})
        until(c, "1001's phone rings",
              lambda: c.request("sim.phone", port=1, action="status")["ringing"])
        c.request("sim.phone", port=1, action="lift")
        call = until(c, "the call is established", lambda: next(
            (x for x in c.request("call.list")["calls"] if x["state"] == "established"), None))
        (far,) = c.request("sim.calls")["calls"]
        c.request("sim.hangup", span=1, call=far["call"])
        until(c, "the call clears", lambda: not c.request("call.list")["calls"])
        c.request("sim.phone", port=1, action="hangup")
    rc, out, _ = run(capsys, "wrapup", call["call_id"], "resolved", "--note", "address changed",
                     "--home", home)
    assert rc == 0 and "resolved (address changed)" in out
    rc, out, _ = run(capsys, "history", "--agent", "1001", "--json", "--home", home)
    (h,) = json.loads(out)["calls"]
    assert (h["call_id"], h["outcome"], h["ani"]) == (call["call_id"], "answered",
                                                      "13800138000")
    assert (h["wrapup_code"], h["wrapup_note"]) == ("resolved", "address changed")
    rc, out, _ = run(capsys, "history", "--agent", "1001", "--home", home)
    assert "answered" in out and "resolved" in out
