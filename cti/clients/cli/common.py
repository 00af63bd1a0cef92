"""What every ``cti`` command shares: the one-line error, the connection to the server,
the table-or-JSON output and the argument types of the parser."""
from __future__ import annotations

import argparse
import json
from typing import Any

from cti.clients.client import Client

PROG = "cti"


class CliError(Exception):
    """A failure to report in one line."""


def _client(args) -> Client:
    return Client(args.home, timeout=args.timeout, key=getattr(args, "key", None))


def _out(args, res: Any, text: str | None) -> None:
    if args.json or text is None:
        print(json.dumps(res, indent=2, sort_keys=True))
    else:
        print(text)


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{s!r} must be more than 0")
    return v


def _ber(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a bit error ratio (like 1e-3)") from None
    if not 0 <= v <= 0.5:
        raise argparse.ArgumentTypeError(f"{s!r}: a bit error ratio is between 0 and 0.5")
    return v


def _span(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a span number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"span numbers start at 1, not {v}")
    return v
