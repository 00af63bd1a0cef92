"""Q.931 codec: round trips, hand-built octet layouts, Q.931 5.8 answers, fuzzing, tshark as peer."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from drivers.sig import q931_codec as q
from drivers.sig.q931_codec import (
    Action, BearerCapability, CallState, CalledPartyNumber, CallingPartyNumber, Cause,
    ChannelIdentification, Decoded, Display, KeypadFacility, Message, MessageType as MT,
    NotificationIndicator, ProgressIndicator, RedirectingNumber, RestartIndicator,
    SendingComplete, UnknownIE, decode, encode,
)

# ---------------------------------------------------------------- strategies

ia5 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=24)
digits = st.text(alphabet="0123456789*#", max_size=20)


def bc():
    return st.builds(BearerCapability, coding=st.integers(0, 3),
                     transfer_capability=st.sampled_from([0x00, 0x08, 0x09, 0x10, 0x11, 0x18]),
                     transfer_mode=st.sampled_from([0, 2]), transfer_rate=st.sampled_from([0x10, 0x11, 0x00]),
                     layer1=st.sampled_from([None, 1, 2, 3]))


def chan_id():
    common = dict(exclusive=st.booleans(), dchannel=st.booleans())
    primary = st.one_of(
        st.builds(ChannelIdentification, channels=st.lists(st.integers(1, 31), min_size=1, max_size=4)
                  .map(tuple), **common),
        st.builds(ChannelIdentification, any_channel=st.just(True), **common),
        st.builds(ChannelIdentification, no_channel=st.just(True), **common))
    basic = st.builds(ChannelIdentification, interface_type=st.just("basic"),
                      channels=st.sampled_from([(1,), (2,)]), **common)
    return st.one_of(primary, basic)


ton, plan, two_bits = st.integers(0, 7), st.sampled_from([0, 1, 9, 8, 3]), st.integers(0, 3)
called = st.builds(CalledPartyNumber, digits=digits, type_of_number=ton, numbering_plan=plan)
calling = st.builds(CallingPartyNumber, digits=digits, type_of_number=ton, numbering_plan=plan,
                    presentation=two_bits, screening=two_bits)
redirecting = st.builds(RedirectingNumber, digits=digits, type_of_number=ton, numbering_plan=plan,
                        presentation=two_bits, screening=two_bits,
                        reason=st.sampled_from([0, 1, 2, 4, 0xF]))
cause = st.builds(Cause, value=st.integers(0, 127), location=st.sampled_from([0, 1, 2, 3, 4, 5, 7, 10]),
                  coding_standard=two_bits, diagnostics=st.binary(max_size=6),
                  recommendation=st.one_of(st.none(), st.integers(0, 127)))
progress = st.builds(ProgressIndicator, description=st.sampled_from([1, 2, 3, 4, 5, 8]),
                     location=st.sampled_from([0, 1, 2, 3, 4, 5, 10]), coding_standard=two_bits)
display = st.builds(Display, ia5)
keypad = st.builds(KeypadFacility, ia5)
call_state = st.builds(CallState, value=st.integers(0, 63), coding_standard=two_bits)
restart = st.builds(RestartIndicator, restart_class=st.sampled_from([0, 6, 7]))
notification = st.builds(NotificationIndicator, description=st.integers(0, 127))
other_codeset = st.builds(UnknownIE, identifier=st.integers(0, 0x7F), data=st.binary(max_size=8),
                          codeset=st.integers(4, 7))

IE_STRATEGIES = {
    BearerCapability: bc(), ChannelIdentification: chan_id(), CalledPartyNumber: called,
    CallingPartyNumber: calling, RedirectingNumber: redirecting, Cause: cause,
    ProgressIndicator: progress, Display: display, KeypadFacility: keypad, CallState: call_state,
    RestartIndicator: restart, NotificationIndicator: notification,
    SendingComplete: st.just(SendingComplete()),
}
assert set(IE_STRATEGIES) == set(q.IE_CLASSES.values())


@st.composite
def messages(draw, mtype=None):
    """A message of every type with its mandatory IEs (both directions) and some optional ones."""
    mt = draw(st.sampled_from(list(MT))) if mtype is None else mtype
    need = set(q.MANDATORY[mt]) | set(q.MANDATORY_BY_DIRECTION["n2u"].get(mt, ()))
    ies = [draw(IE_STRATEGIES[c]) for c in need]
    for cls in draw(st.lists(st.sampled_from(sorted(IE_STRATEGIES, key=lambda c: c.IDENTIFIER)),
                             max_size=5, unique=True)):
        if cls not in need:
            ies.append(draw(IE_STRATEGIES[cls]))
    ies += draw(st.lists(other_codeset, max_size=2))
    if mt in (MT.RESTART, MT.RESTART_ACKNOWLEDGE):
        call_ref, crl = 0, 2
    else:
        crl = draw(st.sampled_from([1, 2]))
        call_ref = draw(st.integers(1, (1 << (8 * crl - 1)) - 1))
    return Message(mt, call_ref, draw(st.integers(0, 1)), tuple(ies), crl)


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("cls", list(IE_STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_ie_round_trips(cls, data):
    ie = data.draw(IE_STRATEGIES[cls])
    msg = Message(MT.INFORMATION, 5, 1, (ie,))
    got = decode(encode(msg))
    assert got.problems == ()
    assert got.message == msg


@pytest.mark.parametrize("mt", list(MT), ids=lambda m: m.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_message_type_round_trips(mt, data):
    msg = data.draw(messages(mt))
    raw = encode(msg)
    got = decode(raw, "n2u")
    assert got.problems == ()
    assert got.message == msg.canonical()
    assert encode(got.message) == raw


# ---------------------------------------------------------------- never raises

@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise(raw):
    got = q._decode(raw, None)                      # the inner decoder: no safety net
    assert isinstance(got, Decoded)
    assert isinstance(decode(raw, "u2n"), Decoded)
    _check_consistent(got)


ie_soup = st.lists(st.one_of(
    st.tuples(st.integers(0, 0x7F), st.binary(max_size=6)).map(lambda t: bytes([t[0], len(t[1])]) + t[1]),
    st.integers(0x80, 0xFF).map(lambda b: bytes([b])),
    st.binary(min_size=1, max_size=3),
), max_size=8).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([0, 1, 2]), st.integers(0, 0x7FFF), st.integers(0, 0xFF), ie_soup,
       st.sampled_from([None, "n2u", "u2n"]))
def test_plausible_garbage_never_raises(crl, cr, mt, soup, direction):
    raw = bytes([8, crl]) + (cr % (1 << (8 * crl) if crl else 1)).to_bytes(crl, "big") + bytes([mt]) + soup
    got = q._decode(raw, direction)
    _check_consistent(got)


@settings(max_examples=200, deadline=None)
@given(messages(), st.data())
def test_mutated_messages_never_raise(msg, data):
    raw = bytearray(encode(msg))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _check_consistent(q._decode(bytes(raw[:cut]), "u2n"))


def _check_consistent(got: Decoded) -> None:
    """Whatever decode returns can be sent again and reads back the same (no half-built IEs)."""
    if got.message is None:
        assert got.problems and got.problems[0].action == Action.IGNORE
        return
    for p in got.problems:
        assert p.action in set(Action) and p.cause in q.CAUSE_TEXT
    if int(got.message.type) & 0x80:                # reserved extension bit: read, never sent
        assert got.problems[0].cause == 97
        return
    again = decode(encode(got.message))
    assert again.message == got.message.canonical()


# ---------------------------------------------------------------- hand-built layouts

def h(text: str) -> bytes:
    return bytes.fromhex(text)


SETUP_N2U = Message(MT.SETUP, 1, 0, (
    BearerCapability(transfer_capability=0x00, layer1=3),                 # speech, 64k, A-law
    ChannelIdentification(exclusive=True, channels=(1,)),
    CallingPartyNumber("0211234567", type_of_number=2, numbering_plan=1, presentation=0, screening=3),
    CalledPartyNumber("5551234", type_of_number=0, numbering_plan=1),
))
# Octet by octet from Q.931 figures 4-1 (header), 4-11 (BC), 4-18 (channel id), 4-16/4-14 (numbers):
SETUP_N2U_BYTES = h(
    "08"            # protocol discriminator Q.931
    "02 00 01"      # call reference length 2, flag 0, value 1
    "05"            # SETUP
    "04 03 80 90 a3"          # BC: ext|CCITT|speech, ext|circuit|64k, ext|layer1|G.711 A-law
    "18 03 a9 83 81"          # chan id: ext|PRI|exclusive|as indicated, ext|number|B units, ext|1
    "6c 0c 21 83" + "30323131323334353637"   # calling: national/ISDN, allowed/network provided
    + "70 08 81" + "35353531323334")          # called: unknown/ISDN


def test_setup_layout_matches_hand_built_bytes():
    assert encode(SETUP_N2U) == SETUP_N2U_BYTES
    got = decode(SETUP_N2U_BYTES, "n2u")
    assert got.problems == () and got.message == SETUP_N2U
    assert got.message.get(CalledPartyNumber).digits == "5551234"
    assert got.message.get(ChannelIdentification).channels == (1,)


def test_en_bloc_setup_with_sending_complete_progress_and_display():
    msg = Message(MT.SETUP, 0x1234, 0, (
        SendingComplete(), BearerCapability(transfer_capability=0x10, layer1=3),
        ChannelIdentification(exclusive=False, any_channel=True),
        ProgressIndicator(description=3, location=1), Display("ACME"),
        CallingPartyNumber("1001", 4, 9, presentation=1, screening=0),
        CalledPartyNumber("4930123", 2, 1),
        RedirectingNumber("4930999", 2, 1, presentation=0, screening=3, reason=1)))
    assert encode(msg) == h(
        "08 02 12 34 05 a1"
        "04 03 90 90 a3"          # 3.1 kHz audio
        "18 01 a3"                # preferred, any channel
        "1e 02 81 83"             # private local, origination non-ISDN
        "28 04 41434d45"
        "6c 06 49 a0 31303031"    # subscriber/private, restricted/user not screened
        "70 08 a1 34393330313233"
        "74 0a 21 03 81 34393330393939")   # redirecting: 3a allowed/network, 3b busy
    assert decode(encode(msg), "n2u").message == msg


@pytest.mark.parametrize("raw,msg", [
    ("08 02 80 01 02 18 03 a9 83 81",                       # CALL PROCEEDING, B1
     Message(MT.CALL_PROCEEDING, 1, 1, (ChannelIdentification(channels=(1,)),))),
    ("08 02 80 01 07", Message(MT.CONNECT, 1, 1)),
    ("08 02 00 01 0f", Message(MT.CONNECT_ACKNOWLEDGE, 1, 0)),
    ("08 02 80 01 45 08 02 82 90 1e 02 82 88",              # DISCONNECT normal clearing, in-band
     Message(MT.DISCONNECT, 1, 1, (Cause(16, location=2), ProgressIndicator(8, location=2)))),
    ("08 02 80 01 5a 08 02 80 91", Message(MT.RELEASE_COMPLETE, 1, 1, (Cause(17),))),
    ("08 02 00 00 46 79 01 87", Message(MT.RESTART, 0, 0, (RestartIndicator(7),))),
    ("08 02 00 00 46 18 03 a9 83 85 79 01 80",               # RESTART of B-channel 5
     Message(MT.RESTART, 0, 0, (ChannelIdentification(channels=(5,)), RestartIndicator(0)))),
    ("08 02 80 01 7d 08 03 80 e3 7e 14 01 0a",               # STATUS cause 99 diag 7E, U10 active
     Message(MT.STATUS, 1, 1, (Cause(99, diagnostics=b"\x7e"), CallState(10)))),
    ("08 01 81 7b 70 02 81 37",                             # INFORMATION, 1-octet call ref
     Message(MT.INFORMATION, 1, 1, (CalledPartyNumber("7"),), call_ref_len=1)),
    ("08 02 00 02 05 04 02 88 90 18 04 a9 83 01 82",         # 64k data on two B-channels
     Message(MT.SETUP, 2, 0, (BearerCapability(transfer_capability=0x08, layer1=None),
                              ChannelIdentification(channels=(1, 2))))),
])
def test_known_layouts(raw, msg):
    assert encode(msg) == h(raw)
    got = decode(h(raw), "n2u")
    assert got.problems == ()
    assert got.message == msg


def test_decode_accepts_what_we_do_not_send():
    # calling number without octet 3a, cause with octet 3a (recommendation), BC with 5a and 6
    got = decode(h("08 02 00 07 05 04 05 88 90 21 8f c2 18 03 a9 83 8a 6c 03 a1 31 32"), "n2u")
    assert got.problems == ()
    assert got.message.get(BearerCapability) == BearerCapability(transfer_capability=8, layer1=1)
    assert got.message.get(CallingPartyNumber) == CallingPartyNumber("12", 2, 1, 0, 0)
    got = decode(h("08 02 80 07 45 08 03 02 80 90"))
    assert got.message.get(Cause) == Cause(16, location=2, recommendation=0)
    # interface identifier present (octet 3.1) is skipped
    got = decode(h("08 02 80 07 02 18 04 e9 81 83 84"))
    assert got.message.get(ChannelIdentification).channels == (4,)


# ---------------------------------------------------------------- Q.931 5.8

def problem(raw: str, direction=None):
    got = decode(h(raw), direction)
    return got, got.problems[0] if got.problems else None


@pytest.mark.parametrize("raw,clause", [
    ("", "5.8.2"), ("08", "5.8.2"), ("08 02 00", "5.8.2"), ("08 02 00 01", "5.8.2"),
    ("09 02 00 01 05 04 03 80 90 a3", "5.8.1"),        # X.25-ish discriminator
    ("00 02 00 01 05", "5.8.1"),
    ("08 03 00 00 01 05", "5.8.3.1"),                  # call reference longer than we support
    ("08 12 00 01 05", "5.8.3.1"),                     # bits 8-5 of the length octet not 0000
])
def test_unrecognisable_messages_are_ignored(raw, clause):
    got, p = problem(raw)
    assert got.message is None
    assert p.action == "ignore" and p.clause == clause
    assert got.answer_cause() is None


def test_unknown_message_type_answers_status_97():
    got, p = problem("08 02 80 01 7f 08 02 80 90")
    assert (p.cause, p.action, p.clause) == (97, "drop_status", "5.8.4")
    assert got.message.type == 0x7F and got.message.call_ref == 1
    assert got.answer_cause() == Cause(97, diagnostics=b"\x7f")
    assert problem("08 02 80 01 85")[1].cause == 97          # bit 8 reserved for extension
    assert problem("08 02 80 01 62")[1].cause == 97          # FACILITY: not implemented


def test_setup_without_bearer_capability_is_released_with_96():
    got, p = problem("08 02 00 01 05 18 03 a9 83 81 70 02 81 31")
    assert (p.cause, p.ie, p.action) == (96, 0x04, "release_complete")
    assert got.answer_cause(location=0) == Cause(96, 0, diagnostics=b"\x04")


def test_channel_identification_mandatory_only_network_to_user():
    raw = "08 02 00 01 05 04 03 80 90 a3 70 02 81 31"
    assert decode(h(raw), "u2n").problems == ()
    assert decode(h(raw)).problems == ()
    _, p = problem(raw, "n2u")
    assert (p.cause, p.ie, p.action) == (96, 0x18, "release_complete")


@pytest.mark.parametrize("mt,action", [
    ("07", "status"), ("01", "status"), ("45", "release"), ("4d", "release_complete"),
    ("5a", "none"), ("05", "status"),
])
def test_unrecognised_non_mandatory_ie_gives_99(mt, action):
    body = {"45": "08 02 80 90", "05": "04 03 80 90 a3"}.get(mt, "")
    got, p = problem(f"08 02 80 01 {mt} {body} 7e 03 01 02 03")
    assert (p.cause, p.ie, p.action, p.clause) == (99, 0x7E, action, "5.8.7.1")
    assert UnknownIE(0x7E, b"\x01\x02\x03") in got.message.ies
    assert got.answer_cause().diagnostics == b"\x7e"


def test_unrecognised_comprehension_required_ie_is_treated_as_missing_mandatory():
    _, p = problem("08 02 80 01 07 01 01 00")
    assert (p.cause, p.ie, p.action) == (96, 0x01, "drop_status")
    _, p = problem("08 02 00 01 05 04 03 80 90 a3 0d 00")
    assert (p.cause, p.action) == (96, "release_complete")


@pytest.mark.parametrize("raw,expect", [
    ("08 02 80 01 45 08 01 80", (100, 0x08, "release")),             # cause value missing
    ("08 02 80 01 45 08 02 80 10", (100, 0x08, "release")),          # octet 4 ext bit clear
    ("08 02 80 01 4d 08 01 80", (100, 0x08, "release_complete")),    # optional cause in RELEASE
    ("08 02 80 01 7d 08 01 80 14 01 0a", (100, 0x08, "drop_status")),  # STATUS mandatory cause
    ("08 02 80 01 03 08 01 80 1e 02 82 88", (100, 0x08, "status")),   # PROGRESS optional cause
    ("08 02 00 01 05 04 01 80", (100, 0x04, "release_complete")),    # BC without octet 4
    ("08 02 80 01 07 1e 01 82", (100, 0x1E, "status")),              # progress too short
    ("08 02 80 01 02 18 03 a9 93 81", (100, 0x18, "status")),        # slot map
    ("08 02 80 01 02 18 03 a9 83 01", (100, 0x18, "status")),        # channel list unterminated
    ("08 02 80 01 7b 70 02 81 b1", (100, 0x70, "status")),           # digit with bit 8 set
    ("08 02 00 00 46 79 01 83", (100, 0x79, "drop_status")),         # reserved restart class
])
def test_invalid_contents_give_100(raw, expect):
    got, p = problem(raw)
    assert (p.cause, p.ie, p.action) == expect
    assert all(type(ie).IDENTIFIER != expect[1] for ie in got.message.ies if not isinstance(ie, UnknownIE))


def test_truncated_ie_length():
    _, p = problem("08 02 80 01 07 1e 05 82 88")                      # optional, runs off the end
    assert (p.cause, p.ie, p.action) == (100, 0x1E, "status")
    _, p = problem("08 02 00 01 05 04 07 80 90 a3")                   # mandatory BC
    assert (p.cause, p.ie, p.action) == (100, 0x04, "release_complete")
    got, p = problem("08 02 80 01 07 1e")                             # identifier without length
    assert (p.cause, p.ie) == (100, 0x1E)
    got, p = problem("08 02 80 01 07 7e 09 00")                       # unknown and truncated
    assert (p.cause, p.ie) == (99, 0x7E)


def test_missing_cause_in_disconnect_and_mandatory_ies_of_other_messages():
    _, p = problem("08 02 80 01 45")
    assert (p.cause, p.action) == (96, "release")
    for raw, ie in [("08 02 80 01 7d 14 01 0a", 0x08), ("08 02 80 01 7d 08 02 80 90", 0x14),
                    ("08 02 80 01 03", 0x1E), ("08 02 80 01 6e", 0x27), ("08 02 00 00 4e", 0x79)]:
        _, p = problem(raw)
        assert (p.cause, p.ie, p.action) == (96, ie, "drop_status"), raw
    assert decode(h("08 02 80 01 4d")).problems == ()      # RELEASE: first-clearing rule is the FSM's
    assert decode(h("08 02 80 01 5a")).problems == ()


def test_global_call_reference_misuse_gives_81():
    _, p = problem("08 02 00 00 05 04 03 80 90 a3")
    assert (p.cause, p.action, p.clause) == (81, "drop_status", "5.8.3.2")
    _, p = problem("08 02 00 05 46 79 01 87")
    assert p.cause == 81
    assert decode(h("08 02 80 00 7d 08 02 80 9e 14 01 00")).problems == ()   # STATUS on global CR
    assert decode(h("08 02 80 00 4e 79 01 87")).message.is_global


def test_most_severe_problem_comes_first():
    got, p = problem("08 02 00 01 05 7e 01 00 1e 01 82")               # no BC, unknown IE, bad PI
    assert [(x.cause, x.action) for x in got.problems] == [
        (96, "release_complete"), (100, "status"), (99, "status")]
    assert got.answer_cause() == Cause(96, diagnostics=b"\x04")


def test_duplicated_ies_first_one_handled():
    got = decode(h("08 02 80 01 7b 70 02 81 31 70 02 81 32"))
    assert got.problems == () and got.message.get_all(CalledPartyNumber) == [CalledPartyNumber("1")]
    got = decode(h("08 02 80 01 45 08 02 80 90 08 02 82 91 08 02 82 92"))   # cause may repeat twice
    assert [c.value for c in got.message.get_all(Cause)] == [16, 17]


def test_codeset_shifts():
    # locking shift to codeset 6: everything after it belongs to codeset 6, unrecognised, no cause
    got = decode(h("08 02 80 01 07 96 01 02 aa bb 7e 01 00 a1"))
    assert got.problems == ()
    assert got.message.ies == (UnknownIE(0x01, b"\xaa\xbb", 6), UnknownIE(0x7E, b"\x00", 6),
                               UnknownIE(0xA1, b"", 6))
    # non-locking shift to codeset 5 applies to the next IE only
    got = decode(h("08 02 80 01 7b 9d 70 01 41 70 02 81 31"))
    assert got.problems == ()
    assert got.message.ies == (UnknownIE(0x70, b"\x41", 5), CalledPartyNumber("1"))
    # a locking shift back to a lower codeset is not allowed and is disregarded
    got = decode(h("08 02 80 01 7b 96 90 70 02 81 31"))
    assert got.message.ies == (UnknownIE(0x70, b"\x81\x31", 6),)
    # encode puts other codesets after a locking shift, ascending
    msg = Message(MT.CONNECT, 1, 1, (UnknownIE(0x01, b"\x01", 7), UnknownIE(0x02, b"", 6), Display("x")))
    assert encode(msg) == h("08 02 80 01 07 28 01 78 96 02 00 97 01 01 01")
    assert decode(encode(msg)).message == msg.canonical()


def test_sending_complete_and_unknown_single_octet_ies():
    got = decode(h("08 02 00 01 7b a1 70 02 81 31"))
    assert got.message.get(SendingComplete) == SendingComplete() and got.problems == ()
    got, p = problem("08 02 80 01 07 a0")                                  # more data: not ours
    assert (p.cause, p.ie, p.action) == (99, 0xA0, "status")
    assert got.answer_cause().diagnostics == b""                            # single octet: no diag


def test_dummy_and_one_octet_call_references():
    got = decode(h("08 00 7b 70 02 81 31"))
    assert got.message.call_ref_len == 0 and not got.message.is_global and got.problems == ()
    assert encode(got.message) == h("08 00 7b 70 02 81 31")
    got = decode(h("08 01 85 07"))
    assert (got.message.call_ref, got.message.call_ref_flag, got.message.call_ref_len) == (5, 1, 1)


def test_lists_are_taken_as_tuples():
    msg = Message(MT.CONNECT, 1, 1, [ChannelIdentification(channels=[3, 4])])
    assert msg.ies == (ChannelIdentification(channels=(3, 4)),) and hash(msg)


def test_encode_rejects_what_must_not_be_sent():
    bad = [
        Message(MT.SETUP, 0x8000, 0),
        Message(MT.SETUP, 0x80, 0, call_ref_len=1),
        Message(MT.SETUP, 1, 2),
        Message(0x80, 1, 0),
        Message(MT.INFORMATION, 1, 0, (CalledPartyNumber("12é"),)),
        Message(MT.INFORMATION, 1, 0, (ChannelIdentification(),)),
        Message(MT.INFORMATION, 1, 0, (ChannelIdentification(channels=(1,), any_channel=True),)),
        Message(MT.INFORMATION, 1, 0, (ChannelIdentification(interface_type="basic", channels=(3,)),)),
        Message(MT.RESTART, 0, 0, (RestartIndicator(3),)),
        Message(MT.INFORMATION, 1, 0, (Cause(200),)),
        Message(MT.INFORMATION, 1, 0, (Display("x" * 256),)),
        Message(MT.INFORMATION, 1, 0, (UnknownIE(0x96),)),
    ]
    for msg in bad:
        with pytest.raises(ValueError):
            encode(msg)


def test_cause_table_and_texts():
    for value, words in [(1, "unallocated"), (16, "normal call clearing"), (17, "user busy"),
                         (18, "no user responding"), (19, "no answer"), (21, "call rejected"),
                         (27, "destination out of order"), (28, "invalid number format"),
                         (31, "normal, unspecified"), (34, "no circuit/channel available"),
                         (38, "network out of order"), (41, "temporary failure"),
                         (42, "switching equipment congestion"), (44, "requested circuit/channel"),
                         (47, "resource unavailable"), (63, "service or option not available"),
                         (65, "bearer capability not implemented"), (79, "not implemented"),
                         (81, "invalid call reference"), (82, "identified channel does not exist"),
                         (88, "incompatible destination"), (95, "invalid message"),
                         (96, "mandatory information element is missing"), (97, "message type"),
                         (98, "not compatible with call state"), (99, "information element"),
                         (100, "invalid information element contents"),
                         (101, "not compatible with call state"), (102, "recovery on timer expiry"),
                         (111, "protocol error"), (127, "interworking")]:
        assert words in q.CAUSE_TEXT[value]
    assert Cause(17).text == "user busy"
    assert len(q.CAUSE_TEXT) >= 65


# ---------------------------------------------------------------- tshark as the independent peer

def _pcap(frames: list[tuple[bool, bytes]]) -> bytes:
    """pcap, link type 177 LINUX_LAPD: 16-octet pseudo-header, then a Q.921 I-frame (no FCS)."""
    out = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 177)
    for i, (from_network, q931) in enumerate(frames):
        pseudo = struct.pack(">HHH8sH", 4, 0x20FD, 1, bytes([1 if from_network else 0]) + bytes(7), 0x0030)
        # Q.921: SAPI 0, C/R (1 for a command from the network side), TEI 0; I-frame N(S)=i, N(R)=0
        lapd = bytes([0x02 if from_network else 0x00, 0x01, (i << 1) & 0xFE, 0x00])
        rec = pseudo + lapd + q931
        out += struct.pack(">IIII", 1_700_000_000 + i, 0, len(rec), len(rec)) + rec
    return out


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_our_messages(tmp_path):
    msgs = [
        (True, SETUP_N2U),
        (False, Message(MT.ALERTING, 1, 1, (ProgressIndicator(8, location=0),))),
        (True, Message(MT.SETUP, 0x2A, 0, (
            SendingComplete(), BearerCapability(transfer_capability=0x10),
            ChannelIdentification(exclusive=True, channels=(17,)), Display("Sales"),
            CallingPartyNumber("88001234", 2, 1, presentation=1, screening=3),
            CalledPartyNumber("600", 4, 1),
            RedirectingNumber("600700", 2, 1, reason=2)))),
        (False, Message(MT.DISCONNECT, 0x2A, 1, (Cause(17, location=0),))),
        (True, Message(MT.RELEASE, 0x2A, 0, (Cause(34, location=2),))),
        (True, Message(MT.STATUS, 1, 0, (Cause(99, location=2, diagnostics=b"\x7e"), CallState(10)))),
        (True, Message(MT.RESTART, 0, 0, (RestartIndicator(7),))),
        (False, Message(MT.CONNECT, 1, 1, (UnknownIE(0x01, b"\x01", 6),))),   # codeset 6 after a shift
    ]
    path = tmp_path / "q931.pcap"
    path.write_bytes(_pcap([(net, encode(m)) for net, m in msgs]))
    fields = ["lapd.sapi", "q931.message_type", "q931.call_ref", "q931.call_ref_flag",
              "q931.calling_party_number.digits", "q931.called_party_number.digits",
              "q931.redirecting_number.digits", "q931.cause_value", "q931.cause_location",
              "q931.channel.number", "q931.information_transfer_capability", "q931.uil1",
              "q931.presentation_ind", "q931.screening_ind", "q931.progress_indicator.description",
              "q931.display_information", "q931.call_state", "q931.restart_indicator",
              "q931.number_type", "_ws.malformed", "_ws.expert.message"]
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [dict(zip(fields, line.split("|"))) for line in out.splitlines()]
    assert len(rows) == len(msgs)
    for row, (_, m) in zip(rows, msgs):
        assert row["lapd.sapi"] == "0"
        assert int(row["q931.message_type"], 0) == int(m.type)
        assert row["_ws.malformed"] == "" and row["_ws.expert.message"] == "", row
    s1, alert, s2, disc, rel, status, restart, _ = rows
    assert s1["q931.calling_party_number.digits"] == "0211234567"
    assert s1["q931.called_party_number.digits"] == "5551234"
    assert s1["q931.channel.number"] == "1"
    assert int(s1["q931.information_transfer_capability"], 0) == 0x00
    assert int(s1["q931.uil1"], 0) == 0x03
    assert s1["q931.call_ref"].replace(":", "") == "0001" and s1["q931.call_ref_flag"] in ("0", "False")
    assert int(s1["q931.screening_ind"], 0) == 3
    assert alert["q931.call_ref_flag"] in ("1", "True")
    assert int(alert["q931.progress_indicator.description"], 0) == 8
    assert s2["q931.calling_party_number.digits"] == "88001234"
    assert s2["q931.called_party_number.digits"] == "600"
    assert s2["q931.redirecting_number.digits"] == "600700"
    assert s2["q931.channel.number"] == "17"
    assert int(s2["q931.information_transfer_capability"], 0) == 0x10
    assert s2["q931.display_information"] == "Sales"
    assert int(s2["q931.presentation_ind"].split(",")[0], 0) == 1
    assert int(disc["q931.cause_value"], 0) == 17 and int(disc["q931.cause_location"], 0) == 0
    assert int(rel["q931.cause_value"], 0) == 34 and int(rel["q931.cause_location"], 0) == 2
    assert int(status["q931.cause_value"], 0) == 99 and int(status["q931.call_state"], 0) == 10
    assert int(restart["q931.restart_indicator"], 0) == 7
