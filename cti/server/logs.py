"""The server's log: HOME/log/cti.log, with the standard library's :mod:`logging`.

``cti serve`` calls :func:`setup` once at start and :func:`teardown` on the way out.
Everything under the ``cti`` logger goes there: ``cti.server`` (start, stop, restarts
and recovery, span alarms raised and cleared, D-channels up and down, Q.931 RESTARTs,
supervisors' and administrators' requests, failures outside a call) and ``cti.centre``
(a call that failed, with its traceback). The file rotates (a few MB, a few files, as
:class:`logging.handlers.RotatingFileHandler` does); the directory is private (0700) and
every file in it 0600, since a log names callers' numbers. Stderr keeps its short
start-up lines; nothing here writes to it.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

__all__ = ["setup", "teardown", "LEVELS", "LOG_DIR", "LOG_FILE", "level_of"]

LOG_DIR = "log"
LOG_FILE = "cti.log"
MAX_BYTES = 5 << 20             # 5 MB a file
BACKUPS = 4                     # cti.log.1 .. cti.log.4 kept
LEVELS = ("debug", "info", "warning", "error", "critical")
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose every file is created 0600, whatever the umask."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def level_of(name: str | int) -> int:
    """``"info"`` (any case) or a :mod:`logging` number -> the number; ValueError if
    it is neither."""
    if isinstance(name, int) and not isinstance(name, bool):
        return name
    if isinstance(name, str) and name.lower() in LEVELS:
        return getattr(logging, name.upper())
    raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {name!r}")


def setup(home: str | os.PathLike, level: str | int = "info", *, max_bytes: int = MAX_BYTES,
          backups: int = BACKUPS) -> logging.Handler:
    """Send the ``cti`` loggers at ``level`` and above to HOME/log/cti.log (rotated at
    ``max_bytes``, ``backups`` old files kept); returns the handler for :func:`teardown`."""
    lvl = level_of(level)
    d = Path(home) / LOG_DIR
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    handler = PrivateRotatingFileHandler(d / LOG_FILE, maxBytes=max_bytes,
                                         backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    handler.setLevel(lvl)
    root = logging.getLogger("cti")
    root.addHandler(handler)
    # the logger passes what any of its handlers wants (several servers in one test
    # process each have their own)
    levels = [h.level for h in root.handlers if h.level] or [lvl]
    root.setLevel(min(levels))
    return handler


def teardown(handler: logging.Handler | None) -> None:
    """Detach and close a handler :func:`setup` returned."""
    if handler is None:
        return
    root = logging.getLogger("cti")
    root.removeHandler(handler)
    handler.close()
    levels = [h.level for h in root.handlers if h.level]
    root.setLevel(min(levels) if levels else logging.NOTSET)
