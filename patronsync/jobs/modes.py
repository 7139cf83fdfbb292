"""The two kinds of job, Users IMPORT and Users SYNCHRONIZE, as objects: one per profile section.

A mode knows which section of the profile it reads (its folder, record type, whether it is
active), what the job's name and parameters are, and which run settings it takes back from the
stored parameters. The runner and the services ask the mode; they do not branch on the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from patronsync.core.exceptions import ConfigurationError
from patronsync.core.models import Institution
from patronsync.loader.choices import JobKind
from patronsync.profiles.choices import PRIMARY_ID_MATCH, UnmatchedAction
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.purge import PurgeSettingError, purge_settings


@dataclass(frozen=True)
class JobMode:
    """What a kind of job takes from its profile section, and how it names itself."""

    kind: str
    label: str  # "Import", as the profile's section is called
    section: str  # the prefix of the section's fields on the profile
    title_format: str

    def title(self, profile_name: str) -> str:
        """The job's name as Alma shows it."""
        return self.title_format.format(name=profile_name)

    def is_active(self, profile: IntegrationProfile) -> bool:
        return bool(getattr(profile, f"{self.section}_active"))

    def parameters(self, profile: IntegrationProfile, *, dry_run: bool) -> dict[str, Any]:
        """The settings a job of `profile` runs with, stored on the job when it is created.

        A resumed job runs with these, not with the profile as it is by then; the report shows
        them as the job's parameters.
        """
        return {
            "profile": profile.code,
            "kind": self.kind,
            "dry_run": dry_run,
            "connection": profile.connection.name,
            "input_path": getattr(profile, f"{self.section}_input_path"),
            "record_type": getattr(profile, f"{self.section}_record_type"),
        }

    def match_settings(self, parameters: dict[str, Any]) -> tuple[str, str]:
        """(match ID type, what to do with an unmatched record) from the stored parameters."""
        raise NotImplementedError


class ImportJobMode(JobMode):
    """Users IMPORT: creates the users that do not exist; it matches on no profile setting."""

    def match_settings(self, parameters: dict[str, Any]) -> tuple[str, str]:
        # An Import looks every identifier up and adds what is new: these are not read.
        return PRIMARY_ID_MATCH, UnmatchedAction.ADD


class SynchronizeJobMode(JobMode):
    """Users SYNCHRONIZE: matches on the profile's match ID type, then Swap All or add."""

    def parameters(self, profile: IntegrationProfile, *, dry_run: bool) -> dict[str, Any]:
        return {
            **super().parameters(profile, dry_run=dry_run),
            "match_id_type": (profile.sync_match_id_types or [profile.sync_match_id_type])[0],
            # Ordered match keys, when the profile lists several (else the one above alone).
            **(
                {"match_id_types": list(profile.sync_match_id_types)}
                if len(profile.sync_match_id_types or []) > 1
                else {}
            ),
            "synchronization_type": profile.sync_type,
            "unmatched": profile.sync_unmatched,
            "take_over_users": profile.sync_take_over_users,
            # Leavers (`jobs.leavers`): kept only when the profile's feed is a complete snapshot.
            **({"leavers": dict(profile.sync_leavers)} if profile.sync_leavers else {}),
            "ownership": dict(profile.sync_ownership or {}),
            "protection": profile.sync_protection,
        }

    def match_settings(self, parameters: dict[str, Any]) -> tuple[str, str]:
        return str(parameters["match_id_type"]), str(parameters["unmatched"])


IMPORT = ImportJobMode(
    kind=JobKind.IMPORT,
    label="Import",
    section="import",
    title_format="Users IMPORT using {name}",
)
SYNCHRONIZE = SynchronizeJobMode(
    kind=JobKind.SYNCHRONIZE,
    label="Synchronize",
    section="sync",
    title_format="Users SYNCHRONIZE using profile {name}",
)


class PurgeJobMode(JobMode):
    """Purge User Records (`jobs.purge`): of no section (it takes no file, and may always
    run); its parameters are the profile's purge settings and the day it counts from."""

    def is_active(self, profile: IntegrationProfile) -> bool:
        return True

    def parameters(self, profile: IntegrationProfile, *, dry_run: bool) -> dict[str, Any]:
        try:
            settings = purge_settings(profile.purge, institution=profile.institution)
        except PurgeSettingError as exc:
            raise ConfigurationError(f"Profile {profile.code}'s purge setting {exc}") from None
        return {
            "profile": profile.code,
            "kind": self.kind,
            "dry_run": dry_run,
            "purge": settings.as_dict(),
            "today": purge_today(institution=profile.institution).isoformat(),
        }

    def match_settings(self, parameters: dict[str, Any]) -> tuple[str, str]:
        raise ConfigurationError("A purge matches no feed")


def purge_today(*, institution: Institution) -> date:
    """The day a purge counts from: today in the institution's time zone."""
    return timezone.now().astimezone(ZoneInfo(institution.time_zone or "UTC")).date()


PURGE = PurgeJobMode(
    kind=JobKind.PURGE,
    label="Purge User Records",
    section="purge",
    title_format="Purge User Records using profile {name}",
)
MODES: dict[str, JobMode] = {
    IMPORT.kind: IMPORT,
    SYNCHRONIZE.kind: SYNCHRONIZE,
    PURGE.kind: PURGE,  # Purge User Records
}


def mode_of(kind: str) -> JobMode:
    """The mode of a job kind (`import`, `synchronize` or `purge`)."""
    return MODES[kind]
