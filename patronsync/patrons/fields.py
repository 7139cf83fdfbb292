"""The shape of an Alma user as the store keeps it: core fields, segments, protected fields.

Everything the store exchanges with the outside (codec, sync engine, APIs, pages) is the user's
Alma JSON form (SPEC §5.4): `{"primary_id": "...", "user_group": {"value": "GRAD"}, ...,
"contact_info": {"address": [...], "email": [...], "phone": [...]}, "user_identifier": [...]}`.
This module says which keys are columns, which are JSON segment lists, and how each is typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from patronsync.core.choices import CodeTableName as T

from .limits import MAX_LENGTH


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one core field is typed: str, code (with its code table), date or bool."""

    kind: str
    table: str | None = None
    max_length: int = MAX_LENGTH


CORE_FIELDS: dict[str, FieldSpec] = {
    "record_type": FieldSpec("code", T.RECORD_TYPES),
    "primary_id": FieldSpec("str"),
    "first_name": FieldSpec("str"),
    "middle_name": FieldSpec("str"),
    "last_name": FieldSpec("str"),
    "pin_number": FieldSpec("secret"),
    "user_title": FieldSpec("code", T.TITLES),
    "job_category": FieldSpec("code", T.JOB_CATEGORIES),
    "job_description": FieldSpec("str"),
    "gender": FieldSpec("code", T.GENDERS),
    "user_group": FieldSpec("code", T.USER_GROUPS),
    "campus_code": FieldSpec("code", T.CAMPUSES),
    "web_site_url": FieldSpec("str"),
    "cataloger_level": FieldSpec("code", T.CATALOGER_LEVELS),
    "preferred_language": FieldSpec("code", T.LANGUAGES),
    "birth_date": FieldSpec("date"),
    "expiry_date": FieldSpec("date"),
    "purge_date": FieldSpec("date"),
    "account_type": FieldSpec("code", T.ACCOUNT_TYPES),
    "external_id": FieldSpec("str"),
    "password": FieldSpec("secret"),
    "force_password_change": FieldSpec("str", max_length=4),
    "status": FieldSpec("code", T.STATUSES),
    "status_date": FieldSpec("date"),
    "pref_first_name": FieldSpec("str"),
    "pref_middle_name": FieldSpec("str"),
    "pref_last_name": FieldSpec("str"),
    "pref_name_suffix": FieldSpec("str"),
    "is_researcher": FieldSpec("bool"),
}

# Segment lists kept in the `segments` JSON column, by their Alma JSON key. Addresses, emails
# and phones sit under `contact_info` in the JSON form; identifiers have a table of their own.
CONTACT_SEGMENTS = ("address", "email", "phone")
OTHER_SEGMENTS = (
    "user_note",
    "user_block",
    "user_statistic",
    "user_role",
    "rs_library",
    "library_notice",
)
SEGMENT_KEYS = CONTACT_SEGMENTS + OTHER_SEGMENTS
# Segments that carry segment_type (Internal or External); the others belong to the user.
TYPED_SEGMENTS = ("address", "email", "phone", "user_note", "user_block", "user_statistic")

# Alma's protected fields (SPEC §3.3 and the API's `override` list): a synchronize keeps the
# library's value when staff changed it or when the feed leaves it empty.
PROTECTED_FIELDS = (
    "user_group",
    "job_category",
    "pin_number",
    "preferred_language",
    "campus_code",
    "rs_libraries",
    "user_title",
    "library_notices",
    "pref_first_name",
    "pref_middle_name",
    "pref_last_name",
    "cataloger_level",
)
# Protected fields that are segment lists, mapped to their JSON key.
PROTECTED_SEGMENT_KEYS = {"rs_libraries": "rs_library", "library_notices": "library_notice"}

# What a profile's field ownership (`IntegrationProfile.sync_ownership`) may name: the core
# fields a feed sets, the protected segment lists (by their XML names), the typed segment types
# and the researcher data. The primary ID and identifiers match and claim users, so they stay
# with the SIS (staff add Internal identifiers, which Swap All keeps); record type, account type
# and external ID come from the profile; passwords and output-only fields are never fed.
OWNABLE_FIELDS = (
    tuple(
        name
        for name in CORE_FIELDS
        if name
        not in {
            "primary_id",
            "record_type",
            "account_type",
            "external_id",
            "password",
            "force_password_change",
            "status_date",
        }
    )
    + tuple(PROTECTED_SEGMENT_KEYS)
    + TYPED_SEGMENTS
    + ("researcher",)
)
# What ownership may not name: the user's identifiers, which stay with the SIS.
IDENTIFIER_FIELDS = ("primary_id", "user_identifier", "user_identifiers")
# The owners a field may have (profiles.choices.FieldOwner has their labels).
OWNER_SIS = "sis"
OWNER_LIBRARY = "library"
OWNER_PRESERVE_IF_EMPTY = "preserve_if_empty"
FIELD_OWNERS = (OWNER_SIS, OWNER_LIBRARY, OWNER_PRESERVE_IF_EMPTY)

# Code fields inside segments, checked against the institution's code tables.
SEGMENT_CODES: dict[str, dict[str, str]] = {
    "address": {"country": T.COUNTRIES, "address_type": T.ADDRESS_TYPES},
    "email": {"email_type": T.EMAIL_TYPES},
    "phone": {"phone_type": T.PHONE_TYPES},
    "user_identifier": {"id_type": T.IDENTIFIER_TYPES},
    "user_note": {"note_type": T.NOTE_TYPES},
    "user_block": {"block_type": T.BLOCK_TYPES, "block_description": T.BLOCK_DESCRIPTIONS},
    "user_statistic": {"statistic_category": T.STATISTIC_CATEGORIES},
}
# Fields a segment cannot do without (Alma: 401664 "Mandatory field is missing").
SEGMENT_REQUIRED: dict[str, tuple[str, ...]] = {
    "email": ("email_address",),
    "phone": ("phone_number",),
    "user_identifier": ("id_type", "value"),
    "user_note": ("note_type",),
    "user_block": ("block_description",),
    "user_statistic": ("statistic_category",),
}

# The identifier-table marker for the primary ID, which shares the identifiers' uniqueness.
PRIMARY_ID_TYPE = "primary_id"
