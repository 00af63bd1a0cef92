"""What the PUB socket's queues to many desktops cost in memory, and that it stops growing.

``cti serve`` publishes on one PUB socket to every desktop (bench/soak.py: 700 agents,
each a SUB on its own ``agent.<id>.`` topic). libzmq queues a subscriber's messages in a
pipe of chunks of 256 message slots (its ``message_pipe_granularity``); a chunk's pages
are touched as its slots are first written, and the pipe keeps one spare chunk when the
reader moves on. So each subscriber's pipe grows its memory over its first few hundred
messages and then reuses it: the server's RSS creeps up while the desktops' pipes warm
(a desktop gets about 50 events an hour of line time at 150 calls a minute, so this
takes hours) and is flat after.

This measures it on the bare sockets, in one process (both ends of each pipe, so the
server's share is about half): 700 SUB sockets on their own topics, one message to each
per round, every one read. The reference is the growth over the first 300 messages a
subscriber (the warm-up); the figure is the growth after it, as a ratio of that.

    python bench/pubpipes.py [--subscribers N] [--messages M]
    python bench/pubpipes.py --quick                 # 100 subscribers (CI)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

WARM = 300          # messages a subscriber after which its pipe has all the chunks it keeps


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=700)
    ap.add_argument("--messages", type=int, default=1200, help="messages to each subscriber")
    ap.add_argument("--quick", action="store_true", help="100 subscribers, 600 messages (CI)")
    args = ap.parse_args(argv)
    if args.quick:
        args.subscribers, args.messages = 100, 600
    import zmq

    path = os.path.join(tempfile.mkdtemp(prefix="bench-pubpipes-"), "events.sock")
    ep = f"ipc://{path}"
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 4096)           # as cti.server.bus.PUB_HWM
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(ep)
    sctx = zmq.Context(io_threads=2)
    subs = []
    for i in range(args.subscribers):
        s = sctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SUBSCRIBE, f"agent.{i}.".encode())
        s.connect(ep)
        subs.append(s)
    time.sleep(1.0 + args.subscribers / 500)    # the subscriptions reach the PUB side
    # an agent event as the server sends it (about 200 bytes of JSON)
    body = (b'{"seq":123456,"ts":1795464000.02,"type":"agent.state","agent":"1001",'
            b'"state":"ringing","call_id":"srv-1-123","queue":"orders","ani":"13800138000",'
            b'"dnis":"4008001234","data":{"order":"A-1"}}')

    def drain():
        n = 0
        for s in subs:
            while s.poll(0):
                s.recv_multipart()
                n += 1
        return n

    start = rss_mib()
    print(f"{args.subscribers} subscribers on their own topics; RSS at start {start:.1f} MiB")
    print(f"{'msgs/sub':>9} {'RSS MiB':>8}")
    at_warm = None
    samples = []
    for rnd in range(1, args.messages + 1):
        for i in range(args.subscribers):
            pub.send_multipart([f"agent.{i}.state".encode(), body])
        drain()
        if rnd % 100 == 0 or rnd == WARM:
            time.sleep(0.1)
            drain()
            r = rss_mib()
            samples.append((rnd, r))
            if rnd == WARM:
                at_warm = r
            if rnd % 100 == 0:
                print(f"{rnd:9d} {r:8.1f}", flush=True)
    end = samples[-1][1]
    warmup, after = at_warm - start, end - at_warm
    per_sub = 1024 * warmup / args.subscribers
    print(f"warm-up (first {WARM} messages a subscriber): +{warmup:.1f} MiB, "
          f"{per_sub:.0f} KiB a subscriber (both ends of its pipe)")
    print(f"after it ({args.messages - WARM} more a subscriber): {after:+.1f} MiB; "
          f"ratio to the warm-up: {after / warmup if warmup else float('nan'):+.3f} "
          f"(flat: |ratio| under 0.1)")
    for s in subs:
        s.close(0)
    pub.close(0)
    sctx.term()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
