"""The supervisor's and manager's commands on a running call centre."""
from __future__ import annotations

import json

from cti.clients.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_agents_queues_calls_and_the_loss_report(server, capsys):
    home = str(server.config.server.home)
    rc, out, err = run(capsys, "agents", "login", "1001", "--home", home)
    assert rc == 0 and "agent 1001: ready at extension 1" in out, err
    rc, out, _ = run(capsys, "agents", "notready", "1001", "--reason", "break", "--home", home)
    assert rc == 0 and "not_ready (break)" in out
    rc, out, _ = run(capsys, "agents", "list", "--json", "--home", home)
    states = {a["agent"]: a["state"] for a in json.loads(out)["agents"]}
    assert states["1001"] == "not_ready" and states["1002"] == "logged_out" and len(states) == 8
    rc, out, _ = run(capsys, "queues", "--home", home)
    assert rc == 0 and "sales" in out and "service" in out
    rc, out, _ = run(capsys, "calls", "list", "--home", home)
    assert rc == 0 and "no calls" in out
    rc, _, err = run(capsys, "agents", "login", "9999", "--home", home)
    assert rc == 1 and "args.agent" in err
    rc, _, err = run(capsys, "agents", "login", "1002", "--extension", "10", "--home", home)
    assert rc == 1 and "args.extension" in err                 # port 10 is an FXO trunk
    rc, _, err = run(capsys, "calls", "hangup", "c999", "--home", home)
    assert rc == 1 and "args.call" in err
    rc, out, err = run(capsys, "report", "losses", "--json", "--max-abandon", "0.05",
                       "--home", home)
    assert rc == 0, err
    report = json.loads(out)
    assert report["totals"]["offered"] == 0
    assert report["targets"]["max_abandon"] == 0.05


def test_calls_answer_lifts_the_named_agents_phone(server, capsys):
    """`cti calls answer CALL --agent A`: a ring-all call rings 1001 and 1002; 1002 takes it."""
    import time
    from cti.clients.client import Client

    home = str(server.config.server.home)
    for agent in ("1001", "1002"):
        assert run(capsys, "agents", "login", agent, "--home", home)[0] == 0
    with Client(home, timeout=5) as c:
        c.request("sim.call", span=1, to="4008005555", **{"from": "13800138000"})
        deadline = time.monotonic() + 15
        while not (c.request("sim.phone", port=1, action="status")["ringing"] and
                   c.request("sim.phone", port=2, action="status")["ringing"]):
            assert time.monotonic() < deadline, "the phones never rang"
            time.sleep(0.02)
        cid = c.request("call.list")["calls"][0]["call_id"]
        rc, _, err = run(capsys, "calls", "answer", cid, "--home", home)
        assert rc == 1 and "args.agent" in err                 # which of the two?
        rc, out, err = run(capsys, "calls", "answer", cid, "--agent", "1002", "--home", home)
        assert rc == 0 and f"call {cid} answered at extension 2" in out, err
        assert c.request("sim.phone", port=2, action="status")["off_hook"]
        assert not c.request("sim.phone", port=1, action="status")["off_hook"]
