"""Requests of cti/server/ops/campaigns.py: outbound campaigns (create, load, start, pause,
stop, show, list, the preview desk's next/dial/skip) and the do-not-call list."""
from __future__ import annotations

from tests.centre.test_dialer import Sim, prompts_dir  # noqa: F401 (a fixture)


def test_campaign_requests_name_the_field(prompts_dir):
    s = Sim(prompts_dir)
    try:
        assert s.fail("campaign.create", campaign="c", mode="robocall")["field"] == "args.mode"
        e = s.fail("campaign.create", campaign="c", rules={"busy": {"max_attempts": 0}})
        assert e["field"] == "args.rules.busy.max_attempts"
        assert s.fail("campaign.create", campaign="c", agents=["9999"])["field"] == \
            "args.agents[0]"
        assert s.fail("campaign.create", campaign="callbacks")["field"] == "args"
        s.req("campaign.create", campaign="c")
        assert s.fail("campaign.create", campaign="c")["field"] == "args.campaign"
        e = s.fail("campaign.load", campaign="c", records=[{"number": "12a"}])
        assert e["field"] == "args.records[0].number"
        assert s.req("campaign.show", campaign="c")["records"] == 0     # nothing loaded
        e = s.fail("campaign.load", campaign="c", records=[{"number": "1", "phone": "2"}])
        assert e["field"] == "args.records[0].phone"
        # a bad row among good ones is refused with its index; the others load
        r = s.req("campaign.load", campaign="c", records=[{"number": "123"},
                                                          {"number": "12a"}])
        assert r["loaded"] == 1 and r["refused_count"] == 1
        assert r["refused"][0]["index"] == 1
        assert r["refused"][0]["field"] == "args.records[1].number"
        assert s.fail("campaign.start", campaign="nope")["field"] == "args.campaign"
        assert s.fail("campaign.next", campaign="c", agent="1001")["field"] == "args.campaign"
        assert s.fail("campaign.dial", agent="1001")["field"] == "args.agent"
        assert s.fail("dnc.add", number="12-34")["field"] == "args.number"
        assert s.req("dnc.add", number="1234")["added"] is True
        assert s.req("dnc.add", number="1234")["added"] is False
        assert [r["number"] for r in s.req("dnc.list")["numbers"]] == ["1234"]
        assert s.req("dnc.remove", number="1234")["removed"] is True
        assert [c["campaign"] for c in s.req("campaign.list")["campaigns"]] == ["c"]
    finally:
        s.close()
