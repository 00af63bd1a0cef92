"""CI: the source distribution builds and runs on its own (issue #14, "a fresh machine").

Builds the sdist, checks it carries every tracked file of the packages and the C core,
installs it into a new virtualenv (pip builds the C core from the sdist alone), then
starts ``cti serve`` from that virtualenv, in a directory away from this tree so nothing
is imported from here, and waits until it answers ``ping``; then shuts it down.

Exit 0 when all of that worked; otherwise a message naming the step that failed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ("cti/", "drivers/", "simulators/", "csrc/")


def step(what: str, cmd: list[str], **kw) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"sdist check: {what} failed (exit {r.returncode}):\n{r.stdout[-3000:]}"
                 f"\n{r.stderr[-3000:]}")
    print(f"sdist check: {what}: ok ({time.monotonic() - t0:.1f} s)", flush=True)
    return r


def main() -> int:
    tracked = subprocess.run(["git", "ls-files", *PACKAGED], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    tmp = Path(tempfile.mkdtemp(prefix="sdist-check-"))
    step("build the sdist", [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp),
                             str(ROOT)])
    sdist = next(tmp.glob("boardcti-*.tar.gz"))
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    missing = [f for f in tracked if f not in names]
    if missing:
        sys.exit(f"sdist check: the sdist lacks {len(missing)} tracked files: "
                 f"{', '.join(missing[:10])}")
    print(f"sdist check: {sdist.name} holds all {len(tracked)} tracked files of "
          f"{', '.join(PACKAGED)}", flush=True)
    venv = tmp / "venv"
    step("make a new virtualenv", [sys.executable, "-m", "venv", str(venv)])
    py, cti = venv / "bin" / "python", venv / "bin" / "cti"
    step("install the sdist into it", [str(py), "-m", "pip", "install", "-q", str(sdist)])
    home, away = tmp / "home", tmp / "away"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    step("import from the virtualenv, not this tree",
         [str(py), "-c", "import cti, drivers._hal, sys; "
          f"assert cti.__file__.startswith({str(venv)!r}), cti.__file__"], cwd=away, env=env)
    server = subprocess.Popen([str(cti), "serve", "--home", str(home)], cwd=away, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            r = subprocess.run([str(cti), "ping", "--home", str(home)], cwd=away, env=env,
                               capture_output=True, text=True)
            if r.returncode == 0:
                print(f"sdist check: cti serve from the sdist answered ping: "
                      f"{r.stdout.strip()[:200]}", flush=True)
                break
            if server.poll() is not None:
                sys.exit(f"sdist check: cti serve exited {server.returncode}:\n"
                         f"{server.stdout.read()[-3000:]}")
            if time.monotonic() > deadline:
                sys.exit("sdist check: cti serve did not answer ping within 120 s")
            time.sleep(1)
        subprocess.run([str(cti), "shutdown", "--home", str(home)], cwd=away, env=env,
                       capture_output=True, text=True, timeout=30)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    subprocess.run(["rm", "-rf", str(tmp)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
