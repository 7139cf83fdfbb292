"""The protocol every transport follows: list, fetch, mark_handled, test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from patronsync.connections.models import Connection

HANDLED_SUFFIX = ".handled"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file waiting in an input folder."""

    name: str
    size: int


class Transport:
    """Base of the transports. Subclasses implement the four operations for their server."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def list(self, folder: str) -> list[RemoteFile]:
        """The `*.zip` files in `folder` not yet marked handled, by name."""
        raise NotImplementedError

    def fetch(self, folder: str, name: str, workdir: Path) -> Path:
        """A local path to read the file from: downloaded into `workdir` if it is remote."""
        raise NotImplementedError

    def mark_handled(self, folder: str, name: str) -> None:
        """Rename `name` to `name.handled`, as Alma does, so it is never taken again."""
        raise NotImplementedError

    def test(self, folder: str = "") -> str:
        """Check the connection and say what was found; raise ConfigurationError if it fails."""
        raise NotImplementedError
