"""The quick start: the default institution, an admin account, a sample SIS feed, its sync.

Each run drops the next "day" of a sample feed (the same population, 1 % of users changed and
0.1 % added) into a local folder and runs the profile's Synchronize job on it, so running the
quick start twice shows creations first, then updates and unchanged users.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings

from patronsync.accounts.choices import StaffRole
from patronsync.accounts.models import StaffUser
from patronsync.accounts.services import staff_create
from patronsync.core.services import institution_get_or_create_default
from patronsync.feeds.sample import write_sample_feed
from patronsync.jobs.models import Job
from patronsync.jobs.services import profile_run
from patronsync.loader.pipeline import Progress
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply

SAMPLE_USERS = 2000
POPULATION_SEED = 1


def demo_config(drop: Path) -> dict:
    """The demo's connection and profile, as a `patronsync config apply` document."""
    return {
        "connections": [{"name": "local-drop", "type": "local", "path": str(drop)}],
        "profiles": [
            {
                "code": "SIS",
                "name": "Student Information System",
                "connection": "local-drop",
                "system": "Campus Management",
                "import": {"active": True, "record_type": "PUBLIC", "input_path": "import"},
                "synchronize": {
                    "active": True,
                    "record_type": "PUBLIC",
                    "match_id_type": "PRIMARY_ID",
                    "unmatched": "ADD",
                    "input_path": "synchronize",
                    "schedule": "NOT_SCHEDULED",
                },
            }
        ],
    }


def demo_load(*, admin_username: str = "admin", users: int = SAMPLE_USERS,
              progress: Progress | None = None) -> tuple[list[str], Job]:  # fmt: skip
    """Set up the demo and run one Synchronize job; returns what it did and the job."""
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
    drop = Path(settings.DATA_DIR) / "sis"
    for folder in ("import", "synchronize"):
        (drop / folder).mkdir(parents=True, exist_ok=True, mode=0o700)  # the feeds: owner only
    config_apply(institution=institution, document=demo_config(drop), actor="quickstart")
    profile = IntegrationProfile.objects.get(institution=institution, code="SIS")
    day = Job.objects.filter(profile=profile).count() + 1
    feed = drop / "synchronize" / f"sis-users-day{day:03d}.zip"
    write_sample_feed(
        feed,
        users,
        seed=POPULATION_SEED + day - 1,
        base_seed=POPULATION_SEED,
        changed_fraction=0.0 if day == 1 else 0.01,
        added_fraction=0.0 if day == 1 else 0.001,
        users_per_file=1000,
    )
    lines.append(f"Sample feed: {feed} ({users:,} users, day {day})")
    job = profile_run(profile=profile, kind="synchronize", progress=progress)
    return lines, job
