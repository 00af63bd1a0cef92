"""The checker every section is read with (:class:`_Checker`: types, ranges, unknown
keys), the line of a key in the source text (:class:`_KeyLines`), and the error it
raises (:class:`ConfigError`, one ``FILE:LINE: key.path: message`` a line)."""
from __future__ import annotations

import json
import re
from typing import Any


class ConfigError(ValueError):
    """One or more configuration errors. ``errors`` holds ``(path, line, message)``.

    ``str()`` gives one line per error: ``FILE:LINE: key.path: message``.
    """

    def __init__(self, errors: list[tuple[str, int | None, str]], source: str = "<config>"):
        self.errors = list(errors)
        self.source = source
        super().__init__("\n".join(self.format_one(e) for e in self.errors))

    def format_one(self, err: tuple[str, int | None, str]) -> str:
        path, line, msg = err
        where = f"{self.source}:{line}" if line else self.source
        return f"{where}: {path}: {msg}" if path else f"{where}: {msg}"


class _KeyLines:
    """Line numbers of keys, found by scanning the TOML source text.

    Understands ``[table]``, ``[[array.of.tables]]`` (counting the elements),
    ``key = value`` and dotted keys, and inline tables that open on their own line
    inside a multi-line array. Good enough to point a user at the line; when a path is
    not found the nearest enclosing one is used.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*|\"[^\"]*\"|'[^']*')\s*=")

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        table: tuple = ()
        in_ml_string = None
        array_key: tuple | None = None
        array_idx = -1
        depth = 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw
            if in_ml_string:
                if in_ml_string in line:
                    in_ml_string = None
                continue
            if array_key is not None:
                stripped = line.strip()
                if stripped.startswith("{"):
                    array_idx += 1
                    self.lines.setdefault(array_key + (array_idx,), lineno)
                    for k in re.findall(r"([A-Za-z0-9_\-]+)\s*=", stripped):
                        self.lines.setdefault(array_key + (array_idx, k), lineno)
                depth += _bracket_depth(line)
                if depth <= 0:
                    array_key = None
                continue
            m = self._HEADER.match(line)
            if m and "=" not in m.group(2):
                path = tuple(_split_dotted(m.group(2)))
                if m.group(1) == "[[":
                    idx = counts.get(path, 0)
                    counts[path] = idx + 1
                    # elements of an array of tables under an earlier array's element
                    table = path + (idx,)
                    self.lines.setdefault(path, lineno)
                else:
                    table = path
                self.lines.setdefault(table, lineno)
                continue
            m = self._KEY.match(line)
            if m:
                key = table + tuple(_split_dotted(m.group(1)))
                self.lines.setdefault(key, lineno)
                value = line[m.end():]
                for q in ('"""', "'''"):
                    if value.count(q) == 1:
                        in_ml_string = q
                if in_ml_string is None:
                    d = _bracket_depth(value)
                    if d > 0:
                        array_key, array_idx, depth = key, -1, d
                        if value.strip().startswith("[") and "{" in value:
                            array_idx = 0
                            self.lines.setdefault(key + (0,), lineno)
                    else:
                        # one-line array of inline tables: every element is on this line
                        for i, _ in enumerate(re.findall(r"\{", value)):
                            self.lines.setdefault(key + (i,), lineno)

    def line(self, path: tuple) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _split_dotted(s: str) -> list[str]:
    return [p.strip().strip("\"'") for p in s.split(".")]


def _bracket_depth(s: str) -> int:
    """Net opening brackets in ``s``, ignoring strings and comments."""
    depth, quote = 0, None
    for ch in s:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


def _path_str(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            p = str(p)
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", p):
                # a key with other characters, quoted as TOML quotes it (a key of control
                # characters or a huge one must not break or flood the message)
                p = json.dumps(p if len(p) <= 40 else p[:37] + "...", ensure_ascii=False)
                p = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in p)
            out += ("." if out else "") + p
    return out


class _Checker:
    def __init__(self, text: str):
        self.keylines = _KeyLines(text) if text else None
        self.errors: list[tuple[str, int | None, str]] = []

    def error(self, path: tuple, msg: str) -> None:
        line = self.keylines.line(path) if self.keylines else None
        self.errors.append((_path_str(path), line, msg))

    def table(self, value: Any, path: tuple, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.error(path, f"must be a table, not {_tname(value)}")
            return {}
        for k in value:
            if k not in allowed:
                self.error(path + (k,), f"unknown key (known here: {', '.join(allowed)})")
        return value

    def tables(self, tbl: dict, path: tuple, key: str) -> list[tuple[tuple, Any]]:
        """The elements of the array of tables ``tbl[key]`` with their paths."""
        value = tbl.get(key, [])
        if not isinstance(value, list):
            self.error(path + (key,), f"must be an array of tables ([[{_path_str(path + (key,))}"
                       f"]]), not {_tname(value)}")
            return []
        return [(path + (key, i), v) for i, v in enumerate(value)]

    def get(self, tbl: dict, path: tuple, key: str, kind: type | tuple, default: Any,
            choices: tuple | None = None, lo=None, hi=None) -> Any:
        if key not in tbl:
            return default
        v = tbl[key]
        p = path + (key,)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(v, bool) and bool not in kinds:
            self.error(p, f"must be {_kname(kinds)}, not a boolean")
            return default
        if not isinstance(v, kinds):
            self.error(p, f"must be {_kname(kinds)}, not {_tname(v)} {v!r}")
            return default
        if choices is not None and v not in choices:
            self.error(p, f"{v!r} is not one of {', '.join(choices)}")
            return default
        if lo is not None and v < lo or hi is not None and v > hi:
            self.error(p, f"{v!r} is out of range {lo}..{hi}")
            return default
        return v


def _tname(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a float"}.get(type(v), type(v).__name__)


def _kname(kinds: tuple) -> str:
    names = {str: "a string", bool: "true or false", int: "an integer", float: "a number",
             list: "an array", dict: "a table"}
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(names.get(k, k.__name__) for k in kinds)
