"""The ``cti`` command: the board server and the technician's diagnostics.

``cti serve`` runs the board server; every other command is a client of its ZeroMQ
sockets, found under ``--home`` (default ``$CTI_HOME`` or ``./var``). Output is a
readable table modelled on dahdi_tool, dahdi_maint and FreeTDM's ``ftdm`` (alarm colour,
framing/CRC-4/E-bit errors, BPV, slips, per-channel signalling and hook state), or with
``--json`` the server's result as JSON. On failure: one line on stderr, exit status 1
(2 for a usage error).
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import struct
import sys
import time
import wave
from typing import Any

from cti.clients.client import Client, CtiError, NoServer, Subscriber
from cti.server.logs import LEVELS as LOG_LEVELS

__all__ = ["main", "build_parser", "g711_decode"]

PROG = "cti"


class CliError(Exception):
    """A failure to report in one line."""


# --- G.711 decoding (ITU-T G.711 tables 1a/2a; the classic Sun g711.c expansion) ------

def _alaw_to_linear(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if a & 0x80 else -t


def _ulaw_to_linear(u: int) -> int:
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return 0x84 - t if u & 0x80 else t - 0x84


ALAW_TABLE = tuple(_alaw_to_linear(i) for i in range(256))
ULAW_TABLE = tuple(_ulaw_to_linear(i) for i in range(256))


def g711_decode(data: bytes, law: str) -> bytes:
    """G.711 bytes to 16-bit little-endian linear PCM."""
    table = ALAW_TABLE if law == "alaw" else ULAW_TABLE
    return struct.pack(f"<{len(data)}h", *(table[b] for b in data))


# --- formatting -----------------------------------------------------------------------

ALARM_COLOUR = (("LOS", "RED"), ("LOF", "RED"), ("AIS", "BLUE"), ("RAI", "YELLOW"))


def alarm_word(alarms: list[str], loopback: str | None = None) -> str:
    """dahdi's summary: RED (LOS/LOF), BLUE (AIS), YELLOW (RAI), else OK; LOOP when looped."""
    up = [a.upper() for a in alarms or []]
    if "AIS" in up:
        # all ones from upstream: the frame loss is AIS's doing, not the line's (dahdi: BLUE)
        up = [a for a in up if a != "LOF"]
    words = []
    for name, colour in ALARM_COLOUR:
        if name in up and colour not in words:
            words.append(colour)
    if not words and up:
        words.append("ALARM")
    if loopback and loopback not in ("off", "none"):
        words.append("LOOP")
    return "/".join(words) or "OK"


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[_cell(c) for c in r] for r in rows]
    widths = [len(h) for h in header]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    fmt = "  ".join("{:<%d}" % w for w in widths)
    lines = [fmt.format(*header).rstrip()]
    lines += [fmt.format(*r).rstrip() for r in cells]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v)) or "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def kv(pairs: list[tuple[str, Any]], indent: str = "  ") -> str:
    w = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{indent}{k:<{w}} : {_cell(v)}" for k, v in pairs)


SIGNALLING_NAME = {"pri": "PRI (CCS)", "cas": "CAS (R2)", "clear": "clear channel"}
LAW_NAME = {"alaw": "A-law", "ulaw": "mu-law"}
COUNTER_LABELS = [
    ("fas_errors", "Framing errors"),
    ("crc4_errors", "CRC-4 errors"),
    ("ebit_errors", "E-bit errors"),
    ("bpv", "BPV count"),
    ("slips", "Slips"),
    ("lof_events", "LOF events"),
    ("los_events", "LOS events"),
    ("frames_rx", "Frames received"),
    ("bits_rx", "Bits received"),
    ("hdlc_rx_frames", "D-chan frames rx"),
    ("hdlc_tx_frames", "D-chan frames tx"),
    ("hdlc_fcs_errors", "D-chan FCS errors"),
    ("hdlc_aborts", "D-chan aborts"),
    ("hdlc_bad_frames", "D-chan bad frames"),
    ("hdlc_overruns", "D-chan overruns"),
]


def fmt_counters(counters: dict) -> str:
    pairs = [(label, counters[k]) for k, label in COUNTER_LABELS if k in counters]
    known = {k for k, _ in COUNTER_LABELS}
    pairs += [(k.replace("_", " "), v) for k, v in counters.items() if k not in known]
    return kv(pairs)


def span_title(st: dict) -> str:
    sig = SIGNALLING_NAME.get(st.get("signalling"), st.get("signalling"))
    parts = [sig, st.get("coding", "HDB3")]
    if st.get("crc4") is not None:
        parts.append("CRC-4" if st.get("crc4") else "no CRC-4")
    elif st.get("framing"):
        parts.append(st["framing"])
    parts.append(LAW_NAME.get(st.get("law"), st.get("law")))
    return (f"Span {st.get('span')}: {', '.join(p for p in parts if p)}   "
            f"{alarm_word(st.get('alarms', []), st.get('loopback'))}")


def fmt_span(st: dict) -> str:
    out = [span_title(st)]
    pairs = [("Alarms", " ".join(st.get("alarms") or []) or "none"),
             ("In sync", st.get("in_sync")),
             ("Loopback", st.get("loopback", "off"))]
    if "tx_ais" in st:
        pairs.append(("Sending AIS", st["tx_ais"]))
    out.append(kv(pairs))
    if st.get("counters"):
        out.append(fmt_counters(st["counters"]))
    chans = st.get("channels")
    if chans:
        out.append("")
        out.append(fmt_channels(chans))
    return "\n".join(out)


CHAN_COLS = [("channel", "Chan"), ("kind", "Kind"), ("state", "State"), ("cas_tx", "CAS tx"),
             ("cas_rx", "CAS rx"), ("hook", "Hook"), ("tone", "Tone"), ("tap", "Tap")]


def _abcd(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return format(v & 0xF, "04b")
    return v


def fmt_channels(chans: list[dict]) -> str:
    present = [(k, h) for k, h in CHAN_COLS if any(k in c for c in chans)]
    rows = [[_abcd(c.get(k)) if k.startswith("cas") else c.get(k) for k, _ in present]
            for c in chans]
    return table(rows, [h for _, h in present])


def fmt_ports(ports: list[dict]) -> str:
    cols = [("channel", "Port"), ("kind", "Kind"), ("hook", "Off hook"), ("ringing", "Ringing"),
            ("polarity", "Polarity"), ("battery", "Battery"), ("connected", "Line")]
    present = [(k, h) for k, h in cols if any(k in p for p in ports)]
    rows = []
    for p in ports:
        row = []
        for k, _ in present:
            v = p.get(k)
            if k == "kind" and isinstance(v, str):
                v = v.upper()
            if k == "polarity" and isinstance(v, (int, bool)):
                v = "reversed" if v else "normal"
            row.append(v)
        rows.append(row)
    return table(rows, [h for _, h in present])


def fmt_board_list(res: dict) -> str:
    rows = []
    for b in res.get("boards", []):
        ports = b.get("ports", [])
        fxs = sum(1 for p in ports if str(p).startswith("fxs"))
        fxo = sum(1 for p in ports if str(p).startswith("fxo"))
        alarms = b.get("alarms", {})
        status = "OK"
        bad = [f"{n}:{alarm_word(a)}" for n, a in alarms.items() if a]
        if bad:
            status = " ".join(bad)
        rows.append([b.get("name"), b.get("backend") + (" (simulated)" if b.get("simulated")
                                                          else ""),
                     f"{b.get('tick_ms')} ms", b.get("spans"), f"{fxs} FXS, {fxo} FXO", status])
    return table(rows, ["Board", "Backend", "Tick", "Spans", "Ports", "Status"])


def fmt_board_show(res: dict) -> str:
    out = [f"Board {res.get('name')}: backend {res.get('backend')}"
           f"{' (simulated)' if res.get('simulated') else ''}, tick {res.get('tick_ms')} ms, "
           f"line time {res.get('line_time', 0):.2f} s"]
    spans = res.get("span_status", [])
    if spans:
        rows = []
        for st in spans:
            c = st.get("counters", {})
            rows.append([st.get("span"), st.get("signalling"), st.get("crc4"), st.get("law"),
                         alarm_word(st.get("alarms", []), st.get("loopback")),
                         " ".join(st.get("alarms") or []) or "-", st.get("in_sync"),
                         c.get("fas_errors"), c.get("crc4_errors"), c.get("ebit_errors"),
                         c.get("bpv"), c.get("slips")])
        out += ["", table(rows, ["Span", "Sig", "CRC-4", "Law", "Status", "Alarms", "Sync",
                                 "FAS err", "CRC-4 err", "E-bit err", "BPV", "Slips"])]
    ports = res.get("port_status", [])
    if ports:
        out += ["", fmt_ports(ports)]
    return "\n".join(out)


def fmt_bert(res: dict) -> str:
    state = "running" if res.get("running") else "stopped"
    sync = "in sync" if res.get("sync") else "no sync"
    ber = res.get("ber")
    ber_s = f"{ber:.3g}" if isinstance(ber, (int, float)) else "-"
    return (f"Span {res.get('span')} BERT (2^15-1, O.151): {state}, {sync}\n" +
            kv([("Bits", res.get("bits")), ("Errors", res.get("errors")), ("BER", ber_s),
                ("Seconds", res.get("seconds"))]))


_EVENT_FIELDS = ("call_id", "agent", "state", "reason", "ani", "queue", "extension", "to",
                 "outcome", "cause", "wait")


def fmt_event(ev: dict) -> str:
    ts = ev.get("ts")
    when = "-"
    if isinstance(ts, (int, float)):
        when = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
    where = ev.get("channel") or (f"span {ev['span']}" if "span" in ev else "")
    data = ev.get("data") or {}
    # CTI events carry their fields at the top level (call_id, ani, agent, ...)
    top = {k: v for k, v in ev.items() if k in _EVENT_FIELDS and v not in (None, "")}
    extra = " ".join(f"{k}={_cell(v)}" for k, v in list(top.items()) + list(data.items()))
    return f"{ev.get('seq', '-'):>7} {when} {ev.get('type', '?'):<18} {where:<8} {extra}".rstrip()


# --- commands -------------------------------------------------------------------------

def _client(args) -> Client:
    return Client(args.home, timeout=args.timeout)


def _out(args, res: Any, text: str | None) -> None:
    if args.json or text is None:
        print(json.dumps(res, indent=2, sort_keys=True))
    else:
        print(text)


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


def cmd_board(args) -> int:
    with _client(args) as c:
        res = c.request(f"board.{args.action}")
    _out(args, res, fmt_board_list(res) if args.action == "list" else fmt_board_show(res))
    return 0


def cmd_span(args) -> int:
    with _client(args) as c:
        a = args.action
        if a == "show":
            res = c.request("span.show", span=args.span)
            text = fmt_span(res)
        elif a == "alarms":
            res = c.request("span.alarms", span=args.span)
            al = res.get("alarms") or []
            text = (f"Span {res['span']}: {alarm_word(al, res.get('loopback'))}"
                    f" ({' '.join(al) or 'no alarms'}), "
                    f"{'in sync' if res.get('in_sync') else 'out of sync'}")
        elif a == "counters":
            res = c.request("span.counters", span=args.span, reset=args.reset or None)
            text = (f"Span {res['span']} counters" + (" (now reset)" if res.get("reset") else "")
                    + ":\n" + fmt_counters(res.get("counters", {})))
        elif a == "loopback":
            res = c.request("span.loopback", span=args.span, mode=args.mode)
            text = f"Span {res['span']}: loopback {res['loopback']}"
        elif a == "bert":
            res = c.request("span.bert", span=args.span, action=args.bert_action)
            text = fmt_bert(res)
        elif a == "r2trace":
            res = c.request("span.r2trace", span=args.span, call=args.call)
            lines = []
            for call in res["calls"]:
                lines.append(f"call {call['call']}:")
                lines += [f"  {t:10.3f} {x}" for t, x in call["trace"]]
            text = "\n".join(lines) or "no calls traced"
            if args.file:
                with open(args.file, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
                text = f"Span {args.span}: trace of {len(res['calls'])} calls written to {args.file}"
        elif a in ("block", "unblock"):
            res = c.request(f"span.{a}", span=args.span, timeslot=args.timeslot)
            where = f"timeslot {res['timeslot']}" if res.get("timeslot") else "every circuit"
            text = f"Span {res['span']}: {where} {a}ed"
        else:  # pragma: no cover - argparse restricts it
            raise CliError(f"unknown span action {a}")
    _out(args, res, text)
    return 0


def cmd_channel(args) -> int:
    a = args.action
    with _client(args) as c:
        if a == "show":
            res = c.request("channel.show", channel=args.channel)
            if "port" in res and "timeslot" not in res:
                text = fmt_ports([res])
            else:
                text = fmt_channels([res])
                extra = [(k, v) for k, v in res.items()
                         if k not in {k2 for k2, _ in CHAN_COLS}]
                if extra:
                    text += "\n" + kv(extra)
            _out(args, res, text)
        elif a == "tone":
            wait = args.timeout + (0.16 * len(args.dtmf) if args.dtmf else
                                   (args.ms or 1000) / 1000.0) * 2
            res = c.request("channel.tone", channel=args.channel, freq=args.freq,
                            freq2=args.freq2, level=args.level, ms=args.ms, dtmf=args.dtmf,
                            tone=args.tone, capture=bool(args.wav) or None, timeout=wait)
            if res.get("dtmf"):
                what = f"DTMF {res['dtmf']}"
            elif res.get("tone"):
                what = f"{res['tone']} tone for {res['ms']} ms"
            else:
                f = f"{res['freq']:g}" + (f"+{res['freq2']:g}" if res.get("freq2") else "")
                what = f"tone {f} Hz at {res['level']:g} dBm0 for {res['ms']} ms"
            text = f"{res['channel']}: {what}"
            if args.wav:
                audio = base64.b64decode(res.pop("audio", ""))
                write_wav(args.wav, g711_decode(audio, res.get("law", "alaw")))
                res["wav"] = args.wav
                text += f"; what went out on the line is in {args.wav}"
            _out(args, res, text)
        elif a == "listen":
            res = c.request("channel.listen", channel=args.channel, seconds=args.seconds,
                            timeout=args.timeout + args.seconds * 2)
            audio = base64.b64decode(res.get("audio", ""))
            pcm = g711_decode(audio, res.get("law", "alaw"))
            if args.wav:
                write_wav(args.wav, pcm)
                where = f"wrote {args.wav}"
            else:
                play_alsa(pcm, args.device)
                where = f"played on ALSA device {args.device!r}"
            summary = {k: v for k, v in res.items() if k != "audio"}
            summary["bytes"] = len(audio)
            summary["output"] = args.wav or f"alsa:{args.device}"
            _out(args, summary, f"{res['channel']}: {len(audio) / 8000:.2f} s of "
                 f"{LAW_NAME.get(res.get('law'), res.get('law'))} audio, {where}")
    return 0


def write_wav(path: str, pcm: bytes) -> None:
    try:
        with open(path, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm)
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from None


def play_alsa(pcm: bytes, device: str) -> None:
    """Play 8 kHz 16-bit mono PCM through ALSA (pyalsaaudio, imported only here)."""
    try:
        import alsaaudio
    except ImportError:
        raise CliError("cannot play audio: pyalsaaudio is not installed (pip install "
                       "pyalsaaudio), or use --wav FILE") from None
    period = 160
    try:
        out = alsaaudio.PCM(alsaaudio.PCM_PLAYBACK, device=device, channels=1, rate=8000,
                            format=alsaaudio.PCM_FORMAT_S16_LE, periodsize=period)
        step = period * 2
        for i in range(0, len(pcm), step):
            chunk = pcm[i:i + step]
            if len(chunk) < step:
                chunk += b"\0" * (step - len(chunk))
            out.write(chunk)
        out.close()
    except alsaaudio.ALSAAudioError as e:
        raise CliError(f"cannot play on ALSA device {device!r}: {e} (no sound card? use "
                       "--wav FILE or --device)") from None


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


def cmd_pri(args) -> int:
    with _client(args) as c:
        if args.action == "list":
            res = c.request("pri.list")
            rows = [[x["span"], x["call"], x.get("timeslot") or "-", x["state"]]
                    for x in res["calls"]]
            text = table(rows, ["Span", "Call", "TS", "State"]) if rows else "no calls"
            dch = [f"span {p['span']}: D-channel {p['dchannel']} ({p['side']} side), "
                   f"{p['free_channels']} B-channels free" for p in res["spans"]]
            text = "\n".join(dch + [text])
        elif args.action == "place":
            res = c.request("pri.place", span=args.span, to=args.dnis,
                            **{"from": args.ani or ""})
            text = f"Span {res['span']}: call {res['call']} placed to {args.dnis}"
        else:
            extra = {} if args.action == "answer" else {"cause": args.cause}
            res = c.request(f"pri.{args.action}", span=args.span, call=args.call, **extra)
            text = f"Span {res['span']} call {res['call']}: {args.action}" + (
                f" (cause {args.cause})" if extra.get("cause") else "")
    _out(args, res, text)
    return 0


def cmd_trace(args) -> int:
    """Write every Q.921 frame of a span, live, to a pcap (LINUX_LAPD) for Wireshark."""
    from cti.server.trace import lapd_record, pcap_header

    sub = Subscriber(args.home, ["trace."])
    written = 0
    with _client(args) as c, open(args.pcap, "wb") as f:
        f.write(pcap_header())
        f.flush()
        # a SUB socket takes a moment to join: whatever it missed comes from replay
        time.sleep(0.2)
        seconds = args.seconds if args.seconds else 86_400
        start = c.request("trace.start", span=args.span, seconds=seconds)
        last = start["seq"]

        def write(ev: dict) -> None:
            nonlocal written, last
            last = max(last, ev["seq"])
            if ev.get("type") != "trace.lapd" or ev.get("span") != args.span:
                return
            d = ev["data"]
            f.write(lapd_record(ev["ts"], base64.b64decode(d["frame"]), sent=d["dir"] == "tx",
                                network_side=d["network_side"]))
            f.flush()
            written += 1

        deadline = time.monotonic() + (seconds / max(args.speed_hint, 1e-3)) + 30
        done = False
        try:
            while not done and time.monotonic() < deadline:
                got = sub.get(timeout=0.5)
                if got is None:
                    continue
                _, ev = got
                if ev["seq"] <= last:
                    continue
                if ev["seq"] > last + 1:
                    for m in c.request("replay", after=last, topics=["trace."])["events"]:
                        if last < m["seq"] < ev["seq"]:
                            write(m)
                            done = done or (m["type"] == "trace.end" and m["span"] == args.span)
                write(ev)
                done = done or (ev["type"] == "trace.end" and ev.get("span") == args.span)
        except KeyboardInterrupt:
            pass
        finally:
            if not done:
                c.request("trace.stop", span=args.span)
            sub.close()
    _out(args, {"span": args.span, "pcap": args.pcap, "frames": written},
         f"Span {args.span}: {written} LAPD frames written to {args.pcap}")
    return 0


def cmd_agents(args) -> int:
    """Agents: list, or log in / out / ready / not ready one (a supervisor's view)."""
    with _client(args) as c:
        if args.action == "list":
            res = c.request("agent.list")
            rows = [[a["agent"], a.get("extension") or "-", a["state"], a.get("reason") or "",
                     a.get("call") or ""] for a in res["agents"]]
            text = table(rows, ["Agent", "Ext", "State", "Reason", "Call"])
        else:
            op = {"login": "agent.login", "logout": "agent.logout", "ready": "agent.ready",
                  "notready": "agent.not_ready", "show": "agent.show"}[args.action]
            kw = {"agent": args.agent}
            if args.action == "login" and args.extension is not None:
                kw["extension"] = args.extension
            if args.action == "notready":
                kw["reason"] = args.reason or ""
            res = c.request(op, **kw)
            text = (f"agent {res['agent']}: {res['state']}"
                    + (f" ({res['reason']})" if res.get("reason") else "")
                    + (f" at extension {res['extension']}" if res.get("extension") else ""))
    _out(args, res, text)
    return 0


def cmd_queues(args) -> int:
    with _client(args) as c:
        res = c.request("queue.list")
        rows = []
        for q in res["queues"]:
            agents = q.get("agents") or []
            rows.append([q.get("queue") or q.get("name"), len(q.get("calls") or []),
                         f"{q.get('longest_wait') or 0:.0f}", f"{q.get('ewt') or 0:.0f}",
                         sum(1 for a in agents if (a.get("state") if isinstance(a, dict)
                                                   else None) == "ready"),
                         len(agents)])
        _out(args, res, table(rows, ["Queue", "Waiting", "Longest s", "EWT s", "Ready",
                                     "Agents"]))
    return 0


def cmd_calls(args) -> int:
    with _client(args) as c:
        if args.action == "list":
            res = c.request("call.list")
            rows = [[x["call_id"], x["state"], x["trunk"], x["ani"], x["dnis"],
                     x.get("queue") or "", x.get("agent") or ""] for x in res["calls"]]
            text = table(rows, ["Call", "State", "Trunk", "ANI", "DNIS", "Queue", "Agent"]) \
                if rows else "no calls"
            text += "\n" + kv([(k.replace("_", " "), v) for k, v in res["counters"].items()])
        elif args.action == "answer":
            res = c.request("call.answer", call=args.call, agent=args.agent)
            text = f"call {res['call_id']} answered at extension {res['extension']}"
        elif args.action == "transfer":
            data = dict(kv_.split("=", 1) for kv_ in args.data or [])
            res = c.request("call.transfer", call=args.call, to=args.to, data=data or None)
            text = f"call {res['call_id']} transferred to {res['to']}"
        else:
            res = c.request("call.hangup", call=args.call)
            text = f"call {res['call_id']} cleared"
    _out(args, res, text)
    return 0


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


def _faults_text(f: Any) -> str:
    if not isinstance(f, dict):
        return _cell(f)
    return ", ".join(k if v is True else f"{k} {v:g}" if isinstance(v, (int, float)) else
                     f"{k} {v}" for k, v in f.items()) or "none"


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
    sub = Subscriber(args.home, topics)
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


# --- the parser -----------------------------------------------------------------------

def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{s!r} must be more than 0")
    return v


def _ber(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a bit error ratio (like 1e-3)") from None
    if not 0 <= v <= 0.5:
        raise argparse.ArgumentTypeError(f"{s!r}: a bit error ratio is between 0 and 0.5")
    return v


def _span(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a span number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"span numbers start at 1, not {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--home", default=argparse.SUPPRESS,
                   help="the server's state directory, where its sockets are "
                        "(default: $CTI_HOME or ./var)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="machine-readable output")
    g.add_argument("--timeout", type=_positive_float, default=argparse.SUPPRESS,
                   help="seconds to wait for the server (default 5)")

    p = argparse.ArgumentParser(prog=PROG, parents=[common],
                                description="Voice-board server and diagnostics.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
                          ("shutdown", cmd_shutdown, "stop the server")):
        x = sub.add_parser(name, parents=[common], help=hlp)
        x.set_defaults(func=fn)

    b = sub.add_parser("board", parents=[common], help="boards: list, show")
    b.add_argument("action", choices=("list", "show"))
    b.set_defaults(func=cmd_board)

    sp = sub.add_parser("span", parents=[common], help="E1 spans: show, alarms, counters, "
                        "loopback, bert")
    ssub = sp.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, hlp in (("show", "status, counters and channels of a span"),
                      ("alarms", "alarms of a span (LOS, LOF, AIS, RAI, ...)"),
                      ("counters", "error counters"),
                      ("loopback", "set a loopback on our end"),
                      ("bert", "bit error rate test (2^15-1 pattern)"),
                      ("r2trace", "the R2 signalling trace of recent calls (--file F)"),
                      ("block", "block a circuit (or all) of an R2 span"),
                      ("unblock", "unblock a circuit (or all) of an R2 span")):
        x = ssub.add_parser(name, parents=[common], help=hlp)
        x.add_argument("span", type=_span, metavar="SPAN")
        if name == "counters":
            x.add_argument("--reset", action="store_true", help="zero them after reading")
        if name == "loopback":
            x.add_argument("--mode", required=True, choices=("off", "local", "line", "payload"))
        if name in ("block", "unblock"):
            x.add_argument("timeslot", nargs="?", type=int, metavar="TS")
        if name == "r2trace":
            x.add_argument("--call", type=int, help="one call (default: the recent ones)")
            x.add_argument("--file", metavar="F", help="write the trace to a file")
        if name == "bert":
            x.add_argument("bert_action", nargs="?", default="status",
                           choices=("start", "stop", "status"), metavar="start|stop|status")
    sp.set_defaults(func=cmd_span)

    ch = sub.add_parser("channel", parents=[common], help="channels: show, tone, listen")
    csub = ch.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = csub.add_parser("show", parents=[common], help="signalling and hook state")
    x.add_argument("channel", metavar="CHAN", help="SPAN/TIMESLOT (1/5) or fxs/N, fxo/N")
    x = csub.add_parser("tone", parents=[common], help="send a tone, DTMF or a call-progress "
                        "tone on a channel")
    x.add_argument("channel", metavar="CHAN")
    what = x.add_mutually_exclusive_group(required=True)
    what.add_argument("--freq", type=float, help="a tone of this frequency, Hz")
    what.add_argument("--dtmf", metavar="DIGITS", help="DTMF digits (Q.23), 80 ms on, 80 ms off")
    what.add_argument("--tone", choices=("dial", "ringback", "busy", "congestion"),
                      help="a call-progress tone of the board's tone set, with its cadence")
    x.add_argument("--wav", metavar="FILE", help="also write what went out on the line")
    x.add_argument("--freq2", type=float, default=None, help="second frequency, Hz")
    x.add_argument("--level", type=float, default=None, help="dBm0 (default -10)")
    x.add_argument("--ms", type=int, default=None, help="duration (default 1000)")
    x = csub.add_parser("listen", parents=[common], help="hear a channel (ALSA or --wav)")
    x.add_argument("channel", metavar="CHAN")
    x.add_argument("--seconds", type=_positive_float, default=5.0,
                   help="seconds of line time (default 5)")
    x.add_argument("--wav", metavar="FILE", help="write a WAV file instead of playing")
    x.add_argument("--device", default="default", help="ALSA device (default 'default')")
    ch.set_defaults(func=cmd_channel)

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

    cl = sub.add_parser("pri", parents=[common], help="ISDN calls on our PRI spans, at the "
                        "signalling level: list, place, answer, reject, hangup")
    clsub = cl.add_subparsers(dest="action", metavar="ACTION", required=True)
    clsub.add_parser("list", parents=[common], help="calls and D-channels")
    x = clsub.add_parser("place", parents=[common], help="call out on a span")
    x.add_argument("span", type=_span, metavar="SPAN")
    x.add_argument("--to", dest="dnis", required=True, metavar="DNIS")
    x.add_argument("--from", dest="ani", default="", metavar="ANI")
    for name, cause in (("answer", None), ("reject", 21), ("hangup", 16)):
        x = clsub.add_parser(name, parents=[common], help=f"{name} a call")
        x.add_argument("span", type=_span, metavar="SPAN")
        x.add_argument("call", type=int, metavar="CALL")
        if cause is not None:
            x.add_argument("--cause", type=int, default=cause, metavar="N",
                           help=f"Q.850 cause (default {cause})")
    cl.set_defaults(func=cmd_pri)

    t = sub.add_parser("trace", parents=[common], help="write a span's Q.921/Q.931 frames to a "
                       "pcap (Wireshark, tshark)")
    t.add_argument("span", type=_span, metavar="SPAN")
    t.add_argument("--pcap", required=True, metavar="FILE")
    t.add_argument("--seconds", type=_positive_float, metavar="N",
                   help="seconds of line time to trace (default: until Ctrl-C)")
    t.add_argument("--speed-hint", type=_positive_float, default=1.0, help=argparse.SUPPRESS)
    t.set_defaults(func=cmd_trace)

    ag = sub.add_parser("agents", parents=[common], help="agents: list, show, login, logout, "
                        "ready, notready")
    agsub = ag.add_subparsers(dest="action", metavar="ACTION", required=True)
    agsub.add_parser("list", parents=[common], help="every agent and its state")
    for name in ("show", "login", "logout", "ready", "notready"):
        x = agsub.add_parser(name, parents=[common], help=f"{name} an agent")
        x.add_argument("agent", metavar="AGENT")
        if name == "login":
            x.add_argument("--extension", type=int, help="FXS port (default: the agent's own)")
        if name == "notready":
            x.add_argument("--reason", default="", help="reason code (break, lunch, ...)")
    ag.set_defaults(func=cmd_agents)

    qu = sub.add_parser("queues", parents=[common], help="ACD queues: waiting calls, agents")
    qu.set_defaults(func=cmd_queues)

    ca = sub.add_parser("calls", parents=[common], help="calls in the centre: list, answer, "
                        "transfer, hangup")
    casub = ca.add_subparsers(dest="action", metavar="ACTION", required=True)
    casub.add_parser("list", parents=[common], help="calls now, and the loss counters")
    x = casub.add_parser("transfer", parents=[common], help="blind transfer with attached data")
    x.add_argument("call", metavar="CALL")
    x.add_argument("to", metavar="AGENT|queue:NAME")
    x.add_argument("data", nargs="*", metavar="KEY=VALUE", help="data attached to the call")
    x = casub.add_parser("hangup", parents=[common], help="clear a call")
    x.add_argument("call", metavar="CALL")
    x = casub.add_parser("answer", parents=[common], help="answer a call ringing an agent's "
                         "phone (the simulated board lifts it)")
    x.add_argument("call", metavar="CALL")
    x.add_argument("--agent", help="the agent answering (needed when a call rings several)")
    ca.set_defaults(func=cmd_calls)

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

    from cti.clients import agent_tui
    agent_tui.add_parser(sub, [common])
    _add_dialer_parsers(sub, common)

    sv = sub.add_parser("server", parents=[common], help="the server itself: stats")
    sv.add_argument("action", choices=("stats",))
    sv.set_defaults(func=cmd_server)

    w = sub.add_parser("watch", parents=[common], help="tail events (topic prefixes)")
    w.add_argument("topics", nargs="*", metavar="TOPIC", help="e.g. span. channel.hook")
    w.add_argument("--count", type=int, help="stop after N events")
    w.add_argument("--seconds", type=_positive_float, help="stop after N seconds")
    w.set_defaults(func=cmd_watch)
    return p


# ---- the outbound dialer: cti campaign ..., cti dnc ... ---------------------------------

def retry_rules(specs: list[str]) -> dict:
    """``busy=3/300`` (a record gets 3 attempts in all; the next busy one 300 s later)
    -> ``{"busy": {"max_attempts": 3, "delay": 300.0}}``."""
    out = {}
    for spec in specs or ():
        name, eq, rest = spec.partition("=")
        attempts, slash, delay = rest.partition("/")
        try:
            out[name] = {"max_attempts": int(attempts), "delay": float(delay or 0)}
        except ValueError:
            raise CliError(f"--retry {spec!r}: use RESULT=ATTEMPTS/DELAY_SECONDS "
                           "(busy=3/300)") from None
        if not eq or not name:
            raise CliError(f"--retry {spec!r}: use RESULT=ATTEMPTS/DELAY_SECONDS (busy=3/300)")
    return out


def campaign_rows(path: str) -> list[dict]:
    """A campaign's list from CSV (``-``: standard input): a ``number`` column, an
    optional ``name``; every other column goes into the record's attached data."""
    import csv

    f = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8")
    try:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "number" not in reader.fieldnames:
            raise CliError(f"{path}: the CSV needs a 'number' column (and may have 'name')")
        rows = []
        for r in reader:
            row = {"number": (r.pop("number") or "").strip()}
            name = r.pop("name", None)
            if name:
                row["name"] = name
            data = {k: v for k, v in r.items() if k and v not in (None, "")}
            if data:
                row["data"] = data
            rows.append(row)
        return rows
    finally:
        if f is not sys.stdin:
            f.close()


def fmt_campaign(res: dict) -> str:
    by = res.get("by_state") or {}
    lines = [f"campaign {res['campaign']}: {res['mode']}, {res['state']}, "
             f"{res['records']} records, {res['attempts']} attempts"
             + (f" ({', '.join(f'{k} {v}' for k, v in sorted(by.items()))})" if by else "")]
    if res.get("records_list"):
        rows = [[r["id"], r.get("number"), r.get("name") or "", r.get("state"),
                 r.get("attempts"), r.get("last_outcome") or ""]
                for r in res["records_list"]]
        lines.append(table(rows, ["Id", "Number", "Name", "State", "Attempts", "Last"]))
    if res.get("attempts_list"):
        rows = [[a["record_id"], a["number"], a.get("agent") or "", a["outcome"],
                 a.get("cause") or "", a.get("call_id") or ""] for a in res["attempts_list"]]
        lines.append(table(rows, ["Record", "Number", "Agent", "Outcome", "Cause", "Call"]))
    return "\n".join(lines)


def cmd_campaign(args) -> int:
    """Outbound campaigns: create, load a list, start/pause/stop, show, list; preview
    agents take the next record, dial it or skip it."""
    with _client(args) as c:
        a = args.action
        if a == "create":
            kw = {"campaign": args.campaign, "mode": args.mode}
            if args.agents:
                kw["agents"] = [x for x in args.agents.split(",") if x]
            if args.retry:
                kw["rules"] = retry_rules(args.retry)
            if args.no_answer_timeout is not None:
                kw["no_answer_timeout"] = args.no_answer_timeout
            res = c.request("campaign.create", **kw)
            text = fmt_campaign(res)
        elif a == "load":
            res = c.request("campaign.load", campaign=args.campaign,
                            records=campaign_rows(args.file))
            text = f"campaign {res['campaign']}: {res['loaded']} records loaded"
        elif a in ("start", "pause", "stop", "show"):
            res = c.request(f"campaign.{a}", campaign=args.campaign)
            text = fmt_campaign(res)
        elif a == "list":
            res = c.request("campaign.list")
            text = "\n".join(fmt_campaign(x) for x in res["campaigns"]) or "no campaigns"
        elif a == "next":
            res = c.request("campaign.next", campaign=args.campaign, agent=args.agent)
            r = res["record"]
            text = (f"{res['campaign']} record {r['id']}: {r.get('name') or ''} {r['number']}"
                    + "".join(f"\n  {k}: {v}" for k, v in (r.get("data") or {}).items()))
        elif a == "dial":
            res = c.request("campaign.dial", agent=args.agent)
            text = (f"dialling {res['number']} (call {res['call_id']})" if res["dialled"]
                    else "not dialled: the number is on the do-not-call list")
        else:
            res = c.request("campaign.skip", agent=args.agent)
            text = "skipped"
    _out(args, res, text)
    return 0


def cmd_dnc(args) -> int:
    """The do-not-call list: add, remove, list (checked every time a number is dialled)."""
    with _client(args) as c:
        if args.action == "add":
            kw = {"number": args.number}
            if args.reason:
                kw["reason"] = args.reason
            res = c.request("dnc.add", **kw)
            text = f"{args.number}: " + ("added" if res["added"] else "already on the list")
        elif args.action == "remove":
            res = c.request("dnc.remove", number=args.number)
            text = f"{args.number}: " + ("removed" if res["removed"] else "was not on the list")
        else:
            res = c.request("dnc.list")
            text = table([[r["number"], r.get("reason") or ""] for r in res["numbers"]],
                         ["Number", "Reason"]) if res["numbers"] else "the list is empty"
    _out(args, res, text)
    return 0


def _add_dialer_parsers(sub, common) -> None:
    cp = sub.add_parser("campaign", parents=[common], help="outbound campaigns (preview, "
                        "progressive): create, load, start, pause, stop, show, list, next, "
                        "dial, skip")
    csub = cp.add_subparsers(dest="action", required=True)
    x = csub.add_parser("create", parents=[common], help="a new campaign (stopped)")
    x.add_argument("campaign")
    x.add_argument("--mode", choices=("progressive", "preview"), default="progressive")
    x.add_argument("--agents", help="agent ids, comma separated (default: every agent)")
    x.add_argument("--retry", action="append", metavar="RESULT=ATTEMPTS/DELAY",
                   help="retry rule per result (busy, no_answer, congestion, vacant, "
                        "failed), e.g. busy=3/300; repeat")
    x.add_argument("--no-answer-timeout", type=_positive_float, help="seconds of ringing")
    x = csub.add_parser("load", parents=[common], help="add records from a CSV file")
    x.add_argument("campaign")
    x.add_argument("file", help="CSV with a number column (and name, data columns); - for stdin")
    for name, hlp in (("start", "start dialling"), ("pause", "dial nothing new"),
                      ("stop", "stop dialling"), ("show", "records, attempts and results")):
        x = csub.add_parser(name, parents=[common], help=hlp)
        x.add_argument("campaign")
    csub.add_parser("list", parents=[common], help="every campaign")
    x = csub.add_parser("next", parents=[common], help="preview: the next record for an agent")
    x.add_argument("campaign")
    x.add_argument("--agent", required=True)
    for name, hlp in (("dial", "preview: dial the record shown"),
                      ("skip", "preview: skip the record shown")):
        x = csub.add_parser(name, parents=[common], help=hlp)
        x.add_argument("--agent", required=True)
    cp.set_defaults(func=cmd_campaign)

    dp = sub.add_parser("dnc", parents=[common], help="the do-not-call list: add, remove, list")
    dsub = dp.add_subparsers(dest="action", required=True)
    x = dsub.add_parser("add", parents=[common], help="never call this number")
    x.add_argument("number")
    x.add_argument("--reason")
    x = dsub.add_parser("remove", parents=[common], help="take a number off the list")
    x.add_argument("number")
    dsub.add_parser("list", parents=[common], help="the numbers on the list")
    dp.set_defaults(func=cmd_dnc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "home", None) is None:
        args.home = os.environ.get("CTI_HOME") or (None if args.command == "serve" else "var")
    args.json = getattr(args, "json", False)
    args.timeout = getattr(args, "timeout", 5.0)
    try:
        return args.func(args)
    except (CtiError, CliError) as e:
        msg = str(e)
        if isinstance(e, CtiError) and not isinstance(e, NoServer) and e.op:
            msg = f"{e.op}: {msg}"
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `cti watch | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
