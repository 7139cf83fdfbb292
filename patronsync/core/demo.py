"""Moved to `patronsync.demo.services`; kept only for `loader/tests/conftest.py` until it imports
`demo_config` from there, then deleted (core imports no app above it)."""

from patronsync.demo.services import demo_config

__all__ = ["demo_config"]
