"""Durable writes off the tick (ARCHITECTURE.md rules 5 and 8).

The tick writes to the store on its own connection and commits each tick's batch there,
as before, so every read the centre makes during a tick (the screen pop, the do-not-call
check, a look-up, the wrap-up written onto a CDR of an earlier tick) sees every write
made before it, and row ids come back at once. What moves off the tick is the wait for
the disk: the server's connection runs ``synchronous=NORMAL`` with automatic checkpoints
off (:meth:`cti.store.sqlite.Store.defer_sync`), so a COMMIT appends the transaction's frames to
the WAL file (the OS's page cache, microseconds) and never waits for an fsync or a
checkpoint; and :class:`WalSyncer`, a thread of its own, fsyncs the WAL file after each
commit the tick tells it about, and runs the checkpoints on its own connection.

SQLite's WAL recovery keeps exactly the transactions whose commit frame reached the
disk intact (the frames carry a running checksum from the WAL header), so once
``fsync(wal)`` has returned after a COMMIT, that transaction survives a crash or a
power cut, as with ``synchronous=FULL``. The shell holds back every event (and every
reply of a request that wrote) until the syncer says the writes made before it are on
disk: an event that reports a CDR still goes out only after that CDR is durable (rule
5), and the tick never waits (rule 8).

Commits are counted by the connection's ``total_changes`` (rows written so far): the
shell tells the syncer the count after each commit, the syncer reads the count it was
given, fsyncs, and reports that count durable.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Callable

__all__ = ["WalSyncer", "CHECKPOINT_BYTES"]

log = logging.getLogger("cti.server")

#: A checkpoint runs (on the syncer's connection) once the WAL is bigger than this, at most
#: once every CHECKPOINT_EVERY seconds; the store's journal_size_limit is the same size, so
#: the WAL file is cut back to it when it starts over.
CHECKPOINT_BYTES = 4 * 1024 * 1024
CHECKPOINT_EVERY = 1.0


class WalSyncer:
    """Fsyncs the WAL of the database at ``db_path`` off the tick.

    ``committed(n)`` (from the tick's thread, after a COMMIT) asks for every write up to
    count ``n`` to be made durable; the thread fsyncs the WAL and calls ``notify(n)``
    (from its own thread: the shell passes ``loop.call_soon_threadsafe`` wrapped around
    its handler). ``durable`` is the last count made durable. ``fsync`` is
    :func:`os.fsync` (tests slow it down to prove the tick does not wait for it).
    """

    def __init__(self, db_path: str | os.PathLike, notify: Callable[[int], None], *,
                 start: int = 0, fsync: Callable[[int], None] | None = None,
                 checkpoint_bytes: int = CHECKPOINT_BYTES, realtime: int = 0):
        self.db_path = os.fspath(db_path)
        self.wal_path = self.db_path + "-wal"
        self.notify = notify
        self.fsync = fsync or os.fsync
        self.checkpoint_bytes = checkpoint_bytes
        self.durable = start
        self.syncs = 0
        self.sync_max_s = 0.0
        self.checkpoints = 0
        self._want = start
        self._stop = False
        self._cond = threading.Condition()
        self._fd: int | None = None
        self._ino: int | None = None
        self.error: BaseException | None = None
        self.realtime = realtime
        self._thread = threading.Thread(target=self._run, name="cti-wal-sync", daemon=True)
        self._thread.start()

    # the tick's side -------------------------------------------------------------------
    def committed(self, n: int) -> None:
        """Every write up to count ``n`` is committed: make it durable."""
        with self._cond:
            if n > self._want:
                self._want = n
                self._cond.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything committed is durable (at shutdown)."""
        end = time.monotonic() + timeout
        with self._cond:
            while self.durable < self._want and self.error is None:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return self.durable >= self._want

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def stats(self) -> dict:
        return {"wal_syncs": self.syncs, "wal_sync_max_ms": round(self.sync_max_s * 1000, 3),
                "checkpoints": self.checkpoints, "durable_writes": self.durable,
                "pending_writes": max(0, self._want - self.durable)}

    # the syncer's thread ---------------------------------------------------------------
    def _wal_fd(self) -> int | None:
        """An fd on the WAL file as it is now (SQLite may have made a new one)."""
        try:
            st = os.stat(self.wal_path)
        except FileNotFoundError:
            return None
        if self._fd is None or st.st_ino != self._ino:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = os.open(self.wal_path, os.O_RDONLY)
            self._ino = os.fstat(self._fd).st_ino
            # a new file: its directory entry must be on disk too
            d = os.open(os.path.dirname(os.path.abspath(self.wal_path)), os.O_RDONLY)
            try:
                self.fsync(d)
            finally:
                os.close(d)
        return self._fd

    def _run(self) -> None:
        conn = None
        last_checkpoint = 0.0
        if self.realtime:
            # this thread takes the GIL between its syscalls: at an ordinary priority it
            # can be descheduled holding it, and the tick's real-time thread then waits
            try:
                os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK,
                                      os.sched_param(self.realtime))
            except (OSError, AttributeError):  # pragma: no cover - the loop said so already
                pass
        try:
            while True:
                with self._cond:
                    while self._want <= self.durable and not self._stop:
                        self._cond.wait()
                    if self._want <= self.durable:
                        return
                    target = self._want
                t = time.monotonic()
                fd = self._wal_fd()
                if fd is not None:
                    self.fsync(fd)
                dt = time.monotonic() - t
                self.syncs += 1
                self.sync_max_s = max(self.sync_max_s, dt)
                with self._cond:
                    self.durable = target
                    self._cond.notify_all()
                self.notify(target)
                if fd is not None and time.monotonic() - last_checkpoint >= CHECKPOINT_EVERY \
                        and os.fstat(fd).st_size > self.checkpoint_bytes:
                    last_checkpoint = time.monotonic()
                    if conn is None:
                        conn = sqlite3.connect(self.db_path, isolation_level=None)
                        conn.execute("PRAGMA busy_timeout = 1000")
                    # PASSIVE: copies what it can without blocking the tick's writes
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
        except BaseException as e:  # pragma: no cover - a disk gone: say so, keep the tick
            self.error = e
            log.exception("the WAL syncer stopped: events wait for writes that cannot be "
                          "made durable")
            with self._cond:
                self._cond.notify_all()
        finally:
            if conn is not None:
                conn.close()
