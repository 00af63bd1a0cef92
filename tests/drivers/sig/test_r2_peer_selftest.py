"""Selftest of the openr2 peer harness (tests/r2/): openr2 forward against openr2 backward.

Two ``r2_peer`` processes (openr2 1.3.3, one channel each, DAHDI calls faked by the
harness) are joined by a :class:`~r2.peer.Bridge` that carries the abcd line signalling
bits (ITU-T Q.421 / Q.422) as they change and the voice band in 20 ms A-law frames, in which
the MFC R2 register signals (ITU-T Q.441: forward group I/II, backward group A/B) travel.
If the fake DAHDI channel, the audio clocking or the bridge were wrong, the two openr2
instances could not exchange DNIS and ANI.

openr2 runs on the wall clock (each compelled MF cycle takes ~100 ms here), so a call takes
about 1.5 s; every wait is bounded.
"""
from __future__ import annotations

import pytest

from tests.r2.peer import Bridge, R2Peer, R2PeerError, R2PeerUnavailable, harness_path

# ITU-T Q.421: abcd when idle, as openr2 sends them (a b set; c d per the variant's
# fixed values: ITU/BR/MX send d = 1, CN c = d = 1).
A_BIT, B_BIT = 8, 4


@pytest.fixture(scope="module", autouse=True)
def _harness():
    try:
        harness_path()
    except R2PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def make_pair():
    made: list[tuple[R2Peer, R2Peer, Bridge]] = []

    def make(variant: str, **backward_opts):
        fwd = R2Peer(variant, name=f"{variant}-forward")
        try:
            bwd = R2Peer(variant, name=f"{variant}-backward", **backward_opts)
        except BaseException:
            fwd.close()
            raise
        bridge = Bridge(fwd, bwd)
        made.append((fwd, bwd, bridge))
        fwd.wait_event("IDLE", 3)
        bwd.wait_event("IDLE", 3)
        return fwd, bwd, bridge

    yield make
    for fwd, bwd, bridge in made:
        try:
            bridge.stop()
        finally:
            fwd.close()
            bwd.close()


def test_itu_call_with_ani_and_dnis_is_answered_and_cleared(make_pair):
    fwd, bwd, bridge = make_pair("ITU", auto_answer=True, auto_clear=True)
    fwd.call("1234", "5678")

    offered = bwd.wait_event("OFFERED", 6)
    assert (offered["dnis"], offered["ani"]) == ("1234", "5678")
    assert offered["category"] == "National_Subscriber"
    assert [e["digit"] for _, e in bwd.history if e["event"] == "DNIS_DIGIT"] == list("1234")
    assert [e["digit"] for _, e in bwd.history if e["event"] == "ANI_DIGIT"] == list("5678")

    assert fwd.wait_event("ACCEPTED", 3)["dir"] == "forward"
    assert bwd.wait_event("ACCEPTED", 3)["dir"] == "backward"
    fwd.wait_event("ANSWERED", 3)

    # Seizure went a>b as a = b = 0 (Q.421: seizure), the answer b>a as a = 0, b = 1.
    fwd_sent = [abcd for _, label, abcd in bridge.trace if label == "a>b"]
    bwd_sent = [abcd for _, label, abcd in bridge.trace if label == "b>a"]
    assert any(abcd & (A_BIT | B_BIT) == 0 for abcd in fwd_sent)
    assert any(abcd & (A_BIT | B_BIT) == B_BIT for abcd in bwd_sent)

    fwd.hangup()                                   # clear-forward
    assert bwd.wait_event("DISCONNECT", 3)["cause"] == "Normal_Clearing"
    bwd.wait_event("CALL_END", 3)
    fwd.wait_event("CALL_END", 3)
    assert "PROTOCOL_ERROR" not in fwd.kinds() + bwd.kinds()
    assert fwd.status()["call"] == "Idle"


def test_itu_backward_clears_first(make_pair):
    fwd, bwd, _ = make_pair("ITU", auto_answer=True)
    fwd.call("4321", "99")
    assert bwd.wait_event("OFFERED", 6)["dnis"] == "4321"
    fwd.wait_event("ANSWERED", 3)
    bwd.hangup("normal")                            # clear-back
    assert fwd.wait_event("DISCONNECT", 3)["cause"] == "Normal_Clearing"
    fwd.hangup()                                   # the forward side completes it
    fwd.wait_event("CALL_END", 3)
    bwd.wait_event("CALL_END", 3)


@pytest.mark.xfail(strict=True, reason=(
    "openr2 1.3.3 variant CN against itself: after DNIS digit 1 the backward side sends "
    "A-6 (send category) and then asks for ANI with A-1, which the forward side takes as "
    "'send next DNIS digit'; the backward side files the DNIS digits as ANI and the call "
    "is never offered (see tests/r2/README.md). China No.1 is checked against "
    "GF 002-9002 itself, not against openr2 CN."))
def test_cn_call_openr2_to_openr2(make_pair):
    fwd, bwd, _ = make_pair("CN", auto_answer=True, auto_clear=True)
    fwd.call("1234", "5678")
    try:
        offered = bwd.wait_event("OFFERED", 4)
    finally:
        fwd.hangup()
    assert (offered["dnis"], offered["ani"]) == ("1234", "5678")


def test_cn_digits_go_out_of_step(make_pair):
    """What openr2 CN-to-CN actually does, so a change in openr2 is noticed."""
    fwd, bwd, _ = make_pair("CN", auto_answer=True, auto_clear=True)
    fwd.call("1234", "5678")
    bwd.wait_event("CALL_INIT", 3)
    with pytest.raises(R2PeerError):
        bwd.wait_event("OFFERED", 2.5)
    dnis = [e["digit"] for _, e in bwd.history if e["event"] == "DNIS_DIGIT"]
    ani = [e["digit"] for _, e in bwd.history if e["event"] == "ANI_DIGIT"]
    assert dnis == ["1"]
    assert ani[:3] == ["2", "3", "4"]              # the rest of the DNIS, taken as ANI
    fwd.hangup()
    bwd.wait_event("CALL_END", 3)


@pytest.mark.parametrize("variant", ["BR", "MX"])
def test_other_variants_complete_a_call(make_pair, variant):
    """PEERS.md: BR and MX complete openr2-to-openr2 too (MX: no ANI is asked for)."""
    fwd, bwd, _ = make_pair(variant, auto_answer=True, auto_clear=True)
    fwd.call("1234", "5678")
    offered = bwd.wait_event("OFFERED", 6)
    assert offered["dnis"] == "1234"
    assert offered["ani"] == ("5678" if variant == "BR" else "-")
    fwd.wait_event("ANSWERED", 3)
    fwd.hangup()
    fwd.wait_event("CALL_END", 3)
    bwd.wait_event("CALL_END", 3)


def test_itu_backward_rejects_busy(make_pair):
    """Clearing an offered call with cause busy reaches the caller as group B busy."""
    fwd, bwd, _ = make_pair("ITU")
    fwd.call("1234", "5678")
    bwd.wait_event("OFFERED", 6)
    bwd.hangup("busy")
    assert fwd.wait_event("DISCONNECT", 3)["cause"] == "Busy_Number"
    fwd.hangup()                                   # clear-forward
    assert bwd.wait_event("DISCONNECT", 3)["cause"] == "Normal_Clearing"
    bwd.hangup()                                   # openr2 waits for the application
    fwd.wait_event("CALL_END", 3)
    bwd.wait_event("CALL_END", 3)
