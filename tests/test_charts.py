"""The loss report as a chart a manager reads: bars per hour, lost at each point."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cti.charts import losses_html, losses_svg
from cti.cli import main
from cti.report import loss_report
from cti.store import Store

T0 = 1_795_392_000.0          # an hour boundary (UTC)


def make_store(path):
    s = Store(path)
    n = 0
    for hour, rows in enumerate([(("answered", 5.0),) * 6 + (("abandoned_queue", 40.0),) * 2,
                                 (("answered", 25.0),) * 3 + (("no_ivr_port", None),) * 4
                                 + (("abandoned_ring", 12.0),)]):
        for outcome, wait in rows:
            n += 1
            start = T0 + hour * 3600 + n * 10
            s.add_cdr({"call_id": f"c{n}", "direction": "in", "trunk": "1/1", "ani": "138",
                       "dnis": "400", "start": start, "end": start + 60,
                       "answer": start + 1 if outcome == "answered" else None,
                       "outcome": outcome, "queue": "sales" if wait is not None else None,
                       "agent": "1001" if outcome == "answered" else None, "wait": wait})
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
