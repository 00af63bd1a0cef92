"""The DSP core on the board, end to end: signals generated on one side of the
virtual E1 cable or analog line and detected on the other, analog calls with
dial tone, DTMF digit collection, ring cadence and caller ID, and the
technician's `cti channel tone`."""
from __future__ import annotations

import shutil
import subprocess
import wave

import pytest

from cti.clients.cli import main
from drivers.board import DigitDetected, MfcSignal, SpanConfig, ToneDetected
from drivers.sig import analog
from simulators.world import SimWorld


@pytest.fixture
def world():
    w = SimWorld(seed=5)
    w.run(300)
    yield w
    w.close()


def exchange_run(world, ms):
    """Tick; return (our events, the exchange's events)."""
    ours, theirs = [], []
    for _ in range(ms // world.tick_ms):
        ours += world.tick()
        theirs += world.exchange_events
    return ours, theirs


def test_dtmf_and_mfc_cross_the_e1_cable_both_ways(world):
    ours = world.board.spans[1].channels[7]
    far = world.exchange.spans[1].channels[7]
    ours.detect("dtmf", "mfc_backward")
    far.detect("dtmf", "mfc_forward")
    far.dtmf("4008001234#")
    ours.dtmf("*0A")
    mine, theirs = exchange_run(world, 2200)
    assert "".join(e.digit for e in mine if isinstance(e, DigitDetected)) == "4008001234#"
    assert "".join(e.digit for e in theirs if isinstance(e, DigitDetected)) == "*0A"
    # a compelled MFC exchange: forward signal 5, backward A-1, both ceased
    ours.mfc(5)
    mine, theirs = exchange_run(world, 100)
    assert [(e.digit, e.backward) for e in theirs if isinstance(e, MfcSignal)] == [(5, False)]
    far.mfc(1, backward=True)
    mine, _ = exchange_run(world, 100)
    assert [(e.digit, e.backward) for e in mine if isinstance(e, MfcSignal)] == [(1, True)]
    ours.mfc(None)
    far.mfc(None, backward=True)
    mine, theirs = exchange_run(world, 100)
    assert [e.digit for e in mine if isinstance(e, MfcSignal)] == [0]
    assert [e.digit for e in theirs if isinstance(e, MfcSignal)] == [0]


@pytest.mark.parametrize("tone", ["dial", "busy", "congestion"])
def test_call_progress_tones_are_recognised_across_the_cable(world, tone):
    world.board.spans[2].channels[3].detect("cpt")
    world.exchange.spans[2].channels[3].progress_tone(tone)
    mine = world.run(3000)
    heard = [e.tone for e in mine if isinstance(e, ToneDetected)]
    assert heard and heard[-1] == tone


def test_fxs_phone_hears_dial_tone_and_dials_digits_we_collect(world):
    ports = analog.attach(world.board, fxs=analog.FxsConfig(max_digits=4))
    phone = world.phones[3]
    phone.lift()
    events = world.run(2500)
    assert [e.event for e in events if isinstance(e, analog.AnalogCallEvent)] == [
        analog.LineOffHook(1)]
    assert phone.heard[:1] == ["dial"]
    phone.dial("8001")
    events = world.run(1500)
    calls = [e.event for e in events if isinstance(e, analog.AnalogCallEvent)]
    assert calls == [analog.DigitsCollected(1, "8001", "max")]
    assert ports[3].machine.state.value != "idle"


def test_call_to_a_phone_rings_with_cadence_and_delivers_caller_id(world):
    ports = analog.attach(world.board)
    phone = world.phones[2]
    rang = []
    ports[2].send(world.board.line_seconds, analog.Alert("13800138000", "ZHANG SAN"))
    for _ in range(5500 // world.tick_ms):
        world.tick()
        rang.append(phone.ringing)
    edges = [i * world.tick_ms for i in range(1, len(rang)) if rang[i] != rang[i - 1]]
    assert rang[0] and [round(e / 1000, 1) for e in edges] == pytest.approx([1.0, 5.0], abs=0.06)
    cid = phone.caller_id
    assert cid is not None and (cid.number, cid.name) == ("13800138000", "ZHANG SAN")
    phone.lift()
    events = world.run(200)
    assert analog.Answered(1, "off_hook") in [e.event for e in events
                                              if isinstance(e, analog.AnalogCallEvent)]


@pytest.mark.parametrize("mode", ["bell202", "v23", "dtmf"])
def test_fxo_trunk_receives_a_call_with_caller_id(mode):
    with SimWorld(spans=[SpanConfig(1)], seed=9) as w:
        analog.attach(w.board, ports=[9], cid_mode="bell202" if mode == "dtmf" else mode)
        w.run(200)
        w.lines[9].call("02150001000", "LI SI", cid_mode=mode)
        events = w.run(7000)
        offered = [e.event for e in events if isinstance(e, analog.AnalogCallEvent)
                   and isinstance(e.event, analog.CallOffered)]
        assert len(offered) == 1
        # DTMF caller ID carries the number only (EN 300 659-1 annex: A number C)
        name = None if mode == "dtmf" else "LI SI"
        assert (offered[0].ani, offered[0].name) == ("02150001000", name)


@pytest.mark.skipif(shutil.which("multimon-ng") is None or shutil.which("sox") is None,
                    reason="multimon-ng and sox are needed")
def test_cti_channel_tone_dtmf_writes_what_went_out_and_multimon_decodes_it(server, tmp_path,
                                                                             capsys):
    home = str(server.config.server.home)
    wav = tmp_path / "dtmf.wav"
    rc = main(["channel", "tone", "1/5", "--dtmf", "4008001234", "--wav", str(wav),
               "--home", home])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "what went out on the line" in out.out
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 8000 and w.getnframes() >= 8000 * 0.16 * 10
    sox = subprocess.run(["sox", str(wav), "-t", "raw", "-r", "22050", "-e", "signed-integer",
                          "-b", "16", "-c", "1", "-"], capture_output=True, timeout=60)
    mm = subprocess.run(["multimon-ng", "-q", "-a", "DTMF", "-t", "raw", "-"], input=sox.stdout,
                        capture_output=True, timeout=60)
    digits = "".join(line.split(":")[1].strip() for line in mm.stdout.decode().splitlines()
                     if line.startswith("DTMF:"))
    assert digits == "4008001234"


def test_cti_channel_tone_needs_one_signal(server, capsys):
    home = str(server.config.server.home)
    with pytest.raises(SystemExit) as e:
        main(["channel", "tone", "1/5", "--home", home])      # a usage error
    assert e.value.code == 2
    assert main(["channel", "tone", "1/5", "--dtmf", "12x", "--home", home]) == 1
    assert "args.dtmf" in capsys.readouterr().err
    assert main(["channel", "tone", "1/5", "--tone", "busy", "--ms", "500", "--home", home]) == 0
