"""The local-folder transport: feeds dropped in a folder on this machine.

Only folders inside the institution's roots (PATRONSYNC_LOCAL_ROOTS, see `connections.roots`)
are listed, read or renamed, whatever the connection or the profile's input path says: the
folder is resolved (symbolic links followed) and checked before each operation. A zip in it that
is a symbolic link to a file outside the folder is refused, never followed.

Without navigation the input folder also stays inside the connection's folder: an absolute
input path, `..` that climbs out, or a link that leads out of it is refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from patronsync.connections.roots import local_folder_problem, path_resolved
from patronsync.core.exceptions import ConfigurationError

from .base import (
    HANDLED_SUFFIX,
    TRANSPORT_EXCEPTIONS,
    ErrorKind,
    RemoteFile,
    Transport,
    TransportError,
    error_translated,
    file_name_checked,
    navigation_refused,
    path_climbs_out,
    upload_part_name,
)


class LocalTransport(Transport):
    """Reads `<sub_directory>/<folder>` on this machine, inside the institution's roots."""

    def _folder(self, folder: str) -> Path:
        """The resolved input folder, checked against the institution's roots."""
        connection = self.connection
        base = connection.sub_directory
        if folder and not connection.allow_navigation and path_climbs_out(folder):
            raise navigation_refused(connection, folder, why="leaves the sub-directory")
        path = os.path.join(base, folder) if base and folder else base
        problem = local_folder_problem(institution=connection.institution, folder=path)
        if problem:
            raise ConfigurationError(f"Connection {connection.name}: {problem}")
        resolved = path_resolved(path)
        if resolved is None or not resolved.is_dir():
            raise TransportError(
                f"Connection {connection.name}: folder {path} does not exist",
                kind=ErrorKind.MISSING,
            )
        inside = path_resolved(base)
        if not connection.allow_navigation and not (inside and resolved.is_relative_to(inside)):
            raise navigation_refused(
                connection, folder, why=f"leads to {resolved}, outside {base} (a symbolic link)"
            )
        return resolved

    def _entry(self, folder: Path, name: str) -> Path:
        """The file `name` of `folder`, unresolved; refused when the name is not a plain file
        name or the file is a link to somewhere outside the folder."""
        if not name or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
            raise ConfigurationError(
                f"Connection {self.connection.name}: {name!r} is not a file name of {folder}"
            )
        path = folder / name
        target = path_resolved(path)
        if target is None or not target.is_relative_to(folder):
            raise ConfigurationError(
                f"Connection {self.connection.name}: {name} in {folder} is a symbolic link that "
                "leads out of the folder (or nowhere); it is not taken. Put the file itself in "
                "the folder."
            )
        return path

    def list(self, folder: str) -> list[RemoteFile]:
        path = self._folder(folder)
        files = []
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            if not entry.name.lower().endswith(".zip"):
                continue
            if entry.is_symlink():
                self._entry(path, entry.name)  # a link out of the folder stops the listing
            if entry.is_file():
                files.append(RemoteFile(name=entry.name, size=entry.stat().st_size))
        return files

    def fetch(self, folder: str, name: str, workdir: Path) -> Path:
        # Already local: read in place, through the link when it is one (checked inside).
        return self._entry(self._folder(folder), name).resolve()  # resolvable: _entry checked

    def mark_handled(self, folder: str, name: str) -> None:
        path = self._entry(self._folder(folder), name)
        if os.path.lexists(path):
            try:
                # A link is renamed, not its file.
                path.rename(path.with_name(name + HANDLED_SUFFIX))
            except TRANSPORT_EXCEPTIONS as exc:
                raise error_translated(
                    exc, connection=self.connection, doing=f"renaming {name} to {name}.handled"
                ) from None

    def upload(self, folder: str, name: str, source: Path) -> RemoteFile:
        file_name_checked(self.connection, name)
        target = self._folder(folder)
        part = target / upload_part_name(name)
        size = source.stat().st_size
        try:
            shutil.copyfile(source, part)
            landed = part.stat().st_size
            if landed != size:
                raise TransportError(
                    f"Connection {self.connection.name}: {name} came to {landed:,} bytes in "
                    f"{target} where {source} has {size:,}; it was not put in place",
                    kind=ErrorKind.SIZE,
                )
            os.replace(part, target / name)  # a link of that name is replaced, not followed
        except TRANSPORT_EXCEPTIONS as exc:
            part.unlink(missing_ok=True)
            raise error_translated(
                exc, connection=self.connection, doing=f"copying {name} into {target}"
            ) from None
        except TransportError:
            part.unlink(missing_ok=True)
            raise
        return RemoteFile(name=name, size=size)

    def rename(self, folder: str, name: str, new_name: str) -> None:
        file_name_checked(self.connection, name)
        file_name_checked(self.connection, new_name)
        target = self._folder(folder)
        try:
            os.replace(target / name, target / new_name)
        except TRANSPORT_EXCEPTIONS as exc:
            raise error_translated(
                exc, connection=self.connection, doing=f"renaming {name} to {new_name}"
            ) from None

    def test(self, folder: str = "") -> str:
        files = self.list(folder)
        return f"{self._folder(folder)}: readable, {len(files)} zip file(s) waiting"
