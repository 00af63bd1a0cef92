"""Disk writes off the board tick (ARCHITECTURE rule 8: the tick never waits on a disk).

One thread does the writes of many files, in the order they were asked for (so a file's
appends, header rewrites, close and removal keep their order). The tick only queues a
job: a lock taken for a few instructions, never held across a write. The queue is bounded
in bytes: a job that carries data and would take the queue past its bound is refused
(``submit`` returns False, counted in ``dropped_*``) and the caller decides what that
means for its file; jobs without data (open, close, remove) are always taken, as they
are few (one or two per file) and losing one would leak a descriptor or a file. So a slow
or stalled disk costs audio, not memory, and never the tick.

A job that raises (a full disk, a bad directory) is handed to its target's ``fail``; what
the writer does for the other files goes on.
"""
from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import weakref

__all__ = ["DiskWriter", "QUEUE_BYTES"]

log = logging.getLogger("cti.media")

#: bytes of queued data at most: about 0.5 s of 700 recorded calls' G.711 (16 kB per call
#: second, both sides) and 250 s of one call; past it, data jobs are refused
QUEUE_BYTES = 8 << 20

#: the writer thread's niceness, added to the process's
NICE = 5

_writers: "weakref.WeakSet[DiskWriter]" = weakref.WeakSet()


class DiskWriter:
    """A writer thread fed by a queue bounded in ``max_bytes`` of data.

    ``submit(target, op, args, size)`` queues ``getattr(target, op)(*args)``; the thread
    runs the jobs one by one in the order they came. ``flush(timeout)`` waits until every
    job queued before it is done (shutdown, tests). Counters: ``jobs``, ``bytes`` (data
    jobs done), ``dropped_jobs``/``dropped_bytes`` (refused: the queue was full),
    ``errors`` (jobs that raised), ``queued_bytes`` now and ``peak_bytes`` (its maximum)."""

    def __init__(self, max_bytes: int = QUEUE_BYTES, name: str = "cti-disk-writer"):
        self.max_bytes = max_bytes
        self.name = name
        self._jobs: collections.deque = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._pending = 0               # queued or running
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.queued_bytes = 0
        self.peak_bytes = 0
        self.jobs = 0
        self.bytes = 0
        self.dropped_jobs = 0
        self.dropped_bytes = 0
        self.errors = 0
        _writers.add(self)

    def submit(self, target, op: str, args: tuple = (), size: int = 0) -> bool:
        """Queue a job; never blocks. A job with ``size`` bytes of data is refused (False)
        when the queue would hold more than ``max_bytes``."""
        with self._cond:
            if size and self.queued_bytes + size > self.max_bytes:
                self.dropped_jobs += 1
                self.dropped_bytes += size
                return False
            self.queued_bytes += size
            if self.queued_bytes > self.peak_bytes:
                self.peak_bytes = self.queued_bytes
            self._pending += 1
            self._jobs.append((target, op, args, size))
            self._stopping = False
            if self._thread is None or not self._thread.is_alive():
                self._start()
            self._cond.notify()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and the job in hand is done; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Finish what is queued and end the thread (a writer made for a while, as in
        tests; the process's own lives as long as the process). False on timeout."""
        ok = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return ok

    def stats(self) -> dict:
        with self._cond:
            return {"queued_bytes": self.queued_bytes, "peak_bytes": self.peak_bytes,
                    "max_bytes": self.max_bytes, "jobs": self.jobs, "bytes": self.bytes,
                    "dropped_jobs": self.dropped_jobs, "dropped_bytes": self.dropped_bytes,
                    "errors": self.errors}

    # -- the thread
    def _start(self) -> None:
        # a daemon: an idle writer must not keep a process alive; atexit flushes it
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            # below the tick's thread when the cores are busy (Linux: a thread is a task)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        except (AttributeError, OSError):   # pragma: no cover - not Linux
            pass
        while True:
            with self._cond:
                while not self._jobs:
                    if self._stopping:
                        self._thread = None
                        return
                    self._cond.wait()
                target, op, args, size = self._jobs.popleft()
            failed = False
            try:
                getattr(target, op)(*args)
            except Exception as e:   # noqa: BLE001 - one file's failure, not the writer's
                failed = True
                try:
                    target.fail(e)
                except Exception:    # noqa: BLE001
                    log.exception("disk writer: %r failed on %s", target, op)
            with self._cond:
                # the data is counted until it is written: it is held until then
                self.queued_bytes -= size
                self._pending -= 1
                self.jobs += 1
                if failed:
                    self.errors += 1
                elif size:
                    self.bytes += size
                if self._pending == 0:
                    self._cond.notify_all()


def flush_all(timeout: float | None = None) -> bool:
    """Flush every writer of this process (``cti serve`` at its exit)."""
    ok = True
    for w in list(_writers):
        ok = w.flush(timeout) and ok
    return ok


# a process that ends without serve()'s flush (a script, a test run) still completes its files
atexit.register(flush_all, 30.0)
