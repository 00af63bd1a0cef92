"""The registry of operations: every request the server answers, with its argument
schema, the rights it needs, its result schema and the events it may cause.

Each concern's module registers its own operations beside their handlers, the way an
Asterisk module registers its manager actions next to the code that answers them
(STYLE.md, "A concern owns its requests"); the server only composes and dispatches. The
request validation (:func:`cti.server.schema.check_args`), ``cti --help`` for the request
commands and the published contract (JSON Schema and AsyncAPI under docs/) all come from
these entries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["Operation", "Registry", "REGISTRY", "operation"]


@dataclass(frozen=True)
class Operation:
    """One request the server answers.

    ``handler(service, args)`` returns the result (a JSON object); a ``deferred`` handler
    is called ``handler(service, args, rid=, token=)`` and may return None, its reply then
    coming out of a later tick. ``args``: name -> :class:`cti.server.schema.Arg`.
    ``result``: the JSON Schema (draft 2020-12) of the result. ``events``: the event types
    (topics) the operation may cause. ``rights``: the right a principal needs to ask for it
    (cti/server/auth.py; ``desk`` alone: its own agent and calls). ``audited``: logged with who asked.
    """

    name: str
    handler: Callable[..., Any]
    args: dict = field(default_factory=dict)
    summary: str = ""
    result: dict | None = None
    events: tuple[str, ...] = ()
    rights: tuple[str, ...] | None = None
    deferred: bool = False
    audited: bool = False

    @property
    def concern(self) -> str:
        """The module that registered it (``cti.server.ops.calls``): where to read it."""
        return getattr(self.handler, "__module__", "")


class Registry:
    """Operations by name, in the order they were registered."""

    def __init__(self):
        self._ops: dict[str, Operation] = {}

    def add(self, op: Operation) -> Operation:
        from cti.server.auth import RIGHTS
        if op.rights is None or len(op.rights) != 1 or op.rights[0] not in RIGHTS:
            raise ValueError(f"operation {op.name}: rights must name one right of "
                             f"{', '.join(RIGHTS)}, got {op.rights!r}")
        if op.name in self._ops:
            raise ValueError(f"operation {op.name} registered twice "
                             f"({self._ops[op.name].concern} and {op.concern})")
        self._ops[op.name] = op
        return op

    def operation(self, name: str, *, args: dict | None = None, summary: str = "",
                  result: dict | None = None, events: tuple[str, ...] = (),
                  rights: tuple[str, ...] | None = None, deferred: bool = False,
                  audited: bool = False) -> Callable:
        """Decorator: register the function below as the handler of ``name``."""
        def register(fn: Callable) -> Callable:
            doc = (fn.__doc__ or "").strip().split("\n\n")[0]
            self.add(Operation(name, fn, dict(args or {}), summary or " ".join(doc.split()),
                               result, tuple(events), rights, deferred, audited))
            return fn
        return register

    def get(self, name: str) -> Operation | None:
        return self._ops.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)

    def names(self) -> list[str]:
        return list(self._ops)


#: The server's operations. The modules of cti/server/ops/ fill it when imported.
REGISTRY = Registry()
operation = REGISTRY.operation
