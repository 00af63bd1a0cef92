"""Drive libpri as an ISDN PRI peer from tests: the Python side of tests/pri/pri_peer.c.

A :class:`PriPeer` runs one ``pri_peer`` process (one libpri D-channel controller, network
or CPE side, EuroISDN E1, 30 B-channels) and owns the ``AF_UNIX``/``SOCK_SEQPACKET``
socketpair that carries its LAPD frames, one Q.921 frame per datagram.

libpri frames its output as *Q.921 frame + 2 placeholder FCS bytes* and drops the last 2
bytes of every frame it reads without checking them. :meth:`PriPeer.send_frame` and
:meth:`PriPeer.recv_frames` hide that: callers always see bare Q.921 frames (address,
control, information field; no flags, no FCS) -- the same shape as our HDLC layer delivers.

Every wait is bounded: nothing here blocks for longer than the timeout it is given, and the
harness process is killed when the peer is closed or garbage-collected.

Tests import this as ``from pri.peer import PriPeer`` (pytest puts ``tests/`` on sys.path).
"""
from __future__ import annotations

import collections
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
from typing import Any, Callable, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "pri_peer.c")

#: What libpri puts where the FCS would be; it never checks what it reads there.
FCS_PLACEHOLDER = b"\x00\x00"

#: The 30 B-channels of an E1 PRI (timeslot 16 carries the D-channel).
B_CHANNELS = tuple(list(range(1, 16)) + list(range(17, 32)))

DEFAULT_TIMEOUT = 5.0


class PriPeerUnavailable(RuntimeError):
    """The harness cannot be built here (no gcc, no libpri-dev); tests should skip."""


class PriPeerError(RuntimeError):
    """The harness answered a command with ERROR, died, or an awaited event never came."""


_build_lock = threading.Lock()


def harness_path() -> str:
    """Compile pri_peer.c (once per source version) and return the executable's path.

    The binary is cached in the temp directory under a name derived from the source hash,
    so edits to pri_peer.c rebuild it and concurrent test processes share it safely (the
    result is moved into place atomically). Raises :class:`PriPeerUnavailable` with the
    reason when gcc or libpri's header/library is missing. ``$BOARDCTI_PRI_PEER`` names a
    prebuilt binary instead (e.g. one built with sanitizers).
    """
    prebuilt = os.environ.get("BOARDCTI_PRI_PEER")
    if prebuilt:
        return prebuilt
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(tempfile.gettempdir(), f"boardcti-pri-peer-{os.getuid()}")
    exe = os.path.join(cache, f"pri_peer-{digest}")
    with _build_lock:
        if os.access(exe, os.X_OK):
            return exe
        gcc = shutil.which("gcc") or shutil.which("cc")
        if gcc is None:
            raise PriPeerUnavailable("no C compiler (gcc) to build tests/pri/pri_peer.c")
        if not _have_libpri_header():
            raise PriPeerUnavailable("libpri-dev is not installed (no libpri.h); "
                                     "apt-get install libpri-dev")
        os.makedirs(cache, exist_ok=True)
        tmp = f"{exe}.{os.getpid()}.{threading.get_ident()}.tmp"
        cmd = [gcc, "-O1", "-Wall", "-o", tmp, SOURCE, *_libpri_flags()]
        build = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if build.returncode != 0:
            err = build.stderr.strip()
            if "libpri" in err and ("No such file" in err or "cannot find" in err):
                raise PriPeerUnavailable(f"libpri is not usable here: {err.splitlines()[-1]}")
            raise PriPeerError(f"building pri_peer failed ({' '.join(cmd)}):\n{err}")
        os.replace(tmp, exe)
        for old in os.listdir(cache):  # binaries of earlier versions of the source
            if old.startswith("pri_peer-") and old != os.path.basename(exe) \
                    and not old.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(cache, old))
                except OSError:
                    pass
        return exe


def _have_libpri_header() -> bool:
    cflags = _pkg_config("--cflags")
    dirs = [flag[2:] for flag in cflags if flag.startswith("-I")] + ["/usr/include",
                                                                      "/usr/local/include"]
    return any(os.path.exists(os.path.join(d, "libpri.h")) for d in dirs)


def _libpri_flags() -> list[str]:
    return _pkg_config("--cflags", "--libs") or ["-lpri"]


def _pkg_config(*args: str) -> list[str]:
    if shutil.which("pkg-config") is None:
        return []
    res = subprocess.run(["pkg-config", *args, "libpri"], capture_output=True, text=True)
    return res.stdout.split() if res.returncode == 0 else []


#: Fields that stay strings even when they are all digits (numbers keep leading zeros).
STRING_FIELDS = frozenset({"called", "calling", "digits", "text", "name", "callids", "role",
                           "link", "reason", "cmd"})


def parse_event(line: str) -> dict[str, Any]:
    """``KIND k=v k=v`` -> ``{"event": KIND, "k": v, ...}``.

    Values are ints when all digits, except the :data:`STRING_FIELDS` (party numbers,
    digits, texts), which are always strings.
    """
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


class PriPeer:
    """One libpri D-channel controller in a child process, scripted over stdin/stdout.

    ``role`` is ``"network"`` or ``"cpe"``. ``auto_answer``: answer every complete incoming
    call (CALL PROCEEDING, ALERTING, CONNECT; an incomplete SETUP gets SETUP ACKNOWLEDGE and
    the call is answered once an INFORMATION carries Sending Complete). ``auto_reject``:
    clear every incoming call at once with that cause. ``auto_hangup_ack``: answer a
    DISCONNECT with RELEASE, and free a call the peer released. ``timers``: libpri timer
    overrides, e.g. ``{"T203": 2000}`` (milliseconds; counters such as N200 as plain numbers).
    """

    def __init__(self, role: str, *, auto_answer: bool = False, auto_reject: int | None = None,
                 auto_hangup_ack: bool = False, timers: dict[str, int] | None = None,
                 debug: bool = False, start_timeout: float = DEFAULT_TIMEOUT) -> None:
        if role not in ("network", "cpe"):
            raise ValueError(f"role must be 'network' or 'cpe', not {role!r}")
        self.role = role
        exe = harness_path()
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.setblocking(False)
        args = [exe, "--role", role, "--fd", str(child.fileno())]
        if auto_answer:
            args.append("--auto-answer")
        if auto_reject is not None:
            args += ["--auto-reject", str(int(auto_reject))]
        if auto_hangup_ack:
            args.append("--auto-hangup-ack")
        for name, value in (timers or {}).items():
            args += ["--timer", f"{name}={int(value)}"]
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
            threading.Thread(target=self._read_stdout, daemon=True, name=f"pri-{role}-out"),
            threading.Thread(target=self._read_stderr, daemon=True, name=f"pri-{role}-err"),
        ]
        for t in self._readers:
            t.start()
        try:
            self.wait_event("READY", start_timeout)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ frames

    def fileno(self) -> int:
        """Our end of the link socket (readable when libpri has sent a frame)."""
        return self.sock.fileno()

    def send_frame(self, frame: bytes, timeout: float = 2.0) -> None:
        """Hand one bare Q.921 frame to libpri (the 2 bytes it expects are appended here)."""
        data = bytes(frame) + FCS_PLACEHOLDER
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.send(data)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PriPeerError(f"{self.role}: link socket full for {timeout} s")
                select.select([], [self.sock], [], min(left, 0.05))

    def recv_frames(self, timeout: float = 0.0) -> list[bytes]:
        """Bare Q.921 frames libpri sent: waits up to ``timeout`` for the first, then drains."""
        frames: list[bytes] = []
        if timeout > 0:
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                return frames
        while True:
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return frames
            if not data:
                return frames
            frames.append(data[:-len(FCS_PLACEHOLDER)])

    # ---------------------------------------------------------------- commands

    def command(self, line: str) -> None:
        """Write one command line to the harness (no waiting; see :meth:`request`)."""
        if self.proc.poll() is not None:
            raise PriPeerError(f"{self.role}: harness exited ({self.proc.returncode})"
                               + self._stderr_tail())
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.rstrip("\n").encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise PriPeerError(f"{self.role}: harness is gone: {exc}") from exc

    def request(self, line: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Send a command and return its ``OK`` event; raise PriPeerError on ``ERROR``."""
        name = line.split()[0]
        self.command(line)
        reply = self._wait(lambda e: e.get("cmd") == name and e["event"] in ("OK", "ERROR"),
                           timeout, f"reply to {line!r}")
        if reply["event"] == "ERROR":
            raise PriPeerError(f"{self.role}: {line!r} -> {reply}")
        return reply

    def call(self, chan: int, called: str, calling: str = "-", *, overlap: bool = False,
             timeout: float = DEFAULT_TIMEOUT) -> int:
        """Send SETUP (on B-channel ``chan``, 0 = any) and return the harness's call id."""
        line = f"call {chan} {called or '-'} {calling or '-'}" + (" overlap" if overlap else "")
        return int(self.request(line, timeout)["callid"])

    # ------------------------------------------------------------------ events

    def events(self, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Take every event not yet consumed, waiting up to ``timeout`` for at least one."""
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
        """Take the first unconsumed event ``kind`` whose fields equal ``match``.

        Earlier events that do not match stay queued for later waits. Raises PriPeerError
        after ``timeout`` seconds, listing what did arrive.
        """
        def wanted(e: dict[str, Any]) -> bool:
            return e["event"] == kind and all(e.get(k) == v for k, v in match.items())
        what = kind + "".join(f" {k}={v}" for k, v in match.items())
        return self._wait(wanted, timeout, what)

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
        raise PriPeerError(f"{self.role}: no {what} within {timeout} s (harness {state}); "
                           f"last events: {recent}" + self._stderr_tail())

    def _alive(self) -> bool:
        return self.proc.poll() is None or any(t.is_alive() for t in self._readers[:1])

    # -------------------------------------------------------------- lifecycle

    def close(self, timeout: float = 2.0) -> None:
        """Ask the harness to quit, kill it if it does not, and release the socket."""
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout)
            except (PriPeerError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        for t in self._readers:        # they end at EOF once the process is gone
            t.join(timeout)
        self._finalizer()

    def __enter__(self) -> "PriPeer":
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
        except (OSError, ValueError):   # closed under us by close()/the finalizer
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
        tail = self.stderr_lines[-20:]
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
    """Carries frames both ways between two PriPeers on a background thread.

    Frames pass through :meth:`PriPeer.recv_frames` / :meth:`PriPeer.send_frame`, so the
    libpri FCS placeholders are stripped and re-added exactly as towards our own stack.
    ``trace`` records ``(seconds, "a>b" | "b>a", bare_frame)`` for every frame carried.
    """

    def __init__(self, a: PriPeer, b: PriPeer, poll_interval: float = 0.02) -> None:
        self.a, self.b = a, b
        self.poll_interval = poll_interval
        self.trace: list[tuple[float, str, bytes]] = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="pri-bridge")
        self._thread.start()

    def _run(self) -> None:
        routes = {self.a.fileno(): (self.a, self.b, "a>b"),
                  self.b.fileno(): (self.b, self.a, "b>a")}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select(list(routes), [], [], self.poll_interval)
                for fd in readable:
                    src, dst, label = routes[fd]
                    for frame in src.recv_frames(0):
                        self.trace.append((time.monotonic() - self._t0, label, frame))
                        dst.send_frame(frame)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self.error is not None:
            raise PriPeerError(f"bridge failed: {self.error!r}") from self.error


def frames_by_direction(trace: Iterable[tuple[float, str, bytes]], label: str) -> list[bytes]:
    """The frames of a :class:`Bridge` trace that went one way (``"a>b"`` or ``"b>a"``)."""
    return [frame for _, lab, frame in trace if lab == label]
