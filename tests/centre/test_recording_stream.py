"""Recordings written as they are made: the WAV on disk is readable at every moment of a
call (by Python's wave module and by sox), memory does not grow with the call's length,
and a server killed with SIGKILL mid-call leaves a playable partial recording."""
from __future__ import annotations

import array
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import wave

import pytest
from hypothesis import given, settings, strategies as st

from cti.clients.client import Client
from cti.centre import media
from cti.centre.media import FLUSH_FRAMES, Recording, decode_law
from tests.audio import alaw_tone
from tests.served import ROOT, cti_env


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
            assert media.flush(10)                 # the writer thread's part
            n, ch, _ = read_wav(path)
            assert ch == 2 and n == (tick + 1) * 160
            assert abs(soxi_seconds(path) - n / 8000) < 1e-3
    assert rec.close() == str(path)
    assert media.flush(10)
    n, ch, (left, right) = read_wav(path)
    assert n == 5 * 8000 and rec.seconds == 5.0
    assert left == decode_law(caller, "alaw") and right == decode_law(centre, "alaw")


def test_memory_does_not_grow_with_the_length_of_the_call(tmp_path):
    """Ten minutes of ticks as fast as they come: what is held is a second's buffer and
    the writer's queue, bounded in bytes (here 64 kB: this loop outruns any writer, and
    what the queue has no room for is written as silence), never the call."""
    w = media.DiskWriter(max_bytes=64 * 1024)
    rec = Recording(str(tmp_path / "long.wav"), writer=w)
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
    assert peak - base < 256 * 1024 + w.max_bytes
    assert w.peak_bytes <= w.max_bytes
    rec.close()
    assert w.close(10)
    assert os.path.getsize(tmp_path / "long.wav") == 44 + 10 * 60 * 8000 * 4


def test_voicemail_is_mono_and_bounded(tmp_path):
    rec = Recording(str(tmp_path / "vm.wav"), stereo=False, max_seconds=2.0)
    chunk = alaw_tone(697, 160)
    for _ in range(200):                            # 4 s offered, 2 s kept
        rec.add(chunk, sent=False)
        rec.add(alaw_tone(1209, 160), sent=True)    # what the caller hears: not in it
    assert rec.full
    rec.close()
    assert media.flush(10)
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
    assert media.flush(10)
    n, _, (left, right) = read_wav(tmp_path / "p.wav")
    assert n == 320
    assert right[:160] == array.array("h", [0] * 160)      # evened with silence at the pause
    assert left[160:] == decode_law(a, "alaw") and right[160:] == decode_law(b, "alaw")


def test_a_discarded_recording_leaves_no_file(tmp_path):
    rec = Recording(str(tmp_path / "d.wav"))
    for _ in range(120):
        rec.add(alaw_tone(697, 160), False)
        rec.add(alaw_tone(697, 160), True)
    assert media.flush(10)
    assert (tmp_path / "d.wav").exists()
    rec.discard()
    assert media.flush(10)
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
    assert media.flush(10)
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
        with Client(home, timeout=1) as c:
            c.wait_ready(30)       # a call offered sooner is cleared by the start-up restart
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
    # about a second is held on the tick and the writer may trail on a loaded machine
    assert ch == 2 and 1 * 8000 <= n <= 5 * 8000
    assert abs(soxi_seconds(path) - n / 8000) < 1e-3
    assert os.path.getsize(path) >= 44 + 4 * n


def test_a_file_that_cannot_be_written_ends_the_recording_not_the_call(tmp_path):
    (tmp_path / "recordings").write_text("a file where the directory should be")
    path = str(tmp_path / "recordings" / "c1.wav")
    rec = Recording(path)
    for _ in range(120):                          # a flush is due after 50 ticks
        rec.add(alaw_tone(697, 160), False)
        rec.add(alaw_tone(697, 160), True)
    assert media.flush(10)
    assert rec.error and "c1.wav" in rec.error
    assert rec.close() is None                    # no file: the CDR names none


# ---- the disk work off the tick (ARCHITECTURE rule 8) ------------------------------------

def _talk(recs, seconds, caller=None, centre=None):
    """``seconds`` of ticks on every recording, as CallMedia.audio feeds them; the time each
    add took that handed a block to the writer (the tick's part of a disk write)."""
    handover = []
    ta, tb = alaw_tone(697, 160), alaw_tone(1209, 160)
    for tick in range(int(seconds * 50)):
        for rec in recs:
            a = caller[tick * 160:(tick + 1) * 160] if caller else ta
            b = centre[tick * 160:(tick + 1) * 160] if centre else tb
            rec.add(a, False)
            before = rec._frames
            t0 = time.perf_counter()
            rec.add(b, True)
            dt = time.perf_counter() - t0
            if rec._frames != before:
                handover.append(dt)
    return handover


def test_a_slow_disk_does_not_slow_the_tick(tmp_path, monkeypatch):
    """Every write of the writer thread takes 10 ms (a disk that stalls): the tick's part
    of handing a second's block over stays in the microseconds, and the writer, behind,
    still completes every file."""
    real = media._WavFile._pwrite

    def slow(self, data, offset):
        time.sleep(0.010)
        real(self, data, offset)

    monkeypatch.setattr(media._WavFile, "_pwrite", slow)
    w = media.DiskWriter()
    recs = [Recording(str(tmp_path / f"c{i}.wav"), writer=w) for i in range(20)]
    t0 = time.perf_counter()
    handover = _talk(recs, 3)
    spent = time.perf_counter() - t0
    assert len(handover) == 20 * 3
    # done on the tick, each of these 60 writes (and 60 header rewrites) would take 10 ms
    assert sorted(handover)[len(handover) // 2] < 200e-6, sorted(handover)
    assert spent < 0.5, spent
    assert w.queued_bytes > 0                      # the writer is behind: nothing waited
    paths = [r.close() for r in recs]
    assert paths == [str(tmp_path / f"c{i}.wav") for i in range(20)]
    assert w.close(30)
    for p in paths:
        n, ch, _ = read_wav(p)
        assert (n, ch) == (3 * 8000, 2)
    assert w.dropped_jobs == 0 and w.errors == 0


def test_the_queue_is_bounded_in_bytes_and_drops_are_counted_and_silent(tmp_path,
                                                                       monkeypatch, caplog):
    """The writer stalls (its first write waits); ten calls go on for five seconds. The
    queue takes four blocks of a second (64 kB bound, 16 kB each) and refuses the rest
    without waiting; each refused block is counted and becomes a second of silence, so
    every file still has the call's length, the kept seconds sample for sample."""
    gate = threading.Event()
    real = media._WavFile._pwrite

    def stalled(self, data, offset):
        assert gate.wait(30)
        real(self, data, offset)

    monkeypatch.setattr(media._WavFile, "_pwrite", stalled)
    monkeypatch.setattr(media, "_drop_logged", float("-inf"))
    w = media.DiskWriter(max_bytes=4 * 16000)
    recs = [Recording(str(tmp_path / f"c{i}.wav"), writer=w) for i in range(10)]
    caller, centre = alaw_tone(697, 5 * 8000), alaw_tone(1209, 5 * 8000)
    _talk(recs, 5, caller, centre)
    assert w.peak_bytes <= w.max_bytes and w.queued_bytes == 4 * 16000
    assert w.dropped_jobs == 5 * 10 - 4 and w.dropped_bytes == 46 * 16000
    assert [r.dropped_frames for r in recs] == [4 * 8000] * 4 + [5 * 8000] * 6
    paths = [r.close() for r in recs]               # the close is never refused
    caplog.set_level("WARNING", logger="cti.media")
    gate.set()
    assert w.close(30)
    silence = array.array("h", [0] * 8000)
    for i, p in enumerate(paths):
        n, ch, (left, right) = read_wav(p)
        assert (n, ch) == (5 * 8000, 2)
        kept = 1 if i < 4 else 0                    # the first second of the first four
        assert left[:kept * 8000] == decode_law(caller[:kept * 8000], "alaw")
        assert right[:kept * 8000] == decode_law(centre[:kept * 8000], "alaw")
        for s in range(kept, 5):
            assert left[s * 8000:(s + 1) * 8000] == silence
            assert right[s * 8000:(s + 1) * 8000] == silence
    # one warning for the lot (they come at most every DROP_LOG_INTERVAL s)
    assert sum("audio dropped" in r.getMessage() for r in caplog.records
               if r.name == "cti.media") == 1
    assert w.errors == 0 and w.queued_bytes == 0


def test_a_write_error_ends_that_recording_only(tmp_path, monkeypatch, caplog):
    """The disk fills up under one recording two seconds in: that recording ends (its file
    readable up to the last header written), counted and logged on ``cti.media``; the
    other recording on the same writer goes on to the end."""
    import errno

    real = media._WavFile._pwrite

    def full(self, data, offset):
        if self.path.endswith("full.wav") and offset >= 44 + 2 * 8000 * 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, data, offset)

    monkeypatch.setattr(media._WavFile, "_pwrite", full)
    caplog.set_level("ERROR", logger="cti.media")
    w = media.DiskWriter()
    bad, good = Recording(str(tmp_path / "full.wav"), writer=w), \
        Recording(str(tmp_path / "ok.wav"), writer=w)
    _talk([bad, good], 3)
    assert w.flush(10)
    assert bad.error and "No space left" in bad.error
    _talk([bad, good], 2)                           # the error is met at the next handover
    assert bad._closed and len(bad._rx) == 0
    assert bad.close() is None and good.close() == str(tmp_path / "ok.wav")
    assert w.close(10)
    assert read_wav(tmp_path / "full.wav")[0] == 2 * 8000
    assert read_wav(tmp_path / "ok.wav")[0] == 5 * 8000
    assert w.errors == 1
    logged = [r for r in caplog.records if r.name == "cti.media"]
    assert len(logged) == 1 and "full.wav" in logged[0].getMessage()


KILLED_WRITER = r"""
import sys, time
from cti.centre.media import Recording
from tests.audio import alaw_tone
rec = Recording(sys.argv[1])
caller, centre = alaw_tone(697, 8000 * 60), alaw_tone(1209, 8000 * 60)
for tick in range(60 * 50):
    rec.add(caller[tick * 160:(tick + 1) * 160], False)
    rec.add(centre[tick * 160:(tick + 1) * 160], True)
    if tick % 50 == 49:
        print(tick // 50 + 1, flush=True)
    time.sleep(0.004)
"""


def test_a_process_killed_while_its_writer_writes_leaves_a_readable_wav(tmp_path):
    """A recording written by the writer thread at several times real time; SIGKILL at
    some moment after three seconds: the WAV is read by wave and by sox, and what it holds
    is what was given, sample for sample."""
    path = tmp_path / "k.wav"
    env = cti_env()
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if int(line) >= 3:
                break
        time.sleep(0.137)                           # between two handovers, or in one
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    n, ch, (left, right) = read_wav(path)
    assert ch == 2 and 2 * 8000 <= n <= 60 * 8000 and n % 8000 == 0
    assert abs(soxi_seconds(path) - n / 8000) < 1e-3
    assert left == decode_law(alaw_tone(697, n), "alaw")
    assert right == decode_law(alaw_tone(1209, n), "alaw")


def test_close_returns_at_once_and_a_clean_stop_of_serve_completes_the_file(tmp_path,
                                                                           monkeypatch):
    """The writer is slow (each write waits until the server is up, then 0.5 s more):
    ``close`` returns the path at once, the file not yet complete; ``serve()`` started
    while the writer is still at it and stopping after a tenth of a second of line time
    leaves it complete."""
    import asyncio

    from cti.server.config import load_config
    from cti.server.loop import serve

    real = media._WavFile._pwrite
    up = threading.Event()       # (a fixed delay raced the server's start on a busy machine)

    def slow(self, data, offset):
        up.wait(30)
        time.sleep(0.5)
        real(self, data, offset)

    rec = Recording(str(tmp_path / "s.wav"))        # the process's writer, as the centre's
    assert media.flush(10)                          # (opened)
    monkeypatch.setattr(media._WavFile, "_pwrite", slow)
    _talk([rec], 1)
    t0 = time.perf_counter()
    assert rec.close() == str(tmp_path / "s.wav")
    assert time.perf_counter() - t0 < 0.05
    cfg = load_config(home=tmp_path / "var")
    busy = []
    asyncio.run(serve(cfg, speed=1.0, seconds=0.1, log=lambda m: None,
                      ready=lambda s: (busy.append(not media.default_writer().flush(0)),
                                       up.set())))
    assert busy == [True]                           # (else this proves nothing)
    n, ch, _ = read_wav(tmp_path / "s.wav")
    assert (n, ch) == (8000, 2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=40), st.integers(0, 6))
def test_what_the_queue_takes_is_on_disk_and_what_it_drops_is_silence(tmp_path_factory, chunks,
                                                                      room):
    """The writer held back until the call ends, its queue room for ``room`` seconds; any
    chunk sizes, both sides alike: every frame on disk is the audio given at its place in
    the call, or, in a block the queue had no room for, silence on both sides (A-law
    decodes to no 0), and those are the frames counted as dropped."""
    gate = threading.Event()
    w = media.DiskWriter(max_bytes=room * 16000)
    w.submit(type("Gate", (), {"wait": lambda self: gate.wait(30)})(), "wait")
    path = tmp_path_factory.mktemp("drop") / "r.wav"
    rec = Recording(str(path), writer=w)
    rx, tx = bytearray(), bytearray()
    for nr in chunks:
        r, t = alaw_tone(697, nr, len(rx)), alaw_tone(1209, nr, len(tx))
        rec.add(r, False)
        rec.add(t, True)
        rx += r
        tx += t
    rec.close()
    gate.set()
    assert w.close(30)
    assert w.peak_bytes <= w.max_bytes
    n, _, (left, right) = read_wav(path)
    assert n == len(rx) == round(rec.seconds * 8000)
    want_l, want_r = decode_law(bytes(rx), "alaw"), decode_law(bytes(tx), "alaw")
    silent = [i for i in range(n) if left[i] == 0 and right[i] == 0]
    assert len(silent) == rec.dropped_frames
    if w.max_bytes >= 2 * len(rx):
        assert not silent                           # room for the whole call
    kept = set(range(n)) - set(silent)
    assert all(left[i] == want_l[i] and right[i] == want_r[i] for i in kept)
