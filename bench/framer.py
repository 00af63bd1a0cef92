"""How many E1 spans one core frames and deframes, as a multiple of real time.

Two software boards with N spans each are cabled together; every tick each
span end builds its frames (TS0 FAS/NFAS with CRC-4, TS16 CAS multiframe or
an idle HDLC D-channel), HDB3-codes them onto the line, and the far end
decodes HDB3, keeps frame/CRC-4/CAS alignment, checks CRC-4 and runs its
elastic store and HDLC receiver. Half the spans are CAS, half PRI.

The reference is the line itself: real time, 8000 frames a second per span.
Goal of the issue: at least 64 spans at 10x real time on one core.

    python bench/framer.py [--spans 64] [--seconds 10]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drivers.board import Board, SpanConfig  # noqa: E402
from drivers.hal import check, ffi, lib  # noqa: E402


def run(spans: int, seconds: float, tick_ms: int = 20) -> dict:
    cfgs = [SpanConfig(i, "cas" if i % 2 else "pri", crc4=True) for i in range(1, spans + 1)]
    a = Board("a", "sim", cfgs, [], tick_ms)
    b = Board("b", "sim", cfgs, [], tick_ms)
    err = ffi.new("int *")
    cables = [lib.hal_sim_cable_connect(a._b, i, b._b, i, 5, i, err) for i in range(1, spans + 1)]
    for _ in range(50):                      # come into sync first
        a.tick()
        b.tick()
    assert all(not a.spans[i].alarms() for i in a.spans), "spans did not come into sync"
    ticks = int(seconds * 1000 / tick_ms)
    t0 = time.process_time()
    for _ in range(ticks):
        check(lib.hal_board_tick(a._b), "tick a")
        check(lib.hal_board_tick(b._b), "tick b")
    cpu = time.process_time() - t0
    a.drain()
    b.drain()
    errors = sum(a.spans[i].counters()["crc4_errors"] + b.spans[i].counters()["crc4_errors"]
                 for i in a.spans)
    for c in cables:
        lib.hal_sim_cable_disconnect(c)
    a.close()
    b.close()
    line = ticks * tick_ms / 1000.0
    span_ends = 2 * spans            # each end frames and deframes its span
    # spans framed+deframed in real time by one core, counting each span end once
    per_core_rt = span_ends * line / cpu
    return {"spans": spans, "line_seconds": line, "cpu_seconds": cpu,
            "span_ends": span_ends, "realtime_spans_per_core": per_core_rt,
            "x_realtime_for_64": per_core_rt / 64.0, "crc4_errors": errors}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0, help="line time to run")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the bench works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.spans, args.seconds = 4, 0.5
    r = run(args.spans, args.seconds)
    print(f"E1 framer: {r['span_ends']} span ends ({r['spans']} spans, both ends) x "
          f"{r['line_seconds']:.1f} s of line in {r['cpu_seconds']:.3f} s CPU")
    print("  reference (real time): 1 span-second per second")
    print(f"  spans framed+deframed per core at real time: {r['realtime_spans_per_core']:.0f}")
    print(f"  ratio to real time for 64 spans: {r['x_realtime_for_64']:.1f}x (goal 10x)")
    print(f"  CRC-4 errors on clean cables: {r['crc4_errors']}")


if __name__ == "__main__":
    main()
