"""The rooms of cti/ and the rule that imports point down only (ARCHITECTURE.md, the
layout; each package's __init__ says what it may import): every import statement of every
module, read with ast, against the allowed graph."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: what each room may import besides itself and the standard library
ALLOWED = {
    "drivers": {"drivers"},
    "simulators": {"drivers", "simulators"},
    "cti.centre": {"drivers"},
    "cti.store": set(),
    "cti.server": {"cti.centre", "cti.store", "drivers", "simulators"},
    "cti.scenarios": {"cti.server", "cti.centre", "cti.store", "drivers", "simulators"},
    "cti.clients": {"cti.server", "cti.centre", "cti.store", "cti.scenarios", "drivers",
                    "simulators"},
}
OURS = ("cti", "drivers", "simulators")


def _room(module: str) -> str | None:
    for room in sorted(ALLOWED, key=len, reverse=True):
        if module == room or module.startswith(room + "."):
            return room
    return None


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cti":
                for a in node.names:
                    yield node.lineno, f"cti.{a.name}"
            else:
                yield node.lineno, node.module


def test_every_module_of_cti_lives_in_a_room():
    loose = [p.name for p in (ROOT / "cti").glob("*.py")
             if p.name not in ("__init__.py", "__main__.py")]
    assert loose == [], "cti/ holds rooms (subpackages) only"
    for room in ALLOWED:
        if room.startswith("cti."):
            init = ROOT / room.replace(".", "/") / "__init__.py"
            doc = ast.get_docstring(ast.parse(init.read_text()))
            assert doc and "May import" in doc, f"{init} says what lives there and what it may import"


def test_imports_point_down_only():
    wrong = []
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            module = ".".join(rel.parts)
            here = _room(module)
            if here is None:
                continue
            for line, name in _imports(path):
                if not name.startswith(OURS):
                    continue
                there = _room(name)
                if there is None or there == here or there in ALLOWED[here]:
                    continue
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {name}")
    assert wrong == []
