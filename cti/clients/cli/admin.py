"""``cti admin``: the administrator's commands (issue #16): ``key`` (cti/clients/cli/keys.py)."""
from __future__ import annotations

from cti.clients.cli import keys


def add_parsers(sub, common) -> None:
    a = sub.add_parser("admin", parents=[common], help="administration: client keys")
    asub = a.add_subparsers(dest="admin_command", metavar="WHAT", required=True)
    keys.add_parsers(asub, common)
