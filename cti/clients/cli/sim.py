"""The simulated world: ``cti sim`` (faults and loopbacks on the virtual cables, calls and
traffic from the simulated exchange, and the TV-advert peak run in this process)."""
from __future__ import annotations

import os

from cti.clients.cli.common import _client, _ber, _out, _positive_float, _span
from cti.clients.cli.formatting import _faults_text, kv, span_title

def cmd_sim_peak(args) -> int:
    """The TV-advert peak on the old centre and the new one (cti/scenarios/tv_peak.py), in this
    process on its own simulated boards: no server needed."""
    import json as json_
    from cti.scenarios import tv_peak as scenario

    factor = args.scale
    peak = scenario.PeakPlan(seed=args.seed)
    old, new = scenario.OLD_CENTRE, scenario.NEW_CENTRE
    if factor != 1.0:
        peak = scenario.scaled(peak, factor)
        old, new = scenario.scaled(old, factor), scenario.scaled(new, factor)
    plans = {"old": old, "new": new}
    chosen = [plans[n] for n in (("old", "new") if args.only is None else (args.only,))]
    out_dir = args.out or os.path.join(args.home or "var", "peak")
    results = scenario.run_peak(*chosen, peak=peak, home=out_dir,
                                progress=not args.json) if len(chosen) == 2 else \
        {chosen[0].name: scenario.run_centre(
            chosen[0], peak, os.path.join(out_dir, chosen[0].name),
            progress=None if args.json else scenario.ProgressBar(chosen[0].name,
                                                                  peak.arrivals_seconds))}
    files = scenario.write_outputs(results, out_dir)
    if args.json:
        print(json_.dumps({"results": results, "files": files}, indent=2, default=str))
        return 0
    print(f"The TV-advert peak: up to {peak.peak:g} calls a minute, "
          f"{peak.expected_calls():,.0f} expected in {peak.arrivals_seconds / 60:g} minutes "
          f"(seed {peak.seed}"
          f"{', scale %g' % factor if factor != 1.0 else ''})\n")
    print(scenario.format_side_by_side(results))
    print()
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0


def cmd_sim(args) -> int:
    if args.action == "peak":
        return cmd_sim_peak(args)
    with _client(args) as c:
        if args.action == "fault":
            res = c.request("sim.fault", span=args.span, los=args.los or None,
                            ais=args.ais or None, lof=args.lof or None, ber=args.ber,
                            code_errors=args.code_errors, slip_ppm=args.slip,
                            clear=args.clear or None,
                            direction=args.direction)
            if res.get("cleared"):
                what = "faults cleared"
            else:
                what = _faults_text(res.get("faults", {})) + " injected"
            text = (f"Span {res['span']} cable: {what} "
                    f"({res.get('direction', 'both').replace('_', ' ')})")
        elif args.action == "loopback":
            res = c.request("sim.loopback", span=args.span, mode=args.mode)
            text = f"Span {res['span']}: far-end loopback at the exchange {res['far_loopback']}"
        elif args.action in ("call", "calls"):
            res, text = cmd_sim_call(args, c)
        elif args.action == "traffic":
            res = c.request("sim.traffic", profile=args.profile, rate=args.rate, peak=args.peak,
                            seconds=args.seconds, seed=args.seed)
            text = ("traffic stopped" if args.profile == "stop" else
                    f"traffic: {args.profile}, {args.rate:g} calls a minute"
                    + (f" rising to {args.peak:g}" if args.profile == "tv_peak" else "")
                    + f" for {args.seconds:g} s of line time on spans "
                    + ", ".join(map(str, res.get("spans", []))))
        else:
            res = c.request("sim.stats", span=args.span)
            parts = [f"Span {res['span']} virtual cable:"]
            cable = res.get("cable", {})
            flat = []
            for k, v in cable.items():
                if k == "faults" and isinstance(v, dict):
                    flat += [(f"faults {d}".replace("_", " "), _faults_text(f))
                             for d, f in v.items()]
                elif isinstance(v, dict):
                    flat += [(f"{k} {k2}".replace("_", " "), v2) for k2, v2 in v.items()]
                else:
                    flat.append((k.replace("_", " "), v))
            parts.append(kv(flat))
            if res.get("far_end"):
                parts += ["", "Far end (exchange) " + span_title(res["far_end"])]
                parts.append(kv([("Alarms", " ".join(res["far_end"].get("alarms") or [])
                                  or "none")]))
            text = "\n".join(parts)
    _out(args, res, text)
    return 0


def cmd_sim_call(args, c) -> tuple[dict, str]:
    if args.action == "call":
        res = c.request("sim.call", span=args.span, **{"from": args.ani, "to": args.dnis},
                        overlap=args.overlap or None, hangup_after=args.hangup_after)
        if res.get("congested"):
            text = (f"Span {res['span']}: every B-channel busy: the exchange gave the caller "
                    f"congestion (cause 34)")
        else:
            text = (f"Span {res['span']}: the exchange offers a call from {args.ani or '-'} "
                    f"to {args.dnis}{' (overlap)' if args.overlap else ''}: "
                    f"exchange call {res['exchange_call']}")
        return res, text
    res = c.request("sim.calls")
    cleared = ", ".join(f"cause {k}: {v}" for k, v in sorted(res["cleared"].items(),
                                                               key=lambda kv: int(kv[0])))
    text = kv([("Offered to the board", res["offered"]),
               ("Congested (cause 34)", res["congested"]), ("Answered", res["answered"]),
               ("Placed by the board", res["from_board"]), ("Cleared", cleared or "none"),
               ("Calls up", len(res["calls"]))])
    return res, text


def add_parsers(sub, common) -> None:
    """``cti sim``."""
    sm = sub.add_parser("sim", parents=[common], help="the simulated world: fault, loopback, "
                        "stats")
    msub = sm.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = msub.add_parser("fault", parents=[common], help="inject a fault on a virtual cable")
    x.add_argument("span", type=_span, metavar="SPAN")
    f = x.add_mutually_exclusive_group(required=True)
    f.add_argument("--los", action="store_true", help="loss of signal")
    f.add_argument("--ais", action="store_true", help="alarm indication signal (all ones)")
    f.add_argument("--lof", action="store_true", help="corrupt framing (loss of frame)")
    f.add_argument("--ber", type=_ber, metavar="X", help="bit errors at ratio X (1e-3), "
                   "inserted in-line and re-coded: a BERT at the far end sees X")
    f.add_argument("--code-errors", type=_ber, metavar="X",
                   help="line symbol errors at ratio X, as noise makes them: bipolar "
                   "violations, ~1.4 bit errors each")
    f.add_argument("--slip", type=float, metavar="PPM", help="clock offset in ppm (slips)")
    f.add_argument("--clear", action="store_true", help="clear every fault")
    x.add_argument("--direction", default=None,
                   choices=("both", "to-board", "to-exchange"),
                   help="which way the fault acts (default: to-board for --los/--ais/--lof, "
                        "so the far end sees RAI; both for --ber, --code-errors, --slip "
                        "and --clear)")
    x = msub.add_parser("loopback", parents=[common], help="far-end loopback at the exchange")
    x.add_argument("span", type=_span, metavar="SPAN")
    x.add_argument("--mode", required=True, choices=("line", "payload", "off"))
    x = msub.add_parser("stats", parents=[common], help="the virtual cable and the far end")
    x.add_argument("span", type=_span, metavar="SPAN")
    x = msub.add_parser("call", parents=[common], help="the exchange offers a call on a PRI span")
    x.add_argument("span", type=_span, metavar="SPAN")
    x.add_argument("--from", dest="ani", default="", metavar="ANI", help="calling number")
    x.add_argument("--to", dest="dnis", required=True, metavar="DNIS", help="called number")
    x.add_argument("--overlap", action="store_true", help="send the called number digit by "
                   "digit (overlap sending)")
    x.add_argument("--hangup-after", type=_positive_float, metavar="S",
                   help="the caller hangs up S seconds after the answer")
    x = msub.add_parser("calls", parents=[common], help="the exchange's call counts "
                        "(offered, congested, answered, causes)")
    x = msub.add_parser("traffic", parents=[common], help="callers on the exchange and agents "
                        "at their phones, on line time")
    x.add_argument("--profile", choices=("steady", "tv_peak", "stop"), default="steady")
    x.add_argument("--rate", type=float, default=20.0, help="calls a minute (before the peak)")
    x.add_argument("--peak", type=float, default=300.0, help="calls a minute at the peak")
    x.add_argument("--seconds", type=_positive_float, default=120.0, help="line time")
    x.add_argument("--seed", type=int, default=1)
    x = msub.add_parser("peak", parents=[common], help="replay the TV-advert peak on the old "
                        "centre (6 E1, 400 agents) and the new (9 E1, 700 agents, dissuasion "
                        "and callbacks), bit-true, in this process; reports side by side")
    x.add_argument("--scale", type=_positive_float, default=1.0,
                   help="shrink both centres and the call rates alike (0.1: a quick run)")
    x.add_argument("--seed", type=int, default=1, help="the callers' random seed")
    x.add_argument("--only", choices=("old", "new"), help="run one centre only")
    x.add_argument("--out", metavar="DIR", help="where the stores, report pages and charts go "
                   "(default: HOME/peak)")
    sm.set_defaults(func=cmd_sim)
