"""Layers point down: `core` is the bottom; the user store and the engine import nothing above."""

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


APPS = Path(patronsync.core.__file__).parent.parent


def upward_imports(app: str, above: tuple[str, ...]) -> set[str]:
    """The imports, outside tests, from `app` of the apps named in `above`."""
    root = APPS / app
    return {
        f"{app}/{path.relative_to(root)}: {name}"
        for path in root.rglob("*.py")
        if "tests" not in path.parts
        for name in imported_modules(path)  # ast.walk: imports inside functions count too
        if name.startswith(tuple(f"patronsync.{a}" for a in above))
    }


def test_the_engine_knows_no_job_and_writes_through_the_user_store():
    # loader reads, parses and decides; jobs (the runner) sits above it and records its batches.
    assert not upward_imports("loader", ("jobs", "profiles", "almaws", "api", "demo"))


def test_the_user_store_imports_neither_the_engine_nor_the_jobs():
    assert not upward_imports("patrons", ("loader", "jobs", "profiles", "almaws", "api", "demo"))


def test_the_profiles_know_no_job_nor_the_engine():
    # The scheduler (jobs) reads the profiles' schedules; `schedule list` is a jobs command.
    assert not upward_imports("profiles", ("jobs", "loader", "almaws", "api", "demo"))
