"""What an agent dials at its own phone: the feature codes (log in, log out, ready, not
ready), as on board systems.

An FXS port's phone goes off hook with no call ringing it: the port gives dial tone and
collects the digits (drivers/sig/analog.py :class:`~drivers.sig.analog.Fxs`); the
centre gives its FXS ports a digit map in which the feature codes are complete numbers,
so ``*11`` ends the collection at its last digit. Then :class:`Phones` answers the line
(``Connected``) and:

* the login code runs the dialogue of cti/centre/phonelogin.py on that port: its prompts
  played to the phone, the DTMF digits the board hears on the port fed to it, the PIN
  checked by the centre's ``check_pin(agent, pin, now)`` (the accounts; the centre does
  not know the store), and the agent logged in at THIS extension, the port dialled from;
* the logout, ready and not-ready codes act at once on the agent logged in at this
  extension and say so.

After the last prompt the port is released (the phone hears the disconnect, then busy
tone). Any other number dialled is called out for the agent logged in at that phone, as
click-to-dial does, under the same call barring (cti/centre/barring.py); with no agent
there, or refused, the line is released at once. Every login try and every logout,
ready and not ready, done or refused, goes to the centre's ``audit(agent, port, op,
refused)``; the PIN never does.

``check_pin`` may answer at once (a string: ok, bad, locked, unknown) or later: an object
with ``done()`` and ``result()`` (a :class:`concurrent.futures.Future`), which the tick
looks at without waiting, so a slow memory-hard hash runs off the tick.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from cti.centre.acd import AcdError
from cti.centre.phonelogin import PhoneLogin, PhoneLoginConfig, Play, StopPlaying, Verify
from drivers.sig import analog

__all__ = ["Phones"]

log = logging.getLogger("cti.centre")

#: why a try was refused, for the audit (never the PIN)
REFUSED = {"bad": "wrong PIN", "unknown": "no such agent, or no PIN set", "locked": "locked",
           "timeout": "no entry in time", "hung_up": "hung up"}
#: what a short code says when done
SAID = {"logout": "logged_out", "ready": "agent_ready", "not_ready": "agent_not_ready"}
SILENCE = b"\xd5" * 1600     # 200 ms of A-law silence (G.711 table 1a)


@dataclass
class _Session:
    call: int                                   # the FXS port's call (the line's)
    login: PhoneLogin | None = None             # the login dialogue; None: a short code
    pending: Any = None                         # a PIN check not answered yet
    agent: str = ""                             # the Verify's agent, while pending
    closing_until: float | None = None          # a short code's last prompt's deadline
    taken: str = field(default="", repr=False)  # why the extension was refused


class Phones:
    """The feature codes on the centre's FXS ports (see the module doc). ``centre``: the
    coordinator (its ``analog`` ports, ``roster``, ``media``, ``check_pin``, ``audit``)."""

    def __init__(self, centre):
        self.c = centre
        self.config: PhoneLoginConfig = getattr(centre.config, "phone_login", None) \
            or PhoneLoginConfig()
        self.sessions: dict[int, _Session] = {}
        # the ports whose DTMF is private this tick (an agent number and PIN being keyed):
        # the server publishes no ``channel.dtmf`` of them (see :meth:`private`)
        self.hushed: set[int] = set()
        self.counters = {"phone_logins": 0, "phone_login_failures": 0, "pin_check_errors": 0}

    def setup_ports(self) -> None:
        """Give every FXS port without a digit map of its own one where the feature codes
        are complete (digits dialled otherwise end with ``#`` or the interdigit time)."""
        codes = [c for c in self.config.codes() if c]
        for ap in self.c.analog.values():
            m = ap.machine
            if ap.port.kind == "fxs" and isinstance(m, analog.Fxs) and \
                    m.config.digit_map is None:
                m.config = dataclasses.replace(m.config,
                                               digit_map=analog.DigitMap(codes + ["x."]))

    def new_tick(self) -> None:
        self.hushed = set(self.sessions)

    def private(self, port: int) -> bool:
        """The digits heard on this FXS port this tick are a login's (never published: a
        PIN is keyed there)."""
        return port in self.hushed or port in self.sessions

    # ---- the line's events ------------------------------------------------------------

    def owns(self, port: int, ev) -> bool:
        """The analog call event is a phone dialling (or its dialogue's line)."""
        if isinstance(ev, analog.DigitsCollected):
            return self.c.analog.get(port) is not None and \
                self.c.analog[port].port.kind == "fxs"
        s = self.sessions.get(port)
        return s is not None and getattr(ev, "call", None) == s.call

    def event(self, now: float, port: int, ev) -> None:
        if isinstance(ev, analog.DigitsCollected):
            self._dialled(now, port, ev)
        elif isinstance(ev, analog.Disconnected):
            s = self.sessions.pop(port, None)
            if s is not None and s.login is not None:
                s.login.hung_up(now)
                self._audit_attempts(port, s)

    def digit(self, now: float, port: int, d: str) -> bool:
        """A DTMF digit the board heard on an FXS port: True when a dialogue took it."""
        s = self.sessions.get(port)
        if s is None or s.login is None:
            return False
        s.login.digit(now, d)
        self._run(now, port, s)
        return True

    def prompt_done(self, now: float, port: int, played: bool) -> bool:
        """A play on the port ended (``played``: ran out, not stopped)."""
        s = self.sessions.get(port)
        if s is None:
            return False
        if played:
            if s.login is not None:
                s.login.prompt_done(now)
                self._run(now, port, s)
            else:
                self._release(now, port, "done")
        return True

    def tick(self, now: float) -> None:
        """Timers, and PIN checks answered off the tick."""
        for port in list(self.sessions):
            s = self.sessions.get(port)
            if s is None:
                continue
            try:
                if s.login is None:
                    if s.closing_until is not None and now >= s.closing_until:
                        self._release(now, port, "done")
                    continue
                if s.pending is not None and s.pending.done():
                    fut, s.pending = s.pending, None
                    try:
                        result = fut.result()
                    except Exception as exc:
                        result = self._check_failed(exc)
                    self._checked(now, port, s, result)
                due = s.login.get_timer()
                if due is not None and due <= now:
                    s.login.handle_timer(now)
                self._run(now, port, s)
            except Exception:
                # one phone's trouble never ends the tick: the line is released
                log.exception("phone login on fxs/%s", port)
                self._release(now, port, "error")

    # ---- what was dialled -------------------------------------------------------------

    def _dialled(self, now: float, port: int, ev) -> None:
        what = self.config.code(ev.digits)
        ap = self.c.analog[port]
        if what is None and port not in self.sessions and ev.digits:
            self._dial_out(now, port, ev)
            return
        if what is None or port in self.sessions:
            ap.send(now, analog.Release("unknown_number"))
            return
        ap.send(now, analog.Connected())
        if what == "login":
            s = _Session(ev.call, PhoneLogin(now, self.config))
            self.sessions[port] = s
            self.hushed.add(port)
            self._run(now, port, s)
            return
        s = _Session(ev.call, closing_until=now + self.config.closing_timeout)
        self.sessions[port] = s
        agent = self.c.roster.at_extension(port)
        op = "agent." + what
        if agent is None:
            self.c.audit_phone("", port, op, f"no agent is logged in at fxs/{port}")
            self._said(now, port, ("no_agent",))
            return
        try:
            if what == "logout":
                self.c.roster.logout(now, agent)
            elif what == "ready":
                self.c.roster.ready(now, agent)
            else:
                self.c.roster.not_ready(now, agent, "")
        except (AcdError, LookupError) as e:
            self.c.audit_phone(agent, port, op, str(e))
            self._said(now, port, ("login_failed",))
            return
        self.c.audit_phone(agent, port, op, None)
        self._said(now, port, (SAID[what],))

    def _dial_out(self, now: float, port: int, ev) -> None:
        """Any other number: the agent logged in at this phone calls it out, as with
        click-to-dial (cti/centre/outbound.py), under the same call barring; refused (no
        agent here, a number no line carries, barred, every trunk busy): the line is
        released (the phone hears the disconnect, then busy tone), and a barred number
        goes to the audit."""
        from cti.centre.barring import NumberBarred
        c = self.c
        agent = c.roster.at_extension(port)
        if agent is None:
            c.analog[port].send(now, analog.Release("unknown_number"))
            return
        try:
            c.outbound.from_phone(now, agent, port, ev.call, ev.digits)
        except NumberBarred as e:
            c.audit_phone(agent, port, "call.make", str(e))
            c.analog[port].send(now, analog.Release("barred"))
            return
        except (ValueError, LookupError) as e:
            log.info("fxs/%s: %s", port, e)
            c.analog[port].send(now, analog.Release("unknown_number"))
            return
        c.audit_phone(agent, port, "call.make", None)

    def _said(self, now: float, port: int, names) -> None:
        """A short code's answer, then the line released when it ends (at once with no
        prompts to play)."""
        if self.c.prompts is None:
            self._release(now, port, "done")
        else:
            self._play(now, port, names)

    # ---- the dialogue -----------------------------------------------------------------

    def _run(self, now: float, port: int, s: _Session) -> None:
        """Carry out what the dialogue asks, until it asks nothing more."""
        login = s.login
        while True:
            a = login.next_action()
            if a is None:
                break
            if isinstance(a, Play):
                self._play(now, port, a.prompts)
                if self.c.prompts is None:
                    login.prompt_done(now)          # nothing to hear: on at once
            elif isinstance(a, StopPlaying):
                self.c.analog[port].port.tone(0, ms=0)
            elif isinstance(a, Verify):
                self._verify(now, port, s, a)
        self._audit_attempts(port, s)
        if login.done and self.sessions.get(port) is s:
            self._release(now, port, login.outcome or "done")

    def _verify(self, now: float, port: int, s: _Session, v: Verify) -> None:
        s.agent = v.agent
        check = self.c.check_pin
        if v.agent not in self.c.agents or check is None:
            # an agent the centre does not have, or no accounts to ask: refused, the same
            # answer as a wrong PIN to the phone
            self._checked(now, port, s, "unknown")
            return
        try:
            r = check(v.agent, v.pin, now)
        except Exception as exc:
            r = self._check_failed(exc)
        if isinstance(r, str):
            self._checked(now, port, s, r)
        else:
            s.pending = r                           # answered on a later tick

    def _check_failed(self, exc: BaseException) -> str:
        self.counters["pin_check_errors"] += 1
        log.error("PIN check failed: %s", type(exc).__name__)   # not the message: the PIN
        return "unknown"

    def _checked(self, now: float, port: int, s: _Session, result: str) -> None:
        if result == "ok":
            try:
                self.c.roster.login(now, s.agent, port)
            except AcdError as e:                   # another agent is logged in here
                s.taken = str(e)
                result = "taken"
            except LookupError as e:
                s.taken = str(e)
                result = "taken"
        s.login.checked(now, result)
        if s.login.outcome == "logged_in":
            self.counters["phone_logins"] += 1
        self._run(now, port, s)

    def _audit_attempts(self, port: int, s: _Session) -> None:
        login = s.login
        while login.attempts:
            a = login.attempts.popleft()
            if a.result == "ok":
                refused = None
            elif a.result == "taken":
                refused = s.taken or f"extension {port} is taken"
            else:
                refused = REFUSED.get(a.result, a.result)
                self.counters["phone_login_failures"] += 1
            self.c.audit_phone(a.agent, port, "agent.login", refused)

    # ---- the line ---------------------------------------------------------------------

    def _play(self, now: float, port: int, names) -> None:
        media = self.c.media
        if self.c.prompts is None:
            return
        audio = b"".join(media.prompt(n) for n in names) or SILENCE
        p = self.c.analog[port].port
        p.tone(0, ms=0)                             # whatever played before stops
        p.play(audio)

    def _release(self, now: float, port: int, reason: str) -> None:
        s = self.sessions.pop(port, None)
        if s is None:
            return
        self.c.analog[port].send(now, analog.Release(reason))
