"""Serializers of the API: input and output shapes only; every write is a service call.

A connection's `password` and `private_key` exist only in the input serializer (write-only);
the output says whether they are set (`has_password`, `has_private_key`) and nothing more. Its
`public_key` and the server's pinned `host_key_fingerprint` are shown, read-only.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patronsync.connections.models import AllowedConnection, Connection
from patronsync.core.exceptions import ConfigurationError
from patronsync.jobs.choices import (
    SECTION_KIND_CHOICES,
    GuardDecision,
    JobKind,
    JobStatus,
    RecordOutcome,
)
from patronsync.jobs.models import Job, JobRecord
from patronsync.jobs.scheduler import section_next_runs
from patronsync.jobs.selectors import job_guard_shown, job_progress
from patronsync.patrons.choices import ActorKind, ChangeAction
from patronsync.patrons.leavers import leaver_rule_from
from patronsync.profiles.choices import RecordType
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.purge import PurgeSettingError, purge_settings_stored
from patronsync.profiles.schedules import schedule_description
from patronsync.profiles.services import ownership_problem, subscriber_addresses

INSTITUTION_HELP = (
    "Institution code; needed only when the caller may configure several institutions."
)


class RecordTypeField(serializers.ChoiceField):
    """The record type of a profile's Import or Synchronize section (PUBLIC, STAFF, CONTACT)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=RecordType.choices, **kwargs)


CONNECTION_FIELDS = [
    "name",
    "description",
    "transport",
    "server",
    "port",
    "sub_directory",
    "min_files",
    "max_files",
    "max_file_size",
    "size_type",
    "allow_navigation",
    "ftp_server_type",
    "passive_mode",
    "username",
]


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection as the API shows it: never its secrets."""

    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    server_secured = serializers.CharField(
        read_only=True,
        help_text='Alma\'s "Ftp Server Secured", from the transport: SFTP, FTPS, or "" (none).',
    )
    has_password = serializers.SerializerMethodField()
    has_private_key = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = [
            "id",
            "institution",
            *CONNECTION_FIELDS,
            "server_secured",
            "has_password",
            "has_private_key",
            "public_key",
            "host_key_fingerprint",
            "host_key_pinned_at",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "public_key": {
                "help_text": "The sftp definition's public key (OpenSSH format, one line), to "
                "install in the server account's authorized_keys."
            },
            "host_key_fingerprint": {
                "help_text": "The server's key, pinned at the first successful connection "
                "(SHA256:...); `trust` accepts a new one."
            },
        }

    def get_has_password(self, obj: Connection) -> bool:
        return bool(obj.password)

    def get_has_private_key(self, obj: Connection) -> bool:
        return bool(obj.private_key)


class ConnectionInputSerializer(serializers.ModelSerializer):
    """A connection to create or change. Leave out `password` or `private_key` to keep them;
    send an empty string to clear them."""

    institution = serializers.CharField(required=False, help_text=INSTITUTION_HELP)
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )
    private_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="An OpenSSH or PEM private key to log in with instead of the generated one "
        "(its public key is derived); an empty string makes a new key pair for sftp.",
    )

    class Meta:
        model = Connection
        fields = [
            "institution",
            *CONNECTION_FIELDS,
            "password",
            "private_key",
        ]
        validators: list = []  # uniqueness is checked by the service's full_clean
        extra_kwargs = {
            "allow_navigation": {
                "help_text": "Whether profiles' input paths may leave the sub-directory (an "
                "absolute path or `..`). Switching it off is refused while a profile's path "
                "leaves it."
            }
        }


class AllowedConnectionSerializer(serializers.ModelSerializer):
    """A row of the Allowed S/FTP Connections table (Alma's Ftp Include List)."""

    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = AllowedConnection
        fields = ["id", "institution", "enabled", "host", "description", "updated_by", "updated_at"]
        read_only_fields = fields


class AllowedConnectionInputSerializer(serializers.ModelSerializer):
    """A row to add or change: the host (compared case-insensitively), its description, and
    whether it is enabled."""

    institution = serializers.CharField(required=False, help_text=INSTITUTION_HELP)

    class Meta:
        model = AllowedConnection
        fields = ["institution", "enabled", "host", "description"]
        validators: list = []  # uniqueness is checked by the service's full_clean
        extra_kwargs = {"host": {"help_text": "FTP hostname or IP address, e.g. sftp.example.edu"}}


class FolderTestedSerializer(serializers.Serializer):
    """An input folder of a profile using the connection, and the zip files waiting in it."""

    profile = serializers.CharField()
    section = serializers.ChoiceField(choices=["import", "synchronize"])
    path = serializers.CharField(allow_blank=True)
    zip_files = serializers.IntegerField()


class ConnectionTestSerializer(serializers.Serializer):
    """The result of testing a connection: `ok` with the server's fingerprint and the folders,
    or `ok: false` with the failure's `kind` and `message` (which never holds a secret)."""

    ok = serializers.BooleanField()
    connection = serializers.CharField()
    fingerprint = serializers.CharField(
        allow_blank=True, help_text="The server's pinned key; empty for a local folder."
    )
    folders = FolderTestedSerializer(many=True, required=False)
    kind = serializers.CharField(
        required=False,
        help_text="dns, refused, timeout, auth, host_key, permission, missing, tls, "
        "not_allowed, configuration, ...",
    )
    message = serializers.CharField(required=False)


class ConnectionTrustSerializer(serializers.Serializer):
    """The server key now trusted (pinned)."""

    fingerprint = serializers.CharField()


INPUT_PATH_HELP = (
    "A folder under the connection's sub-directory. It may leave it (an absolute path or `..`) "
    "only when the connection allows navigation."
)
PROFILE_FIELDS = [
    "code",
    "name",
    "description",
    "integration_type",
    "system",
    "connection",
    "subscribers",
    "import_active",
    "import_record_type",
    "import_input_path",
    "import_xsd_version",
    "import_schedule",
    "import_cron",
    "sync_active",
    "sync_record_type",
    "sync_match_id_type",
    "sync_match_id_types",
    "sync_type",
    "sync_unmatched",
    "sync_input_path",
    "sync_schedule",
    "sync_cron",
    "sync_xsd_version",
    "sync_take_over_users",
    "sync_ownership",
    "sync_protection",
    "sync_leavers",
    "purge",
]


NEXT_RUNS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "format": "date-time"},
    "description": "The next five runs, in the institution's time zone (with its UTC offset); "
    "empty when the section is not scheduled or not active.",
}
SCHEDULE_HELP = (
    "NOT_SCHEDULED (runs only when run by hand), one of Alma's fixed slots, or CRON with a "
    "cron expression in the section's cron field. See docs/scheduling.md."
)
CRON_HELP = (
    "Five cron fields (minute hour day-of-month month day-of-week) in the institution's time "
    'zone, e.g. "30 2 * * 1-5"; only with schedule CRON; at most every 5 minutes.'
)


class SubscribersField(serializers.ListField):
    """A profile's subscribers: a list of email addresses, stored one per line. The addresses are
    checked by the profiles service (`profile_check`), as for the admin and configuration files."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "Email addresses told when a job of the profile ends with errors, fails or errors "
            "(see docs/notifications.md); [] for none.",
        )
        super().__init__(child=serializers.CharField(), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return "\n".join(super().to_internal_value(data))

    def to_representation(self, data: Any) -> list[str]:
        return subscriber_addresses(data or "")


OWNERSHIP_HELP = (
    "Field ownership: {field or segment type: owner}, the owner sis (Swap All, the default), "
    "library (a Synchronize never touches it; a user it creates takes the feed's value once) "
    "or preserve_if_empty (set by the feed, kept when the feed sends none). Fields: the core "
    "fields a feed sets (e.g. expiry_date, user_group), rs_libraries, library_notices, the "
    "segment types address, email, phone, user_note, user_block, user_statistic, and researcher; "
    "the primary ID and identifiers stay with the SIS. {} (the default): all SIS-owned. See "
    "docs/configuration-file.md."
)
PROTECTION_HELP = (
    "How long a library edit of a protected field holds against a Synchronize: alma (until the "
    "SIS repeats its last value, Alma's rule; the default) or sticky (until staff press Restore)."
)


LEAVERS_HELP = (
    "Leavers: {complete_snapshot: true} declares the Synchronize feed a complete snapshot; "
    "expire_after_runs (N consecutive complete runs) and/or expire_after_days (D days) expire "
    "a user missing from it (expiry date today + expiry_grace_days, default 30), and "
    "deactivate_after_days (at least the grace period) deactivates it that long after; a user "
    "the feed carries again is reactivated. {} (the default): off. See "
    "docs/configuration-file.md."
)


class OwnershipField(serializers.DictField):
    """A profile's field ownership: field or segment type -> sis | library | preserve_if_empty.
    The names and owners are checked as by `config apply` (`profiles.services`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", OWNERSHIP_HELP)
        super().__init__(child=serializers.CharField(), **kwargs)


PURGE_HELP = (
    "Purge User Records' settings (docs/configuration-file.md, `purge:`): "
    "days_after_purge_date (users whose purge date is more than N days in the past; 0), "
    "record_types and user_groups (lists; [] all), expiry_before (a date, or null), keep "
    "(remove, the default, or anonymise). Only what differs from the defaults is stored."
)


class PurgeSettingsField(serializers.DictField):
    """A profile's purge settings, checked as by `config apply` (`profiles.purge`), each bad
    one named; the user groups against the code table by the profiles service."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", PURGE_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return purge_settings_stored(super().to_internal_value(data))
        except PurgeSettingError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ProfileSerializer(serializers.ModelSerializer):
    """An integration profile with its Import and Synchronize settings, and when each
    section runs next."""

    import_record_type = RecordTypeField(read_only=True)
    sync_record_type = RecordTypeField(read_only=True)
    import_schedule_description = serializers.SerializerMethodField()
    import_next_runs = serializers.SerializerMethodField()
    sync_schedule_description = serializers.SerializerMethodField()
    sync_next_runs = serializers.SerializerMethodField()
    subscribers = SubscribersField(read_only=True)
    sync_ownership = OwnershipField(read_only=True)
    purge = PurgeSettingsField(read_only=True)

    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    connection_name = serializers.CharField(source="connection.name", read_only=True)

    class Meta:
        model = IntegrationProfile
        fields = [
            "id",
            "institution",
            *PROFILE_FIELDS,
            "connection_name",
            "import_schedule_description",
            "import_next_runs",
            "sync_schedule_description",
            "sync_next_runs",
            "updated_by",
            "status_date",
        ]
        read_only_fields = fields

    def get_import_schedule_description(self, obj: IntegrationProfile) -> str:
        return schedule_description(schedule=obj.import_schedule, cron=obj.import_cron)

    def get_sync_schedule_description(self, obj: IntegrationProfile) -> str:
        return schedule_description(schedule=obj.sync_schedule, cron=obj.sync_cron)

    @extend_schema_field(NEXT_RUNS_SCHEMA)
    def get_import_next_runs(self, obj: IntegrationProfile) -> list[str]:
        runs = section_next_runs(profile=obj, kind=JobKind.IMPORT)
        return [run.isoformat() for run in runs]

    @extend_schema_field(NEXT_RUNS_SCHEMA)
    def get_sync_next_runs(self, obj: IntegrationProfile) -> list[str]:
        runs = section_next_runs(profile=obj, kind=JobKind.SYNCHRONIZE)
        return [run.isoformat() for run in runs]


class ProfileInputSerializer(serializers.ModelSerializer):
    """A profile to create or change; `connection` is the id of a connection of the same
    institution. The code cannot change once the profile exists."""

    institution = serializers.CharField(required=False, help_text=INSTITUTION_HELP)
    import_record_type = RecordTypeField(required=False)
    sync_record_type = RecordTypeField(required=False)
    subscribers = SubscribersField(required=False)
    sync_ownership = OwnershipField(required=False)
    purge = PurgeSettingsField(required=False)

    class Meta:
        model = IntegrationProfile
        fields = ["institution", *PROFILE_FIELDS]
        validators: list = []  # uniqueness is checked by the service's full_clean
        # The rules behind these are checked by the profiles service (`profile_check`).
        extra_kwargs = {
            "sync_match_id_type": {
                "help_text": "PRIMARY_ID, or an enabled code of the institution's "
                "UserIdentifierTypes code table (e.g. UNIV_ID)."
            },
            "sync_match_id_types": {
                "help_text": "Ordered match keys: match ID types tried in order, e.g. "
                '["UNIV_ID", "PRIMARY_ID"]; the first is sync_match_id_type. [] (the default): '
                "sync_match_id_type alone. See docs/configuration-file.md."
            },
            "import_xsd_version": {"help_text": "The User XSD version: 2 (the only one)."},
            "sync_xsd_version": {"help_text": "The User XSD version: 2 (the only one)."},
            "import_input_path": {"help_text": INPUT_PATH_HELP},
            "sync_input_path": {"help_text": INPUT_PATH_HELP},
            "import_schedule": {"help_text": SCHEDULE_HELP},
            "sync_schedule": {"help_text": SCHEDULE_HELP},
            "import_cron": {"help_text": CRON_HELP},
            "sync_cron": {"help_text": CRON_HELP},
            "sync_protection": {"help_text": PROTECTION_HELP},
            "sync_leavers": {"help_text": LEAVERS_HELP},
        }

    def validate_sync_leavers(self, value: Any) -> dict[str, Any]:
        try:
            return leaver_rule_from(value, where="sync_leavers").as_settings()
        except ConfigurationError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_sync_ownership(self, value: dict[str, str]) -> dict[str, str]:
        problem = ownership_problem(value)
        if problem is not None:
            field, message = problem
            raise serializers.ValidationError(f"{field}: {message}." if field else f"{message}.")
        return value

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        connections = self.context.get("connections")
        if connections is not None:
            self.fields["connection"].queryset = connections  # type: ignore[attr-defined]


class JobProgressSerializer(serializers.Serializer):
    """How far a job came: users done of `total` (the users its files hold, counted as each is
    fetched; null before the first), the rate since it started, and the seconds left at that
    rate (null unless it runs and both are known)."""

    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    rate_per_second = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)


class JobSerializer(serializers.ModelSerializer):
    """A job in a list: what ran, when, its counters and its progress."""

    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    profile = serializers.SlugRelatedField(slug_field="code", read_only=True)
    total_users_processed = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField()
    # Declared: a read-only field made from the model loses `allow_blank`, and the schema then
    # refused the empty decision of every job the guard did not hold.
    decision = serializers.ChoiceField(
        choices=GuardDecision.choices,
        allow_blank=True,
        read_only=True,
        help_text="`approved` or `rejected`, for a job the guard held; empty otherwise.",
    )

    @extend_schema_field(JobProgressSerializer)
    def get_progress(self, job: Job) -> dict[str, Any]:
        return job_progress(job=job)

    def to_representation(self, instance: Job) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["guard"] = job_guard_shown(job=instance)
        return data

    class Meta:
        model = Job
        fields = [
            "id",
            "process_id",
            "title",
            "institution",
            "profile",
            "kind",
            "trigger",
            "dry_run",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "total_records_processed",
            "total_users_processed",
            "created",
            "updated",
            "unchanged",
            "rejected",
            "progress",
            "guard",
            "decision",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "guard": {
                "help_text": "The mass-change guard: `plan` (its `counts` of creates, updates, "
                "segment removals, expirations, deactivations and feed users; the profile's "
                "users; the last complete run's), `crossed` (each threshold crossed, with its "
                "`message`), `approved`, and once applied `applied.as`: `exact` or "
                "`re-checked` (users stored otherwise since the plan, decided again)."
            },
            "decided_by": {"help_text": "Who approved or rejected it."},
        }


class ScheduledRunSerializer(serializers.Serializer):
    """A profile section with a schedule, and its next run (null while the section is not
    active: an inactive section never runs)."""

    institution = serializers.CharField(source="profile.institution.code")
    profile = serializers.CharField(source="profile.code")
    kind = serializers.ChoiceField(choices=JobKind.choices)
    active = serializers.BooleanField()
    description = serializers.CharField(help_text="The schedule in plain words.")
    next_run = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_run(self, section: Any) -> str | None:
        return section.next_runs[0].isoformat() if section.next_runs else None


class JobsMonitorFilterSerializer(serializers.Serializer):
    history = serializers.IntegerField(
        required=False, min_value=0, max_value=200, help_text="Ended jobs listed (20)."
    )


class JobsMonitorSerializer(serializers.Serializer):
    """Monitor Jobs: the pending and running jobs with their progress, the scheduled sections
    with their next run (soonest first), and the latest jobs that ended."""

    active = JobSerializer(many=True)
    scheduled = ScheduledRunSerializer(many=True)
    history = JobSerializer(many=True)


class JobAcceptedSerializer(JobSerializer):
    """A job just created and waiting for a worker; `url` (also the `Location` header) is its
    report, to be read until the job has ended."""

    job_id = serializers.IntegerField(source="id", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "job_id", "url"]
        read_only_fields = fields

    def get_url(self, job: Job) -> str:
        path = reverse("api:job-detail", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class FileProblemSerializer(serializers.Serializer):
    """A problem with a file as a whole, or with one of its entries, in Alma's words."""

    code = serializers.CharField()
    message = serializers.CharField()
    entry = serializers.CharField(required=False, allow_null=True)
    line = serializers.IntegerField(required=False, allow_null=True)


class FileRepeatSerializer(serializers.Serializer):
    """The earlier taking of a file with the same bytes: its name and the job that took it."""

    file = serializers.CharField()
    job_id = serializers.IntegerField(allow_null=True)
    process_id = serializers.CharField(allow_blank=True)


class JobFileSerializer(serializers.Serializer):
    """A file the job took (or left, with a problem saying why)."""

    name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField(required=False)
    users = serializers.IntegerField(required=False, help_text="Users read from the file.")
    problems = FileProblemSerializer(many=True)
    repeats = FileRepeatSerializer(
        required=False,
        help_text="Present when the file's bytes were taken before (under this name or "
        "another): the file is loaded again, and this names the last earlier taking.",
    )


class RejectedUserSerializer(serializers.Serializer):
    """A rejected user in a job report: where it was in the feed, and why."""

    file = serializers.CharField()
    entry = serializers.CharField(allow_blank=True)
    line = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField()
    match_value = serializers.CharField(allow_blank=True)
    primary_id = serializers.CharField(allow_blank=True)
    reason_code = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)


class PurgeSettingsSerializer(serializers.Serializer):
    """Purge User Records' settings as a job ran with them (the profile's `purge:`)."""

    days_after_purge_date = serializers.IntegerField()
    record_types = serializers.ListField(child=serializers.CharField())
    user_groups = serializers.ListField(child=serializers.CharField())
    expiry_before = serializers.DateField(allow_null=True)
    keep = serializers.ChoiceField(choices=["remove", "anonymise"])


class PurgeSummarySerializer(serializers.Serializer):
    """A purge job's part of its report: settings, the day it counted from, its users."""

    settings = PurgeSettingsSerializer()
    today = serializers.DateField(help_text="The day the purge counted from.")
    from_dry_run = serializers.IntegerField(
        allow_null=True, help_text="The dry run whose listed users this purge applied."
    )
    would_purge = serializers.IntegerField(help_text="Users listed (a dry run, a held plan).")
    purged = serializers.IntegerField(help_text="Users removed or anonymised.")
    left_alone = serializers.IntegerField(
        help_text="Listed users not purged: exempted, deleted or no longer due since the plan."
    )
    applied_as = serializers.CharField(
        allow_blank=True, help_text="`exact`, `re-checked`, or empty before the apply pass."
    )


class JobReportSerializer(serializers.Serializer):
    """The job report ("Patron Import Results"), as `patronsync report JOB --json` prints it.
    The counters always add up: users processed = created + updated + unchanged + rejected."""

    title = serializers.CharField()
    report = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    status_label = serializers.CharField()
    process_id = serializers.CharField()
    job_id = serializers.IntegerField()
    profile = serializers.CharField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    dry_run = serializers.BooleanField()
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    total_run_time_seconds = serializers.FloatField(allow_null=True)
    total_records_processed = serializers.IntegerField()
    total_users_processed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    updated = serializers.IntegerField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    parameters = serializers.DictField()
    files = JobFileSerializer(many=True)
    guard = serializers.DictField(
        help_text="The mass-change guard: the plan's counts, the thresholds it crossed "
        "(`crossed`, each with its `message`), `approved`, and `applied.as` (`exact` or "
        "`re-checked`); empty for a job it did not plan."
    )
    decision = serializers.CharField(help_text="`approved` or `rejected` (a held job), or empty.")
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    log = serializers.ListField(
        child=serializers.CharField(),
        help_text="The job's log, a line each: files taken or skipped, and why.",
    )
    rejected_users = RejectedUserSerializer(many=True, help_text="The first 1,000 only.")
    purge = PurgeSummarySerializer(
        required=False, help_text="A Purge User Records job's settings and users (its kind only)."
    )


class JobStartSerializer(serializers.Serializer):
    """Start a job of a profile now: Users IMPORT or SYNCHRONIZE, live or as a dry run."""

    profile = serializers.CharField(help_text="The profile's code.")
    institution = serializers.CharField(required=False, help_text=INSTITUTION_HELP)
    kind = serializers.ChoiceField(choices=SECTION_KIND_CHOICES)
    dry_run = serializers.BooleanField(default=False)


class ProfileRunSerializer(serializers.Serializer):
    """Run this profile now: Users IMPORT or SYNCHRONIZE, live or as a dry run."""

    kind = serializers.ChoiceField(choices=SECTION_KIND_CHOICES)
    dry_run = serializers.BooleanField(default=False)


class JobFilterSerializer(serializers.Serializer):
    """Filters of the job list."""

    profile = serializers.CharField(required=False, help_text="A profile code.")
    kind = serializers.ChoiceField(choices=JobKind.choices, required=False)
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)


class JobRecordSerializer(serializers.ModelSerializer):
    """One incoming user of a job: place in the feed, outcome, reason and field changes."""

    class Meta:
        model = JobRecord
        fields = [
            "id",
            "file",
            "entry",
            "line",
            "position",
            "match_value",
            "primary_id",
            "patron_id",
            "outcome",
            "reason_code",
            "reason",
            "changes",
        ]
        read_only_fields = fields


class JobRecordFilterSerializer(serializers.Serializer):
    """Filters of a job's records (exact matches)."""

    outcome = serializers.ChoiceField(choices=RecordOutcome.choices, required=False)
    reason_code = serializers.CharField(required=False)
    primary_id = serializers.CharField(required=False)
    file = serializers.CharField(required=False)


class HistoryActorSerializer(serializers.Serializer):
    """Who made a change."""

    kind = serializers.ChoiceField(
        choices=ActorKind.choices,
        help_text="staff (a staff account, on the pages), api (an API key or a staff account "
        "through the Alma API), job (a feed's job) or system.",
    )
    label = serializers.CharField(help_text='e.g. "API key registrar-sync", a job\'s title.')
    staff_account = serializers.CharField(help_text="The staff account's username, or empty.")
    job_id = serializers.IntegerField(allow_null=True, help_text="The job's ID, or null.")


class HistorySourceSerializer(serializers.Serializer):
    """Where a job's change came from: the record's file, zip entry and line."""

    file = serializers.CharField()
    entry = serializers.CharField(help_text="The zip entry (XML document), or empty.")
    line = serializers.IntegerField(allow_null=True, help_text="The line of the <user> element.")


class HistoryEntrySerializer(serializers.Serializer):
    """One change to one user: each field's before and after, who made it, and from where."""

    id = serializers.IntegerField()
    institution = serializers.CharField(source="institution.code")
    primary_id = serializers.CharField(help_text="The user's primary ID when it was changed.")
    action = serializers.ChoiceField(choices=ChangeAction.choices)
    changed_at = serializers.DateTimeField(source="created_at")
    actor = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()
    changes = serializers.JSONField(
        help_text='{field: {"before": value, "after": value}}; PINs and passwords masked.'
    )

    @extend_schema_field(HistoryActorSerializer)
    def get_actor(self, obj: Any) -> dict[str, Any]:
        user = obj.actor_user
        return {
            "kind": obj.actor_kind,
            "label": obj.actor_label,
            "staff_account": user.get_username() if user is not None else "",
            "job_id": obj.job_id,
        }

    @extend_schema_field(HistorySourceSerializer(allow_null=True))
    def get_source(self, obj: Any) -> dict[str, Any] | None:
        if not obj.file:
            return None
        return {"file": obj.file, "entry": obj.entry, "line": obj.line}


class HistoryFilterSerializer(serializers.Serializer):
    """Filters of the users' history."""

    user = serializers.CharField(
        required=False, help_text="A user's primary ID: its changes (under earlier IDs too)."
    )
    since = serializers.CharField(
        required=False,
        help_text="From this day (YYYY-MM-DD, in the institution's time zone) or time (ISO "
        "8601), included.",
    )
    until = serializers.CharField(
        required=False, help_text="To this day (its whole day included) or time, excluded."
    )
    job = serializers.IntegerField(required=False, min_value=1, help_text="A job's ID.")
    institution = serializers.CharField(required=False, help_text="An institution's code.")
