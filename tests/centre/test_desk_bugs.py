"""What an agent's desktop does on the simulated board, end to end through the server's
requests: answering the asking agent's phone, taking the next call after a hang-up or a
transfer from the desktop, both sides of a consultative transfer, a listen on a call that
ends (and one on a recorded call), a recording paused and resumed or that cannot be
written, a transfer of a call the agent made, and the cause a CDR keeps when the exchange
clears a call during a line fault (issue #14, the bugs listed under Why)."""
from __future__ import annotations

import struct
import wave

import pytest

from cti.centre import media
from cti.clients.agent_tui import AgentDesktop
from drivers.codecs import alaw_decode
from tests.audio import power
from tests.desk import Centre, established_call, heard_by_caller, types


@pytest.fixture
def centre(tmp_path):
    c = Centre(tmp_path / "home")
    yield c
    c.close()


def login(c, *agents, ready=True):
    for a in agents:
        c.req("agent.login", agent=a)
        if not ready:
            c.req("agent.not_ready", agent=a, reason="direct only")


def offer(c, ani="13800138000"):
    """A caller on the service queue (ring-all over 1001-1004)."""
    x = c.world.calls.offer_call(1, ani, "4008005555")
    evs = c.run(60)
    return x, evs


def test_answer_lifts_the_asking_agents_phone(centre):
    c = centre
    login(c, "1001", "1002")
    x, evs = offer(c)
    d = [e for e in evs if e["type"] == "call.delivered"]
    assert {e["agent"] for e in d} == {"1001", "1002"}       # ring-all: both phones ring
    cid = d[0]["call_id"]
    # an agent whose phone does not ring for the call is refused, and nothing is lifted
    assert c.fail("call.answer", call=cid, agent="1003")["field"] == "args.agent"
    r = c.req("call.answer", call=cid, agent="1002")
    assert r["extension"] == 2
    evs = c.run(20)
    est = [e for e in evs if e["type"] == "call.established"]
    assert est and est[0]["agent"] == "1002" and est[0]["extension"] == 2
    assert c.world.phones[2].off_hook and not c.world.phones[1].off_hook


def test_answer_without_an_agent_when_several_phones_ring_is_refused(centre):
    c = centre
    login(c, "1001", "1002")
    x, evs = offer(c)
    cid = [e for e in evs if e["type"] == "call.delivered"][0]["call_id"]
    e = c.fail("call.answer", call=cid)
    assert e["field"] == "args.agent"
    assert not c.world.phones[1].off_hook and not c.world.phones[2].off_hook


def test_the_terminal_desk_answers_with_its_agent():
    desk = AgentDesktop("1002", 2)
    desk.event("call.delivered", {"type": "call.delivered", "call_id": "c1", "agent": "1002",
                                  "extension": 2, "ani": "138", "dnis": "400"})
    reqs, _ = desk.command("answer")
    assert reqs[0].op == "call.answer" and reqs[0].args == {"call": "c1", "agent": "1002"}


def _answer_and_talk(c, agent="1001", port=1):
    x, evs = offer(c)
    cid = [e for e in evs if e["type"] == "call.delivered"][0]["call_id"]
    c.req("call.answer", call=cid, agent=agent)
    evs = c.run(20)
    assert any(e["type"] == "call.established" and e["agent"] == agent for e in evs)
    return x, cid


@pytest.mark.parametrize("how", ["hangup", "transfer"])
def test_after_a_desktop_hangup_or_transfer_the_agent_takes_the_next_call(centre, how):
    """The desk clears the agent's side; the FXS port signals the disconnect (loop current
    drop, then busy tone) and the person at the phone hangs up; the next call rings."""
    c = centre
    login(c, "1001")
    if how == "transfer":
        login(c, "1003", ready=False)
    for n in range(3):
        x, cid = _answer_and_talk(c)
        if how == "hangup":
            c.req("call.hangup", call=cid)
        else:
            c.req("call.transfer", call=cid, to="1003")
        c.run(int(2.0 / 0.02))
        assert not c.world.phones[1].off_hook                # hung up, as a person would
        assert c.svc.centre.analog[1].machine.state.value == "idle"
        if how == "transfer":
            c.world.phones[3].lift()
            c.run(20)
            c.world.calls.hangup(1, x.call)
            c.run(int(2.0 / 0.02))
            assert not c.world.phones[3].off_hook
        c.run(int(6.0 / 0.02))                               # wrap-up (5 s)
        assert c.req("agent.show", agent="1001")["state"] == "ready"


def test_consultative_transfer_both_desks(centre):
    c = centre
    login(c, "1001")
    login(c, "1002", ready=False)
    first, second = AgentDesktop("1001", 1), AgentDesktop("1002", 2)
    seen = []

    def run(n):
        evs = c.run(n)
        for e in evs:
            for d in (first, second):
                d.event(e["type"], e)
        seen.extend(evs)
        return evs

    def send(desk, line):
        reqs, out = desk.command(line)
        assert reqs, out
        for r in reqs:
            res = c.svc.handle({"id": 1, "op": r.op, "args": r.args})
            assert res["ok"], res
            desk.reply(r, res["result"])

    c.world.calls.offer_call(1, "13800138000", "4008005555")
    run(60)
    send(first, "answer")
    run(20)
    x = c.world.calls
    cid = first.call.id
    ts = int(c.req("call.show", call=cid)["trunk"].split("/")[1])
    send(first, "consult 1002")
    evs = run(20)
    # the consulted agent's desktop is told, by its agent
    mine = [e for e in evs if e.get("agent") == "1002" and e["type"].startswith("call.")]
    assert mine and mine[0]["type"] == "call.delivered" and mine[0]["extension"] == 2
    assert second.call is not None and second.call.state == "ringing"
    send(second, "answer")
    evs = run(20)
    assert "call.consulted" in types(evs)
    assert second.call.state == "talking"
    send(first, "complete")
    evs = run(20)
    assert first.call is None                       # it left the first agent
    assert second.call is not None and second.call.id == cid
    assert c.req("agent.show", agent="1001")["state"] in ("wrapup", "ready")
    # the new owner holds, retrieves and hangs up from the desktop
    send(second, "hold")
    evs = run(10)
    assert "call.held" in types(evs)
    send(second, "retrieve")
    evs = run(10)
    assert "call.retrieved" in types(evs)
    c.world.phones[2].tone(1477, ms=-1)
    hears = heard_by_caller(c, ts, 400)[-1600:]
    assert power(hears, 1477) > 1e3 * max(power(hears, 1209), 1)   # the new agent's voice
    send(second, "hangup")
    evs = run(100)
    cl = [e for e in evs if e["type"] == "call.cleared"]
    assert cl and cl[0]["agent"] == "1002"
    assert c.svc.store.cdr(cid)["agent"] == "1002"
    assert not c.world.phones[1].off_hook and not c.world.phones[2].off_hook


def test_the_consulted_agent_hangs_up_the_consultation(centre):
    c = centre
    login(c, "1001")
    login(c, "1002", ready=False)
    x, cid = _answer_and_talk(c)
    r = c.req("call.consult", call=cid, to="1002")
    c.run(20)
    c.req("call.answer", call=r["consult"], agent="1002")
    evs = c.run(20)
    assert "call.consulted" in types(evs)
    c.req("call.hangup", call=r["consult"])            # drops the consultation only
    evs = c.run(100)
    assert "call.consult_ended" in types(evs) and "call.cleared" not in types(evs)
    assert c.req("call.show", call=cid)["state"] == "held"
    assert not c.world.phones[2].off_hook
    c.req("call.retrieve", call=cid)
    c.req("call.hangup", call=cid)
    evs = c.run(20)
    assert "call.cleared" in types(evs)


def test_a_listen_on_a_call_that_ends_replies_with_what_it_had(centre):
    c = centre
    login(c, "1001")
    x, cid = _answer_and_talk(c)
    ch = c.req("call.show", call=cid)["trunk"]
    r = c.svc.handle({"id": "L", "op": "channel.listen",
                      "args": {"channel": ch, "seconds": 10.0}}, token="t")
    assert r is None
    done = []
    for _ in range(25):
        done += c.svc.tick()[1]
    assert not done
    c.world.calls.hangup(1, x.call)
    for _ in range(50):
        done += c.svc.tick()[1]
    assert len(done) == 1
    token, reply = done[0]
    assert token == "t" and reply["ok"] and reply["result"]["ended"] is True
    got = reply["result"]["seconds"]
    assert 0.3 < got < 2.0
    import base64
    assert len(base64.b64decode(reply["result"]["audio"])) == round(got * 8000)


def _wav_channels(path):
    assert media.flush(10)          # the writer thread completes the file after the CDR
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth()) == (8000, 2)
        n, ch = w.getnframes(), w.getnchannels()
        pcm = struct.unpack(f"<{n * ch}h", w.readframes(n))
    return [pcm[i::ch] for i in range(ch)]


def test_a_resumed_recording_records_again(centre):
    c = centre
    login(c, "1001")
    x, cid = _answer_and_talk(c)
    ts = int(c.req("call.show", call=cid)["trunk"].split("/")[1])
    c.req("call.record", call=cid, on=False)
    c.world.exchange.spans[1].channels[ts].tone(697, ms=-1)   # the caller speaks
    c.run(50)                                                 # 1 s not recorded
    c.req("call.record", call=cid, on=True)
    c.world.exchange.spans[1].channels[ts].tone(0, ms=0)
    c.world.exchange.spans[1].channels[ts].tone(1336, ms=-1)
    c.run(50)                                                 # 1 s recorded
    c.world.calls.hangup(1, x.call)
    c.run(60)
    path = c.svc.store.cdr(cid)["recording"]
    caller, _ = _wav_channels(path)
    tail = caller[-4000:]
    assert power(tail, 1336) > 1e3 * max(power(tail, 697), 1)   # the resumed part is there
    # the paused second is not (a tick or two of it may cross the resume on the line)
    blocks = [caller[i:i + 160] for i in range(0, len(caller) - 160, 160)]
    assert sum(power(b, 697) > max(power(b, 1336), 1e3) for b in blocks) <= 3


def test_transferring_a_call_the_agent_made(centre):
    c = centre
    login(c, "1001")
    login(c, "1003", ready=False)
    r = c.req("call.make", agent="1001", to="13912345678")
    c.run(20)
    c.world.phones[1].lift()
    evs = c.run(200)
    assert "call.established" in types(evs)
    c.req("call.transfer", call=r["call_id"], to="1003")
    evs = c.run(100)                                  # the first agent hangs up meanwhile
    assert "call.cleared" not in types(evs)
    assert not c.world.phones[1].off_hook
    c.world.phones[3].lift()
    evs = c.run(20)
    assert any(e["type"] == "call.established" and e["agent"] == "1003" for e in evs)
    c.req("call.hangup", call=r["call_id"])
    evs = c.run(60)
    cl = [e for e in evs if e["type"] == "call.cleared"]
    assert cl and cl[0]["agent"] == "1003" and cl[0]["outcome"] == "answered"
    cdr = c.svc.store.cdr(r["call_id"])
    assert cdr["direction"] == "out" and cdr["agent"] == "1003"


@pytest.mark.parametrize("los_seconds", [1, 6])
def test_a_call_the_exchange_clears_during_a_line_fault_keeps_its_cause(centre, los_seconds):
    """LOS towards the board; the exchange clears the call (cause 18) half a second in. Its
    DISCONNECT goes as the data link is being reset and is discarded with the I queue; it
    is sent again once the link is back, so the CDR says 18 (it said 101, from the STATUS
    that answered our STATUS ENQUIRY: 13 of 111 CDRs during line faults)."""
    c = centre
    login(c, "1001")
    x, call, ts = established_call(c)
    c.req("sim.fault", span=1, los=True, direction="to_board")
    c.run(25)
    c.world.calls.hangup(1, x.call, 18)
    c.run(int((los_seconds - 0.5) / 0.02))
    c.req("sim.fault", span=1, clear=True)
    for _ in range(40):
        c.run(50)
        cdr = c.svc.store.cdr(call)
        if cdr is not None:
            break
    assert x.cause == 18
    assert cdr is not None and cdr["cause"] == 18
    assert not c.world.pri[1].q931.counters["protocol_errors"].get(101)


def test_a_listen_on_a_recorded_call_leaves_the_recording_whole(centre):
    """A technician listens to a recorded call's B-channel for half a second: the listen's
    tap and the recording's share the channel; when the listen ends, the recording goes on
    with both sides (it lost the centre side during the listen, and everything after)."""
    c = centre
    login(c, "1001")
    x, cid = _answer_and_talk(c)
    ts = int(c.req("call.show", call=cid)["trunk"].split("/")[1])
    c.world.exchange.spans[1].channels[ts].tone(697, ms=-1)   # the caller speaks
    c.world.phones[1].tone(1209, ms=-1)                       # the agent speaks
    c.run(25)
    assert c.svc.handle({"id": "L", "op": "channel.listen",
                         "args": {"channel": f"1/{ts}", "seconds": 0.5}}, token="t") is None
    done = []
    for _ in range(40):
        done += c.svc.tick()[1]
    assert done and done[0][1]["result"]["ended"] is False
    c.run(100)
    c.world.calls.hangup(1, x.call)
    c.run(60)
    caller, centre_side = _wav_channels(c.svc.store.cdr(cid)["recording"])
    n = len(caller)
    start = next(i for i in range(0, n, 160) if power(caller[i:i + 160], 697) > 1e3)
    assert start < 3 * 8000 and (n - start) / 8000 > 2.5
    for i in range(start + 800, n - 1600, 800):                 # every 0.1 s, both sides
        assert power(caller[i:i + 800], 697) > 1e3, i / 8000
        assert power(centre_side[i:i + 800], 1209) > 1e3, i / 8000


def test_recordings_that_cannot_be_written_do_not_end_the_call(centre, tmp_path):
    """The recordings directory is a file (a disk that fails): the call goes on and clears,
    its CDR names no recording, and the next call is served."""
    c = centre
    bad = tmp_path / "not_a_dir"
    bad.write_text("")
    c.svc.centre.config.recordings_dir = str(bad / "recordings")
    login(c, "1001")
    for _ in range(2):
        x, cid = _answer_and_talk(c)
        c.run(100)                                     # past the first flush
        c.world.calls.hangup(1, x.call)
        c.run(int(7 / 0.02))                           # the agent's wrap-up (5 s)
        cdr = c.svc.store.cdr(cid)
        assert cdr["outcome"] == "answered" and cdr["recording"] is None
