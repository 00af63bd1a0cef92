"""Where a server's sockets are: what clients need without loading the board.

Kept apart from ``cti.server.config`` so that a desktop or an integrator's program
using ``cti.clients.client`` does not import the C core.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_HOME", "REQ_SOCKET", "EVENTS_SOCKET", "default_endpoints"]

DEFAULT_HOME = "var"
REQ_SOCKET = "cti-req.sock"
EVENTS_SOCKET = "cti-events.sock"


def default_endpoints(home: str | os.PathLike) -> tuple[str, str]:
    """The ipc endpoints under ``home``: (requests, events)."""
    home = Path(home)
    return f"ipc://{home / REQ_SOCKET}", f"ipc://{home / EVENTS_SOCKET}"
