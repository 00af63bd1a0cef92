"""`make demo`: the board server on the simulated board, and a technician at work.

Starts `cti serve` (the embedded default: two E1 spans cabled to a simulated
exchange, eight FXS and four FXO ports), then runs the same `cti` commands a
technician would type, printing each command and what it answered: spans in
sync, noise on a cable and the CRC-4/E-bit errors it causes, a cut cable (LOS
here, RAI at the exchange), recovery, a BERT through a far-end loop, a test
tone, an ISDN call offered by the exchange and answered, traced to a pcap that
tshark dissects, and the events a desktop saw on the bus meanwhile.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

from cti.clients.client import Client, Subscriber

BOLD = "\033[1m" if sys.stdout.isatty() else ""
PLAIN = "\033[0m" if sys.stdout.isatty() else ""


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{PLAIN}", flush=True)


def cti(home: str, *args: str) -> str:
    cmd = [sys.executable, "-m", "cti", *args, "--home", home]
    print(f"$ cti {' '.join(args)}", flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).rstrip()
    if out:
        print("  " + out.replace("\n", "\n  "), flush=True)
    if r.returncode != 0:
        raise SystemExit(f"demo: `cti {' '.join(args)}` failed with exit code {r.returncode}")
    return r.stdout


def wait_line_time(client: Client, seconds: float, live=None) -> None:
    """Wait until the server's board clock has moved on by ``seconds`` of line time,
    echoing ``live`` (a `cti watch` process) meanwhile."""
    start = client.request("board.show")["line_seconds"]
    deadline = time.monotonic() + 30 + seconds * 2
    shown = 0
    while time.monotonic() < deadline:
        now = client.request("board.show")["line_seconds"]
        if live is not None:
            import select
            while select.select([live.stdout], [], [], 0)[0] and shown < 40:
                line = live.stdout.readline()
                if not line:
                    break
                print("  " + line.rstrip(), flush=True)
                shown += 1
        if now - start >= seconds:
            return
        time.sleep(0.05)
    raise SystemExit("demo: the server's board clock is not moving")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default="var/demo")
    ap.add_argument("--speed", type=float, default=1.0, help="board clock speed (1 = real time)")
    ap.add_argument("--rate", type=float, default=20.0, help="calls a minute in the traffic part")
    ap.add_argument("--traffic-speed", type=float, default=20.0,
                    help="board clock speed while the traffic runs")
    ap.add_argument("--peak-scale", type=float, default=0.2,
                    help="size of the TV-advert peak scenario at the end (1 = the whole case)")
    args = ap.parse_args(argv)
    home = args.home
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home, exist_ok=True)

    say("start the board server on the simulated board")
    log = open(os.path.join(home, "serve.log"), "w")
    server = subprocess.Popen([sys.executable, "-m", "cti", "serve", "--home", home,
                               "--speed", str(args.speed)], stdout=log, stderr=subprocess.STDOUT)
    print(f"$ cti serve --home {home} --speed {args.speed} &   (pid {server.pid})")
    seen: list[tuple[str, dict]] = []
    stop = threading.Event()
    try:
        client = Client(home)
        for _ in range(100):
            try:
                client.request("ping", timeout=0.5)
                break
            except Exception:
                if server.poll() is not None:
                    raise SystemExit("demo: the server exited; see " + log.name)
                time.sleep(0.1)
        client.wait_ready(30)      # the trunks restarted: no call of the demo is cleared

        def watch():
            with Subscriber(home, ["span.", "channel."]) as sub:
                while not stop.is_set():
                    got = sub.get(timeout=0.2)
                    if got:
                        seen.append(got)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        wait_line_time(client, 1.0)
        say("the board and its spans: in sync, no errors")
        cti(home, "board", "list")
        cti(home, "span", "show", "1")

        say("noise on span 1's cable (bit error ratio 1e-3): CRC-4 and E-bit errors climb")
        cti(home, "span", "counters", "1", "--reset")
        cti(home, "sim", "fault", "1", "--ber", "1e-3")
        wait_line_time(client, 2.0)
        cti(home, "span", "counters", "1")

        say("cut the cable towards us: LOS on our span, RAI at the exchange's end")
        cti(home, "sim", "fault", "1", "--clear")
        cti(home, "sim", "fault", "1", "--los", "--direction", "to-board")
        wait_line_time(client, 0.5)
        cti(home, "span", "alarms", "1")
        cti(home, "sim", "stats", "1")

        say("repair the cable: the span recovers within a second of line time")
        cti(home, "sim", "fault", "1", "--clear")
        wait_line_time(client, 1.0)
        cti(home, "span", "alarms", "1")

        say("BERT: the exchange loops span 2 back, noise 1e-4 on the way out, 2^15-1 pattern")
        cti(home, "sim", "loopback", "2", "--mode", "line")
        cti(home, "sim", "fault", "2", "--ber", "1e-4", "--direction", "to-exchange")
        cti(home, "span", "bert", "2", "start")
        wait_line_time(client, 5.0)
        cti(home, "span", "bert", "2", "status")
        cti(home, "span", "bert", "2", "stop")
        cti(home, "sim", "fault", "2", "--clear")
        cti(home, "sim", "loopback", "2", "--mode", "off")

        say("a 1004 Hz test tone on timeslot 1/5, looped back at the exchange, recorded and measured")
        cti(home, "sim", "loopback", "1", "--mode", "payload")
        wait_line_time(client, 0.2)
        cti(home, "channel", "tone", "1/5", "--freq", "1004", "--level", "-10", "--ms", "3000")
        wav = os.path.join(home, "tone-1-5.wav")
        cti(home, "channel", "listen", "1/5", "--seconds", "1", "--wav", wav)
        cti(home, "sim", "loopback", "1", "--mode", "off")
        if shutil.which("sox"):
            print(f"$ sox {wav} -n stat")
            r = subprocess.run(["sox", wav, "-n", "stat"], capture_output=True, text=True)
            for line in r.stderr.splitlines():
                if line.startswith(("RMS     amplitude", "Rough   frequency", "Length")):
                    print("  " + line)

        say("an ISDN call on span 1, traced: the exchange calls 4008001234 from 13800138000, "
            "the IVR answers, the caller hangs up after 2 s")
        pcap = os.path.join(home, "span1.pcap")
        print(f"$ cti trace 1 --pcap {pcap} --seconds 5 &")
        tracer = subprocess.Popen([sys.executable, "-m", "cti", "trace", "1", "--pcap", pcap,
                                   "--seconds", "5", "--home", home],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        with Subscriber(home, ["channel.offered"]) as offers:
            time.sleep(0.2)
            cti(home, "sim", "call", "1", "--from", "13800138000", "--to", "4008001234",
                "--hangup-after", "2")
            got = offers.get(timeout=10)
        if got is None:
            raise SystemExit("demo: the call was not offered to the board")
        print(f"  (a desktop saw channel.offered on {got[1]['channel']}: "
              f"ANI {got[1]['data']['ani']}, DNIS {got[1]['data']['dnis']})")
        time.sleep(0.3)
        cti(home, "pri", "list")
        cti(home, "calls", "list")
        out, _ = tracer.communicate(timeout=60)
        print("  " + out.strip())
        if shutil.which("tshark"):
            print(f"$ tshark -r {pcap} -Y q931")
            r = subprocess.run(["tshark", "-r", pcap, "-Y", "q931"], capture_output=True,
                               text=True, timeout=60)
            for line in r.stdout.splitlines():
                print("  " + line.strip())
        cti(home, "sim", "calls")

        stop.set()
        watcher.join(timeout=2)
        say(f"what a desktop subscribed to span./channel. saw: {len(seen)} events")
        for topic, ev in seen[:12]:
            detail = {k: v for k, v in ev.items() if k not in ("ts", "type")}
            print(f"  {topic:<16} {detail}")
        if len(seen) > 12:
            print(f"  ... and {len(seen) - 12} more")

        say(f"the call centre: two minutes of line time of traffic ({args.rate:g} calls a "
            f"minute) through the IVR, two queues and eight agents, run fast; live events")
        cti(home, "agents", "list")
        start_ts = client.request("ping")["ts"]
        live = subprocess.Popen([sys.executable, "-m", "cti", "watch", "call.", "agent.",
                                 "--home", home], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        print(f"(the board clock now runs {args.traffic_speed:g} times real time)")
        client.request("server.speed", speed=args.traffic_speed)
        cti(home, "sim", "traffic", "--rate", str(args.rate), "--seconds", "120")
        wait_line_time(client, 125.0, live=live)
        client.request("server.speed", speed=args.speed)
        live.terminate()
        rest, _ = live.communicate(timeout=10)
        for line in rest.splitlines()[-15:]:
            print("  " + line)
        cti(home, "calls", "list")
        cti(home, "queues")

        say("where the calls were lost: the report the manager reads")
        end_ts = client.request("ping")["ts"] + 1      # the server's clock: line time
        cti(home, "report", "losses", "--from", str(start_ts - 1), "--to", str(end_ts),
            "--html", os.path.join(home, "losses.html"))
        print(f"  (the chart for a browser: {os.path.join(home, 'losses.html')})")
        cti(home, "shutdown")
        server.wait(timeout=10)

        say(f"the TV-advert peak, old centre against new, at {args.peak_scale:g} of the case's "
            f"size (cti sim peak without --scale runs the whole case: 6 and 9 E1, 400 and "
            f"700 agents, over 7,000 calls in ten minutes)")
        cmd = ["sim", "peak", "--scale", f"{args.peak_scale:g}", "--out",
               os.path.join(home, "peak")]
        print(f"$ cti {' '.join(cmd)}", flush=True)
        r = subprocess.run([sys.executable, "-m", "cti", *cmd, "--home", home], timeout=1800)
        if r.returncode != 0:
            raise SystemExit(f"demo: `cti {' '.join(cmd)}` failed with exit code "
                             f"{r.returncode}")
        print("\ndemo done: the server log is in " + log.name)
        return 0
    finally:
        stop.set()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
