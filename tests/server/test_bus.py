"""cti.server.bus: gap-free seq, the replay ring, and the two-frame wire format (no sockets)."""
import json

import pytest

from cti.server.bus import EventLog, ReplayGap, decode, encode


def fill(log: EventLog, n: int, topic: str = "span.alarm") -> None:
    for i in range(n):
        log.append(100.0 + i * 0.02, topic, span=1, data={"i": i})


def test_seq_is_gap_free_and_ts_is_the_callers():
    log = EventLog(8)
    p1 = log.append(12.5, "span.alarm", span=1, data={"alarms": ["LOS"]})
    p2 = log.append(12.52, "channel.hook", channel="fxs/3", data={"off_hook": True})
    assert [p1.event["seq"], p2.event["seq"]] == [1, 2]
    assert p1.event == {"seq": 1, "ts": 12.5, "type": "span.alarm", "span": 1,
                        "data": {"alarms": ["LOS"]}}
    assert p2.topic == "channel.hook" and p2.event["channel"] == "fxs/3"
    assert "span" not in p2.event
    assert log.last_seq == 2 and log.first_seq == 1


def test_topic_can_differ_from_type():
    p = EventLog().append(1.0, "agent.state", topic="agent.1001", agent="1001")
    assert p.topic == "agent.1001" and p.event["type"] == "agent.state"
    assert p.event["agent"] == "1001"


def test_replay_after():
    log = EventLog(100)
    fill(log, 10)
    assert [e["seq"] for e in log.replay(7)] == [8, 9, 10]
    assert [e["seq"] for e in log.replay(0)] == list(range(1, 11))
    assert log.replay(10) == []


def test_replay_with_topic_prefixes():
    log = EventLog(100)
    log.append(1, "span.alarm", span=1)
    log.append(2, "channel.hook", channel="fxs/1")
    log.append(3, "channel.ring", channel="fxo/9")
    assert [e["seq"] for e in log.replay(0, ["channel.h", "span."])] == [1, 2]


def test_ring_is_bounded_and_old_seqs_raise():
    log = EventLog(5)
    fill(log, 12)
    assert (log.first_seq, log.last_seq) == (8, 12)
    assert [e["seq"] for e in log.replay(7)] == [8, 9, 10, 11, 12]
    with pytest.raises(ReplayGap) as e:
        log.replay(6)
    assert "8..12" in str(e.value) and "snapshot" in str(e.value)
    assert (e.value.first, e.value.last) == (8, 12)


def test_replay_ahead_of_last_seq():
    log = EventLog(5)
    fill(log, 3)
    with pytest.raises(ReplayGap) as e:
        log.replay(4)
    assert "ahead" in str(e.value)


def test_replay_argument_checks():
    log = EventLog(5)
    with pytest.raises(TypeError):
        log.replay("3")
    with pytest.raises(TypeError):
        log.replay(True)
    with pytest.raises(ValueError):
        log.replay(-1)
    with pytest.raises(ValueError):
        EventLog(0)


def test_empty_log():
    log = EventLog(5)
    assert (log.first_seq, log.last_seq) == (1, 0)
    assert log.replay(0) == []


def test_two_frames_topic_and_json():
    p = EventLog().append(5.0, "channel.cas", channel="1/3", span=1, data={"abcd": 9})
    frames = encode(p)
    assert frames[0] == b"channel.cas"
    assert json.loads(frames[1])["data"] == {"abcd": 9}
    assert decode(frames) == ("channel.cas", p.event)
    with pytest.raises(ValueError):
        decode([b"x"])


def test_ring_is_bounded_in_bytes_too():
    from cti.server.bus import MAX_EVENT_BYTES
    log = EventLog(10_000, ring_bytes=4 * MAX_EVENT_BYTES)
    for i in range(100):
        log.append(float(i), "call.transferred", data={"note": "x" * 4000})
    assert log.bytes <= 4 * MAX_EVENT_BYTES
    assert 10 <= len(log) < 20                        # by bytes, long before 10,000 events
    assert log.first_seq == 100 - len(log) + 1
    assert [e["seq"] for e in log.replay(log.first_seq - 1)][-1] == 100
    with pytest.raises(ReplayGap):
        log.replay(0)


def test_an_event_over_the_size_cap_keeps_its_fields_but_not_its_data():
    from cti.server.bus import MAX_EVENT_BYTES
    log = EventLog(10)
    p = log.append(1.0, "call.delivered", topic="call.delivered", call_id="c1", agent="1001",
                   data={"blob": "x" * (1 << 20)})
    assert len(encode(p)[1]) <= MAX_EVENT_BYTES
    assert p.event["call_id"] == "c1" and p.event["agent"] == "1001"
    assert p.event["data"]["truncated"] > 1 << 20
    assert log.truncated == 1 and log.bytes < 1000
    assert log.replay(0) == [p.event]
