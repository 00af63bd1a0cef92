"""The server in the test's own process: a :class:`Service` ticked by the test (the sans-I/O
core, on the simulated world ``cti serve`` builds from the embedded default), and
:class:`InProcessServer`, the ZeroMQ shell (``serve()``) in a thread. The fixtures ``svc``
and ``server`` (tests/conftest.py) are built from these."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from cti.clients.client import Client, CtiError
from cti.server.config import load_config
from cti.server.loop import serve
from cti.server.service import Service, build_world
from drivers.board import Audio

WALL = 1_000_000.0      # wall clock at line time zero, for ``ts``
TICK_S = 0.02           # the embedded default's tick
# Start-up: both framers align (G.706 4.1: FAS, NFAS, FAS) within the first ticks, so the
# start-up alarms (LOS until the far end's first bits arrive, LOF, LOMF) clear at once.
START_TICKS = 5


def make_service(home) -> Service:
    """A Service on the simulated world, built as ``cti serve`` builds it (on a home of
    its own: a start on a used home restores what the last run left)."""
    cfg = load_config(home=home)
    world, board = build_world(cfg)
    assert board is None
    return Service(cfg, world=world, wall_start=WALL)


def ticks(svc, n: int) -> list:
    """``n`` ticks of the service: the events it published."""
    pubs = []
    for _ in range(n):
        pubs += svc.tick()[0]
    return pubs


def tick_until(svc, cond, limit: int, what: str) -> tuple[int, list]:
    """Tick until ``cond()`` holds, at most ``limit`` ticks: (ticks taken, events)."""
    pubs = []
    for n in range(1, limit + 1):
        pubs += svc.tick()[0]
        if cond():
            return n, pubs
    pytest.fail(f"{what}: not within {limit} ticks")


def settle(svc) -> list:
    """Tick through the start-up alarms: every span in sync without alarms."""
    return tick_until(svc, lambda: not any(sp.alarms() for sp in svc.board.spans.values()),
                      START_TICKS, "start-up alarms clear")[1]


def tapped(svc) -> set[tuple[int, int]]:
    """What the board taps now: ``(span, timeslot)`` of the audio of one world tick, taken
    outside the service (span 0: the timeslot is a port)."""
    return {(e.span, e.timeslot) for e in svc.world.tick() if isinstance(e, Audio)}


def req(svc, op, rid=1, **args):
    return svc.handle(json.dumps({"id": rid, "op": op, "args": args}).encode())


def ok(svc, op, **args):
    r = req(svc, op, **args)
    assert r["ok"], r
    return r["result"]


def err(svc, op, **args):
    r = req(svc, op, **args)
    assert not r["ok"], r
    return r["error"]


class InProcessServer:
    """``serve()`` in a thread, building its world as ``cti serve`` does (from the file
    ``config_path``, else the embedded default); ``stop()`` asks it to shut down."""

    def __init__(self, home: Path, speed: float = 1.0, seconds=None, config_path=None,
                 config=None):
        self.config = config if config is not None else load_config(config_path, home=home)
        self.ready = threading.Event()
        self.service = None
        self.error = None
        self.logs = []

        def run():
            try:
                asyncio.run(serve(self.config, speed=speed, seconds=seconds,
                                  log=self.logs.append, ready=self._ready))
            except BaseException as e:  # noqa: BLE001 - reported by the test
                self.error = e
                self.ready.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "server did not start"
        if self.error:
            raise self.error

    def _ready(self, service):
        self.service = service
        self.ready.set()

    @property
    def world(self):
        return self.service.world

    def wait_in_sync(self, timeout: float = 5.0) -> None:
        """Wait (wall clock) until the start-up alarms have cleared on every span and
        every span is in service (a call offered during the start-up restart is cleared
        by it)."""
        deadline = time.monotonic() + timeout
        with Client(self.config.server.home, timeout=3) as c:
            while True:
                spans = c.request("snapshot")["spans"]
                if all(s["in_sync"] and not s["alarms"] for s in spans):
                    c.wait_ready(max(1.0, deadline - time.monotonic()))
                    return
                assert time.monotonic() < deadline, f"start-up alarms did not clear: {spans}"
                time.sleep(0.01)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.thread.is_alive():
            try:
                with Client(self.config.server.home, timeout=2) as c:
                    c.request("shutdown")
            except CtiError:
                pass
        self.thread.join(10)
        assert not self.thread.is_alive()
