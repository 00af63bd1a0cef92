"""The server's configuration: one TOML file, read with :mod:`tomllib`.

With no file the embedded default (:data:`DEFAULT_TOML`) is used: one simulated board
``sim0`` with two E1 spans (ISDN PRI, CRC-4, A-law) cabled to a simulated exchange, eight
FXS ports (agents' phones) and four FXO ports (trunks from the exchange), a 20 ms tick.

Layout of the file::

    [server]
    home = "var"                      # state directory; `cti serve --home` overrides it
    requests = "ipc://var/run/cti-req.sock"    # ROUTER (default: ipc in HOME/run, 0700)
    events = "ipc://var/run/cti-events.sock"   # XPUB (default: ipc in HOME/run, 0700)
    listen = "tcp://0.0.0.0:5560"     # optional: TCP as well, requests on the port and
                                      # events on the next; every client needs a key
                                      # (CurveZMQ, `cti admin key issue`)
    replay_ring = 10000               # events kept for `replay`
    log_level = "info"                # HOME/log/cti.log: debug|info|warning|error|critical
                                      # (`cti serve --log-level` overrides it)
    audit_days = 90                   # the audit log keeps this many days (and 1e6 rows)
    login_failures = 5                # wrong passwords or PINs within lockout_seconds
    lockout_seconds = 900             #   lock an account for lockout_seconds

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

import os
import re
import tomllib
from pathlib import Path

# Imports inside the package point one way: this module -> board -> centre -> checker,
# limits; defaults stands alone.
from cti.server.config.board import (BoardConfig, Config, PortConfig, ServerConfig,
                                     SimConfig, _build, check_endpoint)
from cti.server.config.checker import ConfigError
from cti.server.config.defaults import DEFAULT_TOML
# the limits too, for those that check against them (cti.server.schema: MAX_SPANS)
from cti.server.config.limits import (  # noqa: F401
    BACKENDS, FRAMES_PER_MS, IPC_PATH_MAX, LAWS, MAX_CABLE_DELAY_BITS, MAX_PORTS, MAX_SPANS,
    PORT_KINDS, SIGNALLING, TICK_MS_MAX, TICK_MS_MIN)
from cti.server.endpoints import DEFAULT_HOME, default_endpoints

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
