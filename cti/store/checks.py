"""Checking input (ARCHITECTURE.md rule 6) for every table of the store: each check names
the field (``cdr.answer: must be a number``), so bad input raises ``ValueError`` and writes
nothing; every text field is bounded (:data:`MAX_TEXT`, :data:`MAX_DATA_BYTES`).
"""
from __future__ import annotations

import math
from typing import Any, Iterable

def _num(where: str, v: Any, *, none: bool = True, min: float | None = None) -> float | None:
    if v is None:
        if none:
            return None
        raise ValueError(f"{where}: required")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{where}: must be a number, got {type(v).__name__} {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{where}: must be a finite number, got {v!r}")
    if min is not None and v < min:
        raise ValueError(f"{where}: must be {min:g} or more, got {v!r}")
    return v


def _int(where: str, v: Any, *, none: bool = True, min: int | None = None,
         max: int | None = None) -> int | None:
    if v is None:
        if none:
            return None
        raise ValueError(f"{where}: required")
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{where}: must be an integer, got {type(v).__name__} {v!r}")
    if min is not None and v < min:
        raise ValueError(f"{where}: must be {min} or more, got {v!r}")
    if max is not None and v > max:
        raise ValueError(f"{where}: must be {max} or less, got {v!r}")
    return v


#: The longest text any field takes (names, numbers, reasons, paths), in characters.
MAX_TEXT = 4096
#: The most attached data (a CDR's, a campaign record's) may take as JSON, in bytes.
MAX_DATA_BYTES = 16 * 1024


def _str(where: str, v: Any, *, none: bool = True, choices: Iterable[str] | None = None,
         max_len: int = MAX_TEXT) -> str | None:
    if v is None:
        if none:
            return None
        raise ValueError(f"{where}: required")
    if not isinstance(v, str):
        raise ValueError(f"{where}: must be a string, got {type(v).__name__} {v!r:.80}")
    if len(v) > max_len:
        raise ValueError(f"{where}: {len(v)} characters, more than the {max_len} it takes")
    if not none and not v:
        raise ValueError(f"{where}: must not be empty")
    if choices is not None and v not in choices:
        raise ValueError(f"{where}: must be one of {', '.join(choices)}; got {v!r}")
    return v


def _data_size(where: str, text: str) -> None:
    if len(text) > MAX_DATA_BYTES:
        raise ValueError(f"{where}: {len(text)} bytes of JSON, more than the "
                         f"{MAX_DATA_BYTES} it takes")


def _span(where: str, v: Any) -> str:
    """A span number (1) or an analog trunk group name ("fxo"); stored as text."""
    if isinstance(v, bool) or not isinstance(v, (int, str)) or v == "":
        raise ValueError(f"{where}: must be a span number or a trunk group name, got {v!r}")
    return str(v)


def _unknown(table: str, record: dict, known: Iterable[str]) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"{table}: a record must be a dict, got {type(record).__name__}")
    extra = sorted(set(record) - set(known), key=str)
    if extra:
        raise ValueError(f"{table}.{extra[0]}: no such field (fields: {', '.join(known)})")
