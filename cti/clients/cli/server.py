"""The server itself: ``cti serve`` runs it; ``ping``, ``snapshot``, ``shutdown``,
``reload`` (the configuration applied without a restart), ``server stats`` and ``watch`` (events tailed, gaps mended with ``replay``) ask it."""
from __future__ import annotations

import dataclasses
import json
import sys
import time

from cti.clients.cli.common import PROG, CliError, _client, _out, _positive_float
from cti.clients.cli.formatting import fmt_event, fmt_ports, kv, span_title
from cti.clients.client import CtiError, Subscriber
from cti.server.logs import LEVELS as LOG_LEVELS

def cmd_serve(args) -> int:
    from cti.server.config import ConfigError, load_config
    from cti.server.loop import run

    try:
        config = load_config(args.config, home=args.home)
    except ConfigError as e:
        for line in str(e).splitlines():
            print(f"{PROG}: config: {line}", file=sys.stderr)
        return 1
    if args.speed <= 0:
        raise CliError("--speed must be more than 0")
    if args.seconds is not None and args.seconds <= 0:
        raise CliError("--seconds must be more than 0")
    if args.log_level is not None:
        config = dataclasses.replace(config, server=dataclasses.replace(
            config.server, log_level=args.log_level))
    if not 0 <= args.realtime <= 99:
        raise CliError("--realtime takes a priority 1..99")
    try:
        return run(config, speed=args.speed, seconds=args.seconds, realtime=args.realtime)
    except KeyboardInterrupt:
        return 0
    except ImportError as e:
        raise CliError(f"cannot load the board ({e}); is the package built "
                       "(pip install -e .)?") from None
    except (RuntimeError, OSError, ValueError) as e:
        raise CliError(str(e)) from None
    except Exception as e:  # the board failed (a HalError from drivers): one line, exit 1
        raise CliError(f"board server failed: {type(e).__name__}: {e}") from None


def cmd_ping(args) -> int:
    with _client(args) as c:
        res = c.request("ping")
    starting = res.get("starting") or []
    state = ("in service" if not starting else
             f"starting: spans {', '.join(map(str, starting))} not in service yet")
    _out(args, res, f"server on board {res.get('board')}: pid {res.get('pid')}, "
         f"seq {res.get('seq')}, line time {res.get('line_time', 0):.2f} s, {state}")
    return 0


def cmd_snapshot(args) -> int:
    with _client(args) as c:
        res = c.request("snapshot")
    text = None
    if not args.json:
        parts = [f"Snapshot at seq {res.get('seq')}, line time {res.get('line_time', 0):.2f} s"]
        for st in res.get("spans", []):
            parts.append(span_title(st))
        if res.get("ports"):
            parts.append(fmt_ports(res["ports"]))
        text = "\n".join(parts)
    _out(args, res, text)
    return 0


def cmd_shutdown(args) -> int:
    with _client(args) as c:
        res = c.request("shutdown")
    _out(args, res, f"server stopping at seq {res.get('seq')}")
    return 0


def cmd_reload(args) -> int:
    with _client(args) as c:
        res = c.request("server.reload")
    _out(args, res, fmt_reload(res))
    return 0


def fmt_reload(res: dict) -> str:
    """What ``cti reload`` changed, one line a kind, and what needs a restart."""
    lines = [f"reloaded {res.get('source')}" + ("" if res.get("changed") else ": no change")]
    for kind in ("agents", "queues", "flows", "routing", "settings"):
        part = res.get(kind) or {}
        done = [f"{what} {', '.join(names)}" for what, names in part.items() if names]
        if done:
            lines.append(f"  {kind}: {'; '.join(done)}")
    if (res.get("agents") or {}).get("leaving"):
        lines.append("  (leaving: logged out, they go when their call ends)")
    if (res.get("queues") or {}).get("draining"):
        lines.append("  (draining: no new calls, they go when their last call has left)")
    if res.get("needs_restart"):
        lines.append(f"  needs a restart (not applied): {', '.join(res['needs_restart'])}")
    return "\n".join(lines)


def fmt_server_stats(st: dict) -> str:
    """``cti server stats``: how late the ticks ran, and what the server refused or could
    not deliver."""
    lat = st.get("lateness_ms") or {}

    def ms(v) -> str:
        return "-" if v is None else f"{v:g} ms"
    ring = st.get("replay_ring") or {}
    lines = [
        f"ticks {st.get('ticks', 0):,} at x{st.get('speed', 1):g}, line time "
        f"{st.get('line_time', 0):.1f} s",
        f"tick lateness: p50 {ms(lat.get('p50'))}, p99 {ms(lat.get('p99'))}, "
        f"max {ms(lat.get('max'))}; overruns (over {st.get('overrun_ms', 40):g} ms) "
        f"{st.get('overruns', 0):,}",
        kv([("requests", st.get("requests", 0)), ("busy", st.get("busy", 0)),
            ("replies dropped", st.get("replies_dropped", 0)),
            ("pending requests", st.get("pending_requests", 0)),
            ("replies waiting", st.get("replies_waiting", 0)),
            ("listens", st.get("listens", 0)),
            ("listens refused", st.get("listens_refused", 0)),
            ("reports running", st.get("reports_running", 0)),
            ("reports done", st.get("reports_done", 0)),
            ("events held for the disk", st.get("events_held", 0)),
            ("replay ring", f"{ring.get('events', 0):,} events, {ring.get('bytes', 0):,} bytes")]),
    ]
    hist = lat.get("histogram") or {}
    if hist:
        lines.append("lateness histogram: " + ", ".join(
            f"{k.replace('le_', '<=')}{'' if k == 'more' else ' ms'}: {v:,}"
            for k, v in hist.items()))
    return "\n".join(lines)


def cmd_server(args) -> int:
    with _client(args) as c:
        res = c.request("server.stats")
    _out(args, res, fmt_server_stats(res))
    return 0


def cmd_watch(args) -> int:
    topics = args.topics or []
    sub = Subscriber(args.home, topics, key=getattr(args, "key", None))
    client = None
    count = 0
    deadline = time.monotonic() + args.seconds if args.seconds else None
    last = None

    def emit(ev: dict) -> None:
        if args.json:
            print(json.dumps(ev, sort_keys=True), flush=True)
        else:
            print(fmt_event(ev), flush=True)

    try:
        if not args.json:
            print(f"{'seq':>7} {'time':<12} {'type':<18} {'channel':<8} data", flush=True)
        while True:
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
            got = sub.get(timeout=wait if wait is not None else 1.0)
            if got is None:
                continue
            _, ev = got
            seq = ev.get("seq")
            if last is not None and isinstance(seq, int) and seq > last + 1:
                # events were dropped on the way (slow subscriber): fetch the missed ones
                client = client or _client(args)
                try:
                    missed = client.request("replay", after=last, topics=topics or None)
                    for m in missed.get("events", []):
                        if m["seq"] < seq:
                            emit(m)
                            count += 1
                except CtiError as e:
                    print(f"{PROG}: watch: events {last + 1}..{seq - 1} may be lost: {e}",
                          file=sys.stderr)
            if isinstance(seq, int):
                last = seq
            emit(ev)
            count += 1
            if args.count and count >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        if client is not None:
            client.close()
    return 0


def add_parsers(sub, common) -> None:
    """``cti serve``, ``ping``, ``snapshot``, ``shutdown``, ``reload``."""
    s = sub.add_parser("serve", parents=[common], help="run the board server")
    s.add_argument("--config", metavar="FILE", help="TOML configuration (default: the "
                   "embedded simulated board)")
    s.add_argument("--seconds", type=float, metavar="N",
                   help="stop after N seconds of line time")
    s.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="run the board clock X times faster than real time (default 1)")
    s.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower, metavar="LEVEL",
                   help="what HOME/log/cti.log keeps: " + ", ".join(LOG_LEVELS) +
                   " (default: server.log_level of the config, else info)")
    s.add_argument("--realtime", type=int, nargs="?", const=10, default=0, metavar="PRIO",
                   help="run the tick loop at real-time priority (SCHED_RR, default 10), "
                        "as `asterisk -p` does, so other processes cannot make ticks late")
    s.set_defaults(func=cmd_serve)

    for name, fn, hlp in (("ping", cmd_ping, "check that the server answers"),
                          ("snapshot", cmd_snapshot, "the state of spans, ports and channels"),
                          ("shutdown", cmd_shutdown, "stop the server"),
                          ("reload", cmd_reload, "read the configuration file again and "
                           "apply what changed, calls in progress left as they are")):
        x = sub.add_parser(name, parents=[common], help=hlp)
        x.set_defaults(func=fn)


def add_tail_parsers(sub, common) -> None:
    """``cti server``, ``cti watch``."""
    sv = sub.add_parser("server", parents=[common], help="the server itself: stats")
    sv.add_argument("action", choices=("stats",))
    sv.set_defaults(func=cmd_server)

    w = sub.add_parser("watch", parents=[common], help="tail events (topic prefixes)")
    w.add_argument("topics", nargs="*", metavar="TOPIC", help="e.g. span. channel.hook")
    w.add_argument("--count", type=int, help="stop after N events")
    w.add_argument("--seconds", type=_positive_float, help="stop after N seconds")
    w.set_defaults(func=cmd_watch)
