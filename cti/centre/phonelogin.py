"""Logging in at the phone: the dialogue after an agent dials the login code on its FXS
phone, as on board systems (an ACD's "agent login by feature code").

The agent lifts its phone, hears dial tone, dials the login code (``*11`` by default);
the centre answers the line and :class:`PhoneLogin` takes over: "enter your agent
number" (digits, then ``#``), "enter your PIN" (digits, then ``#``), the PIN checked by
the accounts (the centre's ``check_pin``), and "logged in", "login failed" or "locked".
A wrong agent number or PIN, or an entry not finished in time, is one try; after
``tries`` the dialogue ends "failed"; the accounts' lockout ends it "locked" at once.

Sans-I/O, in the shape of the line machines (drivers/sig/analog.py)::

    s = PhoneLogin(now, config)          # -> Play(("enter_agent",))
    s.digit(now, "1"); ...; s.digit(now, "#")
    s.prompt_done(now)                   # the played prompts ran out
    s.next_action()                      # Play(...), StopPlaying(), Verify(agent, pin)
    s.checked(now, "ok")                 # the result of a Verify: ok|bad|locked|unknown|taken
    s.get_timer(); s.handle_timer(now)
    s.hung_up(now)
    s.outcome                            # None until over: logged_in|failed|locked|...

Timers: ``digit_timeout`` from the end of a prompt or the last digit (no ``#`` in time:
the entry is a wrong try), ``session_timeout`` over the whole dialogue (whatever
happens, a check that never answers included, the dialogue is over by then), and
``closing_timeout`` for the last prompt, should the line never say it ended. So every
sequence of digits and times ends: logged in, failed, locked, refused, timed out or hung
up; never stuck. ``*`` clears the entry being keyed, as phones' "start again".

The PIN is held only until its :class:`Verify` is taken, and is in no ``repr``, event
or outcome (:class:`Verify` keeps it out of its ``repr``): a log line of anything here
cannot show it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["PhoneLoginConfig", "PhoneLogin", "Play", "StopPlaying", "Verify", "Attempt",
           "OUTCOMES", "RESULTS"]

#: how a dialogue ends
OUTCOMES = ("logged_in", "failed", "locked", "refused", "timeout", "hung_up")
#: what a :class:`Verify` comes back as: the accounts' answer (cti/store ``verify_secret``:
#: ok, bad, locked, unknown), or the centre's "taken" (the PIN was right, but another
#: agent is logged in at this extension)
RESULTS = ("ok", "bad", "locked", "unknown", "taken")


@dataclass(frozen=True)
class PhoneLoginConfig:
    """The feature codes an agent dials at its phone, and the dialogue's timings."""

    login_code: str = "*11"
    logout_code: str = "*12"
    ready_code: str = "*13"
    not_ready_code: str = "*14"
    digit_timeout: float = 8.0       # s for the next digit (from a prompt's end or a digit)
    session_timeout: float = 90.0    # s for the whole dialogue
    closing_timeout: float = 15.0    # s the last prompt may play before the line is released
    tries: int = 3                   # wrong agent number or PIN, or no entry in time
    max_digits: int = 16             # an entry longer than this is wrong

    def __post_init__(self):
        codes = [c for c in self.codes() if c]
        for c in codes:
            if not c or any(ch not in "0123456789*" for ch in c):
                raise ValueError(f"feature code {c!r}: digits and '*' only")
        if len(set(codes)) != len(codes):
            raise ValueError(f"feature codes must differ: {codes}")
        if self.tries < 1 or self.max_digits < 1:
            raise ValueError("tries and max_digits must be at least 1")
        if min(self.digit_timeout, self.session_timeout, self.closing_timeout) <= 0:
            raise ValueError("the timeouts must be positive")

    def codes(self) -> tuple[str, str, str, str]:
        return (self.login_code, self.logout_code, self.ready_code, self.not_ready_code)

    def code(self, digits: str) -> str | None:
        """What ``digits`` dialled at a phone ask: login, logout, ready, not_ready, or None."""
        for what, c in zip(("login", "logout", "ready", "not_ready"), self.codes()):
            if c and digits == c:
                return what
        return None


# ---- what the dialogue asks of the centre ------------------------------------------

@dataclass(frozen=True)
class Play:
    """Play these prompts to the phone (replacing any prompt playing)."""

    prompts: tuple[str, ...]


@dataclass(frozen=True)
class StopPlaying:
    """A digit barged in: stop the prompt."""


@dataclass(frozen=True)
class Verify:
    """Check this agent's PIN; answer with :meth:`PhoneLogin.checked`. The PIN is not in
    the ``repr``."""

    agent: str
    pin: str = field(repr=False)


@dataclass(frozen=True)
class Attempt:
    """One try ended (for the audit): the agent number keyed (empty when none was) and
    why it failed or succeeded: a :data:`RESULTS` value, or "timeout"."""

    agent: str
    result: str


class PhoneLogin:
    """One agent's login dialogue at one phone (see the module doc)."""

    def __init__(self, now: float, config: PhoneLoginConfig | None = None):
        self.config = config or PhoneLoginConfig()
        self.state = "agent"         # agent, pin, checking, closing, done
        self.outcome: str | None = None
        self.agent = ""              # the agent number keyed (the last try's)
        self.tries = 0
        self._entry = ""
        self._now = now
        self._playing = False
        self._digit_due: float | None = None
        self._session_due = now + self.config.session_timeout
        self._closing_due: float | None = None
        self._actions: deque = deque()
        self.attempts: deque = deque()   # Attempt, for the audit, taken by the centre
        self._play(("enter_agent",))

    # -- inputs
    def digit(self, now: float, d: str) -> None:
        """A DTMF digit from the phone."""
        self._now = now
        if self.state not in ("agent", "pin"):
            return
        if self._playing:
            self._playing = False
            self._actions.append(StopPlaying())
        if d == "*":
            self._entry = ""
        elif d == "#":
            self._entry_done(now)
            return
        elif d in "0123456789":
            self._entry += d
            if len(self._entry) > self.config.max_digits:
                self._entry_done(now)
                return
        self._digit_due = now + self.config.digit_timeout

    def prompt_done(self, now: float) -> None:
        """The prompts played ran out: the time for the next digit starts."""
        self._now = now
        if not self._playing:
            return
        self._playing = False
        if self.state in ("agent", "pin"):
            self._digit_due = now + self.config.digit_timeout
        elif self.state == "closing":
            self._finish()

    def checked(self, now: float, result: str) -> None:
        """The answer to the :class:`Verify` (a :data:`RESULTS` value; anything else is
        taken as "bad")."""
        self._now = now
        if self.state != "checking":
            return
        if result not in RESULTS:
            result = "bad"
        self.attempts.append(Attempt(self.agent, result))
        if result == "ok":
            self._close("logged_in", ("logged_in",))
        elif result == "locked":
            self._close("locked", ("locked",))
        elif result == "taken":
            self._close("refused", ("extension_taken",))
        else:
            self._wrong(now)

    def hung_up(self, now: float) -> None:
        """The phone went on hook: the dialogue is over, whatever it was doing."""
        if self.state == "done":
            return
        if self.state in ("pin", "checking"):      # a try under way: the audit hears of it
            self.attempts.append(Attempt(self.agent, "hung_up"))
        self._entry = ""
        self.outcome = self.outcome or "hung_up"
        self.state = "done"

    # -- timers
    def get_timer(self) -> float | None:
        if self.state == "done":
            return None
        if self.state == "closing":
            return self._closing_due
        due = self._session_due
        if self.state in ("agent", "pin") and self._digit_due is not None:
            due = min(due, self._digit_due)
        return due

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self.state == "done":
            return
        if self.state == "closing":
            if self._closing_due is not None and now >= self._closing_due:
                self._finish()
            return
        if now >= self._session_due:
            self.attempts.append(Attempt(self._entry_agent(), "timeout"))
            self._close("timeout", ("login_failed",))
            return
        if self.state in ("agent", "pin") and self._digit_due is not None \
                and now >= self._digit_due:
            self.attempts.append(Attempt(self._entry_agent(), "timeout"))
            self._wrong(now)

    # -- outputs
    def next_action(self):
        """The next thing to do (Play, StopPlaying, Verify), or None."""
        return self._actions.popleft() if self._actions else None

    @property
    def done(self) -> bool:
        return self.state == "done"

    # -- the dialogue
    def _entry_agent(self) -> str:
        return self._entry if self.state == "agent" else self.agent

    def _entry_done(self, now: float) -> None:
        entry, self._entry = self._entry, ""
        self._digit_due = None
        if self.state == "agent":
            if not entry or len(entry) > self.config.max_digits:
                self.attempts.append(Attempt(entry[:self.config.max_digits], "unknown"))
                self._wrong(now)
                return
            self.agent = entry
            self.state = "pin"
            self._play(("enter_pin",))
            return
        # the PIN: checked by the centre; nothing of it stays here once taken
        if not entry or len(entry) > self.config.max_digits:
            self.attempts.append(Attempt(self.agent, "bad"))
            self._wrong(now)
            return
        self.state = "checking"
        self._actions.append(Verify(self.agent, entry))

    def _wrong(self, now: float) -> None:
        """A wrong try: again from the agent number, or the end after ``tries``."""
        self.tries += 1
        self._entry = ""
        self._digit_due = None
        if self.tries >= self.config.tries:
            self._close("failed", ("login_failed",))
            return
        self.state = "agent"
        self._play(("login_failed", "enter_agent"))

    def _close(self, outcome: str, prompts: tuple[str, ...]) -> None:
        self.outcome = outcome
        self.state = "closing"
        self._entry = ""
        self._digit_due = None
        self._closing_due = self._now + self.config.closing_timeout
        self._play(prompts)

    def _finish(self) -> None:
        self.state = "done"

    def _play(self, prompts: tuple[str, ...]) -> None:
        self._playing = True
        self._actions.append(Play(prompts))
