"""Long reports away from the tick (ARCHITECTURE.md rule 8: "nothing on it waits for ...
a report").

``report.losses`` over a long range reads and sums every CDR, queue-log row and
occupancy sample in it: seconds of CPU. The server hands it to a worker process of its
own (started on the first report, kept for the next), which opens the store read-only
(WAL: it reads a consistent snapshot while the server writes) and answers when done; the
tick keeps running meanwhile. A process, not a thread: a thread would share the GIL with
the tick.

The worker speaks JSON lines on its stdin and stdout: a job
``{"db": PATH, "op": "report.losses", "id": RID, "args": {...}}`` in, and one line out,
the whole reply (``{id, ok, result|error}``), which the server sends on as it is, without
decoding or copying it on its loop (a long report's reply is megabytes).

:class:`ReportRunner` is the server's side (asyncio): at most :data:`MAX_REPORTS` jobs
running or waiting; more get ``busy``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections import deque
from typing import Any, Callable

__all__ = ["ReportRunner", "MAX_REPORTS", "main"]

log = logging.getLogger("cti.server")

#: Reports running or waiting at once; more are answered ``busy``.
MAX_REPORTS = 4
_LINE_LIMIT = 1 << 30


def _run(job: dict) -> Any:
    from cti.store.report import loss_report
    from cti.store.sqlite import Store

    if job.get("op") != "report.losses":
        raise ValueError(f"op: no report {job.get('op')!r}")
    a = job["args"]
    with Store(job["db"], readonly=True) as store:
        return loss_report(store, a["start"], a["end"], interval=a["interval"],
                           sla_seconds=a["sla"], target_blocking=a["blocking"],
                           service_level_target=a["service_level"],
                           shrinkage=a["shrinkage"], max_abandon=a["max_abandon"])


def main() -> int:
    """The worker: one job per line on stdin, one answer per line on stdout."""
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        rid = None
        try:
            job = json.loads(line)
            rid = job.get("id")
            reply = {"id": rid, "ok": True, "result": _run(job)}
        except (ValueError, LookupError, TypeError) as e:
            reply = {"id": rid, "ok": False, "error": {"code": "failed", "message": str(e)[:500]}}
        except Exception as e:  # the worker keeps serving whatever one report does
            reply = {"id": rid, "ok": False, "error": {
                "code": "internal", "message": f"{type(e).__name__}: {e}"[:500]}}
        out.write(json.dumps(reply, separators=(",", ":"), allow_nan=False).encode() + b"\n")
        out.flush()
    return 0


class ReportRunner:
    """The server's side: a queue of jobs for one worker process.

    ``submit(args, rid, done)`` queues a job (RequestError ``busy`` beyond
    :data:`MAX_REPORTS`); ``done(reply)`` is called on the loop with the reply's JSON (a
    memoryview on the worker's line). ``running`` counts the jobs queued or running.
    """

    def __init__(self, db_path: str, *, limit: int = MAX_REPORTS, python: str | None = None):
        self.db_path = str(db_path)
        self.limit = limit
        self.python = python or sys.executable
        self._jobs: deque[tuple[dict, Callable[[bool, Any], None]]] = deque()
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.running = 0
        self.done_count = 0

    def submit(self, args: dict, rid: Any, done: Callable[[Any], None]) -> None:
        from cti.server.schema import RequestError

        if self.running >= self.limit:
            raise RequestError("busy", f"{self.running} reports are running or waiting (at most "
                               f"{self.limit}): try again when one is done")
        self.running += 1
        self._jobs.append(({"db": self.db_path, "op": "report.losses", "id": rid, "args": args},
                           done))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve())
        self._wake.set()

    async def _start(self) -> asyncio.subprocess.Process:
        env = dict(os.environ)
        # the worker imports the same tree as the server
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"]
                                    if env.get("PYTHONPATH") else "")
        return await asyncio.create_subprocess_exec(
            self.python, "-m", "cti.server.reportworker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env, limit=_LINE_LIMIT)

    async def _serve(self) -> None:
        while True:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
                continue
            job, done = self._jobs[0]
            try:
                if self._proc is None or self._proc.returncode is not None:
                    self._proc = await self._start()
                self._proc.stdin.write(json.dumps(job).encode() + b"\n")
                await self._proc.stdin.drain()
                line = await self._proc.stdout.readline()
                if not line.endswith(b"\n"):
                    raise RuntimeError("the report worker ended")
                reply = memoryview(line)[:-1]
            except Exception as e:
                log.error("report worker: %s", e)
                self._proc = None
                reply = json.dumps({"id": job["id"], "ok": False, "error": {
                    "code": "internal", "message": f"report worker: {e}"}}).encode()
            self._jobs.popleft()
            self.running -= 1
            self.done_count += 1
            done(reply)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.stdin.close()
            try:
                await asyncio.wait_for(self._proc.wait(), 2)
            except (asyncio.TimeoutError, Exception):
                self._proc.kill()


if __name__ == "__main__":
    sys.exit(main())
