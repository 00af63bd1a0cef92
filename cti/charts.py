"""Charts of the loss report for a manager: an SVG and an HTML page, no plotting library.

One stacked bar per interval: calls answered, then calls lost at each of the four points
(trunk, IVR, queue, agent), so the peak and where it was lost show at a glance; the
service level is drawn as a line over the bars.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone

from cti.report import format_table

__all__ = ["losses_svg", "losses_html"]

SERIES = (("answered", "#4c9a2a"), ("trunk", "#b22222"), ("ivr", "#e07b00"),
          ("queue", "#d4b000"), ("agent", "#6a3d9a"))


def _values(p: dict) -> dict:
    lost = p.get("lost") or {}
    return {"answered": p.get("answered", 0), "trunk": lost.get("trunk", 0),
            "ivr": lost.get("ivr", 0), "queue": lost.get("queue", 0),
            "agent": lost.get("agent", 0)}


def losses_svg(report: dict, width: int = 900, height: int = 360) -> str:
    """The report as an SVG: stacked bars per interval and the service level (right axis)."""
    intervals = report.get("intervals") or []
    left, right, top, bottom = 50, 60, 30, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(intervals))
    peak = max([sum(_values(p).values()) for p in intervals] + [1])
    bar_w = plot_w / n * 0.7
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="18" font-size="14">Calls offered per interval: answered and '
           f'lost at each point</text>']
    for i in range(5):                                   # grid and left axis
        v = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{v:.0f}</text>')
    sl_points = []
    for i, p in enumerate(intervals):
        x = left + plot_w * (i + 0.15) / n
        y = top + plot_h
        for name, colour in SERIES:
            v = _values(p)[name]
            h = plot_h * v / peak
            if h > 0:
                y -= h
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"'
                           f' fill="{colour}"><title>{name}: {v}</title></rect>')
        label = datetime.fromtimestamp(p["start"], timezone.utc).strftime("%H:%M")
        out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" '
                   f'text-anchor="middle">{label}</text>')
        sl = p.get("service_level")
        if sl is not None:
            sl_points.append((x + bar_w / 2, top + plot_h * (1 - sl)))
    if len(sl_points) > 1:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in sl_points)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f4e9c" stroke-width="2"/>')
    for x, y in sl_points:
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f4e9c"/>')
    out.append(f'<text x="{left + plot_w + 6}" y="{top + 4}">100% SL</text>'
               f'<text x="{left + plot_w + 6}" y="{top + plot_h + 4}">0%</text>')
    for i, (name, colour) in enumerate(SERIES + (("service level", "#1f4e9c"),)):
        x = left + i * 130
        out.append(f'<rect x="{x}" y="{height - 22}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="{height - 12}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def losses_html(report: dict, title: str = "Where calls were lost") -> str:
    """A page a manager opens in a browser: the chart, then the report's table."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>"
            f"{losses_svg(report)}<pre>{html.escape(format_table(report))}</pre></body></html>")
