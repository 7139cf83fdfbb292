"""Writes on connections and integration profiles, including `patronsync config apply`.

A configuration document (YAML) declares connections and profiles; applying it creates or updates
them by name and code, so applying the same file twice changes nothing.
See docs/configuration-file.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from patronsync.connections.choices import TransportType
from patronsync.connections.models import Connection
from patronsync.core.exceptions import ConfigurationError
from patronsync.core.models import Institution
from patronsync.core.services import model_assign

from .choices import PRIMARY_ID_MATCH, RecordType, Schedule, UnmatchedAction
from .models import IntegrationProfile

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
}
SECTION_KEYS = {
    "import": {
        "active": "import_active",
        "record_type": "import_record_type",
        "input_path": "import_input_path",
        "xsd_version": "import_xsd_version",
    },
    "synchronize": {
        "active": "sync_active",
        "record_type": "sync_record_type",
        "match_id_type": "sync_match_id_type",
        "synchronization_type": "sync_type",
        "unmatched": "sync_unmatched",
        "input_path": "sync_input_path",
        "schedule": "sync_schedule",
        "xsd_version": "sync_xsd_version",
    },
}
CHOICES = {
    "import_record_type": RecordType.values,
    "sync_record_type": RecordType.values,
    "sync_unmatched": UnmatchedAction.values,
    "sync_schedule": Schedule.values,
    "transport": TransportType.values,
}


def _error(source: str, where: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: {where}: {message}")


def _fields(
    item: dict[str, Any], keys: dict[str, str], *, source: str, where: str
) -> dict[str, Any]:
    unknown = set(item) - set(keys)
    if unknown:
        raise _error(source, where, f"unknown key(s) {', '.join(sorted(unknown))}; "
                     f"expected {', '.join(sorted(keys))}")  # fmt: skip
    values = {keys[key]: value for key, value in item.items()}
    for field, allowed in CHOICES.items():
        if field in values and values[field] not in allowed:
            expected = ", ".join(allowed)
            raise _error(source, where, f"{field} is {values[field]!r}; expected one of {expected}")
    return values


def _save(obj: Any, values: dict[str, Any], *, source: str, where: str, actor: str) -> str:
    """Set `values` on `obj` and save it if anything changed; say what happened."""
    is_new = obj.pk is None
    try:
        changed = model_assign(obj, values, actor=actor)
    except ValidationError as exc:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise _error(source, where, details) from None
    if not changed:
        return "unchanged"
    obj.save()
    return "created" if is_new else "updated"


@transaction.atomic
def config_apply(
    *, institution: Institution, document: dict[str, Any], source: str = "config", actor: str = ""
) -> list[str]:
    """Create or update the document's connections and profiles; returns one line per object.

    All or nothing: an error anywhere leaves the configuration as it was.
    """
    if not isinstance(document, dict):
        raise _error(source, "top level", "expected a mapping with 'connections' and 'profiles'")
    unknown = set(document) - {"connections", "profiles"}
    if unknown:
        raise _error(source, "top level", f"unknown key(s) {', '.join(sorted(unknown))}")
    lines = []
    for index, item in enumerate(document.get("connections") or []):
        where = f"connections[{index}]"
        if not isinstance(item, dict) or not item.get("name"):
            raise _error(source, where, "each connection needs a name")
        values = _fields(item, CONNECTION_KEYS, source=source, where=where)
        values.setdefault("transport", TransportType.LOCAL)
        connection = Connection.objects.filter(institution=institution, name=item["name"]).first()
        connection = connection or Connection(institution=institution)
        outcome = _save(connection, values, source=source, where=where, actor=actor)
        lines.append(f"connection {item['name']}: {outcome}")
    for index, item in enumerate(document.get("profiles") or []):
        where = f"profiles[{index}]"
        if not isinstance(item, dict) or not item.get("code"):
            raise _error(source, where, "each profile needs a code")
        item = dict(item)
        sections = {name: item.pop(name, None) or {} for name in SECTION_KEYS}
        connection_name = item.pop("connection", None)
        connection = Connection.objects.filter(
            institution=institution, name=connection_name
        ).first()
        if connection is None:
            raise _error(source, where, f"connection {connection_name!r} is not defined")
        values = _fields(
            item,
            {"code": "code", "name": "name", "description": "description", "system": "system"},
            source=source,
            where=where,
        )
        for section, section_values in sections.items():
            values.update(
                _fields(
                    section_values, SECTION_KEYS[section], source=source, where=f"{where}.{section}"
                )
            )
        values.setdefault("sync_match_id_type", PRIMARY_ID_MATCH)
        values["connection"] = connection
        profile = IntegrationProfile.objects.filter(
            institution=institution, code=item["code"]
        ).first()
        profile = profile or IntegrationProfile(institution=institution)
        outcome = _save(profile, values, source=source, where=where, actor=actor)
        lines.append(f"profile {item['code']}: {outcome}")
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


def _check_connection(profile: IntegrationProfile) -> None:
    if profile.connection.institution_id != profile.institution_id:
        raise ValidationError({"connection": "The connection belongs to another institution."})


@transaction.atomic
def profile_create(
    *, institution: Institution, values: dict[str, Any], actor: str
) -> IntegrationProfile:
    """Create an integration profile of `institution` using one of its connections."""
    profile = IntegrationProfile(institution=institution)
    model_assign(profile, values, actor=actor)
    _check_connection(profile)
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
    if model_assign(profile, values, actor=actor):
        _check_connection(profile)
        profile.save()
    return profile
