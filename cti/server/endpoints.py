"""Where a server's sockets are: what clients need without loading the board.

Kept apart from ``cti.server.config`` so that a desktop or an integrator's program
using ``cti.clients.client`` does not import the C core.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_HOME", "SOCKET_DIR", "REQ_SOCKET", "EVENTS_SOCKET", "default_endpoints"]

DEFAULT_HOME = "var"
#: the home's private folder (0700) of the ipc sockets: who can open it is the owner,
#: the administrator (cti/server/auth.py)
SOCKET_DIR = "run"
REQ_SOCKET = "cti-req.sock"
EVENTS_SOCKET = "cti-events.sock"


def default_endpoints(home: str | os.PathLike) -> tuple[str, str]:
    """The ipc endpoints under ``home``: (requests, events), in ``HOME/run``."""
    run = Path(home) / SOCKET_DIR
    return f"ipc://{run / REQ_SOCKET}", f"ipc://{run / EVENTS_SOCKET}"
