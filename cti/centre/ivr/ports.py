"""The IVR port pool.

:class:`IvrPorts` is the pool of IVR ports (the field's rule: IVR ports + agent
positions = trunk channels); a call refused a port is a counted loss.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PortCounters:
    offered: int     # calls that asked for a port
    refused: int     # of those, refused: every port busy (a loss at the IVR)
    peak: int        # most ports in use at once


class IvrPorts:
    """The IVR port pool. ``acquire`` a port when a call enters the IVR, ``release`` it
    when the call leaves; with every port busy ``acquire`` says False and the call is a
    counted loss at the IVR (PRODUCT.md, the second of the four places)."""

    def __init__(self, count: int):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"IVR port count must be an integer >= 0, not {count!r}")
        self.count = count
        self._holders: set[str] = set()
        self._offered = 0
        self._refused = 0
        self._peak = 0

    def acquire(self, call: str) -> bool:
        """A port for ``call``; True if it already holds one (not counted again)."""
        if call in self._holders:
            return True
        self._offered += 1
        if len(self._holders) >= self.count:
            self._refused += 1
            return False
        self._holders.add(call)
        self._peak = max(self._peak, len(self._holders))
        return True

    def release(self, call: str) -> bool:
        """Free ``call``'s port; False if it held none (a second release is harmless)."""
        if call in self._holders:
            self._holders.remove(call)
            return True
        return False

    def holds(self, call: str) -> bool:
        return call in self._holders

    @property
    def in_use(self) -> int:
        return len(self._holders)

    @property
    def free(self) -> int:
        return self.count - len(self._holders)

    @property
    def counters(self) -> PortCounters:
        return PortCounters(self._offered, self._refused, self._peak)
