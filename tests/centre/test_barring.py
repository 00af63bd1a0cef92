"""Call barring (cti/centre/barring.py): the rules alone, with hypothesis; the
[centre.barring] section's checks; and on the simulated board: agent 1001 with
no_international dials abroad with call.make and is refused naming the rule, before any
SETUP reaches the exchange, audited; a local number goes out and is answered; a reload
changes the rules."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.centre.barring import RULES, Barring, BarringConfig, NumberBarred, RuleSet
from cti.server.config import DEFAULT_TOML, ConfigError, parse_config
from drivers.numbers import parse_number
from tests.desk import types

CFG = dict(premium_prefixes=("900", "168"), area_code="10")
digits = st.text("0123456789", min_size=1, max_size=16)


def barring(rules=(), allow=(), deny=(), **kw):
    cfg = BarringConfig(sets={"s": RuleSet("s", tuple(rules), tuple(allow), tuple(deny))},
                        default="s", emergency=(), **dict(CFG, **kw))
    return Barring(cfg)


def test_each_rule_on_examples():
    b = barring(["no_international"])
    assert b.check("1001", (), "00190012345678").rule == "no_international"
    assert b.check("1001", (), "01012345678") is None
    b = barring(["no_premium"])
    assert b.check("1001", (), "9001234").rule == "no_premium"
    assert b.check("1001", (), "01681234").rule == "no_premium"      # with the trunk prefix
    assert b.check("1001", (), "95555") is None
    b = barring(["local_only"])
    assert b.check("1001", (), "12345678") is None                   # a local number
    assert b.check("1001", (), "01012345678") is None                # our own area, with 0
    assert b.check("1001", (), "02112345678").rule == "local_only"   # another area
    assert b.check("1001", (), "13912345678").rule == "local_only"   # a mobile
    assert b.check("1001", (), "0044207946").rule == "local_only"    # abroad
    b = barring(["internal_only"])
    assert b.check("1001", (), "95555").rule == "internal_only"
    # an exception to a rule: the longer prefix wins
    b = barring(["no_international"], allow=["0033"])
    assert b.check("1001", (), "0033123456") is None
    assert b.check("1001", (), "0044123456").rule == "no_international"
    b = barring([], allow=["00"], deny=["00"])                       # a tie: the deny
    assert b.check("1001", (), "0012").rule == "deny"


def test_message_names_rule_set_and_prefix():
    b = barring(["no_international"])
    with pytest.raises(NumberBarred) as e:
        b.refuse("1001", (), "00190012345678")
    assert "no_international" in str(e.value) and "'00'" in str(e.value) and "'s'" in str(e.value)


def test_emergency_numbers_are_never_barred():
    b = Barring(BarringConfig(sets={"s": RuleSet("s", ("internal_only",))}, default="s"))
    assert b.check("1001", (), "110") is None and b.check("1001", (), "95555") is not None


def test_which_set_applies():
    cfg = BarringConfig(sets={"a": RuleSet("a", ("no_international",)),
                              "q": RuleSet("q", ("no_premium",)),
                              "d": RuleSet("d", ("internal_only",))},
                        agents={"1001": "a"}, queues={"sales": "q"}, default="d",
                        premium_prefixes=("900",))
    b = Barring(cfg)
    assert b.sets_of("1001", ["sales"]) == ["a"]           # its own first
    assert b.sets_of("1002", ["service", "sales"]) == ["q"]
    assert b.sets_of("1003", ["service"]) == ["d"]
    assert b.check("1001", ["sales"], "9001") is None
    assert b.check("1002", ["sales"], "9001").rule == "no_premium"


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(st.sampled_from(RULES[:3]), unique=True), number=digits,
       premium=st.lists(st.text("0123456789", min_size=1, max_size=4), max_size=3))
def test_without_lists_barred_iff_some_rule_matches(rules, number, premium):
    """With no allow list (and no area code), a number is barred iff some rule of the set
    matches it, each rule read on its own from its definition."""
    b = barring(rules, premium_prefixes=tuple(premium), area_code="")
    cfg = b.cfg

    def matches(rule):
        if rule == "no_international":
            return number.startswith("00")
        if rule == "no_premium":
            return any(number.startswith(p) or number.startswith("0" + p) for p in premium)
        return number.startswith(("0",) + cfg.non_geographic)        # local_only
    got = b.check("1001", (), number)
    assert (got is not None) == any(matches(r) for r in rules)
    if got is not None:
        assert matches(got.rule) and number.startswith(got.prefix)


@settings(max_examples=300, deadline=None)
@given(allow=st.lists(digits, max_size=4), deny=st.lists(digits, max_size=4), number=digits)
def test_most_specific_prefix_wins(allow, deny, number):
    b = barring([], allow=allow, deny=deny, area_code="")
    longest = max([len(p) for p in allow + deny if number.startswith(p)], default=None)
    got = b.check("1001", (), number)
    if longest is None:
        assert got is None
    else:
        deny_wins = any(len(p) == longest and number.startswith(p) for p in deny)
        assert (got is not None) == deny_wins
        if got is not None:
            assert got.rule == "deny" and len(got.prefix) == longest


@given(number=st.text("0123456789", min_size=3, max_size=14))
def test_plus_and_00_are_the_same_number(number):
    """The rules see the normal form: +1... and 001... are barred alike."""
    b = barring(["no_international"])
    n1, n2 = parse_number("+1" + number), parse_number("001" + number)
    assert n1 == n2 and b.check("1001", (), n1) is not None


BARRING = """
[centre.barring]
premium_prefixes = ["900", "168"]
area_code = "10"

[centre.barring.sets.desk]
rules = ["no_international", "no_premium"]
allow = ["+33"]

[centre.barring.agents]
"1001" = "desk"
"""


def test_config_section_read_and_checked(tmp_path):
    cfg = parse_config(DEFAULT_TOML + BARRING, "<t>", tmp_path).centre.barring
    assert cfg.sets["desk"] == RuleSet("desk", ("no_international", "no_premium"),
                                       ("0033",), ())
    assert cfg.agents == {"1001": "desk"} and cfg.premium_prefixes == ("900", "168")
    bad = BARRING.replace('"no_premium"]', '"no_premium", "no_mars"]').replace(
        '"1001" = "desk"', '"1001" = "desk"\n"9999" = "desk"\n"1002" = "nope"').replace(
        'allow = ["+33"]', 'allow = ["33x"]')
    with pytest.raises(ConfigError) as e:
        parse_config(DEFAULT_TOML + bad, "cti.toml", tmp_path)
    text = str(e.value)
    base = DEFAULT_TOML.count("\n")
    for key, msg in (("centre.barring.sets.desk.rules", "'no_mars' is not one of"),
                     ("centre.barring.sets.desk.allow", "'33x'"),
                     ("centre.barring.agents.9999", "no agent '9999'"),
                     ("centre.barring.agents.1002", "no rule set 'nope'")):
        line = [ln for ln in text.splitlines() if key in ln and msg in ln]
        assert line, (key, text)
        n = int(line[0].split("cti.toml:")[1].split(":")[0])
        assert n > base                                    # the line in the file


@pytest.fixture
def barred_centre(tmp_path):
    from tests.desk import Centre
    c = Centre(tmp_path / "home", DEFAULT_TOML + BARRING)
    c.req("agent.login", agent="1001")
    yield c
    c.close()


def test_barred_number_refused_before_any_setup_and_audited(barred_centre):
    c = barred_centre
    audits = []
    c.svc.store.audit_add = lambda *a: audits.append(a)
    before = list(c.world.calls.log)
    e = c.fail("call.make", agent="1001", to="00190012345678")
    assert e["code"] == "forbidden" and e["field"] == "args.to"
    assert "no_international" in e["message"] and "'desk'" in e["message"]
    e = c.fail("call.make", agent="1001", to="+19001234567")    # the same, written with +
    assert "no_international" in e["message"]
    e = c.fail("call.make", agent="1001", to="0900123")
    assert "no_premium" in e["message"]
    evs = c.run(100)
    assert not [v for v in evs if v["type"] == "call.originated"]
    assert not c.world.phones[1].ringing                        # nothing rang, nothing seized
    assert list(c.world.calls.log) == before                    # the exchange saw no SETUP
    assert not c.svc.centre.calls
    assert [a[4] for a in audits] == ["call.make"] * 3
    assert all(a[6] and "barred" in a[6] for a in audits)
    # an exception of the set (+33) and a local number go out
    r = c.req("call.make", agent="1001", to="12345678")
    c.run(20)
    assert c.world.phones[1].ringing
    c.world.phones[1].lift()
    evs = c.run(200)                                            # answered after 2 s
    assert "call.established" in [v["type"] for v in evs]
    assert [x for x in c.world.calls.log if x not in before]    # a SETUP this time
    c.world.phones[1].hang_up()
    c.run(60)
    cdr = c.svc.store.cdr(r["call_id"])
    assert cdr["outcome"] == "answered" and cdr["dnis"] == "12345678"
    assert audits[-1][4] == "call.make" and audits[-1][6] is None


def test_reload_changes_the_rules(barred_centre):
    c = barred_centre
    assert c.fail("call.make", agent="1001", to="0044123456")["code"] == "forbidden"
    new = parse_config(DEFAULT_TOML + BARRING.replace('allow = ["+33"]', 'allow = ["+44"]'),
                       "<t>", c.svc.config.server.home)
    summary = c.svc.centre.apply_config(c.svc.board.line_seconds, new.centre)
    assert "barring" in summary["settings"]["changed"]
    r = c.req("call.make", agent="1001", to="0044123456")
    assert r["to"] == "0044123456"
    # an agent with no rule set of its own, its queues' or a default is not barred
    assert c.req("call.make", agent="1002", to="00190012345678")["to"] == "00190012345678"


def test_the_agents_phone_keypad_dials_out_under_the_same_rules(barred_centre):
    """Lift the handset, key the number and #: a barred one is released (the phone hears
    the disconnect, nothing reaches the exchange) and audited from fxs/1; a local one goes
    out on a trunk and is answered."""
    c = barred_centre
    audits = []
    c.svc.store.audit_add = lambda *a: audits.append(a)
    before = list(c.world.calls.log)
    phone = c.world.phones[1]
    phone.lift()
    c.run(30)
    phone.dial("00190012345678#")
    evs = c.run(150)
    assert not [v for v in evs if v["type"] == "call.originated"]
    assert list(c.world.calls.log) == before and not c.svc.centre.calls
    assert audits and audits[-1][3] == "fxs/1" and audits[-1][4] == "call.make"
    assert "no_international" in audits[-1][6]
    phone.hang_up()
    c.run(100)
    phone.lift()
    c.run(30)
    phone.dial("12345678#")
    evs = c.run(250)                                       # answered after 2 s
    t = types(evs)
    assert "call.originated" in t and "call.established" in t
    est = [v for v in evs if v["type"] == "call.established"][0]
    assert est["agent"] == "1001"
    assert [x.dnis for x in c.world.calls.log if x not in before] == ["12345678"]
    assert audits[-1][4] == "call.make" and audits[-1][6] is None
    phone.hang_up()
    c.run(60)
    cdr = c.svc.store.cdr(est["call_id"])
    assert cdr["direction"] == "out" and cdr["outcome"] == "answered"
