"""What the peer harnesses (tests/pri/, tests/r2/) share: a C program built once per source
version, run as a child process scripted over stdin/stdout, with a datagram socketpair for
its line side.

The harness prints one event per line, ``KIND k=v k=v``; :class:`PeerProcess` reads them on a
thread, keeps them queued until a test takes them, and bounds every wait. Subclasses add the
line side (frames for libpri, CAS and audio for openr2) and their commands.

Tests do not use this directly; they import ``pri.peer`` or ``r2.peer``.
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
from typing import Any, Callable, Collection

_build_lock = threading.Lock()


def harness(source: str, stem: str, compile_cmd: Callable[[str], list[str]], lib: str,
            unavailable: type[Exception], error: type[Exception], prebuilt_env: str) -> str:
    """The peer's executable: ``$prebuilt_env`` when set (e.g. a binary built with
    sanitizers), else :func:`cached_build`'s."""
    prebuilt = os.environ.get(prebuilt_env)
    if prebuilt:
        return prebuilt
    return cached_build(source, stem, compile_cmd, lib, unavailable, error)


def c_compiler(unavailable: type[Exception], source: str) -> str:
    """gcc (or cc), or ``unavailable`` saying what it was needed for."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise unavailable(f"no C compiler (gcc) to build {source}")
    return gcc


def cached_build(source: str, stem: str, compile_cmd: Callable[[str], list[str]], lib: str,
                 unavailable: type[Exception], error: type[Exception]) -> str:
    """Build ``source`` (once per source hash) and return the executable's path.

    The binary is cached in the temp directory as ``<stem>-<hash>``, so an edited source is
    rebuilt and concurrent test processes share one safely (moved into place atomically).
    ``compile_cmd(out_path)`` gives the compiler command, or raises ``unavailable`` when
    the tools are missing; it is only called when a build is needed. A link or header
    error naming ``lib`` raises ``unavailable`` (tests skip); any other failure ``error``.
    """
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(tempfile.gettempdir(), f"boardcti-{stem.replace('_', '-')}-{os.getuid()}")
    exe = os.path.join(cache, f"{stem}-{digest}")
    with _build_lock:
        if os.access(exe, os.X_OK):
            return exe
        tmp = f"{exe}.{os.getpid()}.{threading.get_ident()}.tmp"
        cmd = compile_cmd(tmp)
        os.makedirs(cache, exist_ok=True)
        build = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if build.returncode != 0:
            err = build.stderr.strip()
            if lib in err and ("cannot find" in err or "No such file" in err):
                raise unavailable(f"{lib} is not usable here: {err.splitlines()[-1]}")
            raise error(f"building {stem} failed ({' '.join(cmd)}):\n{err}")
        os.replace(tmp, exe)
        for old in os.listdir(cache):  # binaries of earlier versions of the source
            if old.startswith(f"{stem}-") and old != os.path.basename(exe) \
                    and not old.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(cache, old))
                except OSError:
                    pass
        return exe


def parse_event(line: str, string_fields: Collection[str] = ()) -> dict[str, Any]:
    """``KIND k=v k=v`` -> ``{"event": KIND, "k": v, ...}``.

    Values are ints when all digits, except ``string_fields`` (numbers keep leading zeros,
    bits stay bits). Bare words go to ``"args"``.
    """
    parts = line.split()
    event: dict[str, Any] = {"event": parts[0] if parts else ""}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep:
            event.setdefault("args", []).append(part)
            continue
        numeric = key not in string_fields and value.lstrip("-").isdigit()
        event[key] = int(value) if numeric else value
    return event


class PeerProcess:
    """One harness process: ``exe --fd N *args``, its events and its line socket.

    ``Error`` is the exception raised for harness failures; ``STRING_FIELDS`` the event
    fields :func:`parse_event` keeps as strings. ``label`` names the peer in messages.
    Waits for the harness's ``READY`` before returning.
    """

    Error: type[Exception] = RuntimeError
    STRING_FIELDS: Collection[str] = ()

    def __init__(self, exe: str, args: list[str], *, label: str, start_timeout: float) -> None:
        self.label = label
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.setblocking(False)
        try:
            self.proc = subprocess.Popen([exe, "--fd", str(child.fileno()), *args],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
            threading.Thread(target=self._read_stdout, daemon=True, name=f"{label}-out"),
            threading.Thread(target=self._read_stderr, daemon=True, name=f"{label}-err"),
        ]
        for t in self._readers:
            t.start()
        try:
            self.wait_event("READY", start_timeout)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ line socket

    def fileno(self) -> int:
        """Our end of the line socket (readable when the harness has sent something)."""
        return self.sock.fileno()

    def _send_datagram(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.send(data)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.Error(f"{self.label}: line socket full for {timeout} s")
                select.select([], [self.sock], [], min(left, 0.05))

    def _recv_datagrams(self, timeout: float, bufsize: int) -> list[bytes]:
        """Waits up to ``timeout`` for the first datagram, then drains what is queued."""
        out: list[bytes] = []
        if timeout > 0:
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                return out
        while True:
            try:
                data = self.sock.recv(bufsize)
            except (BlockingIOError, InterruptedError):
                return out
            if not data:
                return out
            out.append(data)

    # ---------------------------------------------------------------- commands

    def command(self, line: str) -> None:
        """Write one command line to the harness (no waiting; see :meth:`request`)."""
        if self.proc.poll() is not None:
            raise self.Error(f"{self.label}: harness exited ({self.proc.returncode})"
                             + self._stderr_tail())
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.rstrip("\n").encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise self.Error(f"{self.label}: harness is gone: {exc}") from exc

    def request(self, line: str, timeout: float = 5.0) -> dict[str, Any]:
        """Send a command and return its ``OK`` event; raise ``Error`` on ``ERROR``."""
        name = line.split()[0]
        self.command(line)
        reply = self._wait(lambda e: e.get("cmd") == name and e["event"] in ("OK", "ERROR"),
                           timeout, f"reply to {line!r}")
        if reply["event"] == "ERROR":
            raise self.Error(f"{self.label}: {line!r} -> {reply}")
        return reply

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

    def wait_event(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """Take the first unconsumed event ``kind`` whose fields equal ``match``.

        Earlier events that do not match stay queued for later waits. Raises ``Error``
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
        raise self.Error(f"{self.label}: no {what} within {timeout} s (harness {state}); "
                         f"last events: {recent}" + self._stderr_tail())

    def _alive(self) -> bool:
        # Events already printed count until the stdout reader has read them all.
        return self.proc.poll() is None or self._readers[0].is_alive()

    # -------------------------------------------------------------- lifecycle

    def close(self, timeout: float = 2.0) -> None:
        """Ask the harness to quit, kill it if it does not, and release the socket."""
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout)
            except (self.Error, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        for t in self._readers:        # they end at EOF once the process is gone
            t.join(timeout)
        self._finalizer()

    def __enter__(self):
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
                event = parse_event(line, self.STRING_FIELDS)
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
