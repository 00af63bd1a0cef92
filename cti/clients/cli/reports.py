"""The manager's commands, read from the state directory's database (no server needed):
``cti report losses`` and ``cti plan`` (Erlang B, C and A, from a forecast or measured)."""
from __future__ import annotations

import json
import time

from cti.clients.cli.common import CliError, _out, _positive_float

def _measured_report(args, **kw) -> dict:
    """The loss report of the state directory's database over ``--from``/``--to``
    (default: the last 24 hours), for ``cti report`` and ``cti plan --measured``."""
    from cti.store.report import load_report

    home = args.home or "var"
    now = time.time()
    start = args.start if getattr(args, "start", None) is not None else now - 86_400
    end = args.end if getattr(args, "end", None) is not None else now + 3600
    try:
        return load_report(home, start, end, **kw)
    except FileNotFoundError as e:
        raise CliError(f"no call-centre database under {home}: {e}") from None
    except ValueError as e:
        raise CliError(str(e)) from None


def cmd_report(args) -> int:
    """The loss report, read from the state directory's database (no server needed): a
    table or JSON, and on request the manager's charts as an HTML page and a PNG."""
    from cti.store.report import format_table

    report = _measured_report(args, interval=args.interval, sla_seconds=args.sla,
                              target_blocking=args.blocking,
                              service_level_target=args.service_level,
                              shrinkage=args.shrinkage, max_abandon=args.max_abandon)
    if args.html or args.png:
        from cti.store.charts import losses_html, losses_png
        if args.html:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(losses_html(report))
        if args.png:
            try:
                losses_png(report, args.png)
            except RuntimeError as e:
                raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(report, indent=2, allow_nan=False))
    else:
        print(format_table(report))
    return 0


def cmd_plan(args) -> int:
    """Trunk/IVR-port planning (Erlang B) and staffing (Erlang C, or Erlang A with
    abandonment) from a forecast on the command line, or ``--measured`` from the
    store: the CDRs, the queue log and the server's occupancy samples."""
    from cti.store import planning

    try:
        if args.measured:
            plan, text = _measured_plan(args, planning)
            _out(args, plan, text)
            return 0
        if args.what in ("trunks", "ivr"):
            if args.erlangs is None:
                raise CliError("give --erlangs (a forecast), or --measured")
            fn = planning.trunks_plan if args.what == "trunks" else planning.ivr_ports_plan
            kw = {"channels": args.channels} if args.what == "trunks" else {"ports": args.channels}
            plan = fn(args.erlangs, args.blocking, **kw)
        elif args.calls is None or args.aht is None:
            raise CliError("give --calls and --aht (a forecast), or --measured")
        elif args.agents is not None:
            plan = (planning.evaluate_a(args.calls, args.interval, args.aht, args.target,
                                        args.agents, args.patience, args.shrinkage)
                    if args.patience else
                    planning.evaluate(args.calls, args.interval, args.aht, args.target,
                                      args.agents, args.shrinkage))
        elif args.patience:
            plan = planning.agents_for_service_level_a(args.calls, args.interval, args.aht,
                                                       args.target, args.service_level,
                                                       args.patience, args.shrinkage,
                                                       args.max_abandon)
        else:
            plan = planning.agents_for_service_level(args.calls, args.interval, args.aht,
                                                     args.target, args.service_level,
                                                     args.shrinkage)
    except ValueError as e:
        raise CliError(str(e)) from None
    _out(args, plan, planning.format_plan(plan))
    return 0


def _measured_plan(args, planning) -> tuple[dict, str]:
    if args.what == "trunks":
        plan = _measured_trunks(args, planning)
        return plan, planning.format_plan(plan)
    if args.what == "ivr":
        report = _measured_report(args, advice=False)
        rows = [{"start": p["start"], "end": p["end"], "seizures": p["ivr"]["seizures"],
                 "refused": p["ivr"]["no_ivr_port"],
                 "busy_port_seconds": p["ivr"]["busy_port_seconds"]}
                for p in report["intervals"]]
        if not any(p["ivr"]["measured_seconds"] for p in report["intervals"]):
            raise CliError("no IVR port occupancy measured in that time (the server samples "
                           "it while calls run)")
        ports = args.channels or max(p["ivr"]["ports"] for p in report["intervals"]) or None
        plan = planning.measured_ivr(rows, args.blocking, ports=ports)
        if plan["holding_time"] is None:
            raise CliError("no call held an IVR port in that time: no holding time to plan from")
        return plan, planning.format_measured_ivr(plan)
    report = _measured_report(args, interval=args.interval, sla_seconds=args.target,
                              advice=False)
    rows = [{"start": p["start"], "end": p["end"], "calls": p["queue"]["queued"],
             "aht": p["aht"] or report["totals"]["aht"]} for p in report["intervals"]]
    patience = report["patience"]
    if args.patience:
        patience = dict(patience, patience=args.patience, method="given (--patience)")
    plan = planning.measured_staffing(rows, args.target, args.service_level, patience,
                                      args.shrinkage, args.max_abandon)
    return plan, planning.format_measured_staffing(plan)


def _measured_trunks(args, planning) -> dict:
    """The busiest hour of the store's trunk occupancy samples: its offered traffic
    (the carried traffic over the exchange's pass rate where it counted congestion,
    else worked back with Erlang B) planned for the target, as the report's advice."""
    from cti.store.report import trunk_offered

    report = _measured_report(args, advice=False)
    hours = [(a, basis, p) for p in report["intervals"]
             for a, basis in [trunk_offered(p)] if a]
    if not hours:
        raise CliError("no trunk occupancy measured in that time (the server samples it "
                       "while calls run)")
    offered, basis, peak = max(hours, key=lambda h: h[0])
    plan = planning.trunks_plan(offered, args.blocking,
                                channels=args.channels or peak["trunk"]["channels"] or None)
    plan["basis"] = basis
    plan["busy_hour_start"] = peak["start"]
    plan["all_trunks_busy_seconds"] = peak["trunk"]["all_busy_seconds"]
    plan["span_all_busy_seconds"] = peak["trunk"]["span_all_busy_seconds"]
    plan["congested_at_exchange"] = (peak.get("lost") or {}).get("trunk", 0)
    return plan


def add_parsers(sub, common) -> None:
    """``cti report``, ``cti plan``."""
    rp = sub.add_parser("report", parents=[common], help="reports from the store: losses")
    rpsub = rp.add_subparsers(dest="report", metavar="REPORT", required=True)
    x = rpsub.add_parser("losses", parents=[common], help="where calls were lost, per hour: "
                         "trunk, IVR, queue, agent; occupancy per span and of the IVR ports; "
                         "service level, ASA, AHT; spans, IVR ports and agents needed")
    x.add_argument("--from", dest="start", metavar="TIME",
                   help="seconds or ISO 8601 (UTC); default: 24 hours ago")
    x.add_argument("--to", dest="end", metavar="TIME")
    x.add_argument("--interval", type=_positive_float, default=3600.0, metavar="S")
    x.add_argument("--sla", type=_positive_float, default=20.0, metavar="S",
                   help="service level: answered within S seconds (default 20)")
    x.add_argument("--blocking", type=_positive_float, default=0.01, metavar="P",
                   help="advice: target blocking for E1 spans and IVR ports (default 0.01)")
    x.add_argument("--service-level", type=_positive_float, default=0.8, metavar="F",
                   help="advice: fraction to answer within --sla (default 0.8)")
    x.add_argument("--shrinkage", type=float, default=0.0, metavar="F",
                   help="advice: share of paid agent time off the phones (default 0)")
    x.add_argument("--max-abandon", type=_positive_float, metavar="F",
                   help="advice: where callers abandon, lose at most this fraction (Erlang A)")
    x.add_argument("--html", metavar="FILE", help="also write the manager's page (charts)")
    x.add_argument("--png", metavar="FILE", help="also write the manager's charts as a PNG")
    rp.set_defaults(func=cmd_report)

    pl = sub.add_parser("plan", parents=[common], help="trunks, IVR ports and agents for a "
                        "forecast or measured traffic (Erlang B, C, A)")
    plsub = pl.add_subparsers(dest="what", metavar="WHAT", required=True)

    def measured(x, what: str) -> None:
        x.add_argument("--measured", action="store_true",
                       help=f"from the store: {what}")
        x.add_argument("--from", dest="start", metavar="TIME",
                       help="seconds or ISO 8601 (UTC); default: 24 hours ago")
        x.add_argument("--to", dest="end", metavar="TIME")

    for what, hlp, src in (
            ("trunks", "E1 channels and spans for a blocking target",
             "the busiest hour of trunk occupancy"),
            ("ivr", "IVR ports for a blocking target",
             "the busiest hour of IVR traffic (port occupancy samples, CDRs)")):
        x = plsub.add_parser(what, parents=[common], help=hlp)
        x.add_argument("--erlangs", type=_positive_float,
                       help="offered traffic in erlangs (busy hour), a forecast")
        measured(x, src)
        x.add_argument("--blocking", type=_positive_float, default=0.01,
                       help="target blocking probability (default 0.01)")
        x.add_argument("--channels", type=int, help="what you have now: blocking it gives")
    x = plsub.add_parser("staffing", parents=[common], help="agents for a service level")
    x.add_argument("--calls", type=_positive_float, help="calls per interval (a forecast)")
    x.add_argument("--interval", type=_positive_float, default=1800.0, help="seconds")
    x.add_argument("--aht", type=_positive_float, help="average handle time s (a forecast)")
    x.add_argument("--target", type=_positive_float, default=20.0, help="answer within S s")
    x.add_argument("--service-level", type=_positive_float, default=0.8, help="fraction")
    x.add_argument("--shrinkage", type=float, default=0.0, help="fraction (breaks, training)")
    x.add_argument("--agents", type=int, help="report the service level this many give")
    x.add_argument("--patience", type=_positive_float,
                   help="callers' mean patience s: Erlang A with abandonment")
    x.add_argument("--max-abandon", type=_positive_float, metavar="F",
                   help="with Erlang A, also lose at most this fraction to abandonment")
    measured(x, "calls and AHT per --interval from the CDRs, patience from the queue log")
    pl.set_defaults(func=cmd_plan)
