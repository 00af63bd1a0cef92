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

import os
import select
import shutil
import subprocess
import threading
import time
from typing import Any, Iterable

from tests.peer_process import PeerProcess, c_compiler, harness, parse_event as _parse_event

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


def harness_path() -> str:
    """Compile pri_peer.c (once per source version) and return the executable's path.

    The binary is cached in the temp directory under a name derived from the source hash,
    so edits to pri_peer.c rebuild it and concurrent test processes share it safely (the
    result is moved into place atomically). Raises :class:`PriPeerUnavailable` with the
    reason when gcc or libpri's header/library is missing. ``$BOARDCTI_PRI_PEER`` names a
    prebuilt binary instead (e.g. one built with sanitizers).
    """
    return harness(SOURCE, "pri_peer", _compile_cmd, "libpri", PriPeerUnavailable, PriPeerError,
                   "BOARDCTI_PRI_PEER")


def _compile_cmd(out: str) -> list[str]:
    gcc = c_compiler(PriPeerUnavailable, "tests/pri/pri_peer.c")
    if not _have_libpri_header():
        raise PriPeerUnavailable("libpri-dev is not installed (no libpri.h); "
                                 "apt-get install libpri-dev")
    return [gcc, "-O1", "-Wall", "-o", out, SOURCE, *_libpri_flags()]


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
    return _parse_event(line, STRING_FIELDS)


class PriPeer(PeerProcess):
    """One libpri D-channel controller in a child process, scripted over stdin/stdout.

    ``role`` is ``"network"`` or ``"cpe"``. ``auto_answer``: answer every complete incoming
    call (CALL PROCEEDING, ALERTING, CONNECT; an incomplete SETUP gets SETUP ACKNOWLEDGE and
    the call is answered once an INFORMATION carries Sending Complete). ``auto_reject``:
    clear every incoming call at once with that cause. ``auto_hangup_ack``: answer a
    DISCONNECT with RELEASE, and free a call the peer released. ``timers``: libpri timer
    overrides, e.g. ``{"T203": 2000}`` (milliseconds; counters such as N200 as plain numbers).
    Events, commands and lifecycle: :class:`peer_process.PeerProcess`.
    """

    Error = PriPeerError
    STRING_FIELDS = STRING_FIELDS

    def __init__(self, role: str, *, auto_answer: bool = False, auto_reject: int | None = None,
                 auto_hangup_ack: bool = False, timers: dict[str, int] | None = None,
                 debug: bool = False, start_timeout: float = DEFAULT_TIMEOUT) -> None:
        if role not in ("network", "cpe"):
            raise ValueError(f"role must be 'network' or 'cpe', not {role!r}")
        self.role = role
        args = ["--role", role]
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
        super().__init__(harness_path(), args, label=f"pri-{role}", start_timeout=start_timeout)

    # ------------------------------------------------------------------ frames

    def send_frame(self, frame: bytes, timeout: float = 2.0) -> None:
        """Hand one bare Q.921 frame to libpri (the 2 bytes it expects are appended here)."""
        self._send_datagram(bytes(frame) + FCS_PLACEHOLDER, timeout)

    def recv_frames(self, timeout: float = 0.0) -> list[bytes]:
        """Bare Q.921 frames libpri sent: waits up to ``timeout`` for the first, then drains."""
        return [data[:-len(FCS_PLACEHOLDER)] for data in self._recv_datagrams(timeout, 4096)]

    # ---------------------------------------------------------------- commands

    def call(self, chan: int, called: str, calling: str = "-", *, overlap: bool = False,
             timeout: float = DEFAULT_TIMEOUT) -> int:
        """Send SETUP (on B-channel ``chan``, 0 = any) and return the harness's call id."""
        line = f"call {chan} {called or '-'} {calling or '-'}" + (" overlap" if overlap else "")
        return int(self.request(line, timeout)["callid"])



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