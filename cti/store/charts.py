"""Charts of the loss report for a manager: SVG, an HTML page, and PNG.

The manager's view (issue 8, item 2) is one picture, drawn as SVG by this module:

* the calls offered per interval as stacked bars: answered, a callback taken, then lost at
  each of the four points (trunk, IVR, queue, agent), and messages left: a bar is every
  call offered; the service level as a line over them, and the peak interval marked, so
  the peak and where it was lost show at a glance;
* the occupancy of every span and of the IVR ports per interval (the server's samples),
  with the 100% line;
* the seconds every channel of a span (and every IVR port) was busy, per interval;
* the advice: E1 spans, IVR ports and agents the peak needed.

Every bar carries its numbers (``data-chart``, ``data-series``, ``data-interval``,
``data-value``) and a ``<title>`` tooltip, so the page explains itself and the tests read
the chart's data back. The PNG is the same SVG rasterised by ``rsvg-convert`` (librsvg,
the GNOME project's SVG renderer, Debian package librsvg2-bin): one drawing for the page
and the image, no plotting stack to install, and no rasteriser of our own.
"""
from __future__ import annotations

import html
import math
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone

from cti.store.report import IVR_SPAN, format_table

__all__ = ["losses_svg", "occupancy_svg", "manager_svg", "losses_html", "losses_png",
           "SERIES"]

SERIES = (("answered", "#4c9a2a"), ("callback", "#7fc97f"), ("trunk", "#b22222"),
          ("ivr", "#e07b00"), ("queue", "#d4b000"), ("agent", "#6a3d9a"),
          ("voicemail", "#999999"))
SL_COLOUR = "#1f4e9c"
SPAN_COLOURS = ("#2b6cb0", "#63a4d8", "#1b4f72", "#8fb8de", "#34495e", "#5dade2")
IVR_COLOUR = "#c0392b"
WIDTH = 960


def _values(p: dict) -> dict:
    lost = p.get("lost") or {}
    # callers who left a number (a callback, served later or not) and messages are
    # neither answered nor lost: drawn too, so a bar is every call offered
    return {"answered": p.get("answered", 0), "callback": p.get("callback_requested", 0),
            "trunk": lost.get("trunk", 0), "ivr": lost.get("ivr", 0),
            "queue": lost.get("queue", 0), "agent": lost.get("agent", 0),
            "voicemail": p.get("voicemail", 0)}


def _label(t: float) -> str:
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%H:%M" if d.second == 0 and d.microsecond == 0 else "%H:%M:%S")


def _esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def nice_max(v: float, integer: bool = True) -> float:
    """The top of an axis with four grid steps of a round size (1, 1.5, 2, 2.5, 3, 4, 5,
    6 or 8 x 10^k), at least ``v`` (whole steps when counting calls)."""
    if v <= 0:
        return 4.0 if integer else 1.0
    step = v / 4
    mag = 10 ** math.floor(math.log10(step))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * mag >= step * (1 - 1e-12):
            step = m * mag
            break
    if integer:
        step = max(1, math.ceil(step))
    return 4 * step


def _bars(out: list[str], chart: str, top: float, height: float, intervals: list[dict],
          series: list[tuple[str, str, str]], values: list[dict], *, stacked: bool,
          y_max: float, unit: str, title: str, peak: int | None = None,
          width: int = WIDTH) -> tuple[float, float, float, float, list[float]]:
    """One bar chart into ``out`` (SVG elements) at ``top``: per interval either one
    stacked bar or a group of bars, one per series (``key, label, colour``). Returns
    the plot box (left, top, width, height) and each interval's bar centre."""
    left, right, pad_top, bottom = 60, 70, 26, 40
    pw, ph = width - left - right, height - pad_top - bottom
    pt = top + pad_top
    n = max(1, len(intervals))
    out.append(f'<text x="{left}" y="{top + 16:.1f}" font-size="14" font-weight="bold">'
               f'{_esc(title)}</text>')
    for i in range(5):                                   # grid and left axis
        v = y_max * i / 4
        y = pt + ph - ph * i / 4
        out.append(f'<line x1="{left}" y1="{y:.2f}" x2="{left + pw}" y2="{y:.2f}" '
                   f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.2f}" text-anchor="end">'
                   f'{v:.{0 if v == int(v) else 1}f}{unit}</text>')
    slot = pw / n
    bar_w = slot * 0.7
    every = max(1, math.ceil(64 / slot))              # x labels at least 64 px apart
    centres = []
    for i, p in enumerate(intervals):
        x = left + slot * i + slot * 0.15
        centres.append(x + bar_w / 2)
        if peak == i:
            out.append(f'<rect x="{left + slot * i:.2f}" y="{pt:.2f}" width="{slot:.2f}" '
                       f'height="{ph:.2f}" fill="#fff3cd" data-chart="{chart}" '
                       f'data-peak="{i}"/>')
        y = pt + ph
        w = bar_w if stacked else bar_w / max(1, len(series))
        for j, (key, name, colour) in enumerate(series):
            v = values[i].get(key)
            if v is None or (stacked and v == 0):
                continue
            h = ph * min(v, y_max) / y_max if y_max > 0 else 0.0
            if stacked:
                y -= h
                bx, by = x, y
            else:
                bx, by = x + j * w, pt + ph - h
            shown = f"{v:.1f}" if isinstance(v, float) else str(v)
            out.append(f'<rect x="{bx:.2f}" y="{by:.2f}" width="{w:.2f}" height="{h:.2f}" '
                       f'fill="{colour}" data-chart="{chart}" data-series="{_esc(key)}" '
                       f'data-interval="{i}" data-value="{v}"><title>{_esc(name)}: '
                       f'{shown}{unit}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{x + bar_w / 2:.2f}" y="{pt + ph + 14:.2f}" '
                       f'text-anchor="middle">{_label(p["start"])}</text>')
    x = left
    for key, name, colour in series:                    # legend under the plot
        out.append(f'<rect x="{x}" y="{pt + ph + 22:.2f}" width="12" height="12" '
                   f'fill="{colour}"/><text x="{x + 16}" y="{pt + ph + 32:.2f}">'
                   f'{_esc(name)}</text>')
        x += 20 + 8 * len(name) + 16
    return left, pt, pw, ph, centres


def _losses(out: list[str], top: float, report: dict, height: float = 340,
            width: int = WIDTH) -> None:
    intervals = report.get("intervals") or []
    y_max = nice_max(1.12 * max([sum(_values(p).values()) for p in intervals] + [1]))
    peak = None
    if report.get("peak") is not None:
        peak = next((i for i, p in enumerate(intervals)
                     if p["start"] == report["peak"]["start"]), None)
    series = [(k, k, c) for k, c in SERIES]
    left, pt, pw, ph, centres = _bars(
        out, "losses", top, height, intervals, series, [_values(p) for p in intervals],
        stacked=True, y_max=y_max, unit="", peak=peak, width=width,
        title="Calls offered per interval: answered, callback taken, and lost at the trunk, "
              "IVR, queue, agent")
    if peak is not None:
        p = intervals[peak]
        total = sum(_values(p).values())
        y = pt + ph - ph * total / y_max
        out.append(f'<text x="{centres[peak]:.2f}" y="{y - 4:.2f}" text-anchor="middle" '
                   f'font-weight="bold">peak {p["offered"]} offered, {p["lost_total"]} lost'
                   f'</text>')
    sl = []
    for c, p in zip(centres, intervals):
        if p.get("service_level") is not None:
            sl.append((c, pt + ph * (1 - p["service_level"]), p["service_level"]))
    if len(sl) > 1:
        pts = " ".join(f"{x:.2f},{y:.2f}" for x, y, _ in sl)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{SL_COLOUR}" '
                   f'stroke-width="2"/>')
    for x, y, v in sl:
        out.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3" fill="{SL_COLOUR}" '
                   f'data-chart="losses" data-series="service_level" data-value="{v}">'
                   f'<title>service level: {100 * v:.1f}%</title></circle>')
    out.append(f'<text x="{left + pw + 6}" y="{pt + 4:.2f}" fill="{SL_COLOUR}">100% SL</text>'
               f'<text x="{left + pw + 6}" y="{pt + ph + 4:.2f}" fill="{SL_COLOUR}">0%</text>')


def _span_series(report: dict) -> list[str]:
    spans: list[str] = []
    for p in report.get("intervals") or []:
        for k in (p.get("trunk") or {}).get("spans") or {}:
            if k not in spans:
                spans.append(k)
    return sorted(spans, key=lambda k: (0, int(k), "") if k.isdigit() else (1, 0, k))


def _occupancy(out: list[str], top: float, report: dict, height: float = 260,
               width: int = WIDTH) -> None:
    intervals = report.get("intervals") or []
    spans = _span_series(report)
    series = [(f"span:{k}", f"span {k}", SPAN_COLOURS[i % len(SPAN_COLOURS)])
              for i, k in enumerate(spans)] + [(IVR_SPAN, "IVR ports", IVR_COLOUR)]
    occ, busy = [], []
    for p in intervals:
        o: dict = {}
        b: dict = {}
        for k in spans:
            sp = p["trunk"]["spans"].get(k)
            if sp is not None and sp["occupancy"] is not None:
                o[f"span:{k}"] = 100.0 * sp["occupancy"]
                b[f"span:{k}"] = sp["all_busy_seconds"]
        iv = p.get("ivr") or {}
        if iv.get("occupancy") is not None:
            o[IVR_SPAN] = 100.0 * iv["occupancy"]
            b[IVR_SPAN] = iv["all_busy_seconds"]
        occ.append(o)
        busy.append(b)
    left, pt, pw, ph, _ = _bars(out, "occupancy", top, height, intervals, series, occ,
                                stacked=False, y_max=100.0, unit="%", width=width,
                                title="Occupancy per span and of the IVR ports (measured)")
    y_max = nice_max(max([v for b in busy for v in b.values()] + [1.0]))
    _bars(out, "all_busy", top + height, height, intervals, series, busy, stacked=False,
          y_max=y_max, unit=" s", width=width,
          title="Seconds with every channel busy: per span, and every IVR port busy")


def _advice_lines(report: dict) -> list[str]:
    adv, tg = report.get("advice"), report.get("targets")
    lines = []
    peak = report.get("peak")
    if peak is not None:
        lines.append(f"Peak {_label(peak['start'])} UTC: {peak['offered']} calls offered, "
                     f"{peak['lost_total']} lost.")
    if adv and tg:
        pat = (report.get("patience") or {}).get("patience")
        need = []
        if adv.get("spans") is not None:
            need.append(f"{adv['spans']} E1 spans")
        if adv.get("ivr_ports") is not None:
            need.append(f"{adv['ivr_ports']} IVR ports")
        if adv.get("agents") is not None:
            need.append(f"{adv['agents']} agents on the phones "
                        f"({adv['agents_scheduled']} scheduled)")
        if need:
            lines.append("Needed at the peak: " + ", ".join(need) + ".")
            lines.append(f"Targets: {100 * tg['blocking']:g}% blocking at trunks and IVR; "
                         f"{100 * tg['service_level']:g}% answered within "
                         f"{tg['answer_within']:g} s"
                         + (f" (Erlang A, callers' mean patience {pat:.0f} s)." if pat
                            else " (Erlang C)."))
    return lines


def manager_svg(report: dict, width: int = WIDTH) -> str:
    """The manager's view as one SVG: the advice, the losses chart, and the occupancy
    and all-busy charts per span and for the IVR ports."""
    head = _advice_lines(report)
    top = 40 + 18 * len(head)
    h_loss, h_occ = 340, 260
    height = top + h_loss + 2 * h_occ + 10
    out = _svg_open(width, height)
    end = datetime.fromtimestamp(report["end"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = report["intervals"][0]["start_iso"] if report.get("intervals") else ""
    out.append(f'<text x="20" y="24" font-size="18" font-weight="bold">Where calls were lost, '
               f'{_esc(first)} .. {_esc(end)}</text>')
    for i, line in enumerate(head):
        out.append(f'<text x="20" y="{46 + 18 * i}" font-size="13">{_esc(line)}</text>')
    _losses(out, top, report, h_loss, width)
    _occupancy(out, top + h_loss, report, h_occ, width)
    out.append("</svg>")
    return "\n".join(out)


def _svg_open(width: int, height: float) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:g}" '
            f'font-family="sans-serif" font-size="11">',
            f'<rect width="{width}" height="{height:g}" fill="#ffffff"/>']


def losses_svg(report: dict, width: int = WIDTH, height: int = 360) -> str:
    """The losses chart alone: stacked bars per interval and the service level line."""
    out = _svg_open(width, height)
    _losses(out, 0, report, height, width)
    return "\n".join(out + ["</svg>"])


def occupancy_svg(report: dict, width: int = WIDTH, height: int = 520) -> str:
    """Occupancy and all-busy seconds per span and for the IVR ports, alone."""
    out = _svg_open(width, height)
    _occupancy(out, 0, report, height / 2, width)
    return "\n".join(out + ["</svg>"])


def losses_html(report: dict, title: str = "Where calls were lost") -> str:
    """A page a manager opens in a browser: the advice, the charts, then the report's
    tables (losses, occupancy, what each interval needed)."""
    advice = "".join(f"<p>{_esc(x)}</p>" for x in _advice_lines(report))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}"
            f"</title></head><body style='font-family:sans-serif'><h1>{_esc(title)}</h1>"
            f"{advice}{manager_svg(report)}<pre>{_esc(format_table(report))}</pre>"
            f"</body></html>")


def losses_png(report: dict, path: str | os.PathLike, width: int = WIDTH) -> None:
    """The manager's view as a PNG at ``path``: :func:`manager_svg` rasterised by
    ``rsvg-convert`` (librsvg2-bin); RuntimeError naming the package if it is missing."""
    exe = shutil.which("rsvg-convert")
    if exe is None:
        raise RuntimeError("rsvg-convert not found: install the Debian package librsvg2-bin")
    svg = manager_svg(report, width)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False, encoding="utf-8") as f:
        f.write(svg)
        src = f.name
    try:
        r = subprocess.run([exe, "--format", "png", "--background-color", "white",
                            "--output", os.fspath(path), src],
                           capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(src)
    if r.returncode != 0:
        raise RuntimeError(f"rsvg-convert failed ({r.returncode}): {r.stderr.strip()}")
