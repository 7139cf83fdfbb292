"""Fixtures of the notification tests: the engine tests' feed folder and the profile reading it."""

from __future__ import annotations

from patronsync.loader.tests.conftest import drop, profile

__all__ = ["drop", "profile"]
