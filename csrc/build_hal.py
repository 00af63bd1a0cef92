"""Build script for drivers._hal, the C core (cffi out-of-line API mode).

The C declarations cffi sees live in csrc/cdef/*.cdef, one file per C
module, apart from the C sources; this script joins them. setup.py names
``csrc/build_hal.py:ffibuilder`` in ``cffi_modules``. Run it directly
(``python csrc/build_hal.py``) to rebuild the extension in place.

HAL_CFLAGS in the environment adds compiler flags (the sanitizer test
builds with ``-fsanitize=address,undefined``).
"""
import glob
import os
import platform
import shlex

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)



def _cpu_flags() -> list[str]:
    """The population count instruction where this x86 CPU has it: the framer counts
    bipolar violations and marks with it, 64 bits at a time (libgcc's software
    fallback costs some 2% of a bit-true peak run). The extension is built on the
    machine that runs it (setup.py, make build)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return []
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return []
    return ["-mpopcnt"] if " popcnt" in flags else []

def _dahdi_include():
    """The DAHDI user header ships only with dahdi-source/dahdi-dkms."""
    for pattern in ("/usr/include/dahdi/user.h", "/usr/src/dahdi*/include/dahdi/user.h"):
        found = sorted(glob.glob(pattern))
        if found:
            return os.path.dirname(os.path.dirname(found[-1]))
    return None


def _rel(path):
    return os.path.relpath(path, ROOT)


def make_ffibuilder():
    ffi = FFI()
    for cdef in sorted(glob.glob(os.path.join(HERE, "cdef", "*.cdef"))):
        with open(cdef) as f:
            ffi.cdef(f.read())
    sources = sorted(glob.glob(os.path.join(HERE, "**", "*.c"), recursive=True))
    headers = sorted(glob.glob(os.path.join(HERE, "**", "*.h"), recursive=True))
    preamble = "".join('#include "%s"\n' % os.path.relpath(h, HERE) for h in headers
                       if not os.path.basename(h).endswith("_priv.h"))
    include_dirs = [HERE]
    macros = []
    dahdi = _dahdi_include()
    if dahdi:
        include_dirs.append(dahdi)
        macros.append(("HAL_HAVE_DAHDI", "1"))
    # -fno-semantic-interposition: nothing outside the extension replaces its functions,
    # so a call within a source file may be inlined (the G.711 coders' per-sample calls)
    cflags = ["-O2", "-std=gnu11", "-Wall", "-Wno-unused-function", "-fno-semantic-interposition"]
    cflags += _cpu_flags()
    cflags += shlex.split(os.environ.get("HAL_CFLAGS", ""))
    ldflags = shlex.split(os.environ.get("HAL_LDFLAGS", ""))
    ffi.set_source(
        "drivers._hal",
        preamble,
        sources=[_rel(s) for s in sources],
        include_dirs=[_rel(d) if d.startswith(ROOT) else d for d in include_dirs],
        define_macros=macros,
        extra_compile_args=cflags,
        extra_link_args=ldflags,
        libraries=["m"],
    )
    return ffi


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    os.chdir(ROOT)
    ffibuilder.compile(verbose=False)
