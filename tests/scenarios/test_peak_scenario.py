"""The TV-advert peak scenario (cti/scenarios/tv_peak.py, issue #8 item 5) on small centres: the same
callers (one seed) offered to an old centre that queues everyone and a new one with more
trunks, agents and IVR ports, peak dissuasion and callbacks after the peak.

Every offered call must be accounted for exactly once, and the account is checked
against sources it is not computed from: the exchange's own log of calls (what really
crossed the E1), the CDRs, the callbacks' outbound CDRs (a served callback is an
outbound call an agent really talked on) and the loss report."""
from __future__ import annotations

import collections
import json
import sqlite3

import pytest

from cti.scenarios import tv_peak as scenario
from cti.scenarios.tv_peak import CentrePlan, PeakPlan

OLD = CentrePlan("old", spans=1, agents=12, ivr_ports=10)
NEW = CentrePlan("new", spans=2, agents=24, ivr_ports=10, dissuade="impose",
                 dissuade_ewt=10.0, callbacks=True, callback_rate_below=8.0)
PEAK = PeakPlan(seed=3, base=5.0, peak=80.0, lead=10.0, ramp=20.0, hold=60.0, patience=20.0,
                drain_limit=1200.0)


INDEX_CHECKS = collections.Counter()


def _check_indexes(centre, traffic):
    """The centre's calls by trunk channel and the simulated desks by call, each against
    a scan of what it indexes (both are kept as calls come and go)."""
    scan = collections.defaultdict(list)
    for call in centre.calls.values():
        if call.span is not None and call.timeslot is not None:
            scan[(call.span, call.timeslot)].append(call)
        if call.fxo_port is not None:
            scan[(0, call.fxo_port)].append(call)
    assert centre._trunk_calls == dict(scan)
    INDEX_CHECKS["trunk"] += len(scan)
    if traffic is not None:
        desks = collections.defaultdict(dict)
        for d in traffic.desks.values():
            if d.call_id is not None:
                desks[d.call_id][d.port] = d
        assert traffic._desks_of_call == dict(desks)
        INDEX_CHECKS["desk"] += len(desks)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from cti.server.service import Service

    home = tmp_path_factory.mktemp("peak")
    tick = Service.tick

    def checked_tick(self):
        out = tick(self)
        _check_indexes(self.centre, getattr(self, "traffic", None))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Service, "tick", checked_tick)
        res = scenario.run_peak(OLD, NEW, PEAK, home=home, progress=False)
    files = scenario.write_outputs(res, home)
    return res, files, home


def test_the_call_indexes_agree_with_a_scan_at_every_tick(results):
    # checked in the fixture; here that there was something to check
    assert INDEX_CHECKS["trunk"] > 1000 and INDEX_CHECKS["desk"] > 100


def db(results, name):
    return sqlite3.connect(f"{results[2] / name / 'cti.db'}")


def test_every_offered_call_is_accounted_for_exactly_once(results):
    res = results[0]
    for name in ("old", "new"):
        a = res[name]["account"]
        assert a["offered"] == res[name]["traffic"]["arrivals"] > 50
        assert a["accounted"] == a["offered"], (name, a)
        assert a["other"] == 0, a
        # each call offered to the board has exactly one CDR; the rest met busy trunks
        assert a["cdrs"] == a["offered"] - a["detail"]["congested_at_exchange"]
        ids = [r[0] for r in db(results, name).execute(
            "SELECT call_id FROM cdr WHERE direction = 'in'")]
        assert len(ids) == len(set(ids)) == a["cdrs"]
    # the same seed: the same callers knocked on both doors
    assert res["old"]["account"]["offered"] == res["new"]["account"]["offered"]


def test_the_account_agrees_with_the_exchanges_own_log(results):
    res = results[0]
    for name in ("old", "new"):
        a = res[name]["account"]
        con = db(results, name)
        answered_cdrs = con.execute("SELECT count(*) FROM cdr WHERE direction = 'in' AND "
                                    "outcome = 'answered'").fetchone()[0]
        assert answered_cdrs == a["answered"]
        # calls answered by an agent are the callers that spoke to one (the simulator's
        # own count, from its phones and the exchange)
        assert res[name]["traffic"]["answered_by_agent"] >= a["answered"]
        assert res[name]["traffic"]["congested"] == a["detail"]["congested_at_exchange"]


def test_a_served_callback_is_an_answered_outbound_call(results):
    res = results[0]
    a = res["new"]["account"]
    assert a["callback_served"] > 0
    con = db(results, "new")
    rows = con.execute(
        "SELECT cb.call_id, cb.callback_call_id, o.outcome, o.answer, o.agent, o.dnis, "
        "cb.number FROM callbacks cb LEFT JOIN cdr o ON o.call_id = cb.callback_call_id "
        "WHERE cb.state = 'done'").fetchall()
    assert len(rows) == a["callback_served"]
    for call_id, cb_call, outcome, answer, agent, dnis, number in rows:
        assert cb_call and outcome == "answered" and answer is not None and agent
        assert dnis == number
    # requests made by dissuaded callers, each from one inbound call
    req = con.execute("SELECT count(DISTINCT call_id) FROM callbacks").fetchone()[0]
    assert req == a["detail"]["callback_requested"] == \
        res["new"]["traffic"]["callback_requests"]


def test_the_new_centre_serves_more_and_the_old_loses_where_the_case_says(results):
    res = results[0]
    old, new = res["old"]["account"], res["new"]["account"]
    assert old["served_share"] < 0.5
    assert new["served_share"] > old["served_share"] + 0.3
    # the old centre loses at the trunks and in the queue, far more than the new one
    assert old["lost"]["trunk"] > 0 and old["lost"]["queue"] > 0
    assert old["lost_total"] > 2 * new["lost_total"]
    assert old["callback_served"] == 0
    assert res["old"]["counters"]["dissuaded"] == 0 < res["new"]["counters"]["dissuaded"]


def test_the_loss_report_shows_the_same_losses(results):
    res = results[0]
    for name in ("old", "new"):
        a, rep = res[name]["account"], res[name]["report"]
        tot = rep["totals"]
        assert tot["offered"] == a["offered"]
        assert tot["lost"]["trunk"] == a["lost"]["trunk"]
        assert tot["lost"]["ivr"] == a["lost"]["ivr"]
        assert tot["lost"]["agent"] == a["lost"]["agent"]
        # the report's queue losses are the callers who left the queue; the account also
        # counts callback requests never completed there
        assert tot["lost"]["queue"] + a["detail"]["callback_unserved"] == a["lost"]["queue"]
        assert sum(p["offered"] for p in rep["intervals"]) == a["offered"]
        # minute by minute: the busiest minute is in the advert's peak
        busiest = max(rep["intervals"], key=lambda p: p["offered"])
        assert busiest["end"] - rep["start"] > PEAK.lead + PEAK.ramp
        assert busiest["start"] - rep["start"] < PEAK.arrivals_seconds - PEAK.ramp


def test_the_chart_bars_are_every_call_offered(results):
    import re

    from cti.store.charts import manager_svg

    for name in ("old", "new"):
        rep = results[0][name]["report"]
        svg = manager_svg(rep)
        per = collections.Counter()
        series = set()
        for m in re.finditer(r'data-chart="losses" data-series="(\w+)" data-interval="(\d+)" '
                             r'data-value="(\d+)"', svg):
            per[int(m.group(2))] += int(m.group(3))
            series.add(m.group(1))
        assert [per[i] for i in range(len(rep["intervals"]))] == \
            [p["offered"] for p in rep["intervals"]]
        if name == "new":
            assert "callback" in series


def test_outputs_written(results):
    res, files, home = results
    data = json.loads((home / "peak.json").read_text())
    assert data["new"]["account"] == json.loads(json.dumps(res["new"]["account"]))
    page = (home / "peak.html").read_text()
    assert "old centre" in page and "new centre" in page and "<svg" in page
    table = scenario.format_side_by_side(res)
    assert "served by a callback" in table and "lost at the trunks" in table


def test_plans_are_checked_and_scaled():
    with pytest.raises(ValueError, match="spans"):
        CentrePlan("x", spans=0, agents=1, ivr_ports=1)
    with pytest.raises(ValueError, match="dissuade"):
        CentrePlan("x", spans=1, agents=1, ivr_ports=1, dissuade="always")
    s = scenario.scaled(scenario.NEW_CENTRE, 0.1)
    assert (s.spans, s.agents, s.ivr_ports) == (1, 70, 15)
    p = scenario.scaled(PeakPlan(), 0.1)
    assert p.peak == pytest.approx(78.5) and p.hold == PeakPlan().hold
    # the case's profile: over 7,000 calls in the ten minutes after the advert
    assert PeakPlan().expected_calls() > 7000
    assert collections.Counter(scenario.centre_toml(scenario.NEW_CENTRE, PeakPlan(), "p", "h")
                               .splitlines())['[[board.spans]]'] == 9
