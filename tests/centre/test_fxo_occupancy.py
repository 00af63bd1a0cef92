"""FXO trunk lines in the occupancy samples (group "fxo"), end to end: a call rung in on
an FXO line of the simulated world makes the line busy in the server's own samples, and
the loss report gives the group its own figures, apart from the E1 spans."""
from __future__ import annotations


def fxo_samples(c):
    return [(r["busy"], r["total"]) for r in c.svc.store.trunk_samples(0, 1e12)
            if r["span"] == "fxo"]


def test_a_call_on_an_fxo_line_is_sampled_busy_then_idle(centre_1001):
    c = centre_1001
    c.run(5)
    assert fxo_samples(c) == [(0, 4)]                 # ports 9..12 of the default world
    c.world.lines[9].call("02150001000", "LI SI")
    c.run(150)                                        # rung, answered by the centre
    assert fxo_samples(c)[-1] == (1, 4)
    assert c.svc.centre.fxo_trunks_busy() == (1, 4)
    # the caller hangs up: the exchange drops the battery for a moment (open loop
    # disconnect); the centre clears the call and the line rests, then is idle again
    c.world.lines[9].battery(False)
    c.run(50)
    c.world.lines[9].battery(True)
    c.run(300)
    assert c.svc.centre.fxo_trunks_busy() == (0, 4)
    samples = fxo_samples(c)
    assert samples[-1] == (0, 4) and (1, 4) in samples
    # the report gives the FXO lines their own figures, apart from the E1 group
    from cti.store.report import loss_report
    rep = loss_report(c.svc.store, 0, c.svc.ts() + 1, interval=3600)
    trunk = rep["totals"]["trunk"]
    fxo = trunk["spans"]["fxo"]
    assert fxo["channels"] == 4 and fxo["peak_busy"] == 1 and fxo["carried_erlangs"] > 0
    assert trunk["channels"] == 60                     # the two E1 spans' B-channels only


def test_busy_tone_from_the_exchange_ends_an_answered_fxo_call(centre_1001):
    """A caller on an FXO line hangs up and the exchange sends busy tone (no battery
    drop): the centre, which answered the call, still hears it and clears the call."""
    c = centre_1001
    c.world.lines[9].call("02150001001", "WANG WU")
    evs = c.run(150)
    assert c.svc.centre.fxo_trunks_busy() == (1, 4)
    assert any(e["type"] == "call.offered" for e in evs)
    co = c.world.lines[9]._p                          # the exchange's end of the line
    co.progress_tone("busy")
    evs = c.run(400)
    cleared = [e for e in evs if e["type"] == "call.cleared"]
    assert cleared, [e["type"] for e in evs]
    co.progress_tone(None)
    c.run(300)
    assert c.svc.centre.fxo_trunks_busy() == (0, 4)
