"""Layers point down: `core` is the bottom and imports no patronsync app above it."""

from __future__ import annotations

import ast
from pathlib import Path

import patronsync.core

CORE = Path(patronsync.core.__file__).parent

# Modules kept only until their last importers (outside core, in code another change owns) import
# from the new place; each is a re-export of one name and is deleted then.
TRANSITIONAL = {"demo.py", "views.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_nothing_from_the_apps_above_it():
    upward = {
        f"{path.relative_to(CORE)}: {name}"
        for path in CORE.rglob("*.py")
        if "tests" not in path.parts and path.name not in TRANSITIONAL
        for name in imported_modules(path)
        if name.startswith("patronsync.") and not name.startswith("patronsync.core")
    }
    assert not upward


def test_core_tests_import_nothing_from_the_apps_above_it():
    upward = {
        f"{path.name}: {name}"
        for path in (CORE / "tests").rglob("*.py")
        for name in imported_modules(path)
        if name.startswith("patronsync.") and not name.startswith("patronsync.core")
    }
    assert not upward


def test_transitional_core_modules_only_re_export():
    for name in TRANSITIONAL:
        path = CORE / name
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        statements = [n for n in tree.body if not isinstance(n, ast.Expr)]
        assert len([n for n in statements if isinstance(n, ast.ImportFrom)]) == 1, name
        assert all(isinstance(n, ast.ImportFrom | ast.Assign) for n in statements), name
