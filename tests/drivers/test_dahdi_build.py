"""csrc/hal_dahdi.c builds: against the DAHDI headers where they are, as a stub everywhere.

DAHDI kernel modules cannot load on these machines, so the backend cannot run
here; what can be shown is that it compiles warning-free against the real
dahdi/user.h (from dahdi-source or dahdi-dkms, ../shared/PEERS.md) and that the
stub built without them says HAL_ENODEV.
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
SOURCE = os.path.join(CSRC, "hal_dahdi.c")
CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"]

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def dahdi_include_dirs() -> list[str]:
    """Include directories holding dahdi/user.h, as csrc/build_hal.py looks for them."""
    found = glob.glob("/usr/include/dahdi/user.h") + sorted(glob.glob("/usr/src/dahdi*/include/dahdi/user.h"))
    return [os.path.dirname(os.path.dirname(p)) for p in found]


def compile_object(tmp_path, *extra) -> str:
    obj = str(tmp_path / "hal_dahdi.o")
    r = subprocess.run(["gcc", *CFLAGS, "-I", CSRC, *extra, "-c", SOURCE, "-o", obj],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return obj


def exports_backend(obj: str) -> bool:
    if shutil.which("nm") is None:
        return True
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    return any(line.split()[-1] == "hal_dahdi_backend" and line.split()[-2] in "DRdr"
               for line in out.splitlines() if line.strip())


@needs_gcc
@pytest.mark.parametrize("include", dahdi_include_dirs() or [None])
def test_builds_against_the_dahdi_headers(include, tmp_path):
    if include is None:
        pytest.skip("no dahdi/user.h on this machine (install dahdi-source or dahdi-dkms: "
                    "/usr/include/dahdi or /usr/src/dahdi-*/include)")
    obj = compile_object(tmp_path, "-DHAL_HAVE_DAHDI", "-I", include)
    assert exports_backend(obj)


@needs_gcc
def test_stub_builds_without_the_headers_and_has_no_device(tmp_path):
    obj = compile_object(tmp_path)
    assert exports_backend(obj)
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include <string.h>\n#include "hal.h"\n'
        "extern const hal_backend_t hal_dahdi_backend;\n"
        "int main(void) {\n"
        "    hal_board_t b;\n    memset(&b, 0, sizeof(b));\n"
        '    if (strcmp(hal_dahdi_backend.name, "dahdi") != 0) return 2;\n'
        "    if (hal_dahdi_backend.open(&b, NULL) != HAL_ENODEV) return 3;\n"
        "    hal_dahdi_backend.close(&b);\n"
        "    return 0;\n}\n")
    exe = str(tmp_path / "main")
    r = subprocess.run(["gcc", "-std=gnu11", "-Wall", "-I", CSRC, str(main), obj, "-o", exe],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([exe]).returncode == 0
