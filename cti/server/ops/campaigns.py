"""The outbound dialer (cti/centre/dialer.py, run on the centre by cti/centre/campaigns.py):
campaigns (``campaign.create``, ``.load``, ``.start``, ``.pause``, ``.stop``, ``.show``,
``.list``), preview dialling (``campaign.next``, ``.dial``, ``.skip``) and the
do-not-call list (``dnc.add``, ``dnc.remove``, ``dnc.list``)."""
from __future__ import annotations

import re

from cti.server.ops.common import centre
from cti.server.registry import operation
from cti.server.schema import (AGENT, BOOL, DATA, ID, INT, NUM, OBJ, REASON, STR, Arg,
                               RequestError, arr, check_args, merged, nullable, obj, some)

MAX_RECORDS = 100_000                          # rows of one campaign.load
MAX_REFUSED_SHOWN = 100                        # refused rows a campaign.load reply lists

#: A campaign row (cti/store/outbound.py add_campaign_records): the number dialled, a name and
#: data shown to the agent.
RECORD = {"number": Arg(str, required=True, text="number"), "name": Arg(str, max_len=128),
          "data": DATA}

#: a campaign's status (cti/centre/dialer.py Dialer.status)
CAMPAIGN = obj({"campaign": STR, "mode": STR, "state": STR, "records": INT,
                "by_state": obj(additionalProperties=INT), "attempts": INT,
                "calls": arr(STR), "config": OBJ})
DIALLING = ("campaign.dial", "campaign.attempt", "campaign.record", "campaign.finished",
            "call.originated")


def campaigns(svc):
    """The centre's campaigns (``not_supported`` without a centre)."""
    centre(svc)
    return svc.campaigns


def dialer_call(fn, field: str):
    """``fn()``, with the dialer's refusals as request errors (a setting named in the message
    is the field at fault)."""
    from cti.centre.dialer import DialerError
    try:
        return fn()
    except DialerError as e:
        # "rules.busy.max_attempts: ..." names a setting: args.rules.busy.max_attempts
        head = str(e).split(":", 1)[0]
        sub = head if head and " " not in head and field == "args" else None
        raise RequestError("bad_arg" if sub else "failed", str(e),
                           f"args.{sub}" if sub else field) from None
    except LookupError as e:
        raise RequestError("not_found", str(e), field) from None
    except ValueError as e:
        raise RequestError("bad_arg", str(e), field) from None


def campaign_name(svc, a) -> str:
    """The campaign of ``a``, which must exist (``not_found`` otherwise)."""
    cs = campaigns(svc)
    if a["campaign"] not in cs.dialer.campaigns:
        raise RequestError("not_found", f"no campaign {a['campaign']!r} (campaigns: "
                           f"{some(cs.dialer.campaigns)})", "args.campaign")
    return a["campaign"]


def dialer_agent(svc, a) -> str:
    """The agent of ``a``, which must exist (``not_found`` otherwise)."""
    if a["agent"] not in centre(svc).agents:
        raise RequestError("not_found", f"no agent {a['agent']!r}", "args.agent")
    return a["agent"]


def campaign_state(svc, a, state):
    """Set a campaign's state (running, paused, stopped); its status."""
    name = campaign_name(svc, a)
    return dialer_call(lambda: svc.campaigns.set_state(
        svc.board.line_seconds, name, state), "args.campaign")


@operation("campaign.create", rights=("campaigns",), args={"campaign": ID,
                                    "mode": Arg(str, default="progressive",
                                                choices=("preview", "progressive")),
                                    "agents": Arg(list, max_len=10_000,
                                                  items=Arg(str, max_len=64)),
                                    "rules": Arg(dict),
                                    "no_answer_timeout": Arg(float, lo=1, hi=600),
                                    "agent_answer_timeout": Arg(float, lo=1, hi=600),
                                    "max_talk": Arg(float, lo=1, hi=86400)},
           result=CAMPAIGN,
           events=(), audited=True)
def campaign_create(svc, a):
    """Create an outbound campaign (progressive or preview), stopped. ``agents``: default every
    agent. ``rules``: ``{RESULT: {max_attempts, delay}}`` per result busy, no_answer,
    congestion, vacant, failed (default busy 3 attempts 300 s apart, no_answer 3/1800 s,
    congestion 3/60 s, vacant 1, failed 2/600 s). ``no_answer_timeout``: seconds of ringing
    before giving up (default 30); ``agent_answer_timeout``: seconds the reserved agent's phone
    rings (default 20); ``max_talk``: seconds a call may last from its answer, warned
    before and then cleared (cti/centre/timelimits.py; default none)."""
    cs = campaigns(svc)
    settings = {k: a[k] for k in ("mode", "agents", "rules", "no_answer_timeout",
                                  "agent_answer_timeout", "max_talk") if a[k] is not None}
    for i, agent in enumerate(a["agents"] or ()):
        if agent not in svc.centre.agents:
            raise RequestError("not_found", f"no agent {agent!r}", f"args.agents[{i}]")
    if a["campaign"] in cs.dialer.campaigns:
        raise RequestError("failed", f"campaign {a['campaign']!r} already exists",
                           "args.campaign")
    return dialer_call(lambda: cs.create(svc.board.line_seconds, a["campaign"],
                                         settings), "args")


# rows are checked one by one in the handler: a bad row is refused with its index, the
# others load
@operation("campaign.load", rights=("campaigns",), args={"campaign": ID,
                                  "records": Arg(list, required=True, max_len=MAX_RECORDS,
                                                 items=Arg(object))},
           result=obj({"campaign": STR, "loaded": INT, "records": arr(INT),
                       "refused": arr(obj({"index": INT, "message": STR},
                                         {"field": nullable(STR)})),
                       "refused_count": INT}),
           events=(), audited=True)
def campaign_load(svc, a):
    """Load a campaign's records; bad rows are refused one by one with their index. Each record
    ``{number, name?, data?}``; a bad row is refused with its index and field
    (``args.records[3].number``; the first 100 listed) and the others load; when no row is good
    the request is refused as a whole."""
    name = campaign_name(svc, a)
    # each row is checked at the door: a bad one is refused with its index (and the
    # field at fault), the others load
    rows, index, refused, first = [], [], [], None
    for i, row in enumerate(a["records"]):
        try:
            rows.append(check_args(None, RECORD, row, f"args.records[{i}]"))
            index.append(i)
        except RequestError as e:
            first = first or e
            refused.append({"index": i, "field": e.field, "message": e.to_dict()["message"]}
                           if len(refused) < MAX_REFUSED_SHOWN else None)
    if first is not None and not rows:
        raise first             # nothing would load: the request is refused as a whole
    # store messages name the row: "campaign_records[3].number: ..." -> args.records[3].number
    try:
        out = svc.campaigns.load(svc.board.line_seconds, name, rows)
    except ValueError as e:
        head = str(e).split(":", 1)[0]
        m = re.match(r"campaign_records\[(\d+)\](.*)", head)
        f = f"args.records[{index[int(m.group(1))]}]{m.group(2)}" \
            if m and int(m.group(1)) < len(index) else "args.records"
        raise RequestError("bad_arg", str(e), f) from None
    out["refused"] = [r for r in refused if isinstance(r, dict)]
    out["refused_count"] = len(refused)
    return out


@operation("campaign.start", rights=("campaigns",), args={"campaign": ID},
           result=CAMPAIGN,
           events=("campaign.dial", "campaign.attempt", "campaign.record",
                   "campaign.finished", "call.originated"), audited=True)
def campaign_start(svc, a):
    """Start a campaign dialling. ``running`` dials; ``paused`` and ``stopped`` dial nothing
    new (calls out go on); ``finished`` when every record is final."""
    return campaign_state(svc, a, "running")


@operation("campaign.pause", rights=("campaigns",), args={"campaign": ID},
           result=CAMPAIGN,
           events=(), audited=True)
def campaign_pause(svc, a):
    """Pause a campaign: nothing new is dialled."""
    return campaign_state(svc, a, "paused")


@operation("campaign.stop", rights=("campaigns",), args={"campaign": ID},
           result=CAMPAIGN,
           events=(), audited=True)
def campaign_stop(svc, a):
    """Stop a campaign: nothing new is dialled."""
    return campaign_state(svc, a, "stopped")


@operation("campaign.show", rights=("campaigns",), args={"campaign": ID},
           result=merged(CAMPAIGN, {"records_list": arr(OBJ), "attempts_list": arr(OBJ)},
                         {"arrival_rate": nullable(NUM)}),
           events=())
def campaign_show(svc, a):
    """A campaign's status, its records and attempts. ``records_list``: each record's ``state``
    (pending, dialling, done, failed, dnc, skipped), ``attempts``, ``last_outcome``;
    ``attempts_list``: ``record_id``, ``number``, ``time``, ``agent``, ``outcome``, ``cause``,
    ``call_id``; for ``callbacks``, the callback requests."""
    return svc.campaigns.show(campaign_name(svc, a))


@operation("campaign.list", rights=("campaigns",), args={},
           result=obj({"campaigns": arr(CAMPAIGN),
                       "reserved": obj(additionalProperties=STR)}),
           events=())
def campaign_list(svc, a):
    """Every campaign's status, and the agents the dialer holds (``reserved``: agent ->
    campaign)."""
    return campaigns(svc).list()


@operation("campaign.next", rights=("desk",), args={"campaign": ID, "agent": AGENT},
           result=obj({"campaign": STR, "agent": STR, "record": OBJ}),
           events=("campaign.preview",))
def campaign_next(svc, a):
    """Preview: hold the campaign's next record for the agent and show it
    (``campaign.preview``); asked again, the same record."""
    name, agent = campaign_name(svc, a), dialer_agent(svc, a)
    return dialer_call(lambda: svc.campaigns.preview_next(
        svc.board.line_seconds, agent, name), "args.campaign")


@operation("campaign.dial", rights=("desk",), args={"agent": AGENT},
           result=obj({"agent": STR, "dialled": BOOL},
                      {"reason": STR, "campaign": STR, "record": INT, "number": STR,
                       "call_id": nullable(STR)}),
           events=("campaign.dial", "campaign.attempt", "campaign.record", "call.originated"))
def campaign_dial(svc, a):
    """Preview: dial the record the agent holds. The agent's phone rings, then the number;
    ``dialled`` false when the number went on the do-not-call list meanwhile."""
    agent = dialer_agent(svc, a)
    campaigns(svc)
    return dialer_call(lambda: svc.campaigns.preview_dial(
        svc.board.line_seconds, agent), "args.agent")


@operation("campaign.skip", rights=("desk",), args={"agent": AGENT},
           result=obj({"agent": STR, "skipped": BOOL}),
           events=("campaign.record",))
def campaign_skip(svc, a):
    """Preview: skip the record the agent holds (it ends ``skipped``)."""
    agent = dialer_agent(svc, a)
    campaigns(svc)
    return dialer_call(lambda: svc.campaigns.preview_skip(
        svc.board.line_seconds, agent), "args.agent")


@operation("dnc.add", rights=("campaigns",), args={"number": Arg(str, required=True, text="number"), "reason": REASON},
           result=obj({"number": STR, "added": BOOL}),
           events=(), audited=True)
def dnc_add(svc, a):
    """Put a number on the do-not-call list. Kept in its normal form; checked each time a
    number is dialled, so it holds for lists loaded before."""
    cs = campaigns(svc)
    return cs.dnc_add(svc.board.line_seconds, a["number"], a["reason"])


@operation("dnc.remove", rights=("campaigns",), args={"number": Arg(str, required=True, text="number")},
           result=obj({"number": STR, "removed": BOOL}),
           events=(), audited=True)
def dnc_remove(svc, a):
    """Take a number off the do-not-call list."""
    return campaigns(svc).dnc_remove(a["number"])


@operation("dnc.list", rights=("campaigns",), args={},
           result=obj({"numbers": arr(obj({"number": STR},
                      {"added": NUM, "reason": nullable(STR)}))}),
           events=())
def dnc_list(svc, a):
    """The do-not-call list."""
    return campaigns(svc).dnc_list()
