"""The terminal desk's screen (cti/clients/agent_screen.py) end to end: the prompt_toolkit
application on a pipe (keys typed as a terminal sends them) with a dummy output, against the
in-process server and a real call of the simulated board; what the panes show and what the
server did. And the desk's completion and status line, without a terminal."""
from __future__ import annotations

import asyncio
import time

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from cti.clients.agent_screen import DeskScreen
from cti.clients.agent_tui import AgentDesktop
from cti.clients.client import AsyncEventStream, AsyncRequester, Client

FAST = dict(ping_interval=0.2, ping_timeout=0.3, timeout=2.0)
UP = "\x1b[A"


async def until(what, cond, seconds=15.0):
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        await asyncio.sleep(0.02)


def test_the_screen_takes_a_call_end_to_end(server):
    home = server.config.server.home
    c = Client(home, timeout=5)

    def show(cid):
        return c.request("call.show", call=cid)

    async def main():
        desk = AgentDesktop("1001", "1")
        stream = AsyncEventStream(home, desk.topics, **FAST)
        req = AsyncRequester(home, timeout=5)
        with create_pipe_input() as keys:
            screen = DeskScreen(desk, asyncio.Queue(), input=keys, output=DummyOutput())
            pane = screen.events.buffer
            line = screen.command.buffer
            task = asyncio.create_task(screen.run(stream, req))
            try:
                await until("the login", lambda: "logged in: agent 1001 at extension 1"
                            in pane.text)
                keys.send_text("notready lunch\r")
                await until("not ready", lambda: "NOT READY (lunch)" in screen._status()[0][1])
                assert c.request("agent.show", agent="1001")["reason"] == "lunch"
                keys.send_text("rea\t")                          # Tab completes the command
                await until("completion", lambda: line.text == "ready")
                keys.send_text("\r")
                await until("ready", lambda: c.request("agent.show", agent="1001")["state"]
                            == "ready")

                # an event arrives while a command is half typed: it goes to the pane only
                keys.send_text("hol")
                await until("typed", lambda: line.text == "hol")
                c.request("sim.call", span=1, to="4008005555", **{"from": "13800138000"})
                await until("the screen pop", lambda: "SCREEN POP" in pane.text)
                assert line.text == "hol" and "hol" not in pane.text
                cid = desk.call.id
                status = screen._status()[1][1]
                assert status.startswith(f"call {cid} RINGING from 13800138000")
                assert "queue service" in status
                keys.send_text("\x7f" * 3 + "answer\r")
                await until("talking", lambda: show(cid)["state"] == "established")
                assert show(cid)["agent"] == "1001"
                await until("status talking", lambda: "TALKING" in screen._status()[1][1])

                keys.send_text("hold\r")
                await until("held", lambda: show(cid)["state"] == "held")
                await until("pane: on hold", lambda: f"call {cid}: on hold" in pane.text)
                keys.send_text("retrieve\r")
                await until("retrieved", lambda: show(cid)["state"] == "established")
                keys.send_text(UP)                              # the history
                await until("history", lambda: line.text == "retrieve")
                keys.send_text(UP)
                await until("history 2", lambda: line.text == "hold")
                keys.send_text("\x7f" * 4 + "record\r")
                await until("recording", lambda: f"call {cid}: recording" in pane.text)
                assert " REC" in screen._status()[1][1]

                keys.send_text("hangup\r")
                await until("cleared", lambda: not c.request("call.list")["calls"])
                await until("pane: cleared", lambda: f"call {cid}: cleared" in pane.text)
                assert screen._status()[1][1] == "no call"
                keys.send_text("frob\r")
                await until("unknown", lambda: "! unknown command 'frob'" in pane.text)
                keys.send_text("quit\r")
                return await asyncio.wait_for(task, 10)
            finally:
                task.cancel()
                req.close()
                stream.close()
    try:
        assert asyncio.run(main()) == 0
        assert c.request("agent.show", agent="1001")["state"] == "logged_out"
    finally:
        c.close()


def test_a_refused_login_ends_the_screen(server):
    home = server.config.server.home

    async def main():
        desk = AgentDesktop("9999", "1")
        stream = AsyncEventStream(home, desk.topics, **FAST)
        req = AsyncRequester(home, timeout=5)
        try:
            with create_pipe_input() as keys:
                screen = DeskScreen(desk, asyncio.Queue(), input=keys, output=DummyOutput())
                rc = await asyncio.wait_for(screen.run(stream, req), 10)
                return rc, screen.events.buffer.text
        finally:
            req.close()
            stream.close()
    rc, text = asyncio.run(main())
    assert rc == 1 and "! login failed" in text and "args.agent" in text


def test_completion_and_the_status_line():
    d = AgentDesktop("1001", "1")
    d.resync({"agents": [{"agent": a, "state": "ready"} for a in ("1001", "1002", "1003")],
              "calls": []})
    assert d.completions("") == list(__import__("cti.clients.agent_tui", fromlist=["x"])
                                     .COMMANDS)
    assert d.completions("tr") == ["transfer"]
    assert d.completions("transfer ") == ["1002", "1003"]      # not myself
    assert d.completions("consult 1003") == ["1003"]
    assert d.completions("dnd ") == ["off"] and d.completions("record s") == ["stop"]
    assert d.completions("hold ") == []
    d.event("call.delivered", {"type": "call.delivered", "call_id": "c7", "agent": "1003",
                               "extension": 3, "ani": "138"})
    assert d.call is None and d.completions("pickup ") == ["c7"]
    assert d.command("pickup")[0][0].args == {"call": "c7", "agent": "1001"}
    d.event("call.established", {"type": "call.established", "call_id": "c7",
                                 "agent": "1003"})
    assert d.completions("pickup ") == []
    assert d.status_bar() == ["[agent 1001 @ 1] READY   queues: none", "no call"]
    d.event("call.delivered", {"type": "call.delivered", "call_id": "c8", "agent": "1001",
                               "extension": 1, "ani": "139", "queue": "sales",
                               "customer": {"name": "Wang Fang"},
                               "data": {"order": "A1"}})
    assert d.status_bar()[1] == ("call c8 RINGING from 139 (Wang Fang) queue sales   "
                                 "order=A1")
    assert d.completions("whisper ") == ["c8"]


def test_every_desk_command_makes_its_request():
    d = AgentDesktop("1001", "1")
    d.event("call.delivered", {"type": "call.delivered", "call_id": "c8", "agent": "1001",
                               "extension": 1, "ani": "139"})
    me = {"agent": "1001"}
    want = {
        "dnd": ("agent.dnd", dict(me, on=True)),
        "dnd off": ("agent.dnd", dict(me, on=False)),
        "forward 1004": ("agent.forward", dict(me, to="1004")),
        "forward": ("agent.forward", dict(me, to="")),
        "dial 139 1234 5678": ("call.make", dict(me, to="13912345678")),
        "record": ("call.record", {"call": "c8", "on": True}),
        "record stop": ("call.record", {"call": "c8", "on": False}),
        "pickup c9": ("call.pickup", {"call": "c9", "agent": "1001"}),
        "monitor c9": ("call.supervise", {"call": "c9", "supervisor": "1001",
                                          "mode": "monitor"}),
        "barge c9": ("call.supervise", {"call": "c9", "supervisor": "1001",
                                        "mode": "barge"}),
    }
    for line, (op, args) in want.items():
        reqs, out = d.command(line)
        assert [(r.op, r.args) for r in reqs] == [(op, args)], (line, out)
    assert d.command("dial") == ([], ["! usage: dial NUMBER"])
    assert d.command("whisper")[1] == ["! usage: whisper CALL"]
    assert d.command("pickup")[1] == ["! usage: pickup CALL (ringing colleagues: none seen)"]
    d.consult = "c8.consult"
    assert d.command("complete case=refund")[0][0].args == {"call": "c8",
                                                           "data": {"case": "refund"}}
    assert d.command("complete oops")[1] == ["! 'oops': attached data is KEY=VALUE"]


def test_the_queues_the_agent_serves_come_from_the_snapshot():
    d = AgentDesktop("1001", "1")
    d.resync({"agents": [{"agent": "1001", "state": "ready"}],
              "queues": [{"queue": "sales", "agents": [{"agent": "1002", "state": "ready"}]},
                         {"queue": "service", "agents": [{"agent": "1001", "state": "ready"}]}],
              "calls": []})
    assert d.status_bar()[0] == "[agent 1001 @ 1] READY   queues: service"


def test_on_a_pipe_cti_agent_reads_lines(server, capsys, monkeypatch):
    """Standard input not a terminal (a script): the plain line mode, no prompt_toolkit."""
    import io

    from cti.clients.cli import main

    home = str(server.config.server.home)
    monkeypatch.setattr("sys.stdin", io.StringIO("dnd\nstatus\nquit\n"))
    assert main(["agent", "--agent", "1001", "--extension", "1", "--home", home]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "logged in: agent 1001 at extension 1" in out and out[-1] in ("logged out", "bye")
    assert any(x.startswith("[agent 1001 @ 1] NOT READY (dnd)") for x in out)
    with Client(home, timeout=5) as c:
        assert c.request("agent.show", agent="1001")["state"] == "logged_out"
