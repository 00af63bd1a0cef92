"""Traffic: callers on the simulated exchange and agents at their phones, on line time.

Callers arrive as a Poisson process whose rate follows a profile (steady, a
piecewise-linear curve, or the TV-advert peak of PRODUCT.md: hundreds of calls a
minute for ten minutes after an advert); time-varying rates are drawn by thinning
(Lewis and Shedler 1979: candidates at the peak rate, each kept with probability
rate(t) / peak). Each caller is offered by the exchange on the first span of the
trunk group with a free B-channel (sequential hunting; none free: congestion,
cause 34, counted only at the exchange). Once the IVR answers, the caller keys a
menu choice in DTMF on its B-channel after the menu has started to play, or keys
nothing, or hangs up in the menu; once queued it waits for an agent at most its
patience (exponential or lognormal) and then hangs up (cause 16: abandon).

Agents' phones on the FXS ports are lifted a drawn delay after they start ringing,
unless the agent rings out (never answers); the conversation lasts a drawn talk
time, after which the agent (on-hook) or the caller (a clear from the exchange)
hangs up first; the other side follows.

The simulator sees the centre only through its CTI events, passed in as plain
dicts by the shell (:meth:`Traffic.on_cti_event`): ``call.offered`` ties a CTI
call to an exchange call by its B-channel (``channel`` ``"span/ts"``),
``call.queued`` starts the caller's patience, ``call.established`` tells the caller
and the agent they are talking. It imports nothing from ``cti`` (ARCHITECTURE.md:
imports point down). Everything runs on the line time the shell passes to
:meth:`Traffic.tick`; every random draw comes from generators seeded by ``seed``,
so a run is reproducible.
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["PeakPlan", "PEAK_DNIS", "Traffic", "AgentBehaviour", "TrafficStats", "Steady", "Curve", "TvAdvertPeak",
           "Profile", "random_mobile"]

HANGUP_NORMAL = 16          # Q.850 normal call clearing

# Chinese mobile number blocks (MIIT numbering plan: 13x, 15x, 17x, 18x, 19x)
_MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
                    "150", "151", "152", "155", "156", "157", "158", "159",
                    "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
                    "188", "189", "198", "199")


def random_mobile(rng: random.Random) -> str:
    """An 11-digit Chinese mobile number (13800138000 style)."""
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


# ---- arrival-rate profiles ---------------------------------------------------------

class Profile:
    """A call arrival rate over time: :meth:`rate` in calls per minute at ``t`` seconds
    after the start of the traffic, and :attr:`peak`, a bound on it (for thinning)."""

    peak: float = 0.0

    def rate(self, t: float) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Steady(Profile):
    """A constant rate: ``rate_per_minute`` calls a minute."""

    rate_per_minute: float

    def __post_init__(self):
        if not (self.rate_per_minute >= 0 and math.isfinite(self.rate_per_minute)):
            raise ValueError(f"Steady.rate_per_minute: must be a finite number >= 0, "
                             f"not {self.rate_per_minute!r}")

    @property
    def peak(self) -> float:
        return self.rate_per_minute

    def rate(self, t: float) -> float:
        return self.rate_per_minute


@dataclass(frozen=True)
class Curve(Profile):
    """A piecewise-linear rate through ``points`` ``(t_seconds, rate_per_minute)``, t
    increasing; before the first point the first rate holds, after the last the last."""

    points: tuple[tuple[float, float], ...]

    def __init__(self, points):
        pts = tuple((float(t), float(r)) for t, r in points)
        if not pts:
            raise ValueError("Curve.points: at least one (t_seconds, rate_per_minute) point")
        for i, (t, r) in enumerate(pts):
            if not (math.isfinite(t) and math.isfinite(r) and r >= 0):
                raise ValueError(f"Curve.points[{i}]: {(t, r)} needs finite t and rate >= 0")
            if i and t < pts[i - 1][0]:
                raise ValueError(f"Curve.points[{i}]: t {t} is before the point before it")
        object.__setattr__(self, "points", pts)

    @property
    def peak(self) -> float:
        return max(r for _, r in self.points)

    def rate(self, t: float) -> float:
        pts = self.points
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, r0), (t1, r1) in zip(pts, pts[1:]):
            if t <= t1:
                return r1 if t1 == t0 else r0 + (r1 - r0) * (t - t0) / (t1 - t0)
        return pts[-1][1]


class TvAdvertPeak(Curve):
    """The TV-shopping case: ``base`` calls a minute until the advert at ``start`` s,
    rising over ``ramp`` s to ``peak`` a minute, held for ``duration`` s, falling back to
    ``base`` over ``ramp`` s (PRODUCT.md: 785 a minute, 7,000 in ten minutes)."""

    def __init__(self, base: float, peak: float, start: float, ramp: float, duration: float):
        if ramp < 0 or duration < 0 or start < 0:
            raise ValueError("TvAdvertPeak: start, ramp and duration must be >= 0")
        super().__init__([(0.0, base), (start, base), (start + ramp, peak),
                          (start + ramp + duration, peak),
                          (start + 2 * ramp + duration, base)])
        object.__setattr__(self, "base", float(base))
        object.__setattr__(self, "start", float(start))
        object.__setattr__(self, "ramp", float(ramp))
        object.__setattr__(self, "duration", float(duration))


# ---- behaviour -------------------------------------------------------------------------

def _draw(rng: random.Random, mean: float, dist: str, sigma: float = 0.8) -> float:
    """A positive duration of ``mean`` seconds: exponential, or lognormal with shape
    ``sigma`` (mu chosen so the mean is ``mean``), or ``fixed``."""
    if mean <= 0:
        return 0.0
    if dist in ("exp", "exponential"):
        return rng.expovariate(1.0 / mean)
    if dist == "lognormal":
        return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
    if dist == "fixed":
        return float(mean)
    raise ValueError(f"distribution must be exp, lognormal or fixed, not {dist!r}")


@dataclass(frozen=True)
class AgentBehaviour:
    """How the agents at the phones behave.

    ``answer_delay``: (min, max) seconds from the first ring to lifting the handset
    (commercial centres want two rings: about 5 s on the 1 s on / 4 s off cadence);
    ``ring_out_probability``: the agent lets a call ring out (never answers);
    ``talk_time``: mean seconds of conversation, ``talk_distribution`` exp|lognormal|fixed;
    ``hangs_up_first_probability``: the agent, not the caller, ends the conversation;
    ``hangup_delay``: (min, max) seconds to hang up after the other side has cleared;
    ``ready_after``: seconds after a ring-no-answer pause before the agent makes itself
    ready again (needs the ``desktop`` of :class:`Traffic`; None: stays paused);
    ``transfer_probability``: at the end of the talk the agent transfers the call (blind,
    from the desktop) to one of ``transfer_to`` (agent ids or ``queue:NAME``) instead."""

    answer_delay: tuple[float, float] = (1.0, 4.0)
    ring_out_probability: float = 0.0
    talk_time: float = 60.0
    talk_distribution: str = "exp"
    hangs_up_first_probability: float = 0.5
    hangup_delay: tuple[float, float] = (0.3, 1.5)
    ready_after: float | None = None
    transfer_probability: float = 0.0
    transfer_to: tuple[str, ...] = ("queue:sales",)

    def __post_init__(self):
        lo, hi = self.answer_delay
        if not 0 <= lo <= hi:
            raise ValueError(f"AgentBehaviour.answer_delay: need 0 <= min <= max, "
                             f"not {self.answer_delay}")
        lo, hi = self.hangup_delay
        if not 0 <= lo <= hi:
            raise ValueError(f"AgentBehaviour.hangup_delay: need 0 <= min <= max, "
                             f"not {self.hangup_delay}")
        for name in ("ring_out_probability", "hangs_up_first_probability",
                     "transfer_probability"):
            p = getattr(self, name)
            if not 0 <= p <= 1:
                raise ValueError(f"AgentBehaviour.{name}: a probability, not {p!r}")
        if self.talk_time < 0:
            raise ValueError("AgentBehaviour.talk_time: must be >= 0")
        _draw(random.Random(0), 1.0, self.talk_distribution)   # validates the name


@dataclass
class TrafficStats:
    """What the simulated callers and agents did (the centre counts its side itself)."""

    arrivals: int = 0               # calls the callers placed
    congested: int = 0              # ... refused by the exchange: every B-channel busy
    offered: int = 0                # ... offered to the board (arrivals - congested)
    rejected: int = 0               # ... cleared by the board before answer (no IVR port)
    answered_by_ivr: int = 0        # ... answered by the board (IVR or straight to a queue)
    dtmf_sent: int = 0              # DTMF strings keyed
    no_choice: int = 0              # callers who keyed nothing in the menu
    hung_up_in_ivr: int = 0         # callers who hung up in the menu
    self_service: int = 0           # callers who hung up after an IVR self-service
    queued: int = 0                 # calls that entered a queue (first time)
    abandoned: int = 0              # callers whose patience ran out before an agent answered
    answered_by_agent: int = 0      # calls an agent's phone answered (call.established)
    voicemail: int = 0              # callers who left a message
    caller_ended: int = 0           # conversations the caller ended
    agent_ended: int = 0            # conversations the agent ended
    transfers: int = 0              # calls an agent transferred away
    cleared: int = 0                # calls over, on the exchange's side
    agent_alerts: int = 0           # times an agent's phone started ringing
    agent_answers: int = 0          # handsets lifted for a ringing phone
    agent_ring_outs: int = 0        # rings the agent let go unanswered
    stray_lifts: int = 0            # handsets lifted after the ringing had stopped
    agents_made_ready: int = 0      # paused agents that made themselves ready again
    dissuaded: int = 0              # callers the centre sent to its peak-dissuasion message
    callback_accepted: int = 0      # ... who keyed the callback (or confirmed their number)
    callback_requests: int = 0      # callers whose callback request the centre took

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class _Caller:
    n: int
    ani: str
    span: int
    xcall: Any                      # simulators.exchange.ExchangeCall
    timeslot: int | None
    arrived: float
    choice: str | None
    patience: float
    message: float
    order: str
    state: str = "setup"            # setup, ivr, queued, talking, voicemail, done
    call_id: str | None = None
    answered: float | None = None
    queued_at: float | None = None
    agent_port: int | None = None
    served: bool = False            # an agent has answered (once is enough for the stats)


@dataclass
class _Desk:
    """One agent position: the phone on an FXS port, and what the agent is doing."""

    port: int
    phone: Any
    state: str = "idle"             # idle, alerted, ringing_out, lifted, talking, hanging_up
    last_ring: float = -1e9
    call_id: str | None = None      # the CTI call delivered to / talking on this phone
    agent: str | None = None
    lift_seq: int = 0               # invalidates pending lift timers
    talk_seq: int = 0


class Traffic:
    """Callers and agents on virtual time, for a :class:`simulators.world.SimWorld` with
    signalling (``world.calls`` is the exchange's call logic).

    Call :meth:`tick` once per world tick, after ``world.tick()``, with the line time in
    seconds; pass every CTI event of the centre to :meth:`on_cti_event` as a dict.
    ``ivr_choices`` maps a menu digit string (or None: keys nothing, or ``"hangup"``:
    hangs up in the menu) to its weight; ``patience`` is (mean seconds, "exp" |
    "lognormal" | "fixed"); ``agents`` is one :class:`AgentBehaviour` for every phone or a
    dict FXS port -> behaviour; ``desktop(op, args)`` (optional) sends requests as an
    agent's desktop would (a paused agent's ``agent.ready``).
    """

    def __init__(self, world, *, seed: int, profile: Profile, spans=(1, 2),
                 dnis: str = "4008001234",
                 ivr_choices: Mapping[str | None, float] | None = None,
                 patience: tuple = (30.0, "exp"),
                 ani_pool: list[str] | None = None,
                 agents: AgentBehaviour | Mapping[int, AgentBehaviour] | None = None,
                 menu_delay: float = 5.0, digit_gap: float = 2.0, self_service_time: float = 12.0,
                 message_time: tuple[float, float] = (10.0, 25.0),
                 start: float | None = None, duration: float | None = None,
                 desktop: Callable[[str, dict], Any] | None = None,
                 callback_accept: float = 0.9, callback_key_delay: tuple[float, float] = (2.0, 6.0)):
        if world.calls is None:
            raise ValueError("Traffic needs a SimWorld with signalling (world.calls)")
        self.world = world
        self.seed = seed
        self.profile = profile
        self.spans = tuple(spans)
        for s in self.spans:
            if s not in world.calls.pri:
                raise ValueError(f"spans: the exchange runs no PRI on span {s}")
        self.dnis = dnis
        choices = dict(ivr_choices if ivr_choices is not None else
                       {"2": 0.7, "1": 0.1, "3": 0.05, "4": 0.05, None: 0.1})
        if not choices or any(w < 0 for w in choices.values()) or sum(choices.values()) <= 0:
            raise ValueError("ivr_choices: weights must be >= 0 and not all zero")
        self._choices = list(choices)
        self._weights = [choices[c] for c in self._choices]
        self.patience = tuple(patience)
        _draw(random.Random(0), 1.0, self.patience[1])
        self.ani_pool = list(ani_pool) if ani_pool else None
        if agents is None:
            agents = AgentBehaviour()
        self._behaviour = agents
        self.menu_delay = menu_delay
        self.digit_gap = digit_gap
        self.self_service_time = self_service_time
        self.message_time = message_time
        self.start = start
        self.duration = duration
        self.desktop = desktop
        if not 0 <= callback_accept <= 1:
            raise ValueError(f"callback_accept: a probability, not {callback_accept!r}")
        self.callback_accept = callback_accept
        self.callback_key_delay = callback_key_delay
        self.arriving = True
        self.stats = TrafficStats()
        # one random stream per concern, so that agents' draws do not shift arrivals
        self._rng_arrival = random.Random(f"{seed}/arrivals")
        self._rng_caller = random.Random(f"{seed}/callers")
        self._rng_agent = random.Random(f"{seed}/agents")
        self._rng_dissuade = random.Random(f"{seed}/dissuasion")
        self._next_arrival: float | None = None
        self._timers: list = []
        self._tseq = 0
        self._n = 0
        self.now = 0.0
        self.callers: dict[int, _Caller] = {}           # live callers by number
        self._by_channel: dict[tuple[int, int], _Caller] = {}   # not yet tied to a CTI call
        self._by_call_id: dict[str, _Caller] = {}
        # the desks whose call_id is each CTI call (kept by _desk_call): an event of a call
        # looks at its own desks, not at every desk of the centre
        self._desks_of_call: dict[str, dict[int, _Desk]] = {}
        self._peak_of: Profile | None = None
        self._peak = 0.0
        self.desks = {port: _Desk(port, phone) for port, phone in sorted(world.phones.items())}
        for phone in world.phones.values():
            phone.hang_up_after_ms = None    # the agents' behaviour hangs up (hangup_delay)
        # the phones' rings as edges: those ringing at the last tick (and its time), the
        # ones that began since, desks made idle while their phone rang, and when an
        # alerted desk's phone, silent since, is looked at again (port by due time)
        self._prev_ringing: set[int] = set()
        self._prev_now: float | None = None
        self._started: set[int] = set()
        self._recheck: set[int] = set()
        self._ring_checks: list[tuple[float, int]] = []
        # the world's set of phones ringing now (it adds and discards; never replaces it)
        ringing = getattr(world, "ringing_phones", None)
        self._ringing: set[int] = ringing if ringing is not None else set()
        self._by_xcall: dict[int, _Caller] = {}    # id(exchange call) -> live caller
        self._xchanged: list = []                  # exchange calls answered/cleared
        listeners = getattr(world.calls, "listeners", None)
        if listeners is not None:
            listeners.append(self._xchanged.append)
        self._agent_port: dict[str, int] = {}

    # ---- public ----------------------------------------------------------------------

    def behaviour(self, port: int) -> AgentBehaviour:
        b = self._behaviour
        if isinstance(b, AgentBehaviour):
            return b
        return b.get(port) or AgentBehaviour()

    def stop(self) -> None:
        """No more arrivals; the calls in progress go on to their end."""
        self.arriving = False

    @property
    def active(self) -> int:
        """Callers still on the line (or waiting for their call to be set up)."""
        return len(self.callers)

    def rate(self, now: float) -> float:
        """The arrival rate in calls a minute at line time ``now``."""
        if self.start is None:
            return 0.0
        return self.profile.rate(now - self.start)

    def tick(self, now: float | None = None) -> None:
        """Advance to line time ``now`` (seconds; default the world's): place the arrivals
        due, follow the exchange's calls, fire callers' and agents' timers, watch phones."""
        if now is None:
            now = self.world.now_ms / 1000.0
        self.now = now
        if self.start is None:
            self.start = now
        self._arrivals(now)
        self._watch_exchange(now)
        self._ring_edges()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            fn()
        self._watch_phones(now)

    def on_cti_event(self, ev: Mapping) -> None:
        """One event the centre published (a dict with ``type``, ``call_id``, ...)."""
        t = ev.get("type", "")
        cid = ev.get("call_id")
        if t == "call.offered":
            ch = ev.get("channel") or ""
            span, _, ts = ch.partition("/")
            if span.isdigit() and ts.isdigit():
                c = self._by_channel.pop((int(span), int(ts)), None)
                if c is not None and c.state != "done":
                    c.call_id = cid
                    self._by_call_id[cid] = c
            return
        if t == "agent.state":
            self._agent_state(ev)
            return
        if not t.startswith("call.") or cid is None:
            return
        c = self._by_call_id.get(cid)
        if t == "call.delivered":
            port = ev.get("extension")
            desk = self.desks.get(port)
            if desk is not None and ev.get("agent"):
                self._agent_port[ev["agent"]] = port
                desk.agent = ev["agent"]
                if desk.state in ("idle", "alerted", "ringing_out"):
                    self._desk_call(desk, cid)
        elif t == "call.dissuaded":
            if c is not None and c.state in ("setup", "ivr"):
                self._dissuaded(c, str(ev.get("mode", "offer")))
        elif t == "call.queued":
            if c is not None and c.state in ("setup", "ivr", "dissuaded"):
                c.state = "queued"
                c.queued_at = self.now
                self.stats.queued += 1
                due = self.now + c.patience
                self._after(due, lambda c=c: self._patience_over(c))
        elif t == "call.established":
            port = ev.get("extension")
            if c is not None:
                # counted even when the caller's hang-up is already on its way (patience
                # ran out as the agent lifted): the centre did connect the call
                if not c.served:
                    c.served = True
                    self.stats.answered_by_agent += 1
                if c.state != "done":
                    c.state = "talking"
                    c.agent_port = port
            desk = self.desks.get(port)
            if desk is not None:
                self._talk(desk, cid, ev.get("agent"))
            # ring-all: the other phones that rang for this call stop
            for d in self._desks_on(cid):
                if d is not desk and d.state in ("alerted", "ringing_out"):
                    self._desk_idle(d)
        elif t == "call.transferred":
            if c is not None and c.state == "talking":
                # waiting again, for the agent or queue it went to
                c.state = "queued"
                c.queued_at = self.now
                self._after(self.now + c.patience, lambda c=c: self._patience_over(c))
            for d in self._desks_on(cid):
                if d.state in ("lifted", "talking"):
                    d.talk_seq += 1
                    d.state = "hanging_up"
                    self._after(self.now + self._uniform(self.behaviour(d.port).hangup_delay),
                                lambda d=d: self._hang_up(d))
        elif t == "call.diverted":
            to = str(ev.get("to", ""))
            if c is not None and to.startswith("voicemail") and c.state != "done":
                c.state = "voicemail"
                self._after(self.now + c.message, lambda c=c: self._leave_message(c))
            elif c is not None and to == "callback" and c.state != "done":
                c.state = "callback"
                self.stats.callback_requests += 1
        elif t == "call.ring_no_answer":
            port = self._agent_port.get(ev.get("agent_rna"))
            d = self.desks.get(port)
            if d is not None and d.call_id == cid and d.state in ("alerted", "ringing_out"):
                self._desk_idle(d)
        elif t == "call.cleared":
            if c is not None:
                self._by_call_id.pop(cid, None)
            for d in self._desks_on(cid):
                if d.state in ("alerted", "ringing_out"):
                    self._desk_idle(d)
                elif d.state in ("lifted", "talking"):
                    # the caller went first: the agent hears the disconnect, hangs up
                    d.talk_seq += 1
                    d.state = "hanging_up"
                    self._after(self.now + self._uniform(self.behaviour(d.port).hangup_delay),
                                lambda d=d: self._hang_up(d))

    # ---- arrivals --------------------------------------------------------------------------

    def _arrivals(self, now: float) -> None:
        profile = self.profile
        if self._peak_of is not profile:      # (a profile's peak is worked out once)
            self._peak_of, self._peak = profile, profile.peak / 60.0
        peak = self._peak                     # calls a second
        if peak <= 0:
            return
        if self._next_arrival is None:
            self._next_arrival = self.start + self._rng_arrival.expovariate(peak)
        while self._next_arrival <= now:
            t = self._next_arrival
            self._next_arrival = t + self._rng_arrival.expovariate(peak)
            accept = self._rng_arrival.random() * peak <= self.profile.rate(t - self.start) / 60.0
            if self.duration is not None and t - self.start >= self.duration:
                self.arriving = False
            if accept and self.arriving:
                self._arrive(now)

    def _arrive(self, now: float) -> None:
        r = self._rng_caller
        self._n += 1
        ani = r.choice(self.ani_pool) if self.ani_pool else random_mobile(r)
        choice = r.choices(self._choices, self._weights)[0]
        patience = _draw(r, float(self.patience[0]), self.patience[1],
                         *(self.patience[2:3] or ()))
        message = r.uniform(*self.message_time)
        order = f"{r.randrange(10 ** 5):05d}"
        self.stats.arrivals += 1
        calls = self.world.calls
        # sequential hunting over the trunk group: the first span with a free B-channel
        span = next((s for s in self.spans if calls.pri[s].q931.free_channels()), self.spans[0])
        xc = calls.offer_call(span, ani, self.dnis)
        if xc.state == "cleared":
            self.stats.congested += 1
            return
        self.stats.offered += 1
        info = calls.pri[span].q931.call_info(xc.call)
        ts = xc.timeslot if xc.timeslot is not None else getattr(info, "channel", None)
        c = _Caller(self._n, ani, span, xc, ts, now, choice, patience, message, order)
        self.callers[c.n] = c
        self._by_xcall[id(xc)] = c
        if ts is not None:
            self._by_channel[(span, ts)] = c

    # ---- callers ---------------------------------------------------------------------------

    def _watch_exchange(self, now: float) -> None:
        # only the callers whose exchange call was answered or cleared since the last
        # tick (the exchange tells its listeners), in the order they arrived
        changed, self._xchanged[:] = list(self._xchanged), []
        if not changed:
            return
        mine = {c.n: c for c in (self._by_xcall.get(id(x)) for x in changed) if c is not None}
        for _, c in sorted(mine.items()):
            xs = c.xcall.state
            if xs == "answered" and c.answered is None:
                c.answered = now
                c.state = "ivr" if c.state == "setup" else c.state
                self.stats.answered_by_ivr += 1
                self._after(now + self.menu_delay, lambda c=c: self._menu(c))
            elif xs == "cleared":
                if c.answered is None:
                    self.stats.rejected += 1
                self._done(c)

    def _menu(self, c: _Caller) -> None:
        if c.state != "ivr":
            return
        if c.choice is None:
            self.stats.no_choice += 1
            return
        if c.choice == "hangup":
            self.stats.hung_up_in_ivr += 1
            self._caller_hangup(c)
            return
        self._dtmf(c, c.choice)
        if c.choice == "1":
            # order status: the order number follows, then the caller listens and goes
            self._after(self.now + self.digit_gap, lambda: self._dtmf(c, c.order + "#"))
            self._after(self.now + self.digit_gap + self.self_service_time,
                        lambda: self._self_service_done(c))
        elif c.choice == "4":
            # callback: the confirm key and # ("call me back on this number")
            self._after(self.now + self.digit_gap, lambda: self._dtmf(c, "1#"))

    def _dissuaded(self, c: _Caller, mode: str) -> None:
        """The centre's dissuasion message: most callers take the callback (offer: 1 for a
        callback, then 1 for "this number"; impose: 1 to confirm the number); the others
        hold on (offer: they join the queue after all) or hang up (impose)."""
        c.state = "dissuaded"
        self.stats.dissuaded += 1
        r = self._rng_dissuade
        delay = r.uniform(*self.callback_key_delay)
        if r.random() < self.callback_accept:
            self.stats.callback_accepted += 1
            if mode == "offer":
                self._after(self.now + delay, lambda: self._dtmf(c, "1"))
                self._after(self.now + delay + self.digit_gap, lambda: self._dtmf(c, "1#"))
            else:
                self._after(self.now + delay, lambda: self._dtmf(c, "1#"))
        elif mode != "offer":
            self._after(self.now + delay, lambda: self._hang_up_dissuaded(c))

    def _hang_up_dissuaded(self, c: _Caller) -> None:
        if c.state == "dissuaded":
            self.stats.hung_up_in_ivr += 1
            self._caller_hangup(c)

    def _dtmf(self, c: _Caller, digits: str) -> None:
        if c.state in ("done",) or c.timeslot is None or c.xcall.state != "answered":
            return
        self.world.exchange.spans[c.span].channels[c.timeslot].dtmf(digits)
        self.stats.dtmf_sent += 1

    def _self_service_done(self, c: _Caller) -> None:
        if c.state == "ivr":
            self.stats.self_service += 1
            self._caller_hangup(c)

    def _patience_over(self, c: _Caller) -> None:
        if c.state == "queued":
            self.stats.abandoned += 1
            self._caller_hangup(c)

    def _leave_message(self, c: _Caller) -> None:
        if c.state == "voicemail":
            self.stats.voicemail += 1
            self._caller_hangup(c)

    def _caller_hangup(self, c: _Caller) -> None:
        if c.state == "done":
            return
        c.state = "done"
        try:
            self.world.calls.hangup(c.span, c.xcall.call, HANGUP_NORMAL)
        except LookupError:
            pass            # the call cleared meanwhile

    def _done(self, c: _Caller) -> None:
        c.state = "done"
        self.stats.cleared += 1
        self.callers.pop(c.n, None)
        self._by_xcall.pop(id(c.xcall), None)
        if c.timeslot is not None and self._by_channel.get((c.span, c.timeslot)) is c:
            del self._by_channel[(c.span, c.timeslot)]

    # ---- agents ----------------------------------------------------------------------------

    def _ring_edges(self) -> None:
        """The phones that began or stopped ringing since the last tick (before the timers:
        a lift looks at when its phone last rang). A desk's ``last_ring`` is the last tick
        its phone was seen ringing."""
        ringing, prev = self._ringing, self._prev_ringing
        if ringing == prev:
            return
        self._started |= ringing - prev
        for p in prev - ringing:
            d = self.desks.get(p)
            if d is not None:
                d.last_ring = self._prev_now
                if d.state in ("alerted", "ringing_out"):
                    heapq.heappush(self._ring_checks, (d.last_ring + 5.0, p))
        self._prev_ringing = set(ringing)

    def _watch_phones(self, now: float) -> None:
        # the desks whose phone began ringing, those made idle while it rang, and the
        # alerted ones whose phone has been silent for a while: no other desk can change
        ports = self._started | self._recheck
        self._started, self._recheck = set(), set()
        heap, due = self._ring_checks, set()
        while heap and heap[0][0] <= now + 1e-6:
            due.add(heapq.heappop(heap)[1])
        ports |= due
        self._prev_now = now
        if not ports:
            return
        desks = self.desks
        # a desk's own step changes only that desk: each is looked at once, in port order
        for p in sorted(ports):
            d = desks.get(p)
            if d is None:
                continue
            ph = d.phone
            if ph.ringing:
                if d.state == "idle" and not ph.off_hook:
                    self._alerted(d)
            elif d.state in ("alerted", "ringing_out"):
                if now - d.last_ring > 5.0:
                    # no ring for longer than the cadence's silence: the ringing has stopped
                    self._desk_idle(d)
                elif p in due:
                    heapq.heappush(heap, (d.last_ring + 5.0, p))     # not yet: again later

    def _alerted(self, d: _Desk) -> None:
        b = self.behaviour(d.port)
        r = self._rng_agent
        self.stats.agent_alerts += 1
        d.lift_seq += 1
        if r.random() < b.ring_out_probability:
            d.state = "ringing_out"
            self.stats.agent_ring_outs += 1
            return
        d.state = "alerted"
        seq = d.lift_seq
        self._after(self.now + self._uniform(b.answer_delay), lambda: self._lift(d, seq))

    def _lift(self, d: _Desk, seq: int) -> None:
        if d.lift_seq != seq or d.state != "alerted":
            return
        if d.phone.off_hook:
            return
        ringing_now = d.phone.ringing or self.now - d.last_ring <= 4.5
        d.phone.lift()
        d.state = "lifted"
        if ringing_now:
            self.stats.agent_answers += 1
        # no call.established soon: the ringing had stopped (dial tone); hang up again
        self._after(self.now + 3.0, lambda: self._stray(d, seq))

    def _stray(self, d: _Desk, seq: int) -> None:
        if d.lift_seq == seq and d.state == "lifted":
            self.stats.stray_lifts += 1
            self._hang_up(d)

    def _talk(self, d: _Desk, cid: str, agent: str | None) -> None:
        b = self.behaviour(d.port)
        d.state = "talking"
        self._desk_call(d, cid)
        d.agent = agent or d.agent
        d.talk_seq += 1
        seq = d.talk_seq
        talk = _draw(self._rng_agent, b.talk_time, b.talk_distribution)
        agent_first = self._rng_agent.random() < b.hangs_up_first_probability
        transfer = None
        if self._rng_agent.random() < b.transfer_probability and b.transfer_to:
            transfer = self._rng_agent.choice(b.transfer_to)
        self._after(self.now + talk, lambda: self._end_talk(d, seq, cid, agent_first, transfer))

    def _end_talk(self, d: _Desk, seq: int, cid: str, agent_first: bool,
                  transfer: str | None = None) -> None:
        if d.talk_seq != seq or d.state != "talking":
            return
        c = self._by_call_id.get(cid)
        if transfer is not None and transfer != d.agent and self.desktop is not None \
                and c is not None and c.state == "talking":
            reply = self.desktop("call.transfer", {"call": cid, "to": transfer})
            if not isinstance(reply, dict) or reply.get("ok", True):
                self.stats.transfers += 1
                return              # call.transferred: the agent hangs up, the caller waits
        if agent_first or c is None or c.state == "done":
            self.stats.agent_ended += 1
            self._hang_up(d)
        else:
            self.stats.caller_ended += 1
            self._caller_hangup(c)

    def _hang_up(self, d: _Desk) -> None:
        if d.phone.off_hook:
            d.phone.hang_up()
        self._desk_idle(d)

    def _desk_call(self, d: _Desk, cid: str | None) -> None:
        """Set the CTI call on a desk, keeping the index of desks by call."""
        if d.call_id == cid:
            return
        if d.call_id is not None:
            desks = self._desks_of_call.get(d.call_id)
            if desks is not None:
                desks.pop(d.port, None)
                if not desks:
                    del self._desks_of_call[d.call_id]
        d.call_id = cid
        if cid is not None:
            self._desks_of_call.setdefault(cid, {})[d.port] = d

    def _desks_on(self, cid) -> list[_Desk]:
        """The desks on call ``cid``, in port order (as a scan of the desks would give)."""
        desks = self._desks_of_call.get(cid)
        return [desks[p] for p in sorted(desks)] if desks else []

    def _desk_idle(self, d: _Desk) -> None:
        d.state = "idle"
        self._desk_call(d, None)
        d.lift_seq += 1
        d.talk_seq += 1
        if d.phone.ringing:
            self._recheck.add(d.port)   # its phone still rings: it may be alerted again

    def _agent_state(self, ev: Mapping) -> None:
        agent = ev.get("agent")
        if ev.get("state") != "not_ready" or ev.get("reason") != "ring-no-answer" or not agent:
            return
        port = self._agent_port.get(agent)
        b = self.behaviour(port) if port is not None else (
            self._behaviour if isinstance(self._behaviour, AgentBehaviour) else AgentBehaviour())
        if self.desktop is None or b.ready_after is None:
            return
        self._after(self.now + b.ready_after, lambda: self._make_ready(agent))

    def _make_ready(self, agent: str) -> None:
        self.stats.agents_made_ready += 1
        self.desktop("agent.ready", {"agent": agent})

    # ---- helpers -----------------------------------------------------------------------------

    def _uniform(self, span: tuple[float, float]) -> float:
        return self._rng_agent.uniform(*span)

    def _after(self, when: float, fn: Callable[[], None]) -> None:
        self._tseq += 1
        heapq.heappush(self._timers, (when, self._tseq, fn))


#: The number the advert shows: the peak's callers dial it.
PEAK_DNIS = "4008001234"


@dataclass(frozen=True)
class PeakPlan:
    """The advert and the people: ``base`` calls a minute before and after; from ``lead``
    seconds the rate ramps over ``ramp`` s to ``peak`` a minute, holds ``hold`` s and ramps
    down (ten minutes in all with the defaults: over 7,000 calls). Callers' ``patience``
    in the queue (mean s, lognormal: Chinese callers rarely wait over 30 s); agents lift
    the handset ``answer_delay`` s after the first ring (the queue rings
    ``ring_timeout`` s, about two rings), talk ``talk`` s (lognormal) and spend ``wrapup``
    s entering the order; ``callback_accept`` of dissuaded callers take the callback,
    keying it ``callback_key_delay`` s into the message.
    After the arrivals the run goes on until every call and callback is over, at most
    ``drain_limit`` s of line time."""

    seed: int = 1
    base: float = 30.0
    peak: float = 785.0
    lead: float = 30.0
    ramp: float = 60.0
    hold: float = 480.0
    patience: float = 25.0
    answer_delay: tuple[float, float] = (1.0, 7.0)
    ring_out: float = 0.04
    ring_timeout: float = 10.0
    talk: float = 30.0
    wrapup: float = 120.0
    callback_accept: float = 0.97
    callback_key_delay: tuple[float, float] = (1.0, 4.0)
    drain_limit: float = 3600.0

    @property
    def arrivals_seconds(self) -> float:
        return self.lead + 2 * self.ramp + self.hold

    def expected_calls(self) -> float:
        """The profile's mean number of calls (its integral)."""
        up_down = 2 * self.ramp * (self.base + self.peak) / 2.0
        return (self.lead * self.base + up_down + self.hold * self.peak) / 60.0
