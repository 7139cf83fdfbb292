"""`patronsync webhook add|list|remove`: the webhooks told when a job ends."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def webhook_add(args: argparse.Namespace) -> int:
    from django.core.exceptions import ValidationError

    from patronsync.commands import institution_option
    from patronsync.notifications.services import webhook_create

    institution = institution_option(args.institution)
    # Read from stdin, never from the command line: it stays out of `ps` and shell history.
    secret = ""
    if args.secret_from_stdin:
        secret = sys.stdin.readline().strip()
    try:
        webhook, secret = webhook_create(
            institution=institution,
            url=args.url,
            secret=secret,
            events=args.events or [],
            actor="cli",
        )
    except ValidationError as exc:
        print(f"patronsync: {' '.join(exc.messages)}", file=sys.stderr)
        return 2
    events = ", ".join(webhook.events) or "every job end"
    print(f"Added webhook {webhook.pk} of {institution.code}: {webhook.url} ({events})")
    if not args.secret_from_stdin:
        print("Its signing secret, not shown again (verify X-Patronsync-Signature with it):")
        print(secret)
    return 0


def webhook_list(args: argparse.Namespace) -> int:
    from patronsync.notifications.models import Webhook

    webhooks = Webhook.objects.select_related("institution")
    if args.institution:
        webhooks = webhooks.filter(institution__code=args.institution)
    for webhook in webhooks:
        last = webhook.deliveries.order_by("-sent_at", "-id").first()
        outcome = "never sent" if last is None else (last.status_code or last.error)
        state = "active" if webhook.active else "off"
        events = ",".join(webhook.events) or "all"
        print(f"{webhook.pk}\t{webhook.institution.code}\t{webhook.url}\t{events}\t{state}\t"
              f"last: {outcome}")  # fmt: skip
    return 0


def webhook_remove(args: argparse.Namespace) -> int:
    from patronsync.notifications.models import Webhook

    deleted, _ = Webhook.objects.filter(pk=args.webhook_id).delete()
    if not deleted:
        print(f"patronsync: no webhook {args.webhook_id}", file=sys.stderr)
        return 2
    print(f"Removed webhook {args.webhook_id}")
    return 0


def register(subparsers: Any) -> None:
    from patronsync.notifications.choices import JobEndEvent

    webhook = subparsers.add_parser("webhook", help="webhooks told when a job ends (Job end)")
    actions = webhook.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a webhook; prints its signing secret once")
    add.add_argument("url", metavar="URL", help="https:// (http:// only to this machine)")
    add.add_argument(
        "--event",
        dest="events",
        action="append",
        choices=JobEndEvent.values,
        help="a final status to send it for (repeat; default: every job end)",
    )
    add.add_argument(
        "--secret-from-stdin",
        action="store_true",
        help="read the signing secret from the first line of stdin (default: make one)",
    )
    add.add_argument("--institution", help="institution code (default: the default one)")
    add.set_defaults(func=webhook_add)
    listing = actions.add_parser("list", help="list webhooks (never their secrets)")
    listing.add_argument("--institution")
    listing.set_defaults(func=webhook_list)
    remove = actions.add_parser("remove", help="remove a webhook and its delivery log")
    remove.add_argument("webhook_id", metavar="WEBHOOK_ID", type=int)
    remove.set_defaults(func=webhook_remove)
