"""The C core under AddressSanitizer and UBSan.

Every harness tests/c/test_*.c is compiled with all of csrc/ (the cffi module is
generated elsewhere, so every .c under csrc/ is our own source) into its own
executable, then run; it must exit 0 with no sanitizer report. One test per
harness.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

from tests.served import ROOT as _ROOT  # noqa: E402

ROOT = str(_ROOT)
CSRC = os.path.join(ROOT, "csrc")
HARNESSES = sorted(glob.glob(os.path.join(ROOT, "tests", "c", "test_*.c")))

CFLAGS = ["-std=gnu11", "-O1", "-g", "-Wall", "-fsanitize=address,undefined",
          "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def core_sources() -> list[str]:
    return sorted(glob.glob(os.path.join(CSRC, "**", "*.c"), recursive=True))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("harness", HARNESSES, ids=[os.path.basename(h) for h in HARNESSES])
def test_harness_runs_clean_under_sanitizers(harness, tmp_path):
    exe = tmp_path / os.path.splitext(os.path.basename(harness))[0]
    cmd = ["gcc", *CFLAGS, "-I", CSRC, harness, *core_sources(), "-lm", "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, "compile failed:\n" + build.stderr
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=600,
                         cwd=tmp_path)
    assert run.returncode == 0, (
        f"{os.path.basename(harness)} exited {run.returncode}\n"
        f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-8000:]}")
    assert "runtime error" not in run.stderr, run.stderr[-8000:]
