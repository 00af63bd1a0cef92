"""The desk's call controls from the command line (cti/clients/cli/calls.py and the agents'
dnd and forward in cti/clients/cli/centre.py), each on a real call of the simulated board
through the in-process server: the command's line, its ``--json``, and what it did (the
call's and the agents' state, the phones, the events)."""
from __future__ import annotations

import json
import os
import time

import pytest

from cti.clients.cli import main
from cti.clients.client import Client, Subscriber


def run(capsys, home, *argv):
    rc = main(list(argv) + ["--home", home])
    out = capsys.readouterr()
    return rc, out.out, out.err


def wait(what, cond, seconds=15.0):
    deadline = time.monotonic() + seconds
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.02)


def phone(c, port, action="status"):
    return c.request("sim.phone", port=port, action=action)


def ringing_call(c, port=1):
    """The exchange calls the service queue; the phone at ``port`` rings: the call's id."""
    c.request("sim.call", span=1, to="4008005555", **{"from": "13800138000"})
    wait(f"phone {port} rings", lambda: phone(c, port)["ringing"])
    return c.request("call.list")["calls"][0]["call_id"]


def talking(c, cid, agent):
    wait(f"{cid} established to {agent}",
         lambda: (lambda s: s["state"] == "established" and s["agent"] == agent)(
             c.request("call.show", call=cid)))


def test_hold_retrieve_record_consult_complete_hangup(server, capsys):
    home = str(server.config.server.home)
    assert run(capsys, home, "agents", "login", "1001")[0] == 0
    assert run(capsys, home, "agents", "login", "1002")[0] == 0
    assert run(capsys, home, "agents", "notready", "1002", "--reason", "direct")[0] == 0
    with Client(home, timeout=5) as c, Subscriber(home, ["call."]) as sub:
        cid = ringing_call(c)
        rc, out, err = run(capsys, home, "calls", "answer", cid, "--agent", "1001")
        assert rc == 0 and f"call {cid} answered at extension 1" in out, err
        talking(c, cid, "1001")

        rc, out, err = run(capsys, home, "calls", "hold", cid)
        assert rc == 0 and out.startswith(f"call {cid}: held, from 13800138000"), err
        assert c.request("call.show", call=cid)["state"] == "held"
        rc, _, err = run(capsys, home, "calls", "hold", cid)
        assert rc == 1 and "call.hold" in err and "args.call" in err   # already held
        rc, out, _ = run(capsys, home, "calls", "retrieve", cid, "--json")
        assert rc == 0 and json.loads(out)["state"] == "established"
        assert c.request("call.show", call=cid)["state"] == "established"

        rc, out, _ = run(capsys, home, "calls", "record", cid)
        assert rc == 0 and out.strip() == f"call {cid}: recording"
        wav = os.path.join(server.config.centre.recordings_dir, f"{cid}.wav")
        wait("the recording is written", lambda: os.path.exists(wav))
        rc, out, _ = run(capsys, home, "calls", "record", cid, "--stop", "--json")
        assert rc == 0 and json.loads(out) == {"call_id": cid, "recording": False}

        rc, out, err = run(capsys, home, "calls", "consult", cid, "1002")
        assert rc == 0 and f"consulting 1002 (call {cid}.consult)" in out, err
        wait("1002's phone rings", lambda: phone(c, 2)["ringing"])
        assert c.request("call.show", call=cid)["state"] == "held"
        phone(c, 2, "lift")
        rc, out, err = run(capsys, home, "calls", "complete", cid, "case=refund")
        assert rc == 0 and out.strip() == f"call {cid} transferred to 1002", err
        show = c.request("call.show", call=cid)
        assert show["agent"] == "1002" and show["data"]["case"] == "refund"
        rc, out, _ = run(capsys, home, "calls", "show", cid)
        assert "agent 1002" in out and "case: refund" in out

        rc, out, _ = run(capsys, home, "calls", "hangup", cid)
        assert rc == 0 and out.strip() == f"call {cid} cleared"
        wait("the call is gone", lambda: not c.request("call.list")["calls"])
        seen = []
        wait("the events", lambda: seen.extend(iter(lambda: sub.get(0.05), None)) or
             {"call.held", "call.retrieved", "call.consulted", "call.transferred",
              "call.cleared"} <= {e["type"] for _, e in seen})
        tr = [e for _, e in seen if e["type"] == "call.transferred"]
        assert tr[0]["to"] == "1002" and tr[0]["data"]["case"] == "refund"


def test_pickup_supervise_and_dial(server, capsys):
    home = str(server.config.server.home)
    for a in ("1001", "1002", "1003"):
        assert run(capsys, home, "agents", "login", a)[0] == 0
    for a in ("1002", "1003"):
        assert run(capsys, home, "agents", "notready", a)[0] == 0
    with Client(home, timeout=5) as c, Subscriber(home, ["call."]) as sub:
        cid = ringing_call(c)
        rc, out, err = run(capsys, home, "calls", "pickup", cid, "--agent", "1003")
        assert rc == 0 and out.strip() == \
            f"call {cid} picked up by agent 1003: its phone rings", err
        wait("1003's phone rings", lambda: phone(c, 3)["ringing"])
        wait("1001's stops", lambda: not phone(c, 1)["ringing"])
        phone(c, 3, "lift")
        talking(c, cid, "1003")

        rc, out, err = run(capsys, home, "calls", "supervise", cid, "--supervisor", "1002",
                           "--mode", "whisper")
        assert rc == 0 and out.strip() == f"agent 1002 supervises call {cid} (whisper): " \
                                          "the phone at extension 2 rings", err
        wait("the supervisor's phone rings", lambda: phone(c, 2)["ringing"])
        phone(c, 2, "lift")
        seen = []
        wait("call.supervised", lambda: seen.extend(iter(lambda: sub.get(0.05), None)) or
             any(e["type"] == "call.supervised" for _, e in seen))
        sup = [e for _, e in seen if e["type"] == "call.supervised"][0]
        assert sup["call_id"] == cid and sup.get("mode", "whisper") == "whisper"
        with pytest.raises(SystemExit) as e:                          # a usage error
            run(capsys, home, "calls", "supervise", cid, "--supervisor", "1002", "--mode",
                "shout")
        assert e.value.code == 2 and "shout" in capsys.readouterr().err
        run(capsys, home, "calls", "hangup", cid)
        for p in (2, 3):
            phone(c, p, "hangup")
        wait("no calls", lambda: not c.request("call.list")["calls"])

        wait("1001 ready", lambda: c.request("agent.show", agent="1001")["state"] == "ready")
        rc, out, err = run(capsys, home, "calls", "dial", "13912345678", "--agent", "1001",
                           "--json")
        assert rc == 0, err
        made = json.loads(out)
        assert made["agent"] == "1001" and made["to"] == "13912345678"
        wait("1001's phone rings first", lambda: phone(c, 1)["ringing"])
        phone(c, 1, "lift")
        talking(c, made["call_id"], "1001")
        assert c.request("call.show", call=made["call_id"])["dnis"] == "13912345678"
        rc, _, err = run(capsys, home, "calls", "dial", "12ab", "--agent", "1001")
        assert rc == 1 and "args.to" in err


def test_dnd_and_forward(server, capsys):
    home = str(server.config.server.home)
    for a in ("1001", "1003", "1004"):
        assert run(capsys, home, "agents", "login", a)[0] == 0
    assert run(capsys, home, "agents", "notready", "1004")[0] == 0
    rc, out, err = run(capsys, home, "agents", "dnd", "1003")
    assert rc == 0 and out.strip() == "agent 1003: not_ready (dnd) at extension 3", err
    with Client(home, timeout=5) as c:
        assert c.request("agent.show", agent="1003")["reason"] == "dnd"
        cid = ringing_call(c)
        c.request("call.answer", call=cid, agent="1001")
        talking(c, cid, "1001")
        rc, _, err = run(capsys, home, "calls", "transfer", cid, "1003")
        assert rc == 1 and "do-not-disturb" in err
        rc, out, _ = run(capsys, home, "agents", "forward", "1003", "1004")
        assert rc == 0 and out.strip() == "agent 1003: calls forwarded to 1004"
        rc, out, _ = run(capsys, home, "calls", "transfer", cid, "1003", "why=forwarded")
        assert rc == 0 and out.strip() == f"call {cid} transferred to 1004"
        wait("1004's phone rings", lambda: phone(c, 4)["ringing"])
        assert not phone(c, 3)["ringing"]
        rc, out, _ = run(capsys, home, "agents", "forward", "1003", "--json")
        assert rc == 0 and json.loads(out) == {"agent": "1003", "forward": None}
        rc, _, err = run(capsys, home, "agents", "forward", "1003", "nobody")
        assert rc == 1 and "args.to" in err
        rc, out, _ = run(capsys, home, "agents", "dnd", "1003", "--off")
        assert rc == 0 and out.startswith("agent 1003: ready")
        assert c.request("agent.show", agent="1003")["state"] == "ready"


def test_an_agents_key_controls_its_own_call_and_no_other(tmp_path, capsys):
    """`--key`: the CLI acts with the key's rights, as the request does. Agent 1001's key
    holds and retrieves its own call; it may not hold 1002's, supervise, or set 1002's
    forwarding; each refusal names the right."""
    from tests.inprocess import InProcessServer
    from tests.server.test_keys import free_port, issue, listening_config

    home = tmp_path / "home"
    with InProcessServer(home, speed=8.0, config=listening_config(home, free_port())) as srv:
        srv.wait_in_sync()
        key = str(issue(home, tmp_path / "a1001.key", "a1001", "agent", "1001"))
        h = str(home)
        with Client(h, timeout=5) as c:
            for a in ("1001", "1002"):
                c.request("agent.login", agent=a)
            c.request("agent.not_ready", agent="1002", reason="x")
            cid = ringing_call(c)
            c.request("call.answer", call=cid, agent="1001")
            talking(c, cid, "1001")

            def as_1001(*argv):
                rc = main(list(argv) + ["--key", key, "--timeout", "10"])
                out = capsys.readouterr()
                return rc, out.out, out.err
            rc, out, err = as_1001("calls", "hold", cid)
            assert rc == 0 and out.startswith(f"call {cid}: held"), err
            assert c.request("call.show", call=cid)["state"] == "held"
            rc, out, err = as_1001("calls", "retrieve", cid)
            assert rc == 0 and c.request("call.show", call=cid)["state"] == "established"
            rc, _, err = as_1001("calls", "supervise", cid, "--supervisor", "1001")
            assert rc == 1 and "needs the right 'supervise'" in err
            rc, _, err = as_1001("agents", "forward", "1002", "1003")
            assert rc == 1 and "acting for another agent needs the right 'agents'" in err
            assert c.request("agent.show", agent="1002")["state"] == "not_ready"
            # 1002's call is not 1001's to hold
            c.request("call.transfer", call=cid, to="1002")
            wait("1002's phone rings", lambda: phone(c, 2)["ringing"])
            phone(c, 2, "lift")
            talking(c, cid, "1002")
            rc, _, err = as_1001("calls", "hold", cid)
            assert rc == 1 and f"call.hold on call {cid}: another agent's call needs the " \
                "right 'calls'" in err
            assert c.request("call.show", call=cid)["state"] == "established"
