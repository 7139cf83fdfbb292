"""Alma's standard code-table values (SPEC §1.8), seeded into every new institution.

Institutions change these afterwards as data (Django admin, code-table pages). User groups,
statistic categories and campuses are institution-defined in Alma; the values below are common
starting points that the sample feed also uses.
"""

from __future__ import annotations

from typing import Any

import pycountry

from .choices import CodeTableName as T

# (code, description) pairs; the first entry of a table marked default where Alma has a default.
STANDARD_CODES: dict[str, list[tuple[str, str]]] = {
    T.USER_GROUPS: [
        ("UNDERGRAD", "Undergraduate student"),
        ("GRAD", "Graduate student"),
        ("FACULTY", "Faculty"),
        ("STAFF", "Staff"),
        ("ALUMNI", "Alumni"),
        ("GUEST", "Guest"),
    ],
    T.IDENTIFIER_TYPES: [
        ("BARCODE", "Barcode"),
        ("UNIV_ID", "University ID"),
        ("INST_ID", "Institution ID"),
        ("NET_ID", "Network ID"),
        ("OTHER_ID_2", "Other ID 2"),
        ("PERSONAL_NUMBER", "Personal number"),
        ("EXTERNAL", "External"),
    ],
    T.ADDRESS_TYPES: [
        ("home", "Home"),
        ("work", "Work"),
        ("school", "School"),
        ("alternative", "Alternative"),
    ],
    T.EMAIL_TYPES: [
        ("personal", "Personal"),
        ("work", "Work"),
        ("school", "School"),
        ("alternative", "Alternative"),
    ],
    T.PHONE_TYPES: [
        ("home", "Home"),
        ("office", "Office"),
        ("mobile", "Mobile"),
        ("officeFax", "Office fax"),
    ],
    T.NOTE_TYPES: [
        ("CIRCULATION", "Circulation"),
        ("ERP", "ERP"),
        ("LIBRARY", "Library"),
        ("OTHER", "Other"),
        ("POPUP", "Pop-up"),
        ("REGISTAR", "Registrar"),
    ],
    T.BLOCK_TYPES: [("GENERAL", "General"), ("LOAN", "Loan"), ("USER", "User")],
    T.BLOCK_DESCRIPTIONS: [
        ("CONSORTIA", "Consortia block"),
        ("GLOBAL", "Global block"),
        ("FINE", "Fines owed"),
        ("OVERDUE", "Overdue items"),
    ],
    T.STATISTIC_CATEGORIES: [
        ("ART", "Arts"),
        ("BIO", "Biology"),
        ("BUS", "Business"),
        ("CS", "Computer science"),
        ("ECON", "Economics"),
        ("ENG", "Engineering"),
        ("HIST", "History"),
        ("LAW", "Law"),
        ("MATH", "Mathematics"),
        ("MED", "Medicine"),
        ("PHYS", "Physics"),
        ("SCI", "Science"),
    ],
    T.CAMPUSES: [("MAIN", "Main campus")],
    T.GENDERS: [("MALE", "Male"), ("FEMALE", "Female"), ("OTHER", "Other"), ("NONE", "None")],
    T.TITLES: [
        ("Mr", "Mr."),
        ("Mrs", "Mrs."),
        ("Ms", "Ms."),
        ("Mx", "Mx."),
        ("Dr", "Dr."),
        ("Prof", "Prof."),
    ],
    T.JOB_CATEGORIES: [
        ("STUDENT", "Student"),
        ("ACADEMIC", "Academic staff"),
        ("PROFESSIONAL", "Professional staff"),
        ("LIBRARIAN", "Librarian"),
    ],
    T.RECORD_TYPES: [("PUBLIC", "Public"), ("STAFF", "Staff"), ("CONTACT", "Contact")],
    T.ACCOUNT_TYPES: [("EXTERNAL", "External"), ("INTERNAL", "Internal")],
    T.STATUSES: [("ACTIVE", "Active"), ("INACTIVE", "Inactive")],
    T.CATALOGER_LEVELS: [(f"{n:02d}", f"[{n:02d}] Level {n}") for n in range(0, 100, 10)],
}
STANDARD_CODES[T.CATALOGER_LEVELS][0] = ("00", "[00] Default Level")
STANDARD_CODES[T.COUNTRIES] = sorted((c.alpha_3, c.name) for c in pycountry.countries)
STANDARD_CODES[T.LANGUAGES] = [
    ("en", "English"),
    *sorted(
        (lang.alpha_2, lang.name)
        for lang in pycountry.languages
        if getattr(lang, "alpha_2", None) and lang.alpha_2 != "en"
    ),
]

DEFAULTS: dict[str, str] = {
    T.LANGUAGES: "en",
    T.BLOCK_TYPES: "GENERAL",
    T.STATUSES: "ACTIVE",
    T.CATALOGER_LEVELS: "00",
}


def seed_code_tables(*, entry_model: Any, institution: Any) -> int:
    """Create the standard entries an institution lacks; returns how many were created.

    Takes the model class so that data migrations can pass their historical model.
    """
    existing = set(entry_model.objects.filter(institution=institution).values_list("table", "code"))
    rows = [
        entry_model(
            institution=institution,
            table=table,
            code=code,
            description=description,
            is_default=DEFAULTS.get(table) == code,
            position=position,
        )
        for table, entries in STANDARD_CODES.items()
        for position, (code, description) in enumerate(entries)
        if (table, code) not in existing
    ]
    entry_model.objects.bulk_create(rows, batch_size=500)
    return len(rows)
