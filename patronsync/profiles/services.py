"""Writes on connections and integration profiles, including `patronsync config apply`.

A configuration document (YAML) declares code-table rows, connections and profiles; applying it
creates or updates them by code, name and code, so applying the same file twice changes nothing.
See docs/configuration-file.md. `profile_check` holds the rules of a profile that its fields'
own validation cannot see; the API and `config apply` both go through it.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone

from patronsync.connections.allowed import host_normalize
from patronsync.connections.choices import FtpServerType, TransportType
from patronsync.connections.models import Connection
from patronsync.connections.services import (
    allowed_connection_declare,
    connection_declare,
    connection_update,
)
from patronsync.core.choices import CodeTableName
from patronsync.core.exceptions import ConfigurationError, PatronsyncError
from patronsync.core.models import Institution
from patronsync.core.selectors import code_table_codes
from patronsync.core.services import code_table_entry_declare, model_assign
from patronsync.patrons.fields import IDENTIFIER_FIELDS, OWNABLE_FIELDS
from patronsync.patrons.leavers import leaver_rule_from
from patronsync.patrons.services import patrons_feed_bytes_forget

from .choices import (
    PRIMARY_ID_MATCH,
    XSD_VERSION_2,
    FieldOwner,
    ProtectionMode,
    RecordType,
    Schedule,
    UnmatchedAction,
)
from .models import IntegrationProfile
from .purge import PurgeSettingError, purge_settings_stored
from .schedules import ScheduleError, schedule_description, schedule_next_runs, schedule_validate

CONNECTION_KEYS = {
    "name": "name",
    "type": "transport",
    "description": "description",
    "path": "sub_directory",
    "sub_directory": "sub_directory",
    "server": "server",
    "port": "port",
    "username": "username",
    "password": "password",
    "private_key": "private_key",
    "min_files": "min_files",
    "max_files": "max_files",
    "max_file_size": "max_file_size",
    "size_type": "size_type",
    "allow_navigation": "allow_navigation",
    "passive_mode": "passive_mode",
    "server_type": "ftp_server_type",
}
ALLOWED_CONNECTION_KEYS = ("host", "description", "enabled")
PROFILE_KEYS = {
    "code": "code",
    "name": "name",
    "description": "description",
    "system": "system",
    "subscribers": "subscribers",  # a list of addresses, or one per line
}
SECTION_KEYS = {
    "import": {
        "active": "import_active",
        "record_type": "import_record_type",
        "input_path": "import_input_path",
        "xsd_version": "import_xsd_version",
        "schedule": "import_schedule",
        "cron": "import_cron",
    },
    "synchronize": {
        "active": "sync_active",
        "record_type": "sync_record_type",
        "match_id_type": "sync_match_id_type",
        "match_id_types": "sync_match_id_types",
        "synchronization_type": "sync_type",
        "unmatched": "sync_unmatched",
        "input_path": "sync_input_path",
        "schedule": "sync_schedule",
        "cron": "sync_cron",
        "xsd_version": "sync_xsd_version",
        "take_over_users": "sync_take_over_users",
        "leavers": "sync_leavers",
        "ownership": "sync_ownership",
        "protection": "sync_protection",
        "guard": "sync_guard",
    },
}
# A profile field's place in a configuration document, for errors: "synchronize.input_path".
PROFILE_PLACES = {field: key for key, field in PROFILE_KEYS.items()} | {
    field: f"{section}.{key}"
    for section, keys in SECTION_KEYS.items()
    for key, field in keys.items()
}
CHOICES = {
    "import_record_type": RecordType.values,
    "sync_record_type": RecordType.values,
    "sync_unmatched": UnmatchedAction.values,
    "import_schedule": Schedule.values,
    "sync_schedule": Schedule.values,
    "transport": TransportType.values,
    "ftp_server_type": FtpServerType.values,
}
CODE_TABLE_ROW_KEYS = ("code", "description", "default", "enabled")
TOP_LEVEL_KEYS = ("code_tables", "allowed_connections", "connections", "profiles")
XSD_FIELDS = ("import_xsd_version", "sync_xsd_version")
INPUT_PATH_FIELDS = ("import_input_path", "sync_input_path")


# The rules of a profile -----------------------------------------------------------------------


def input_path_leaves(path: str) -> bool:
    """Whether an input path names a folder outside its connection's sub-directory: an absolute
    path, or one whose `..` steps climb above it (`a/../b` stays inside, `../b` does not)."""
    if path.startswith(("/", "\\", "~")) or (len(path) > 1 and path[1] == ":"):
        return True
    normal = posixpath.normpath(path.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def profile_check(profile: IntegrationProfile) -> None:
    """Check the rules of a profile that its fields' own validation cannot see; raise a
    ValidationError naming each field that breaks one, with the values it may take.

    - its connection belongs to the profile's institution;
    - Synchronize's match ID type is `PRIMARY_ID` or an enabled code of the institution's
      identifier types table (`UserIdentifierTypes`): any other value would reject every user
      of every feed as MATCH_ID_MISSING;
    - its ordered match keys (`sync_match_id_types`), if any, are distinct such types, the
      first of them its match ID type;
    - the User XSD version of both sections is 2, the only version Alma's SIS load reads;
    - unless the connection allows navigation, the input paths stay inside its sub-directory
      (no absolute path, no `..` above it);
    - each section's schedule is one of Alma's slots, or CRON with a valid cron expression
      (`schedules.schedule_validate`);
    - each of its subscribers is an email address.
    """
    errors: dict[str, str] = {}
    connection = profile.connection
    if connection.institution_id != profile.institution_id:
        errors["connection"] = "The connection belongs to another institution."
    match_id_type = profile.sync_match_id_type
    if match_id_type != PRIMARY_ID_MATCH:
        known = code_table_codes(
            institution=profile.institution, table=CodeTableName.IDENTIFIER_TYPES
        )
        if match_id_type not in known:
            close = difflib.get_close_matches(str(match_id_type), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            errors["sync_match_id_type"] = (
                f"{match_id_type!r} is neither {PRIMARY_ID_MATCH} nor an identifier type of "
                f"institution {profile.institution.code}{hint}; expected {PRIMARY_ID_MATCH} or "
                f"one of the {CodeTableName.IDENTIFIER_TYPES} codes: {', '.join(known) or 'none'}."
            )
    errors.update(_match_id_types_errors(profile))
    errors.update(_leavers_errors(profile))
    errors.update(_purge_errors(profile))
    for field in XSD_FIELDS:
        value = getattr(profile, field)
        if str(value) != XSD_VERSION_2:
            errors[field] = (
                f"User XSD version {value!r} is not supported; expected {XSD_VERSION_2} "
                "(Alma's SIS load reads version 2 only)."
            )
    errors.update(_input_path_errors(profile, connection))
    errors.update(_schedule_errors(profile))
    errors.update(_ownership_errors(profile))
    errors.update(_guard_errors(profile))
    bad = [a for a in subscriber_addresses(profile.subscribers) if not _is_email(a)]
    if bad:
        errors["subscribers"] = (
            f"Not an email address: {', '.join(map(repr, bad))}; expected one address per "
            "line, such as registrar@example.edu."
        )
    if errors:
        raise ValidationError(errors)


def _guard_errors(profile: IntegrationProfile) -> dict[str, str]:
    """The mass-change guard's settings (`profiles.guard`): known keys, counts of 0 or more,
    percentages from 0 to 100 ({}: on, with the defaults)."""
    from .guard import GuardSettingError, guard_settings

    try:
        guard_settings(profile.sync_guard)
    except GuardSettingError as exc:
        return {"sync_guard": str(exc) if exc.key == "guard" else f"guard.{exc}"}
    return {}


def _match_id_types_errors(profile: IntegrationProfile) -> dict[str, str]:
    """Ordered match keys: a list of distinct match ID types, each PRIMARY_ID or an enabled
    identifier type of the institution (empty: the Match ID Type alone)."""
    value = profile.sync_match_id_types
    example = f"such as [UNIV_ID, {PRIMARY_ID_MATCH}]"
    if value in (None, ""):
        return {}
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return {
            "sync_match_id_types": f"{value!r} is not a list of match ID types; expected a "
            f"list {example}."
        }
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        return {
            "sync_match_id_types": f"{', '.join(repeated)} is listed more than once; each match "
            "ID type is tried once, in the order listed."
        }
    known = code_table_codes(institution=profile.institution, table=CodeTableName.IDENTIFIER_TYPES)
    unknown = [v for v in value if v != PRIMARY_ID_MATCH and v not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return {
            "sync_match_id_types": f"{unknown[0]!r} is neither {PRIMARY_ID_MATCH} nor an "
            f"identifier type of institution {profile.institution.code}{hint}; expected "
            f"{PRIMARY_ID_MATCH} or one of the {CodeTableName.IDENTIFIER_TYPES} codes: "
            f"{', '.join(known) or 'none'}."
        }
    if value and profile.sync_match_id_type != value[0]:
        return {
            "sync_match_id_type": f"{profile.sync_match_id_type!r} is not the first of the "
            f"ordered match ID types ({', '.join(value)}); the profile matches by them in order, "
            "so its Match ID Type is the first of them."
        }
    return {}


def _match_keys_settings(values: dict[str, Any], *, source: str, where: str) -> None:
    """`match_id_types:` in a configuration document: the ordered match keys. The Match ID
    Type follows the first of them (the list wins); a document giving both must agree."""
    keys = values.setdefault("sync_match_id_types", [])
    if not isinstance(keys, list) or not keys:
        return
    first = keys[0]
    given = values.get("sync_match_id_type")
    if given is not None and given != first:
        raise _error(
            source,
            f"{where}.synchronize.match_id_types",
            f"starts with {first!r} but match_id_type is {given!r}; the first match ID type is "
            "the Match ID Type (leave match_id_type out, or make it the first of the list)",
        )
    if isinstance(first, str):
        values["sync_match_id_type"] = first


OWNERSHIP_EXAMPLE = "such as {email: library, expiry_date: preserve_if_empty}"
PROTECTION_TEXT = "alma (held until the SIS repeats its last value) or sticky (held until Restore)"


def ownership_problem(value: Any) -> tuple[str, str] | None:
    """What is wrong with a field ownership (`sync_ownership`): (the field it concerns, or ''
    for the whole mapping; the reason with the values allowed), or None when it is fine."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        mapping = f"expected a mapping of fields to owners, {OWNERSHIP_EXAMPLE}"
        return "", f"{value!r} is not a mapping; {mapping}"
    owners = ", ".join(FieldOwner.values)
    for field, owner in value.items():
        if field in IDENTIFIER_FIELDS:
            return str(field), (
                "identifiers match and claim users, so they stay with the SIS (Internal "
                "identifiers staff add are kept by every Synchronize); expected one of "
                f"{', '.join(OWNABLE_FIELDS)}"
            )
        if field not in OWNABLE_FIELDS:
            close = difflib.get_close_matches(str(field), OWNABLE_FIELDS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return str(field), (
                f"not a field or segment type a profile can own{hint}; expected one of "
                f"{', '.join(OWNABLE_FIELDS)}"
            )
        if owner not in FieldOwner.values:
            return str(field), f"{owner!r} is not an owner; expected one of {owners}"
    return None


def _ownership_errors(profile: IntegrationProfile) -> dict[str, str]:
    """Field ownership: known fields and owners; the protection mode one of its choices."""
    errors = {}
    problem = ownership_problem(profile.sync_ownership)
    if problem is not None:
        field, message = problem
        errors["sync_ownership"] = f"{field}: {message}." if field else f"{message}."
    if profile.sync_protection not in ProtectionMode.values:
        errors["sync_protection"] = (
            f"{profile.sync_protection!r} is not a protection mode; expected {PROTECTION_TEXT}."
        )
    return errors


def _ownership_settings(values: dict[str, Any], *, source: str, where: str) -> None:
    """`ownership:` and `protection:` in a configuration document, refused naming the setting
    (`profiles[0].synchronize.ownership.email`). Left out, the profile keeps what it has."""
    if "sync_ownership" in values:
        if values["sync_ownership"] is None:
            values["sync_ownership"] = {}
        problem = ownership_problem(values["sync_ownership"])
        if problem is not None:
            field, message = problem
            place = f"{where}.synchronize.ownership" + (f".{field}" if field else "")
            raise _error(source, place, message)
    protection = values.get("sync_protection")
    if protection is not None and protection not in ProtectionMode.values:
        place = f"{where}.synchronize.protection"
        raise _error(source, place, f"{protection!r}; expected {PROTECTION_TEXT}")


def _ownership_followed(profile: IntegrationProfile, before: Any) -> None:
    """After a saved profile's field ownership changed, its users' next Synchronize compares
    every record field by field (unchanged bytes are not skipped), so that a field given back
    to the SIS takes the SIS's value."""
    if profile.pk is not None and before is not None and before != profile.sync_ownership:
        patrons_feed_bytes_forget(institution=profile.institution, external_id=profile.code)


def _purge_errors(profile: IntegrationProfile) -> dict[str, str]:
    """Purge User Records' settings (`profiles.purge`): each known, of its type, its user
    groups in the institution's code table."""
    try:
        purge_settings_stored(profile.purge, institution=profile.institution)
    except PurgeSettingError as exc:
        return {"purge": str(exc)}
    return {}


def _purge_settings(
    values: dict[str, Any], purge: Any, *, institution: Institution, source: str, where: str
) -> None:
    """`purge:` in a configuration document: Purge User Records' settings, stored as what
    differs from the defaults; left out, the profile keeps its own."""
    if purge is None:
        return
    try:
        values["purge"] = purge_settings_stored(purge, institution=institution)
    except PurgeSettingError as exc:
        place = f"{where}.purge" if exc.key == "purge" else f"{where}.purge.{exc.key}"
        raise _error(source, place, exc.message) from None


def _leavers_errors(profile: IntegrationProfile) -> dict[str, str]:
    """Leavers (`sync_leavers`): a rule only on a complete snapshot, no negative number, no
    unknown key (`patrons.leavers.leaver_rule_from`)."""
    try:
        leaver_rule_from(profile.sync_leavers, where="leavers")
    except ConfigurationError as exc:
        return {"sync_leavers": str(exc)}
    return {}


def _leavers_settings(values: dict[str, Any], *, source: str, where: str) -> None:
    """`leavers:` in a configuration document, refused naming the setting
    (`profiles[0].synchronize.leavers.expire_after_runs`) and stored as checked; left out,
    the profile keeps its own."""
    if "sync_leavers" not in values:
        return
    try:
        rule = leaver_rule_from(values["sync_leavers"], where=f"{where}.synchronize.leavers")
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
    values["sync_leavers"] = rule.as_settings()


def subscriber_addresses(text: str) -> list[str]:
    """The addresses of a profile's `subscribers`: one per line (commas also separate)."""
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


def _is_email(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


SCHEDULE_FIELDS = (("import_schedule", "import_cron"), ("sync_schedule", "sync_cron"))


def _schedule_errors(profile: IntegrationProfile) -> dict[str, str]:
    """Each section's schedule error, on its schedule or its cron field."""
    errors = {}
    for schedule_field, cron_field in SCHEDULE_FIELDS:
        cron = getattr(profile, cron_field)
        try:
            schedule_validate(schedule=getattr(profile, schedule_field), cron=str(cron or ""))
        except ScheduleError as exc:
            errors[schedule_field if exc.field == "schedule" else cron_field] = exc.message
    return errors


def _input_path_errors(profile: IntegrationProfile, connection: Connection) -> dict[str, str]:
    if connection.allow_navigation:
        return {}
    errors = {}
    for field in INPUT_PATH_FIELDS:
        path = getattr(profile, field)
        if path and input_path_leaves(path):
            errors[field] = (
                f"{path!r} leaves the sub-directory of connection {connection.name!r}, which "
                "does not allow navigation; expected a folder inside it, such as 'synchronize' "
                "(or allow navigation on the connection)."
            )
    return errors


def _check_profiles_of(connection: Connection) -> None:
    """After a change of `connection`: refuse it when a profile using it now breaks its rules
    (an input path that leaves it, once navigation is switched off)."""
    for profile in connection.profiles.all():
        errors = _input_path_errors(profile, connection)
        if errors:
            field, message = next(iter(errors.items()))
            place = PROFILE_PLACES[field]
            raise ValidationError(
                {"allow_navigation": f"Profile {profile.code}'s {place}: {message}"}
            )


# Writes ---------------------------------------------------------------------------------------

# What the scheduler reads of a profile: a change here (and only here) moves
# `schedule_changed_at`, after which no earlier slot fires.
SCHEDULE_STATE_FIELDS = (
    "import_active",
    "import_schedule",
    "import_cron",
    "sync_active",
    "sync_schedule",
    "sync_cron",
)


def _schedule_state(profile: IntegrationProfile) -> tuple[Any, ...] | None:
    """The profile's schedule fields as saved; None for a profile not saved yet."""
    if profile.pk is None:
        return None
    return tuple(getattr(profile, field) for field in SCHEDULE_STATE_FIELDS)


def _schedule_stamp(profile: IntegrationProfile, before: tuple[Any, ...] | None) -> None:
    """Set `schedule_changed_at` (not saved) when the profile is new or its schedule changed."""
    if before is None or before != _schedule_state(profile):
        profile.schedule_changed_at = timezone.now()


@transaction.atomic
def profile_create(
    *, institution: Institution, values: dict[str, Any], actor: str
) -> IntegrationProfile:
    """Create an integration profile of `institution` using one of its connections."""
    profile = IntegrationProfile(institution=institution)
    model_assign(profile, values, actor=actor)
    profile_check(profile)
    _schedule_stamp(profile, None)
    profile.save()
    return profile


@transaction.atomic
def profile_update(
    *, profile: IntegrationProfile, values: dict[str, Any], actor: str
) -> IntegrationProfile:
    """Change the given fields of a profile. Its code is fixed once created, because it is the
    external ID of the users the profile loaded."""
    if "code" in values and values["code"] != profile.code:
        raise ValidationError({"code": "A profile's code cannot be changed."})
    before = _schedule_state(profile)
    ownership_before = profile.sync_ownership
    if model_assign(profile, values, actor=actor):
        profile_check(profile)
        _schedule_stamp(profile, before)
        profile.save()
        _ownership_followed(profile, ownership_before)
    return profile


class ProfileInUse(PatronsyncError):
    """The profile has a job pending or running: it cannot be deleted now."""


# A job's statuses while a worker holds it or is about to (jobs.choices.ACTIVE_STATUSES); the
# profiles app reads its jobs through the reverse relation only, as it may not import jobs.
_ACTIVE_JOB_STATUSES = ("pending", "running")


@transaction.atomic
def profile_delete(*, profile: IntegrationProfile) -> None:
    """Delete a profile with its jobs, their reports and its ledger of received files.

    Refused (ProfileInUse) while one of its jobs is pending or running: the worker would lose
    its job mid-run. The users it loaded stay; their external ID still names its code, so a new
    profile with the same code takes them back. The profile row is locked first so that a job
    created meanwhile waits for the delete (and then finds no profile).
    """
    locked = IntegrationProfile.objects.select_for_update().filter(pk=profile.pk).first()
    if locked is None:
        return
    busy = locked.jobs.filter(status__in=_ACTIVE_JOB_STATUSES).first()  # type: ignore[attr-defined]
    if busy is not None:
        raise ProfileInUse(
            f"Profile {locked.code} cannot be deleted while its job {busy.title} (Process ID "
            f"{busy.process_id}) is {busy.status}; wait for it to end or cancel it first."
        )
    locked.delete()


@dataclass(frozen=True)
class SchedulePreview:
    """A section's schedule as a page shows it: in plain words, its next runs in the
    institution's time zone, or why it cannot run (`error`, for the schedule or cron field)."""

    description: str
    next_runs: tuple[datetime, ...] = ()
    error: str = ""
    error_field: str = ""


def schedule_preview(
    *, schedule: str, cron: str, time_zone: str, after: datetime | None = None, count: int = 3
) -> SchedulePreview:
    """When a schedule (one of Alma's slots, or CRON with `cron`) runs next, for the wizard's
    live preview and the profile page; `after` defaults to now."""
    try:
        schedule_validate(schedule=schedule, cron=cron)
    except ScheduleError as exc:
        return SchedulePreview(description="", error=exc.message, error_field=exc.field)
    runs = schedule_next_runs(
        schedule=schedule,
        cron=cron,
        time_zone=time_zone,
        after=after or timezone.now(),
        count=count,
    )
    description = schedule_description(schedule=schedule, cron=cron)
    return SchedulePreview(description=description, next_runs=tuple(runs))


@transaction.atomic
def connection_change(*, connection: Connection, values: dict[str, Any], actor: str) -> Connection:
    """Change a connection (`connection_update`) and check that the profiles using it still
    keep its rules, e.g. that their input paths stay inside it when navigation is switched off."""
    connection = connection_update(connection=connection, values=values, actor=actor)
    _check_profiles_of(connection)
    return connection


# `patronsync config apply` ----------------------------------------------------------------------


def _error(source: str, where: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: {where}: {message}")


def _fields(
    item: dict[str, Any],
    keys: dict[str, str],
    *,
    source: str,
    where: str,
    model: type[models.Model] = IntegrationProfile,
) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _error(source, where, f"expected a mapping with {', '.join(sorted(keys))}")
    unknown = set(item) - set(keys)
    if unknown:
        raise _error(source, where, f"unknown key(s) {', '.join(sorted(unknown))}; "
                     f"expected {', '.join(sorted(keys))}")  # fmt: skip
    values = {keys[key]: value for key, value in item.items()}
    for field, allowed in CHOICES.items():
        if field in values and values[field] not in allowed:
            expected = ", ".join(allowed)
            raise _error(source, where, f"{field} is {values[field]!r}; expected one of {expected}")
    for field in XSD_FIELDS:
        # `xsd_version: 2` in YAML is a number; the profile stores the text "2".
        if isinstance(values.get(field), int) and not isinstance(values[field], bool):
            values[field] = str(values[field])
    if isinstance(values.get("subscribers"), list):  # `subscribers: [a@b.edu]`: one per line
        values["subscribers"] = "\n".join(str(address) for address in values["subscribers"])
    fields = {key: field for key, field in keys.items() if key in item}
    for key, field in fields.items():
        problem = _type_problem(model, field, values[field])
        if problem:
            raise _error(source, f"{where}.{key}", problem)
    return values


def _type_problem(model: type[models.Model], name: str, value: Any) -> str | None:
    """Why `value` cannot go in `model`'s field `name`: a whole number for an integer field (not
    22.5, not true, which the database would store as 22 and 1), text for a text field."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if isinstance(field, models.IntegerField):
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return None
        return f"{value!r}; expected a whole number, such as 22"
    if isinstance(field, models.CharField | models.TextField) and not isinstance(value, str):
        if value is None:
            return 'empty; expected text (write "" for none)'
        return f'{value!r}; expected text (in quotes, such as "{value}")'
    return None


def _nul_problem(value: Any, *, place: str) -> str | None:
    """The place of the first text in a configuration document holding a NUL character, which
    no file name, server or field can hold (PostgreSQL refuses it)."""
    if isinstance(value, str):
        return place if "\0" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = ((f"{place}.{key}" if place else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{place}[{index}]", item) for index, item in enumerate(value))
    for item_place, item in items:
        found = _nul_problem(item, place=item_place)
        if found:
            return found
    return None


def _details(exc: ValidationError, *, where: str, places: dict[str, str]) -> tuple[str, str]:
    """A ValidationError's place (`profiles[0].synchronize.match_id_type` when it concerns one
    field) and its messages."""
    messages = exc.message_dict
    if len(messages) == 1:
        field, texts = next(iter(messages.items()))
        if field in places:
            return f"{where}.{places[field]}", " ".join(texts)
    return where, "; ".join(f"{places.get(k, k)}: {' '.join(v)}" for k, v in messages.items())


def _save(
    obj: Any,
    values: dict[str, Any],
    *,
    source: str,
    where: str,
    actor: str,
    places: dict[str, str],
    check: Callable[[Any], None] | None = None,
) -> str:
    """Set `values` on `obj`, check it and save it if anything changed; say what happened."""
    is_new = obj.pk is None
    try:
        changed = model_assign(obj, values, actor=actor)
        if changed and check is not None:
            check(obj)
    except ValidationError as exc:
        raise _error(source, *_details(exc, where=where, places=places)) from None
    if not changed:
        return "unchanged"
    obj.save()
    return "created" if is_new else "updated"


def _apply_code_tables(*, institution: Institution, tables: Any, source: str) -> list[str]:
    """Declare the document's code-table rows (see docs/configuration-file.md)."""
    example = "e.g. UserGroups: [{code: GRADSTUD, description: Graduate student}]"
    if not isinstance(tables, dict):
        raise _error(source, "code_tables", f"expected a mapping of code tables to rows, {example}")
    lines = []
    for table, rows in tables.items():
        where = f"code_tables.{table}"
        if table not in CodeTableName.values:
            expected = ", ".join(CodeTableName.values)
            raise _error(source, where, f"unknown code table {table!r}; expected one of {expected}")
        if not isinstance(rows, list):
            raise _error(source, where, f"expected a list of rows, {example}")
        seen: dict[str, int] = {}
        default_at: int | None = None
        for index, row in enumerate(rows):
            place = f"{where}[{index}]"
            code, values = _code_table_row(row, source=source, place=place)
            if code in seen:
                also = f"{where}[{seen[code]}]"
                raise _error(source, f"{place}.code", f"{code!r} is declared twice; also at {also}")
            seen[code] = index
            if values.get("default"):
                if default_at is not None:
                    raise _error(
                        source,
                        f"{place}.default",
                        f"a code table has one default row; {where}[{default_at}] is default too",
                    )
                default_at = index
            try:
                outcome = code_table_entry_declare(
                    institution=institution, table=table, code=code, values=values
                )
            except ValidationError as exc:
                places = {"description": "description", "code": "code"}
                raise _error(source, *_details(exc, where=place, places=places)) from None
            lines.append(f"code table {table} {code}: {outcome}")
    return lines


def _code_table_row(row: Any, *, source: str, place: str) -> tuple[str, dict[str, Any]]:
    """A row's code and its other values, each checked for its type."""
    expected = ", ".join(CODE_TABLE_ROW_KEYS)
    if not isinstance(row, dict):
        raise _error(source, place, f"expected a mapping with {expected}, e.g. {{code: GRADSTUD}}")
    unknown = set(row) - set(CODE_TABLE_ROW_KEYS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise _error(source, place, f"unknown key(s) {names}; expected {expected}")
    code = row.get("code")
    if code is None or code == "":
        raise _error(source, f"{place}.code", "missing: every row needs a code")
    if not isinstance(code, str):
        raise _error(
            source,
            f"{place}.code",
            f'{code!r} is not text; write the code in quotes, e.g. code: "{code}"',
        )
    values = {key: row[key] for key in CODE_TABLE_ROW_KEYS[1:] if key in row}
    if "description" in values and not isinstance(values["description"], str):
        raise _error(source, f"{place}.description", "expected text")
    for key in ("default", "enabled"):
        if key in values and not isinstance(values[key], bool):
            raise _error(source, f"{place}.{key}", f"{values[key]!r}; expected true or false")
    return code, values


def _apply_allowed_connections(
    *, institution: Institution, rows: Any, source: str, actor: str
) -> list[str]:
    """Declare the rows of the Allowed S/FTP Connections table, by host (compared case-
    insensitively, without a trailing dot). Rows the file leaves out stay as they are."""
    example = "e.g. [{host: sftp.example.edu, description: Campus S/FTP, enabled: true}]"
    if not isinstance(rows, list):
        raise _error(source, "allowed_connections", f"expected a list of rows, {example}")
    expected = ", ".join(ALLOWED_CONNECTION_KEYS)
    seen: dict[str, int] = {}
    lines = []
    for index, row in enumerate(rows):
        place = f"allowed_connections[{index}]"
        if not isinstance(row, dict):
            raise _error(source, place, f"expected a mapping with {expected}, {example}")
        unknown = set(row) - set(ALLOWED_CONNECTION_KEYS)
        if unknown:
            names = ", ".join(sorted(unknown))
            raise _error(source, place, f"unknown key(s) {names}; expected {expected}")
        host = row.get("host")
        if not isinstance(host, str) or not host.strip():
            raise _error(source, f"{place}.host", "missing: every row needs a host name or IP")
        normal = host_normalize(host)
        if normal in seen:
            also = f"allowed_connections[{seen[normal]}]"
            raise _error(source, f"{place}.host", f"{normal!r} is declared twice; also at {also}")
        seen[normal] = index
        values = {key: row[key] for key in ALLOWED_CONNECTION_KEYS[1:] if key in row}
        if "description" in values and not isinstance(values["description"], str):
            raise _error(source, f"{place}.description", "expected text")
        if "enabled" in values and not isinstance(values["enabled"], bool):
            enabled = values["enabled"]
            raise _error(source, f"{place}.enabled", f"{enabled!r}; expected true or false")
        try:
            _, outcome = allowed_connection_declare(
                institution=institution, host=host, values=values, actor=actor
            )
        except ValidationError as exc:
            places = {key: key for key in ALLOWED_CONNECTION_KEYS}
            raise _error(source, *_details(exc, where=place, places=places)) from None
        lines.append(f"allowed connection {normal}: {outcome}")
    return lines


@transaction.atomic
def config_apply(
    *, institution: Institution, document: dict[str, Any], source: str = "config", actor: str = ""
) -> list[str]:
    """Declare the document's code-table rows, allowed S/FTP connections, connections and
    profiles, in that order (a profile may match on an identifier type the same document adds,
    a connection use a server it allows); one line per object.

    All or nothing: an error anywhere leaves the configuration as it was.
    """
    if not isinstance(document, dict):
        raise _error(source, "top level", f"expected a mapping with {', '.join(TOP_LEVEL_KEYS)}")
    unknown = set(document) - set(TOP_LEVEL_KEYS)
    if unknown:
        raise _error(source, "top level", f"unknown key(s) {', '.join(sorted(unknown))}; "
                     f"expected {', '.join(TOP_LEVEL_KEYS)}")  # fmt: skip
    nul = _nul_problem(document, place="")
    if nul:
        raise _error(source, nul, "holds a NUL character (\\0); remove it")
    lines = []
    if document.get("code_tables") is not None:
        lines += _apply_code_tables(
            institution=institution, tables=document["code_tables"], source=source
        )
    if document.get("allowed_connections") is not None:
        lines += _apply_allowed_connections(
            institution=institution,
            rows=document["allowed_connections"],
            source=source,
            actor=actor,
        )
    changed_connections: dict[int, str] = {}
    connection_places = {field: key for key, field in CONNECTION_KEYS.items() if key != "path"}
    connection_places["sub_directory"] = "path"
    for index, item in enumerate(document.get("connections") or []):
        where = f"connections[{index}]"
        if not isinstance(item, dict) or not item.get("name"):
            raise _error(source, where, "each connection needs a name")
        values = _fields(item, CONNECTION_KEYS, source=source, where=where, model=Connection)
        values.setdefault("transport", TransportType.LOCAL)
        try:
            declared_connection, outcome = connection_declare(
                institution=institution, name=item["name"], values=values, actor=actor
            )
        except ValidationError as exc:
            raise _error(source, *_details(exc, where=where, places=connection_places)) from None
        if outcome != "unchanged":
            changed_connections[declared_connection.pk] = where
        lines.append(f"connection {item['name']}: {outcome}")
    declared: set[int] = set()
    for index, item in enumerate(document.get("profiles") or []):
        where = f"profiles[{index}]"
        if not isinstance(item, dict) or not item.get("code"):
            raise _error(source, where, "each profile needs a code")
        item = dict(item)
        sections = {name: item.pop(name, None) or {} for name in SECTION_KEYS}
        purge = item.pop("purge", None)
        connection_name = item.pop("connection", None)
        connection = Connection.objects.filter(
            institution=institution, name=connection_name
        ).first()
        if connection is None:
            raise _error(source, where, f"connection {connection_name!r} is not defined")
        values = _fields(item, PROFILE_KEYS, source=source, where=where)
        for section, section_values in sections.items():
            values.update(
                _fields(
                    section_values, SECTION_KEYS[section], source=source, where=f"{where}.{section}"
                )
            )
        _match_keys_settings(values, source=source, where=where)
        _leavers_settings(values, source=source, where=where)
        _purge_settings(values, purge, institution=institution, source=source, where=where)
        _ownership_settings(values, source=source, where=where)
        values.setdefault("sync_match_id_type", PRIMARY_ID_MATCH)
        values["connection"] = connection
        profile = IntegrationProfile.objects.filter(
            institution=institution, code=item["code"]
        ).first()
        profile = profile or IntegrationProfile(institution=institution)
        if connection.pk in changed_connections:
            profile.connection = connection  # so an unchanged profile is checked against it
        schedule_before = _schedule_state(profile)
        ownership_before = profile.sync_ownership if profile.pk is not None else None
        outcome = _save(
            profile,
            values,
            source=source,
            where=where,
            actor=actor,
            places=PROFILE_PLACES,
            check=profile_check,
        )
        if outcome != "unchanged":
            _ownership_followed(profile, ownership_before)
            _schedule_stamp(profile, schedule_before)
            if profile.schedule_changed_at is not None:
                IntegrationProfile.objects.filter(pk=profile.pk).update(
                    schedule_changed_at=profile.schedule_changed_at
                )
        if outcome == "unchanged" and connection.pk in changed_connections:
            try:
                profile_check(profile)
            except ValidationError as exc:
                raise _error(source, *_details(exc, where=where, places=PROFILE_PLACES)) from None
        declared.add(profile.pk)
        lines.append(f"profile {item['code']}: {outcome}")
    for pk, where in changed_connections.items():
        # Profiles the document does not declare, on a connection it changed.
        connection = Connection.objects.get(pk=pk)
        try:
            _check_profiles_of(connection)
        except ValidationError as exc:
            raise _error(source, *_details(exc, where=where, places=connection_places)) from None
    return lines


def config_apply_file(*, institution: Institution, path: Path, actor: str = "") -> list[str]:
    """Read a YAML configuration file and apply it (see `config_apply`)."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise ConfigurationError(f"{path}: {line}not valid YAML: {exc}") from None
    return config_apply(
        institution=institution, document=document or {}, source=str(path), actor=actor
    )
