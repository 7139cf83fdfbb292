"""Layers point down: `core` is the bottom and imports no patronsync app above it."""

from __future__ import annotations

import ast
from pathlib import Path

import patronsync.core

CORE = Path(patronsync.core.__file__).parent


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
        if "tests" not in path.parts
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
