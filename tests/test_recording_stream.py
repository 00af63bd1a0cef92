"""Recordings written as they are made: the WAV on disk is readable at every moment of a
call (by Python's wave module and by sox), memory does not grow with the call's length,
and a server killed with SIGKILL mid-call leaves a playable partial recording."""
from __future__ import annotations

import array
import math
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import wave

import pytest
from hypothesis import given, settings, strategies as st

from cti.client import Client, CtiError
from cti.media import FLUSH_FRAMES, Recording, decode_law
from drivers.codecs import alaw_encode
from test_server import ROOT, cti_env


def alaw_tone(freq, n, start=0, amp=8000):
    pcm = array.array("h", (int(amp * math.sin(2 * math.pi * freq * (start + i) / 8000))
                            for i in range(n)))
    return alaw_encode(pcm.tobytes())


def read_wav(path):
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth()) == (8000, 2)
        n, ch = w.getnframes(), w.getnchannels()
        pcm = array.array("h", w.readframes(n))
    return n, ch, [pcm[i::ch] for i in range(ch)]


def soxi_seconds(path) -> float:
    p = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return float(p.stdout)


def test_the_file_is_a_readable_wav_while_the_call_goes_on(tmp_path):
    path = tmp_path / "rec" / "c1.wav"
    rec = Recording(str(path))
    caller, centre = alaw_tone(697, 8000 * 5), alaw_tone(1209, 8000 * 5)
    for tick in range(5 * 50):
        rec.add(caller[tick * 160:(tick + 1) * 160], sent=False)
        rec.add(centre[tick * 160:(tick + 1) * 160], sent=True)
        if tick % 50 == 49:                        # each second: what is on disk so far
            n, ch, _ = read_wav(path)
            assert ch == 2 and n == (tick + 1) * 160
            assert abs(soxi_seconds(path) - n / 8000) < 1e-3
    assert rec.close() == str(path)
    n, ch, (left, right) = read_wav(path)
    assert n == 5 * 8000 and rec.seconds == 5.0
    assert left == decode_law(caller, "alaw") and right == decode_law(centre, "alaw")


def test_memory_does_not_grow_with_the_length_of_the_call(tmp_path):
    rec = Recording(str(tmp_path / "long.wav"))
    chunk = alaw_tone(440, 160)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(10 * 60 * 50):               # ten minutes of ticks
            rec.add(chunk, sent=False)
            rec.add(chunk, sent=True)
        used, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # ten minutes held in memory would be 9.6 MB of G.711; a second's buffer is 16 kB
    assert peak - base < 256 * 1024
    rec.close()
    assert os.path.getsize(tmp_path / "long.wav") == 44 + 10 * 60 * 8000 * 4


def test_voicemail_is_mono_and_bounded(tmp_path):
    rec = Recording(str(tmp_path / "vm.wav"), stereo=False, max_seconds=2.0)
    chunk = alaw_tone(697, 160)
    for _ in range(200):                            # 4 s offered, 2 s kept
        rec.add(chunk, sent=False)
        rec.add(alaw_tone(1209, 160), sent=True)    # what the caller hears: not in it
    assert rec.full
    rec.close()
    n, ch, _ = read_wav(tmp_path / "vm.wav")
    assert ch == 1 and n == 2 * 8000


def test_pause_leaves_the_time_out_and_resume_keeps_the_sides_in_step(tmp_path):
    rec = Recording(str(tmp_path / "p.wav"))
    a, b = alaw_tone(697, 160), alaw_tone(1209, 160)
    rec.add(a, False)                               # the caller side one tick ahead
    rec.pause()
    for _ in range(50):
        rec.add(a, False)
        rec.add(b, True)
    rec.resume()
    rec.add(a, False)
    rec.add(b, True)
    rec.close()
    n, _, (left, right) = read_wav(tmp_path / "p.wav")
    assert n == 320
    assert right[:160] == array.array("h", [0] * 160)      # evened with silence at the pause
    assert left[160:] == decode_law(a, "alaw") and right[160:] == decode_law(b, "alaw")


def test_a_discarded_recording_leaves_no_file(tmp_path):
    rec = Recording(str(tmp_path / "d.wav"))
    for _ in range(120):
        rec.add(alaw_tone(697, 160), False)
        rec.add(alaw_tone(697, 160), True)
    assert (tmp_path / "d.wav").exists()
    rec.discard()
    assert not (tmp_path / "d.wav").exists()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), max_size=80),
       st.integers(0, 3))
def test_what_comes_in_is_what_is_on_disk(tmp_path_factory, chunks, lag):
    """Any chunk sizes, the centre side up to ``lag`` chunks behind the caller side: the
    file holds both sides sample for sample, the shorter one ended with silence."""
    path = tmp_path_factory.mktemp("prop") / "r.wav"
    rec = Recording(str(path))
    rx, tx = bytearray(), bytearray()
    pending: list[bytes] = []
    for i, (nr, nt) in enumerate(chunks):
        r, t = alaw_tone(697, nr, len(rx)), alaw_tone(1209, nt, len(tx))
        rx += r
        tx += t
        rec.add(r, False)
        pending.append(t)
        if len(pending) > lag:
            rec.add(pending.pop(0), True)
    for t in pending:
        rec.add(t, True)
    rec.close()
    n, _, (left, right) = read_wav(path)
    assert n == max(len(rx), len(tx))
    pad = lambda a: a + array.array("h", [0] * (n - len(a)))     # noqa: E731
    assert left == pad(decode_law(bytes(rx), "alaw"))
    assert right == pad(decode_law(bytes(tx), "alaw"))


def test_a_server_killed_mid_call_leaves_a_playable_recording(tmp_path):
    """`cti serve` records an answered call; SIGKILL three seconds into the conversation;
    the WAV is read by wave and by sox up to about the last second."""
    home = tmp_path / "var"
    proc = subprocess.Popen([sys.executable, "-m", "cti", "serve", "--home", str(home),
                             "--speed", "4"], cwd=ROOT, env=cti_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                with Client(home, timeout=1) as c:
                    c.request("ping")
                break
            except CtiError:
                assert time.monotonic() < deadline, "cti serve did not come up"
                time.sleep(0.1)
        with Client(home, timeout=5) as c:
            c.request("agent.login", agent="1001")
            c.request("sim.call", span=1, to="4008005555", **{"from": "13800138000"})
            deadline = time.monotonic() + 15
            while not c.request("sim.phone", port=1, action="status")["ringing"]:
                assert time.monotonic() < deadline, "the agent's phone never rang"
                time.sleep(0.02)
            c.request("sim.phone", port=1, action="lift")
            c.request("sim.phone", port=1, action="dial", digits="123")
            deadline = time.monotonic() + 15
            while not c.request("call.list")["calls"] or \
                    c.request("call.list")["calls"][0]["state"] != "established":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            cid = c.request("call.list")["calls"][0]["call_id"]
            t0 = c.request("ping")["line_time"]
            while c.request("ping")["line_time"] < t0 + 3.2:
                time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    path = home / "recordings" / f"{cid}.wav"
    n, ch, _ = read_wav(path)
    assert ch == 2 and 2 * 8000 <= n <= 5 * 8000
    assert abs(soxi_seconds(path) - n / 8000) < 1e-3
    assert os.path.getsize(path) >= 44 + 4 * n


def test_a_file_that_cannot_be_written_ends_the_recording_not_the_call(tmp_path):
    (tmp_path / "recordings").write_text("a file where the directory should be")
    path = str(tmp_path / "recordings" / "c1.wav")
    rec = Recording(path)
    for _ in range(120):                          # a flush is due after 50 ticks
        rec.add(alaw_tone(697, 160), False)
        rec.add(alaw_tone(697, 160), True)
    assert rec.error and "c1.wav" in rec.error
    assert rec.close() is None                    # no file: the CDR names none
