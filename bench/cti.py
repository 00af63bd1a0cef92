"""CTI throughput: events through the bus and CDRs into the store, against raw pyzmq and
raw sqlite3 measured in the same run (issue 6, "Done when").

(a) Events: N events go through ``cti.server.bus`` (``EventLog.append`` numbers and rings them,
    ``Publisher.send`` puts topic + JSON on a PUB socket over ipc in a temporary
    directory) to a SUB socket in another thread that decodes and counts every one and
    checks that ``seq`` runs 1..N without a gap. The reference is raw pyzmq: the same
    event dicts ``json.dumps``-ed and sent as two frames on a PUB socket, a SUB that
    ``json.loads`` each. Both sides use unlimited high-water marks so nothing is dropped
    (the bench measures throughput, not the drop policy), and both wait for the
    subscription to arrive before the clock starts.
(b) CDRs: ``Store.add_cdr`` N rows, each committed before the call returns, in WAL mode,
    against raw ``sqlite3`` inserting the same rows, one commit per row, into a file with
    the same schema and pragmas (journal_mode=WAL, synchronous as given; FULL, the
    store's default, syncs the WAL at every commit).

Each round measures both sides: the bus back to back (alternating which goes first),
the CDRs in alternating blocks of 250 rows; the figures are medians over the rounds,
so a burst of disk or CPU load from elsewhere moves one round, not the result. The bus
is also given per CPU second of the process (publisher, subscriber thread and the
ZeroMQ I/O thread together).

    python bench/cti.py [--events 100000] [--cdrs 5000] [--rounds 5] [--synchronous FULL]
"""
import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import zmq  # noqa: E402

from cti.server.bus import EventLog, Publisher, decode  # noqa: E402
from cti.store.sqlite import Store, _CDR_FIELDS, _CDR_INSERT  # noqa: E402


def _event_args(i: int) -> dict:
    return {"type": "call.delivered", "topic": "call.delivered", "channel": f"1/{1 + i % 30}",
            "call_id": f"c{i}", "ani": "13800138000", "dnis": "4008001234",
            "queue": "sales", "agent": f"{1000 + i % 400}", "data": {"order": i}}


def _pair(ctx, tmp: str, name: str):
    url = f"ipc://{tmp}/{name}.sock"
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(url)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(url)
    # The slow joiner: send probes until the subscriber has one.
    while True:
        pub.send_multipart([b"sync", b"{}"])
        if sub.poll(10):
            break
    while sub.poll(50):  # drain the probes
        sub.recv_multipart()
    return pub, sub


def _receive(sub, n: int, decode_fn, result: dict) -> None:
    count = 0
    last_seq = 0
    gaps = 0
    while count < n:
        frames = sub.recv_multipart()
        if frames[0] == b"sync" or frames[0].startswith(b"desk."):
            continue            # (an agent's desk copy: its subscriber's, counted as sent)
        _topic, ev = decode_fn(frames)
        count += 1
        if ev["seq"] != last_seq + 1:
            gaps += 1
        last_seq = ev["seq"]
    result.update(received=count, gaps=gaps, t_end=time.perf_counter())


def _run_events(n: int, tmp: str, ours: bool) -> dict:
    ctx = zmq.Context()
    pub, sub = _pair(ctx, tmp, "ours" if ours else "raw")
    result: dict = {}
    if ours:
        rx = threading.Thread(target=_receive, args=(sub, n, decode, result))
    else:
        rx = threading.Thread(target=_receive, args=(
            sub, n, lambda f: (f[0].decode(), json.loads(f[1])), result))
    rx.start()
    c0 = time.process_time()
    t0 = time.perf_counter()
    if ours:
        log, publisher = EventLog(10000), Publisher(pub)
        for i in range(n):
            a = _event_args(i)
            publisher.send(log.append(1000.0 + i * 0.001, **a))
    else:
        for i in range(n):
            a = _event_args(i)
            ev = {"seq": i + 1, "ts": round(1000.0 + i * 0.001, 6), "type": a.pop("type")}
            topic = a.pop("topic")
            ev.update(a)
            pub.send_multipart([topic.encode(), json.dumps(ev, separators=(",", ":")).encode()],
                               flags=zmq.NOBLOCK)
    rx.join(timeout=120)
    if rx.is_alive():
        raise SystemExit(f"the subscriber is stuck after {result.get('received', '?')} events")
    cpu = time.process_time() - c0
    pub.close()
    sub.close()
    ctx.term()
    secs = result["t_end"] - t0
    assert result["received"] == n and result["gaps"] == 0, result
    return {"events": n, "seconds": secs, "per_second": n / secs, "per_cpu_second": n / cpu}


def _cdr(i: int) -> dict:
    start = 1000.0 + i * 3.0
    return {"call_id": f"bench-{i}", "direction": "in", "trunk": f"1/{1 + i % 30}",
            "ani": "13800138000", "dnis": "4008001234", "start": start, "answer": start + 12.0,
            "end": start + 200.0, "outcome": "answered", "cause": 16, "queue": "sales",
            "agent": str(1000 + i % 400), "ivr_path": "main/orders", "wait": 10.5,
            "data": {"order": i}}


def _raw_insert(conn: sqlite3.Connection, r: dict) -> None:
    """The reference: the same row straight into sqlite3, no checks. The values follow
    the store's column list, so a column added to the CDR cannot break the reference."""
    answer = r["answer"]
    row = dict(r, duration=r["end"] - r["start"], billsec=r["end"] - answer,
               data=json.dumps(r["data"], separators=(",", ":"), sort_keys=True))
    conn.execute(_CDR_INSERT, tuple(row.get(f) for f in _CDR_FIELDS))
    conn.commit()


def _run_cdrs(n: int, tmp: str, synchronous: str, block: int = 250) -> dict:
    """Both sides write into their own file, in alternating blocks of ``block`` rows,
    so a burst of disk load from elsewhere lands on both alike."""
    rows = [_cdr(i) for i in range(n)]
    store = Store(os.path.join(tmp, "store.db"), synchronous=synchronous)
    raw_path = os.path.join(tmp, "raw.db")
    Store(raw_path, synchronous=synchronous).close()  # the same schema
    conn = sqlite3.connect(raw_path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    ours = raw = 0.0
    for b in range(0, n, block):
        chunk = rows[b:b + block]
        first_raw = (b // block) % 2 == 0
        for side in ((True, False) if first_raw else (False, True)):
            t0 = time.perf_counter()
            if side:
                for r in chunk:
                    _raw_insert(conn, r)
                raw += time.perf_counter() - t0
            else:
                for r in chunk:
                    store.add_cdr(r)
                ours += time.perf_counter() - t0
    assert store.count("cdr") == n
    assert conn.execute("SELECT count(*) FROM cdr").fetchone()[0] == n
    store.close()
    conn.close()
    return {"cti": n / ours, "raw": n / raw}


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m])


def run(events: int, cdrs: int, synchronous: str, rounds: int = 5) -> dict:
    """``rounds`` rounds, each measuring both sides (for the bus, which goes first
    alternates; CDRs interleave in blocks); figures are medians over the rounds."""
    bus: dict[str, list] = {k: [] for k in ("cti", "raw", "ratio", "cti_cpu", "raw_cpu",
                                            "cpu_ratio")}
    db: dict[str, list] = {"cti": [], "raw": [], "ratio": []}
    for i in range(rounds):
        with tempfile.TemporaryDirectory(prefix="cti-bench-") as tmp:
            order = (False, True) if i % 2 == 0 else (True, False)
            got = {ours: _run_events(events, tmp, ours) for ours in order}
            bus["cti"].append(got[True]["per_second"])
            bus["raw"].append(got[False]["per_second"])
            bus["ratio"].append(bus["cti"][-1] / bus["raw"][-1])
            bus["cti_cpu"].append(got[True]["per_cpu_second"])
            bus["raw_cpu"].append(got[False]["per_cpu_second"])
            bus["cpu_ratio"].append(bus["cti_cpu"][-1] / bus["raw_cpu"][-1])
            r = _run_cdrs(cdrs, tmp, synchronous)
            db["cti"].append(r["cti"])
            db["raw"].append(r["raw"])
            db["ratio"].append(r["cti"] / r["raw"])
    return {
        "rounds": rounds,
        "bus": {"events": events, "cti_per_second": _median(bus["cti"]),
                "raw_pyzmq_per_second": _median(bus["raw"]), "ratio": _median(bus["ratio"]),
                "ratios": bus["ratio"],
                "cti_per_cpu_second": _median(bus["cti_cpu"]),
                "raw_pyzmq_per_cpu_second": _median(bus["raw_cpu"]),
                "cpu_ratio": _median(bus["cpu_ratio"]), "cpu_ratios": bus["cpu_ratio"]},
        "store": {"cdrs": cdrs, "synchronous": synchronous,
                  "cti_per_second": _median(db["cti"]),
                  "raw_sqlite3_per_second": _median(db["raw"]), "ratio": _median(db["ratio"]),
                  "ratios": db["ratio"]},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--cdrs", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the bench works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.events, args.cdrs, args.rounds = 5000, 200, 1
    r = run(args.events, args.cdrs, args.synchronous, args.rounds)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    b, s = r["bus"], r["store"]
    print(f"bus:   cti.server.bus {b['cti_per_second']:>9,.0f} events/s, raw pyzmq "
          f"{b['raw_pyzmq_per_second']:>9,.0f} events/s, ratio {b['ratio']:.2f} "
          f"(median of {r['rounds']}: {', '.join(f'{x:.2f}' for x in b['ratios'])}; "
          f"{b['events']} events a round, none lost, seq gap-free)")
    print(f"       per CPU second (both threads): cti.server.bus {b['cti_per_cpu_second']:>9,.0f}, raw "
          f"pyzmq {b['raw_pyzmq_per_cpu_second']:>9,.0f}, ratio {b['cpu_ratio']:.2f} "
          f"({', '.join(f'{x:.2f}' for x in b['cpu_ratios'])})")
    print(f"store: Store   {s['cti_per_second']:>9,.0f} CDRs/s,   raw sqlite3 "
          f"{s['raw_sqlite3_per_second']:>7,.0f} CDRs/s,   ratio {s['ratio']:.2f} "
          f"(median of {r['rounds']}: {', '.join(f'{x:.2f}' for x in s['ratios'])}; "
          f"WAL, synchronous={s['synchronous']}, one commit per CDR)")


if __name__ == "__main__":
    main()
