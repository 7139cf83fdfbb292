"""Realistic sample feeds: users like a university's SIS export, and the next day's variant.

Every user is generated from its own seed (the feed seed and the user's index), so a day-2 feed
can carry exactly the same users as day 1 except for a chosen, deterministic fraction.
"""

from __future__ import annotations

import os
import random
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta

from patronsync.almaxml.model import Address, Code, Email, Identifier, Phone, Statistic, User
from patronsync.almaxml.writer import write_users

FIRST = ("Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farah", "Gustav", "Hana", "Ivan", "Jun",
         "Kofi", "Lena", "Mateo", "Noor", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tomás",
         "Uma", "Wei")  # fmt: skip
LAST = ("Abebe", "Berg", "Costa", "Dubois", "Eriksson", "Fischer", "García", "Hansen", "Ito",
        "Jensen", "Kowalski", "Larsen", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi",
        "Schmidt", "Tanaka", "Umarov", "Virtanen", "Wójcik", "Yilmaz", "Zhang")  # fmt: skip
STREETS = ("Main St", "College Ave", "Library Rd", "Elm St", "Oak Ave", "Harbor Way", "Hill Rd")
CITIES = (("Springfield", "IL", "627"), ("Madison", "WI", "537"), ("Ithaca", "NY", "148"),
          ("Boulder", "CO", "803"), ("Eugene", "OR", "974"), ("Athens", "GA", "306"))  # fmt: skip
GROUPS = (("UNDERGRAD", "Undergraduate", 0.55), ("GRAD", "Graduate", 0.25),
          ("FACULTY", "Faculty", 0.1), ("STAFF", "Staff", 0.1))  # fmt: skip
STAT_CATEGORIES = ("ENG", "BIO", "HIST", "MATH", "LAW", "MED", "ART", "CS", "ECON", "PHYS")
TODAY = date(2025, 9, 1)


def _group(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    for code, desc, share in GROUPS:
        if roll < share:
            return code, desc
        roll -= share
    return GROUPS[-1][0], GROUPS[-1][1]


def make_user(index: int, seed: int, *, variant: int = 0) -> User:
    """User number `index` of the population `seed`; `variant` > 0 changes a few fields.

    The identity (primary ID, identifiers, names) depends only on (seed, index); a variant
    moves the user's address, email or expiry date, as a real daily change would.
    """
    rng = random.Random(seed * 1_000_003 + index)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    primary_id = f"U{seed % 1000:03d}{index:08d}"
    group, group_desc = _group(rng)
    city, state, zip3 = rng.choice(CITIES)
    expiry = TODAY + timedelta(days=rng.randint(30, 4 * 365))
    street_no = rng.randint(1, 9999)
    handle = f"{first.lower()}.{last.lower()}{index}".encode("ascii", "ignore").decode()
    emails = [Email(f"{handle}@example.edu", None, [Code("school", "School")], True, "External")]
    if rng.random() < 0.5:
        mail = f"{handle}@mail.example.org"
        emails.append(Email(mail, None, [Code("personal", "Personal")], False, "External"))
    if variant:
        change = random.Random(seed * 7_919 + index * 31 + variant).randrange(3)
        if change == 0:
            street_no = street_no + variant
        elif change == 1:
            emails[0].email_address = f"{handle}.v{variant}@example.edu"
        else:
            expiry += timedelta(days=365)
    return User(
        record_type=Code("PUBLIC", "Public"),
        primary_id=primary_id,
        first_name=first,
        last_name=last,
        user_group=Code(group, group_desc),
        campus_code=Code("MAIN", "Main campus"),
        preferred_language=Code("en", "English"),
        expiry_date=expiry,
        purge_date=expiry + timedelta(days=180),
        account_type=Code("EXTERNAL", "External"),
        external_id="SIS",
        status=Code("ACTIVE", "Active"),
        addresses=[
            Address(
                line1=f"{street_no} {rng.choice(STREETS)}",
                line2=f"Apt {rng.randint(1, 400)}" if rng.random() < 0.4 else None,
                city=city,
                state_province=state,
                postal_code=f"{zip3}{rng.randint(0, 99):02d}",
                country=Code("USA", "United States"),
                start_date=TODAY - timedelta(days=rng.randint(0, 2000)),
                address_types=[Code("home", "Home")],
                preferred=True,
                segment_type="External",
            )
        ],
        emails=emails,
        phones=[
            Phone(
                f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                [Code("mobile", "Mobile")],
                preferred=True,
                preferred_sms=True,
                segment_type="External",
            )
        ],
        user_identifiers=[
            Identifier(
                Code("BARCODE", "Barcode"),
                f"B{seed % 1000:03d}{index:09d}",
                None,
                "ACTIVE",
                "External",
            ),
            Identifier(
                Code("UNIV_ID", "University ID"),
                f"{900_000_000 + index}",
                None,
                "ACTIVE",
                "External",
            ),
        ],
        user_statistics=[
            Statistic(
                Code(rng.choice(STAT_CATEGORIES)), Code("DEPT", "Department"), None, "External"
            ),
        ],
    )


def generate_users(
    n: int, *, seed: int, start: int = 0, changed_fraction: float = 0.0, change_seed: int = 0
) -> Iterator[User]:
    """Yield users `start` .. `start + n - 1` of population `seed`.

    A `changed_fraction` of them, chosen deterministically from `change_seed`, come in a
    changed variant.
    """
    for index in range(start, start + n):
        variant = 0
        if changed_fraction and random.Random(change_seed * 104_729 + index).random() < (
            changed_fraction
        ):
            variant = change_seed or 1
        yield make_user(index, seed, variant=variant)


def write_sample_feed(
    path_zip: str | os.PathLike[str],
    n: int,
    *,
    seed: int,
    users_per_file: int = 50_000,
    changed_fraction: float = 0.0,
    added_fraction: float = 0.0,
    base_seed: int | None = None,
) -> int:
    """Write a zip of XML files with `n` users of population `base_seed` (default: `seed`).

    For the next day's feed pass the day-1 seed as `base_seed` and a new `seed`: the same users
    come back with `changed_fraction` of them changed and ``n * added_fraction`` new users
    appended. Returns the number of users written.
    """
    population = seed if base_seed is None else base_seed
    added = round(n * added_fraction)
    total = n + added

    def users() -> Iterator[User]:
        yield from generate_users(
            n, seed=population, changed_fraction=changed_fraction, change_seed=seed
        )
        yield from generate_users(added, seed=population, start=n)

    stream = users()
    with zipfile.ZipFile(path_zip, "w", zipfile.ZIP_DEFLATED, compresslevel=3) as zf:
        for number, first in enumerate(range(0, total, users_per_file), start=1):
            count = min(users_per_file, total - first)
            with zf.open(f"users_{number:03d}.xml", "w", force_zip64=True) as entry:
                batch = (next(stream) for _ in range(count))
                write_users(batch, entry, total_record_count=count)
    return total
