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


MODULE_LINES, CLASS_LINES = 800, 400      # issue #15: about these, or a reason at the top


def test_a_long_module_or_class_says_why_at_its_top():
    """No module in cti/ over about 800 lines and no class over about 400 without a reason
    written at its top (its docstring, or the module's, saying why it is "kept whole")."""
    unexplained = []
    for path in sorted((ROOT / "cti").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        module_doc = ast.get_docstring(tree) or ""
        lines = len(path.read_text().splitlines())
        if lines > MODULE_LINES and "kept whole" not in module_doc:
            unexplained.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                n = node.end_lineno - node.lineno + 1
                doc = ast.get_docstring(node) or ""
                if n > CLASS_LINES and "kept whole" not in doc and \
                        f"{node.name}` is about" not in module_doc:
                    unexplained.append(f"{path.relative_to(ROOT)}: class {node.name}, {n} lines")
    assert not unexplained, "long, with no reason at the top:\n" + "\n".join(unexplained)
