"""The technician's commands on our own board: ``cti board``, ``span``, ``channel`` (with
the G.711 decoding that ``channel tone --wav`` and ``channel listen`` need), ``pri`` (ISDN
calls at the signalling level) and ``trace`` (Q.921 frames to a pcap for Wireshark)."""
from __future__ import annotations

import argparse
import base64
import struct
import time
import wave

from cti.clients.cli.common import CliError, _client, _out, _positive_float, _span
from cti.clients.cli.formatting import (CHAN_COLS, LAW_NAME, alarm_word, fmt_bert,
                                        fmt_board_list, fmt_board_show, fmt_channels,
                                        fmt_counters, fmt_ports, fmt_span, kv, table)
from cti.clients.client import Subscriber

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

    sub = Subscriber(args.home, ["trace."], key=getattr(args, "key", None))
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


def add_parsers(sub, common) -> None:
    """``cti board``, ``cti span``, ``cti channel``."""
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


def add_signalling_parsers(sub, common) -> None:
    """``cti pri``, ``cti trace``."""
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
