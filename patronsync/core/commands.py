"""`patronsync secrets rotate`: re-encrypt every stored secret with the first encryption key."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def rotate(args: argparse.Namespace) -> int:
    from patronsync.core.crypto import secrets_rotate
    from patronsync.core.exceptions import ConfigurationError

    try:
        counts = secrets_rotate()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for count in counts:
        print(count)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("secrets", help="manage the secrets stored encrypted")
    actions = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    rotate_parser = actions.add_parser(
        "rotate",
        help="re-encrypt every stored secret with the first key of PATRONSYNC_ENCRYPTION_KEY",
    )
    rotate_parser.set_defaults(func=rotate)
