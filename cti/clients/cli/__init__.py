"""The ``cti`` command: the board server and the technician's diagnostics.

``cti serve`` runs the board server; every other command is a client of its ZeroMQ
sockets, found under ``--home`` (default ``$CTI_HOME`` or ``./var``). Output is a
readable table modelled on dahdi_tool, dahdi_maint and FreeTDM's ``ftdm`` (alarm colour,
framing/CRC-4/E-bit errors, BPV, slips, per-channel signalling and hook state), or with
``--json`` the server's result as JSON. On failure: one line on stderr, exit status 1
(2 for a usage error).

The commands live by concern: :mod:`.server` (serve, ping, snapshot, shutdown, server
stats, watch), :mod:`.diagnostics` (board, span, channel, pri, trace), :mod:`.sim` (the
simulated world), :mod:`.centre` (agents, queues, campaigns, the do-not-call list), :mod:`.calls`
(the desk's call controls),
:mod:`.reports` (report, plan), :mod:`.admin` (accounts, groups, the audit log; ``cti admin
key``: :mod:`.keys`), :mod:`.request` (any operation of the
registry); :mod:`.formatting` has the tables they print and
:mod:`.common` what they share. This module assembles the parser and runs a command.
"""
from __future__ import annotations

import argparse
import os
import sys

from cti.clients.cli import (admin, calls, centre, desk, diagnostics, keys, reports, request,
                             server, sim)
from cti.clients.cli.centre import campaign_rows, retry_rules  # noqa: F401 (the old module's)
from cti.clients.cli.common import PROG, CliError, _positive_float
from cti.clients.cli.diagnostics import ALAW_TABLE, ULAW_TABLE, g711_decode  # noqa: F401
from cti.clients.cli.formatting import alarm_word  # noqa: F401
from cti.clients.client import CtiError, NoServer

__all__ = ["main", "build_parser", "g711_decode"]

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--home", default=argparse.SUPPRESS,
                   help="the server's state directory, where its sockets are "
                        "(default: $CTI_HOME or ./var)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="machine-readable output")
    g.add_argument("--timeout", type=_positive_float, default=argparse.SUPPRESS,
                   help="seconds to wait for the server (default 5)")
    g.add_argument("--key", default=argparse.SUPPRESS, metavar="FILE",
                   help="the client's key file, to connect over TCP (default: $CTI_KEY; "
                        "none: the ipc sockets of --home)")

    p = argparse.ArgumentParser(prog=PROG, parents=[common],
                                description="Voice-board server and diagnostics.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    server.add_parsers(sub, common)
    diagnostics.add_parsers(sub, common)
    sim.add_parsers(sub, common)
    diagnostics.add_signalling_parsers(sub, common)
    centre.add_parsers(sub, common)
    calls.add_parsers(sub, common)
    desk.add_parsers(sub, common)
    reports.add_parsers(sub, common)
    admin.add_parsers(sub, common)

    from cti.clients import agent_tui
    agent_tui.add_parser(sub, [common])
    centre.add_dialer_parsers(sub, common)
    server.add_tail_parsers(sub, common)
    request.add_parsers(sub, common)
    keys.add_parsers(admin.admin_subparsers(sub, common), common)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "home", None) is None:
        args.home = os.environ.get("CTI_HOME") or (None if args.command == "serve" else "var")
    args.json = getattr(args, "json", False)
    args.timeout = getattr(args, "timeout", 5.0)
    args.key = getattr(args, "key", None)
    try:
        return args.func(args)
    except (CtiError, CliError) as e:
        msg = str(e)
        if isinstance(e, CtiError) and not isinstance(e, NoServer) and e.op:
            msg = f"{e.op}: {msg}"
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `cti watch | head`
        return 0
    except KeyboardInterrupt:
        return 130

