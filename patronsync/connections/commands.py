"""`patronsync connection list | show | pubkey | keygen | trust | test NAME`: the S/FTP
definitions' key pair, pinned server key and connection test, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patronsync.connections.models import Connection


def _connection(args: argparse.Namespace) -> Connection:
    from patronsync.commands import institution_option
    from patronsync.connections.selectors import connection_get

    return connection_get(institution=institution_option(args.institution), name=args.name)


def _run(args: argparse.Namespace) -> int:
    """Run the action, turning patronsync's errors into a message and exit code 2."""
    from patronsync.core.exceptions import PatronsyncError

    try:
        return int(args.action(args) or 0)
    except PatronsyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def list_connections(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from patronsync.commands import institution_option
    from patronsync.connections.allowed import host_normalize, in_implementation
    from patronsync.connections.selectors import allowed_hosts, connection_list

    institution = institution_option(args.institution)
    hosts = allowed_hosts(institution=institution)
    checking = in_implementation(institution=institution)
    table = Table(title=f"Connections of {institution.code}")
    for column in ("Name", "Type", "Server", "Port", "Pinned fingerprint", "Allowed"):
        table.add_column(column)
    for connection in connection_list(institution=institution):
        if not connection.is_remote:
            allowed = "-"
        elif host_normalize(connection.server) in hosts:
            allowed = "yes"
        else:
            allowed = "no" if checking else "not checked"
        table.add_row(
            Text(connection.name),
            connection.transport,
            Text(connection.server or connection.sub_directory),
            str(connection.port or ""),
            Text(connection.host_key_fingerprint or ("-" if connection.is_remote else "")),
            allowed,
        )
    Console(width=200).print(table)
    if not checking:
        print(f"Institution {institution.code} is not in implementation: servers are not checked.")
    return 0


def show(args: argparse.Namespace) -> int:
    connection = _connection(args)
    rows = [
        ("Name", connection.name),
        ("Description", connection.description),
        ("Type", connection.transport),
        ("Server", connection.server),
        ("Port", connection.port or ""),
        ("Sub-directory", connection.sub_directory),
        ("Max. number of files", connection.max_files),
        ("Min. number of files", connection.min_files),
        ("Max. file size", connection.max_file_size),
        ("Size type", connection.size_type),
        ("Allow navigation", connection.allow_navigation),
        ("Ftp Server Type", connection.ftp_server_type_label),
        ("Passive mode", connection.passive_mode),
        ("Ftp Server Secured", connection.server_secured_label),
        ("UserName", connection.username),
        ("Password", "set" if connection.password else "not set"),
        ("Public key", connection.public_key or "-"),
        ("Host key fingerprint", connection.host_key_fingerprint or "not pinned yet"),
        ("Pinned at", connection.host_key_pinned_at or "-"),
    ]
    for label, value in rows:
        print(f"{label + ':':<22} {value}")
    return 0


def pubkey(args: argparse.Namespace) -> int:
    connection = _connection(args)
    if not connection.public_key:
        print(
            f"error: connection {connection.name} has no key pair (only sftp definitions do; "
            f"`patronsync connection keygen {connection.name}` makes one)",
            file=sys.stderr,
        )
        return 2
    print(connection.public_key)
    return 0


def keygen(args: argparse.Namespace) -> int:
    from patronsync.connections.services import connection_keygen

    connection = connection_keygen(connection=_connection(args), actor="patronsync connection")
    print(connection.public_key)
    print(
        f"Connection {connection.name} has a new key pair: install the public key above in the "
        "server account's ~/.ssh/authorized_keys (and remove the old one).",
        file=sys.stderr,
    )
    return 0


def trust(args: argparse.Namespace) -> int:
    """Pin the server's current key: only the `--fingerprint` given, else the one it shows
    once the administrator said yes on a terminal (or `--yes` off one)."""
    from patronsync.connections.hostkeys import host_key_probe, host_key_trust

    connection = _connection(args)
    wanted = (args.fingerprint or "").strip()
    if not wanted:
        seen = host_key_probe(connection=connection)
        if sys.stdin.isatty():
            answer = input(f"Trust {seen} ? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print(f"Connection {connection.name}: nothing was trusted.", file=sys.stderr)
                return 1
        elif not args.yes:
            print(
                f"error: connection {connection.name}: the server shows {seen}; not on a "
                "terminal, so nothing was trusted: compare it with the fingerprint the "
                f"server's administrator gives, then run `patronsync connection trust "
                f"{connection.name} --fingerprint {seen}` (or add --yes to trust what the "
                "server shows, unchecked)",
                file=sys.stderr,
            )
            return 2
        wanted = seen  # and the server must still show it when it is pinned
    fingerprint = host_key_trust(connection=connection, fingerprint=wanted)
    print(f"Connection {connection.name}: the server's key {fingerprint} is trusted (pinned).")
    return 0


def test(args: argparse.Namespace) -> int:
    from patronsync.connections.services import connection_test

    result = connection_test(connection=_connection(args))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0 if result.ok else 1
    if not result.ok:
        print(f"Connection {result.connection}: FAILED ({result.kind}): {result.message}")
        return 1
    print(f"Connection {result.connection}: OK")
    if result.fingerprint:
        print(f"Server key: {result.fingerprint}")
    for folder in result.folders:
        path = folder.path or "(sub-directory)"
        print(f"  {folder.profile} {folder.section}: {path}: {folder.zip_files} zip file(s)")
    if not result.folders:
        print("  no profile uses this connection; its sub-directory is readable")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "connection", help="S/FTP definitions: key pair, server key, test"
    )
    actions = parser.add_subparsers(dest="connection_command", metavar="ACTION", required=True)
    commands = [
        ("list", list_connections, "the connections: type, server, port, pinned key, allowed?"),
        ("show", show, "a connection's fields, as Alma's S/FTP definition shows them"),
        ("pubkey", pubkey, "print the public key to install on the server (OpenSSH format)"),
        ("keygen", keygen, "make a new key pair for an sftp definition; print its public key"),
        ("trust", trust, "accept the server's new key (after a planned change of it)"),
        ("test", test, "connect, log in, count the zip files in each profile's input folder"),
    ]
    for name, action, help_text in commands:
        command = actions.add_parser(name, help=help_text)
        if name != "list":
            command.add_argument("name", metavar="NAME", help="the connection's name")
        if name == "test":
            command.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "trust":
            command.add_argument(
                "--fingerprint",
                metavar="SHA256:...",
                help="pin only this key (as the server's administrator gave it); a server "
                "showing another is refused and nothing is pinned",
            )
            command.add_argument(
                "--yes",
                action="store_true",
                help="without --fingerprint and off a terminal: trust the key the server shows",
            )
        command.add_argument("--institution", help="institution code (default: the default one)")
        command.set_defaults(func=_run, action=action)
