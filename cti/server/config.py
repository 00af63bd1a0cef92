"""The server's configuration: one TOML file, read with :mod:`tomllib`.

With no file the embedded default (:data:`DEFAULT_TOML`) is used: one simulated board
``sim0`` with two E1 spans (ISDN PRI, CRC-4, A-law) cabled to a simulated exchange, eight
FXS ports (agents' phones) and four FXO ports (trunks from the exchange), a 20 ms tick.

Layout of the file::

    [server]
    home = "var"                      # state directory; `cti serve --home` overrides it
    requests = "ipc://var/cti-req.sock"    # ROUTER (default: ipc under home)
    events = "ipc://var/cti-events.sock"   # PUB (default: ipc under home)
    replay_ring = 10000               # events kept for `replay`
    log_level = "info"                # HOME/log/cti.log: debug|info|warning|error|critical
                                      # (`cti serve --log-level` overrides it)

    [board]
    name = "sim0"
    backend = "sim"                   # "sim" (software card) or "dahdi"
    device = ""                       # backend device (dahdi: the card), unused by "sim"
    tick_ms = 20                      # whole ms, 5..100 (a tick is tick_ms * 8 E1 frames)

    [[board.spans]]
    number = 1
    signalling = "pri"                # pri (CCS, TS16 D-channel) | cas (China No.1 R2) | clear
    crc4 = true
    law = "alaw"                      # alaw | ulaw

    [[board.ports]]
    kind = "fxs"                      # fxs: we ring a phone; fxo: a line from the exchange
    count = 8                         # ports numbered on from the last one (or give `number`);
                                      # spans and ports are numbered 1..N without gaps

    [sim]                             # only for backend "sim": the world around the board
    seed = 1
    cable_delay_bits = 3              # one-way delay of every virtual E1 cable

Every error names the key path (``board.spans[1].law``) and, for a file, its line;
unknown keys are errors, so a misspelt key never passes silently. tomllib reports line
numbers only for syntax errors, so the line of a key is found by scanning the source
text (:class:`_KeyLines`).

Beyond types and ranges, what a caller would meet is checked at load (ARCHITECTURE.md
rule 6), so that a file that loads does not fail on the first call: every prompt a flow
plays and the music on hold (``[centre] moh``, a prompt name: never a path, so it stays
in the prompts directory) exists there or is one the server makes at start
(cti.centre.prompts.DEFAULT_PROMPTS, when the prompts directory is inside the home; one outside
it is a shared set that must exist, since nothing is written outside the home); IVR
queue and callback nodes and queues' ``overflow`` name queues that exist; lookups only
on the tables and columns of cti.store.sqlite.LOOKUPS; one agent per extension; numbers
(``outbound_ani``, DNIS keys, area prefixes) are what the lines carry
(drivers/numbers.py).

Security (ARCHITECTURE.md, "The ZeroMQ protocol"): ipc and loopback tcp need no keys;
any other tcp bind needs CurveZMQ keys, which this version does not support yet, so such
a bind is refused with an error that says so.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cti.centre.ivr import EXAMPLE_FLOWS_TOML
from cti.server.endpoints import DEFAULT_HOME, default_endpoints
from cti.server.logs import LEVELS as LOG_LEVELS
from drivers import board
from drivers.board import SpanConfig
from drivers.hal import lib

__all__ = [
    "ConfigError",
    "PortConfig",
    "BoardConfig",
    "SimConfig",
    "ServerConfig",
    "Config",
    "DEFAULT_TOML",
    "DEFAULT_HOME",
    "load_config",
    "parse_config",
    "default_endpoints",
    "check_endpoint",
]


# What the board layer accepts, so that a file is checked against the board it drives.
SIGNALLING = tuple(board.SIGNALLING)    # pri, cas, clear
LAWS = tuple(board.LAWS)                # alaw, ulaw
PORT_KINDS = tuple(board.PORT_KINDS)    # fxs, fxo
BACKENDS = ("sim", "dahdi")
MAX_SPANS = lib.HAL_MAX_SPANS           # csrc/hal.h
MAX_PORTS = lib.HAL_MAX_PORTS
FRAMES_PER_MS = 8       # G.704: 8000 frames/s
TICK_MS_MIN, TICK_MS_MAX = 5, 100
MAX_CABLE_DELAY_BITS = 4096  # what hal_sim_cable_connect accepts (16 frames of line time)
IPC_PATH_MAX = 107      # sun_path holds 108 bytes with the NUL

# The keys of a [[queues]] table besides name and members (cti.centre.acd.QueueConfig's fields).
_QUEUE_OPTIONS = ("strategy", "ring_timeout", "wrapup", "max_wait", "overflow", "join_empty",
                  "leave_when_empty", "announce_every", "pause_on_no_answer",
                  "required_skills", "weight", "max_len", "dissuade_ewt", "dissuade")

_QUEUE_TYPES = {"strategy": str, "ring_timeout": (int, float), "wrapup": (int, float),
                "max_wait": (int, float), "overflow": str, "join_empty": bool,
                "leave_when_empty": bool, "announce_every": (int, float),
                "pause_on_no_answer": bool, "required_skills": dict, "weight": int,
                "max_len": int, "dissuade_ewt": (int, float), "dissuade": str}

DEFAULT_TOML = """\
# The embedded default: a simulated board cabled to a simulated exchange.
[server]
home = "var"
replay_ring = 10000

[board]
name = "sim0"
backend = "sim"
tick_ms = 20

[[board.spans]]
number = 1
signalling = "pri"
crc4 = true
law = "alaw"

[[board.spans]]
number = 2
signalling = "pri"
crc4 = true
law = "alaw"

[[board.ports]]
kind = "fxs"
count = 8

[[board.ports]]
kind = "fxo"
count = 4

[sim]
seed = 1
cable_delay_bits = 3

# The call centre: eight agents on the FXS ports, two queues, the IVR on the PRI trunks.
[centre]
ivr_ports = 8
record = true
moh = "moh"

[[agents]]
first = 1001
count = 8
first_extension = 1

[[queues]]
name = "sales"
strategy = "longest-idle"
members = "all"
ring_timeout = 12
wrapup = 5
max_wait = 60
overflow = "voicemail:sales"

[[queues]]
name = "service"
strategy = "ring-all"
members = ["1001", "1002", "1003", "1004"]
ring_timeout = 12
wrapup = 5

[routing]
default = "ivr:main"
dnis = { "4008005555" = "queue:service" }
""" + EXAMPLE_FLOWS_TOML


class ConfigError(ValueError):
    """One or more configuration errors. ``errors`` holds ``(path, line, message)``.

    ``str()`` gives one line per error: ``FILE:LINE: key.path: message``.
    """

    def __init__(self, errors: list[tuple[str, int | None, str]], source: str = "<config>"):
        self.errors = list(errors)
        self.source = source
        super().__init__("\n".join(self.format_one(e) for e in self.errors))

    def format_one(self, err: tuple[str, int | None, str]) -> str:
        path, line, msg = err
        where = f"{self.source}:{line}" if line else self.source
        return f"{where}: {path}: {msg}" if path else f"{where}: {msg}"


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


@dataclass(frozen=True)
class Config:
    board: BoardConfig
    sim: SimConfig | None
    server: ServerConfig
    source: str = "<default>"
    text: str = field(default="", repr=False)
    centre: Any = None        # cti.centre.coordinator.CentreConfig, when agents and queues are configured


def check_endpoint(endpoint: str, curve_keys: bool = False) -> str | None:
    """Return why ``endpoint`` may not be bound, or None when it may.

    ipc and inproc are fine; tcp only on a loopback address unless CurveZMQ keys are
    configured (not supported yet, so never).
    """
    if not isinstance(endpoint, str) or "://" not in endpoint:
        return f"{endpoint!r} is not a ZeroMQ endpoint (ipc://PATH or tcp://HOST:PORT)"
    scheme, rest = endpoint.split("://", 1)
    if scheme == "ipc":
        if not rest:
            return "ipc endpoint has no path"
        if len(rest.encode()) > IPC_PATH_MAX:
            return (f"ipc path is {len(rest.encode())} bytes, longer than the {IPC_PATH_MAX} a "
                    "Unix socket allows: use a shorter --home")
        return None
    if scheme == "inproc":
        return None
    if scheme != "tcp":
        return f"scheme {scheme!r} is not supported (ipc, tcp)"
    m = re.fullmatch(r"(\[[^\]]+\]|[^:]+):(\d+|\*)", rest)
    if not m:
        return f"{endpoint!r} is not tcp://HOST:PORT"
    host = m.group(1).strip("[]")
    if host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback or curve_keys:
        return None
    return (f"tcp bind on {host} is not loopback: binding beyond this machine needs CurveZMQ "
            "keys (server.curve), which this version does not support yet; use ipc:// or "
            "tcp://127.0.0.1")


class _KeyLines:
    """Line numbers of keys, found by scanning the TOML source text.

    Understands ``[table]``, ``[[array.of.tables]]`` (counting the elements),
    ``key = value`` and dotted keys, and inline tables that open on their own line
    inside a multi-line array. Good enough to point a user at the line; when a path is
    not found the nearest enclosing one is used.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*|\"[^\"]*\"|'[^']*')\s*=")

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        table: tuple = ()
        in_ml_string = None
        array_key: tuple | None = None
        array_idx = -1
        depth = 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw
            if in_ml_string:
                if in_ml_string in line:
                    in_ml_string = None
                continue
            if array_key is not None:
                stripped = line.strip()
                if stripped.startswith("{"):
                    array_idx += 1
                    self.lines.setdefault(array_key + (array_idx,), lineno)
                    for k in re.findall(r"([A-Za-z0-9_\-]+)\s*=", stripped):
                        self.lines.setdefault(array_key + (array_idx, k), lineno)
                depth += _bracket_depth(line)
                if depth <= 0:
                    array_key = None
                continue
            m = self._HEADER.match(line)
            if m and "=" not in m.group(2):
                path = tuple(_split_dotted(m.group(2)))
                if m.group(1) == "[[":
                    idx = counts.get(path, 0)
                    counts[path] = idx + 1
                    # elements of an array of tables under an earlier array's element
                    table = path + (idx,)
                    self.lines.setdefault(path, lineno)
                else:
                    table = path
                self.lines.setdefault(table, lineno)
                continue
            m = self._KEY.match(line)
            if m:
                key = table + tuple(_split_dotted(m.group(1)))
                self.lines.setdefault(key, lineno)
                value = line[m.end():]
                for q in ('"""', "'''"):
                    if value.count(q) == 1:
                        in_ml_string = q
                if in_ml_string is None:
                    d = _bracket_depth(value)
                    if d > 0:
                        array_key, array_idx, depth = key, -1, d
                        if value.strip().startswith("[") and "{" in value:
                            array_idx = 0
                            self.lines.setdefault(key + (0,), lineno)
                    else:
                        # one-line array of inline tables: every element is on this line
                        for i, _ in enumerate(re.findall(r"\{", value)):
                            self.lines.setdefault(key + (i,), lineno)

    def line(self, path: tuple) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _split_dotted(s: str) -> list[str]:
    return [p.strip().strip("\"'") for p in s.split(".")]


def _bracket_depth(s: str) -> int:
    """Net opening brackets in ``s``, ignoring strings and comments."""
    depth, quote = 0, None
    for ch in s:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


def _path_str(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            p = str(p)
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", p):
                # a key with other characters, quoted as TOML quotes it (a key of control
                # characters or a huge one must not break or flood the message)
                p = json.dumps(p if len(p) <= 40 else p[:37] + "...", ensure_ascii=False)
                p = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in p)
            out += ("." if out else "") + p
    return out


class _Checker:
    def __init__(self, text: str):
        self.keylines = _KeyLines(text) if text else None
        self.errors: list[tuple[str, int | None, str]] = []

    def error(self, path: tuple, msg: str) -> None:
        line = self.keylines.line(path) if self.keylines else None
        self.errors.append((_path_str(path), line, msg))

    def table(self, value: Any, path: tuple, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.error(path, f"must be a table, not {_tname(value)}")
            return {}
        for k in value:
            if k not in allowed:
                self.error(path + (k,), f"unknown key (known here: {', '.join(allowed)})")
        return value

    def tables(self, tbl: dict, path: tuple, key: str) -> list[tuple[tuple, Any]]:
        """The elements of the array of tables ``tbl[key]`` with their paths."""
        value = tbl.get(key, [])
        if not isinstance(value, list):
            self.error(path + (key,), f"must be an array of tables ([[{_path_str(path + (key,))}"
                       f"]]), not {_tname(value)}")
            return []
        return [(path + (key, i), v) for i, v in enumerate(value)]

    def get(self, tbl: dict, path: tuple, key: str, kind: type | tuple, default: Any,
            choices: tuple | None = None, lo=None, hi=None) -> Any:
        if key not in tbl:
            return default
        v = tbl[key]
        p = path + (key,)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(v, bool) and bool not in kinds:
            self.error(p, f"must be {_kname(kinds)}, not a boolean")
            return default
        if not isinstance(v, kinds):
            self.error(p, f"must be {_kname(kinds)}, not {_tname(v)} {v!r}")
            return default
        if choices is not None and v not in choices:
            self.error(p, f"{v!r} is not one of {', '.join(choices)}")
            return default
        if lo is not None and v < lo or hi is not None and v > hi:
            self.error(p, f"{v!r} is out of range {lo}..{hi}")
            return default
        return v


def _tname(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a float"}.get(type(v), type(v).__name__)


def _kname(kinds: tuple) -> str:
    names = {str: "a string", bool: "true or false", int: "an integer", float: "a number",
             list: "an array", dict: "a table"}
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_config(text: str, source: str = "<string>", home: str | os.PathLike | None = None
                 ) -> Config:
    """Parse and check TOML ``text``; ``home`` (from ``--home``) overrides ``server.home``.

    Raises :class:`ConfigError` listing every problem found.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        # "at end of document" (an unclosed string or table): the last line
        line = int(m.group(1)) if m else max(1, len(text.splitlines()))
        raise ConfigError([("", line, f"TOML syntax: {e}")], source) from None
    return _build(data, text, source, home)


def load_config(path: str | os.PathLike | None = None, home: str | os.PathLike | None = None
                ) -> Config:
    """Read the configuration file at ``path``, or the embedded default when None."""
    if path is None:
        return parse_config(DEFAULT_TOML, "<default>", home)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([("", None, "no such file")], str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([("", None, f"cannot read: {e}")], str(path)) from None
    return parse_config(text, str(path), home)


def _build(data: dict, text: str, source: str, home_override) -> Config:
    c = _Checker(text)
    c.table(data, (), ("server", "board", "sim", "centre", "agents", "queues", "routing", "ivr"))

    # [server]
    srv = c.table(data.get("server", {}), ("server",),
                  ("home", "requests", "events", "replay_ring", "curve", "log_level"))
    if "curve" in srv:
        c.error(("server", "curve"), "CurveZMQ keys are not supported yet; bind ipc:// or "
                "loopback tcp instead")
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

    if c.errors:
        raise ConfigError(c.errors, source)
    return Config(
        board=BoardConfig(name=name, backend=backend, tick_ms=tick_ms, spans=tuple(spans),
                          ports=tuple(ports), device=device),
        sim=sim,
        server=ServerConfig(home=home_path, requests=requests, events=events, replay_ring=ring,
                            log_level=log_level),
        source=source,
        text=text,
        centre=centre,
    )


# ---- the call centre: agents, queues, routing, IVR ---------------------------------------

def _centre(c: _Checker, data: dict, home: Path, port_kinds: list[str]):
    """[centre], [[agents]], [[queues]], [routing] and [ivr] as a CentreConfig."""
    from cti.centre import acd
    from cti.centre import ivr
    from cti.centre.coordinator import CentreConfig

    ce = c.table(data.get("centre", {}), ("centre",),
                 ("ivr_ports", "record", "record_queues", "moh", "voicemail_seconds", "prompts",
                  "outbound_ani", "survey", "survey_timeout", "transfer_ring_timeout",
                  "callbacks"))
    agents = []
    for path, a in c.tables(data, (), "agents"):
        a = c.table(a, path, ("id", "name", "extension", "skills", "first", "count",
                              "first_extension"))
        if "count" in a:         # a run of agents: ids first.., extensions first_extension..
            first = c.get(a, path, "first", int, 1001, lo=0)
            count = c.get(a, path, "count", int, 1, lo=1, hi=10000)
            ext0 = c.get(a, path, "first_extension", int, 1, lo=1, hi=MAX_PORTS)
            for i in range(count):
                agents.append((path, {"id": str(first + i), "extension": ext0 + i,
                                      "skills": a.get("skills", {})}))
        else:
            agents.append((path, a))
    agent_cfgs = {}
    extensions: dict[int, str] = {}
    tables = data.get("agents") if isinstance(data.get("agents"), list) else []

    def raw_keys(path):
        t = tables[path[-1]] if path[-1] < len(tables) else {}
        return t if isinstance(t, dict) else {}
    for path, a in agents:
        aid = a.get("id")
        if not isinstance(aid, str) or not aid:
            c.error(path + ("id",), "missing: every agent has an id (a string)")
            continue
        ext = a.get("extension")
        if ext is not None and (not isinstance(ext, int) or isinstance(ext, bool)
                                or not 1 <= ext <= len(port_kinds) or port_kinds[ext - 1] != "fxs"):
            c.error(path + ("extension",), f"{ext!r} is not an FXS port of the board "
                    f"(FXS ports: {', '.join(str(i + 1) for i, k in enumerate(port_kinds) if k == 'fxs')})")
            ext = None
        if aid in agent_cfgs:
            c.error(path + ("id",), f"agent {aid!r} twice")
            continue
        if ext is not None:
            # one agent per extension: the phone that rings is the agent's
            other = extensions.setdefault(ext, aid)
            if other != aid:
                c.error(path + ("first_extension" if "first_extension" in raw_keys(path)
                                else "extension",),
                        f"extension {ext} is agent {other!r}'s already: one agent per "
                        "extension")
                ext = None
        try:
            agent_cfgs[aid] = acd.AgentConfig(aid, str(a.get("name", "")), ext,
                                              dict(a.get("skills", {})))
        except (ValueError, TypeError) as e:
            c.error(path, str(e))
    queues = []
    queue_paths: list[tuple] = []
    for path, q in c.tables(data, (), "queues"):
        q = c.table(q, path, ("name", "members") + _QUEUE_OPTIONS)
        members = q.get("members", "all")
        if members == "all":
            members = list(agent_cfgs)
        if not isinstance(members, list):
            c.error(path + ("members",), "must be an array of agent ids, or \"all\"")
            members = []
        mem = []
        for i, m in enumerate(members):
            aid, _, pen = str(m).partition(":")
            if aid not in agent_cfgs:
                c.error(path + ("members", i), f"no agent {aid!r}")
                continue
            mem.append(acd.Member(aid, int(pen) if pen.isdigit() else 0))
        # each option of the type cti.centre.acd.QueueConfig takes, so that its own checks (which
        # compare values) are never handed an array or a table
        kw = {k: c.get(q, path, k, _QUEUE_TYPES[k], None) for k in _QUEUE_OPTIONS if k in q}
        kw = {k: v for k, v in kw.items() if v is not None}
        qname = c.get(q, path, "name", str, None)
        if not qname:
            if "name" not in q or qname == "":
                c.error(path + ("name",), "missing: every queue has a name (a string)")
            continue
        if qname in {x.name for x in queues}:
            c.error(path + ("name",), f"queue {qname!r} twice")
            continue
        try:
            queues.append(acd.QueueConfig(qname, members=tuple(mem), **kw))
            queue_paths.append(path)
        except (ValueError, TypeError) as e:
            c.error(path, str(e))
    if not queues:
        c.error(("queues",), "missing: at least one queue ([[queues]])")
    dissuasion = {f"dissuade:{q.name}": ivr.dissuasion_flow(q.name, q.dissuade)
                  for q in queues if q.dissuade_ewt is not None}
    qnames = {q.name for q in queues}
    for path, q in zip(queue_paths, queues):
        action, target = q.overflow_action()
        if action == "queue" and target not in qnames:
            c.error(path + ("overflow",), f"{q.overflow!r}: no queue {target!r}")
    prompts = c.get(ce, ("centre",), "prompts", str, str(home / "prompts"))
    known = _known_prompts(c, prompts, home)
    r = c.table(data.get("routing", {}), ("routing",), ("default", "dnis", "area"))
    routes = {}
    dn = r.get("dnis", {})
    if not isinstance(dn, dict):
        c.error(("routing", "dnis"), "must be a table of DNIS = \"ivr:FLOW\" | \"queue:NAME\"")
        dn = {}
    iv = c.table(data.get("ivr", {}), ("ivr",), ("ports", "flows"))
    flows = {}
    # flows named in the file (one with errors is reported there, not again as a route)
    flow_names = set(iv["flows"]) if isinstance(iv.get("flows"), dict) else set()
    if "flows" in iv:
        try:
            flows = ivr.parse_flows(iv["flows"], path=("ivr", "flows"), known_prompts=known)
        except ivr.FlowError as e:
            for p_, m in e.errors:
                c.error(tuple(p_), m)
        _check_flows(c, flows, qnames)
    default = c.get(r, ("routing",), "default", str, "ivr:main" if flows else
                    f"queue:{queues[0].name}" if queues else "")

    def check_route(path, route):
        kind, _, target = str(route).partition(":")
        if str(route) == "area":
            return
        if kind == "ivr" and target not in flows and target not in flow_names:
            c.error(path, f"{route!r}: no IVR flow {target!r}")
        elif kind == "queue" and target not in qnames:
            c.error(path, f"{route!r}: no queue {target!r}")
        elif kind not in ("ivr", "queue"):
            c.error(path, f"{route!r}: a route is \"ivr:FLOW\", \"queue:NAME\" or \"area\"")
    check_route(("routing", "default"), default)
    for k, v in dn.items():
        check_route(("routing", "dnis", k), v)
        if not _ia5_digits(k):
            c.error(("routing", "dnis", k), "a DNIS is 1..20 ASCII digits (0-9 * #, Q.931 "
                    "4.5.8), as the network sends it")
        routes[str(k)] = str(v)
    area = []
    rules = r.get("area", [])
    if not isinstance(rules, list):
        c.error(("routing", "area"), "must be an array of [ANI prefix, queue name] rules")
        rules = []
    for i, rule in enumerate(rules):
        if not (isinstance(rule, list) and len(rule) == 2 and str(rule[1]) in qnames
                and isinstance(rule[0], str) and _ia5_digits(rule[0])):
            c.error(("routing", "area", i), "an area rule is [ANI prefix (ASCII digits), "
                    "queue name]")
            continue
        area.append((str(rule[0]), str(rule[1])))
    flows.update(dissuasion)
    for path, q in zip(queue_paths, queues):
        if q.dissuade_ewt is not None:
            for name in sorted(dissuasion[f"dissuade:{q.name}"].prompts()):
                if name not in known:
                    c.error(path + ("dissuade",), f"the dissuasion flow plays {name!r}: "
                            f"{known.why(name)}")
    moh = c.get(ce, ("centre",), "moh", str, "moh")
    if moh and moh not in known:
        c.error(("centre", "moh"), f"{moh!r}: {known.why(moh)}")
    return CentreConfig(
        agents=list(agent_cfgs.values()), queues=queues, flows=flows, routes=routes,
        default_route=default, area_routes=area,
        ivr_ports=c.get(iv, ("ivr",), "ports", int, c.get(ce, ("centre",), "ivr_ports", int, 8,
                                                           lo=0, hi=10000), lo=0, hi=10000),
        record=c.get(ce, ("centre",), "record", bool, True),
        recordings_dir=str(home / "recordings"), voicemail_dir=str(home / "voicemail"),
        voicemail_seconds=c.get(ce, ("centre",), "voicemail_seconds", (int, float), 60.0,
                                lo=1, hi=3600),
        moh=moh,
        prompts_dir=prompts,
        outbound_ani=_number(c, ce, ("centre",), "outbound_ani"),
        record_queues=_record_queues(c, ce, qnames),
        survey_queues=_survey_queues(c, ce, qnames),
        survey_timeout=c.get(ce, ("centre",), "survey_timeout", (int, float), 10.0, lo=1, hi=120),
        transfer_ring_timeout=c.get(ce, ("centre",), "transfer_ring_timeout", (int, float), 20.0,
                                    lo=1, hi=600),
        callbacks=_callbacks(c, ce, set(agent_cfgs)))


def _ia5_digits(s: str) -> bool:
    """1..20 of Q.931's number digits (drivers/numbers.py), what a DNIS or ANI can be."""
    from drivers.numbers import IA5_DIGITS, MAX_DIGITS
    return 0 < len(s) <= MAX_DIGITS and all(ch in IA5_DIGITS for ch in s)


def _number(c: _Checker, tbl: dict, path: tuple, key: str) -> str:
    """A telephone number of ours (the ANI we send), in its normal form."""
    from drivers.numbers import NumberError, parse_number
    v = c.get(tbl, path, key, str, "")
    if not v:
        return ""
    try:
        return parse_number(v, what="the number")
    except NumberError as e:
        c.error(path + (key,), str(e))
        return ""


class _KnownPrompts:
    """The prompts a flow may name: files in the prompts directory, and, when the
    directory is inside the home (where the server writes), those the server makes at
    start (cti.centre.prompts.DEFAULT_PROMPTS and the music on hold)."""

    def __init__(self, directory: str, makeable: bool):
        from cti.centre.prompts import DEFAULT_PROMPTS, MOH
        self.directory = directory
        self.makeable = set(DEFAULT_PROMPTS) | {MOH} if makeable else set()

    def __contains__(self, name: object) -> bool:
        from cti.centre.prompts import valid_prompt_name
        if not isinstance(name, str) or not valid_prompt_name(name):
            return False
        return name in self.makeable or os.path.isfile(os.path.join(self.directory,
                                                                    name + ".wav"))

    def why(self, name: str) -> str:
        from cti.centre.prompts import valid_prompt_name
        if not valid_prompt_name(name):
            return ("not a prompt name (letters, digits, '_', '-', '.'; no path: prompts "
                    "are files in the prompts directory)")
        return f"no prompt file {os.path.join(self.directory, name + '.wav')}"


def _inside(path: str | os.PathLike, home: Path) -> bool:
    p, h = os.path.realpath(path), os.path.realpath(home)
    return p == h or p.startswith(h.rstrip(os.sep) + os.sep)


def _known_prompts(c: _Checker, prompts: str, home: Path) -> _KnownPrompts:
    """[centre] prompts: inside the home the server makes what is missing; outside it (a
    shared, read-only set) the directory must exist, since nothing is written there."""
    inside = _inside(prompts, home)
    if not inside and not os.path.isdir(prompts):
        c.error(("centre", "prompts"), f"{prompts!r} is outside the home ({home}) and is not a "
                "directory: the server writes only inside its home, so a prompts directory "
                "elsewhere must exist")
        return _AnyPrompt()         # one error for the directory, not one per prompt
    return _KnownPrompts(prompts, inside)


class _AnyPrompt:
    def __contains__(self, name: object) -> bool:
        return True


def _check_flows(c: _Checker, flows: dict, qnames: set) -> None:
    """What a flow names that the centre must have: queues (queue, callback nodes) and the
    tables and columns open to lookups (cti.store.sqlite.LOOKUPS)."""
    from cti.centre import ivr
    from cti.store.sqlite import LOOKUPS

    for fname, flow in flows.items():
        for nname, node in flow.nodes.items():
            p = ("ivr", "flows", fname, "nodes", nname)
            if isinstance(node, (ivr.QueueNode, ivr.CallbackNode)) and node.queue is not None \
                    and node.queue not in qnames:
                c.error(p + ("queue",), f"no queue {node.queue!r} (queues: "
                        f"{', '.join(sorted(qnames))})")
            elif isinstance(node, ivr.LookupNode):
                if node.table not in LOOKUPS:
                    c.error(p + ("table",), f"{node.table!r} is not open to lookups (tables: "
                            f"{', '.join(LOOKUPS)})")
                elif node.column not in LOOKUPS[node.table]:
                    c.error(p + ("column",), f"{node.table}.{node.column} is not open to "
                            f"lookups (columns: {', '.join(LOOKUPS[node.table])})")


def _record_queues(c: _Checker, ce: dict, qnames: set) -> tuple | None:
    """[centre] record_queues: record only the calls of these queues (default: all)."""
    rq = ce.get("record_queues")
    if rq is None:
        return None
    if not isinstance(rq, list):
        c.error(("centre", "record_queues"), "must be an array of queue names")
        return None
    for i, q in enumerate(rq):
        if not isinstance(q, str) or q not in qnames:
            c.error(("centre", "record_queues", i), f"no queue {q!r}")
    return tuple(str(q) for q in rq if isinstance(q, str))


def _survey_queues(c: _Checker, ce: dict, qnames: set) -> tuple:
    """[centre] survey: the after-call survey on every answered call (true), on the calls
    of these queues (an array of names), or on none (false, the default)."""
    sv = ce.get("survey", False)
    if isinstance(sv, bool):
        return ("*",) if sv else ()
    if not isinstance(sv, list):
        c.error(("centre", "survey"), "must be true, false or an array of queue names")
        return ()
    for i, q in enumerate(sv):
        if not isinstance(q, str) or q not in qnames:
            c.error(("centre", "survey", i), f"no queue {q!r}")
    return tuple(str(q) for q in sv if isinstance(q, str))


def _callbacks(c: _Checker, ce: dict, agents: set):
    """[centre.callbacks]: callbacks worked off through the dialer after the peak."""
    from cti.centre.campaigns import CallbackConfig

    p = ("centre", "callbacks")
    cb = c.table(ce.get("callbacks", {}), p, ("enabled", "rate_below", "window", "when_idle",
                                              "max_attempts", "retry_delay",
                                              "no_answer_timeout", "agents"))
    d = CallbackConfig()
    ids = cb.get("agents", [])
    if not isinstance(ids, list):
        c.error(p + ("agents",), "must be an array of agent ids")
        ids = []
    for i, a in enumerate(ids):
        if not isinstance(a, str) or a not in agents:
            c.error(p + ("agents", i), f"no agent {a!r}")
    return CallbackConfig(
        enabled=c.get(cb, p, "enabled", bool, d.enabled),
        rate_below=float(c.get(cb, p, "rate_below", (int, float), d.rate_below, lo=0,
                               hi=100_000)),
        window=float(c.get(cb, p, "window", (int, float), d.window, lo=10, hi=86_400)),
        when_idle=c.get(cb, p, "when_idle", bool, d.when_idle),
        max_attempts=c.get(cb, p, "max_attempts", int, d.max_attempts, lo=1, hi=100),
        retry_delay=float(c.get(cb, p, "retry_delay", (int, float), d.retry_delay, lo=0,
                                hi=86_400 * 7)),
        no_answer_timeout=float(c.get(cb, p, "no_answer_timeout", (int, float),
                                      d.no_answer_timeout, lo=1, hi=600)),
        agents=tuple(str(a) for a in ids if isinstance(a, str) and a in agents))
