"""The local-folder transport: feeds dropped in a folder on this machine."""

from __future__ import annotations

import os
from pathlib import Path

from patronsync.core.exceptions import ConfigurationError

from .base import HANDLED_SUFFIX, RemoteFile, Transport


class LocalTransport(Transport):
    """Reads `<sub_directory>/<folder>` on this machine."""

    def _folder(self, folder: str) -> Path:
        base = Path(self.connection.sub_directory or ".")
        path = (base / folder) if folder else base
        if not path.is_dir():
            raise ConfigurationError(
                f"Connection {self.connection.name}: folder {path} does not exist"
            )
        return path

    def list(self, folder: str) -> list[RemoteFile]:
        path = self._folder(folder)
        return [
            RemoteFile(name=entry.name, size=entry.stat().st_size)
            for entry in sorted(os.scandir(path), key=lambda e: e.name)
            if entry.is_file() and entry.name.lower().endswith(".zip")
        ]

    def fetch(self, folder: str, name: str, workdir: Path) -> Path:
        return self._folder(folder) / name  # already local: read it in place

    def mark_handled(self, folder: str, name: str) -> None:
        path = self._folder(folder) / name
        if path.exists():
            path.rename(path.with_name(name + HANDLED_SUFFIX))

    def test(self, folder: str = "") -> str:
        files = self.list(folder)
        return f"{self._folder(folder)}: readable, {len(files)} zip file(s) waiting"
