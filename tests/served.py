"""``cti serve`` as a process of its own, for the tests that need the real shell.

``cti_env`` puts this tree first on PYTHONPATH (a child imports what is tested, not an
installed copy); ``start_server`` starts ``python -m cti serve`` and returns once it
answers ``ping``; ``stop_server`` asks it to shut down and kills it if it does not.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cti.clients.client import Client, CtiError

ROOT = Path(__file__).resolve().parent.parent


def cti_env(**extra: str) -> dict:
    """The environment of a ``python -m cti`` child: this tree first on PYTHONPATH."""
    path = [str(ROOT)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **extra}


def start_server(home: Path, *args: str, timeout: float = 60.0,
                 stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """``cti serve --home HOME ARGS`` as a process, once it answers ``ping`` with every
    span in service (a call offered before then is cleared by the start-up restart)."""
    proc = subprocess.Popen([sys.executable, "-m", "cti", "serve", "--home", str(home), *args],
                            cwd=ROOT, env=cti_env(), stdout=stdout,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"cti serve exited: {proc.stderr.read()}")
        if (home / "run" / "cti-req.sock").exists():
            try:
                with Client(home, timeout=1) as c:
                    c.request("ping")
                    c.wait_ready(max(1.0, deadline - time.monotonic()))
                return proc
            except CtiError:
                pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail("cti serve did not come up")
        time.sleep(0.1)


def stop_server(home: Path, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Shut the server down by request; kill it if it does not go."""
    if proc.poll() is None:
        try:
            with Client(home, timeout=3) as c:
                c.request("shutdown")
            proc.wait(timeout)
        except (CtiError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
