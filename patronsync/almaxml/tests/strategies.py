"""Hypothesis strategies for users that cover every element and attribute of the XSD."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from patronsync.almaxml import model as m

text = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co")),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
opt_text = st.none() | text
code = st.builds(m.Code, text, st.none() | text)
opt_code = st.none() | code
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))
opt_date = st.none() | dates
datetimes = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z")
opt_bool = st.none() | st.booleans()
segment_type = st.none() | st.sampled_from(["External", "Internal"])
codes = st.lists(code, max_size=2)
count = st.builds(m.Count, st.integers(0, 999).map(str), st.none() | text)

address = st.builds(
    m.Address, opt_text, opt_text, opt_text, opt_text, opt_text, opt_text, opt_text, opt_text,
    opt_code, opt_text, opt_date, opt_date, codes, st.booleans(), segment_type,
)  # fmt: skip
email = st.builds(m.Email, text, opt_text, codes, st.booleans(), segment_type)
phone = st.builds(m.Phone, text, codes, st.booleans(), st.booleans(), segment_type)
identifier = st.builds(m.Identifier, code, text, opt_text, opt_text, segment_type)
note = st.builds(
    m.Note, code, opt_text, st.booleans(), st.booleans(), opt_text, st.none() | datetimes,
    segment_type,
)  # fmt: skip
block = st.builds(
    m.Block, opt_code, code, opt_text, opt_text, opt_text, st.none() | datetimes,
    st.none() | datetimes, opt_text, segment_type,
)  # fmt: skip
statistic = st.builds(m.Statistic, code, opt_code, opt_text, segment_type)
parameter = st.builds(m.RoleParameter, opt_code, opt_code, opt_code)
role = st.builds(m.Role, opt_code, opt_code, opt_code, opt_date, st.lists(parameter, max_size=2))
researcher = st.none() | text.map(
    lambda t: (
        "<researcher><researcher_first_name>"
        + t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        + "</researcher_first_name></researcher>"
    )
)


def lists(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Short lists, so that examples stay readable."""
    return st.lists(strategy, max_size=2)


USER_FIELDS: dict[str, st.SearchStrategy] = {
    "record_type": opt_code,
    "primary_id": opt_text,
    "first_name": opt_text,
    "middle_name": opt_text,
    "last_name": opt_text,
    "full_name": opt_text,
    "pin_number": opt_text,
    "user_title": opt_code,
    "job_category": opt_code,
    "job_description": opt_text,
    "gender": opt_code,
    "user_group": opt_code,
    "campus_code": opt_code,
    "web_site_url": opt_text,
    "cataloger_level": opt_code,
    "preferred_language": opt_code,
    "birth_date": opt_date,
    "expiry_date": opt_date,
    "purge_date": opt_date,
    "account_type": opt_code,
    "external_id": opt_text,
    "password": opt_text,
    "force_password_change": st.none() | st.sampled_from(["TRUE", "Y"]),
    "status": opt_code,
    "status_date": opt_date,
    "last_patron_activity_date": opt_date,
    "requests": st.none() | count,
    "loans": st.none() | count,
    "fees": st.none() | count,
    "addresses": lists(address),
    "emails": lists(email),
    "phones": lists(phone),
    "user_identifiers": lists(identifier),
    "user_roles": lists(role),
    "user_blocks": lists(block),
    "user_notes": lists(note),
    "user_statistics": lists(statistic),
    "proxy_for_users": lists(st.builds(m.ProxyForUser, opt_text, opt_text, opt_text)),
    "rs_libraries": lists(st.builds(m.RsLibrary, opt_code)),
    "library_notices": lists(st.builds(m.LibraryNotice, opt_code, opt_bool)),
    "source_link_id": opt_text,
    "source_institution_code": opt_text,
    "linking_id": opt_text,
    "pref_first_name": opt_text,
    "pref_middle_name": opt_text,
    "pref_last_name": opt_text,
    "pref_name_suffix": opt_text,
    "is_researcher": opt_bool,
    "researcher": researcher,
    "link": opt_text,
}
users = st.builds(m.User, **USER_FIELDS)
