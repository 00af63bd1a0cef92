"""Requests of cti/server/ops/reports.py: report.losses, the loss report with Erlang advice,
asked of the server and checked against the same report computed on the store."""
from __future__ import annotations

import json

from cti.clients.client import Client
from cti.store.report import loss_report
from cti.store.sqlite import Store

from tests.desk import established_call


def test_report_losses_counts_where_each_call_was_lost(centre):
    """One call answered, one abandoned in the queue while the only agent talks: the report
    the server gives is the one the store's rows make, and says where the call was lost."""
    c = centre
    x, call, ts = established_call(c)
    y = c.world.calls.offer_call(1, "13800000002", "4008005555")   # waits: 1001 is busy
    c.run(150)
    c.world.calls.hangup(1, y.call)                                  # gives up in the queue
    c.run(20)
    c.world.calls.hangup(1, x.call)
    c.run(60)
    end = c.svc.ts() + 1
    r = c.req("report.losses", start=1e6, end=end, interval=3600, sla=20)
    t = r["totals"]
    assert (t["offered"], t["answered"], t["lost_total"]) == (2, 1, 1)
    assert t["lost"] == {"trunk": 0, "ivr": 0, "queue": 1, "agent": 0}
    assert t["queue"]["abandoned_queue"] == 1 and t["queue"]["answered_within_sla"] == 1
    direct = loss_report(c.svc.store, 1e6, end, interval=3600, sla_seconds=20)
    assert json.loads(json.dumps(r)) == json.loads(json.dumps(direct))


def test_report_losses_names_a_bad_range(centre):
    e = centre.fail("report.losses", start=2e6, end=1e6)
    assert (e["code"], e["field"]) == ("bad_arg", "args.end")
    e = centre.fail("report.losses", start=0, end=86_400 * 365, interval=60)
    assert (e["code"], e["field"]) == ("bad_arg", "args.interval")
    assert "at most 5000" in e["message"]
    assert centre.fail("report.losses", sla=-1)["field"] == "args.sla"


def test_the_server_answers_report_losses_off_the_tick(server):
    """Through the shell the report is made by the report worker (a deferred reply), and
    is the same report as the store's rows give."""
    home = server.config.server.home
    with Client(home, timeout=10) as cl:
        cl.request("agent.login", agent="1001")
        r = cl.request("report.losses", start=0, end=2e9, interval=86_400 * 31)
    assert server.service.reports is not None               # the worker answered it
    store = Store(server.service.store.path, readonly=True)
    try:
        direct = loss_report(store, 0, 2e9, interval=86_400 * 31)
    finally:
        store.close()
    assert r["totals"]["offered"] == direct["totals"]["offered"]
    assert r["intervals"] == json.loads(json.dumps(direct["intervals"]))
