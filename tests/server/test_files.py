"""The home is the server user's alone (issue #16, item 5; cti/server/files.py).

``serve()`` on a home left readable by others tightens it and says so; what it writes
(the database and its WAL, the server's key, the prompts, a recording of a real call)
is 0600 in 0700 folders whatever the umask; and another user of the machine (``nobody``,
in a process of its own) can neither connect to the ipc socket nor open the database or
the recording: each fails with EACCES, where the same process reads a file left public
beside the home (so the probe itself works).
"""
from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cti.centre import media
from cti.clients.client import Client, Subscriber
from cti.server.files import secure_home
from tests.inprocess import InProcessServer

PROBE_PYTHON = shutil.which("python3.11", path="/usr/bin") or shutil.which("python3", path="/usr/bin")

PROBE = r"""
import errno, json, socket, sys
out = {}
for name, path in json.loads(sys.argv[1]).items():
    try:
        if name.startswith("socket"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
        else:
            open(path, "rb").read(1)
        out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
"""


def mode(p) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def as_nobody(paths: dict) -> dict:
    """Open each path (connect to each socket) as the user nobody; name -> ok or errno."""
    pw = pwd.getpwnam("nobody")

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    r = subprocess.run([PROBE_PYTHON, "-c", PROBE, json.dumps({k: str(v) for k, v in paths.items()})],
                       preexec_fn=drop, capture_output=True, text=True, timeout=30, cwd="/")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_secure_home_tightens_what_is_ours(tmp_path):
    home = tmp_path / "h"
    (home / "recordings").mkdir(parents=True)
    os.chmod(home, 0o755)
    os.chmod(home / "recordings", 0o775)
    (home / "recordings" / "a.wav").write_bytes(b"RIFF")
    os.chmod(home / "recordings" / "a.wav", 0o644)
    (home / "tool").write_text("#!/bin/sh\n")
    os.chmod(home / "tool", 0o755)
    changed = secure_home(home)
    assert len(changed) == 4 and any("0755 -> 0700" in c for c in changed)
    assert mode(home) == mode(home / "recordings") == 0o700
    assert mode(home / "recordings" / "a.wav") == 0o600
    assert mode(home / "tool") == 0o700                   # the owner's x kept, others' gone
    assert secure_home(home) == []


def test_a_recording_is_written_0600_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        wav = media._WavFile(str(tmp_path / "r" / "x.wav"), "alaw", 2)   # the writer's side
        wav.open()
        os.close(wav.fd)
    finally:
        os.umask(old)
    assert mode(tmp_path / "r" / "x.wav") == 0o600
    assert mode(tmp_path / "r") == 0o700


@pytest.mark.skipif(os.geteuid() != 0 or PROBE_PYTHON is None,
                    reason="needs root to run a probe as nobody, and /usr/bin/python3")
def test_another_user_can_neither_connect_nor_read(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="cti-files-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)                     # the probe may walk to the home
        public = base / "public.txt"
        public.write_text("anyone may read this\n")
        os.chmod(public, 0o644)
        home = base / "home"
        home.mkdir(mode=0o755)                    # a home left open, with an open file
        (home / "notes.txt").write_text("x")
        os.chmod(home / "notes.txt", 0o644)
        old = os.umask(0o022)                     # explicit modes, not the umask, protect
        try:
            recording = run_one_recorded_call(home)
        finally:
            os.umask(old)
        assert mode(home) == 0o700 and mode(home / "run") == 0o700
        for f in ("cti.db", "cti.db-wal", "cti.db-shm", "notes.txt", "keys/server.key_secret"):
            if (home / f).exists():
                assert mode(home / f) == 0o600, f
        assert mode(recording) == 0o600 and mode(recording.parent) == 0o700
        prompts = list((home / "prompts").iterdir())
        assert prompts and all(mode(p) == 0o600 for p in prompts)
        log = (home / "log" / "cti.log").read_text()
        assert "the home was readable by others" in log and "notes.txt: 0644 -> 0600" in log

        with InProcessServer(home):               # a server running: its socket is there
            sock = home / "run" / "cti-req.sock"
            assert sock.exists()
            got = as_nobody({"public": public, "socket_requests": sock,
                             "socket_events": home / "run" / "cti-events.sock",
                             "db": home / "cti.db", "recording": recording})
        assert got["public"] == "ok", got         # the probe can read what is public
        for what in ("socket_requests", "socket_events", "db", "recording"):
            assert got[what] == "EACCES", (what, got)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_one_recorded_call(home: Path) -> Path:
    """A call answered by agent 1001 and hung up by the caller; its recording's path."""
    with InProcessServer(home, speed=8.0) as srv:
        srv.wait_in_sync()
        with Client(home, timeout=5) as c, Subscriber(home, ["call."]) as sub:
            time.sleep(0.3)
            c.request("agent.login", agent="1001", extension=1)
            c.request("agent.ready", agent="1001")
            c.request("sim.call", span=1, **{"from": "13800138000", "to": "4008005555"})
            deadline = time.monotonic() + 15
            while not c.request("sim.phone", port=1, action="status")["caller_id"]:
                assert time.monotonic() < deadline, "the agent's phone did not ring"
                time.sleep(0.02)
            c.request("sim.phone", port=1, action="lift")
            until(sub, "call.established")
            time.sleep(0.3)
            c.request("sim.hangup", span=1, call=c.request("sim.calls")["calls"][0]["call"])
            cleared = until(sub, "call.cleared")
    assert cleared.get("recording"), cleared
    p = Path(cleared["recording"])
    return p if p.is_absolute() else home / p


def until(sub: Subscriber, type_: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sub.get(timeout=0.2)
        if got is not None and got[1]["type"] == type_:
            return got[1]
    raise AssertionError(f"no {type_} in {timeout} s")


def test_the_errno_names_are_what_the_probe_reports():
    assert errno.errorcode[errno.EACCES] == "EACCES"
