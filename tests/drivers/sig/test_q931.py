"""Q.931 call control (drivers/sig/q931.py): a NETWORK stack and a USER stack back to back,
driven with bytes and a fake clock only (messages_to_send of one into receive of the other,
handle_timer when due)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drivers.sig import q931_codec as codec
from drivers.sig.q931 import (CallAlerting, CallAnswered, CallCleared, CallOffered, CallProceeding,
                              CallState, ChannelsRestarted, DigitsReceived, ProtocolError, Q931,
                              Q931Error, RestartAcknowledged, SetupAcknowledged, Side)
from drivers.sig.q931_codec import MessageType as MT

SPAN = tuple(c for c in range(1, 32) if c != 16)


class Pair:
    """A network and a user Q.931 on one (lossless unless told) D-channel, with a fake clock."""

    def __init__(self, net_channels=SPAN, user_channels=SPAN, timers=None):
        self.now = 0.0
        self.net = Q931(Side.NETWORK, channels=net_channels, timers=timers)
        self.user = Q931(Side.USER, channels=user_channels, timers=timers)
        self.events = {"net": [], "user": []}
        self.sent = {"net": [], "user": []}       # decoded messages each side sent
        self.link = True
        self.drop = set()                          # "net"/"user": drop what that side sends
        self.net.link_established(0.0)
        self.user.link_established(0.0)

    def side(self, name):
        return self.net if name == "net" else self.user

    def pump(self):
        for _ in range(100):
            moved = False
            for a, b in (("net", "user"), ("user", "net")):
                for data in self.side(a).messages_to_send():
                    moved = True
                    d = codec.decode(data)
                    self.sent[a].append(d.message)
                    if self.link and a not in self.drop:
                        self.side(b).receive(self.now, data)
            for name in ("net", "user"):
                while (ev := self.side(name).next_event()) is not None:
                    moved = True
                    self.events[name].append(ev)
            if not moved:
                return
        raise AssertionError("message ping-pong does not settle")

    def advance(self, seconds):
        """Move the clock, running every timer that falls due on the way."""
        end = self.now + seconds
        while True:
            due = [t for t in (self.net.get_timer(), self.user.get_timer()) if t is not None and t <= end]
            if not due:
                break
            self.now = max(self.now, min(due))
            for q in (self.net, self.user):
                t = q.get_timer()
                if t is not None and t <= self.now:
                    q.handle_timer(self.now)
            self.pump()
        self.now = end
        self.pump()

    def of(self, name, cls, **match):
        return [e for e in self.events[name] if isinstance(e, cls)
                and all(getattr(e, k) == v for k, v in match.items())]

    def sent_types(self, name):
        return [m.type for m in self.sent[name] if m is not None]

    def clear_log(self):
        self.events = {"net": [], "user": []}
        self.sent = {"net": [], "user": []}


@pytest.fixture
def pair():
    return Pair()


def offer_to_user(p, **kw):
    call = p.net.setup(p.now, called=kw.pop("called", "4008001234"), calling=kw.pop("calling", "13800138000"), **kw)
    p.pump()
    offered = p.of("user", CallOffered)[-1]
    return call, offered.call


def active_call_net_to_user(p):
    n, u = offer_to_user(p)
    p.user.proceeding(p.now, u)
    p.user.alerting(p.now, u)
    p.user.answer(p.now, u)
    p.pump()
    assert p.net.call_state(n) == p.user.call_state(u) == CallState.ACTIVE
    return n, u


def assert_idle(p):
    assert p.net.calls == {} and p.user.calls == {}
    assert p.net.free_channels() == p.net.channels and p.user.free_channels() == p.user.channels
    assert p.net.get_timer() is None and p.user.get_timer() is None


# ---- basic call flows ---------------------------------------------------------------


def test_network_offers_en_bloc_user_answers_user_clears(pair):
    p = pair
    n, u = offer_to_user(p)
    off = p.of("user", CallOffered)[0]
    assert (off.called, off.calling, off.sending_complete, off.channel) == ("4008001234", "13800138000", True, 1)
    assert p.user.call_state(u) == CallState.CALL_PRESENT and p.net.call_state(n) == CallState.CALL_PRESENT
    p.user.proceeding(p.now, u)
    p.user.alerting(p.now, u)
    p.pump()
    assert p.of("net", CallProceeding, call=n, channel=1) and p.of("net", CallAlerting, call=n)
    assert p.net.call_state(n) == CallState.CALL_RECEIVED
    p.user.answer(p.now, u)
    assert p.user.call_state(u) == CallState.CONNECT_REQUEST
    p.pump()
    assert p.of("net", CallAnswered, call=n) and p.of("user", CallAnswered, call=u)
    assert p.sent_types("net")[-1] == MT.CONNECT_ACKNOWLEDGE
    p.user.hangup(p.now, u)
    p.pump()
    assert p.sent_types("user")[-2:] == [MT.DISCONNECT, MT.RELEASE_COMPLETE]
    assert p.sent_types("net")[-1] == MT.RELEASE
    assert p.of("net", CallCleared, call=n)[0] == CallCleared(n, 16, 0, True, 1)
    assert p.of("user", CallCleared, call=u)[0] == CallCleared(u, 16, 0, False, 1)
    assert_idle(p)


def test_user_places_en_bloc_network_answers_and_clears(pair):
    p = pair
    u = p.user.setup(p.now, called="110", calling="4008001234", calling_presentation=1, display=None)
    p.pump()
    off = p.of("net", CallOffered)[0]
    n = off.call
    assert (off.called, off.calling, off.calling_presentation, off.channel) == ("110", "4008001234", 1, 1)
    assert p.net.call_state(n) == CallState.CALL_INITIATED
    p.net.proceeding(p.now, n)
    p.net.alerting(p.now, n, inband=True)
    p.pump()
    assert p.of("user", CallProceeding, call=u, channel=1) and p.of("user", CallAlerting, call=u, inband=True)
    assert p.user.call_state(u) == CallState.CALL_DELIVERED and p.net.call_state(n) == CallState.CALL_DELIVERED
    p.net.answer(p.now, n)
    p.pump()
    assert p.of("net", CallAnswered, call=n) and p.of("user", CallAnswered, call=u)
    assert p.user.call_state(u) == p.net.call_state(n) == CallState.ACTIVE
    p.net.hangup(p.now, n, cause=16)
    p.pump()
    assert p.of("user", CallCleared, call=u)[0].remote and p.of("user", CallCleared, call=u)[0].cause == 16
    assert not p.of("net", CallCleared, call=n)[0].remote
    assert_idle(p)


def test_user_overlap_sending(pair):
    p = pair
    u = p.user.setup(p.now, called="40", sending_complete=False)
    p.pump()
    off = p.of("net", CallOffered)[0]
    assert not off.sending_complete and off.called == "40"
    p.net.setup_acknowledge(p.now, off.call)
    p.pump()
    assert p.of("user", SetupAcknowledged, call=u, channel=1)
    assert p.user.call_state(u) == CallState.OVERLAP_SENDING
    assert p.net.call_state(off.call) == CallState.OVERLAP_SENDING
    p.user.information(p.now, u, "0800")
    p.advance(10)                                  # inside T302 (15 s): restarted by INFORMATION
    p.user.information(p.now, u, "1234", sending_complete=True)
    p.pump()
    assert [(e.digits, e.sending_complete) for e in p.of("net", DigitsReceived)] == [("0800", False), ("1234", True)]
    assert p.net.calls[off.call].called == "4008001234"
    p.net.proceeding(p.now, off.call)
    p.net.answer(p.now, off.call)
    p.pump()
    assert p.user.call_state(u) == CallState.ACTIVE
    p.user.hangup(p.now, u)
    p.pump()
    assert_idle(p)


def test_network_overlap_sending_to_user(pair):
    p = pair
    n = p.net.setup(p.now, called="4", sending_complete=False)
    p.pump()
    u = p.of("user", CallOffered)[0].call
    p.user.setup_acknowledge(p.now, u)
    p.pump()
    assert p.net.call_state(n) == CallState.OVERLAP_RECEIVING and p.user.call_state(u) == CallState.OVERLAP_RECEIVING
    p.net.information(p.now, n, "001", sending_complete=True)
    p.pump()
    assert p.of("user", DigitsReceived, call=u, digits="001", sending_complete=True)
    p.user.alerting(p.now, u)
    p.user.answer(p.now, u)
    p.pump()
    assert p.net.call_state(n) == p.user.call_state(u) == CallState.ACTIVE
    p.net.hangup(p.now, n)
    p.pump()
    assert_idle(p)


def test_overlap_receiving_t302_clears_with_cause_28(pair):
    p = pair
    u = p.user.setup(p.now, called="4", sending_complete=False)
    p.pump()
    p.net.setup_acknowledge(p.now, p.of("net", CallOffered)[0].call)
    p.pump()
    p.advance(16)
    assert p.of("user", CallCleared, call=u, cause=28, remote=True)
    assert_idle(p)


def test_t304_clears_overlap_sending_when_the_number_never_completes(pair):
    p = pair
    u = p.user.setup(p.now, called="4", sending_complete=False)
    p.pump()
    n = p.of("net", CallOffered)[0].call
    p.net.setup_acknowledge(p.now, n)
    p.pump()
    p.drop.add("user")                             # INFORMATION and all else from the user lost
    p.user.information(p.now, u, "1")
    p.advance(30.5)                                # user T304 (30 s) before network T302? no: T302 15 s
    assert p.of("user", CallCleared, call=u)       # someone cleared it; nothing left
    p.drop.clear()
    p.advance(300)
    p.user.hangup(p.now, u)
    p.net.calls and p.net.hangup(p.now, n)
    p.advance(300)
    assert_idle(p)


def test_reject_with_cause_17_reaches_the_caller(pair):
    p = pair
    n, u = offer_to_user(p)
    p.user.reject(p.now, u, 17)
    p.pump()
    assert p.sent_types("user") == [MT.RELEASE_COMPLETE]
    assert p.of("net", CallCleared, call=n)[0] == CallCleared(n, 17, 0, True, 1)
    assert p.of("user", CallCleared, call=u, cause=17, remote=False)
    assert_idle(p)
    # and the other way: the network rejects the user's call
    u2 = p.user.setup(p.now, called="1")
    p.pump()
    p.net.reject(p.now, p.of("net", CallOffered)[-1].call, 17)
    p.pump()
    assert p.of("user", CallCleared, call=u2)[0] == CallCleared(u2, 17, 2, True, None)
    assert_idle(p)


def test_hangup_before_answer_from_the_caller(pair):
    p = pair
    n, u = offer_to_user(p)
    p.user.alerting(p.now, u)
    p.pump()
    p.net.hangup(p.now, n, cause=16)
    p.pump()
    assert p.of("user", CallCleared, call=u, cause=16, remote=True)
    assert_idle(p)


def test_clear_collision_both_send_disconnect(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    p.net.hangup(p.now, n, 16)
    p.user.hangup(p.now, u, 31)                    # crossing DISCONNECTs (5.3.5)
    p.pump()
    assert p.of("net", CallCleared, call=n, cause=16, remote=False)
    assert p.of("user", CallCleared, call=u, cause=31, remote=False)
    assert_idle(p)


def test_requests_on_gone_calls_are_ignored_wrong_state_raises(pair):
    p = pair
    n, u = offer_to_user(p)
    with pytest.raises(Q931Error):
        p.net.answer(p.now, n)                     # the caller cannot answer its own call
    with pytest.raises(Q931Error):
        p.user.information(p.now, u, "1")
    with pytest.raises(Q931Error):
        p.user.answer(p.now, 999)
    p.user.reject(p.now, u, 21)
    p.pump()
    p.user.answer(p.now, u)                        # gone already: a race, ignored and counted
    p.user.hangup(p.now, u)
    assert p.user.counters["stale_requests"] == 2


# ---- channels, congestion, glare ----------------------------------------------------


def test_thirty_calls_fill_the_span_and_the_31st_is_refused_with_34(pair):
    p = pair
    calls = [active_call_net_to_user(p) for _ in range(30)]
    assert sorted(p.of("user", CallOffered)[i].channel for i in range(30)) == list(SPAN)
    assert p.net.free_channels() == () and p.user.free_channels() == ()
    extra = p.net.setup(p.now, called="1")
    p.pump()
    assert p.of("net", CallCleared, call=extra)[0] == CallCleared(extra, 34, 2, False, None)
    assert p.net.counters["congestion"] == 1
    up = p.user.setup(p.now, called="2")
    assert p.of("user", CallCleared) == [] and p.user.next_event() == CallCleared(up, 34, 0, False, None)
    for n, u in calls:
        p.net.hangup(p.now, n)
    p.pump()
    assert_idle(p)


def test_network_refuses_user_call_with_34_when_its_channels_are_busy():
    p = Pair(net_channels=(1, 2))
    a = p.user.setup(p.now, called="1")
    b = p.user.setup(p.now, called="2")
    c = p.user.setup(p.now, called="3")
    p.pump()
    assert len(p.of("net", CallOffered)) == 2
    assert p.of("user", CallCleared, call=c)[0] == CallCleared(c, 34, 2, True, None)
    assert p.net.counters["congestion"] == 1
    assert p.user.call_state(a) == p.user.call_state(b) == CallState.CALL_INITIATED


def test_user_preferred_channel_is_honoured_when_free(pair):
    p = pair
    u = p.user.setup(p.now, called="1", channel=7)
    p.pump()
    assert p.of("net", CallOffered)[0].channel == 7
    p.net.proceeding(p.now, p.of("net", CallOffered)[0].call)
    p.pump()
    assert p.of("user", CallProceeding, call=u, channel=7)


def test_glare_network_wins_user_preferred_gets_another_channel(pair):
    p = pair
    n = p.net.setup(p.now, called="1", channel=5, exclusive=True)
    u = p.user.setup(p.now, called="2", channel=5)            # both pick 5 at the same instant
    p.pump()
    offered_user = p.of("user", CallOffered)[0]
    offered_net = p.of("net", CallOffered)[0]
    assert offered_user.channel == 5                          # the network's choice wins
    assert offered_net.channel != 5
    p.net.proceeding(p.now, offered_net.call)
    p.pump()
    assert p.of("user", CallProceeding, call=u, channel=offered_net.channel)
    assert p.user.calls[u].channel == offered_net.channel and p.user.calls[offered_user.call].channel == 5
    assert p.net.calls[n].channel == 5


def test_glare_user_exclusive_is_cleared_with_44(pair):
    p = pair
    p.net.setup(p.now, called="1", channel=5, exclusive=True)
    u = p.user.setup(p.now, called="2", channel=5, exclusive=True)
    p.pump()
    assert p.of("user", CallOffered)[0].channel == 5
    assert p.of("user", CallCleared, call=u)[0] == CallCleared(u, 44, 2, True, None)
    assert p.net.counters["channel_unavailable"] == 1


# ---- RESTART (5.5) -----------------------------------------------------------------


def test_restart_of_one_channel(pair):
    p = pair
    n1, u1 = active_call_net_to_user(p)
    n2, u2 = active_call_net_to_user(p)
    p.net.restart(p.now, (1,))
    assert 1 not in p.net.free_channels()                   # out of service until acknowledged
    p.pump()
    assert p.of("net", CallCleared, call=n1, remote=False) and p.of("user", CallCleared, call=u1, remote=True)
    assert p.of("user", ChannelsRestarted)[0] == ChannelsRestarted((1,), True)
    assert p.of("net", RestartAcknowledged)[0] == RestartAcknowledged((1,))
    assert p.net.call_state(n2) == CallState.ACTIVE and 1 in p.net.free_channels()
    m = [m for m in p.sent["net"] if m.type == MT.RESTART][0]
    assert m.call_ref == 0 and m.get(codec.RestartIndicator).restart_class == 0
    assert p.net.get_timer() is None


def test_restart_of_the_interface_from_the_user(pair):
    p = pair
    for _ in range(3):
        active_call_net_to_user(p)
    p.user.restart(p.now)
    p.pump()
    assert len(p.of("user", CallCleared)) == 3 and len(p.of("net", CallCleared, remote=True)) == 3
    assert p.of("net", ChannelsRestarted)[0] == ChannelsRestarted((), True)
    assert p.of("user", RestartAcknowledged)[0] == RestartAcknowledged(())
    assert [m for m in p.sent["user"] if m.type == MT.RESTART][0].get(codec.RestartIndicator).restart_class == 7
    assert_idle(p)


def test_t316_retransmits_restart_once_then_gives_up(pair):
    p = pair
    p.drop.add("user")                                      # the user never answers
    p.net.restart(p.now, (3,))
    p.pump()
    assert 3 not in p.net.free_channels()
    p.advance(121)
    assert p.sent_types("net").count(MT.RESTART) == 2
    p.advance(121)
    assert p.sent_types("net").count(MT.RESTART) == 2
    assert p.of("net", ProtocolError, cause=102)
    assert 3 in p.net.free_channels() and p.net.get_timer() is None


# ---- timers -------------------------------------------------------------------------


def test_t303_retransmits_setup_once_then_clears(pair):
    p = pair
    p.link = False                                          # nothing reaches the user
    n = p.net.setup(p.now, called="1")
    p.pump()
    assert p.net.get_timer() == 4.0
    p.advance(4)
    assert p.sent_types("net") == [MT.SETUP, MT.SETUP]
    p.advance(4)
    assert p.sent_types("net") == [MT.SETUP, MT.SETUP, MT.RELEASE_COMPLETE]
    assert p.of("net", CallCleared, call=n)[0] == CallCleared(n, 18, 2, False, 1)
    u = p.user.setup(p.now, called="1")
    p.advance(8)
    assert p.of("user", CallCleared, call=u, cause=102)
    assert_idle(p)


def test_t303_duplicate_setup_is_ignored_by_the_user(pair):
    p = pair
    p.drop.add("user")
    n = p.net.setup(p.now, called="1")
    p.pump()
    p.advance(4)                                            # SETUP sent twice, the user saw both
    assert len(p.of("user", CallOffered)) == 1
    p.advance(4)
    assert p.of("net", CallCleared, call=n, cause=18)
    assert p.of("user", CallCleared, cause=102, remote=True)   # our RELEASE COMPLETE cleared it
    assert_idle(p)


def test_t305_then_t308_when_the_peer_stops_answering(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    p.drop.add("net")                                       # everything the network sends is lost
    p.user.hangup(p.now, u, 16)
    p.pump()
    assert p.user.call_state(u) == CallState.DISCONNECT_REQUEST
    p.drop.clear()
    p.link = False                                          # now nothing at all gets through
    p.advance(30)                                           # T305: RELEASE
    assert p.sent_types("user")[-1] == MT.RELEASE and p.user.call_state(u) == CallState.RELEASE_REQUEST
    p.advance(4)                                            # T308 first expiry: RELEASE again
    assert p.sent_types("user")[-2:] == [MT.RELEASE, MT.RELEASE]
    p.advance(4)                                            # second expiry: the call is gone
    assert p.of("user", CallCleared, call=u)[0] == CallCleared(u, 16, 0, False, 1)
    assert p.user.calls == {} and p.user.free_channels() == SPAN


def test_t305_release_reaches_a_live_peer(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    p.drop.add("user")
    p.net.hangup(p.now, n, 17)                              # the DISCONNECT is delivered ...
    p.pump()
    p.drop.clear()                                          # ... the user's RELEASE was lost
    assert p.net.call_state(n) == CallState.DISCONNECT_REQUEST
    p.advance(30)
    assert p.of("net", CallCleared, call=n, cause=17)
    assert_idle(p)


def test_t310_clears_a_call_stuck_in_proceeding(pair):
    p = pair
    u = p.user.setup(p.now, called="1")
    p.pump()
    p.net.proceeding(p.now, p.of("net", CallOffered)[0].call)
    p.pump()
    p.advance(29)
    assert p.user.call_state(u) == CallState.OUTGOING_CALL_PROCEEDING
    p.advance(1)
    assert p.of("user", CallCleared, call=u, cause=102, remote=False)
    assert p.of("net", CallCleared, cause=102, remote=True)
    assert_idle(p)


def test_t313_clears_when_connect_acknowledge_is_lost(pair):
    p = pair
    n, u = offer_to_user(p)
    p.user.answer(p.now, u)
    p.drop.add("net")
    p.pump()
    p.drop.clear()
    assert p.net.call_state(n) == CallState.ACTIVE and p.user.call_state(u) == CallState.CONNECT_REQUEST
    p.advance(4)
    assert p.of("user", CallCleared, call=u, cause=102)
    assert p.of("net", CallCleared, call=n, cause=102, remote=True)
    assert_idle(p)


def test_t301_clears_a_call_ringing_forever(pair):
    p = pair
    n, u = offer_to_user(p)
    p.user.alerting(p.now, u)
    p.pump()
    p.advance(180)
    assert p.of("net", CallCleared, call=n, cause=19, remote=False)
    assert_idle(p)


def test_get_timer_is_the_earliest_deadline(pair):
    p = pair
    assert p.net.get_timer() is None
    p.link = False
    p.net.setup(p.now, called="1")
    p.now = 1.0
    p.net.restart(p.now, (30,))
    assert p.net.get_timer() == 4.0
    p.net.handle_timer(3.9)
    assert p.net.get_timer() == 4.0


# ---- the data link (5.8.8, 5.8.9) -------------------------------------------------------


def test_link_failure_keeps_active_calls_and_clears_the_others(pair):
    p = pair
    n_act, u_act = active_call_net_to_user(p)
    n_ring, u_ring = offer_to_user(p)
    p.user.alerting(p.now, u_ring)
    p.pump()
    p.link = False
    p.net.link_released(p.now)
    p.user.link_released(p.now)
    p.pump()
    assert p.of("net", CallCleared, call=n_ring, cause=41) and p.of("user", CallCleared, call=u_ring, cause=41)
    assert p.net.call_state(n_act) == p.user.call_state(u_act) == CallState.ACTIVE
    p.advance(60)                                          # within T309
    p.link = True
    p.net.link_established(p.now)
    p.user.link_established(p.now)
    p.pump()
    assert p.sent_types("net")[-2:] == [MT.STATUS_ENQUIRY, MT.STATUS]
    p.advance(200)
    assert p.net.call_state(n_act) == p.user.call_state(u_act) == CallState.ACTIVE
    assert not p.of("net", ProtocolError) and not p.of("user", ProtocolError)
    p.net.hangup(p.now, n_act)
    p.pump()
    assert_idle(p)


def test_t309_expiry_clears_active_calls_with_27(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    p.link = False
    p.net.link_released(p.now)
    p.user.link_released(p.now)
    p.advance(90)
    assert p.of("net", CallCleared, call=n)[0] == CallCleared(n, 27, 2, False, 1)
    assert p.of("user", CallCleared, call=u, cause=27)
    assert_idle(p)


def test_link_reset_clears_overlap_calls_with_41(pair):
    p = pair
    u = p.user.setup(p.now, called="4", sending_complete=False)
    p.pump()
    p.net.setup_acknowledge(p.now, p.of("net", CallOffered)[0].call)
    p.pump()
    p.user.link_established(p.now, reestablished=True)    # 5.8.8 spontaneous reset
    p.pump()
    assert p.of("user", CallCleared, call=u, cause=41)
    assert_idle(p)


def test_status_enquiry_lost_in_a_link_reset_is_sent_again(pair):
    # After a failure the STATUS ENQUIRY (5.8.9) went out, then the peer re-established
    # the link (a crossing SABME): Q.921 discarded the unacknowledged I frame (5.7.1), so
    # the enquiry is asked again at once instead of waiting for T322.
    p = pair
    n, u = active_call_net_to_user(p)
    p.link = False
    p.user.link_released(p.now)
    p.pump()
    p.user.link_established(p.now)                         # STATUS ENQUIRY, lost
    p.pump()
    p.advance(1)
    p.user.link_established(p.now, reestablished=True)     # 5.8.8: enquire again
    p.link = True
    p.pump()
    assert p.sent_types("user").count(MT.STATUS_ENQUIRY) == 2
    assert p.sent_types("net")[-1] == MT.STATUS
    assert p.user.get_timer() is None                      # T322 stopped by the STATUS
    assert p.user.call_state(u) == CallState.ACTIVE and not p.of("user", ProtocolError)
    p.net.hangup(p.now, n)
    p.pump()
    assert_idle(p)


def test_status_enquiry_finds_a_lost_disconnect(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    p.drop.add("user")
    p.user.hangup(p.now, u)                                # DISCONNECT lost: user U11, network N10
    p.pump()
    p.drop.clear()
    p.net.status_enquiry(p.now, n)                         # STATUS says 11: incompatible (5.8.11)
    p.pump()
    assert p.of("net", ProtocolError, call=n, cause=101)
    assert p.of("net", CallCleared, call=n) and p.of("user", CallCleared, call=u)
    assert_idle(p)


@pytest.mark.parametrize("clears", ["net", "user"])
def test_a_disconnect_lost_in_a_link_reset_is_sent_again_with_its_cause(pair, clears):
    """Line faults: the clearing side's DISCONNECT (cause 18) went as the link was being
    reset, and Q.921 discarded it (5.7.1). After the reset the other side asks with STATUS
    ENQUIRY (5.8.8 c); the DISCONNECT is sent again first, so both sides clear with the
    cause given (not 101, message not compatible with call state, from the STATUS)."""
    p = pair
    n, u = active_call_net_to_user(p)
    me, other = (p.net, p.user) if clears == "net" else (p.user, p.net)
    mine, theirs = (n, u) if clears == "net" else (u, n)
    p.drop.add(clears)
    me.hangup(p.now, mine, 18)                               # lost with the I queue
    p.pump()
    p.drop.clear()
    me.link_established(p.now, reestablished=True)
    other.link_established(p.now, reestablished=True)
    p.pump()
    other_name = "user" if clears == "net" else "net"
    assert p.of(other_name, CallCleared, call=theirs, cause=18, remote=True)
    assert p.of(clears, CallCleared, call=mine, cause=18, remote=False)
    assert not p.of(other_name, ProtocolError, cause=101)
    assert_idle(p)


def test_t322_retransmits_status_enquiry_then_clears_with_41(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    p.drop.add("user")
    p.net.status_enquiry(p.now, n)
    p.advance(4)
    assert p.sent_types("net").count(MT.STATUS_ENQUIRY) == 2
    p.advance(4)
    assert p.of("net", CallCleared, call=n, cause=41)


# ---- clause 5.8 error handling ------------------------------------------------------


def raw(mt, cr, flag, *ies, crl=2):
    return codec.encode(codec.Message(mt, cr, flag, tuple(ies), call_ref_len=crl))


def replies(q):
    return [codec.decode(m).message for m in q.messages_to_send()]


def test_unknown_call_reference_gets_release_complete_81():
    q = Q931(Side.USER)
    q.receive(0.0, raw(MT.CONNECT, 77, 1))
    q.receive(0.0, raw(MT.RELEASE, 78, 0, codec.Cause(16)))
    q.receive(0.0, raw(MT.RELEASE_COMPLETE, 79, 0))       # no action (5.8.3.2 c)
    q.receive(0.0, raw(MT.STATUS_ENQUIRY, 80, 0))
    q.receive(0.0, raw(MT.STATUS, 81, 0, codec.Cause(30), codec.CallState(10)))
    out = replies(q)
    assert [(m.type, m.call_ref, m.call_ref_flag) for m in out] == [
        (MT.RELEASE_COMPLETE, 77, 0), (MT.RELEASE_COMPLETE, 78, 1), (MT.STATUS, 80, 1),
        (MT.RELEASE_COMPLETE, 81, 1)]
    assert [m.get(codec.Cause).value for m in out] == [81, 81, 30, 101]
    assert out[2].get(codec.CallState).value == 0
    assert q.counters["protocol_errors"][81] == 2


def test_setup_missing_mandatory_ie_is_refused_with_96():
    q = Q931(Side.USER)
    q.receive(0.0, raw(MT.SETUP, 5, 0, codec.BearerCapability()))   # no channel id from the network
    [m] = replies(q)
    assert (m.type, m.get(codec.Cause).value) == (MT.RELEASE_COMPLETE, 96)
    assert q.calls == {} and isinstance(q.next_event(), ProtocolError) and q.next_event() is None


def test_unknown_message_type_and_bad_ies_on_a_call(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    cr = p.user.calls[u].call_ref
    p.user.receive(p.now, bytes([8, 2, cr >> 8, cr & 0xFF, 0x33]))          # message type 0x33
    p.user.receive(p.now, raw(MT.PROGRESS, cr, 0))                           # mandatory PI missing
    p.user.receive(p.now, raw(MT.PROGRESS, cr, 0, codec.ProgressIndicator(8),
                              codec.UnknownIE(0x7E, b"xx")))                 # unrecognised IE
    p.user.receive(p.now, raw(MT.ALERTING, cr, 0))                           # not in Active
    out = replies(p.user)
    assert [(m.type, m.get(codec.Cause).value, m.get(codec.CallState).value) for m in out] == [
        (MT.STATUS, 97, 10), (MT.STATUS, 96, 10), (MT.STATUS, 99, 10), (MT.STATUS, 98, 10)]
    assert p.user.call_state(u) == CallState.ACTIVE


def test_disconnect_without_cause_is_acted_on_as_31(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    cr = p.user.calls[u].call_ref
    p.user.receive(p.now, raw(MT.DISCONNECT, cr, 0))
    [m] = replies(p.user)
    assert (m.type, m.get(codec.Cause).value) == (MT.RELEASE, 96)
    p.user.receive(p.now, raw(MT.RELEASE_COMPLETE, cr, 0))
    assert p.user.next_event() == CallCleared(u, 31, 0, True, 1)


def test_global_call_reference_misuse_answers_status_81():
    q = Q931(Side.NETWORK)
    q.receive(0.0, raw(MT.CONNECT, 0, 0))
    [m] = replies(q)
    assert (m.type, m.call_ref, m.get(codec.Cause).value) == (MT.STATUS, 0, 81)
    q.receive(0.0, raw(MT.RESTART, 0, 0))                                    # no restart indicator
    [m] = replies(q)
    assert (m.type, m.get(codec.Cause).value) == (MT.STATUS, 96)


def test_status_reporting_null_releases_the_call(pair):
    p = pair
    n, u = active_call_net_to_user(p)
    cr = p.user.calls[u].call_ref
    p.user.receive(p.now, raw(MT.STATUS, cr, 0, codec.Cause(30), codec.CallState(0)))
    assert p.user.next_event() == CallCleared(u, 41, 2, True, 1)
    assert p.user.calls == {} and p.user.messages_to_send() == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=40), st.sampled_from([Side.NETWORK, Side.USER]))
def test_arbitrary_bytes_never_raise(data, side):
    q = Q931(side)
    q.setup(0.0, called="1")
    q.receive(0.0, data)
    q.receive(0.0, b"\x08\x02\x00\x01" + data)         # on our call's reference
    q.receive(0.0, b"\x08\x02\x80\x01" + data)
    assert q.counters["internal_errors"] == 0
    for c in q.calls.values():
        assert c.state in CallState


# ---- random operation sequences -------------------------------------------------------

ACTIONS = ["proceeding", "alerting", "answer", "answer", "setup_acknowledge", "hangup", "reject",
           "information", "information_complete", "status_enquiry", "progress"]

op = st.one_of(
    st.tuples(st.just("setup"), st.sampled_from(["net", "user"]), st.sampled_from([None, 1, 2, 3]),
              st.booleans(), st.booleans()),
    *[st.tuples(st.just("act"), st.sampled_from(["net", "user"]), st.sampled_from(ACTIONS), st.integers(0, 5))] * 3,
    st.tuples(st.just("deliver"), st.sampled_from(["net", "user"]), st.integers(1, 4),
              st.sampled_from(["ok", "ok", "ok", "drop", "dup"])),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 3.0, 5.0, 20.0, 40.0, 100.0])),
    st.tuples(st.just("restart"), st.sampled_from(["net", "user"]), st.sampled_from([None, 1, 2])),
    st.tuples(st.just("link"), st.booleans()),
    st.tuples(st.just("flush")),
    st.tuples(st.just("flush")),
)


class Wire:
    """Both stacks with in-flight queues that ops deliver, drop or duplicate."""

    def __init__(self):
        self.now = 0.0
        self.q = {"net": Q931(Side.NETWORK, channels=(1, 2, 3)), "user": Q931(Side.USER, channels=(1, 2, 3))}
        self.flight = {"net": [], "user": []}
        self.link = True
        for s in self.q.values():
            s.link_established(0.0)

    def collect(self):
        for name, s in self.q.items():
            out = s.messages_to_send()
            if self.link:
                self.flight[name] += out
            while s.next_event() is not None:
                pass

    def deliver(self, name, n, fate):
        other = self.q["user" if name == "net" else "net"]
        for _ in range(n):
            if not self.flight[name]:
                return
            data = self.flight[name].pop(0)
            if fate != "drop":
                other.receive(self.now, data)
            if fate == "dup":
                other.receive(self.now, data)

    def run_timers(self, until):
        while True:
            due = [t for s in self.q.values() if (t := s.get_timer()) is not None and t <= until]
            if not due:
                break
            self.now = max(self.now, min(due))
            for s in self.q.values():
                t = s.get_timer()
                if t is not None and t <= self.now:
                    s.handle_timer(self.now)
            self.collect()
        self.now = max(self.now, until)

    def check(self):
        for s in self.q.values():
            assert s.counters["internal_errors"] == 0
            chans = [c.channel for c in s.calls.values() if c.channel is not None]
            assert len(chans) == len(set(chans)), s.calls
            assert set(chans).isdisjoint(s.free_channels())
            for c in s.calls.values():
                assert c.state in CallState and c.state != CallState.NULL

    def apply(self, o):
        kind = o[0]
        try:
            if kind == "setup":
                _, name, ch, excl, complete = o
                self.q[name].setup(self.now, called="12", channel=ch, exclusive=excl, sending_complete=complete)
            elif kind == "act":
                _, name, action, idx = o
                s = self.q[name]
                calls = sorted(s.calls)
                if calls:
                    call = calls[idx % len(calls)]
                    if action == "information_complete":
                        s.information(self.now, call, "6", sending_complete=True)
                    else:
                        args = {"hangup": (16,), "reject": (17,), "information": ("5",), "progress": (8,)}
                        getattr(s, action)(self.now, call, *args.get(action, ()))
            elif kind == "deliver":
                self.deliver(*o[1:])
            elif kind == "flush":
                for _ in range(20):
                    if not (self.flight["net"] or self.flight["user"]):
                        break
                    self.deliver("net", len(self.flight["net"]), "ok")
                    self.deliver("user", len(self.flight["user"]), "ok")
                    self.collect()
            elif kind == "advance":
                self.run_timers(self.now + o[1])
            elif kind == "restart":
                self.q[o[1]].restart(self.now, None if o[2] is None else (o[2],))
            elif kind == "link":
                if o[1] and not self.link:
                    self.link = True
                    for s in self.q.values():
                        s.link_established(self.now)
                elif not o[1] and self.link:
                    self.link = False
                    self.flight = {"net": [], "user": []}
                    for s in self.q.values():
                        s.link_released(self.now)
        except Q931Error:
            pass
        self.collect()
        self.check()

    def settle(self):
        """No more loss: deliver everything, hang up what is left, let every timer run out."""
        if not self.link:
            self.apply(("link", True))
        for _ in range(200):
            while self.flight["net"] or self.flight["user"]:
                self.deliver("net", len(self.flight["net"]), "ok")
                self.deliver("user", len(self.flight["user"]), "ok")
                self.collect()
                self.check()
            for s in self.q.values():
                for call in list(s.calls):
                    s.hangup(self.now, call)
            self.collect()
            if self.flight["net"] or self.flight["user"]:
                continue
            t = [x for s in self.q.values() if (x := s.get_timer()) is not None]
            if not t:
                break
            self.run_timers(min(t))
        for s in self.q.values():
            assert s.calls == {}, s.calls
            assert s.free_channels() == (1, 2, 3)
            assert s.get_timer() is None
            assert s.counters["internal_errors"] == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40))
def test_random_operations_never_raise_and_never_leave_a_call_stuck(ops):
    w = Wire()
    for o in ops:
        w.apply(o)
    w.settle()
