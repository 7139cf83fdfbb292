"""The codec's field table: which element or attribute maps to which model field, and how.

One table drives the XML reader, the XML writer, the JSON form and the content hash, so the four
cannot drift apart. Children are listed in the XSD's order: the writer emits them in this order,
which the XSD requires where it declares a sequence (``contact_info``) and Alma uses elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from patronsync.almaxml import model as m


class Kind(Enum):
    """How one field is written in XML and held in the model."""

    TEXT = "text"  # trimmed string
    CODE = "code"  # Code: text + @desc
    DATE = "date"  # datetime.date from xs:date
    DATETIME = "datetime"  # xs:dateTime kept as its trimmed lexical form
    BOOL = "bool"  # xs:boolean
    COUNT = "count"  # Count: number + @link
    CODES = "codes"  # list[Code] in a wrapper (address_types/address_type)
    LIST = "list"  # list of segments in a wrapper (user_identifiers/user_identifier)
    GROUP = "group"  # a wrapper whose lists live on the parent (contact_info)
    RAW = "raw"  # element kept as XML text (researcher)


@dataclass(frozen=True, slots=True)
class Field:
    """One child element of a model class.

    `item` is the element name of a list's items, which is also the JSON key of the list.
    `always` makes the writer emit the element even when empty (the XSD requires the wrapper).
    """

    name: str
    kind: Kind
    item: str | None = None
    spec: Spec | None = None
    always: bool = False


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of a model class: a string or a boolean (with the XSD's default)."""

    name: str
    is_bool: bool = False


@dataclass(slots=True)
class Spec:
    """A model class with its child elements (in XSD order) and attributes."""

    cls: type[Any]
    fields: tuple[Field, ...]
    attrs: tuple[Attr, ...] = ()
    by_name: dict[str, Field] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}


T, C, D, DT, B = Kind.TEXT, Kind.CODE, Kind.DATE, Kind.DATETIME, Kind.BOOL
SEGMENT_TYPE = Attr("segment_type")
PREFERRED = Attr("preferred", is_bool=True)


def _fields(*pairs: tuple[str, Kind]) -> tuple[Field, ...]:
    return tuple(Field(name, kind) for name, kind in pairs)


def _codes(wrapper: str, item: str) -> Field:
    return Field(wrapper, Kind.CODES, item=item, always=True)


def _list(wrapper: str, item: str, spec: Spec) -> Field:
    return Field(wrapper, Kind.LIST, item=item, spec=spec)


ADDRESS = Spec(
    m.Address,
    (
        *_fields(("line1", T), ("line2", T), ("line3", T), ("line4", T), ("line5", T)),
        *_fields(("city", T), ("state_province", T), ("postal_code", T), ("country", C)),
        *_fields(("address_note", T), ("start_date", D), ("end_date", D)),
        _codes("address_types", "address_type"),
    ),
    (PREFERRED, SEGMENT_TYPE),
)
EMAIL = Spec(
    m.Email,
    (*_fields(("email_address", T), ("description", T)), _codes("email_types", "email_type")),
    (PREFERRED, SEGMENT_TYPE),
)
PHONE = Spec(
    m.Phone,
    (Field("phone_number", T), _codes("phone_types", "phone_type")),
    (PREFERRED, Attr("preferred_sms", is_bool=True), SEGMENT_TYPE),
)
CONTACT_INFO = Spec(
    dict,
    (
        _list("addresses", "address", ADDRESS),
        _list("emails", "email", EMAIL),
        _list("phones", "phone", PHONE),
    ),
)
IDENTIFIER = Spec(
    m.Identifier,
    _fields(("id_type", C), ("value", T), ("note", T), ("status", T)),
    (SEGMENT_TYPE,),
)
PARAMETER = Spec(m.RoleParameter, _fields(("type", C), ("scope", C), ("value", C)))
ROLE = Spec(
    m.Role,
    (
        *_fields(("status", C), ("scope", C), ("role_type", C), ("expiry_date", D)),
        _list("parameters", "parameter", PARAMETER),
    ),
)
BLOCK = Spec(
    m.Block,
    _fields(
        ("block_type", C),
        ("block_description", C),
        ("block_status", T),
        ("block_note", T),
        ("created_by", T),
        ("created_date", DT),
        ("expiry_date", DT),
        ("item_loan_id", T),
    ),
    (SEGMENT_TYPE,),
)
NOTE = Spec(
    m.Note,
    _fields(
        ("note_type", C),
        ("note_text", T),
        ("user_viewable", B),
        ("popup_note", B),
        ("created_by", T),
        ("created_date", DT),
    ),
    (SEGMENT_TYPE,),
)
STATISTIC = Spec(
    m.Statistic,
    _fields(("statistic_category", C), ("category_type", C), ("statistic_note", T)),
    (SEGMENT_TYPE,),
)
PROXY = Spec(m.ProxyForUser, _fields(("primary_id", T), ("full_name", T)), (Attr("link"),))
RS_LIBRARY = Spec(m.RsLibrary, (Field("code", C),))
LIBRARY_NOTICE = Spec(m.LibraryNotice, _fields(("code", C), ("value", B)))

USER = Spec(
    m.User,
    (
        *_fields(
            ("record_type", C),
            ("primary_id", T),
            ("first_name", T),
            ("middle_name", T),
            ("last_name", T),
            ("full_name", T),
            ("pin_number", T),
            ("user_title", C),
            ("job_category", C),
            ("job_description", T),
            ("gender", C),
            ("user_group", C),
            ("campus_code", C),
            ("web_site_url", T),
            ("cataloger_level", C),
            ("preferred_language", C),
            ("birth_date", D),
            ("expiry_date", D),
            ("purge_date", D),
            ("account_type", C),
            ("external_id", T),
            ("password", T),
            ("force_password_change", T),
            ("status", C),
            ("status_date", D),
            ("last_patron_activity_date", D),
            ("requests", Kind.COUNT),
            ("loans", Kind.COUNT),
            ("fees", Kind.COUNT),
        ),
        Field("contact_info", Kind.GROUP, spec=CONTACT_INFO),
        _list("user_identifiers", "user_identifier", IDENTIFIER),
        _list("user_roles", "user_role", ROLE),
        _list("user_blocks", "user_block", BLOCK),
        _list("user_notes", "user_note", NOTE),
        _list("user_statistics", "user_statistic", STATISTIC),
        _list("proxy_for_users", "proxy_for_user", PROXY),
        _list("rs_libraries", "rs_library", RS_LIBRARY),
        _list("library_notices", "library_notice", LIBRARY_NOTICE),
        *_fields(
            ("source_link_id", T),
            ("source_institution_code", T),
            ("linking_id", T),
            ("pref_first_name", T),
            ("pref_middle_name", T),
            ("pref_last_name", T),
            ("pref_name_suffix", T),
            ("is_researcher", B),
            ("researcher", Kind.RAW),
        ),
    ),
    (Attr("link"),),
)
