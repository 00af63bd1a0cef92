"""The CDR's wrap-up column: the agent's wrap-up after the call, written on the call's
CDR when the wrap-up ends (the CDR itself is written when the call clears), end to end on
the simulated board, and the same length as the agent log's wrap-up state."""
from __future__ import annotations

import pytest

from tests.desk import types


def _answered_call(c, ani):
    x = c.world.calls.offer_call(1, ani, "4008005555")      # the service queue
    evs = c.run(60)
    assert "call.delivered" in types(evs)
    c.world.phones[1].lift()
    evs = c.run(50)
    assert "call.established" in types(evs)
    return x


def test_wrapup_goes_on_the_cdr_when_it_ends(centre_1001):
    c = centre_1001
    wrapup = c.svc.centre._queue_cfg["service"].wrapup
    assert wrapup > 0
    x = _answered_call(c, "13800138000")
    c.world.calls.hangup(1, x.call)                          # the caller hangs up
    c.run(20)
    c.world.phones[1].hang_up()
    (cdr,) = c.svc.store.cdrs(0, 1e12)
    assert cdr["outcome"] == "answered" and cdr["agent"] == "1001"
    assert cdr["wrapup"] is None                             # still wrapping up
    c.run(int(wrapup * 50) + 50)
    (cdr,) = c.svc.store.cdrs(0, 1e12)
    assert cdr["wrapup"] == pytest.approx(wrapup, abs=0.05)
    # the agent log says the same: from the wrapup row to the next one
    log = c.svc.store.agent_log("1001")
    i = next(k for k, r in enumerate(log) if r["state"] == "wrapup")
    assert log[i + 1]["time"] - log[i]["time"] == pytest.approx(cdr["wrapup"], abs=1e-6)


def test_wrapup_cut_short_by_ready_is_what_it_lasted(centre_1001):
    c = centre_1001
    x = _answered_call(c, "13800138001")
    c.world.calls.hangup(1, x.call)
    c.run(20)
    c.world.phones[1].hang_up()
    c.run(100)                                               # two seconds of wrap-up
    c.req("agent.ready", agent="1001")
    c.run(2)
    (cdr,) = c.svc.store.cdrs(0, 1e12)
    assert 1.5 < cdr["wrapup"] < 3.0
