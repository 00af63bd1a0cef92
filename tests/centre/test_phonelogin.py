"""The phone login dialogue (cti/centre/phonelogin.py): the prompts, the tries, the
timeouts, and, for any digits and timing, an end (never stuck) with no PIN shown."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.centre.phonelogin import (OUTCOMES, Attempt, PhoneLogin, PhoneLoginConfig, Play,
                                   StopPlaying, Verify)


def actions(s):
    out = []
    a = s.next_action()
    while a is not None:
        out.append(a)
        a = s.next_action()
    return out


def key(s, now, digits):
    for d in digits:
        s.digit(now, d)
        now += 0.2
    return now


def test_a_login_prompts_for_agent_then_pin_and_says_logged_in():
    s = PhoneLogin(0.0)
    assert actions(s) == [Play(("enter_agent",))]
    s.prompt_done(3.0)
    t = key(s, 4.0, "1003#")
    assert actions(s) == [Play(("enter_pin",))]
    assert s.state == "pin" and s.agent == "1003"
    t = key(s, t, "42")                # barge-in: the prompt stops at the first digit
    assert actions(s) == [StopPlaying()]
    key(s, t, "17#")
    v = actions(s)
    assert v == [Verify("1003", "4217")] and "4217" not in repr(v)
    s.checked(t + 1, "ok")
    assert actions(s) == [Play(("logged_in",))]
    assert list(s.attempts) == [Attempt("1003", "ok")]
    assert s.outcome == "logged_in" and not s.done
    s.prompt_done(t + 2)
    assert s.done and s.get_timer() is None


def test_wrong_pins_end_failed_after_the_tries_and_locked_at_once():
    s = PhoneLogin(0.0, PhoneLoginConfig(tries=3))
    actions(s)
    t = 1.0
    for i in range(2):
        s.prompt_done(t)
        t = key(s, t, "1003#")
        s.prompt_done(t)
        t = key(s, t, "0000#")
        actions(s)
        s.checked(t, "bad")
        assert actions(s) == [Play(("login_failed", "enter_agent"))] and s.state == "agent"
    s.prompt_done(t)
    t = key(s, t, "1003#")
    s.prompt_done(t)
    t = key(s, t, "0000#")
    actions(s)
    s.checked(t, "bad")
    assert actions(s) == [Play(("login_failed",))] and s.outcome == "failed"
    assert [a.result for a in s.attempts] == ["bad"] * 3

    s = PhoneLogin(0.0)
    actions(s)
    key(s, 1.0, "1003#1234#")
    actions(s)
    s.checked(3.0, "locked")
    assert actions(s) == [Play(("locked",))] and s.outcome == "locked"
    s = PhoneLogin(0.0)
    key(s, 1.0, "1003#1234#")
    actions(s)
    s.checked(3.0, "taken")
    assert actions(s)[-1] == Play(("extension_taken",)) and s.outcome == "refused"


def test_no_digit_in_time_is_a_try_and_the_whole_dialogue_has_a_deadline():
    cfg = PhoneLoginConfig(digit_timeout=5.0, session_timeout=40.0, tries=3)
    s = PhoneLogin(0.0, cfg)
    actions(s)
    assert s.get_timer() == 40.0          # the prompt plays: only the session's deadline
    s.prompt_done(2.0)
    assert s.get_timer() == 7.0
    s.handle_timer(7.0)
    assert actions(s) == [Play(("login_failed", "enter_agent"))] and s.tries == 1
    assert list(s.attempts) == [Attempt("", "timeout")]
    # a check that never answers: the session's deadline ends it
    s.prompt_done(8.0)
    key(s, 9.0, "1003#5555#")
    actions(s)
    assert s.state == "checking" and s.get_timer() == 40.0
    s.handle_timer(40.0)
    assert s.outcome == "timeout" and actions(s) == [Play(("login_failed",))]
    s.checked(41.0, "ok")                 # too late: nothing changes
    assert s.outcome == "timeout"
    # the last prompt never said it ended: released anyway
    assert s.get_timer() == 40.0 + cfg.closing_timeout
    s.handle_timer(s.get_timer())
    assert s.done


def test_star_starts_the_entry_again_and_hanging_up_ends_at_once():
    s = PhoneLogin(0.0)
    key(s, 1.0, "99*1003#")
    assert s.agent == "1003"
    key(s, 2.0, "12")
    s.hung_up(3.0)
    assert s.done and s.outcome == "hung_up" and s.get_timer() is None
    assert list(s.attempts) == [Attempt("1003", "hung_up")]
    s.digit(4.0, "#")
    assert s.done and not any(isinstance(a, Verify) for a in actions(s))


def test_the_config_checks_its_codes():
    assert PhoneLoginConfig().code("*11") == "login"
    assert PhoneLoginConfig().code("*14") == "not_ready"
    assert PhoneLoginConfig().code("*1") is None
    with pytest.raises(ValueError, match="differ"):
        PhoneLoginConfig(logout_code="*11")
    with pytest.raises(ValueError, match="digits and"):
        PhoneLoginConfig(login_code="*1#")


# ---- any digits, any timing ---------------------------------------------------------

AGENT = st.text("01234", min_size=1, max_size=6)
PIN = st.text("56789", min_size=4, max_size=8)
STEP = st.one_of(
    # stray keys: from the agent numbers' digits, so that the PIN's digits (5-9) are keyed
    # only at the PIN prompt (keyed where the agent number goes, they are an agent number)
    st.tuples(st.just("digit"), st.sampled_from("01234*#")),
    st.tuples(st.just("agent"), st.none()),      # key the agent number and #
    st.tuples(st.just("pin"), st.none()),        # key the PIN and #
    st.tuples(st.just("done"), st.none()),       # the prompt ran out
    st.tuples(st.just("check"), st.sampled_from(["ok", "bad", "locked", "unknown",
                                                 "taken", "???"])),
    st.tuples(st.just("wait"), st.floats(0, 30)),
    st.tuples(st.just("hangup"), st.none()),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent=AGENT, pin=PIN, steps=st.lists(STEP, max_size=60))
def test_any_digits_and_timing_end_and_never_show_the_pin(agent, pin, steps):
    cfg = PhoneLoginConfig(digit_timeout=5.0, session_timeout=60.0, closing_timeout=10.0,
                           tries=3)
    s = PhoneLogin(0.0, cfg)
    now = 0.0
    seen = []

    def drain():
        for a in actions(s):
            seen.append(a)
            if isinstance(a, Verify):
                assert a.pin and pin not in repr(a)

    def timers():
        due = s.get_timer()
        while due is not None and due <= now:
            s.handle_timer(now)
            drain()
            nxt = s.get_timer()
            assert nxt is None or nxt > due or nxt > now, "a timer that does not move"
            due = nxt

    for what, x in steps:
        if what == "digit":
            s.digit(now, x)
        elif what == "agent":
            key(s, now, agent + "#")
        elif what == "pin":
            if s.state == "pin":
                key(s, now, pin + "#")
        elif what == "done":
            s.prompt_done(now)
        elif what == "check":
            s.checked(now, x)
        elif what == "wait":
            now += x
        else:
            s.hung_up(now)
        drain()
        timers()
        assert s.outcome is None or s.outcome in OUTCOMES
        assert s.state in ("agent", "pin", "checking", "closing", "done")
        assert s.tries <= cfg.tries
    # then nothing more from the phone: time alone ends it, within the deadlines
    end = now + cfg.session_timeout + cfg.closing_timeout + 1
    while not s.done and now < end:
        due = s.get_timer()
        assert due is not None, f"stuck in {s.state} with no timer"
        now = max(now, due)
        s.handle_timer(now)
        drain()
    assert s.done and s.outcome in OUTCOMES
    # the PIN is in no action's repr, no attempt, no outcome
    shown = repr(seen) + repr(list(s.attempts)) + repr(s.outcome) + repr(vars(s))
    assert pin not in shown
    # every Verify was for a PIN keyed as a whole, and a login only follows an "ok"
    if s.outcome == "logged_in":
        assert s.attempts and s.attempts[-1].result == "ok"
