"""Forms of the code-table pages: add a row, edit a row, add a code a job's feed used."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from patronsync.core.choices import CodeTableName
from patronsync.core.models import CodeTableEntry

CODE_MAX = CodeTableEntry._meta.get_field("code").max_length
DESCRIPTION_MAX = CodeTableEntry._meta.get_field("description").max_length


class NamedErrorsForm(forms.Form):
    """A form whose every field error names its field ("Code: ...") and marks its input
    (`aria-invalid`, `aria-describedby` pointing at the error beside it)."""

    def add_error(self, field: str | None, error: Any) -> None:
        if field in self.fields and not isinstance(error, dict):
            label = str(self.fields[field].label)
            error = ValidationError(
                [m if label.lower() in m.lower() else f"{label}: {m}" for m in _messages(error)]
            )
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}-error"}
                )

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the fields it names (the model's field names,
        e.g. `is_default`, are mapped onto the form's); the rest above the form."""
        fields = {"is_default": "default"}
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, messages in exc.message_dict.items():
            name = fields.get(name, name)
            self.add_error(name if name in self.fields else None, messages)


def _messages(error: Any) -> list[str]:
    return list(ValidationError(error).messages)


class CodeTableRowForm(NamedErrorsForm):
    """A row's description, default, enabled and position (its code is fixed once added:
    users and profiles hold it)."""

    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX,
        required=False,
        help_text="What the code means, as staff see it.",
    )
    default = forms.BooleanField(
        label="Default",
        required=False,
        help_text="The table's default value; marking a row default unmarks the table's other.",
    )
    enabled = forms.BooleanField(
        label="Enabled",
        required=False,
        initial=True,
        help_text="Only enabled codes are accepted from feeds and the API.",
    )
    position = forms.IntegerField(
        label="Position",
        min_value=0,
        required=False,
        help_text="The row's place in lists; left empty, a new row goes last.",
    )


class CodeTableAddForm(CodeTableRowForm):
    """A new row of a code table."""

    code = forms.CharField(
        label="Code",
        max_length=CODE_MAX,
        help_text="The value feeds and the API give, e.g. FACULTY. Case matters.",
    )
    field_order = ["code", "description", "default", "enabled", "position"]

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if not code:
            raise ValidationError("enter a code")
        return code


class CodeTableEditForm(CodeTableRowForm):
    """An existing row: its position is required (it has one)."""

    position = forms.IntegerField(
        label="Position", min_value=0, help_text="The row's place in lists."
    )


class UnknownCodeAddForm(NamedErrorsForm):
    """A code a job's feed used that its table lacks, added from the job's report."""

    job = forms.IntegerField(widget=forms.HiddenInput)
    table = forms.ChoiceField(choices=CodeTableName.choices, widget=forms.HiddenInput)
    code = forms.CharField(max_length=CODE_MAX, strip=False, widget=forms.HiddenInput)
    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX,
        help_text="What the code means, as staff see it.",
    )

    def non_field_messages(self) -> list[str]:
        """Every error as one line naming its field, for a message on the report page."""
        lines = [str(m) for m in self.errors.get(NON_FIELD_ERRORS, [])]
        for name, errors in self.errors.items():
            if name != NON_FIELD_ERRORS:
                lines.extend(str(m) for m in errors)
        return lines
