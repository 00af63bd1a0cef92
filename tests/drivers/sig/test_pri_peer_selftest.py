"""Selftest of the libpri peer harness (tests/pri/): libpri NET against libpri CPE.

Two ``pri_peer`` processes (libpri 1.6, EuroISDN E1 PRI) are joined by a Python
:class:`~pri.peer.Bridge` that takes every frame out through ``recv_frames`` (libpri's 2
FCS placeholder bytes stripped) and hands it to the other side through ``send_frame`` (2
bytes added back) -- the same path a bridge to our own Q.921 stack takes. If the harness,
the bridge or the framing were wrong, the two libpri instances could not talk.

libpri runs on the wall clock (T200 = 1 s), so these tests take real time: about 6 s in
all, most of it the D-channel failure scenario, which shortens T203 to make the failure
show within a few seconds. Every wait is bounded by a timeout.
"""
from __future__ import annotations

import time

import pytest

from tests.pri.peer import (B_CHANNELS, Bridge, PriPeer, PriPeerError, PriPeerUnavailable,
                      frames_by_direction, harness_path)

# Q.850 cause values.
NORMAL_CLEARING = 16
USER_BUSY = 17
NO_CIRCUIT_AVAILABLE = 34


@pytest.fixture(scope="module", autouse=True)
def _harness():
    try:
        harness_path()
    except PriPeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def make_pair():
    """Start a network-side and a CPE-side peer, bridge them, wait for the link on both."""
    made: list[tuple[PriPeer, PriPeer, Bridge]] = []

    def start(net_opts: dict | None = None, cpe_opts: dict | None = None):
        net = PriPeer("network", **(net_opts or {}))
        cpe = PriPeer("cpe", **(cpe_opts or {}))
        bridge = Bridge(net, cpe)
        made.append((net, cpe, bridge))
        net.wait_event("UP", 5)
        cpe.wait_event("UP", 5)
        return net, cpe, bridge

    yield start
    for net, cpe, bridge in made:
        try:
            bridge.stop()
        finally:
            net.close()
            cpe.close()


def test_link_comes_up_with_bare_q921_frames_on_the_bridge(make_pair):
    net, cpe, bridge = make_pair()
    # Q.921 3.6: SABME (0x7F with P=1) on SAPI 0 / TEI 0; the network sends commands with
    # C/R = 1, the user with C/R = 0 (Q.921 3.3.2). No trailing FCS bytes reach us.
    assert b"\x02\x01\x7f" in frames_by_direction(bridge.trace, "a>b")
    assert b"\x00\x01\x7f" in frames_by_direction(bridge.trace, "b>a")
    for label in ("a>b", "b>a"):
        for frame in frames_by_direction(bridge.trace, label):
            assert frame[0] & 0xFC == 0 and frame[1] == 0x01  # SAPI 0, TEI 0, EA bits
    status = net.request("status")
    assert status["event"] == "OK"
    assert net.wait_event("STATUS", 2)["link"] == "up"


def test_thirty_simultaneous_calls_answered_then_cleared(make_pair):
    net, cpe, _ = make_pair(net_opts={"auto_hangup_ack": True},
                            cpe_opts={"auto_answer": True, "auto_hangup_ack": True})
    t0 = time.monotonic()
    calls = {chan: net.call(chan, f"2000{chan:02d}", "3000") for chan in B_CHANNELS}
    assert len(set(calls.values())) == 30
    for chan, callid in calls.items():
        assert net.wait_event("ANSWER", 5, callid=callid)["chan"] == chan
    rings = [cpe.wait_event("RING", 2) for _ in B_CHANNELS]
    assert sorted(r["chan"] for r in rings) == list(B_CHANNELS)
    assert {r["chan"]: r["called"] for r in rings} == {c: f"2000{c:02d}" for c in B_CHANNELS}
    assert all(r["complete"] == 1 and r["calling"] == "3000" for r in rings)
    with pytest.raises(PriPeerError, match="channel_busy"):
        net.call(1, "999", "3000")          # every B-channel is busy now
    for callid in calls.values():
        net.request(f"hangup {callid} {NORMAL_CLEARING}")
    for callid in calls.values():
        # libpri tells the clearing side HANGUP when the peer's RELEASE arrives.
        assert net.wait_event("HANGUP", 5, callid=callid)["cause"] == NORMAL_CLEARING
    for ring in rings:
        assert cpe.wait_event("HANGUP_REQ", 2, callid=ring["callid"])["cause"] == NORMAL_CLEARING
        cpe.wait_event("HANGUP_ACK", 2, callid=ring["callid"])
    assert time.monotonic() - t0 < 10
    for peer in (net, cpe):
        peer.request("status")
        assert peer.wait_event("STATUS", 2)["calls"] == 0


def test_call_rejected_user_busy(make_pair):
    net, cpe, _ = make_pair(net_opts={"auto_hangup_ack": True},
                            cpe_opts={"auto_reject": USER_BUSY})
    callid = net.call(5, "4711", "-")
    ring = cpe.wait_event("RING", 5)
    assert ring["chan"] == 5 and ring["calling"] == ""
    # libpri cannot DISCONNECT an unanswered incoming call: the harness answers CALL
    # PROCEEDING first, so the caller sees the rejection as DISCONNECT cause 17.
    net.wait_event("PROCEEDING", 5, callid=callid)
    assert net.wait_event("HANGUP_REQ", 5, callid=callid)["cause"] == USER_BUSY
    assert net.wait_event("HANGUP_ACK", 5, callid=callid)["cause"] == USER_BUSY
    assert cpe.wait_event("HANGUP", 5, callid=ring["callid"])["cause"] == USER_BUSY


def test_call_rejected_by_release_complete(make_pair):
    net, cpe, _ = make_pair(net_opts={"auto_hangup_ack": True},
                            cpe_opts={"auto_reject": NO_CIRCUIT_AVAILABLE})
    callid = net.call(7, "4711", "-")
    cpe.wait_event("RING", 5)
    assert net.wait_event("HANGUP", 5, callid=callid)["cause"] == NO_CIRCUIT_AVAILABLE
    for peer in (net, cpe):
        peer.request("status")
        assert peer.wait_event("STATUS", 2)["calls"] == 0


def test_overlap_dialling_from_cpe_with_any_channel(make_pair):
    net, cpe, _ = make_pair(net_opts={"auto_answer": True, "auto_hangup_ack": True},
                            cpe_opts={"auto_hangup_ack": True})
    callid = cpe.call(0, "12", "999", overlap=True)
    ring = net.wait_event("RING", 5)
    assert (ring["called"], ring["complete"], ring["chan"]) == ("12", 0, 0)
    # The network answers an incomplete SETUP with SETUP ACKNOWLEDGE naming a channel.
    setup_ack = cpe.wait_event("SETUP_ACK", 5, callid=callid)
    assert setup_ack["chan"] in B_CHANNELS
    cpe.request(f"info {callid} 345")
    digits = "".join(net.wait_event("INFO", 5, callid=ring["callid"])["digits"]
                     for _ in range(3))
    assert digits == "345"
    net.request(f"answer {ring['callid']}")
    assert cpe.wait_event("ANSWER", 5, callid=callid)["chan"] == setup_ack["chan"]
    cpe.request(f"hangup {callid} {NORMAL_CLEARING}")
    assert net.wait_event("HANGUP_REQ", 5, callid=ring["callid"])["cause"] == NORMAL_CLEARING
    cpe.wait_event("HANGUP", 5, callid=callid)


def test_restart_one_channel_and_whole_interface(make_pair):
    net, cpe, _ = make_pair(cpe_opts={"auto_answer": True})
    callid = net.call(9, "100", "200")
    net.wait_event("ANSWER", 5, callid=callid)
    cpe_call = cpe.wait_event("RING", 5)["callid"]

    net.request("restart 9")
    assert net.wait_event("RESTART_ACK", 5)["chan"] == 9
    assert cpe.wait_event("RESTART", 5)["chan"] == 9
    # A restarted channel takes its call with it, on both sides.
    assert net.wait_event("CALL_FREED", 2, callid=callid)["reason"] == "restart"
    assert cpe.wait_event("CALL_FREED", 2, callid=cpe_call)["chan"] == 9

    cpe.request("restart 0")
    done = cpe.wait_event("RESTART_ACK", 10, chan=0)
    assert done["channels"] == 30
    # libpri sends no whole-interface RESTART: the harness restarts each B-channel in turn.
    for chan in B_CHANNELS:
        net.wait_event("RESTART", 2, chan=chan)
        cpe.wait_event("RESTART_ACK", 2, chan=chan)


def test_d_channel_failure_mid_call_and_recovery(make_pair):
    # Shorter T203 so that an idle link notices the failure within seconds
    # (T203 + N200 x T200 with T200 = 1 s, N200 = 3); T309 (6 s) keeps the call meanwhile.
    timers = {"T203": 1000}
    net, cpe, _ = make_pair(net_opts={"auto_hangup_ack": True, "timers": timers},
                            cpe_opts={"auto_answer": True, "auto_hangup_ack": True,
                                      "timers": timers})
    callid = net.call(12, "777", "888")
    net.wait_event("ANSWER", 5, callid=callid)
    cpe_call = cpe.wait_event("RING", 5)["callid"]

    t0 = time.monotonic()
    net.request("drop")
    net.wait_event("DOWN", 8)
    cpe.wait_event("DOWN", 8)
    down_after = time.monotonic() - t0
    assert down_after >= 3.0           # > T200 x N200: retransmissions came first
    net.request("undrop")
    net.wait_event("UP", 5)
    cpe.wait_event("UP", 5)

    # Within T309 the call survives the failure and clears normally afterwards.
    net.request(f"hangup {callid} {NORMAL_CLEARING}")
    assert cpe.wait_event("HANGUP_REQ", 5, callid=cpe_call)["cause"] == NORMAL_CLEARING
    net.wait_event("HANGUP", 5, callid=callid)
    net.request("status")
    status = net.wait_event("STATUS", 2)
    assert status["link"] == "up" and status["tx_dropped"] > 0 and status["calls"] == 0
