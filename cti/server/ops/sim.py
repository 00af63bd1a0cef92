"""The simulated world around the board (simulators/): faults and loops on the virtual E1
cables (``sim.fault``, ``sim.loopback``, ``sim.stats``), the exchange's calls
(``sim.call``, ``sim.hangup``, ``sim.calls``), a caller's or a phone's keys
(``sim.dtmf``, ``sim.phone``) and generated traffic (``sim.traffic``). Each refuses
``not_supported`` on a real board."""
from __future__ import annotations

from cti.server.ops.board import SPAN_LINE
from cti.server.registry import operation
from cti.server.schema import (BOOL, CALL, CAUSE, CHANNEL, INT, NUM, OBJ, SPAN, STR, Arg,
                               RequestError, arr, nullable, obj, ranges)

DIRECTIONS = ("both", "to_board", "to_exchange", "to-board", "to-exchange")
CABLE_PAIR = obj({"bits": INT, "bit_errors": INT, "code_errors": INT, "frames_skew": INT})


def sim_cable(svc, number: int):
    """The virtual cable of span ``number`` (``not_supported`` on a real board)."""
    if svc.world is None:
        raise RequestError("not_supported", f"board {svc.board.name} is not simulated: "
                           "there is no virtual cable to act on", "op")
    svc.get_span(number)
    return svc.world.cable(number)


def exchange_calls(svc, number: int):
    """The simulated exchange's calls, when it runs PRI on span ``number``."""
    sim_cable(svc, number)
    if svc.world.calls is None or number not in svc.world.exchange_pri:
        raise RequestError("not_supported", f"the exchange does not run PRI on span {number}",
                           "args.span")
    return svc.world.calls


def _scenario_peak(svc, a) -> dict:
    """``sim.traffic`` ``peak``: the TV peak's callers and agents (simulators/traffic.py
    PeakPlan)."""
    from simulators.traffic import PEAK_DNIS as DNIS, PeakPlan
    from simulators.traffic import AgentBehaviour, Traffic, TvAdvertPeak

    pk = PeakPlan(seed=a["seed"], base=a["rate"], peak=a["peak"])
    now = svc.board.line_seconds
    if a["agents_login"]:
        for agent in svc.centre.agents:
            if svc.centre.acd.agent_state(agent).state == "logged_out":
                svc.centre.agent_login(now, agent)
    # the phones only ring and lift: their own tone and caller-ID receivers rest
    for phone in svc.world.phones.values():
        phone.listen(False)
    spans = tuple(sorted(svc.world.exchange_pri))
    svc.traffic = Traffic(
        svc.world, seed=pk.seed,
        profile=TvAdvertPeak(base=pk.base, peak=pk.peak, start=pk.lead, ramp=pk.ramp,
                             duration=pk.hold),
        spans=spans, dnis=DNIS, ivr_choices={None: 1.0}, patience=(pk.patience, "lognormal"),
        agents=AgentBehaviour(answer_delay=pk.answer_delay, ring_out_probability=pk.ring_out,
                              talk_time=pk.talk, talk_distribution="lognormal",
                              ready_after=10.0),
        start=now, duration=a["seconds"], callback_accept=pk.callback_accept,
        callback_key_delay=pk.callback_key_delay,
        desktop=lambda op, args: svc.handle({"id": "traffic", "op": op, "args": args}))
    return {"profile": "peak", "rate": pk.base, "peak": pk.peak, "seconds": a["seconds"],
            "spans": list(spans)}


@operation("sim.fault", rights=("sim",), args={"span": SPAN,
                              "los": Arg(bool), "ais": Arg(bool), "lof": Arg(bool),
                              "ber": Arg(float, lo=0, hi=0.5),
                              "code_errors": Arg(float, lo=0, hi=0.5),
                              "slip_ppm": Arg(float, lo=-1000, hi=1000),
                              "clear": Arg(bool, default=False),
                              "direction": Arg(str, choices=DIRECTIONS)},
           result=obj({"span": INT, "direction": STR, "cleared": BOOL, "faults": OBJ,
                       "active": OBJ}),
           events=("span.alarm", "span.dchannel_down", "span.dchannel_up"), audited=True)
def sim_fault(svc, a):
    """Put faults on a span's virtual cable (LOS, AIS, LOF, bit and code errors, slips) or
    clear them. ``ber``: bit errors inserted in-line and re-coded as HDB3 (what a far-end BERT
    measures); ``code_errors``: line symbol errors (bipolar violations). ``direction``:
    ``to_board`` (the pair from the exchange to our board), ``to_exchange`` or ``both``
    (``to-board`` spellings accepted); left out, ``to_board`` for ``los``, ``ais`` and ``lof``
    (our board raises the alarm and sends RAI, so the far end shows RAI) and ``both`` for
    ``ber``, ``code_errors``, ``slip_ppm`` and ``clear`` (our CRC-4 errors come from errors on
    the receive pair, our E-bit errors from the far end's CRC-4 errors on the transmit pair).
    Faults stay until changed or cleared; false or 0 turns one off."""
    cable = sim_cable(svc, a["span"])
    faults = {k: a[k] for k in ("los", "ais", "lof", "ber", "code_errors", "slip_ppm")
              if a[k] is not None}
    direction = a["direction"]
    if direction is None:
        # A broken line (LOS, AIS, LOF) towards us: we raise the alarm and send RAI, so
        # the far end shows RAI. Bit errors and clock offset on both pairs: our CRC-4
        # errors come from the receive pair, our E-bit errors from the transmit pair.
        line_down = any(faults.get(k) for k in ("los", "ais", "lof"))
        direction = "to_board" if line_down and not a["clear"] else "both"
    direction = direction.replace("-", "_")
    if a["clear"]:
        if faults:
            k = next(iter(faults))
            raise RequestError("bad_arg", "clear cannot be combined with other faults",
                               f"args.{k}")
        now = cable.clear(direction=direction)
    else:
        if not faults:
            raise RequestError("bad_arg", "give a fault: los, ais, lof, ber, code_errors, "
                               "slip_ppm or clear", "args")
        now = cable.fault(direction=direction, **faults)
    return {"span": a["span"], "direction": direction, "cleared": a["clear"],
            "faults": faults, "active": now}


@operation("sim.loopback", rights=("sim",), args={"span": SPAN,
                                 "mode": Arg(str, required=True,
                                             choices=("line", "payload", "off"))},
           result=obj({"span": INT, "far_loopback": STR}),
           events=("span.alarm",))
def sim_loopback(svc, a):
    """Loop a span's virtual cable back at the exchange's end."""
    cable = sim_cable(svc, a["span"])
    cable.far_loopback(a["mode"])
    return {"span": a["span"], "far_loopback": a["mode"]}


@operation("sim.stats", rights=("sim",), args={"span": SPAN},
           result=obj({"span": INT, "cable": obj({"faults": OBJ, "to_exchange": CABLE_PAIR,
                                                  "to_board": CABLE_PAIR}),
                       "far_end": SPAN_LINE}),
           events=())
def sim_stats(svc, a):
    """A virtual cable's faults and counts, and the exchange's end of the span."""
    cable = sim_cable(svc, a["span"])
    stats = dict(cable.stats())
    far = stats.pop("far_end")
    stats.pop("span", None)
    return {"span": a["span"], "cable": stats, "far_end": far}


# the simulated exchange sends what a network may send (Q.931 IA5 digits), checked by
# the stacks it reaches, not normalised
@operation("sim.call", rights=("sim",), args={"span": SPAN, "from": Arg(str, default="", max_len=32, text="ia5"),
                             "to": Arg(str, required=True, max_len=32, text="ia5"),
                             "overlap": Arg(bool, default=False),
                             "hangup_after": Arg(float, lo=0, hi=86_400)},
           result=obj({"span": INT, "exchange_call": nullable(INT), "congested": BOOL,
                       "state": STR}),
           events=("channel.offered", "channel.digits", "call.offered"))
def sim_call(svc, a):
    """The simulated exchange offers a call on a span. ``from`` and ``to`` are Q.931 numbers;
    ``overlap``: the called number follows digit by digit; ``hangup_after``: the caller hangs
    up that many seconds after the answer. ``congested`` true when every B-channel was busy
    (the caller got cause 34; the board never hears of it)."""
    calls = exchange_calls(svc, a["span"])
    for k in ("from", "to"):
        if a[k] and not a[k].isdigit():
            raise RequestError("bad_arg", f"{a[k]!r}: a number is digits", f"args.{k}")
    hang = a["hangup_after"]
    c = calls.offer_call(a["span"], a["from"], a["to"], overlap=a["overlap"],
                         hangup_after_ms=None if hang is None else int(hang * 1000))
    return {"span": a["span"], "exchange_call": c.call, "congested": c.cause == 34,
            "state": c.state}


@operation("sim.hangup", rights=("sim",), args={"span": SPAN, "call": CALL, "cause": CAUSE},
           result=obj({"span": INT, "exchange_call": INT, "cause": INT}),
           events=("channel.cleared", "call.cleared"))
def sim_hangup(svc, a):
    """The simulated exchange clears one of its calls."""
    calls = exchange_calls(svc, a["span"])
    calls.hangup(a["span"], a["call"], a["cause"])
    return {"span": a["span"], "exchange_call": a["call"], "cause": a["cause"]}


@operation("sim.calls", rights=("sim",), args={},
           result=obj({"offered": INT, "congested": INT, "answered": INT,
                       "from_board": INT, "cleared": obj(additionalProperties=INT),
                       "calls": arr(OBJ)}),
           events=())
def sim_calls(svc, a):
    """The simulated exchange's calls and counts: offered, congested, answered, from the
    board, ``cleared`` by Q.850 cause, and its calls now."""
    if svc.world is None or svc.world.calls is None:
        raise RequestError("not_supported", "no simulated exchange runs PRI here", "op")
    return svc.world.calls.status()


@operation("sim.traffic", rights=("sim",), args={"profile": Arg(str, default="steady",
                                               choices=("steady", "tv_peak", "peak", "stop")),
                                "rate": Arg(float, default=20.0, lo=0, hi=100_000),
                                "peak": Arg(float, default=300.0, lo=0, hi=100_000),
                                "seconds": Arg(float, default=120.0, lo=1, hi=86_400),
                                "seed": Arg(int, default=1, lo=0),
                                "agents_login": Arg(bool, default=True)},
           result=obj({}, {"stopped": BOOL, "profile": STR, "rate": NUM, "peak": NUM,
                           "seconds": NUM, "spans": arr(INT)}),
           events=("call.offered", "agent.state"))
def sim_traffic(svc, a):
    """Callers on the simulated exchange and agents at their phones, on line time: ``steady``
    (``rate`` calls a minute) or ``tv_peak`` (``rate`` then ``peak`` calls a minute in the ten
    minutes after an advert, PRODUCT.md's case), for ``seconds``; ``peak``: the callers and
    agents of the scenario's TV peak (cti/scenarios/tv_peak.py's PeakPlan: its ramp, patience,
    talk and wrap-up times, callbacks; every caller goes through the welcome to the queue),
    ``rate`` before and after, ``peak`` at the top, as bench/soak.py runs it on ``cti serve``.
    ``stop`` stops it. The callers choose in the IVR and have their patience; the agents have
    answer delays, ring-outs and talk times; with ``agents_login`` they are logged in first."""
    from simulators.traffic import AgentBehaviour, Steady, Traffic, TvAdvertPeak

    if svc.world is None or svc.centre is None:
        raise RequestError("not_supported", "traffic needs the simulated world and a "
                           "call centre", "op")
    if a["profile"] == "stop":
        if svc.traffic is not None:
            svc.traffic.stop()
        return {"stopped": True}
    if a["profile"] == "peak":
        return _scenario_peak(svc, a)
    if a["profile"] == "steady":
        profile = Steady(a["rate"])
    else:
        profile = TvAdvertPeak(base=a["rate"], peak=a["peak"], start=10.0, ramp=30.0,
                               duration=min(600.0, a["seconds"]))
    now = svc.board.line_seconds
    if a["agents_login"]:
        for agent in svc.centre.agents:
            if svc.centre.acd.agent_state(agent).state == "logged_out":
                svc.centre.agent_login(now, agent)
    spans = tuple(n for n in sorted(svc.world.exchange_pri))
    svc.traffic = Traffic(svc.world, seed=a["seed"], profile=profile, spans=spans,
                          start=now, duration=a["seconds"],
                          agents=AgentBehaviour(),
                          desktop=lambda op, args: svc.handle(
                               {"id": "traffic", "op": op, "args": args}))
    return {"profile": a["profile"], "rate": a["rate"], "seconds": a["seconds"],
            "spans": list(spans)}


@operation("sim.dtmf", rights=("sim",), args={"channel": CHANNEL,
                             "digits": Arg(str, required=True, max_len=64, text="dtmf")},
           result=obj({"channel": STR, "digits": STR}),
           events=("channel.dtmf",))
def sim_dtmf(svc, a):
    """The far end keys DTMF on a channel: the caller on a trunk timeslot (``1/5``), or
    the exchange's end of an FXO line (``fxo/9``)."""
    if svc.world is None:
        raise RequestError("not_supported", "no simulated world", "op")
    kind, obj, ch = svc.resolve_channel(a["channel"])
    digits = a["digits"]
    if not digits or any(d not in "0123456789*#ABCDabcd" for d in digits):
        raise RequestError("bad_arg", f"{digits!r}: DTMF digits are 0-9 * # A-D",
                           "args.digits")
    if kind == "span":
        svc.world.exchange.spans[obj.number].channels[ch.timeslot].dtmf(digits)
    else:
        line = svc.world.lines.get(obj.number)
        if line is None:
            raise RequestError("bad_arg", f"{a['channel']} is not an FXO line",
                               "args.channel")
        line._p.dtmf(digits)
    return {"channel": a["channel"], "digits": digits}


@operation("sim.phone", rights=("sim",), args={"port": Arg(int, required=True, lo=1, hi=4096),
                              "action": Arg(str, required=True,
                                            choices=("lift", "hangup", "flash", "dial", "status")),
                              "digits": Arg(str, max_len=64, text="dtmf")},
           result=obj({"port": INT, "action": STR, "ringing": BOOL, "off_hook": BOOL,
                       "caller_id": nullable(obj({"number": nullable(STR),
                                                 "name": nullable(STR)}))}),
           events=("channel.hook", "channel.flash", "call.established", "call.cleared"))
def sim_phone(svc, a):
    """An agent's phone on an FXS port: lift, hang up, flash, dial DTMF."""
    if svc.world is None:
        raise RequestError("not_supported", "no simulated world", "op")
    phone = svc.world.phones.get(a["port"])
    if phone is None:
        raise RequestError("not_found", f"no phone on port {a['port']} (phones on FXS "
                           f"ports {ranges(sorted(svc.world.phones))})", "args.port")
    act = a["action"]
    if act == "dial":
        if not a["digits"]:
            raise RequestError("bad_arg", "missing: dial needs digits", "args.digits")
        phone.dial(a["digits"])
    elif act != "status":
        {"lift": phone.lift, "hangup": phone.hang_up, "flash": phone.flash}[act]()
    return {"port": a["port"], "action": act, "ringing": phone.ringing,
            "off_hook": phone.off_hook,
            "caller_id": None if phone.caller_id is None else
            {"number": phone.caller_id.number, "name": phone.caller_id.name}}
