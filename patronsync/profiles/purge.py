"""The settings of Purge User Records for a profile's users (`purge:`), with their defaults.

As Alma's "Purge User Records" job: a user is purged when its purge date is more than
`days_after_purge_date` days in the past (a user with no purge date never is), narrowed by
the filters (`record_types`, `user_groups`, `expiry_before`); `keep` says what is left of
it: nothing (`remove`, Alma's "Fully Remove"), or a row without personal data for the
statistics (`anonymise`, Alma's "Keep Statistics"). A profile's `purge` JSON holds only what
differs from the defaults; `{}` is the defaults. docs/jobs.md describes the job.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from typing import Any

from patronsync.core.choices import CodeTableName
from patronsync.core.models import CodeTableEntry, Institution

from .choices import RecordType

KEEP_REMOVE = "remove"
KEEP_ANONYMISE = "anonymise"
KEEP_POLICIES = (KEEP_REMOVE, KEEP_ANONYMISE)
DEFAULTS: dict[str, Any] = {
    "days_after_purge_date": 0,
    "record_types": [],
    "user_groups": [],
    "expiry_before": None,
    "keep": KEEP_REMOVE,
}


class PurgeSettingError(ValueError):
    """A purge setting that makes no sense; `key` names it (`user_groups`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class PurgeSettings:
    """A profile's purge settings, checked and completed with the defaults."""

    days_after_purge_date: int = 0
    record_types: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    expiry_before: dt.date | None = None
    keep: str = KEEP_REMOVE

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON (a job's parameters, the API, the page)."""
        return {
            "days_after_purge_date": self.days_after_purge_date,
            "record_types": list(self.record_types),
            "user_groups": list(self.user_groups),
            "expiry_before": self.expiry_before.isoformat() if self.expiry_before else None,
            "keep": self.keep,
        }

    def purge_date_before(self, today: dt.date) -> dt.date:
        """Users whose purge date is before this day are due: more than N days in the past."""
        return today - dt.timedelta(days=self.days_after_purge_date)

    def describe(self) -> list[tuple[str, str]]:
        """The settings in plain words, one (label, value) each, for the page and the CLI."""
        days = self.days_after_purge_date
        return [
            (
                "Number of days after purge date",
                f"{days} (users whose purge date is more than {days} day"
                f"{'' if days == 1 else 's'} in the past)",
            ),
            ("User record types", ", ".join(self.record_types) or "all"),
            ("User groups", ", ".join(self.user_groups) or "all"),
            (
                "Expiry date before",
                self.expiry_before.isoformat() if self.expiry_before else "any expiry date",
            ),
            (
                "Keep policy",
                "remove the user fully"
                if self.keep == KEEP_REMOVE
                else "keep an anonymised row for statistics",
            ),
        ]


def _strings(key: str, value: Any, example: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PurgeSettingError(key, f"is {value!r}; expected a list of codes, such as {example}")
    return tuple(dict.fromkeys(value))


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PurgeSettingError("expiry_before", f"is {value!r}; expected a date, such as 2025-12-31")


def purge_settings(
    raw: dict[str, Any] | None, *, institution: Institution | None = None
) -> PurgeSettings:
    """A profile's `purge` JSON, checked and completed with the defaults.

    Raises PurgeSettingError naming the setting: an unknown key, a number of days that is not
    a whole number of 0 or more, a record type that is not PUBLIC, STAFF or CONTACT, a user
    group the institution's UserGroups table lacks (when `institution` is given), a date that
    is not one, a keep policy other than remove or anonymise.
    """
    raw = raw if raw is not None else {}
    if not isinstance(raw, dict):
        raise PurgeSettingError("purge", f"expected a mapping with {', '.join(DEFAULTS)}")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(DEFAULTS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise PurgeSettingError(
            unknown[0], f"unknown setting{hint}; expected one of {', '.join(DEFAULTS)}"
        )
    values = {**DEFAULTS, **raw}
    days = values["days_after_purge_date"]
    if days is None:
        days = 0
    if isinstance(days, bool) or not isinstance(days, int):
        raise PurgeSettingError(
            "days_after_purge_date", f"is {days!r}; expected a whole number of days, such as 90"
        )
    if days < 0:
        raise PurgeSettingError("days_after_purge_date", f"is {days}; expected 0 or more")
    record_types = _strings("record_types", values["record_types"], "[PUBLIC]")
    bad = [value for value in record_types if value not in RecordType.values]
    if bad:
        raise PurgeSettingError(
            "record_types", f"{bad[0]!r} is not a record type; expected {', '.join(RecordType)}"
        )
    user_groups = _strings("user_groups", values["user_groups"], "[UNDERGRAD, GRAD]")
    if institution is not None and user_groups:
        known = list(
            CodeTableEntry.objects.filter(
                institution=institution, table=CodeTableName.USER_GROUPS
            ).values_list("code", flat=True)
        )
        missing = [group for group in user_groups if group not in known]
        if missing:
            close = difflib.get_close_matches(missing[0], known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise PurgeSettingError(
                "user_groups",
                f"{missing[0]!r} is not in the {CodeTableName.USER_GROUPS} code table of "
                f"institution {institution.code}{hint}",
            )
    keep = values["keep"]
    if keep not in KEEP_POLICIES:
        raise PurgeSettingError("keep", f"is {keep!r}; expected remove or anonymise")
    return PurgeSettings(
        days_after_purge_date=days,
        record_types=record_types,
        user_groups=user_groups,
        expiry_before=_date(values["expiry_before"]),
        keep=keep,
    )


def purge_settings_stored(raw: Any, *, institution: Institution | None = None) -> dict[str, Any]:
    """What a profile's `purge` field stores: the settings that differ from the defaults, in
    JSON form (dates as text), after checking them (PurgeSettingError)."""
    settings = purge_settings(raw, institution=institution).as_dict()
    return {key: value for key, value in settings.items() if value != DEFAULTS[key]}
