"""Typed in-memory model of an Alma user (rest_user.xsd, "User XSD Version V.2")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(slots=True)
class Code:
    """A code-table value with its optional ``desc`` attribute (``<gender desc="Male">MALE``)."""

    value: str
    desc: str | None = None


@dataclass(slots=True)
class Count:
    """An output counter with its link (``<loans link="...">3</loans>``).

    `value` keeps the number's lexical form so that it round-trips exactly.
    """

    value: str
    link: str | None = None


@dataclass(slots=True)
class Address:
    """A postal address (``contact_info/addresses/address``)."""

    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    line4: str | None = None
    line5: str | None = None
    city: str | None = None
    state_province: str | None = None
    postal_code: str | None = None
    country: Code | None = None
    address_note: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    address_types: list[Code] = field(default_factory=list)
    preferred: bool = False
    segment_type: str | None = None


@dataclass(slots=True)
class Email:
    """An email address (``contact_info/emails/email``)."""

    email_address: str | None = None
    description: str | None = None
    email_types: list[Code] = field(default_factory=list)
    preferred: bool = False
    segment_type: str | None = None


@dataclass(slots=True)
class Phone:
    """A phone number (``contact_info/phones/phone``)."""

    phone_number: str | None = None
    phone_types: list[Code] = field(default_factory=list)
    preferred: bool = False
    preferred_sms: bool = False
    segment_type: str | None = None


@dataclass(slots=True)
class Identifier:
    """An additional identifier (``user_identifiers/user_identifier``), e.g. a barcode."""

    id_type: Code | None = None
    value: str | None = None
    note: str | None = None
    status: str | None = None
    segment_type: str | None = None


@dataclass(slots=True)
class Note:
    """A note on the user (``user_notes/user_note``). Dates-times keep their lexical form."""

    note_type: Code | None = None
    note_text: str | None = None
    user_viewable: bool | None = None
    popup_note: bool | None = None
    created_by: str | None = None
    created_date: str | None = None
    segment_type: str | None = None


@dataclass(slots=True)
class Block:
    """A block on the user (``user_blocks/user_block``). Dates-times keep their lexical form."""

    block_type: Code | None = None
    block_description: Code | None = None
    block_status: str | None = None
    block_note: str | None = None
    created_by: str | None = None
    created_date: str | None = None
    expiry_date: str | None = None
    item_loan_id: str | None = None
    segment_type: str | None = None


@dataclass(slots=True)
class Statistic:
    """A statistical category (``user_statistics/user_statistic``)."""

    statistic_category: Code | None = None
    category_type: Code | None = None
    statistic_note: str | None = None
    segment_type: str | None = None


@dataclass(slots=True)
class RoleParameter:
    """A parameter of a role (``parameters/parameter``)."""

    type: Code | None = None
    scope: Code | None = None
    value: Code | None = None


@dataclass(slots=True)
class Role:
    """A staff role (``user_roles/user_role``); Alma ignores roles in SIS loads."""

    status: Code | None = None
    scope: Code | None = None
    role_type: Code | None = None
    expiry_date: date | None = None
    parameters: list[RoleParameter] = field(default_factory=list)


@dataclass(slots=True)
class RsLibrary:
    """A resource-sharing library (``rs_libraries/rs_library``)."""

    code: Code | None = None


@dataclass(slots=True)
class LibraryNotice:
    """A notice opt-in (``library_notices/library_notice``)."""

    code: Code | None = None
    value: bool | None = None


@dataclass(slots=True)
class ProxyForUser:
    """A user this user is a proxy for (``proxy_for_users/proxy_for_user``); output only."""

    primary_id: str | None = None
    full_name: str | None = None
    link: str | None = None


@dataclass(slots=True)
class User:
    """An Alma user: every element and attribute of the XSD's ``user`` type.

    Absent and empty elements are ``None`` (or an empty list). `researcher` keeps the
    ``<researcher>`` element as the XML text it came as, so that it round-trips unchanged.
    The contact segments are flattened: `addresses`, `emails` and `phones` are the children of
    ``contact_info``.
    """

    record_type: Code | None = None
    primary_id: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    pin_number: str | None = None
    user_title: Code | None = None
    job_category: Code | None = None
    job_description: str | None = None
    gender: Code | None = None
    user_group: Code | None = None
    campus_code: Code | None = None
    web_site_url: str | None = None
    cataloger_level: Code | None = None
    preferred_language: Code | None = None
    birth_date: date | None = None
    expiry_date: date | None = None
    purge_date: date | None = None
    account_type: Code | None = None
    external_id: str | None = None
    password: str | None = None
    force_password_change: str | None = None
    status: Code | None = None
    status_date: date | None = None
    last_patron_activity_date: date | None = None
    requests: Count | None = None
    loans: Count | None = None
    fees: Count | None = None
    addresses: list[Address] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    user_identifiers: list[Identifier] = field(default_factory=list)
    user_roles: list[Role] = field(default_factory=list)
    user_blocks: list[Block] = field(default_factory=list)
    user_notes: list[Note] = field(default_factory=list)
    user_statistics: list[Statistic] = field(default_factory=list)
    proxy_for_users: list[ProxyForUser] = field(default_factory=list)
    rs_libraries: list[RsLibrary] = field(default_factory=list)
    library_notices: list[LibraryNotice] = field(default_factory=list)
    source_link_id: str | None = None
    source_institution_code: str | None = None
    linking_id: str | None = None
    pref_first_name: str | None = None
    pref_middle_name: str | None = None
    pref_last_name: str | None = None
    pref_name_suffix: str | None = None
    is_researcher: bool | None = None
    researcher: str | None = None
    link: str | None = None

    def is_identifiable(self) -> bool:
        """True when the user carries a primary ID, an identifier or a name to match on."""
        return bool(
            self.primary_id
            or any(i.value for i in self.user_identifiers)
            or self.first_name
            or self.last_name
        )
