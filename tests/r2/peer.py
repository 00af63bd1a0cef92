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

import collections
import glob
import hashlib
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from typing import Any, Callable

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


_build_lock = threading.Lock()


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
    prebuilt = os.environ.get("BOARDCTI_R2_PEER")
    if prebuilt:
        return prebuilt
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(tempfile.gettempdir(), f"boardcti-r2-peer-{os.getuid()}")
    exe = os.path.join(cache, f"r2_peer-{digest}")
    with _build_lock:
        if os.access(exe, os.X_OK):
            return exe
        gcc = shutil.which("gcc") or shutil.which("cc")
        if gcc is None:
            raise R2PeerUnavailable("no C compiler (gcc) to build tests/r2/r2_peer.c")
        if not any(os.path.exists(os.path.join(d, "openr2.h"))
                   for d in ("/usr/include", "/usr/local/include")):
            raise R2PeerUnavailable("libopenr2-dev is not installed (no openr2.h); "
                                    "apt-get install libopenr2-dev")
        dahdi = dahdi_include_dir()
        if dahdi is None:
            raise R2PeerUnavailable("no dahdi/user.h (DAHDI ioctl numbers): install "
                                    "dahdi-dkms or dahdi-source, or set "
                                    "BOARDCTI_DAHDI_INCLUDE")
        os.makedirs(cache, exist_ok=True)
        tmp = f"{exe}.{os.getpid()}.{threading.get_ident()}.tmp"
        cmd = [gcc, "-O1", "-Wall", f"-I{dahdi}", "-o", tmp, SOURCE, "-lopenr2"]
        build = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if build.returncode != 0:
            err = build.stderr.strip()
            if "openr2" in err and ("cannot find" in err or "No such file" in err):
                raise R2PeerUnavailable(f"libopenr2 is not usable here: {err.splitlines()[-1]}")
            raise R2PeerError(f"building r2_peer failed ({' '.join(cmd)}):\n{err}")
        os.replace(tmp, exe)
        for old in os.listdir(cache):
            if old.startswith("r2_peer-") and old != os.path.basename(exe) \
                    and not old.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(cache, old))
                except OSError:
                    pass
        return exe


#: Fields kept as strings even when all digits (numbers keep leading zeros, bits stay bits).
STRING_FIELDS = frozenset({"ani", "dnis", "digit", "abcd", "tx_abcd", "rx_abcd", "text", "cmd",
                           "category", "cause", "error", "variant", "mode", "dir"})


def parse_event(line: str) -> dict[str, Any]:
    """``KIND k=v k=v`` -> ``{"event": KIND, "k": v, ...}`` (ints when all digits)."""
    parts = line.split()
    event: dict[str, Any] = {"event": parts[0] if parts else ""}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep:
            event.setdefault("args", []).append(part)
            continue
        numeric = key not in STRING_FIELDS and value.lstrip("-").isdigit()
        event[key] = int(value) if numeric else value
    return event


class R2Peer:
    """One openr2 channel in a child process, scripted over stdin/stdout.

    ``variant``: openr2's country variant (``"ITU"``, ``"CN"``, ``"BR"``, ``"MX"``...).
    ``auto_accept``: accept every offered call (openr2 sends the group B signal, then the
    backward side stays seized); ``auto_answer``: accept and then answer; ``auto_clear``:
    complete clearing (``openr2_chan_disconnect_call``) when the far end clears.
    ``max_ani``/``max_dnis``: how many digits the backward side asks for.
    """

    def __init__(self, variant: str = "ITU", *, auto_accept: bool = False,
                 auto_answer: bool = False, auto_clear: bool = False, max_ani: int = 10,
                 max_dnis: int = 4, category: str | None = None, debug: bool = False,
                 name: str = "r2", start_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.variant = variant
        self.name = name
        exe = harness_path()
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.setblocking(False)
        args = [exe, "--fd", str(child.fileno()), "--variant", variant,
                "--max-ani", str(int(max_ani)), "--max-dnis", str(int(max_dnis))]
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
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, pass_fds=(child.fileno(),))
        finally:
            child.close()
        self._finalizer = weakref.finalize(self, _reap, self.proc, self.sock)
        self._cond = threading.Condition()
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self.history: list[tuple[float, dict[str, Any]]] = []
        self.stderr_lines: list[str] = []
        self._t0 = time.monotonic()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True, name=f"{name}-out"),
            threading.Thread(target=self._read_stderr, daemon=True, name=f"{name}-err"),
        ]
        for t in self._readers:
            t.start()
        try:
            self.wait_event("READY", start_timeout)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ the timeslot

    def fileno(self) -> int:
        return self.sock.fileno()

    def send_cas(self, abcd: int) -> None:
        """Set the abcd bits openr2 receives (a = 8 ... d = 1)."""
        self._send(b"C" + bytes([abcd & 0x0F]))

    def send_audio(self, alaw: bytes) -> None:
        """Queue A-law samples for openr2's read(); it answers with as many samples."""
        for i in range(0, len(alaw), 4096):
            self._send(b"A" + bytes(alaw[i:i + 4096]))

    def _send(self, data: bytes, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.send(data)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise R2PeerError(f"{self.name}: channel socket full for {timeout} s")
                select.select([], [self.sock], [], min(left, 0.05))

    def recv(self, timeout: float = 0.0) -> list[tuple[str, Any]]:
        """What openr2 sent: ``("cas", abcd_int)`` and ``("audio", alaw_bytes)``, in order."""
        out: list[tuple[str, Any]] = []
        if timeout > 0:
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                return out
        while True:
            try:
                data = self.sock.recv(8192)
            except (BlockingIOError, InterruptedError):
                return out
            if not data:
                return out
            if data[:1] == b"C" and len(data) >= 2:
                out.append(("cas", data[1] & 0x0F))
            elif data[:1] == b"A":
                out.append(("audio", data[1:]))

    # ---------------------------------------------------------------- commands

    def command(self, line: str) -> None:
        if self.proc.poll() is not None:
            raise R2PeerError(f"{self.name}: harness exited ({self.proc.returncode})"
                              + self._stderr_tail())
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.rstrip("\n").encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise R2PeerError(f"{self.name}: harness is gone: {exc}") from exc

    def request(self, line: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Send a command, return its ``OK`` event; raise R2PeerError on ``ERROR``."""
        name = line.split()[0]
        self.command(line)
        reply = self._wait(lambda e: e.get("cmd") == name and e["event"] in ("OK", "ERROR"),
                           timeout, f"reply to {line!r}")
        if reply["event"] == "ERROR":
            raise R2PeerError(f"{self.name}: {line!r} -> {reply}")
        return reply

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

    # ------------------------------------------------------------------ events

    def events(self, timeout: float = 0.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not self._alive():
                    break
                self._cond.wait(min(left, 0.1))
            out = list(self._pending)
            self._pending.clear()
        return out

    def wait_event(self, kind: str, timeout: float = DEFAULT_TIMEOUT,
                   **match: Any) -> dict[str, Any]:
        """Take the first unconsumed event ``kind`` whose fields equal ``match``."""
        def wanted(e: dict[str, Any]) -> bool:
            return e["event"] == kind and all(e.get(k) == v for k, v in match.items())
        what = kind + "".join(f" {k}={v}" for k, v in match.items())
        return self._wait(wanted, timeout, what)

    def kinds(self) -> list[str]:
        """Every event kind seen so far, in order (CAS_TX left out)."""
        return [e["event"] for _, e in self.history if e["event"] != "CAS_TX"]

    def _wait(self, wanted: Callable[[dict[str, Any]], bool], timeout: float,
              what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self._pending:
                    if wanted(e):
                        self._pending.remove(e)
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or not self._alive():
                    break
                self._cond.wait(min(left, 0.1))
        recent = [e for _, e in self.history[-12:]]
        state = "running" if self._alive() else f"exited ({self.proc.returncode})"
        raise R2PeerError(f"{self.name}: no {what} within {timeout} s (harness {state}); "
                          f"last events: {recent}" + self._stderr_tail())

    def _alive(self) -> bool:
        return self.proc.poll() is None or self._readers[0].is_alive()

    # -------------------------------------------------------------- lifecycle

    def close(self, timeout: float = 2.0) -> None:
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout)
            except (R2PeerError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        for t in self._readers:
            t.join(timeout)
        self._finalizer()

    def __enter__(self) -> "R2Peer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                line = raw.decode("ascii", "replace").strip()
                if not line:
                    continue
                event = parse_event(line)
                with self._cond:
                    self.history.append((time.monotonic() - self._t0, event))
                    self._pending.append(event)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        try:
            for raw in self.proc.stderr:
                self.stderr_lines.append(raw.decode("ascii", "replace").rstrip())
                del self.stderr_lines[:-2000]
        except (OSError, ValueError):
            pass

    def _stderr_tail(self) -> str:
        tail = self.stderr_lines[-30:]
        return ("\nstderr:\n" + "\n".join(tail)) if tail else ""


def _reap(proc: subprocess.Popen, sock: socket.socket) -> None:
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    sock.close()


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
