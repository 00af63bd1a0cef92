"""The board tick's cost of recording (issue 14 rule 8: the tick never waits on a disk).

700 recorded calls (the TV peak's 700 agents), each adding a tick's 160 bytes of G.711
both ways every 20 ms tick, as ``CallMedia.audio`` does; the calls start spread over a
second, so about 14 of them hand a second's block over in each tick. The ticks are paced
in real time (the rest of the 20 ms is left to the writer thread, as ``cti serve``
leaves it) and the part each tick spends in ``Recording.add`` is timed.

Figures: that part per tick, p50/p99/max (ms); ticks over 20 ms; the writer's queue peak
and drops; every WAV checked complete at the end.

    python bench/recording.py [--calls 700] [--seconds 20] [--dir DIR] [--quick]

``--quick`` (CI): 100 calls for 3 s. To compare with another tree, run a copy of this
file from outside ``bench/`` with that tree on ``PYTHONPATH`` ( the API is the same: ``Recording(path).add(data, sent)``, ``close()``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import wave

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from cti.centre import media  # noqa: E402
from cti.centre.media import Recording  # noqa: E402

TICK = 0.020


def run(calls: int, seconds: float, directory: str) -> dict:
    chunk = bytes(range(80, 240))                   # 160 A-law characters, not silence
    recs = [Recording(os.path.join(directory, f"c{i}.wav")) for i in range(calls)]
    ticks = int(seconds / TICK)
    cost = []
    t_next = time.perf_counter()
    for tick in range(ticks):
        t0 = time.perf_counter()
        for i, rec in enumerate(recs):
            # call i starts at tick i % 50: its blocks fall due in its own tick of the second
            if tick >= i % 50:
                rec.add(chunk, False)
                rec.add(chunk, True)
        t1 = time.perf_counter()
        cost.append(t1 - t0)
        t_next += TICK
        delay = t_next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    w = media.default_writer() if hasattr(media, "default_writer") else None
    steady_peak = w.stats()["peak_bytes"] if w is not None else None
    t0 = time.perf_counter()
    for rec in recs:
        rec.close()
    close_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    if hasattr(media, "flush"):
        assert media.flush(60), "the writer did not finish in 60 s"
    flush_s = time.perf_counter() - t0
    frames = []
    for rec in recs:
        with wave.open(rec.path) as wav:
            frames.append(wav.getnframes())
    ms = sorted(c * 1e3 for c in cost)
    out = {"calls": calls, "ticks": ticks,
           "p50_ms": statistics.median(ms), "p99_ms": ms[int(0.99 * (len(ms) - 1))],
           "max_ms": ms[-1], "over_20ms": sum(m > 20 for m in ms),
           "close_all_ms": close_ms, "flush_s": flush_s,
           "frames_ok": all(f == int(round(r.seconds * 8000)) for f, r in zip(frames, recs))}
    if w is not None:
        st = w.stats()
        out.update(queue_peak_kB=steady_peak / 1024, close_peak_kB=st["peak_bytes"] / 1024,
                   dropped_blocks=st["dropped_jobs"], errors=st["errors"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=700)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--dir", default=None, help="where the WAVs go (default: a temporary "
                    "directory under /var/tmp, a disk rather than tmpfs)")
    ap.add_argument("--quick", action="store_true", help="CI: 100 calls, 3 s")
    a = ap.parse_args(argv)
    if a.quick:
        a.calls, a.seconds = 100, 3.0
    with tempfile.TemporaryDirectory(dir=a.dir or "/var/tmp", prefix="bench-rec-") as d:
        r = run(a.calls, a.seconds, d)
    print(f"{r['calls']} recorded calls, {r['ticks']} ticks of 20 ms "
          f"({'writer thread' if hasattr(media, 'flush') else 'writes on the tick'})")
    print(f"  Recording.add per tick: p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms, "
          f"max {r['max_ms']:.3f} ms; ticks over 20 ms: {r['over_20ms']}")
    print(f"  close of all: {r['close_all_ms']:.1f} ms on the tick; writer done "
          f"{r['flush_s']:.2f} s after")
    if "queue_peak_kB" in r:
        print(f"  writer queue peak {r['queue_peak_kB']:.0f} kB while the calls went on, "
              f"{r['close_peak_kB']:.0f} kB with all closed at once; dropped blocks "
              f"{r['dropped_blocks']}, errors {r['errors']}")
    print(f"  every WAV's frames match the audio given: {r['frames_ok']}")
    return 0 if r["frames_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
