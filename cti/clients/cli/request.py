"""``cti request OP [NAME=VALUE ...]``: any operation of the server's registry, as it is.

The other commands format what they ask for; this one sends the operation with the
arguments given and prints the result as JSON, so every request the server answers is
reachable from the shell, including those no command has yet. ``cti request --help``
lists the operations by concern with their one-line summaries, read from the registry
(cti/server/registry.py) only when asked: the registry is filled by importing the
server, which loads the C core, and the other commands need neither.
"""
from __future__ import annotations

import argparse
import json
import textwrap
import typing
from typing import Any

from cti.clients import facade
from cti.clients.cli.common import CliError, _client, _out

DESCRIPTION = """\
Send one operation of the server's registry with NAME=VALUE arguments and print its
result as JSON. VALUE is JSON where it parses, else a string: span=1 reset=true
data='{"order": "A123"}' channel=1/5; an argument the operation takes as a string is
taken as written (agent=1001). docs/contract/README.md lists every result."""


def _facade_method(op: str):
    """The facade's method of ``op`` (cti/clients/facade.py), or None."""
    try:
        attr, name = facade.facade_name(op)
    except KeyError:
        return None
    return getattr(getattr(facade.Operations(), attr), name, None)


def _string_args(op: str) -> set[str]:
    """The arguments of ``op`` that the facade types as strings: their values are taken
    as written (``agent=1001`` is the agent "1001", not the number)."""
    meth = _facade_method(op)
    if meth is None:
        return set()
    back = {v: k for k, v in facade.PARAMETER.items()}
    return {back.get(p, p) for p, hint in typing.get_type_hints(meth).items()
            if str in (typing.get_args(hint) or (hint,))}


def request_args(op: str, assignments: list[str]) -> dict[str, Any]:
    """``["span=1", "reset=true"]`` -> ``{"span": 1, "reset": True}``."""
    strings = _string_args(op)
    args: dict[str, Any] = {}
    for a in assignments:
        name, eq, text = a.partition("=")
        if not eq or not name:
            raise CliError(f"{a!r}: arguments are NAME=VALUE (span=1, agent=1001)")
        if name in strings:
            args[name] = text
            continue
        try:
            args[name] = json.loads(text)
        except ValueError:
            args[name] = text
    return args


def cmd_request(args) -> int:
    with _client(args) as c:
        res = c.call(args.op, request_args(args.op, args.args))
    _out(args, res, None)
    return 0


def _first_sentence(text: str, width: int = 72) -> str:
    """A summary on one line of the help: its first sentence, cut to ``width``."""
    text = " ".join(text.replace("``", "`").split())
    i = text.find(". ")
    if i > 0:
        text = text[:i + 1]
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def operations_help() -> str:
    """Every operation of the registry, grouped by concern: name, summary, arguments."""
    try:
        import cti.server.service  # noqa: F401 - fills the registry
        from cti.server.registry import REGISTRY
    except ImportError as e:  # the C core is not built: no registry to read
        return f"(the operations cannot be listed here: {e})"
    groups: dict[str, list] = {}
    for op in REGISTRY:
        try:
            attr = facade.facade_name(op.name)[0]
        except KeyError:
            attr = op.name.partition(".")[0]
        groups.setdefault(attr, []).append(op)
    lines = [f"operations ({len(REGISTRY)}), by concern (where their handlers are):"]
    for attr, ops in groups.items():
        where = sorted({op.concern for op in ops if op.concern})
        lines += ["", f"{attr}" + (f" ({', '.join(where)})" if where else "") + ":"]
        for op in ops:
            meth = _facade_method(op.name)
            summary = op.summary or (meth.__doc__ or "" if meth is not None else "")
            lines.append(f"  {op.name:<24}{_first_sentence(summary)}".rstrip())
            if op.args:
                lines += textwrap.wrap(" ".join(n if a.required else f"[{n}]"
                                                for n, a in op.args.items()),
                                       width=99, initial_indent=" " * 26,
                                       subsequent_indent=" " * 26)
    return "\n".join(lines)


class _HelpWithOperations(argparse.Action):
    """``-h``/``--help``: the usage, then the registry's operations (read only now)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = operations_help()
        parser.print_help()
        parser.exit()


def add_parsers(sub, common) -> None:
    """``cti request``."""
    x = sub.add_parser("request", parents=[common], add_help=False,
                       help="send any operation of the server (cti request --help lists "
                            "them)", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("-h", "--help", action=_HelpWithOperations,
                   help="show this help and every operation, then exit")
    x.add_argument("op", metavar="OP", help="the operation (call.transfer, span.show, ...)")
    x.add_argument("args", nargs="*", metavar="NAME=VALUE", help="its arguments")
    x.set_defaults(func=cmd_request)
