"""`patronsync institution`, `createadmin` and `apikey`: members, administrators, API keys."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from typing import Any


def institution_create(args: argparse.Namespace) -> int:
    from django.core.exceptions import ValidationError

    from patronsync.core.models import Institution
    from patronsync.core.services import institution_create as create

    if Institution.objects.filter(code=args.code).exists():
        print(f"An institution with code {args.code!r} already exists.", file=sys.stderr)
        return 1
    try:
        institution = create(code=args.code, name=args.name, time_zone=args.time_zone)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            print(f"{field}: {' '.join(messages)}", file=sys.stderr)
        return 1
    print(
        f"Created institution {institution.code} ({institution.name}, {institution.time_zone}) "
        "with Alma's standard code tables."
    )
    print(f"Next: patronsync createadmin --username NAME --institution {institution.code}")
    return 0


def institution_list(args: argparse.Namespace) -> int:
    from patronsync.core.models import Institution

    for institution in Institution.objects.all():
        print(f"{institution.code}\t{institution.name}\t{institution.time_zone}")
    return 0


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
    from django.core.exceptions import ValidationError

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
    if args.read_only is None and not args.scopes:
        print("Say what the key may do: --read-only, --read-write or --scope.", file=sys.stderr)
        return 1
    try:
        api_key, key = api_key_create(
            institution=institutions[0],
            name=args.name,
            read_only=args.read_only,
            scopes=args.scopes or (),
        )
    except (ValueError, ValidationError) as exc:
        print(str(exc) if isinstance(exc, ValueError) else " ".join(exc.messages), file=sys.stderr)
        return 1
    print(
        f"Created API key {api_key.name!r} for {api_key.institution.code} "
        f"with scopes {api_key.scopes}."
    )
    print("Copy the key now, it is not shown again:")
    print(key)
    return 0


def apikey_list(args: argparse.Namespace) -> int:
    from patronsync.accounts.models import ApiKey

    for api_key in ApiKey.objects.select_related("institution"):
        state = "revoked" if api_key.revoked else api_key.scopes
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
    from patronsync.accounts.choices import ApiScope

    institution = subparsers.add_parser(
        "institution", help="add a member institution (a consortium's library) or list them"
    )
    institution_actions = institution.add_subparsers(
        dest="institution_command", metavar="ACTION", required=True
    )
    create_institution = institution_actions.add_parser(
        "create", help="create an institution with Alma's standard code tables"
    )
    create_institution.add_argument("code", metavar="CODE", help="e.g. branch (letters, digits, -)")
    create_institution.add_argument("--name", required=True)
    create_institution.add_argument(
        "--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Berlin (default: UTC)"
    )
    create_institution.set_defaults(func=institution_create)
    list_institutions = institution_actions.add_parser("list", help="list institutions")
    list_institutions.set_defaults(func=institution_list)

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
    access = create.add_mutually_exclusive_group()
    access.add_argument(
        "--read-only", dest="read_only", action="store_true", default=None, help="users:read"
    )
    access.add_argument(
        "--read-write", dest="read_only", action="store_false", help="users:read and users:write"
    )
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=ApiScope.values,
        help="a scope the key holds (repeatable; added to --read-only/--read-write)",
    )
    create.add_argument("--institution", help="institution code (optional when there is one)")
    create.set_defaults(func=apikey_create)
    listing = actions.add_parser("list", help="list keys (prefix only)")
    listing.set_defaults(func=apikey_list)
    revoke = actions.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("--name", required=True)
    revoke.add_argument("--institution")
    revoke.set_defaults(func=apikey_revoke)
