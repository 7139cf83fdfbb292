"""`patronsync createadmin`: create the first General System Administrator account."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from typing import Any


def createadmin(args: argparse.Namespace) -> int:
    from patronsync.accounts.choices import StaffRole
    from patronsync.accounts.models import StaffUser
    from patronsync.accounts.services import staff_create
    from patronsync.core.models import Institution

    if StaffUser.objects.filter(username=args.username).exists():
        print(f"A staff account named {args.username!r} already exists.", file=sys.stderr)
        return 1
    institutions = Institution.objects.all()
    if args.institution:
        institutions = institutions.filter(code=args.institution)
        if not institutions:
            print(f"No institution with code {args.institution!r}.", file=sys.stderr)
            return 1
    password = os.environ.get("PATRONSYNC_ADMIN_PASSWORD", "")
    generated = False
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.username}: ")
    if not password:
        password = secrets.token_urlsafe(12)
        generated = True
    staff_create(
        username=args.username,
        password=password,
        email=args.email,
        memberships=dict.fromkeys(institutions, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR),
    )
    codes = ", ".join(inst.code for inst in institutions)
    print(f"Created General System Administrator {args.username!r} for: {codes}")
    if generated:
        print(f"Generated password (shown once): {password}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "createadmin", help="create a General System Administrator staff account"
    )
    parser.add_argument("--username", default="admin")
    parser.add_argument("--email", default="")
    parser.add_argument(
        "--institution", help="institution code (default: every institution on this instance)"
    )
    parser.set_defaults(func=createadmin)
