"""DSP detectors: channels per core in real time, and DTMF beside spandsp.

Every figure is measured in this run, on the same audio: channels per core
in real time = (seconds of audio per channel x channels) / CPU seconds, with
all channels of a 20 ms tick handled by one bulk call, as the board does.

- DTMF (bench_dtmf): our detector through cffi (DtmfRxBank), then our
  detector and spandsp's dtmf_rx in one C program (bench/dtmf_spandsp.c,
  compiled here with gcc -O2 against Debian's libspandsp-dev) over the same
  ticks; prints both and their ratio (issue 5 goal: at least 1.0).
- All detectors together (bench_all): every family registered in FAMILIES
  runs on every channel of every tick (issue 5 goal: at least 2000 channels
  per core for DTMF + call progress + MFC).

The mixed audio is a third DTMF digits (our generator, random digits and
levels), a third speech (espeak-ng, or a synthetic voiced signal without
it), a third idle-channel noise (-60 dBm0); each channel starts at its own
offset in it. A worst case (white noise at -20 dBm0 on every channel, so no
half-window is quiet enough to skip) is measured too.

    python bench/dsp.py [--channels 256] [--seconds 20] [--family dtmf]
"""
from __future__ import annotations

import argparse
import array
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from drivers.dsp import DTMF_DIGITS, DtmfRxBank, dtmf_generate  # noqa: E402
from drivers.hal import ffi, lib  # noqa: E402

RATE = 8000
TICK = 160                       # 20 ms
PEAK_0DBM0 = 22827.0             # G.711: peak of a 0 dBm0 sine, 16-bit scale
CHANNEL_SHIFT = 1237             # samples between the starts of two channels' audio

SPEECH = (
    "Thank you for calling. All our agents are currently busy serving other customers. "
    "Please stay on the line and your call will be answered in turn. Press one for sales, "
    "two for support, three for billing, or hold to speak to an operator. Our office hours "
    "are Monday to Friday, nine in the morning to six in the evening."
)


# ---- audio ---------------------------------------------------------------------

def _noise(seconds: float, dbm0: float, rnd: random.Random) -> bytes:
    sd = PEAK_0DBM0 * 10 ** (dbm0 / 20) / math.sqrt(2)
    return array.array("h", [max(-32768, min(32767, int(rnd.gauss(0.0, sd))))
                             for _ in range(int(seconds * RATE))]).tobytes()


def _speech(seconds: float, workdir: str) -> bytes:
    """espeak-ng speech at 8 kHz, repeated to length; a synthetic voiced signal without it."""
    out = b""
    if shutil.which("espeak-ng") and shutil.which("sox"):
        wav = os.path.join(workdir, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "en", "-w", wav, SPEECH], check=True, capture_output=True)
        out = subprocess.run(["sox", wav, "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1",
                              "-t", "raw", "-"], check=True, capture_output=True).stdout
    if not out:
        # glottal-like pulse train through a crude formant: harmonics of 120 Hz with a 1/k roll-off
        n = int(4 * RATE)
        out = array.array("h", [int(3000 * sum(math.sin(2 * math.pi * 120 * k * t / RATE) / k
                                               for k in range(1, 25)))
                                for t in range(n)]).tobytes()
    n = int(seconds * RATE) * 2
    return (out * (n // len(out) + 1))[:n]


def mixed_audio(seconds: float, workdir: str, seed: int = 5) -> bytes:
    """A third digits, a third speech, a third idle noise, interleaved in 2 s pieces."""
    rnd = random.Random(seed)
    third = seconds / 3
    digits = b""
    while len(digits) < int(third * RATE) * 2:
        low = rnd.uniform(-25, -5)
        digits += dtmf_generate("".join(rnd.choice(DTMF_DIGITS) for _ in range(6)),
                                low, low + rnd.uniform(-3, 3), rnd.randint(45, 100), rnd.randint(45, 100))
    digits = digits[:int(third * RATE) * 2]
    speech = _speech(third, workdir)
    idle = _noise(third, -60.0, rnd)
    piece = 2 * RATE * 2
    out = []
    for i in range(0, max(len(digits), len(speech), len(idle)), piece):
        out += [digits[i:i + piece], speech[i:i + piece], idle[i:i + piece]]
    return b"".join(out)


def _for_channels(audio: bytes, channels: int) -> bytes:
    """Audio long enough that channel c can read it shifted by c * CHANNEL_SHIFT."""
    need = len(audio) + 2 * CHANNEL_SHIFT * channels
    return (audio * (need // len(audio) + 1))[:need]


# ---- detector families: bank(channels) -> run(ptr, samples, stride) per tick ----

def dtmf_bank(channels: int):
    bank = DtmfRxBank(channels)
    ptrs = bank._ptrs

    def run(ptr, samples, stride):
        if lib.dtmf_rx_bulk(ptrs, ptr, channels, samples, stride):
            bank.take()
    return run


def _bulk_bank(init, bulk, free_name, channels: int, *init_args):
    """A bank of one detector per channel run by a *_rx_bulk call each tick (MFC, call progress)."""
    states = [init(ffi.NULL, *init_args) for _ in range(channels)]
    ptrs = ffi.new(f"{free_name} *[]", states)
    out = ffi.new("int[]", channels)

    def run(ptr, samples, stride):
        bulk(ptrs, channels, ptr, stride, 1, samples, out)
    run.keep = (states, ptrs, out)
    return run


def mfc_bank(channels: int):
    """MFC R2 forward receivers (Q.441): what an incoming register runs on every channel."""
    return _bulk_bank(lib.mfc_rx_init, lib.mfc_rx_bulk, "mfc_rx_t", channels, 0)


def cpt_bank(channels: int):
    """Call-progress receivers (the Chinese tone set), as an outbound dialler runs them."""
    return _bulk_bank(lib.cpt_rx_init, lib.cpt_rx_bulk, "cpt_rx_t", channels, 0)


FAMILIES = {
    "dtmf": dtmf_bank,
    "mfc": mfc_bank,
    "cpt": cpt_bank,
}


def _ticks_through(runs, audio: bytes, channels: int, seconds: float) -> float:
    """CPU seconds for `seconds` of ticks through every run(); channel c is the audio shifted by c."""
    buf = _for_channels(audio, channels)
    base = ffi.from_buffer("int16_t[]", buf)
    ticks = int(seconds * RATE) // TICK
    span = len(audio) // 2 - TICK
    t0 = time.process_time()
    for t in range(ticks):
        ptr = base + (t * TICK) % span
        for run in runs:
            run(ptr, TICK, CHANNEL_SHIFT)
    return time.process_time() - t0


def bench_all(audio: bytes, channels: int, seconds: float, families=None) -> dict:
    """All registered detector families together on every channel: channels per core in real time."""
    names = list(families or FAMILIES)
    runs = [FAMILIES[n](channels) for n in names]
    cpu = _ticks_through(runs, audio, channels, seconds)
    return {"families": names, "channels": channels, "cpu_s": cpu,
            "channels_per_core": channels * seconds / cpu}


# ---- DTMF against spandsp ---------------------------------------------------------

def build_spandsp_harness(workdir: str) -> str | None:
    exe = os.path.join(workdir, "dtmf_spandsp")
    run = subprocess.run(["gcc", "-O2", "-I", os.path.join(ROOT, "csrc"),
                          os.path.join(ROOT, "bench", "dtmf_spandsp.c"), "-lspandsp", "-lm", "-o", exe],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print("  (spandsp harness not built: %s)" % run.stderr.strip().splitlines()[-1:], file=sys.stderr)
        return None
    return exe


def _harness(exe: str, audio: bytes, channels: int, repeats: int, workdir: str) -> dict:
    path = os.path.join(workdir, "audio.raw")
    with open(path, "wb") as f:
        f.write(audio)
    out = subprocess.run([exe, "bench", path, str(channels), str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        name, *fields = line.split()
        res[name] = {k: float(v) for k, v in (f.split("=") for f in fields)}
    return res


def bench_dtmf(audio: bytes, worst: bytes, channels: int, seconds: float, workdir: str) -> dict:
    result = {"cffi": bench_all(audio, channels, seconds, ["dtmf"]),
              "cffi_worst": bench_all(worst, channels, seconds, ["dtmf"])}
    exe = build_spandsp_harness(workdir) if shutil.which("gcc") else None
    if exe:
        reps = max(1, int(round(seconds * RATE * 2 / len(audio))))
        result["c"] = _harness(exe, audio, channels, reps, workdir)
        result["c_worst"] = _harness(exe, worst, channels, max(1, int(seconds * RATE * 2 / len(worst))),
                                     workdir)
    return result


def print_dtmf(r: dict, channels: int, seconds: float):
    print(f"DTMF detection, {channels} channels, {seconds:g} s per channel, 20 ms ticks")
    print(f"  ours through cffi, mixed audio:      {r['cffi']['channels_per_core']:10.0f} channels per core")
    print(f"  ours through cffi, worst case:       {r['cffi_worst']['channels_per_core']:10.0f} channels per core")
    for key, label in (("c", "mixed audio"), ("c_worst", "worst case (white noise)")):
        if key not in r:
            print("  spandsp: harness not available")
            continue
        o, s = r[key]["ours"], r[key]["spandsp"]
        print(f"  C harness, {label}:")
        print(f"    ours      {o['channels_rt']:10.0f} channels per core ({o['digits']:.0f} digits)")
        print(f"    spandsp   {s['channels_rt']:10.0f} channels per core ({s['digits']:.0f} digits)")
        print(f"    ratio ours/spandsp {o['channels_rt'] / s['channels_rt']:.2f} (goal >= 1.0)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of audio per channel")
    ap.add_argument("--family", choices=sorted(FAMILIES), action="append",
                    help="only these families in the all-together figure (default: all)")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the bench works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.channels, args.seconds = 16, 1.0
    with tempfile.TemporaryDirectory() as workdir:
        audio = mixed_audio(30.0, workdir)
        worst = _noise(10.0, -20.0, random.Random(9))
        r = bench_dtmf(audio, worst, args.channels, args.seconds, workdir)
        print_dtmf(r, args.channels, args.seconds)
        together = bench_all(audio, args.channels, args.seconds, args.family)
        print(f"All detectors together ({' + '.join(together['families'])}), mixed audio: "
              f"{together['channels_per_core']:.0f} channels per core in real time (goal >= 2000)")
        worst_all = bench_all(worst, args.channels, args.seconds, args.family)
        print(f"All detectors together, worst case: {worst_all['channels_per_core']:.0f} channels per core")


if __name__ == "__main__":
    main()
