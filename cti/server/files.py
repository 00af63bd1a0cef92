"""The home is the server user's alone (issue #16): 0700 folders, 0600 files.

The home holds the customers' data (the SQLite database, recordings, voicemail), the
server's secret key and the ipc sockets (HOME/run: whoever can open that folder is
the administrator, cti/server/auth.py). ``cti serve`` sets the umask 077 at start
(:func:`private_umask`), the writers create their files with explicit modes
(cti/store/sqlite.py, cti/centre/media.py, cti/server/logs.py, cti/server/keyfile.py),
and :func:`secure_home` tightens a home that an older version, a copy or a hand left
looser, saying what it changed.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_umask", "secure_home", "private_dir"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> int:
    """Files and folders made from now on are the user's alone; returns the old umask."""
    return os.umask(0o077)


def private_dir(path: str | os.PathLike) -> Path:
    """``path`` as a folder of mode 0700 (made, or tightened)."""
    p = Path(path)
    p.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(p.stat().st_mode) != DIR_MODE:
        os.chmod(p, DIR_MODE)
    return p


def secure_home(home: str | os.PathLike) -> list[str]:
    """Tighten ``home`` and everything under it that is ours: folders to 0700, regular
    files to 0600 (group and others lose every bit; symbolic links are not followed,
    sockets are left to their folder's mode). Returns ``"path: 0755 -> 0700"`` for each
    change, for the log."""
    home = Path(home)
    changed: list[str] = []
    uid = os.geteuid()

    def fix(path: str, st: os.stat_result, want: int) -> None:
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid == uid and mode & 0o077:
            new = want if stat.S_ISDIR(st.st_mode) else (mode & 0o700) | 0o600
            os.chmod(path, new)
            changed.append(f"{path}: {mode:04o} -> {new:04o}")

    st = os.lstat(home)
    fix(str(home), st, DIR_MODE)
    for top, dirs, files in os.walk(home):
        for name in dirs:
            p = os.path.join(top, name)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                fix(p, st, DIR_MODE)
        for name in files:
            p = os.path.join(top, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                fix(p, st, FILE_MODE)
    return changed
