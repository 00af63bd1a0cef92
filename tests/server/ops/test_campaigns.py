"""Requests of cti/server/ops/campaigns.py: outbound campaigns (create, load, start, pause,
stop, show, list, the preview desk's next/dial/skip) and the do-not-call list."""
from __future__ import annotations

from tests.centre.test_dialer import AGENTS, Sim, by_type, prompts_dir  # noqa: F401 (a fixture)


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


def test_preview_campaign_agent_sees_the_record_and_dials(prompts_dir):
    s = Sim(prompts_dir, agents=("1001",))
    try:
        s.x.answer_after["300001"] = 1500
        s.req("campaign.create", campaign="vip", mode="preview", agents=["1001"])
        s.req("campaign.load", campaign="vip", records=[
            {"number": "300001", "name": "Wang Fang", "data": {"points": 1200}},
            {"number": "300002", "name": "Li Lei"}])
        s.req("campaign.start", campaign="vip")
        s.run(2)
        assert not s.x.log                          # preview: nothing dialled by itself
        r = s.req("campaign.next", campaign="vip", agent="1001")
        assert r["record"]["name"] == "Wang Fang" and r["record"]["number"] == "300001"
        evs = s.run(0.1)
        pv = by_type(evs, "campaign.preview")
        assert pv and pv[0]["agent"] == "1001" and pv[0]["record"]["data"] == {"points": 1200}
        again = s.req("campaign.next", campaign="vip", agent="1001")   # the same record
        assert again["record"]["id"] == r["record"]["id"]
        dial = s.req("campaign.dial", agent="1001")
        assert dial["dialled"] and dial["call_id"]
        s.run(30, until=lambda evs: by_type(evs, "campaign.attempt"))
        s.run(10)
        att = s.svc.store.attempts("vip")
        assert [(a["number"], a["outcome"], a["agent"], a["call_id"]) for a in att] == \
            [("300001", "answered", "1001", dial["call_id"])]
        cdr = s.svc.store.cdr(dial["call_id"])
        assert cdr["data"]["campaign"] == "vip" and cdr["data"]["points"] == 1200
        r = s.req("campaign.next", campaign="vip", agent="1001")
        assert r["record"]["name"] == "Li Lei"
        s.req("campaign.skip", agent="1001")
        s.run(0.2)
        show = s.req("campaign.show", campaign="vip")
        assert [(r["state"], r["attempts"]) for r in show["records_list"]] == \
            [("done", 1), ("skipped", 0)]
        assert show["state"] == "finished"
        assert [c.dnis for c in s.x.log] == ["300001"]
    finally:
        s.close()


def test_a_paused_or_stopped_campaign_dials_nothing_new(prompts_dir):
    """campaign.pause and campaign.stop: the calls in progress go on, no record is dialled
    after; campaign.start resumes where it was; the list says each campaign's state."""
    s = Sim(prompts_dir, talk=2.0)
    try:
        numbers = [f"40000{i}" for i in range(1, 7)]
        for n in numbers:
            s.x.answer_after[n] = 500
        s.req("campaign.create", campaign="autumn", mode="progressive", agents=list(AGENTS))
        s.req("campaign.load", campaign="autumn", records=[{"number": n} for n in numbers])
        s.req("campaign.start", campaign="autumn")
        s.run(30, until=lambda evs: by_type(evs, "campaign.attempt"))
        assert s.req("campaign.pause", campaign="autumn")["state"] == "paused"
        dialled = len(s.x.log)
        assert 1 <= dialled < len(numbers)
        s.run(20)
        assert len(s.x.log) == dialled                  # nothing new while paused
        listed = {c["campaign"]: c for c in s.req("campaign.list")["campaigns"]}
        assert listed["autumn"]["state"] == "paused"

        assert s.req("campaign.start", campaign="autumn")["state"] == "running"
        s.run(30, until=lambda evs: len(s.x.log) > dialled)
        assert len(s.x.log) > dialled
        assert s.req("campaign.stop", campaign="autumn")["state"] == "stopped"
        stopped_at = len(s.x.log)
        s.run(20)
        assert len(s.x.log) == stopped_at               # nothing new once stopped
        show = s.req("campaign.show", campaign="autumn")
        assert show["state"] == "stopped"
        dialled_numbers = [c.dnis for c in s.x.log]
        assert dialled_numbers == numbers[:stopped_at]  # in order, each once
        assert sum(r["attempts"] for r in show["records_list"]) == stopped_at
        e = s.fail("campaign.pause", campaign="nosuch")
        assert (e["code"], e["field"]) == ("not_found", "args.campaign")
    finally:
        s.close()


def test_the_do_not_call_list_through_the_requests(prompts_dir):
    s = Sim(prompts_dir, agents=())
    try:
        assert s.req("dnc.add", number="13800000001", reason="asked")["added"] is True
        assert s.req("dnc.add", number="13800000001")["added"] is False   # already there
        s.req("dnc.add", number="13800000002")
        listed = s.req("dnc.list")
        numbers = {d["number"]: d for d in listed["numbers"]}
        assert set(numbers) == {"13800000001", "13800000002"}
        assert numbers["13800000001"]["reason"] == "asked"
        assert s.req("dnc.remove", number="13800000002")["removed"] is True
        assert s.req("dnc.remove", number="13800000002")["removed"] is False
        assert [d["number"] for d in s.req("dnc.list")["numbers"]] == ["13800000001"]
        assert [d["number"] for d in s.svc.store.dnc()] == ["13800000001"]
        assert s.fail("dnc.add", number="12ab")["field"] == "args.number"
    finally:
        s.close()


def test_a_campaigns_max_talk_clears_its_calls(prompts_dir):
    """campaign.create max_talk: a call of the campaign longer than it is warned and
    cleared (cti/centre/timelimits.py), its CDR saying why; stored with the campaign's
    settings (as a restart reads them back)."""
    s = Sim(prompts_dir, talk=60.0)          # the agents would talk a minute
    try:
        s.x.answer_after["400001"] = 500
        r = s.req("campaign.create", campaign="short", mode="progressive", agents=["1001"],
                  max_talk=3)
        assert s.fail("campaign.create", campaign="bad", max_talk=0)["field"] == "args.max_talk"
        s.req("campaign.load", campaign="short", records=[{"number": "400001"}])
        s.req("campaign.start", campaign="short")
        evs = s.run(15, until=lambda evs: by_type(evs, "call.cleared"))
        warn, cleared = by_type(evs, "call.time_warning"), by_type(evs, "call.cleared")
        assert warn and warn[0]["source"] == "campaign short" and warn[0]["limit"] == 3
        assert cleared and cleared[0]["reason"] == "time_limit"
        cdr = s.svc.store.cdr(cleared[0]["call_id"])
        assert cdr["reason"] == "time_limit" and cdr["time_limit"] == 3
        assert cdr["billsec"] < 10
        assert r["campaign"] == "short"
        from cti.centre.dialer import CampaignConfig
        cfg = s.svc.campaigns.dialer.campaigns["short"].cfg
        assert cfg.max_talk == 3 and CampaignConfig.from_dict("short",
                                                              cfg.to_dict()).max_talk == 3
    finally:
        s.close()
