"""The Integration Profile wizard's two steps, as Alma shows them: the profile, then its sections.

The forms only read and shape what the administrator typed; the rules of a profile (input paths
inside the connection, schedules, match ID types, subscribers) are `services.profile_check`'s,
whose errors the views put beside these fields. Field names are the model's, so a service's
error lands on the field it names.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from patronsync.connections.models import Connection
from patronsync.core.choices import CodeTableName
from patronsync.core.models import Institution
from patronsync.core.selectors import code_tables_for_institution

from .choices import (
    PRIMARY_ID_MATCH,
    XSD_VERSION_2,
    IntegrationType,
    ProtectionMode,
    RecordType,
    Schedule,
    SynchronizationType,
    UnmatchedAction,
)
from .models import IntegrationProfile

ACTIVE_CHOICES = [(True, "Active"), (False, "Inactive")]
XSD_CHOICES = [(XSD_VERSION_2, "V. 2")]
SCHEDULE_CHOICES = [
    (value, "Custom (cron expression)" if value == Schedule.CRON else label)
    for value, label in Schedule.choices
]
PRIMARY_ID_LABEL = "Primary Identifier"

STEP_1_FIELDS = ("code", "name", "integration_type", "connection", "system", "description")
IMPORT_FIELDS = (
    "import_active",
    "import_record_type",
    "import_input_path",
    "import_xsd_version",
    "import_schedule",
    "import_cron",
)
SYNC_FIELDS = (
    "sync_active",
    "sync_record_type",
    "sync_match_id_type",
    "sync_type",
    "sync_unmatched",
    "sync_input_path",
    "sync_schedule",
    "sync_cron",
    "sync_xsd_version",
    "sync_take_over_users",
    "sync_protection",
    "subscribers",
)
STEP_2_FIELDS = IMPORT_FIELDS + SYNC_FIELDS


def _to_bool(value: Any) -> bool:
    return value in (True, "True", "true", "1", 1)


class WizardForm(forms.Form):
    """A form whose errors each name their field ("Input File Path: ...") and whose inputs point
    at their help and error texts (`aria-describedby`, `aria-invalid`), as every page's forms do.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}-help"

    def add_error(self, field: str | None, error: Any) -> None:
        if field is None or field not in self.fields or isinstance(error, dict):
            super().add_error(field, error)
            return
        label = str(self.fields[field].label)
        messages = ValidationError(error).messages
        named = [m if m.startswith(f"{label}:") else f"{label}: {m}" for m in messages]
        super().add_error(field, named)
        widget = self.fields[field].widget
        widget.attrs["aria-invalid"] = "true"
        described = widget.attrs.get("aria-describedby", "")
        widget.attrs["aria-describedby"] = f"id_{field}-error {described}".strip()

    def add_service_errors(self, exc: ValidationError, *, labels: dict[str, str]) -> None:
        """Put a service's ValidationError beside the fields it names; an error of a field
        this form has not (`labels` names those) or of none goes above the form."""
        for name, messages in exc.message_dict.items():
            for message in messages:
                if name in self.fields:
                    self.add_error(name, message)
                elif name in labels:
                    self.add_error(None, f"{labels[name]}: {message}")
                else:
                    self.add_error(None, message)


class ConnectionChoiceField(forms.ModelChoiceField):
    """The institution's S/FTP definitions, each with its server and folder."""

    def label_from_instance(self, obj: Any) -> str:
        return _connection_label(obj)


class ProfileStep1Form(WizardForm):
    """Step 1: which profile this is and which S/FTP connection its files come from."""

    code = forms.CharField(
        label="Code",
        max_length=50,
        help_text="A short code, such as SIS. It becomes the external ID of the users the "
        "profile loads, so it cannot be changed once the profile is saved.",
    )
    name = forms.CharField(
        label="Name",
        max_length=255,
        help_text="Shown in the job's name: Users SYNCHRONIZE using profile <name>.",
    )
    integration_type = forms.ChoiceField(
        label="Integration Type",
        choices=IntegrationType.choices,
        initial=IntegrationType.USERS,
        help_text="Users: load user records from the Student Information System.",
    )
    connection = ConnectionChoiceField(
        label="S/FTP Connection Type",
        queryset=Connection.objects.none(),
        empty_label="Select the S/FTP connection",
        help_text="The S/FTP definition, previously defined, that the SIS files are read from.",
    )
    system = forms.CharField(
        label="System",
        max_length=255,
        help_text="The kind of SIS you are integrating with, such as Campus Management "
        "(for informational purposes; mandatory).",
    )
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea)

    def __init__(
        self,
        *args: Any,
        institution: Institution,
        profile: IntegrationProfile | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.institution = institution
        self.profile = profile
        connection_field = self.fields["connection"]
        assert isinstance(connection_field, forms.ModelChoiceField)
        connection_field.queryset = Connection.objects.filter(institution=institution).order_by(
            "name"
        )
        if profile is not None:
            self.fields["code"].disabled = True
            self.fields[
                "code"
            ].help_text = (
                "Fixed once the profile is saved: it is the external ID of the users it loaded."
            )

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).strip()
        if self.profile is not None:
            return self.profile.code
        if IntegrationProfile.objects.filter(institution=self.institution, code=code).exists():
            raise ValidationError(
                f"a profile with the code {code!r} already exists; choose another code."
            )
        return code

    def session_data(self) -> dict[str, Any]:
        """What the wizard keeps in the session until step 2 is saved (JSON-safe)."""
        data = dict(self.cleaned_data)
        data["connection"] = data["connection"].pk
        return data


def _connection_label(connection: Connection) -> str:
    """ "SIS drop (SFTP sftp.example.edu /upload)", "Local drop (Local folder /srv/sis)"."""
    where = [connection.get_transport_display()]
    if connection.server:
        where.append(connection.server)
    if connection.sub_directory:
        where.append(connection.sub_directory)
    return f"{connection.name} ({' '.join(where)})"


def step_1_values(*, data: dict[str, Any], institution: Institution) -> dict[str, Any] | None:
    """Step 1's data from the session as profile values, or None when it no longer makes one
    (its connection was deleted meanwhile)."""
    connection_pk = data.get("connection")
    if not isinstance(connection_pk, int):
        return None
    connection = Connection.objects.filter(institution=institution, pk=connection_pk)
    values = {name: data.get(name, "") for name in STEP_1_FIELDS}
    values["connection"] = connection.first()
    return values if values["connection"] is not None else None


class ProfileStep2Form(WizardForm):
    """Step 2: the IMPORT section (the initial load) and the SYNCHRONIZE section (ongoing)."""

    # IMPORT
    import_active = forms.TypedChoiceField(
        label="Active",
        choices=ACTIVE_CHOICES,
        coerce=_to_bool,
        widget=forms.RadioSelect,
        initial=False,
        help_text="Whether the import job is active (mandatory). An inactive section never "
        "runs, neither by hand nor by its schedule.",
    )
    import_record_type = forms.ChoiceField(
        label="Record Type",
        choices=RecordType.choices,
        initial=RecordType.PUBLIC,
        help_text="The type of user record to create (mandatory).",
    )
    import_input_path = forms.CharField(
        label="Input File Path",
        max_length=1024,
        required=False,
        help_text="A subdirectory of the path of the S/FTP connection, such as alma/sis_load "
        "(mandatory when the section is active).",
    )
    import_xsd_version = forms.ChoiceField(
        label="User XSD Version",
        choices=XSD_CHOICES,
        initial=XSD_VERSION_2,
        help_text="Set to V. 2, the version of the Alma User XML the SIS load reads.",
    )
    import_schedule = forms.ChoiceField(
        label="Schedule",
        choices=SCHEDULE_CHOICES,
        initial=Schedule.NOT_SCHEDULED,
        help_text="Not scheduled means the job runs only when you run it manually. Times are "
        "the institution's.",
    )
    import_cron = forms.CharField(
        label="Cron expression",
        max_length=255,
        required=False,
        help_text="Only for a custom schedule: five fields, minute hour day-of-month month "
        'day-of-week, such as "30 2 * * 1-5" for 02:30 Monday to Friday.',
    )

    # SYNCHRONIZE
    sync_active = forms.TypedChoiceField(
        label="Active",
        choices=ACTIVE_CHOICES,
        coerce=_to_bool,
        widget=forms.RadioSelect,
        initial=False,
        help_text="Whether the synchronize job is active (mandatory).",
    )
    sync_record_type = forms.ChoiceField(
        label="Record Type",
        choices=RecordType.choices,
        initial=RecordType.PUBLIC,
        help_text="The type of user record to create for an unmatched user (mandatory).",
    )
    sync_match_id_type = forms.ChoiceField(
        label="Match ID Type",
        initial=PRIMARY_ID_MATCH,
        help_text="The identifier with which incoming users are matched with existing users "
        "(mandatory): the primary identifier, or one of the institution's identifier types.",
    )
    sync_type = forms.ChoiceField(
        label="Synchronization Type",
        choices=SynchronizationType.choices,
        initial=SynchronizationType.SWAP_ALL,
        widget=forms.RadioSelect,
        help_text="Swap All: a field missing from the input file is deleted from the existing "
        "user, so the file must always hold all of a user's information, not only what changed.",
    )
    sync_unmatched = forms.ChoiceField(
        label="Unmatched Record",
        choices=UnmatchedAction.choices,
        initial=UnmatchedAction.ADD,
        widget=forms.RadioSelect,
        help_text="Add a new user when no existing user matches the incoming record, or reject "
        "the incoming record.",
    )
    sync_input_path = forms.CharField(
        label="Input File Path",
        max_length=1024,
        required=False,
        help_text="A subdirectory of the path of the S/FTP connection, such as synchronize "
        "(mandatory when the section is active).",
    )
    sync_schedule = forms.ChoiceField(
        label="Schedule",
        choices=SCHEDULE_CHOICES,
        initial=Schedule.NOT_SCHEDULED,
        help_text="Not scheduled means the job runs only when you run it manually. Times are "
        "the institution's.",
    )
    sync_cron = forms.CharField(
        label="Cron expression",
        max_length=255,
        required=False,
        help_text=import_cron.help_text,
    )
    sync_xsd_version = forms.ChoiceField(
        label="User XSD Version",
        choices=XSD_CHOICES,
        initial=XSD_VERSION_2,
        help_text="Set to V. 2.",
    )
    sync_take_over_users = forms.BooleanField(
        label="Take over users of other profiles",
        required=False,
        help_text="Match users another profile loaded (their external ID is its code) and make "
        "them this profile's; when off, they are rejected (OTHER_PROFILES_USER).",
    )
    sync_protection = forms.ChoiceField(
        label="Protection of library edits",
        choices=ProtectionMode.choices,
        initial=ProtectionMode.ALMA,
        required=False,  # a form posted without it (not a browser's) keeps Alma's rule
        help_text="How long a Synchronize keeps a protected field (user group, PIN, preferred "
        "names...) that staff changed: until the SIS repeats the value it sent before the edit "
        "(Alma's rule), or until staff press Restore on the user's page (sticky).",
    )
    subscribers = forms.CharField(
        label="Subscribers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Email addresses, one per line, told when a job of the profile completes "
        "with rejections, fails, errors or is held.",
    )

    def __init__(self, *args: Any, institution: Institution, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tables = code_tables_for_institution(institution=institution)
        identifier_types = tables.codes.get(CodeTableName.IDENTIFIER_TYPES, {})
        choices = [(PRIMARY_ID_MATCH, PRIMARY_ID_LABEL)]
        choices += [(code, description or code) for code, description in identifier_types.items()]
        initial = self.initial.get("sync_match_id_type")
        if initial and initial not in dict(choices):
            # A profile saved (by the API or a file) with a type since disabled: show it, and
            # let profile_check say what is wrong with it.
            choices.append((initial, f"{initial} (not an identifier type)"))
        match_field = self.fields["sync_match_id_type"]
        assert isinstance(match_field, forms.ChoiceField)
        match_field.choices = choices

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for section, label in (("import", "Import"), ("sync", "Synchronize")):
            active = cleaned.get(f"{section}_active")
            path_field = f"{section}_input_path"
            if active and not str(cleaned.get(path_field) or "").strip():
                self.add_error(
                    path_field,
                    f"the {label} section is active, so it needs the folder "
                    "its files are read from, such as "
                    f"{'alma/sis_load' if section == 'import' else 'synchronize'}.",
                )
        if "sync_protection" in cleaned:
            cleaned["sync_protection"] = cleaned["sync_protection"] or ProtectionMode.ALMA
        for field in ("import_input_path", "sync_input_path", "import_cron", "sync_cron"):
            if field in cleaned:
                cleaned[field] = str(cleaned[field]).strip()
        return cleaned


def match_id_type_label(*, institution: Institution, value: str) -> str:
    """A Match ID Type as the pages show it: Primary Identifier, or the identifier type's
    description with its code."""
    if value == PRIMARY_ID_MATCH:
        return PRIMARY_ID_LABEL
    tables = code_tables_for_institution(institution=institution)
    description = tables.description(CodeTableName.IDENTIFIER_TYPES, value)
    return f"{description} ({value})" if description else f"{value} (not an identifier type)"


def profile_initial(profile: IntegrationProfile) -> dict[str, Any]:
    """A saved profile's values as both steps' initial data."""
    initial: dict[str, Any] = {name: getattr(profile, name) for name in STEP_2_FIELDS}
    initial.update({name: getattr(profile, name) for name in STEP_1_FIELDS})
    initial["connection"] = profile.connection_id
    return initial


def draft_initial(form_class: type[forms.Form], draft: dict[str, Any]) -> dict[str, Any]:
    """Step 2's unsaved input (kept when going Back) as initial data for the form again."""
    initial: dict[str, Any] = {}
    for name, field in form_class.base_fields.items():
        if isinstance(field, forms.BooleanField):
            initial[name] = draft.get(name) in ("on", "true", "True", "1")
        elif name in draft:
            initial[name] = draft[name]
    return initial
