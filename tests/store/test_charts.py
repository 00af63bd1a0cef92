"""The loss report as a chart a manager reads: bars per hour, lost at each point."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cti.store.charts import losses_html, losses_svg
from cti.clients.cli import main
from cti.store.report import loss_report
from cti.store.sqlite import Store

T0 = 1_795_392_000.0          # an hour boundary (UTC)


def add_hours(s, hours, ivr_path=None):
    """Inbound CDRs, hour by hour: ``hours`` lists each hour's (outcome, wait) rows."""
    n = 0
    for hour, rows in enumerate(hours):
        for outcome, wait in rows:
            n += 1
            start = T0 + hour * 3600 + n * 10
            s.add_cdr({"call_id": f"c{n}", "direction": "in", "trunk": "1/1", "ani": "138",
                       "dnis": "400", "start": start, "end": start + 60,
                       "answer": start + 1 if outcome == "answered" else None,
                       "outcome": outcome, "queue": "sales" if wait is not None else None,
                       "agent": "1001" if outcome == "answered" else None, "wait": wait,
                       "ivr_path": ivr_path if outcome != "no_ivr_port" else None})


def make_store(path):
    s = Store(path)
    add_hours(s, [(("answered", 5.0),) * 6 + (("abandoned_queue", 40.0),) * 2,
                  (("answered", 25.0),) * 3 + (("no_ivr_port", None),) * 4
                  + (("abandoned_ring", 12.0),)])
    return s


def test_svg_has_a_stacked_bar_per_hour_and_the_service_level(tmp_path):
    store = make_store(tmp_path / "cti.db")
    report = loss_report(store, T0, T0 + 7200)
    svg = losses_svg(report)
    root = ET.fromstring(svg)                       # well-formed
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "answered: 6" in titles and "queue: 2" in titles
    assert "answered: 3" in titles and "ivr: 4" in titles and "agent: 1" in titles
    assert "polyline" in svg                        # the service level line over two hours
    page = losses_html(report)
    assert page.startswith("<!doctype html>") and "<svg" in page and "total" in page


def test_cti_report_losses_writes_the_page(tmp_path, capsys):
    make_store(tmp_path / "cti.db").close()
    out = tmp_path / "losses.html"
    assert main(["report", "losses", "--home", str(tmp_path), "--from", str(T0),
                 "--to", str(T0 + 7200), "--html", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"total\s+\d+\s+9", text)       # 9 answered over the two hours
    assert "<svg" in out.read_text()


# -- the manager's view: the charts' data, in the SVG and in the PNG's pixels -------------

import shutil  # noqa: E402
import struct  # noqa: E402
import zlib  # noqa: E402

import pytest  # noqa: E402

from cti.store.charts import SERIES, losses_png, manager_svg, nice_max  # noqa: E402
from cti.store.report import IVR_SPAN  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def manager_store(path, trunk_lost=5):
    """Three hours: a quiet one, a peak lost at the trunk and the IVR, a quiet one; two
    spans and 4 IVR ports sampled as the server does."""
    s = Store(path)
    add_hours(s, [(("answered", 5.0),) * 4 + (("abandoned_queue", 40.0),),
                  (("answered", 25.0),) * 6 + (("no_ivr_port", None),) * 8
                  + (("abandoned_ring", 12.0),) * 2,
                  (("answered", 5.0),) * 3], ivr_path="welcome")
    s.exchange_count(T0 + 3600 + 3599, 0, 40, trunk_lost)
    s.trunk_sample(T0, 1, 6, 30)
    s.trunk_sample(T0, 2, 0, 30)
    s.trunk_sample(T0, IVR_SPAN, 1, 4)
    s.trunk_sample(T0 + 3600, 1, 30, 30)
    s.trunk_sample(T0 + 3600, 2, 12, 30)
    s.trunk_sample(T0 + 3600, IVR_SPAN, 4, 4)
    s.trunk_sample(T0 + 3600 + 900, 1, 24, 30)
    s.trunk_sample(T0 + 3600 + 1800, IVR_SPAN, 2, 4)
    s.trunk_sample(T0 + 7200, 1, 3, 30)
    s.trunk_sample(T0 + 7200, 2, 0, 30)
    s.trunk_sample(T0 + 7200, IVR_SPAN, 0, 4)
    return s


def bars(root, chart):
    return [r for r in root.iter(f"{SVG}rect") if r.get("data-chart") == chart
            and r.get("data-series")]


def test_manager_svg_bars_carry_the_report_numbers(tmp_path):
    store = manager_store(tmp_path / "cti.db")
    report = loss_report(store, T0, T0 + 3 * 3600)
    root = ET.fromstring(manager_svg(report))
    losses = bars(root, "losses")
    by = {(int(r.get("data-interval")), r.get("data-series")): r for r in losses}
    expect = {"answered": [4, 6, 3], "trunk": [0, 5, 0], "ivr": [0, 8, 0],
              "queue": [1, 0, 0], "agent": [0, 2, 0]}
    for name, values in expect.items():
        for i, v in enumerate(values):
            got = by.get((i, name))
            if v == 0:
                assert got is None or float(got.get("height")) == 0
                continue
            assert float(got.get("data-value")) == v
            p = report["intervals"][i]
            assert v == (p["answered"] if name == "answered" else p["lost"][name])
    # one scale: every bar's height is its value times the same pixels per call, and
    # the axis top is the round number over the peak (21 offered -> 24)
    scale = [float(r.get("height")) / float(r.get("data-value")) for r in losses]
    assert max(scale) - min(scale) < 0.01
    assert nice_max(1.12 * 21) == 24
    grid = [float(t.text) for t in root.iter(f"{SVG}text") if t.text and t.text.isdigit()]
    assert 24 in grid                                       # the axis top
    assert max(scale) * 24 == pytest.approx(340 - 26 - 40, abs=0.2)   # 24 calls: full plot
    # stacked in SERIES order, each bar on top of the one before
    peak = sorted((r for r in losses if r.get("data-interval") == "1"),
                  key=lambda r: [k for k, _ in SERIES].index(r.get("data-series")))
    for lower, upper in zip(peak, peak[1:]):
        assert float(upper.get("y")) + float(upper.get("height")) == \
            pytest.approx(float(lower.get("y")), abs=0.02)
    # the peak is marked where the most calls were offered
    marks = [r for r in root.iter(f"{SVG}rect") if r.get("data-peak") is not None]
    assert [m.get("data-peak") for m in marks] == ["1"] and report["peak"]["offered"] == 21
    # occupancy per span and of the IVR: the samples' figures, on a 0..100% scale
    occ = {(int(r.get("data-interval")), r.get("data-series")): r for r in bars(root, "occupancy")}
    for i, p in enumerate(report["intervals"]):
        for span in ("1", "2"):
            r = occ[(i, f"span:{span}")]
            assert float(r.get("data-value")) == pytest.approx(
                100 * p["trunk"]["spans"][span]["occupancy"])
        assert float(occ[(i, IVR_SPAN)].get("data-value")) == pytest.approx(
            100 * p["ivr"]["occupancy"])
    h1 = occ[(1, "span:1")]
    assert float(h1.get("data-value")) == pytest.approx(100 * (30 * 900 + 24 * 2700) / 3600 / 30)
    ratio = [float(r.get("height")) / float(r.get("data-value"))
             for r in occ.values() if float(r.get("data-value")) > 0]
    assert max(ratio) - min(ratio) < 0.001
    busy = {(int(r.get("data-interval")), r.get("data-series")): float(r.get("data-value"))
            for r in bars(root, "all_busy")}
    assert busy[(1, "span:1")] == 900 and busy[(1, IVR_SPAN)] == 1800
    assert busy[(0, "span:1")] == 0 and busy[(1, "span:2")] == 0
    text = "".join(root.itertext())
    adv = report["advice"]
    assert f"{adv['spans']} E1 spans" in text and f"{adv['ivr_ports']} IVR ports" in text
    store.close()


def read_png(path):
    """A PNG's pixels as rows of (r, g, b[, a]) tuples: chunks, zlib, the five filters
    of the PNG specification (ISO/IEC 15948, 9.2); 8-bit RGB or RGBA, not interlaced."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour, _, _, interlace = ihdr
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def column_run(rows, bpp, x, colour, y0=0, y1=None):
    """The height of ``colour`` (#rrggbb) in column x between rows y0 and y1: from its
    first pixel to its last (the service level line may cross a bar; anti-aliased
    edges are not the exact colour, so this is the bar's height to a pixel)."""
    want = bytes.fromhex(colour[1:])
    ys = [y for y in range(y0, len(rows) if y1 is None else y1)
          if bytes(rows[y][x * bpp:x * bpp + 3]) == want]
    return ys[-1] - ys[0] + 1 if ys else 0


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="librsvg2-bin not installed")
def test_png_pixels_show_the_bars_of_the_report(tmp_path, capsys):
    store = manager_store(tmp_path / "cti.db")
    report = loss_report(store, T0, T0 + 3 * 3600)
    store.close()
    png = tmp_path / "m.png"
    assert main(["report", "losses", "--home", str(tmp_path), "--from", str(T0),
                 "--to", str(T0 + 3 * 3600), "--png", str(png), "--html",
                 str(tmp_path / "m.html")]) == 0
    assert "IVR occ%" in capsys.readouterr().out
    w, h, bpp, rows = read_png(png)
    root = ET.fromstring(manager_svg(report))
    assert (w, h) == (int(root.get("width")), int(root.get("height")))
    colours = dict(SERIES)
    by = {(r.get("data-interval"), r.get("data-series")): r for r in bars(root, "losses")}
    px_per_call = None
    band = (int(min(float(r.get("y")) for r in by.values())) - 2,     # the losses plot
            int(max(float(r.get("y")) + float(r.get("height")) for r in by.values())) + 2)
    for (i, name), r in by.items():
        x = int(float(r.get("x"))) + 5        # off the service level's dot at the centre
        got = column_run(rows, bpp, x, colours[name], *band)
        want = float(r.get("height"))
        assert abs(got - want) <= 1.5, (i, name, got, want)
        value = float(r.get("data-value"))
        if px_per_call is None:
            px_per_call = got / value
        # the pixels are the report's numbers: value x pixels-per-call, to a pixel
        assert abs(got - value * px_per_call) <= 2.0, (i, name)
    trunk_px = column_run(rows, bpp, int(float(by[("1", "trunk")].get("x")) + 5), "#b22222",
                          *band)
    ivr_px = column_run(rows, bpp, int(float(by[("1", "ivr")].get("x")) + 5), "#e07b00", *band)
    assert ivr_px / trunk_px == pytest.approx(8 / 5, rel=0.05)
    # another day, another picture: more lost at the trunk, a taller red bar
    store = manager_store(tmp_path / "other.db", trunk_lost=15)
    other = loss_report(store, T0, T0 + 3 * 3600)
    store.close()
    png2 = tmp_path / "other.png"
    losses_png(other, png2)
    assert png2.read_bytes() != png.read_bytes()
    _, _, bpp2, rows2 = read_png(png2)
    r2 = {(r.get("data-interval"), r.get("data-series")): r
          for r in bars(ET.fromstring(manager_svg(other)), "losses")}[("1", "trunk")]
    x2 = int(float(r2.get("x"))) + 5
    assert column_run(rows2, bpp2, x2, "#b22222", 0, band[1]) > trunk_px + 20
    page = (tmp_path / "m.html").read_text()
    assert page.count("<svg") == 1 and 'data-chart="occupancy"' in page and "span 2" in page
