"""The one Python module that owns the C core (``drivers._hal``).

Every other module reaches C through here. Return codes of the C calls
become exceptions that name the operation and the object it was done on.
"""
from __future__ import annotations

from drivers._hal import ffi, lib  # noqa: F401  (the only import of the compiled module)

__all__ = ["ffi", "lib", "HalError", "check"]


class HalError(Exception):
    """A HAL call failed. ``code`` is the C return code, ``what`` names the operation and object."""

    def __init__(self, code: int, what: str):
        self.code = code
        self.what = what
        super().__init__(f"{what}: {ERROR_TEXT.get(code, 'error %d' % code)}")


class InvalidArgument(HalError, ValueError):
    pass


class NoSuchSpan(HalError, LookupError):
    pass


class NoSuchChannel(HalError, LookupError):
    pass


class Busy(HalError):
    pass


class NotSupported(HalError):
    pass


class NoDevice(HalError):
    pass


class WrongState(HalError):
    pass


class ConfigError(HalError, ValueError):
    pass


ERROR_TEXT = {
    -1: "invalid argument",
    -2: "no such span",
    -3: "no such channel or port",
    -4: "out of memory",
    -5: "busy (queue full or in use)",
    -6: "not supported by this backend or span mode",
    -7: "no such backend or device",
    -8: "not allowed in the current state",
    -9: "bad configuration value",
}

_ERROR_CLASS = {
    -1: InvalidArgument,
    -2: NoSuchSpan,
    -3: NoSuchChannel,
    -4: MemoryError,
    -5: Busy,
    -6: NotSupported,
    -7: NoDevice,
    -8: WrongState,
    -9: ConfigError,
}


def error(code: int, what: str) -> Exception:
    cls = _ERROR_CLASS.get(code, HalError)
    if cls is MemoryError:
        return MemoryError(f"{what}: out of memory")
    return cls(code, what)


def check(rc: int, what: str) -> int:
    """Return ``rc`` when it is not negative, else raise the error it stands for."""
    if rc < 0:
        raise error(rc, what)
    return rc
