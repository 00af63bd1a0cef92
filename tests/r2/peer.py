"""Drive openr2 as an MFC/R2 peer from tests: the Python side of tests/r2/r2_peer.c.

An :class:`R2Peer` runs one ``r2_peer`` process (one openr2 1.3.3 context, one channel) and
owns the ``AF_UNIX``/``SOCK_SEQPACKET`` socketpair that stands in for the channel's E1
timeslot: ``r2_peer`` overrides ``ioctl()``/``read()``/``write()`` so that openr2's DAHDI
calls reach this socket instead of a kernel driver. One message per datagram:

* ``b"C" + bytes([abcd])``: line signalling (ITU-T Q.421 / China No.1 CAS), the four bits
  as an int with a = 8, b = 4, c = 2, d = 1 (DAHDI's order, also ``Channel.cas_tx``'s).
* ``b"A" + alaw``: voice-band audio, A-law (G.711), 8000 samples/s; the MFC R2 register
  signals (ITU-T Q.441) travel here.

openr2 writes as many samples as it reads (a DAHDI channel is clocked by the line), so
whoever feeds it audio is its clock: :class:`Bridge` sends each peer one 20 ms frame
(160 samples) per 20 ms step and carries the CAS bits as they change.

Every wait is bounded; the harness process is killed when the peer is closed or
garbage-collected. Tests import this as ``from r2.peer import R2Peer`` (pytest puts
``tests/`` on sys.path).
"""
from __future__ import annotations

import glob
import os
import threading
import time
from typing import Any

from tests.peer_process import PeerProcess, c_compiler, harness, parse_event as _parse_event

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "r2_peer.c")

DEFAULT_TIMEOUT = 5.0
#: Samples per bridge step: 20 ms at 8 kHz.
FRAME = 160
STEP = 0.020
#: A-law code of the smallest positive sample (G.711 idle pattern after even-bit inversion).
ALAW_SILENCE = 0xD5

VARIANTS = ("ITU", "CN", "BR", "MX", "AR", "CZ", "CO", "EC", "ID", "PH", "VE")


class R2PeerUnavailable(RuntimeError):
    """The harness cannot be built here (no gcc, libopenr2-dev or dahdi/user.h): skip."""


class R2PeerError(RuntimeError):
    """The harness answered ERROR, died, or an awaited event never came."""

def dahdi_include_dir() -> str | None:
    """Directory holding ``dahdi/user.h`` ($BOARDCTI_DAHDI_INCLUDE, /usr/include, dahdi-dkms)."""
    candidates = [os.environ.get("BOARDCTI_DAHDI_INCLUDE", ""), "/usr/include",
                  "/usr/local/include", *sorted(glob.glob("/usr/src/dahdi-*/include"),
                                                reverse=True)]
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "dahdi", "user.h")):
            return d
    return None


def harness_path() -> str:
    """Compile r2_peer.c (once per source version) and return the executable's path.

    Cached in the temp directory under the source hash, moved into place atomically.
    Raises :class:`R2PeerUnavailable` with the reason when gcc, openr2's header or library,
    or DAHDI's ``dahdi/user.h`` is missing. ``$BOARDCTI_R2_PEER`` names a prebuilt binary.
    """
    return harness(SOURCE, "r2_peer", _compile_cmd, "openr2", R2PeerUnavailable, R2PeerError,
                   "BOARDCTI_R2_PEER")


def _compile_cmd(out: str) -> list[str]:
    gcc = c_compiler(R2PeerUnavailable, "tests/r2/r2_peer.c")
    if not any(os.path.exists(os.path.join(d, "openr2.h"))
               for d in ("/usr/include", "/usr/local/include")):
        raise R2PeerUnavailable("libopenr2-dev is not installed (no openr2.h); "
                                "apt-get install libopenr2-dev")
    dahdi = dahdi_include_dir()
    if dahdi is None:
        raise R2PeerUnavailable("no dahdi/user.h (DAHDI ioctl numbers): install "
                                "dahdi-dkms or dahdi-source, or set BOARDCTI_DAHDI_INCLUDE")
    return [gcc, "-O1", "-Wall", f"-I{dahdi}", "-o", out, SOURCE, "-lopenr2"]


#: Fields kept as strings even when all digits (numbers keep leading zeros, bits stay bits).
STRING_FIELDS = frozenset({"ani", "dnis", "digit", "abcd", "tx_abcd", "rx_abcd", "text", "cmd",
                           "category", "cause", "error", "variant", "mode", "dir"})


def parse_event(line: str) -> dict[str, Any]:
    """``KIND k=v k=v`` -> ``{"event": KIND, "k": v, ...}`` (ints when all digits)."""
    return _parse_event(line, STRING_FIELDS)


class R2Peer(PeerProcess):
    """One openr2 channel in a child process, scripted over stdin/stdout.

    ``variant``: openr2's country variant (``"ITU"``, ``"CN"``, ``"BR"``, ``"MX"``...).
    ``auto_accept``: accept every offered call (openr2 sends the group B signal, then the
    backward side stays seized); ``auto_answer``: accept and then answer; ``auto_clear``:
    complete clearing (``openr2_chan_disconnect_call``) when the far end clears.
    ``max_ani``/``max_dnis``: how many digits the backward side asks for.
    Events, commands and lifecycle: :class:`peer_process.PeerProcess`.
    """

    Error = R2PeerError
    STRING_FIELDS = STRING_FIELDS

    def __init__(self, variant: str = "ITU", *, auto_accept: bool = False,
                 auto_answer: bool = False, auto_clear: bool = False, max_ani: int = 10,
                 max_dnis: int = 4, category: str | None = None, debug: bool = False,
                 name: str = "r2", start_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.variant = variant
        self.name = name
        args = ["--variant", variant, "--max-ani", str(int(max_ani)),
                "--max-dnis", str(int(max_dnis))]
        if auto_accept:
            args.append("--auto-accept")
        if auto_answer:
            args.append("--auto-answer")
        if auto_clear:
            args.append("--auto-clear")
        if category:
            args += ["--category", category]
        if debug:
            args.append("--debug")
        super().__init__(harness_path(), args, label=name, start_timeout=start_timeout)

    # ------------------------------------------------------------ the timeslot

    def send_cas(self, abcd: int) -> None:
        """Set the abcd bits openr2 receives (a = 8 ... d = 1)."""
        self._send_datagram(b"C" + bytes([abcd & 0x0F]), 2.0)

    def send_audio(self, alaw: bytes) -> None:
        """Queue A-law samples for openr2's read(); it answers with as many samples."""
        for i in range(0, len(alaw), 4096):
            self._send_datagram(b"A" + bytes(alaw[i:i + 4096]), 2.0)

    def recv(self, timeout: float = 0.0) -> list[tuple[str, Any]]:
        """What openr2 sent: ``("cas", abcd_int)`` and ``("audio", alaw_bytes)``, in order."""
        out: list[tuple[str, Any]] = []
        for data in self._recv_datagrams(timeout, 8192):
            if data[:1] == b"C" and len(data) >= 2:
                out.append(("cas", data[1] & 0x0F))
            elif data[:1] == b"A":
                out.append(("audio", data[1:]))
        return out

    # ---------------------------------------------------------------- commands

    def call(self, dnis: str, ani: str = "-", category: str | None = None) -> None:
        """Seize and send DNIS/ANI (openr2_chan_make_call)."""
        self.request(f"call {dnis or '-'} {ani or '-'}" + (f" {category}" if category else ""))

    def accept(self, charge: bool = False) -> None:
        self.request("accept charge" if charge else "accept")

    def answer(self) -> None:
        self.request("answer")

    def hangup(self, cause: str = "normal") -> None:
        self.request(f"hangup {cause}")

    def status(self) -> dict[str, Any]:
        self.command("status")
        return self.wait_event("STATUS")

    def kinds(self) -> list[str]:
        """Every event kind seen so far, in order (CAS_TX left out)."""
        return [e["event"] for _, e in self.history if e["event"] != "CAS_TX"]



class Bridge:
    """Joins two R2Peers as the two ends of one E1 timeslot, on a background thread.

    Every 20 ms (wall clock: openr2's timers are wall-clock) it forwards CAS changes as they
    come and hands each peer exactly one 160-sample A-law frame: the oldest 160 samples the
    other peer wrote, padded with silence. Audio a peer wrote beyond 1 s is dropped (never
    happens while both keep up). ``trace`` records ``(seconds, "a>b" | "b>a", abcd)`` for
    every CAS change carried.
    """

    def __init__(self, a: R2Peer, b: R2Peer) -> None:
        self.a, self.b = a, b
        self.trace: list[tuple[float, str, int]] = []
        self.steps = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name="r2-bridge")
        self._thread.start()

    def _run(self) -> None:
        buffers = {id(self.a): bytearray(), id(self.b): bytearray()}
        routes = ((self.a, self.b, "a>b"), (self.b, self.a, "b>a"))
        next_step = time.monotonic()
        try:
            while not self._stop.is_set():
                for src, dst, label in routes:
                    for kind, payload in src.recv(0):
                        if kind == "cas":
                            self.trace.append((time.monotonic() - self._t0, label, payload))
                            dst.send_cas(payload)
                        else:
                            buf = buffers[id(src)]
                            buf += payload
                            del buf[:-8000]
                for src, dst, _ in routes:
                    buf = buffers[id(src)]
                    frame = bytes(buf[:FRAME])
                    del buf[:FRAME]
                    dst.send_audio(frame + bytes([ALAW_SILENCE]) * (FRAME - len(frame)))
                self.steps += 1
                next_step += STEP
                delay = next_step - time.monotonic()
                if delay < -0.2:        # fell far behind (loaded machine): resynchronise
                    next_step = time.monotonic()
                elif delay > 0:
                    self._stop.wait(delay)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self.error is not None:
            raise R2PeerError(f"bridge failed: {self.error!r}") from self.error

    def __enter__(self) -> "Bridge":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
