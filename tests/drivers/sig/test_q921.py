"""LAPD (Q.921): two data link entities back to back on a fake clock, frames and ``now`` only."""
from __future__ import annotations

import heapq
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.sig.q921 import (
    KINDS, MODULUS, DataIndication, Established, Frame, Lapd, LapdFormatError, LinkState,
    MdlError, Released, Role, UnitDataIndication, decode_frame, decode_tei_management,
    encode_frame,
)

S4, S5, S6, S7, S8 = (LinkState.TEI_ASSIGNED, LinkState.AWAITING_ESTABLISHMENT,
                      LinkState.AWAITING_RELEASE, LinkState.MULTIPLE_FRAME_ESTABLISHED,
                      LinkState.TIMER_RECOVERY)


def events(lapd):
    out = []
    while (ev := lapd.next_event()) is not None:
        out.append(ev)
    return out


def kinds(frames):
    return [decode_frame(f).kind for f in frames]


def check_invariants(lapd):
    """V(A) <= V(S) <= V(A) + k (mod 128), all variables in range (Q.921 3.5.2)."""
    for v in (lapd.vs, lapd.va, lapd.vr):
        assert 0 <= v < MODULUS
    assert lapd.outstanding <= lapd.k
    if lapd.state is S4:
        assert lapd.get_timer() is None


class Wire:
    """Both directions of a D-channel: FIFO (never reordering) with per-frame delay, loss and
    duplication drawn from ``rng``; ``cut`` drops everything."""

    def __init__(self, a, b, *, rng=None, loss=0.0, dup=0.0, delay=0.0):
        self.a, self.b = a, b
        self.rng = rng or random.Random(0)
        self.loss, self.dup, self.delay = loss, dup, delay
        self.cut = False
        self.now = 0.0
        self.heap = []
        self.seq = 0
        self.last = {id(a): 0.0, id(b): 0.0}
        self.log = {id(a): [], id(b): []}   # events seen per side
        self.sent = {id(a): [], id(b): []}  # frames each side sent

    def peer(self, x):
        return self.b if x is self.a else self.a

    def pump(self):
        for src in (self.a, self.b):
            dst = self.peer(src)
            for frame in src.frames_to_send():
                self.sent[id(src)].append(frame)
                if self.cut or self.rng.random() < self.loss:
                    continue
                copies = 2 if self.rng.random() < self.dup else 1
                for _ in range(copies):
                    at = max(self.now + self.rng.random() * self.delay, self.last[id(dst)])
                    self.last[id(dst)] = at
                    self.seq += 1
                    heapq.heappush(self.heap, (at, self.seq, id(dst), frame))
            self.log[id(src)].extend(events(src))

    def step(self, until):
        """Advance to the next delivery or timer (not past ``until``); False when idle."""
        self.pump()
        times = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
        if self.heap:
            times.append(self.heap[0][0])
        if not times or min(times) > until:
            self.now = max(self.now, until)
            return False
        self.now = max(self.now, min(times))
        while self.heap and self.heap[0][0] <= self.now:
            _, _, dst, frame = heapq.heappop(self.heap)
            (self.a if dst == id(self.a) else self.b).receive(self.now, frame)
            self.pump()
        for x in (self.a, self.b):
            t = x.get_timer()
            if t is not None and t <= self.now:
                x.handle_timer(self.now)
        self.pump()
        return True

    def run(self, until):
        while self.step(until):
            pass
        self.pump()

    def settle(self):
        """Deliver what is in flight, without letting any timer run."""
        self.pump()
        while self.heap:
            _, _, dst, frame = heapq.heappop(self.heap)
            (self.a if dst == id(self.a) else self.b).receive(self.now, frame)
            self.pump()


def pair(**kw):
    net, usr = Lapd(Role.NETWORK, **kw), Lapd(Role.USER, **kw)
    return net, usr, Wire(net, usr)


def up(**kw):
    net, usr, w = pair(**kw)
    usr.establish(0.0)
    w.settle()
    assert net.state is S7 and usr.state is S7
    w.log[id(net)].clear()
    w.log[id(usr)].clear()
    return net, usr, w


def data_of(log):
    return [e.data for e in log if isinstance(e, DataIndication)]


# ---- frame format ------------------------------------------------------------


def test_hand_made_frames_from_the_standard_format():
    # Q.921 3.3.2 table 1: the user's commands carry C/R = 0, the network's C/R = 1.
    sabme_user = decode_frame(bytes([0x00, 0x01, 0x7F]))
    assert (sabme_user.sapi, sabme_user.cr, sabme_user.tei, sabme_user.kind, sabme_user.pf) == \
        (0, 0, 0, "SABME", True)
    usr = Lapd(Role.USER)
    usr.establish(0.0)
    assert usr.frames_to_send() == [bytes([0x00, 0x01, 0x7F])]
    net = Lapd(Role.NETWORK)
    net.establish(0.0)
    assert net.frames_to_send() == [bytes([0x02, 0x01, 0x7F])]
    # UA F=1 from the network (response, C/R = 0): 0x73
    net2 = Lapd(Role.NETWORK)
    net2.receive(0.0, bytes([0x00, 0x01, 0x7F]))
    assert net2.frames_to_send() == [bytes([0x00, 0x01, 0x73])]
    assert events(net2) == [Established(False)]
    # I frame from the user, N(S)=0 N(R)=0, then the network's RR response N(R)=1
    net2.receive(0.0, bytes([0x00, 0x01, 0x00, 0x00]) + b"\x08\x01\x05\x05")
    assert events(net2) == [DataIndication(b"\x08\x01\x05\x05")]
    assert net2.frames_to_send() == [bytes([0x00, 0x01, 0x01, 0x02])]
    # Q.921 table 5: DISC P=1 0x53, DM F=1 0x1F, UI 0x03, REJ 0x09, RNR 0x05
    assert decode_frame(b"\x02\x01\x53").kind == "DISC"
    assert decode_frame(b"\x02\x01\x1f") == Frame(0, 1, 0, "DM", pf=True)
    assert decode_frame(b"\x02\x01\x09\x0b") == Frame(0, 1, 0, "REJ", None, 5, True)
    assert encode_frame(Frame(0, 1, 0, "RNR", None, 127, False)) == b"\x02\x01\x05\xfe"
    assert encode_frame(Frame(0, 1, 127, "UI", info=b"x")) == b"\x02\xff\x03x"


def test_tei_management_frames_are_decoded_and_dropped():
    # Q.921 5.3: identity request, SAPI 63, TEI 127, UI, Ri 0x1234, Ai 127
    frame = bytes([0xFC, 0xFF, 0x03, 0x0F, 0x12, 0x34, 0x01, 0xFF])
    f = decode_frame(frame)
    msg = decode_tei_management(f.info)
    assert (f.sapi, f.tei, msg.message, msg.ri, msg.ai) == (63, 127, "identity request",
                                                             0x1234, 127)
    net = Lapd(Role.NETWORK)
    net.receive(0.0, frame)
    assert net.counters["dropped_tei_management"] == 1
    assert net.counters["tei_identity_request"] == 1
    assert events(net) == [] and net.frames_to_send() == []


def test_other_sapi_other_tei_and_wrong_cr_are_counted_and_dropped():
    net = Lapd(Role.NETWORK)
    net.receive(0.0, bytes([16 << 2, 0x01, 0x7F]))   # SAPI 16 (X.25)
    net.receive(0.0, bytes([0x00, 0x03, 0x7F]))      # TEI 1
    net.receive(0.0, bytes([0x02, 0x01, 0x7F]))      # SABME as a response: wrong C/R
    net.receive(0.0, b"\x00")
    net.receive(0.0, b"\x01\x01\x7f")                # EA bit set in octet 2
    c = net.counters
    assert (c["dropped_sapi"], c["dropped_address"], c["dropped_cr"], c["dropped_malformed"]) \
        == (1, 1, 1, 2)
    assert c["dropped"] == 5 and net.state is S4 and net.frames_to_send() == []


def test_decode_errors_carry_the_mdl_codes():
    with pytest.raises(LapdFormatError) as e:
        decode_frame(b"\x00\x01\x0d\x00")        # SS = 11: undefined
    assert e.value.code == "L"
    with pytest.raises(LapdFormatError) as e:
        decode_frame(b"\x00\x01\x7fxx")          # SABME with an I field
    assert e.value.code == "M"
    with pytest.raises(LapdFormatError) as e:
        decode_frame(b"\x00\x01\x01\x00\x00")    # RR of 5 octets
    assert e.value.code == "N"
    with pytest.raises(LapdFormatError) as e:
        decode_frame(b"\x00\x01\x00")            # I frame cut short: invalid, no code
    assert e.value.code is None
    assert issubclass(LapdFormatError, ValueError)


frames = st.builds(
    lambda kind, sapi, cr, tei, ns, nr, pf, info: Frame(
        sapi, cr, tei, kind,
        ns if kind == "I" else None,
        nr if kind in ("I", "RR", "RNR", "REJ") else None,
        pf,
        info if kind in ("I", "UI", "FRMR", "XID") else b""),
    st.sampled_from(KINDS), st.integers(0, 63), st.integers(0, 1), st.integers(0, 127),
    st.integers(0, 127), st.integers(0, 127), st.booleans(), st.binary(max_size=300))


@given(frames)
def test_encode_decode_round_trip_every_kind(f):
    raw = encode_frame(f)
    assert decode_frame(raw) == f
    assert encode_frame(decode_frame(raw)) == raw


# ---- establishment and release ----------------------------------------------


def test_establishment_and_release():
    net, usr, w = pair()
    usr.establish(0.0)
    w.settle()
    assert w.log[id(usr)] == [Established(False)] and w.log[id(net)] == [Established(False)]
    assert kinds(w.sent[id(usr)]) == ["SABME"] and kinds(w.sent[id(net)]) == ["UA"]
    usr.release(1.0)
    w.settle()
    assert w.log[id(usr)][-1] == Released("request")
    assert w.log[id(net)][-1] == Released("peer DISC")
    assert net.state is S4 and usr.state is S4
    assert net.get_timer() is None and usr.get_timer() is None


def test_dm_refuses_establishment():
    usr = Lapd(Role.USER)
    usr.establish(0.0)
    usr.frames_to_send()
    usr.receive(0.1, b"\x00\x01\x1f")  # DM F=1 from the network
    assert events(usr) == [Released("DM")] and usr.state is S4


def test_sabme_collision_and_disc_collision():
    net, usr, w = pair()
    net.establish(0.0)
    usr.establish(0.0)
    w.settle()  # 5.5.1.3: both answer UA, both end established
    assert net.state is S7 and usr.state is S7
    assert [e for e in w.log[id(net)] if isinstance(e, Established)] == [Established(False)]
    assert [e for e in w.log[id(usr)] if isinstance(e, Established)] == [Established(False)]
    net.release(1.0)
    usr.release(1.0)
    w.settle()  # 5.5.3.2: both answer UA, both released
    assert net.state is S4 and usr.state is S4
    assert w.log[id(net)][-1] == Released("request")
    assert w.log[id(usr)][-1] == Released("request")


def test_send_while_released_establishes_first():
    net, usr, w = pair()
    usr.send(0.0, b"first")
    usr.send(0.0, b"second")
    w.settle()
    assert data_of(w.log[id(net)]) == [b"first", b"second"]
    assert Established(False) in w.log[id(usr)]


def test_peer_disappearing_during_establishment():
    net, usr, w = pair()
    w.cut = True
    usr.establish(0.0)
    w.run(100.0)
    rel = [e for e in w.log[id(usr)] if isinstance(e, Released)]
    assert rel == [Released("N200 retries")]
    assert MdlError("G", "SABME not answered after N200 retransmissions") in w.log[id(usr)]
    assert kinds(w.sent[id(usr)]) == ["SABME"] * (usr.n200 + 1)
    # released exactly at T200 * (N200 + 1)
    usr2 = Lapd(Role.USER)
    usr2.establish(0.0)
    t = usr2.get_timer()
    while usr2.state is not S4:
        usr2.handle_timer(t)
        t = usr2.get_timer() if usr2.get_timer() is not None else t
    assert t == pytest.approx(usr2.t200 * (usr2.n200 + 1))


def test_peer_disappearing_when_established():
    net, usr, w = up()
    w.cut = True
    usr.send(0.0, b"lost")
    t, now = usr.get_timer(), 0.0
    while usr.state is not S4:
        now = usr.get_timer()
        usr.handle_timer(now)
    ev = events(usr)
    codes = [e.code for e in ev if isinstance(e, MdlError)]
    assert codes == ["I", "G"]   # enquiries unanswered, then SABMEs unanswered
    assert ev[-1] == Released("N200 retries")
    # T200 then N200 enquiries, then N200 + 1 SABMEs
    assert now == pytest.approx(2 * usr.t200 * (usr.n200 + 1))
    assert t == pytest.approx(usr.t200)
    assert usr.counters["discarded_i"] == 1


def test_sabme_while_established_reestablishes_both_sides():
    net, usr, w = up()
    usr.send(0.0, b"a")
    w.settle()
    net.establish(1.0)      # DL-ESTABLISH-REQUEST on an established link
    w.settle()
    assert Established(True) in w.log[id(net)]
    assert Established(True) in w.log[id(usr)]
    assert any(isinstance(e, MdlError) and e.code == "F" for e in w.log[id(usr)])
    assert net.state is S7 and usr.state is S7 and usr.vs == 0 and net.vr == 0
    usr.send(1.0, b"b")
    w.settle()
    assert data_of(w.log[id(net)]) == [b"a", b"b"]


def test_dm_f0_in_established_state_reestablishes():
    net, usr, w = up()
    net.receive(1.0, b"\x02\x01\x0f")   # DM F=0 from the user (response C/R=1)
    assert [e.code for e in events(net) if isinstance(e, MdlError)] == ["E"]
    assert kinds(net.frames_to_send()) == ["SABME"] and net.state is S5


def test_released_side_answers_an_enquiry_with_dm_and_the_link_comes_back():
    net, usr, w = up()
    # the user side loses its state (restart), the network does not know
    fresh = Lapd(Role.USER)
    w.b = fresh
    w.last[id(fresh)] = 0.0
    w.log[id(fresh)] = []
    w.sent[id(fresh)] = []
    net.send(0.0, b"to nowhere")
    w.run(5.0)
    assert net.state is S7 and fresh.state is S7
    assert Established(True) in w.log[id(net)]
    net.send(w.now, b"again")
    w.settle()
    assert data_of(w.log[id(fresh)]) == [b"again"]


def test_layer1_down_releases_at_once_and_establish_retries():
    net, usr, w = up()
    usr.send(0.0, b"in flight")
    usr.frames_to_send()
    usr.layer1_down(0.5)
    assert events(usr) == [Released("layer 1 down")]
    assert usr.state is S4 and usr.get_timer() is None and usr.counters["discarded_i"] == 1
    usr.layer1_down(0.6)             # already released: nothing more
    assert events(usr) == []
    usr.establish(1.0)
    w.settle()
    assert Established(True) in w.log[id(net)] and usr.state is S7


# ---- information transfer ----------------------------------------------------


def test_window_never_more_than_k_outstanding():
    net, usr, w = up(k=7)
    w.cut = True
    for i in range(20):
        usr.send(0.0, b"m%d" % i)
    w.pump()
    assert kinds(w.sent[id(usr)]).count("I") == 7
    assert usr.outstanding == 7 and usr.queued == 13
    w.cut = False
    # the enquiry after T200 gets the acknowledgement; the rest flows, never beyond k
    while usr.queued or usr.outstanding:
        w.step(1000.0)
        assert usr.outstanding <= 7
    # the 7 cut frames are retransmitted after timer recovery
    assert data_of(w.log[id(net)]) == [b"m%d" % i for i in range(20)]


def test_t203_enquiry_on_an_idle_link():
    net, usr, w = up(t203=10.0)
    assert usr.get_timer() == pytest.approx(10.0)
    w.run(10.5)
    sent = [decode_frame(f) for f in w.sent[id(usr)]]
    assert any(f.kind == "RR" and f.pf and f.cr == 0 for f in sent)  # user command, P=1
    got = [decode_frame(f) for f in w.sent[id(net)]]
    assert any(f.kind == "RR" and f.pf and f.cr == 0 for f in got)   # network response, F=1
    assert usr.state is S7 and net.state is S7
    assert usr.counters["t203_expiries"] == 1 and usr.counters["enquiries"] == 1
    assert not any(isinstance(e, (MdlError, Released)) for e in w.log[id(usr)] + w.log[id(net)])
    assert usr.get_timer() == pytest.approx(20.0)


def test_one_reject_outstanding_and_recovery():
    net, usr, w = up()
    for i in range(5):
        usr.send(0.0, b"%d" % i)
    frames_ = usr.frames_to_send()
    assert kinds(frames_) == ["I"] * 5
    for f in frames_[:1] + frames_[2:]:   # frame N(S)=1 lost
        net.receive(0.0, f)
    assert kinds(net.frames_to_send()) == ["RR", "REJ"]   # 5.6.4: one REJ only
    assert net.counters["rej_sent"] == 1
    usr.receive(0.0, encode_frame(Frame(0, 0, 0, "REJ", None, 1, False)))
    again = usr.frames_to_send()
    assert [decode_frame(f).ns for f in again] == [1, 2, 3, 4]
    assert usr.counters["retransmissions"] == 4
    for f in again:
        net.receive(0.0, f)
    assert data_of(events(net)) == [b"0", b"1", b"2", b"3", b"4"]


def test_own_and_peer_receiver_busy():
    net, usr, w = up()
    net.set_receiver_busy(0.0, True)
    w.settle()
    assert usr.peer_busy
    usr.send(0.0, b"held")
    w.settle()
    assert usr.queued == 1 and data_of(w.log[id(net)]) == []
    net.set_receiver_busy(0.5, False)
    w.run(5.0)
    assert data_of(w.log[id(net)]) == [b"held"] and not usr.peer_busy
    assert usr.counters["rnr_received"] >= 1 and net.counters["rnr_sent"] >= 1


def test_busy_receiver_discards_i_frames_and_peer_recovers():
    net, usr, w = up()
    w.cut = True
    usr.send(0.0, b"x")          # in flight when the receiver goes busy
    f = usr.frames_to_send()
    w.cut = False
    net.set_receiver_busy(0.0, True)
    net.receive(0.0, f[0])       # discarded
    w.run(3.0)
    assert data_of(w.log[id(net)]) == []
    net.set_receiver_busy(3.0, False)
    w.run(10.0)
    assert data_of(w.log[id(net)]) == [b"x"]


def test_unit_data_both_ways():
    net, usr, w = pair()
    usr.send_unitdata(0.0, b"ui")
    w.settle()
    assert w.log[id(net)] == [UnitDataIndication(b"ui")] and net.state is S4


@pytest.mark.parametrize("raw, code", [
    (b"\x02\x01\x01\x00\x00", "N"),   # RR of 5 octets
    (b"\x02\x01\x0d\x00", "L"),       # undefined supervisory
    (b"\x02\x01\x2f", "L"),           # undefined unnumbered
    (b"\x00\x01\x53xx", "M"),         # DISC with an I field
    (b"\x00\x01\x00\x00" + b"x" * 261, "O"),  # I field > N201
    (b"\x02\x01\x87" + b"\x00" * 5, "K"),     # FRMR
    (b"\x02\x01\x01\x10", "J"),       # RR N(R)=8 > V(S)=0
])
def test_frame_errors_report_and_reestablish(raw, code):
    net, usr, w = up()
    # frames as the network receives them from the user (command C/R=0, response C/R=1)
    net.receive(1.0, raw)
    ev = events(net)
    assert [e.code for e in ev if isinstance(e, MdlError)] == [code]
    assert kinds(net.frames_to_send()) == ["SABME"] and net.state is S5
    w.pump()
    usr.frames_to_send()
    net.receive(1.1, b"\x02\x01\x73")  # UA F=1
    assert events(net) == [Established(True)] and net.state is S7


def test_unsolicited_responses():
    net, usr, w = up()
    net.receive(0.0, b"\x02\x01\x73")           # UA F=1
    net.receive(0.0, b"\x02\x01\x63")           # UA F=0
    net.receive(0.0, b"\x02\x01\x1f")           # DM F=1
    net.receive(0.0, b"\x02\x01\x01\x01")       # RR response F=1
    assert [e.code for e in events(net)] == ["C", "D", "B", "A"]
    assert net.state is S7


def test_released_side_answers_command_p1_with_dm():
    net = Lapd(Role.NETWORK)
    net.receive(0.0, b"\x00\x01\x01\x01")       # RR command P=1 from the user
    net.receive(0.0, b"\x00\x01\x53")           # DISC P=1
    assert net.frames_to_send() == [b"\x00\x01\x1f", b"\x00\x01\x1f"]


def test_send_longer_than_n201_is_our_error():
    usr = Lapd(Role.USER, n201=10)
    with pytest.raises(ValueError):
        usr.send(0.0, b"x" * 11)


# ---- loss, duplication and delay ----------------------------------------------


def transfer(seed, loss, dup, n=1000):
    rng = random.Random(seed)
    net, usr, w = pair()
    w.rng, w.loss, w.dup, w.delay = rng, loss, dup, 0.05
    todo = {id(net): [b"N%04d" % i for i in range(n)], id(usr): [b"U%04d" % i for i in range(n)]}
    usr.establish(0.0)
    deadline = 20000.0
    while w.now < deadline:
        for x in (net, usr):
            if todo[id(x)] and x.queued < 2 and x.state is not S6:
                x.send(w.now, todo[id(x)].pop(0))
            check_invariants(x)
        if not w.step(w.now + 0.02) and not todo[id(net)] and not todo[id(usr)]:
            if all(x.state is S7 and not x.queued and not x.outstanding for x in (net, usr)):
                break
    assert w.now < deadline, "the link never became quiet"
    w.loss = w.dup = 0.0
    w.rng = random.Random(seed)
    for x in (net, usr):   # and continues after whatever happened
        x.send(w.now, b"last")
    w.run(w.now + 30.0)
    return net, usr, w


def check_transfer(net, usr, w, n=1000):
    for rx, tx, prefix in ((usr, net, b"N"), (net, usr, b"U")):
        got = data_of(w.log[id(rx)])
        assert got[-1] == b"last"
        idx = [int(d[1:]) for d in got[:-1]]
        assert idx == sorted(set(idx)), "out of order or duplicated"
        assert all(d.startswith(prefix) for d in got[:-1])
        if tx.counters["discarded_i"] == 0:
            assert idx == list(range(n)), "lost without a re-establishment"


def test_thousand_messages_each_way_clean_link():
    net, usr, w = transfer(1, 0.0, 0.0)
    check_transfer(net, usr, w)
    assert usr.counters["discarded_i"] == net.counters["discarded_i"] == 0
    assert not any(isinstance(e, (MdlError, Released)) for e in w.log[id(net)] + w.log[id(usr)])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), loss=st.floats(0.0, 0.25), dup=st.floats(0.0, 0.1))
def test_thousand_messages_each_way_with_loss_and_duplication(seed, loss, dup):
    net, usr, w = transfer(seed, loss, dup)
    check_transfer(net, usr, w)
    if loss > 0.02:
        assert usr.counters["retransmissions"] + net.counters["retransmissions"] > 0


def test_heavy_loss_releases_and_comes_back():
    net, usr, w = transfer(7, 0.6, 0.0, n=200)
    check_transfer(net, usr, w, n=200)
    everything = w.log[id(net)] + w.log[id(usr)]
    assert any(isinstance(e, MdlError) for e in everything)
    assert any(isinstance(e, Released) and e.reason == "N200 retries" for e in everything)
    assert Established(True) in everything


# ---- robustness ----------------------------------------------------------------


def in_state(state):
    net, usr, w = pair()
    if state is S4:
        return net
    if state is S5:
        net.establish(0.0)
        net.frames_to_send()
        return net
    net, usr, w = up()
    if state is S6:
        net.release(0.0)
        net.frames_to_send()
    elif state is S8:
        w.cut = True
        net.send(0.0, b"x")
        net.handle_timer(net.get_timer())
        net.frames_to_send()
    assert net.state is state
    return net


@settings(max_examples=150, deadline=None)
@given(state=st.sampled_from([S4, S5, S6, S7, S8]),
       blobs=st.lists(st.one_of(st.binary(max_size=300),
                                frames.map(encode_frame),
                                st.builds(lambda b, c: bytes([c << 1, 1]) + b,
                                          st.binary(max_size=6), st.integers(0, 1))),
                      max_size=20))
def test_arbitrary_bytes_never_raise_in_any_state(state, blobs):
    lapd = in_state(state)
    for i, blob in enumerate(blobs):
        lapd.receive(1.0 + i * 0.01, blob)
        check_invariants(lapd)
    events(lapd)
    lapd.frames_to_send()
    assert lapd.counters["frames_in"] >= len(blobs)


ops = st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("deliver"), st.integers(0, 1), st.integers(0, 3)),
    st.tuples(st.just("drop"), st.integers(0, 1), st.integers(0, 3)),
    st.tuples(st.just("dup"), st.integers(0, 1), st.integers(0, 3)),
    st.tuples(st.just("timer"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("establish"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("release"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("busy"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("garbage"), st.integers(0, 1), st.binary(max_size=8)),
), max_size=80)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_invariants_under_random_event_sequences(seq):
    ends = [Lapd(Role.NETWORK), Lapd(Role.USER)]
    queues = [[], []]   # frames in flight towards ends[i]
    delivered = [[], []]
    sent = [[], []]
    events_seen = {id(y): [] for y in ends}
    now = 0.0
    for op, i, arg in seq:
        x = ends[i]
        now += 0.01
        if op == "send":
            x.send(now, arg)
            sent[i].append(arg)
        elif op in ("deliver", "drop", "dup") and queues[i]:
            j = min(arg, len(queues[i]) - 1) if op != "deliver" else 0
            if op == "deliver":
                x.receive(now, queues[i].pop(0))
            elif op == "drop":
                queues[i].pop(j)
            else:
                queues[i].insert(j, queues[i][j])
        elif op == "timer" and x.get_timer() is not None:
            now = max(now, x.get_timer())
            x.handle_timer(now)
            assert x.get_timer() is None or x.get_timer() > now
        elif op == "establish":
            x.establish(now)
        elif op == "release":
            x.release(now)
        elif op == "busy":
            x.set_receiver_busy(now, arg)
        elif op == "garbage":
            x.receive(now, arg)
        for k, y in enumerate(ends):
            queues[1 - k].extend(y.frames_to_send())
            evs = events(y)
            events_seen[id(y)].extend(evs)
            delivered[k].extend(data_of(evs))
            check_invariants(y)
    log = [e for y in ends for e in events_seen[id(y)]]
    reset = any(isinstance(e, (Released, MdlError)) or e == Established(True) for e in log)
    for k in (0, 1):
        assert all(d in sent[1 - k] for d in delivered[k])   # never invented data
        if not reset and ends[1 - k].counters["discarded_i"] == 0:
            # one connection, nothing discarded: in order, exactly once, nothing skipped
            assert delivered[k] == sent[1 - k][:len(delivered[k])]


def test_deferred_acknowledgement_rides_on_the_answer():
    """With defer_ack (how a PRI span runs its link), an I frame answered before the
    frames are taken is acknowledged by the answer's N(R): one I frame goes back, no RR;
    one left unanswered gets its RR when the frames are taken."""
    for defer in (False, True):
        net = Lapd(Role.NETWORK, defer_ack=defer)
        usr = Lapd(Role.USER, defer_ack=defer)
        usr.establish(0.0)
        for _ in range(4):
            for a, b in ((usr, net), (net, usr)):
                for f in a.frames_to_send():
                    b.receive(0.0, f)
        assert usr.state is S7 and net.state is S7
        usr.send(0.0, b"SETUP")
        for f in usr.frames_to_send():
            net.receive(0.0, f)
        assert data_of(events(net)) == [b"SETUP"]
        net.send(0.0, b"CALL PROCEEDING")               # layer 3 answers at once
        raw = net.frames_to_send()
        answered = [decode_frame(f) for f in raw]
        if defer:
            assert [f.kind for f in answered] == ["I"] and answered[0].nr == 1
        else:
            assert [f.kind for f in answered] == ["RR", "I"]
        for f in raw:
            usr.receive(0.0, f)
        assert data_of(events(usr)) == [b"CALL PROCEEDING"]
        # nothing to answer: the RR still goes, when the frames are taken
        rr = [decode_frame(f) for f in usr.frames_to_send()]
        assert [f.kind for f in rr] == ["RR"] and rr[0].nr == 1
