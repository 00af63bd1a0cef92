"""Requests of cti/server/ops/channels.py: channel.show, channel.tone and channel.listen (a
technician's view of one timeslot or port), on the simulated world."""
from __future__ import annotations

import base64
import json
import math
import struct

import pytest

from drivers.board import Audio
from drivers.codecs import alaw_decode

from tests.inprocess import ok, settle, tapped


def test_channel_ops(svc):
    settle(svc)
    assert ok(svc, "channel.show", channel="1/16")["kind"] == "dchan"
    port = ok(svc, "channel.show", channel="fxs/3")
    assert port["kind"] == "fxs" and port["hook"] == "on"
    assert ok(svc, "channel.show", channel="fxo/12")["kind"] == "fxo"
    t = ok(svc, "channel.tone", channel="1/5", freq=1004, level=-13, ms=40)
    assert t == {"channel": "1/5", "freq": 1004, "freq2": 0, "level": -13, "ms": 40}
    # the tone goes out on timeslot 5: the exchange hears 40 ms of 1004 Hz at -13 dBm0
    svc.world.exchange.spans[1].channels[5].tap(True)
    pubs, audio = [], b""
    for _ in range(4):
        pubs += svc.tick()[0]
        audio += b"".join(e.data for e in svc.world.exchange_events
                          if isinstance(e, Audio) and e.timeslot == 5)
    pcm = alaw_decode(audio)
    samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm)
    loud = [i for i, x in enumerate(samples) if abs(x) > 1000]
    tone = samples[loud[0]:loud[-1] + 1]
    assert 300 <= len(tone) <= 330                       # 40 ms at 8000 samples/s
    crossings = sum(1 for x, y in zip(tone, tone[1:]) if (x < 0) != (y < 0))
    assert crossings * 8000 / (2 * len(tone)) == pytest.approx(1004, rel=0.03)
    rms = math.sqrt(sum(x * x for x in tone) / len(tone))
    assert rms == pytest.approx(22827 * 10 ** (-13 / 20) / math.sqrt(2), rel=0.05)
    done = [p.event for p in pubs if p.topic == "channel.tone_done"]
    # played: false, a generated tone ran out (true: a played buffer)
    assert len(done) == 1 and done[0]["channel"] == "1/5" and done[0]["span"] == 1
    assert done[0]["data"] == {"played": False, "what": "tone"}


def test_listen_is_answered_after_the_line_time(svc):
    settle(svc)
    assert svc.handle(json.dumps({"id": "L", "op": "channel.listen",
                                  "args": {"channel": "1/5", "seconds": 0.05}}), token="T") is None
    replies = []
    for _ in range(5):
        pubs, done = svc.tick()
        assert not [p for p in pubs if p.topic == "channel.audio"]  # audio is not on the bus
        replies += done
    assert len(replies) == 1
    token, reply = replies[0]
    assert token == "T" and reply["id"] == "L" and reply["ok"]
    audio = base64.b64decode(reply["result"]["audio"])
    assert len(audio) == 400 and set(audio) == {0xD5}     # an idle timeslot: A-law silence
    assert reply["result"]["law"] == "alaw" and reply["result"]["rate"] == 8000
    assert tapped(svc) == set()


def test_listen_hears_the_far_end(svc):
    settle(svc)
    svc.world.exchange.spans[2].channels[9].tone(1004, level_dbm0=-10, ms=-1)
    svc.handle({"id": 1, "op": "channel.listen", "args": {"channel": "2/9", "seconds": 0.1}},
               token="t")
    assert tapped(svc) == {(2, 9)}
    done = []
    while not done:
        done += svc.tick()[1]
        assert svc.board.tick_count < 20
    pcm = alaw_decode(base64.b64decode(done[0][1]["result"]["audio"]))
    samples = struct.unpack("<800h", pcm)
    assert min(samples) < -5000 and max(samples) > 5000


def test_two_listens_share_a_tap(svc):
    settle(svc)
    svc.handle({"id": 1, "op": "channel.listen", "args": {"channel": "fxs/2", "seconds": 0.02}},
               token="a")
    svc.handle({"id": 2, "op": "channel.listen", "args": {"channel": "fxs/2", "seconds": 0.06}},
               token="b")
    got = []
    for _ in range(2):
        got += svc.tick()[1]
    assert [t for t, _ in got] == ["a"]
    assert tapped(svc) == {(0, 2)}          # b still listens (this tick's audio is lost to it)
    for _ in range(3):
        got += svc.tick()[1]
    assert [t for t, _ in got] == ["a", "b"] and tapped(svc) == set()
    assert len(base64.b64decode(got[1][1]["result"]["audio"])) == 480
