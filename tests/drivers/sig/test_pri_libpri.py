"""Interop: our Q.921/Q.931 stacks (drivers/sig) against Debian's libpri 1.6 (tests/pri).

Our side is the real glue, :class:`drivers.sig.pri.PriSpan`, on a tiny span stand-in whose
``send_dframe()`` hands each frame to the :class:`~pri.peer.PriPeer` (which adds libpri's 2
FCS placeholder bytes); frames libpri sends come back as board ``DFrame`` events. libpri
runs on the wall clock, so our side passes ``time.monotonic()`` as ``now``, runs the due
timers on every pump and never waits longer than the next timer. Every wait is bounded.

Each scenario asserts on both sides: our channel events (``channel.*`` / ``span.*``) and
libpri's events as the harness reports them. Where libpri is off the standard the test
says so and checks our behaviour against Q.931 / Q.921 instead. What libpri 1.6 does that
these tests pin down (besides tests/pri/README.md's quirks):

- a RELEASE or RELEASE COMPLETE without a Cause IE (we put none where it is not the first
  clearing message, Q.931 3.1.9 / 3.1.10) reaches libpri's application as cause -1;
- libpri's CPE takes CONNECT ACKNOWLEDGE without reporting an event;
- libpri acknowledges a whole-interface RESTART (class 7) and reports it as channel -1;
- on a D-channel failure libpri clears the calls not Active with cause 27 once its own
  re-establishment has failed (5.8.9 says "cleared internally": we give 41), keeps Active
  ones under T309 and sends STATUS (cause 31) for them when the link is back;
- it answers STATUS ENQUIRY for a call reference it does not know with RELEASE COMPLETE
  cause 81, where 5.8.10 wants STATUS reporting the Null state.
"""
from __future__ import annotations

import time

import pytest

from drivers.board import DFrame
from drivers.sig import q921
from drivers.sig.pri import (CallAlerting, CallAnswered, CallCleared, CallDigits, CallOffered,
                             CallProceeding, ChannelsRestarted, DChannelDown, DChannelUp,
                             PriSpan)
from drivers.sig.q931_codec import MessageType as MT
from tests.pri.peer import B_CHANNELS, PriPeer, PriPeerUnavailable, harness_path

# Q.850 cause values.
NORMAL_CLEARING = 16
USER_BUSY = 17
DESTINATION_OUT_OF_ORDER = 27
TEMPORARY_FAILURE = 41
INVALID_CALL_REFERENCE = 81
NO_CAUSE = -1          # what libpri reports for a clearing message without a Cause IE

# Short timers where both sides allow them, so that the file stays within its time budget.
# libpri takes them in milliseconds, our stacks in seconds.
FAST_LIBPRI = {"T200": 400, "T203": 1000}
FAST_LAPD = {"t200": 0.4, "t203": 1.0, "n200": 3}


@pytest.fixture(scope="module", autouse=True)
def _harness():
    try:
        harness_path()
    except PriPeerUnavailable as exc:
        pytest.skip(str(exc))


class _Span:
    """What PriSpan needs of a board span: its number and ``send_dframe()``."""

    number = 1

    def __init__(self, peer: PriPeer):
        self.peer = peer
        self.sent: list[bytes] = []

    def send_dframe(self, data: bytes) -> None:
        self.sent.append(bytes(data))
        self.peer.send_frame(bytes(data))

    def messages_sent(self) -> list[str]:
        """Names of the Q.931 message types in the I frames we sent, in order."""
        names = []
        for frame in self.sent:
            f = q921.decode_frame(frame)
            if f.kind != "I":
                continue
            info = f.info
            mtype = info[2 + (info[1] & 0x0F)]
            names.append(MT(mtype).name)
        return names


class OurSide:
    """Our PriSpan in one role, coupled to one libpri peer on the wall clock.

    ``ours`` collects PriSpan's channel/span events, ``theirs`` the harness's events; the
    ``expect_*`` helpers pump both until a matching event shows up (and consume it) or
    the timeout passes.
    """

    def __init__(self, peer: PriPeer, side: str, *, lapd: dict | None = None,
                 timers: dict | None = None):
        self.peer = peer
        self.line = _Span(peer)
        self.pri = PriSpan(self.line, side, q921_options=lapd, q931_timers=timers)
        self.ours: list = []
        self.theirs: list[dict] = []
        self.tick = 0
        self.pri.start(self.now())

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def pump(self, timeout: float = 0.02) -> None:
        """One round: wait for libpri's frames (at most ``timeout``, never past our next
        timer), feed them with the due timers to PriSpan, collect both sides' events."""
        due = self.pri.next_timer()
        if due is not None:
            timeout = max(0.0, min(timeout, due - self.now()))
        frames = self.peer.recv_frames(timeout)
        self.tick += 1
        out = self.pri.handle(self.now(), self.tick,
                              [DFrame(self.tick, self.line.number, f) for f in frames])
        self.ours += out
        self.theirs += self.peer.events(0)

    def run(self, seconds: float) -> None:
        end = self.now() + seconds
        while self.now() < end:
            self.pump(min(0.02, max(0.0, end - self.now())))

    def until(self, cond, timeout: float, what: str):
        end = self.now() + timeout
        while True:
            got = cond()
            if got:
                return got
            if self.now() >= end:
                raise AssertionError(
                    f"no {what} within {timeout} s; ours: {self.ours[-10:]}; "
                    f"libpri: {self.theirs[-10:]}")
            self.pump(min(0.02, max(0.0, end - self.now())))

    # ---- our events --------------------------------------------------------------

    def _take_ours(self, cls, match):
        for ev in self.ours:
            if isinstance(ev, cls) and all(getattr(ev, k) == v for k, v in match.items()):
                self.ours.remove(ev)
                return ev
        return None

    def expect(self, cls, timeout: float = 5.0, **match):
        return self.until(lambda: self._take_ours(cls, match), timeout,
                          f"{cls.__name__} {match}")

    def expect_n(self, cls, n: int, timeout: float = 5.0, **match) -> list:
        got: list = []

        def more():
            ev = self._take_ours(cls, match)
            while ev is not None:
                got.append(ev)
                ev = self._take_ours(cls, match) if len(got) < n else None
            return len(got) >= n
        self.until(more, timeout, f"{n} x {cls.__name__} {match} (got {len(got)})")
        return got

    def none_of(self, cls, **match) -> list:
        return [ev for ev in self.ours
                if isinstance(ev, cls) and all(getattr(ev, k) == v for k, v in match.items())]

    # ---- libpri's events -----------------------------------------------------------

    def _take_theirs(self, kind, match):
        for ev in self.theirs:
            if ev["event"] == kind and all(ev.get(k) == v for k, v in match.items()):
                self.theirs.remove(ev)
                return ev
        return None

    def peer_expect(self, kind: str, timeout: float = 5.0, **match) -> dict:
        return self.until(lambda: self._take_theirs(kind, match), timeout, f"libpri {kind} {match}")

    def peer_status(self) -> dict:
        self.peer.command("status")
        return self.peer_expect("STATUS", 2.0)

    def request(self, line: str) -> dict:
        """A harness command; its OK comes back as an event among the others."""
        name = line.split()[0]
        self.peer.command(line)
        reply = self.until(lambda: next((e for e in self.theirs if e.get("cmd") == name
                                         and e["event"] in ("OK", "ERROR")), None),
                           5.0, f"reply to {line!r}")
        self.theirs.remove(reply)
        assert reply["event"] == "OK", reply
        return reply

    def peer_call(self, chan: int, called: str, calling: str = "-", overlap: bool = False) -> int:
        line = f"call {chan} {called} {calling}" + (" overlap" if overlap else "")
        return int(self.request(line)["callid"])

    # ---- lifecycle ------------------------------------------------------------------

    def wait_up(self) -> None:
        self.expect(DChannelUp, 5.0)
        self.peer_expect("UP", 5.0)

    def assert_idle(self) -> None:
        """No call left and every B-channel free, on both sides."""
        assert self.pri.q931.calls == {}
        assert len(self.pri.q931.free_channels()) == 30
        st = self.peer_status()
        assert st["calls"] == 0, st
        assert self.pri.q931.counters["internal_errors"] == 0
        # nothing libpri sent needed a 5.8 error answer from us
        assert self.pri.q931.counters["protocol_errors"] == {}, self.pri.q931.counters
        # ... and nothing we sent made libpri complain
        complaints = [e for _, e in self.peer.history if e["event"] in ("ERROR", "LIBPRI_ERROR")]
        assert not complaints, complaints


@pytest.fixture
def make_side():
    made: list[OurSide] = []

    def start(role: str, peer_opts: dict | None = None, *, lapd: dict | None = None,
              timers: dict | None = None) -> OurSide:
        """``role`` is OUR side's role; libpri takes the other one."""
        peer = PriPeer("cpe" if role == "network" else "network", **(peer_opts or {}))
        side = OurSide(peer, role, lapd=lapd, timers=timers)
        made.append(side)
        side.wait_up()
        return side

    yield start
    for side in made:
        side.peer.close()


# ---- 1. thirty simultaneous calls from libpri's network to our user side ---------------


def test_thirty_calls_from_libpri_network_answered_and_cleared(make_side):
    s = make_side("user", {"auto_hangup_ack": True})
    t0 = time.monotonic()
    callids = {chan: s.peer_call(chan, f"4000{chan:02d}", f"1390000{chan:02d}")
               for chan in B_CHANNELS}
    offered = {ev.timeslot: ev for ev in s.expect_n(CallOffered, 30)}
    assert sorted(offered) == list(B_CHANNELS)
    for chan, ev in offered.items():
        assert (ev.dnis, ev.ani, ev.sending_complete) == (f"4000{chan:02d}", f"1390000{chan:02d}",
                                                          True)
    assert len({ev.call for ev in offered.values()}) == 30
    now = s.now()
    for ev in offered.values():
        s.pri.proceeding(now, ev.call)
        s.pri.alerting(now, ev.call)
        s.pri.answer(now, ev.call)
    for chan, callid in callids.items():
        assert s.peer_expect("PROCEEDING", callid=callid)["chan"] == chan
        s.peer_expect("RINGING", callid=callid)
        assert s.peer_expect("ANSWER", callid=callid)["chan"] == chan
    answered = s.expect_n(CallAnswered, 30)
    assert {ev.timeslot for ev in answered} == set(B_CHANNELS)
    assert all(st["state"] == "ACTIVE" for st in s.pri.calls().values())
    assert s.pri.q931.free_channels() == ()

    # Clear: the lower half from our side, the upper half from libpri's, all cause 16.
    ours_clear, theirs_clear = B_CHANNELS[:15], B_CHANNELS[15:]
    now = s.now()
    for chan in ours_clear:
        s.pri.hangup(now, offered[chan].call, NORMAL_CLEARING)
    for chan in theirs_clear:
        s.request(f"hangup {callids[chan]} {NORMAL_CLEARING}")
    cleared = {ev.timeslot: ev for ev in s.expect_n(CallCleared, 30)}
    assert sorted(cleared) == list(B_CHANNELS)
    for chan, ev in cleared.items():
        assert ev.cause == NORMAL_CLEARING and ev.call == offered[chan].call
        assert ev.remote == (chan in theirs_clear)
    for chan in ours_clear:
        # DISCONNECT from us; libpri (auto hangup ack) answers RELEASE, we RELEASE COMPLETE.
        # That RELEASE COMPLETE carries no Cause: it is mandatory only in the first clearing
        # message (Q.931 3.1.10, table 3-11), so libpri reports cause -1.
        assert s.peer_expect("HANGUP_REQ", callid=callids[chan])["cause"] == NORMAL_CLEARING
        assert s.peer_expect("HANGUP_ACK", callid=callids[chan])["cause"] == NO_CAUSE
    for chan in theirs_clear:
        # libpri's DISCONNECT, our RELEASE (no Cause either: not the first clearing
        # message, Q.931 3.1.9 table 3-10); libpri reports HANGUP to the clearing side.
        assert s.peer_expect("HANGUP", callid=callids[chan])["cause"] == NO_CAUSE
    s.assert_idle()
    assert time.monotonic() - t0 < 10


# ---- 2. our network side offers calls to libpri's CPE ---------------------------------


def test_our_network_calls_libpri_cpe_cleared_from_both_sides(make_side):
    s = make_side("network", {"auto_answer": True, "auto_hangup_ack": True})
    now = s.now()
    first = s.pri.place_call(now, "5551234", "88001", timeslot=3, exclusive=True)
    second = s.pri.place_call(now, "5555678", "88002")     # the network picks the channel
    rings = {}
    for call, called, calling in ((first, "5551234", "88001"), (second, "5555678", "88002")):
        ring = s.peer_expect("RING", called=called)
        assert (ring["calling"], ring["complete"], ring["exclusive"]) == (calling, 1, 1)
        rings[call] = ring
        s.expect(CallProceeding, call=call)
        s.expect(CallAlerting, call=call)
        s.expect(CallAnswered, call=call)
    # We sent CONNECT ACKNOWLEDGE for both (Q.931 5.2.8); libpri's CPE takes it without
    # reporting an event.
    assert s.line.messages_sent().count("CONNECT_ACKNOWLEDGE") == 2
    assert rings[first]["chan"] == 3
    assert rings[second]["chan"] in B_CHANNELS and rings[second]["chan"] != 3
    assert s.pri.calls()[second]["timeslot"] == rings[second]["chan"]

    # Cleared from our side: DISCONNECT 16; libpri RELEASE, we RELEASE COMPLETE.
    s.pri.hangup(s.now(), first, NORMAL_CLEARING)
    ev = s.expect(CallCleared, call=first)
    assert (ev.cause, ev.remote, ev.timeslot) == (NORMAL_CLEARING, False, 3)
    assert s.peer_expect("HANGUP_REQ", callid=rings[first]["callid"])["cause"] == NORMAL_CLEARING
    s.peer_expect("HANGUP_ACK", callid=rings[first]["callid"])

    # Cleared from libpri's side: its DISCONNECT 16, our RELEASE, its RELEASE COMPLETE.
    s.request(f"hangup {rings[second]['callid']} {NORMAL_CLEARING}")
    ev = s.expect(CallCleared, call=second)
    assert (ev.cause, ev.remote, ev.timeslot) == (NORMAL_CLEARING, True, rings[second]["chan"])
    s.peer_expect("HANGUP", callid=rings[second]["callid"])
    s.assert_idle()


# ---- 3. overlap dialling both ways -----------------------------------------------------


def test_overlap_receiving_from_libpri_network(make_side):
    s = make_side("user", {"auto_hangup_ack": True})
    callid = s.peer_call(4, "02", "6001", overlap=True)
    offered = s.expect(CallOffered)
    assert (offered.timeslot, offered.dnis, offered.ani, offered.sending_complete) == \
        (4, "02", "6001", False)
    # PriSpan answers an incomplete number with SETUP ACKNOWLEDGE (Q.931 5.2.4).
    assert s.peer_expect("SETUP_ACK", callid=callid)["chan"] == 4
    assert s.pri.calls()[offered.call]["state"] == "OVERLAP_RECEIVING"
    s.request(f"info {callid} 1234")
    digits = s.expect_n(CallDigits, 4, call=offered.call)
    assert "".join(d.digits for d in digits) == "1234"
    assert all(d.timeslot == 4 and not d.sending_complete for d in digits)
    now = s.now()
    s.pri.proceeding(now, offered.call)
    s.pri.answer(now, offered.call)
    s.peer_expect("PROCEEDING", callid=callid)
    assert s.peer_expect("ANSWER", callid=callid)["chan"] == 4
    s.expect(CallAnswered, call=offered.call)
    s.pri.hangup(s.now(), offered.call, NORMAL_CLEARING)
    assert s.expect(CallCleared, call=offered.call).cause == NORMAL_CLEARING
    assert s.peer_expect("HANGUP_REQ", callid=callid)["cause"] == NORMAL_CLEARING
    s.peer_expect("HANGUP_ACK", callid=callid)
    s.assert_idle()


def test_overlap_sending_to_libpri_network(make_side):
    s = make_side("user", {"auto_answer": True, "auto_hangup_ack": True})
    call = s.pri.place_call(s.now(), "07", "6002", overlap=True)   # any channel
    # Dialled before libpri's SETUP ACKNOWLEDGE: PriSpan holds them until it comes
    # (Q.931 5.1.3: INFORMATION only in Overlap sending).
    s.pri.send_digits(s.now(), call, "5")
    s.pri.send_digits(s.now(), call, "5")
    ring = s.peer_expect("RING")
    assert (ring["called"], ring["calling"], ring["complete"], ring["chan"]) == ("07", "6002", 0, 0)
    # libpri's SETUP ACKNOWLEDGE names the channel it picked.
    s.until(lambda: s.pri.calls()[call]["state"] == "OVERLAP_SENDING", 5.0, "SETUP ACKNOWLEDGE")
    chan = s.pri.calls()[call]["timeslot"]
    assert chan in B_CHANNELS
    first = s.peer_expect("INFO", callid=ring["callid"])
    s.pri.send_digits(s.now(), call, "31", complete=True)
    second = s.peer_expect("INFO", callid=ring["callid"])
    assert (first["digits"], first["complete"]) == ("55", 0)
    assert (second["digits"], second["complete"]) == ("31", 1)
    # Sending Complete: libpri (auto answer) sends CALL PROCEEDING, ALERTING, CONNECT.
    assert s.expect(CallProceeding, call=call).timeslot == chan
    s.expect(CallAlerting, call=call)
    s.expect(CallAnswered, call=call)
    assert s.pri.q931.calls[call].called == "075531"
    s.request(f"hangup {ring['callid']} {NORMAL_CLEARING}")
    ev = s.expect(CallCleared, call=call)
    assert (ev.cause, ev.remote, ev.timeslot) == (NORMAL_CLEARING, True, chan)
    s.peer_expect("HANGUP", callid=ring["callid"])
    s.assert_idle()


# ---- 4. rejection with cause 17 --------------------------------------------------------


def test_we_reject_libpri_call_with_user_busy(make_side):
    s = make_side("user", {"auto_hangup_ack": True})
    callid = s.peer_call(9, "4711", "6003")
    offered = s.expect(CallOffered)
    s.pri.reject(s.now(), offered.call, USER_BUSY)      # RELEASE COMPLETE, cause 17
    ev = s.expect(CallCleared, call=offered.call)
    assert (ev.cause, ev.remote, ev.timeslot) == (USER_BUSY, False, 9)
    assert s.peer_expect("HANGUP", callid=callid)["cause"] == USER_BUSY
    s.assert_idle()


@pytest.mark.parametrize("role", ["user", "network"])
def test_libpri_rejects_our_call_with_user_busy(make_side, role):
    s = make_side(role, {"auto_reject": USER_BUSY, "auto_hangup_ack": True})
    call = s.pri.place_call(s.now(), "4712", "6004", timeslot=11, exclusive=True)
    ring = s.peer_expect("RING", chan=11)
    # libpri cannot clear an unanswered incoming call with DISCONNECT (README quirks):
    # the harness sends CALL PROCEEDING first, then DISCONNECT cause 17.
    s.expect(CallProceeding, call=call)
    ev = s.expect(CallCleared, call=call)
    assert (ev.cause, ev.remote, ev.timeslot) == (USER_BUSY, True, 11)
    assert s.peer_expect("HANGUP", callid=ring["callid"])["cause"] == NO_CAUSE
    s.assert_idle()


# ---- 5. RESTART of a channel and of the whole interface -------------------------------


def _active_call_from_libpri(s: OurSide, chan: int) -> tuple[int, int]:
    """libpri calls us on ``chan``, we answer: (our call, libpri's callid), both Active."""
    callid = s.peer_call(chan, f"77{chan:02d}", "6010")
    offered = s.expect(CallOffered, timeslot=chan)
    s.pri.answer(s.now(), offered.call)
    s.peer_expect("ANSWER", callid=callid)
    if s.pri.side == "user":
        s.expect(CallAnswered, call=offered.call)   # on CONNECT ACKNOWLEDGE
    assert s.pri.calls()[offered.call]["state"] == "ACTIVE"
    return offered.call, callid


@pytest.mark.parametrize("role", ["user", "network"])
def test_restart_channel_and_interface_both_ways(make_side, role):
    s = make_side(role, {"auto_hangup_ack": True})
    calls = {chan: _active_call_from_libpri(s, chan) for chan in (5, 6, 7, 8)}

    # Ours -> libpri, one channel (class 0): the call on it is cleared internally, cause 41.
    s.pri.restart(s.now(), (5,))
    assert 5 not in s.pri.q931.free_channels()        # out of service until acknowledged
    ev = s.expect(CallCleared, call=calls[5][0])
    assert (ev.cause, ev.remote, ev.timeslot) == (TEMPORARY_FAILURE, False, 5)
    assert s.peer_expect("RESTART")["chan"] == 5
    assert s.peer_expect("CALL_FREED", callid=calls[5][1])["chan"] == 5
    assert s.expect(ChannelsRestarted, remote=False).timeslots == (5,)
    assert 5 in s.pri.q931.free_channels()

    # libpri -> ours, one channel: we clear the call on it and acknowledge.
    s.request("restart 6")
    assert s.expect(ChannelsRestarted, remote=True).timeslots == (6,)
    ev = s.expect(CallCleared, call=calls[6][0])
    assert (ev.cause, ev.remote, ev.timeslot) == (TEMPORARY_FAILURE, True, 6)
    assert s.peer_expect("RESTART_ACK")["chan"] == 6
    assert s.peer_expect("CALL_FREED", callid=calls[6][1])["chan"] == 6

    # Ours -> libpri, the whole interface (class 7; libpri cannot send one itself).
    s.pri.restart(s.now())
    assert s.pri.q931.free_channels() == ()
    cleared = s.expect_n(CallCleared, 2)
    assert {(ev.call, ev.cause, ev.remote) for ev in cleared} == \
        {(calls[7][0], TEMPORARY_FAILURE, False), (calls[8][0], TEMPORARY_FAILURE, False)}
    assert s.peer_expect("RESTART")["chan"] == 0      # libpri: channel -1 = all
    freed = {s.peer_expect("CALL_FREED")["callid"] for _ in range(2)}
    assert freed == {calls[7][1], calls[8][1]}
    assert s.expect(ChannelsRestarted, remote=False).timeslots == ()
    assert len(s.pri.q931.free_channels()) == 30

    # libpri -> ours, "restart 0": every B-channel in turn, each acknowledged.
    s.request("restart 0")
    assert s.peer_expect("RESTART_ACK", 10.0, chan=0)["channels"] == 30
    restarted = s.expect_n(ChannelsRestarted, 30, remote=True)
    assert sorted(ev.timeslots[0] for ev in restarted) == list(B_CHANNELS)
    assert not s.none_of(CallCleared)
    s.assert_idle()


# ---- 6. D-channel failure mid-call -----------------------------------------------------


def _calls_in_four_states(s: OurSide) -> dict[str, tuple[int, int]]:
    """Two Active calls (one each way), one incoming Call Received, one outgoing Outgoing
    Call Proceeding: name -> (our call, libpri's callid)."""
    calls = {"active_in": _active_call_from_libpri(s, 1)}
    call = s.pri.place_call(s.now(), "9002", "6020", timeslot=2, exclusive=True)
    ring = s.peer_expect("RING", chan=2)
    s.request(f"answer {ring['callid']}")
    s.expect(CallAnswered, call=call)
    calls["active_out"] = (call, ring["callid"])
    callid = s.peer_call(3, "9003", "6030")
    offered = s.expect(CallOffered, timeslot=3)
    s.pri.alerting(s.now(), offered.call)
    s.peer_expect("RINGING", callid=callid)
    calls["alerting_in"] = (offered.call, callid)
    call = s.pri.place_call(s.now(), "9004", "6040", timeslot=4, exclusive=True)
    ring = s.peer_expect("RING", chan=4)
    s.request(f"proceeding {ring['callid']}")
    s.expect(CallProceeding, call=call)
    calls["proceeding_out"] = (call, ring["callid"])
    states = {name: s.pri.calls()[ours]["state"] for name, (ours, _) in calls.items()}
    assert states == {"active_in": "ACTIVE", "active_out": "ACTIVE",
                      "alerting_in": "CALL_RECEIVED", "proceeding_out": "OUTGOING_CALL_PROCEEDING"}
    return calls


def _fail_dchannel(s: OurSide, calls: dict, *, until_libpri_t309: bool = False) -> None:
    """Cut the D-channel (libpri drops every frame both ways) until both Q.931 entities
    have been told (Q.921 gave up re-establishing), then mend it. Checks how each side
    cleared the calls that were not Active."""
    t0 = time.monotonic()
    s.request("drop")
    # Ours: T203 (1 s), N200 enquiries T200 apart, then N200 SABMEs: DL-RELEASE.
    down = s.expect(DChannelDown, 6.0)
    assert down.reason == "N200 retries"
    assert time.monotonic() - t0 > 1.0 + 2 * 3 * 0.4 - 0.2
    # Q.931 5.8.9: calls not Active are cleared internally (we give cause 41, temporary
    # failure); Active ones are kept under T309.
    cleared = {ev.call: ev for ev in s.expect_n(CallCleared, 2)}
    for name in ("alerting_in", "proceeding_out"):
        ev = cleared[calls[name][0]]
        assert (ev.cause, ev.remote) == (TEMPORARY_FAILURE, False)
    # libpri reports the loss (DOWN) but tells its Q.931 only when its own re-establishment
    # has failed; then it clears the calls not Active with cause 27 (destination out of
    # order) and starts T309 for the Active ones.
    s.peer_expect("DOWN", 6.0)
    for name in ("alerting_in", "proceeding_out"):
        assert s.peer_expect("HANGUP", 6.0, callid=calls[name][1])["cause"] == DESTINATION_OUT_OF_ORDER
    if until_libpri_t309:
        # libpri's T309 runs out before the link is back: it clears its Active calls too,
        # cause 27 as 5.8.9 says; ours (T309 = 90 s) are still kept.
        for name in ("active_in", "active_out"):
            assert s.peer_expect("HANGUP", 4.0, callid=calls[name][1])["cause"] == DESTINATION_OUT_OF_ORDER
    assert not s.none_of(CallCleared)
    s.request("undrop")
    s.expect(DChannelUp, 3.0)
    s.peer_expect("UP", 3.0)


def test_dchannel_failure_active_calls_survive(make_side):
    s = make_side("user", {"auto_hangup_ack": True, "timers": FAST_LIBPRI}, lapd=FAST_LAPD)
    calls = _calls_in_four_states(s)
    _fail_dchannel(s, calls)
    # 5.8.9: on re-establishment we stop T309 and check each Active call with STATUS
    # ENQUIRY; libpri answers STATUS (state 10) and the calls go on.
    s.run(1.0)
    assert {c: st["state"] for c, st in s.pri.calls().items()} == \
        {calls["active_in"][0]: "ACTIVE", calls["active_out"][0]: "ACTIVE"}
    assert not s.none_of(CallCleared)
    assert s.pri.q931.counters["protocol_errors"] == {}
    st = s.peer_status()
    assert st["calls"] == 2 and st["link"] == "up"
    # ... and clear normally, one from each side.
    s.pri.hangup(s.now(), calls["active_in"][0], NORMAL_CLEARING)
    assert s.peer_expect("HANGUP_REQ", callid=calls["active_in"][1])["cause"] == NORMAL_CLEARING
    s.request(f"hangup {calls['active_out'][1]} {NORMAL_CLEARING}")
    ev = s.expect(CallCleared, call=calls["active_out"][0])
    assert (ev.cause, ev.remote, ev.timeslot) == (NORMAL_CLEARING, True, 2)
    ev = s.expect(CallCleared, call=calls["active_in"][0])
    assert (ev.cause, ev.remote, ev.timeslot) == (NORMAL_CLEARING, False, 1)
    s.assert_idle()


def test_dchannel_failure_outlasting_libpri_t309(make_side):
    s = make_side("user", {"auto_hangup_ack": True, "timers": {**FAST_LIBPRI, "T309": 1000}},
                  lapd=FAST_LAPD)
    calls = _calls_in_four_states(s)
    _fail_dchannel(s, calls, until_libpri_t309=True)
    # Our STATUS ENQUIRY after re-establishment (5.8.9) finds the calls gone on libpri's
    # side. libpri off the standard: for a call reference it does not know it answers
    # RELEASE COMPLETE cause 81 (the 5.8.3.2 a) answer to other messages), where 5.8.10
    # wants STATUS reporting the Null state (which we would take as 5.8.11 c) says, cause
    # 41). Either way our calls go: here with libpri's cause 81.
    cleared = {ev.call: ev for ev in s.expect_n(CallCleared, 2, 3.0)}
    for name, chan in (("active_in", 1), ("active_out", 2)):
        ev = cleared[calls[name][0]]
        assert (ev.cause, ev.remote, ev.timeslot) == (INVALID_CALL_REFERENCE, True, chan)
    assert s.line.messages_sent().count("STATUS_ENQUIRY") >= 2
    s.assert_idle()
