"""Full ISDN PRI call cycles per CPU second, through both stacks and the framer.

One span of our board (Q.921/Q.931 user side) is cabled to the simulated
exchange (network side). The exchange keeps all 30 B-channels busy with
calls: SETUP, CALL PROCEEDING, ALERTING, CONNECT, CONNECT ACKNOWLEDGE, then
the exchange clears (DISCONNECT, RELEASE, RELEASE COMPLETE) and offers the
next. Every message crosses Q.931, Q.921, HDLC, the E1 framer and HDB3 on
the virtual cable, both ways.

The reference is what the busiest E1 can carry: 30 B-channels, each turning
over one call a second (far beyond any real holding time), i.e. 30 call
cycles per second; the ratio says how many such spans one core signals.

    python bench/pri.py [--seconds 60]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drivers.board import SpanConfig  # noqa: E402
from drivers.sig.pri import CallCleared, CallOffered, DChannelUp  # noqa: E402
from simulators.world import SimWorld  # noqa: E402

BUSIEST_E1_CYCLES_PER_SECOND = 30.0


def run(line_seconds: float) -> dict:
    w = SimWorld(spans=[SpanConfig(1)], ports=[], signalling=True, seed=5)
    up = False
    for _ in range(250):
        if any(isinstance(e, DChannelUp) for e in w.tick()):
            up = True
            break
    assert up, "the D-channel did not come up"
    pri = w.pri[1]
    cycles = 0
    ticks = int(line_seconds * 1000 / w.tick_ms)
    t0 = time.process_time()
    for _ in range(ticks):
        free = len(w.exchange_pri[1].q931.free_channels())
        for i in range(min(free, 30 - len(w.calls.calls))):
            w.calls.offer_call(1, "13800138000", "4008001234", hangup_after_ms=0)
        now = w.board.line_seconds
        for ev in w.tick():
            if isinstance(ev, CallOffered):
                pri.answer(now, ev.call)
            elif isinstance(ev, CallCleared):
                cycles += 1
    cpu = time.process_time() - t0
    w.close()
    return {"line_seconds": ticks * w.tick_ms / 1000, "cpu_seconds": cpu, "cycles": cycles,
            "cycles_per_cpu_second": cycles / cpu,
            "cycles_per_line_second": cycles / (ticks * w.tick_ms / 1000)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="line time to run")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the bench works (CI)")
    args = ap.parse_args()
    r = run(2.0 if args.quick else args.seconds)
    print(f"PRI: {r['cycles']} full call cycles in {r['line_seconds']:.0f} s of line time, "
          f"{r['cpu_seconds']:.2f} s CPU ({r['cycles_per_line_second']:.1f} cycles per line second)")
    print(f"  call cycles per CPU second: {r['cycles_per_cpu_second']:.0f}")
    print(f"  reference: the busiest E1, 30 channels each turning a call over every second = "
          f"{BUSIEST_E1_CYCLES_PER_SECOND:.0f} cycles/s")
    print(f"  ratio: {r['cycles_per_cpu_second'] / BUSIEST_E1_CYCLES_PER_SECOND:.1f}x "
          f"(spans that busy one core can signal)")


if __name__ == "__main__":
    main()
