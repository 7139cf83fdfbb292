"""`patronsync createadmin` and `patronsync apikey`: the first administrator, API keys."""

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


def apikey_create(args: argparse.Namespace) -> int:
    from patronsync.accounts.services import api_key_create
    from patronsync.core.models import Institution

    institutions = Institution.objects.all()
    if args.institution:
        institutions = institutions.filter(code=args.institution)
    if len(institutions) != 1:
        known = ", ".join(inst.code for inst in Institution.objects.all())
        print(
            f"Name one institution with --institution (known: {known or 'none'}).", file=sys.stderr
        )
        return 1
    api_key, key = api_key_create(
        institution=institutions[0], name=args.name, read_only=args.read_only
    )
    access = "read-only" if api_key.read_only else "read-write"
    print(f"Created {access} API key {api_key.name!r} for {api_key.institution.code}.")
    print("Copy the key now, it is not shown again:")
    print(key)
    return 0


def apikey_list(args: argparse.Namespace) -> int:
    from patronsync.accounts.models import ApiKey

    for api_key in ApiKey.objects.select_related("institution"):
        state = "read-only" if api_key.read_only else "read-write"
        state = "revoked" if api_key.revoked else state
        print(f"{api_key.institution.code}\t{api_key.name}\t{api_key.prefix}…\t{state}")
    return 0


def apikey_revoke(args: argparse.Namespace) -> int:
    from patronsync.accounts.models import ApiKey
    from patronsync.accounts.services import api_key_revoke

    keys = ApiKey.objects.filter(name=args.name)
    if args.institution:
        keys = keys.filter(institution__code=args.institution)
    if len(keys) != 1:
        print(f"No single API key named {args.name!r}.", file=sys.stderr)
        return 1
    api_key_revoke(api_key=keys[0])
    print(f"Revoked API key {args.name!r}.")
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

    apikey = subparsers.add_parser("apikey", help="manage keys of the Alma-compatible API")
    actions = apikey.add_subparsers(dest="apikey_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key; prints it on the last line")
    create.add_argument("--name", required=True)
    access = create.add_mutually_exclusive_group(required=True)
    access.add_argument("--read-only", dest="read_only", action="store_true")
    access.add_argument("--read-write", dest="read_only", action="store_false")
    create.add_argument("--institution", help="institution code (optional when there is one)")
    create.set_defaults(func=apikey_create)
    listing = actions.add_parser("list", help="list keys (prefix only)")
    listing.set_defaults(func=apikey_list)
    revoke = actions.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("--name", required=True)
    revoke.add_argument("--institution")
    revoke.set_defaults(func=apikey_revoke)
