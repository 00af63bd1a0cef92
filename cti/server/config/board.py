"""The configuration's dataclasses and the [server], [board] (spans and analog ports)
and [sim] sections; :func:`_build` reads them and hands the call-centre sections to
cti.server.config.centre."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cti.server.config.centre import _centre
from cti.server.config.checker import ConfigError, _Checker
from cti.server.config.limits import (BACKENDS, FRAMES_PER_MS, IPC_PATH_MAX, LAWS,
                                      MAX_CABLE_DELAY_BITS, MAX_PORTS, MAX_SPANS, PORT_KINDS,
                                      SIGNALLING, TICK_MS_MAX, TICK_MS_MIN)
from cti.server.endpoints import DEFAULT_HOME, default_endpoints
from cti.server.logs import LEVELS as LOG_LEVELS
from drivers.board import SpanConfig


@dataclass(frozen=True)
class PortConfig:
    """An analog port: ``fxs`` feeds a phone, ``fxo`` is a line from the exchange."""

    number: int
    kind: str

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.number}"


@dataclass(frozen=True)
class BoardConfig:
    """The board to drive; ``spans`` are :class:`drivers.board.SpanConfig`, as the board
    takes them (what TS16 carries, CRC-4 multiframe of G.704 2.3.3, the G.711 law)."""

    name: str = "sim0"
    backend: str = "sim"
    tick_ms: int = 20
    spans: tuple[SpanConfig, ...] = ()
    ports: tuple[PortConfig, ...] = ()
    device: str = ""

    @property
    def tick_frames(self) -> int:
        """E1 frames per tick: 8 per millisecond (160 for 20 ms)."""
        return self.tick_ms * FRAMES_PER_MS


@dataclass(frozen=True)
class SimConfig:
    """The simulated world: seed of every random fault, and the virtual cables."""

    seed: int = 1
    cable_delay_bits: int = 3


@dataclass(frozen=True)
class ServerConfig:
    home: Path = Path(DEFAULT_HOME)
    requests: str = ""
    events: str = ""
    replay_ring: int = 10000
    log_level: str = "info"
    audit_days: float = 90.0          # the audit log's rows kept (cti/store/accounts.py)
    login_failures: int = 5           # wrong passwords/PINs that lock an account ...
    lockout_seconds: float = 900.0    # ... within this many seconds, for this long
    listen: str = ""          # tcp://HOST:PORT: requests there, events on PORT + 1 (keys)

    @property
    def tcp(self) -> tuple[str, str] | None:
        """The TCP endpoints (requests, events) of ``listen``, or None."""
        if not self.listen:
            return None
        head, port = self.listen.rsplit(":", 1)
        return f"{head}:{port}", f"{head}:{int(port) + 1}"


@dataclass(frozen=True)
class Config:
    board: BoardConfig
    sim: SimConfig | None
    server: ServerConfig
    source: str = "<default>"
    text: str = field(default="", repr=False)
    centre: Any = None        # cti.centre.coordinator.CentreConfig, when agents and queues are configured


def check_endpoint(endpoint: str, tcp: bool = False) -> str | None:
    """Return why ``endpoint`` may not be bound, or None when it may.

    ``server.requests`` and ``server.events`` take ipc (the home's private folder: its
    owner is the administrator) and inproc; TCP, loopback included, is ``server.listen``
    (``tcp=True``), where every client needs a key (CurveZMQ, issue #16).
    """
    if not isinstance(endpoint, str) or "://" not in endpoint:
        return f"{endpoint!r} is not a ZeroMQ endpoint (ipc://PATH or tcp://HOST:PORT)"
    scheme, rest = endpoint.split("://", 1)
    if tcp:
        if scheme != "tcp":
            return f"{endpoint!r}: server.listen takes tcp://HOST:PORT"
        m = re.fullmatch(r"(\[[^\]]+\]|[^:]+):(\d+)", rest)
        if not m or not 0 < int(m.group(2)) < 65535:
            return (f"{endpoint!r} is not tcp://HOST:PORT with a port number below 65535 "
                    "(events go on the next port)")
        return None
    if scheme == "ipc":
        if not rest:
            return "ipc endpoint has no path"
        if len(rest.encode()) > IPC_PATH_MAX:
            return (f"ipc path is {len(rest.encode())} bytes, longer than the {IPC_PATH_MAX} a "
                    "Unix socket allows: use a shorter --home")
        return None
    if scheme == "inproc":
        return None
    if scheme == "tcp":
        return ("a TCP bind, loopback included, needs keys: set server.listen = "
                "\"tcp://HOST:PORT\" (CurveZMQ; clients get keys from `cti admin key issue`) "
                "and leave server.requests and server.events on ipc")
    return f"scheme {scheme!r} is not supported (ipc, and tcp in server.listen)"

def _build(data: dict, text: str, source: str, home_override) -> Config:
    c = _Checker(text)
    c.table(data, (), ("server", "board", "sim", "centre", "agents", "queues", "routing", "ivr"))

    # [server]
    srv = c.table(data.get("server", {}), ("server",),
                  ("home", "requests", "events", "replay_ring", "listen", "log_level",
                   "audit_days", "login_failures", "lockout_seconds"))
    home = c.get(srv, ("server",), "home", str, DEFAULT_HOME)
    if home_override is not None:
        home = os.fspath(home_override)
    home_path = Path(home)
    req_default, ev_default = default_endpoints(home_path)
    requests = c.get(srv, ("server",), "requests", str, req_default)
    events = c.get(srv, ("server",), "events", str, ev_default)
    for key, ep in (("requests", requests), ("events", events)):
        why = check_endpoint(ep)
        if why:
            c.error(("server", key), why)
    if requests == events and "requests" in srv:
        c.error(("server", "events"), "must differ from server.requests")
    ring = c.get(srv, ("server",), "replay_ring", int, 10000, lo=16, hi=10_000_000)
    log_level = c.get(srv, ("server",), "log_level", str, "info", choices=LOG_LEVELS)
    accounts = dict(
        audit_days=float(c.get(srv, ("server",), "audit_days", (int, float), 90, lo=1,
                               hi=36_500)),
        login_failures=c.get(srv, ("server",), "login_failures", int, 5, lo=1, hi=1000),
        lockout_seconds=float(c.get(srv, ("server",), "lockout_seconds", (int, float), 900,
                                    lo=1, hi=86_400 * 365)))
    listen = c.get(srv, ("server",), "listen", str, "")
    if listen:
        why = check_endpoint(listen, tcp=True)
        if why:
            c.error(("server", "listen"), why)

    # [board]
    if "board" not in data:
        c.error(("board",), "missing: the board to drive ([board] with its spans and ports)")
    b = c.table(data.get("board", {}), ("board",),
                ("name", "backend", "device", "tick_ms", "spans", "ports"))
    name = c.get(b, ("board",), "name", str, "sim0")
    if "name" in b and isinstance(name, str) and not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        c.error(("board", "name"), f"{name!r}: use letters, digits, '-' and '_'")
    backend = c.get(b, ("board",), "backend", str, "sim", choices=BACKENDS)
    device = c.get(b, ("board",), "device", str, "")
    tick_ms = c.get(b, ("board",), "tick_ms", (int, float), 20, lo=TICK_MS_MIN, hi=TICK_MS_MAX)
    if isinstance(tick_ms, float):
        if tick_ms.is_integer():
            tick_ms = int(tick_ms)
        else:
            # tick_ms * 8 frames must be whole; the HAL also takes whole milliseconds
            c.error(("board", "tick_ms"), f"{tick_ms!r} is not a whole number of ms (a tick is "
                    "tick_ms * 8 E1 frames)")
            tick_ms = 20

    spans: list[SpanConfig] = []
    seen: dict[int, int] = {}
    for p, s in c.tables(b, ("board",), "spans"):
        s = c.table(s, p, ("number", "signalling", "crc4", "law"))
        if not s:
            continue
        if "number" not in s:
            c.error(p, "missing key: number")
            continue
        num = c.get(s, p, "number", int, None, lo=1, hi=MAX_SPANS)
        if num is None:
            continue
        if num in seen:
            c.error(p + ("number",), f"span {num} is already defined (board.spans[{seen[num]}])")
            continue
        seen[num] = p[-1]
        spans.append(SpanConfig(
            number=num,
            signalling=c.get(s, p, "signalling", str, "pri", choices=SIGNALLING),
            crc4=c.get(s, p, "crc4", bool, True),
            law=c.get(s, p, "law", str, "alaw", choices=LAWS),
        ))

    ports: list[PortConfig] = []
    used: dict[int, int] = {}
    for p, pt in c.tables(b, ("board",), "ports"):
        i = p[-1]
        pt = c.table(pt, p, ("kind", "number", "count"))
        if not pt:
            continue
        if "kind" not in pt:
            c.error(p, "missing key: kind (fxs or fxo)")
            continue
        kind = c.get(pt, p, "kind", str, None, choices=PORT_KINDS)
        count = c.get(pt, p, "count", int, 1, lo=1, hi=MAX_PORTS)
        first = c.get(pt, p, "number", int, None, lo=1, hi=MAX_PORTS)
        if kind is None or ("number" in pt and first is None):
            continue
        if first is None:
            first = max(used, default=0) + 1
        for n in range(first, first + count):
            if n > MAX_PORTS:
                c.error(p + ("count",), f"port {n} is beyond the {MAX_PORTS} a board has")
                break
            if n in used:
                c.error(p + ("number" if "number" in pt else "count",),
                        f"port {n} is already defined (board.ports[{used[n]}])")
                break
            used[n] = i
            ports.append(PortConfig(number=n, kind=kind))
    ports.sort(key=lambda x: x.number)
    spans.sort(key=lambda x: x.number)
    # The HAL numbers spans and ports from 1 in order (hal_board_open takes counts).
    if [s.number for s in spans] != list(range(1, len(spans) + 1)):
        i = next(i for i, s in enumerate(spans, 1) if s.number != i)
        c.error(("board", "spans", seen.get(spans[i - 1].number, 0), "number"),
                f"spans are numbered 1..{len(spans)} without gaps: span {i} is missing")
    if [p_.number for p_ in ports] != list(range(1, len(ports) + 1)):
        i = next(i for i, p_ in enumerate(ports, 1) if p_.number != i)
        c.error(("board", "ports", used.get(ports[i - 1].number, 0)),
                f"ports are numbered 1..{len(ports)} without gaps: port {i} is missing")
    if not spans and not ports and "board" in data and not c.errors:
        c.error(("board",), "has neither spans nor ports")

    # [sim]
    sim = None
    if "sim" in data or backend == "sim":
        sp = c.table(data.get("sim", {}), ("sim",), ("seed", "cable_delay_bits"))
        if backend != "sim" and "sim" in data:
            c.error(("sim",), f"only applies to board.backend \"sim\", not {backend!r}")
        sim = SimConfig(
            seed=c.get(sp, ("sim",), "seed", int, 1, lo=0, hi=2**40),
            cable_delay_bits=c.get(sp, ("sim",), "cable_delay_bits", int, 3, lo=0,
                                   hi=MAX_CABLE_DELAY_BITS),
        )

    centre = None
    if any(k in data for k in ("centre", "agents", "queues", "routing", "ivr")):
        centre = _centre(c, data, home_path, [p.kind for p in ports])
    if listen and centre is None:
        c.error(("server", "listen"), "TCP needs keys, and the keys are kept in the "
                "centre's store: configure the centre ([centre], [[agents]], [[queues]]) "
                "or stay on ipc")

    if c.errors:
        raise ConfigError(c.errors, source)
    return Config(
        board=BoardConfig(name=name, backend=backend, tick_ms=tick_ms, spans=tuple(spans),
                          ports=tuple(ports), device=device),
        sim=sim,
        server=ServerConfig(home=home_path, requests=requests, events=events, replay_ring=ring,
                            log_level=log_level, listen=listen, **accounts),
        source=source,
        text=text,
        centre=centre,
    )
