"""`cti trace SPAN --pcap FILE` on a running server, `cti sim call`, and tshark reading the
pcap: the numbers and causes the test placed must be what tshark itself dissects."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from cti.clients.cli import main
from cti.clients.client import Client, Subscriber


def wait_offered(sub, timeout=5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sub.get(timeout=0.2)
        if got and got[0] == "channel.offered":
            return got[1]
    raise AssertionError("no channel.offered event")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_trace_of_calls_is_dissected_by_tshark(server, tmp_path, capsys):
    home = str(server.config.server.home)
    pcap = tmp_path / "span1.pcap"
    rc = {}
    tracer = threading.Thread(target=lambda: rc.setdefault("rc", main(
        ["trace", "1", "--pcap", str(pcap), "--seconds", "12", "--home", home])))
    server.world.calls.busy_numbers.add("95555")
    with Subscriber(home, ["channel.offered", "channel.cleared"]) as sub, \
            Client(home, timeout=3) as c:
        tracer.start()
        time.sleep(0.5)
        # a call in: the centre's IVR answers it, the caller hangs up (cause 16)
        r = c.request("sim.call", span=1, **{"from": "13800138000", "to": "4008001234"},
                      hangup_after=0.5)
        assert not r["congested"]
        ev = wait_offered(sub)
        assert (ev["data"]["ani"], ev["data"]["dnis"]) == ("13800138000", "4008001234")
        assert ev["channel"].startswith("1/")
        # a call out to a busy number: the exchange rejects it (cause 17)
        c.request("pri.place", span=1, to="95555", **{"from": "4008001234"})
        calls = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            calls = c.request("sim.calls")
            if calls["cleared"].get("16") and calls["cleared"].get("17"):
                break
            time.sleep(0.1)
        assert calls["cleared"].get("16") == 1 and calls["cleared"].get("17") == 1
        tracer.join(timeout=20)
    assert not tracer.is_alive() and rc.get("rc") == 0
    out = capsys.readouterr().out
    assert "LAPD frames written" in out
    result = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-e", "lapd.sapi", "-e", "q931.message_type",
         "-e", "q931.calling_party_number.digits", "-e", "q931.called_party_number.digits",
         "-e", "q931.cause_value"], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    setups = [(r[2], r[3]) for r in rows if len(r) > 3 and r[1] == "0x05"]
    assert setups == [("13800138000", "4008001234"), ("4008001234", "95555")]
    assert {"16", "17"} <= {r[4] for r in rows if len(r) > 4 and r[4]}
    # the messages of a whole call, as tshark names their types
    types = [r[1] for r in rows if len(r) > 1 and r[1]]
    for t in ("0x05", "0x07", "0x0f", "0x45", "0x4d", "0x5a"):
        assert t in types, (t, types)


def test_trace_refuses_a_span_without_pri(server, capsys, tmp_path):
    home = str(server.config.server.home)
    rc = main(["trace", "9", "--pcap", str(tmp_path / "x.pcap"), "--seconds", "1",
               "--home", home])
    assert rc == 1 and "args.span" in capsys.readouterr().err
