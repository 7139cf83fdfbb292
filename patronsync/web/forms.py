"""The pages' shared way of naming form errors (`NamedErrorsMixin`, `service_errors_onto`, with
`web/_field.html`), and the forms of the code-table pages: add a row, edit a row, add a code a
job's feed used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from patronsync.core.choices import CodeTableName
from patronsync.core.exceptions import ConfigurationError
from patronsync.core.models import CodeTableEntry

CODE_MAX = CodeTableEntry._meta.get_field("code").max_length
DESCRIPTION_MAX = CodeTableEntry._meta.get_field("description").max_length


class NamedErrorsMixin:
    """The pages' way of showing a form's errors, for a `forms.Form` that lists it first.

    Each field error names its field once ("Password: give a new one ..."; a message that
    already starts with "<label>:" is left as it is), and the field's input says it is invalid
    and points at its error and help text (`aria-invalid`, `aria-describedby`), as
    `web/_field.html` renders them (`<auto_id>-error`, `<auto_id>-help`). Django's own errors
    ("This field is required.") go through `add_error` too, so they are named the same way.

    A page that still renders its fields with its own markup, which names the field itself and
    shows no help ids, sets `shared_field_template = False`: errors then keep their bare text
    and inputs point at their error only.
    """

    shared_field_template: ClassVar[bool] = True
    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.shared_field_template:
            for name, field in self.fields.items():
                if field.help_text:
                    field.widget.attrs["aria-describedby"] = f"{self._auto_id(name)}-help"

    def _auto_id(self, name: str) -> str:
        return str(self[name].auto_id)  # type: ignore[index]

    def add_error(self, field: str | None, error: Any) -> None:
        if isinstance(error, dict) or (isinstance(error, ValidationError)
                                       and hasattr(error, "error_dict")):  # fmt: skip
            errors = error if isinstance(error, dict) else error.error_dict
            for name, messages in errors.items():
                self.add_error(None if name == NON_FIELD_ERRORS else name, messages)
            return
        if field is not None and field in self.fields and self.shared_field_template:
            label = str(self[field].label)  # type: ignore[index]  # the field's name if unlabelled
            error = [m if m.startswith(f"{label}:") else f"{label}: {m}" for m in _messages(error)]
        super().add_error(field, error)  # type: ignore[misc]
        if field is not None and field in self.fields:
            auto_id = self._auto_id(field)
            ids = [f"{auto_id}-error"]
            if self.fields[field].help_text and self.shared_field_template:
                ids.append(f"{auto_id}-help")
            attrs = self.fields[field].widget.attrs
            attrs.update({"aria-invalid": "true", "aria-describedby": " ".join(ids)})


def service_errors_onto(
    form: forms.Form,
    exc: ValidationError | ConfigurationError,
    *,
    names: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    field: str | None = None,
) -> None:
    """Put a service's error on `form`: a ValidationError's messages beside the fields they
    name (a service's name for a field the form calls otherwise is mapped by `names`, e.g.
    ``{"is_default": "default"}``); a field the form has not is named by `labels`, when given,
    in the error above the form. A ConfigurationError, or a ValidationError naming no field,
    goes beside `field` or, without one, above the form. With `NamedErrorsMixin`, each error
    beside a field then names it once."""
    names, labels = names or {}, labels or {}
    if isinstance(exc, ConfigurationError) or not hasattr(exc, "error_dict"):
        messages = [str(exc)] if isinstance(exc, ConfigurationError) else exc.messages
        form.add_error(field if field in form.fields else None, messages)
        return
    for name, messages in exc.message_dict.items():
        target = names.get(name, name)
        if target in form.fields:
            form.add_error(target, messages)
        elif name in labels:
            form.add_error(None, [f"{labels[name]}: {m}" for m in messages])
        else:
            form.add_error(None, messages)


def _messages(error: Any) -> list[str]:
    return list(ValidationError(error).messages)


class CodeTableRowForm(NamedErrorsMixin, forms.Form):
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


class UnknownCodeAddForm(NamedErrorsMixin, forms.Form):
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
