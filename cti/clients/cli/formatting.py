"""The tables and lines the commands print, modelled on dahdi_tool, dahdi_maint and
FreeTDM's ``ftdm``: alarm colour, framing/CRC-4/E-bit errors, BPV, slips, per-channel
signalling and hook state; and one line per event for ``cti watch``."""
from __future__ import annotations

import time
from typing import Any

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


def _faults_text(f: Any) -> str:
    if not isinstance(f, dict):
        return _cell(f)
    return ", ".join(k if v is True else f"{k} {v:g}" if isinstance(v, (int, float)) else
                     f"{k} {v}" for k, v in f.items()) or "none"
