"""The folders `local` connections may use: the operator's PATRONSYNC_LOCAL_ROOTS, per institution.

The setting is a comma-separated list of `CODE=FOLDER` entries; an institution may have several.
`*=FOLDER` gives the folder to every institution, and `{code}` in a folder stands for each
institution's code, so `*=/srv/sis/{code}` gives each institution a folder of its own. Folders
are absolute; they are resolved (symbolic links followed) once, when read.

A folder is allowed to an institution when the most specific root that contains it (the
longest) is one of the institution's. With `main=/srv/sis,branch=/srv/sis/branch`, `main` may
use `/srv/sis/2026` but not `/srv/sis/branch/2026`. Two institutions given the same folder both
may use it: that is the operator's choice.

When the setting is empty, DEFAULT_LOCAL_ROOTS applies: the default institution's
`DATA_DIR/sis` (the quick start's drop folder) and `DATA_DIR/sis/{code}` for every institution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from patronsync.core.models import Institution
from patronsync.core.services import DEFAULT_INSTITUTION_CODE

SETTING = "PATRONSYNC_LOCAL_ROOTS"
EVERY_INSTITUTION = "*"
CODE_PLACEHOLDER = "{code}"


@dataclass(frozen=True, slots=True)
class RootEntry:
    """One `CODE=FOLDER` entry of the setting; `code` is `*` for every institution."""

    code: str
    folder: str

    def path_for(self, code: str) -> Path:
        return Path(self.folder.replace(CODE_PLACEHOLDER, code)).resolve()


def path_resolved(path: str | Path) -> Path | None:
    """`path` made absolute with every symbolic link followed, or None when it cannot be: a NUL
    character in it, or a loop of links."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def default_local_roots() -> str:
    """The roots when the setting is empty: the quick start's folder and one per institution."""
    sis = Path(settings.DATA_DIR) / "sis"
    return f"{DEFAULT_INSTITUTION_CODE}={sis},{EVERY_INSTITUTION}={sis}/{CODE_PLACEHOLDER}"


def local_roots_parse(value: str) -> list[RootEntry]:
    """The entries of a PATRONSYNC_LOCAL_ROOTS value; ImproperlyConfigured names a bad entry."""
    entries = []
    for position, raw in enumerate(value.split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        code, equals, folder = item.partition("=")
        code, folder = code.strip(), folder.strip()
        example = "e.g. main=/srv/sis/main,branch=/srv/sis/branch or *=/srv/sis/{code}"
        if not equals or not code or not folder:
            raise ImproperlyConfigured(
                f"{SETTING}: entry {position} {item!r} is not CODE=FOLDER ({example})"
            )
        if not Path(folder).is_absolute():
            raise ImproperlyConfigured(
                f"{SETTING}: entry {position} {item!r}: the folder must be an absolute path"
            )
        if CODE_PLACEHOLDER in folder and code != EVERY_INSTITUTION:
            raise ImproperlyConfigured(
                f"{SETTING}: entry {position} {item!r}: {CODE_PLACEHOLDER} is only for the "
                f"{EVERY_INSTITUTION}= entry"
            )
        entries.append(RootEntry(code=code, folder=folder))
    return entries


def local_roots_entries() -> list[RootEntry]:
    """The configured entries, or the default ones when the setting is empty."""
    value = str(getattr(settings, SETTING, "") or "").strip()
    return local_roots_parse(value or default_local_roots())


def local_roots(*, codes: Iterable[str] | None = None) -> dict[Path, frozenset[str]]:
    """Every root folder and the codes of the institutions that own it.

    `codes` are the institutions the `*` entries are expanded for (all of them by default).
    """
    entries = local_roots_entries()
    if codes is None:
        codes = Institution.objects.values_list("code", flat=True)
    codes = list(codes)
    owners: dict[Path, set[str]] = {}
    for entry in entries:
        for code in codes if entry.code == EVERY_INSTITUTION else [entry.code]:
            owners.setdefault(entry.path_for(code), set()).add(code)
    return {path: frozenset(found) for path, found in owners.items()}


def local_roots_for(*, institution: Institution) -> list[Path]:
    """The root folders of `institution`, in a stable order."""
    return sorted(path for path, owners in local_roots().items() if institution.code in owners)


def local_path_allowed(*, institution: Institution, path: Path) -> bool:
    """Whether the resolved absolute `path` lies in a root of `institution` and in no more
    specific root of another institution."""
    containing = [
        (root, owners) for root, owners in local_roots().items() if path.is_relative_to(root)
    ]
    if not containing:
        return False
    longest = max(len(root.parts) for root, _ in containing)
    return any(
        institution.code in owners for root, owners in containing if len(root.parts) == longest
    )


def local_folder_problem(*, institution: Institution, folder: str) -> str | None:
    """Why `folder` may not be a local connection's folder for `institution`, or None.

    The folder is resolved first, so a symbolic link that leads out of the roots is refused.
    """
    roots = local_roots_for(institution=institution)
    allowed = ", ".join(str(root) for root in roots)
    hint = f"the operator lists them in {SETTING}"
    if not roots:
        problem = f"institution {institution.code} may use no folder for local connections"
    elif not folder:
        problem = f"a local connection needs its folder, an absolute path inside {allowed}"
    elif not Path(folder).is_absolute():
        problem = (
            f"{folder!r} is not an absolute path; local connections of institution "
            f"{institution.code} use folders inside {allowed}"
        )
    elif (resolved := path_resolved(folder)) is None:
        problem = f"{folder!r} cannot be resolved (a NUL character, or a loop of links)"
    elif not local_path_allowed(institution=institution, path=resolved):
        problem = (
            f"{folder!r} is outside the folders institution {institution.code} may use for "
            f"local connections ({allowed})"
        )
    else:
        return None
    return f"{problem}; {hint}."
