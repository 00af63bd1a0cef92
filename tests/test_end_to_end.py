"""The call centre end to end, through the server and a subscribed client.

The simulated exchange places a call as framed E1 bits on a PRI span; the IVR
answers it and collects the caller's DTMF choice; the call queues; an agent's
FXS phone rings with caller ID and answers; the agent transfers the call with
attached data to a second agent, whose desktop sees the data; the caller
hangs up. The test checks the events the client received (in order,
gap-free), the CDR and queue-log rows, and the recording's WAV.
"""
from __future__ import annotations

import time
import wave

from cti.clients.client import Client, Event, EventStream, Resync
from cti.store.sqlite import Store
from tests.inprocess import InProcessServer


def wait_for(stream, seen, pred, timeout=15.0):
    """Read events into ``seen`` until one satisfies ``pred``; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = stream.get(timeout=0.2)
        if isinstance(item, Event):
            seen.append(item.event)
            if pred(item.event):
                return item.event
    raise AssertionError(f"not seen in {timeout} s; last events: "
                         f"{[e.get('type') for e in seen[-10:]]}")


def test_call_through_ivr_queue_agents_and_transfer(tmp_path):
    home = tmp_path / "home"
    with InProcessServer(home, speed=8.0) as srv:
        srv.wait_in_sync()
        seen: list[dict] = []
        with Client(home, timeout=5) as c, \
                EventStream(home, ["call.", "agent."], ping_interval=0.5) as stream:
            # the stream starts (snapshot, subscription) at its first get: before acting,
            # or what happens first may land in the snapshot instead of the events
            assert isinstance(stream.get(timeout=5), Resync)
            c.request("agent.login", agent="1001", extension=1)
            c.request("agent.login", agent="1002", extension=2)
            c.request("agent.not_ready", agent="1002", reason="lunch")
            r = c.request("sim.call", span=1, **{"from": "13800138000", "to": "4008001234"})
            assert not r["congested"]
            offered = wait_for(stream, seen, lambda e: e["type"] == "call.offered")
            call_id, channel = offered["call_id"], offered["channel"]
            assert (offered["ani"], offered["dnis"]) == ("13800138000", "4008001234")
            # the IVR plays its welcome and menu; the caller presses 2 (sales)
            time.sleep(0.3)
            c.request("sim.dtmf", channel=channel, digits="2")
            delivered = wait_for(stream, seen, lambda e: e["type"] == "call.delivered")
            assert delivered["agent"] == "1001" and delivered["queue"] == "sales"
            # the phone rings with caller ID; the agent answers
            c.request("agent.ready", agent="1002")
            deadline = time.monotonic() + 10      # caller ID comes between the first two rings
            while not c.request("sim.phone", port=1, action="status")["caller_id"]:
                assert time.monotonic() < deadline, "no caller ID on the agent's phone"
                time.sleep(0.02)
            answer = c.request("sim.phone", port=1, action="lift")
            established = wait_for(stream, seen, lambda e: e["type"] == "call.established")
            assert established["agent"] == "1001" and established["call_id"] == call_id
            # a blind transfer with attached data to the second agent
            c.request("call.transfer", call=call_id, to="1002",
                      data={"order": "A123", "note": "VIP"})
            d2 = wait_for(stream, seen, lambda e: e["type"] == "call.delivered"
                          and e.get("agent") == "1002")
            assert d2["data"]["order"] == "A123" and d2["data"]["note"] == "VIP"
            c.request("sim.phone", port=2, action="lift")
            wait_for(stream, seen, lambda e: e["type"] == "call.established"
                     and e.get("agent") == "1002")
            time.sleep(0.5)                       # some conversation on the recording
            # the caller hangs up
            xcalls = c.request("sim.calls")["calls"]
            assert len(xcalls) == 1
            c.request("sim.hangup", span=1, call=xcalls[0]["call"])
            cleared = wait_for(stream, seen, lambda e: e["type"] == "call.cleared")
            assert cleared["outcome"] == "answered" and cleared["agent"] == "1002"
            # everything the server published, in order and gap-free
            every = c.request("replay", after=0)["events"]
            seqs = [e["seq"] for e in every]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            mine = [e["seq"] for e in seen]
            assert mine == sorted(mine) and len(set(mine)) == len(mine)
            types = [e["type"] for e in seen if e["type"].startswith("call.")]
            for t in ("call.offered", "call.queued", "call.delivered", "call.established",
                      "call.transferred", "call.cleared"):
                assert t in types, (t, types)
            assert types.index("call.offered") < types.index("call.queued") \
                < types.index("call.delivered") < types.index("call.transferred") \
                < types.index("call.cleared")
            assert answer["caller_id"] == {"number": "13800138000", "name": None}
    # the store: CDR, queue log, recording (the server has stopped; open the file)
    store = Store(home / "cti.db")
    cdr = store.cdr(call_id)
    assert cdr["outcome"] == "answered" and cdr["agent"] == "1002" and cdr["queue"] == "sales"
    assert cdr["ani"] == "13800138000" and cdr["data"]["order"] == "A123"
    assert cdr["ivr_path"].split("/")[-1] == "sales"
    events = [r["event"] for r in store.queue_log(0, 2e9) if r["call_id"] == call_id]
    assert events[:3] == ["ENTERQUEUE", "CONNECT", "TRANSFER"]
    assert store.count("cdr") == 1
    with wave.open(cdr["recording"]) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000
        assert w.getnframes() > 8000                   # over a second of the call
        frames = w.readframes(w.getnframes())
    assert any(frames[i] for i in range(0, len(frames), 97))   # not silence: prompts, MOH
