"""Fixtures of the feed tests that run whole jobs: the engine tests' drop folder and profile."""

from __future__ import annotations

from patronsync.loader.tests.conftest import drop, profile

__all__ = ["drop", "profile"]
