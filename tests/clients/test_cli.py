"""The ``cti`` command: parsing, output, G.711 decoding, WAV and ALSA, against the
in-process server of tests/inprocess.py on its simulated world."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import time
import wave

import pytest

from cti.clients import cli
from cti.clients.cli import ALAW_TABLE, ULAW_TABLE, alarm_word, g711_decode, main
from tests.inprocess import InProcessServer
from tests.served import ROOT, cti_env



def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys, *argv):
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


# --- G.711 ---------------------------------------------------------------------------------

def test_g711_known_values():
    assert ALAW_TABLE[0xD5] == 8 and ALAW_TABLE[0x55] == -8
    assert ALAW_TABLE[0xAA] == 32256 and ALAW_TABLE[0x2A] == -32256
    assert ULAW_TABLE[0xFF] == 0 and ULAW_TABLE[0x7F] == 0
    assert ULAW_TABLE[0x80] == 32124 and ULAW_TABLE[0x00] == -32124
    assert g711_decode(b"\xd5\x55", "alaw") == struct.pack("<2h", 8, -8)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
@pytest.mark.parametrize("law, enc", [("alaw", "a-law"), ("ulaw", "u-law")])
def test_g711_agrees_with_sox(law, enc):
    p = subprocess.run(["sox", "-t", "raw", "-r", "8000", "-e", enc, "-b", "8", "-c", "1", "-",
                        "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"],
                       input=bytes(range(256)), capture_output=True, timeout=20, check=True)
    assert g711_decode(bytes(range(256)), law) == p.stdout


def test_alarm_word():
    assert alarm_word([]) == "OK"
    assert alarm_word(["LOS"]) == "RED"
    assert alarm_word(["AIS"]) == "BLUE"
    assert alarm_word(["RAI"]) == "YELLOW"
    assert alarm_word(["LOF", "RAI"]) == "RED/YELLOW"
    assert alarm_word(["CASMF"]) == "ALARM"
    assert alarm_word([], "local") == "LOOP"


# --- parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["sim", "fault", "1"],                       # no fault given
    ["sim", "fault", "1", "--los", "--ais"],     # two at once
    ["sim", "fault", "1", "--ber", "lots"],
    ["sim", "fault", "1", "--ber", "0.9"],
    ["sim", "fault", "1", "--los", "--direction", "up"],
    ["span", "show", "x"],
    ["span", "show", "0"],
    ["span", "loopback", "1"],
    ["span", "bert", "1", "go"],
    ["channel", "tone", "1/1"],
    ["board", "frob"],
    [],
])
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_home_and_json_go_before_or_after_the_command(tmp_path):
    p = cli.build_parser()
    a = p.parse_args(["--home", "x", "span", "show", "1"])
    assert a.home == "x"
    a = p.parse_args(["span", "show", "1", "--home", "y", "--json"])
    assert a.home == "y" and a.json is True


def test_no_server_is_one_line_and_exit_1(capsys, tmp_path):
    rc, out, err = run(capsys, "span", "show", "1", "--home", str(tmp_path))
    assert rc == 1 and out == ""
    assert err.strip() == (f"cti: error: no server at ipc://{tmp_path}/run/cti-req.sock "
                           "(is `cti serve` running?)")


def test_home_from_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CTI_HOME", str(tmp_path / "envhome"))
    rc, _, err = run(capsys, "ping")
    assert rc == 1 and str(tmp_path / "envhome") in err


def test_serve_with_a_bad_config(capsys, tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[board]\nname = "x"\n[[board.spans]]\nnumber = 1\ncrc4 = "on"\n')
    rc, out, err = run(capsys, "serve", "--config", str(f), "--home", str(tmp_path))
    assert rc == 1
    assert err.strip() == (f"cti: config: {f}:5: board.spans[0].crc4: must be true or false, "
                           "not a string 'on'")
    rc, out, err = run(capsys, "serve", "--speed", "0", "--home", str(tmp_path))
    assert rc == 1 and "--speed" in err


# --- against a server ----------------------------------------------------------------------

def test_span_show_json_and_table(capsys, server):
    home = str(server.config.server.home)
    st = run_json(capsys, "span", "show", "1", "--home", home)
    assert st["in_sync"] is True and st["counters"]["crc4_errors"] == 0
    rc, out, err = run(capsys, "span", "show", "1", "--home", home)
    assert rc == 0
    assert out.splitlines()[0].startswith("Span 1: PRI (CCS), HDB3, CRC-4, A-law")
    assert out.splitlines()[0].endswith("OK")
    for label in ("Alarms", "In sync", "CRC-4 errors", "E-bit errors", "BPV count", "Slips",
                  "Chan", "1/16", "dchan"):
        assert label in out, label


def test_fault_then_alarms_red_and_clear(capsys, server):
    home = str(server.config.server.home)
    rc, out, _ = run(capsys, "sim", "fault", "1", "--los", "--home", home)
    assert rc == 0 and out.strip() == "Span 1 cable: los injected (to board)"
    deadline = time.monotonic() + 5
    while True:
        rc, out, _ = run(capsys, "span", "alarms", "1", "--home", home)
        if "RED" in out or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    # LOS, and the framer lost with it: frame (LOF) and CRC-4 multiframe (LOMF)
    assert out.strip() == "Span 1: RED (LOS LOF LOMF), out of sync"
    deadline = time.monotonic() + 5
    while True:
        st = run_json(capsys, "sim", "stats", "1", "--home", home)
        if st["far_end"]["alarms"] or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert st["far_end"]["alarms"] == ["RAI"]
    rc, out, _ = run(capsys, "sim", "stats", "1", "--home", home)
    assert "Far end (exchange)" in out and "RAI" in out
    rc, out, _ = run(capsys, "sim", "fault", "1", "--clear", "--direction", "to-board",
                     "--home", home)
    assert rc == 0 and out.strip() == "Span 1 cable: faults cleared (to board)"
    r = run_json(capsys, "sim", "fault", "2", "--ber", "1e-3", "--home", home)
    assert r["faults"] == {"ber": 0.001}
    r = run_json(capsys, "sim", "fault", "2", "--slip", "50", "--home", home)
    assert r["faults"] == {"slip_ppm": 50.0}


def test_counters_loopback_bert(capsys, server):
    home = str(server.config.server.home)
    rc, out, _ = run(capsys, "span", "counters", "2", "--reset", "--home", home)
    assert rc == 0 and "Span 2 counters (now reset)" in out and "Framing errors" in out
    rc, out, _ = run(capsys, "span", "loopback", "2", "--mode", "local", "--home", home)
    assert out.strip() == "Span 2: loopback local"
    rc, out, _ = run(capsys, "span", "loopback", "2", "--mode", "off", "--home", home)
    assert out.strip() == "Span 2: loopback off"
    # the exchange loops the line back: our BERT gets its own pattern
    rc, out, _ = run(capsys, "sim", "loopback", "2", "--mode", "line", "--home", home)
    assert "far-end loopback at the exchange line" in out
    rc, out, _ = run(capsys, "span", "bert", "2", "start", "--home", home)
    assert "BERT (2^15-1, O.151): running" in out and "BER" in out
    deadline = time.monotonic() + 5
    while "in sync" not in out and time.monotonic() < deadline:
        time.sleep(0.02)
        rc, out, _ = run(capsys, "span", "bert", "2", "--home", home)
    assert "BERT (2^15-1, O.151): running, in sync" in out
    st = run_json(capsys, "span", "bert", "2", "--home", home)
    assert st["running"] is True and st["bits"] > 0
    rc, out, _ = run(capsys, "span", "bert", "2", "stop", "--home", home)
    assert "BERT (2^15-1, O.151): stopped" in out


def test_board_list_and_show(capsys, server):
    home = str(server.config.server.home)
    rc, out, _ = run(capsys, "board", "list", "--home", home)
    lines = out.splitlines()
    assert lines[0].split() == ["Board", "Backend", "Tick", "Spans", "Ports", "Status"]
    assert lines[1].startswith("sim0") and "8 FXS, 4 FXO" in lines[1] and lines[1].endswith("OK")
    rc, out, _ = run(capsys, "board", "show", "--home", home)
    assert "Board sim0: backend sim (simulated)" in out
    assert "CRC-4 err" in out and "fxo/12" in out and "Off hook" in out
    assert run_json(capsys, "board", "show", "--home", home)["name"] == "sim0"


def test_channel_show_and_tone(capsys, server):
    home = str(server.config.server.home)
    assert run_json(capsys, "channel", "show", "1/16", "--home", home)["kind"] == "dchan"
    rc, out, _ = run(capsys, "channel", "show", "fxs/2", "--home", home)
    assert rc == 0 and "fxs/2" in out and "FXS" in out
    rc, out, _ = run(capsys, "channel", "tone", "1/3", "--freq", "1004", "--freq2", "1209",
                     "--level", "-13", "--ms", "500", "--home", home)
    assert out.strip() == "1/3: tone 1004+1209 Hz at -13 dBm0 for 500 ms"


def test_bad_channel_is_one_line_naming_the_field(capsys, server):
    home = str(server.config.server.home)
    rc, out, err = run(capsys, "channel", "show", "9/1", "--home", home)
    assert rc == 1 and len(err.splitlines()) == 1
    assert err.startswith("cti: error: channel.show: args.channel: no span 9")


def test_listen_to_wav(capsys, server, tmp_path):
    home = str(server.config.server.home)
    wav = tmp_path / "ts5.wav"
    rc, out, err = run(capsys, "channel", "listen", "1/5", "--seconds", "0.1", "--wav", str(wav),
                       "--home", home)
    assert rc == 0, err
    assert f"wrote {wav}" in out
    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        frames = w.readframes(w.getnframes())
    assert len(frames) == 1600 and set(struct.unpack("<800h", frames)) == {8}


def test_listen_wav_unwritable(capsys, server, tmp_path):
    home = str(server.config.server.home)
    rc, out, err = run(capsys, "channel", "listen", "1/5", "--seconds", "0.02", "--wav",
                       str(tmp_path / "no" / "dir" / "x.wav"), "--home", home)
    assert rc == 1 and "cannot write" in err and len(err.splitlines()) == 1


def test_listen_without_pyalsaaudio(capsys, server, monkeypatch):
    home = str(server.config.server.home)
    monkeypatch.setitem(sys.modules, "alsaaudio", None)
    rc, out, err = run(capsys, "channel", "listen", "fxo/9", "--seconds", "0.02", "--home", home)
    assert rc == 1 and "pyalsaaudio is not installed" in err


def test_listen_through_alsa_to_a_file_pcm(server, tmp_path):
    pytest.importorskip("alsaaudio")
    raw = tmp_path / "played.raw"
    conf = tmp_path / "asound.conf"
    conf.write_text('pcm.tofile {\n type file\n slave.pcm { type null }\n'
                    f' file "{raw}"\n format "raw"\n}}\n')
    env = cti_env(ALSA_CONFIG_PATH=str(conf))
    home = str(server.config.server.home)
    p = subprocess.run([sys.executable, "-m", "cti", "channel", "listen", "1/7", "--seconds",
                        "0.1", "--device", "tofile", "--home", home], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "played on ALSA device 'tofile'" in p.stdout
    data = raw.read_bytes()
    assert len(data) == 1600 and set(struct.unpack("<800h", data)) == {8}
    p = subprocess.run([sys.executable, "-m", "cti", "channel", "listen", "1/7", "--seconds",
                        "0.02", "--device", "nosuchcard", "--home", home], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "cti: error: cannot play on ALSA device 'nosuchcard'" in p.stderr


def test_watch_prints_events(capsys, server):
    home = str(server.config.server.home)
    import threading

    def later():
        time.sleep(0.4)
        main(["sim", "fault", "2", "--ais", "--home", home])
        main(["sim", "fault", "2", "--clear", "--home", home])

    t = threading.Thread(target=later)
    t.start()
    rc, out, err = run(capsys, "watch", "span.alarm", "--count", "2", "--seconds", "8", "--json",
                       "--home", home)
    t.join()
    assert rc == 0, err
    evs = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert [e["type"] for e in evs] == ["span.alarm", "span.alarm"]
    assert evs[1]["seq"] > evs[0]["seq"]          # D-channel events may come between
    assert evs[0]["span"] == 2 and "AIS" in evs[0]["data"]["raised"]
    assert evs[1]["data"]["alarms"] == [] and "AIS" in evs[1]["data"]["cleared"]


def test_watch_readable_and_bounded(capsys, server):
    home = str(server.config.server.home)
    t0 = time.monotonic()
    rc, out, err = run(capsys, "watch", "--seconds", "0.3", "--home", home)
    assert rc == 0 and time.monotonic() - t0 < 3
    assert out.split()[:4] == ["seq", "time", "type", "channel"]


def test_ping_snapshot_shutdown(capsys, tmp_path):
    with InProcessServer(tmp_path / "h") as s:
        home = str(s.config.server.home)
        rc, out, _ = run(capsys, "ping", "--home", home)
        assert rc == 0 and out.startswith("server on board sim0")
        snap = run_json(capsys, "snapshot", "--home", home)
        assert "seq" in snap and len(snap["spans"]) == 2
        rc, out, _ = run(capsys, "snapshot", "--home", home)
        assert "Snapshot at seq" in out and "Span 2:" in out
        rc, out, _ = run(capsys, "shutdown", "--home", home)
        assert rc == 0 and "stopping" in out
        s.thread.join(5)
        assert not s.thread.is_alive()
