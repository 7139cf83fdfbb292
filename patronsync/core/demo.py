"""Demo data for the quick start: the default institution, an admin account, a few users."""

from __future__ import annotations

import secrets

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.models import StaffUser
from patronsync.accounts.services import staff_create
from patronsync.core.services import institution_get_or_create_default
from patronsync.patrons.models import Patron
from patronsync.patrons.services import Actor, patron_create

DEMO_USERS = [
    ("jdoe", "Jane", "Doe", "FACULTY", "ARTS"),
    ("rsmith", "Robert", "Smith", "GRAD", "SCI"),
    ("akim", "Ann", "Kim", "UNDERGRAD", "ENG"),
]


def demo_load(*, admin_username: str = "admin") -> list[str]:
    """Create what the demo needs and say what it did; safe to run again."""
    institution = institution_get_or_create_default()
    lines = [f"Institution: {institution.name} ({institution.code})"]
    if not StaffUser.objects.filter(username=admin_username).exists():
        password = secrets.token_urlsafe(12)
        staff_create(
            username=admin_username,
            password=password,
            memberships={institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
        )
        lines.append(f"Admin account: {admin_username} / {password} (shown once)")
    else:
        lines.append(f"Admin account: {admin_username} (exists; password unchanged)")
    created = 0
    for number, (uid, first, last, group, stat) in enumerate(DEMO_USERS, start=1):
        if Patron.objects.filter(institution=institution, primary_id__iexact=uid).exists():
            continue
        patron_create(
            institution=institution,
            actor=Actor.system("demo data"),
            data={
                "primary_id": uid,
                "first_name": first,
                "last_name": last,
                "user_group": {"value": group},
                "external_id": "DEMO",
                "expiry_date": "2030-06-30",
                "contact_info": {
                    "email": [
                        {
                            "email_address": f"{uid}@example.edu",
                            "preferred": True,
                            "email_type": [{"value": "school"}],
                        }
                    ]
                },
                "user_identifier": [
                    {"id_type": {"value": "BARCODE"}, "value": f"2000000{number:05d}"}
                ],
                "user_statistic": [{"statistic_category": {"value": stat}}],
            },
        )
        created += 1
    total = Patron.objects.filter(institution=institution).count()
    lines.append(f"Demo users: {created} created, {total} in the store")
    return lines
