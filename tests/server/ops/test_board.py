"""Requests of cti/server/ops/board.py: the board and its spans (board.list, board.show,
span.show, span.alarms, span.counters, span.loopback, span.bert), on the simulated world."""
from __future__ import annotations

from tests.inprocess import ok, settle, ticks


def test_ping_and_board(svc):
    p = ok(svc, "ping")
    assert p["board"] == "sim0" and p["seq"] == 0 and p["protocol"] == 1
    boards = ok(svc, "board.list")["boards"]
    assert boards[0]["name"] == "sim0" and boards[0]["spans"] == [1, 2]
    assert boards[0]["ports"][:1] == ["fxs/1"] and boards[0]["ports"][-1] == "fxo/12"
    show = ok(svc, "board.show")
    assert [s["span"] for s in show["span_status"]] == [1, 2]
    assert len(show["port_status"]) == 12


def test_span_ops(svc):
    settle(svc)
    ticks(svc, 3)
    s = ok(svc, "span.show", span=1)
    assert s["in_sync"] and s["alarms"] == [] and s["counters"]["crc4_errors"] == 0
    assert len(s["channels"]) == 31 and s["channels"][15]["kind"] == "dchan"
    assert ok(svc, "span.alarms", span=2) == {"span": 2, "alarms": [], "in_sync": True,
                                              "loopback": "off"}
    frames = ok(svc, "span.counters", span=1)["counters"]["frames_rx"]
    assert frames >= 3 * 160
    c = ok(svc, "span.counters", span=1, reset=True)
    assert c["counters"]["frames_rx"] == frames and c["reset"] is True
    assert ok(svc, "span.counters", span=1)["counters"]["frames_rx"] == 0
    ticks(svc, 1)   # one tick: 20 ms, 160 E1 frames
    assert ok(svc, "span.counters", span=1)["counters"]["frames_rx"] == 160
    assert ok(svc, "span.loopback", span=1, mode="local") == {"span": 1, "loopback": "local"}
    assert svc.board.spans[1].status()["loopback"] == "local"
    assert ok(svc, "span.alarms", span=1)["loopback"] == "local"
    assert ok(svc, "span.bert", span=1, action="start")["running"] is True
    assert ok(svc, "span.bert", span=1)["running"] is True
    assert ok(svc, "span.bert", span=1, action="stop")["running"] is False
